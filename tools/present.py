"""Present the course: the lessons with their code hidden and their widgets live, served by Voila.

    python tools/present.py [LESSON] [--port N] [--no-browser]      (make present [LESSON=03])

LESSON is a lesson's number (``3`` or ``03``), its name (``03_generalized_cross_entropy``, with or
without ``.ipynb``) or a notebook's path; without it the whole notebooks folder is served, as a list
of lessons to open. Voila runs the lesson top to bottom in a fresh kernel when its page opens (the
lesson's training included: the page fills in cell by cell, and the sliders come alive once the last
cell has run), then shows the markdown, the outputs and the widgets, never the code.

The kernel is this environment's Python, the one that has nblib: the notebooks name the kernel
``python3``, and this tool makes Jupyter look up kernels in this environment first
(``JUPYTER_PREFER_ENV_PATH``), then refuses to start when that name still resolves to another Python.
The server listens on 127.0.0.1 behind a generated token (the browser is opened with it), since a
Voila page holds a live kernel. tests/e2e/test_present_browser.py starts Voila with the same
``voila_command`` and ``voila_env``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
HOST = "127.0.0.1"
# Voila's settings for a class: code hidden; a failing cell shows its traceback (Voila hides it by
# default, for public apps), so a teacher sees why a figure is missing.
VOILA_OPTIONS = ("--strip_sources=True", "--show_tracebacks=True", f"--Voila.ip={HOST}")
PREFER_ENV = {"JUPYTER_PREFER_ENV_PATH": "1"}  # Jupyter looks up kernels in this environment first
PYTHON_NAMES = re.compile(r"python(\d+(\.\d+)?)?")  # argv[0] that jupyter_client runs as sys.executable


class PresentError(ValueError):
    """A lesson or kernel that cannot be presented (the message says which and why)."""


def lessons(folder: Path = NOTEBOOKS) -> list[Path]:
    return sorted(folder.glob("*.ipynb"))


def find_lesson(spec: str, folder: Path = NOTEBOOKS) -> Path:
    """The notebook that ``spec`` names: a number, a notebook name or stem, or a path."""
    found = lessons(folder)
    if re.fullmatch(r"\d+", spec):
        hits = [p for p in found if p.name.startswith(f"{int(spec):02d}_")]
    else:
        hits = [p for p in found if spec in (p.name, p.stem)] or [p for p in [Path(spec)] if p.is_file()]
    if len(hits) != 1:
        names = ", ".join(p.stem for p in found) or f"none in {folder}"
        why = "matches several notebooks" if hits else "names no notebook"
        raise PresentError(f"LESSON {spec!r} {why}; the lessons: {names}")
    return hits[0]


def voila_env(base: dict | None = None) -> dict:
    """The environment Voila runs in: kernels are looked up in this Python environment first."""
    return {**(os.environ if base is None else base), **PREFER_ENV}


def kernel_names(paths: list[Path]) -> set[str]:
    """The kernelspec names the notebooks ask for (``python3`` when one names none)."""
    names = set()
    for path in paths:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        names.add(meta.get("kernelspec", {}).get("name") or "python3")
    return names


def check_kernels(paths: list[Path]) -> None:
    """Refuse kernels that would not run this Python (and so might not have nblib).

    Call it with ``voila_env()`` in ``os.environ``: the lookup order depends on it.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ksm = KernelSpecManager()
    for name in sorted(kernel_names(paths)):
        try:
            spec = ksm.get_kernel_spec(name)
        except NoSuchKernel:
            raise PresentError(f"no Jupyter kernel named {name!r}: run `make setup`") from None
        exe = spec.argv[0] if spec.argv else ""
        if not (PYTHON_NAMES.fullmatch(exe) or Path(exe).resolve() == Path(sys.executable).resolve()):
            raise PresentError(f"the lessons' kernel {name!r} ({spec.resource_dir}) runs {exe}, not this "
                               f"environment's {sys.executable}, which has nblib; remove that kernelspec "
                               f"(`jupyter kernelspec remove {name}`) or run `make setup`")


def voila_command(target: Path, port: int | None = None, token: str | None = None,
                  open_browser: bool = True) -> list[str]:
    """The Voila command line for a lesson or a folder of lessons.

    ``token=None`` has Voila generate one (and open the browser with it); ``port=None`` lets Voila
    pick 8866 or the next free port.
    """
    cmd = [sys.executable, "-m", "voila", str(target), *VOILA_OPTIONS]
    cmd.append("--token" if token is None else f"--token={token}")
    if port is not None:
        cmd += [f"--port={port}", "--Voila.port_retries=0"]
    if not open_browser:
        cmd.append("--no-browser")
    return cmd


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lesson", nargs="?", help="a lesson's number, name or path (default: every lesson)")
    ap.add_argument("--port", type=int, help="the server's port (default: 8866 or the next free one)")
    ap.add_argument("--no-browser", action="store_true", help="print the address instead of opening it")
    a = ap.parse_args(argv)
    try:
        import voila  # noqa: F401
    except ImportError:
        print("present: Voila is not installed here: run `make setup`, or "
              "`pip install -e \".[present]\"` in the course's environment", file=sys.stderr)
        return 2
    os.environ.update(PREFER_ENV)
    try:
        target = find_lesson(a.lesson) if a.lesson else NOTEBOOKS
        check_kernels([target] if target.is_file() else lessons(target))
    except PresentError as exc:
        print(f"present: {exc}", file=sys.stderr)
        return 2
    cmd = voila_command(target, port=a.port, open_browser=not a.no_browser)
    print("present:", " ".join(cmd[1:]), flush=True)
    os.execv(cmd[0], cmd)  # Voila takes this process over: Ctrl-C stops it


if __name__ == "__main__":
    sys.exit(main())
