"""Answer checks for lesson 3 (generalized cross entropy and truncated Lq).

Each ``check_*`` prints whether the answer is right (with a hint when it is not, naming the common
mistake it matches) and returns True / False. Exercises: 1 an Lq value, 2 a ratio of gradient weights,
3 pruning precision and recall, 4 which runs of the sweep are within noise of MAE (reasoning about
the seed spread), 5 the smallest class sum of Lq (a bound of the theory, derived). The notebook's placeholder ``...`` (or None) asks for an
answer instead of failing, so the notebook runs top to bottom unanswered. The right answers are
computed here, never printed before the student has tried.
"""
from __future__ import annotations

import math

import numpy as np

from ..._checks import check_in_range
from ...losses import loss_of_p
from ...noise import detection_scores
from ...theory import lq_class_sum_bounds
from ..feedback import number, unanswered, verdict

__all__ = ["REL_TOL", "EX5_NUM_CLASSES", "EX5_Q", "check_lq_value", "check_weight_ratio", "check_pruning_scores",
           "within_noise", "check_within_noise", "check_class_sum_minimum"]

EX5_NUM_CLASSES, EX5_Q = 10, 0.5

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


def check_pruning_scores(precision, recall, pruned, flipped) -> bool:
    """Exercise 3: precision and recall of a pruned set (``pruned``: boolean mask, True = pruned)
    against the flipped mask."""
    if unanswered(precision, recall):
        return False
    precision, recall = number(precision, "precision"), number(recall, "recall")
    to_bool = lambda m: np.asarray(m.detach().cpu().numpy() if hasattr(m, "detach") else m).astype(bool)  # noqa: E731
    s = detection_scores(to_bool(pruned), to_bool(flipped))
    p_ok, r_ok = _close(precision, s["precision"]), _close(recall, s["recall"])
    if p_ok and r_ok:
        return verdict(True, f"precision {s['precision']:.3f} ({s['flagged_and_flipped']} of {s['n_flagged']} pruned "
                       f"were flipped), recall {s['recall']:.3f} (of {s['n_flipped']} flipped).")
    if _close(precision, s["recall"]) and _close(recall, s["precision"]):
        return verdict(False, "you swapped them: precision divides by the number pruned, "
                       "recall by the number flipped.")
    wrong = [n for n, ok in (("precision", p_ok), ("recall", r_ok)) if not ok]
    return verdict(False, f"check your {' and '.join(wrong)}: precision = |pruned & flipped| / |pruned|, "
                   "recall = |pruned & flipped| / |flipped|.")


def within_noise(result, reference: str = "mae", metric: str = "final_test_acc") -> dict:
    """For every run of ``result`` but ``reference``: its per-seed differences to ``reference`` in
    ``metric`` (paired: the same seed shares noisy labels and initial weights) and whether the
    difference is *within noise*: the seeds disagree in sign, or the mean is smaller than the
    standard deviation of the differences. Returns {label: (differences, within)}."""
    labels = list(dict.fromkeys(r["label"]["loss"] for r in result.results))
    if reference not in labels:
        raise ValueError(f"reference must be a run of the result ({', '.join(labels)}), got {reference!r}")
    ref = result.per_seed(metric, loss=reference)
    out = {}
    for label in labels:
        if label == reference:
            continue
        d = result.per_seed(metric, loss=label) - ref
        one_side = bool(np.all(d > 0) or np.all(d < 0))
        out[label] = (d, not (one_side and abs(d.mean()) > d.std(ddof=1)))
    return out


def check_within_noise(answer, result, reference: str = "mae") -> bool:
    """Exercise 4: the set of runs of the sweep whose final test accuracy is within noise of
    ``reference``'s (see :func:`within_noise`)."""
    if unanswered(answer):
        return False
    if isinstance(answer, str):
        answer = [answer]
    table = within_noise(result, reference)
    a = {str(x) for x in answer}
    unknown = a - set(table)
    if unknown:
        raise ValueError(f"answer must name runs among {sorted(table)}, got {sorted(unknown)}")
    want = {label for label, (_, within) in table.items() if within}
    shown = "; ".join(f"{label}: {', '.join(f'{100 * v:+.1f}' for v in d)}" for label, (d, _) in table.items())
    if a == want:
        return verdict(True, f"{sorted(want)} cannot be told apart from {reference.upper()} with these seeds: their "
                       f"per-seed differences change sign or are smaller than their spread. Differences in points "
                       f"per seed: {shown}.")
    missing, extra = sorted(want - a), sorted(a - want)
    return verdict(False, (f"Also within noise: {missing}. " if missing else "")
                   + (f"Beyond noise (every seed on one side, mean above the spread): {extra}. " if extra else "")
                   + "Hint: d = result.per_seed('final_test_acc', loss=label) - result.per_seed('final_test_acc', "
                     f"loss='{reference}') for each label; look at the signs of d, then compare d.mean() with d.std(ddof=1).")


def check_class_sum_minimum(answer) -> bool:
    """Exercise 5: the smallest value over all predictions of sum_k Lq(f(x), k), for ``EX5_NUM_CLASSES``
    classes and q = ``EX5_Q``: (K - K^(1-q))/q (``nblib.theory.lq_class_sum_bounds``)."""
    if unanswered(answer):
        return False
    a = number(answer)
    K, q = EX5_NUM_CLASSES, EX5_Q
    lo, hi = lq_class_sum_bounds(K, q)
    if _close(a, lo):
        return verdict(True, f"sum_k Lq = (K - sum_k p_k^q)/q, and sum_k p_k^q is largest, K (1/K)^q = K^(1-q) = "
                       f"{K ** (1 - q):.4f}, at the uniform prediction (Jensen: t^q is concave). So the minimum is "
                       f"({K} - {K ** (1 - q):.4f})/{q:g} = {lo:.4f}; the maximum, {hi:.4f} = (K - 1)/q, is at a "
                       "one-hot prediction.")
    hints = [(hi, "that is the largest class sum, (K - 1)/q, at a one-hot prediction; the smallest is elsewhere."),
             (K - K ** (1 - q), "you forgot to divide by q."),
             (K - 1, "that is the class sum at q = 1 (MAE), the same for every prediction; at q < 1 it moves.")]
    for value, hint in hints:
        if _close(a, value):
            return verdict(False, f"{a:g}: {hint}")
    return verdict(False, "Write sum_k Lq = (K - sum_k p_k^q)/q; which prediction makes sum_k p_k^q largest?")
