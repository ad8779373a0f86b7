"""Figures of lesson 4: normalized losses and Active-Passive losses (Ma et al. 2020).

Every number drawn comes from ``nblib.losses`` (class sums, per-class terms, logit gradients by
autograd) or from trained runs (``nblib.sweep`` results):

- :func:`class_sum_strips`: sum_k L(f(x), k) over many x for several losses, each divided by its
  mean, so a symmetric loss is a single vertical line at 1 whatever its scale;
- :class:`ClassSumExplorer`: one loss's class sums against the confidence of random predictions,
  with the logit scale (how confident they are) on a slider (a ``LiveFigure``);
- :func:`active_passive_bars`: a loss written as sum_k l(f(x), k), one bar per class
  (``nblib.losses.class_terms``): what "active" and "passive" mean in Ma et al.'s definition;
- :func:`gradient_weight_figure`: the size of each loss's push on the logits relative to CE's, and
  how well it aligns with CE's direction p - e_y, against p_y;
- :func:`nce_path_figure`: CE and NCE (value and logit-gradient norm) along two paths of
  predictions, from uniform to confidently right and to confidently wrong: NCE's flat signal;
- :func:`seed_curves`: per-epoch curves of several runs, mean over seeds with a +-1 sd band (seaborn);
- :func:`rate_comparison`: final test accuracy against the symmetric noise rate, mean +-1 sd over
  seeds (seaborn pointplot), from a results frame.
"""
from __future__ import annotations

import numpy as np
import torch

from ... import losses as L
from ..._checks import check_choice
from ..style import OKABE_ITO, loss_palette, loss_style, new_axes, seaborn_dashes
from ..widgets import LiveFigure, live_figure

__all__ = ["class_sum_strips", "ClassSumExplorer", "active_passive_bars", "gradient_weight_figure",
           "path_logits", "nce_path_figure", "seed_curves", "rate_comparison", "SCALE_RANGE"]

OTHER_CLASS_COLOR = OKABE_ITO["grey"]
JITTER = 0.18          # vertical spread of the points of one loss in the strip plot
MAX_POINTS = 400       # points drawn per loss in strip / scatter plots (the statistics use all)
SUM_LABEL = r"$\Sigma_k\, L(f(x), k)$"
SCALE_RANGE = (0.5, 10.0)  # the logit scale slider's range: limits of the explorer's axes cover it
PATH_SCALES = np.linspace(0.0, 12.0, 121)   # logit s of the favoured class along a path of predictions


def _np(x) -> np.ndarray:
    return x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)


def class_sum_strips(sums: dict, ax=None, title: str | None = None, seed: int = 0):
    """Strip plot of each loss's class sums s(x) = sum_k L(f(x), k), divided by their mean.

    ``sums``: loss name -> (N,) values (e.g. from ``nblib.losses.class_sums``). A symmetric loss
    gives s(x) = C for every x: a single tick at 1. The x axis is relative, so losses of different
    scales (CE's sums are large, NCE's are 1) share one axis.
    """
    if ax is None:
        _, axes = new_axes(width=5.6, height=0.42 * len(sums) + 1.0)
        ax = axes[0, 0]
    rng = np.random.default_rng(seed)
    for row, (name, s) in enumerate(sums.items()):
        rel = _np(s) / _np(s).mean()
        shown = rel[:MAX_POINTS]
        ax.scatter(shown, row + rng.uniform(-JITTER, JITTER, len(shown)), s=5, alpha=0.5,
                   color=loss_style(name)["color"], linewidths=0)
        ax.plot([rel.min(), rel.max()], [row, row], color="black", lw=0.8)
    ax.axvline(1.0, color="black", lw=0.6, ls=":")
    ax.set_yticks(range(len(sums)), list(sums))
    ax.invert_yaxis()
    ax.set_xlabel(SUM_LABEL + " / its mean over x")
    ax.set_ylabel("loss")
    ax.grid(axis="y", visible=False)
    ax.set_title(title or "Class sums: one value for every x only for symmetric losses")
    return ax


class ClassSumExplorer:
    """sum_k L(f(x), k) of one loss over ``n`` random predictions x, against their confidence max_k p_k.

    The predictions are ``scale`` * N(0, 1) logits (``random_logits``): a larger scale means more
    confident predictions. Built once per loss, with axes that cover the whole slider range
    (``SCALE_RANGE``); ``png(scale)`` moves the points and the title (a ``LiveFigure``).
    """

    def __init__(self, loss: str, logits_of_scale, n_shown: int = MAX_POINTS):
        self.loss = check_choice("loss", loss, L.LOSSES)
        self.logits_of_scale = logits_of_scale
        self.n_shown = n_shown
        lo_sums, hi_sums = (L.class_sums(loss, logits_of_scale(s)) for s in SCALE_RANGE)
        lo = float(min(lo_sums.min(), hi_sums.min()))
        hi = float(max(lo_sums.max(), hi_sums.max()))
        pad = max(1e-3 * max(abs(lo), abs(hi), 1.0), 0.05 * (hi - lo))
        self.fig, ((ax,),) = live_figure(1, width=5.4, height=3.4, left=0.17, right=0.97, bottom=0.16, top=0.86)
        self.points = ax.scatter(np.full(n_shown, 0.5), np.full(n_shown, lo), s=7, alpha=0.6,
                                 color=loss_style(loss)["color"], linewidths=0)
        ax.set_xlim(0, 1.02)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel(r"confidence $\max_k p_k(x)$ of a random prediction")
        ax.set_ylabel(SUM_LABEL)
        self.title = ax.set_title("", fontsize=10)
        self.live = LiveFigure(self.fig, [self.points, self.title], self._move)

    def sums(self, scale: float):
        """(class sums, confidences) of the random predictions at ``scale``."""
        z = self.logits_of_scale(scale)
        return L.class_sums(self.loss, z), z.softmax(1).amax(1)

    def _move(self, scale: float) -> None:
        sums, conf = self.sums(scale)
        shown = slice(0, self.n_shown)
        self.points.set_offsets(np.column_stack([_np(conf)[shown], _np(sums)[shown]]))
        gap = float(sums.max() - sums.min())
        constant = gap <= 1e-6 * max(abs(float(sums.mean())), 1.0)
        self.title.set_text(f"{self.loss}, logit scale {scale:.1f}: spread {gap:.2g}"
                            + (" (constant up to rounding)" if constant else ""))

    def draw(self, scale: float = 3.0):
        return self.live.draw(scale=scale)

    def png(self, scale: float = 3.0) -> bytes:
        return self.live.png(scale=scale)


def _label_bars(ax, values, y: int, color) -> None:
    """Bars of ``values`` per class; the label's bar hatched with a black edge, its tick in bold."""
    K = len(values)
    bars = ax.bar(range(K), values, color=color)
    bars[y].set_hatch("///")
    bars[y].set_edgecolor("black")
    ax.set_xticks(range(K))
    ax.tick_params(axis="x", labelsize=7)
    ax.get_xticklabels()[y].set_fontweight("bold")


def active_passive_bars(logits, y: int, names=("ce", "nce", "mae", "rce"), title: str | None = None):
    """Bars of p = softmax(logits) (first panel) and of each loss's terms l(f(x), k) (one panel per
    loss, ``nblib.losses.class_terms``). The label's bar is hatched: an active loss has all its value
    on it, a passive loss has terms on the other classes too. ``logits``: (K,) one prediction."""
    z = torch.as_tensor(logits, dtype=torch.float64).reshape(1, -1)
    target = torch.tensor([int(y)])
    fig, grid = new_axes(ncols=len(names) + 1, width=2.3, height=2.5, sharex=True)
    axes = grid[0]
    _label_bars(axes[0], _np(z.softmax(1))[0], y, OTHER_CLASS_COLOR)
    axes[0].set_ylim(0, 1)
    axes[0].set_title(f"prediction p, label y = {y}", fontsize=9)
    axes[0].set_ylabel("probability $p_k$")
    for ax, name in zip(axes[1:], names):
        terms = _np(L.class_terms(name, z, target))[0]
        _label_bars(ax, terms, y, loss_style(name)["color"])
        ax.set_title(f"{name} ({L.TERM_KINDS[name]}): L = {terms.sum():.2f}", fontsize=9)
        ax.set_ylabel(r"term $\ell(f(x), k)$")
    for ax in axes:
        ax.set_xlabel("class k")
    fig.suptitle(title or "Ma et al.'s definition is about the form of the loss: active losses have a term only "
                 "at the label (hatched), passive ones at the other classes too")
    return fig


def gradient_weight_figure(logits, targets, names=("ce", "mae", "rce", "nce")):
    """Two panels over the predictions ``logits`` with labels ``targets``, against p_y:
    the size of each loss's logit gradient relative to CE's (``nblib.losses.gradient_weight``) and
    its cosine with CE's direction p - e_y (``gradient_alignment``). Losses of p_y alone lie on
    the curve w(p_y) with cosine 1; NCE scatters. Returns the figure."""
    z, y = torch.as_tensor(logits, dtype=torch.float64), torch.as_tensor(targets).long()
    p_y = _np(z.softmax(1).gather(1, y[:, None]).squeeze(1))
    order = np.argsort(p_y)
    fig, axes = new_axes(ncols=2, width=4.2, height=3.3)
    for name in names:
        st = loss_style(name)
        w, cos = _np(L.gradient_weight(name, z, y)), _np(L.gradient_alignment(name, z, y))
        kind = L.TERM_KINDS.get(name, "")
        label = f"{name} ({kind})" if kind else name
        if name == "nce":
            axes[0, 0].scatter(p_y, w, s=6, alpha=0.5, color=st["color"], label=label, linewidths=0)
            axes[0, 1].scatter(p_y, cos, s=6, alpha=0.5, color=st["color"], label=label, linewidths=0)
        else:
            axes[0, 0].plot(p_y[order], w[order], lw=2, label=label, **st)
            axes[0, 1].plot(p_y[order], cos[order], lw=2, label=label, **st)
    axes[0, 0].set_yscale("log")
    axes[0, 0].set_xlabel("$p_y$ (probability of the given label)")
    axes[0, 0].set_ylabel(r"$\|\nabla_z L\| \,/\, \|\nabla_z \mathrm{CE}\|$ (log scale)")
    axes[0, 0].set_title("the weight: how hard each sample pushes", fontsize=10)
    axes[0, 0].legend(fontsize=8)
    axes[0, 1].set_ylim(-0.15, 1.05)       # NCE's cosines go slightly below 0 at tiny p_y
    axes[0, 1].axhline(0, color="grey", lw=0.8, ls=":")
    axes[0, 1].set_xlabel("$p_y$ (probability of the given label)")
    axes[0, 1].set_ylabel(r"cosine with CE's $p - e_y$")
    axes[0, 1].set_title("the direction: where it pushes", fontsize=10)
    return fig


def path_logits(num_classes: int = 10, scales=PATH_SCALES, favoured: int = 0) -> torch.Tensor:
    """(S, K) float64 logits s e_favoured for s in ``scales``: from the uniform prediction (s = 0) to
    one ever more confident in class ``favoured``."""
    z = torch.zeros(len(scales), num_classes, dtype=torch.float64)
    z[:, favoured] = torch.as_tensor(np.asarray(scales, dtype=np.float64))
    return z


def nce_path_figure(num_classes: int = 10, names=("ce", "nce")):
    """CE and NCE along two paths of predictions that start at the uniform one: ever more confident in
    the label (right) and in another class (wrong). Left: the loss (CE on its own axis); right: the
    logit-gradient norm ||dL/dz|| (log scale). NCE of a confidently wrong prediction tends to
    1/(K - 1), barely above the uniform prediction's 1/K: the loss hardly tells a confident mistake
    from not knowing, and its gradient is one to two orders of magnitude below CE's."""
    K = num_classes
    fig, axes = new_axes(ncols=2, width=4.4, height=3.3)
    left, right = axes[0, 0], axes[0, 1]
    twin = left.twinx()
    y = torch.zeros(len(PATH_SCALES), dtype=torch.long)             # the label is class 0
    for favoured, ls, path in ((0, "-", "towards the label"), (1, "--", "towards a wrong class")):
        z = path_logits(K, favoured=favoured)
        p_fav = _np(z.softmax(1)[:, favoured])
        for name in names:
            color = loss_style(name)["color"]
            value = _np(L.make_loss(name, K)(z, y, reduction="none"))
            (twin if name == "ce" else left).plot(p_fav, value, color=color, ls=ls, lw=2, label=f"{name}, {path}")
            right.plot(p_fav, _np(L.logit_gradient_norm(name, z, y)), color=color, ls=ls, lw=2, label=f"{name}, {path}")
    for v, text in ((1 / K, "1/K (uniform)"), (1 / (K - 1), "1/(K-1)")):
        left.axhline(v, color="grey", lw=0.8, ls=":")
        left.text(0.99, v, text, fontsize=7, ha="right", va="bottom", color="grey", transform=left.get_yaxis_transform())
    left.set_ylim(0, 0.125)
    left.set_ylabel("NCE", color=loss_style("nce")["color"])
    twin.set_ylabel("CE (nats)", color=loss_style("ce")["color"])
    twin.grid(False)
    twin.spines["right"].set_visible(True)
    left.set_xlabel("probability of the favoured class")
    left.set_title("the loss along the two paths", fontsize=10)
    right.set_yscale("log")
    right.set_xlabel("probability of the favoured class")
    right.set_ylabel(r"$\|\nabla_z L\|$ (log scale)")
    right.set_title("the push on the logits", fontsize=10)
    right.legend(fontsize=7, loc="lower left")
    fig.suptitle(f"From the uniform prediction (K = {K}) to a confident one: solid towards the label, dashed "
                 "towards a wrong class", fontsize=10)
    return fig


CURVE_TITLES = {"test_acc": "test accuracy", "clean_acc": "fit: correctly labelled training samples",
                "flipped_acc_noisy": "fit: flipped samples (to their wrong label)",
                "flipped_grad_share": "share of the gradient on flipped samples"}


def seed_curves(curves, metrics, order=None, title: str | None = None, ylims=None):
    """Per-epoch curves of several runs, one panel per metric, mean over seeds with a +-1 sd band
    (seaborn lineplot). ``curves``: long DataFrame (loss, seed, epoch and the ``metrics``; e.g.
    ``SweepResult.curves(...)``). Each loss keeps its colour and line style; the legend sits right of
    the last panel; ``title`` is the figure's title (the panel's, for a single panel)."""
    import seaborn as sns

    order = list(order) if order is not None else list(dict.fromkeys(curves["loss"]))
    fig, axes = new_axes(ncols=len(metrics), width=3.6, height=3.0, sharex=True)
    for i, (ax, metric) in enumerate(zip(axes[0], metrics)):
        sns.lineplot(data=curves, x="epoch", y=metric, hue="loss", style="loss", hue_order=order, style_order=order,
                     palette=loss_palette(order), dashes=seaborn_dashes(order), errorbar=("sd", 1), ax=ax,
                     legend=i == len(metrics) - 1)
        ax.set_title(CURVE_TITLES.get(metric, metric), fontsize=9)
        ax.set_ylabel("")
        if ylims and metric in ylims:
            ax.set_ylim(*ylims[metric])
    legend = axes[0, -1].get_legend()
    if legend is not None:
        legend.set_title(None)
        sns.move_legend(axes[0, -1], "upper left", bbox_to_anchor=(1.02, 1), frameon=False)   # off the curves
    if title and len(metrics) == 1:
        axes[0, 0].set_title(title, fontsize=9)      # one panel: the title replaces the panel's
    elif title:
        fig.suptitle(title, fontsize=11)
    return fig


def rate_comparison(frame, losses, kind: str = "symmetric", metric: str = "final_test_acc", title: str | None = None):
    """``metric`` against the noise rate of ``kind``, mean +-1 sd over seeds, one line per loss
    (seaborn pointplot). ``frame``: a results frame (``SweepResult.frame()``)."""
    import seaborn as sns

    part = frame[(frame["kind"] == kind) & frame["loss"].isin(losses) & (frame["rate"] > 0)]
    fig, axes = new_axes(width=5.6, height=3.6)
    ax = axes[0, 0]
    sns.pointplot(data=part, x="rate", y=metric, hue="loss", hue_order=list(losses), errorbar=("sd", 1),
                  dodge=0.35, palette=loss_palette(losses), ax=ax, markers=["o", "s", "^", "D", "v", "P", "X", "*"][:len(losses)],
                  linestyles=[loss_style(n)["ls"] for n in losses])
    ax.set_xlabel(f"{kind} noise rate")
    ax.set_ylabel(metric.replace("_", " ").replace("acc", "accuracy"))
    ax.legend(fontsize=8, title=None, ncols=2)
    if title:
        ax.set_title(title, fontsize=10)
    return fig
