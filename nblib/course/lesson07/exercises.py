"""Answer checks for lesson 7 (real label noise).

Each ``check_*`` prints a verdict (or the "No answer yet" reminder for a placeholder) and returns
True / False. Reference answers come from ``nblib.human_noise``, ``nblib.noise``,
``nblib.estimate`` and the lesson's own runs.

- :func:`check_fragile_verdicts`  CIFAR-100N's margins T_ii - max T_ij in images, and the classes
  whose verdict rests on a handful of images
- :func:`check_backward_ranking`  matrices ordered from safest to least safe for backward correction
  by ||T^-1||_inf, the bound on a backward-corrected loss
- :func:`check_t_hat`             the estimation error of T-hat = I, why the runs' T-hat does a little
  better, and what a CE model stopped early gives (trained by the check)
- :func:`check_beyond_noise`      does the t-interval of a paired difference over seeds exclude zero?
"""
from __future__ import annotations

import numpy as np

from ... import estimate, human_noise, noise
from ...sweep import per_seed
from ..feedback import number, unanswered, verdict

__all__ = ["BACKWARD_CANDIDATES", "backward_candidates", "check_fragile_verdicts", "check_backward_ranking",
           "check_t_hat", "check_beyond_noise", "FRAGILE_IMAGES", "T_975", "t_quantile"]

ATOL = 5e-3              # numeric answers within this
FRAGILE_IMAGES = 10      # exercise 1: a verdict T_ii > T_ij with a margin of at most this many images is fragile
BACKWARD_CANDIDATES = ("CIFAR-10N aggre", "CIFAR-10N worse", "CIFAR-100N fine", "pair 0.48")
PAIR_RATE = 0.48
WHY_BELOW_IDENTITY = "a"                     # exercise 3: why the runs' T-hat errors are below the identity's
STOPPED = ("closer", "as far", "farther")    # exercise 3: T-hat from a CE model stopped early, vs the run's
# Student's t quantiles t_{0.975, df} (two-sided 95 %), for df = seeds - 1
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def t_quantile(df: int) -> float:
    """t_{0.975, df} from ``T_975``; a ValueError names the range it covers."""
    if df not in T_975:
        raise ValueError(f"df must be in {min(T_975)}..{max(T_975)} (2 to {max(T_975) + 1} seeds), got {df!r}")
    return T_975[df]


def backward_candidates() -> dict[str, np.ndarray]:
    """The four matrices of exercise 2, by name."""
    return {"CIFAR-10N aggre": human_noise.transition("aggre"), "CIFAR-10N worse": human_noise.transition("worse"),
            "CIFAR-100N fine": human_noise.transition("noisy", "cifar100n"),
            "pair 0.48": noise.transition_matrix("pair", 10, PAIR_RATE)}


def check_fragile_verdicts(margins, classes) -> bool:
    """Exercise 1: ``margins``, CIFAR-100N's C[i, i] - max_{j != i} C[i, j] for the 100 fine classes (in
    ``class_names("cifar100n", "noisy")`` order), and ``classes``, the names with |margin| <= FRAGILE_IMAGES."""
    if unanswered(margins, classes):
        return False
    if isinstance(classes, str):
        raise TypeError(f"classes must be a list of class names, got the string {classes!r}")
    truth = human_noise.margin_counts("noisy", "cifar100n")
    given = np.asarray(margins, dtype=float).reshape(-1)
    if given.shape != truth.shape:
        raise ValueError(f"margins must hold one number per fine class ({len(truth)}), got {given.size}")
    if not np.allclose(given, truth, atol=0.5):
        wrong = int(np.sum(np.abs(given - truth) > 0.5))
        return verdict(False, "", f"{wrong} margin(s) differ: per row of nblib.human_noise.counts('noisy', "
                       "'cifar100n'), the diagonal count minus the largest count off the diagonal.")
    names = human_noise.class_names("cifar100n", "noisy")
    fragile = {names[i] for i in np.flatnonzero(np.abs(truth) <= FRAGILE_IMAGES)}
    given_names = {str(c) for c in classes}
    shown = ", ".join(f"{names[i]} {truth[i]:+d}" for i in np.flatnonzero(np.abs(truth) <= FRAGILE_IMAGES))
    missing, extra = sorted(fragile - given_names), sorted(given_names - fragile)
    return verdict(given_names == fragile,
                   f"margins in images: {shown}. Only pine_tree fails T_ii > T_ij clearly (by "
                   f"{-truth[names.index('pine_tree')]} of its 500 images); the other two failures, and flatfish's "
                   "pass, each rest on a few images, so relabelling a handful would reverse them. A verdict on "
                   "one label set this close is not evidence about the annotators.",
                   "right margins. Now the classes with |margin| <= "
                   f"{FRAGILE_IMAGES}" + (f"; missing {len(missing)}" if missing else "")
                   + (f"; not these: {extra}" if extra else "") + " (look on both sides of zero).")


def check_backward_ranking(order) -> bool:
    """Exercise 2: the names of ``BACKWARD_CANDIDATES`` from safest to least safe, by ||T^-1||_inf."""
    if unanswered(order):
        return False
    order = list(order)
    if sorted(order) != sorted(BACKWARD_CANDIDATES):
        raise ValueError(f"order must list each of {BACKWARD_CANDIDATES} once, got {order}")
    norm = {name: noise.transition_properties(T)["inverse_inf_norm"] for name, T in backward_candidates().items()}
    truth = sorted(norm, key=norm.get)
    shown = ", ".join(f"{n} {norm[n]:.2f}" for n in truth)
    return verdict(order == truth, f"||T^-1||_inf: {shown}. A backward-corrected loss is a row of T^-1 times the "
                   "K per-class losses, so |loss| <= ||T^-1||_inf * max_j(-log p_j): the larger the norm, the "
                   "larger and more negative the per-sample losses can get, and the less stable the training.",
                   "compute ||T^-1||_inf = max_i sum_j |(T^-1)_ij| for each: "
                   "np.abs(np.linalg.inv(T)).sum(axis=1).max().")


def check_t_hat(error, why, stopped, result=None) -> bool:
    """Exercise 3: the estimation error of T-hat = I for CIFAR-10N's worse T, the letter of why the
    runs' T-hat errors lie below it, and ``stopped``: is T-hat from a CE model stopped at the noisy
    validation set's epoch "closer" to T than the run's, "as far", or "farther"? With ``result`` (the
    part-3 runs) the check trains those stopped models (:func:`experiments.t_hat_when_stopped`) and
    judges the last answer by what they give on this machine."""
    if unanswered(error, why, stopped):
        return False
    if stopped not in STOPPED:
        raise ValueError(f"stopped must be one of {STOPPED}, got {stopped!r}")
    T = human_noise.transition("worse")
    truth = estimate.estimation_error(np.eye(len(T)), T)
    if abs(number(error, "error") - truth) > ATOL:
        return verdict(False, "", "sum |I - T| has two parts per row: 1 - T_ii on the diagonal and the same "
                       "amount off it; divide the total by sum |T| = K.")
    if str(why).strip().lower() != WHY_BELOW_IDENTITY:
        return verdict(False, "", f"right number ({truth:.3f} = 2 x the noise rate). For the reason: what does "
                       "the claim on mean diag(T-hat) say about the anchors' predictions?")
    if result is None:
        return verdict(False, "", "right number and reason. Pass the part-3 runs (res) as the fourth argument: "
                       "the check trains the stopped CE models to judge your prediction.")
    from .experiments import t_hat_when_stopped

    table = t_hat_when_stopped(result)
    print(table.round(3).to_string())
    diff = table["error (stopped)"] - table["error (run, all epochs)"]
    measured = "closer" if (diff < 0).all() else "farther" if (diff > 0).all() else "as far"
    return verdict(stopped == measured,
                   f"on this run the stopped models' T-hat is {measured} (table above). A CE model stopped "
                   "before it memorises predicts the noisy posterior, so its anchors' rows carry the noise of T; "
                   "trained to the end it has fitted the flipped labels, its anchors are one-hot and T-hat is "
                   "near I, which makes forward(T-hat) plain CE. The estimator needs the early model.",
                   f"this run's stopped models give T-hat {measured} (table above): compare the error columns "
                   "seed by seed, and think about what a model that has not yet memorised predicts at an anchor.")


def check_beyond_noise(answer, result, a: str = "gce", b: str = "forward(T)", metric: str = "final_test_acc") -> bool:
    """Exercise 4: True if the 95 % t-interval of ``a`` - ``b`` (paired over seeds), mean ± t_{0.975, n-1}
    x std / sqrt(n), excludes zero."""
    if unanswered(answer):
        return False
    if not isinstance(answer, (bool, np.bool_)):
        raise TypeError(f"answer must be True or False, got {answer!r}")
    d = per_seed(result.results, metric, loss=a) - per_seed(result.results, metric, loss=b)
    t = t_quantile(len(d) - 1)
    half = t * d.std(ddof=1) / np.sqrt(len(d))
    beyond = bool(abs(d.mean()) > half)
    facts = (f"{a} - {b}: mean {100 * d.mean():+.1f} points, 95 % t-interval [{100 * (d.mean() - half):+.1f}, "
             f"{100 * (d.mean() + half):+.1f}] (t = {t:.2f}, {len(d)} seeds; per seed "
             f"{', '.join(f'{100 * x:+.1f}' for x in d)})")
    return verdict(bool(answer) == beyond, facts + (": it excludes zero on this run." if beyond else
                                                    ": it contains zero; do not rank them on this run."),
                   facts + ". Does the interval contain zero?")
