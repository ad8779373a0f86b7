"""The course on top of the core library: each lesson's experiments, figures, widgets and exercises.

    settings.py     every experiment setting of the course, per scale, in one commented place
    style.py        the palette (one colour per loss), ``use_style``, ``new_axes``
    figures.py      drawing shared by the lessons (learning curves, matrices as heatmaps)
    widgets.py      the one pattern behind every slider: controls -> update function -> figure
    feedback.py     the exercise checks' common verdicts
    lesson01/ ...   one package per lesson: experiments, figures, widgets, exercises

Figures only draw what the core (``nblib.losses``, ``noise``, ``estimate``, ``train``, ``sweep``)
computes; no formula lives here.
"""
from . import feedback, figures, style, widgets  # noqa: F401
