"""Running a grid: how a config becomes a result, engines, executors, replay.

Everything of a run follows from its config (:mod:`nblib.sweep.spec`):

    seed s  ->  noisy labels  corrupt_labels(y, T(kind, rate), seed=s)
            ->  model         make_model(model, data, seed=s)
            ->  shuffling     fit(..., seed=s)
            ->  T-hat         (forward/backward with transition="estimated") estimate_transition
                              on a cross-entropy model trained with the same seed and settings.

So one seed per run drives everything, and every loss sees the *same* noisy labels and the same
initial weights for a given seed (a paired comparison).

Engines: ``"sequential"`` trains one model at a time with :func:`nblib.train.fit`; ``"vmap"`` trains
a stack of up to ``stack_size`` models of one architecture at once (:func:`nblib.train.fit_batched`);
``"auto"`` stacks where the engine rule :func:`nblib.train.stack_pays` says it is faster. Results
agree in distribution; the engine is recorded in each result (with the stack it was trained in),
and :func:`recompute` replays a result exactly the way it was made.

Parallel: ``executor=`` takes any ``concurrent.futures.Executor``: a process pool on one machine
(:func:`process_pool`), or a Dask cluster through ``distributed.Client(address).get_executor()``.
Workers only compute; the calling process writes every result as it arrives, so workers need nblib
and the data, not the cache folder. A pool worker exits when the sweep that started it dies, even by
``kill -9`` (:func:`exit_with_parent`), instead of computing an orphaned task at 100 % CPU.
"""
from __future__ import annotations

import concurrent.futures as cf
import datetime
import functools
import json
import os
import platform
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .. import __version__
from .._checks import check_bool, check_choice, check_int
from .._device import device as pick_device, torch_threads
from ..data import load
from ..estimate import estimate_transition, estimation_error
from ..losses import make_loss
from ..models import make_model
from ..noise import corrupt_labels, empirical_transition, transition_matrix
from ..train import fit, fit_batched, predict_proba, stack_pays
from . import noise_kinds
from .cache import FORMAT, ResultCache, SweepCacheError, bundle_path, default_root, read_bundle, write_bundle
from .spec import PROTOCOL, Grid, plain, canonical_json, noise_label, run_key
from .tables import SweepResult
from .workers import exit_with_parent

ENGINES = ("auto", "sequential", "vmap")
DEFAULT_STACK = 32           # models per vmap stack (memory ~ stack x batch x activations)


def versions() -> dict:
    """What can change a result's last bits: torch, numpy, nblib, python, the platform, the CPU
    kernels torch uses (``cpu_capability``: AVX512, AVX2, DEFAULT, ...) and the thread count."""
    return {"torch": torch.__version__, "numpy": np.__version__, "nblib": __version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch_threads": torch.get_num_threads()}


FINGERPRINT = ("torch", "cpu_capability", "torch_threads")   # versions() fields that decide bit-identity


def same_machine(result: dict) -> bool:
    """True if ``result`` was computed with this machine's torch, CPU kernels and thread count, so a
    recomputation here can be expected to reproduce it bit for bit (else: in distribution only)."""
    stored, here = result.get("versions", {}), versions()
    return all(stored.get(k) == here[k] for k in FINGERPRINT)


@functools.lru_cache(maxsize=4)
def _load_data(dataset_json: str, device: str):
    """Datasets are loaded once per process and device (runs share them read-only)."""
    d = json.loads(dataset_json)
    return load(d["name"], device=device, seed=d["seed"], **d["kw"])


def _check_config(config) -> dict:
    need = ("protocol", "dataset", "model", "train", "loss", "noise", "seed")
    if not isinstance(config, dict) or any(k not in config for k in need):
        missing = [k for k in need if not isinstance(config, dict) or k not in config]
        raise ValueError(f"config must be a run config from Grid.runs(); missing {missing}")
    if config["protocol"] != PROTOCOL:
        raise ValueError(f"config protocol {config['protocol']!r} is not this nblib's ({PROTOCOL}); "
                         "expand the grid again with this version")
    return config


def _noisy_labels(config: dict, data):
    """(noisy labels, flipped mask, T as float64 array) of a run, from its noise config and seed."""
    nz, K = config["noise"], data.num_classes
    if nz["kind"] in noise_kinds.GIVEN_KINDS:
        return noise_kinds.noisy_labels(config, data)
    if nz["kind"] == "human":
        noisy = data.noisy_labels[nz["label_set"]]
        T = empirical_transition(data.y_train, noisy, K)
        return noisy, noisy != data.y_train, T
    kw = {"include_true": nz["include_true"]} if nz["kind"] == "symmetric" else {}
    if nz["kind"] == "asymmetric":
        kw["mapping"] = nz["mapping"]
    T = transition_matrix(nz["kind"], K, nz["rate"], **kw)
    noisy, flipped = corrupt_labels(data.y_train, T, seed=config["seed"], exact=nz["exact"])
    return noisy, flipped, T


def _noisy_val(config: dict, data, T):
    """(x_val, noisy y_val) when the dataset has a validation split: its labels corrupted by the same
    T and seed as the training labels (what a practitioner without clean labels holds); else None."""
    if data.x_val is None:
        return None
    if config["noise"]["kind"] == "human":
        return data.x_val, data.y_val    # no human labels exist for a split of our own
    if config["noise"]["kind"] in noise_kinds.GIVEN_KINDS:
        return noise_kinds.noisy_val(config, data, T)
    y_val, _ = corrupt_labels(data.y_val, T, seed=config["seed"], exact=config["noise"]["exact"])
    return data.x_val, y_val


def _make_model(config: dict, data):
    return make_model(config["model"]["name"], data, seed=config["seed"], **config["model"]["kw"])


def _fit_kw(config: dict) -> dict:
    return dict(config["train"])


def _estimate(config: dict, data, probs, T) -> dict:
    T_hat = estimate_transition(probs, **config["estimator"])
    return {"T_hat": T_hat, "estimation_error": estimation_error(T_hat, T)}


def _metrics(hist, flipped, extra: dict) -> dict:
    m = {"final_test_acc": hist.final_test_acc, "best_test_acc": hist.best_test_acc,
         "memorisation_gap": hist.best_test_acc - hist.final_test_acc, "best_epoch": hist.best_epoch,
         "realised_noise_rate": flipped.float().mean().item(), "final_train_acc": hist.train_acc[-1],
         "final_flipped_acc_noisy": hist.flipped_acc_noisy[-1]}
    if hist.val_acc and hist.val_acc[-1] == hist.val_acc[-1]:     # a noisy validation set: model selection by it
        best_val = max(range(len(hist.val_acc)), key=hist.val_acc.__getitem__)
        m["val_selected_epoch"] = hist.epoch[best_val]
        m["val_selected_test_acc"] = hist.test_acc[best_val]
    if "estimation_error" in extra:
        m["estimation_error"] = extra["estimation_error"]
    return m


def _result(config, hist, flipped, T, extra, *, engine, dev, wall, stack=None) -> dict:
    hist_d = plain(hist.to_dict())
    hist_d["config"].pop("loss_params", None)      # already in config["loss"]; T is in "transition"
    res = {"format": FORMAT, "key": run_key(config), "config": config,
           "label": {"loss": config["loss"]["label"], "noise": noise_label(config["noise"])},
           "metrics": _metrics(hist, flipped, extra), "history": hist_d, "transition": plain(T),
           "engine": engine, "device": str(dev), "wall_time": wall, "versions": versions(),
           "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if "T_hat" in extra:
        res["transition_estimated"] = plain(extra["T_hat"])
    if stack is not None:
        res["stack"] = stack
    return res


def run_one(config: dict, *, device=None) -> dict:
    """Compute one run with the sequential engine (:func:`nblib.train.fit`); return its result dict.

    Everything follows from ``config`` (see the module docstring); ``device`` only says where.
    """

    t0 = time.perf_counter()
    config = _check_config(config)
    dev = pick_device(device)
    data = _load_data(canonical_json(config["dataset"]), str(dev))
    noisy, flipped, T = _noisy_labels(config, data)
    loss, seed, extra = config["loss"], config["seed"], {}
    params = dict(loss["params"])
    if loss["transition"] == "estimated":
        ce_model = _make_model(config, data)
        fit(ce_model, data, loss="ce", y_train=noisy, flipped=flipped, seed=seed, progress=False,
            device=dev, eval_train=False, **_fit_kw(config))       # only its final predictions are used
        extra = _estimate(config, data, predict_proba(ce_model, data.x_train), T)
        params["T"] = extra["T_hat"]
    elif loss["transition"] == "true":
        params["T"] = T
    model = _make_model(config, data)
    hist = fit(model, data, loss=loss["name"], loss_params=params, y_train=noisy, flipped=flipped, seed=seed,
               val=_noisy_val(config, data, T), progress=False, device=dev, **_fit_kw(config))
    return _result(config, hist, flipped, T, extra, engine="sequential", dev=dev,
                   wall=time.perf_counter() - t0)


def _stack_group(config: dict) -> str:
    """Runs with equal group keys can share a vmap stack (same data, model and training settings)."""
    return canonical_json({k: config[k] for k in ("protocol", "dataset", "model", "train")})


def run_stack(configs: Sequence[dict], *, device=None) -> list[dict]:
    """Compute several runs as one vmap stack (:func:`nblib.train.fit_batched`), in this order.

    All configs must share dataset, model and training settings. Runs with ``forward(T-hat)`` first
    train their cross-entropy estimators as a stack of their own. Each result records the stack
    (its size, the keys in order, its wall time) so :func:`recompute` can replay it exactly.
    """

    t0 = time.perf_counter()
    configs = [_check_config(c) for c in configs]
    if len({_stack_group(c) for c in configs}) != 1:
        raise ValueError("run_stack needs configs with the same dataset, model and training settings")
    dev = pick_device(device)
    data = _load_data(canonical_json(configs[0]["dataset"]), str(dev))
    K, train = data.num_classes, _fit_kw(configs[0])
    labels = [_noisy_labels(c, data) for c in configs]
    extras = [{} for _ in configs]
    est = [i for i, c in enumerate(configs) if c["loss"]["transition"] == "estimated"]
    if est:
        _, ce_models = fit_batched([_make_model(configs[i], data) for i in est], data,
                                   losses=[make_loss("ce", K) for _ in est], y_trains=[labels[i][0] for i in est],
                                   flippeds=[labels[i][1] for i in est], seeds=[configs[i]["seed"] for i in est],
                                   device=dev, eval_train=False, **train)   # only their final predictions are used
        for i, model in zip(est, ce_models):
            extras[i] = _estimate(configs[i], data, predict_proba(model, data.x_train), labels[i][2])
    losses = []
    for c, (_, _, T), extra in zip(configs, labels, extras):
        params = dict(c["loss"]["params"])
        if c["loss"]["transition"] is not None:
            params["T"] = extra["T_hat"] if c["loss"]["transition"] == "estimated" else T
        losses.append(make_loss(c["loss"]["name"], K, **params))
    vals = [_noisy_val(c, data, lab[2]) for c, lab in zip(configs, labels)]
    val = None if vals[0] is None else (vals[0][0], torch.stack([v[1] for v in vals]))
    hists, _ = fit_batched([_make_model(c, data) for c in configs], data, losses=losses,
                           y_trains=[lab[0] for lab in labels], flippeds=[lab[1] for lab in labels],
                           seeds=[c["seed"] for c in configs], val=val, device=dev, **train)
    wall = time.perf_counter() - t0
    stack = {"size": len(configs), "keys": [run_key(c) for c in configs], "wall_time": wall}
    return [_result(c, h, lab[1], lab[2], extra, engine="vmap", dev=dev, wall=wall / len(configs), stack=stack)
            for c, h, lab, extra in zip(configs, hists, labels, extras)]


def _vmap_pays(config: dict, device=None) -> bool:
    """Engine "auto": stack a group with vmap where the engine rule says it pays on this device."""

    data = _load_data(canonical_json(config["dataset"]), "cpu")
    return stack_pays(_make_model(config, data), pick_device(device))


def _execute(task: list[dict], engine: str, device, threads: int | None, parent_pid: int | None = None) -> list[dict]:
    """Worker entry point (module level, so executors can pickle it): compute one task.

    ``parent_pid``: the sweep process; a pool worker it started (any ``ProcessPoolExecutor``, also one
    not made by :func:`process_pool`) then exits with it."""
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    with torch_threads(threads):
        if engine == "vmap":
            return run_stack(task, device=device)
        return [run_one(c, device=device) for c in task]


def _plan(todo: list[dict], engine: str, stack_size: int, stack_by: str = "group", device=None) -> list[list[dict]]:
    """Split the missing runs into tasks: single runs, or vmap stacks of compatible runs
    (``stack_by="cell"``: one stack per loss x noise cell, i.e. its seeds)."""
    if engine == "sequential":
        return [[c] for c in todo]
    groups: dict[str, list] = {}
    for c in todo:
        cell = canonical_json([c["loss"], c["noise"]]) if stack_by == "cell" else ""
        groups.setdefault(_stack_group(c) + cell, []).append(c)
    tasks = []
    for members in groups.values():
        if engine == "auto" and (len(members) < 2 or not _vmap_pays(members[0], device)):
            tasks += [[c] for c in members]
        else:
            tasks += [members[i:i + stack_size] for i in range(0, len(members), stack_size)]
    return tasks


def run_grid(grid: Grid, *, root=None, executor: cf.Executor | None = None, engine: str = "auto",
             stack_size: int = DEFAULT_STACK, stack_by: str = "group", device=None,
             threads: int | None = None, progress: bool = True, on_corrupt: str = "raise",
             on_result=None) -> SweepResult:
    """Compute every run of ``grid`` that is not in the cache yet; return all results.

    root: cache root (default ``data/results`` of the repository); results go to ``root/grid.name``.
    executor: any ``concurrent.futures.Executor`` (None: compute here, one task after the other).
        E.g. ``process_pool(2)`` (its workers exit when this process dies) or a Dask cluster's
        ``distributed.Client("tcp://scheduler:8786").get_executor()``.
    engine: "auto" (vmap stacks where the model allows it and it pays: MLPs on the CPU, any
        BatchNorm-free model on a GPU), "sequential", or "vmap".
    stack_size: models per vmap stack; stack_by: "group" (fill stacks with any compatible runs) or
        "cell" (one stack per loss x noise cell: its seeds; cheap to replay one cell exactly).
    device: where to train (default ``nblib.device()``); threads: torch threads per task (e.g. 1
        on a small shared CPU or with a process pool; None leaves torch's setting).
    progress: one tqdm bar over the runs of the grid (cached runs count as done), with ETA.
    on_corrupt: "raise" (default) a :class:`SweepCacheError` for an unusable cache file, or
        "recompute" it.
    on_result: optional ``on_result(result)``, called after each new result is safely on disk.

    Results are written as they arrive, so interrupting (even ``kill -9``) loses only runs in flight.
    """
    check_choice("engine", engine, ENGINES)
    check_choice("on_corrupt", on_corrupt, ("raise", "recompute"))
    check_choice("stack_by", stack_by, ("group", "cell"))
    stack_size = check_int("stack_size", stack_size, 1)
    threads = None if threads is None else check_int("threads", threads, 1)
    check_bool("progress", progress)
    if on_result is not None and not callable(on_result):
        raise TypeError(f"on_result must be a function on_result(result), got {on_result!r}")
    if device is not None:
        pick_device(device)         # a bad device fails here, not in every worker
    if executor is not None and not isinstance(executor, cf.Executor) and not hasattr(executor, "submit"):
        raise TypeError(f"executor must be a concurrent.futures.Executor, got {type(executor).__name__}")
    t0 = time.perf_counter()
    cache = ResultCache(Path(root or default_root()) / grid.name)
    if cache.directory.exists():
        cache.remove_stale_temp()
    configs = grid.runs()
    keys = [run_key(c) for c in configs]
    done: dict[str, dict] = {}
    for k in dict.fromkeys(keys):
        if k in cache:
            try:
                done[k] = cache.load(k)
            except SweepCacheError:
                if on_corrupt == "raise":
                    raise
    todo = list({k: c for k, c in zip(keys, configs) if k not in done}.values())
    cached = len(done)
    bar = _bar(len(done) + len(todo), cached, progress, grid.name)
    try:
        for res in _compute(_plan(todo, engine, stack_size, stack_by, device), engine, executor, device, threads):
            cache.save(res)
            done[res["key"]] = res
            if on_result is not None:
                on_result(res)
            bar.set_postfix_str(f"{res['label']['loss']} {res['label']['noise']}: "
                                f"{res['metrics']['final_test_acc']:.3f}", refresh=False)
            bar.update(1)
    finally:
        bar.close()
    return SweepResult(grid, [done[k] for k in keys], computed=len(todo), cached=cached,
                       wall_time=time.perf_counter() - t0)


def _compute(tasks, engine, executor, device, threads):
    """Yield results task by task, in completion order."""
    engine_of = lambda task: "vmap" if engine != "sequential" and len(task) > 1 else "sequential"  # noqa: E731
    if executor is None:
        for task in tasks:
            yield from _execute(task, engine_of(task), device, threads)
        return
    futures = [executor.submit(_execute, task, engine_of(task), device, threads, os.getpid()) for task in tasks]
    try:
        for fut in cf.as_completed(futures):
            yield from fut.result()
    finally:
        for fut in futures:
            fut.cancel()


def load_grid(grid: Grid, *, root=None, missing: str = "raise") -> SweepResult:
    """The stored results of ``grid`` without computing anything.

    Looks in the grid's folder under ``root`` (default :func:`default_root`), then in its bundle
    ``root/<grid>.json.gz`` (what an installed package carries; see :func:`bundle`).
    missing: "raise" (default; the message gives the count and how to compute them) or "skip".
    """
    check_choice("missing", missing, ("raise", "skip"))
    root = Path(root or default_root())
    cache = ResultCache(root / grid.name)
    keys = [run_key(c) for c in grid.runs()]
    found = {k: cache.load(k) for k in keys if k in cache}
    packed = bundle_path(root, grid.name)
    if len(found) < len(keys) and packed.is_file():
        found = {**read_bundle(packed), **found}
    absent = [k for k in keys if k not in found]
    if absent and missing == "raise":
        raise FileNotFoundError(f"{len(absent)} of {len(keys)} runs of grid {grid.name!r} are not stored in "
                                f"{cache.directory} (nor in {packed.name}); compute them with "
                                f"nblib.sweep.run_grid(grid) or `python -m nblib.sweep {grid.name}`")
    return SweepResult(grid, [found[k] for k in keys if k in found], cached=len(keys) - len(absent))


def bundle(grid: Grid, *, root=None) -> Path:
    """Pack the stored results of ``grid`` (all of them must be stored) into ``root/<grid>.json.gz``,
    in grid order: the file the installed package ships, from which :func:`load_grid` reads."""
    root = Path(root or default_root())
    res = load_grid(grid, root=root)
    return write_bundle(res.results, bundle_path(root, grid.name))


def _bar(total: int, initial: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="run", disable=not enabled, smoothing=0.1)

