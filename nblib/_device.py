"""Choose the compute device when asked, never at import time.

Order: the ``NBLIB_DEVICE`` environment variable if set (e.g. ``cpu`` to force the CPU on a
GPU machine, ``cuda:1``), else CUDA, else Apple's MPS, else the CPU.
"""
from __future__ import annotations

import os

import torch

from ._checks import check_int

ENV_VAR = "NBLIB_DEVICE"
DEVICE_TYPES = ("cpu", "cuda", "mps")   # where nblib's models, losses and loops are meant to run


def device(prefer: str | torch.device | None = None) -> torch.device:
    """Return the device nblib computes on: ``prefer``, else $NBLIB_DEVICE, else cuda > mps > cpu."""
    choice = prefer if prefer is not None else os.environ.get(ENV_VAR)
    if choice is not None:
        name = "device" if prefer is not None else f"${ENV_VAR}"
        expected = f"{name} must be a device name such as 'cpu', 'cuda', 'cuda:1' or 'mps', or a torch.device"
        if isinstance(choice, bool) or not isinstance(choice, (str, int, torch.device)):
            raise TypeError(f"{expected}, got {choice!r}")
        try:
            dev = torch.device(choice)
        except (RuntimeError, ValueError):      # torch's message lists every backend it knows, not what to pass
            raise ValueError(f"{expected}, got {choice!r}") from None
        if dev.type not in DEVICE_TYPES:
            raise ValueError(f"{name} {choice!r}: nblib computes on {', '.join(DEVICE_TYPES)}, not {dev.type}")
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{name} {choice!r} requested but CUDA is not available; use 'cpu'")
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{name} {choice!r}: there are only {torch.cuda.device_count()} CUDA devices")
        if dev.type == "mps" and not _mps_available():
            raise ValueError(f"{name} {choice!r} requested but Apple's MPS is not available; use 'cpu'")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


class torch_threads:
    """Context manager: run torch on ``n`` intra-op threads (None: leave as is), then restore.

    On a small shared CPU one thread per task is often much faster than two threads that wait for
    each other; the thread count is recorded in every result's versions.
    """

    def __init__(self, n: int | None):
        self.n = None if n is None else check_int("threads", n, 1)

    def __enter__(self):
        self.old = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self.old)
