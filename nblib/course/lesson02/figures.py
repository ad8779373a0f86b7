"""Figures of lesson 2 (CCE vs MAE gradients): per-sample weights, where the gradient goes, symmetry.

With p = softmax(z), p_y the probability of the given label and e_y its one-hot vector:

    CCE = -log p_y        dCCE/dz = p - e_y                dCCE/dtheta = -(1/p_y) dp_y/dtheta
    MAE = 2 - 2 p_y       dMAE/dz = 2 p_y (p - e_y)        dMAE/dtheta = -2       dp_y/dtheta

(using dp_y/dz = p_y (e_y - p)). Both push p_y up along the same direction; CCE multiplies it by
1/p_y, MAE by a constant. A sample whose label the model finds implausible (small p_y, typically a
flipped one) gets a huge weight from CCE and almost none from MAE.

- ``weight_curves``: the weight on -dp_y/dtheta and the logit gradient |dL/dz_y| against p_y;
- ``GradientExplorer``: the lesson's widget, the K logit gradients of both losses for a chosen p_y,
  built once and blitted (``logit_gradient_view`` draws one position);
- ``gradient_share_figure``: share of the gradient carried by flipped samples per epoch (from
  ``History.flipped_grad_share``), mean and band over seeds, the lesson's central picture;
- ``noisy_runs_figure``: test accuracy and memorised fraction of the same runs;
- ``class_sums_figure``: sum_k L(f(x), k) per input, flat for a symmetric loss;
- ``underfit_figure``: clean-label training of both losses on an easy and a harder dataset.

Statistics over seeds are drawn with seaborn (mean and a band of +-1 sd); the slider's figure is
hand-tuned matplotlib, redrawn by blitting.
"""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.lines import Line2D

from ... import losses as _losses
from ..style import OKABE_ITO, loss_style, new_axes
from ..widgets import LiveFigure, live_figure

__all__ = ["LOSS_LABELS", "weight_curves", "GradientExplorer", "logit_gradient_view", "gradient_share_figure",
           "noisy_runs_figure", "class_sums_figure", "underfit_figure"]

LOSS_LABELS = {"ce": r"CCE  $-\log p_y$", "mae": r"MAE  $2 - 2p_y$", "mae apl": r"MAE (APL code)  $1 - p_y$"}
SHORT_LABELS = {"test_acc": "test accuracy (fraction)",
                "flipped_acc_noisy": "fraction of flipped samples\npredicted as their wrong label"}
P_MIN = 0.01          # left end of the p_y axis (1/p_y is 100 there)
N_POINTS = 300
GRAD_YMAX = 0.3       # top of the gradient bars' axis, at least (CE's largest bar is p_k = (1 - p_y)/(K - 1))
BAND = ("sd", 1)      # seaborn's errorbar: mean +- one standard deviation over seeds


def _label(name: str) -> str:
    return LOSS_LABELS.get(name, name.upper())


def _np(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def weight_curves(num_classes: int = 10, p_min: float = P_MIN, title: str | None = None):
    """Two panels against p_y: (left) the weight multiplying -dp_y/dtheta in the parameter gradient,
    1/p_y for CCE, 2 for MAE (1 for the APL code's 1 - p_y); (right) the logit gradient of the given
    class, |dL/dz_y| = (1 - p_y) for CCE and 2 p_y (1 - p_y) for MAE. The weights come from
    ``nblib.losses.analytic_weight`` (relative to CCE), divided by p_y. Returns the Figure."""
    if not 0 < p_min < 1:
        raise ValueError(f"p_min must be in (0, 1), got {p_min}")
    p = np.linspace(p_min, 1, N_POINTS)
    curves = {"ce": _losses.analytic_weight("ce", p), "mae": _losses.analytic_weight("mae", p),
              "mae apl": _losses.analytic_weight("mae", p, variant="apl")}
    fig, axes = new_axes(2, width=4.4, height=3.5)
    left, right = axes[0]
    for name, w in curves.items():
        st = loss_style(name.split()[0])
        if name == "mae apl":
            st["ls"] = ":"
        left.plot(p, w / p, label=_label(name), lw=2, **st)
        if name != "mae apl":
            right.plot(p, w * (1 - p), label=_label(name), lw=2, **st)
    for ax in (left, right):
        ax.axvline(1 / num_classes, color=OKABE_ITO["black"], lw=0.8, ls=(0, (2, 2)))
        ax.set_xlabel(r"$p_y$, predicted probability of the given label")
    left.text(1 / num_classes, 0.97, " 1/K: a fresh network", transform=left.get_xaxis_transform(),
              fontsize=8, va="top")
    right.annotate("flipped samples\nsit here (small $p_y$)", xy=(0.04, 0.05), xytext=(0.3, 0.75),
                   fontsize=8, arrowprops=dict(arrowstyle="->", lw=0.8))
    left.set_yscale("log")
    left.set_ylabel(r"weight on $-\partial p_y/\partial\theta$ (log scale)")
    left.set_title(r"Parameters: CCE weighs each sample by $1/p_y$")
    left.legend(fontsize=8, loc="upper right", bbox_to_anchor=(1, 0.9))
    right.set_ylabel(r"$|\partial L/\partial z_y|$, logit of the given label")
    right.set_title(r"Logits: CCE pushes hardest where $p_y$ is small")
    right.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


class GradientExplorer:
    """The p_y slider's figure: the K logit gradients of CCE (p - e_y) and MAE (2 p_y (p - e_y)) for
    logits whose softmax gives the label ``label`` the probability p_y and spreads the rest evenly,
    computed with autograd through ``nblib.losses``.

    Built once; ``draw(p_y)`` moves the bars and the title and returns the figure, ``png(p_y)``
    re-renders only those over a cached background (a slider that follows the hand).
    """

    def __init__(self, num_classes: int = 10, label: int = 0):
        if not 0 <= label < num_classes:
            raise ValueError(f"label must be in [0, {num_classes - 1}], got {label}")
        self.K, self.label = num_classes, label
        self.fig, axes = live_figure(width=6.0, height=3.4, left=0.11, right=0.97, bottom=0.2, top=0.86)
        ax = axes[0, 0]
        k = np.arange(num_classes)
        width = 0.4
        self.bars = {}
        for off, name in zip((-width / 2, width / 2), ("ce", "mae")):
            self.bars[name] = ax.bar(k + off, np.zeros(num_classes), width=width, color=loss_style(name)["color"],
                                     label=_label(name))
        ax.axhline(0, color=OKABE_ITO["black"], lw=0.8)
        ax.set_xticks(k, [f"{i}\n(label)" if i == label else str(i) for i in k])
        ax.set_xlabel("class k")
        ax.set_ylabel(r"$\partial L/\partial z_k$ (gradient on logit k)")
        ax.set_ylim(-1.05, max(GRAD_YMAX, 1.1 / (num_classes - 1)))   # fixed: every bar of every p_y fits
        ax.grid(axis="x", visible=False)
        ax.set_axisbelow(True)
        ax.legend(fontsize=8, loc="lower right")
        self.title = ax.set_title(" ")
        self.live = LiveFigure(self.fig, [*self.bars["ce"], *self.bars["mae"], self.title], self._move)

    def gradients(self, p_y: float) -> dict:
        """{loss: dL/dz (K,)} at p_y, from autograd on ``nblib.losses`` (float64)."""
        if not 0 < p_y < 1:
            raise ValueError(f"p_y must be in (0, 1), got {p_y}")
        p = torch.full((1, self.K), (1 - p_y) / (self.K - 1), dtype=torch.float64)
        p[0, self.label] = p_y
        y = torch.tensor([self.label])
        grads = {}
        for name in ("ce", "mae"):
            z = p.log().requires_grad_(True)
            getattr(_losses, name)(z, y, reduction="sum").backward()
            grads[name] = z.grad[0].numpy()
        return grads

    def _move(self, p_y: float) -> None:
        grads = self.gradients(p_y)
        for name, g in grads.items():
            for bar, v in zip(self.bars[name], g):
                bar.set_height(v)
        ratio = grads["ce"][self.label] / grads["mae"][self.label]
        self.title.set_text(f"$p_y$ = {p_y:.2f}: CCE's logit gradient is $1/(2p_y)$ = {ratio:.1f} x MAE's")

    def draw(self, p_y: float):
        """Move the bars to ``p_y``; return the figure."""
        return self.live.draw(p_y=p_y)

    def png(self, p_y: float) -> bytes:
        """PNG bytes of the figure at ``p_y``, re-rendering only the bars and the title."""
        return self.live.png(p_y=p_y)


def logit_gradient_view(p_y: float = 0.1, num_classes: int = 10, label: int = 0):
    """One position of the p_y widget as a figure (see :class:`GradientExplorer`)."""
    return GradientExplorer(num_classes, label).draw(p_y)


def _palette(losses) -> dict:
    return {name: loss_style(name)["color"] for name in losses}


def gradient_share_figure(panels: dict, window: tuple[int, int], title: str | None = None):
    """Share of the gradient carried by flipped samples per epoch (``History.flipped_grad_share``), one
    line per loss with its seeds: mean and +-1 sd band (seaborn), against the share of flipped samples
    (the share if every sample pulled equally). Epochs after ``window`` (first, last) are shaded: the
    lesson's claims average over ``window``, and the second half is reported apart.

    ``panels``: {title: (curves, fraction)}, curves = ``SweepResult.curves("flipped_grad_share")`` of
    one noise setting, fraction = the share of flipped labels. Returns the Figure.
    """
    import seaborn as sns

    if not panels:
        raise ValueError("panels must contain at least one (title -> (curves, fraction)) entry")
    fig, axes = new_axes(len(panels), width=4.6 if len(panels) > 1 else 6.4, height=3.8, sharey=True)
    for ax, (panel, (curves, fraction)) in zip(axes[0], panels.items()):
        if not 0 <= fraction <= 1:
            raise ValueError(f"fraction must be in [0, 1], got {fraction}")
        frame = curves.assign(share=100 * curves["flipped_grad_share"])
        losses = list(dict.fromkeys(frame["loss"]))
        sns.lineplot(frame, x="epoch", y="share", hue="loss", palette=_palette(losses), errorbar=BAND, ax=ax,
                     lw=2, legend=False)
        ax.axhline(100 * fraction, color=OKABE_ITO["black"], lw=1, ls=(0, (4, 3)))
        end = frame["epoch"].max()
        if window[1] < end:
            ax.axvspan(window[1] + 0.5, end + 0.5, color="0.94", lw=0, zorder=0)
            ax.text((window[1] + end) / 2, 3, "second half:\nreported apart", ha="center", fontsize=7,
                    color="0.35")
        ax.set(ylim=(0, 100), xlabel="epoch", title=f"{panel}: {fraction:.0%} of labels flipped")
    axes[0, 0].set_ylabel("gradient on flipped samples (% of total)")
    handles = [Line2D([], [], color=loss_style(n)["color"], lw=2, label=_label(n)) for n in losses]
    handles.append(Line2D([], [], color=OKABE_ITO["black"], lw=1, ls=(0, (4, 3)),
                          label="fair share (= fraction of flipped samples)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8)
    fig.suptitle(title or "Where the gradient goes: CCE pours its effort into the wrong labels "
                          "(mean and \u00b11 sd over seeds)")
    return fig


def noisy_runs_figure(curves, num_classes: int | None = 10, title: str | None = None):
    """Runs on noisy labels (``SweepResult.curves("test_acc", "flipped_acc_noisy")`` of one noise
    setting): test accuracy and the share of flipped training samples predicted as their wrong,
    given label, per loss, mean and +-1 sd band over seeds. Returns the Figure."""
    import seaborn as sns

    losses = list(dict.fromkeys(curves["loss"]))
    fig, axes = new_axes(2, width=4.2, height=3.2)
    for ax, metric, sub in zip(axes[0], ("test_acc", "flipped_acc_noisy"), ("test accuracy", "flipped samples memorised")):
        sns.lineplot(curves, x="epoch", y=metric, hue="loss", palette=_palette(losses), errorbar=BAND, ax=ax, lw=2,
                     legend=metric == "test_acc")
        ax.set(xlabel="epoch", ylabel=SHORT_LABELS[metric], ylim=(0, 1), title=sub[0].upper() + sub[1:])
    if num_classes:
        axes[0, 1].axhline(1 / num_classes, color=OKABE_ITO["grey"], lw=1, ls=":")
        axes[0, 1].text(1, 1 / num_classes + 0.02, "chance: 1/K", fontsize=7, color=OKABE_ITO["grey"])
    axes[0, 0].legend(handles=[Line2D([], [], color=loss_style(n)["color"], lw=2, label=_label(n)) for n in losses],
                      fontsize=8, loc="lower right")
    fig.suptitle(title or "Under label noise CCE peaks, then memorises and falls; MAE holds steady")
    return fig


def class_sums_figure(sums: dict, num_classes: int, title: str | None = None):
    """sum_k L(f(x), k) for each input x (loss name -> (N,) values, e.g. from
    ``nblib.losses.class_sums``), inputs sorted by the first loss's value. A symmetric loss gives a
    flat line (for MAE at 2K - 2). Returns the Figure."""
    if not sums:
        raise ValueError("sums must contain at least one (loss -> values) entry")
    first = _np(next(iter(sums.values())))
    order = np.argsort(first)
    fig, axes = new_axes(width=5.6, height=3.4)
    ax = axes[0, 0]
    for name, s in sums.items():
        s = _np(s)[order]
        ax.plot(np.arange(len(s)), s, label=f"{_label(name)}: spread {s.max() - s.min():.2g}", lw=2, **loss_style(name))
    ax.set_xlabel("input x (sorted by CCE's sum)")
    ax.set_ylabel(r"$\sum_k L(f(x), k)$ over all K labels")
    ax.set_ylim(0, None)
    ax.set_title(title or f"MAE is symmetric: the sum is 2K-2 = {2 * num_classes - 2} for every x")
    ax.legend(fontsize=8)
    return fig


def underfit_figure(panels: dict, title: str | None = None):
    """Clean-label training of several losses: one panel per dataset ({title: curves}, curves =
    ``SweepResult.curves("test_acc", "train_acc")`` on clean labels), test accuracy (solid) and
    training accuracy (dashed) per epoch, every seed drawn as its own line: a seed that stalls
    stays visible instead of widening a band. Returns the Figure."""
    import seaborn as sns

    if not panels:
        raise ValueError("panels must contain at least one (title -> curves) entry")
    fig, axes = new_axes(len(panels), width=4.2, height=3.3, sharey=True)
    for ax, (name, curves) in zip(axes[0], panels.items()):
        losses = list(dict.fromkeys(curves["loss"]))
        for metric, ls in (("test_acc", "-"), ("train_acc", (0, (3, 2)))):
            sns.lineplot(curves, x="epoch", y=metric, hue="loss", palette=_palette(losses), units="seed",
                         estimator=None, ax=ax, lw=1.3, ls=ls, alpha=0.85, legend=False)
        ax.set(title=name, xlabel="epoch", ylim=(0, 1.02))
    axes[0, 0].set_ylabel("accuracy (fraction correct)")
    handles = [Line2D([], [], color=loss_style(n)["color"], lw=2, label=_label(n)) for n in losses]
    handles += [Line2D([], [], color="0.3", lw=1.3, label="test (one line per seed)"),
                Line2D([], [], color="0.3", lw=1.3, ls=(0, (3, 2)), label="train")]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8)
    fig.suptitle(title or "Clean labels: MAE starts slower than CCE, and on the harder task it stays behind")
    return fig
