"""Answer checks for lesson 5 (loss correction, Patrini et al. 2017).

Each ``check_*`` prints whether the answer is right (and, if not, a hint aimed at the usual mistake)
and returns True/False. The reference answers come from ``nblib.losses`` / ``nblib.estimate``.

- :func:`check_forward`      a function ``my_forward(probs, T, y)`` -> per-sample -log (T^T p)_y
- :func:`check_backward`     a function ``my_backward(probs, T, y)`` -> per-sample (T^{-1} l(p))_y
- :func:`check_singular_eta` the eta at which T(eta) of the pair (or symmetric) family with K classes is singular
- :func:`check_model_choice` the epoch of each seed's CE model to read T from, chosen without clean labels
- :func:`check_anchor_estimate` a function ``my_estimate(probs)`` -> T-hat without the outlier filter
"""
from __future__ import annotations

import numpy as np
import torch

from ..._checks import check_choice
from ..feedback import number, unanswered, verdict

__all__ = ["check_forward", "check_backward", "check_singular_eta", "check_model_choice", "check_anchor_estimate",
           "random_case"]

ATOL = 1e-4          # numerical answers must match the reference within this
CHECK_SEED = 5       # the random test cases are reproducible
NUM_CASES = 3
CASE_SIZE = (20, 4)  # (N, K) of each random test case


def random_case(seed: int = CHECK_SEED, n: int = CASE_SIZE[0], k: int = CASE_SIZE[1]):
    """A random test case (probs (n, k), T (k, k) invertible and asymmetric, y (n,)), NumPy float64."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=n)
    T = np.eye(k) * 2.0 + rng.random((k, k))
    T /= T.sum(axis=1, keepdims=True)
    y = rng.integers(0, k, size=n)
    return probs, T, y


def _to_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def _call(fn, *args):
    """fn(*args) as a float64 array, or (None, message) if it raised."""
    try:
        return _to_numpy(fn(*args)), None
    except Exception as e:  # noqa: BLE001 - any error in student code is feedback, not a crash
        return None, f"your function raised {type(e).__name__}: {e}"


def _reference(name, probs, T, y):
    from ... import losses

    logits = torch.as_tensor(np.log(probs), dtype=torch.float64)
    return getattr(losses, name)(logits, torch.as_tensor(y), T=T, reduction="none").numpy()


def _check_loss_fn(fn, name, wrong_variants: dict, good: str) -> bool:
    for seed in range(CHECK_SEED, CHECK_SEED + NUM_CASES):
        probs, T, y = random_case(seed)
        got, err = _call(fn, probs, T, y)
        if err:
            return verdict(False, "", err)
        want = _reference(name, probs, T, y)
        if got.shape != want.shape:
            return verdict(False, "", f"expected one loss per sample, shape {want.shape}, got shape {got.shape}")
        if not np.allclose(got, want, atol=ATOL):
            for hint, variant in wrong_variants.items():
                if np.allclose(got, variant(probs, T, y), atol=ATOL):
                    return verdict(False, "", hint)
            i = int(np.argmax(np.abs(got - want)))
            return verdict(False, "", f"sample {i}: expected {want[i]:.4f}, got {got[i]:.4f}")
    return verdict(True, good)


def check_forward(fn) -> bool:
    """``fn(probs, T, y)`` must return -log (T^T p)_y per sample (probs: (N, K) clean-posterior rows)."""
    rows = np.arange(CASE_SIZE[0])
    wrong = {
        "you multiplied by T instead of T^T: the noisy-label probability is sum_i p_i T[i, y] (a column of T).":
            lambda p, T, y: -np.log((p @ T.T)[rows, y]),
        "that is plain cross entropy -log p_y: push p through the noise first, T^T p.":
            lambda p, T, y: -np.log(p[rows, y]),
        "mind the sign: the loss is -log (T^T p)_y, which is positive.":
            lambda p, T, y: np.log((p @ T)[rows, y]),
    }
    return _check_loss_fn(fn, "forward", wrong,
                          "Forward correction is CE against the noisy-label prediction T^T p.")


def check_backward(fn) -> bool:
    """``fn(probs, T, y)`` must return sum_j (T^{-1})[y, j] (-log p_j) per sample."""
    rows = np.arange(CASE_SIZE[0])
    wrong = {
        "you used a column of T^{-1} (i.e. (T^{-1})^T): the loss is row y of T^{-1} times the loss vector.":
            lambda p, T, y: (-np.log(p) @ np.linalg.inv(T))[rows, y],
        "that uses T itself, not its inverse: backward correction *undoes* the noise with T^{-1}.":
            lambda p, T, y: (-np.log(p) @ T.T)[rows, y],
        "that is plain cross entropy -log p_y.":
            lambda p, T, y: -np.log(p[rows, y]),
    }
    return _check_loss_fn(fn, "backward", wrong,
                          "Some of your values are negative: that is backward correction, not a bug.")


SINGULAR_KINDS = ("symmetric", "pair")   # the families check_singular_eta knows


def check_singular_eta(value, num_classes: int = 10, kind: str = "pair") -> bool:
    """The eta at which T(eta) = (1 - eta) I + eta M stops being invertible, for M of ``kind``: "pair"
    (i -> i+1 mod K, a cyclic shift: singular at 1/2 for even K, never for odd K: answer inf) or
    "symmetric" (uniform over the other classes: (K - 1)/K). The truth is ``nblib.noise.singular_rate``."""
    from ...noise import singular_rate

    check_choice("kind", kind, SINGULAR_KINDS)
    want = singular_rate(kind, num_classes)
    if unanswered(value):
        return False
    v = float(value) if isinstance(value, float) and np.isinf(value) else number(value, "value")   # inf: never
    right = v == want if np.isinf(want) else abs(v - want) < 1e-3
    if kind == "symmetric":
        return verdict(right,
                       f"T(eta) has eigenvalues 1 (on the all-ones vector) and 1 - eta K/(K-1) (K-1 times); "
                       f"the latter vanishes at eta = (K-1)/K = {want:.3f}: every row is then uniform.",
                       "write T(eta) = a I + b 11^T and find when its smallest eigenvalue a is zero "
                       "(11^T has eigenvalues K and 0).")
    return verdict(right,
                   "The cyclic shift S has the K-th roots of unity as eigenvalues, so T(eta) has 1 - eta + eta w. "
                   "Only the real root w = -1 can cancel it, at eta = 1/2; it exists only for even K (for odd K, "
                   "T(eta) is invertible at every eta: answer float('inf')).",
                   "the eigenvalues of the shift i -> i+1 are the K-th roots of unity w; when is 1 - eta + eta w "
                   "zero for a real eta in (0, 1]?")


def check_model_choice(epochs, histories) -> bool:
    """``epochs``: for each seed, the epoch (1-based) of the CE model to read T from, chosen with the
    noisy validation set only; ``histories``: the CE runs' Histories, one per seed, in the same order
    (a dict seed -> epoch is read in its order too)."""
    if unanswered(epochs):
        return False
    chosen = list(epochs.values()) if isinstance(epochs, dict) else list(epochs)
    if len(chosen) != len(histories):
        return verdict(False, "", f"give one epoch per seed ({len(histories)}), got {len(chosen)}")
    best_val = [{e for e, v in zip(h.epoch, h.val_acc) if v == max(h.val_acc)} for h in histories]
    if all(int(number(c, "epoch")) in b for c, b in zip(chosen, best_val)):
        return verdict(True, "The epoch of the highest accuracy on the noisy validation set. When every class's "
                       "true label is its most likely noisy label (T_yy the largest entry of row y, as for the "
                       "digit map at 0.4), the classifier that maximises noisy accuracy is the clean-optimal one. "
                       "The noisy-validation curve tracks the clean one but need not peak at the same epoch "
                       "(only 300 noisy labels).")
    if all(c == h.epoch[-1] for c, h in zip(chosen, histories)):
        return verdict(False, "", "the last epoch is the memorising, over-confident model; use h.val_acc.")
    best_test = [h.epoch[max(range(len(h.test_acc)), key=h.test_acc.__getitem__)] for h in histories]
    if chosen == best_test:
        return verdict(False, "", "that reads the clean *test* labels, which a practitioner does not have; "
                       "use the noisy validation accuracy h.val_acc.")
    return verdict(False, "", "for each seed take the epoch with the largest h.val_acc (h.epoch[i] at its argmax).")


def check_anchor_estimate(fn) -> bool:
    """``fn(probs)`` -> T-hat: row i = probs[argmax_n probs[n, i]] (no outlier filter), rows normalised."""
    from ...estimate import estimate_transition

    for seed in range(CHECK_SEED, CHECK_SEED + NUM_CASES):
        probs, _, _ = random_case(seed, n=50)
        got, err = _call(fn, probs)
        if err:
            return verdict(False, "", err)
        want = estimate_transition(probs, filter_outliers=False)
        if got.shape != want.shape:
            return verdict(False, "", f"T-hat must be ({want.shape[0]}, {want.shape[1]}), got shape {got.shape}")
        if not np.allclose(got, want, atol=ATOL):
            if np.allclose(got, want.T, atol=ATOL):
                return verdict(False, "", "you built T-hat transposed: row i is the *prediction* at class i's anchor.")
            if np.allclose(got, probs[np.argmax(probs, axis=1)][: len(want)], atol=ATOL):
                return verdict(False, "", "take the argmax over samples (axis 0), one anchor per class.")
            return verdict(False, "", "row i must be probs[a_i] with a_i = argmax over samples n of probs[n, i].")
    return verdict(True, "At an anchor of class i, p(noisy = j | x) = T[i, j]: the prediction *is* row i of T.")
