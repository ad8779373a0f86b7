"""Sliders of lesson 5 (loss correction), and the small experiment runner that fills their caches.

Each widget is ``interact_figure(update, controls)`` around a plain update function that returns a
figure (tests call the update functions directly):

- :func:`update_expected_loss` / :func:`expected_loss_widget`  binary toy: where does each loss put
  its minimum? (no training; instant)
- :func:`update_conditioning` / :func:`conditioning_widget`    T(eta) -> T^{-1}, backward's per-sample
  loss spread and cond(T), on fixed predictions (no training; well under a second)
- :func:`update_estimation` / :func:`estimation_widget`        anchor-point estimate of T with the
  percentile and the outlier filter as controls (cached predictions; instant)
- :func:`update_wrong_t` / :func:`wrong_t_widget`              forward correction with a T blended
  towards a wrong one, from runs trained once (``SelectionSlider`` over the trained weights)

Training happens once, before the widgets, in :func:`train_runs` (one ``nblib.fit`` per run, models
built with the same seed, so the runs differ only in their loss), :func:`train_seeds` (the same for
several seeds) and :func:`train_blends` (forward correction with blended T). Every figure takes a few
tenths of a second to draw, so every control redraws when it is released (``continuous_update=False``).
"""
from __future__ import annotations

import functools

import torch

from ..._checks import check_choice, check_in_range, check_transition_matrix
from .figures import (FAMILIES, blend_transition, conditioning_figure, estimation_figure,
                                expected_loss_figure, family_singular_eta, wrong_t_figure)
from ..widgets import interact_figure, slider

__all__ = [
    "ETA_MARGIN", "PERCENTILES", "train_runs", "train_seeds", "train_blends", "per_sample_losses",
    "ProbaRecorder",
    "update_expected_loss", "expected_loss_widget", "update_conditioning", "conditioning_widget",
    "update_estimation", "estimation_widget", "update_wrong_t", "wrong_t_widget",
]

ETA_MARGIN = 0.01                 # the eta slider stops this far before the singular point
PERCENTILES = (90.0, 95.0, 97.0, 99.0, 99.5, 100.0)  # choices of the anchor percentile (97 = Patrini)
ETA_STEP = 0.01


# ----------------------------------------------------------------------------- training
def train_runs(data, y_noisy, specs: dict, *, epochs: int, seed: int = 0, model_seed: int | None = None,
               callbacks: dict | None = None, **fit_kw) -> tuple[dict, dict]:
    """Train one fresh model per entry of ``specs`` (label -> (loss name, loss params)) on ``y_noisy``.

    Every model is built by ``make_model("auto", data, seed=model_seed)`` (default: ``seed``), so all
    runs start from identical weights and see the same shuffles (``fit(..., seed=seed)``): they differ
    only in their loss. ``callbacks``: optional label -> callback for ``fit``.
    Returns (histories, models), both label -> object.
    """
    from ...models import make_model
    from ...train import fit

    model_seed = seed if model_seed is None else model_seed
    histories, models = {}, {}
    for label, (loss, params) in specs.items():
        model = make_model("auto", data, seed=model_seed)
        histories[label] = fit(model, data, loss=loss, loss_params=params, y_train=y_noisy, epochs=epochs,
                               seed=seed, callback=(callbacks or {}).get(label), progress=False, **fit_kw)
        models[label] = model
    return histories, models


def train_seeds(data, y_noisy, specs, *, seeds, epochs: int, record: dict | None = None, **fit_kw) -> dict:
    """:func:`train_runs` once per seed in ``seeds``.

    ``specs``: label -> (loss, params), or a function seed -> such a dict (e.g. T-hat estimated per seed).
    ``record``: label -> epochs after which ``predict_proba`` on ``data.x_train`` is stored.
    Returns a dict with ``histories`` (label -> list of History, one per seed), ``models`` (label ->
    list of trained models) and ``probs`` (label -> list of {epoch: (N, K) array}) for recorded labels.
    """
    out = dict(histories={}, models={}, probs={}, seeds=list(seeds))
    for seed in seeds:
        seed_specs = specs(seed) if callable(specs) else specs
        recorders = {label: ProbaRecorder(data.x_train, ep) for label, ep in (record or {}).items()}
        hist, models = train_runs(data, y_noisy, seed_specs, epochs=epochs, seed=seed, callbacks=recorders, **fit_kw)
        for label in seed_specs:
            out["histories"].setdefault(label, []).append(hist[label])
            out["models"].setdefault(label, []).append(models[label])
        for label, rec in recorders.items():
            out["probs"].setdefault(label, []).append(rec.probs)
    return out


def per_sample_losses(models: dict, specs: dict, x, y, num_classes: int) -> dict:
    """label -> (N,) NumPy array of each trained model's own per-sample loss on (x, y)."""
    from ...losses import make_loss
    from ...train import predict_logits

    out = {}
    for label, model in models.items():
        loss, params = specs[label]
        logits = predict_logits(model, x)
        out[label] = make_loss(loss, num_classes, **params)(logits, y, reduction="none").double().cpu().numpy()
    return out


def train_blends(data, y_noisy, T, T_wrong, weights, *, epochs: int, seed: int = 0,
                 known: dict | None = None, **fit_kw) -> dict:
    """Forward correction with T_w = (1 - w) T + w T_wrong for each w in ``weights``.

    ``known``: w -> History already trained with the same seed (e.g. w = 0 is forward(T), and w = 1
    with T_wrong = I is plain CE); those are not retrained. Returns w -> History in ``weights`` order.
    """
    T = check_transition_matrix(T, data.num_classes)
    known = {float(k): v for k, v in (known or {}).items()}
    specs = {float(w): ("forward", {"T": blend_transition(T, T_wrong, w)}) for w in weights if float(w) not in known}
    new, _ = train_runs(data, y_noisy, specs, epochs=epochs, seed=seed, **fit_kw)
    both = {**known, **new}
    return {float(w): both[float(w)] for w in weights}


class ProbaRecorder:
    """``fit`` callback that stores ``predict_proba(model, x)`` (a NumPy array) after the given epochs.

    ``recorder.probs[epoch]`` then holds the predicted noisy-label posteriors of that epoch, so the
    anchor-point estimator can be run on the model as it was at several points of training.
    """

    def __init__(self, x: torch.Tensor, epochs):
        self.x, self.epochs, self.probs = x, {int(e) for e in epochs}, {}

    def __call__(self, epoch, model, history):
        from ...train import predict_proba

        if epoch in self.epochs:
            self.probs[epoch] = predict_proba(model, self.x).double().cpu().numpy()
        return False


# ----------------------------------------------------------------------------- widget 1: binary toy
def update_expected_loss(p_clean: float = 0.7, e01: float = 0.1, e10: float = 0.4):
    """Figure: expected CE / forward / backward loss at one x against the prediction (binary toy)."""
    return expected_loss_figure(p_clean, e01, e10)


def expected_loss_widget():
    """Sliders: clean posterior P(y=1|x) and the two flip rates of a 2x2 T."""
    return interact_figure(update_expected_loss, {
        "p_clean": slider("clean P(y=1|x)", 0.7, 0.05, 0.95, 0.05, slow=True),
        "e01": slider("flip 0→1 (e01)", 0.1, 0.0, 0.45, 0.05, slow=True),
        "e10": slider("flip 1→0 (e10)", 0.4, 0.0, 0.45, 0.05, slow=True),
    })


# ----------------------------------------------------------------------------- widget 2: conditioning
def update_conditioning(family: str = "symmetric", eta: float = 0.4, *, probs, labels):
    """Figure for T(eta) of ``family`` on fixed predictions; eta is clipped to [0, eta* - ETA_MARGIN]
    (the singular point eta* depends on the family, so a slider left high by the other family is safe)."""
    check_choice("family", family, FAMILIES)
    K = probs.shape[1]
    eta = float(min(max(float(eta), 0.0), round(family_singular_eta(family, K) - ETA_MARGIN, 2)))
    return conditioning_figure(probs, labels, family=family, eta=eta)


def conditioning_widget(probs, labels, eta: float = 0.4):
    """Dropdown (family) and eta slider; the slider's range follows the family's singular point."""
    import ipywidgets as w

    K = probs.shape[1]
    family = w.Dropdown(options=list(FAMILIES), value="symmetric", description="family of T")
    eta_s = slider("eta", eta, 0.0, family_singular_eta("symmetric", K) - ETA_MARGIN, ETA_STEP, slow=True)

    def on_family(change):
        top = round(family_singular_eta(change["new"], K) - ETA_MARGIN, 2)
        eta_s.value = min(eta_s.value, top)
        eta_s.max = top

    family.observe(on_family, names="value")
    update = functools.partial(update_conditioning, probs=probs, labels=labels)
    return interact_figure(update, {"family": family, "eta": eta_s})


# ----------------------------------------------------------------------------- widget 3: estimation
def update_estimation(percentile: float = 97.0, filter_outliers: bool = True, epoch=None, *, probs, T):
    """Figure: T beside the anchor-point estimate from ``probs`` (an (N, K) array, or a dict
    epoch -> array, then ``epoch`` picks one)."""
    from ...estimate import estimate_transition

    if isinstance(probs, dict):
        if epoch not in probs:
            raise ValueError(f"epoch must be one of the recorded epochs {sorted(probs)}, got {epoch!r}")
        probs = probs[epoch]
    check_in_range("percentile", percentile, 0, 100, lo_open=True)
    T_hat = estimate_transition(probs, percentile=percentile, filter_outliers=bool(filter_outliers))
    return estimation_figure(T, T_hat)


def estimation_widget(probs, T, epoch=None):
    """Percentile selection slider, outlier-filter checkbox and (for a dict of probs) the CE epoch."""
    import ipywidgets as w

    controls = {
        "percentile": w.SelectionSlider(options=list(PERCENTILES), value=97.0, description="percentile",
                                        continuous_update=False, style={"description_width": "initial"}),
        "filter_outliers": w.Checkbox(value=True, description="outlier filter"),
    }
    if isinstance(probs, dict):
        epochs = sorted(probs)
        controls["epoch"] = w.SelectionSlider(options=epochs, value=epoch if epoch in probs else epochs[-1],
                                              description="CE model after epoch", continuous_update=False,
                                              style={"description_width": "initial"})
    return interact_figure(functools.partial(update_estimation, probs=probs, T=T), controls)


# ----------------------------------------------------------------------------- widget 4: wrong T
def update_wrong_t(wrong: str, weight: float = 0.0, *, cache: dict, T, ce_history=None):
    """Figure: forward correction trained with (1 - weight) T + weight T_wrong, from ``cache``
    (name -> (T_wrong, {w: History})); nothing is trained here."""
    return wrong_t_figure(cache, T, wrong, float(weight), ce_history=ce_history)


def wrong_t_widget(cache: dict, T, ce_history=None):
    """Dropdown over the wrong matrices and a ``SelectionSlider`` over the trained weights (instant)."""
    import ipywidgets as w

    names = list(cache)
    weights = [float(k) for k in cache[names[0]][1]]
    for name in names[1:]:
        if [float(k) for k in cache[name][1]] != weights:
            raise ValueError(f"every entry of cache must be trained at the same weights {weights}; {name!r} is not")
    controls = {
        "wrong": w.Dropdown(options=names, value=names[0], description="wrong T",
                            style={"description_width": "initial"}),
        "weight": w.SelectionSlider(options=[(f"{k:.2f}", k) for k in weights], value=weights[0],
                                    description="weight w of the wrong T", continuous_update=False,
                                    style={"description_width": "initial"}),
    }
    return interact_figure(functools.partial(update_wrong_t, cache=cache, T=T, ce_history=ce_history), controls)
