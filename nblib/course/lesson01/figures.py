"""Figures of lesson 1 (label noise): flipped examples, transition matrices, memorisation curves.

- ``flipped_examples``: training samples whose label was flipped, as curves (mnist1d) or images
  (digits), each titled "true -> given label";
- ``transition_panels``: several transition matrices T side by side (heatmaps,
  ``T[i, j] = P(noisy = j | true = i)``);
- ``noise_view``: the update function of the noise widget: one noise model and rate -> the
  nominal T beside the empirical T realised on real labels, with the expected and realised
  flip rates in the titles;
- ``accuracy_by_rate`` and ``flipped_fit_panels``: what cross entropy does with noisy
  labels over the epochs (test accuracy peaks then falls; flipped samples are memorised).

Noise rates are drawn in the colour of the loss that was trained (cross entropy: vermillion),
from dark (clean) to light (much noise), with one line style per rate (``rate_style``), so the
loss keeps its colour across the course and the rates stay apart in greyscale too.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from matplotlib.colors import to_hex, to_rgb

from ... import noise as _noise
from ..figures import transition_heatmap
from ..style import CLEAN_COLOR, FLIPPED_COLOR, OKABE_ITO, loss_color, new_axes

__all__ = ["NOISE_VARIANTS", "rate_style", "flipped_examples", "transition_panels", "noise_view",
           "accuracy_by_rate", "flipped_fit_panels"]

# The four noise models lesson 1 compares: widget value -> arguments of noise.transition_matrix.
NOISE_VARIANTS = {
    "symmetric": dict(kind="symmetric", include_true=False),
    "symmetric_incl": dict(kind="symmetric", include_true=True),
    "pair": dict(kind="pair"),
    "asymmetric": dict(kind="asymmetric", mapping="mnist"),
}
NOISE_TITLES = {
    "symmetric": "symmetric (true class excluded)",
    "symmetric_incl": "symmetric (true class included)",
    "pair": "pair flip i \u2192 i+1",
    "asymmetric": "asymmetric digit map",
}
LOSS_NAMES = {"ce": "Cross entropy", "mae": "MAE"}
RATE_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)))
MAX_SHADE = 0.55     # how far towards white the noisiest rate is drawn (1 = white)
DARK_SHADE = 0.35    # how far towards black the clean run is drawn
ANNOT_MIN = 0.005    # heatmap cells below this are left blank (they print as .00)


def _np(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def _pct(r: float) -> str:
    return f"{100 * r:.0f}%"


def rate_style(rate: float, rates, loss: str = "ce") -> dict:
    """Line style for a run at noise ``rate`` among ``rates``: the loss colour, dark for the lowest
    rate and lighter for higher ones, and one line style per rate (readable in greyscale too)."""
    rates = sorted(rates)
    i = rates.index(rate)
    t = i / max(len(rates) - 1, 1)                  # 0 = lowest rate, 1 = highest
    base = np.array(to_rgb(loss_color(loss)))
    if t < 0.5:                                     # blend towards black, then towards white
        rgb = base * (1 - DARK_SHADE * (1 - 2 * t))
    else:
        rgb = base + (1 - base) * MAX_SHADE * (2 * t - 1)
    return dict(color=to_hex(np.clip(rgb, 0, 1)), ls=RATE_LINESTYLES[i % len(RATE_LINESTYLES)])


def flipped_examples(x, y_true, y_noisy, n: int = 6, class_names=None, image_shape=None, seed: int = 0,
                     title: str | None = None):
    """Show ``n`` training samples whose label was flipped, each titled 'true a -> label b'.

    ``x``: (N, L) signals (drawn as curves, e.g. mnist1d) or (N, H*W) images with ``image_shape=(H, W)``
    (e.g. digits, (8, 8)). The samples are picked at random among the flipped ones (``seed``).
    Returns the Figure.
    """
    x, y_true, y_noisy = _np(x), _np(y_true), _np(y_noisy)
    flipped = np.flatnonzero(y_true != y_noisy)
    if flipped.size == 0:
        raise ValueError("y_noisy must differ from y_true for at least one sample, got no flipped labels")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    idx = np.sort(np.random.default_rng(seed).choice(flipped, size=min(n, flipped.size), replace=False))
    names = class_names if class_names is not None else [str(k) for k in range(int(max(y_true.max(), y_noisy.max())) + 1)]
    ncols = min(len(idx), 6)
    nrows = int(np.ceil(len(idx) / ncols))
    if image_shape is None:
        fig, axes = new_axes(ncols, nrows, width=2.0, height=1.8, sharey=True)
    else:
        fig, axes = new_axes(ncols, nrows, width=1.5, height=1.7)
    for ax in axes.flat[len(idx):]:
        ax.set_visible(False)
    for ax, i in zip(axes.flat, idx):
        if image_shape is None:
            ax.plot(np.arange(x.shape[1]), x[i], color=OKABE_ITO["black"], lw=1.2)
            ax.set_xlabel("position (step)")
        else:
            ax.imshow(x[i].reshape(image_shape), cmap="gray_r", interpolation="nearest")
            ax.set_axis_off()
        ax.set_title(f"true {names[y_true[i]]} \u2192 label {names[y_noisy[i]]}", color=FLIPPED_COLOR, fontsize=9)
    if image_shape is None:
        for ax in axes[:, 0]:
            ax.set_ylabel("signal (a.u.)")
    fig.suptitle(title or "Flipped training labels: the sample shows one class, its label names another")
    return fig


def _fmt(v: float) -> str:
    """Cell text: '1', '.60', and three digits below 0.1 ('.044' vs '.040' tell the two symmetric kinds apart)."""
    return "1" if v >= 0.9995 else (f"{v:.3f}" if v < 0.1 else f"{v:.2f}")[1:]


def _heatmap(T, ax, title: str, class_names=None, annot: bool | None = None):
    """``transition_heatmap`` writing only the non-zero cells, in ``_fmt``'s short form."""
    return transition_heatmap(_np(T), ax=ax, title=title, annot=annot, class_names=class_names, fmt=_fmt,
                              annot_min=ANNOT_MIN)


def transition_panels(matrices: dict, suptitle: str | None = None, annot: bool | None = None, class_names=None):
    """Heatmaps of several transition matrices side by side (title -> T). Returns the Figure."""
    if not matrices:
        raise ValueError("matrices must contain at least one (title -> T) entry")
    fig, axes = new_axes(len(matrices), width=3.3, height=3.5)
    for ax, (name, T) in zip(axes[0], matrices.items()):
        _heatmap(T, ax=ax, title=name, class_names=class_names, annot=annot)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def noise_view(kind: str = "symmetric", rate: float = 0.4, labels=None, num_classes: int = 10,
               exact: bool = False, seed: int = 0):
    """Update function of the noise widget: nominal T for ``kind`` (a key of ``NOISE_VARIANTS``)
    and ``rate``, and, when ``labels`` are given, the empirical T realised by corrupting them.

    The titles state the expected flip rate 1 - sum_i pi_i T[i, i] (pi: the class frequencies of
    ``labels``, uniform without labels) and the realised rate, the fraction of labels that changed.
    Returns the Figure.
    """
    if kind not in NOISE_VARIANTS:
        raise ValueError(f"unknown kind {kind!r}; choose one of: {', '.join(NOISE_VARIANTS)}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        T = _noise.transition_matrix(rate=rate, num_classes=num_classes, **NOISE_VARIANTS[kind])
    prior = None if labels is None else np.bincount(_np(labels).astype(np.int64), minlength=num_classes)
    expected = _noise.expected_flip_rate(T, prior)
    fig, axes = new_axes(2 if labels is not None else 1, width=3.6, height=3.7)
    _heatmap(T, ax=axes[0, 0], title=f"nominal T: expected flips {expected:.1%}")
    head = f"{NOISE_TITLES[kind]}, rate {rate:.2f}"
    if labels is not None:
        noisy, _ = _noise.corrupt_labels(labels, T, seed=seed, exact=exact)
        realised = _noise.realised_rate(labels, noisy)
        emp = _noise.empirical_transition(labels, noisy, num_classes)
        emp = np.nan_to_num(emp)
        _heatmap(emp, ax=axes[0, 1], title=f"realised on {len(_np(labels))} labels: {realised:.1%} flipped")
        head += f": {realised:.1%} of labels actually flipped"
    if caught:
        head += "\n(warning: some wrong class is at least as likely as the true one)"
    fig.suptitle(head)
    return fig


def _peak(ax, h, style):
    e = h.best_epoch
    ax.plot([e], [h.best_test_acc], "o", color=style["color"], ms=5, zorder=3)


def accuracy_by_rate(histories: dict, loss: str = "ce", ax=None, title: str | None = None):
    """Test accuracy per epoch for runs at several noise rates (rate -> History); the best epoch
    of each run is marked with a dot. Returns the Figure."""
    if not histories:
        raise ValueError("histories must contain at least one (rate -> History) entry")
    if ax is None:
        fig, axes = new_axes(width=6.0, height=3.6)
        ax = axes[0, 0]
    else:
        fig = ax.figure
    for rate, h in sorted(histories.items()):
        st = rate_style(rate, list(histories), loss)
        ax.plot(h.epoch, h.test_acc, label="clean" if rate == 0 else f"{_pct(rate)} noise", lw=1.8, **st)
        _peak(ax, h, st)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (fraction correct)")
    ax.set_title(title or f"{LOSS_NAMES.get(loss, loss.upper())} on noisy labels: test accuracy peaks (dot), then falls")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def flipped_fit_panels(histories: dict, num_classes: int | None = 10, title: str | None = None):
    """One panel per noisy run (rate -> History): on the flipped training samples, the share the
    model predicts as their *given, wrong* label (memorised) and as their *true* label, per epoch.
    Clean runs (rate 0) are skipped. ``num_classes`` draws the chance level 1/K. Returns the Figure."""
    noisy = {r: h for r, h in sorted(histories.items()) if r > 0}
    if not noisy:
        raise ValueError("histories must contain at least one run with rate > 0")
    fig, axes = new_axes(len(noisy), width=3.4, height=3.3, sharey=True)
    for ax, (rate, h) in zip(axes[0], noisy.items()):
        ax.plot(h.epoch, h.flipped_acc_noisy, color=FLIPPED_COLOR, lw=1.8, label="predicts the wrong (given) label")
        ax.plot(h.epoch, h.flipped_acc_true, color=CLEAN_COLOR, lw=1.8, ls="--", label="predicts the true label")
        if num_classes:
            ax.axhline(1 / num_classes, color=OKABE_ITO["grey"], lw=1, ls=":", label="chance (1/K)")
        ax.set_title(f"{_pct(rate)} symmetric noise")
        ax.set_xlabel("epoch")
        ax.set_ylim(-0.02, 1.02)
    axes[0, 0].set_ylabel("share of flipped training samples")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8)
    fig.suptitle(title or "Flipped samples: first predicted as their true class, then memorised with the wrong label")
    return fig
