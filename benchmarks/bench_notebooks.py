"""Execution time of each course notebook, top to bottom, in a fresh kernel.

Writes the table to data/results/notebook_times.md (the README shows it) and prints it. With
``--inplace`` each executed notebook is also saved with its fresh outputs, so re-executing the
course after a change to nblib and timing it are one step (``make execute``).

    python benchmarks/bench_notebooks.py [--timeout 900] [--inplace] [--only 01 05 ...]

``--only`` runs the given lessons and prints their times without rewriting the table (which is
of the whole course).
"""
from __future__ import annotations

import datetime
import os
import time

from _common import RESULTS, ROOT, cli, machine, md_table

NOTEBOOKS = ROOT / "notebooks"
LESSONS = ("01", "02", "03", "04", "05", "06", "07")


def time_notebook(path, timeout: int = 900, inplace: bool = False) -> float:
    """Seconds to execute ``path`` in a fresh kernel (working directory: the notebook's folder);
    ``inplace``: save the notebook with its new outputs."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - t0
    if inplace:
        nbformat.write(nb, path)
    return seconds


def run(timeout: int = 900, inplace: bool = False, only=None) -> list[dict]:
    rows = []
    for lesson in only or LESSONS:
        found = sorted(NOTEBOOKS.glob(f"{lesson}_*.ipynb"))
        if not found:
            rows.append(dict(notebook=f"{lesson}_… (missing)", seconds=None, status="missing"))
            continue
        try:
            rows.append(dict(notebook=found[0].name, seconds=time_notebook(found[0], timeout, inplace), status="ok"))
        except Exception as e:  # a failing or too slow notebook is reported, not fatal for the others
            status = f"over {timeout} s" if "Timeout" in type(e).__name__ else f"error: {type(e).__name__}"
            rows.append(dict(notebook=found[0].name, seconds=None, status=status))
        print(f"{rows[-1]['notebook']}: {rows[-1]['seconds'] or float('nan'):.0f} s ({rows[-1]['status']})", flush=True)
    return rows


def report(rows) -> str:
    return md_table(["notebook", "execution time (s)", "status"],
                    [[r["notebook"], "" if r["seconds"] is None else f"{r['seconds']:.0f}", r["status"]] for r in rows])


def write(rows, path=RESULTS / "notebook_times.md") -> str:
    cache = os.environ.get("NBLIB_LESSON_CACHE", "on (runs trained before are read back)")
    strict = os.environ.get("NBLIB_STRICT_CLAIMS", "") == "1"
    text = (f"# Notebook execution times\n\nEach notebook executed top to bottom in a fresh kernel (each lesson "
            f"sets one torch thread in its set-up cell; lesson cache: {cache}; claims "
            f"{'checked strictly' if strict else 'printed'}) by `python benchmarks/bench_notebooks.py` "
            f"(run by `make bench` and `make execute`), "
            f"finished {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC: {machine()} "
            f"(the load average is of the minute before the end; the kernels themselves load 1-2 cores).\n\n"
            f"{report(rows)}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


if __name__ == "__main__":
    a = cli(__doc__, device=False, threads=0, extra=(("--timeout", dict(type=int, default=900)),
                                                     ("--inplace", dict(action="store_true")),
                                                     ("--only", dict(nargs="*", choices=LESSONS,
                                                                     help="lessons to run (default: all)"))))
    rows = run(a.timeout, a.inplace, a.only)
    print(report(rows) if a.only else write(rows))
