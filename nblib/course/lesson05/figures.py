"""Figures of lesson 5: loss correction with a noise transition matrix T (Patrini et al. 2017).

Notation: T[i, j] = P(noisy = j | true = i), p the predicted clean posterior, l(p) the vector of
cross entropies (-log p_1, ..., -log p_K).

- forward correction:  l_fwd(p, y) = -log (T^T p)_y   (CE of the noisy label against T^T p);
- backward correction: l_bwd(p, y) = (T^{-1} l(p))_y  (unbiased: sum_j T[c, j] l_bwd(p, j) = l(p, c)).

The figures (each returns its ``Figure``):

- :func:`expected_loss_figure`   binary toy: the expected loss at one x as a function of the
  prediction; CE on noisy labels is minimised at the *noisy* posterior, forward and backward at the
  *clean* one (Patrini's Theorems 1 and 2 in one picture);
- :func:`conditioning_figure`    T^{-1} of a family T(eta), the spread of backward per-sample
  losses it causes, and cond(T) against eta;
- :func:`loss_distribution_figure` per-sample training losses of trained models (backward's go negative);
- :func:`correction_curves_figure` test accuracy and training loss per epoch for several runs;
- :func:`estimation_figure`      T beside its anchor-point estimate T-hat and |T-hat - T|;
- :func:`wrong_t_figure`         forward correction with T blended towards a wrong matrix.

Small numeric helpers used by the figures and the widgets are here too (``transition_family``,
``blend_transition``, ``backward_loss_matrix``, ``binary_expected_losses``), so that the tests can
check the numbers a figure draws without drawing it, and the tables the notebook prints
(``results_table``, ``conditioning_table``, ``estimation_table``, ``blend_table``).

The widget figures label only the non-zero entries of their matrices (``_matrix_panel``).
"""
from __future__ import annotations

import numpy as np
import torch

from ..._checks import check_choice, check_in_range, check_transition_matrix
from ..figures import learning_curves, transition_heatmap
from ..style import ESTIMATED_T_LS, FLIPPED_COLOR, HEATMAP_CMAP, OKABE_ITO, loss_style, new_axes

__all__ = [
    "FAMILIES", "family_singular_eta", "transition_family", "blend_transition", "condition_number",
    "backward_loss_matrix", "backward_spread", "conditioning_table", "estimation_table",
    "binary_transition", "binary_expected_losses",
    "expected_loss_figure", "conditioning_figure", "loss_distribution_figure",
    "correction_curves_figure", "estimation_figure", "wrong_t_figure", "curve_roughness", "results_table", "blend_table",
]

EPS = 1e-7                 # probabilities are clipped to [EPS, 1] before a log
GRID_POINTS = 399          # points of the prediction grid in the binary toy
INV_CLIP = 10.0            # colour range of the T^{-1} heatmap is [-INV_CLIP, INV_CLIP]
LOSS_HIST_LIMIT = 1000.0   # the conditioning histogram spans [-LOSS_HIST_LIMIT, LOSS_HIST_LIMIT] (symlog)
HIST_BINS = 60
CURVE_POINTS = 60          # etas on the cond(T) curve
ANNOT_MIN = 0.005          # matrix entries below this (in absolute value) are left unlabelled
FAMILIES = ("symmetric", "digit map")  # T(eta) = (1 - eta) I + eta P for two choices of P


# ----------------------------------------------------------------------------- numeric helpers
def family_singular_eta(family: str, num_classes: int = 10) -> float:
    """The eta at which T(eta) of ``family`` becomes singular.

    symmetric: eigenvalues 1 and 1 - eta K / (K - 1), so eta* = (K - 1) / K (0.9 for K = 10);
    digit map: the 5 <-> 6 swap block [[1 - eta, eta], [eta, 1 - eta]] has eigenvalue 1 - 2 eta, eta* = 0.5.
    """
    check_choice("family", family, FAMILIES)
    return (num_classes - 1) / num_classes if family == "symmetric" else 0.5


def transition_family(family: str, eta: float, num_classes: int = 10) -> np.ndarray:
    """T(eta) = (1 - eta) I + eta P, P the symmetric (uniform over the other classes) or the digit map
    (7->1, 2->7, 5<->6, 3->8); ``eta`` in [0, eta*) where eta* = :func:`family_singular_eta`."""
    from ...noise import transition_matrix

    eta_star = family_singular_eta(family, num_classes)
    check_in_range("eta", eta, 0, eta_star, hi_open=True)
    kind = "symmetric" if family == "symmetric" else "asymmetric"
    return transition_matrix(kind, num_classes, float(eta), mapping="mnist")


def blend_transition(T, T_wrong, weight: float) -> np.ndarray:
    """(1 - weight) T + weight T_wrong: a transition matrix that is wrong by ``weight`` in [0, 1]."""
    T = check_transition_matrix(T)
    T_wrong = check_transition_matrix(T_wrong, num_classes=T.shape[0], name="T_wrong")
    check_in_range("weight", weight, 0, 1)
    return (1 - weight) * T + weight * T_wrong


def condition_number(T) -> float:
    """2-norm condition number of T (inf when singular); backward correction multiplies by T^{-1}."""
    return float(np.linalg.cond(check_transition_matrix(T)))


def _as_probs(probs) -> np.ndarray:
    """probs as a float64 (N, K) NumPy array."""
    if isinstance(probs, torch.Tensor):
        probs = probs.detach().cpu().double().numpy()
    P = np.asarray(probs, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] < 2:
        raise ValueError(f"probs must be an (N, K) array of predicted probabilities, got shape {P.shape}")
    return P


def backward_loss_matrix(probs, T) -> np.ndarray:
    """(N, K) array: entry [n, j] is the backward-corrected loss of sample n if its label were j,
    (T^{-1} l(p_n))_j = sum_k (T^{-1})[j, k] (-log p_nk); rows of ``probs`` are predicted clean
    posteriors. The same numbers as ``nblib.losses.backward`` (tested), in NumPy for speed."""
    T = check_transition_matrix(T)
    P = _as_probs(probs)
    if T.shape[0] != P.shape[1]:
        raise ValueError(f"T must be ({P.shape[1]}, {P.shape[1]}) to match probs with {P.shape[1]} classes, "
                         f"got {T.shape}")
    return -np.log(np.clip(P, EPS, 1)) @ np.linalg.inv(T).T


def binary_transition(e01: float, e10: float) -> np.ndarray:
    """2x2 T with flip rates e01 = P(noisy 1 | true 0), e10 = P(noisy 0 | true 1); e01 + e10 < 1."""
    check_in_range("e01", e01, 0, 1, hi_open=True)
    check_in_range("e10", e10, 0, 1, hi_open=True)
    if e01 + e10 >= 1:
        raise ValueError(f"e01 + e10 must be < 1 (else T is singular or flips the classes), got {e01 + e10:.3g}")
    return np.array([[1 - e01, e01], [e10, 1 - e10]])


def binary_expected_losses(p_clean: float, e01: float, e10: float, grid=None) -> dict:
    """Expected loss at one x as a function of the predicted P(y = 1 | x) on ``grid``.

    With clean posterior c = (1 - p_clean, p_clean) the noisy label is drawn from T^T c. Returns a
    dict with the grid ``q`` and four curves: ``clean`` E_{y~c}[-log p_y] (the target),
    ``ce`` E_{y~T^T c}[-log p_y] (plain CE on noisy labels), ``forward`` E[-log (T^T p)_y] and
    ``backward`` E[(T^{-1} l(p))_y] (equal to ``clean``: Theorem 1), plus their argmins.
    """
    check_in_range("p_clean", p_clean, 0, 1)
    T = binary_transition(e01, e10)
    q = np.linspace(0.0025, 0.9975, GRID_POINTS) if grid is None else np.asarray(grid, dtype=np.float64)
    P = np.stack([1 - q, q], axis=1)                     # predicted clean posteriors (G, 2)
    c = np.array([1 - p_clean, p_clean])
    noisy = T.T @ c                                      # noisy-label distribution at x
    L = -np.log(np.clip(P, EPS, 1))                      # l(p) per grid point (G, 2)
    curves = {
        "clean": L @ c,
        "ce": L @ noisy,
        "forward": -np.log(np.clip(P @ T, EPS, 1)) @ noisy,
        "backward": (L @ np.linalg.inv(T).T) @ noisy,
    }
    out = dict(q=q, T=T, noisy_posterior=float(noisy[1]), **curves)
    out["argmin"] = {k: float(q[np.argmin(v)]) for k, v in curves.items()}
    return out


# ----------------------------------------------------------------------------- figures
def _loss_histogram_axes(ax, limit: float, xlabel: str, ylabel: str, title: str, legend_size: float = 8):
    """Axes of a per-sample loss histogram: symmetric log x from -limit to limit (backward
    correction's losses go below zero), a line at zero, labels and legend."""
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(-limit, limit)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=legend_size, loc="upper left")


def _matrix_panel(ax, M, title: str, vmin: float = 0.0, vmax: float = 1.0, cmap: str = HEATMAP_CMAP,
                  annot: bool = True, xlabel: str = "noisy label j", ylabel: str = "true label i"):
    """A widget heatmap: every entry with |value| >= ANNOT_MIN labelled (zeros stay blank, easier to read)."""
    return transition_heatmap(np.asarray(M, dtype=np.float64), ax=ax, title=title, vmin=vmin, vmax=vmax, cmap=cmap,
                              annot=annot, annot_min=ANNOT_MIN, fmt=_entry, xlabel=xlabel, ylabel=ylabel)


def _entry(v: float) -> str:
    """Cell text: two decimals, whole numbers from 10 on (entries of T^{-1} can be large)."""
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}"


def expected_loss_figure(p_clean: float = 0.7, e01: float = 0.1, e10: float = 0.4):
    """Binary toy of Theorems 1-2: expected loss vs prediction, minima marked."""
    r = binary_expected_losses(p_clean, e01, e10)
    fig, axes = new_axes(width=6.0, height=3.6)
    ax = axes[0, 0]
    ax.plot(r["q"], r["clean"], color=OKABE_ITO["grey"], lw=6, alpha=0.5, label="clean CE (the target)")
    for name, label in (("ce", "CE on noisy labels"), ("forward", "forward"), ("backward", "backward")):
        st = loss_style(name)
        ax.plot(r["q"], r[name], label=f"{label}: min at {r['argmin'][name]:.2f}", lw=1.8, **st)
        ax.axvline(r["argmin"][name], color=st["color"], ls=":", lw=1)
    ax.axvline(p_clean, color="black", lw=1, alpha=0.6)
    ax.set_ylim(min(r["backward"].min(), 0) - 0.1, np.percentile(r["ce"], 90))
    ax.annotate(" clean posterior", (p_clean, 0.02), xycoords=("data", "axes fraction"), fontsize=8)
    ax.set_xlabel("predicted P(y = 1 | x)")
    ax.set_ylabel("expected loss at x (nats)")
    ax.set_title(f"Noisy CE is minimised at the noisy posterior ({r['noisy_posterior']:.2f});\n"
                 f"forward and backward at the clean one ({p_clean:.2f})")
    ax.legend(fontsize=8, loc="upper center")
    return fig


def backward_spread(probs, labels, family: str, etas) -> np.ndarray:
    """Standard deviation of the backward per-sample losses of ``probs``/``labels`` for T(eta), per eta."""
    P = _as_probs(probs)
    y = np.asarray(torch.as_tensor(labels).cpu())
    L = -np.log(np.clip(P, EPS, 1))
    out = []
    for eta in etas:
        T_inv = np.linalg.inv(transition_family(family, eta, P.shape[1]))
        out.append(np.einsum("nk,nk->n", L, T_inv[y]).std())
    return np.array(out)


def conditioning_table(probs, labels, family: str, etas, digits: int = 3):
    """pandas DataFrame, one row per eta: cond(T(eta)), the largest |entry| of T^{-1}, and the std,
    minimum and share of negative values of the backward per-sample losses of ``probs``/``labels``."""
    import pandas as pd

    P = _as_probs(probs)
    y = np.asarray(torch.as_tensor(labels).cpu())
    rows = []
    for eta in etas:
        T = transition_family(family, eta, P.shape[1])
        L = backward_loss_matrix(P, T)[np.arange(len(y)), y]
        rows.append(dict(eta=eta, cond_T=condition_number(T), max_abs_T_inv=np.abs(np.linalg.inv(T)).max(),
                         bwd_loss_std=L.std(), bwd_loss_min=L.min(), share_negative=(L < 0).mean()))
    return pd.DataFrame(rows).set_index("eta").round(digits)


def estimation_table(probs_by_epoch: dict, T, percentile: float = 97.0, digits: int = 3):
    """pandas DataFrame: estimation error of T-hat with and without the outlier filter, per epoch of
    the CE model whose predictions ``probs_by_epoch`` (epoch -> (N, K)) holds."""
    import pandas as pd

    from ...estimate import estimate_transition, estimation_error

    rows = {e: {f"error, filter {'on' if f else 'off'}":
                estimation_error(estimate_transition(p, percentile=percentile, filter_outliers=f), T)
                for f in (True, False)} for e, p in sorted(probs_by_epoch.items())}
    table = pd.DataFrame.from_dict(rows, orient="index").round(digits)
    table.index.name = "CE epoch"
    return table


def _symlog_bins(limit: float, bins: int) -> np.ndarray:
    """Bin edges equally spaced on a symmetric-log axis (linear within [-1, 1]) up to +-limit."""
    half = np.concatenate([np.linspace(0, 1, 4, endpoint=False), np.logspace(0, np.log10(limit), bins // 2 - 4)])
    return np.concatenate([-half[::-1], half[1:]])


def conditioning_figure(probs, labels, family: str = "symmetric", eta: float = 0.4):
    """Three panels for T(eta) of ``family``: T^{-1} (heatmap), the backward per-sample losses of the
    predictions ``probs`` with ``labels`` beside their CE (histogram), and cond(T) and the spread of the
    backward losses against eta."""
    P = _as_probs(probs)
    K = P.shape[1]
    T = transition_family(family, eta, K)
    y = np.asarray(torch.as_tensor(labels).cpu())
    rows = np.arange(len(y))
    L_bwd = backward_loss_matrix(P, T)[rows, y]
    L_ce = -np.log(np.clip(P[rows, y], EPS, 1))
    T_inv = np.linalg.inv(T)
    cond = condition_number(T)

    fig, axes = new_axes(ncols=3, width=4.0, height=3.7)
    ax = axes[0, 0]
    _matrix_panel(ax, T_inv, f"$T^{{-1}}$ (colours clipped at ±{INV_CLIP:g})", vmin=-INV_CLIP, vmax=INV_CLIP,
                  cmap="RdBu_r", xlabel="class j of the loss vector", ylabel="noisy label y")

    ax = axes[0, 1]
    bins = _symlog_bins(LOSS_HIST_LIMIT, HIST_BINS)
    ax.hist(np.clip(L_ce, -LOSS_HIST_LIMIT, LOSS_HIST_LIMIT), bins=bins, color=loss_style("ce")["color"],
            alpha=0.35, label=f"CE: std {L_ce.std():.2f}")
    ax.hist(np.clip(L_bwd, -LOSS_HIST_LIMIT, LOSS_HIST_LIMIT), bins=bins, color=loss_style("backward")["color"],
            histtype="step", lw=2, label=f"backward: std {L_bwd.std():.2f},\n{(L_bwd < 0).mean():.0%} negative")
    _loss_histogram_axes(ax, LOSS_HIST_LIMIT, "per-sample loss (nats, symmetric log axis)", "samples",
                         "Per-sample losses of the same predictions", legend_size=7)

    ax = axes[0, 2]
    eta_star = family_singular_eta(family, K)
    etas = np.linspace(0, eta_star, CURVE_POINTS, endpoint=False)
    conds = np.linalg.cond(np.stack([transition_family(family, e, K) for e in etas]))
    ax.semilogy(etas, conds, color="black", label="cond(T)")
    ax.semilogy(etas, backward_spread(P, y, family, etas), color=loss_style("backward")["color"],
                label="std of backward losses")
    ax.plot([eta, eta], [cond, L_bwd.std()], "o", color=FLIPPED_COLOR, ms=7)
    ax.axvline(eta_star, color="grey", ls=":")
    ax.set_xlabel(f"eta (singular at {eta_star:.2f})")
    ax.set_ylabel("value (log scale)")
    ax.set_title(f"cond(T) = {cond:.1f}")
    ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{family} T(eta = {eta:.2f}): the closer T is to singular, the wilder backward's losses",
                 fontsize=11)
    return fig


def loss_distribution_figure(losses: dict, title: str | None = None):
    """Histograms of per-sample training losses, ``losses``: label -> 1-D array (one model each), on a
    symmetric-log axis so that CE's small positive losses and backward's huge negative ones both show."""
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in losses.items()}
    biggest = max(float(np.abs(a).max()) for a in arrays.values())
    limit = 10.0 ** max(1, int(np.ceil(np.log10(max(biggest, 1.0)))))
    bins = _symlog_bins(limit, HIST_BINS)
    fig, axes = new_axes(width=6.4, height=3.5)
    ax = axes[0, 0]
    for label, a in arrays.items():
        st = loss_style(label)
        ax.hist(a, bins=bins, histtype="step", lw=1.8, color=st["color"], ls=_hat_ls(label, "-"),
                label=f"{label}: {(a < 0).mean():.1%} negative, std {a.std():.2f}")
    ax.set_yscale("log")
    _loss_histogram_axes(ax, limit, "per-sample training loss (nats, symmetric log axis)", "samples (log scale)",
                         title or "Per-sample losses after training: only backward goes below zero")
    return fig


def _hat_ls(label: str, default):
    """Runs with an estimated T ('T-hat' in the label) are drawn dotted, beside the solid/dash-dot true-T runs."""
    return ESTIMATED_T_LS if "hat" in label.lower() else default


def correction_curves_figure(histories: dict, title: str | None = None):
    """Two panels: test accuracy per epoch and training loss per epoch (symmetric log axis: backward's
    loss can run to large negative values) for each run (label -> History). Colours follow the loss;
    runs with an estimated T ('T-hat' in the label) are dotted."""
    fig, axes = new_axes(ncols=2, width=4.8, height=3.5)
    acc_ax, loss_ax = axes[0, 0], axes[0, 1]
    lows = []
    for label, h in histories.items():
        st = loss_style(label)
        kw = dict(color=st["color"], ls=_hat_ls(label, st["ls"]), lw=2.0 if "hat" in label.lower() else 1.5)
        acc_ax.plot(h.epoch, h.test_acc, label=label, **kw)
        loss_ax.plot(h.epoch, h.loss, label=label, **kw)
        skip = max(1, len(h.test_acc) // 10)  # the first epochs (still learning) don't set the y-range
        lows.append(min(h.test_acc[skip:] or h.test_acc))
    acc_ax.set_ylim(max(0.0, min(lows) - 0.05), 1.0)
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("test accuracy")
    acc_ax.set_title("Test accuracy (clean test labels)")
    acc_ax.legend(fontsize=8)
    loss_ax.set_yscale("symlog", linthresh=1)
    loss_ax.axhline(0, color="black", lw=0.8)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss (nats, symmetric log axis)")
    loss_ax.set_title("Training loss (mean over noisy labels)")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def estimation_figure(T, T_hat, title: str | None = None):
    """T, its estimate T-hat and |T-hat - T| side by side; the relative L1 error in the title."""
    from ...estimate import estimation_error

    T = check_transition_matrix(T)
    T_hat = check_transition_matrix(T_hat, num_classes=T.shape[0], name="T_hat")
    err = estimation_error(T_hat, T)
    fig, axes = new_axes(ncols=3, width=3.5, height=3.4)
    _matrix_panel(axes[0, 0], T, "true T")
    _matrix_panel(axes[0, 1], T_hat, "estimate T-hat", ylabel="class i (row = prediction at its anchor)")
    _matrix_panel(axes[0, 2], np.abs(T_hat - T), "|T-hat - T| (colours up to 0.5)", vmax=0.5)
    fig.suptitle(title or f"Anchor-point estimate: relative L1 error {err:.3f}", fontsize=11)
    return fig


def wrong_t_figure(cache: dict, T, wrong: str, weight: float, ce_history=None):
    """Forward correction with T_w = (1 - w) T + w T_wrong, trained once per w.

    ``cache``: name of a wrong matrix -> (T_wrong, {w: History of forward(T_w)}); ``wrong`` picks
    one, ``weight`` one of its trained w. Panels: T_w (heatmap), test accuracy per epoch at w (beside
    w = 0, i.e. the true T, and CE), final test accuracy against w for every wrong matrix in ``cache``.
    """
    if wrong not in cache:
        raise ValueError(f"wrong must be one of {list(cache)}, got {wrong!r}")
    T_wrong, histories = cache[wrong]
    weights = [float(w) for w in histories]
    weight = float(weight)
    if weight not in weights:
        raise ValueError(f"weight must be one of the trained weights {weights}, got {weight!r}")
    fig, axes = new_axes(ncols=3, width=3.8, height=3.5)
    _matrix_panel(axes[0, 0], blend_transition(T, T_wrong, weight), f"T used: {1 - weight:.2f} true + {weight:.2f} wrong",
                  annot=False)
    runs = {"forward(true T)": histories[weights[0]]}
    if ce_history is not None:
        runs["ce"] = ce_history
    ax = learning_curves(runs, "test_acc", ax=axes[0, 1], title="Test accuracy per epoch")
    if weight != weights[0]:
        h = histories[weight]
        ax.plot(h.epoch, h.test_acc, color=OKABE_ITO["purple"], lw=2, label=f"forward(w = {weight:.2f})")
        ax.legend(fontsize=8)
    ax = axes[0, 2]
    markers = "osD^v"
    for k, (name, (_, hs)) in enumerate(cache.items()):
        ws = [float(w) for w in hs]
        ax.plot(ws, [hs[w].final_test_acc for w in ws], marker=markers[k % len(markers)], ls="-",
                color=loss_style("forward")["color"], alpha=1.0 if name == wrong else 0.35, label=name)
    ax.plot([weight], [histories[weight].final_test_acc], "o", ms=13, mfc="none", mew=2, color=FLIPPED_COLOR)
    if ce_history is not None:
        ax.axhline(ce_history.final_test_acc, color=loss_style("ce")["color"], ls="--", label="ce")
    ax.set_xlabel("weight w of the wrong matrix")
    ax.set_ylabel("final test accuracy")
    ax.set_title("Final accuracy vs how wrong T is")
    ax.legend(fontsize=7)
    fig.suptitle(f"Forward correction with T blended towards: {wrong}", fontsize=11)
    return fig


def curve_roughness(history) -> float:
    """Mean absolute change of test accuracy from one epoch to the next (how jumpy a curve is)."""
    acc = np.asarray(history.test_acc, dtype=np.float64)
    return float(np.abs(np.diff(acc)).mean()) if len(acc) > 1 else 0.0


def results_table(histories: dict, digits: int = 3):
    """pandas DataFrame, one row per run label: best and final test accuracy, final training loss and
    the roughness of the test curve (:func:`curve_roughness`). ``histories``: label -> History, or
    label -> list of Histories (one per seed; the table then shows seed means and ``final_std``)."""
    import pandas as pd

    rows = {}
    for label, hs in histories.items():
        hs = list(hs) if isinstance(hs, (list, tuple)) else [hs]
        row = dict(best_test_acc=np.mean([h.best_test_acc for h in hs]),
                   final_test_acc=np.mean([h.final_test_acc for h in hs]))
        if len(hs) > 1:
            row["final_std"] = np.std([h.final_test_acc for h in hs])
        row["final_train_loss"] = np.mean([h.loss[-1] for h in hs])
        row["roughness"] = np.mean([curve_roughness(h) for h in hs])
        rows[label] = row
    table = pd.DataFrame.from_dict(rows, orient="index").round(digits)
    table.index.name = f"mean of {len(hs)} seeds" if len(hs) > 1 else "run"
    return table


def blend_table(cache: dict, digits: int = 3):
    """pandas DataFrame of final test accuracy: rows = weight w of the wrong matrix, one column per
    wrong matrix in ``cache`` (name -> (T_wrong, {w: History}))."""
    import pandas as pd

    table = pd.DataFrame({name: {float(w): h.final_test_acc for w, h in hs.items()}
                          for name, (_, hs) in cache.items()}).round(digits)
    table.index.name = "w"
    return table
