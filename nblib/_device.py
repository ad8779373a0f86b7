"""Choose the compute device when asked, never at import time.

Order: the ``NBLIB_DEVICE`` environment variable if set (e.g. ``cpu`` to force the CPU on a
GPU machine, ``cuda:1``), else CUDA, else Apple's MPS, else the CPU.
"""
from __future__ import annotations

import os

import torch

ENV_VAR = "NBLIB_DEVICE"


def device(prefer: str | torch.device | None = None) -> torch.device:
    """Return the device nblib computes on: ``prefer``, else $NBLIB_DEVICE, else cuda > mps > cpu."""
    choice = prefer if prefer is not None else os.environ.get(ENV_VAR)
    if choice is not None:
        dev = torch.device(choice)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {choice!r} requested but CUDA is not available; use 'cpu'")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
