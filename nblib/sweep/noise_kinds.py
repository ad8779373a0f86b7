"""Noise kinds with a given transition matrix: ``matrix`` and ``instance``, on any dataset.

- ``matrix``: class-conditional noise with a T you give, e.g. CIFAR-10N's human T
  (``nblib.human_noise.transition("worse")``) on digits: the *structure* of human noise (which
  classes are confused, how unevenly) without its images. Labels as ``corrupt_labels(y, T, seed,
  exact)``; forward/backward correction's "true" T is this T.
- ``instance``: the same class-conditional counts of T (the realised rate and T are those of
  ``matrix`` with exact=True), but the samples that flip are drawn with weights rising with their
  difficulty (:func:`nblib.instance_noise.corrupt_labels_instance`), as human errors concentrate on hard
  images. Difficulty = a clean model's cross-fitted uncertainty (:mod:`nblib.difficulty`), trained
  once per dataset, model and training settings with the scorer settings below (part of every
  config, so changing them changes every key).

    NoiseSpec("matrix", matrix=T, name="human T")
    NoiseSpec("instance", matrix=T, name="human T, hard first", sharpness=2.0)
"""
from __future__ import annotations

import functools
import json

import numpy as np

from .._checks import check_bool, check_in_range, check_transition_matrix

GIVEN_KINDS = ("matrix", "instance")
SCORER = {"folds": 2, "epochs": 20, "seed": 0}   # the clean model that scores difficulty (instance)


def resolve_given(spec, num_classes: int | None) -> dict:
    """The config dict of a ``matrix`` / ``instance`` NoiseSpec (T checked against ``num_classes``)."""
    if spec.matrix is None:
        raise ValueError(f"noise kind {spec.kind!r} needs matrix=T, a (K, K) transition matrix "
                         "(e.g. nblib.human_noise.transition('worse'))")
    T = check_transition_matrix(spec.matrix, num_classes=num_classes, name="matrix")
    if spec.name is not None and (not isinstance(spec.name, str) or not spec.name.strip()):
        raise ValueError(f"name must be a non-empty string (the noise column's label), got {spec.name!r}")
    out = {"kind": spec.kind, "name": spec.name, "T": T.tolist()}
    if spec.kind == "matrix":
        out["exact"] = check_bool("exact", spec.exact)
    else:
        out["sharpness"] = float(check_in_range("sharpness", spec.sharpness, 0, None))
        out["scorer"] = dict(SCORER)
    return out


def given_label(noise: dict) -> str:
    """A given matrix's column label: its name, else 'matrix' / 'instance <sharpness>'."""
    if noise.get("name"):
        return noise["name"]
    return "matrix" if noise["kind"] == "matrix" else f"instance {noise['sharpness']:g}"


def noisy_labels(config: dict, data):
    """(noisy labels, flipped mask, T) of a run whose noise kind is ``matrix`` or ``instance``."""
    from ..instance_noise import corrupt_labels_instance, instance_flip_weights
    from ..noise import corrupt_labels

    nz = config["noise"]
    T = np.asarray(nz["T"], dtype=np.float64)
    if nz["kind"] == "matrix":
        noisy, flipped = corrupt_labels(data.y_train, T, seed=config["seed"], exact=nz["exact"])
    else:
        train_scores, _ = _scores(config, data)
        weights = instance_flip_weights(train_scores, data.y_train.cpu(), nz["sharpness"])
        noisy, flipped = corrupt_labels_instance(data.y_train, T, weights, seed=config["seed"])
    return noisy, flipped, T


def noisy_val(config: dict, data, T):
    """The validation labels, corrupted by the same process and seed as the training labels."""
    from ..instance_noise import corrupt_labels_instance, instance_flip_weights
    from ..noise import corrupt_labels

    nz = config["noise"]
    if nz["kind"] == "matrix":
        return data.x_val, corrupt_labels(data.y_val, T, seed=config["seed"], exact=nz["exact"])[0]
    _, val_scores = _scores(config, data)
    weights = instance_flip_weights(val_scores, data.y_val.cpu(), nz["sharpness"])
    return data.x_val, corrupt_labels_instance(data.y_val, T, weights, seed=config["seed"])[0]


def run_labels(config: dict, device="cpu") -> dict:
    """The labels of any run config (every noise kind), as the run drew them: ``{"clean", "noisy",
    "flipped", "T"}`` (tensors on ``device``; T a float64 array)."""
    from .run import _load_data, _noisy_labels
    from .spec import canonical_json

    data = _load_data(canonical_json(config["dataset"]), str(device))
    noisy, flipped, T = _noisy_labels(config, data)
    return {"clean": data.y_train, "noisy": noisy, "flipped": flipped, "T": T}


def difficulty_scores(config: dict, device="cpu"):
    """The cross-fitted clean uncertainty an ``instance`` run's noise was drawn from:
    ``(train scores (N,), validation scores or None)`` (computed once per process and setting)."""
    if config["noise"]["kind"] != "instance":
        raise ValueError(f"difficulty scores belong to noise kind 'instance', not {config['noise']['kind']!r}")
    from .run import _load_data
    from .spec import canonical_json

    return _scores(config, _load_data(canonical_json(config["dataset"]), str(device)))


def _scores(config: dict, data):
    key = json.dumps({k: config[k] for k in ("dataset", "model", "train")} | {"scorer": config["noise"]["scorer"]},
                     sort_keys=True)
    return _cached_scores(key, data)


@functools.lru_cache(maxsize=8)
def _cached_scores(key: str, data):
    """Scores of one (dataset, model, training, scorer) setting; ``data`` is the loaded dataset
    (loaded once per process by the sweep, so it hashes as the same object)."""
    from ..difficulty import clean_uncertainty
    from ..models import make_model

    cfg = json.loads(key)
    scorer, model = cfg["scorer"], cfg["model"]
    train = {**cfg["train"], "epochs": scorer["epochs"]}
    return clean_uncertainty(data, lambda d, s: make_model(model["name"], d, seed=s, **model["kw"]),
                             folds=scorer["folds"], seed=scorer["seed"], **train)
