"""How long a student waits per slider move, for the sliders of every lesson.

Each row is ``nblib.course.widgets.time_update``: the widget's update function plus rendering its
result to the PNG the browser receives (median of ``--repeats`` moves, after one warm-up move).
Inputs are what the notebooks pass: real digits / mnist1d labels and an untrained model's
predictions (the cost of a redraw does not depend on how well the model is trained). The slider
moves whose update trains a model (lesson 3's playground) are marked; the notebook redraws those
only when the handle is released (``continuous_update=False``).

    python benchmarks/bench_widgets.py [--repeats 5] [--threads 1]
"""
from __future__ import annotations

from functools import partial

from _common import cli, md_table

import numpy as np

import nblib
from nblib.course.lesson03 import figures as gce_plots
from nblib.course.lesson02 import figures as gradient_plots
from nblib.course.lesson01 import figures as noise_plots
from nblib.course.lesson04 import figures as apl_plots
from nblib.course.lesson04 import widgets as apl_widgets
from nblib.course.lesson05 import figures as correction_plots
from nblib.course.lesson03 import widgets as gce_widgets
from nblib.course.lesson07 import widgets as real_noise_widgets
from nblib.course.widgets import SLOW_UPDATE_S, time_update

NOISE_RATE = 0.4


def cases() -> dict:
    """{(lesson, slider): (update, values)}: one slider move each, with the notebook's inputs."""
    digits = nblib.data.load("digits", device="cpu")
    T = nblib.noise.transition_matrix("symmetric", digits.num_classes, NOISE_RATE)
    noisy, flipped = nblib.noise.corrupt_labels(digits.y_train, T, seed=0, exact=True)
    model = nblib.models.make_model("auto", digits, seed=0)
    probs = nblib.train.predict_proba(model, digits.x_train).numpy()
    batch = gce_widgets.gradient_batch(model, digits, noisy, flipped)
    explorer = gce_plots.LqExplorer(batch["p_y"], batch["flipped"], batch["ce_grad_norm"])
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
        ("01", "noise rate"): (partial(noise_plots.noise_view, labels=digits.y_train), dict(kind="symmetric", rate=0.45)),
        ("02", "p_y"): (gradient_plots.logit_gradient_view, dict(p_y=0.13)),
        ("03", "q (blitted PNG)"): (explorer.png, dict(q=0.45)),
        ("03", "q (full redraw)"): (gce_widgets.update_q, dict(q=0.45, batch=batch)),
        ("03", "k"): (partial(gce_widgets.update_truncation, p_y=batch["p_y"], flipped=batch["flipped"]), dict(k=0.65)),
        ("03", "playground q (trains)"): (gce_widgets.update_playground, dict(loss="gce", q=0.9)),
        ("04", "logit scale (blitted PNG)"): (class_sums.png, dict(scale=4.5)),
        ("05", "clean P(y=1|x), flip rates (blitted PNG)"): (toy.png, dict(p_clean=0.85, e01=0.1, e10=0.4)),
        ("05", "eta (blitted PNG)"): (conditioning.png, dict(eta=0.45)),
        ("05", "anchor percentile (blitted PNG)"): (estimation.png, dict(epoch=3, percentile=95.5, filter_outliers=True)),
        ("05", "CE model epoch (blitted PNG)"): (estimation.png, dict(epoch=2, percentile=97.0, filter_outliers=True)),
        ("07", "sharpness (blitted PNG)"): (sharpness.png, dict(sharpness=2.5)),
    }


def run(repeats: int = 5) -> list[dict]:
    rows = []
    for (lesson, name), (update, values) in cases().items():
        time_update(update, repeats=1, **values)        # warm-up: fonts, caches, lazy imports
        rows.append(dict(lesson=lesson, slider=name, ms=1000 * time_update(update, repeats=repeats, **values)))
    return rows


def report(rows) -> str:
    return md_table(["lesson", "slider", "per move (ms)", f"live while dragging (< {1000 * SLOW_UPDATE_S:.0f} ms)"],
                    [[r["lesson"], r["slider"], f"{r['ms']:.0f}", "yes" if r["ms"] < 1000 * SLOW_UPDATE_S
                      else "on release"] for r in rows])


if __name__ == "__main__":
    a = cli(__doc__, repeats=5, device=False)
    print(report(run(a.repeats)))
