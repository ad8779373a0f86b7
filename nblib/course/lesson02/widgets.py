"""Widget of lesson 2: move p_y and watch the logit gradients of CCE and MAE.

The update function is :func:`nblib.plots.gradients.logit_gradient_view` (a plain, unit-tested
function); one update is two tiny autograd calls and a bar chart (~0.1 s with the figure drawn),
so the slider redraws when it is released.
"""
from __future__ import annotations

from functools import partial

from .figures import logit_gradient_view
from ..widgets import interact_figure, slider

__all__ = ["gradient_explorer"]

SLIDER_WIDTH = "480px"
P_RANGE = (0.01, 0.99)   # p_y in (0, 1); the ends are excluded (log 0, and 0/0 in the ratio)


def gradient_explorer(num_classes: int = 10, p_y: float = 0.1):
    """A p_y slider above :func:`logit_gradient_view` for ``num_classes`` classes."""
    s = slider("p_y", p_y, *P_RANGE, 0.01, slow=True)
    s.layout.width = SLIDER_WIDTH       # a long track: p_y is the only control
    controls = {"p_y": s}
    return interact_figure(partial(logit_gradient_view, num_classes=num_classes), controls)
