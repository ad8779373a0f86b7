"""The training entry points' arguments, checked once at the boundary.

Bad input fails here with a message that names the argument and its allowed range, never later as
an error from deep inside torch or a silent NaN; the epoch loop (:mod:`nblib.train.loop`) then
trusts what it gets and checks nothing per batch.
"""
from __future__ import annotations

import torch

from .._checks import check_choice, check_in_range, check_int, check_labels
from ..losses import Loss, make_loss

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine")


def check_training_args(epochs, batch_size, lr, weight_decay, optimizer, schedule, grad_clip):
    """Validate the optimisation settings of every entry point; return (epochs, batch_size)."""
    epochs = check_int("epochs", epochs, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    check_in_range("lr", lr, 0, None, lo_open=True)
    check_in_range("weight_decay", weight_decay, 0)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_choice("schedule", schedule, SCHEDULES)
    if grad_clip is not None:
        check_in_range("grad_clip", grad_clip, 0, None, lo_open=True)
    return epochs, batch_size


DATASET_FIELDS = ("x_train", "y_train", "x_test", "y_test", "num_classes", "input_shape")


def check_data(data) -> None:
    """``data`` must be a Dataset (:func:`nblib.data.load`), or anything with its fields."""
    if any(not hasattr(data, f) for f in DATASET_FIELDS):
        raise TypeError(f"data must be an nblib.data.Dataset (from nblib.data.load) with {', '.join(DATASET_FIELDS)}, "
                        f"got {type(data).__name__}")


def _tensor(name: str, value, what: str, dtype=None) -> torch.Tensor:
    """``value`` as a tensor, or a TypeError naming ``name`` (not torch's "new(): invalid data type")."""
    try:
        return torch.as_tensor(value, dtype=dtype)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be {what} (a tensor, array or list), got {value!r:.80}") from None


def as_labels(y, n: int, num_classes: int, dev, name: str) -> torch.Tensor:
    """One integer label per training sample, shape exactly (n,), on ``dev``."""
    y = _tensor(name, y, "integer class labels")
    if y.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},): one label per training sample, got {tuple(y.shape)}")
    check_labels(y, num_classes, name)
    return y.to(dev).long()


def flipped_mask(f, y, y_true, name: str) -> torch.Tensor:
    """The flipped mask: ``f`` as a boolean (n,) tensor, default ``y != y_true``."""
    if f is None:
        return y != y_true
    f = _tensor(name, f, "a boolean mask")
    if f.shape != y.shape or f.dtype != torch.bool:
        raise ValueError(f"{name} must be a boolean mask of shape {tuple(y.shape)}, got dtype {f.dtype}, "
                         f"shape {tuple(f.shape)}")
    return f.to(y.device)


def as_loss(loss, loss_params, num_classes: int, name: str = "loss") -> Loss:
    if isinstance(loss, Loss):
        if loss_params:
            raise TypeError(f"loss_params {sorted(loss_params)} are only used with a loss name; this {name} is a "
                            f"Loss module that already has {loss.params}: build it with make_loss(..., **params)")
        if loss.num_classes != num_classes:
            raise ValueError(f"{name} was built for {loss.num_classes} classes, the data has {num_classes}")
        return loss
    if isinstance(loss, str):
        if loss_params is not None and not isinstance(loss_params, dict):
            raise TypeError(f"loss_params must be a dict of hyper-parameters, e.g. {{'q': 0.7}}, got {loss_params!r}")
        return make_loss(loss, num_classes, **(loss_params or {}))
    raise TypeError(f"{name} must be a loss name from nblib.losses.LOSSES or a Loss module, got {type(loss).__name__}")


def sample_weights(w, y, truncated: bool, name: str = "sample_weight") -> torch.Tensor:
    """Per-sample weights as a float32 (n,) tensor: finite, >= 0, not all 0 (pruning weights in [0, 1])."""
    w = _tensor(name, w, "per-sample weights", torch.float32).to(y.device)
    if w.shape != y.shape:
        raise ValueError(f"{name} must have shape {tuple(y.shape)} (one weight per training sample), "
                         f"got {tuple(w.shape)}")
    if not bool(torch.isfinite(w).all()):
        raise ValueError(f"{name} must be finite; it holds NaN or infinity")
    if bool((w < 0).any()):
        raise ValueError(f"{name} must be >= 0 (a negative weight rewards a sample's loss); min is {w.min().item():g}")
    if truncated and bool((w > 1).any()):
        raise ValueError(f"{name} of truncated Lq are pruning weights in [0, 1] (1 = keep, 0 = pruned)")
    if not bool((w > 0).any()):
        raise ValueError(f"{name} are all 0: no sample would contribute to the gradient")
    return w


def check_val(val, data, members: int = 1):
    """``val`` as a pair of tensors (x_val, y_val) of matching length, or None. For a stack of
    ``members`` models y_val may also be (members, n): one label vector per member."""
    if val is None:
        return None
    if not (isinstance(val, (tuple, list)) and len(val) == 2):
        raise TypeError("val must be a pair (x_val, y_val) of tensors")
    x_val, y_val = _tensor("val[0]", val[0], "x_val"), _tensor("val[1]", val[1], "y_val")
    n = len(x_val)
    if tuple(x_val.shape[1:]) != data.input_shape or y_val.shape not in ((n,), (members, n)):
        raise ValueError(f"val must be (x_val, y_val) with x_val of shape (n, {', '.join(map(str, data.input_shape))}) "
                         f"and y_val of shape (n,){f' or ({members}, n)' if members > 1 else ''}, got "
                         f"{tuple(x_val.shape)} and {tuple(y_val.shape)}")
    check_labels(y_val, data.num_classes, "val labels")
    return x_val, y_val.long()
