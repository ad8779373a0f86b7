"""Lesson 7's figures: human transition matrices, annotators, and the runs over seeds.

- ``transition_gallery``: CIFAR-10N's T (aggre, random1, worse) beside symmetric and pair noise at
  the same rate, and the per-class noise rates;
- ``cifar100_figure``: CIFAR-100N's 100 x 100 T ordered by superclass, and its 20 x 20 superclass T;
- ``joint_errors_figure``: how many images 0..3 annotators got wrong, observed vs independent;
- ``curves_figure``: per-epoch curves of a sweep, mean over seeds with a ±1 sd band (seaborn);
- ``paired_figure``: class-conditional vs instance-dependent noise, per loss: every seed a faint
  line between its two runs, the mean ± sd in bold.

Every number drawn comes from ``nblib.human_noise``, ``nblib.noise`` or the sweep results.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ... import human_noise
from ..figures import METRIC_LABELS, transition_heatmap
from ..style import OKABE_ITO, loss_color, loss_style, new_axes
from .analysis import PERCENT, superclass_order

BLANK_BELOW = 0.01     # matrix entries below 1 % are left blank: the pattern shows better
ZOOM_VMAX = 0.1        # colour range of the CIFAR-100N fine T: the diagonal saturates, the confusions show
SET_COLOURS = {"aggre": OKABE_ITO["green"], "random1": OKABE_ITO["blue"], "worse": OKABE_ITO["vermillion"]}


def _percent(v: float) -> str:
    return f"{PERCENT * v:.0f}"


def transition_gallery(matrices: dict, rates: pd.DataFrame):
    """Five 10 x 10 matrices (values in %, blanks below ``BLANK_BELOW``) and a panel of per-class noise rates."""
    names = human_noise.class_names()
    fig, axes = new_axes(ncols=3, nrows=2, width=3.9, height=3.7)
    for ax, (title, T) in zip(axes.flat, matrices.items()):
        transition_heatmap(T, ax=ax, title=f"{title} (%)", class_names=names, fmt=_percent, annot_min=BLANK_BELOW)
        ax.tick_params(axis="x", labelrotation=90, labelsize=7)
        ax.tick_params(axis="y", labelsize=7)
    ax = axes.flat[len(matrices)]
    width = 0.8 / rates.shape[1]
    x = np.arange(len(rates))
    for k, col in enumerate(rates.columns):
        ax.bar(x + (k - (rates.shape[1] - 1) / 2) * width, rates[col], width, label=col,
               color=SET_COLOURS.get(col, OKABE_ITO["grey"]))
    ax.set_xticks(x, rates.index, rotation=90, fontsize=7)
    ax.set_ylabel("share of the class's labels wrong")
    ax.set_title("per-class noise rate, 1 - T_ii")
    ax.legend(fontsize=7)
    for ax in axes.flat[len(matrices) + 1:]:
        ax.set_visible(False)
    return fig


def cifar100_figure():
    """CIFAR-100N: the fine T ordered by superclass (colour clipped at ``ZOOM_VMAX``) and the superclass
    T with the superclasses' full names; a colour bar each."""
    order = superclass_order()
    T = human_noise.transition("noisy", "cifar100n")[np.ix_(order, order)]
    fig, axes = new_axes(ncols=2, width=5.2, height=5.2)
    ax = axes[0, 0]
    transition_heatmap(T, ax=ax, annot=False, vmax=ZOOM_VMAX,
                       title=f"fine T (100 classes), by superclass;\ncolour clipped at {ZOOM_VMAX:g}")
    fig.colorbar(ax.images[0], ax=ax, shrink=0.7, label=f"T_ij (clipped at {ZOOM_VMAX:g})")
    ax.set_xticks(np.arange(2, 100, 5), [])
    ax.set_yticks(np.arange(2, 100, 5), [])
    ax.set_xlabel("human label (grouped in 20 superclasses of 5)")
    ax.set_ylabel("true class (same order)")
    ax = axes[0, 1]
    coarse = human_noise.transition("noisy_coarse", "cifar100n")
    transition_heatmap(coarse, ax=ax, annot=False, title="superclass T (20 superclasses)",
                       class_names=[n.replace("_", " ") for n in human_noise.class_names("cifar100n", "noisy_coarse")])
    fig.colorbar(ax.images[0], ax=ax, shrink=0.7, label="T_ij")
    ax.set_xlabel("human label's superclass")
    ax.set_ylabel("true superclass")
    ax.tick_params(axis="x", labelrotation=90, labelsize=6)
    ax.tick_params(axis="y", labelsize=6)
    return fig


def joint_errors_figure(sources: dict):
    """Bars per source: samples with 0..A annotators wrong, observed (solid) vs independent (hatched), log scale."""
    fig, axes = new_axes(ncols=len(sources), width=3.6, height=3.0)
    for ax, (name, res) in zip(axes[0], sources.items()):
        obs, ind = np.asarray(res["observed"], float), np.asarray(res["independent"], float)
        k = np.arange(len(obs))
        ax.bar(k - 0.2, obs, 0.4, label="observed", color=OKABE_ITO["vermillion"])
        ax.bar(k + 0.2, ind, 0.4, label="if independent", color="white", edgecolor=OKABE_ITO["black"], hatch="///")
        ax.set_yscale("log")
        ax.set_xticks(k)
        ax.set_xlabel("annotators wrong on the sample")
        ax.set_title(name, fontsize=9)
    axes[0, 0].set_ylabel("samples")
    axes[0, 0].legend(fontsize=7)
    return fig


def curves_figure(result, metrics=("test_acc", "flipped_acc_noisy"), title: str | None = None):
    """Per-epoch ``metrics`` of a SweepResult, one line per loss: mean over seeds, ±1 sd band."""
    import seaborn as sns

    frame = result.curves(*metrics)
    fig, axes = new_axes(ncols=len(metrics), width=4.6, height=3.4)
    for ax, metric in zip(axes[0], metrics):
        for loss, part in frame.groupby("loss", sort=False):
            style = loss_style(loss)
            sns.lineplot(data=part, x="epoch", y=metric, errorbar=("sd", 1), ax=ax, label=loss,
                         color=style["color"], linestyle=style["ls"], linewidth=1.3)
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
        ax.legend(fontsize=7, ncol=2)
    for ax in axes[0, 1:]:
        ax.get_legend().remove()
    seeds = frame["seed"].nunique()
    fig.suptitle(title or f"mean over {seeds} seeds, band: ±1 sd", fontsize=10)
    return fig


def paired_figure(ccn, idn, metrics=("final_test_acc", "final_flipped_acc_noisy"),
                  names=("class-conditional", "instance-dependent")):
    """For each loss both results have: ``metric`` under the two noises, seeds paired by faint lines."""
    from ...sweep import per_seed

    losses = [l for l in dict.fromkeys(r["label"]["loss"] for r in idn.results)]
    labels = {"final_test_acc": "final test accuracy", "final_flipped_acc_noisy": "flipped labels fitted (end)",
              "best_test_acc": "best test accuracy"}
    fig, axes = new_axes(ncols=len(metrics), width=4.4, height=3.3)
    for ax, metric in zip(axes[0], metrics):
        for k, loss in enumerate(losses):
            a = per_seed(ccn.results, metric, loss=loss)
            b = per_seed(idn.results, metric, loss=loss)
            x = np.array([k - 0.18, k + 0.18])
            colour = loss_color(loss)
            for va, vb in zip(a, b):
                ax.plot(x, [va, vb], color=colour, alpha=0.35, lw=0.8)
            for xi, v, marker in ((x[0], a, "o"), (x[1], b, "s")):
                ax.errorbar(xi, v.mean(), yerr=v.std(ddof=1) if len(v) > 1 else 0, fmt=marker, color=colour,
                            mfc=colour if marker == "o" else "white", ms=6, capsize=3)
        ax.set_xticks(range(len(losses)), losses, fontsize=8)
        ax.set_ylabel(labels.get(metric, metric))
    axes[0, 0].plot([], [], "o", color="black", label=f"{names[0]} (left)")
    axes[0, 0].plot([], [], "s", color="black", mfc="white", label=f"{names[1]} (right)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("same T, same realised counts: only which samples flipped differs (faint: one seed)", fontsize=10)
    return fig
