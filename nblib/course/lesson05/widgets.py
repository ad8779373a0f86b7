"""Sliders of lesson 5 (loss correction). Each redraws a :class:`~nblib.course.widgets.LiveFigure`
of :mod:`.figures` in milliseconds, so every slider follows the hand (``continuous_update=True``);
none of them trains anything.

- :func:`expected_loss_widget`  the binary toy: clean posterior and the two flip rates;
- :func:`conditioning_widget`   the family of T and eta: T^-1 and backward's per-sample losses;
- :func:`estimation_widget`     the CE model's epoch, the anchor percentile and the outlier filter.
"""
from __future__ import annotations

from .figures import FAMILIES, ConditioningExplorer, EstimationExplorer, ExpectedLossExplorer
from ..widgets import interact_png, slider

__all__ = ["expected_loss_widget", "conditioning_widget", "estimation_widget", "ETA_STEP", "PERCENTILE_RANGE"]

ETA_STEP = 0.005
PERCENTILE_RANGE = (80.0, 100.0, 0.5)    # min, max, step of the anchor percentile (Patrini: 97)
STYLE = {"description_width": "initial"}


def expected_loss_widget(p_clean: float = 0.7, e01: float = 0.1, e10: float = 0.4):
    """Sliders: clean posterior P(y=1|x) and the flip rates e01, e10 of a 2 x 2 T (live)."""
    explorer = ExpectedLossExplorer()
    return interact_png(explorer.png, {
        "p_clean": slider("clean P(y=1|x)", p_clean, 0.05, 0.95, 0.01),
        "e01": slider("flip 0→1 (e01)", e01, 0.0, 0.45, 0.01),
        "e10": slider("flip 1→0 (e10)", e10, 0.0, 0.45, 0.01),
    })


def conditioning_widget(logits, labels, eta: float = 0.4):
    """Dropdown (family of T) and an eta slider up to the last eta backward correction accepts
    (float32's limit, ``nblib.losses.MAX_COND``); one explorer per family, built when first shown."""
    import ipywidgets as w

    explorers: dict = {}

    def explorer(family: str) -> ConditioningExplorer:
        if family not in explorers:
            explorers[family] = ConditioningExplorer(logits, labels, family)
        return explorers[family]

    family = w.Dropdown(options=list(FAMILIES), value="symmetric", description="family of T", style=STYLE)
    eta_s = slider("eta", eta, 0.0, explorer("symmetric").eta_max, ETA_STEP, readout_format=".3f")

    def on_family(change):
        top = explorer(change["new"]).eta_max
        eta_s.value = min(eta_s.value, top)
        eta_s.max = top

    family.observe(on_family, names="value")
    return interact_png(lambda family, eta: explorer(family).png(eta), {"family": family, "eta": eta_s})


def estimation_widget(probs, T, val_acc, epoch: int | None = None):
    """Sliders: the epoch of the CE model (its predictions ``probs`` (epochs, N, K)), the anchor
    percentile, and the outlier filter (live)."""
    import ipywidgets as w

    explorer = EstimationExplorer(probs, T, val_acc)
    last = len(explorer.epochs)
    lo, hi, step = PERCENTILE_RANGE
    return interact_png(explorer.png, {
        "epoch": w.IntSlider(value=epoch or last, min=1, max=last, description="CE model after epoch",
                             continuous_update=True, style=STYLE),
        "percentile": slider("anchor percentile", 97.0, lo, hi, step, readout_format=".1f"),
        "filter_outliers": w.Checkbox(value=True, description="outlier filter"),
    })
