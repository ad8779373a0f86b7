"""Widget of lesson 1: pick a noise model and a rate, see T and the realised flip rate while dragging.

The figure is a :class:`~nblib.course.lesson01.figures.NoiseExplorer`, built once: a move corrupts the
labels again and re-renders only the heatmap cells, their numbers and the titles into a PNG
(``interact_png``), fast enough for the rate slider to follow the hand (``benchmarks/bench_widgets.py``).
"""
from __future__ import annotations

from .figures import NOISE_TITLES, NoiseExplorer
from ..widgets import interact_png, slider

__all__ = ["MAX_RATE", "noise_explorer"]

MAX_RATE = 0.9   # the slider's upper end; at 0.9 symmetric noise on 10 classes stops being learnable


def noise_explorer(labels=None, num_classes: int = 10, kind: str = "symmetric", rate: float = 0.4,
                   seed: int = 0):
    """Controls (noise model, rate, exact counts, seed) above a live :class:`NoiseExplorer`.

    ``labels``: the clean training labels to corrupt (the realised rate is measured on them);
    without labels only the nominal T is drawn.
    """
    import ipywidgets as w

    style = {"description_width": "initial"}
    controls = {
        "kind": w.Dropdown(options=[(title, key) for key, title in NOISE_TITLES.items()], value=kind,
                           description="noise model", style=style),
        "rate": slider("rate", rate, 0.0, MAX_RATE, 0.05),
        "exact": w.Checkbox(value=False, description="exact counts per class", style=style),
        "seed": w.IntSlider(value=seed, min=0, max=9, description="seed", style=style),
    }
    return interact_png(NoiseExplorer(labels, num_classes).png, controls, columns=2)
