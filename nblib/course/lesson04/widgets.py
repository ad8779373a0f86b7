"""Lesson 4's symmetry check and its slider.

- :func:`random_logits`: random predictions of a chosen confidence (seeded);
- :func:`symmetry_table`: the class sums of several losses over those predictions, and whether
  they are constant (the symmetry condition);
- :func:`gradient_table`: where each loss pushes the logits (cosine with CE's p - e_y) and how hard
  (the weight relative to CE), by autograd;
- :func:`class_sum_widget`: one loss (dropdown) and the logit scale (slider) of the random
  predictions; the slider redraws a :class:`~.figures.ClassSumExplorer` in milliseconds, so it
  follows the hand (the dropdown builds the loss's figure once, when first chosen).
"""
from __future__ import annotations

import torch

from ... import losses as L
from ..._checks import check_choice, check_in_range, check_int
from ..widgets import interact_png, slider
from .figures import SCALE_RANGE, ClassSumExplorer

__all__ = ["SYMMETRY_LOSSES", "random_logits", "symmetry_table", "gradient_table", "class_sum_widget"]

# losses the symmetry picker offers: the not-symmetric ones first, then the symmetric ones
SYMMETRY_LOSSES = ("ce", "fl", "gce", "sce", "nce", "nfl", "ngce", "mae", "rce", "nmae", "nrce")
DEFAULT_NUM_RANDOM = 1000   # random predictions per widget figure
SYMMETRIC_REL_TOL = 1e-6    # a class-sum spread below this (relative) is floating-point rounding


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


def gradient_table(losses, logits, targets):
    """DataFrame, one row per loss, over the predictions ``logits`` with labels ``targets``:
    ``cos mean`` / ``cos min`` (cosine of the loss's logit gradient with CE's, ``gradient_alignment``),
    ``weight mean`` (``gradient_weight``, the size relative to CE) and, for losses of p_y alone,
    ``max |weight - w(p_y)|`` against the closed form ``analytic_weight`` (NaN for the others)."""
    import numpy as np
    import pandas as pd

    p_y = logits.softmax(1).gather(1, torch.as_tensor(targets).long()[:, None]).squeeze(1)
    rows = {}
    for name in losses:
        cos, w = L.gradient_alignment(name, logits, targets), L.gradient_weight(name, logits, targets)
        try:
            dev = float((w - L.analytic_weight(name, p_y)).abs().max())
        except ValueError:       # normalized and APL losses depend on all of p: no closed-form weight
            dev = np.nan
        rows[name] = {"cos mean": float(cos.mean()), "cos min": float(cos.min()), "weight mean": float(w.mean()),
                      "max |weight - w(p_y)|": dev}
    return pd.DataFrame.from_dict(rows, orient="index")


def class_sum_widget(losses=SYMMETRY_LOSSES, n: int = DEFAULT_NUM_RANDOM, num_classes: int = 10, seed: int = 0):
    """Dropdown (loss) + live slider (logit scale: how confident the ``n`` random predictions are)."""
    import ipywidgets as w

    for name in losses:
        check_choice("loss", name, L.LOSSES)
    base = random_logits(n, num_classes, 1.0, seed)       # scale * base = random_logits(n, K, scale, seed)
    logits_of = lambda scale: scale * base  # noqa: E731
    explorers: dict = {}

    def render(loss: str, scale: float) -> bytes:
        if loss not in explorers:
            explorers[loss] = ClassSumExplorer(loss, logits_of)
        return explorers[loss].png(scale)

    controls = {"loss": w.Dropdown(options=list(losses), value=losses[0], description="loss"),
                "scale": slider("logit scale", 3.0, *SCALE_RANGE, 0.1, readout_format=".1f")}
    return interact_png(render, controls)
