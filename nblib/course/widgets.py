"""The one pattern behind every widget: controls -> plain update function -> figure.

``interact_figure(update, controls)`` lays the controls out above an output area and redraws
the figure returned by ``update(**values)`` when a control changes. It uses only
``ipywidgets.interactive_output``, ``VBox``/``HBox`` and ``Output``, which behave the same in
ipywidgets 7 (Colab) and 8 (JupyterLab 4). Sliders whose update costs more than ~50 ms use
``continuous_update=False`` so the view redraws when the handle is released.
"""
from __future__ import annotations

import io
import statistics
import time

import matplotlib.pyplot as plt

from .._checks import check_int

SLOW_UPDATE_S = 0.05  # updates slower than this redraw only on release


def interact_figure(update, controls: dict, columns: int = 3):
    """Return a widget box: ``controls`` (name -> ipywidget) above the figure ``update(**values)``."""
    import ipywidgets as w
    from IPython.display import display

    def draw(**values):
        fig = update(**values)
        if fig is not None:
            display(fig)
            plt.close(fig)

    out = w.interactive_output(draw, controls)
    items = list(controls.values())
    rows = [w.HBox(items[i:i + columns]) for i in range(0, len(items), columns)]
    return w.VBox([*rows, out])


def slider(description: str, value: float, lo: float, hi: float, step: float, slow: bool = False, log: bool = False,
           readout_format: str = ".2f"):
    """A float slider (log-spaced when ``log``; then lo/hi are exponents of 10), redrawing on release when ``slow``."""
    import ipywidgets as w

    cls = w.FloatLogSlider if log else w.FloatSlider
    kw = dict(base=10, min=lo, max=hi) if log else dict(min=lo, max=hi)
    return cls(value=value, step=step, description=description, continuous_update=not slow,
               readout_format=readout_format, style={"description_width": "initial"}, **kw)


def time_update(update, repeats: int = 3, **values) -> float:
    """Median wall seconds of one slider move: what a student waits for.

    That is ``update(**values)`` plus turning its result into the PNG the browser receives: bytes
    as they are, a figure rendered the way the inline backend does it (``bbox_inches="tight"``),
    then closed. ``benchmarks/bench_widgets.py`` reports it for every lesson's sliders.
    """
    repeats = check_int("repeats", repeats, 1)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = update(**values)
        if result is not None and not isinstance(result, (bytes, bytearray)):
            result.savefig(io.BytesIO(), format="png", bbox_inches="tight")
            plt.close(result)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
