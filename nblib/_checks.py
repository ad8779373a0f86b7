"""Input validation shared by every nblib module.

Bad input must fail early with a message that names the parameter and the allowed range,
never as a silent NaN deep inside a training run. Each helper raises ``ValueError`` (or
``TypeError`` for a wrong kind of object) and returns the validated value so calls chain.
"""
from __future__ import annotations

import numbers
from typing import Iterable

import numpy as np
import torch

ROW_SUM_TOL = 1e-6  # how far a row of a transition matrix may be from summing to 1
# The largest seed every generator nblib feeds accepts: scikit-learn's random_state and NumPy's legacy
# seeding (mnist1d) take [0, 2**32 - 1]; torch and numpy.random.default_rng take more. One range everywhere.
MAX_SEED = 2**32 - 1


def _bound(x) -> str:
    """A range end as text: integers exactly (4294967295, not 4.29497e+09), other numbers with %g."""
    return str(x) if isinstance(x, (int, np.integer)) else f"{x:g}"


def check_in_range(name: str, value, lo=None, hi=None, lo_open: bool = False, hi_open: bool = False):
    """Return ``value`` if ``lo <= value <= hi`` (open ends with ``lo_open``/``hi_open``), else raise.

    >>> check_in_range("q", 0.7, 0, 1, lo_open=True)
    0.7
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    bad = not np.isfinite(v)
    if lo is not None:
        bad |= v <= lo if lo_open else v < lo
    if hi is not None:
        bad |= v >= hi if hi_open else v > hi
    if bad:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        lo_s = "-inf" if lo is None else _bound(lo)
        hi_s = "inf" if hi is None else _bound(hi)
        raise ValueError(f"{name} must be in {left}{lo_s}, {hi_s}{right}, got {value!r}")
    return value


def check_int(name: str, value, lo=None, hi=None) -> int:
    """Return ``value`` as an int if it is an integer in ``[lo, hi]``, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    check_in_range(name, value, lo, hi)
    return int(value)


def check_seed(value, name: str = "seed") -> int:
    """Return ``value`` as an int if it is a seed: an integer in [0, MAX_SEED] (``seed=-1`` or 1.5 fail
    here, naming the parameter, not later inside torch, NumPy or scikit-learn)."""
    return check_int(name, value, 0, MAX_SEED)


def check_bool(name: str, value) -> bool:
    """Return ``value`` if it is True or False (not a string such as "no", which would read as True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(name: str, value, choices: Iterable[str]):
    """Return ``value`` if it is one of ``choices``; else raise naming the valid ones."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(map(str, choices))}")
    return value


def check_real_array(name: str, value, what: str) -> np.ndarray:
    """``value`` (a NumPy array, nested list or tensor of real numbers) as a float64 array.

    Strings, booleans, None and objects raise ``TypeError``, ragged lists ``ValueError``, both naming
    ``name`` and saying it must be ``what`` (NumPy's own "could not convert string to float" names
    nothing).
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        value = (value.double() if value.is_floating_point() else value).numpy()
    try:
        arr = np.asarray(value)
    except ValueError:      # a ragged nested list
        raise ValueError(f"{name} must be {what}, got a ragged sequence {value!r:.80}") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be {what} of real numbers, got {value!r:.80} (dtype {arr.dtype})")
    return arr.astype(np.float64)


def check_transition_matrix(T, num_classes: int | None = None, name: str = "T") -> np.ndarray:
    """Validate a noise transition matrix and return it as a float64 NumPy array.

    Convention: ``T[i, j] = P(noisy = j | true = i)``, so T is square, non-negative,
    finite, and every row sums to 1 (within ``ROW_SUM_TOL``).
    """
    T = check_real_array(name, T, "a (K, K) matrix")
    if T.ndim != 2 or T.shape[0] != T.shape[1]:
        raise ValueError(f"{name} must be a square (K, K) matrix, got shape {T.shape}")
    if num_classes is not None and T.shape[0] != num_classes:
        raise ValueError(f"{name} must be ({num_classes}, {num_classes}) for num_classes={num_classes}, got {T.shape}")
    if not np.all(np.isfinite(T)) or np.any(T < 0):
        raise ValueError(f"{name} must have finite entries in [0, 1]")
    sums = T.sum(axis=1)
    if np.any(np.abs(sums - 1) > ROW_SUM_TOL):
        worst = int(np.argmax(np.abs(sums - 1)))
        raise ValueError(f"rows of {name} must sum to 1 (T[i, j] = P(noisy=j | true=i)); row {worst} sums to {sums[worst]:.6g}")
    return T


def check_labels(labels, num_classes: int, name: str = "targets"):
    """Check that ``labels`` are integers in ``[0, num_classes)``; return them unchanged."""
    arr = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer class indices, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(f"{name} must be in [0, {num_classes - 1}] for num_classes={num_classes}, "
                         f"got values in [{arr.min()}, {arr.max()}]")
    return labels
