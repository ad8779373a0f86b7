"""The one training loop: a fast, seeded, device-resident epoch loop for one model or many.

Why not a DataLoader: the course's datasets (digits, mnist1d, toy2d) are a few MB, so they live
on the device as two tensors and a mini-batch is one ``x[idx]`` gather. That removes the
per-batch collation and host-to-device copies of the usual ``DataLoader(TensorDataset(...))``
pattern, which dominate the cost of small models (see ``benchmarks/``).

``fit`` trains one model, ``fit_batched`` a vmap stack of models, and ``fit_many`` picks between a
stack and one-by-one runs by the measured rule of :func:`nblib.train.members.stack_pays`. All three
run the same epoch loop (``_train``) over the members interface of :mod:`nblib.train.members`;
each member has its own labels, loss, shuffle seed and, for truncated Lq, its own pruning weights,
refreshed by the loss itself (:class:`nblib.losses.TruncatedLq`).

Arguments are validated once, here at the boundary; nothing is checked per batch (no host
synchronisation in the inner loop). After every epoch the loop checks that training has not
diverged (a non-finite or exploding loss, non-finite weights) and stops with a message that says
what to try; the epochs already recorded travel with the error (``TrainingDiverged.histories``).

Determinism: the shuffling uses its own ``torch.Generator`` seeded by ``seed``; with a model
built by ``nblib.models.make_model(..., seed=...)`` two runs on the CPU give identical histories.

Why one file of ~450 lines: the three entry points, the epoch loop they share and its divergence
check are one piece of logic; split, a change to the loop would have to be followed across files.
"""
from __future__ import annotations

import math
import os
import sys
import time
import warnings
from typing import Callable

import numpy as np
import torch
from torch import nn

from .._checks import check_bool, check_choice, check_int, check_seed
from .._device import device as default_device
from ..losses import Loss, TruncatedLq
from .args import as_loss, check_data, check_val, as_labels, flipped_mask, sample_weights, check_training_args
from .history import History
from .members import Single, Stack, check_stackable, predict_proba, stack_pays

ENGINES = ("auto", "stack", "sequential")
SGD_MOMENTUM = 0.9       # the papers' SGD momentum
FUSED_DEVICES = ("cpu", "cuda")   # where torch has a fused (one kernel for all tensors) Adam and SGD
MAX_ABS_LOSS = 1e6       # a mean loss beyond this has diverged: no loss of the course gets near it while learning
PRUNE_ALL_SHARE = 0.95   # a pruning step that removes at least this share of samples gets a warning


class TrainingDiverged(RuntimeError):
    """Training stopped because the loss or the weights stopped being finite, or the loss exploded.

    ``histories``: the records up to and including the epoch that diverged (one per member).
    """

    def __init__(self, message: str, histories: list[History]):
        super().__init__(message)
        self.histories = histories


def make_optimizer(name: str, params, lr: float, weight_decay: float) -> torch.optim.Optimizer:
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


class _NoBar:
    def set_postfix(self, **kw): pass
    def update(self, n=1): pass
    def close(self): pass


def progress_bar(total: int, enabled: bool, desc: str, unit: str = "epoch"):
    """A tqdm bar (notebook-aware), or a silent stand-in when ``enabled`` is False."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False)


def _freeze(v):
    """A hashable, exact stand-in for a loss parameter (arrays by their bytes: T-hats differ)."""
    if isinstance(v, np.ndarray):
        return (v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    return v


def _loss_groups(losses: list[Loss], dev) -> list[tuple[Loss, torch.Tensor]]:
    """[(loss, member indices)] for members whose losses compute the same function (same name and
    parameter values), evaluated with one call on their logits flattened to (m * B, K)."""
    groups: dict = {}
    for m, fn in enumerate(losses):
        groups.setdefault((fn.name, _freeze(fn.params)), (fn, []))[1].append(m)
    return [(fn, torch.tensor(idx, device=dev)) for fn, idx in groups.values()]


def _group_losses(fn: Loss, logits, y, w) -> torch.Tensor:
    """Per-sample losses (m, B) of the members sharing ``fn``, from one call on the flattened batch."""
    m, B, K = logits.shape
    out = fn.per_sample(logits.reshape(-1, K), y.reshape(-1), None if w is None else w.reshape(-1))
    return out.reshape(m, B)


def _check_finite(members, hists, epoch: int, settings: dict, who) -> None:
    """Raise TrainingDiverged if a member's epoch loss or weights stopped being finite or exploded."""
    for m, h in enumerate(hists):
        loss = h.loss[-1]
        if math.isfinite(loss) and abs(loss) <= MAX_ABS_LOSS:
            continue
        what = f"the mean training loss is {loss:.3g}" + ("" if not math.isfinite(loss) else
                                                          f", beyond {MAX_ABS_LOSS:g}")
        raise TrainingDiverged(_diverged_message(who(m), epoch, what, settings), hists)
    bad = [p for p in members.params if not bool(torch.isfinite(p).all())]
    if bad:
        raise TrainingDiverged(_diverged_message(who(0) if members.M == 1 else "a member of the stack", epoch,
                                                 "some weights are NaN or infinite", settings), hists)


def _diverged_message(who: str, epoch: int, what: str, settings: dict) -> str:
    clip = settings["grad_clip"]
    tips = [f"a lower learning rate (lr={settings['lr']:g} now, try {settings['lr'] / 10:g})",
            "gradient clipping (grad_clip=5.0)" if clip is None else f"a smaller grad_clip (now {clip:g})",
            "finite inputs (check the data for NaN)"]
    return f"training diverged at epoch {epoch} ({who}): {what}. Try " + ", ".join(tips) + "."


def _train(members, data, *, losses: list[Loss], Y, F, W, seeds, hists: list[History], epochs: int,
           batch_size: int, lr: float, optimizer: str, weight_decay: float, schedule: str, grad_clip,
           pruning: dict, eval_train: bool, val, bar, on_epoch=None) -> None:
    """The epoch loop shared by every entry point; fills ``hists`` (one per member) in place.

    Y, F: (M, N) labels and flipped masks; W: (M, N) per-sample weights or None (truncated Lq's
    members: pruning weights, refreshed at the epochs of ``pruning[m]``).
    """
    dev = Y.device
    M, N = Y.shape
    x, x_test, y_test = data.x_train.to(dev), data.x_test.to(dev), data.y_test.to(dev)
    y_true = data.y_train.to(dev)
    x_val, Y_val = (None, None) if val is None else (val[0].to(dev), val[1].to(dev).expand(M, -1))
    settings = dict(lr=lr, grad_clip=grad_clip)
    who = (lambda m: f"loss {losses[m].name}, seed {seeds[m]}")  # noqa: E731
    groups = _loss_groups(losses, dev)
    opt = make_optimizer(optimizer, members.params, lr, weight_decay)
    steps_per_epoch = math.ceil(N / batch_size)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
             if schedule == "cosine" else None)
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    rows = torch.arange(M, device=dev)[:, None]
    F_float = F.float()

    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        members.train()
        perm = torch.stack([torch.randperm(N, generator=g) for g in gens]).to(dev)
        total_loss = torch.zeros(M, device=dev)
        grad_all = torch.zeros(M, device=dev)
        grad_flipped = torch.zeros(M, device=dev)
        for start in range(0, N, batch_size):
            idx = perm[:, start:start + batch_size]                      # (M, B)
            B = idx.shape[1]
            logits = members.logits(x, idx)                              # (M, B, K)
            logits.retain_grad()
            yb = Y[rows, idx]
            wb = None if W is None else W[rows, idx]
            if len(groups) == 1:
                per_sample = _group_losses(groups[0][0], logits, yb, wb)
            else:
                per_sample = torch.empty(M, B, device=dev)
                for fn, ms in groups:
                    per_sample[ms] = _group_losses(fn, logits[ms], yb[ms], None if wb is None else wb[ms])
            opt.zero_grad(set_to_none=True)
            per_sample.mean(dim=1).sum().backward()
            if grad_clip is not None:
                members.clip(grad_clip)
            opt.step()
            if sched is not None:
                sched.step()
            with torch.no_grad():
                g = logits.grad.norm(dim=2) * B                          # undo the 1/B of the mean
                grad_all += g.sum(1)
                grad_flipped += (g * F_float[rows, idx]).sum(1)          # no boolean indexing: no host sync
                total_loss += per_sample.detach().sum(1)

        pred_test = members.predict(x_test).argmax(2)
        pred_train = members.predict(x).argmax(2) if eval_train else None
        pred_val = members.predict(x_val).argmax(2) if x_val is not None else None
        elapsed = time.perf_counter() - t0
        mean_loss = [t / N for t in total_loss.tolist()]
        share = (grad_flipped.double() / grad_all.double()).tolist()     # 0/0 = NaN: no gradient at all
        for m, h in enumerate(hists):
            h.record(epoch, loss=mean_loss[m], pred_test=pred_test[m], y_test=y_test,
                     pred_train=None if pred_train is None else pred_train[m], y=Y[m], y_true=y_true, flipped=F[m],
                     grad_share=share[m], pred_val=None if pred_val is None else pred_val[m],
                     y_val=None if Y_val is None else Y_val[m],
                     elapsed=elapsed)
        _check_finite(members, hists, epoch, settings, who)
        for m, epochs_m in pruning.items():
            if epoch in epochs_m:
                _prune(members, m, losses[m], x, Y[m], W[m], hists[m], epoch)
        bar.set_postfix(test_acc=f"{sum(h.test_acc[-1] for h in hists) / M:.3f}")
        bar.update(M)
        if on_epoch is not None and on_epoch(epoch):
            break


def _prune(members, m: int, loss: TruncatedLq, x, y, w, hist: History, epoch: int) -> None:
    """Truncated Lq's pruning step for member m: refresh its weights from its current model."""
    p_y = predict_proba(members.member(m), x).gather(1, y[:, None]).squeeze(1)
    w.copy_(loss.keep(p_y))
    share = 1 - w.mean().item()
    hist.config.setdefault("pruned_share", []).append([epoch, share])
    if share >= PRUNE_ALL_SHARE:
        warnings.warn(f"truncated Lq pruned {share:.0%} of the training samples at epoch {epoch} (p_y <= "
                      f"k={loss.params['k']:g} for them): the model has not learnt the classes yet, so nearly "
                      f"nothing is left to train on. Start pruning later (prune_start), train longer, or lower k.",
                      RuntimeWarning, stacklevel=_caller_level())


def _caller_level() -> int:
    """The ``stacklevel`` of a warning that points at the first frame outside nblib (the user's call)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _config(loss: Loss, *, seed, dev, flipped, **settings) -> dict:
    return dict(loss=loss.name, loss_params=dict(loss.params), **settings, seed=seed, device=str(dev),
                noise_rate=flipped.float().mean().item())


def fit(model: nn.Module, data, *, loss: str | Loss = "ce", loss_params: dict | None = None,
        y_train: torch.Tensor | None = None, flipped: torch.Tensor | None = None,
        epochs: int = 20, batch_size: int = 128, lr: float = 1e-3, optimizer: str = "adam",
        weight_decay: float = 0.0, schedule: str = "constant", grad_clip: float | None = None,
        seed: int = 0, sample_weight: torch.Tensor | None = None,
        prune_start: int | None = None, prune_every: int | None = None,
        callback: Callable[[int, nn.Module, History], object] | None = None,
        eval_train: bool = True, val=None, progress: bool = True,
        device: str | torch.device | None = None) -> History:
    """Train ``model`` on ``data`` (a :class:`nblib.data.Dataset`) with labels ``y_train``.

    Args:
        loss: a name from ``nblib.losses.LOSSES`` (built with ``loss_params``) or a ``Loss``.
        y_train: the (noisy) training labels, shape (N,); default ``data.y_train`` (clean).
        flipped: boolean mask of flipped samples; default ``y_train != data.y_train``.
        optimizer, lr, weight_decay, schedule ("constant" or "cosine"), grad_clip (max gradient
            norm, as the APL code's 5.0), batch_size, epochs: the usual.
        seed: the shuffling seed (an integer in [0, 2**32 - 1], as every seed of nblib).
        sample_weight: optional per-sample weights (N,), finite and >= 0, multiplying each sample's
            loss; the loop minimises mean_i(w_i L_i). For truncated Lq (``loss="tgce"``) they are
            the pruning weights instead, w Lq(p_y) + (1 - w) Lq(k) in [0, 1]: all 1 at the start
            (plain Lq, as in the paper), refreshed from ``prune_start`` every ``prune_every``
            epochs (default: from half the run, every tenth of it; see
            :meth:`nblib.losses.TruncatedLq.pruning_epochs`). Pass your own tensor to read the
            final weights (0 = pruned) after training: it is updated in place.
        callback: called as ``callback(epoch, model, history)`` after each epoch; returning
            True stops training early.
        eval_train: evaluate the whole training set after every epoch, for ``train_acc``,
            ``clean_acc`` and the flipped-sample curves that show memorisation. False skips that
            pass (those curves are NaN; test accuracy, loss and gradient share remain): the same
            work per epoch as a plain loop that only tests, ~15% less for a small conv net.
        val: optional ``(x_val, y_val)``, a validation set (with noisy labels, typically) whose
            accuracy is recorded every epoch as ``val_acc``.
        progress: show a tqdm bar (turn off in tests and sweeps).
        device: where to train; default ``nblib.device()``.

    Returns a :class:`History`. The model is trained in place. Raises :class:`TrainingDiverged`
    when the loss or the weights stop being finite or the loss explodes.
    """
    return _fit_one(model, data, loss=loss, loss_params=loss_params, y_train=y_train, flipped=flipped,
                    epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, weight_decay=weight_decay,
                    schedule=schedule, grad_clip=grad_clip, seed=seed, sample_weight=sample_weight,
                    prune_start=prune_start, prune_every=prune_every, callback=callback, eval_train=eval_train,
                    val=val, device=device, bar=None, progress=progress)


def _fit_one(model, data, *, loss, loss_params, y_train, flipped, epochs, batch_size, lr, optimizer, weight_decay,
             schedule, grad_clip, seed, sample_weight, prune_start, prune_every, callback, eval_train, val, device,
             bar, progress) -> History:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    check_data(data)
    dev = default_device(device)
    epochs, batch_size = check_training_args(epochs, batch_size, lr, weight_decay, optimizer, schedule, grad_clip)
    seed = check_seed(seed)
    check_bool("eval_train", eval_train)
    check_bool("progress", progress)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function callback(epoch, model, history), got {callback!r}")
    refresh = TruncatedLq.pruning_epochs(epochs, prune_start, prune_every)   # checked for every loss
    K, N = data.num_classes, len(data.y_train)
    y_true = data.y_train.to(dev)
    y = y_true if y_train is None else as_labels(y_train, N, K, dev, "y_train")
    flipped = flipped_mask(flipped, y, y_true, "flipped")
    loss_fn = as_loss(loss, loss_params, K).to(dev)
    loss_fn.check_targets(y, "y_train")
    val = check_val(val, data)
    truncated = isinstance(loss_fn, TruncatedLq)
    if sample_weight is not None:
        sample_weight = sample_weights(sample_weight, y, truncated)
    elif truncated:
        sample_weight = torch.ones(N, device=dev)
    pruning = {0: refresh} if truncated else {}

    model = model.to(dev)
    hist = History(config=_config(loss_fn, seed=seed, dev=dev, flipped=flipped, epochs=epochs,
                                  batch_size=batch_size, lr=lr, optimizer=optimizer, weight_decay=weight_decay,
                                  schedule=schedule, grad_clip=grad_clip))
    on_epoch = None if callback is None else (lambda epoch: bool(callback(epoch, model, hist)))
    own_bar = bar is None
    bar = progress_bar(epochs, progress, desc=loss_fn.name) if own_bar else bar
    try:
        _train(Single(model), data, losses=[loss_fn], Y=y[None], F=flipped[None],
               W=None if sample_weight is None else sample_weight[None], seeds=[seed], hists=[hist], epochs=epochs,
               batch_size=batch_size, lr=lr, optimizer=optimizer, weight_decay=weight_decay, schedule=schedule,
               grad_clip=grad_clip, pruning=pruning, eval_train=eval_train, val=val, bar=bar, on_epoch=on_epoch)
    finally:
        if own_bar:
            bar.close()
    if sample_weight is not None:
        hist.config["final_sample_weight_mean"] = sample_weight.mean().item()
    return hist


def fit_batched(models: list[nn.Module], data, *, losses, y_trains, flippeds=None, seeds,
                epochs: int = 20, batch_size: int = 128, lr: float = 1e-3, optimizer: str = "adam",
                weight_decay: float = 0.0, schedule: str = "constant", grad_clip: float | None = None,
                prune_start: int | None = None, prune_every: int | None = None, eval_train: bool = True,
                val=None, callback=None, progress: bool = False,
                device=None) -> tuple[list[History], list[nn.Module]]:
    """Train M models of one architecture together as a vmap stack; member m as ``fit`` would.

    Args:
        models: M freshly built models, identical architecture (e.g. ``make_model(..., seed=s)``).
        data: a :class:`nblib.data.Dataset` shared by all members (same inputs, same test set).
        losses: M losses (names or ``Loss`` modules); members may use different losses.
        y_trains: M label tensors (N,) (the noisy labels of each member).
        flippeds: M boolean masks (N,); default ``y_trains[m] != data.y_train``.
        seeds: M shuffle seeds (the ``seed`` that ``fit`` would get).
        epochs, batch_size, lr, optimizer, weight_decay, schedule, grad_clip, prune_start,
        prune_every, eval_train: as in :func:`fit`, shared by the stack.
        val: as in :func:`fit`, ``(x_val, y_val)``; y_val (n,) for all members or (M, n), one per member.
        callback: called as ``callback(epoch, stack, histories)`` after each epoch, where
            ``stack.predict(x)`` gives every member's evaluation logits (M, n, K) on ``x`` and
            ``stack.member(m)`` a copy of member m (e.g. to record predictions along training);
            returning True stops the whole stack.

    Returns ``(histories, trained_models)``: one :class:`History` per member (``time`` is the
    wall time of the whole stack; ``config["engine"] == "vmap"``) and the members as ordinary
    modules with their trained weights (e.g. for ``predict_proba``).
    """
    models = list(models)
    M = len(models)
    check_stackable(models)
    check_data(data)
    dev = default_device(device)
    epochs, batch_size = check_training_args(epochs, batch_size, lr, weight_decay, optimizer, schedule, grad_clip)
    check_bool("eval_train", eval_train)
    check_bool("progress", progress)
    refresh = TruncatedLq.pruning_epochs(epochs, prune_start, prune_every)
    losses, y_trains, seeds = list(losses), list(y_trains), list(seeds)
    flippeds = [None] * M if flippeds is None else list(flippeds)
    for name, seq in (("losses", losses), ("y_trains", y_trains), ("seeds", seeds), ("flippeds", flippeds)):
        if len(seq) != M:
            raise ValueError(f"{name} must have one entry per model ({M}), got {len(seq)}")
    seeds = [check_seed(s, f"seeds[{m}]") for m, s in enumerate(seeds)]
    K, N = data.num_classes, len(data.y_train)
    y_true = data.y_train.to(dev)
    Y = torch.stack([as_labels(y, N, K, dev, f"y_trains[{m}]") for m, y in enumerate(y_trains)])
    F = torch.stack([flipped_mask(f, Y[m], y_true, f"flippeds[{m}]") for m, f in enumerate(flippeds)])
    losses = [as_loss(fn, None, K, f"losses[{m}]").to(dev) for m, fn in enumerate(losses)]
    for m, fn in enumerate(losses):
        fn.check_targets(Y[m], f"y_trains[{m}]")
    val = check_val(val, data, M)
    pruning = {m: refresh for m, fn in enumerate(losses) if isinstance(fn, TruncatedLq)}
    W = torch.ones(M, N, device=dev) if pruning else None   # pruning weights; 1 = keep (plain Lq)

    for model in models:
        model.to(dev)
    members = Stack(models)
    hists = [History(config=_config(fn, seed=s, dev=dev, flipped=F[m], epochs=epochs, batch_size=batch_size,
                                    lr=lr, optimizer=optimizer, weight_decay=weight_decay, schedule=schedule,
                                    grad_clip=grad_clip, engine="vmap", stack_size=M))
             for m, (fn, s) in enumerate(zip(losses, seeds))]
    bar = progress_bar(epochs * M, progress, desc=f"stack of {M}", unit="model-epoch")
    try:
        _train(members, data, losses=losses, Y=Y, F=F, W=W, seeds=seeds, hists=hists, epochs=epochs,
               batch_size=batch_size, lr=lr, optimizer=optimizer, weight_decay=weight_decay, schedule=schedule,
               grad_clip=grad_clip, pruning=pruning, eval_train=eval_train, val=val, bar=bar,
               on_epoch=None if callback is None else (lambda epoch: bool(callback(epoch, members, hists))))
    finally:
        bar.close()
    for m in pruning:
        hists[m].config["final_sample_weight_mean"] = W[m].mean().item()
    return hists, members.modules()


def fit_many(models: list[nn.Module], data, *, losses, y_trains, flippeds=None, seeds, engine: str = "auto",
             progress: bool = True, device=None, **train_kw) -> tuple[list[History], list[nn.Module]]:
    """Train several models, as a vmap stack or one by one, whichever the engine rule says is faster.

    ``engine="auto"`` stacks when :func:`nblib.train.members.stack_pays` (models vmap can batch:
    MLPs on a CPU, any batchable model on a GPU) and otherwise trains one by one with :func:`fit`,
    so a multi-model run is never slower than the sequential one; "stack" or "sequential" force it.
    Arguments as :func:`fit_batched`; one progress bar over all models' epochs.
    Returns ``(histories, trained_models)`` in the order of ``models``.
    """
    check_choice("engine", engine, ENGINES)
    check_bool("progress", progress)
    models = list(models)
    if not models:
        raise ValueError("models must be a non-empty list of nn.Module")
    dev = default_device(device)
    stack = engine == "stack" or (engine == "auto" and len(models) > 1 and stack_pays(models[0], dev))
    if stack:
        return fit_batched(models, data, losses=losses, y_trains=y_trains, flippeds=flippeds, seeds=seeds,
                           progress=progress, device=dev, **train_kw)
    M = len(models)
    flippeds = [None] * M if flippeds is None else list(flippeds)
    for name, seq in (("losses", losses), ("y_trains", y_trains), ("seeds", seeds), ("flippeds", flippeds)):
        if len(seq) != M:
            raise ValueError(f"{name} must have one entry per model ({M}), got {len(seq)}")
    epochs = check_int("epochs", train_kw.get("epochs", 20), 1)
    bar = progress_bar(epochs * M, progress, desc=f"{M} models", unit="model-epoch")
    kw = dict(loss_params=None, sample_weight=None, prune_start=None, prune_every=None, callback=None,
              eval_train=True, val=None, batch_size=128, lr=1e-3, optimizer="adam", weight_decay=0.0,
              schedule="constant", grad_clip=None, **{**train_kw, "epochs": epochs})
    try:
        hists = [_fit_one(model, data, loss=fn, y_train=y, flipped=f, seed=s, device=dev, bar=bar, progress=progress,
                          **kw)
                 for model, fn, y, f, s in zip(models, losses, y_trains, flippeds, seeds)]
    finally:
        bar.close()
    return hists, models
