"""Lesson 1's experiment: cross entropy on noisy digits labels, at several symmetric rates and one
pair-noise rate, over seeds.

The setting is the course's classroom ``"memorise"`` (``nblib.course.settings``: digits MLP, 80 epochs,
300 training images held out as a validation set whose labels get the same noise), at both scales:
"large" only adds seeds (``SEEDS["large"]``) and the 80% rate, so every run of the classroom scale is
one of the large scale's too (same cache entries). The runs are a sweep grid cached under the
setting's name, so lessons 2 and 3 reuse the same cross-entropy runs and print the same numbers.
"""
from __future__ import annotations

import numpy as np

from .. import runs
from ..settings import SETTINGS

__all__ = ["SETTING", "CONFIG", "MAIN_RATE", "PAIR_RATE", "CLAIM_RATES", "noise_label", "pair_label", "setting",
           "describe", "load_data", "memorisation", "memorisation_table", "affine_check", "class_dependent_example",
           "at_best_epoch", "fitted_slope", "realised_rate_spread", "selection_per_seed", "validation_error_table"]

SETTING = "memorise"          # the setting, and the name of its cache folder shared by lessons 1-3
CONFIG = {                    # per scale: the training setting and the noise rates trained
    "classroom": dict(setting=SETTINGS["classroom"][SETTING], rates=(0.0, 0.2, 0.4, 0.6)),
    # the classroom setting itself with SEEDS["large"] (5 seeds) and an 80% rate: the claims are
    # checked on 5 seeds, and 0.8 shows where a noisy validation set stops finding the peak
    "large": dict(setting=SETTINGS["classroom"][SETTING], rates=(0.0, 0.2, 0.4, 0.6, 0.8)),
}
MAIN_RATE = 0.4               # the rate the lesson discusses in detail
PAIR_RATE = 0.4               # the pair-noise (i -> i+1) run beside the symmetric ones, at both scales
CLAIM_RATES = (0.2, 0.4, 0.6)  # the rates the lesson's claims are about (trained at every scale)


def noise_label(rate: float) -> str:
    """The sweep's label of symmetric noise at ``rate`` ("sym 0.4")."""
    return f"sym {rate:g}"


def pair_label(rate: float = PAIR_RATE) -> str:
    """The sweep's label of pair noise at ``rate`` ("pair 0.4")."""
    return f"pair {rate:g}"


def setting(course):
    """The lesson's training setting at the course's scale (:class:`nblib.sweep.Setting`)."""
    return CONFIG[course.scale]["setting"]


def describe(course) -> str:
    """One sentence saying what :func:`memorisation` trains at the course's scale, read from ``CONFIG``."""
    s, rates = setting(course), CONFIG[course.scale]["rates"]
    sym = ", ".join(f"{r:.0%}" for r in rates)
    return (f"{s.epochs} epochs, batch {s.batch_size}, learning rate {s.lr:g}, on symmetric noise at {sym} and "
            f"pair noise at {PAIR_RATE:.0%}, {len(course.seeds)} seeds {list(course.seeds)}")


def load_data(course):
    """The setting's dataset (digits with its validation split) on the course's device."""
    return setting(course).load(course.device)


def memorisation(course, rates=None):
    """Cross entropy at each symmetric noise rate (default: the scale's ``CONFIG``) and at pair noise
    ``PAIR_RATE``, one run per seed, in one stack; trained, or read from the lesson cache.
    Returns the :class:`nblib.sweep.SweepResult`."""
    rates = CONFIG[course.scale]["rates"] if rates is None else rates
    return runs.run(setting(course), SETTING, losses=("ce",), noise=[*(noise_label(r) for r in rates), pair_label()],
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


def realised_rate_spread(labels, T, draws: int = 200) -> dict:
    """How the realised flip rate of independent draws scatters: ``labels`` corrupted by ``T`` with seeds
    0 .. draws-1 (``nblib.noise.corrupt_labels``). Returns the per-seed ``rates`` and their ``mean``,
    ``sd``, ``min`` and ``max``."""
    from ... import noise

    rates = np.array([noise.realised_rate(labels, noise.corrupt_labels(labels, T, seed=s)[0]) for s in range(draws)])
    return dict(rates=rates, mean=float(rates.mean()), sd=float(rates.std(ddof=1)), min=float(rates.min()),
                max=float(rates.max()))


def at_best_epoch(result, curve: str, noise: str, loss: str = "ce") -> np.ndarray:
    """Per seed: the value of a per-epoch ``curve`` (e.g. "flipped_acc_true") at that seed's best epoch
    (highest test accuracy)."""
    return np.array([getattr(h, curve)[h.best_epoch - 1] for h in result.histories(loss=loss, noise=noise)])


def fitted_slope(result, noise: str, loss: str = "ce") -> np.ndarray:
    """Per seed: the slope of the least-squares line through the (test accuracy, noisy validation
    accuracy) pairs of the epochs, to set beside the affine map's slope
    (``nblib.theory.symmetric_noisy_slope``). A flat line (validation blind to the clean accuracy) has slope 0."""
    return np.array([np.polyfit(h.test_acc, h.val_acc, 1)[0] for h in result.histories(loss=loss, noise=noise)])


def selection_per_seed(result, noises, loss: str = "ce"):
    """Per noise and seed: the best epoch (highest test accuracy) and its test accuracy, the epoch the
    noisy validation set picks and its test accuracy, and what the pick lost (best - picked, in %).
    Returns a DataFrame indexed by (noise, seed)."""
    import pandas as pd

    rows = []
    for nz in noises:
        cols = {m: result.per_seed(m, loss=loss, noise=nz) for m in
                ("best_epoch", "val_selected_epoch", "best_test_acc", "val_selected_test_acc")}
        for i, h in enumerate(result.histories(loss=loss, noise=nz)):
            rows.append({"noise": nz, "seed": h.config.get("seed", i),
                         "best epoch": int(cols["best_epoch"][i]), "picked epoch": int(cols["val_selected_epoch"][i]),
                         "best test acc": 100 * cols["best_test_acc"][i],
                         "picked test acc": 100 * cols["val_selected_test_acc"][i],
                         "lost": 100 * (cols["best_test_acc"][i] - cols["val_selected_test_acc"][i])})
    return pd.DataFrame(rows).set_index(["noise", "seed"]).round(1)


def validation_error_table(clean_accuracy: float, rates, num_classes: int, n: int):
    """Per symmetric rate: the affine map's slope and the standard error of ``n`` noisy validation
    labels, in noisy and in clean-accuracy units, for a classifier of clean accuracy ``clean_accuracy``
    (``nblib.theory.noisy_validation_error``), beside the error of ``n`` clean labels (in points)."""
    import pandas as pd

    from ... import theory

    rows = {}
    for r in rates:
        e = theory.noisy_validation_error(clean_accuracy, r, num_classes, n)
        rows[f"{r:.0%}"] = {"slope": e["slope"], "noisy acc ± (points)": 100 * e["noisy_se"],
                            "clean-units ± (points)": 100 * e["clean_units_se"], "clean labels ± (points)": 100 * e["clean_se"]}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("noise rate")
