"""Lesson 6's grids per scale: which stored grids the lesson loads, or which it computes.

``classroom``: the two stored grids (data/results/, also shipped with the package as bundles),
MNIST-1D first (the headline: a 1-D CNN that memorises flipped labels as the papers' CIFAR runs
do), then digits (the memorise setting of lessons 1-5). Nothing is trained, except the one cell
the lesson recomputes live. ``large``: the same grids with 5 seeds (the missing runs are computed,
~20 min on 2 cores). ``paper``: the CIFAR-10 / CIFAR-10N settings of the papers (a GPU, hours).
"""
from __future__ import annotations

import dataclasses

from ..._checks import check_choice
from ...sweep import load_grid, run_grid
from ..settings import GRIDS

__all__ = ["CONFIG", "SCALES", "RECOMPUTE_TOL", "grids", "load"]

SCALES = ("classroom", "large", "paper")
# A recomputed cell's seed mean of final test accuracy may differ from the stored one by this much
# on another CPU (measured with ATEN_CPU_CAPABILITY=default: mnist1d gce sym 0.4 moved by 1.1
# points); on the machine that made the runs the histories are identical.
RECOMPUTE_TOL = 0.03
CONFIG = {
    "classroom": dict(grids=("mnist1d-classroom", "digits-classroom"), compute=False, seeds=None),
    "large": dict(grids=("mnist1d-classroom", "digits-classroom"), compute=True, seeds=(0, 1, 2, 3, 4)),
    "paper": dict(grids=("cifar10-paper", "cifar10n-paper"), compute=True, seeds=None),
}


def grids(scale: str = "classroom") -> dict:
    """{name: Grid} of ``scale`` (with its seeds)."""
    cfg = CONFIG[check_choice("scale", scale, SCALES)]
    out = {name: GRIDS[name] for name in cfg["grids"]}
    if cfg["seeds"]:
        out = {name: dataclasses.replace(g, seeds=cfg["seeds"]) for name, g in out.items()}
    return out


def load(scale: str = "classroom", device=None) -> dict:
    """{dataset name: SweepResult} of ``scale``'s grids: loaded (classroom) or computed where missing."""
    cfg = CONFIG[check_choice("scale", scale, SCALES)]
    return {g.dataset: (run_grid(g, device=device) if cfg["compute"] else load_grid(g)) for g in grids(scale).values()}
