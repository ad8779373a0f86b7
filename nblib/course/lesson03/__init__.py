"""Lesson 3: generalized cross entropy, one knob from CCE to MAE, its theory, and truncated Lq.

``from nblib.course import lesson03 as L`` gives ``L.experiments`` (the lesson's computations and runs),
``L.figures``, ``L.widgets`` and ``L.exercises``.
"""
from . import exercises, experiments, figures, widgets  # noqa: F401
