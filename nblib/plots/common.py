"""Figures every lesson uses: learning curves, transition-matrix heatmaps, confusion matrices."""
from __future__ import annotations

import numpy as np
import seaborn as sns
import torch

from .style import HEATMAP_CMAP, loss_style, new_axes

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


def transition_heatmap(T, ax=None, title: str | None = None, class_names=None, annot: bool | None = None,
                       vmax: float = 1.0):
    """Heatmap of a transition matrix, rows = true class, columns = noisy class, T[i, j] = P(noisy=j | true=i)."""
    T = T.detach().cpu().numpy() if isinstance(T, torch.Tensor) else np.asarray(T)
    if ax is None:
        _, axes = new_axes(width=3.8, height=3.4)
        ax = axes[0, 0]
    K = T.shape[0]
    annot = K <= 10 if annot is None else annot
    names = class_names if class_names is not None else list(range(K))
    sns.heatmap(T, ax=ax, vmin=0, vmax=vmax, cmap=HEATMAP_CMAP, annot=annot, fmt=".2f",
                annot_kws={"fontsize": 6}, cbar=False, square=True, xticklabels=names, yticklabels=names)
    ax.set_xlabel("noisy label j")
    ax.set_ylabel("true label i")
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
