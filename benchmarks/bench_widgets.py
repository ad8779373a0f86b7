"""How long a student waits per slider move, for the sliders of every lesson.

Each row is ``nblib.course.widgets.time_update``: the widget's update function plus rendering its
result to the PNG the browser receives (median of ``--repeats`` moves, after one warm-up move).
Inputs are what the notebooks pass: real digits / mnist1d labels and an untrained model's
predictions (the cost of a redraw does not depend on how well the model is trained). Live sliders
(lessons 1-3: figure built once, only what moves re-rendered, "blitted PNG") are timed while being
dragged: every move goes to the next position of the slider. Their full matplotlib redraw is shown
beside them for comparison. The slider moves whose update trains a model (lesson 3's playground) are
marked; the notebook redraws those only when the handle is released (``continuous_update=False``).

    python benchmarks/bench_widgets.py [--repeats 5] [--threads 1] [--only 05 ...]
"""
from __future__ import annotations

import itertools
from functools import partial

from _common import cli, md_table

import numpy as np

import nblib
from nblib.course import lesson01, lesson02, lesson03
from nblib.course.lesson04 import figures as apl_plots
from nblib.course.lesson04 import widgets as apl_widgets
from nblib.course.lesson05 import figures as correction_plots
from nblib.course.lesson07 import widgets as real_noise_widgets
from nblib.course.widgets import SLOW_UPDATE_S, time_update

NOISE_RATE = 0.4


def _drag(update, name: str, positions, **fixed):
    """A slider being dragged: each call moves ``name`` to the next of ``positions`` (so nothing a
    move computes, e.g. a number's glyph, is cached from the same position the call before)."""
    positions = itertools.cycle(positions)
    return lambda: update(**{name: next(positions)}, **fixed)


def _retrain(update):
    """A retraining slider's move without the playground's cache of trained positions."""
    def move(**values):
        lesson03.widgets._playground.cache_clear()
        return update(**values)
    return move


def cases() -> dict:
    """{(lesson, slider): (update, values)}: one slider move each, with the notebook's inputs."""
    memorise = nblib.course.settings.setting("memorise")
    digits = memorise.load("cpu")             # lessons 1-3's data: digits, 1137 training images
    T = nblib.noise.transition_matrix("symmetric", digits.num_classes, NOISE_RATE)
    noisy, flipped = nblib.noise.corrupt_labels(digits.y_train, T, seed=0, exact=True)
    model = nblib.models.make_model("auto", digits, seed=0)
    probs = nblib.train.predict_proba(model, digits.x_train).numpy()
    batch = lesson03.experiments.gradient_batch(model, digits, noisy, flipped)
    lq = lesson03.figures.LqExplorer(**batch)
    noise = lesson01.figures.NoiseExplorer(digits.y_train)
    grads = lesson02.figures.GradientExplorer(10)
    trunc = lesson03.figures.TruncationExplorer(batch["p_y"], batch["flipped"])
    sweep = lesson03.figures.RunExplorer(lesson03.experiments.stored_q_sweep())
    rates = [round(0.05 * i, 2) for i in range(1, 19)]
    base = apl_widgets.random_logits(apl_widgets.DEFAULT_NUM_RANDOM, digits.num_classes, 1.0)
    class_sums = apl_plots.ClassSumExplorer("nce", lambda scale: scale * base)
    # lesson 5's explorers read a CE model's predictions under the digit map: a few epochs give realistic ones
    T_map = nblib.noise.transition_matrix("asymmetric", digits.num_classes, NOISE_RATE, mapping="digits")
    mapped, _ = nblib.noise.corrupt_labels(digits.y_train, T_map, seed=0, exact=True)
    ce = nblib.models.make_model("auto", digits, seed=0)
    snapshots = []
    nblib.fit(ce, digits, y_train=mapped, epochs=3, progress=False, device="cpu",
              callback=lambda epoch, model, hist: snapshots.append(nblib.train.predict_proba(model, digits.x_train).numpy()))
    logits = nblib.train.predict_logits(ce, digits.x_train)
    toy = correction_plots.ExpectedLossExplorer()
    conditioning = correction_plots.ConditioningExplorer(logits, mapped, "symmetric")
    estimation = correction_plots.EstimationExplorer(np.stack(snapshots), T_map, [0.5, 0.6, 0.55])
    sharpness = real_noise_widgets.SharpnessExplorer(nblib.difficulty.uncertainty(probs, digits.y_train),
                                                     digits.y_train, nblib.human_noise.transition("worse"))
    return {
        ("01", "noise rate (blitted PNG, live)"): (_drag(noise.png, "rate", rates, kind="symmetric"), {}),
        ("01", "noise rate (full redraw)"): (partial(lesson01.figures.noise_view, labels=digits.y_train),
                                             dict(kind="symmetric", rate=0.45)),
        ("02", "p_y (blitted PNG, live)"): (_drag(grads.png, "p_y", [0.05 + 0.05 * i for i in range(18)]), {}),
        ("02", "p_y (full redraw)"): (lesson02.figures.logit_gradient_view, dict(p_y=0.13)),
        ("03", "q (blitted PNG, live)"): (_drag(lq.png, "q", [0.01 * 1.3 ** i for i in range(18)]), {}),
        ("03", "q (full redraw)"): (lesson03.widgets.update_q, dict(q=0.45, batch=batch)),
        ("03", "k (blitted PNG, live)"): (_drag(trunc.png, "k", rates), {}),
        ("03", "k (full redraw)"): (partial(lesson03.widgets.update_truncation, p_y=batch["p_y"],
                                            flipped=batch["flipped"]), dict(k=0.65)),
        ("03", "sweep run (blitted PNG, live)"): (_drag(sweep.png, "label", sweep.labels), {}),
        ("03", "playground q (trains, on release)"): (_retrain(lesson03.widgets.update_playground),
                                                      dict(loss="gce", q=0.9)),
        ("04", "logit scale (blitted PNG, live)"): (_drag(class_sums.png, "scale", [1 + 0.25 * i for i in range(18)]), {}),
        ("05", "clean P(y=1|x) (blitted PNG, live)"): (_drag(toy.png, "p_clean", [0.05 * i for i in range(1, 20)],
                                                             e01=0.1, e10=0.4), {}),
        ("05", "eta (blitted PNG, live)"): (_drag(conditioning.png, "eta", [0.05 * i for i in range(17)]), {}),
        ("05", "anchor percentile (blitted PNG, live)"): (_drag(estimation.png, "percentile", [90 + i for i in range(11)],
                                                                epoch=3, filter_outliers=True), {}),
        ("05", "CE model epoch (blitted PNG, live)"): (_drag(estimation.png, "epoch", [1, 2, 3], percentile=97.0,
                                                             filter_outliers=True), {}),
        ("07", "sharpness (blitted PNG, live)"): (_drag(sharpness.png, "sharpness", [0.5 * i for i in range(11)]), {}),
    }


def run(repeats: int = 5, only=None) -> list[dict]:
    """Time every case, or only those of the lessons ``only`` (e.g. ["05"])."""
    rows = []
    for (lesson, name), (update, values) in cases().items():
        if only and lesson not in only:
            continue
        time_update(update, repeats=1, **values)        # warm-up: fonts, caches, lazy imports
        rows.append(dict(lesson=lesson, slider=name, ms=1000 * time_update(update, repeats=repeats, **values)))
    return rows


def report(rows) -> str:
    return md_table(["lesson", "slider", "per move (ms)", f"live while dragging (< {1000 * SLOW_UPDATE_S:.0f} ms)"],
                    [[r["lesson"], r["slider"], f"{r['ms']:.0f}", "yes" if r["ms"] < 1000 * SLOW_UPDATE_S
                      else "on release"] for r in rows])


if __name__ == "__main__":
    a = cli(__doc__, repeats=5, device=False,
            extra=(("--only", dict(nargs="*", help="lessons to time, e.g. 05 (default: all)")),))
    print(report(run(a.repeats, a.only)))
