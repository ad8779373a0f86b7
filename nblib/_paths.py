"""Find the course's data files, whichever way nblib was installed.

The repository's data/ folder is also the package ``nblib._data`` (pyproject's package-dir): an
editable install (``make setup``) maps it to the checkout's data/, a regular install (Colab's
install cell) copies the files the lessons load into site-packages. Beside that, a notebook that
runs in a checkout's notebooks/ folder finds ./data or ../data.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGE_DATA = "nblib._data"


def package_data() -> Path | None:
    """The folder of the package ``nblib._data`` (the checkout's data/ when installed editable)."""
    spec = importlib.util.find_spec(PACKAGE_DATA)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def data_dir() -> Path:
    """The data folder itself: the package data (an installed package's copy, or the checkout's
    data/ for an editable install), else the data/ beside the package."""
    return package_data() or Path(__file__).resolve().parent.parent / "data"


def find_data(relative: str) -> Path:
    """The first existing ``<data>/relative`` among: the package data, ./data, ../data; else the
    package-data path (so the error that follows names the expected place)."""
    base = package_data()
    candidates = [Path.cwd() / "data" / relative, Path.cwd().parent / "data" / relative]
    if base is not None:
        candidates.insert(0, base / relative)
    return next((c for c in candidates if c.exists()), candidates[0])
