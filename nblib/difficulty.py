"""How hard each training sample is: a clean model's uncertainty, measured where it did not train.

Human annotators do not err at random: they err on the ambiguous images (CIFAR-10N's three
annotators are all wrong together far more often than independent errors would allow; lesson 7).
To imitate that on any dataset, instance-dependent noise (:func:`nblib.instance_noise.corrupt_labels_instance`)
needs a difficulty score per sample. A model's confidence on samples it was trained on says
little (it has fitted them), so the score is **cross-fitted**: the training set is split into
``folds`` class-stratified parts, one model per part is trained with the *clean* labels on the
other parts, and each sample is scored by the model that never saw it:

    uncertainty_n = 1 - p(true class of n | x_n)      (in [0, 1]; 0 = certain and right)

Validation samples (when the dataset has a split) are scored by the mean prediction of the fold
models, none of which saw them. Everything follows from ``seed`` (fold split, initial weights,
shuffling).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ._checks import check_int
from .train import fit, predict_proba

DEFAULT_FOLDS = 2


def fold_ids(labels, folds: int = DEFAULT_FOLDS, seed: int = 0) -> np.ndarray:
    """A class-stratified fold number in [0, folds) for each label: each class's samples are
    shuffled with ``default_rng(seed)`` and dealt to the folds in turn (sizes differ by <= 1)."""
    folds = check_int("folds", folds, 2)
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    out = np.empty(len(y), dtype=np.int64)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        out[idx] = np.arange(idx.size) % folds
    if np.bincount(out, minlength=folds).min() == 0:
        raise ValueError(f"folds={folds} leaves a fold empty for {len(y)} samples; use fewer folds")
    return out


def cross_fitted_proba(data, make_model, *, folds: int = DEFAULT_FOLDS, seed: int = 0, **train_kw):
    """Clean-label predictions of every training sample by a model that did not train on it.

    data: a :class:`nblib.data.Dataset` (its clean ``y_train`` is used).
    make_model: ``make_model(data, seed)`` -> a fresh model (e.g. a Setting's ``make_model``).
    train_kw: keywords of :func:`nblib.fit` (epochs, lr, batch_size, ...).
    Returns ``(probs_train (N, K), probs_val (n_val, K) or None)`` as float64 NumPy arrays.
    """
    fold = fold_ids(data.y_train, folds, seed)
    probs = np.zeros((len(data.y_train), data.num_classes))
    val = None if data.x_val is None else np.zeros((len(data.y_val), data.num_classes))
    for k in range(folds):
        train_idx = torch.as_tensor(np.flatnonzero(fold != k), device=data.device)
        sub = dataclasses.replace(data, x_train=data.x_train[train_idx], y_train=data.y_train[train_idx],
                                  noisy_labels={}, x_val=None, y_val=None)
        model = make_model(sub, seed + k)
        fit(model, sub, loss="ce", seed=seed + k, eval_train=False, progress=False, device=data.device, **train_kw)
        held_out = np.flatnonzero(fold == k)
        x_held = data.x_train[torch.as_tensor(held_out, device=data.device)]
        probs[held_out] = predict_proba(model, x_held).double().cpu().numpy()
        if val is not None:
            val += predict_proba(model, data.x_val).double().cpu().numpy() / folds
    return probs, val


def uncertainty(probs, labels) -> np.ndarray:
    """``1 - probs[n, labels[n]]``: how unsure a model is of each sample's true class (0 = certain)."""
    p = probs.detach().cpu().double().numpy() if isinstance(probs, torch.Tensor) else np.asarray(probs, np.float64)
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if p.ndim != 2 or p.shape[0] != len(y):
        raise ValueError(f"probs must be (N, K) with N = len(labels) = {len(y)}, got shape {p.shape}")
    return 1.0 - p[np.arange(len(y)), y]


def clean_uncertainty(data, make_model, *, folds: int = DEFAULT_FOLDS, seed: int = 0, **train_kw):
    """Cross-fitted uncertainty of every sample's clean label: ``(train scores (N,), val scores or None)``.

    See :func:`cross_fitted_proba`; the scores feed :func:`nblib.instance_noise.instance_flip_weights`.
    """
    probs, val = cross_fitted_proba(data, make_model, folds=folds, seed=seed, **train_kw)
    return uncertainty(probs, data.y_train), None if val is None else uncertainty(val, data.y_val)
