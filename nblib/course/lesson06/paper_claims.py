"""The papers' qualitative claims (data/paper_results.md), checked on a grid seed by seed.

Each claim is one or more comparisons of per-seed values (``SweepResult.per_seed``: the same
seeds, hence the same noisy labels and initial weights, on both sides) with a margin, judged by the
rule of :mod:`nblib.course.claims`: the seed mean clears the margin *and* every seed lies on the
claimed side. "Less stable" is measured within each run, as how much its test accuracy still swings
from epoch to epoch at the end of training (``late_oscillation``), never by comparing standard
deviations over three seeds, which cannot tell 1.4 from 1.2 apart, nor by best minus final, which
also counts a steady fall (memorisation).

Which accuracy: every grid reports the **last epoch** (``final_test_acc``: Adam at a constant
learning rate, no early stopping). A grid whose runs kept a noisy validation set (digits) also
stores the test accuracy of the epoch with the best noisy-validation accuracy
(``val_selected_test_acc``), the model selection of the GCE paper; ``metric=`` checks the claims on it.

Margins, and why:

- "beats" (``beat_margin``): the seed mean must clear about ten test samples: 1 point of MNIST-1D's
  1 000 test signals, 3 points of digits' 360 test images (11 images; 1 point would be 3.6);
- "underfits": clean accuracy at least 5 points below CE's (the papers' "far below");
- a swing of test accuracy (``late_oscillation``): half a point per epoch, under two digits test images.

- :data:`PAPER_CLAIMS`: the papers' claims, by key; :data:`LESSON_CLAIMS`: the lesson's own
  readings of the grid (finer than the papers' wording);
- :func:`check`: one claim on one grid, without raising (a paper's claim that does not hold on
  our grid is a finding, not an error); :func:`report` prints it;
- :func:`claims_table`: every paper claim on every grid, with the weakest part's value and the margin;
- :func:`assert_claims`: the lesson's own claims, with a :class:`~nblib.course.claims.Claims` that
  raises under the tests when one does not hold.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..claims import ClaimNotHeld, Claims, UNITS

__all__ = ["PAPER_CLAIMS", "LESSON_CLAIMS", "FINAL", "SELECTED", "beat_margin", "parts", "check", "report",
           "claims_table", "assert_claims", "asym_mean", "paired_table"]

SYM, ASYM = "sym", "asym"
FINAL, SELECTED = "final_test_acc", "val_selected_test_acc"   # last epoch; epoch chosen on noisy validation
HIGH_RATES = (0.6, 0.8)     # "high" symmetric noise
# "beats": the seed mean clears about ten test samples (and every seed is on the claimed side)
BEAT_MARGIN = {"mnist1d": 0.01, "digits": 0.03}     # 10 of 1000 test signals; 11 of 360 test images
DEFAULT_BEAT = 0.01
PAPER_BEAT = 0.01           # the CIFAR-10 table: means of 5 runs on 10 000 test images
UNDERFIT = 0.05             # "underfits": clean accuracy at least 5 points below CE's
GAP_STEP = 0.03             # CE's gap "larger at every rate >= 0.4 than at 0.2": by at least 3 points
SWING = 0.005               # late_oscillation: half a point per epoch
SELECTION_LEAD = 0.05       # model selection removes at least 5 points of GCE's lead over CE
CLOSE = 0.03                # "within a few points": |seed mean| <= 3 points
FELL = 0.05                 # "falls well below its best epoch": best - final >= 5 points
NCE_CLEAN = 0.02            # "NCE trails CE with clean labels": by at least 2 points (20 MNIST-1D test signals)

PAPER_CLAIMS = {
    "ce_gap": "CE's memorisation gap grows with the symmetric rate (each step 0.2 -> 0.4 -> 0.6 -> 0.8)",
    "mae_underfits": "MAE underfits: clean accuracy at least 5 points below CE's",
    "gce_beats_ce": "GCE beats CE at every symmetric rate",
    "nce_underfits": "NCE alone underfits: clean accuracy at least 5 points below CE's",
    "apl_high_noise": "NCE+RCE beats CE and GCE at high symmetric rates (0.6, 0.8)",
    "forward_asym": "forward(T) beats CE under asymmetric noise (mean over the asymmetric columns)",
    "backward_unstable": "backward(T) is less stable than forward(T): its test accuracy swings more over the "
                         "last 10 epochs (mean over the asymmetric columns)",
    "estimated_t": "an estimated T costs accuracy against the true T (mean over the asymmetric columns)",
}
LESSON_CLAIMS = {
    "ce_gap_above_low": "CE's gap is larger at every symmetric rate >= 0.4 than at 0.2",
    "ce_gap_peak": "CE's gap is largest at symmetric 0.6 (above 0.4's and above 0.8's)",
    "gce_clean": "GCE (q = 0.7) fits clean labels less than CE (test and training accuracy)",
    "nce_clean": "NCE trails CE with clean labels",
    "nce_vs_ce": "NCE below CE at symmetric 0.2, above it at 0.6 and 0.8",
    "apl_top_rate": "NCE+RCE beats CE and GCE at the highest symmetric rate",
    "nce_falls": "NCE falls from its best epoch at the highest symmetric rate",
    "t_hat_vs_ce": "forward(T-hat) vs CE (mean over the asymmetric columns)",
    "selection_gce_lead": "choosing the epoch on the noisy validation set removes most of GCE's last-epoch "
                          "lead over CE (symmetric 0.2-0.6)",
    "selection_gce_close": "with that choice GCE and CE are within a few points (symmetric 0.2-0.6)",
    "selection_apl_top": "with that choice NCE+RCE ends below CE and GCE at the highest symmetric rate",
}
# Claims that compare accuracies (so ``metric`` may pick the last or the validation-selected epoch);
# the others compare within-run measures (best - final, late swings) that need the whole curve.
ACCURACY_CLAIMS = ("mae_underfits", "gce_beats_ce", "nce_underfits", "apl_high_noise", "forward_asym", "estimated_t",
                   "nce_clean", "nce_vs_ce", "apl_top_rate", "t_hat_vs_ce")


def beat_margin(result) -> float:
    """The margin of a "beats" claim on ``result``'s dataset (about ten test samples; see the module)."""
    return BEAT_MARGIN.get(result.grid.dataset, DEFAULT_BEAT)


def _rates(result, kind: str) -> list[str]:
    """The noise labels of ``kind`` with a rate > 0, in the grid's order."""
    return [n for n in dict.fromkeys(result.frame()["noise"]) if n.split()[0] == kind and float(n.split()[1]) > 0]


def asym_mean(result, loss: str, metric: str = FINAL) -> np.ndarray:
    """Per seed: ``metric`` of ``loss`` averaged over the asymmetric columns of ``result``."""
    return np.mean([result.per_seed(metric, loss=loss, noise=n) for n in _rates(result, ASYM)], axis=0)


def parts(key: str, result, metric: str = FINAL) -> list[tuple]:
    """The comparisons of claim ``key`` on grid ``result``: (text, a, op, b, margin), a and b per seed.

    metric: the accuracy the claims compare, ``FINAL`` (last epoch) or ``SELECTED`` (the epoch with
    the best noisy-validation accuracy; claims outside ``ACCURACY_CLAIMS`` have no such reading and
    give no parts)."""
    if key not in PAPER_CLAIMS and key not in LESSON_CLAIMS:
        raise ValueError(f"claim must be one of {', '.join([*PAPER_CLAIMS, *LESSON_CLAIMS])}, got {key!r}")
    if metric != FINAL and key not in ACCURACY_CLAIMS and not key.startswith("selection_"):
        return []
    ps = lambda loss, noise, m=metric: result.per_seed(m, loss=loss, noise=noise)  # noqa: E731
    gap = lambda loss, noise: result.per_seed("memorisation_gap", loss=loss, noise=noise)  # noqa: E731
    sym, beat = _rates(result, SYM), beat_margin(result)
    top = sym[-1]
    if key == "ce_gap":
        return [(f"CE's gap at {hi} above its gap at {lo}", gap("ce", hi), ">", gap("ce", lo), beat)
                for lo, hi in zip(sym, sym[1:])]
    if key == "ce_gap_above_low":
        return [(f"CE's gap at {n} above its gap at {sym[0]}", gap("ce", n), ">", gap("ce", sym[0]), GAP_STEP)
                for n in sym[1:]]
    if key == "ce_gap_peak":
        i = next(i for i, n in enumerate(sym) if float(n.split()[1]) == HIGH_RATES[0])     # its neighbours
        return [(f"CE's gap at {sym[i]} above its gap at {n}", gap("ce", sym[i]), ">", gap("ce", n), beat)
                for n in sym[max(i - 1, 0):i] + sym[i + 1:i + 2]]
    if key in ("mae_underfits", "nce_underfits"):
        loss = key.split("_")[0]
        return [(f"{loss.upper()}'s clean accuracy below CE's", ps(loss, "sym 0"), "<", ps("ce", "sym 0"), UNDERFIT)]
    if key == "gce_clean":
        return [("GCE's clean test accuracy below CE's", ps("gce", "sym 0", FINAL), "<", ps("ce", "sym 0", FINAL), beat),
                ("GCE's clean training accuracy below CE's", ps("gce", "sym 0", "final_train_acc"), "<",
                 ps("ce", "sym 0", "final_train_acc"), beat)]
    if key == "nce_clean":
        return [("NCE's clean accuracy below CE's", ps("nce", "sym 0"), "<", ps("ce", "sym 0"), NCE_CLEAN)]
    if key == "nce_vs_ce":
        return [(f"NCE {'below' if n == sym[0] else 'above'} CE at {n}", ps("nce", n), "<" if n == sym[0] else ">",
                 ps("ce", n), beat) for n in sym if n == sym[0] or float(n.split()[1]) in HIGH_RATES]
    if key == "gce_beats_ce":
        return [(f"GCE above CE at {n}", ps("gce", n), ">", ps("ce", n), beat) for n in sym]
    if key in ("apl_high_noise", "apl_top_rate"):
        rates = [n for n in sym if float(n.split()[1]) in HIGH_RATES] if key == "apl_high_noise" else [top]
        return [(f"NCE+RCE above {other.upper()} at {n}", ps("nce+rce", n), ">", ps(other, n), beat)
                for n in rates for other in ("ce", "gce")]
    if key == "nce_falls":
        return [(f"NCE's best - final at {top}", gap("nce", top), ">=", FELL, 0.0)]
    if key == "forward_asym":
        return [("forward(T) above CE", asym_mean(result, "forward(T)", metric), ">", asym_mean(result, "ce", metric),
                 beat)]
    if key == "backward_unstable":
        return [("backward(T)'s late swing (mean |change| per epoch, last 10 epochs) above forward(T)'s",
                 asym_mean(result, "backward(T)", "late_oscillation"), ">",
                 asym_mean(result, "forward(T)", "late_oscillation"), SWING)]
    if key == "estimated_t":
        return [("forward(T-hat) below forward(T)", asym_mean(result, "forward(T-hat)", metric), "<",
                 asym_mean(result, "forward(T)", metric), beat)]
    if key == "t_hat_vs_ce":
        op = "~" if result.grid.dataset == "digits" else ">"
        return [(f"forward(T-hat) {'within a few points of' if op == '~' else 'above'} CE",
                 asym_mean(result, "forward(T-hat)", metric), op, asym_mean(result, "ce", metric),
                 CLOSE if op == "~" else beat)]
    low = [n for n in sym if float(n.split()[1]) < HIGH_RATES[1]]
    lead = lambda n, m: ps("gce", n, m) - ps("ce", n, m)  # noqa: E731
    if key == "selection_gce_lead":
        return [(f"GCE - CE at {n}: last epoch above noisy-val choice", lead(n, FINAL), ">", lead(n, SELECTED),
                 SELECTION_LEAD) for n in low]
    if key == "selection_gce_close":
        return [(f"noisy-val choice: GCE within a few points of CE at {n}", ps("gce", n, SELECTED), "~",
                 ps("ce", n, SELECTED), CLOSE) for n in low]
    # selection_apl_top
    return [(f"noisy-val choice: NCE+RCE below {other.upper()} at {top}", ps("nce+rce", top, SELECTED), "<",
             ps(other, top, SELECTED), beat) for other in ("ce", "gce")]


def _judge(claim_parts, prefix: str = "", quiet: bool = True) -> list:
    """Judge (text, a, op, b, margin) parts by the claims rule without raising; return the Claims."""
    judged = Claims(quiet=quiet)
    for text, a, op, b, margin in claim_parts:
        try:
            judged.compare(f"{prefix}{text}", a, op, b, margin=margin, unit="points")
        except ClaimNotHeld:
            pass     # kept in judged.claims with held=False: a finding about this grid
    return judged.claims


def check(key: str, result, metric: str = FINAL) -> list:
    """The :class:`~nblib.course.claims.Claim` of every part of claim ``key`` on ``result``, judged by
    the claims rule but never raising (also under ``NBLIB_STRICT_CLAIMS``) and printing nothing."""
    return _judge(parts(key, result, metric))


def report(key: str, result, label: str, metric: str = FINAL) -> list:
    """Like :func:`check`, but print each part's line (held or NOT HELD): a finding, never an error."""
    return _judge(parts(key, result, metric), f"{label}: ", quiet=False)


def _paper_parts(key: str, paper: pd.DataFrame) -> list[tuple] | None:
    """Claim ``key`` on the paper's table of means (one value per cell), where the table can tell.
    Its "Forward" row does not say whether T was true or estimated: it stands in for forward(T) here."""
    p = paper.rename(index={"Forward": "forward(T)", "Forward-T": "forward(T)", "CE": "ce", "GCE": "gce"})
    sym = [c for c in p.columns if c.startswith("sym ")]
    asym = [c for c in p.columns if c.startswith("asym ")]
    if key == "gce_beats_ce" and {"gce", "ce"} <= set(p.index):
        return [(f"GCE above CE at {n}", p.loc["gce", n], ">", p.loc["ce", n], PAPER_BEAT) for n in sym]
    if key == "forward_asym" and {"forward(T)", "ce"} <= set(p.index):
        return [("forward(T) above CE", p.loc["forward(T)", asym].mean(), ">", p.loc["ce", asym].mean(), PAPER_BEAT)]
    return None


def _signed_slack(claim) -> float:
    """How far a claim's seed mean lies on its claimed side (smaller = weaker)."""
    mean = float(np.mean(claim.values))
    return {">": mean, ">=": mean, "<": -mean, "<=": -mean}.get(claim.op, claim.margin - abs(mean))


def _verdict(judged: list) -> str:
    """"held 4/4 (weakest +6.1; margin 1.0)": how many parts held, the weakest part's seed mean
    (a difference, in points) and the margin it had to clear."""
    if not judged:
        return ""
    held = sum(c.held for c in judged)
    weakest = min(judged, key=_signed_slack)
    scale = UNITS[weakest.unit]
    value = f"{float(np.mean(weakest.values)) * scale:+.1f}"
    bound = f"within ±{weakest.margin * scale:.1f}" if weakest.op == "~" else f"margin {weakest.margin * scale:.1f}"
    count = "" if len(judged) == 1 else f" {held}/{len(judged)}"
    detail = f"{'weakest ' if len(judged) > 1 else ''}{value}; {bound}"
    return f"{'held' if held == len(judged) else 'not held'}{count} ({detail})"


def claims_table(results: dict, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per claim of ``PAPER_CLAIMS``; one column per grid of ``results`` (name -> SweepResult),
    read at the last epoch, and one more per grid whose runs kept a noisy validation set, read at the
    epoch chosen on it ("" where a claim has no such reading); a last column for ``paper`` (its table
    of means, in %) where it has the numbers. Each cell: held / not held, how many of the claim's
    parts held, the weakest part's seed mean (points) and its margin."""
    rows = {}
    for key, text in PAPER_CLAIMS.items():
        row = {}
        for name, res in results.items():
            row[name] = _verdict(check(key, res))
            if all(SELECTED in r["metrics"] for r in res.results):
                row[f"{name} (noisy-val choice)"] = _verdict(check(key, res, SELECTED))
        if paper is not None:
            # one mean per cell: judged as the difference of means (%) against 0, without seeds
            judged = _judge([(t, (a - b) / 100, op, 0.0, m) for t, a, op, b, m in _paper_parts(key, paper) or []])
            row["paper (CIFAR-10)"] = _verdict(judged)
        rows[text] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "claim"
    return table


def assert_claims(claims: Claims, result, keys, label: str, metric: str = FINAL) -> None:
    """State claims ``keys`` on grid ``result`` through ``claims`` (which prints each part and, under
    the tests, raises when one does not hold); ``label`` prefixes each line (e.g. the dataset)."""
    for key in keys:
        for text, a, op, b, margin in parts(key, result, metric):
            claims.compare(f"{label}: {text}", a, op, b, margin=margin, unit="points")


def paired_table(result, a: str, b: str, noise, metric: str = FINAL) -> pd.DataFrame:
    """``a - b`` (points) of ``metric`` per seed and its mean, one row per noise label in ``noise``:
    the per-seed differences behind a comparison, to read where no claim can be made."""
    seeds = sorted({r["config"]["seed"] for r in result.results})
    rows = {n: 100 * (result.per_seed(metric, loss=a, noise=n) - result.per_seed(metric, loss=b, noise=n))
            for n in noise}
    out = pd.DataFrame.from_dict(rows, orient="index", columns=[f"seed {s}" for s in seeds])
    out["mean"] = out.mean(axis=1)
    out.index.name = f"{a} - {b} (points)"
    return out.round(1)
