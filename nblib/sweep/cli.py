"""Command line: ``python -m nblib.sweep GRID`` computes (or completes) one of the course's stored grids."""
from __future__ import annotations

import argparse
import dataclasses

from .run import DEFAULT_STACK, ENGINES, bundle, run_grid
from .workers import process_pool


def _at_least(lo: int):
    """An argparse type: an integer >= ``lo`` (argparse names the option in its error: "argument
    --epochs: must be an integer >= 1, got 0"), so a bad value is refused, never replaced by a default."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {lo}, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be an integer >= {lo}, got {value}")
        return value
    return parse


def main(argv=None) -> int:
    """``python -m nblib.sweep GRID [--engine E] [--workers N | --dask ADDRESS] [--root DIR]``."""
    ap = argparse.ArgumentParser(prog="python -m nblib.sweep", description="Compute (or complete) a stored grid.")
    from ..course.settings import GRIDS   # the course's named grids (lesson 6)

    ap.add_argument("grid", choices=sorted(GRIDS), help="a grid of nblib.course.settings.GRIDS")
    ap.add_argument("--engine", choices=ENGINES, default="auto")
    ap.add_argument("--stack-size", type=_at_least(1), default=DEFAULT_STACK)
    ap.add_argument("--stack-by", choices=("group", "cell"), default="group")
    ap.add_argument("--root", default=None, help="cache root (default: data/results, or $NBLIB_RESULTS)")
    ap.add_argument("--device", default=None, help="cpu, cuda, ... (default: nblib.device())")
    ap.add_argument("--workers", type=_at_least(0), default=0,
                    help="run on a local process pool of N workers (0: in this process)")
    ap.add_argument("--threads", type=_at_least(1), default=None, help="torch threads per task")
    ap.add_argument("--dask", default=None, metavar="ADDRESS",
                    help="run on a Dask cluster, e.g. tcp://scheduler:8786 (needs nblib[cluster])")
    ap.add_argument("--seeds", type=_at_least(1), default=None, help="override: seeds 0..N-1 (N >= 1)")
    ap.add_argument("--epochs", type=_at_least(1), default=None, help="override the grid's epochs (>= 1)")
    ap.add_argument("--bundle", action="store_true",
                    help="then pack the grid's results into <root>/<grid>.json.gz (the file the package ships)")
    args = ap.parse_args(argv)
    if args.dask and args.workers:
        ap.error("give either --workers or --dask, not both")
    grid = GRIDS[args.grid]
    overrides = {}
    if args.seeds is not None:
        overrides["seeds"] = tuple(range(args.seeds))
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    grid = dataclasses.replace(grid, **overrides)
    executor, client = None, None
    if args.dask:
        from distributed import Client

        client = Client(args.dask)
        executor = client.get_executor()
    elif args.workers:
        executor = process_pool(args.workers)
    try:
        res = run_grid(grid, root=args.root, executor=executor, engine=args.engine, stack_size=args.stack_size,
                       stack_by=args.stack_by, device=args.device, threads=args.threads)
    finally:
        if client is not None:
            client.close()
        elif executor is not None:
            executor.shutdown(cancel_futures=True)
    print(res)
    print(res.table().to_string())
    if args.bundle:
        print("bundle:", bundle(grid, root=args.root))
    return 0
