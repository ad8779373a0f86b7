"""Widget of lesson 2: drag p_y and watch the logit gradients of CCE and MAE follow.

The figure is a :class:`~nblib.course.lesson02.figures.GradientExplorer`, built once: a move computes
the two gradients with autograd and re-renders only the bars and the title into a PNG
(``interact_png``), fast enough to update while the slider is dragged.
"""
from __future__ import annotations

from .figures import GradientExplorer
from ..widgets import interact_png, slider

__all__ = ["gradient_explorer"]

SLIDER_WIDTH = "480px"
P_RANGE = (0.01, 0.99)   # p_y in (0, 1); the ends are excluded (log 0, and 0/0 in the ratio)


def gradient_explorer(num_classes: int = 10, p_y: float = 0.1):
    """A p_y slider above a live :class:`GradientExplorer` for ``num_classes`` classes."""
    s = slider("p_y", p_y, *P_RANGE, 0.01)
    s.layout.width = SLIDER_WIDTH       # a long track: p_y is the only control
    return interact_png(GradientExplorer(num_classes).png, {"p_y": s})
