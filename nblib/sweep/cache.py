"""The result cache: one JSON file per run, named by its config's key, written atomically.

    <root>/<grid name>/<sha256 of the canonical JSON of the config>.json
    <root>/<grid name>.json.gz      the bundle: every result of the grid in one file (shipped with
                                    the package, so a pip install without the checkout has them)

Each file holds ``"format": "nblib-sweep/1"``, the config, the per-epoch history, summary metrics,
wall time, device, engine and versions. It is standard JSON: a missing number (NaN, e.g. the
accuracy on flipped samples when none is flipped) is written as ``null`` and read back as NaN.

Safety: a result is written to a temporary file in the same folder and renamed over the final name
(``os.replace``, atomic on POSIX and Windows), so a sweep killed at any instant (``kill -9``) leaves
either no file or a complete one: it loses at most the runs in flight, and the rerun computes only
what is missing. A file that is not valid JSON, not of this format, or whose name does not match
its config raises :class:`SweepCacheError` naming the file and what to do.
"""
from __future__ import annotations

import gzip
import json
import math
import os
import time
from pathlib import Path

from .._io import atomic_write
from .._paths import find_data
from .spec import run_key

FORMAT = "nblib-sweep/1"     # the "format" field of every stored result
RESULTS_ENV_VAR = "NBLIB_RESULTS"   # overrides where stored results are looked up and written
STALE_TMP_SECONDS = 3600     # temp files of killed writers older than this are removed


def default_root() -> Path:
    """Where results live when no ``root`` is given: $NBLIB_RESULTS, else the checkout's
    data/results (found by ``nblib._paths.find_data``, also for a non-editable install)."""
    env = os.environ.get(RESULTS_ENV_VAR)
    return Path(env) if env else find_data("results")


class SweepCacheError(RuntimeError):
    """A cache file that cannot be used (corrupt, foreign, or renamed); the message says which and why."""


def _null_for_nan(obj):
    """A copy with every float NaN replaced by None (standard JSON has no NaN)."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _null_for_nan(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_null_for_nan(v) for v in obj]
    return obj


def _nan_for_null(result: dict) -> dict:
    """Inverse of :func:`_null_for_nan` for the numeric parts of a result: metrics and history curves."""
    nan = float("nan")
    result["metrics"] = {k: nan if v is None else v for k, v in result["metrics"].items()}
    result["history"] = {k: [nan if x is None else x for x in v] if isinstance(v, list) and k != "config" else v
                         for k, v in result["history"].items()}
    return result

class ResultCache:
    """A folder of results, one ``<key>.json`` per run, written atomically."""

    def __init__(self, directory):
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        """Where the result of ``key`` lives."""
        return self.directory / f"{key}.json"

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def load(self, key: str) -> dict:
        """The validated result of ``key``; :class:`SweepCacheError` if the file is not usable."""
        return read_result(self.path(key), expect_key=key)

    def save(self, result: dict) -> Path:
        """Write ``result`` atomically (temp file in the same folder + fsync + os.replace)."""
        validate_result(result, "result to save")
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.path(result["key"])
        def write(tmp: Path) -> None:
            with open(tmp, "w") as f:
                json.dump(_null_for_nan(result), f, indent=1, sort_keys=True, allow_nan=False)
                f.write("\n")

        atomic_write(final, write)
        return final

    def remove_stale_temp(self, older_than: float = STALE_TMP_SECONDS) -> int:
        """Delete temp files that killed writers left behind (older than ``older_than`` s)."""
        n, now = 0, time.time()
        for p in self.directory.glob(".*.tmp"):
            try:
                if now - p.stat().st_mtime > older_than:
                    p.unlink()
                    n += 1
            except FileNotFoundError:
                pass
        return n


def validate_result(result, where: str) -> dict:
    if not isinstance(result, dict):
        raise SweepCacheError(f"{where}: expected a JSON object, got {type(result).__name__}")
    if result.get("format") != FORMAT:
        raise SweepCacheError(f"{where}: format is {result.get('format')!r}, expected {FORMAT!r}; this file "
                              "was not written by nblib.sweep (or by an incompatible version): move it out of "
                              "the results folder or delete it to recompute the run")
    for k in ("key", "config", "metrics", "history"):
        if k not in result:
            raise SweepCacheError(f"{where}: field {k!r} is missing; the file is damaged, delete it to recompute")
    if run_key(result["config"]) != result["key"]:
        raise SweepCacheError(f"{where}: its config hashes to {run_key(result['config'])[:12]}..., not to its key "
                              f"{str(result['key'])[:12]}...; the file was edited: delete it to recompute")
    return result


def read_result(path, expect_key: str | None = None) -> dict:
    """Read and validate one stored result; :class:`SweepCacheError` with the file name if unusable."""
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError as e:
        raise SweepCacheError(f"{path}: not a text file ({e}); not an nblib-sweep result, delete it") from None
    try:
        result = json.loads(text)
    except json.JSONDecodeError as e:
        raise SweepCacheError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}); the file is damaged or "
                              "foreign: delete it and rerun the sweep to recompute this run") from None
    validate_result(result, str(path))
    _nan_for_null(result)
    if expect_key is not None and result["key"] != expect_key:
        raise SweepCacheError(f"{path}: holds the result of key {result['key'][:12]}..., not of its file name; "
                              "delete it to recompute")
    return result



def bundle_path(root, grid_name: str) -> Path:
    """Where the bundle of grid ``grid_name`` lives under ``root``."""
    return Path(root) / f"{grid_name}.json.gz"


def write_bundle(results: list, path) -> Path:
    """Write ``results`` (in this order) as one gzipped JSON list, byte-for-byte reproducible
    (sorted keys, no timestamp in the gzip header), atomically."""
    text = json.dumps([_null_for_nan(r) for r in results], sort_keys=True, separators=(",", ":"), allow_nan=False)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
            f.write(text.encode())

    return atomic_write(path, write)


def read_bundle(path) -> dict:
    """The results of a bundle, validated, as {key: result}; :class:`SweepCacheError` if unusable."""
    path = Path(path)
    try:
        with gzip.open(path, "rt") as f:
            results = json.load(f)
    except (OSError, EOFError, json.JSONDecodeError) as e:
        raise SweepCacheError(f"{path}: not a readable bundle ({e}); delete it and rebuild it with "
                              "`python -m nblib.sweep GRID --bundle`") from None
    if not isinstance(results, list):
        raise SweepCacheError(f"{path}: a bundle holds a JSON list of results, got {type(results).__name__}")
    out = {}
    for i, r in enumerate(results):
        validate_result(r, f"{path} [{i}]")
        out[r["key"]] = _nan_for_null(r)
    return out
