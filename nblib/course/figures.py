"""Figures every lesson uses: learning curves, transition-matrix heatmaps, confusion matrices.

Every matrix in the course (T, T-hat, a confusion matrix, lesson 4's (alpha, beta) grid, lesson
6's loss x noise table) is drawn by one function, :func:`matrix_heatmap`: ``imshow`` plus a text
per cell, its colour chosen against the cell's own colour. It draws nothing else, so a slider
redraw costs one render (seaborn's heatmap renders the whole figure once more per heatmap to
check its tick labels, which made the three-matrix widgets several times slower).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from .style import HEATMAP_CMAP, loss_style, new_axes

ANNOT_SIZE = 6.5          # font size of the numbers written in heatmap cells
DARK_LUMINANCE = 0.5      # cells darker than this (Rec. 601 luma of their colour) get white text

METRIC_LABELS = {
    "test_acc": "test accuracy", "train_acc": "train accuracy (vs given labels)",
    "clean_acc": "accuracy on clean training samples",
    "flipped_acc_noisy": "flipped samples fitted to their wrong label",
    "flipped_acc_true": "flipped samples predicted as their true label",
    "flipped_grad_share": "share of gradient on flipped samples", "loss": "training loss",
}


def learning_curves(histories: dict, metric: str = "test_acc", ax=None, title: str | None = None):
    """Plot ``metric`` per epoch for each run in ``histories`` (label -> History).

    A label's colour follows its loss (``loss_style``), so 'ce' is the same colour everywhere;
    pass labels such as 'ce', 'gce q=0.7', 'forward(T-hat)'.
    """
    if metric not in METRIC_LABELS:
        raise ValueError(f"metric must be one of {', '.join(METRIC_LABELS)}, got {metric!r}")
    if ax is None:
        _, axes = new_axes()
        ax = axes[0, 0]
    for label, h in histories.items():
        ax.plot(h.epoch, getattr(h, metric), label=label, **loss_style(label))
    ax.set_xlabel("epoch")
    ax.set_ylabel(METRIC_LABELS[metric])
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def matrix_heatmap(M, ax, *, vmin: float | None = None, vmax: float | None = None, cmap: str = HEATMAP_CMAP,
                   annot: bool = True, fmt=".2f", annot_min: float | None = None, nan_text: str = "",
                   fontsize: float = ANNOT_SIZE, xticklabels=None, yticklabels=None, origin: str = "upper",
                   aspect: str = "equal"):
    """Draw matrix ``M`` on ``ax`` as coloured cells with their values written in; return the image.

    ``vmin``/``vmax``: colour range (default: the finite values' range); values outside are
    clipped to it. ``fmt``: a format spec or a function value -> text. ``annot_min``: cells with
    |value| below it stay blank (the zeros of a sparse T would hide its pattern). ``origin``:
    "upper" puts row 0 at the top (a matrix), "lower" at the bottom (a grid over two axes).
    """
    M = M.detach().cpu().numpy() if isinstance(M, torch.Tensor) else np.asarray(M, dtype=float)
    if M.ndim != 2:
        raise ValueError(f"M must be a 2-D matrix, got shape {M.shape}")
    finite = M[np.isfinite(M)]
    lo = vmin if vmin is not None else (finite.min() if finite.size else 0.0)
    hi = vmax if vmax is not None else (finite.max() if finite.size else 1.0)
    hi = hi if hi > lo else lo + 1e-9
    im = ax.imshow(np.clip(M, lo, hi), cmap=cmap, vmin=lo, vmax=hi, origin=origin, aspect=aspect)
    if annot:
        colours = annotation_colours(M, lo, hi, cmap)
        text = fmt if callable(fmt) else (lambda v: format(v, fmt))
        for (i, j), v in np.ndenumerate(M):
            if not np.isfinite(v):
                label, colour = nan_text, "black"
            elif annot_min is not None and abs(v) < annot_min:
                continue
            else:
                label, colour = text(v), colours[i, j]
            if label:
                ax.text(j, i, label, ha="center", va="center", fontsize=fontsize, color=colour, in_layout=False)
    rows, cols = M.shape
    ax.set_xticks(range(cols), list(xticklabels) if xticklabels is not None else range(cols))
    ax.set_yticks(range(rows), list(yticklabels) if yticklabels is not None else range(rows))
    ax.tick_params(length=0)
    ax.grid(False)
    return im


def annotation_colours(M, vmin: float, vmax: float, cmap: str = HEATMAP_CMAP) -> np.ndarray:
    """The text colour of each cell of a heatmap of ``M``: "white" on dark cells (luma below
    ``DARK_LUMINANCE``), else "black" (NaN cells: "black"). An array of strings shaped like ``M``."""
    M = np.asarray(M, dtype=float)
    hi = vmax if vmax > vmin else vmin + 1e-9
    luma = plt.get_cmap(cmap)((np.clip(np.nan_to_num(M, nan=vmin), vmin, hi) - vmin) / (hi - vmin))[..., :3] @ (
        0.299, 0.587, 0.114)
    return np.where(np.isfinite(M) & (luma < DARK_LUMINANCE), "white", "black")


def transition_heatmap(T, ax=None, title: str | None = None, class_names=None, annot: bool | None = None,
                       vmin: float = 0.0, vmax: float = 1.0, fmt=".2f", annot_min: float | None = None,
                       cmap: str = HEATMAP_CMAP, xlabel: str = "noisy label j", ylabel: str = "true label i"):
    """Heatmap of a transition matrix, rows = true class, columns = noisy class, T[i, j] = P(noisy=j | true=i).

    ``annot``: write the values in (default: when K <= 10); other options as :func:`matrix_heatmap`.
    """
    T = T.detach().cpu().numpy() if isinstance(T, torch.Tensor) else np.asarray(T, dtype=float)
    if ax is None:
        _, axes = new_axes(width=3.8, height=3.4)
        ax = axes[0, 0]
    annot = T.shape[0] <= 10 if annot is None else annot
    matrix_heatmap(T, ax, vmin=vmin, vmax=vmax, cmap=cmap, annot=annot, fmt=fmt, annot_min=annot_min,
                   xticklabels=class_names, yticklabels=class_names)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Row-normalised confusion matrix C[i, j] = P(pred = j | true = i)."""
    y_true = torch.as_tensor(y_true).cpu().numpy()
    y_pred = torch.as_tensor(y_pred).cpu().numpy()
    C = np.zeros((num_classes, num_classes))
    np.add.at(C, (y_true, y_pred), 1)
    return C / np.maximum(C.sum(1, keepdims=True), 1)


def confusion_heatmap(y_true, y_pred, num_classes: int, ax=None, title: str | None = None, class_names=None):
    """Heatmap of the row-normalised confusion matrix (rows: true class, columns: predicted)."""
    ax = transition_heatmap(confusion_matrix(y_true, y_pred, num_classes), ax=ax, title=title, class_names=class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    return ax
