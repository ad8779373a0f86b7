"""Shared helpers of the benchmark scripts: thread setting, interleaved timing, Markdown tables.

Timings on a shared machine are noisy. Every comparison here runs its contenders *interleaved*
(A, B, A, B, ...) in one process and reports the median of each, so a burst of load from another
process hits both sides alike; the ratio of medians is what the scripts print.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "data" / "results"
sys.path.insert(0, str(ROOT))  # run from a checkout without installing


def setup_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (None: leave the default) and return the count in use."""
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def cli(doc: str, *, repeats: int | None = None, device: bool = True, threads: int = 1,
        extra: tuple = ()) -> argparse.Namespace:
    """Parse a benchmark script's command line, set torch's threads and print :func:`machine`.

    Every script takes ``--threads`` (default 1: fastest for these small models on a small
    shared CPU) and, as it needs them, ``--repeats`` and ``--device``; ``extra`` holds more
    ``(flag, add_argument keywords)`` pairs.
    """
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--threads", type=int, default=threads, help="torch intra-op threads")
    if repeats is not None:
        ap.add_argument("--repeats", type=int, default=repeats)
    if device:
        ap.add_argument("--device", default="cpu")
    for flag, kw in extra:
        ap.add_argument(flag, **kw)
    a = ap.parse_args()
    setup_threads(a.threads)
    print(machine(), flush=True)
    return a


def interleaved(contenders: dict, repeats: int) -> dict[str, list[float]]:
    """Call each contender ``repeats`` times, round-robin; return {name: [seconds, ...]}.

    A contender is ``fn(rep) -> anything``; its return values are kept in ``interleaved.out``.
    """
    times = {name: [] for name in contenders}
    out = {name: [] for name in contenders}
    for rep in range(repeats):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            out[name].append(fn(rep))
            times[name].append(time.perf_counter() - t0)
    interleaved.out = out
    return times


def median(xs) -> float:
    return statistics.median(xs)


def machine() -> str:
    """One line about where this ran (CPU count, load, torch threads, device)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {load:.1f}, "
            f"torch {torch.__version__} with {torch.get_num_threads()} thread(s), {gpu}")


def md_table(header: list[str], rows: list[list]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
