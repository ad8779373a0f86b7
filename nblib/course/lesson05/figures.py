"""Figures of lesson 5: loss correction with a noise transition matrix T (Patrini et al. 2017).

Notation: T[i, j] = P(noisy = j | true = i), p the predicted clean posterior, l(p) the vector of
cross entropies (-log p_1, ..., -log p_K). Forward correction: -log (T^T p)_y; backward
correction: (T^-1 l(p))_y. Every number drawn here comes from the core: the losses of every label
from ``nblib.losses.class_values`` (an expected loss is that row times a label distribution), T
from ``nblib.noise``, the anchor-point estimate from ``nblib.estimate``.

Sliders (each a :class:`~nblib.course.widgets.LiveFigure`, built once, redrawn in milliseconds):

- :class:`ExpectedLossExplorer`  binary toy of Theorems 1 and 2: the expected loss at one x against
  the prediction; plain CE is minimised at the *noisy* posterior, forward and backward at the clean one;
- :class:`ConditioningExplorer`  T(eta) of a family, its inverse, the backward per-sample losses of
  fixed predictions, and cond(T) against eta with float32's limit ``nblib.losses.MAX_COND``;
- :class:`EstimationExplorer`    the anchor-point estimate from the CE model of any epoch, with the
  percentile and the outlier filter, beside the estimation error and the noisy validation accuracy
  per epoch.

Statistics over seeds (seaborn, mean with a +-1 sd band or error bars): :func:`curves_figure`,
:func:`estimation_error_figure`, :func:`wrong_t_figure`; and :func:`loss_distribution_figure`
(per-sample training losses of trained models).

Why one file of ~500 lines: it is the lesson's every figure and slider, in the lesson's order; the
conditioning and estimation explorers share its matrix panel (``_MatrixPanel``).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from ... import estimate, losses, noise
from ..._checks import check_choice, check_in_range, check_transition_matrix
from ..figures import transition_heatmap
from ..style import FLIPPED_COLOR, HEATMAP_CMAP, OKABE_ITO, loss_palette, loss_style, new_axes, seaborn_dashes
from ..widgets import LiveFigure, live_figure

__all__ = [
    "FAMILIES", "family_matrix", "singular_rate", "ExpectedLossExplorer", "ConditioningExplorer", "EstimationExplorer",
    "conditioning_table", "curves_figure", "estimation_error_figure", "wrong_t_figure", "loss_distribution_figure",
]

GRID_POINTS = 399          # predictions on the x axis of the binary toy
GRID_EDGE = 0.0025         # the toy's predicted P(y=1|x) runs from GRID_EDGE to 1 - GRID_EDGE
TOY_YLIM = (0.0, 2.5)      # the toy's expected-loss axis (nats)
INV_CLIP = 10.0            # colour range of the T^-1 heatmap is [-INV_CLIP, INV_CLIP]
LOSS_LIMIT = 1000.0        # the per-sample loss histogram spans [-LOSS_LIMIT, LOSS_LIMIT] (symmetric log)
HIST_BINS = 60
CURVE_POINTS = 80          # etas on the cond(T) curve
ANNOT_MIN = 0.05           # entries of a slider's matrix below this (in absolute value) stay unlabelled
OFF_ANNOT_FACTOR = 2       # a row's largest off-diagonal entry is labelled from ANNOT_MIN times this
ERR_COLOR = OKABE_ITO["purple"]
VAL_COLOR = OKABE_ITO["green"]
# the two families of lesson 5: T(eta) = (1 - eta) I + eta P with P uniform over the other classes,
# or the digit confusions of Patrini et al. (7->1, 2->7, 5<->6, 3->8)
FAMILIES = {"symmetric": dict(kind="symmetric"), "digit map": dict(kind="asymmetric", mapping="digits")}


def family_matrix(family: str, num_classes: int, eta: float) -> np.ndarray:
    """T(eta) of ``family`` (a key of ``FAMILIES``), from ``nblib.noise.transition_matrix``."""
    kw = dict(FAMILIES[check_choice("family", family, FAMILIES)])
    with warnings.catch_warnings():    # near the singular point T is no longer diagonally dominant
        warnings.simplefilter("ignore", UserWarning)
        return noise.transition_matrix(kw.pop("kind"), num_classes, eta, **kw)


def singular_rate(family: str, num_classes: int) -> float:
    """The eta at which T(eta) of ``family`` is singular (``nblib.noise.singular_rate``)."""
    kw = dict(FAMILIES[check_choice("family", family, FAMILIES)])
    return noise.singular_rate(kw.pop("kind"), num_classes, **kw)


def _entry(v: float) -> str:
    """Cell text: two decimals, whole numbers from 10 on (entries of T^-1 can be large)."""
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}"


class _MatrixPanel:
    """A K x K heatmap whose values a slider changes, updated in place.

    Few entries are written (the colours carry the rest): on each row the diagonal and the largest
    off-diagonal entry, when their |value| is at least ``annot_min`` (None: no numbers at all). The
    numbers are a :class:`nblib.course.widgets.CellLabels` (``labels``; pass it to ``LiveFigure`` as an
    overlay): painted from cached glyph bitmaps while a slider moves, plain texts in a static draw.
    """

    def __init__(self, ax, M, *, vmin: float, vmax: float, cmap: str = HEATMAP_CMAP, title: str = "",
                 xlabel: str = "noisy label j", ylabel: str = "true label i", annot_min: float | None = ANNOT_MIN):
        from ..widgets import CellLabels

        self.vmin, self.vmax, self.cmap, self.annot_min = vmin, vmax, cmap, annot_min
        transition_heatmap(np.zeros_like(M), ax=ax, vmin=vmin, vmax=vmax, cmap=cmap, annot=False,
                           xlabel=xlabel, ylabel=ylabel)
        self.image = ax.images[0]
        self.labels = None if annot_min is None else CellLabels(ax, M.shape, fontsize=6)
        self.title = ax.set_title(title, fontsize=9)
        self.set(M)

    @property
    def artists(self) -> list:
        """Everything an update changes but the labels: the image and the title."""
        return [self.image, self.title]

    @property
    def dynamic(self) -> list:
        """The artists an update without a new title changes (the labels are an overlay)."""
        return [self.image]

    @property
    def overlays(self) -> list:
        """The panel's CellLabels, for ``LiveFigure(..., overlays=...)`` (none without numbers)."""
        return [] if self.labels is None else [self.labels]

    def set(self, M, title: str | None = None) -> None:
        import matplotlib.pyplot as plt

        self.image.set_data(np.clip(M, self.vmin, self.vmax))
        if title is not None:
            self.title.set_text(title)
        if self.labels is None:
            return
        K = len(M)
        shade = plt.get_cmap(self.cmap)((np.clip(M, self.vmin, self.vmax) - self.vmin) / (self.vmax - self.vmin))
        dark = shade[..., :3] @ (0.299, 0.587, 0.114) < 0.5
        largest_off = (np.abs(M) - np.diag(np.full(K, np.inf))).argmax(axis=1)
        text = np.full(M.shape, "", dtype=object)
        for k, (i, j) in enumerate([(i, i) for i in range(K)] + [(i, int(largest_off[i])) for i in range(K)]):
            if abs(M[i, j]) >= self.annot_min * (1 if k < K else OFF_ANNOT_FACTOR):
                text[i, j] = _entry(M[i, j])
        self.labels.set(text, np.where(dark, "white", "black"))


# ----------------------------------------------------------------------------- 1. the binary toy

class ExpectedLossExplorer:
    """Theorems 1 and 2 in one picture: two classes, one input x with clean posterior
    c = (1 - P(y=1|x), P(y=1|x)), flip rates e01 (0 -> 1) and e10 (1 -> 0).

    For every prediction p = (1 - q, q) on a grid of q, the expected loss at x under the noisy
    label distribution T^T c is ``class_values(loss, logits(p), T=T) @ (T^T c)``: plain CE is
    minimised at the noisy posterior (T^T c)_1, forward and backward at the clean one; backward's
    curve *is* the clean CE (unbiasedness). ``draw(...)`` returns the figure, ``png(...)`` the
    bytes a slider shows; ``minima(...)`` the argmins.
    """

    def __init__(self):
        self.q = np.linspace(GRID_EDGE, 1 - GRID_EDGE, GRID_POINTS)
        self.logits = torch.as_tensor(np.stack([np.zeros_like(self.q), np.log(self.q / (1 - self.q))], axis=1))
        self.fig, ((ax,),) = live_figure(1, width=6.0, height=3.4, left=0.1, right=0.97, bottom=0.14, top=0.9)
        self.lines, self.marks = {}, {}
        (self.lines["clean"],) = ax.plot(self.q, self.q, color=OKABE_ITO["grey"], lw=6, alpha=0.5,
                                         label="clean CE (the target)")
        for name in ("ce", "forward", "backward"):
            st = loss_style(name)
            (self.lines[name],) = ax.plot(self.q, self.q, lw=1.8, label={"ce": "CE on noisy labels"}.get(name, name), **st)
            self.marks[name] = ax.axvline(0.5, color=st["color"], ls=":", lw=1)
        self.clean_mark = ax.axvline(0.5, color="black", lw=1, alpha=0.6)
        ax.set_xlim(0, 1)
        ax.set_ylim(*TOY_YLIM)
        ax.set_xlabel("predicted P(y = 1 | x)")
        ax.set_ylabel("expected loss at x (nats)")
        ax.legend(fontsize=8, loc="upper center", ncols=2)
        self.title = ax.text(0.0, 1.03, "", transform=ax.transAxes, fontsize=9)
        dynamic = [*self.lines.values(), *self.marks.values(), self.clean_mark, self.title]
        self.live = LiveFigure(self.fig, dynamic, self._move)

    def curves(self, p_clean: float, e01: float, e10: float) -> dict:
        """The expected losses on the grid (``q``, ``clean``, ``ce``, ``forward``, ``backward``) and
        the noisy posterior P(noisy = 1 | x)."""
        check_in_range("p_clean", p_clean, 0, 1)
        T = noise.binary_transition(e01, e10)
        c = np.array([1 - p_clean, p_clean])
        noisy = T.T @ c
        values = {name: losses.class_values(name, self.logits, **({"T": T} if name != "ce" else {})).numpy()
                  for name in ("ce", "forward", "backward")}
        out = {"q": self.q, "noisy_posterior": float(noisy[1]), "clean": values["ce"] @ c}
        out.update({name: v @ noisy for name, v in values.items()})
        return out

    def minima(self, p_clean: float, e01: float, e10: float) -> dict:
        """Where each expected loss is smallest on the grid (clean, ce, forward, backward)."""
        r = self.curves(p_clean, e01, e10)
        return {k: float(self.q[np.argmin(r[k])]) for k in ("clean", "ce", "forward", "backward")}

    def _move(self, p_clean: float, e01: float, e10: float) -> None:
        r = self.curves(p_clean, e01, e10)
        self.lines["clean"].set_ydata(r["clean"])
        at = {}
        for name in ("ce", "forward", "backward"):
            at[name] = float(self.q[np.argmin(r[name])])
            self.lines[name].set_ydata(r[name])
            self.marks[name].set_xdata([at[name], at[name]])
        self.clean_mark.set_xdata([p_clean, p_clean])
        self.title.set_text(f"posterior: clean {p_clean:.2f}, noisy {r['noisy_posterior']:.2f}  |  minima (dotted): "
                            f"CE {at['ce']:.2f}, forward {at['forward']:.2f}, backward {at['backward']:.2f}")

    def draw(self, p_clean: float = 0.7, e01: float = 0.1, e10: float = 0.4):
        return self.live.draw(p_clean=p_clean, e01=e01, e10=e10)

    def png(self, p_clean: float = 0.7, e01: float = 0.1, e10: float = 0.4) -> bytes:
        return self.live.png(p_clean=p_clean, e01=e01, e10=e10)


# ----------------------------------------------------------------------------- 2. conditioning

class ConditioningExplorer:
    """Backward correction's T^-1 for T(eta) of one family, on fixed predictions.

    ``logits`` (N, K): a CE model's predictions on the training set; ``labels`` (N,): their noisy
    labels. Left: T^-1. Middle: the per-sample losses of these predictions under CE and under
    backward correction with T(eta) (``nblib.losses.backward``). Right: cond(T(eta)) and the spread
    of the backward losses against eta (computed once), the current eta, and the float32 limit
    ``nblib.losses.MAX_COND`` beyond which backward correction refuses T.
    """

    def __init__(self, logits, labels, family: str = "symmetric"):
        self.family = check_choice("family", family, FAMILIES)
        self.logits = torch.as_tensor(logits).double()
        self.labels = torch.as_tensor(labels).long()
        self.K = self.logits.shape[1]
        self.eta_star = singular_rate(family, self.K)
        self.eta_max = self.max_eta(self.K, family)
        ce = losses.ce(self.logits, self.labels, reduction="none").numpy()
        etas = np.linspace(0, self.eta_max, CURVE_POINTS)
        conds = [noise.condition_number(family_matrix(family, self.K, e)) for e in etas]
        spread = [self.backward_losses(e).std() for e in etas]
        self.fig, ((a1, a2, a3),) = live_figure(3, width=4.0, height=3.6, left=0.05, right=0.985, wspace=0.42,
                                               top=0.8, bottom=0.15)
        T_inv = np.linalg.inv(family_matrix(family, self.K, 0.0))
        self.inverse = _MatrixPanel(a1, T_inv, vmin=-INV_CLIP, vmax=INV_CLIP, cmap="RdBu_r", annot_min=None,
                                    xlabel="class j of the loss vector", ylabel="noisy label y")
        self.fig.colorbar(self.inverse.image, ax=a1, shrink=0.8)
        self.bins = np.concatenate([-np.logspace(np.log10(LOSS_LIMIT), 0, HIST_BINS // 2)[:-1],
                                    np.linspace(-1, 1, 5), np.logspace(0, np.log10(LOSS_LIMIT), HIST_BINS // 2)[1:]])
        counts, _ = np.histogram(np.clip(ce, -LOSS_LIMIT, LOSS_LIMIT), bins=self.bins)
        a2.stairs(counts, self.bins, fill=True, color=loss_style("ce")["color"], alpha=0.35, label=f"CE: std {ce.std():.2f}")
        self.hist = a2.stairs(counts, self.bins, color=loss_style("backward")["color"], lw=2, label="backward")
        a2.set_xscale("symlog", linthresh=1)
        a2.set_xlim(-LOSS_LIMIT, LOSS_LIMIT)
        a2.set_ylim(0, 1.15 * len(ce))
        a2.set_yscale("symlog", linthresh=10)
        a2.axvline(0, color="black", lw=0.8)
        a2.set_xlabel("per-sample loss (nats, symmetric log axis)")
        a2.set_ylabel("samples")
        a2.legend(fontsize=7, loc="upper left")
        self.hist_text = a2.text(0.02, 0.55, "", transform=a2.transAxes, fontsize=7,
                                 color=loss_style("backward")["color"])
        a2.set_title("Per-sample losses of the same predictions", fontsize=9)

        a3.semilogy(etas, conds, color="black", label="cond(T)")
        a3.semilogy(etas, spread, color=loss_style("backward")["color"], label="std of backward losses")
        a3.axhline(losses.MAX_COND, color=FLIPPED_COLOR, ls="--", lw=1)
        a3.text(0.02, losses.MAX_COND * 1.6,
                f"nblib refuses backward beyond cond {losses.MAX_COND:.2g} (1% float32 error)",
                fontsize=7, color=FLIPPED_COLOR, transform=a3.get_yaxis_transform())
        a3.axvline(self.eta_star, color="grey", ls=":")
        a3.set_xlim(0, self.eta_star * 1.02)
        a3.set_ylim(0.3, losses.MAX_COND * 20)
        (self.mark_cond,) = a3.plot([0], [1], "o", color="black", ms=6)
        (self.mark_spread,) = a3.plot([0], [1], "o", color=loss_style("backward")["color"], ms=6)
        a3.set_xlabel(f"eta (T singular at {self.eta_star:.2f})")
        a3.set_ylabel("value (log scale)")
        a3.legend(fontsize=7, loc="center left")
        self.cond_title = a3.set_title("", fontsize=9)
        self.suptitle = self.fig.text(0.01, 0.93, "", fontsize=10)
        self.fig.text(0.25, 0.93, "the closer T is to singular, the wilder backward's per-sample losses", fontsize=9)
        dynamic = [*self.inverse.artists, self.hist, self.hist_text, self.mark_cond,
                   self.mark_spread, self.cond_title, self.suptitle]
        self.live = LiveFigure(self.fig, dynamic, self._move)

    @staticmethod
    def max_eta(num_classes: int, family: str, steps: int = 200) -> float:
        """The largest eta on a grid of ``steps`` up to the singular point whose T(eta) backward
        correction still accepts (cond(T) <= ``nblib.losses.MAX_COND``)."""
        star = singular_rate(family, num_classes)
        ok = [e for e in np.linspace(0, star, steps, endpoint=False)
              if noise.condition_number(family_matrix(family, num_classes, e)) <= losses.MAX_COND]
        return float(ok[-1])

    def backward_losses(self, eta: float) -> np.ndarray:
        """Per-sample backward-corrected losses of the fixed predictions with T(eta)."""
        T = family_matrix(self.family, self.K, eta)
        return losses.backward(self.logits, self.labels, T=T, reduction="none").numpy()

    def _move(self, eta: float) -> None:
        eta = float(min(max(eta, 0.0), self.eta_max))
        T = family_matrix(self.family, self.K, eta)
        bwd = self.backward_losses(eta)
        cond = noise.condition_number(T)
        T_inv = np.linalg.inv(T)
        self.inverse.set(T_inv, title=f"T^-1: largest |entry| {np.abs(T_inv).max():.3g}")
        counts, _ = np.histogram(np.clip(bwd, -LOSS_LIMIT, LOSS_LIMIT), bins=self.bins)
        self.hist.set_data(counts)
        self.hist_text.set_text(f"backward: std {bwd.std():.3g}\n{(bwd < 0).mean():.0%} negative")
        self.mark_cond.set_data([eta], [cond])
        self.mark_spread.set_data([eta], [bwd.std()])
        self.cond_title.set_text(f"cond(T) = {cond:.3g}")
        self.suptitle.set_text(f"{self.family} T(eta = {eta:.3f})")

    def draw(self, eta: float = 0.4):
        return self.live.draw(eta=eta)

    def png(self, eta: float = 0.4) -> bytes:
        return self.live.png(eta=eta)


def conditioning_table(logits, labels, family: str, etas, digits: int = 3):
    """pandas DataFrame, one row per eta: cond(T(eta)), the largest |entry| of T^-1, and the std,
    minimum and share of negative values of the backward per-sample losses of ``logits``/``labels``."""
    import pandas as pd

    explorer_rows = []
    z, y = torch.as_tensor(logits).double(), torch.as_tensor(labels).long()
    for eta in etas:
        T = family_matrix(family, z.shape[1], eta)
        L = losses.backward(z, y, T=T, reduction="none").numpy()
        explorer_rows.append(dict(eta=eta, cond_T=noise.condition_number(T), max_abs_T_inv=np.abs(np.linalg.inv(T)).max(),
                                  bwd_loss_std=L.std(), bwd_loss_min=L.min(), share_negative=(L < 0).mean()))
    return pd.DataFrame(explorer_rows).set_index("eta").round(digits)


# ----------------------------------------------------------------------------- 3. estimation

class EstimationExplorer:
    """The anchor-point estimate of T from the CE model of a chosen epoch.

    ``probs`` (E, N, K): the CE model's predicted noisy-label probabilities on the training set
    after each of its E epochs; ``T`` the true matrix (only to score the estimate); ``val_acc``
    (E,): its accuracy on the noisy validation set per epoch. Panels: T-hat, |T-hat - T|, and per
    epoch the estimation error (97th percentile, filter on: Patrini's setting) with the noisy
    validation accuracy; the chosen epoch and the epoch of best validation accuracy are marked.
    """

    def __init__(self, probs, T, val_acc, percentile: float = 97.0):
        self.probs = np.asarray(probs)
        self.T = check_transition_matrix(T)
        self.val = np.asarray(val_acc, dtype=float)
        E = self.probs.shape[0]
        if self.probs.ndim != 3 or len(self.val) != E:
            raise ValueError("probs must be (epochs, N, K) and val_acc one value per epoch")
        self.epochs = np.arange(1, E + 1)
        self.errors = np.array([self.error(e, percentile, True) for e in self.epochs])
        self.val_epoch = int(self.epochs[np.argmax(self.val)])
        self.fig, ((a1, a2, a3),) = live_figure(3, width=3.3, height=3.2, left=0.06, right=0.92, wspace=0.5,
                                               top=0.8, bottom=0.16)
        K = self.T.shape[0]
        self.hat = _MatrixPanel(a1, np.eye(K), vmin=0, vmax=1, title="T-hat (row i: the prediction at i's anchor)",
                                ylabel="class i")
        self.diff = _MatrixPanel(a2, np.zeros((K, K)), vmin=0, vmax=0.5, title="|T-hat - T| (colours up to 0.5)",
                                 annot_min=None)
        self.fig.colorbar(self.diff.image, ax=a2, shrink=0.8)
        a3.plot(self.epochs, self.errors, color=ERR_COLOR, label=f"estimation error ({percentile:g}th pct, filter on)")
        a3.set_xlabel("epoch of the CE model")
        a3.set_ylabel("relative L1 error of T-hat", color=ERR_COLOR)
        a3.set_ylim(0, max(0.6, 1.1 * float(np.nanmax(self.errors))))
        twin = a3.twinx()
        twin.plot(self.epochs, self.val, color=VAL_COLOR, lw=1)
        twin.set_ylabel("accuracy on the noisy validation set", color=VAL_COLOR)
        twin.grid(False)
        twin.spines["right"].set_visible(True)
        a3.axvline(self.val_epoch, color=VAL_COLOR, ls=":", lw=1.2)
        a3.text(self.val_epoch, 0.02, " best val", color=VAL_COLOR, fontsize=7, va="bottom",
                transform=a3.get_xaxis_transform())
        self.mark = a3.axvline(1, color="black", lw=1.5)
        a3.set_title("which CE model to read T from?", fontsize=9)
        self.suptitle = self.fig.text(0.01, 0.93, "", fontsize=10)
        self.live = LiveFigure(self.fig, [*self.hat.dynamic, *self.diff.dynamic, self.mark, self.suptitle], self._move,
                               overlays=[*self.hat.overlays, *self.diff.overlays])

    def estimate(self, epoch: int, percentile: float = 97.0, filter_outliers: bool = True):
        """(T-hat, reasons): the estimate from the model after ``epoch`` (1-based), and why its
        anchors are degenerate (``nblib.estimate.degenerate_anchors``; empty when they are not)."""
        P = self.probs[int(epoch) - 1].astype(np.float64)
        anchors = estimate.anchor_points(P, percentile, bool(filter_outliers))
        with warnings.catch_warnings():      # the reasons are returned, not warned, under a slider
            warnings.simplefilter("ignore", RuntimeWarning)
            T_hat = estimate.estimate_transition(P, percentile, bool(filter_outliers))
        return T_hat, estimate.degenerate_anchors(P, anchors, T_hat)

    def error(self, epoch: int, percentile: float = 97.0, filter_outliers: bool = True) -> float:
        """Relative L1 error of the estimate from the model after ``epoch``."""
        return estimate.estimation_error(self.estimate(epoch, percentile, filter_outliers)[0], self.T)

    def _move(self, epoch: int, percentile: float, filter_outliers: bool) -> None:
        T_hat, reasons = self.estimate(epoch, percentile, filter_outliers)
        err = estimate.estimation_error(T_hat, self.T)
        self.hat.set(T_hat)
        self.diff.set(np.abs(T_hat - self.T))
        self.mark.set_xdata([epoch, epoch])
        warn = " (degenerate anchors)" if reasons else ""
        self.suptitle.set_text(f"epoch {int(epoch)}, {percentile:g}th pct, filter {'on' if filter_outliers else 'off'}: "
                               f"error {err:.3f}{warn}")

    def draw(self, epoch: int, percentile: float = 97.0, filter_outliers: bool = True):
        return self.live.draw(epoch=epoch, percentile=percentile, filter_outliers=filter_outliers)

    def png(self, epoch: int, percentile: float = 97.0, filter_outliers: bool = True) -> bytes:
        return self.live.png(epoch=epoch, percentile=percentile, filter_outliers=filter_outliers)


# ----------------------------------------------------------------------------- statistics over seeds

def curves_figure(curves, order=None, title: str | None = None):
    """Test accuracy and training loss per epoch, mean over seeds with a +-1 sd band (seaborn).

    ``curves``: long DataFrame with columns run, seed, epoch, test_acc, loss (one row per run,
    seed and epoch). Colours follow the loss; runs with an estimated T ('T-hat') are dotted.
    """
    import seaborn as sns

    order = list(order) if order is not None else list(dict.fromkeys(curves["run"]))
    fig, axes = new_axes(ncols=2, width=4.8, height=3.5)
    palette, dashes = loss_palette(order), seaborn_dashes(order)
    for ax, metric, label in ((axes[0, 0], "test_acc", "test accuracy (clean test labels)"),
                              (axes[0, 1], "loss", "training loss (nats, symmetric log axis)")):
        sns.lineplot(data=curves, x="epoch", y=metric, hue="run", style="run", hue_order=order, style_order=order,
                     palette=palette, dashes=dashes, errorbar=("sd", 1), ax=ax, legend=ax is axes[0, 0])
        ax.set_ylabel(label)
    axes[0, 0].legend(fontsize=8, title=None)
    axes[0, 1].set_yscale("symlog", linthresh=1)
    axes[0, 1].axhline(0, color="black", lw=0.8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def estimation_error_figure(errors, val_epochs, title: str | None = None):
    """Estimation error of T-hat against the epoch of the CE model, one faint line per seed and the
    mean (seaborn), with each seed's epoch chosen without clean labels (best noisy validation
    accuracy) marked; the legend does not name the rule, which the lesson's exercise asks for.

    ``errors``: long DataFrame with columns seed, epoch, error; ``val_epochs``: seed -> epoch.
    """
    import seaborn as sns

    fig, axes = new_axes(width=5.4, height=3.3)
    ax = axes[0, 0]
    sns.lineplot(data=errors, x="epoch", y="error", units="seed", estimator=None, color=ERR_COLOR, alpha=0.35,
                 lw=1, ax=ax)
    sns.lineplot(data=errors, x="epoch", y="error", errorbar=None, color=ERR_COLOR, lw=2, ax=ax, label="mean over seeds")
    for seed, epoch in val_epochs.items():
        row = errors[(errors["seed"] == seed) & (errors["epoch"] == epoch)]
        ax.plot(epoch, float(row["error"].iloc[0]), "o", color=VAL_COLOR, ms=7,
                label="epoch chosen without clean labels (exercise below)" if seed == next(iter(val_epochs)) else None)
    ax.set_xlabel("epoch of the CE model the anchors are read from")
    ax.set_ylabel("relative L1 error of T-hat")
    ax.set_ylim(0, None)
    ax.legend(fontsize=8)
    ax.set_title(title or "Estimate T from which model?", fontsize=10)
    return fig


def wrong_t_figure(finals, ce_final=None, title: str | None = None):
    """Final test accuracy of forward correction with T_w = (1 - w) T + w T_wrong against w, one
    line per wrong matrix, mean +-1 sd over seeds (seaborn pointplot); CE's mean as a dashed line.

    ``finals``: long DataFrame with columns wrong, w, seed, final_test_acc.
    """
    import seaborn as sns

    fig, axes = new_axes(width=5.0, height=3.4)
    ax = axes[0, 0]
    sns.pointplot(data=finals, x="w", y="final_test_acc", hue="wrong", errorbar=("sd", 1), dodge=0.15,
                  palette=[loss_style("forward")["color"], OKABE_ITO["purple"]], markers=["o", "s"], ax=ax)
    if ce_final is not None:
        ax.axhline(float(np.mean(ce_final)), color=loss_style("ce")["color"], ls="--", label="ce (mean)")
    ax.set_xlabel("weight w of the wrong matrix (w = 0: the true T)")
    ax.set_ylabel("final test accuracy")
    ax.legend(fontsize=8, title="T blended towards")
    ax.set_title(title or "Forward correction is only as good as its T", fontsize=10)
    return fig


def loss_distribution_figure(per_sample: dict, title: str | None = None):
    """Histograms of per-sample training losses (label -> 1-D array, one trained model each) on a
    symmetric-log axis, so CE's small positive losses and backward's negative ones both show."""
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in per_sample.items()}
    biggest = max(float(np.abs(a).max()) for a in arrays.values())
    limit = 10.0 ** max(1, int(np.ceil(np.log10(max(biggest, 1.0)))))
    half = np.concatenate([np.linspace(0, 1, 4, endpoint=False), np.logspace(0, np.log10(limit), HIST_BINS // 2 - 4)])
    bins = np.concatenate([-half[::-1], half[1:]])
    fig, axes = new_axes(width=6.4, height=3.3)
    ax = axes[0, 0]
    for label, a in arrays.items():
        st = loss_style(label)
        ax.hist(a, bins=bins, histtype="step", lw=1.8, color=st["color"], ls=st["ls"],
                label=f"{label}: {(a < 0).mean():.1%} negative, std {a.std():.2f}")
    ax.set_yscale("log")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(-limit, limit)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("per-sample training loss (nats, symmetric log axis)")
    ax.set_ylabel("samples (log scale)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title or "Per-sample losses after training: only backward goes below zero", fontsize=10)
    return fig

