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

When the anchors cannot be right, ``estimate_transition`` says so with a ``RuntimeWarning`` instead of
returning a silently wrong T_hat: two classes share an anchor (equal rows), an anchor's prediction
favours another label (it is not a sample of its class, or the noise makes another label more likely
than the true one, T_ii < T_ij, and then no anchor can identify T), or the probabilities are over-confident,
one-hot for most samples (a model that has memorised its noisy labels), so every anchor row is one-hot
and T_hat is the identity whatever the noise.
"""
from __future__ import annotations

import warnings

import numpy as np

from ._checks import check_bool, check_in_range, check_real_array, check_transition_matrix

PROB_SUM_TOL = 1e-3  # rows of probs must sum to 1 within this (float32 softmax is off by ~1e-6 * K)
ONE_HOT_TOL = 1e-3   # a probability row whose largest entry is >= 1 - ONE_HOT_TOL counts as one-hot
OVERCONFIDENT_SHARE = 0.5  # probs with at least this share of one-hot rows come from an over-confident model


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
    Warns (``RuntimeWarning``, see :func:`degenerate_anchors`) when the anchors cannot give a
    meaningful T_hat, saying why and what to try.
    """
    P = _check_probs(probs)
    anchors = anchor_points(P, percentile, filter_outliers)
    T_hat = P[anchors] / P[anchors].sum(axis=1, keepdims=True)
    reasons = degenerate_anchors(P, anchors, T_hat)
    if reasons:
        warnings.warn("estimate_transition: the anchor points are degenerate, so T_hat is not an estimate of "
                      "the noise: " + "; ".join(reasons) + ". Use a less confident model: an earlier epoch (or "
                      "fewer epochs), a lower percentile, or calibrated probabilities (e.g. temperature "
                      "scaling on held-out data).", RuntimeWarning, stacklevel=2)
    return T_hat


def degenerate_anchors(P: np.ndarray, anchors: np.ndarray, T_hat: np.ndarray) -> list[str]:
    """Why the anchors of probabilities ``P`` (N, K) cannot give a meaningful T_hat (empty: no reason).

    An anchor of class i is a sample surely of class i, so its row of P is row i of T: it peaks at i
    when T_ii is the largest entry of row i (as for every T of ``nblib.noise`` below its warning
    threshold). A row of T_hat peaking elsewhere means either the anchor is not a sample of class i
    or T_ii is not the largest entry of row i; the check cannot tell which (it does not know T), and
    in the second case no anchor identifies T anyway. Distinct classes have distinct anchors. And if
    most rows of P are one-hot (largest entry >= 1 - ONE_HOT_TOL), the model is over-confident: the
    anchor rows are one-hot too, and T_hat is the identity however noisy the labels are.
    """
    K = P.shape[1]
    reasons = []
    shared = [(i, j) for i in range(K) for j in range(i + 1, K) if anchors[i] == anchors[j]]
    if shared:
        pairs = ", ".join(f"{i} and {j}" for i, j in shared[:3]) + (" ..." if len(shared) > 3 else "")
        reasons.append(f"classes {pairs} share an anchor sample, so their rows of T_hat are equal")
    foreign = [i for i in range(K) if T_hat[i].max() > T_hat[i, i]]
    if foreign:
        shown = ", ".join(f"{i} (predicts {T_hat[i].argmax()} with p={T_hat[i].max():.2f})"
                          for i in foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        reasons.append(f"the anchors of classes {shown} favour another label: either they are not samples "
                       "of their class, or T_ii is not the largest entry of row i, and then no anchor can "
                       "identify T")
    one_hot = P.max(axis=1) >= 1 - ONE_HOT_TOL
    if one_hot.mean() >= OVERCONFIDENT_SHARE and np.all(T_hat.max(axis=1) >= 1 - ONE_HOT_TOL):
        reasons.append(f"{one_hot.mean():.0%} of the rows of probs are one-hot (largest entry >= "
                       f"{1 - ONE_HOT_TOL:g}): the model is over-confident (it has memorised its labels), so "
                       "every anchor row is one-hot and T_hat is a 0/1 matrix whatever the noise")
    return reasons


def estimation_error(T_hat, T) -> float:
    """Relative L1 error of an estimate (Patrini): sum |T_hat - T| / sum |T|.

    For transition matrices sum |T| = K, so this is the mean L1 distance between matching rows.
    """
    T_hat = check_transition_matrix(T_hat, name="T_hat")
    T = check_transition_matrix(T, num_classes=T_hat.shape[0])
    return float(np.abs(T_hat - T).sum() / np.abs(T).sum())
