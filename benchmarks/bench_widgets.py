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

import nblib
from nblib.course.lesson03 import figures as gce_plots
from nblib.course.lesson02 import figures as gradient_plots
from nblib.course.lesson01 import figures as noise_plots
from nblib.course.lesson04 import widgets as apl_widgets
from nblib.course.lesson05 import widgets as correction_widgets
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
    sharpness = real_noise_widgets.SharpnessExplorer(nblib.difficulty.uncertainty(probs, digits.y_train),
                                                     digits.y_train, nblib.human_noise.transition("worse"))
    return {
        ("01", "noise rate"): (partial(noise_plots.noise_view, labels=digits.y_train), dict(kind="symmetric", rate=0.45)),
        ("02", "p_y"): (gradient_plots.logit_gradient_view, dict(p_y=0.13)),
        ("03", "q (blitted PNG)"): (explorer.png, dict(q=0.45)),
        ("03", "q (full redraw)"): (gce_widgets.update_q, dict(q=0.45, batch=batch)),
        ("03", "k"): (partial(gce_widgets.update_truncation, p_y=batch["p_y"], flipped=batch["flipped"]), dict(k=0.65)),
        ("03", "playground q (trains)"): (gce_widgets.update_playground, dict(loss="gce", q=0.9)),
        ("04", "logit scale"): (apl_widgets.class_sum_update, dict(loss="nce", scale=4.5)),
        ("05", "clean P(y=1|x)"): (correction_widgets.update_expected_loss, dict(p_clean=0.85)),
        ("05", "eta"): (partial(correction_widgets.update_conditioning, probs=probs, labels=noisy.numpy()),
                        dict(family="symmetric", eta=0.45)),
        ("05", "percentile"): (partial(correction_widgets.update_estimation, probs=probs, T=T),
                               dict(percentile=100.0)),
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
