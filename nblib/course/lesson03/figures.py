"""Figures of lesson 3: the generalized cross entropy Lq and truncated Lq (Zhang & Sabuncu 2018).

As functions of p_y (the model's probability of the *given* label), from ``nblib.losses``:

    Lq(p_y)        = (1 - p_y^q) / q            q in (0, 1];  q -> 0: -log p_y (CE);  q = 1: 1 - p_y (MAE)
    weight(p_y)    = p_y^q                      dLq/dtheta = p_y^q * dCE/dtheta
    L_trunc(p_y)   = Lq(k) if p_y <= k else Lq(p_y)      (truncated Lq, paper k = 0.5)

and the theory's ranges and bounds from ``nblib.theory``. Figures draw what those compute.

- ``LqExplorer``: the q slider (loss, weight, a real batch's gradient split), blitted;
- ``theory_figure``: the class-sum range of Lq and truncated Lq, and Theorem 1's bound, against q;
- ``accuracy_vs_q_figure``: the q sweep over seeds (seaborn): test accuracy, flipped and clean fits;
- ``RunExplorer``: the slider over the sweep's runs, their learning curves per seed, blitted;
- ``TruncationExplorer``: the threshold-k slider over a model's p_y, blitted;
- ``pruning_figure``: truncated Lq against plain Lq over seeds, and one run's pruning traced;
- ``decision_boundary_figure``: the 2-D playground.

Colours: losses from :func:`nblib.course.style.loss_style` (CE, MAE, GCE, TGCE the same in every
lesson), clean samples ``CLEAN_COLOR``, flipped samples ``FLIPPED_COLOR``.

Why one file of ~470 lines: it is the lesson's every figure, in the lesson's order; each is short,
and they share the lesson's styling helpers.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from ... import theory
from ..._checks import check_in_range
from ...losses import analytic_weight, loss_of_p
from ...noise import detection_scores
from ..widgets import LiveFigure, live_figure
from ..style import CLEAN_COLOR, FLIPPED_COLOR, OKABE_ITO, loss_style, new_axes, use_style

__all__ = ["P_MIN", "LqExplorer", "lq_explorer_figure", "theory_figure", "accuracy_vs_q_figure", "RunExplorer",
           "TruncationExplorer", "truncation_figure", "pruning_figure", "decision_boundary_figure"]

P_MIN = 1e-3            # left end of the p_y axis of the curve plots (CE is infinite at 0)
CURVE_POINTS = 200      # points per curve: smooth, and cheap to redraw
LOSS_YMAX = 5.0         # fixed y range so a moving q visibly moves the curve
HIST_BINS = 20          # bins of the p_y histograms
HIST_HEADROOM = 1.6     # histogram axis height / tallest bar: keeps the bars in the lower part
PANEL_W, PANEL_H = 3.7, 3.0
CLASS_COLORS = [OKABE_ITO[c] for c in ("orange", "sky", "green", "yellow", "purple", "blue", "vermillion")]
BAND = ("sd", 1)        # seaborn's errorbar: mean +- one standard deviation over seeds
THEORY_QS = np.linspace(0.05, 1.0, 39)   # the q grid of the theory figure (steps of 0.025)


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


def theory_figure(num_classes: int = 10, rates=(0.2, 0.4, 0.6), k: float = 0.5, qs=THEORY_QS):
    """The theory against q (``nblib.theory``), log scales. Left: the width of the class-sum range,
    max - min over all predictions of sum_k L(f(x), k) (0 for a symmetric loss), for Lq and for
    truncated Lq with threshold ``k``. Right: Theorem 1's bound on the clean excess risk of the
    noisy-risk minimiser under symmetric noise at each rate, and truncated Lq's at the middle rate.
    Both vanish for Lq at q = 1 (MAE), off the log scale. Returns the Figure."""
    fig, axes = new_axes(2, width=4.4, height=3.5)
    left, right = axes[0]
    q = np.asarray(qs)[np.asarray(qs) < 1]
    gce, tgce = loss_style("gce")["color"], loss_style("tgce")["color"]
    width = lambda **kw: [np.subtract(*theory.class_sum_bounds(num_classes, x, **kw)[::-1]) for x in q]  # noqa: E731
    left.plot(q, width(), color=gce, lw=2, label="Lq: $(K^{1-q} - 1)/q$")
    left.plot(q, width(k=k), color=tgce, lw=2, label=f"truncated Lq, k = {k:g}: $L_q(k)$")
    left.set(xlabel="q", ylabel="max - min of the class sum", yscale="log", xlim=(0, 1),
             title="How far from symmetric (0 = symmetric)")
    left.legend(fontsize=8)
    for i, rate in enumerate(rates):
        right.plot(q, [theory.uniform_noise_bound(num_classes, x, rate) for x in q], color=gce, lw=2,
                   ls=("-", "--", ":")[i % 3], label=f"Lq, noise rate {rate:g}")
    mid = rates[len(rates) // 2]
    right.plot(q, [theory.uniform_noise_bound(num_classes, x, mid, k=k) for x in q], color=tgce, lw=2,
               label=f"truncated Lq (k = {k:g}), rate {mid:g}")
    right.set(xlabel="q", ylabel="bound on $R(\\hat f) - R(f^*)$", yscale="log", xlim=(0, 1),
              title="Theorem 1: the bound shrinks as q \u2192 1")
    right.legend(fontsize=7)
    fig.suptitle(f"Lq's distance from a symmetric loss, and what it costs under symmetric noise (K = {num_classes})",
                 fontsize=10)
    return fig


def _with_q(frame):
    """The sweep's rows on the q axis (CE at 0, MAE at 1), without truncated Lq (a variant, not a q)."""
    from .experiments import q_position

    frame = frame[frame["loss"] != "tgce"].copy()
    frame["q"] = [q_position(lab) for lab in frame["loss"]]
    return frame


def accuracy_vs_q_figure(result, title: str | None = None):
    """The q sweep over seeds (one noise setting; CE drawn at its limit q = 0, MAE at q = 1), mean and
    +-1 sd error bars. Left: final and best-epoch test accuracy (the best epoch picked on the test set:
    an oracle, a yardstick only). Right: why the ends differ: the flipped
    training samples fitted to their wrong label, and the clean ones fitted. Returns the Figure."""
    import pandas as pd
    import seaborn as sns

    frame = _with_q(result.frame())
    clean = {(r["label"]["loss"], r["config"]["seed"]): r["history"]["clean_acc"][-1] for r in result.results}
    frame["clean_fit"] = [clean[(lab, seed)] for lab, seed in zip(frame["loss"], frame["seed"])]
    best = "best epoch (test-set oracle)"
    long = pd.concat([frame.assign(what=w, value=100 * frame[m]) for w, m in
                      (("final epoch", "final_test_acc"), (best, "best_test_acc"),
                       ("flipped fitted to the wrong label", "final_flipped_acc_noisy"),
                       ("clean fitted", "clean_fit"))])
    fig, axes = new_axes(2, width=4.4, height=3.4)
    left, right = axes[0]
    gce = loss_style("gce")["color"]
    sns.lineplot(long[long.what.isin(["final epoch", best])], x="q", y="value", style="what", color=gce,
                 markers=True, dashes={"final epoch": "", best: (3, 2)}, errorbar=BAND, err_style="bars",
                 ax=left, err_kws={"capsize": 3})
    for name, x in (("ce", 0.0), ("mae", 1.0)):
        y = 100 * frame.loc[frame["loss"] == name, "final_test_acc"].mean()
        left.plot(x, y, "o", ms=9, color=loss_style(name)["color"], zorder=3)
        left.annotate(name.upper(), (x, y), xytext=(6, -12), textcoords="offset points", fontsize=8)
    left.set(xlabel="q   (0 = CE limit, 1 = MAE)", ylabel="test accuracy (%)", xlim=(-0.05, 1.05),
             title="Test accuracy vs q")
    left.legend(title=None, fontsize=8, loc="lower center")
    sns.lineplot(long[~long.what.isin(["final epoch", best])], x="q", y="value", hue="what", markers=True,
                 style="what", palette={"flipped fitted to the wrong label": FLIPPED_COLOR, "clean fitted": CLEAN_COLOR},
                 errorbar=BAND, err_style="bars", ax=right, err_kws={"capsize": 3})
    right.set(xlabel="q   (0 = CE limit, 1 = MAE)", ylabel="training samples (%)", xlim=(-0.05, 1.05),
              ylim=(0, 105), title="Training samples fitted at the last epoch")
    right.legend(title=None, fontsize=8, loc="center left")
    fig.suptitle(title or "Generalized cross entropy after the last epoch (mean and \u00b11 sd over seeds)",
                 fontsize=10)
    return fig


class RunExplorer:
    """The slider over the sweep's runs: the learning curves of one run, every seed drawn thin and the
    mean thick: test accuracy, clean training samples fitted, flipped ones fitted to their wrong label;
    CE's mean test accuracy faintly for reference. Built once; ``png(label)`` moves only the curves
    and the title (blitting)."""

    METRICS = (("test_acc", "test accuracy", None), ("clean_acc", "clean training samples fitted", CLEAN_COLOR),
               ("flipped_acc_noisy", "flipped ones fitted to their wrong label", FLIPPED_COLOR))

    def __init__(self, result, reference: str = "ce"):
        self.curves = {}
        for r in result.results:
            h = r["history"]
            self.curves.setdefault(r["label"]["loss"], []).append(
                {m: 100 * np.asarray(h[m], dtype=float) for m, _, _ in self.METRICS} | {"epoch": np.asarray(h["epoch"])})
        self.labels = list(self.curves)
        if reference not in self.curves:
            raise ValueError(f"reference must be a run of the result ({', '.join(self.labels)}), got {reference!r}")
        n_seeds = max(len(v) for v in self.curves.values())
        self.fig, ((ax,),) = live_figure(1, width=6.4, height=3.5, left=0.1, right=0.7, bottom=0.15, top=0.86)
        ref = self.curves[reference]
        ax.plot(ref[0]["epoch"], np.mean([c["test_acc"] for c in ref], axis=0), lw=1.2, alpha=0.45,
                label=f"{reference.upper()} test accuracy (mean)", **loss_style(reference))
        self.lines = {}
        for m, name, colour in self.METRICS:
            thin = [ax.plot([], [], lw=0.8, alpha=0.5, color=colour or "black")[0] for _ in range(n_seeds)]
            thick = ax.plot([], [], lw=2.2, color=colour or "black", label=name)[0]
            self.lines[m] = (thin, thick)
        end = max(len(c["epoch"]) for v in self.curves.values() for c in v)
        ax.set(xlim=(0, end + 1), ylim=(0, 101), xlabel="epoch", ylabel="% (thin: seeds, thick: mean)")
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
        self.title = ax.set_title(" ", fontsize=10)
        dynamic = [ln for thin, thick in self.lines.values() for ln in (*thin, thick)] + [self.title]
        self.live = LiveFigure(self.fig, dynamic, self._move)

    def _move(self, label: str) -> None:
        if label not in self.curves:
            raise ValueError(f"unknown run {label!r}; choose one of: {', '.join(self.labels)}")
        runs = self.curves[label]
        colour = loss_style(label)["color"]
        for m, _, fixed in self.METRICS:
            thin, thick = self.lines[m]
            for i, ln in enumerate(thin):
                ln.set_data((runs[i]["epoch"], runs[i][m]) if i < len(runs) else ([], []))
                ln.set_color(fixed or colour)
            thick.set_data(runs[0]["epoch"], np.mean([r[m] for r in runs], axis=0))
            thick.set_color(fixed or colour)
        final = np.mean([r["test_acc"][-1] for r in runs])
        fitted = np.mean([r["flipped_acc_noisy"][-1] for r in runs])
        self.title.set_text(f"{label}: final test accuracy {final:.1f}%, flipped fitted {fitted:.0f}% "
                            f"(mean of {len(runs)} seeds)")

    def draw(self, label: str):
        """Show ``label``'s run; return the figure."""
        return self.live.draw(label=label)

    def png(self, label: str) -> bytes:
        """PNG bytes of the figure showing ``label``'s run, re-rendering only its curves and title."""
        return self.live.png(label=label)


class TruncationExplorer:
    """The threshold-k slider: truncated Lq's loss curve at k, and which training samples a pruning step
    at k would drop, from the probabilities ``p_y`` a model gives their labels and the ``flipped`` mask
    (``source`` names the model in the axis label). Built once; ``png(k)`` moves only the k-dependent
    artists (blitting)."""

    def __init__(self, p_y, flipped, q: float = 0.7, source: str = "a trained model"):
        check_in_range("q", q, 0, 1, lo_open=True)
        self.p_y, self.flipped, self.q = _as_p(p_y), np.asarray(flipped, dtype=bool), q
        if self.p_y.shape != self.flipped.shape:
            raise ValueError("p_y and flipped must have the same shape")
        self.grid = np.linspace(P_MIN, 1, CURVE_POINTS)
        self.fig, ((ax1, ax2),) = live_figure(2, width=4.3, height=3.3, left=0.08, right=0.98, wspace=0.28,
                                             bottom=0.16, top=0.8)
        self.span = ax1.axvspan(0, 0.5, color="0.85", alpha=0.6, lw=0)
        self.span_text = ax1.text(0.25, 0.8 * LOSS_YMAX / 2, "pruned:\nconstant loss,\nzero gradient", ha="center",
                                  va="top", fontsize=8)
        ax1.plot(self.grid, _lq(self.grid, q), lw=1, label=f"$L_q$, q={q:.2g}", **{**loss_style("gce"), "ls": "--"})
        (self.curve,) = ax1.plot(self.grid, self.grid, lw=2.5, label="truncated $L_q$", **loss_style("tgce"))
        ax1.set(xlim=(0, 1), ylim=(0, LOSS_YMAX / 2), xlabel="$p_y$ (probability of the given label)",
                ylabel="loss per sample (nats)")
        ax1.legend(fontsize=8, loc="upper right")
        self.title1 = ax1.set_title(" ", fontsize=10)
        bins = np.linspace(0, 1, HIST_BINS + 1)
        for mask, color, name in ((~self.flipped, CLEAN_COLOR, "clean"), (self.flipped, FLIPPED_COLOR, "flipped")):
            counts, _ = np.histogram(self.p_y[mask], bins=bins)
            ax2.stairs(counts, bins, fill=True, alpha=0.45, color=color, label=f"{name} ({mask.sum()})")
            ax2.stairs(counts, bins, color=color, lw=1)
        self.kline = ax2.axvline(0.5, color="black", lw=1.5)
        ax2.set(xlim=(0, 1), xlabel=f"$p_y$ of the given label ({source})", ylabel="training samples (log scale)",
                yscale="log")
        ax2.legend(fontsize=8, loc="upper center")
        self.title2 = ax2.set_title(" ", fontsize=10)
        self.fig.suptitle("Truncated $L_q$: samples left of k are pruned; most of them are the flipped ones",
                          fontsize=10)
        self.live = LiveFigure(self.fig, [self.span, self.span_text, self.curve, self.title1, self.kline, self.title2],
                               self._move)

    def scores(self, k: float) -> dict:
        """Precision and recall of a pruning step at k against the flipped mask (``noise.detection_scores``)."""
        return detection_scores(self.p_y <= k, self.flipped)

    def _move(self, k: float) -> None:
        check_in_range("k", k, 0, 1, lo_open=True, hi_open=True)
        self.span.set_x(0)
        self.span.set_width(k)
        self.span_text.set_x(k / 2)
        self.curve.set_ydata(loss_of_p("tgce", self.grid, q=self.q, k=k))
        self.title1.set_text(f"truncation at k={k:.2f}: $L_q$(k) = {float(_lq(k, self.q)):.3f}")
        self.kline.set_xdata([k, k])
        s = self.scores(k)
        self.title2.set_text(f"pruning {s['n_flagged']}: precision {100 * s['precision']:.0f}%, "
                             f"recall {100 * s['recall']:.0f}%")

    def draw(self, k: float):
        """Move to threshold ``k``; return the figure."""
        return self.live.draw(k=k)

    def png(self, k: float) -> bytes:
        """PNG bytes at threshold ``k``, re-rendering only what k moves."""
        return self.live.png(k=k)


def truncation_figure(k: float, q: float, p_y, flipped, source: str = "a trained model"):
    """One position of the threshold-k slider as a figure (see :class:`TruncationExplorer`)."""
    return TruncationExplorer(p_y, flipped, q, source).draw(k)


def pruning_figure(curves, shares, flipped_fraction: float, labels=("gce q=0.7", "tgce"), first_epoch: int = 20):
    """Truncated Lq against plain Lq over seeds. Left: test accuracy per epoch from ``first_epoch`` on
    (``curves`` = ``SweepResult.curves("test_acc")``, the runs ``labels``; mean and +-1 sd band), the
    pruning epochs dotted. Right: the share of training samples each pruning step pruned, one line per
    seed (``shares``: seed, epoch, share; ``experiments.pruned_shares``), beside the share of flipped
    labels. Returns the Figure."""
    import seaborn as sns

    fig, axes = new_axes(2, width=4.3, height=3.3)
    ax1, ax2 = axes[0]
    frame = curves[curves["loss"].isin(labels) & (curves["epoch"] >= first_epoch)].assign(
        acc=lambda f: 100 * f["test_acc"])
    sns.lineplot(frame, x="epoch", y="acc", hue="loss", palette={lab: loss_style(lab)["color"] for lab in labels},
                 errorbar=BAND, ax=ax1, lw=2)
    for e in sorted(set(shares["epoch"])):
        ax1.axvline(e, color="0.6", lw=0.8, ls=":")
    ax1.set(xlabel="epoch", ylabel="test accuracy (%)", title=f"test accuracy from epoch {first_epoch} (dotted: pruning)")
    ax1.legend(title=None, fontsize=8, loc="lower left")
    tgce = loss_style("tgce")["color"]
    for seed, g in shares.groupby("seed"):
        ax2.plot(g["epoch"], 100 * g["share"], "o-", ms=4, color=tgce, alpha=0.8, label="pruned, one line per seed"
                 if seed == shares["seed"].min() else None)
    ax2.axhline(100 * flipped_fraction, color=FLIPPED_COLOR, ls=":", lw=1.5, label="share of flipped labels")
    ax2.set(xlabel="epoch of the pruning step", ylabel="training samples (%)", ylim=(0, 100),
            xlim=(first_epoch, curves["epoch"].max() + 1), title="how much each pruning step drops")
    ax2.legend(fontsize=8, loc="lower right")
    fig.suptitle("Truncated $L_q$ with the pruning schedule (left: mean and \u00b11 sd over seeds)", fontsize=10)
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
