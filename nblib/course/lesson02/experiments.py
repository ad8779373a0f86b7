"""Lesson 2's experiments: where the gradient of CE and MAE goes under label noise, and MAE's price.

Live runs: CE and MAE in the course's ``"memorise"`` setting (digits MLP), on clean labels and at
symmetric noise 0.4, one run per seed, cached under the setting's name (lesson 1's CE runs are the
same runs). Harder data: lesson 6's stored MNIST-1D grid (``data/results/mnist1d-classroom``, the
``"hard"`` setting: a 1-D CNN), of which only CE and MAE on clean labels and at 0.4 are read.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import runs
from ..settings import GRIDS, SETTINGS

__all__ = ["SETTING", "STORED_GRID", "CONFIG", "LOSSES", "gradient_runs", "stored_runs", "share_window",
           "share_excess", "share_table"]

SETTING = "memorise"              # lesson 1's setting and cache folder: its CE runs are reused here
STORED_GRID = "mnist1d-classroom"  # lesson 6's stored grid on the harder data
LOSSES = ("ce", "mae")
CONFIG = {                        # the noise rate studied, per scale
    "classroom": dict(rate=0.4),
    "large": dict(rate=0.4),
}


def _noise(rate: float) -> tuple:
    return ("sym 0", f"sym {rate:g}")


def gradient_runs(course):
    """CE and MAE on clean labels and at the scale's symmetric rate, one run per seed (trained, or
    read from the lesson cache). Returns the :class:`nblib.sweep.SweepResult`."""
    rate = CONFIG[course.scale]["rate"]
    return runs.run(SETTINGS[course.scale][SETTING], SETTING, losses=LOSSES, noise=_noise(rate),
                    seeds=course.seeds, device=course.device, progress=False)


def stored_runs(rate: float = 0.4):
    """CE and MAE on clean labels and at symmetric ``rate`` from the stored MNIST-1D grid (no training)."""
    from ...sweep import load_grid

    grid = dataclasses.replace(GRIDS[STORED_GRID], losses=LOSSES, noise=_noise(rate))
    return load_grid(grid)


def share_window(result) -> tuple[int, int]:
    """The epochs (first, last; 1-based) over which the lesson averages the gradient share: from
    epoch 2 (epoch 1 starts from a uniform prediction) to half the run. In the second half MAE's
    gradients are tiny (its p_y sit near 0 or 1), and its share, a ratio of two small sums, swings."""
    return 2, max(2, result.grid.epochs // 2)


def share_excess(result, loss: str, noise: str, epochs: tuple[int, int]) -> np.ndarray:
    """Per seed: the mean over ``epochs`` (first, last; 1-based, inclusive) of the share of the
    gradient on flipped samples minus the share of flipped samples (> 0: more than their share)."""
    rates = result.per_seed("realised_noise_rate", loss=loss, noise=noise)
    first, last = epochs
    return np.array([np.mean(h.flipped_grad_share[first - 1:last]) - r
                     for h, r in zip(result.histories(loss=loss, noise=noise), rates)])


def share_table(result, noise: str):
    """Per loss at ``noise``, mean ± sd over seeds: the gradient share on flipped samples minus their
    share, over the early window and over the rest of the run, the final test accuracy and the flipped
    samples fitted to their wrong label at the end (in %)."""
    first, last = share_window(result)
    end = result.grid.epochs
    cells = dataclasses.replace(result, results=[r for r in result.results if r["label"]["noise"] == noise])
    return runs.seed_summary(cells, {
        f"share - fraction, epochs {first}-{last}": lambda loss, n: share_excess(result, loss, n, (first, last)),
        f"share - fraction, epochs {last + 1}-{end}": lambda loss, n: share_excess(result, loss, n, (last + 1, end)),
        "final test acc": "final_test_acc", "flipped fitted": "final_flipped_acc_noisy"}, rows="loss")

