"""Answer checks for lesson 6 (the benchmark grid).

Each ``check_*`` takes the student's answer and the results frame the notebook shows
(:func:`nblib.sweep.results_frame`), prints whether the answer is right (with a hint when it is
not) and returns True / False; ``None`` (the notebook's placeholder) asks for an answer instead of
failing, so the notebook runs top to bottom unanswered. Right answers are computed from the frame,
never printed before the student has tried.
"""
from __future__ import annotations

import pandas as pd

from ..claims import ClaimNotHeld, Claims
from ..feedback import unanswered, verdict

__all__ = ["check_largest_gap", "check_gap_peak", "GAP_PEAK_CHOICES", "check_best_loss", "check_gce_asym", "WHY_GAP",
           "WHY_BEST"]

# Why a loss has the largest best-minus-final gap, or the best final accuracy, in a noise column: the
# feedback names the mechanism the lessons showed for the loss the grid picks (none is hard-coded as the answer).
WHY_GAP = {
    "ce": "it fits the flipped labels late in training: its weight 1/p_y on the parameter gradient does not let go "
          "of samples the model finds implausible (lessons 1-2)",
    "gce": "with 80% of the labels wrong even q = 0.7 gives the flipped samples enough weight to be fitted late "
           "(lesson 3)",
    "tgce": "its pruning step drops every sample with p_y <= k from half the run on; at this rate that can be most of "
            "the training set, and the accuracy collapses (lesson 3)",
    "nce": "its gradient goes mostly to the samples it has not fitted, the flipped ones (lesson 4)",
    "forward(T-hat)": "its T is read from a CE model that has memorised its labels, so T-hat misses the noise and "
                      "forward correction memorises like CE (lesson 5)",
    "backward(T)": "its per-sample losses are unbounded below: a flexible network lowers them without limit (lesson 5)",
}
WHY_BEST = {
    "forward(T)": "it knows the noise: T^T p explains the systematic flips, so nothing needs memorising (lesson 5). "
                  "backward(T) knows the same T, but multiplies the per-class losses by T^-1, whose negative "
                  "entries make the corrected loss unbounded below and its gradients large and of changing sign: "
                  "it swings from epoch to epoch (the stability claim) instead of settling",
    "nce+rce": "NCE keeps it symmetric and RCE's p_y-weighted gradient fits the samples the model finds plausible "
               "(lesson 4)",
    "nce+mae": "an APL pair: symmetric, and MAE's p_y-weighted term fits the plausible samples (lesson 4)",
    "mae": "its weight p_y starves the implausible, mostly flipped, samples (lesson 2)",
}


def _cell_means(frame: pd.DataFrame, noise: str, metric: str) -> pd.Series:
    part = frame[frame["noise"] == noise]
    if part.empty:
        raise ValueError(f"noise must be one of the frame's noise columns {sorted(set(frame['noise']))}, got {noise!r}")
    return part.groupby("loss", sort=False)[metric].mean()


def _loss_name(answer, means: pd.Series) -> str:
    if not isinstance(answer, str):
        raise TypeError(f"answer must be a loss label such as 'ce' or 'nce+rce', got {answer!r}")
    name = answer.strip().lower()
    if name not in means.index:
        raise ValueError(f"answer must be one of the grid's losses {list(means.index)}, got {answer!r}")
    return name


def check_largest_gap(answer, frame: pd.DataFrame, noise: str = "sym 0.8") -> bool:
    """Exercise 1: the loss with the largest memorisation gap (best - final test accuracy, mean
    over seeds) at ``noise``."""
    if unanswered(answer):
        return False
    gaps = _cell_means(frame, noise, "memorisation_gap")
    name, right = _loss_name(answer, gaps), gaps.idxmax()
    if name == right:
        why = WHY_GAP.get(right, "read its learning curves: it peaks early and falls")
        return verdict(True, f"{right} loses {100 * gaps[right]:.1f} points between its best epoch and the "
                       f"last one at {noise} (mean over seeds): {why}.")
    return verdict(False, f"{name}'s gap is {100 * gaps[name]:.1f} points; read the gap heatmap's '{noise}' "
                   "column (darker = larger gap) or sort the frame by memorisation_gap.")


GAP_PEAK_CHOICES = {
    "a": "CE fits fewer of the flipped labels at 0.8 than at 0.6",
    "b": "CE's best epoch is much lower at 0.8, so there is less accuracy to lose between the best and the last epoch",
    "c": "0.8 lies beyond the noise-tolerance theorem's bound, so CE's gap no longer means memorisation",
}


def check_gap_peak(answer, frame: pd.DataFrame, low: str = "sym 0.6", high: str = "sym 0.8") -> bool:
    """Exercise 1: why CE's memorisation gap is smaller at ``high`` than at ``low`` although more
    labels are wrong. ``answer``: a key of ``GAP_PEAK_CHOICES``. The right one is read from the
    frame: "a" if CE's fit of the flipped labels falls from ``low`` to ``high`` (by a point or more),
    else "b" (its best epoch falls); "c" is never right (0.8 < (K-1)/K = 0.9, and the theorem is not
    about memorisation)."""
    if unanswered(answer):
        return False
    key = str(answer).strip().lower()
    if key not in GAP_PEAK_CHOICES:
        raise ValueError(f"answer must be one of {sorted(GAP_PEAK_CHOICES)}, got {answer!r}")
    ce = frame[frame["loss"] == "ce"]
    m = {n: 100 * ce[ce["noise"] == n][["best_test_acc", "final_test_acc", "memorisation_gap",
                                         "final_flipped_acc_noisy"]].mean() for n in (low, high)}
    fit_falls = m[high]["final_flipped_acc_noisy"] < m[low]["final_flipped_acc_noisy"] - 1.0
    right = "a" if fit_falls else "b"
    facts = (f"CE (mean over seeds), {low} -> {high}: best epoch {m[low]['best_test_acc']:.1f} -> "
             f"{m[high]['best_test_acc']:.1f}%, last epoch {m[low]['final_test_acc']:.1f} -> "
             f"{m[high]['final_test_acc']:.1f}%, gap {m[low]['memorisation_gap']:.1f} -> "
             f"{m[high]['memorisation_gap']:.1f} points, flipped labels fitted {m[low]['final_flipped_acc_noisy']:.0f} -> "
             f"{m[high]['final_flipped_acc_noisy']:.0f}%.")
    why = {"a": "The flipped labels are fitted less at the higher rate, so there is less memorisation to cost accuracy.",
           "b": "CE fits at least as many flipped labels at the higher rate, but with one label in five right its best "
                "epoch is already low: the last epoch cannot fall much below chance (10%), so the gap, best minus "
                "last, is bounded by the low peak."}[right]
    hint = {"a": "Compare the flipped labels fitted at both rates in the numbers above.",
            "b": "Compare the best epochs at both rates in the numbers above: a gap is best minus last.",
            "c": "0.8 < (K-1)/K = 0.9: the theorem's condition holds; and the theorem is about the risk minimiser, "
                 "not about a gap between epochs."}[key]
    return verdict(key == right, f"{facts} {why}", f"{facts} {hint}")


def check_best_loss(answer, frame: pd.DataFrame, noise: str = "asym 0.4", among=None) -> bool:
    """The loss with the highest mean final test accuracy at ``noise`` (among the losses ``among``,
    default all of the frame's)."""
    if unanswered(answer):
        return False
    acc = _cell_means(frame, noise, "final_test_acc")
    if among is not None:
        acc = acc[[a for a in acc.index if a in set(among)]]
    name, right = _loss_name(answer, acc), acc.idxmax()
    if name == right:
        why = WHY_BEST.get(right, "")
        second = acc.drop(right).idxmax()
        seeds = lambda loss: frame[(frame["noise"] == noise) & (frame["loss"] == loss)].sort_values("seed")  # noqa: E731
        lead = 100 * (seeds(right)["final_test_acc"].to_numpy() - seeds(second)["final_test_acc"].to_numpy())
        ahead = (f"; ahead of {second} by {lead.mean():+.1f} points on average, on {int((lead > 0).sum())} of "
                 f"{len(lead)} seeds ({', '.join(f'{d:+.1f}' for d in lead)})")
        return verdict(True, f"{right} reaches {100 * acc[right]:.1f}% at {noise} (mean over seeds){ahead}"
                       + (f". Why: {why}." if why else "."))
    hint = ("that is the best *best-epoch* accuracy; the question asks for the final one."
            if name == _cell_means(frame, noise, "best_test_acc").idxmax() else
            f"{name} reaches {100 * acc[name]:.1f}%; compare the '{noise}' column of the accuracy table.")
    return verdict(False, hint)


def check_gce_asym(answer, frame: pd.DataFrame, noise: str = "asym 0.4", margin: float = 0.01) -> bool:
    """Exercise 4: True or False, "GCE ends above CE at ``noise``" by the course's claims rule, paired
    seed by seed (the seed mean of GCE - CE at least ``margin`` and every seed above 0)."""
    if unanswered(answer):
        return False
    if not isinstance(answer, bool):
        raise TypeError(f"answer must be True or False, got {answer!r}")
    part = frame[frame["noise"] == noise]
    gce, ce = (part[part["loss"] == n].sort_values("seed")["final_test_acc"].to_numpy() for n in ("gce", "ce"))
    judged = Claims(quiet=True)
    try:
        judged.compare(f"GCE above CE at {noise}", gce, ">", ce, margin=margin, unit="points")
    except ClaimNotHeld:
        pass
    claim = judged.claims[-1]
    d = 100 * (gce - ce)
    signs = "the seeds disagree in sign" if (d > 0).any() and (d < 0).any() else "every seed on one side"
    detail = (f"GCE - CE per seed: {', '.join(f'{x:+.1f}' for x in d)} points (mean {d.mean():+.1f}; {signs}): the "
              f"claim is {'held' if claim.held else 'not held'}. "
              + ("Neither direction can be claimed from these seeds: the CIFAR table's ordering (GCE below CE) is "
                 "neither reproduced nor contradicted. A plausible reason for GCE's trouble there: the digit map "
                 "sends every flipped sample of a class to the same wrong class, so at 40% the wrong label is "
                 "almost as frequent as the right one and looks plausible; down-weighting implausible labels "
                 "(small p_y) then protects little." if not claim.held else
                 "GCE holds up here although the CIFAR table puts it below CE."))
    return verdict(answer == claim.held, detail, detail)
