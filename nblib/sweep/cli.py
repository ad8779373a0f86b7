"""Command line: ``python -m nblib.sweep GRID`` computes (or completes) one of the course's stored grids."""
from __future__ import annotations

import dataclasses

from .run import DEFAULT_STACK, ENGINES, process_pool, run_grid

def main(argv=None) -> int:
    """``python -m nblib.sweep GRID [--engine E] [--workers N | --dask ADDRESS] [--root DIR]``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m nblib.sweep", description="Compute (or complete) a stored grid.")
    from ..course.settings import GRIDS   # the course's named grids (lesson 6)

    ap.add_argument("grid", choices=sorted(GRIDS), help="a grid of nblib.course.settings.GRIDS")
    ap.add_argument("--engine", choices=ENGINES, default="auto")
    ap.add_argument("--stack-size", type=int, default=DEFAULT_STACK)
    ap.add_argument("--stack-by", choices=("group", "cell"), default="group")
    ap.add_argument("--root", default=None, help="cache root (default: data/results, or $NBLIB_RESULTS)")
    ap.add_argument("--device", default=None, help="cpu, cuda, ... (default: nblib.device())")
    ap.add_argument("--workers", type=int, default=0, help="run on a local process pool of N workers")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per task")
    ap.add_argument("--dask", default=None, metavar="ADDRESS",
                    help="run on a Dask cluster, e.g. tcp://scheduler:8786 (needs nblib[cluster])")
    ap.add_argument("--seeds", type=int, default=None, help="override: seeds 0..N-1")
    ap.add_argument("--epochs", type=int, default=None, help="override the grid's epochs")
    args = ap.parse_args(argv)
    grid = GRIDS[args.grid]
    if args.seeds is not None or args.epochs is not None:
        grid = dataclasses.replace(grid, seeds=tuple(range(args.seeds)) if args.seeds else grid.seeds,
                                   epochs=args.epochs or grid.epochs)
    executor, client = None, None
    if args.dask:
        from distributed import Client

        client = Client(args.dask)
        executor = client.get_executor()
    elif args.workers:
        executor = process_pool(args.workers)
    try:
        res = run_grid(grid, root=args.root, executor=executor, engine=args.engine, stack_size=args.stack_size,
                       stack_by=args.stack_by,
                       device=args.device, threads=args.threads)
    finally:
        if client is not None:
            client.close()
        elif executor is not None:
            executor.shutdown(cancel_futures=True)
    print(res)
    print(res.table().to_string())
    return 0

