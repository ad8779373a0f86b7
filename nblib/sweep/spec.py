"""The grid spec language: what a sweep runs, and the key every run is stored under.

A :class:`Grid` names the dataset, the model, the training settings, the losses (with their
parameters), the noise settings (kind and rate) and the seeds. It expands to runs; a run is a plain
JSON-able dict, its *config*, and every number of its result follows from that config alone
(:mod:`nblib.sweep.run` says how). Its key is the sha256 of the config's canonical JSON (sorted
keys, no spaces, floats as Python's shortest repr); ``PROTOCOL`` is part of every config, so a
change in how runs are derived changes every key instead of silently mixing old and new results.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .._checks import check_bool, check_choice, check_in_range, check_int
from ..data import num_classes as dataset_classes
from ..losses import LOSSES, make_loss
from ..noise import NOISE_KINDS as SYNTHETIC_NOISE, default_mapping
from .noise_kinds import GIVEN_KINDS, given_label, resolve_given

PROTOCOL = 1                 # how a run is derived from its config; part of every key
TRANSITIONS = ("true", "estimated")
CORRECTION_LOSSES = ("forward", "backward")
# human = a real label set of a dataset that has them (CIFAR-10N); matrix = a given T on any dataset
# (e.g. CIFAR-10N's human T on digits); instance = a given T's class-conditional counts, hard samples
# flipped first (nblib.sweep.noise_kinds)
NOISE_KINDS = (*SYNTHETIC_NOISE, "human", "matrix", "instance")
NOISE_SHORT = {"symmetric": "sym", "asymmetric": "asym", "pair": "pair", "human": "human", "matrix": "matrix",
               "instance": "instance"}

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
    """One noise setting: ``kind`` (symmetric, asymmetric, pair; human = a CIFAR-10N label set;
    matrix = a given T; instance = a given T, instance-dependent), ``rate``, the asymmetric
    ``mapping`` (default: the dataset's), ``include_true`` (symmetric variant), ``exact`` (flip
    exactly round(rate n_i) per class, not a binomial count), ``label_set`` (human: one of aggre,
    random1, random2, random3, worse), ``matrix`` (matrix / instance: the (K, K) T), ``name`` (its
    column label, e.g. "human T") and ``sharpness`` (instance: how strongly hard samples flip first,
    see :func:`nblib.noise.instance_flip_weights`)."""

    kind: str
    rate: float = 0.0
    mapping: str | None = None
    include_true: bool = False
    exact: bool = True
    label_set: str | None = None
    matrix: tuple | None = None
    name: str | None = None
    sharpness: float = 0.0

    def __post_init__(self):
        if self.matrix is not None:   # a hashable, JSON-able copy (rows of floats)
            rows = np.asarray(self.matrix.detach().cpu() if isinstance(self.matrix, torch.Tensor) else self.matrix,
                              dtype=np.float64)
            object.__setattr__(self, "matrix", tuple(tuple(float(v) for v in row) for row in np.atleast_2d(rows)))

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

    def resolved(self, dataset: str, num_classes: int | None = None) -> dict:
        """The config dict (mapping made explicit; ``num_classes`` checks a given matrix's shape)."""
        check_choice("noise kind", self.kind, NOISE_KINDS)
        if self.kind in GIVEN_KINDS:
            return resolve_given(self, num_classes)
        if self.matrix is not None:
            raise ValueError(f"matrix applies to noise kinds {GIVEN_KINDS} only, not to {self.kind!r}")
        if self.kind == "human":
            if dataset != "cifar10n":
                raise ValueError(f"noise kind 'human' needs dataset 'cifar10n', got {dataset!r}; to apply a human "
                                 "T to another dataset use NoiseSpec('matrix', matrix=nblib.human_noise.transition"
                                 "(label_set), name=...)")
            if not self.label_set:
                raise ValueError("noise kind 'human' needs label_set (aggre, random1, random2, random3, worse)")
            return {"kind": "human", "label_set": self.label_set}
        check_in_range("rate", self.rate, 0, 1)
        out = {"kind": self.kind, "rate": float(self.rate), "exact": check_bool("exact", self.exact)}
        if self.kind == "symmetric":
            out["include_true"] = check_bool("include_true", self.include_true)
        if self.kind == "asymmetric":
            out["mapping"] = self.mapping or default_mapping(dataset)
        return out


def noise_label(noise: dict) -> str:
    """Short column label of a noise config: 'sym 0.4', 'asym 0.2', 'human worse', a matrix's name."""
    if noise["kind"] in GIVEN_KINDS:
        return given_label(noise)
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
    ``nblib.estimate.estimate_transition`` (used by ``forward(T-hat)``). ``pairs``: optional
    (loss label, noise label) pairs to run, e.g. ``[("ce", "sym 0.4"), ("gce", "sym 0.4"), ("ce",
    "asym 0.2")]``; the default None runs every loss with every noise setting. A sparse grid
    trains its runs together (one vmap stack where they fit), which is faster than two grids.
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
    pairs: Sequence | None = None

    def __post_init__(self):
        if not self.name or any(c in self.name for c in "/\\") or self.name.startswith("."):
            raise ValueError(f"name must be a plain folder name, got {self.name!r}")
        self.losses = tuple(LossSpec.parse(s) for s in self.losses)
        self.noise = tuple(NoiseSpec.parse(s) for s in self.noise)
        self.seeds = tuple(check_int("seed", s, 0) for s in self.seeds)
        if not (self.losses and self.noise and self.seeds):
            raise ValueError("a grid needs at least one loss, one noise setting and one seed")
        if self.pairs is not None:
            self.pairs = tuple(dict.fromkeys((str(a), str(b)) for a, b in self.pairs))
            if not self.pairs:
                raise ValueError("pairs must name at least one (loss label, noise label) pair, or be None")

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
        K = dataset_classes(self.dataset, **self.dataset_kw)
        losses = [s.resolved(K) for s in self.losses]
        noises = [s.resolved(self.dataset, K) for s in self.noise]
        if self.pairs is not None:
            known = {(loss["label"], noise_label(noise)) for loss in losses for noise in noises}
            unknown = [p for p in self.pairs if p not in known]
            if unknown:
                raise ValueError(f"pairs {unknown} are not (loss label, noise label) pairs of this grid; labels: "
                                 f"losses {[loss['label'] for loss in losses]}, noise {[noise_label(n) for n in noises]}")
        out = []
        for loss in losses:
            for noise in noises:
                if self.pairs is not None and (loss["label"], noise_label(noise)) not in self.pairs:
                    continue
                for seed in self.seeds:
                    cfg = {**copy.deepcopy(base), "loss": loss, "noise": noise, "seed": seed}
                    if loss["transition"] == "estimated":
                        cfg["estimator"] = _plain(dict(self.estimator))
                    out.append(cfg)
        return out

    def __len__(self) -> int:
        cells = len(self.losses) * len(self.noise) if self.pairs is None else len(self.pairs)
        return cells * len(self.seeds)


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
