"""Lesson 3's sliders and the small experiments behind them (generalized cross entropy, truncated Lq).

Each widget is ``interact_figure(update, controls)`` around a plain ``update_*`` function that
returns a figure; the tests call the update functions directly. The experiments the sliders show
are run once and kept in memory, so moving a slider only redraws:

- ``gradient_batch``   a real batch of training samples: p_y, flipped mask, CE's gradient norm;
                        ``update_q`` / ``q_widget``: the q slider (loss, weight p_y^q, gradient split).
                        It must redraw in ~0.1 s, faster than a full matplotlib redraw of three
                        panels on a slow CPU, so ``q_widget`` uses ``interact_png`` (same layout as
                        ``interact_figure``) over ``LqExplorer.png``, which re-renders only the
                        q-dependent artists over a cached background.
- ``limit_table``      Lq against CE as q -> 0 and against MAE at q = 1, with ``nblib.losses``.
- ``run_q_sweep``      one training run per q (plus CE and MAE), trained as one vmapped stack
                        (``nblib.train.fit_batched``) and kept as ``SweepRun`` objects;
                        ``update_trained`` / ``trained_widget``: the slider over the trained models.
- ``train_truncated``  truncated Lq with the pruning schedule, and a ``PruningTrace`` of how well
                        the pruned set matches the flipped samples; ``update_truncation`` /
                        ``truncation_widget``: the threshold-k slider.
- ``update_playground`` / ``playground_widget``: a live 2-D toy problem trained in about a second.

Timing: ``nblib.widgets.base.time_update`` measures what a student waits for per slider move.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch

from ... import losses as _losses
from ... import noise as _noise
from ...noise import detection_scores
from ..._checks import check_choice, check_in_range, check_int
from ..._device import device as _default_device
from . import figures as _plots
from ...losses import TruncatedLq
from ...train import History, fit, predict_proba
from ..widgets import interact_figure, interact_png, slider

__all__ = ["SWEEP_ENGINES", "SweepRun", "PruningTrace", "TruncatedRun", "PLAYGROUND_LOSSES", "gradient_batch",
           "limit_table", "mae_table", "run_q_sweep", "sweep_table", "train_truncated", "make_playground_data",
           "train_playground", "interact_png", "update_q", "q_widget", "update_trained",
           "trained_widget", "update_truncation", "truncation_widget", "update_playground", "playground_widget"]

BATCH_SIZE_SHOWN = 512                # samples in the q slider's "real batch"
LIMIT_PS = (0.05, 0.5, 0.95)          # p_y values of the limit tables
LIMIT_QS = (0.1, 1e-2, 1e-3, 1e-4, 1e-6)
DEFAULT_QS = (0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
PAPER_Q, PAPER_K = 0.7, 0.5           # Zhang & Sabuncu's truncated-Lq setting
PLAYGROUND_LOSSES = ("ce", "mae", "gce", "tgce")
# About a second of CPU per training: long enough for CE to carve islands around flipped points.
PLAYGROUND = dict(variant="blobs", num_classes=3, n_train=300, n_test=500, epochs=150, batch_size=64,
                  lr=1e-2, hidden=(64, 64))


# ----------------------------------------------------------------------------- the q slider

def gradient_batch(model, data, y_given, flipped, size: int = BATCH_SIZE_SHOWN, seed: int = 0) -> dict:
    """A random batch of training samples as the q slider needs it (NumPy arrays).

    Returns dict(p_y=probability of the given label, flipped=bool mask, ce_grad_norm=||p - e_y||_2,
    CE's per-sample gradient norm with respect to the logits).
    """
    n = len(data.x_train)
    size = check_int("size", size, 1, n)
    y_given, flipped = torch.as_tensor(y_given), torch.as_tensor(flipped, dtype=torch.bool)
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:size]
    x = data.x_train[idx.to(data.x_train.device)]
    y = y_given[idx.to(y_given.device)].to(x.device)
    p = predict_proba(model, x).double()
    p_y = p.gather(1, y[:, None]).squeeze(1).clamp_min(np.finfo(np.float64).tiny)  # a float32 0 would break log
    grad = p - torch.nn.functional.one_hot(y, p.shape[1]).double()
    return dict(p_y=p_y.cpu().numpy(), flipped=flipped[idx.to(flipped.device)].cpu().numpy(),
                ce_grad_norm=grad.norm(dim=1).cpu().numpy())


def update_q(q: float, batch: dict):
    """A fresh figure for one position of the q slider (see :class:`nblib.plots.gce.LqExplorer`)."""
    return _plots.lq_explorer_figure(q, batch["p_y"], batch["flipped"], batch["ce_grad_norm"])


def q_widget(batch: dict, q: float = 0.3, slow: bool = False):
    """The q slider, log-spaced from 0.01 to 1, over one :class:`LqExplorer` built for ``batch``.

    The explorer's figure is built once and each move re-renders only its q-dependent artists
    (``LqExplorer.png``), which keeps a move near 0.1 s even on a slow CPU.
    """
    explorer = _plots.LqExplorer(batch["p_y"], batch["flipped"], batch["ce_grad_norm"])
    control = slider("q", q, -2, 0, 0.05, slow=slow, log=True, readout_format=".3f")
    return interact_png(explorer.png, {"q": control})


# ----------------------------------------------------------------------------- limits, numerically

def _logits_for(p_y, num_classes: int) -> torch.Tensor:
    """Float64 logits whose softmax puts p_y on class 0 and the rest evenly on the others."""
    p = torch.as_tensor(p_y, dtype=torch.float64)
    rest = ((1 - p) / (num_classes - 1))[:, None].expand(-1, num_classes - 1)
    return torch.cat([p[:, None], rest], dim=1).log()


def limit_table(ps=LIMIT_PS, qs=LIMIT_QS, num_classes: int = 10):
    """Lq -> CE as q -> 0, computed with ``nblib.losses.gce`` and ``ce`` in float64.

    One row per q: Lq(p_y) for each p_y in ``ps``, CE, the gap |Lq - CE| and the first-order
    prediction q (log p_y)^2 / 2 of that gap (Taylor: p^q = e^{q log p} = 1 + q log p + (q log p)^2 / 2 + ...).
    Returns a pandas DataFrame.
    """
    import pandas as pd

    z = _logits_for(ps, num_classes)
    y = torch.zeros(len(ps), dtype=torch.long)
    ce = _losses.ce(z, y, reduction="none")
    rows = []
    for q in qs:
        check_in_range("q", q, 0, 1, lo_open=True)
        lq = _losses.gce(z, y, q=q, reduction="none")
        for p, l, c in zip(ps, lq.tolist(), ce.tolist()):
            rows.append(dict(q=q, p_y=p, Lq=l, CE=c, gap=abs(l - c), predicted_gap=q * np.log(p) ** 2 / 2))
    return pd.DataFrame(rows)


def mae_table(ps=LIMIT_PS, num_classes: int = 10):
    """Lq at q = 1 against ``nblib.losses.mae`` (float64): Lq(q=1) = 1 - p_y = the APL code's MAE,
    exactly half the paper's MAE ||p - e_y||_1 = 2 - 2 p_y (same minimiser, same gradient direction)."""
    import pandas as pd

    z = _logits_for(ps, num_classes)
    y = torch.zeros(len(ps), dtype=torch.long)
    lq = _losses.gce(z, y, q=1.0, reduction="none").tolist()
    apl = _losses.mae(z, y, variant="apl", reduction="none").tolist()
    paper = _losses.mae(z, y, variant="paper", reduction="none").tolist()
    return pd.DataFrame(dict(p_y=list(ps), Lq_q1=lq, one_minus_p=[1 - p for p in ps], mae_apl=apl,
                             mae_paper=paper))


# ----------------------------------------------------------------------------- the q sweep

@dataclass
class SweepRun:
    """One trained model of the q sweep, kept in memory for the trained-models slider.

    loss: "ce", "gce" or "mae" (MAE is trained as Lq with q = 1, i.e. 1 - p_y); q: its q
    (None for CE). history: seed ``seeds[0]``'s History; test_pred / train_p_given: that model's
    test predictions and the probability it gives each training sample's (noisy) label.
    final_accs / best_accs: one value per seed (several seeds at larger SCALE).
    """

    label: str
    loss: str
    q: float | None
    history: History
    test_pred: np.ndarray
    train_p_given: np.ndarray
    final_accs: list = field(default_factory=list)
    best_accs: list = field(default_factory=list)

    @property
    def final_test_acc(self) -> float:
        """Mean over seeds of the last epoch's test accuracy."""
        return float(np.mean(self.final_accs))

    @property
    def best_test_acc(self) -> float:
        """Mean over seeds of the best epoch's test accuracy."""
        return float(np.mean(self.best_accs))


def _sweep_grid(qs, include_ce: bool, include_mae: bool):
    grid = [("CE", "ce", None)] if include_ce else []
    for q in qs:
        check_in_range("q", q, 0, 1, lo_open=True, hi_open=True)
        grid.append((f"q={q:g}", "gce", float(q)))
    if include_mae:
        grid.append(("MAE (q=1)", "mae", 1.0))
    return grid


SWEEP_ENGINES = ("vmap", "fit")


def run_q_sweep(data, y_noisy, flipped, *, qs=DEFAULT_QS, include_ce: bool = True, include_mae: bool = True,
                epochs: int = 30, seeds=(0,), model: str = "auto", model_kw: dict | None = None,
                engine: str = "vmap", progress: bool = False, device=None, **fit_kw) -> dict:
    """Train one model per loss of the grid CE, Lq for each q in ``qs``, MAE (= Lq with q = 1).

    Returns an ordered dict label -> :class:`SweepRun` ("CE", "q=0.1", ..., "MAE (q=1)"). Every
    loss gets the same initial weights and batch order (per seed), so differences come from the
    loss alone. ``engine="vmap"`` trains the whole grid of one seed as one stack
    (:func:`nblib.train.fit_batched`, several times faster for small models); ``"fit"`` trains
    the runs one by one with :func:`nblib.fit` (the numbers then differ in the last digits: other
    kernels add in another order). Extra keywords go to the trainer (lr, batch_size, ...);
    ``model_kw`` to :func:`nblib.models.make_model` (e.g. ``channels``).
    """
    from ...train import fit_batched
    from ...models import make_model

    check_choice("engine", engine, SWEEP_ENGINES)
    seeds = [check_int("seed", s, 0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    grid = _sweep_grid(qs, include_ce, include_mae)
    model_kw = dict(model_kw or {})
    specs = [("ce", {}) if loss == "ce" else ("gce", {"q": q}) for _, loss, q in grid]
    per_seed = []  # per seed: list of (model, History) in grid order
    for seed in seeds:
        nets = [make_model(model, data, seed=seed, **model_kw) for _ in grid]
        if engine == "vmap":
            losses = [_losses.make_loss(name, data.num_classes, **params) for name, params in specs]
            hists, nets = fit_batched(nets, data, losses=losses, y_trains=[y_noisy] * len(grid),
                                      flippeds=[flipped] * len(grid), seeds=[seed] * len(grid), epochs=epochs,
                                      progress=progress, device=device, **fit_kw)
        else:
            hists = [fit(net, data, loss=name, loss_params=params, y_train=y_noisy, flipped=flipped, epochs=epochs,
                         seed=seed, progress=progress, device=device, **fit_kw)
                     for net, (name, params) in zip(nets, specs)]
        per_seed.append(list(zip(nets, hists)))

    results = {}
    for i, (label, loss, q) in enumerate(grid):
        net, hist = per_seed[0][i]
        dev = next(net.parameters()).device
        test_pred = predict_proba(net, data.x_test.to(dev)).argmax(1).cpu().numpy()
        p_train = predict_proba(net, data.x_train.to(dev))
        p_given = p_train.gather(1, torch.as_tensor(y_noisy).to(dev)[:, None]).squeeze(1).cpu().numpy()
        results[label] = SweepRun(label, loss, q, hist, test_pred, p_given,
                                  [runs[i][1].final_test_acc for runs in per_seed],
                                  [runs[i][1].best_test_acc for runs in per_seed])
    return results


def sweep_table(results: dict):
    """One row per sweep run: q, final and best test accuracy, memorised flipped and clean-fit shares."""
    import pandas as pd

    rows = [dict(run=label, q=r.q if r.q is not None else 0.0, final_test_acc=r.final_test_acc,
                 best_test_acc=r.best_test_acc, flipped_memorised=r.history.flipped_acc_noisy[-1],
                 clean_train_acc=r.history.clean_acc[-1]) for label, r in results.items()]
    return pd.DataFrame(rows).set_index("run")


def update_trained(label: str, results: dict, y_test, num_classes: int):
    """Figure for one position of the trained-models slider: that run's curves and confusion matrix."""
    if label not in results:
        raise ValueError(f"unknown run {label!r}; choose one of: {', '.join(results)}")
    return _plots.trained_run_figure(label, results[label], y_test, num_classes, reference=results.get("CE"))


def trained_widget(results: dict, data, value: str | None = None):
    """A SelectionSlider over the cached runs (CE, q=..., MAE): instant, nothing is retrained."""
    import ipywidgets as w

    labels = list(results)
    control = w.SelectionSlider(options=labels, value=value or labels[len(labels) // 2], description="run",
                                continuous_update=False, style={"description_width": "initial"},
                                layout=w.Layout(width="520px"))
    y_test = data.y_test.cpu().numpy()
    return interact_figure(partial(update_trained, results=results, y_test=y_test, num_classes=data.num_classes),
                           {"label": control})


# ----------------------------------------------------------------------------- truncated Lq

class PruningTrace:
    """Epoch callback for ``nblib.fit``: how the pruned set (weight 0) matches the flipped samples.

    Pass the same ``weights`` tensor to ``fit(..., sample_weight=weights)``; ``fit`` runs the
    pruning step first, then this records, after every epoch: n_pruned, pruned_share, and the
    precision / recall of pruning against ``flipped`` (nan before the first pruning step).
    """

    def __init__(self, weights: torch.Tensor, flipped, refresh_epochs=()):
        self.weights = weights
        self.flipped = torch.as_tensor(flipped, dtype=torch.bool).cpu().numpy()
        self.refresh_epochs = list(refresh_epochs)
        self.epoch, self.n_pruned, self.pruned_share, self.precision, self.recall = [], [], [], [], []

    def __call__(self, epoch: int, model, history) -> None:
        pruned = (self.weights == 0).cpu().numpy()
        s = detection_scores(pruned, self.flipped)
        self.epoch.append(epoch)
        self.n_pruned.append(s["n_flagged"])
        self.pruned_share.append(s["n_flagged"] / len(pruned))
        self.precision.append(s["precision"])
        self.recall.append(s["recall"])


@dataclass
class TruncatedRun:
    """A truncated-Lq training run: its History, final weights (0 = pruned), trace and final scores."""

    history: History
    weights: np.ndarray
    trace: PruningTrace
    scores: dict
    prune_start: int
    prune_every: int


def train_truncated(data, y_noisy, flipped, *, q: float = PAPER_Q, k: float = PAPER_K, epochs: int = 30,
                    prune_start: int | None = None, prune_every: int | None = None, seed: int = 0,
                    model: str = "auto", model_kw: dict | None = None, progress: bool = False, device=None,
                    **fit_kw) -> TruncatedRun:
    """Train with truncated Lq and the pruning schedule (paper: from epoch 40, every 10, of 120).

    Default schedule: :meth:`nblib.losses.TruncatedLq.pruning_epochs` (from half the run, every tenth of it).
    ``model_kw`` goes to :func:`nblib.models.make_model`, extra keywords to :func:`nblib.fit`.
    Returns a :class:`TruncatedRun`; ``scores`` holds precision / recall of the final pruning.
    """
    from ...models import make_model

    refresh = TruncatedLq.pruning_epochs(epochs, prune_start, prune_every)
    start, every = refresh.start, refresh.step
    n = len(data.x_train)
    weights = torch.ones(n, device=_default_device(device))  # on the training device: fit updates it in place
    trace = PruningTrace(weights, flipped, refresh_epochs=refresh)
    net = make_model(model, data, seed=seed, **(model_kw or {}))
    hist = fit(net, data, loss="tgce", loss_params={"q": q, "k": k}, y_train=y_noisy, flipped=flipped,
               epochs=epochs, seed=seed, sample_weight=weights, prune_start=start, prune_every=every,
               callback=trace, progress=progress, device=device, **fit_kw)
    final = weights.cpu().numpy()
    scores = detection_scores(final == 0, trace.flipped)
    return TruncatedRun(hist, final, trace, scores, start, every)


def update_truncation(k: float, p_y, flipped, q: float = PAPER_Q):
    """Figure for one position of the threshold-k slider (see :func:`nblib.plots.gce.truncation_figure`)."""
    return _plots.truncation_figure(k, q, p_y, flipped)


def truncation_widget(p_y, flipped, q: float = PAPER_Q, k: float = PAPER_K):
    """The threshold-k slider over :func:`update_truncation`."""
    control = slider("k", k, 0.05, 0.95, 0.05, slow=True)
    return interact_figure(partial(update_truncation, p_y=p_y, flipped=flipped, q=q), {"k": control})


# ----------------------------------------------------------------------------- 2-D playground

def make_playground_data(noise_rate: float = 0.3, seed: int = 0, device="cpu", **kw):
    """toy2d blobs (3 classes) with symmetric label noise: (dataset, noisy labels, flipped mask)."""
    from ...data import load

    opts = {k: PLAYGROUND[k] for k in ("variant", "num_classes", "n_train", "n_test")}
    opts.update(kw)
    data = load("toy2d", device=device, seed=seed, **opts)
    check_in_range("noise_rate", noise_rate, 0, (data.num_classes - 1) / data.num_classes, hi_open=True)
    T = _noise.transition_matrix("symmetric", data.num_classes, noise_rate)
    noisy, flipped = _noise.corrupt_labels(data.y_train, T, seed=seed, exact=True)
    return data, noisy, flipped


def train_playground(loss: str, q: float, data, noisy, flipped, *, epochs: int = PLAYGROUND["epochs"],
                     seed: int = 0, device="cpu"):
    """Train the playground MLP with ``loss`` (ce, mae, gce, tgce; q for the last two): (model, History)."""
    from ...models import make_model

    check_choice("loss", loss, PLAYGROUND_LOSSES)
    params = {"q": q} if loss in ("gce", "tgce") else {}
    net = make_model("mlp", data, seed=seed, hidden=PLAYGROUND["hidden"])
    hist = fit(net, data, loss=loss, loss_params=params, y_train=noisy, flipped=flipped, epochs=epochs,
               batch_size=PLAYGROUND["batch_size"], lr=PLAYGROUND["lr"], seed=seed, progress=False, device=device)
    return net, hist


def update_playground(loss: str = "gce", q: float = PAPER_Q, noise_rate: float = 0.3, seed: int = 0,
                      epochs: int = PLAYGROUND["epochs"], device="cpu"):
    """Train on the toy data for this loss / q / noise rate and draw the decision regions."""
    t0 = time.perf_counter()
    data, noisy, flipped = make_playground_data(noise_rate, seed=seed, device=device)
    net, hist = train_playground(loss, q, data, noisy, flipped, epochs=epochs, seed=seed, device=device)
    seconds = time.perf_counter() - t0
    dev = next(net.parameters()).device

    def predict(points):
        with torch.no_grad():
            return predict_proba(net, torch.from_numpy(points).to(dev)).argmax(1).cpu().numpy()

    name = loss.upper() + (f" q={q:.2g}" if loss in ("gce", "tgce") else "")
    title = (f"{name}: test acc {100 * hist.final_test_acc:.0f}%, fits {100 * hist.flipped_acc_noisy[-1]:.0f}% "
             f"of flipped labels\n({100 * noise_rate:.0f}% noise, trained in {seconds:.1f} s)")
    return _plots.decision_boundary_figure(predict, data.x_train.cpu().numpy(), noisy.cpu().numpy(),
                                           flipped.cpu().numpy(), title, num_classes=data.num_classes)


def playground_widget(loss: str = "gce", q: float = PAPER_Q, noise_rate: float = 0.3, device="cpu"):
    """Loss dropdown, q slider (log, 0.01..1) and noise-rate slider over :func:`update_playground`."""
    import ipywidgets as w

    controls = {
        "loss": w.Dropdown(options=list(PLAYGROUND_LOSSES), value=loss, description="loss"),
        "q": slider("q", q, -2, 0, 0.05, slow=True, log=True, readout_format=".3f"),
        "noise_rate": slider("noise rate", noise_rate, 0.0, 0.6, 0.05, slow=True),
    }
    return interact_figure(partial(update_playground, device=device), controls)
