"""Lesson 6's grids per scale: which stored grids the lesson loads, or which it computes.

``classroom``: the two stored grids (data/results/, also shipped with the package as bundles),
MNIST-1D first (the headline: a 1-D CNN that memorises flipped labels as the papers' CIFAR runs
do), then digits (the memorise setting of lessons 1-5). Nothing is trained, except the one cell
the lesson recomputes live. ``large``: the same grids with 5 seeds; the missing runs (seeds 3 and 4)
are computed in this process on one thread, about an hour on one core (~216 MNIST-1D CNN runs of
~10 s, the digits MLPs ~10 min); pass an executor to ``nblib.sweep.run_grid`` for more cores.

A run's cache key is its configuration, which does not name the device: runs computed on a GPU would
mix silently with the CPU-made stored seeds. So ``large`` on another device than the CPU stores its
grids under a folder of their own (``data/results/<device type>/``) and computes every seed there.

The papers' CIFAR-10 / CIFAR-10N settings (``nblib.course.settings.GRIDS["cifar10-paper"]``) are
not a scale of this lesson: they have no stored results, one seed and other losses (see
data/results/README.md).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..._checks import check_choice
from ..._device import device as pick_device
from ...estimate import estimation_error
from ...losses import logit_gradient_norm
from ...sweep import default_root, load_grid, run_grid
from ..settings import GRIDS

__all__ = ["CONFIG", "SCALES", "RECOMPUTE_TOL", "grids", "load", "results_root", "gradient_scale",
           "estimation_table"]

SCALES = ("classroom", "large")
# A recomputed cell's seed mean of final test accuracy may differ from the stored one by this much
# on another CPU (measured with ATEN_CPU_CAPABILITY=default: mnist1d gce sym 0.4 moved by 1.1
# points); on the machine that made the runs the histories are identical.
RECOMPUTE_TOL = 0.03
CONFIG = {
    "classroom": dict(grids=("mnist1d-classroom", "digits-classroom"), compute=False, seeds=None),
    "large": dict(grids=("mnist1d-classroom", "digits-classroom"), compute=True, seeds=(0, 1, 2, 3, 4)),
}
# gradient_scale's two predictions of the true class: a sample the model has not fitted (e.g. a
# flipped one) and one it has fitted
UNFITTED_PY, FITTED_PY = 0.01, 0.95


def grids(scale: str = "classroom") -> dict:
    """{name: Grid} of ``scale`` (with its seeds)."""
    cfg = CONFIG[check_choice("scale", scale, SCALES)]
    out = {name: GRIDS[name] for name in cfg["grids"]}
    if cfg["seeds"]:
        out = {name: dataclasses.replace(g, seeds=cfg["seeds"]) for name, g in out.items()}
    return out


def results_root(device=None):
    """Where computed grids go: data/results for the CPU (the stored grids' device), else a folder
    per device type, so that runs made on a GPU never mix with the CPU-made ones under one key."""
    dev = pick_device(device)
    return default_root() if dev.type == "cpu" else default_root() / dev.type


def load(scale: str = "classroom", device=None) -> dict:
    """{dataset name: SweepResult} of ``scale``'s grids: loaded (classroom) or computed where missing
    (large: in this process, one model at a time or one vmap stack at a time; see the module)."""
    cfg = CONFIG[check_choice("scale", scale, SCALES)]
    if not cfg["compute"]:
        return {g.dataset: load_grid(g) for g in grids(scale).values()}
    root = results_root(device)
    return {g.dataset: run_grid(g, root=root, device=device, threads=1) for g in grids(scale).values()}


def gradient_scale(losses=("ce", "nce", "mae", "gce", "nce+rce"), num_classes: int = 10,
                   p_ys=(UNFITTED_PY, FITTED_PY)):
    """||dL/dz|| (the gradient on a sample's logits, by autograd in :mod:`nblib.losses`) at each true-class
    probability of ``p_ys`` (the rest spread evenly over the other classes), and the ratio of the
    first to the last: how much more an unfitted sample pulls than a fitted one. Adam divides each
    parameter's step by a running scale of its gradients, so a loss's overall size washes out and this
    ratio (its relative weighting of samples) is what shapes training. A DataFrame, one row per loss."""
    import pandas as pd

    rows = {}
    for p_y in p_ys:
        p = torch.full((1, num_classes), (1 - p_y) / (num_classes - 1), dtype=torch.float64)
        p[0, 0] = p_y
        logits, targets = p.log(), torch.zeros(1, dtype=torch.long)
        for loss in losses:
            rows.setdefault(loss, {})[f"|grad| at p_y = {p_y:g}"] = float(logit_gradient_norm(loss, logits, targets)[0])
    out = pd.DataFrame.from_dict(rows, orient="index")
    out["unfitted / fitted"] = out.iloc[:, 0] / out.iloc[:, -1]
    out.index.name = "loss"
    return out.astype(np.float64)


def estimation_table(results: dict, loss: str = "forward(T-hat)"):
    """How far each grid's T-hat is from the true T: the relative L1 error of lesson 5
    (:func:`nblib.estimate.estimation_error`, stored with each run), mean over seeds, beside the error
    of the identity matrix, the T-hat of a model that sees no noise at all (a CE model that has
    memorised its labels predicts them, and its anchor points then show no flips). One row per noisy
    column, two columns per grid of ``results`` (name -> SweepResult)."""
    import pandas as pd

    out = {}
    for name, res in results.items():
        cells = {}
        for r in res.results:
            if r["label"]["loss"] == loss and r["config"]["noise"].get("rate", 0) > 0:
                T = np.asarray(r["transition"], dtype=float)
                cells.setdefault(r["label"]["noise"], []).append(
                    (r["metrics"]["estimation_error"], estimation_error(np.eye(len(T)), T)))
        out[f"{name}: T-hat"] = {n: float(np.mean([e for e, _ in v])) for n, v in cells.items()}
        out[f"{name}: identity"] = {n: float(np.mean([i for _, i in v])) for n, v in cells.items()}
    table = pd.DataFrame(out)
    table.index.name = "error vs the true T"
    return table.round(2)
