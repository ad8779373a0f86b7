"""Answer checks for lesson 7 (real label noise).

Each ``check_*`` prints a verdict (or the "No answer yet" reminder for a placeholder) and returns
True / False. Reference answers come from ``nblib.human_noise``, ``nblib.noise``,
``nblib.estimate`` and the lesson's own runs.

- :func:`check_wrong_by_argmax`  CIFAR-100N classes whose human T row is not diagonally dominant,
  and which method can still recover them
- :func:`check_backward_ranking` matrices ordered from safest to least safe for backward correction
- :func:`check_identity_error`   the estimation error of T-hat = I, and why forward(T-hat) ~ CE
- :func:`check_beyond_noise`     is a difference between two losses larger than the seed spread?
"""
from __future__ import annotations

import numpy as np

from ... import estimate, human_noise, noise
from ...sweep import per_seed
from ..feedback import number, unanswered, verdict
from .analysis import not_dominant_rows

__all__ = ["BACKWARD_CANDIDATES", "backward_candidates", "check_wrong_by_argmax", "check_backward_ranking",
           "check_identity_error", "check_beyond_noise", "STANDARD_ERRORS"]

ATOL = 5e-3              # numeric answers within this
STANDARD_ERRORS = 2.0    # "beyond noise": the mean paired difference is more than this many standard errors from 0
METHODS = ("gce", "nce+rce", "forward")
BACKWARD_CANDIDATES = ("CIFAR-10N aggre", "CIFAR-10N worse", "CIFAR-100N fine", "pair 0.48")
PAIR_RATE = 0.48


def backward_candidates() -> dict[str, np.ndarray]:
    """The four matrices of exercise 2, by name."""
    return {"CIFAR-10N aggre": human_noise.transition("aggre"), "CIFAR-10N worse": human_noise.transition("worse"),
            "CIFAR-100N fine": human_noise.transition("noisy", "cifar100n"),
            "pair 0.48": noise.transition_matrix("pair", 10, PAIR_RATE)}


def check_wrong_by_argmax(classes, method) -> bool:
    """Exercise 1: ``classes`` (names) whose row argmax is not the true class; ``method`` one of METHODS."""
    if unanswered(classes, method):
        return False
    if isinstance(classes, str):
        raise TypeError(f"classes must be a list of class names, got the string {classes!r}")
    truth = set(not_dominant_rows()["true class"])
    given = {str(c) for c in classes}
    if given != truth:
        missing, extra = sorted(truth - given), sorted(given - truth)
        return verdict(False, "", "compare each row's diagonal with its largest off-diagonal entry"
                       + (f"; missing {len(missing)} class(es)" if missing else "")
                       + (f"; not these: {extra}" if extra else "") + ".")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return verdict(method == "forward",
                   "those rows break the diagonal dominance that the robust losses' guarantees need (a model "
                   "that fits the noisy labels' distribution predicts the wrong class there); forward "
                   "correction with the true T models the channel, so argmax of its clean estimate can still "
                   "be right, provided T is known and the noise is class-conditional.",
                   "right classes. For the method: GCE and NCE+RCE are robust only when T_ii > T_ij; which "
                   "method does not need that?")


def check_backward_ranking(order) -> bool:
    """Exercise 2: the names of ``BACKWARD_CANDIDATES`` from safest to least safe (by cond(T))."""
    if unanswered(order):
        return False
    order = list(order)
    if sorted(order) != sorted(BACKWARD_CANDIDATES):
        raise ValueError(f"order must list each of {BACKWARD_CANDIDATES} once, got {order}")
    cond = {name: noise.condition_number(T) for name, T in backward_candidates().items()}
    truth = sorted(cond, key=cond.get)
    shown = ", ".join(f"{n} {cond[n]:.1f}" for n in truth)
    return verdict(order == truth, f"cond(T): {shown}. Backward correction multiplies the loss vector by "
                   "T^-1, whose entries grow with cond(T): the larger it is, the larger and more negative "
                   "the per-sample losses, and the less stable the training.",
                   "compute nblib.noise.condition_number(T) (or the largest |entry| of inv(T)) for each.")


def check_identity_error(error, reason) -> bool:
    """Exercise 3: the estimation error of T-hat = I for CIFAR-10N's worse T, and the reason letter."""
    if unanswered(error, reason):
        return False
    T = human_noise.transition("worse")
    truth = estimate.estimation_error(np.eye(len(T)), T)
    ok_num = abs(number(error, "error") - truth) <= ATOL
    ok_reason = str(reason).strip().lower() == "b"
    if not ok_num:
        return verdict(False, "", "sum |I - T| has two parts per row: 1 - T_ii on the diagonal and the same "
                       "amount off it; divide the total by sum |T| = K.")
    return verdict(ok_reason, f"{truth:.3f} = 2 x the noise rate. The runs' T-hat errors sit close to it: the "
                   "CE model behind T-hat had fitted the flipped labels (lesson 1), so its predictions are "
                   "near one-hot, every anchor row is near a row of I, and forward(I) is plain CE (lesson 5).",
                   "right number. Which of (a)-(d) explains an estimate that close to the identity?")


def check_beyond_noise(answer, result, a: str = "gce", b: str = "forward(T)", metric: str = "final_test_acc") -> bool:
    """Exercise 4: True if ``a`` - ``b`` (paired over seeds) is more than STANDARD_ERRORS standard errors from 0."""
    if unanswered(answer):
        return False
    if not isinstance(answer, (bool, np.bool_)):
        raise TypeError(f"answer must be True or False, got {answer!r}")
    d = per_seed(result.results, metric, loss=a) - per_seed(result.results, metric, loss=b)
    se = d.std(ddof=1) / np.sqrt(len(d))
    beyond = bool(abs(d.mean()) > STANDARD_ERRORS * se)
    facts = (f"{a} - {b}: mean {100 * d.mean():+.1f} points, standard error {100 * se:.1f} over {len(d)} seeds "
             f"(per seed {', '.join(f'{100 * x:+.1f}' for x in d)})")
    return verdict(bool(answer) == beyond, facts + (": beyond the seed noise." if beyond else
                                                    ": within the seed noise; do not rank them on this run."),
                   facts + ". Compare |mean| with 2 standard errors (std of the paired differences / sqrt(seeds)).")
