"""Answer checks for lesson 1 (label noise).

Each ``check_*`` prints whether the answer is right (and a hint if not) and returns True/False.

1. ``check_expected_flip_rate``: symmetric noise that may land on the true class, rate 0.6, K = 10:
   what fraction of labels is expected to change?  eta (K - 1) / K.
2. ``check_pair_matrix``: write the pair-flip T for K = 4 and rate 0.3 by hand.
3. ``check_max_symmetric_rate``: up to which rate does symmetric noise (true class excluded) on
   K = 10 classes keep the true class the most likely label?  1 - eta > eta / (K - 1) <=> eta < (K-1)/K.
4. ``check_clean_accuracy``: a model scores ``EX4_NOISY_ACC`` on a validation set with symmetric noise
   at rate ``EX4_RATE``; what is its accuracy on clean labels? Invert the affine map
   acc_noisy = eta/(K - 1) + acc (1 - eta K/(K - 1)).
"""
from __future__ import annotations

import numpy as np
import torch

from ... import noise as _noise
from ... import theory as _theory
from ..feedback import number, unanswered, verdict

__all__ = ["EX1_RATE", "EX1_NUM_CLASSES", "EX2_RATE", "EX2_NUM_CLASSES", "EX3_NUM_CLASSES", "EX4_RATE",
           "EX4_NUM_CLASSES", "EX4_NOISY_ACC", "check_expected_flip_rate", "check_pair_matrix",
           "check_max_symmetric_rate", "check_clean_accuracy"]

EX1_RATE, EX1_NUM_CLASSES = 0.6, 10
EX2_RATE, EX2_NUM_CLASSES = 0.3, 4
EX3_NUM_CLASSES = 10
EX4_RATE, EX4_NUM_CLASSES, EX4_NOISY_ACC = 0.4, 10, 0.5
TOL = 5e-3          # numeric answers are accepted within this absolute tolerance


def check_expected_flip_rate(answer) -> bool:
    """Exercise 1: expected fraction of changed labels for symmetric noise *including* the true
    class, rate ``EX1_RATE``, ``EX1_NUM_CLASSES`` classes (a fraction, e.g. 0.25)."""
    if unanswered(answer):
        return False
    a = number(answer)
    T = _noise.transition_matrix("symmetric", EX1_NUM_CLASSES, EX1_RATE, include_true=True)
    want = _noise.expected_flip_rate(T)
    return verdict(abs(a - want) <= TOL,
                   f"A share {EX1_RATE} of labels is redrawn uniformly over all {EX1_NUM_CLASSES} classes, and "
                   f"1/{EX1_NUM_CLASSES} of those redraws land on the true class: {EX1_RATE} x "
                   f"{EX1_NUM_CLASSES - 1}/{EX1_NUM_CLASSES} = {want:.2f}.",
                   "Hint: a redrawn label is uniform over *all* K classes, so some redraws give back the "
                   "true class. Write the answer as a fraction (0.25, not 25)." if a <= 1 else
                   "Write the answer as a fraction between 0 and 1 (0.25, not 25).")


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


def check_clean_accuracy(answer) -> bool:
    """Exercise 4: the clean accuracy of a model that scores ``EX4_NOISY_ACC`` against labels with
    symmetric noise (true class excluded) at rate ``EX4_RATE`` on ``EX4_NUM_CLASSES`` classes."""
    if unanswered(answer):
        return False
    a = number(answer)
    eta, K, noisy = EX4_RATE, EX4_NUM_CLASSES, EX4_NOISY_ACC
    want = _theory.clean_accuracy_from_noisy(noisy, eta, K)
    if abs(a - want) <= TOL:
        return verdict(True, f"acc = (acc_noisy - eta/(K-1)) / (1 - eta K/(K-1)) = ({noisy} - {eta / (K - 1):.4f}) / "
                       f"{1 - eta * K / (K - 1):.4f} = {want:.3f}. The noisy score understates the model: {noisy:.0%} "
                       f"against noisy labels is {want:.0%} against clean ones.")
    hints = [(noisy, "that is the noisy score itself; the clean accuracy is higher, since many 'errors' are the "
                     "model being right where the label is wrong."),
             (noisy / (1 - eta), "close, but a wrong prediction also matches a flipped label with probability "
                                 "eta/(K - 1): subtract that share first."),
             (_theory.symmetric_noisy_accuracy(noisy, eta, K), "that applies the map forwards (clean -> noisy); "
                                                               "solve it for the clean accuracy instead.")]
    for value, hint in hints:
        if abs(a - value) <= TOL:
            return verdict(False, f"{a:g}: {hint}")
    return verdict(False, "Write acc_noisy = eta/(K - 1) + acc (1 - eta K/(K - 1)) and solve for acc."
                   + (" Write the answer as a fraction (0.8, not 80)." if a > 1 else ""))
