"""Lesson 6: every loss x every noise, the papers' claims checked on the course's stored grids."""
from . import exercises, experiments, figures, paper_claims  # noqa: F401
