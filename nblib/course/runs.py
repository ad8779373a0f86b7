"""Running a lesson's experiment: a sweep grid of one setting, cached on this machine.

A lesson's multi-seed experiment is an ordinary :class:`nblib.sweep.Grid` (its setting from
:mod:`nblib.course.settings` plus losses, noise and seeds), run by :func:`nblib.sweep.run_grid`:
one engine, one cache, one table format for every lesson and for lesson 6's benchmark. Results go
to a cache folder of this machine's own (torch version, CPU kernels, device), so the same run in
two lessons is trained once and gives the same numbers, an interrupted experiment resumes where it
stopped, and a run made with other CPU kernels is never mistaken for one of these.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from .. import __version__
from .._device import device as pick_device
from ..data import DATA_ENV_VAR, DEFAULT_ROOT
from ..sweep import DEFAULT_STACK, SweepResult, run_grid
from .settings import Setting

CACHE_ENV_VAR = "NBLIB_LESSON_CACHE"   # "off" trains everything afresh; a path moves the cache


def cache_root(device=None) -> Path | None:
    """The lesson cache of this machine: ``<data cache>/lessons/<fingerprint>``, or None if disabled.

    The fingerprint names what decides a result's last bits: nblib and torch versions, the CPU
    kernels torch dispatches to (``ATEN_CPU_CAPABILITY``) and the device type.
    """
    env = os.environ.get(CACHE_ENV_VAR, "")
    if env.lower() in ("off", "0", "no", "false"):
        return None
    base = Path(env) if env else Path(os.environ.get(DATA_ENV_VAR, DEFAULT_ROOT)) / "lessons"
    dev = pick_device(device)
    tag = f"nblib{__version__}-torch{torch.__version__}-{torch.backends.cpu.get_cpu_capability()}-{dev.type}"
    return base / re.sub(r"[^A-Za-z0-9_.+-]", "_", tag)


def run(setting: Setting, name: str, *, losses, noise, seeds, pairs=None, device=None, progress: bool = True,
        threads: int | None = 1, stack_size: int = DEFAULT_STACK) -> SweepResult:
    """Train (or load from the lesson cache) every loss x noise x seed run of ``setting``.

    name: the experiment's name (its cache folder), e.g. "lesson01-memorisation".
    losses, noise: sweep spec shorthands, e.g. ``("ce", ("gce", {"q": 0.7}))`` and ``("sym 0.4",)``.
    pairs: only these (loss label, noise label) pairs (default: every loss with every noise).
    stack_size: models per vmap stack; a stack costs a fixed overhead per training step plus a
        little per model, so one stack of all runs is the fastest where they fit in memory.
    threads: torch threads while training (1: small models run as fast on one, and do not fight
        over a shared CPU); None leaves torch's setting.
    Returns the :class:`nblib.sweep.SweepResult` (``.per_seed(...)``, ``.curves(...)``, ``.table()``).
    """
    grid = setting.grid(name, losses=losses, noise=noise, seeds=seeds, pairs=pairs)
    root = cache_root(device)
    if root is None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            return run_grid(grid, root=tmp, device=device, threads=threads, progress=progress, stack_size=stack_size)
    return run_grid(grid, root=root, device=device, threads=threads, progress=progress, stack_size=stack_size)
