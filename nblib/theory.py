"""The noise-tolerance theory of generalized cross entropy, as numbers you can check.

Zhang & Sabuncu (2018) prove how close the loss Lq = (1 - p_y^q) / q comes to being noise tolerant.
Everything rests on one fact, the range of the **class sum** S(p) = sum_k L(p, k) (the loss summed
over every label the sample could carry) over the simplex of predictions p = f(x):

    Lq, q in (0, 1]:                    (K - K^(1-q)) / q  <=  S(p)  <=  (K - 1) / q
        (sum_k p_k^q is concave in p: largest, K^(1-q), at the uniform p; smallest, 1, at a one-hot p)
    truncated Lq, k in [1/2, 1):        (K - 1) Lq(k)      <=  S(p)  <=  K Lq(k)
        (at most one p_k exceeds k >= 1/2: the other K - 1 labels are truncated at Lq(k))

A loss whose class sum is one constant is *symmetric* (Ghosh et al. 2017): the noisy risk is then an
increasing affine function of the clean risk and both have the same minimisers. Lq is symmetric only
at q = 1; for q < 1 the range has width (K^(1-q) - 1) / q, and the theorems bound the damage by it:

    Theorem 1 (uniform noise, rate eta < (K - 1)/K). f* minimises the clean risk R, f^ the noisy
    risk R^eta. Writing R^eta = (1 - eta K/(K-1)) R + eta/(K-1) E[S] and using the range of S:
        0  <=  R(f^) - R(f*)  <=  eta * width / (K - 1 - eta K)
    (the paper writes the same bound with the opposite sign, A = eta (1 - K^(1-q)) / (q (K - 1 - eta K)) <= 0,
    on R(f*) - R(f^)).

    Theorem 2 (class-dependent noise T[i, j] = P(noisy j | true i), with T[i, j] < T[i, i] for every
    j != i, and a clean minimiser with zero risk, R(f*) = 0, i.e. f*(x) one-hot on the true class):
        0  <=  R^eta(f*) - R^eta(f^)  <=  (S(one-hot) - min S) * E[T[y, y]]
    For Lq, S(one-hot) = (K - 1)/q is the top of the range, so the bound is width * E[1 - eta_y]. For
    truncated Lq (k >= 1/2) the one-hot prediction sits at the *bottom* of its range, so the bound is 0:
    f* also minimises the noisy risk.

Both bounds shrink to 0 as q -> 1 (Lq becomes MAE, symmetric) and grow without limit as q -> 0 (CE).
Truncation narrows the class-sum range from (K^(1-q) - 1)/q to Lq(k) = (1 - k^q)/q, a tighter
Theorem-1 bound where Lq(k) is the smaller of the two (at the paper's q = 0.7, k = 0.5, K = 10:
0.55 against 1.42; not near q = 1, where plain Lq's width vanishes).

What a noisy validation set measures (the GCE paper selects its models on noisy labels): a classifier
with clean confusion matrix C scores sum_i pi_i sum_j C[i, j] T[i, j] against labels corrupted by T
(``noisy_accuracy``). Under symmetric noise that is an increasing affine map of the clean accuracy,
rate/(K - 1) + acc (1 - rate K/(K - 1)) (``symmetric_noisy_accuracy``), so the noisy validation set
ranks epochs and models as a clean one would, as long as rate < (K - 1)/K; under class-dependent
noise it depends on where the errors go, and a worse classifier can score higher.

``uniform_noise_example`` solves the simplest case exactly (one input, true class fixed): the
noisy-risk minimiser, its clean excess risk, to set beside Theorem 1's worst-case bound.
Losses are evaluated with :func:`nblib.losses.loss_of_p`, the training kernels; nothing here trains.
"""
from __future__ import annotations

import math

import numpy as np

from ._checks import check_in_range, check_int, check_transition_matrix
from .losses import loss_of_p

__all__ = ["TRUNCATION_MIN_K", "lq_class_sum_bounds", "truncated_class_sum_bounds", "class_sum_bounds",
           "uniform_noise_bound", "class_dependent_bound", "uniform_noise_example", "noisy_accuracy",
           "symmetric_noisy_accuracy", "clean_accuracy_from_noisy", "symmetric_noisy_slope",
           "accuracy_standard_error", "noisy_validation_error", "noisy_labels_for_equal_error", "corrected_accuracy",
           "clean_term_factor"]

TRUNCATION_MIN_K = 0.5   # the truncated bounds need k >= 1/2 (then at most one p_k exceeds k)


def _checked(num_classes, q, k=None) -> tuple[int, float]:
    K = check_int("num_classes", num_classes, 2)
    check_in_range("q", q, 0, 1, lo_open=True)
    if k is not None:
        check_in_range("k", k, TRUNCATION_MIN_K, 1, hi_open=True)
    return K, float(q)


def _lq(p: float, q: float) -> float:
    return float(loss_of_p("gce", p, q=q))


def lq_class_sum_bounds(num_classes: int, q: float) -> tuple[float, float]:
    """(min, max) over all predictions of sum_k Lq(f(x), k): ((K - K^(1-q))/q, (K - 1)/q), q in (0, 1].

    The minimum is reached at the uniform prediction, the maximum at a one-hot prediction; at q = 1
    both equal K - 1 (Lq = 1 - p_y is symmetric).
    """
    K, q = _checked(num_classes, q)
    return (K - K ** (1 - q)) / q, (K - 1) / q


def truncated_class_sum_bounds(num_classes: int, q: float, k: float) -> tuple[float, float]:
    """(min, max) of sum_k Ltrunc(f(x), k) for truncated Lq with threshold k in [1/2, 1).

    With k >= 1/2 at most one class has p_k > k, so K - 1 terms are Lq(k) and the last one lies in
    [0, Lq(k)]: ((K - 1) Lq(k), K Lq(k)); the minimum at a one-hot prediction, the maximum at any
    prediction with every p_k <= k.
    """
    K, q = _checked(num_classes, q, k)
    lk = _lq(k, q)
    return (K - 1) * lk, K * lk


def class_sum_bounds(num_classes: int, q: float, k: float | None = None) -> tuple[float, float]:
    """The class-sum range of Lq (``k=None``) or of truncated Lq with threshold ``k``."""
    if k is None:
        return lq_class_sum_bounds(num_classes, q)
    return truncated_class_sum_bounds(num_classes, q, k)


def _check_rate(rate: float, K: int) -> float:
    check_in_range("rate", rate, 0, (K - 1) / K, hi_open=True)
    return float(rate)


def uniform_noise_bound(num_classes: int, q: float, rate: float, k: float | None = None) -> float:
    """Theorem 1 (Zhang & Sabuncu 2018): under uniform (symmetric) noise with rate < (K - 1)/K, the
    clean Lq risk of the noisy-risk minimiser exceeds the best clean risk by at most
    rate * width / (K - 1 - rate K), width = max - min of the class sum (``class_sum_bounds``).

    For Lq that is rate (K^(1-q) - 1) / (q (K - 1 - rate K)); with ``k`` the same argument for
    truncated Lq, whose class sum has width Lq(k).
    """
    K, q = _checked(num_classes, q, k)
    rate = _check_rate(rate, K)
    lo, hi = class_sum_bounds(K, q, k)
    return rate * (hi - lo) / (K - 1 - rate * K)


def class_dependent_bound(T, q: float, k: float | None = None, class_prior=None) -> float:
    """Theorem 2 (Zhang & Sabuncu 2018): under class-dependent noise T (T[i, j] = P(noisy j | true i),
    with T[i, j] < T[i, i] for every j != i) and a clean minimiser of zero risk, the clean minimiser's
    noisy risk exceeds the smallest noisy risk by at most (S(one-hot) - min S) * sum_i prior_i T[i, i].

    For Lq that is (K^(1-q) - 1)/q * E[1 - eta_y]; for truncated Lq (``k`` in [1/2, 1)) it is 0.
    ``class_prior``: the share (or count) of each true class (default uniform). Raises ValueError naming the
    first row where a wrong label is at least as likely as the true one (the theorem does not apply).
    """
    T = check_transition_matrix(T)
    K, q = _checked(T.shape[0], q, k)
    diag = np.diag(T)
    off = T - np.diag(diag)
    bad = np.flatnonzero(off.max(axis=1) >= diag)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"T must keep the true class the most likely label (T[i, j] < T[i, i] for j != i); "
                         f"row {i} has T[{i}, {int(off[i].argmax())}] = {off[i].max():.3g} >= T[{i}, {i}] = {diag[i]:.3g}")
    lo, hi = class_sum_bounds(K, q, k)
    one_hot = hi if k is None else lo    # the class sum of a one-hot prediction
    return float((one_hot - lo) * (_prior(class_prior, K) @ diag))


def _prior(class_prior, K: int) -> np.ndarray:
    """Class shares (K,): uniform for None, else ``class_prior`` (shares or counts) normalised."""
    if class_prior is None:
        return np.full(K, 1.0 / K)
    pi = np.asarray(class_prior.detach().cpu() if hasattr(class_prior, "detach") else class_prior, dtype=np.float64)
    if pi.shape != (K,) or not np.all(np.isfinite(pi)) or np.any(pi < 0) or not pi.sum() > 0:
        raise ValueError(f"class_prior must be {K} non-negative shares (or counts) with a positive sum, "
                         f"got {np.round(pi, 4).tolist()}")
    return pi / pi.sum()


def uniform_noise_example(num_classes: int, q: float, rate: float) -> dict:
    """Theorem 1's setting solved exactly for one input whose true class is certain.

    The noisy risk (1 - rate) Lq(t) + rate/(K - 1) sum_{j != y} Lq(p_j) is convex in p; its minimiser
    gives the true class t = r / (r + K - 1) and the other classes (1 - t)/(K - 1) each, with
    r = ((1 - rate)(K - 1)/rate)^(1/(1 - q)) (set the derivative to 0; t = 1 at q = 1). The clean
    minimiser is one-hot (clean risk 0), so Lq(t) is the clean excess risk of the noisy minimiser.

    Returns dict(p_true=t, excess=Lq(t), bound=Theorem 1's bound). The bound holds for every data
    distribution, so it is far above this easy case's excess.
    """
    K, q = _checked(num_classes, q)
    rate = _check_rate(rate, K)
    if rate == 0:
        t = 1.0
    elif q == 1:
        t = 1.0                      # the noisy risk is linear in t and falls towards t = 1
    else:
        log_r = math.log((1 - rate) * (K - 1) / rate) / (1 - q)
        t = 1.0 / (1.0 + (K - 1) * math.exp(-log_r))
    return dict(p_true=t, excess=_lq(t, q), bound=uniform_noise_bound(K, q, rate))


# ------------------------------------------------------------------------------------------------
# What a noisy validation set measures

def noisy_accuracy(confusion, T, class_prior=None) -> float:
    """Expected accuracy against *noisy* labels of a classifier with clean confusion matrix
    ``confusion`` (C[i, j] = P(predicted j | true i), rows sum to 1) when the labels are corrupted by
    T independently of the input given its class:  sum_i pi_i sum_j C[i, j] T[i, j].

    It depends on where the errors go, not only on the clean accuracy sum_i pi_i C[i, i]: under
    class-dependent noise a worse classifier whose errors follow the noise can score higher on
    noisy labels. Under symmetric noise it is :func:`symmetric_noisy_accuracy` of the clean accuracy.
    """
    T = check_transition_matrix(T)
    C = check_transition_matrix(confusion, num_classes=T.shape[0], name="confusion")
    return float(_prior(class_prior, T.shape[0]) @ (C * T).sum(axis=1))


def symmetric_noisy_accuracy(accuracy, rate: float, num_classes: int):
    """Expected accuracy on labels with symmetric noise (true class excluded) of a classifier with
    clean accuracy ``accuracy``:  rate/(K - 1) + accuracy (1 - rate K/(K - 1)).

    A correct prediction matches the noisy label with probability 1 - rate, a wrong one with
    probability rate/(K - 1). Increasing in the clean accuracy while rate < (K - 1)/K, so a noisy
    validation set ranks models (and epochs) as a clean one would; flat at rate = (K - 1)/K and
    reversed beyond. ``accuracy``: a number or an array of them (returned the same way).
    """
    K = check_int("num_classes", num_classes, 2)
    check_in_range("rate", rate, 0, 1)
    acc = np.asarray(accuracy, dtype=np.float64)
    if np.any(~np.isfinite(acc)) or np.any(acc < 0) or np.any(acc > 1):
        raise ValueError("accuracy must be in [0, 1]")
    out = rate / (K - 1) + acc * clean_term_factor(rate, K)
    return float(out) if out.ndim == 0 else out


def clean_term_factor(rate: float, num_classes: int) -> float:
    """1 - rate K/(K - 1): the factor by which symmetric noise of ``rate`` scales the clean term of
    a symmetric loss's expected value, E L(f(x), noisy y) = (1 - rate K/(K-1)) L(f(x), y) + rate C/(K-1)
    (Ghosh et al. 2017; C: the class sum). Positive below rate (K - 1)/K, 0 there (the noisy label
    says nothing about the true one), negative beyond."""
    K = check_int("num_classes", num_classes, 2)
    check_in_range("rate", rate, 0, 1)
    return 1 - rate * K / (K - 1)


def clean_accuracy_from_noisy(noisy_accuracy, rate: float, num_classes: int):
    """The inverse of :func:`symmetric_noisy_accuracy`: the clean accuracy that gives this accuracy
    on symmetrically noisy labels. Needs rate < (K - 1)/K (at (K - 1)/K every classifier scores 1/K)."""
    K = check_int("num_classes", num_classes, 2)
    check_in_range("rate", rate, 0, (K - 1) / K, hi_open=True)
    acc = np.asarray(noisy_accuracy, dtype=np.float64)
    out = (acc - rate / (K - 1)) / clean_term_factor(rate, K)
    return float(out) if out.ndim == 0 else out


def symmetric_noisy_slope(rate: float, num_classes: int, include_true: bool = False) -> float:
    """How much the expected accuracy on symmetrically noisy labels rises per unit of clean accuracy:
    1 - rate K/(K - 1) with the true class excluded (:func:`symmetric_noisy_accuracy`), 1 - rate
    with it included (there the noisy accuracy is rate/K + (1 - rate) acc). Positive, so a noisy
    validation set ranks classifiers as a clean one would *in expectation*, for rate < (K - 1)/K
    (excluded) or rate < 1 (included)."""
    K = check_int("num_classes", num_classes, 2)
    check_in_range("rate", rate, 0, 1)
    return float(1 - rate) if include_true else clean_term_factor(rate, K)


def accuracy_standard_error(accuracy, n: int):
    """The standard error of an accuracy measured on ``n`` independent labels: sqrt(acc (1 - acc) / n)."""
    n = check_int("n", n, 1)
    acc = np.asarray(accuracy, dtype=np.float64)
    if np.any(~np.isfinite(acc)) or np.any(acc < 0) or np.any(acc > 1):
        raise ValueError("accuracy must be in [0, 1]")
    out = np.sqrt(acc * (1 - acc) / n)
    return float(out) if out.ndim == 0 else out


def noisy_validation_error(clean_accuracy: float, rate: float, num_classes: int, n: int) -> dict:
    """How precisely ``n`` symmetrically noisy validation labels (true class excluded) measure a
    classifier of clean accuracy ``clean_accuracy``, in the units that matter, clean accuracy.

    Returns ``slope`` (:func:`symmetric_noisy_slope`), the expected ``noisy_accuracy``, its standard
    error ``noisy_se``, that error divided by the slope, ``clean_units_se`` (the clean-accuracy
    difference the noise of the estimate can fake or hide), and ``clean_se``, the standard error of
    ``n`` clean labels, for comparison. Needs rate < (K - 1)/K (at (K - 1)/K the slope is 0).
    """
    K = check_int("num_classes", num_classes, 2)
    check_in_range("rate", rate, 0, (K - 1) / K, hi_open=True)
    slope = symmetric_noisy_slope(rate, K)
    noisy = symmetric_noisy_accuracy(clean_accuracy, rate, K)
    noisy_se = accuracy_standard_error(noisy, n)
    return dict(slope=slope, noisy_accuracy=noisy, noisy_se=noisy_se, clean_units_se=noisy_se / slope,
                clean_se=accuracy_standard_error(clean_accuracy, n))


def noisy_labels_for_equal_error(clean_accuracy: float, rate: float, num_classes: int, n_clean: int) -> float:
    """How many symmetrically noisy validation labels (true class excluded) measure a classifier of
    clean accuracy ``clean_accuracy`` as precisely, in clean-accuracy units, as ``n_clean`` clean labels:

        n = n_clean * a_n (1 - a_n) / (slope^2 * acc (1 - acc)),   a_n = the expected noisy accuracy.

    More than n_clean / slope^2: near the peak the noisy accuracy sits near 1/2, where a Bernoulli
    variance is largest, while the clean accuracy sits near 1, where it is small. Not rounded."""
    e = noisy_validation_error(clean_accuracy, rate, num_classes, n_clean)
    if e["clean_se"] == 0:
        raise ValueError("clean_accuracy must be strictly between 0 and 1 (clean labels then have no sampling error)")
    return float(n_clean * (e["clean_units_se"] / e["clean_se"]) ** 2)


def corrected_accuracy(predictions, noisy_labels, T) -> float:
    """An estimate of the *clean* accuracy of ``predictions`` from noisy labels alone, given the noise T
    (T[i, j] = P(noisy j | true i), invertible):  tr(M T^-1), M[a, b] the joint frequency of
    (prediction a, noisy label b).

    Why: if the noisy label depends on the true class only (not on x, nor on the prediction), then
    P(pred a, noisy b) = sum_y P(pred a, true y) T[y, b], i.e. M = A T with A[a, y] = P(pred a, true y);
    so A = M T^-1 and the clean accuracy is sum_y A[y, y] = tr(M T^-1). Unbiased in expectation; on a
    finite set it is noisier than a clean estimate (T^-1 amplifies the sampling error).
    """
    T = check_transition_matrix(T)
    K = T.shape[0]
    pred = np.asarray(predictions).astype(int).ravel()
    noisy = np.asarray(noisy_labels).astype(int).ravel()
    if pred.shape != noisy.shape or pred.size == 0:
        raise ValueError(f"predictions and noisy_labels must be two non-empty arrays of one length, got {pred.size} "
                         f"and {noisy.size}")
    if pred.min() < 0 or noisy.min() < 0 or pred.max() >= K or noisy.max() >= K:
        raise ValueError(f"predictions and noisy_labels must be classes in [0, {K - 1}] (T is {K}x{K})")
    M = np.zeros((K, K))
    np.add.at(M, (pred, noisy), 1.0)
    M /= pred.size
    if abs(np.linalg.det(T)) < 1e-12:
        raise ValueError("T must be invertible to correct the accuracy (symmetric noise at rate (K-1)/K is not)")
    return float(np.trace(M @ np.linalg.inv(T)))
