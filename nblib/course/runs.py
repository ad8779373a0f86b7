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

import numpy as np
import torch

from .. import __version__
from .._checks import check_choice
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


def seed_summary(result: SweepResult, columns: dict, *, rows: str = "loss", scale: float = 100.0,
                 digits: int = 1):
    """A lesson's results table: "mean ± sd" over seeds, one row per cell of ``result``, one column each.

    columns: title -> a metric of :meth:`SweepResult.per_seed` (a stored metric or a curve's last
        epoch, e.g. "final_test_acc", "val_selected_test_acc"), or a function ``(loss, noise) ->
        per-seed values`` for anything derived.
    rows: "loss" or "noise": which label names a row (the other must be the same for every cell).
    scale, digits: values are shown times ``scale`` (accuracies in %) with ``digits`` decimals;
        a column whose title ends with "epoch" is shown as it is, without decimals; "–" where the
        metric is undefined (NaN, e.g. flipped samples without noise).
    """
    import pandas as pd

    check_choice("rows", rows, ("loss", "noise"))
    cells = list(dict.fromkeys((r["label"]["loss"], r["label"]["noise"]) for r in result.results))
    other = {c[1] if rows == "loss" else c[0] for c in cells}
    if len(other) > 1:
        raise ValueError(f"rows={rows!r} needs one {'noise' if rows == 'loss' else 'loss'} in the result, got {sorted(other)}")
    table = {}
    for loss, noise in cells:
        row = {}
        for title, how in columns.items():
            v = np.asarray(how(loss, noise) if callable(how) else result.per_seed(how, loss=loss, noise=noise), float)
            k, d = (1.0, 0) if title.endswith("epoch") else (scale, digits)
            sd = v.std(ddof=1) * k if len(v) > 1 else 0.0
            row[title] = "–" if np.all(np.isnan(v)) else f"{v.mean() * k:.{d}f} ± {sd:.{d}f}"
        table[loss if rows == "loss" else noise] = row
    return pd.DataFrame.from_dict(table, orient="index")
