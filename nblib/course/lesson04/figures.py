"""Figures of lesson 4: normalized losses and Active-Passive losses (Ma et al. 2020).

- ``class_sum_strips``: sum_k L(f(x), k) over many x for several losses, each divided by its mean,
  so a symmetric loss is a single vertical line at 1 whatever its scale;
- ``class_sum_panels``: one loss's class sums as a histogram and against the confidence max_k p_k
  (the figure of the lesson's loss-picker widget);
- ``class_terms`` / ``active_passive_bars``: a loss written as sum_k l(f(x), k), one term per class.
  Active losses (CE, FL, NCE, NFL) have a non-zero term only at the label k = y; passive losses
  (MAE, RCE, NMAE, NRCE) also have terms at k != y, which push those p_k down;
- ``distribution_tracks``: the predicted distribution of a few training samples, epoch by epoch;
- ``fit_curves``: accuracy on the correctly labelled training samples and test accuracy per epoch,
  one column per condition (clean labels, noisy labels): underfitting shows as a low training
  accuracy even with clean labels;
- ``accuracy_vs_noise``: test accuracy against the noise rate, one line per loss;
- ``grid_heatmap``: test accuracy over an (alpha, beta) grid of APL runs.
"""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.patches import Rectangle

from ... import losses as L
from ..figures import matrix_heatmap
from ..style import CLEAN_COLOR, OKABE_ITO, loss_style, new_axes

__all__ = ["class_sum_strips", "class_sum_panels", "class_terms", "TERM_LOSSES", "active_passive_bars",
           "distribution_tracks", "FIT_METRICS", "fit_curves", "accuracy_vs_noise", "grid_heatmap"]

OTHER_CLASS_COLOR = OKABE_ITO["grey"]
JITTER = 0.18          # vertical spread of the points of one loss in the strip plot
MAX_POINTS = 400       # points drawn per loss in strip / scatter plots (the statistics use all)
SUM_LABEL = r"$\Sigma_k\, L(f(x), k)$"
CONSTANT_REL_TOL = 1e-6  # class sums whose spread is below this (relative) are constant up to rounding
PROB_SUM_TOL = 1e-6      # how far a probability vector may be from summing to 1

# losses whose per-class terms l(f(x), k) class_terms knows, with their kind (Ma et al. 2020, Def. 3)
TERM_LOSSES = {"ce": "active", "fl": "active", "nce": "active", "nfl": "active",
               "mae": "passive", "rce": "passive", "nmae": "passive", "nrce": "passive"}


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
        s = _np(s)
        rel = s / s.mean()
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


def class_sum_panels(sums, confidence, name: str, axes=None):
    """Two panels for one loss: histogram of s(x) = sum_k L(f(x), k), and s(x) against max_k p_k(x).

    ``sums``, ``confidence``: (N,) arrays over the same random predictions. Returns the two axes.
    """
    if axes is None:
        _, grid = new_axes(ncols=2, width=3.6, height=3.0)
        axes = grid[0]
    s, conf = _np(sums), _np(confidence)
    style = loss_style(name)
    gap = s.max() - s.min()
    lo, hi = s.min(), s.max()
    pad = max(1e-3 * max(abs(lo), abs(hi), 1.0), 0.05 * gap)
    ax = axes[0]
    ax.hist(s, bins=30, range=(lo - pad, hi + pad), color=style["color"], alpha=0.8)
    ax.set_xlabel(SUM_LABEL)
    ax.set_ylabel("number of random predictions x")
    ax.set_title(f"{name}: spread max - min = {gap:.2g}")
    ax = axes[1]
    ax.scatter(conf[:MAX_POINTS], s[:MAX_POINTS], s=6, alpha=0.6, color=style["color"], linewidths=0)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel(r"confidence $\max_k p_k(x)$")
    ax.set_ylabel(SUM_LABEL)
    ax.set_title("constant" if gap <= CONSTANT_REL_TOL * max(abs(s.mean()), 1.0) else "depends on the prediction")
    return axes


def class_terms(name: str, p, y: int, num_classes: int | None = None) -> np.ndarray:
    """The terms l(f(x), k) of a loss written as L(f(x), y) = sum_k l(f(x), k), shape (K,).

    With q = e_y the one-hot label: CE l_k = -q_k log p_k; FL l_k = -q_k (1 - p_k)^gamma log p_k;
    NCE, NFL: the same divided by their normalizer; MAE l_k = |q_k - p_k| (nblib's default, the
    paper's 2 - 2 p_y); RCE l_k = -p_k log max(q_k, 1e-4), i.e. A p_k for k != y and 0 at y;
    NMAE, NRCE: MAE and RCE times nblib's default normalizers. Uses the constants of
    ``nblib.losses`` (RCE_A, GAMMA_FOCAL), so the terms add up to the nblib loss value.
    """
    if name not in TERM_LOSSES:
        raise ValueError(f"unknown loss {name!r} for class_terms; choose one of: {', '.join(TERM_LOSSES)}")
    p = _np(p).ravel()
    K = len(p) if num_classes is None else num_classes
    if len(p) != K or K < 2:
        raise ValueError(f"p must be a probability vector of length num_classes >= 2, got length {len(p)}")
    if np.any(p < 0) or abs(p.sum() - 1) > PROB_SUM_TOL:
        raise ValueError("p must be a probability vector: non-negative entries that sum to 1")
    if not (isinstance(y, (int, np.integer)) and 0 <= y < K):
        raise ValueError(f"y must be a class index in [0, {K - 1}], got {y!r}")
    onehot = np.eye(K)[y]
    logp = np.log(np.clip(p, np.finfo(float).tiny, None))
    focal = (1 - p) ** L.GAMMA_FOCAL
    if name == "ce":
        return -onehot * logp
    if name == "nce":
        return -onehot * logp / -logp.sum()
    if name == "fl":
        return -onehot * focal * logp
    if name == "nfl":
        return -onehot * focal * logp / (-(focal * logp).sum())
    mae = np.abs(onehot - p)
    rce = L.RCE_A * p * (1 - onehot)
    return {"mae": mae, "nmae": mae / (2 * (K - 1)), "rce": rce, "nrce": rce / (4 * (K - 1))}[name]


def _label_bars(ax, values, y: int, color) -> None:
    """Bars of ``values`` per class; the label's bar hatched with a black edge, its tick in bold."""
    K = len(values)
    bars = ax.bar(range(K), values, color=color)
    bars[y].set_hatch("///")
    bars[y].set_edgecolor("black")
    ax.set_xticks(range(K))
    ax.tick_params(axis="x", labelsize=7)
    ax.get_xticklabels()[y].set_fontweight("bold")


def active_passive_bars(p, y: int, names=("ce", "nce", "mae", "rce"), axes=None, title: str | None = None):
    """Bars of p (first panel) and of each loss's per-class terms l(f(x), k) (one panel per loss).

    The label's bar is hatched; an active loss has all its value on it, a passive loss has terms
    on the other classes too. Returns the figure.
    """
    p = _np(p).ravel()
    if axes is None:
        fig, grid = new_axes(ncols=len(names) + 1, width=2.3, height=2.5, sharex=True)
        axes = grid[0]
    fig = axes[0].figure
    _label_bars(axes[0], p, y, OTHER_CLASS_COLOR)
    axes[0].set_ylim(0, 1)
    axes[0].set_title(f"prediction p, label y = {y}")
    axes[0].set_ylabel("probability $p_k$")
    for ax, name in zip(axes[1:], names):
        terms = class_terms(name, p, y)
        _label_bars(ax, terms, y, loss_style(name)["color"])
        ax.set_title(f"{name} ({TERM_LOSSES[name]}): L = {terms.sum():.2f}")
        ax.set_ylabel(r"term $\ell(f(x), k)$")
    for ax in axes:
        ax.set_xlabel("class k")
    fig.suptitle(title or "Active losses put their whole value on the label y (hatched); passive ones also on "
                 "the other classes")
    return fig


def distribution_tracks(tracks: dict, given, true, samples, axes=None, title: str | None = None):
    """Predicted distribution of a few training samples over training, one row per loss.

    ``tracks``: loss label -> array (E + 1, S, K) of predicted probabilities (row 0 = before
    training); ``given`` / ``true``: (S,) training label and true label of the tracked samples;
    ``samples``: which of the S to show (one column each). Per panel: p of the given label (the
    loss's style, thick), p of the true class when the label was flipped (CLEAN_COLOR, dotted),
    every other class (thin grey). Returns the figure.
    """
    given, true = _np(given).astype(int), _np(true).astype(int)
    samples = list(samples)
    if axes is None:
        fig, axes = new_axes(ncols=len(samples), nrows=len(tracks), width=2.6, height=1.9, sharex=True, sharey=True)
    fig = axes[0, 0].figure
    for r, (label, probs) in enumerate(tracks.items()):
        probs = _np(probs)
        epochs = np.arange(probs.shape[0])
        style = loss_style(label)
        for c, s in enumerate(samples):
            ax = axes[r, c]
            y, t = given[s], true[s]
            for k in range(probs.shape[2]):
                if k not in (y, t):
                    ax.plot(epochs, probs[:, s, k], color=OTHER_CLASS_COLOR, lw=0.7, alpha=0.7)
            if t != y:
                ax.plot(epochs, probs[:, s, t], color=CLEAN_COLOR, ls=":", lw=2.0, label="true class")
            ax.plot(epochs, probs[:, s, y], lw=2.2, label="given label", **style)
            ax.set_ylim(-0.02, 1.02)
            if r == 0:
                kind = f"flipped: label {y}, true {t}" if t != y else f"clean: label {y}"
                ax.set_title(f"sample {s} ({kind})", fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{label}\n$p_k$")
            if r == len(tracks) - 1:
                ax.set_xlabel("epoch")
    handles = [axes[0, 0].plot([], [], color=OTHER_CLASS_COLOR, lw=0.7)[0],
               axes[0, 0].plot([], [], color=CLEAN_COLOR, ls=":", lw=2.0)[0],
               axes[0, 0].plot([], [], color="black", lw=2.2)[0]]
    fig.legend(handles, ["other classes", "true class (if flipped)", "given label (row's colour)"],
               loc="outside lower center", ncols=3, fontsize=8)
    fig.suptitle(title or "Predicted distribution of a few training samples during training")
    return fig


FIT_METRICS = ("clean_acc", "test_acc")
FIT_METRIC_LABELS = {"clean_acc": "train accuracy\n(correctly labelled samples)", "test_acc": "test accuracy"}


def fit_curves(panels: dict, axes=None, title: str | None = None):
    """Columns: conditions (``panels`` = column title -> {loss label: History}); rows: the fit on the
    correctly labelled training samples (``History.clean_acc``) and the test accuracy, per epoch.

    A loss that underfits has a low first row even with clean labels. Returns the figure.
    """
    if axes is None:
        fig, axes = new_axes(ncols=len(panels), nrows=len(FIT_METRICS), width=3.8, height=2.5,
                             sharex=True, sharey=True)
    fig = axes[0, 0].figure
    for c, (name, runs) in enumerate(panels.items()):
        for r, metric in enumerate(FIT_METRICS):
            ax = axes[r, c]
            for label, h in runs.items():
                ax.plot(h.epoch, getattr(h, metric), label=label, **loss_style(label))
            ax.set_ylim(0, 1)
            if r == 0:
                ax.set_title(name)
            if c == 0:
                ax.set_ylabel(FIT_METRIC_LABELS[metric])
            if r == len(FIT_METRICS) - 1:
                ax.set_xlabel("epoch")
    axes[-1, -1].legend(fontsize=8)
    fig.suptitle(title or "Fitting the data: training accuracy on correct labels (top), test accuracy (bottom)")
    return fig


def accuracy_vs_noise(table, ax=None, ylabel: str = "test accuracy", title: str | None = None):
    """One line per loss: accuracy (rows of ``table``: loss labels) against the noise rate (columns).

    ``table``: pandas DataFrame, index = loss labels, columns = noise rates, values in [0, 1].
    """
    if ax is None:
        _, axes = new_axes(width=4.6)
        ax = axes[0, 0]
    rates = [float(r) for r in table.columns]
    for label, row in table.iterrows():
        ax.plot(rates, row.to_numpy(dtype=float), marker="o", ms=4, label=label, **loss_style(label))
    ax.set_xticks(rates)
    ax.set_xlabel("symmetric noise rate")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def grid_heatmap(acc, alphas, betas, selected=None, ax=None, title: str | None = None, label: str = "test accuracy"):
    """Heatmap of ``acc[i, j]`` for alpha = alphas[i] (rows) and beta = betas[j] (columns).

    ``selected``: an (alpha, beta) pair to outline. Cells are annotated with the value.
    """
    acc = _np(acc)
    if acc.shape != (len(alphas), len(betas)):
        raise ValueError(f"acc must have shape (len(alphas), len(betas)) = {(len(alphas), len(betas))}, got {acc.shape}")
    if ax is None:
        _, axes = new_axes(width=3.4, height=3.0)
        ax = axes[0, 0]
    im = matrix_heatmap(acc, ax, fmt=".3f", nan_text="-", fontsize=8, origin="lower",
                        xticklabels=[f"{b:g}" for b in betas], yticklabels=[f"{a:g}" for a in alphas])
    if selected is not None:
        i, j = list(alphas).index(selected[0]), list(betas).index(selected[1])
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec=OKABE_ITO["orange"], lw=3))
    ax.set_xlabel(r"$\beta$ (passive weight)")
    ax.set_ylabel(r"$\alpha$ (active weight)")
    ax.grid(False)
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label=label)
    if title:
        ax.set_title(title)
    return ax
