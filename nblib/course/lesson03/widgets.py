"""Lesson 3's sliders. Those that only redraw follow the hand: their figure is built once and a move
re-renders only what it changes into a PNG (``interact_png`` over a ``LiveFigure``); the playground
retrains a model, so its controls act on release and say so.

- ``q_widget``: the q slider over :class:`~nblib.course.lesson03.figures.LqExplorer` (a real batch);
- ``run_widget``: a slider over the q sweep's runs, their learning curves per seed (``RunExplorer``);
- ``truncation_widget``: the threshold k over a model's p_y (``TruncationExplorer``);
- ``update_playground`` / ``playground_widget``: a 2-D toy problem trained in about a second.

``update_q``, ``update_truncation`` and ``update_playground`` draw one position as a figure (tests,
``benchmarks/bench_widgets.py``).
"""
from __future__ import annotations

import time
from functools import lru_cache, partial

import torch

from ...train import predict_proba
from . import figures as _plots
from .experiments import PAPER_K, PAPER_Q, PLAYGROUND, PLAYGROUND_LOSSES, make_playground_data, train_playground
from ..widgets import interact_figure, interact_png, slider

__all__ = ["update_q", "q_widget", "run_widget", "update_truncation", "truncation_widget", "update_playground",
           "playground_widget"]

ON_RELEASE = " (on release)"    # the label suffix of a control that retrains
PLAYGROUND_CACHE = 16           # trained playground models kept (a few kB each)


def update_q(q: float, batch: dict):
    """A fresh figure for one position of the q slider (see :class:`~.figures.LqExplorer`)."""
    return _plots.lq_explorer_figure(q, batch["p_y"], batch["flipped"], batch["ce_grad_norm"])


def q_widget(batch: dict, q: float = 0.3):
    """The q slider, log-spaced from 0.01 to 1, over one :class:`~.figures.LqExplorer` built for ``batch``."""
    explorer = _plots.LqExplorer(batch["p_y"], batch["flipped"], batch["ce_grad_norm"])
    return interact_png(explorer.png, {"q": slider("q", q, -2, 0, 0.05, log=True, readout_format=".3f")})


def run_widget(result, value: str | None = None):
    """A slider over the runs of a sweep (CE, gce q=..., MAE, tgce): each run's curves over its seeds."""
    import ipywidgets as w

    explorer = _plots.RunExplorer(result)
    labels = explorer.labels
    control = w.SelectionSlider(options=labels, value=value or labels[len(labels) // 2], description="run",
                                continuous_update=True, style={"description_width": "initial"},
                                layout=w.Layout(width="520px"))
    return interact_png(explorer.png, {"label": control})


def update_truncation(k: float, p_y, flipped, q: float = PAPER_Q):
    """A fresh figure for one position of the threshold-k slider (see :class:`~.figures.TruncationExplorer`)."""
    return _plots.truncation_figure(k, q, p_y, flipped)


def truncation_widget(p_y, flipped, q: float = PAPER_Q, k: float = PAPER_K, source: str = "a trained model"):
    """The threshold-k slider over one :class:`~.figures.TruncationExplorer` (``source``: the model
    that gave the ``p_y``, for the axis label)."""
    explorer = _plots.TruncationExplorer(p_y, flipped, q, source)
    return interact_png(explorer.png, {"k": slider("k", k, 0.05, 0.95, 0.05)})


@lru_cache(maxsize=PLAYGROUND_CACHE)
def _playground(loss: str, q: float, noise_rate: float, seed: int, epochs: int, device: str):
    """One playground training (data, labels, model, History, seconds), kept for repeated positions:
    the notebook's static figure and the widget's first drawing are the same run."""
    t0 = time.perf_counter()
    data, noisy, flipped = make_playground_data(noise_rate, seed=seed, device=device)
    net, hist = train_playground(loss, q, data, noisy, flipped, epochs=epochs, seed=seed, device=device)
    return data, noisy, flipped, net, hist, time.perf_counter() - t0


def update_playground(loss: str = "gce", q: float = PAPER_Q, noise_rate: float = 0.3, seed: int = 0,
                      epochs: int = PLAYGROUND["epochs"], device="cpu"):
    """Train on the toy data for this loss / q / noise rate and draw the decision regions."""
    data, noisy, flipped, net, hist, seconds = _playground(loss, float(q), float(noise_rate), seed, epochs, str(device))
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
    """Loss dropdown, q slider (log, 0.01..1) and noise-rate slider over :func:`update_playground`.
    Every change retrains the model (about a second), so the sliders act when released."""
    import ipywidgets as w

    controls = {
        "loss": w.Dropdown(options=list(PLAYGROUND_LOSSES), value=loss, description="loss"),
        "q": slider("q" + ON_RELEASE, q, -2, 0, 0.05, slow=True, log=True, readout_format=".3f"),
        "noise_rate": slider("noise rate" + ON_RELEASE, noise_rate, 0.0, 0.6, 0.05, slow=True),
    }
    return interact_figure(partial(update_playground, device=device), controls)
