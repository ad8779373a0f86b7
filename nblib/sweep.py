"""Sweeps: a grid of (loss x noise x seed) training runs, cached on disk, resumable, parallel.

A :class:`Grid` names the dataset, the model, the training settings, the losses (with their
parameters), the noise settings (kind and rate) and the seeds. It expands to runs; a run is a plain
JSON-able dict, its *config*, and every number of its result follows from that config alone:

    seed s  ->  noisy labels  corrupt_labels(y, T(kind, rate), seed=s)
            ->  model         make_model(model, data, seed=s)
            ->  shuffling     fit(..., seed=s)
            ->  T-hat         (forward/backward with transition="estimated") estimate_transition
                              on a cross-entropy model trained with the same seed and settings.

So one seed per run drives everything, and every loss sees the *same* noisy labels and the same
initial weights for a given seed (a paired comparison). The result is stored as JSON under

    <root>/<grid name>/<sha256 of the canonical JSON of the config>.json

with ``"format": "nblib-sweep/1"``, the config, the per-epoch history, summary metrics (final and
best test accuracy, their gap, the realised noise rate, ...), wall time, device, engine and the
versions of torch / nblib / python. Canonical JSON = sorted keys, no spaces, floats as Python's
shortest repr; ``PROTOCOL`` is part of the config, so a change in how runs are derived changes
every key instead of silently mixing old and new results.

Safety: a result file is written to a temporary file in the same folder and renamed over the final
name (``os.replace``, atomic on POSIX and Windows), so a sweep killed at any instant (``kill -9``)
leaves either no file or a complete one: it loses at most the runs in flight, and the rerun computes
only what is missing. A file that is not valid JSON, not of this format, or whose name does not
match its config raises :class:`SweepCacheError` naming the file and what to do.

Engines: ``"sequential"`` trains one model at a time with :func:`nblib.train.fit`; ``"vmap"`` trains
a stack of up to ``stack_size`` models of one architecture at once (:mod:`nblib.batched`,
torch.func); ``"auto"`` picks vmap where the model allows it. Results agree in distribution; the
engine is recorded in each result (with the stack it was trained in), and :func:`recompute`
replays a result exactly the way it was made.

Parallel: ``executor=`` takes any ``concurrent.futures.Executor``: a ``ProcessPoolExecutor`` on one
machine, or a Dask cluster through ``distributed.Client(address).get_executor()``. Workers only
compute; the calling process writes every result as it arrives, so workers need nblib and the data,
not the cache folder. Command line: ``python -m nblib.sweep GRID`` (see ``--help``).
"""
from __future__ import annotations

import concurrent.futures as cf
import copy
import dataclasses
import datetime
import functools
import hashlib
import json
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from ._checks import check_choice, check_in_range, check_int
from ._paths import find_data

__all__ = [
    "FORMAT", "PROTOCOL", "ENGINES", "DEFAULT_ROOT", "default_root", "SweepCacheError", "LossSpec", "NoiseSpec", "Grid",
    "GRIDS", "CLASSROOM_LOSSES", "CLASSROOM_NOISE", "run_key", "canonical_json", "run_one", "run_stack",
    "ResultCache", "SweepResult", "run_grid", "load_grid", "recompute", "same_result", "results_frame",
    "summary_table", "pivot", "versions", "torch_threads", "read_result", "noise_label",
]

FORMAT = "nblib-sweep/1"     # the "format" field of every stored result
PROTOCOL = 1                 # how run_one derives a run from its config; part of every key
ENGINES = ("auto", "sequential", "vmap")
TRANSITIONS = ("true", "estimated")
CORRECTION_LOSSES = ("forward", "backward")
DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "data" / "results"
RESULTS_ENV_VAR = "NBLIB_RESULTS"   # overrides where stored results are looked up and written


def default_root() -> Path:
    """Where results live when no ``root`` is given: $NBLIB_RESULTS, else the checkout's
    data/results (found by ``nblib._paths.find_data``, also for a non-editable install)."""
    env = os.environ.get(RESULTS_ENV_VAR)
    return Path(env) if env else find_data("results")
DEFAULT_STACK = 32           # models per vmap stack (memory ~ stack x batch x activations)
STALE_TMP_SECONDS = 3600     # temp files of killed writers older than this are removed
NOISE_SHORT = {"symmetric": "sym", "asymmetric": "asym", "pair": "pair", "human": "human"}
NOISE_KINDS = ("symmetric", "asymmetric", "pair", "human")
# classes of the sets whose size is fixed (toy2d depends on its keywords, so it is loaded to ask)
_NUM_CLASSES = {"digits": 10, "mnist1d": 10, "fashion_mnist": 10, "cifar10": 10, "cifar10n": 10}
_DEFAULT_MAP = {"digits": "digits", "mnist1d": "mnist", "fashion_mnist": "mnist", "cifar10": "cifar10",
                "cifar10n": "cifar10"}
# the metrics stored per run and summarised in tables
METRICS = ("final_test_acc", "best_test_acc", "memorisation_gap", "best_epoch", "realised_noise_rate",
           "final_train_acc", "final_flipped_acc_noisy", "wall_time")


class SweepCacheError(RuntimeError):
    """A cache file that cannot be used (corrupt, foreign, or renamed); the message says which and why."""


# ----------------------------------------------------------------------------- the grid spec

@dataclass(frozen=True)
class LossSpec:
    """One loss of a grid: ``name`` from ``nblib.losses.LOSSES``, its ``params``, a display ``label``.

    For forward/backward correction ``transition`` says where T comes from: ``"true"`` (the T that
    made the noise) or ``"estimated"`` (Patrini's anchor points on a CE model). Parse shorthand with
    :meth:`parse`: ``"gce"``, ``"forward(T)"``, ``"forward(T-hat)"``, ``("sce", {"alpha": 0.1})``.
    """

    name: str
    params: dict = field(default_factory=dict)
    label: str | None = None
    transition: str | None = None

    @classmethod
    def parse(cls, spec) -> "LossSpec":
        """A LossSpec from a LossSpec, a name (``"forward(T-hat)"`` style allowed), a (name, params)
        pair or a dict with the fields."""
        if isinstance(spec, LossSpec):
            return spec
        if isinstance(spec, dict):
            return cls(**spec)
        if isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[1], dict):
            return cls.parse(spec[0]).with_params(spec[1])
        if isinstance(spec, str):
            base, _, arg = spec.partition("(")
            if arg:
                kinds = {"T)": "true", "T-hat)": "estimated"}
                if arg not in kinds:
                    raise ValueError(f"loss {spec!r}: write forward(T) or forward(T-hat)")
                return cls(base, label=spec, transition=kinds[arg])
            return cls(spec)
        raise TypeError(f"a loss spec must be a name, a (name, params) pair, a dict or a LossSpec, got {spec!r}")

    def with_params(self, params: dict) -> "LossSpec":
        """A copy with ``params`` merged in."""
        return dataclasses.replace(self, params={**self.params, **params})

    def resolved(self, num_classes: int) -> dict:
        """The config dict: every hyper-parameter explicit (the defaults of nblib.losses filled in)."""
        from .losses import LOSSES, make_loss

        check_choice("loss", self.name, LOSSES)
        transition = self.transition
        if self.name in CORRECTION_LOSSES:
            transition = check_choice("transition", transition or "true", TRANSITIONS)
            if "T" in self.params:
                raise ValueError(f"loss {self.name!r}: give transition='true' or 'estimated', not T "
                                 "(T is derived from the noise setting so the result follows from the config)")
            params = make_loss(self.name, num_classes, T=np.eye(num_classes), **self.params).params
            params = {k: v for k, v in params.items() if k != "T"}
        elif transition is not None:
            raise ValueError(f"transition applies to {CORRECTION_LOSSES} only, not to {self.name!r}")
        else:
            params = make_loss(self.name, num_classes, **self.params).params
        label = self.label or (f"{self.name}(T)" if transition == "true" else
                               f"{self.name}(T-hat)" if transition == "estimated" else self.name)
        return {"name": self.name, "params": _plain(params), "label": label, "transition": transition}


@dataclass(frozen=True)
class NoiseSpec:
    """One noise setting: ``kind`` (symmetric, asymmetric, pair; or human = a CIFAR-10N label set),
    ``rate``, the asymmetric ``mapping`` (default: the dataset's), ``include_true`` (symmetric
    variant), ``exact`` (flip exactly round(rate n_i) per class, not a binomial count) and
    ``label_set`` (human: one of aggre, random1, random2, random3, worse)."""

    kind: str
    rate: float = 0.0
    mapping: str | None = None
    include_true: bool = False
    exact: bool = True
    label_set: str | None = None

    @classmethod
    def parse(cls, spec) -> "NoiseSpec":
        """A NoiseSpec from a NoiseSpec, a dict, a (kind, rate) pair, or ``"sym 0.4"`` / ``"human worse"``."""
        if isinstance(spec, NoiseSpec):
            return spec
        if isinstance(spec, dict):
            return cls(**spec)
        if isinstance(spec, (tuple, list)) and len(spec) == 2:
            return cls(spec[0], float(spec[1]))
        if isinstance(spec, str):
            kind, _, arg = spec.partition(" ")
            kind = {v: k for k, v in NOISE_SHORT.items()}.get(kind, kind)
            return cls(kind, label_set=arg) if kind == "human" else cls(kind, float(arg or 0))
        raise TypeError(f"a noise spec must be 'sym 0.4', a (kind, rate) pair, a dict or a NoiseSpec, got {spec!r}")

    def resolved(self, dataset: str) -> dict:
        """The config dict (mapping made explicit)."""
        check_choice("noise kind", self.kind, NOISE_KINDS)
        if self.kind == "human":
            if dataset != "cifar10n":
                raise ValueError(f"noise kind 'human' needs dataset 'cifar10n', got {dataset!r}")
            if not self.label_set:
                raise ValueError("noise kind 'human' needs label_set (aggre, random1, random2, random3, worse)")
            return {"kind": "human", "label_set": self.label_set}
        check_in_range("rate", self.rate, 0, 1)
        out = {"kind": self.kind, "rate": float(self.rate), "exact": bool(self.exact)}
        if self.kind == "symmetric":
            out["include_true"] = bool(self.include_true)
        if self.kind == "asymmetric":
            out["mapping"] = self.mapping or _DEFAULT_MAP.get(dataset, "mnist")
        return out


def noise_label(noise: dict) -> str:
    """Short column label of a noise config: 'sym 0.4', 'asym 0.2', 'human worse'."""
    if noise["kind"] == "human":
        return f"human {noise['label_set']}"
    return f"{NOISE_SHORT[noise['kind']]} {noise['rate']:g}"


CLASSROOM_LOSSES = ("ce", "mae", "gce", "tgce", "sce", "nce", "nce+rce", "nce+mae", "nfl+rce",
                    "forward(T)", "backward(T)", "forward(T-hat)")
CLASSROOM_NOISE = (("symmetric", 0.0), ("symmetric", 0.2), ("symmetric", 0.4), ("symmetric", 0.6),
                   ("symmetric", 0.8), ("asymmetric", 0.1), ("asymmetric", 0.2), ("asymmetric", 0.3),
                   ("asymmetric", 0.4))


@dataclass
class Grid:
    """A sweep: every loss x noise setting x seed, with shared data, model and training settings.

    ``name`` is the folder under the cache root. ``losses``/``noise`` accept the shorthands of
    :meth:`LossSpec.parse` / :meth:`NoiseSpec.parse`. ``model`` is a name for
    ``nblib.models.make_model`` ("auto" picks the dataset's model) with ``model_kw``;
    ``dataset_kw`` goes to ``nblib.data.load`` (with ``data_seed`` as its ``seed``). The training
    fields are those of :func:`nblib.train.fit`; ``estimator`` those of
    ``nblib.estimate.estimate_transition`` (used by ``forward(T-hat)``).
    """

    name: str
    dataset: str = "mnist1d"
    losses: Sequence = CLASSROOM_LOSSES
    noise: Sequence = CLASSROOM_NOISE
    seeds: Sequence[int] = (0, 1, 2)
    model: str = "auto"
    model_kw: dict = field(default_factory=dict)
    dataset_kw: dict = field(default_factory=dict)
    data_seed: int = 0
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "constant"
    grad_clip: float | None = None
    estimator: dict = field(default_factory=lambda: {"percentile": 97.0, "filter_outliers": True})

    def __post_init__(self):
        if not self.name or any(c in self.name for c in "/\\") or self.name.startswith("."):
            raise ValueError(f"name must be a plain folder name, got {self.name!r}")
        self.losses = tuple(LossSpec.parse(s) for s in self.losses)
        self.noise = tuple(NoiseSpec.parse(s) for s in self.noise)
        self.seeds = tuple(check_int("seed", s, 0) for s in self.seeds)
        if not (self.losses and self.noise and self.seeds):
            raise ValueError("a grid needs at least one loss, one noise setting and one seed")

    def base_config(self) -> dict:
        """The part of every run's config shared by the whole grid."""
        return _plain({
            "protocol": PROTOCOL,
            "dataset": {"name": self.dataset, "seed": self.data_seed, "kw": dict(self.dataset_kw)},
            "model": {"name": self.model, "kw": dict(self.model_kw)},
            "train": {"epochs": self.epochs, "batch_size": self.batch_size, "lr": float(self.lr),
                      "optimizer": self.optimizer, "weight_decay": float(self.weight_decay),
                      "schedule": self.schedule,
                      "grad_clip": None if self.grad_clip is None else float(self.grad_clip)},
        })

    def runs(self) -> list[dict]:
        """Every run's full config, ordered loss-major (loss, then noise, then seed)."""
        base = self.base_config()
        K = _num_classes(base["dataset"])
        losses = [s.resolved(K) for s in self.losses]
        noises = [s.resolved(self.dataset) for s in self.noise]
        out = []
        for loss in losses:
            for noise in noises:
                for seed in self.seeds:
                    cfg = {**copy.deepcopy(base), "loss": loss, "noise": noise, "seed": seed}
                    if loss["transition"] == "estimated":
                        cfg["estimator"] = _plain(dict(self.estimator))
                    out.append(cfg)
        return out

    def __len__(self) -> int:
        return len(self.losses) * len(self.noise) * len(self.seeds)


MNIST1D_CLASSROOM = {"num_samples": 5000, "n_train": 2000}   # lessons 1 and 3 use the same subset

# The course's stored grids (data/results/<name>/) and the GPU-sized ones of lesson 6.
GRIDS = {
    # Sized for the course's 2-core CPU: 12 losses x 9 noise settings x 3 seeds each. mnist1d uses
    # lesson 1's classroom setting (2000 training signals, a 64-channel 1-D CNN, Adam 3e-3, 30
    # epochs): long enough for CE to memorise flipped labels, as in the papers' 120-epoch runs
    # (324 runs + 27 CE estimators, ~20 min on 2 worker processes). digits' MLP is ~10x cheaper
    # and stacks well with vmap. More seeds or settings: dataclasses.replace(grid, ...).
    "mnist1d-classroom": Grid("mnist1d-classroom", dataset="mnist1d", dataset_kw=MNIST1D_CLASSROOM,
                              model_kw={"channels": 64}, lr=3e-3, epochs=30),
    "digits-classroom": Grid("digits-classroom", dataset="digits", epochs=20),
    # The papers' CIFAR settings, for SCALE = "paper" on a GPU (hours: ~100 runs x 120 epochs).
    # CIFAR-10: the APL code's setting: its 8-layer CNN, SGD (momentum 0.9), lr 0.01, weight decay
    # 1e-4, cosine schedule, gradient clipping 5.0, 120 epochs, batch 128. CIFAR-10N: the same
    # recipe on ResNet-34 (the CIFAR-N benchmark's model) with the real human labels. nblib.fit
    # has no data augmentation, so expect a few points below the published numbers.
    "cifar10-paper": Grid("cifar10-paper", dataset="cifar10", model="cnn8", epochs=120, lr=0.01,
                          optimizer="sgd", weight_decay=1e-4, schedule="cosine", grad_clip=5.0,
                          noise=CLASSROOM_NOISE[1:], seeds=(0,)),
    "cifar10n-paper": Grid("cifar10n-paper", dataset="cifar10n", model="resnet34", epochs=120, lr=0.01,
                           optimizer="sgd", weight_decay=1e-4, schedule="cosine", grad_clip=5.0,
                           losses=("ce", "gce", "sce", "nce+rce", "forward(T)", "backward(T)", "forward(T-hat)"),
                           noise=tuple(f"human {s}" for s in ("aggre", "random1", "worse")), seeds=(0,)),
}


# ----------------------------------------------------------------------------- keys and JSON

def _plain(obj):
    """A JSON-able copy: arrays/tensors -> nested lists, numpy scalars -> Python, tuples -> lists."""
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def canonical_json(config: dict) -> str:
    """The one text of a config that its key hashes: sorted keys, no spaces, no NaN."""
    return json.dumps(_plain(config), sort_keys=True, separators=(",", ":"), allow_nan=False)


def run_key(config: dict) -> str:
    """sha256 hex digest of :func:`canonical_json` (the cache file name without ``.json``)."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()


def versions() -> dict:
    """Versions that can change a result: torch, numpy, nblib, python, the platform and thread count."""
    from . import __version__

    return {"torch": torch.__version__, "numpy": np.__version__, "nblib": __version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "torch_threads": torch.get_num_threads()}


# ----------------------------------------------------------------------------- one run

def _num_classes(dataset: dict) -> int:
    if dataset["name"] in _NUM_CLASSES:
        return _NUM_CLASSES[dataset["name"]]
    return _load_data(canonical_json(dataset), "cpu").num_classes


@functools.lru_cache(maxsize=4)
def _load_data(dataset_json: str, device: str):
    """Datasets are loaded once per process and device (runs share them read-only)."""
    from .data import load

    d = json.loads(dataset_json)
    return load(d["name"], device=device, seed=d["seed"], **d["kw"])


def _check_config(config) -> dict:
    need = ("protocol", "dataset", "model", "train", "loss", "noise", "seed")
    if not isinstance(config, dict) or any(k not in config for k in need):
        missing = [k for k in need if not isinstance(config, dict) or k not in config]
        raise ValueError(f"config must be a run config from Grid.runs(); missing {missing}")
    if config["protocol"] != PROTOCOL:
        raise ValueError(f"config protocol {config['protocol']!r} is not this nblib's ({PROTOCOL}); "
                         "expand the grid again with this version")
    return config


def _noisy_labels(config: dict, data):
    """(noisy labels, flipped mask, T as float64 array) of a run, from its noise config and seed."""
    from .noise import corrupt_labels, empirical_transition, transition_matrix

    nz, K = config["noise"], data.num_classes
    if nz["kind"] == "human":
        noisy = data.noisy_labels[nz["label_set"]]
        T = empirical_transition(data.y_train, noisy, K)
        return noisy, noisy != data.y_train, T
    kw = {"include_true": nz["include_true"]} if nz["kind"] == "symmetric" else {}
    if nz["kind"] == "asymmetric":
        kw["mapping"] = nz["mapping"]
    T = transition_matrix(nz["kind"], K, nz["rate"], **kw)
    noisy, flipped = corrupt_labels(data.y_train, T, seed=config["seed"], exact=nz["exact"])
    return noisy, flipped, T


def _make_model(config: dict, data):
    from .models import make_model

    return make_model(config["model"]["name"], data, seed=config["seed"], **config["model"]["kw"])


def _fit_kw(config: dict) -> dict:
    return dict(config["train"])


def _estimate(config: dict, data, probs, T) -> dict:
    from .estimate import estimate_transition, estimation_error

    T_hat = estimate_transition(probs, **config["estimator"])
    return {"T_hat": T_hat, "estimation_error": estimation_error(T_hat, T)}


def _metrics(hist, flipped, extra: dict) -> dict:
    m = {"final_test_acc": hist.final_test_acc, "best_test_acc": hist.best_test_acc,
         "memorisation_gap": hist.best_test_acc - hist.final_test_acc, "best_epoch": hist.best_epoch,
         "realised_noise_rate": flipped.float().mean().item(), "final_train_acc": hist.train_acc[-1],
         "final_flipped_acc_noisy": hist.flipped_acc_noisy[-1]}
    if "estimation_error" in extra:
        m["estimation_error"] = extra["estimation_error"]
    return m


def _result(config, hist, flipped, T, extra, *, engine, dev, wall, stack=None) -> dict:
    hist_d = _plain(hist.to_dict())
    hist_d["config"].pop("loss_params", None)      # already in config["loss"]; T is in "transition"
    res = {"format": FORMAT, "key": run_key(config), "config": config,
           "label": {"loss": config["loss"]["label"], "noise": noise_label(config["noise"])},
           "metrics": _metrics(hist, flipped, extra), "history": hist_d, "transition": _plain(T),
           "engine": engine, "device": str(dev), "wall_time": wall, "versions": versions(),
           "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if "T_hat" in extra:
        res["transition_estimated"] = _plain(extra["T_hat"])
    if stack is not None:
        res["stack"] = stack
    return res


def run_one(config: dict, *, device=None) -> dict:
    """Compute one run with the sequential engine (:func:`nblib.train.fit`); return its result dict.

    Everything follows from ``config`` (see the module docstring); ``device`` only says where.
    """
    from ._device import device as pick_device
    from .train import fit, predict_proba

    t0 = time.perf_counter()
    config = _check_config(config)
    dev = pick_device(device)
    data = _load_data(canonical_json(config["dataset"]), str(dev))
    noisy, flipped, T = _noisy_labels(config, data)
    loss, seed, extra = config["loss"], config["seed"], {}
    params = dict(loss["params"])
    if loss["transition"] == "estimated":
        ce_model = _make_model(config, data)
        fit(ce_model, data, loss="ce", y_train=noisy, flipped=flipped, seed=seed, progress=False,
            device=dev, **_fit_kw(config))
        extra = _estimate(config, data, predict_proba(ce_model, data.x_train), T)
        params["T"] = extra["T_hat"]
    elif loss["transition"] == "true":
        params["T"] = T
    model = _make_model(config, data)
    hist = fit(model, data, loss=loss["name"], loss_params=params, y_train=noisy, flipped=flipped, seed=seed,
               progress=False, device=dev, **_fit_kw(config))
    return _result(config, hist, flipped, T, extra, engine="sequential", dev=dev,
                   wall=time.perf_counter() - t0)


def _stack_group(config: dict) -> str:
    """Runs with equal group keys can share a vmap stack (same data, model and training settings)."""
    return canonical_json({k: config[k] for k in ("protocol", "dataset", "model", "train")})


def run_stack(configs: Sequence[dict], *, device=None) -> list[dict]:
    """Compute several runs as one vmap stack (:func:`nblib.batched.fit_batched`), in this order.

    All configs must share dataset, model and training settings. Runs with ``forward(T-hat)`` first
    train their cross-entropy estimators as a stack of their own. Each result records the stack
    (its size, the keys in order, its wall time) so :func:`recompute` can replay it exactly.
    """
    from ._device import device as pick_device
    from .batched import fit_batched
    from .losses import make_loss
    from .train import predict_proba

    t0 = time.perf_counter()
    configs = [_check_config(c) for c in configs]
    if len({_stack_group(c) for c in configs}) != 1:
        raise ValueError("run_stack needs configs with the same dataset, model and training settings")
    dev = pick_device(device)
    data = _load_data(canonical_json(configs[0]["dataset"]), str(dev))
    K, train = data.num_classes, _fit_kw(configs[0])
    labels = [_noisy_labels(c, data) for c in configs]
    extras = [{} for _ in configs]
    est = [i for i, c in enumerate(configs) if c["loss"]["transition"] == "estimated"]
    if est:
        _, ce_models = fit_batched([_make_model(configs[i], data) for i in est], data,
                                   losses=[make_loss("ce", K) for _ in est], y_trains=[labels[i][0] for i in est],
                                   flippeds=[labels[i][1] for i in est], seeds=[configs[i]["seed"] for i in est],
                                   device=dev, **train)
        for i, model in zip(est, ce_models):
            extras[i] = _estimate(configs[i], data, predict_proba(model, data.x_train), labels[i][2])
    losses = []
    for c, (_, _, T), extra in zip(configs, labels, extras):
        params = dict(c["loss"]["params"])
        if c["loss"]["transition"] is not None:
            params["T"] = extra["T_hat"] if c["loss"]["transition"] == "estimated" else T
        losses.append(make_loss(c["loss"]["name"], K, **params))
    hists, _ = fit_batched([_make_model(c, data) for c in configs], data, losses=losses,
                           y_trains=[lab[0] for lab in labels], flippeds=[lab[1] for lab in labels],
                           seeds=[c["seed"] for c in configs], device=dev, **train)
    wall = time.perf_counter() - t0
    stack = {"size": len(configs), "keys": [run_key(c) for c in configs], "wall_time": wall}
    return [_result(c, h, lab[1], lab[2], extra, engine="vmap", dev=dev, wall=wall / len(configs), stack=stack)
            for c, h, lab, extra in zip(configs, hists, labels, extras)]


def _vmap_pays(config: dict, device=None) -> bool:
    """Engine "auto": stack a group with vmap if the model allows it and it pays on this device.

    On the CPU vmap turns each convolution into one grouped convolution, which is no faster than
    the M separate ones (benchmarks/bench_vmap.py), so conv nets stay sequential there; linear
    layers become batched matrix products, which pay well. On a GPU every model that vmap can
    batch is stacked.
    """
    from ._device import device as pick_device
    from .batched import supports_batched

    data = _load_data(canonical_json(config["dataset"]), "cpu")
    model = _make_model(config, data)
    has_conv = any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules())
    return supports_batched(model) and (pick_device(device).type != "cpu" or not has_conv)


class torch_threads:
    """Context manager: run torch on ``n`` intra-op threads (None: leave as is), then restore.

    On a small shared CPU one thread per task is often much faster than two threads that wait for
    each other; the thread count is recorded in every result's versions.
    """

    def __init__(self, n: int | None):
        self.n = None if n is None else check_int("threads", n, 1)

    def __enter__(self):
        self.old = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self.old)


def _execute(task: list[dict], engine: str, device, threads: int | None) -> list[dict]:
    """Worker entry point (module level, so executors can pickle it): compute one task."""
    with torch_threads(threads):
        if engine == "vmap":
            return run_stack(task, device=device)
        return [run_one(c, device=device) for c in task]


# ----------------------------------------------------------------------------- the cache

class ResultCache:
    """A folder of results, one ``<key>.json`` per run, written atomically."""

    def __init__(self, directory):
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        """Where the result of ``key`` lives."""
        return self.directory / f"{key}.json"

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def load(self, key: str) -> dict:
        """The validated result of ``key``; :class:`SweepCacheError` if the file is not usable."""
        return read_result(self.path(key), expect_key=key)

    def save(self, result: dict) -> Path:
        """Write ``result`` atomically (temp file in the same folder + fsync + os.replace)."""
        _validate(result, "result to save")
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.path(result["key"])
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{result['key'][:16]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(result, f, indent=1, sort_keys=True)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return final

    def remove_stale_temp(self, older_than: float = STALE_TMP_SECONDS) -> int:
        """Delete temp files that killed writers left behind (older than ``older_than`` s)."""
        n, now = 0, time.time()
        for p in self.directory.glob(".*.tmp"):
            try:
                if now - p.stat().st_mtime > older_than:
                    p.unlink()
                    n += 1
            except FileNotFoundError:
                pass
        return n


def _validate(result, where: str) -> dict:
    if not isinstance(result, dict):
        raise SweepCacheError(f"{where}: expected a JSON object, got {type(result).__name__}")
    if result.get("format") != FORMAT:
        raise SweepCacheError(f"{where}: format is {result.get('format')!r}, expected {FORMAT!r}; this file "
                              "was not written by nblib.sweep (or by an incompatible version): move it out of "
                              "the results folder or delete it to recompute the run")
    for k in ("key", "config", "metrics", "history"):
        if k not in result:
            raise SweepCacheError(f"{where}: field {k!r} is missing; the file is damaged, delete it to recompute")
    if run_key(result["config"]) != result["key"]:
        raise SweepCacheError(f"{where}: its config hashes to {run_key(result['config'])[:12]}..., not to its key "
                              f"{str(result['key'])[:12]}...; the file was edited: delete it to recompute")
    return result


def read_result(path, expect_key: str | None = None) -> dict:
    """Read and validate one stored result; :class:`SweepCacheError` with the file name if unusable."""
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError as e:
        raise SweepCacheError(f"{path}: not a text file ({e}); not an nblib-sweep result, delete it") from None
    try:
        result = json.loads(text)
    except json.JSONDecodeError as e:
        raise SweepCacheError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}); the file is damaged or "
                              "foreign: delete it and rerun the sweep to recompute this run") from None
    _validate(result, str(path))
    if expect_key is not None and result["key"] != expect_key:
        raise SweepCacheError(f"{path}: holds the result of key {result['key'][:12]}..., not of its file name; "
                              "delete it to recompute")
    return result


# ----------------------------------------------------------------------------- results as tables

def results_frame(results: Iterable[dict]):
    """One row per run: loss, noise, kind, rate, seed, the metrics, engine, device, key."""
    import pandas as pd

    rows = []
    for r in results:
        c = r["config"]
        rows.append({"loss": r["label"]["loss"], "noise": r["label"]["noise"], "kind": c["noise"]["kind"],
                     "rate": c["noise"].get("rate", float("nan")), "seed": c["seed"],
                     **{m: r["metrics"].get(m, r.get(m)) for m in METRICS if m != "wall_time"},
                     "estimation_error": r["metrics"].get("estimation_error", float("nan")),
                     "wall_time": r["wall_time"], "engine": r["engine"], "device": r["device"], "key": r["key"]})
    return pd.DataFrame(rows)


def _ordered(values) -> list:
    return list(dict.fromkeys(values))


def pivot(frame, metric: str = "final_test_acc", stat: str = "mean"):
    """loss x noise table of ``stat`` ("mean", "std", "count", ...) of ``metric`` over seeds,
    rows and columns in the grid's order."""
    table = frame.pivot_table(index="loss", columns="noise", values=metric, aggfunc=stat)
    return table.reindex(index=_ordered(frame["loss"]), columns=_ordered(frame["noise"]))


def summary_table(frame, metric: str = "final_test_acc", scale: float = 100.0, digits: int = 1):
    """loss x noise table of "mean ± std" strings (std over seeds, ddof=1; accuracies in %)."""
    mean, std = pivot(frame, metric, "mean") * scale, pivot(frame, metric, "std") * scale
    out = mean.astype(object)
    for r in mean.index:
        for c in mean.columns:
            m, s = mean.loc[r, c], std.loc[r, c]
            out.loc[r, c] = "" if math.isnan(m) else f"{m:.{digits}f} ± {0.0 if math.isnan(s) else s:.{digits}f}"
    return out


@dataclass
class SweepResult:
    """What :func:`run_grid` / :func:`load_grid` return: the grid, its results in grid order, how
    many were computed now and how many came from the cache, and the wall time."""

    grid: Grid
    results: list
    computed: int = 0
    cached: int = 0
    wall_time: float = 0.0

    def frame(self):
        """:func:`results_frame` of the results."""
        return results_frame(self.results)

    def table(self, metric: str = "final_test_acc", **kw):
        """:func:`summary_table` (loss x noise, "mean ± std")."""
        return summary_table(self.frame(), metric, **kw)

    def pivot(self, metric: str = "final_test_acc", stat: str = "mean"):
        """:func:`pivot` (loss x noise numbers)."""
        return pivot(self.frame(), metric, stat)

    def __repr__(self):
        return (f"SweepResult({self.grid.name!r}, runs={len(self.results)}, computed={self.computed}, "
                f"cached={self.cached}, wall_time={self.wall_time:.1f}s)")


# ----------------------------------------------------------------------------- running a grid

def _plan(todo: list[dict], engine: str, stack_size: int, stack_by: str = "group", device=None) -> list[list[dict]]:
    """Split the missing runs into tasks: single runs, or vmap stacks of compatible runs
    (``stack_by="cell"``: one stack per loss x noise cell, i.e. its seeds)."""
    if engine == "sequential":
        return [[c] for c in todo]
    groups: dict[str, list] = {}
    for c in todo:
        cell = canonical_json([c["loss"], c["noise"]]) if stack_by == "cell" else ""
        groups.setdefault(_stack_group(c) + cell, []).append(c)
    tasks = []
    for members in groups.values():
        if engine == "auto" and (len(members) < 2 or not _vmap_pays(members[0], device)):
            tasks += [[c] for c in members]
        else:
            tasks += [members[i:i + stack_size] for i in range(0, len(members), stack_size)]
    return tasks


def run_grid(grid: Grid, *, root=None, executor: cf.Executor | None = None, engine: str = "auto",
             stack_size: int = DEFAULT_STACK, stack_by: str = "group", device=None,
             threads: int | None = None, progress: bool = True, on_corrupt: str = "raise",
             on_result=None) -> SweepResult:
    """Compute every run of ``grid`` that is not in the cache yet; return all results.

    root: cache root (default ``data/results`` of the repository); results go to ``root/grid.name``.
    executor: any ``concurrent.futures.Executor`` (None: compute here, one task after the other).
        E.g. ``ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))`` or a Dask
        cluster's ``distributed.Client("tcp://scheduler:8786").get_executor()``.
    engine: "auto" (vmap stacks where the model allows it and it pays: MLPs on the CPU, any
        BatchNorm-free model on a GPU), "sequential", or "vmap".
    stack_size: models per vmap stack; stack_by: "group" (fill stacks with any compatible runs) or
        "cell" (one stack per loss x noise cell: its seeds; cheap to replay one cell exactly).
    device: where to train (default ``nblib.device()``); threads: torch threads per task (e.g. 1
        on a small shared CPU or with a process pool; None leaves torch's setting).
    progress: one tqdm bar over the runs of the grid (cached runs count as done), with ETA.
    on_corrupt: "raise" (default) a :class:`SweepCacheError` for an unusable cache file, or
        "recompute" it.
    on_result: optional ``on_result(result)``, called after each new result is safely on disk.

    Results are written as they arrive, so interrupting (even ``kill -9``) loses only runs in flight.
    """
    check_choice("engine", engine, ENGINES)
    check_choice("on_corrupt", on_corrupt, ("raise", "recompute"))
    check_choice("stack_by", stack_by, ("group", "cell"))
    stack_size = check_int("stack_size", stack_size, 1)
    if executor is not None and not isinstance(executor, cf.Executor) and not hasattr(executor, "submit"):
        raise TypeError(f"executor must be a concurrent.futures.Executor, got {type(executor).__name__}")
    t0 = time.perf_counter()
    cache = ResultCache(Path(root or default_root()) / grid.name)
    if cache.directory.exists():
        cache.remove_stale_temp()
    configs = grid.runs()
    keys = [run_key(c) for c in configs]
    done: dict[str, dict] = {}
    for k in dict.fromkeys(keys):
        if k in cache:
            try:
                done[k] = cache.load(k)
            except SweepCacheError:
                if on_corrupt == "raise":
                    raise
    todo = list({k: c for k, c in zip(keys, configs) if k not in done}.values())
    cached = len(done)
    bar = _bar(len(done) + len(todo), cached, progress, grid.name)
    try:
        for res in _compute(_plan(todo, engine, stack_size, stack_by, device), engine, executor, device, threads):
            cache.save(res)
            done[res["key"]] = res
            if on_result is not None:
                on_result(res)
            bar.set_postfix_str(f"{res['label']['loss']} {res['label']['noise']}: "
                                f"{res['metrics']['final_test_acc']:.3f}", refresh=False)
            bar.update(1)
    finally:
        bar.close()
    return SweepResult(grid, [done[k] for k in keys], computed=len(todo), cached=cached,
                       wall_time=time.perf_counter() - t0)


def _compute(tasks, engine, executor, device, threads):
    """Yield results task by task, in completion order."""
    engine_of = lambda task: "vmap" if engine != "sequential" and len(task) > 1 else "sequential"  # noqa: E731
    if executor is None:
        for task in tasks:
            yield from _execute(task, engine_of(task), device, threads)
        return
    futures = [executor.submit(_execute, task, engine_of(task), device, threads) for task in tasks]
    try:
        for fut in cf.as_completed(futures):
            yield from fut.result()
    finally:
        for fut in futures:
            fut.cancel()


def load_grid(grid: Grid, *, root=None, missing: str = "raise") -> SweepResult:
    """The stored results of ``grid`` without computing anything.

    missing: "raise" (default; the message gives the count and how to compute them) or "skip".
    """
    check_choice("missing", missing, ("raise", "skip"))
    cache = ResultCache(Path(root or default_root()) / grid.name)
    keys = [run_key(c) for c in grid.runs()]
    absent = [k for k in keys if k not in cache]
    if absent and missing == "raise":
        raise FileNotFoundError(f"{len(absent)} of {len(keys)} runs of grid {grid.name!r} are not stored in "
                                f"{cache.directory}; compute them with nblib.sweep.run_grid(grid) or "
                                f"`python -m nblib.sweep {grid.name}`")
    return SweepResult(grid, [cache.load(k) for k in keys if k not in absent], cached=len(keys) - len(absent))


def recompute(results, *, root=None, grid: str | None = None, device="cpu", threads: int | None = None):
    """Recompute stored results the way they were made; return the new result(s).

    ``results``: one result dict (returns one) or a list (returns a list, same order), e.g. the
    seeds of one loss x noise cell. Sequential results are recomputed alone. vmap results are
    replayed with their whole stack, once per stack (the other members' configs are read from the
    cache folder ``root/grid``; ``grid`` defaults to the folder under ``root`` holding them all).
    ``threads``: torch threads (default: the count each result was made with).
    """
    single = isinstance(results, dict)
    results = [results] if single else list(results)
    for r in results:
        _validate(r, "result")
    out: dict[str, dict] = {}
    for r in results:
        if r["key"] in out:
            continue
        n = threads or r.get("versions", {}).get("torch_threads")
        with torch_threads(n):
            if r["engine"] == "sequential":
                out[r["key"]] = run_one(r["config"], device=device)
            else:
                keys = r["stack"]["keys"]
                configs = _stack_configs(keys, root, grid, r["key"])
                out.update({res["key"]: res for res in run_stack(configs, device=device)})
    fresh = [out[r["key"]] for r in results]
    return fresh[0] if single else fresh


def _stack_configs(keys: list[str], root, grid: str | None, key: str) -> list[dict]:
    root = Path(root or default_root())
    folders = [root / grid] if grid else sorted(p for p in root.iterdir() if p.is_dir())
    for folder in folders:
        cache = ResultCache(folder)
        if all(k in cache for k in keys):
            return [cache.load(k)["config"] for k in keys]
    raise FileNotFoundError(f"the {len(keys)} members of the stack of run {key[:12]}... are not all stored "
                            f"under {root}; cannot replay it")


def same_result(a: dict, b: dict, rtol: float = 0.0) -> bool:
    """True if two results have the same config and the same per-epoch history (times excepted).

    ``rtol=0`` (default): every number identical. ``rtol > 0``: accuracies still identical (they
    are counts over the same samples), the real-valued curves (loss, gradient share) equal within
    relative tolerance ``rtol`` - for a CPU whose math kernels differ in the last bits.
    """
    from .train import History

    if a["key"] != b["key"]:
        return False
    ha, hb = a["history"], b["history"]
    for m in History.METRICS:
        if m == "time":
            continue
        x, y = np.asarray(ha[m], dtype=float), np.asarray(hb[m], dtype=float)
        if x.shape != y.shape:
            return False
        tol = rtol if m in ("loss", "flipped_grad_share") else 0.0
        if not np.allclose(x, y, rtol=tol, atol=0.0, equal_nan=True):
            return False
    return True


def _bar(total: int, initial: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="run", disable=not enabled, smoothing=0.1)


# ----------------------------------------------------------------------------- command line

def main(argv=None) -> int:
    """``python -m nblib.sweep GRID [--engine E] [--workers N | --dask ADDRESS] [--root DIR]``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m nblib.sweep", description="Compute (or complete) a stored grid.")
    ap.add_argument("grid", choices=sorted(GRIDS), help="a grid of nblib.sweep.GRIDS")
    ap.add_argument("--engine", choices=ENGINES, default="auto")
    ap.add_argument("--stack-size", type=int, default=DEFAULT_STACK)
    ap.add_argument("--stack-by", choices=("group", "cell"), default="group")
    ap.add_argument("--root", default=None, help=f"cache root (default {DEFAULT_ROOT})")
    ap.add_argument("--device", default=None, help="cpu, cuda, ... (default: nblib.device())")
    ap.add_argument("--workers", type=int, default=0, help="run on a local process pool of N workers")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per task")
    ap.add_argument("--dask", default=None, metavar="ADDRESS",
                    help="run on a Dask cluster, e.g. tcp://scheduler:8786 (needs nblib[cluster])")
    ap.add_argument("--seeds", type=int, default=None, help="override: seeds 0..N-1")
    ap.add_argument("--epochs", type=int, default=None, help="override the grid's epochs")
    args = ap.parse_args(argv)
    grid = GRIDS[args.grid]
    if args.seeds is not None or args.epochs is not None:
        grid = dataclasses.replace(grid, seeds=tuple(range(args.seeds)) if args.seeds else grid.seeds,
                                   epochs=args.epochs or grid.epochs)
    executor, client = None, None
    if args.dask:
        from distributed import Client

        client = Client(args.dask)
        executor = client.get_executor()
    elif args.workers:
        import multiprocessing

        executor = cf.ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        res = run_grid(grid, root=args.root, executor=executor, engine=args.engine, stack_size=args.stack_size,
                       stack_by=args.stack_by,
                       device=args.device, threads=args.threads)
    finally:
        if client is not None:
            client.close()
        elif executor is not None:
            executor.shutdown(cancel_futures=True)
    print(res)
    print(res.table().to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
