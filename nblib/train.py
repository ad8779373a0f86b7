"""A fast, seeded training loop for data that fits in memory, with noisy-label diagnostics.

Why not a DataLoader: the course's datasets (digits, mnist1d, toy2d) are a few MB, so they live
on the device as two tensors and a mini-batch is one ``x[idx]`` gather. That removes the
per-batch collation and host-to-device copies of the usual ``DataLoader(TensorDataset(...))``
pattern, which dominate the cost of small models (see ``benchmarks/``).

Besides loss and accuracy, every epoch records what the lessons need to *see* memorisation:

- ``clean_acc``           accuracy on training samples whose label was not flipped;
- ``flipped_acc_noisy``   share of flipped samples predicted as their *wrong* label (memorised);
- ``flipped_acc_true``    share of flipped samples predicted as their *true* label;
- ``flipped_grad_share``  share of the gradient carried by flipped samples,
                          sum_{i flipped} ||dL_i/dz_i|| / sum_i ||dL_i/dz_i||, z the logits.
                          Each sample's loss depends only on its own logits, so the per-sample
                          gradient is one row of ``d(sum L)/dz``: free to read off the backward pass.

Determinism: the shuffling uses its own ``torch.Generator`` seeded by ``seed``; with a model
built by ``nblib.models.make_model(..., seed=...)`` two runs on the CPU give identical histories.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
from torch import nn

from ._checks import check_choice, check_in_range, check_int, check_labels
from ._device import device as default_device
from .losses import Loss, TruncatedLq, make_loss

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine")
EVAL_BATCH = 2048     # samples per forward pass when evaluating (no gradients, so larger is fine)
SGD_MOMENTUM = 0.9    # the papers' SGD momentum


@dataclass
class History:
    """Per-epoch record of one training run (lists are indexed by epoch - 1)."""

    epoch: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    clean_acc: list = field(default_factory=list)
    flipped_acc_noisy: list = field(default_factory=list)
    flipped_acc_true: list = field(default_factory=list)
    flipped_grad_share: list = field(default_factory=list)
    time: list = field(default_factory=list)
    config: dict = field(default_factory=dict)

    METRICS = ("loss", "train_acc", "test_acc", "clean_acc", "flipped_acc_noisy",
               "flipped_acc_true", "flipped_grad_share", "time")

    @property
    def best_test_acc(self) -> float:
        """Highest test accuracy over epochs (the papers' model selection on the test set)."""
        return max(self.test_acc) if self.test_acc else float("nan")

    @property
    def final_test_acc(self) -> float:
        """Test accuracy after the last epoch."""
        return self.test_acc[-1] if self.test_acc else float("nan")

    @property
    def best_epoch(self) -> int:
        """Epoch (1-based) of the best test accuracy."""
        return self.epoch[max(range(len(self.test_acc)), key=self.test_acc.__getitem__)]

    def to_frame(self):
        """The per-epoch metrics as a pandas DataFrame indexed by epoch."""
        import pandas as pd

        return pd.DataFrame({m: getattr(self, m) for m in self.METRICS}, index=pd.Index(self.epoch, name="epoch"))

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (for caches)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        """Inverse of :meth:`to_dict`."""
        return cls(**d)


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """Logits of ``model`` on ``x`` in evaluation mode, in chunks of ``batch_size``."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def predict_proba(model: nn.Module, x: torch.Tensor, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """Softmax probabilities (N, K) of ``model`` on ``x``."""
    return predict_logits(model, x, batch_size).softmax(dim=1)


def accuracy(pred: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``pred == y`` (nan for an empty subset, so plots show a gap, not a fake 0)."""
    return (pred == y).float().mean().item() if len(y) else float("nan")


class TruncationSchedule:
    """Pruning step of truncated Lq (Zhang & Sabuncu 2018, Alg. 1), as an epoch callback.

    From epoch ``start`` on, every ``every`` epochs, set the weight of each training sample to
    w_i = 1[p_{y_i}(x_i) > k] with the current model: samples the model finds implausible
    (likely flipped) stop contributing to the gradient until the next refresh. The paper uses
    k = 0.5, start 40 and every 10 of 120 epochs; ``fit`` scales that to the run length.
    """

    def __init__(self, weights: torch.Tensor, x: torch.Tensor, y: torch.Tensor, k: float, start: int, every: int):
        self.weights, self.x, self.y, self.k = weights, x, y, k
        self.start, self.every = check_int("prune_start", start, 1), check_int("prune_every", every, 1)
        self.pruned_share: list[tuple[int, float]] = []

    def __call__(self, epoch: int, model: nn.Module, history: History) -> None:
        if epoch >= self.start and (epoch - self.start) % self.every == 0:
            p_y = predict_proba(model, self.x).gather(1, self.y[:, None]).squeeze(1)
            self.weights.copy_((p_y > self.k).to(self.weights.dtype))
            self.pruned_share.append((epoch, 1 - self.weights.mean().item()))


FUSED_DEVICES = ("cpu", "cuda")   # where torch has a fused (one kernel for all tensors) Adam and SGD


def prune_schedule(epochs: int, start: int | None = None, every: int | None = None) -> tuple[int, int]:
    """(start, every) of truncated Lq's pruning for an ``epochs``-long run; ``None`` = the default.

    Default: from half the run, every tenth of it. The paper prunes from epoch 40 of 120 (a third)
    every 10, but its long run has converged by then; a classroom run of 12-20 epochs has not, and
    pruning that early discards clean samples the model has not learnt yet (lesson 3, exercise 3b).
    """
    epochs = check_int("epochs", epochs, 1)
    start = check_int("prune_start", start if start is not None else max(1, epochs // 2), 1)
    every = check_int("prune_every", every if every is not None else max(1, epochs // 10), 1)
    return start, every


def _make_optimizer(name: str, params, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Adam or SGD (momentum 0.9), fused where torch has the kernel.

    The fused step updates every parameter tensor in one kernel instead of a Python loop of ~10
    small ops per tensor; for the course's small models that loop is a visible share of a step
    (~8% of an mnist1d CNN epoch on the CPU). Same update rule; results differ from the loop
    version only in the last bits of float rounding.
    """
    params = list(params)
    fused = all(p.is_floating_point() and p.device.type in FUSED_DEVICES for p in params) or None
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=fused)
    return torch.optim.SGD(params, lr=lr, momentum=SGD_MOMENTUM, weight_decay=weight_decay, fused=fused)


def check_training_args(epochs, batch_size, lr, weight_decay, optimizer, schedule, grad_clip):
    """Validate the optimisation settings shared by ``fit`` and ``fit_batched``; return (epochs, batch_size)."""
    epochs = check_int("epochs", epochs, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    check_in_range("lr", lr, 0, None, lo_open=True)
    check_in_range("weight_decay", weight_decay, 0)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_choice("schedule", schedule, SCHEDULES)
    if grad_clip is not None:
        check_in_range("grad_clip", grad_clip, 0, None, lo_open=True)
    return epochs, batch_size


def fit(model: nn.Module, data, *, loss: str | Loss = "ce", loss_params: dict | None = None,
        y_train: torch.Tensor | None = None, flipped: torch.Tensor | None = None,
        epochs: int = 20, batch_size: int = 128, lr: float = 1e-3, optimizer: str = "adam",
        weight_decay: float = 0.0, schedule: str = "constant", grad_clip: float | None = None,
        seed: int = 0, sample_weight: torch.Tensor | None = None,
        prune_start: int | None = None, prune_every: int | None = None,
        callback: Callable[[int, nn.Module, History], object] | None = None,
        eval_train: bool = True, progress: bool = True, device: str | torch.device | None = None) -> History:
    """Train ``model`` on ``data`` (a :class:`nblib.data.Dataset`) with labels ``y_train``.

    Args:
        loss: a name from ``nblib.losses.LOSSES`` (built with ``loss_params``) or a ``Loss``.
        y_train: the (noisy) training labels; default ``data.y_train`` (clean).
        flipped: boolean mask of flipped samples; default ``y_train != data.y_train``.
        optimizer, lr, weight_decay, schedule ("constant" or "cosine"), grad_clip (max gradient
            norm, as the APL code's 5.0), batch_size, epochs: the usual.
        sample_weight: optional per-sample weights (N,) multiplying each sample's loss; the loop
            reports and minimises mean_i(w_i L_i). For truncated Lq (``loss="tgce"``) they are
            the pruning weights instead, passed to the loss as w Lq(p_y) + (1 - w) Lq(k): all 1
            at the start (plain Lq, as in the paper), refreshed by :class:`TruncationSchedule`
            from ``prune_start`` every ``prune_every`` epochs (default: from half the run, every
            tenth of it; see :func:`prune_schedule`). Pass your own tensor to read the final weights
            (0 = pruned) after training: it is updated in place.
        callback: called as ``callback(epoch, model, history)`` after each epoch; returning
            True stops training early.
        eval_train: evaluate the whole training set after every epoch, for ``train_acc``,
            ``clean_acc`` and the flipped-sample curves that show memorisation. False skips that
            pass (those curves are NaN; test accuracy, loss and gradient share remain): the same
            work per epoch as a plain loop that only tests, ~15% less for a small conv net.
        progress: show a tqdm bar (turn off in tests and sweeps).
        device: where to train; default ``nblib.device()``.

    Returns a :class:`History`. The model is trained in place.
    """
    dev = default_device(device)
    epochs, batch_size = check_training_args(epochs, batch_size, lr, weight_decay, optimizer, schedule, grad_clip)

    K = data.num_classes
    x, x_test, y_test = data.x_train.to(dev), data.x_test.to(dev), data.y_test.to(dev)
    y_true = data.y_train.to(dev)
    y = y_true if y_train is None else torch.as_tensor(y_train).to(dev)
    check_labels(y, K, "y_train")
    if len(y) != len(x):
        raise ValueError(f"y_train must have one label per training sample ({len(x)}), got {len(y)}")
    flipped = (y != y_true) if flipped is None else torch.as_tensor(flipped, dtype=torch.bool).to(dev)
    if flipped.shape != y.shape:
        raise ValueError(f"flipped must be a boolean mask of shape {tuple(y.shape)}, got {tuple(flipped.shape)}")

    loss_fn = loss if isinstance(loss, Loss) else make_loss(loss, K, **(loss_params or {}))
    loss_fn = loss_fn.to(dev)
    callbacks = [callback] if callback is not None else []
    if sample_weight is not None:
        sample_weight = torch.as_tensor(sample_weight, dtype=torch.float32).to(dev)
        if sample_weight.shape != y.shape:
            raise ValueError(f"sample_weight must have shape {tuple(y.shape)}, got {tuple(sample_weight.shape)}")
    truncated = isinstance(loss_fn, TruncatedLq)
    if truncated:
        if sample_weight is None:
            sample_weight = torch.ones(len(y), device=dev)
        start, every = prune_schedule(epochs, prune_start, prune_every)
        schedule_cb = TruncationSchedule(sample_weight, x, y, loss_fn.params["k"], start=start, every=every)
        callbacks.insert(0, schedule_cb)

    model = model.to(dev)
    opt = _make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
             if schedule == "cosine" else None)
    gen = torch.Generator().manual_seed(seed)
    hist = History(config=dict(loss=loss_fn.name, loss_params=dict(loss_fn.params), epochs=epochs,
                               batch_size=batch_size, lr=lr, optimizer=optimizer, weight_decay=weight_decay,
                               schedule=schedule, grad_clip=grad_clip, seed=seed, device=str(dev),
                               noise_rate=flipped.float().mean().item()))

    flipped_f = flipped.float()
    bar = _progress(epochs, progress, desc=f"{loss_fn.name}")
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(len(x), generator=gen).to(dev)
        total_loss = torch.zeros((), device=dev)
        grad_all = torch.zeros((), device=dev)
        grad_flipped = torch.zeros((), device=dev)
        for start in range(0, len(x), batch_size):
            idx = perm[start:start + batch_size]
            logits = model(x[idx])
            logits.retain_grad()
            if truncated:    # w Lq(p_y) + (1 - w) Lq(k): w = 1 is plain Lq, w = 0 pruned (no gradient)
                per_sample = loss_fn(logits, y[idx], reduction="none", weights=sample_weight[idx])
            else:
                per_sample = loss_fn(logits, y[idx], reduction="none")
                if sample_weight is not None:
                    per_sample = per_sample * sample_weight[idx]
            batch_loss = per_sample.mean()
            opt.zero_grad(set_to_none=True)
            batch_loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            opt.step()
            if sched is not None:
                sched.step()
            with torch.no_grad():
                g = logits.grad.norm(dim=1) * len(idx)   # undo the 1/B of the mean
                grad_all += g.sum()
                grad_flipped += g @ flipped_f[idx]   # no boolean indexing: no host sync
                total_loss += per_sample.detach().sum()

        pred_test = predict_logits(model, x_test).argmax(1)
        hist.epoch.append(epoch)
        hist.loss.append(total_loss.item() / len(x))
        hist.test_acc.append(accuracy(pred_test, y_test))
        if eval_train:
            pred = predict_logits(model, x).argmax(1)
            hist.train_acc.append(accuracy(pred, y))
            hist.clean_acc.append(accuracy(pred[~flipped], y[~flipped]))
            hist.flipped_acc_noisy.append(accuracy(pred[flipped], y[flipped]))
            hist.flipped_acc_true.append(accuracy(pred[flipped], y_true[flipped]))
        else:
            for curve in (hist.train_acc, hist.clean_acc, hist.flipped_acc_noisy, hist.flipped_acc_true):
                curve.append(float("nan"))
        share = grad_flipped.item() / grad_all.item() if grad_all.item() > 0 else float("nan")
        hist.flipped_grad_share.append(share)
        hist.time.append(time.perf_counter() - t0)
        bar.set_postfix(test_acc=f"{hist.test_acc[-1]:.3f}", loss=f"{hist.loss[-1]:.3f}")
        bar.update(1)
        stop = False
        for cb in callbacks:
            stop |= bool(cb(epoch, model, hist))
        if stop:
            break
    bar.close()
    if sample_weight is not None:
        hist.config["final_sample_weight_mean"] = sample_weight.mean().item()
    return hist


class _NoBar:
    def set_postfix(self, **kw): pass
    def update(self, n=1): pass
    def close(self): pass


def _progress(total: int, enabled: bool, desc: str):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="epoch", leave=False)
