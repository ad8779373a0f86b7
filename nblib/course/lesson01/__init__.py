"""Lesson 1: label noise, transition matrices, and cross entropy memorising flipped labels.

``from nblib.course import lesson01 as L`` gives ``L.experiments`` (the lesson's runs and tables),
``L.figures``, ``L.widgets`` and ``L.exercises``.
"""
from . import exercises, experiments, figures, widgets  # noqa: F401
