"""Figures of lesson 1 (label noise): flipped examples, transition matrices, memorisation over seeds.

- ``flipped_examples``: training samples whose label was flipped, as curves (1-D signals) or images
  (digits), each titled "true -> given label";
- ``transition_panels``: several transition matrices T side by side (``T[i, j] = P(noisy = j | true = i)``);
- ``NoiseExplorer``: the noise widget's figure, the nominal T beside the T realised on real labels,
  built once so that a move of the rate slider only re-renders the cells and titles (blitting);
  ``noise_view`` draws one position of it;
- ``memorisation_figure``: cross entropy over the epochs at several noise rates, mean and seed band
  (seaborn): test accuracy peaks then falls while the flipped samples get fitted to their wrong label;
- ``noisy_validation_figure``: accuracy on a noisy validation set beside the clean test accuracy and
  the affine map of the latter (``nblib.theory.symmetric_noisy_accuracy``).

Noise rates are drawn in the colour of the loss that was trained (cross entropy: vermillion), from
dark (clean) to light (much noise), with one line style per rate (``rate_style``).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from matplotlib.colors import to_hex, to_rgb

from ... import noise as _noise
from ... import theory as _theory
from ..figures import annotation_colours, transition_heatmap
from ..style import CLEAN_COLOR, FLIPPED_COLOR, HEATMAP_CMAP, OKABE_ITO, loss_color, new_axes
from ..widgets import CellLabels, LiveFigure, live_figure

__all__ = ["NOISE_VARIANTS", "NOISE_TITLES", "rate_style", "rate_palette", "flipped_examples", "transition_panels",
           "NoiseExplorer", "noise_view", "memorisation_figure", "noisy_validation_figure"]

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
RATE_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)))
MAX_SHADE = 0.55     # how far towards white the noisiest rate is drawn (1 = white)
DARK_SHADE = 0.35    # how far towards black the clean run is drawn
ANNOT_MIN = 0.005    # heatmap cells below this are left blank (they print as .00)
ANNOT_SIZE = 6.5
BAND = ("sd", 1)     # seaborn's errorbar: mean +- one standard deviation over seeds


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


def rate_palette(noise_labels, loss: str = "ce") -> tuple[dict, dict]:
    """seaborn ``palette`` and ``dashes`` dicts for noise labels such as "sym 0.4" (see ``rate_style``)."""
    rates = {lab: float(lab.split()[-1]) for lab in noise_labels}
    styles = {lab: rate_style(r, list(rates.values()), loss) for lab, r in rates.items()}
    dash = {"-": "", "--": (4, 2), "-.": (4, 1.5, 1, 1.5), ":": (1, 1.5)}
    return ({lab: s["color"] for lab, s in styles.items()},
            {lab: dash.get(s["ls"], (5, 1, 1, 1, 1, 1)) for lab, s in styles.items()})


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


def transition_panels(matrices: dict, suptitle: str | None = None, annot: bool | None = None, class_names=None):
    """Heatmaps of several transition matrices side by side (title -> T). Returns the Figure."""
    if not matrices:
        raise ValueError("matrices must contain at least one (title -> T) entry")
    fig, axes = new_axes(len(matrices), width=3.3, height=3.5)
    for ax, (name, T) in zip(axes[0], matrices.items()):
        transition_heatmap(_np(T), ax=ax, title=name, annot=annot, class_names=class_names, fmt=_fmt,
                           annot_min=ANNOT_MIN)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


class NoiseExplorer:
    """The noise widget's figure: the nominal T of a noise model and rate, and, given clean ``labels``,
    the T realised by corrupting them (the share of each true class that received each label).

    The titles state the expected flip rate 1 - sum_i pi_i T[i, i] (pi: the class shares of
    ``labels``, uniform without labels) and the realised rate. The figure is built once; ``draw``
    moves it to new control values and returns it, ``png`` re-renders only the cells, their
    numbers and the titles over a cached background (for a slider that follows the hand).
    """

    def __init__(self, labels=None, num_classes: int = 10):
        self.K = num_classes
        self.labels = None if labels is None else _np(labels).astype(np.int64)
        self.prior = None if labels is None else np.bincount(self.labels, minlength=num_classes)
        panels = 1 if labels is None else 2
        self.fig, axes = live_figure(panels, width=3.6, height=3.9, left=0.1, right=0.97, bottom=0.12, top=0.8,
                                     wspace=0.35)
        self.images, self.cells = [], []
        for ax in axes[0]:
            im = ax.imshow(np.zeros((self.K, self.K)), cmap=HEATMAP_CMAP, vmin=0, vmax=1)
            ax.set_xticks(range(self.K))
            ax.set_yticks(range(self.K))
            ax.tick_params(length=0, labelsize=8)
            ax.grid(False)
            ax.set(xlabel="noisy label j", ylabel="true label i")
            self.images.append(im)
            self.cells.append(CellLabels(ax, (self.K, self.K), fontsize=ANNOT_SIZE))
        axes[0, 0].set_title("nominal T", fontsize=9)
        if labels is not None:
            axes[0, 1].set_title(f"realised T on these {len(self.labels)} labels", fontsize=9)
        self.suptitle = self.fig.suptitle(" ", fontsize=10)      # the one text that changes
        self.live = LiveFigure(self.fig, [*self.images, self.suptitle], self._move, overlays=self.cells)

    def matrices(self, kind: str = "symmetric", rate: float = 0.4, exact: bool = False, seed: int = 0) -> dict:
        """The numbers one position shows: nominal T, realised T (or None), expected and realised
        flip rates, and whether some wrong class is at least as likely as the true one."""
        if kind not in NOISE_VARIANTS:
            raise ValueError(f"unknown kind {kind!r}; choose one of: {', '.join(NOISE_VARIANTS)}")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            T = _noise.transition_matrix(rate=rate, num_classes=self.K, **NOISE_VARIANTS[kind])
        out = dict(T=T, expected=_noise.expected_flip_rate(T, self.prior), realised_T=None, realised=None,
                   warning=bool(caught))
        if self.labels is not None:
            noisy, _ = _noise.corrupt_labels(self.labels, T, seed=seed, exact=exact)
            out["realised"] = _noise.realised_rate(self.labels, noisy)
            out["realised_T"] = np.nan_to_num(_noise.empirical_transition(self.labels, noisy, self.K))
        return out

    def _move(self, kind: str = "symmetric", rate: float = 0.4, exact: bool = False, seed: int = 0) -> None:
        m = self.matrices(kind, rate, exact, seed)
        shown = [m["T"]] if self.labels is None else [m["T"], m["realised_T"]]
        for im, cells, M in zip(self.images, self.cells, shown):
            im.set_data(M)
            cells.set([[_fmt(v) if v >= ANNOT_MIN else "" for v in row] for row in M], annotation_colours(M, 0.0, 1.0))
        head = f"{NOISE_TITLES[kind]}, rate {rate:.2f}: expected flips {m['expected']:.1%}"
        if self.labels is not None:
            head += f", realised {m['realised']:.1%}"
        head += ("\nwarning: some wrong class is at least as likely as the true one" if m["warning"] else "\n ")
        self.suptitle.set_text(head)

    def draw(self, **values):
        """Move the figure to ``values`` (kind, rate, exact, seed); return it."""
        return self.live.draw(**values)

    def png(self, **values) -> bytes:
        """PNG bytes of the figure at ``values``, re-rendering only what changes."""
        return self.live.png(**values)


def noise_view(kind: str = "symmetric", rate: float = 0.4, labels=None, num_classes: int = 10,
               exact: bool = False, seed: int = 0):
    """One position of the noise widget as a figure (see :class:`NoiseExplorer`)."""
    return NoiseExplorer(labels, num_classes).draw(kind=kind, rate=rate, exact=exact, seed=seed)


def _lineplot(ax, frame, y, palette, dashes, legend, **kw):
    import seaborn as sns

    sns.lineplot(frame, x="epoch", y=y, hue="noise", style="noise", palette=palette, dashes=dashes,
                 errorbar=BAND, ax=ax, legend=legend, **kw)


def memorisation_figure(curves, title: str | None = None):
    """Cross entropy on noisy labels over the epochs, mean and +-1 sd band over seeds.

    ``curves``: the long frame of ``SweepResult.curves("test_acc", "flipped_acc_noisy",
    "flipped_acc_true")`` for one loss at several symmetric rates. Left: test accuracy (it peaks, then
    falls). Right, for the noisy rates: the share of flipped training samples predicted as their
    *given, wrong* label (solid) and as their *true* label (thin). Returns the Figure.
    """
    import seaborn as sns

    noises = list(dict.fromkeys(curves["noise"]))
    palette, dashes = rate_palette(noises)
    fig, axes = new_axes(2, width=4.6, height=3.6)
    left, right = axes[0]
    _lineplot(left, curves, "test_acc", palette, dashes, legend="full")
    left.set(xlabel="epoch", ylabel="test accuracy (clean test labels)", ylim=(0, 1),
             title="Test accuracy peaks, then falls")
    handles, labels = left.get_legend_handles_labels()
    left.legend(handles, [_pct(float(lab.split()[-1])) for lab in labels], title="symmetric noise", fontsize=8,
                title_fontsize=8, loc="lower right")
    noisy = curves[curves["noise"] != noises[0]] if noises[0].endswith(" 0") else curves
    for y, lw in (("flipped_acc_noisy", 2.0), ("flipped_acc_true", 1.0)):   # the rates' colours and dashes of the left
        _lineplot(right, noisy, y, palette, dashes, legend=False, lw=lw)
    right.axhline(0.1, color=OKABE_ITO["grey"], lw=1, ls=":")
    right.text(noisy["epoch"].max(), 0.12, "chance 1/K", ha="right", fontsize=8, color=OKABE_ITO["grey"])
    from matplotlib.lines import Line2D

    right.legend([Line2D([], [], color=OKABE_ITO["black"], lw=2.0), Line2D([], [], color=OKABE_ITO["black"], lw=1.0)],
                 ["thick: their wrong, given label", "thin: their true label"],
                 title="predicted as ... (rates: styles\nas on the left)", fontsize=7, title_fontsize=7,
                 loc="center left", bbox_to_anchor=(0.02, 0.45), framealpha=0.9)
    right.set(xlabel="epoch", ylabel="share of flipped training samples", ylim=(-0.02, 1.02),
              title="Flipped samples: true class first, then wrong label")
    fig.suptitle(title or "Cross entropy memorises the flipped labels (mean and \u00b11 sd over seeds)")
    return fig


def noisy_validation_figure(curves, rate: float, num_classes: int, selected_epochs=None, title: str | None = None):
    """Model selection without clean labels: per epoch, the accuracy on the *noisy* validation set
    beside the clean test accuracy and its affine image ``theory.symmetric_noisy_accuracy`` (what the
    noisy validation accuracy should be, given the clean accuracy). Mean and +-1 sd band over seeds.

    ``curves``: ``SweepResult.curves("test_acc", "val_acc")`` of one loss and one symmetric ``rate``.
    ``selected_epochs``: the epoch each seed's noisy validation accuracy peaks (ticks on the x axis).
    """
    import seaborn as sns

    frame = curves.copy()
    frame["affine"] = _theory.symmetric_noisy_accuracy(frame["test_acc"].to_numpy(), rate, num_classes)
    fig, axes = new_axes(width=6.2, height=3.7)
    ax = axes[0, 0]
    ce = loss_color("ce")
    sns.lineplot(frame, x="epoch", y="test_acc", errorbar=BAND, ax=ax, color=ce, lw=2,
                 label="test accuracy (clean labels)")
    sns.lineplot(frame, x="epoch", y="val_acc", errorbar=BAND, ax=ax, color=OKABE_ITO["blue"], lw=2,
                 label="validation accuracy (noisy labels)")
    sns.lineplot(frame, x="epoch", y="affine", errorbar=None, ax=ax, color=OKABE_ITO["black"], lw=1.2,
                 ls=(0, (2, 2)), label=f"affine map of the test accuracy: {rate:g}/(K-1) + acc (1 - {rate:g}K/(K-1))")
    if selected_epochs is not None:
        for e in selected_epochs:
            ax.axvline(e, color=OKABE_ITO["blue"], lw=0.8, ls=":", alpha=0.8)
    ax.set(xlabel="epoch  (dotted verticals: the epoch each seed's noisy validation picks)",
           ylabel="accuracy", ylim=(0, 1))
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(title or f"{rate:.0%} symmetric noise: the noisy validation curve follows the clean test curve",
                 fontsize=10)
    return fig
