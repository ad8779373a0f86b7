"""Figures of lesson 2 (CCE vs MAE gradients): per-sample weights, where the gradient goes, symmetry.

With p = softmax(z), p_y the probability of the given label and e_y its one-hot vector:

    CCE = -log p_y        dCCE/dz = p - e_y                dCCE/dtheta = -(1/p_y) dp_y/dtheta
    MAE = 2 - 2 p_y       dMAE/dz = 2 p_y (p - e_y)        dMAE/dtheta = -2       dp_y/dtheta

(using dp_y/dz = p_y (e_y - p)). Both push p_y up along the same direction; CCE multiplies it by
1/p_y, MAE by a constant. A sample whose label the model finds implausible (small p_y, typically a
flipped one) gets a huge weight from CCE and almost none from MAE.

- ``weight_curves``: the weight on -dp_y/dtheta and the logit gradient |dL/dz_y| against p_y;
- ``logit_gradient_view``: update function of the lesson's widget, the K logit gradients of both
  losses for a chosen p_y;
- ``grad_share_figure``: share of the gradient carried by flipped samples per epoch (from
  ``History.flipped_grad_share``), the lesson's central picture;
- ``noisy_run_panels``: test accuracy and memorised fraction of the same runs;
- ``class_sums_figure``: sum_k L(f(x), k) per input, flat for a symmetric loss;
- ``underfit_figure``: clean-label training of both losses on an easy and a harder dataset.
"""
from __future__ import annotations

import numpy as np
import torch

from ... import losses as _losses
from ..style import OKABE_ITO, loss_style, new_axes

__all__ = ["LOSS_LABELS", "weight_curves", "logit_gradient_view", "grad_share_figure", "noisy_run_panels",
           "class_sums_figure", "underfit_figure"]

LOSS_LABELS = {"ce": r"CCE  $-\log p_y$", "mae": r"MAE  $2 - 2p_y$", "mae apl": r"MAE (APL code)  $1 - p_y$"}
SHORT_LABELS = {"test_acc": "test accuracy (fraction)", "flipped_acc_noisy": "share of flipped samples"}
P_MIN = 0.01          # left end of the p_y axis (1/p_y is 100 there)
N_POINTS = 300


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


def logit_gradient_view(p_y: float = 0.1, num_classes: int = 10, label: int = 0):
    """Update function of the gradient widget: for logits whose softmax gives the label ``label`` the
    probability ``p_y`` and spreads the rest evenly, bar charts of dL/dz_k for CCE (p - e_y) and MAE
    (2 p_y (p - e_y)), computed with autograd. Returns the Figure."""
    if not 0 < p_y < 1:
        raise ValueError(f"p_y must be in (0, 1), got {p_y}")
    if not 0 <= label < num_classes:
        raise ValueError(f"label must be in [0, {num_classes - 1}], got {label}")
    p = torch.full((1, num_classes), (1 - p_y) / (num_classes - 1), dtype=torch.float64)
    p[0, label] = p_y
    y = torch.tensor([label])
    grads = {}
    for name in ("ce", "mae"):
        z = p.log().requires_grad_(True)
        getattr(_losses, name)(z, y, reduction="sum").backward()
        grads[name] = z.grad[0].numpy()
    fig, axes = new_axes(width=6.0, height=3.4)
    ax = axes[0, 0]
    k = np.arange(num_classes)
    width = 0.4
    for off, (name, g) in zip((-width / 2, width / 2), grads.items()):
        ax.bar(k + off, g, width=width, color=loss_style(name)["color"], label=_label(name))
    ax.axhline(0, color=OKABE_ITO["black"], lw=0.8)
    ax.set_xticks(k, [f"{i}\n(label)" if i == label else str(i) for i in k])
    ax.set_xlabel("class k")
    ax.set_ylabel(r"$\partial L/\partial z_k$ (gradient on logit k)")
    ax.set_ylim(-1.05, max(0.3, 1.1 * max(g.max() for g in grads.values())))
    ratio = grads["ce"][label] / grads["mae"][label]
    ax.set_title(f"$p_y$ = {p_y:.2f}: CCE's logit gradient is $1/(2p_y)$ = {ratio:.1f} x MAE's")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def _panels(runs: dict, what: str) -> dict:
    """Accept {loss: History} (one panel) or {panel title: {loss: History}} (one panel each)."""
    if not runs:
        raise ValueError(f"{what} must contain at least one (loss -> History) or (title -> {{loss -> History}}) entry")
    first = next(iter(runs.values()))
    return runs if isinstance(first, dict) else {"": runs}


def grad_share_figure(runs: dict, noise_rate, title: str | None = None):
    """Share of the gradient carried by flipped samples per epoch (``History.flipped_grad_share``), one
    line per loss, against the flipped fraction ``noise_rate`` (the share if every sample pulled
    equally). ``runs``: {loss: History} for one panel, or {panel title: {loss: History}} for one panel
    per dataset; ``noise_rate``: a fraction, or {panel title: fraction}. Returns the Figure."""
    panels = _panels(runs, "runs")
    rates = noise_rate if isinstance(noise_rate, dict) else {k: noise_rate for k in panels}
    for k, r in rates.items():
        if not 0 <= r <= 1:
            raise ValueError(f"noise_rate must be in [0, 1], got {r}")
    fig, axes = new_axes(len(panels), width=4.6 if len(panels) > 1 else 6.4, height=3.8, sharey=True)
    for ax, (panel, hs) in zip(axes[0], panels.items()):
        for name, h in hs.items():
            ax.plot(h.epoch, 100 * np.asarray(h.flipped_grad_share), label=_label(name), lw=2.2, **loss_style(name))
        ax.axhline(100 * rates[panel], color=OKABE_ITO["black"], lw=1, ls=(0, (4, 3)),
                   label="fair share (= fraction of flipped samples)")
        ax.set_ylim(0, 100)
        ax.set_xlabel("epoch")
        if panel:
            ax.set_title(f"{panel}: {rates[panel]:.0%} of labels flipped")
    axes[0, 0].set_ylabel("gradient on flipped samples (% of total)")
    head = title or "Where the gradient goes: CCE pours its effort into the wrong labels"
    if len(panels) == 1 and not next(iter(panels)):
        axes[0, 0].set_title(head)
        axes[0, 0].legend(fontsize=8, loc="lower right")
    else:
        fig.suptitle(head)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8)
    return fig


def noisy_run_panels(runs: dict, num_classes: int | None = 10, title: str | None = None):
    """Runs on noisy labels, ``runs`` = {loss: History} or {dataset: {loss: History}}: per dataset (one
    row each) the test accuracy and the share of flipped training samples predicted as their wrong,
    given label (memorised). Returns the Figure."""
    panels = _panels(runs, "runs")
    fig, axes = new_axes(2, len(panels), width=4.2, height=3.0, sharex="row")
    for row, (panel, hs) in zip(axes, panels.items()):
        for ax, metric, sub in zip(row, ("test_acc", "flipped_acc_noisy"),
                                   ("test accuracy", "flipped samples memorised")):
            for name, h in hs.items():
                ax.plot(h.epoch, getattr(h, metric), label=_label(name), lw=2, **loss_style(name))
            ax.set_xlabel("epoch")
            ax.set_ylabel(SHORT_LABELS[metric])
            ax.set_title(f"{panel}: {sub}" if panel else sub[0].upper() + sub[1:])
            ax.set_ylim(0, 1)
        if num_classes:
            row[1].axhline(1 / num_classes, color=OKABE_ITO["grey"], lw=1, ls=":", label="chance (1/K)")
    axes[0, 1].legend(fontsize=8)
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


def underfit_figure(runs: dict, title: str | None = None):
    """Clean-label training of several losses on several datasets: one panel per dataset (dataset ->
    {loss name -> History}), test accuracy (solid) and training accuracy (thin, dashed) per epoch;
    each panel's title states the final test accuracies. Returns the Figure."""
    if not runs:
        raise ValueError("runs must contain at least one (dataset -> {loss -> History}) entry")
    fig, axes = new_axes(len(runs), width=4.2, height=3.3, sharey=True)
    for ax, (dname, hs) in zip(axes[0], runs.items()):
        for name, h in hs.items():
            st = loss_style(name)
            ax.plot(h.epoch, h.test_acc, lw=2, label=f"{_label(name)} (test)", color=st["color"], ls="-")
            ax.plot(h.epoch, h.train_acc, lw=1, label=f"{name.upper()} (train)", color=st["color"], ls="--")
        finals = ", ".join(f"{n.upper()} {h.final_test_acc:.0%}" for n, h in hs.items())
        ax.set_title(f"{dname}: test {finals}")
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1)
    axes[0, 0].set_ylabel("accuracy (fraction correct)")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    fig.suptitle(title or "Clean labels: MAE plateaus below CCE, far below on the harder task")
    return fig
