"""The grid spec language: what a sweep runs, and the key every run is stored under.

A :class:`Grid` names the dataset, the model, the training settings, the losses (with their
parameters), the noise settings (kind and rate) and the seeds. It expands to runs; a run is a plain
JSON-able dict, its *config*, and every number of its result follows from that config alone
(:mod:`nblib.sweep.run` says how). Its key is the sha256 of the config's canonical JSON (sorted
keys, no spaces, floats as Python's shortest repr); ``PROTOCOL`` is part of every config, so a
change in how runs are derived changes every key instead of silently mixing old and new results.

Why one file of ~430 lines: the grid's fields, their validation and their expansion into configs
are the spec language; they change together (a new field needs all three).
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .._checks import check_bool, check_choice, check_in_range, check_seed
from ..data import CIFAR10N_KEYS, DATASETS, num_classes as dataset_classes
from ..estimate import anchor_points
from ..losses import LOSSES, make_loss
from ..models import MODELS
from ..noise import ASYMMETRIC_MAPS, NOISE_KINDS as SYNTHETIC_NOISE, default_mapping, transition_matrix
from ..train import check_training_args
from .noise_kinds import GIVEN_KINDS, given_label, resolve_given

PROTOCOL = 1                 # how a run is derived from its config; part of every key
TRANSITIONS = ("true", "estimated")
ESTIMATOR_KEYS = ("percentile", "filter_outliers")    # the options of nblib.estimate.estimate_transition
CORRECTION_LOSSES = ("forward", "backward")
# human = a real label set of a dataset that has them (CIFAR-10N); matrix = a given T on any dataset
# (e.g. CIFAR-10N's human T on digits); instance = a given T's class-conditional counts, hard samples
# flipped first (nblib.sweep.noise_kinds)
NOISE_KINDS = (*SYNTHETIC_NOISE, "human", *GIVEN_KINDS)
NOISE_SHORT = {"symmetric": "sym", "asymmetric": "asym", "pair": "pair", "human": "human", "matrix": "matrix",
               "instance": "instance"}
NOISE_FORM = ("'<kind> <rate>' with kind one of sym, asym, pair (or symmetric, asymmetric) and rate a number in "
              "[0, 1], e.g. 'sym 0.4'; or 'human <label set>', e.g. 'human worse'")


def _check_dict(name: str, value) -> dict:
    """``value`` if it is a dict with string keys (it goes into a JSON config), else TypeError naming ``name``."""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"{name} must be a dict with string keys, got {value!r}")
    return value


def _check_optional_str(name: str, value):
    """``value`` if it is None or a string, else TypeError naming ``name``."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a string or None, got {value!r}")
    return value


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

    def __post_init__(self):
        check_choice("loss", self.name, LOSSES)
        _check_dict("params", self.params)
        _check_optional_str("label", self.label)
        if self.transition is not None:
            check_choice("transition", self.transition, TRANSITIONS)

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
        return {"name": self.name, "params": plain(params), "label": label, "transition": transition}


@dataclass(frozen=True)
class NoiseSpec:
    """One noise setting: ``kind`` (symmetric, asymmetric, pair; human = a CIFAR-10N label set;
    matrix = a given T; instance = a given T, instance-dependent), ``rate``, the asymmetric
    ``mapping`` (default: the dataset's), ``include_true`` (symmetric variant), ``exact`` (flip
    exactly round(rate n_i) per class, not a binomial count), ``label_set`` (human: one of aggre,
    random1, random2, random3, worse), ``matrix`` (matrix / instance: the (K, K) T), ``name`` (its
    column label, e.g. "human T") and ``sharpness`` (instance: how strongly hard samples flip first,
    see :func:`nblib.instance_noise.instance_flip_weights`)."""

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
        check_choice("noise kind", self.kind, NOISE_KINDS)
        check_in_range("rate", self.rate, 0, 1)
        check_bool("include_true", self.include_true)
        check_bool("exact", self.exact)
        check_in_range("sharpness", self.sharpness, 0, None)
        _check_optional_str("name", self.name)
        if self.mapping is not None:
            check_choice("mapping", self.mapping, ASYMMETRIC_MAPS)    # a name: configs are JSON
        if self.label_set is not None:
            check_choice("label_set", self.label_set, CIFAR10N_KEYS)
        if self.kind == "human" and self.label_set is None:
            raise ValueError(f"noise kind 'human' needs label_set ({', '.join(CIFAR10N_KEYS)})")
        if self.kind in GIVEN_KINDS and self.matrix is None:
            raise ValueError(f"noise kind {self.kind!r} needs matrix=T, a (K, K) transition matrix "
                             "(e.g. nblib.human_noise.transition('worse'))")
        if self.matrix is not None:   # a hashable, JSON-able copy (rows of floats)
            rows = np.asarray(self.matrix.detach().cpu() if isinstance(self.matrix, torch.Tensor) else self.matrix,
                              dtype=np.float64)
            object.__setattr__(self, "matrix", tuple(tuple(float(v) for v in row) for row in np.atleast_2d(rows)))
        # a setting of another kind would be silently left out of the config: refuse it
        for name, applies, given in (("mapping", ("asymmetric",), self.mapping is not None),
                                     ("include_true", ("symmetric",), self.include_true),
                                     ("label_set", ("human",), self.label_set is not None),
                                     ("rate", SYNTHETIC_NOISE, self.rate != 0),
                                     ("matrix", GIVEN_KINDS, self.matrix is not None),
                                     ("name", GIVEN_KINDS, self.name is not None),
                                     ("sharpness", ("instance",), self.sharpness != 0)):
            if given and self.kind not in applies:
                raise ValueError(f"{name} applies to {', '.join(applies)} noise only, not to {self.kind!r}")

    @classmethod
    def parse(cls, spec) -> "NoiseSpec":
        """A NoiseSpec from a NoiseSpec, a dict, a (kind, rate) pair, or ``"sym 0.4"`` / ``"human worse"``."""
        if isinstance(spec, NoiseSpec):
            return spec
        if isinstance(spec, dict):
            return cls(**spec)
        if isinstance(spec, (tuple, list)) and len(spec) == 2:
            return cls(spec[0], spec[1])
        if isinstance(spec, str):
            return cls._parse_text(spec)
        raise TypeError(f"a noise spec must be 'sym 0.4', a (kind, rate) pair, a dict or a NoiseSpec, got {spec!r}")

    @classmethod
    def _parse_text(cls, spec: str) -> "NoiseSpec":
        """``"sym 0.4"``, ``"symmetric"`` (rate 0) or ``"human worse"``; a ValueError naming the spec and
        the expected form otherwise (not float()'s "could not convert string to float")."""
        kind, *args = spec.split() or [""]
        kind = {v: k for k, v in NOISE_SHORT.items()}.get(kind, kind)
        if kind not in NOISE_KINDS:
            raise ValueError(f"noise spec {spec!r}: unknown noise kind {kind!r}; write {NOISE_FORM}")
        if len(args) > 1:
            raise ValueError(f"noise spec {spec!r}: write {NOISE_FORM}")
        if kind == "human":
            return cls(kind, label_set=args[0] if args else None)
        try:
            rate = float(args[0]) if args else 0.0
        except ValueError:
            raise ValueError(f"noise spec {spec!r}: the rate {args[0]!r} is not a number; write {NOISE_FORM}") from None
        return cls(kind, rate)

    def resolved(self, dataset: str, num_classes: int | None = None) -> dict:
        """The config dict (mapping made explicit); with ``num_classes``, the asymmetric map is checked
        against it (a map with class 8 cannot apply to 2 classes), and a given matrix's shape."""
        if self.kind in GIVEN_KINDS:
            return resolve_given(self, num_classes)
        if self.kind == "human":
            if dataset != "cifar10n":
                raise ValueError(f"noise kind 'human' needs dataset 'cifar10n', got {dataset!r}; to apply a human "
                                 "T to another dataset use NoiseSpec('matrix', matrix=nblib.human_noise.transition"
                                 "(label_set), name=...)")
            return {"kind": "human", "label_set": self.label_set}
        out = {"kind": self.kind, "rate": float(self.rate), "exact": bool(self.exact)}
        if self.kind == "symmetric":
            out["include_true"] = bool(self.include_true)
        if self.kind == "asymmetric":
            out["mapping"] = self.mapping or default_mapping(dataset)
            if num_classes is not None:
                with warnings.catch_warnings():     # only the map is checked here; the rate warns at run time
                    warnings.simplefilter("ignore")
                    transition_matrix("asymmetric", num_classes, self.rate, mapping=out["mapping"])
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


@dataclass(kw_only=True)
class Setting:
    """An experiment's data, model and training: everything but its losses, noise and seeds.

    ``model`` is a name for ``nblib.models.make_model`` ("auto" picks the dataset's model) with
    ``model_kw``; ``dataset_kw`` goes to ``nblib.data.load`` (with ``data_seed`` as its ``seed``).
    The training fields are those of :func:`nblib.train.fit`. The course names its settings in
    ``nblib.course.settings``; :meth:`grid` adds losses, noise and seeds to make a :class:`Grid`.
    """

    dataset: str = "mnist1d"
    dataset_kw: dict = field(default_factory=dict)
    model: str = "auto"
    model_kw: dict = field(default_factory=dict)
    data_seed: int = 0
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "constant"
    grad_clip: float | None = None

    def grid(self, name: str, *, losses, noise, seeds, pairs=None) -> "Grid":
        """The sweep grid of this setting with ``losses`` x ``noise`` x ``seeds`` (spec shorthands allowed;
        ``pairs``: only these (loss label, noise label) pairs, see :class:`Grid`)."""
        own = {f.name: copy.deepcopy(getattr(self, f.name)) for f in dataclasses.fields(Setting)}
        return Grid(name, losses=tuple(losses), noise=tuple(noise), seeds=tuple(seeds), pairs=pairs, **own)

    def train_kw(self) -> dict:
        """The keywords of :func:`nblib.fit` this setting fixes."""
        return dict(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, optimizer=self.optimizer,
                    weight_decay=self.weight_decay, schedule=self.schedule, grad_clip=self.grad_clip)

    def load(self, device=None):
        """The dataset of this setting, on ``device``."""
        from ..data import load

        return load(self.dataset, device=device, seed=self.data_seed, **self.dataset_kw)

    def make_model(self, data, seed: int):
        """A fresh model of this setting for ``data``, initialised from ``seed``."""
        from ..models import make_model

        return make_model(self.model, data, seed=seed, **self.model_kw)

    def replace(self, **changes):
        """A copy with some fields changed (e.g. more epochs)."""
        return dataclasses.replace(self, **changes)


@dataclass
class Grid(Setting):
    """A sweep: every loss x noise setting x seed of one :class:`Setting` (data, model, training).

    ``name`` is the folder under the cache root. ``losses``/``noise`` accept the shorthands of
    :meth:`LossSpec.parse` / :meth:`NoiseSpec.parse`; ``estimator`` holds the keywords of
    ``nblib.estimate.estimate_transition`` (used by ``forward(T-hat)``). The setting's fields are
    keywords: ``Grid("mine", dataset="digits", losses=("ce", "gce"), noise=("sym 0.4",))``.
    ``pairs``: optional (loss label, noise label) pairs to run, e.g. ``[("ce", "sym 0.4"), ("gce",
    "sym 0.4"), ("ce", "asym 0.2")]``; the default None runs every loss with every noise setting.
    A sparse grid trains its runs together (one vmap stack where they fit), faster than two grids.
    """

    name: str
    losses: Sequence = CLASSROOM_LOSSES
    noise: Sequence = CLASSROOM_NOISE
    seeds: Sequence[int] = (0, 1, 2)
    estimator: dict = field(default_factory=lambda: {"percentile": 97.0, "filter_outliers": True})
    pairs: Sequence | None = None

    def __post_init__(self):
        """Validate every field once, here: a bad value fails when the grid is written, naming the
        field, not in a worker hours later (or, worse, as a wrong value in every stored config)."""
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string (a folder name), got {self.name!r}")
        if not self.name or any(c in self.name for c in "/\\") or self.name.startswith("."):
            raise ValueError(f"name must be a plain folder name, got {self.name!r}")
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("model", self.model, ("auto", *MODELS))
        for name in ("model_kw", "dataset_kw", "estimator"):
            _check_dict(name, getattr(self, name))
        self.losses = tuple(LossSpec.parse(s) for s in _sequence("losses", self.losses, "('ce', 'gce')"))
        self.noise = tuple(NoiseSpec.parse(s) for s in _sequence("noise", self.noise, "('sym 0.4',)"))
        self.seeds = tuple(check_seed(s, f"seeds[{i}]")
                           for i, s in enumerate(_sequence("seeds", self.seeds, "(0, 1, 2)")))
        if not (self.losses and self.noise and self.seeds):
            raise ValueError("a grid needs at least one loss, one noise setting and one seed")
        if len(set(self.seeds)) < len(self.seeds):
            raise ValueError(f"seeds must be distinct (a repeated seed repeats the same run), got {self.seeds}")
        check_seed(self.data_seed, "data_seed")
        check_training_args(self.epochs, self.batch_size, self.lr, self.weight_decay, self.optimizer, self.schedule,
                            self.grad_clip)
        unknown = sorted(set(self.estimator) - set(ESTIMATOR_KEYS))
        if unknown:
            raise TypeError(f"estimator: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(ESTIMATOR_KEYS)}")
        anchor_points(np.full((1, 2), 0.5), **self.estimator)     # the estimator checks its own values
        if self.pairs is not None:
            self.pairs = tuple(dict.fromkeys(_pair(p, i) for i, p in enumerate(_sequence("pairs", self.pairs,
                                                                                          "[('ce', 'sym 0.4')]"))))
            if not self.pairs:
                raise ValueError("pairs must name at least one (loss label, noise label) pair, or be None")
        losses, noises = self._resolved()
        if self.pairs is not None:
            known = {(loss["label"], noise_label(noise)) for loss in losses for noise in noises}
            unknown = [p for p in self.pairs if p not in known]
            if unknown:
                labels = f"losses {[loss['label'] for loss in losses]}, noise {[noise_label(n) for n in noises]}"
                raise ValueError(f"pairs {unknown} are not (loss label, noise label) pairs of this grid; {labels}")

    def _resolved(self) -> tuple[list[dict], list[dict]]:
        """The loss and noise configs (validated against the dataset's number of classes)."""
        K = dataset_classes(self.dataset, **self.dataset_kw)
        return [s.resolved(K) for s in self.losses], [s.resolved(self.dataset, K) for s in self.noise]

    def base_config(self) -> dict:
        """The part of every run's config shared by the whole grid."""
        return plain({
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
        losses, noises = self._resolved()
        out = []
        for loss in losses:
            for noise in noises:
                if self.pairs is not None and (loss["label"], noise_label(noise)) not in self.pairs:
                    continue
                for seed in self.seeds:
                    cfg = {**copy.deepcopy(base), "loss": loss, "noise": noise, "seed": seed}
                    if loss["transition"] == "estimated":
                        cfg["estimator"] = plain(dict(self.estimator))
                    out.append(cfg)
        return out

    def __len__(self) -> int:
        cells = len(self.losses) * len(self.noise) if self.pairs is None else len(self.pairs)
        return cells * len(self.seeds)


def _pair(pair, i: int) -> tuple[str, str]:
    """``pairs[i]`` as a (loss label, noise label) tuple of strings, or TypeError naming it."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(isinstance(x, str) for x in pair):
        raise TypeError(f"pairs[{i}] must be a (loss label, noise label) pair of strings, got {pair!r}")
    return tuple(pair)


def _sequence(name: str, value, example: str):
    """``value`` if it is a sequence of specs or seeds (not a single string, dict or number)."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a sequence such as {example}, got {value!r}")
    return value


def plain(obj):
    """A JSON-able copy: arrays/tensors -> nested lists, numpy scalars -> Python, tuples -> lists."""
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def canonical_json(config: dict) -> str:
    """The one text of a config that its key hashes: sorted keys, no spaces, no NaN."""
    return json.dumps(plain(config), sort_keys=True, separators=(",", ":"), allow_nan=False)


def run_key(config: dict) -> str:
    """sha256 hex digest of :func:`canonical_json` (the cache file name without ``.json``)."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()
