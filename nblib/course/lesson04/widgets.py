"""Widgets of lesson 4 (normalized and Active-Passive losses), and the cache of runs behind them.

- ``class_sum_update`` / ``class_sum_widget``: pick a loss and a logit scale; see
  sum_k L(f(x), k) over many random predictions x (constant iff the loss is symmetric).
- ``LessonRuns``: trains each (loss, hyper-parameters, noise rate, seed) once and keeps the
  ``History`` plus the predicted distribution of a few tracked training samples at every epoch, in
  memory. Sliders then only look results up, so moving them is instant.
- ``ab_update`` / ``ab_widget``: alpha and beta sliders over a trained grid of APL runs
  (alpha * Active + beta * Passive), with CE and the active loss alone for reference.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ... import losses as L
from ... import models, noise
from ..._checks import check_choice, check_in_range, check_int
from ..._device import torch_threads
from . import figures as apl_plots
from ..figures import learning_curves
from ..style import new_axes
from ...train import History, fit, predict_proba
from ..widgets import interact_figure, slider

__all__ = ["SYMMETRY_LOSSES", "NORMALIZER_VARIANTS", "random_logits", "symmetry_table", "variant_table",
           "grid_frame", "class_sum_update", "class_sum_widget", "Run", "LessonRuns",
           "ab_update", "ab_widget"]

# losses the symmetry picker offers: the not-symmetric ones first, then the symmetric ones
SYMMETRY_LOSSES = ("ce", "fl", "gce", "sce", "nce", "nfl", "ngce", "mae", "rce", "nmae", "nrce")
# where the paper and the official APL code differ: label -> (loss, params); the first of each pair is nblib's default
NORMALIZER_VARIANTS = {
    "mae   paper L1, 2 - 2 p_y": ("mae", {}),
    "mae   APL code, 1 - p_y": ("mae", {"variant": "apl"}),
    "rce   code, A = ln(1e4)": ("rce", {}),
    "rce   paper, A = 4": ("rce", {"A": 4.0}),
    "nmae  paper": ("nmae", {}),
    "nmae  code": ("nmae", {"variant": "official"}),
    "nrce  intended": ("nrce", {}),
    "nrce  code (slip)": ("nrce", {"variant": "official"}),
}
DEFAULT_NUM_RANDOM = 1000   # random predictions per widget update (~10 ms for CE on a CPU)
SYMMETRIC_REL_TOL = apl_plots.CONSTANT_REL_TOL   # a class-sum spread below this (relative) is rounding
DEFAULT_TRACKED = 32        # training samples whose predicted distribution is recorded every epoch
SUMMARY_METRICS = ("final_test_acc", "best_test_acc")   # History properties the tables and grids show


def random_logits(n: int, num_classes: int = 10, scale: float = 3.0, seed: int = 0) -> torch.Tensor:
    """(n, K) float64 logits scale * N(0, 1) with their own generator: larger scale = more confident."""
    n = check_int("n", n, 1)
    num_classes = check_int("num_classes", num_classes, 2)
    check_in_range("scale", scale, 0, None, lo_open=True)
    gen = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, num_classes, generator=gen, dtype=torch.float64)


def symmetry_table(losses, logits, rel_tol: float = SYMMETRIC_REL_TOL):
    """DataFrame, one row per loss: its class sums sum_k L(f(x), k) over the rows x of ``logits``.

    Columns: ``min``, ``max``, ``gap`` (= ``nblib.losses.symmetry_gap``, max - min) and
    ``symmetric`` (gap <= rel_tol * |mean|: zero up to floating-point rounding).
    """
    import pandas as pd

    rows = {}
    for name in losses:
        sums = L.class_sums(name, logits)
        gap = L.symmetry_gap(name, logits)
        rows[name] = dict(min=float(sums.min()), max=float(sums.max()), gap=gap,
                          symmetric=gap <= rel_tol * max(abs(float(sums.mean())), 1.0))
    return pd.DataFrame.from_dict(rows, orient="index")


def variant_table(logits, variants: dict = NORMALIZER_VARIANTS):
    """DataFrame: the class sum of each paper/code variant (label -> (loss, params)) and its spread."""
    import pandas as pd

    rows = {}
    for label, (name, params) in variants.items():
        sums = L.class_sums(name, logits, **params)
        rows[label] = dict(loss=name, params=params or "nblib default", class_sum=float(sums.mean()),
                           gap=float(sums.max() - sums.min()))
    return pd.DataFrame.from_dict(rows, orient="index")


def grid_frame(grid: dict, metric: str = "final_test_acc"):
    """DataFrame of ``metric`` over a {(alpha, beta): History} grid: rows alpha, columns beta."""
    import pandas as pd

    check_choice("metric", metric, SUMMARY_METRICS)
    alphas, betas = _grid_axes(grid)
    values = [[getattr(grid[(a, b)], metric) if (a, b) in grid else np.nan for b in betas] for a in alphas]
    return pd.DataFrame(values, index=pd.Index(alphas, name="alpha"), columns=pd.Index(betas, name="beta"))


def class_sum_update(loss: str = "ce", scale: float = 3.0, n: int = DEFAULT_NUM_RANDOM, num_classes: int = 10,
                     seed: int = 0):
    """Figure: sum_k L(f(x), k) of ``loss`` (its nblib defaults) over ``n`` random predictions.

    Left: histogram of the class sums (title: their spread max - min, the ``symmetry_gap``);
    right: the class sum against the confidence max_k p_k of each prediction.
    """
    check_choice("loss", loss, L.LOSSES)
    z = random_logits(n, num_classes, scale, seed)
    sums = L.class_sums(loss, z)
    fig, axes = new_axes(ncols=2, width=3.6, height=3.0)
    apl_plots.class_sum_panels(sums, z.softmax(1).amax(1), loss, axes=axes[0])
    fig.suptitle(f"Is {loss} symmetric? Class sums over {n} random predictions (logit scale {scale:g})")
    return fig


def class_sum_widget(losses=SYMMETRY_LOSSES, n: int = DEFAULT_NUM_RANDOM, num_classes: int = 10):
    """Dropdown (loss) + slider (logit scale, i.e. how confident the random predictions are)."""
    import ipywidgets as w

    for name in losses:
        check_choice("loss", name, L.LOSSES)
    controls = {"loss": w.Dropdown(options=list(losses), value=losses[0], description="loss"),
                "scale": slider("logit scale", 3.0, 0.5, 10.0, 0.5, readout_format=".1f")}
    return interact_figure(lambda loss, scale: class_sum_update(loss, scale, n, num_classes), controls)


@dataclass
class Run:
    """One finished training run: its History, and the tracked samples' predicted distributions.

    ``probs``: (epochs + 1, S, K) NumPy array, row 0 before training; ``given`` / ``true``: (S,)
    training labels (possibly flipped) and clean labels of the S tracked samples.
    """

    loss: str
    params: dict
    rate: float
    seed: int
    history: History
    probs: np.ndarray
    given: np.ndarray
    true: np.ndarray

    def pick(self, clean: int = 2, flipped: int = 1) -> list[int]:
        """Indices (into the tracked samples) of the first ``clean`` clean and ``flipped`` flipped ones."""
        is_flipped = self.given != self.true
        chosen = list(np.flatnonzero(~is_flipped)[:clean]) + list(np.flatnonzero(is_flipped)[:flipped])
        if len(chosen) < clean + flipped:
            raise ValueError(f"only {int((~is_flipped).sum())} clean and {int(is_flipped.sum())} flipped samples "
                             "are tracked; track more samples or ask for fewer")
        return [int(i) for i in chosen]

    def find(self, p_given: float = 0.3, clean: bool = True, max_epoch: int | None = None) -> tuple[int, int]:
        """(epoch, sample) of a tracked prediction whose probability of the given label is closest
        to ``p_given``, among clean (or flipped) samples and epochs 1..``max_epoch`` (default all)."""
        check_in_range("p_given", p_given, 0, 1)
        keep = (self.given == self.true) if clean else (self.given != self.true)
        if not keep.any():
            raise ValueError(f"no {'clean' if clean else 'flipped'} sample among the tracked ones")
        last = self.probs.shape[0] - 1 if max_epoch is None else check_int("max_epoch", max_epoch, 1)
        p_y = self.probs[1:last + 1, np.arange(len(self.given)), self.given]        # (epochs, S)
        dist = np.where(keep[None, :], np.abs(p_y - p_given), np.inf)
        epoch, sample = np.unravel_index(np.argmin(dist), dist.shape)
        return int(epoch) + 1, int(sample)


class LessonRuns:
    """Train-once, in-memory cache of the lesson's runs on one dataset.

    ``runs.get("nce+rce", rate=0.4, seed=0, alpha=1, beta=10)`` corrupts the training labels with
    symmetric noise of that rate (``nblib.noise``, exact counts, seeded by ``seed``), builds the
    dataset's default model with ``seed``, trains it with ``nblib.fit`` for ``epochs`` epochs, and
    returns a :class:`Run`. Asking again returns the stored run. The first ``track`` training samples
    have their predicted distribution recorded after every epoch. ``fit_kw`` go to ``nblib.fit``
    (lr, batch_size, optimizer, ...). ``train_seconds`` adds up the wall time spent training.

    ``threads``: torch intra-op threads while training (default 1; None leaves torch's setting).
    The lesson's models are tiny, so extra CPU threads gain little, and on a busy shared CPU threads
    that wait for each other cost a lot. A fixed count also keeps the numbers independent of the
    machine's core count (floating-point sums are split differently across threads).
    """

    def __init__(self, data, *, epochs: int, noise_kind: str = "symmetric", exact: bool = True,
                 track: int = DEFAULT_TRACKED, device=None, threads: int | None = 1, **fit_kw):
        self.data = data
        self.epochs = check_int("epochs", epochs, 1)
        self.noise_kind = check_choice("noise_kind", noise_kind, noise.NOISE_KINDS)
        self.exact = exact
        self.track = torch.arange(check_int("track", track, 1, len(data.y_train)))
        self.device = device
        self.fit_kw = fit_kw
        self.threads = None if threads is None else check_int("threads", threads, 1)
        self.runs: dict[tuple, Run] = {}
        self._labels: dict[tuple, tuple] = {}
        self.train_seconds = 0.0

    def labels(self, rate: float, seed: int = 0):
        """(noisy labels, flipped mask) for ``rate`` and ``seed``; rate 0 gives the clean labels."""
        check_in_range("rate", rate, 0, 1, hi_open=True)
        key = (float(rate), seed)
        if key not in self._labels:
            y = self.data.y_train
            if rate == 0:
                self._labels[key] = (y, torch.zeros_like(y, dtype=torch.bool))
            else:
                T = noise.transition_matrix(self.noise_kind, self.data.num_classes, rate)
                self._labels[key] = noise.corrupt_labels(y, T, seed=seed, exact=self.exact)
        return self._labels[key]

    @staticmethod
    def key(loss: str, rate: float, seed: int, params: dict) -> tuple:
        """Cache key: defaults filled in and numbers as floats, so ``alpha=1`` and no alpha (default 1.0) agree."""
        full = {**L.DEFAULTS[loss], **params}
        return loss, float(rate), int(seed), tuple(sorted(
            (k, float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v) for k, v in full.items()))

    def get(self, loss: str, rate: float = 0.0, seed: int = 0, **params) -> Run:
        """The run of ``loss`` (with ``params``) at symmetric noise ``rate`` and ``seed``; trains it if new."""
        check_choice("loss", loss, L.LOSSES)
        k = self.key(loss, rate, seed, params)
        if k not in self.runs:
            noisy, flipped = self.labels(rate, seed)
            model = models.make_model("auto", self.data, seed=seed)
            x_tracked = self.data.x_train[self.track]

            def record(epoch, model, history):
                dev = next(model.parameters()).device
                snapshots.append(predict_proba(model, x_tracked.to(dev)).cpu())

            snapshots = []
            record(0, model, None)

            t0 = time.perf_counter()
            with torch_threads(self.threads):
                hist = fit(model, self.data, loss=loss, loss_params=params, y_train=noisy, flipped=flipped,
                           epochs=self.epochs, seed=seed, callback=record, progress=False, device=self.device,
                           **self.fit_kw)
            self.train_seconds += time.perf_counter() - t0
            probs = torch.stack(snapshots).double().numpy()
            self.runs[k] = Run(loss, dict(params), float(rate), int(seed), hist, probs,
                               noisy[self.track].cpu().numpy(), self.data.y_train[self.track].cpu().numpy())
        return self.runs[k]

    def table(self, specs: dict, rates, seeds=(0,), metric: str = "final_test_acc"):
        """DataFrame of ``metric`` (a History property: final_test_acc, best_test_acc), mean over seeds.

        ``specs``: row label -> (loss name, params dict); columns: the noise rates. Trains missing runs.
        """
        import pandas as pd

        check_choice("metric", metric, SUMMARY_METRICS)
        rows = {}
        for label, (loss, params) in specs.items():
            rows[label] = [float(np.mean([getattr(self.get(loss, r, s, **params).history, metric) for s in seeds]))
                           for r in rates]
        return pd.DataFrame.from_dict(rows, orient="index", columns=list(rates))

    def grid(self, loss: str, alphas, betas, rate: float, seed: int = 0, **params) -> dict:
        """Train (or look up) ``loss`` for every (alpha, beta); returns {(alpha, beta): History}."""
        return {(a, b): self.get(loss, rate, seed, alpha=a, beta=b, **params).history
                for a in alphas for b in betas}


def _grid_axes(grid: dict):
    alphas = sorted({a for a, _ in grid})
    betas = sorted({b for _, b in grid})
    return alphas, betas


def ab_update(alpha: float, beta: float, grid: dict, references: dict | None = None, label: str = "nce+rce",
              metric: str = "final_test_acc"):
    """Figure for the alpha/beta sliders over a trained APL grid.

    ``grid``: {(alpha, beta): History} (e.g. ``LessonRuns.grid``); ``references``: label -> History
    drawn for comparison (e.g. CE and NCE alone at the same noise). Left: test accuracy per epoch of
    the selected run and the references; right: ``metric`` over the whole grid, selection outlined.
    """
    if (alpha, beta) not in grid:
        raise ValueError(f"(alpha, beta) = ({alpha}, {beta}) is not in the trained grid {sorted(grid)}")
    alphas, betas = _grid_axes(grid)
    fig, axes = new_axes(ncols=2, width=4.0, height=3.2)
    curves = {**(references or {}), f"{label} a={alpha:g} b={beta:g}": grid[(alpha, beta)]}
    ax = learning_curves(curves, "test_acc", ax=axes[0, 0])
    ax.set_ylim(0, 1)
    ax.set_title(f"alpha = {alpha:g}, beta = {beta:g} (beta/alpha = {beta / alpha:g})")
    acc = grid_frame(grid, metric).to_numpy()
    apl_plots.grid_heatmap(acc, alphas, betas, selected=(alpha, beta), ax=axes[0, 1],
                           title=f"{label}: {metric.replace('_', ' ')}", label=metric.replace("_", " "))
    return fig


def ab_widget(grid: dict, references: dict | None = None, label: str = "nce+rce", metric: str = "final_test_acc"):
    """Two SelectionSliders (alpha, beta) over the trained grid values; redraws ``ab_update``."""
    import ipywidgets as w

    alphas, betas = _grid_axes(grid)
    mid = lambda vals: vals[len(vals) // 2]  # noqa: E731
    style = {"description_width": "initial"}
    controls = {"alpha": w.SelectionSlider(options=alphas, value=mid(alphas), description="alpha (active)", style=style),
                "beta": w.SelectionSlider(options=betas, value=mid(betas), description="beta (passive)", style=style)}
    return interact_figure(lambda alpha, beta: ab_update(alpha, beta, grid, references, label, metric), controls)
