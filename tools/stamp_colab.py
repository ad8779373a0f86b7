"""Stamp every notebook with its Colab bootstrap cell and "Open in Colab" badge (``make stamp``).

The repository URL lives in one place, ``[project.urls] Repository`` in pyproject.toml. This tool
derives from it:

- the first code cell of each notebook: on Colab (``"google.colab" in sys.modules``) it installs
  nblib from the repository and mnist1d (which Colab lacks), with ``--no-deps`` so that Colab's own
  torch, numpy, matplotlib and ipywidgets are kept; elsewhere it does nothing;
- the badge in the first markdown cell, linking to the notebook on Colab.

Only that cell and that badge are rewritten; every other cell is left byte-for-byte alone.
tests/test_notebooks_static.py checks that each notebook matches what this tool would write.

    python tools/stamp_colab.py [--check] [notebooks/NN_name.ipynb ...]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BRANCH = "main"
COLAB_EXTRA = ("mnist1d",)  # what the notebooks need besides nblib that Colab does not ship
BADGE_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")


def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The repository URL from ``[project.urls] Repository`` (no trailing slash or .git)."""
    urls = tomllib.loads(pyproject.read_text())["project"].get("urls", {})
    if "Repository" not in urls:
        raise SystemExit(f"{pyproject}: [project.urls] Repository is missing")
    return re.sub(r"(\.git)?/*$", "", urls["Repository"])


def github_path(url: str) -> str:
    """``owner/name`` of a https://github.com/owner/name URL."""
    m = re.fullmatch(r"https://github\.com/([^/]+/[^/]+)", url)
    if not m:
        raise SystemExit(f"Repository URL must be https://github.com/owner/name, got {url!r}")
    return m.group(1)


def colab_cell_source(url: str) -> str:
    """The text of the first code cell."""
    extra = " ".join(COLAB_EXTRA)
    return ("# On Google Colab, install the course library first (elsewhere it is already installed).\n"
            "import sys\n"
            'if "google.colab" in sys.modules:\n'
            f'    %pip install -q --no-deps "nblib @ git+{url}" {extra}')


def badge(url: str, notebook_name: str) -> str:
    """The markdown of the Open-in-Colab badge for ``notebooks/<notebook_name>``."""
    target = f"https://colab.research.google.com/github/{github_path(url)}/blob/{BRANCH}/notebooks/{notebook_name}"
    return f"[![Open In Colab]({BADGE_IMG})]({target})"


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _set_source(cell, text: str) -> None:
    """Store ``text`` the way nbformat writes it (a list of lines)."""
    cell["source"] = text.splitlines(keepends=True)


def _with_badge(markdown: str, want: str) -> str:
    """``markdown`` with its badge replaced by ``want``, or ``want`` inserted after the title line."""
    if BADGE_RE.search(markdown):
        return BADGE_RE.sub(lambda _: want, markdown, count=1)
    lines = markdown.split("\n")
    at = 1 if lines and lines[0].startswith("#") else 0
    return "\n".join(lines[:at] + ["", want, ""] + lines[at:]).lstrip("\n")


def stamp(nb: dict, name: str, url: str) -> list[str]:
    """Stamp the notebook dict in place; return what changed (empty when already up to date)."""
    changes = []
    cells = nb["cells"]
    code = next((c for c in cells if c["cell_type"] == "code"), None)
    want = colab_cell_source(url)
    if code is None or "google.colab" not in _source(code):
        new = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": []}
        if nb.get("nbformat", 4) >= 4 and nb.get("nbformat_minor", 0) >= 5:
            new["id"] = "colab-setup"
        _set_source(new, want)
        first_md = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"), -1)
        cells.insert(first_md + 1, new)
        changes.append("inserted the Colab cell")
    elif _source(code) != want:
        _set_source(code, want)
        code["outputs"], code["execution_count"] = [], None
        changes.append("rewrote the Colab cell")

    md = next((c for c in cells if c["cell_type"] == "markdown"), None)
    want_badge = badge(url, name)
    if md is None:
        raise SystemExit(f"{name}: no markdown title cell to put the Colab badge in")
    if want_badge not in _source(md):
        _set_source(md, _with_badge(_source(md), want_badge))
        changes.append("badge")
    return changes


def notebook_paths(args) -> list[Path]:
    return [Path(a) for a in args] if args else sorted(NOTEBOOKS.glob("*.ipynb"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="default: notebooks/*.ipynb")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 when a notebook needs stamping")
    a = ap.parse_args(argv)
    url = repository_url()
    stale = []
    for path in notebook_paths(a.notebooks):
        text = path.read_text()
        nb = json.loads(text)
        changes = stamp(nb, path.name, url)
        if not changes:
            continue
        stale.append(path)
        print(f"{path.name}: {', '.join(changes)}{' (needed)' if a.check else ''}")
        if not a.check:
            # nbformat's layout: indent 1, keys sorted, non-ASCII kept, trailing newline
            path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    if not stale:
        print("all notebooks are stamped")
    return 1 if (a.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
