"""All speed benchmarks in one run (``make bench``): prints every ratio and writes
data/results/benchmarks.md and data/results/notebook_times.md.

1. nblib.fit vs the official code's DataLoader loop (digits MLP, mnist1d CNN), on one thread
   and on all cores;
2. vmap-batched vs sequential training of 8 and 32 small models;
3. every loss's forward + backward per batch relative to CE;
4. the wait per slider move of every lesson's widgets;
5. each notebook's execution time.

    python benchmarks/run_all.py [--threads 1] [--quick] [--skip-notebooks]
"""
from __future__ import annotations

import datetime
import time

from _common import RESULTS, cli, machine, setup_threads

import bench_losses
import bench_notebooks
import bench_train_loop
import bench_vmap
import bench_widgets


def main() -> None:
    a = cli(__doc__, extra=(("--quick", dict(action="store_true", help="one repeat each, M = 8 only (a smoke test)")),
                            ("--skip-notebooks", dict(action="store_true"))))
    t0 = time.perf_counter()
    where = machine()
    sections = []

    def section(title: str, table: str) -> None:
        sections.append((title, table))
        print(f"\n## {title}\n{table}", flush=True)

    rows = bench_train_loop.run(repeats=1 if a.quick else 3, device=a.device)
    setup_threads(a.threads)     # the loop benchmark tries several thread counts
    section("Training loop: nblib.fit vs DataLoader reference", bench_train_loop.report(rows))
    rows = bench_vmap.run(sizes=(8,) if a.quick else (8, 32), repeats=1, device=a.device)
    section("Batched (vmap) vs sequential training", bench_vmap.report(rows))
    rows = bench_losses.run(device=a.device)
    section("Loss forward+backward per batch (128 x 10) relative to CE", bench_losses.report(rows))
    rows = bench_widgets.run(repeats=1 if a.quick else 5)
    section("Wait per slider move (widget update + PNG render)", bench_widgets.report(rows))
    if not a.skip_notebooks:
        rows = bench_notebooks.run()
        bench_notebooks.write(rows)
        section("Notebook execution times", bench_notebooks.report(rows))

    text = (f"# Speed benchmarks\n\nMeasured in one run of `python benchmarks/run_all.py"
            f"{' --quick' if a.quick else ''}{' --skip-notebooks' if a.skip_notebooks else ''} --threads {a.threads}` (`make bench` runs it in full) on {datetime.date.today()}: {where}.\n"
            f"Contenders run interleaved in the same process; ratios are of median wall times. "
            f"Total {time.perf_counter() - t0:.0f} s."
            + (" Notebook times: `notebook_times.md` (`make execute`)." if a.skip_notebooks else "") + "\n\n"
            + "\n\n".join(f"## {title}\n\n{table}" for title, table in sections) + "\n")
    if not a.quick:
        (RESULTS / "benchmarks.md").write_text(text)
        print(f"\nwritten: {RESULTS / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
