"""All speed benchmarks in one run (``make bench``): prints every ratio and writes
data/results/benchmarks.md and data/results/notebook_times.md.

1. nblib.fit vs the official code's DataLoader loop (digits MLP, mnist1d CNN);
2. vmap-batched vs sequential training of 8 and 32 small models;
3. every loss's forward + backward per batch relative to CE;
4. each notebook's execution time.

    python benchmarks/run_all.py [--threads 1] [--quick] [--skip-notebooks]
"""
from __future__ import annotations

import argparse
import datetime
import time

from _common import RESULTS, machine, setup_threads

import bench_losses
import bench_notebooks
import bench_train_loop
import bench_vmap


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these small models "
                                                           "on a small shared CPU)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true", help="one repeat each, M = 8 only (a smoke test)")
    ap.add_argument("--skip-notebooks", action="store_true")
    a = ap.parse_args()
    setup_threads(a.threads)
    t0 = time.perf_counter()
    where = machine()
    print(where, flush=True)
    sections = []

    rows = bench_train_loop.run(repeats=1 if a.quick else 3, device=a.device)
    sections.append(("Training loop: nblib.fit vs DataLoader reference", bench_train_loop.report(rows)))
    print(f"\n## {sections[-1][0]}\n{sections[-1][1]}", flush=True)

    rows = bench_vmap.run(sizes=(8,) if a.quick else (8, 32), repeats=1, device=a.device)
    sections.append(("Batched (vmap) vs sequential training", bench_vmap.report(rows)))
    print(f"\n## {sections[-1][0]}\n{sections[-1][1]}", flush=True)

    rows = bench_losses.run(device=a.device)
    sections.append(("Loss forward+backward per batch (128 x 10) relative to CE", bench_losses.report(rows)))
    print(f"\n## {sections[-1][0]}\n{sections[-1][1]}", flush=True)

    if not a.skip_notebooks:
        rows = bench_notebooks.run()
        bench_notebooks.write(rows)
        sections.append(("Notebook execution times", bench_notebooks.report(rows)))
        print(f"\n## {sections[-1][0]}\n{sections[-1][1]}", flush=True)

    text = (f"# Speed benchmarks\n\nMeasured in one run of `make bench` (`python benchmarks/run_all.py"
            f"{' --quick' if a.quick else ''} --threads {a.threads}`) on {datetime.date.today()}: {where}.\n"
            f"Contenders run interleaved in the same process; ratios are of median wall times. "
            f"Total {time.perf_counter() - t0:.0f} s.\n\n"
            + "\n\n".join(f"## {title}\n\n{table}" for title, table in sections) + "\n")
    if not a.quick:
        (RESULTS / "benchmarks.md").write_text(text)
        print(f"\nwritten: {RESULTS / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
