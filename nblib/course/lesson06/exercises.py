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

__all__ = ["check_largest_gap", "check_best_loss"]


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
        return verdict(True, f"{right} loses {100 * gaps[right]:.1f} points between its best epoch and the "
                       f"last one at {noise}: it fits the flipped labels late in training.")
    return verdict(False, f"{name}'s gap is {100 * gaps[name]:.1f} points; read the gap heatmap's '{noise}' "
                   "column (darker = larger gap) or sort the frame by memorisation_gap.")


def check_best_loss(answer, frame: pd.DataFrame, noise: str = "asym 0.4") -> bool:
    """Exercise 2: the loss with the highest mean final test accuracy at ``noise``."""
    if unanswered(answer):
        return False
    acc = _cell_means(frame, noise, "final_test_acc")
    name, right = _loss_name(answer, acc), acc.idxmax()
    if name == right:
        return verdict(True, f"{right} reaches {100 * acc[right]:.1f}% at {noise}.")
    hint = ("that is the best *best-epoch* accuracy; the question asks for the final one."
            if name == _cell_means(frame, noise, "best_test_acc").idxmax() else
            f"{name} reaches {100 * acc[name]:.1f}%; compare the '{noise}' column of the accuracy table.")
    return verdict(False, hint)
