"""What a training run updates: one model, or a stack of M models trained at once with vmap.

The epoch loop (:mod:`nblib.train.loop`) sees both through the same small interface, so a single
run and a multi-model run share every line of it:

    members.M                    number of models (1 for a single model)
    members.params               the tensors the optimizer updates
    members.logits(x, idx)       training-mode logits (M, B, K) of member m on x[idx[m]]
    members.predict(x)           evaluation logits (M, N, K) of every member on the same x
    members.clip(max_norm)       per-member gradient-norm clipping
    members.member(m)            member m as an ordinary nn.Module holding its current weights

Why a stack: a small model (an MLP on digits) cannot keep even a 2-core CPU busy; each step is
dominated by per-operation overhead (Python, the dispatcher, small kernels), not arithmetic.
Stacking the parameters of M models along a new leading dimension
(``torch.func.stack_module_state``) and running one vmapped forward/backward plus *one* optimizer
step pays that overhead once per step instead of M times. Member m's parameters appear only in its
own term of the summed objective, and Adam/SGD are element-wise, so each member gets exactly the
updates of its own run. Convolutions are the exception on a CPU: vmap turns them into one grouped
convolution, no faster than M separate ones (``benchmarks/bench_vmap.py``), so
:func:`stack_pays` keeps conv nets one by one there.

Batched kernels add floating point numbers in another order than the one-model kernels, so a stack
member agrees with its single run in distribution (same accuracy within seed noise), not bit for
bit. On one machine a stack replayed with the same members in the same order reproduces itself.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

EVAL_BATCH = 2048               # samples per forward pass when evaluating (no gradients, so larger is fine)
EVAL_SAMPLES = 8 * EVAL_BATCH   # members x samples per evaluation forward pass of a stack (bounds memory)
CLIP_EPS = 1e-6                 # the epsilon of torch.nn.utils.clip_grad_norm_: coef = max / (norm + eps)


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


def supports_batched(model: nn.Module) -> bool:
    """True if ``model`` can be trained in a vmap stack (no BatchNorm, no active Dropout)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._NormBase):
            return False
        if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0:
            return False
    return True


def has_conv(model: nn.Module) -> bool:
    """True if ``model`` has a convolution layer."""
    return any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules())


def stack_pays(model: nn.Module, device) -> bool:
    """The engine rule: train models like ``model`` as a vmap stack rather than one by one?

    Measured (``benchmarks/bench_vmap.py``, one CPU thread): a stack of MLPs runs 1.2x-1.9x faster
    than the same MLPs one by one; a stack of 1-D CNNs 0.4x-0.7x, because each convolution becomes
    one grouped convolution that is no faster than the separate ones, and a single CNN step already
    runs at about half a core's peak. So: stack whenever vmap can batch the model faithfully
    (:func:`supports_batched`) and, on a CPU, only if it has no convolution. On a GPU every
    batchable model is stacked (the per-kernel launch cost dominates there).
    """
    if not supports_batched(model):
        return False
    return torch.device(device).type != "cpu" or not has_conv(model)


class Single:
    """One ``nn.Module`` behind the members interface (M = 1): exactly the computation of a
    plain training loop, so a single run is bit-identical to one written by hand."""

    M = 1

    def __init__(self, model: nn.Module):
        self.model = model
        self.params = list(model.parameters())

    def train(self) -> None:
        self.model.train()

    def logits(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return self.model(x[idx[0]])[None]

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return predict_logits(self.model, x)[None]

    def clip(self, max_norm: float) -> None:
        nn.utils.clip_grad_norm_(self.params, max_norm)

    def member(self, m: int = 0) -> nn.Module:
        return self.model

    def modules(self) -> list[nn.Module]:
        return [self.model]


class Stack:
    """M models of one architecture as one vmap stack (see the module docstring)."""

    def __init__(self, models: list[nn.Module]):
        check_stackable(models)
        self.models = models
        self.M = len(models)
        self._params, self._buffers = stack_module_state(models)
        base = copy.deepcopy(models[0]).to("meta")

        def f(p, b, x):
            return functional_call(base, (p, b), (x,))

        self._f = f
        self._train_step = vmap(f, in_dims=(0, 0, 0))
        self._eval_step = vmap(f, in_dims=(0, 0, None))
        self.params = list(self._params.values())

    def train(self) -> None:
        pass    # no BatchNorm or Dropout (check_stackable), so the mode changes nothing

    def logits(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return self._train_step(self._params, self._buffers, x[idx])

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        chunk = max(1, EVAL_SAMPLES // self.M)
        return torch.cat([self._eval_step(self._params, self._buffers, x[i:i + chunk])
                          for i in range(0, len(x), chunk)], dim=1)

    def clip(self, max_norm: float) -> None:
        """Scale member m's gradient by min(1, max_norm / (||g_m|| + eps)), as clip_grad_norm_ does."""
        M = self.M
        norms = torch.sqrt(sum(p.grad.reshape(M, -1).pow(2).sum(1) for p in self.params))
        scale = (max_norm / (norms + CLIP_EPS)).clamp(max=1.0)
        for p in self.params:
            p.grad.mul_(scale.view(-1, *([1] * (p.dim() - 1))))

    def member(self, m: int) -> nn.Module:
        """A copy of member m as an ordinary module holding its current weights."""
        clone = copy.deepcopy(self.models[m])
        clone.load_state_dict({k: v[m].detach().clone() for k, v in {**self._params, **self._buffers}.items()})
        return clone

    def modules(self) -> list[nn.Module]:
        return [self.member(m) for m in range(self.M)]


def check_stackable(models) -> None:
    """Raise unless ``models`` is a non-empty list of batchable models of identical architecture."""
    if not models:
        raise ValueError("models must be a non-empty list of nn.Module")
    ref = [(k, tuple(v.shape)) for k, v in models[0].state_dict().items()]
    for i, m in enumerate(models):
        if not isinstance(m, nn.Module):
            raise TypeError(f"models[{i}] must be an nn.Module, got {type(m).__name__}")
        if not supports_batched(m):
            raise ValueError(f"models[{i}] ({type(m).__name__}) has BatchNorm or Dropout, which vmap cannot "
                             "batch faithfully; train it with nblib.fit instead")
        if type(m) is not type(models[0]) or [(k, tuple(v.shape)) for k, v in m.state_dict().items()] != ref:
            raise ValueError(f"models[{i}] differs in architecture from models[0]; a stack needs identical "
                             "architectures (same class, same parameter names and shapes)")
