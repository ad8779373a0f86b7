"""Estimating the noise transition matrix T from predictions: Patrini's anchor points.

Idea (Patrini et al. 2017, Sec. 3.3): train a classifier with plain cross entropy on the *noisy*
labels, so that it predicts p(noisy = j | x). For an "anchor" x of class i (a sample that surely
belongs to class i), p(true = i | x) = 1 and therefore

    p(noisy = j | x) = sum_c T[c, j] p(true = c | x) = T[i, j].

So row i of T is read off the prediction at an anchor of class i. Anchors are unknown; the sample with
the highest p(noisy = i | x) is taken instead. Because very high scores are often overconfident
outliers, the official code first drops every score >= the 97th percentile of column i (``np.percentile``
with ``method="higher"``) and takes the argmax of the rest (it turns the filter off for CIFAR-100):

    a_i = argmax_n { probs[n, i] : probs[n, i] < percentile_q(probs[:, i]) },   T_hat[i] = probs[a_i].

Rows of T_hat are then normalised. The official code zeroes the filtered scores *in place* in the
caller's array, so later rows are read from a modified matrix; here the input is never modified.
Error measure (Patrini): relative L1, sum |T_hat - T| / sum |T|.
"""
from __future__ import annotations

import numpy as np

from ._checks import check_bool, check_in_range, check_real_array, check_transition_matrix

PROB_SUM_TOL = 1e-3  # rows of probs must sum to 1 within this (float32 softmax is off by ~1e-6 * K)


def _check_probs(probs) -> np.ndarray:
    """probs as a float64 (N, K) array of probability rows, or ValueError naming 'probs'."""
    P = check_real_array("probs", probs, "an (N, K) array")
    if P.ndim != 2 or P.shape[0] < 1 or P.shape[1] < 2:
        raise ValueError(f"probs must be a 2-D (N, K) array with N >= 1 and K >= 2, got shape {P.shape}")
    if not np.all(np.isfinite(P)) or np.any(P < 0):
        raise ValueError("probs must be finite and non-negative (predicted probabilities, not logits)")
    worst = np.max(np.abs(P.sum(axis=1) - 1))
    if worst > PROB_SUM_TOL:
        raise ValueError(f"rows of probs must sum to 1 (softmax outputs, not logits); worst row is off by {worst:.3g}")
    return P


def anchor_points(probs, percentile: float = 97.0, filter_outliers: bool = True) -> np.ndarray:
    """Index of the anchor sample of each class, a (K,) int array.

    a_i = argmax_n probs[n, i], after dropping (when ``filter_outliers``) the scores
    >= np.percentile(probs[:, i], percentile, method="higher"); ``percentile`` in (0, 100].
    If the filter drops every score of a column (all equal), the plain argmax is used.
    """
    P = _check_probs(probs)
    check_in_range("percentile", percentile, 0, 100, lo_open=True)
    filter_outliers = check_bool("filter_outliers", filter_outliers)
    scores = P
    if filter_outliers:
        threshold = np.percentile(P, percentile, axis=0, method="higher")
        scores = np.where(P >= threshold, -np.inf, P)
        emptied = np.all(np.isneginf(scores), axis=0)
        scores[:, emptied] = P[:, emptied]
    return np.argmax(scores, axis=0)


def estimate_transition(probs, percentile: float = 97.0, filter_outliers: bool = True) -> np.ndarray:
    """Anchor-point estimate of T from predicted noisy-label probabilities ``probs`` (N, K).

    T_hat[i] = probs[a_i] / sum(probs[a_i]) with a_i from ``anchor_points``; float64 (K, K).
    """
    P = _check_probs(probs)
    T_hat = P[anchor_points(P, percentile, filter_outliers)]
    return T_hat / T_hat.sum(axis=1, keepdims=True)


def estimation_error(T_hat, T) -> float:
    """Relative L1 error of an estimate (Patrini): sum |T_hat - T| / sum |T|.

    For transition matrices sum |T| = K, so this is the mean L1 distance between matching rows.
    """
    T_hat = check_transition_matrix(T_hat, name="T_hat")
    T = check_transition_matrix(T, num_classes=T_hat.shape[0])
    return float(np.abs(T_hat - T).sum() / np.abs(T).sum())
