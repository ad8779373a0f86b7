"""The one pattern behind every widget: controls -> plain update function -> figure.

``interact_figure(update, controls)`` lays the controls out above an output area and redraws
the figure returned by ``update(**values)`` when a control changes. It uses only
``ipywidgets.interactive_output``, ``VBox``/``HBox`` and ``Output``, which behave the same in
ipywidgets 7 (Colab) and 8 (JupyterLab 4).

Sliders that follow the hand: a slider that only redraws must cost under ``SLOW_UPDATE_S`` (50 ms)
per move and update while it is dragged. A full matplotlib redraw of a multi-panel figure costs
150-500 ms, so such a slider uses a :class:`LiveFigure`: the figure is built once, a move changes
only the data of the artists that depend on the slider, and only those are re-rendered over a
cached background (Agg blitting) into PNG bytes, shown by :func:`interact_png`. Numbers written in
heatmap cells are :class:`CellLabels`, painted as cached glyph bitmaps (a matplotlib Text costs ~1 ms
to draw, so a 10 x 10 matrix of them alone would take 100 ms per move). Sliders that retrain a model
stay under 1 s and redraw on release (``slider(..., slow=True)``), and say so.
"""
from __future__ import annotations

import io
import statistics
import time

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, get_hinting_flag
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, get_font

from .._checks import check_int

SLOW_UPDATE_S = 0.05  # updates slower than this redraw only on release
PNG_COMPRESS = 1      # zlib level of the slider PNGs: fast to encode, a little larger


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


def interact_png(render, controls: dict, columns: int = 3):
    """Like :func:`interact_figure`, for a ``render(**values)`` that returns PNG bytes (e.g.
    ``LiveFigure.png``): same layout and the same ipywidgets 7 / 8 parts, no matplotlib redraw."""
    import ipywidgets as w
    from IPython.display import Image, display

    def show(**values):
        display(Image(data=render(**values), format="png"))

    out = w.interactive_output(show, controls)
    items = list(controls.values())
    rows = [w.HBox(items[i:i + columns]) for i in range(0, len(items), columns)]
    return w.VBox([*rows, out])


def live_figure(ncols: int = 1, nrows: int = 1, width: float = 3.7, height: float = 3.0, **adjust):
    """A figure for a :class:`LiveFigure`: panels in a fixed layout (faster to redraw than
    constrained layout), not tracked by pyplot (never shown twice at the end of a cell), with its
    own Agg canvas. Returns ``(fig, axes)``, axes a 2-D array (nrows, ncols)."""
    from .style import use_style

    use_style()
    fig = Figure(figsize=(width * ncols, height * nrows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    fig.subplots_adjust(**{**dict(left=0.08, right=0.98, bottom=0.16, top=0.82, wspace=0.32, hspace=0.4), **adjust})
    return fig, axes


class LiveFigure:
    """A figure that a slider redraws in milliseconds: only its slider-dependent artists move.

    ``fig``: a figure from :func:`live_figure`; ``dynamic``: the artists that ``update(**values)``
    changes (lines' data, bars' heights, texts, images' arrays); ``overlays``: :class:`CellLabels`
    that ``update`` refreshes. ``draw(**values)`` applies the update and returns the figure (a static
    plot or a test); ``png(**values)`` re-renders only the dynamic artists over a background rendered
    once (Agg blitting), paints the overlays, and returns PNG bytes, for :func:`interact_png`. Axes
    limits must not depend on the slider (they are in the background).
    """

    def __init__(self, fig, dynamic, update, overlays=()):
        self.fig, self.dynamic, self._update = fig, list(dynamic), update
        self.overlays = list(overlays)
        self._background = None

    def draw(self, **values):
        for o in self.overlays:
            o.show_texts(True)
        self._update(**values)
        return self.fig

    def png(self, **values) -> bytes:
        from PIL import Image

        for o in self.overlays:
            o.show_texts(False)
        self._update(**values)
        canvas = self.fig.canvas
        if self._background is None:   # render everything static once
            for a in self.dynamic:
                a.set_animated(True)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            for a in self.dynamic:
                a.set_animated(False)
        canvas.restore_region(self._background)
        for a in self.dynamic:
            self.fig.draw_artist(a)
        if self.overlays:
            pixels = np.asarray(canvas.buffer_rgba())
            for o in self.overlays:
                o.paint(pixels)
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        out = io.BytesIO()
        image.save(out, format="png", compress_level=PNG_COMPRESS)
        return out.getvalue()


class CellLabels:
    """Numbers written in the cells of a heatmap on ``ax`` (cell (i, j) centred at x = j, y = i).

    ``set(labels, colours)`` takes arrays of strings ("" = blank) and colour names. For a static draw
    they are ordinary Text artists; in :meth:`LiveFigure.png` the Texts are hidden and each label is
    painted from a bitmap rendered once per (text, font) with matplotlib's own FreeType font, so a move
    costs a few array blends instead of a text layout per cell.
    """

    def __init__(self, ax, shape, fontsize: float = 6.5):
        self.ax, self.fontsize = ax, fontsize
        rows, cols = shape
        self.texts = [[ax.text(j, i, "", ha="center", va="center", fontsize=fontsize) for j in range(cols)]
                      for i in range(rows)]
        self.labels = np.full(shape, "", dtype=object)
        self.colours = np.full(shape, "black", dtype=object)
        self._glyphs: dict = {}

    def set(self, labels, colours) -> None:
        """New cell texts and colours (arrays shaped like the matrix)."""
        self.labels, self.colours = np.asarray(labels, dtype=object), np.asarray(colours, dtype=object)
        for (i, j), text in np.ndenumerate(self.labels):
            self.texts[i][j].set_text(text)
            self.texts[i][j].set_color(self.colours[i, j])

    def show_texts(self, visible: bool) -> None:
        """Show the Text artists (static draws) or hide them (painted instead, in ``LiveFigure.png``)."""
        for row in self.texts:
            for t in row:
                t.set_visible(visible)

    def _glyph(self, text: str) -> np.ndarray:
        dpi = self.ax.figure.dpi
        key = (text, dpi)
        if key not in self._glyphs:
            font = get_font(findfont(FontProperties(size=self.fontsize)))
            font.set_size(self.fontsize, dpi)
            font.set_text(text, 0.0, flags=get_hinting_flag())
            font.draw_glyphs_to_bitmap(antialiased=True)
            self._glyphs[key] = np.asarray(font.get_image(), dtype=np.float32)[..., None] / 255.0
        return self._glyphs[key]

    def paint(self, pixels: np.ndarray) -> None:
        """Blend the labels into ``pixels``, the figure's RGBA buffer (rows from the top)."""
        height, width = pixels.shape[:2]
        rows, cols = self.labels.shape
        centres = self.ax.transData.transform([(j, i) for i in range(rows) for j in range(cols)])
        centres[:, 1] = height - centres[:, 1]
        for (i, j), text in np.ndenumerate(self.labels):
            if not text:
                continue
            alpha = self._glyph(text)
            h, w = alpha.shape[:2]
            cx, cy = centres[i * cols + j]
            y0, x0 = int(cy - h / 2 + 0.5), int(cx - w / 2 + 0.5)
            if y0 < 0 or x0 < 0 or y0 + h > height or x0 + w > width:
                continue
            region = pixels[y0:y0 + h, x0:x0 + w, :3]
            if self.colours[i, j] == "black":       # the common case, one blend: region (1 - alpha)
                region[...] = region * (1 - alpha)
            else:
                colour = 255.0 * np.asarray(to_rgb(self.colours[i, j]), dtype=np.float32)
                region[...] = region * (1 - alpha) + colour * alpha + 0.5


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
