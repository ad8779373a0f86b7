"""Lesson 2: CCE vs MAE, seen through their gradients.

``from nblib.course import lesson02 as L`` gives ``L.experiments`` (the lesson's runs and tables),
``L.figures``, ``L.widgets`` and ``L.exercises``.
"""
from . import exercises, experiments, figures, widgets  # noqa: F401
