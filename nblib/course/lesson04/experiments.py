"""Lesson 4's experiments: CE, NCE and NCE+RCE in the course's ``memorise`` setting, over seeds.

Runs go through :func:`nblib.course.runs.run` under the experiment name ``EXPERIMENT``, the cache
folder of every lesson that trains this setting: a run shared with lessons 1-3 (CE at symmetric
0.4, ...) is trained once and gives the same numbers there and here. Two conditions:

- clean labels: does NCE underfit when there is no noise?
- symmetric noise 0.4: how well does each loss fit the correctly labelled training samples, how
  many flipped labels does it fit, how far does its test accuracy fall from its best epoch, and
  where does its gradient go?

The same setting's losses at every symmetric rate are in lesson 6's stored digits grid
(``GRIDS["digits-classroom"]``): :func:`rate_results` loads it for the comparison across rates.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..._checks import check_choice
from ..runs import run
from ..settings import GRIDS, SCALES, SEEDS, SETTINGS

__all__ = ["CONFIG", "EXPERIMENT", "RATE_LOSSES", "RATES", "describe", "hard_results", "run_conditions", "per_seed", "fit_table", "grad_share", "rate_results",
           "LOSS_SCALE", "loss_scale_runs"]

EXPERIMENT = "memorise"       # the runs.run cache folder shared by the lessons that train this setting
RATE_LOSSES = ("ce", "mae", "gce", "sce", "nce", "nce+rce", "nce+mae")   # the comparison across rates
RATES = ("sym 0.2", "sym 0.4", "sym 0.6", "sym 0.8")
_MEMORISE = SETTINGS["classroom"]["memorise"]
_CONDITIONS = {"clean labels": ("sym 0", ("ce", "nce")),
               "40% symmetric noise": ("sym 0.4", ("ce", "nce", "nce+rce"))}
# Per scale: the setting, the seeds, each condition's noise and losses, the epochs over which gradient
# shares are averaged (from the second epoch to half the run: later, once a bounded loss has fitted
# what it fits, its per-epoch share is a ratio of tiny gradients and jumps around) and the second
# half's window, and the stored grid of the comparison across rates (None: train it).
# "large" is the classroom setting (80 epochs) with 5 seeds: the only longer setting measured (200
# epochs) turns 6 of the lesson's statements false (NCE fits nearly every flipped label there), so
# the lesson checks its statements in the one setting it discusses, on more seeds. The stored grid
# has 3 seeds, so "large" trains the comparison across rates itself (140 runs: a GPU's job).
CONFIG = {
    "classroom": dict(setting=_MEMORISE, seeds=SEEDS["classroom"], conditions=_CONDITIONS,
                      share_epochs=(2, 40), late_epochs=(41, 80), grid="digits-classroom"),
    "large": dict(setting=replace(_MEMORISE), seeds=SEEDS["large"], conditions=_CONDITIONS,
                  share_epochs=(2, 40), late_epochs=(41, 80), grid=None),
}
# MNIST-1D (lesson 6's stored grid, setting "hard"): where MAE underfits clean labels.
HARD_GRID = "mnist1d-classroom"
OPTIMIZER_NAMES = {"adam": "Adam", "sgd": "SGD"}


def describe(scale: str = "classroom") -> str:
    """One line naming the lesson's setting and seeds at ``scale`` (printed, so the text never
    hard-codes them)."""
    cfg = CONFIG[check_choice("scale", scale, SCALES)]
    s = cfg["setting"]
    return (f"{s.dataset}, MLP {tuple(s.model_kw.get('hidden', (128, 128)))}, {s.epochs} epochs, "
            f"{OPTIMIZER_NAMES.get(s.optimizer, s.optimizer)} lr {s.lr:g}, "
            f"batch {s.batch_size}; seeds {', '.join(map(str, cfg['seeds']))}; gradient shares averaged over "
            f"epochs {cfg['share_epochs'][0]}-{cfg['share_epochs'][1]}")


def run_conditions(scale: str = "classroom", seeds=None, device=None, progress: bool = True) -> dict:
    """{condition: SweepResult} for the conditions of ``CONFIG[scale]`` (trained, or loaded from the cache)."""
    check_choice("scale", scale, SCALES)
    cfg = CONFIG[scale]
    seeds = tuple(cfg["seeds"] if seeds is None else seeds)
    return {cond: run(cfg["setting"], EXPERIMENT, losses=losses, noise=(noise,), seeds=seeds, device=device,
                      progress=progress)
            for cond, (noise, losses) in cfg["conditions"].items()}


def grad_share(result, loss: str, epochs=(2, 40)) -> np.ndarray:
    """Per seed: the share of the gradient (on the logits) carried by flipped samples, averaged over
    ``epochs`` (first, last; 1-based, inclusive) of run ``loss`` of ``result``."""
    first, last = epochs
    return np.array([np.mean(h.flipped_grad_share[first - 1:last]) for h in result.histories(loss=loss)])


def per_seed(result, loss: str, metric: str, share_epochs=(2, 40)) -> np.ndarray:
    """Per seed values of run ``loss``: a stored metric (``final_test_acc``, ``best_test_acc``,
    ``memorisation_gap``), the last epoch of a history curve (``clean_acc``: fit of the correctly
    labelled training samples; ``flipped_acc_noisy``: flipped samples fitted to their wrong label),
    or ``grad_share`` (:func:`grad_share`)."""
    if metric == "grad_share":
        return grad_share(result, loss, share_epochs)
    return result.per_seed(metric, loss=loss)


FIT_COLUMNS = {"best_test_acc": "best test", "final_test_acc": "final test", "memorisation_gap": "best - final",
               "clean_acc": "fit: clean samples", "flipped_acc_noisy": "fit: flipped samples",
               "grad_share": "gradient on flipped"}


def fit_table(results: dict, share_epochs=(2, 40), digits: int = 3):
    """DataFrame, one row per (condition, loss): "mean ± sd" over seeds of the columns of ``FIT_COLUMNS``
    (fit columns: training samples at the last epoch; gradient share: averaged over ``share_epochs``)."""
    import pandas as pd

    rows = {}
    for cond, res in results.items():
        noisy = not cond.startswith("clean")
        for loss in dict.fromkeys(res.frame()["loss"]):
            row = {}
            for metric, name in FIT_COLUMNS.items():
                if metric in ("flipped_acc_noisy", "grad_share") and not noisy:
                    row[name] = ""
                    continue
                v = per_seed(res, loss, metric, share_epochs)
                row[name] = f"{v.mean():.{digits}f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.{digits}f}"
            rows[(cond, loss)] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = ["condition", "loss"]
    return table


def rate_results(scale: str = "classroom", losses=None, device=None, progress: bool = True):
    """Every symmetric rate for ``losses`` in this lesson's setting, as a SweepResult: at classroom
    scale lesson 6's stored grid (``nblib.sweep.load_grid``, no training); at "large" the same runs
    trained (or loaded from the cache) on that scale's seeds."""
    from ...sweep import load_grid

    cfg = CONFIG[check_choice("scale", scale, SCALES)]
    if cfg["grid"] is not None:
        return load_grid(GRIDS[cfg["grid"]])
    return run(cfg["setting"], EXPERIMENT, losses=RATE_LOSSES if losses is None else losses, noise=RATES,
               seeds=cfg["seeds"], device=device, progress=progress)


def hard_results():
    """Lesson 6's stored MNIST-1D grid (setting "hard", 3 seeds): where the passive loss underfits."""
    from ...sweep import load_grid

    return load_grid(GRIDS[HARD_GRID])


# Exercise 7: does multiplying a loss by a constant change training? NCE and NCE x factor, same labels,
# seed and initial weights, a few epochs of the lesson's setting, once with Adam (the lesson's
# optimizer) and once with SGD (momentum 0.9, as Ma et al.; its learning rate a plain choice that
# trains NCE x factor). Measured on seeds 0-4, both CPU kernels: Adam's two runs end within a point
# or two of test accuracy, SGD's tens of points apart (NCE alone barely moves at that learning rate).
LOSS_SCALE = dict(loss="nce", factor=50.0, rate=0.4, epochs=5, seed=0, sgd_lr=0.1)


def loss_scale_runs(device=None, **kw) -> dict:
    """{(optimizer, factor): final test accuracy} for ``LOSS_SCALE``'s loss scaled by 1 and by its
    factor (``sample_weight`` = the factor for every sample: the loop minimises mean(w L)), with Adam
    at the lesson's learning rate and with SGD at ``sgd_lr``. ``kw`` overrides ``LOSS_SCALE``."""
    import torch

    from ... import noise as _noise
    from ...train import fit

    cfg = {**LOSS_SCALE, **kw}
    data = _MEMORISE.load(device=device)
    T = _noise.transition_matrix("symmetric", data.num_classes, cfg["rate"])
    noisy, flipped = _noise.corrupt_labels(data.y_train, T, seed=cfg["seed"], exact=True)
    out = {}
    for optimizer, lr in (("adam", _MEMORISE.lr), ("sgd", cfg["sgd_lr"])):
        for factor in (1.0, float(cfg["factor"])):
            model = _MEMORISE.make_model(data, cfg["seed"])
            weight = torch.full((len(noisy),), factor, device=noisy.device)
            hist = fit(model, data, loss=cfg["loss"], y_train=noisy, flipped=flipped, epochs=cfg["epochs"],
                       batch_size=_MEMORISE.batch_size, lr=lr, optimizer=optimizer, sample_weight=weight,
                       seed=cfg["seed"], eval_train=False, progress=False, device=device)
            out[(optimizer, factor)] = hist.final_test_acc
    return out
