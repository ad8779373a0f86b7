"""Lesson 7: real label noise. CIFAR-10N / CIFAR-100N human annotators, instance-dependent noise, the leaderboard.

    experiments.py  the lesson's runs (human T on digits, class-conditional vs instance-dependent; per scale)
    analysis.py     tables: what the human matrices satisfy, what annotators agree on, the leaderboard
    figures.py      heatmaps of human T, annotators' joint errors, curves and paired runs over seeds
    widgets.py      the sharpness slider of instance-dependent noise
    exercises.py    the answer checks
"""
from . import analysis, exercises, experiments, figures, widgets  # noqa: F401
from .experiments import CONFIG  # noqa: F401
