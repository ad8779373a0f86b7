"""Train many small models of one architecture at once: ``torch.func`` vmap over a stack of models.

Why: a small model (an MLP on digits, a 1-D CNN on mnist1d) cannot keep even a 2-core CPU busy;
each optimisation step is dominated by per-operation overhead (Python, the dispatcher, small
kernels), not by arithmetic. Stacking the parameters of M models along a new leading dimension
(``torch.func.stack_module_state``) and running one vmapped forward/backward
(``torch.func.vmap`` over ``torch.func.functional_call``) plus *one* optimizer step for the whole
stack pays that overhead once per step instead of M times (measured in ``benchmarks/``).

What each member sees is exactly what :func:`nblib.train.fit` would give it:

- its own initial weights (the models passed in), its own shuffle (a ``torch.Generator`` seeded by
  ``seeds[m]``, the same permutation ``fit`` draws), its own labels, loss and, for truncated Lq,
  its own pruning weights (refreshed by ``fit``'s ``TruncationSchedule``, passed to the loss as
  w Lq(p_y) + (1 - w) Lq(k));
- the objective is  J = sum_m mean_{b in batch} L_m(f_m(x_b), y_{m,b}).  Member m's parameters
  appear only in its own term, so dJ/dtheta_m is the gradient of its own mean loss;
- Adam and SGD (with momentum, L2 weight decay) are element-wise, so one optimizer over the
  stacked tensors performs M independent optimizers' updates; gradient clipping is per member
  (the norm of member m's gradient alone, as ``clip_grad_norm_``);
- a loss is a per-sample function of one row of logits, so members that share a loss
  (same name and parameters) are evaluated with one call on their logits flattened to (M*B, K).

Batched kernels add floating point numbers in another order than the one-model kernels, so the
histories agree with ``fit`` in distribution (same accuracy within seed noise; see
tests/test_sweep.py), not bit for bit. On one machine a stack replayed with the same members in
the same order reproduces itself exactly.

Limits: models with BatchNorm (running statistics are state that vmap cannot update in place) or
active Dropout (random masks) are refused; use ``fit`` for those (``supports_batched`` tells).
"""
from __future__ import annotations

import copy
import json
import math
import time

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ._checks import check_int, check_labels
from ._device import device as default_device
from .losses import TruncatedLq
from .train import (EVAL_BATCH, History, TruncationSchedule, _make_optimizer, _progress, check_training_args,
                    prune_schedule)

__all__ = ["fit_batched", "supports_batched", "stack_predict_logits"]

CLIP_EPS = 1e-6          # the epsilon of torch.nn.utils.clip_grad_norm_: coef = max / (norm + eps)
EVAL_SAMPLES = 8 * EVAL_BATCH   # members x samples per evaluation forward pass (bounds memory)


def supports_batched(model: nn.Module) -> bool:
    """True if ``model`` can be trained by :func:`fit_batched` (no BatchNorm, no active Dropout)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._NormBase):
            return False
        if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0:
            return False
    return True


def _check_models(models) -> None:
    if not models:
        raise ValueError("models must be a non-empty list of nn.Module")
    ref = [(k, tuple(v.shape)) for k, v in models[0].state_dict().items()]
    for i, m in enumerate(models):
        if not supports_batched(m):
            raise ValueError(f"models[{i}] ({type(m).__name__}) has BatchNorm or Dropout, which vmap cannot "
                             "batch faithfully; train it with nblib.fit instead")
        if type(m) is not type(models[0]) or [(k, tuple(v.shape)) for k, v in m.state_dict().items()] != ref:
            raise ValueError(f"models[{i}] differs in architecture from models[0]; a stack needs identical "
                             "architectures (same class, same parameter names and shapes)")


def _freeze(v):
    """A hashable, exact stand-in for a loss parameter (tensors and arrays by their values)."""
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    if isinstance(v, np.ndarray):
        return (v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    return json.dumps(v) if not isinstance(v, (int, float, str, bool, type(None))) else v


def _loss_groups(losses) -> list[tuple[object, torch.Tensor]]:
    """[(loss, member indices)] for members whose losses compute the same function."""
    groups: dict = {}
    for m, fn in enumerate(losses):
        groups.setdefault((fn.name, _freeze(fn.params)), (fn, []))[1].append(m)
    return [(fn, torch.tensor(idx)) for fn, idx in groups.values()]


def _stacked_call(models):
    """(params, buffers, f) with f(params, buffers, x) = one member's forward, ready for vmap."""
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def f(p, b, x):
        return functional_call(base, (p, b), (x,))
    return params, buffers, f


@torch.no_grad()
def stack_predict_logits(params: dict, buffers: dict, f, x: torch.Tensor, members: int) -> torch.Tensor:
    """Logits (M, N, K) of every member of a stack on the same inputs ``x`` (N, ...), in chunks."""
    chunk = max(1, EVAL_SAMPLES // members)
    run = vmap(f, in_dims=(0, 0, None))
    return torch.cat([run(params, buffers, x[i:i + chunk]) for i in range(0, len(x), chunk)], dim=1)


def _acc(pred, y):
    return (pred == y).float().mean().item() if len(y) else float("nan")


def fit_batched(models: list[nn.Module], data, *, losses, y_trains, flippeds=None, seeds,
                epochs: int = 20, batch_size: int = 128, lr: float = 1e-3, optimizer: str = "adam",
                weight_decay: float = 0.0, schedule: str = "constant", grad_clip: float | None = None,
                prune_start: int | None = None, prune_every: int | None = None,
                progress: bool = False, device=None) -> tuple[list[History], list[nn.Module]]:
    """Train M models of one architecture together; member m as ``fit(models[m], ...)`` would.

    Args:
        models: M freshly built models, identical architecture (e.g. ``make_model(..., seed=s)``).
        data: a :class:`nblib.data.Dataset` shared by all members (same inputs, same test set).
        losses: M ``Loss`` modules (``nblib.losses.make_loss``); members may use different losses.
        y_trains: M label tensors (N,) (the noisy labels of each member).
        flippeds: M boolean masks (N,); default ``y_trains[m] != data.y_train``.
        seeds: M shuffle seeds (the ``seed`` that ``fit`` would get).
        epochs, batch_size, lr, optimizer, weight_decay, schedule, grad_clip, prune_start,
        prune_every: as in :func:`nblib.train.fit`, shared by the stack.

    Returns ``(histories, trained_models)``: one :class:`History` per member (``time`` is the
    wall time of the whole stack; ``config["engine"] == "vmap"``) and the members as ordinary
    modules with their trained weights (e.g. for ``predict_proba``).
    """
    _check_models(models)
    M = len(models)
    for name, seq in (("losses", losses), ("y_trains", y_trains), ("seeds", seeds)):
        if len(seq) != M:
            raise ValueError(f"{name} must have one entry per model ({M}), got {len(seq)}")
    dev = default_device(device)
    epochs, batch_size = check_training_args(epochs, batch_size, lr, weight_decay, optimizer, schedule, grad_clip)
    seeds = [check_int(f"seeds[{m}]", s) for m, s in enumerate(seeds)]

    K = data.num_classes
    x, x_test, y_test = data.x_train.to(dev), data.x_test.to(dev), data.y_test.to(dev)
    N = len(x)
    y_true = data.y_train.to(dev)
    Y = torch.stack([torch.as_tensor(y).to(dev) for y in y_trains])
    if Y.shape != (M, N):
        raise ValueError(f"each y_trains[m] must have one label per training sample ({N}), got shape {tuple(Y.shape)}")
    check_labels(Y, K, "y_trains")
    F = (Y != y_true) if flippeds is None else torch.stack([torch.as_tensor(f, dtype=torch.bool).to(dev) for f in flippeds])
    if F.shape != (M, N):
        raise ValueError(f"flippeds must be M boolean masks of shape ({N},), got {tuple(F.shape)}")

    losses = [fn.to(dev) for fn in losses]
    groups = [(fn, idx.to(dev)) for fn, idx in _loss_groups(losses)]
    W = torch.ones(M, N, device=dev)     # per-sample weights; truncated Lq prunes its members' rows
    start, every = prune_schedule(epochs, prune_start, prune_every)
    pruners = {m: TruncationSchedule(W[m], x, Y[m], fn.params["k"], start=start, every=every)
               for m, fn in enumerate(losses) if fn.name == "tgce"}

    models = [m.to(dev) for m in models]
    params, buffers, f = _stacked_call(models)
    plist = list(params.values())
    opt = _make_optimizer(optimizer, plist, lr, weight_decay)
    steps_per_epoch = math.ceil(N / batch_size)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
             if schedule == "cosine" else None)
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    train_step = vmap(f, in_dims=(0, 0, 0))
    hists = [History(config=dict(loss=fn.name, loss_params=dict(fn.params), epochs=epochs, batch_size=batch_size,
                                 lr=lr, optimizer=optimizer, weight_decay=weight_decay, schedule=schedule,
                                 grad_clip=grad_clip, seed=s, device=str(dev), noise_rate=F[m].float().mean().item(),
                                 engine="vmap", stack_size=M))
             for m, (fn, s) in enumerate(zip(losses, seeds))]
    rows = torch.arange(M, device=dev)[:, None]

    bar = _progress(epochs, progress, desc=f"stack of {M}")
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        perm = torch.stack([torch.randperm(N, generator=g) for g in gens]).to(dev)
        total_loss = torch.zeros(M, device=dev)
        grad_all = torch.zeros(M, device=dev)
        grad_flipped = torch.zeros(M, device=dev)
        for start in range(0, N, batch_size):
            idx = perm[:, start:start + batch_size]                  # (M, B)
            B = idx.shape[1]
            logits = train_step(params, buffers, x[idx])             # (M, B, K)
            logits.retain_grad()
            yb = Y[rows, idx]
            wb = W[rows, idx]
            if len(groups) == 1:   # one loss for the whole stack: a single call on (M*B, K)
                per_sample = _member_losses(groups[0][0], logits, yb, wb, K)
            else:
                per_sample = torch.empty(M, B, device=dev)
                for fn, members in groups:
                    per_sample[members] = _member_losses(fn, logits[members], yb[members], wb[members], K)
            opt.zero_grad(set_to_none=True)
            per_sample.mean(dim=1).sum().backward()
            if grad_clip is not None:
                _clip_per_member(plist, grad_clip, M)
            opt.step()
            if sched is not None:
                sched.step()
            with torch.no_grad():
                g = logits.grad.norm(dim=2) * B                      # undo the 1/B of the mean
                grad_all += g.sum(1)
                grad_flipped += (g * F[rows, idx]).sum(1)
                total_loss += per_sample.detach().sum(1)

        pred = stack_predict_logits(params, buffers, f, x, M).argmax(2)
        pred_test = stack_predict_logits(params, buffers, f, x_test, M).argmax(2)
        elapsed = time.perf_counter() - t0
        for m, h in enumerate(hists):
            fl, y_m = F[m], Y[m]
            h.epoch.append(epoch)
            h.loss.append(total_loss[m].item() / N)
            h.train_acc.append(_acc(pred[m], y_m))
            h.test_acc.append(_acc(pred_test[m], y_test))
            h.clean_acc.append(_acc(pred[m][~fl], y_m[~fl]))
            h.flipped_acc_noisy.append(_acc(pred[m][fl], y_m[fl]))
            h.flipped_acc_true.append(_acc(pred[m][fl], y_true[fl]))
            ga = grad_all[m].item()
            h.flipped_grad_share.append(grad_flipped[m].item() / ga if ga > 0 else float("nan"))
            h.time.append(elapsed)
        for m, pruner in pruners.items():
            if epoch >= pruner.start and (epoch - pruner.start) % pruner.every == 0:
                pruner(epoch, _member(models[m], params, buffers, m), hists[m])
        bar.set_postfix(test_acc=f"{float(np.mean([h.test_acc[-1] for h in hists])):.3f}")
        bar.update(1)
    bar.close()
    for m in pruners:
        hists[m].config["final_sample_weight_mean"] = W[m].mean().item()
    return hists, _unstack(models, params, buffers)


def _member_losses(fn, logits, y, w, K: int) -> torch.Tensor:
    """Per-sample losses (m, B) of members sharing ``fn``, from one call on the flattened batch.

    As in ``fit``: truncated Lq gets the pruning weights w as w Lq(p_y) + (1 - w) Lq(k); every other
    loss is multiplied by its sample weights (all 1 here, so exactly unchanged).
    """
    m, B = y.shape
    if isinstance(fn, TruncatedLq):
        out = fn(logits.reshape(-1, K), y.reshape(-1), reduction="none", weights=w.reshape(-1))
    else:
        out = fn(logits.reshape(-1, K), y.reshape(-1), reduction="none") * w.reshape(-1)
    return out.reshape(m, B)


def _clip_per_member(plist, max_norm: float, M: int) -> None:
    """Scale member m's gradient by min(1, max_norm / (||g_m|| + eps)), as clip_grad_norm_ does."""
    norms = torch.sqrt(sum(p.grad.reshape(M, -1).pow(2).sum(1) for p in plist))
    scale = (max_norm / (norms + CLIP_EPS)).clamp(max=1.0)
    for p in plist:
        p.grad.mul_(scale.view(-1, *([1] * (p.dim() - 1))))


def _member(model: nn.Module, params: dict, buffers: dict, m: int) -> nn.Module:
    """A copy of ``model`` holding member m's current weights from the stack."""
    clone = copy.deepcopy(model)
    clone.load_state_dict({k: v[m].detach().clone() for k, v in {**params, **buffers}.items()})
    return clone


def _unstack(models, params, buffers) -> list[nn.Module]:
    """Copies of the member modules holding the stack's current weights."""
    return [_member(model, params, buffers, m) for m, model in enumerate(models)]
