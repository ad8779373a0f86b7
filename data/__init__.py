"""The course's data folder, also importable as the package ``nblib._data`` (see pyproject.toml).

Installed with nblib, it carries what the lessons load: the papers' tables (paper_results.md), the
derived CIFAR-N tables (cifar-n/) and the stored grids' bundles (results/*.json.gz). Nothing here is
code; this file only makes the folder a package so an editable install can map it.
"""
