"""Widget of lesson 1: pick a noise model and a rate, see T and the realised flip rate live.

The update function is :func:`nblib.plots.noise.noise_view` (a plain function, unit-tested);
this module only wires it to controls with :func:`nblib.widgets.base.interact_figure`. One update
corrupts a few thousand labels and draws two annotated heatmaps (~0.1-0.3 s), so the rate slider
redraws when it is released (``continuous_update=False``).
"""
from __future__ import annotations

from functools import partial

from .figures import NOISE_TITLES, noise_view
from ..widgets import interact_figure, slider

__all__ = ["noise_explorer"]

MAX_RATE = 0.9   # the slider's upper end; at 0.9 symmetric noise on 10 classes stops being learnable


def noise_explorer(labels=None, num_classes: int = 10, kind: str = "symmetric", rate: float = 0.4,
                   seed: int = 0):
    """Controls (noise model, rate, exact counts, seed) above the figure of :func:`noise_view`.

    ``labels``: the clean training labels to corrupt (the realised rate is measured on them);
    without labels only the nominal T is drawn.
    """
    import ipywidgets as w

    style = {"description_width": "initial"}
    controls = {
        "kind": w.Dropdown(options=[(title, key) for key, title in NOISE_TITLES.items()], value=kind,
                           description="noise model", style=style),
        "rate": slider("rate", rate, 0.0, MAX_RATE, 0.05, slow=True),
        "exact": w.Checkbox(value=False, description="exact counts per class", style=style),
        "seed": w.IntSlider(value=seed, min=0, max=9, description="seed", continuous_update=False, style=style),
    }
    update = partial(noise_view, labels=labels, num_classes=num_classes)
    return interact_figure(update, controls, columns=2)
