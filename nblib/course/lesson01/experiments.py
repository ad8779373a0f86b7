"""Lesson 1's experiment: cross entropy on noisy digits labels, at several symmetric rates, over seeds.

The setting is the course's ``"memorise"`` (``nblib.course.settings``: digits MLP, 80 epochs, 300
training images held out as a validation set whose labels get the same noise). The runs are a
sweep grid cached under the setting's name, so lessons 2 and 3 reuse the same cross-entropy runs
(same config, same cache key) and print the same numbers.
"""
from __future__ import annotations

import numpy as np

from .. import runs
from ..settings import SETTINGS

__all__ = ["SETTING", "CONFIG", "MAIN_RATE", "noise_label", "load_data", "memorisation", "memorisation_table",
           "affine_check", "class_dependent_example", "at_best_epoch", "affine_gap"]

SETTING = "memorise"          # the setting, and the name of its cache folder shared by lessons 1-3
CONFIG = {                    # the symmetric noise rates trained, per scale
    "classroom": dict(rates=(0.0, 0.2, 0.4, 0.6)),
    "large": dict(rates=(0.0, 0.2, 0.4, 0.6, 0.8)),
}
MAIN_RATE = 0.4               # the rate the lesson discusses in detail


def noise_label(rate: float) -> str:
    """The sweep's label of symmetric noise at ``rate`` ("sym 0.4")."""
    return f"sym {rate:g}"


def load_data(course):
    """The setting's dataset (digits with its validation split) on the course's device."""
    return SETTINGS[course.scale][SETTING].load(course.device)


def memorisation(course, rates=None):
    """Cross entropy at each symmetric noise rate (default: the scale's ``CONFIG``), one run per seed;
    trained, or read from the lesson cache. Returns the :class:`nblib.sweep.SweepResult`."""
    rates = CONFIG[course.scale]["rates"] if rates is None else rates
    return runs.run(SETTINGS[course.scale][SETTING], SETTING, losses=("ce",), noise=[noise_label(r) for r in rates],
                    seeds=course.seeds, device=course.device, progress=False)


def _drop(result):
    return lambda loss, noise: (result.per_seed("best_test_acc", loss=loss, noise=noise)
                                - result.per_seed("final_test_acc", loss=loss, noise=noise))


def memorisation_table(result):
    """Per noise rate, mean ± sd over seeds: the share of labels flipped, best test accuracy and its
    epoch, final test accuracy, the drop, the flipped samples fitted to their wrong label at the end,
    and the test accuracy of the epoch a noisy validation set selects (accuracies in %)."""
    return runs.seed_summary(result, {
        "labels flipped": "realised_noise_rate", "best test acc": "best_test_acc", "best epoch": "best_epoch",
        "final test acc": "final_test_acc", "drop": _drop(result),
        "flipped fitted": "final_flipped_acc_noisy", "noisy-val pick": "val_selected_test_acc"}, rows="noise")


def affine_check(rate: float, num_classes: int, accuracies=(0.5, 0.7, 0.9), n: int = 1000, draws: int = 200,
                 seed: int = 0):
    """The affine map checked by sampling: for classifiers of the given clean accuracies (errors spread
    at random over the wrong classes), the mean accuracy against ``draws`` symmetric corruptions of
    ``n`` balanced labels, beside ``nblib.theory.symmetric_noisy_accuracy``. Returns a DataFrame."""
    import pandas as pd

    from ... import noise, theory

    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(num_classes), n // num_classes)
    T = noise.transition_matrix("symmetric", num_classes, rate)
    rows = []
    for acc in accuracies:
        wrong = rng.random(len(y)) >= acc
        pred = np.where(wrong, (y + rng.integers(1, num_classes, len(y))) % num_classes, y)
        clean = float(np.mean(pred == y))
        sampled = np.mean([np.mean(pred == np.asarray(noise.corrupt_labels(y, T, seed=s)[0])) for s in range(draws)])
        rows.append({"clean accuracy": clean, "noisy accuracy (sampled)": sampled,
                     "affine map": theory.symmetric_noisy_accuracy(clean, rate, num_classes)})
    return pd.DataFrame(rows)


def class_dependent_example(rate: float = 0.4, num_classes: int = 10):
    """Where noisy validation fails: pair noise (i -> i+1) at ``rate`` and three classifiers whose
    errors go along the noise (predict i+1) or against it (predict i-1). Their accuracy against the
    noisy labels (``nblib.theory.noisy_accuracy``) does not rank them by clean accuracy. Returns a DataFrame."""
    import pandas as pd

    from ... import noise, theory

    T = noise.transition_matrix("pair", num_classes, rate)
    eye = np.eye(num_classes)
    models = {"80% right, errors along the noise": 0.8 * eye + 0.2 * np.roll(eye, 1, axis=1),
              "80% right, errors against the noise": 0.8 * eye + 0.2 * np.roll(eye, -1, axis=1),
              "70% right, errors along the noise": 0.7 * eye + 0.3 * np.roll(eye, 1, axis=1)}
    return pd.DataFrame([{"classifier": name, "clean accuracy": float(np.mean(np.diag(C))),
                          "accuracy on noisy labels": theory.noisy_accuracy(C, T)} for name, C in models.items()]
                        ).set_index("classifier")


def at_best_epoch(result, curve: str, noise: str, loss: str = "ce") -> np.ndarray:
    """Per seed: the value of a per-epoch ``curve`` (e.g. "flipped_acc_true") at that seed's best epoch
    (highest test accuracy)."""
    return np.array([getattr(h, curve)[h.best_epoch - 1] for h in result.histories(loss=loss, noise=noise)])


def affine_gap(result, rate: float, num_classes: int, loss: str = "ce") -> np.ndarray:
    """Per seed: the mean over epochs of |noisy validation accuracy - affine map of the test accuracy|,
    how closely ``nblib.theory.symmetric_noisy_accuracy`` describes the run (300 validation images
    carry a sampling error of about 3 points per epoch)."""
    from ... import theory

    return np.array([np.mean(np.abs(np.asarray(h.val_acc)
                                    - theory.symmetric_noisy_accuracy(np.asarray(h.test_acc), rate, num_classes)))
                     for h in result.histories(loss=loss, noise=noise_label(rate))])
