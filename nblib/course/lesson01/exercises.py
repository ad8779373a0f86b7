"""Answer checks for lesson 1 (label noise).

Each ``check_*`` prints whether the answer is right (and a hint if not) and returns True/False.

1. ``check_best_epoch_trend``: does the best epoch move earlier from 20% to 60% noise, on this run?
   "yes" only if every seed's best epoch is earlier at 60% (the claims' rule); read from the run.
2. ``check_pair_matrix``: write the pair-flip T for K = 4 and rate 0.3 by hand.
3. ``check_max_symmetric_rate``: up to which rate does symmetric noise (true class excluded) on
   K = 10 classes keep the true class the most likely label?  1 - eta > eta / (K - 1) <=> eta < (K-1)/K.
4. ``check_noisy_labels_needed``: how many noisy validation labels at rate ``EX4_RATE`` measure a classifier
   of clean accuracy ``EX4_CLEAN_ACC`` as precisely, in clean-accuracy units, as ``EX4_N_CLEAN`` clean
   ones?  ``nblib.theory.noisy_labels_for_equal_error`` (several thousand, not n / slope^2).
"""
from __future__ import annotations

import numpy as np
import torch

from ... import noise as _noise
from ... import theory as _theory
from ..feedback import number, unanswered, verdict

__all__ = ["EX1_RATES", "EX2_RATE", "EX2_NUM_CLASSES", "EX3_NUM_CLASSES", "EX4_RATE", "EX4_NUM_CLASSES",
           "EX4_CLEAN_ACC", "EX4_N_CLEAN", "check_best_epoch_trend", "check_pair_matrix", "check_max_symmetric_rate",
           "check_noisy_labels_needed"]

EX1_RATES = ("sym 0.2", "sym 0.6")   # the two noise settings whose best epochs exercise 1 compares
EX2_RATE, EX2_NUM_CLASSES = 0.3, 4
EX3_NUM_CLASSES = 10
EX4_RATE, EX4_NUM_CLASSES, EX4_CLEAN_ACC, EX4_N_CLEAN = 0.4, 10, 0.93, 300
TOL = 5e-3          # numeric answers are accepted within this absolute tolerance
EX4_REL_TOL = 0.1   # exercise 4's answer (a number of labels) within 10% of the exact one


def check_best_epoch_trend(answer, result) -> bool:
    """Exercise 1: may we claim, from ``result`` (lesson 1's runs), that the best epoch moves earlier from
    20% to 60% noise? ``answer``: "yes" or "no". Right is "yes" only if every seed's best epoch is earlier
    at 60% than at 20% (the rule of the lesson's claims); the verdict prints the per-seed epochs."""
    if unanswered(answer):
        return False
    a = str(answer).strip().lower()
    if a not in ("yes", "no"):
        return verdict(False, "", 'Answer "yes" or "no".')
    lo, hi = (np.asarray(result.per_seed("best_epoch", loss="ce", noise=n), int) for n in EX1_RATES)
    diff = lo - hi
    holds = bool(np.all(diff > 0))
    seen = (f"Best epoch per seed: {lo.tolist()} at {EX1_RATES[0]}, {hi.tolist()} at {EX1_RATES[1]}; earlier by "
            f"{diff.tolist()} (mean {diff.mean():+.1f}, seed-to-seed sd {diff.std(ddof=1):.1f}).")
    why = (" Every seed's peak comes earlier, so this run backs the claim; a margin still needs more seeds."
           if holds else " Not every seed's peak comes earlier: the difference is within the seed-to-seed spread, and "
           "the best epoch is the argmax of a flat, noisy peak. The honest statement: within noise.")
    return verdict(a == ("yes" if holds else "no"), seen + why,
                   seen + " Hint: a claim needs every seed on its side and a mean beyond the spread.")


def check_pair_matrix(T) -> bool:
    """Exercise 2: the pair-flip transition matrix (i -> i+1 mod K) for ``EX2_NUM_CLASSES`` classes
    and rate ``EX2_RATE``, as a (K, K) array or nested list, T[i, j] = P(noisy = j | true = i)."""
    if unanswered(T):
        return False
    T = np.asarray(T.detach().cpu() if isinstance(T, torch.Tensor) else T, dtype=np.float64)
    want = _noise.transition_matrix("pair", EX2_NUM_CLASSES, EX2_RATE)
    if T.shape != want.shape:
        return verdict(False, "", f"T must have shape {want.shape}, got {T.shape}.")
    if np.allclose(T, want.T, atol=1e-6) and not np.allclose(T, want, atol=1e-6):
        return verdict(False, "", "You wrote the transpose: rows are the TRUE class i, columns the noisy "
                       "label j.")
    if not np.allclose(T.sum(1), 1, atol=1e-6):
        return verdict(False, "", f"Every row of T must sum to 1 (it is a distribution over noisy labels); "
                       f"your row sums are {np.round(T.sum(1), 3).tolist()}.")
    return verdict(np.allclose(T, want, atol=1e-6),
                   f"Row i keeps {1 - EX2_RATE:.1f} on the diagonal and moves {EX2_RATE} to column "
                   f"(i + 1) mod {EX2_NUM_CLASSES}; the last class wraps around to 0.",
                   "Hint: T[i, i] = 1 - rate and T[i, (i + 1) % K] = rate; do not forget the wrap-around "
                   "of the last row.")


def check_max_symmetric_rate(answer) -> bool:
    """Exercise 3: the rate (a fraction) at which symmetric noise (true class excluded) on
    ``EX3_NUM_CLASSES`` classes stops leaving the true class as the single most likely label."""
    if unanswered(answer):
        return False
    a = number(answer)
    K = EX3_NUM_CLASSES
    want = (K - 1) / K
    return verdict(abs(a - want) <= TOL,
                   f"1 - eta > eta/(K - 1) <=> eta < (K - 1)/K = {want:.2f}. Up to there the true class "
                   "is still the most frequent label of its own samples (the condition of Ghosh et al. 2017).",
                   "Hint: compare the diagonal entry 1 - eta with one off-diagonal entry eta/(K - 1)."
                   + (" Write the answer as a fraction (0.5, not 50)." if a > 1 else ""))


def check_noisy_labels_needed(answer) -> bool:
    """Exercise 4: the number of noisy validation labels (symmetric, true class excluded, rate ``EX4_RATE``,
    ``EX4_NUM_CLASSES`` classes) whose standard error in clean-accuracy units equals that of ``EX4_N_CLEAN``
    clean labels, for a classifier of clean accuracy ``EX4_CLEAN_ACC``. Accepted within ``EX4_REL_TOL``."""
    if unanswered(answer):
        return False
    a = number(answer)
    eta, K, acc, n0 = EX4_RATE, EX4_NUM_CLASSES, EX4_CLEAN_ACC, EX4_N_CLEAN
    e = _theory.noisy_validation_error(acc, eta, K, n0)
    want = _theory.noisy_labels_for_equal_error(acc, eta, K, n0)
    if abs(a - want) <= EX4_REL_TOL * want:
        return verdict(True, f"n = {n0} x a_n(1 - a_n) / (slope^2 acc(1 - acc)) with a_n = {e['noisy_accuracy']:.3f}, "
                       f"slope = {e['slope']:.3f}: about {want:.0f} noisy labels for the precision of {n0} clean ones.")
    naive = n0 / e["slope"] ** 2
    for value, hint in [(naive, "that divides by slope^2 only, as if both accuracies had the same variance; the noisy "
                                "accuracy sits near 1/2, where a Bernoulli variance is largest, the clean one near 1."),
                        (n0 / e["slope"], "the standard error scales with 1/sqrt(n): square the ratio.")]:
        if abs(a - value) <= EX4_REL_TOL * value:
            return verdict(False, f"{a:g}: {hint}")
    return verdict(False, "Write the standard error of n noisy labels, divide it by the slope, and set it equal to "
                   "the standard error of the clean labels; solve for n.")
