"""Find the repository's data/ folder, whichever way nblib was installed.

With an editable install (``make setup``) data/ sits beside the package. With a regular install
from git (as the Colab cell does) the package lands in site-packages and data/ is only in the
checkout, next to the notebooks: a notebook runs in notebooks/, so data/ is its parent's.
"""
from __future__ import annotations

from pathlib import Path

REPO_DATA = Path(__file__).resolve().parent.parent / "data"


def find_data(relative: str) -> Path:
    """The first existing ``<data>/relative`` among: beside the package, ./data, ../data; else the
    path beside the package (so the error that follows names the expected place)."""
    candidates = (REPO_DATA / relative, Path.cwd() / "data" / relative, Path.cwd().parent / "data" / relative)
    return next((c for c in candidates if c.exists()), candidates[0])
