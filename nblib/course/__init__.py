"""The course on top of the core library: each lesson's experiments, figures, widgets and exercises.

    settings.py     every experiment setting of the course, per scale, in one commented place
    style.py        the palette (one colour per loss), ``use_style``, ``new_axes``
    figures.py      drawing shared by the lessons (learning curves, matrices as heatmaps)
    widgets.py      the one pattern behind every slider: controls -> update function -> figure
    claims.py       a lesson's claims about its runs, checked with a margin over seeds
    feedback.py     the exercise checks' common verdicts
    lesson01/ ...   one package per lesson: experiments, figures, widgets, exercises

Figures only draw what the core (``nblib.losses``, ``noise``, ``estimate``, ``train``, ``sweep``)
computes; no formula lives here.
"""
from . import claims, feedback, figures, settings, style, widgets  # noqa: F401


def setup(scale: str = "classroom", *, threads: int | None = 1, device=None, seeds=None, label: str | None = None):
    """The set-up cell of every lesson: drawing style, torch threads, device and the scale's settings.

    threads: torch threads on the CPU (1: the course's small models run as fast on one thread and
    do not fight other programs for the CPU); None leaves torch's default.
    seeds, label: a lesson with scales of its own (lesson 7's "paper", on the "large" settings)
    passes the seeds it runs and its scale's name; by default ``SEEDS[scale]`` and ``scale``.
    Returns a namespace: ``scale``, ``device``, ``seeds`` and ``settings`` (name -> Setting).
    Prints one line saying what it chose (scale, device, seeds).
    """
    from types import SimpleNamespace

    import torch

    from .._device import device as pick_device
    from . import settings as S

    S.check_choice("scale", scale, S.SCALES)
    style.use_style()
    dev = pick_device(device)
    if threads is not None and dev.type == "cpu":
        torch.set_num_threads(threads)
    seeds = tuple(S.SEEDS[scale] if seeds is None else seeds)
    print(f"scale: {label or scale} | device: {dev} | seeds: {list(seeds)}")
    return SimpleNamespace(scale=scale, device=dev, seeds=seeds, settings=dict(S.SETTINGS[scale]))
