"""One look for every figure of the course: a colour-blind safe palette, one colour per loss.

The same loss has the same colour in every notebook, so a learner who has seen CE in
vermillion and GCE in blue in lesson 3 reads lesson 6's benchmark at a glance. Colours come
from the Okabe-Ito palette (safe for the common colour-vision deficiencies).
"""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt

# Okabe & Ito (2008), "Color Universal Design"
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
    "grey": "#999999",
}

# One colour (and, where colours repeat, one line style) per loss, used by every plot.
LOSS_STYLE = {
    "ce":       dict(color=OKABE_ITO["vermillion"], ls="-"),
    "mae":      dict(color=OKABE_ITO["grey"], ls="-"),
    "gce":      dict(color=OKABE_ITO["blue"], ls="-"),
    "tgce":     dict(color=OKABE_ITO["sky"], ls="-"),
    "sce":      dict(color=OKABE_ITO["orange"], ls="-"),
    "rce":      dict(color=OKABE_ITO["yellow"], ls="-"),
    "fl":       dict(color=OKABE_ITO["purple"], ls="--"),
    "nce":      dict(color=OKABE_ITO["green"], ls="--"),
    "nfl":      dict(color=OKABE_ITO["purple"], ls=":"),
    "nmae":     dict(color=OKABE_ITO["grey"], ls="--"),
    "nrce":     dict(color=OKABE_ITO["yellow"], ls="--"),
    "ngce":     dict(color=OKABE_ITO["blue"], ls="--"),
    "nce+rce":  dict(color=OKABE_ITO["green"], ls="-"),
    "nce+mae":  dict(color=OKABE_ITO["black"], ls="-"),
    "nfl+rce":  dict(color=OKABE_ITO["purple"], ls="-"),
    "nfl+mae":  dict(color=OKABE_ITO["black"], ls="--"),
    "forward":  dict(color=OKABE_ITO["sky"], ls="-."),
    "backward": dict(color=OKABE_ITO["purple"], ls="-."),
}
# Loss correction differs in colour from the robust losses it is compared with (lesson 7 draws gce,
# sce, nce+rce, forward and backward in one panel); within lesson 6's twelve losses, colours that
# repeat (tgce / forward, nfl+rce / backward, nce+mae / forward(T-hat)) differ in line style and hatch.

# Runs with an estimated transition matrix ('forward(T-hat)') are dotted; forward(T-hat) also has a
# colour of its own (lesson 7 draws it beside forward(T) and gce); backward(T-hat) keeps backward's.
ESTIMATED_T_LS = ":"
ESTIMATED_T_COLOR = {"forward": OKABE_ITO["black"]}

# Clean vs flipped samples, everywhere.
CLEAN_COLOR = OKABE_ITO["blue"]
FLIPPED_COLOR = OKABE_ITO["vermillion"]
FIG_DPI = 90          # inline figures: crisp enough, small enough to keep notebooks light
HEATMAP_CMAP = "viridis"


def loss_style(name: str) -> dict:
    """Matplotlib keyword arguments (color, ls) for a loss; variants like 'forward(T)' or
    'gce q=0.3' use the style of their base name, and an estimated T ('T-hat') is dotted, in
    ``ESTIMATED_T_COLOR``."""
    base = name.split("(")[0].split(" ")[0].lower()
    style = dict(LOSS_STYLE.get(base, dict(color=OKABE_ITO["black"], ls="-")))
    if "t-hat" in name.lower():
        style["ls"] = ESTIMATED_T_LS
        style["color"] = ESTIMATED_T_COLOR.get(base, style["color"])
    return style


def loss_color(name: str) -> str:
    """The colour of a loss (see :func:`loss_style`)."""
    return loss_style(name)["color"]


LINE_HATCH = {"-": "", "--": "...", "-.": "///", ":": "xxx"}   # a bar's fill pattern for a line style


def loss_hatch(name: str) -> str:
    """The fill pattern of a loss's bar: bars have no line style, so losses that share a colour
    (tgce and forward, both sky) are told apart by a pattern derived from their line style."""
    return LINE_HATCH.get(loss_style(name)["ls"], "")


def use_style() -> None:
    """Apply the course's matplotlib defaults (small inline figures, readable fonts, no top/right spines)."""
    mpl.rcParams.update({
        "figure.dpi": FIG_DPI, "savefig.dpi": FIG_DPI, "figure.figsize": (6.4, 3.8),
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
        "grid.alpha": 0.3, "font.size": 10, "axes.titlesize": 11, "legend.frameon": False,
        "axes.prop_cycle": mpl.cycler(color=[OKABE_ITO[c] for c in
                                             ("blue", "vermillion", "green", "orange", "purple", "sky", "black", "grey")]),
    })


def new_axes(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.3, **kw):
    """``plt.subplots`` with the course's figure size per panel; returns (fig, axes)."""
    use_style()
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                        constrained_layout=True, **kw)


SEABORN_DASHES = {"-": "", "--": (4, 2), "-.": (4, 1.5, 1, 1.5), ":": (1, 1.5)}   # line style -> seaborn dash


def seaborn_dashes(names) -> dict:
    """{name: dash pattern} for seaborn's ``lineplot(style=..., dashes=...)``: each loss keeps its line
    style, so losses that share a colour (nce and nce+rce) stay apart."""
    return {n: SEABORN_DASHES.get(loss_style(n)["ls"], "") for n in names}


def loss_palette(names) -> dict:
    """{name: colour} for seaborn's ``palette=``."""
    return {n: loss_color(n) for n in names}
