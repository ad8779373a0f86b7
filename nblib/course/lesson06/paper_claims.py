"""The papers' qualitative claims (data/paper_results.md), checked on a grid seed by seed.

Each claim is one or more comparisons of per-seed values (``SweepResult.per_seed``: the same
seeds, hence the same noisy labels and initial weights, on both sides) with a margin, judged by the
rule of :mod:`nblib.course.claims`: the seed mean clears the margin *and* every seed lies on the
claimed side. "Less stable" is measured within each run (how far its test accuracy falls from its
best epoch), never by comparing standard deviations over three seeds, which cannot tell 1.4 from
1.2 apart.

- :data:`PAPER_CLAIMS`: the claims, by key;
- :func:`check`: one claim on one grid, without raising (a paper's claim that does not hold on
  our grid is a finding, not an error);
- :func:`claims_table`: every claim on every grid (and, where its table has the numbers, on the
  paper's CIFAR-10 means);
- :func:`assert_claims`: the lesson's own claims, with a :class:`~nblib.course.claims.Claims` that
  raises under the tests when one does not hold.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..claims import ClaimNotHeld, Claims

__all__ = ["PAPER_CLAIMS", "parts", "check", "claims_table", "assert_claims", "asym_mean"]

SYM, ASYM = "sym", "asym"
HIGH_RATES = (0.6, 0.8)     # "high" symmetric noise
POINT = 0.01                # "beats": by at least one point on average, and on every seed
UNDERFIT = 0.05             # "underfits": clean accuracy at least 5 points below CE's

PAPER_CLAIMS = {
    "ce_gap": "CE's memorisation gap grows with the symmetric rate",
    "mae_underfits": "MAE underfits: clean accuracy at least 5 points below CE's",
    "gce_beats_ce": "GCE beats CE at every symmetric rate",
    "nce_underfits": "NCE alone underfits: clean accuracy at least 5 points below CE's",
    "apl_high_noise": "NCE+RCE beats CE and GCE at high symmetric rates (0.6, 0.8)",
    "forward_asym": "forward(T) beats CE under asymmetric noise (mean over the asymmetric columns)",
    "backward_unstable": "backward(T) is less stable than forward(T): it falls further from its best epoch "
                         "(mean over the asymmetric columns)",
    "estimated_t": "an estimated T costs accuracy against the true T (mean over the asymmetric columns)",
}


def _rates(result, kind: str) -> list[str]:
    """The noise labels of ``kind`` with a rate > 0, in the grid's order."""
    return [n for n in dict.fromkeys(result.frame()["noise"]) if n.split()[0] == kind and float(n.split()[1]) > 0]


def asym_mean(result, loss: str, metric: str = "final_test_acc") -> np.ndarray:
    """Per seed: ``metric`` of ``loss`` averaged over the asymmetric columns of ``result``."""
    return np.mean([result.per_seed(metric, loss=loss, noise=n) for n in _rates(result, ASYM)], axis=0)


def parts(key: str, result) -> list[tuple]:
    """The comparisons of claim ``key`` on grid ``result``: (text, a, op, b, margin), a and b per seed."""
    ps = lambda loss, noise, m="final_test_acc": result.per_seed(m, loss=loss, noise=noise)  # noqa: E731
    sym = _rates(result, SYM)
    if key == "ce_gap":
        return [(f"CE's gap at {sym[-1]} exceeds its gap at {sym[0]}", ps("ce", sym[-1], "memorisation_gap"), ">",
                 ps("ce", sym[0], "memorisation_gap"), 0.05)]
    if key in ("mae_underfits", "nce_underfits"):
        loss = key.split("_")[0]
        return [(f"{loss.upper()}'s clean accuracy below CE's", ps(loss, "sym 0"), "<", ps("ce", "sym 0"), UNDERFIT)]
    if key == "gce_beats_ce":
        return [(f"GCE above CE at {n}", ps("gce", n), ">", ps("ce", n), POINT) for n in sym]
    if key == "apl_high_noise":
        high = [n for n in sym if float(n.split()[1]) in HIGH_RATES]
        return [(f"NCE+RCE above {other.upper()} at {n}", ps("nce+rce", n), ">", ps(other, n), POINT)
                for n in high for other in ("ce", "gce")]
    if key == "forward_asym":
        return [("forward(T) above CE", asym_mean(result, "forward(T)"), ">", asym_mean(result, "ce"), POINT)]
    if key == "backward_unstable":
        return [("backward(T)'s best - final gap above forward(T)'s", asym_mean(result, "backward(T)", "memorisation_gap"),
                 ">", asym_mean(result, "forward(T)", "memorisation_gap"), POINT)]
    if key == "estimated_t":
        return [("forward(T-hat) below forward(T)", asym_mean(result, "forward(T-hat)"), "<",
                 asym_mean(result, "forward(T)"), POINT)]
    raise ValueError(f"claim must be one of {', '.join(PAPER_CLAIMS)}, got {key!r}")


def check(key: str, result) -> list:
    """The :class:`~nblib.course.claims.Claim` of every part of claim ``key`` on ``result``, judged by
    the claims rule but never raising (also under ``NBLIB_STRICT_CLAIMS``) and printing nothing."""
    judged = Claims(quiet=True)
    for text, a, op, b, margin in parts(key, result):
        try:
            judged.compare(text, a, op, b, margin=margin, unit="points")
        except ClaimNotHeld:
            pass     # kept in judged.claims with held=False: a finding about this grid
    return judged.claims


def _paper_parts(key: str, paper: pd.DataFrame) -> list[tuple] | None:
    """Claim ``key`` on the paper's table of means (one value per cell), where the table can tell."""
    p = paper.rename(index={"Forward": "forward(T)", "Forward-T": "forward(T)", "CE": "ce", "GCE": "gce"})
    sym = [c for c in p.columns if c.startswith("sym ")]
    asym = [c for c in p.columns if c.startswith("asym ")]
    if key == "gce_beats_ce" and {"gce", "ce"} <= set(p.index):
        return [(f"GCE above CE at {n}", p.loc["gce", n], ">", p.loc["ce", n], POINT) for n in sym]
    if key == "forward_asym" and {"forward(T)", "ce"} <= set(p.index):
        return [("forward(T) above CE", p.loc["forward(T)", asym].mean(), ">", p.loc["ce", asym].mean(), POINT)]
    return None


def _verdict(judged: list) -> str:
    held = sum(c.held for c in judged)
    if held == len(judged):
        return "held" if len(judged) == 1 else f"held ({held}/{len(judged)})"
    return "not held" if len(judged) == 1 else f"not held ({held}/{len(judged)})"


def claims_table(results: dict, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per claim of ``PAPER_CLAIMS``, one column per grid of ``results`` (name -> SweepResult):
    "held" / "not held", with how many of a claim's parts held; a last column for ``paper`` (its
    table of means, in %) where it has the numbers ("" elsewhere)."""
    rows = {}
    for key, text in PAPER_CLAIMS.items():
        row = {name: _verdict(check(key, res)) for name, res in results.items()}
        if paper is not None:
            judged = Claims(quiet=True)
            for t, a, op, b, margin in _paper_parts(key, paper) or []:
                try:
                    judged.compare(t, a / 100, op, b / 100, margin=margin, unit="points")
                except ClaimNotHeld:
                    pass
            row["paper (CIFAR-10)"] = _verdict(judged.claims) if judged.claims else ""
        rows[text] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "claim"
    return table


def assert_claims(claims: Claims, result, keys, label: str) -> None:
    """State claims ``keys`` on grid ``result`` through ``claims`` (which prints each part and, under
    the tests, raises when one does not hold); ``label`` prefixes each line (e.g. the dataset)."""
    for key in keys:
        for text, a, op, b, margin in parts(key, result):
            claims.compare(f"{label}: {text}", a, op, b, margin=margin, unit="points")
