"""Answer checks for lesson 6 (the benchmark grid).

Each ``check_*`` takes the student's answer and the results frame the notebook shows
(:func:`nblib.sweep.results_frame`), prints whether the answer is right (with a hint when it is
not) and returns True / False; ``None`` (the notebook's placeholder) asks for an answer instead of
failing, so the notebook runs top to bottom unanswered. Right answers are computed from the frame,
never printed before the student has tried.
"""
from __future__ import annotations

import pandas as pd

from ..feedback import unanswered, verdict

__all__ = ["check_largest_gap", "check_best_loss", "check_gce_asym", "WHY_GAP", "WHY_BEST"]

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
    "forward(T)": "it knows the noise: T^T p explains the systematic flips, so nothing needs memorising (lesson 5)",
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
        return verdict(True, f"{right} reaches {100 * acc[right]:.1f}% at {noise} (mean over seeds)"
                       + (f": {why}." if why else "."))
    hint = ("that is the best *best-epoch* accuracy; the question asks for the final one."
            if name == _cell_means(frame, noise, "best_test_acc").idxmax() else
            f"{name} reaches {100 * acc[name]:.1f}%; compare the '{noise}' column of the accuracy table.")
    return verdict(False, hint)


def check_gce_asym(answer, frame: pd.DataFrame, noise: str = "asym 0.4") -> bool:
    """Exercise 4: True or False, "GCE ends above CE at ``noise`` by more than the seed-to-seed spread"
    (seed mean of GCE - CE larger than the larger of the two cells' standard deviations)."""
    if unanswered(answer):
        return False
    if not isinstance(answer, bool):
        raise TypeError(f"answer must be True or False, got {answer!r}")
    part = frame[frame["noise"] == noise]
    gce, ce = (part[part["loss"] == n].sort_values("seed")["final_test_acc"].to_numpy() for n in ("gce", "ce"))
    diff, spread = float(gce.mean() - ce.mean()), float(max(gce.std(ddof=1), ce.std(ddof=1)))
    right = diff > spread
    detail = (f"GCE - CE = {100 * diff:+.1f} points against a spread of {100 * spread:.1f} points over the seeds. The "
              "CIFAR-10 table predicts it: there GCE ends below CE at asymmetric 0.4. The digit map sends every "
              "flipped sample of a class to the same wrong class, so at 40% the wrong label is almost as frequent as "
              "the true one: the model learns it as a pattern, and down-weighting implausible labels no longer "
              "protects once the wrong label is plausible. Only a loss that knows T (forward) escapes.")
    return verdict(answer == right, detail, detail)
