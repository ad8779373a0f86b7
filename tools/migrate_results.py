"""Rewrite stored sweep results as standard JSON with ordinary permissions (issue 12, item 7).

Results written before nblib.sweep's cache wrote ``null`` for a missing number held bare ``NaN``
(which Python reads but standard JSON readers reject) and had mode 0600. This tool reads every
``<root>/<grid>/<key>.json`` with :func:`nblib.sweep.read_result` (validated: format, key, config)
and writes it back with the cache's own writer (:meth:`nblib.sweep.ResultCache.save`: ``null`` for
NaN, mode 0644, atomic), so file names (the keys) and every number stay as they are. Files that are
already standard JSON with mode 0644 are left untouched.

    python tools/migrate_results.py [--check] [ROOT]      (ROOT: default data/results)

``--check`` changes nothing and exits 1 if some file still needs the migration.
"""
from __future__ import annotations

import argparse
import json
import stat
import sys
from pathlib import Path

from nblib.sweep import ResultCache, default_root, read_result
from nblib._io import FILE_MODE


def _reject_constant(name: str):
    raise ValueError(f"{name} is not standard JSON")


def needs_migration(path: Path) -> str | None:
    """Why ``path`` is not yet a standard result file (None: it is)."""
    try:
        json.loads(path.read_text(), parse_constant=_reject_constant)
    except ValueError as e:
        return str(e)
    mode = stat.S_IMODE(path.stat().st_mode)
    return None if mode == FILE_MODE else f"mode {mode:04o}, not {FILE_MODE:04o}"


def migrate(root: Path, check: bool = False) -> list[Path]:
    """The result files under ``root`` that needed the migration (rewritten unless ``check``)."""
    todo = [p for p in sorted(root.glob("*/*.json")) if needs_migration(p)]
    if not check:
        for path in todo:
            result = read_result(path, expect_key=path.stem)
            saved = ResultCache(path.parent).save(result)
            assert saved == path and needs_migration(path) is None, path
    return todo


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", type=Path, default=None, help="results folder (default: data/results)")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file needs migrating")
    args = ap.parse_args(argv)
    root = args.root or default_root()
    todo = migrate(root, check=args.check)
    for path in todo:
        print(f"{'needs migration' if args.check else 'migrated'}: {path.relative_to(root)}")
    print(f"{len(todo)} of {len(list(root.glob('*/*.json')))} result files {'need' if args.check else 'needed'} "
          f"the migration")
    return 1 if args.check and todo else 0


if __name__ == "__main__":
    sys.exit(main())
