"""Sweeps: a grid of (loss x noise x seed) training runs, cached on disk, resumable, parallel.

    spec.py     the grid spec language (LossSpec, NoiseSpec, Grid) and the key of every run
    run.py      how a config becomes a result; engines, executors; loading stored grids and bundles
    replay.py   recompute a stored result the way it was made; compare two results
    workers.py  process-pool workers that exit with the sweep (kill -9 safe)
    cache.py    one JSON file per run under its key, written atomically; validated on read
    tables.py   results as pandas tables ("mean ± std" over seeds)
    cli.py      ``python -m nblib.sweep GRID`` for the course's named grids
    noise_kinds.py  noise with a given T on any dataset: ``matrix`` (class-conditional) and
                ``instance`` (the same counts, hard samples flipped first)

    from nblib import sweep
    grid = sweep.Grid("mine", dataset="digits", losses=("ce", "gce"), noise=("sym 0.4",), seeds=(0, 1, 2))
    res = sweep.run_grid(grid)            # only what is not stored yet; kill -9 safe
    print(res.table())                    # loss x noise, "mean ± std" over seeds
"""
from .cache import FORMAT, RESULTS_ENV_VAR, ResultCache, SweepCacheError, default_root, read_result
from .replay import recompute, same_result
from .run import DEFAULT_STACK, ENGINES, FINGERPRINT, bundle, load_grid, run_grid, run_one, run_stack, same_machine, versions
from .workers import exit_with_parent, process_pool
from .spec import (CLASSROOM_LOSSES, CLASSROOM_NOISE, NOISE_KINDS, PROTOCOL, Grid, LossSpec, NoiseSpec, Setting,
                   canonical_json, noise_label, run_key)
from .noise_kinds import GIVEN_KINDS, difficulty_scores, run_labels
from .tables import DERIVED_METRICS, METRICS, SweepResult, curves_frame, per_seed, pivot, results_frame, summary_table

__all__ = [
    "FORMAT", "PROTOCOL", "Setting", "ENGINES", "RESULTS_ENV_VAR", "default_root", "SweepCacheError", "LossSpec", "NoiseSpec",
    "Grid", "CLASSROOM_LOSSES", "CLASSROOM_NOISE", "NOISE_KINDS", "DEFAULT_STACK", "METRICS", "DERIVED_METRICS", "run_key",
    "canonical_json", "run_one", "run_stack", "ResultCache", "SweepResult", "run_grid", "load_grid", "recompute",
    "same_result", "same_machine", "FINGERPRINT", "results_frame", "curves_frame", "per_seed", "summary_table",
    "pivot", "versions", "read_result", "noise_label", "bundle", "process_pool", "exit_with_parent",
    "GIVEN_KINDS", "difficulty_scores", "run_labels",
]
