"""Answer checks for lesson 3 (generalized cross entropy and truncated Lq).

Each ``check_*`` prints whether the answer is right (with a hint when it is not, naming the common
mistake it matches) and returns True / False. The notebook's placeholder ``...`` (or None) asks for an
answer instead of failing, so the notebook runs top to bottom unanswered. The right answers are
computed here, never printed before the student has tried.
"""
from __future__ import annotations

import math

import numpy as np

from ..._checks import check_in_range
from ...losses import loss_of_p
from ...noise import detection_scores
from ..feedback import number, unanswered, verdict

__all__ = ["REL_TOL", "check_lq_value", "check_weight_ratio", "check_pruning_scores", "check_best_q"]

REL_TOL = 0.01   # relative tolerance for numeric answers (1 %)


def _close(a, b, rel: float = REL_TOL) -> bool:
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-9)


def check_lq_value(answer, p_y: float = 0.2, q: float = 0.5) -> bool:
    """Exercise 1: the value of Lq = (1 - p_y^q) / q for the given p_y and q (default 0.2, 0.5)."""
    if unanswered(answer):
        return False
    answer = number(answer, "answer")
    check_in_range("p_y", p_y, 0, 1, lo_open=True)
    check_in_range("q", q, 0, 1, lo_open=True)
    right = float(loss_of_p("gce", p_y, q=q))
    if _close(answer, right):
        return verdict(True, f"Lq = (1 - {p_y:g}^{q:g}) / {q:g} = {right:.4f}; CE would give "
                       f"-log {p_y:g} = {-math.log(p_y):.4f}: Lq is gentler on unlikely labels.")
    hints = [(-math.log(p_y), "that is the CE value -log p_y, the q -> 0 limit, not Lq at this q."),
             (p_y ** q, "that is p_y^q, the gradient weight; the loss is (1 - p_y^q) / q."),
             (1 - p_y ** q, "you forgot to divide by q."),
             (1 - p_y, "that is MAE (q = 1).")]
    for value, hint in hints:
        if _close(answer, value):
            return verdict(False, f"{answer:g}: {hint}")
    return verdict(False, f"{answer:g} is off; compute (1 - p_y^q) / q with p_y = {p_y:g}, q = {q:g}.")


def check_weight_ratio(answer, p_clean: float = 0.9, p_flipped: float = 0.1, q: float = 0.7) -> bool:
    """Exercise 2: how many times more gradient weight (relative to CE) Lq gives the confident sample
    (p_y = p_clean) than the implausible one (p_y = p_flipped): (p_clean / p_flipped)^q."""
    if unanswered(answer):
        return False
    answer = number(answer, "answer")
    for name, p in (("p_clean", p_clean), ("p_flipped", p_flipped)):
        check_in_range(name, p, 0, 1, lo_open=True)
    check_in_range("q", q, 0, 1, lo_open=True)
    right = (p_clean / p_flipped) ** q
    if _close(answer, right):
        return verdict(True, f"({p_clean:g} / {p_flipped:g})^{q:g} = {right:.3f}. CE weighs both 1 (ratio 1), "
                       f"MAE {p_clean / p_flipped:.3g}; Lq sits in between.")
    hints = [(1.0, "1 is CE's ratio (q -> 0): CE does not down-weight implausible samples."),
             (p_clean / p_flipped, "that is MAE's ratio (q = 1); raise the ratio to the power q."),
             (1 / right, "you inverted the ratio: the confident sample gets the larger weight.")]
    for value, hint in hints:
        if _close(answer, value):
            return verdict(False, f"{answer:g}: {hint}")
    return verdict(False, f"{answer:g} is off; the weight of a sample is p_y^q, so take the ratio of two of them.")


def check_pruning_scores(precision, recall, weights, flipped) -> bool:
    """Exercise 3: precision and recall of the pruned set (weights == 0) against the flipped mask."""
    if unanswered(precision, recall):
        return False
    precision, recall = number(precision, "precision"), number(recall, "recall")
    w = np.asarray(weights.detach().cpu().numpy() if hasattr(weights, "detach") else weights)
    f = np.asarray(flipped.detach().cpu().numpy() if hasattr(flipped, "detach") else flipped).astype(bool)
    s = detection_scores(w == 0, f)
    p_ok, r_ok = _close(precision, s["precision"]), _close(recall, s["recall"])
    if p_ok and r_ok:
        return verdict(True, f"precision {s['precision']:.3f} ({s['flagged_and_flipped']} of {s['n_flagged']} pruned "
                       f"were flipped), recall {s['recall']:.3f} (of {s['n_flipped']} flipped).")
    if _close(precision, s["recall"]) and _close(recall, s["precision"]):
        return verdict(False, "you swapped them: precision divides by the number pruned, "
                       "recall by the number flipped.")
    wrong = [n for n, ok in (("precision", p_ok), ("recall", r_ok)) if not ok]
    return verdict(False, f"check your {' and '.join(wrong)}: precision = |pruned & flipped| / |pruned|, "
                   "recall = |pruned & flipped| / |flipped|; pruned means weight 0.")


def check_best_q(answer, results: dict) -> bool:
    """Exercise 4: the run of the cached sweep with the highest final test accuracy.

    ``answer``: its label (e.g. "q=0.5") or its q as a number (CE counts as q = 0, MAE as q = 1).
    """
    if unanswered(answer):
        return False
    best_label = max(results, key=lambda lab: results[lab].final_test_acc)
    best = results[best_label]
    best_q = 0.0 if best.q is None else best.q
    if isinstance(answer, str):
        ok = answer == best_label
    else:
        ok = _close(number(answer, "answer"), best_q, rel=1e-6) if best_q else abs(number(answer, "answer")) < 1e-9
    if ok:
        return verdict(True, f"{best_label} has the best final test accuracy, {best.final_test_acc:.3f}.")
    return verdict(False, "sort the sweep table by final_test_acc (sweep_table(results)) and read the top row.")
