"""Figures of lesson 3: the generalized cross entropy Lq and truncated Lq (Zhang & Sabuncu 2018).

Closed forms plotted here, as functions of p_y (the model's probability of the *given* label):

    Lq(p_y)        = (1 - p_y^q) / q            q in (0, 1];  q -> 0: -log p_y (CE);  q = 1: 1 - p_y (MAE)
                   = -BoxCox_q(p_y),  BoxCox_q(x) = (x^q - 1) / q  -> log x as q -> 0
    weight(p_y)    = p_y^q                      dLq/dtheta = p_y^q * dCE/dtheta
    L_trunc(p_y)   = Lq(k) if p_y <= k else Lq(p_y)      (truncated Lq, paper k = 0.5)

Per sample, the gradient with respect to the logits z is  dLq/dz = p_y^q (p - e_y), so its norm is
p_y^q ||p - e_y||: CE's norm scaled by the weight. The figures use these closed forms on NumPy
arrays, fast enough for a slider; ``tests/test_lesson03_helpers.py`` checks them against the
autograd losses of ``nblib.losses``.

Colours: losses from :func:`nblib.plots.style.loss_style` (CE, MAE, GCE, TGCE the same in every
lesson), clean samples ``CLEAN_COLOR``, flipped samples ``FLIPPED_COLOR``.
"""
from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from ..._checks import check_in_range
from ...losses import analytic_weight, loss_of_p
from ...noise import detection_scores
from ..figures import confusion_matrix, transition_heatmap
from ..widgets import LiveFigure, live_figure
from ..style import CLEAN_COLOR, FLIPPED_COLOR, OKABE_ITO, loss_style, use_style

__all__ = ["P_MIN", "LqExplorer",
           "lq_explorer_figure", "accuracy_vs_q_figure", "trained_run_figure", "truncation_figure",
           "pruning_figure", "decision_boundary_figure"]

P_MIN = 1e-3            # left end of the p_y axis of the curve plots (CE is infinite at 0)
CURVE_POINTS = 200      # points per curve: smooth, and cheap to redraw
LOSS_YMAX = 5.0         # fixed y range so a moving q visibly moves the curve
HIST_BINS = 20          # bins of the p_y histograms
HIST_HEADROOM = 1.6     # histogram axis height / tallest bar: keeps the bars in the lower part
PANEL_W, PANEL_H = 3.7, 3.0
CLASS_COLORS = [OKABE_ITO[c] for c in ("orange", "sky", "green", "yellow", "purple", "blue", "vermillion")]


# ----------------------------------------------------------------------------- closed forms

def _as_p(p_y) -> np.ndarray:
    p = np.asarray(p_y, dtype=np.float64)
    if np.any(~np.isfinite(p)) or np.any(p <= 0) or np.any(p > 1):
        raise ValueError("p_y must be probabilities in (0, 1]")
    return p


def _lq(p_y, q: float) -> np.ndarray:
    """Lq(p_y) from the core (q = 0: its limit, cross entropy)."""
    return loss_of_p("ce", p_y) if q == 0 else loss_of_p("gce", p_y, q=q)


def _lq_weight(p_y, q: float) -> np.ndarray:
    """The gradient weight of Lq relative to CE from the core: p_y^q (1 at q = 0)."""
    return analytic_weight("ce", p_y) if q == 0 else analytic_weight("gce", p_y, q=q)


# ----------------------------------------------------------------------------- figures

def _figure(ncols: int, width: float = PANEL_W, height: float = PANEL_H, **adjust):
    """A row of panels without constrained layout (a fixed layout redraws faster for sliders)."""
    use_style()
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    fig.subplots_adjust(**{**dict(left=0.07, right=0.98, bottom=0.17, top=0.8, wspace=0.32), **adjust})
    return fig, axes[0]


class LqExplorer:
    """The q slider's figure: Lq's loss, its gradient weight p_y^q, and a real batch's gradient split.

    Left: CE (-log p_y), MAE (1 - p_y) and Lq for the current q. Middle: the weight p_y^q relative
    to CE, over the histograms of the batch's p_y for clean and flipped samples (right-hand axis).
    Right: the share of the batch's gradient (sum of per-sample norms p_y^q ||p - e_y||, the
    gradient with respect to the logits) that flipped samples carry under CE, this Lq and MAE.

    Speed: the figure is built once. ``draw(q)`` moves the q-dependent artists and returns the
    figure (for a static plot or a test); ``png(q)`` re-renders only those artists over a cached
    background (Agg blitting) and returns PNG bytes, about 3x cheaper than a full redraw.
    """

    def __init__(self, p_y, flipped, ce_grad_norm):
        self.p_y, self.flipped = _as_p(p_y), np.asarray(flipped, dtype=bool)
        self.grad = np.asarray(ce_grad_norm, dtype=np.float64)
        if not (self.p_y.shape == self.flipped.shape == self.grad.shape):
            raise ValueError("p_y, flipped and ce_grad_norm must have the same shape")
        self.grid = np.linspace(P_MIN, 1, CURVE_POINTS)
        self.share_ce = _flipped_share(self.grad, self.flipped)
        self.share_mae = _flipped_share(self.p_y * self.grad, self.flipped)
        self.fig, ((ax1, ax2, ax3),) = live_figure(3, width=3.75, height=3.1, left=0.06, right=0.985, wspace=0.5,
                                                   top=0.82, bottom=0.16)
        grid, p_label = self.grid, "p_y (probability of the given label)"

        ax1.plot(grid, _lq(grid, 0), label="CE = -log p_y", **loss_style("ce"))
        ax1.plot(grid, _lq(grid, 1), label="MAE = 1 - p_y", **loss_style("mae"))
        (self.loss_line,) = ax1.plot(grid, grid, lw=2.5, label="Lq = (1 - p_y^q) / q", **loss_style("gce"))
        _fixed_axes(ax1, (0, 1), (0, LOSS_YMAX), p_label, "loss per sample (nats)", "Lq moves from CE to MAE")
        ax1.legend(fontsize=8, loc="upper right")

        twin = ax2.twinx()
        bins = np.linspace(0, 1, HIST_BINS + 1)
        for mask, color, name in ((~self.flipped, CLEAN_COLOR, "clean"), (self.flipped, FLIPPED_COLOR, "flipped")):
            counts, _ = np.histogram(self.p_y[mask], bins=bins)
            twin.stairs(counts, bins, fill=True, alpha=0.3, color=color, label=f"{name} ({mask.sum()})")
        twin.set_ylabel("samples (histogram)")
        twin.set_ylim(0, HIST_HEADROOM * twin.get_ylim()[1])
        twin.grid(False)
        twin.spines["right"].set_visible(True)
        twin.legend(fontsize=7, loc="center right", title="batch p_y", title_fontsize=7, frameon=True,
                    framealpha=0.85, edgecolor="none")
        ax2.set_zorder(twin.get_zorder() + 1)
        ax2.patch.set_visible(False)
        ax2.plot(grid, np.ones_like(grid), **loss_style("ce"))
        ax2.plot(grid, grid, **loss_style("mae"))
        ax2.text(0.02, 1.01, "CE", color=loss_style("ce")["color"], fontsize=8, va="bottom")
        ax2.text(0.86, 0.7, "MAE", color=loss_style("mae")["color"], fontsize=8)
        (self.weight_line,) = ax2.plot(grid, grid, lw=2.5, **loss_style("gce"))
        _fixed_axes(ax2, (0, 1), (0, 1.1), p_label, "gradient weight p_y^q (vs CE)",
                    "flipped samples have small p_y", yticks=np.linspace(0, 1, 6))

        colors = [loss_style(n)["color"] for n in ("ce", "gce", "mae")]
        heights = [100 * self.share_ce, 0.0, 100 * self.share_mae]
        bars = ax3.bar([0, 1, 2], heights, color=colors, width=0.6)
        self.bar = bars[1]
        for i in (0, 2):
            ax3.text(i, heights[i] + 1.5, f"{heights[i]:.0f}%", ha="center", fontsize=8)
        self.bar_text = ax3.text(1, 0, "", ha="center", fontsize=8)
        ax3.axhline(100 * self.flipped.mean(), color="black", ls=":", lw=1,
                    label=f"flipped share of the batch ({100 * self.flipped.mean():.0f}%)")
        ax3.legend(fontsize=7, loc="upper right")
        _fixed_axes(ax3, (-0.5, 2.5), (0, 100), None, "share of the gradient on flipped (%)",
                    "", xticks=([0, 1, 2], ["CE", "Lq", "MAE"]), yticks=np.arange(0, 101, 20))
        ax3.grid(axis="x", visible=False)
        ax3.set_axisbelow(True)  # grid under the bars, as the blitted bar is drawn last
        self.title3 = ax3.title
        self.suptitle = self.fig.suptitle("", fontsize=10)
        self.live = LiveFigure(self.fig, [self.loss_line, self.weight_line, self.bar, self.bar_text, self.title3,
                                          self.suptitle], self._move)

    def shares(self, q: float) -> dict:
        """Share of the batch's gradient norm carried by flipped samples under CE, Lq(q) and MAE."""
        check_in_range("q", q, 0, 1, lo_open=True)
        lq = _flipped_share(_lq_weight(self.p_y, q) * self.grad, self.flipped)
        return {"ce": self.share_ce, "gce": lq, "mae": self.share_mae}

    def _move(self, q: float) -> None:
        s = self.shares(q)
        self.loss_line.set_ydata(_lq(self.grid, q))
        self.weight_line.set_ydata(_lq_weight(self.grid, q))
        self.bar.set_height(100 * s["gce"])
        self.bar_text.set_position((1, 100 * s["gce"] + 1.5))
        self.bar_text.set_text(f"{100 * s['gce']:.0f}%")
        self.title3.set_text(f"flipped get {100 * s['gce']:.0f}% of Lq's gradient")
        self.suptitle.set_text(f"Lq with q = {q:.3g}: weight p_y^q per sample, on a real batch of "
                               f"{len(self.p_y)} training samples ({100 * self.flipped.mean():.0f}% flipped)")

    def draw(self, q: float):
        """Move every q-dependent artist to ``q``; return the figure."""
        return self.live.draw(q=q)

    def png(self, q: float) -> bytes:
        """PNG bytes of the figure at ``q``, redrawing only the q-dependent artists (blitting)."""
        return self.live.png(q=q)


def lq_explorer_figure(q: float, p_y, flipped, ce_grad_norm):
    """A fresh :class:`LqExplorer` figure at ``q`` (the slider reuses one explorer instead)."""
    return LqExplorer(p_y, flipped, ce_grad_norm).draw(q)


def _fixed_axes(ax, xlim, ylim, xlabel, ylabel, title, xticks=None, yticks=None):
    """Limits, labels, fixed ticks and a fixed title position (skips matplotlib's costly auto layout)."""
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, y=1.0, pad=4)
    if xticks is None:
        ax.set_xticks(np.linspace(xlim[0], xlim[1], 6))
    elif isinstance(xticks, tuple):
        ax.set_xticks(xticks[0], xticks[1])
    if yticks is None:
        yticks = np.linspace(ylim[0], np.floor(ylim[1]), 6) if ylim[1] > 2 else np.linspace(0, 1, 6)
    ax.set_yticks(yticks)


def _flipped_share(grad_norm: np.ndarray, flipped: np.ndarray) -> float:
    total = grad_norm.sum()
    return float(grad_norm[flipped].sum() / total) if total > 0 else float("nan")


def _sweep_x(run) -> float:
    """Where a sweep run sits on the q axis: CE at its limit q = 0, MAE at q = 1."""
    return 0.0 if run.loss == "ce" else (1.0 if run.loss == "mae" else run.q)


def accuracy_vs_q_figure(results: dict, noise_rate: float | None = None, dataset: str = "mnist1d"):
    """Accuracy vs q for a sweep (label -> run with .loss, .q, .history): the hump between CE and MAE.

    Left: final and best test accuracy (CE drawn at its limit q = 0, MAE at q = 1). Right: why the
    ends are worse: memorised flipped labels (left end) and clean training accuracy (right end).
    """
    runs = sorted(results.values(), key=_sweep_x)
    x = np.array([_sweep_x(r) for r in runs])
    final = np.array([r.final_test_acc for r in runs])
    best = np.array([r.best_test_acc for r in runs])
    memorised = np.array([r.history.flipped_acc_noisy[-1] for r in runs])
    clean = np.array([r.history.clean_acc[-1] for r in runs])
    fig, (ax1, ax2) = _figure(2, width=4.4, height=3.3, bottom=0.16, top=0.8, left=0.09)
    gce = loss_style("gce")
    ax1.plot(x, 100 * final, "o-", color=gce["color"], label="final epoch")
    ax1.plot(x, 100 * best, "s--", color=gce["color"], alpha=0.5, label="best epoch")
    for r, xi, f in zip(runs, x, final):
        if r.loss in ("ce", "mae"):
            ax1.plot(xi, 100 * f, "o", ms=10, color=loss_style(r.loss)["color"], zorder=3)
            ax1.annotate(r.loss.upper(), (xi, 100 * f), xytext=(6, -12), textcoords="offset points", fontsize=8)
    i = int(np.argmax(final))
    ax1.annotate(f"best: q = {x[i]:.2g}", (x[i], 100 * final[i]), xytext=(0, -16), textcoords="offset points",
                 ha="center", fontsize=8)
    ax1.set(xlabel="q   (0 = CE limit, 1 = MAE)", ylabel="test accuracy (%)", xlim=(-0.05, 1.05),
            title="Accuracy vs q: a hump between CE and MAE")
    ax1.legend(fontsize=8, loc="lower center")
    ax2.plot(x, 100 * memorised, "o-", color=FLIPPED_COLOR, label="flipped samples fitted to wrong label")
    ax2.plot(x, 100 * clean, "s-", color=CLEAN_COLOR, label="clean training samples fitted")
    ax2.set(xlabel="q   (0 = CE limit, 1 = MAE)", ylabel="training samples (%)", xlim=(-0.05, 1.05),
            ylim=(0, 105), title="small q memorises, large q underfits")
    ax2.legend(fontsize=8, loc="center right")
    noise = f" ({100 * noise_rate:.0f}% symmetric noise)" if noise_rate is not None else ""
    fig.suptitle(f"Generalized cross entropy on {dataset}{noise}, after the last epoch", fontsize=10)
    return fig


def trained_run_figure(label: str, run, y_test, num_classes: int, reference=None):
    """One cached run of the sweep: learning curves and the test confusion matrix.

    run: has .history (nblib.train.History) and .test_pred (predicted test classes).
    reference: an optional CE run drawn faintly for comparison.
    """
    h = run.history
    style = loss_style("ce" if run.loss == "ce" else "mae" if run.loss == "mae" else "gce")
    fig, (ax1, ax2) = _figure(2, width=4.2, height=3.4, left=0.08, wspace=0.25, bottom=0.15, top=0.82)
    if reference is not None and reference is not run:
        ax1.plot(reference.history.epoch, 100 * np.asarray(reference.history.test_acc), lw=1, alpha=0.45,
                 label="CE test (for reference)", **loss_style("ce"))
    ax1.plot(h.epoch, 100 * np.asarray(h.test_acc), lw=2.2, label="test accuracy", color=style["color"])
    ax1.plot(h.epoch, 100 * np.asarray(h.clean_acc), ls="--", color=CLEAN_COLOR, label="clean train fitted")
    ax1.plot(h.epoch, 100 * np.asarray(h.flipped_acc_noisy), ls=":", lw=2, color=FLIPPED_COLOR,
             label="flipped fitted to wrong label")
    ax1.set(xlabel="epoch", ylabel="accuracy (%)", ylim=(0, 100),
            title=f"{label}: test {100 * h.test_acc[-1]:.1f}%, memorised {100 * h.flipped_acc_noisy[-1]:.0f}%")
    ax1.legend(fontsize=7, loc="center right")
    C = confusion_matrix(y_test, run.test_pred, num_classes)
    transition_heatmap(C, ax=ax2, annot=False)
    ax2.set(xlabel="predicted class", ylabel="true class", title="test confusion matrix (rows sum to 1)")
    fig.suptitle(f"Cached run {label}: learning curves and where its test errors go", fontsize=10)
    return fig


def truncation_figure(k: float, q: float, p_y, flipped):
    """Truncated Lq with threshold k: the loss curve, and which training samples a prune at k drops.

    p_y, flipped: probability of the given label for each training sample (from a trained model) and
    the flipped mask. Samples with p_y <= k would get weight 0 in the next pruning step.
    """
    check_in_range("k", k, 0, 1, lo_open=True, hi_open=True)
    check_in_range("q", q, 0, 1, lo_open=True)
    p_y, flipped = _as_p(p_y), np.asarray(flipped, dtype=bool)
    grid = np.linspace(P_MIN, 1, CURVE_POINTS)
    fig, (ax1, ax2) = _figure(2, width=4.3, height=3.3, left=0.08, wspace=0.25)
    ax1.axvspan(0, k, color="0.85", alpha=0.6, lw=0)
    ax1.text(k / 2, 0.8 * LOSS_YMAX / 2, "pruned:\nconstant loss,\nzero gradient", ha="center", va="top", fontsize=8)
    ax1.plot(grid, _lq(grid, q), lw=1, label=f"$L_q$, q={q:.2g}", **{**loss_style("gce"), "ls": "--"})
    ax1.plot(grid, loss_of_p("tgce", grid, q=q, k=k), lw=2.5, label=f"truncated $L_q$, k={k:.2f}", **loss_style("tgce"))
    ax1.set(xlim=(0, 1), ylim=(0, LOSS_YMAX / 2), xlabel="$p_y$ (probability of the given label)",
            ylabel="loss per sample (nats)", title=f"truncation at k={k:.2f}: $L_q(k)$ = {float(_lq(k, q)):.3f}")
    ax1.legend(fontsize=8, loc="upper right")
    bins = np.linspace(0, 1, HIST_BINS + 1)
    for mask, color, name in ((~flipped, CLEAN_COLOR, "clean"), (flipped, FLIPPED_COLOR, "flipped")):
        counts, _ = np.histogram(p_y[mask], bins=bins)
        ax2.stairs(counts, bins, fill=True, alpha=0.45, color=color, label=f"{name} ({mask.sum()})")
        ax2.stairs(counts, bins, color=color, lw=1)
    ax2.axvline(k, color="black", lw=1.5)
    s = detection_scores(p_y <= k, flipped)
    ax2.set(xlim=(0, 1), xlabel="$p_y$ of the given label (trained model)", ylabel="training samples",
            title=f"pruning {s['n_flagged']}: precision {100 * s['precision']:.0f}%, recall {100 * s['recall']:.0f}%")
    ax2.set_yscale("log")
    ax2.legend(fontsize=8, loc="upper center")
    fig.suptitle("Truncated $L_q$: samples left of k are pruned; most of them are the flipped ones", fontsize=10)
    return fig


def pruning_figure(trace, histories: dict):
    """Training with the pruning schedule: test accuracy beside GCE/CE, and pruning quality per epoch.

    trace: a record with lists .epoch, .n_pruned, .precision, .recall (see
    ``nblib.widgets.gce.PruningTrace``); histories: label -> History drawn in the left panel.
    """
    fig, (ax1, ax2) = _figure(2, width=4.3, height=3.3, left=0.08, wspace=0.28)
    for label, h in histories.items():
        ax1.plot(h.epoch, 100 * np.asarray(h.test_acc), label=label, lw=2, **loss_style(label))
    for e in trace.refresh_epochs:
        ax1.axvline(e, color="0.6", lw=0.8, ls=":")
    ax1.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy (dotted: pruning steps)")
    ax1.legend(fontsize=8, loc="lower right")
    ax2.plot(trace.epoch, 100 * np.asarray(trace.precision), "o-", ms=3, color=FLIPPED_COLOR,
             label="precision: pruned that were flipped")
    ax2.plot(trace.epoch, 100 * np.asarray(trace.recall), "s--", ms=3, color=OKABE_ITO["purple"],
             label="recall: flipped that were pruned")
    ax2.plot(trace.epoch, 100 * np.asarray(trace.pruned_share), "-", color="0.4", label="training samples pruned")
    ax2.set(xlabel="epoch", ylabel="%", ylim=(0, 105), title="pruned samples are mostly flipped ones")
    ax2.legend(fontsize=7, loc="center left")
    fig.suptitle("Truncated $L_q$ with the pruning schedule", fontsize=10)
    return fig


def decision_boundary_figure(predict, x, y_given, flipped, title: str, resolution: int = 120,
                             num_classes: int | None = None):
    """Decision regions of ``predict`` (a function: (M, 2) float array -> (M,) class array) on 2-D data.

    Points are coloured by their *given* (possibly noisy) label; flipped points are drawn as large
    black-edged crosses (in the colour of their wrong label), so an island around one is easy to spot.
    """
    x = np.asarray(x)
    y_given = np.asarray(y_given)
    flipped = np.asarray(flipped, dtype=bool)
    k = int(num_classes or y_given.max() + 1)
    lo, hi = x.min(0) - 0.3, x.max(0) + 0.3
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    regions = np.asarray(predict(np.c_[gx.ravel(), gy.ravel()].astype(np.float32))).reshape(gx.shape)
    colors = CLASS_COLORS[:k]
    from matplotlib.colors import ListedColormap
    cmap = ListedColormap(colors)
    fig, (ax,) = _figure(1, width=5.0, height=4.2, left=0.12, right=0.97, bottom=0.12, top=0.88)
    ax.pcolormesh(gx, gy, regions, cmap=cmap, vmin=-0.5, vmax=k - 0.5, alpha=0.3, shading="auto")
    clean = ~flipped
    ax.scatter(x[clean, 0], x[clean, 1], c=y_given[clean], cmap=cmap, vmin=-0.5, vmax=k - 0.5, s=14,
               edgecolors="0.3", linewidths=0.3)
    ax.scatter(x[flipped, 0], x[flipped, 1], c=y_given[flipped], cmap=cmap, vmin=-0.5, vmax=k - 0.5, marker="X",
               s=46, edgecolors="black", linewidths=0.8)
    proxy = Line2D([], [], ls="", marker="X", ms=7, markerfacecolor="white", markeredgecolor="black")
    ax.set(xlabel="feature 1 (standardised)", ylabel="feature 2 (standardised)", title=title)
    ax.grid(False)
    ax.legend([proxy], [f"flipped label ({flipped.sum()}), coloured as given"], fontsize=8, loc="lower right",
              frameon=True)
    return fig
