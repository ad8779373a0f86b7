"""Lesson 2's experiments: where the gradient of CE and MAE goes under label noise, and MAE's price.

Live runs: CE and MAE in the course's classroom ``"memorise"`` setting (digits MLP, 80 epochs), on
clean labels and at symmetric noise ``CONFIG[scale]["rate"]``, one run per seed, cached under the
setting's name (lesson 1's classroom CE runs are the same runs). Both scales train the same setting;
``"large"`` only adds seeds (``SEEDS["large"]``), so every claim is checked on seeds 0-4 there and the
first three seeds are the classroom's runs.

Harder data: lesson 6's stored MNIST-1D grid (``data/results/mnist1d-classroom``, the classroom
``"hard"`` setting: a 1-D CNN, 30 epochs, 3 seeds), of which only CE and MAE on clean labels and at
0.4 are read, at every scale.

One averaging rule for the gradient share on both datasets (:func:`share_window`): epochs 2 to half
the run, and the second half apart.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import runs
from ..settings import GRIDS, SETTINGS

__all__ = ["SETTING", "STORED_GRID", "STORED_RATE", "CONFIG", "LOSSES", "STALL_FROM", "noise_label", "studied_noise",
           "describe", "curves_at", "clean_curves",
           "gradient_runs", "stored_runs", "share_window", "share_halves", "share_excess", "share_table",
           "print_share_per_seed", "share_panels", "first_epoch_acc", "test_acc_drop", "clean_fit_rise",
           "final_accuracy_table"]

SETTING = "memorise"              # lesson 1's setting and cache folder: its classroom CE runs are reused here
STORED_GRID = "mnist1d-classroom"  # lesson 6's stored grid on the harder data
STORED_RATE = 0.4                 # the stored grid's noise rate this lesson reads
LOSSES = ("ce", "mae")
STALL_FROM = 10                   # MNIST-1D: MAE's clean-sample fit from this epoch to the last is the "stall"
CONFIG = {                        # per scale: the setting trained and the symmetric noise rate studied
    # "large" is the classroom setting with more seeds: the share window (epochs 2-40) and every claim
    # stay the same runs' statements, checked on seeds 0-4.
    "classroom": dict(setting=SETTINGS["classroom"][SETTING], rate=0.4),
    "large": dict(setting=SETTINGS["classroom"][SETTING], rate=0.4),
}


def noise_label(rate: float) -> str:
    """The sweep's label of symmetric noise at ``rate`` ("sym 0.4")."""
    return f"sym {rate:g}"


def _noise(rate: float) -> tuple:
    return (noise_label(0), noise_label(rate))


def studied_noise(course) -> str:
    """The noise label of the scale's studied rate, e.g. "sym 0.4"."""
    return noise_label(CONFIG[course.scale]["rate"])


def curves_at(result, noise: str, *metrics: str):
    """Per-epoch ``metrics`` of ``result``'s runs at ``noise`` (long frame, one row per run and epoch)."""
    curves = result.curves(*metrics)
    return curves[curves["noise"] == noise]


def clean_curves(result):
    """Per-epoch test and training accuracy of ``result``'s runs on clean labels (long frame)."""
    return curves_at(result, noise_label(0), "test_acc", "train_acc")


def describe(course) -> str:
    """One line saying what the live experiment trains at the course's scale (from ``CONFIG``)."""
    cfg = CONFIG[course.scale]
    s = cfg["setting"]
    return (f"{s.dataset}, an MLP, {s.epochs} epochs, {len(course.seeds)} seeds (seeds {list(course.seeds)}), "
            f"CCE and MAE on clean labels and with {cfg['rate']:.0%} of the labels flipped (symmetric noise)")


def gradient_runs(course):
    """CE and MAE on clean labels and at the scale's symmetric rate, one run per seed (trained, or
    read from the lesson cache). Returns the :class:`nblib.sweep.SweepResult`."""
    cfg = CONFIG[course.scale]
    return runs.run(cfg["setting"], SETTING, losses=LOSSES, noise=_noise(cfg["rate"]),
                    seeds=course.seeds, device=course.device, progress=False)


def stored_runs(rate: float = STORED_RATE):
    """CE and MAE on clean labels and at symmetric ``rate`` from the stored MNIST-1D grid (no training)."""
    from ...sweep import load_grid

    grid = dataclasses.replace(GRIDS[STORED_GRID], losses=LOSSES, noise=_noise(rate))
    return load_grid(grid)


def share_window(result) -> tuple[int, int]:
    """The epochs (first, last; 1-based) over which the lesson averages the gradient share, on every
    dataset: from epoch 2 (epoch 1 starts from a uniform prediction) to half the run (2-40 on digits,
    2-15 on the stored MNIST-1D runs). The second half is reported apart (:func:`share_halves`)."""
    return 2, max(2, result.grid.epochs // 2)


def share_halves(result) -> tuple[tuple[int, int], tuple[int, int]]:
    """The two stretches the share is averaged over: :func:`share_window` and the rest of the run."""
    first, last = share_window(result)
    return (first, last), (last + 1, result.grid.epochs)


def share_excess(result, loss: str, noise: str, epochs: tuple[int, int]) -> np.ndarray:
    """Per seed: the mean over ``epochs`` (first, last; 1-based, inclusive) of the share of the
    gradient on flipped samples minus the share of flipped samples (> 0: more than their share)."""
    rates = result.per_seed("realised_noise_rate", loss=loss, noise=noise)
    first, last = epochs
    return np.array([np.mean(h.flipped_grad_share[first - 1:last]) - r
                     for h, r in zip(result.histories(loss=loss, noise=noise), rates)])


def share_table(result, noise: str):
    """Per loss at ``noise``, mean ± sd over seeds: the gradient share on flipped samples minus their
    share, over each half of the run (:func:`share_halves`), the best and final test accuracy and the
    drop between them, and the flipped samples fitted to their wrong label at the end (in %)."""
    cells = dataclasses.replace(result, results=[r for r in result.results if r["label"]["noise"] == noise])
    return runs.seed_summary(cells, {
        **{f"share - fraction, epochs {a}-{b}": (lambda loss, n, w=(a, b): share_excess(result, loss, n, w))
           for a, b in share_halves(result)},
        "best test acc": "best_test_acc", "final test acc": "final_test_acc",
        "drop from best": lambda loss, n: test_acc_drop(result, loss, n),
        "flipped fitted": "final_flipped_acc_noisy"}, rows="loss")


def print_share_per_seed(result, noise: str) -> None:
    """Print, per loss and half of the run, the share minus the fraction on each seed (in points)."""
    for first, last in share_halves(result):
        for loss in LOSSES:
            values = share_excess(result, loss, noise, (first, last))
            print(f"{loss.upper():4s} share - fraction, epochs {first:2d}-{last:2d}, per seed: "
                  + ", ".join(f"{100 * v:+5.1f}" for v in values) + " points")


def share_panels(title: str, result, noise: str) -> dict:
    """The argument of :func:`figures.gradient_share_figure` for one dataset: {title: (share
    curves at ``noise``, mean share of flipped labels)}."""
    return {title: (curves_at(result, noise, "flipped_grad_share"),
                    float(result.per_seed("realised_noise_rate", loss=LOSSES[0], noise=noise).mean()))}


def first_epoch_acc(result, loss: str, noise: str = noise_label(0)) -> np.ndarray:
    """Per seed: test accuracy after the first epoch."""
    return np.array([h.test_acc[0] for h in result.histories(loss=loss, noise=noise)])


def test_acc_drop(result, loss: str, noise: str) -> np.ndarray:
    """Per seed: best minus final test accuracy (how much of its peak a run loses by the end)."""
    return result.per_seed("best_test_acc", loss=loss, noise=noise) - result.per_seed("final_test_acc", loss=loss,
                                                                                    noise=noise)


def clean_fit_rise(result, loss: str, noise: str, start: int = STALL_FROM) -> np.ndarray:
    """Per seed: the fraction of clean training samples fitted at the last epoch minus at epoch
    ``start`` (1-based): near 0 means the loss has stopped learning the clean samples."""
    return np.array([h.clean_acc[-1] - h.clean_acc[start - 1] for h in result.histories(loss=loss, noise=noise)])


def final_accuracy_table(result, noise: str, metric: str = "final_test_acc"):
    """``metric`` per loss (rows) and seed (columns) at ``noise``: the spread seed by seed."""
    import pandas as pd

    seeds = list(result.grid.seeds)
    return pd.DataFrame({f"seed {s}": [result.per_seed(metric, loss=loss, noise=noise)[i] for loss in LOSSES]
                         for i, s in enumerate(seeds)}, index=[loss.upper() for loss in LOSSES]).round(3)
