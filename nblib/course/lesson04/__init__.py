"""Lesson 4: normalized losses and Active-Passive losses (Ma et al. 2020)."""
from . import exercises, experiments, figures, widgets  # noqa: F401
