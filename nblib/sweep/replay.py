"""Replaying stored results: recompute a result the way it was made, and compare two results.

A sequential result is recomputed alone; a vmap result with its whole stack (same members, same
order), since a stack member's last bits depend on its stack mates. On the machine fingerprint that
made it (:func:`nblib.sweep.same_machine`) a replay is bit-identical; elsewhere it agrees in
distribution (another CPU's kernels sum in another order).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._device import torch_threads
from ..train import History
from .cache import ResultCache, bundle_path, default_root, read_bundle, validate_result
from .run import run_one, run_stack


def recompute(results, *, root=None, grid: str | None = None, device="cpu", threads: int | None = None):
    """Recompute stored results the way they were made; return the new result(s).

    ``results``: one result dict (returns one) or a list (returns a list, same order), e.g. the
    seeds of one loss x noise cell. Sequential results are recomputed alone. vmap results are
    replayed with their whole stack, once per stack (the other members' configs are read from the
    cache folder ``root/grid``; ``grid`` defaults to the folder under ``root`` holding them all).
    ``threads``: torch threads (default: the count each result was made with).
    """
    single = isinstance(results, dict)
    results = [results] if single else list(results)
    for r in results:
        validate_result(r, "result")
    out: dict[str, dict] = {}
    for r in results:
        if r["key"] in out:
            continue
        n = threads or r.get("versions", {}).get("torch_threads")
        with torch_threads(n):
            if r["engine"] == "sequential":
                out[r["key"]] = run_one(r["config"], device=device)
            else:
                keys = r["stack"]["keys"]
                configs = _stack_configs(keys, root, grid, r["key"])
                out.update({res["key"]: res for res in run_stack(configs, device=device)})
    fresh = [out[r["key"]] for r in results]
    return fresh[0] if single else fresh


def _stack_configs(keys: list[str], root, grid: str | None, key: str) -> list[dict]:
    """The configs of a stack's members, in stack order, from the cache folders under ``root`` or,
    where only the grids' bundles are there (an installed nblib, e.g. on Colab), from the bundles."""
    root = Path(root or default_root())
    folders = [root / grid] if grid else sorted(p for p in root.glob("*") if p.is_dir())
    for folder in folders:
        cache = ResultCache(folder)
        if all(k in cache for k in keys):
            return [cache.load(k)["config"] for k in keys]
    bundles = [bundle_path(root, grid)] if grid else sorted(root.glob("*.json.gz"))
    for path in bundles:
        if path.exists():
            stored = read_bundle(path)
            if all(k in stored for k in keys):
                return [stored[k]["config"] for k in keys]
    raise FileNotFoundError(f"the {len(keys)} members of the stack of run {key[:12]}... are not all stored "
                            f"under {root} (cache folders or bundles); cannot replay it")


def same_result(a: dict, b: dict, rtol: float = 0.0) -> bool:
    """True if two results have the same config and the same per-epoch history (times excepted).

    ``rtol=0`` (default): every number identical. ``rtol > 0``: accuracies still identical (they
    are counts over the same samples), the real-valued curves (loss, gradient share) equal within
    relative tolerance ``rtol`` - for a CPU whose math kernels differ in the last bits. A metric
    that one of the two histories lacks (stored before it existed) counts as NaN.
    """
    if a["key"] != b["key"]:
        return False
    ha, hb = History.from_dict(a["history"]), History.from_dict(b["history"])
    for m in History.METRICS:
        if m == "time":
            continue
        x, y = np.asarray(getattr(ha, m), dtype=float), np.asarray(getattr(hb, m), dtype=float)
        if x.shape != y.shape:
            return False
        tol = rtol if m in ("loss", "flipped_grad_share") else 0.0
        if not np.allclose(x, y, rtol=tol, atol=0.0, equal_nan=True):
            return False
    return True
