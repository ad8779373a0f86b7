"""Lesson 5: loss correction with the noise transition matrix (Patrini et al. 2017)."""
from . import exercises, experiments, figures, widgets  # noqa: F401
