"""Shared internals of label corruption (nblib.noise, nblib.instance_noise): checked inputs, exact
per-class flip counts, outputs in the caller's type. Private: the public functions are in those modules."""
from __future__ import annotations

import numpy as np
import torch

from ._checks import check_labels, check_seed, check_transition_matrix

ROUND_TOL = 1e-9  # float slack: 0.3 * 10 = 2.9999999999999996 counts as 3, near-ties as ties


def to_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def round_half_up(x):
    return np.floor(np.asarray(x) + 0.5 + ROUND_TOL).astype(np.int64)


def exact_counts(row: np.ndarray, i: int, n: int) -> np.ndarray:
    """Integer counts c (sum n) for class i: c_i = n - round(n (1 - T[i, i])) and the flips are split by
    largest remainder, so every |c_j - n T[i, j]| < 1 and no count goes to a zero-probability class."""
    quota = row * n
    counts = np.floor(quota + ROUND_TOL).astype(np.int64)
    flips = int(round_half_up(n * (1 - row[i])))
    counts[i] = n - flips
    frac = quota - counts
    frac[i] = -np.inf
    frac[row == 0] = -np.inf
    short = flips - (counts.sum() - counts[i])  # flips still to hand out, one each, by largest remainder
    counts[np.argsort(-frac, kind="stable")[:short]] += 1
    return counts


def corruption_inputs(labels, T, seed):
    """Checked inputs of a corruption: (T float64, labels as flat int64, their shape, the seeded generator)."""
    T = check_transition_matrix(T)
    check_labels(labels, T.shape[0], name="labels")
    rng = np.random.default_rng(check_seed(seed))
    y = to_numpy(labels)
    return T, y.reshape(-1).astype(np.int64), y.shape, rng


def corruption_outputs(labels, noisy: np.ndarray, y: np.ndarray, shape):
    """(noisy, flipped) in the type of ``labels``: a tensor (same dtype and device) or NumPy arrays."""
    noisy = noisy.reshape(shape)
    flipped = noisy != y.reshape(shape)
    if isinstance(labels, torch.Tensor):
        return (torch.as_tensor(noisy, device=labels.device).to(labels.dtype),
                torch.as_tensor(flipped, device=labels.device))
    return noisy.astype(np.asarray(labels).dtype, copy=False), flipped


def as_bool(x, name: str) -> np.ndarray:
    x = np.asarray(to_numpy(x))
    if x.dtype != bool:
        raise TypeError(f"{name} must be a boolean mask, got dtype {x.dtype}")
    return x
