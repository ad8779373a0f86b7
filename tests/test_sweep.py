"""nblib.sweep and nblib.batched: keys, cache safety (incl. kill -9), resuming, engines, executors."""
import concurrent.futures as cf
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import nblib
from nblib import sweep
from nblib.sweep.cache import bundle_path, write_bundle
from nblib.train import fit_batched, supports_batched

CPU = "cpu"
REPO = Path(__file__).resolve().parent.parent


def toy_grid(name="toy", **kw):
    """A grid of fast runs (toy2d moons, MLP, a few epochs): ~0.1 s per run."""
    kw.setdefault("losses", ("ce", "gce"))
    kw.setdefault("noise", ("sym 0.0", "sym 0.3"))
    kw.setdefault("seeds", (0,))
    kw.setdefault("epochs", 2)
    return sweep.Grid(name, dataset="toy2d", **kw)


@pytest.fixture(autouse=True)
def one_thread():
    with nblib.torch_threads(1):
        yield


# ----------------------------------------------------------------------------- specs and keys

def test_grid_expands_to_runs_with_every_parameter_explicit():
    g = sweep.Grid("g", dataset="digits", losses=("gce", ("sce", {"alpha": 0.5}), "forward(T)", "forward(T-hat)"),
                   noise=("sym 0.4", ("asymmetric", 0.2)), seeds=(0, 1), epochs=3)
    runs = g.runs()
    assert len(runs) == len(g) == 4 * 2 * 2
    gce = runs[0]
    assert gce["loss"] == {"name": "gce", "params": {"q": 0.7}, "label": "gce", "transition": None}
    assert gce["noise"] == {"kind": "symmetric", "rate": 0.4, "exact": True, "include_true": False}
    assert runs[2]["noise"]["mapping"] == "digits"                     # the dataset's asymmetric map
    assert runs[4]["loss"]["params"]["alpha"] == 0.5 and "beta" in runs[4]["loss"]["params"]
    fwd, fwd_hat = runs[8], runs[12]
    assert fwd["loss"]["label"] == "forward(T)" and fwd["loss"]["transition"] == "true" and "estimator" not in fwd
    assert fwd_hat["loss"]["transition"] == "estimated" and fwd_hat["estimator"]["percentile"] == 97.0
    assert {r["seed"] for r in runs} == {0, 1} and all(r["protocol"] == sweep.PROTOCOL for r in runs)


def test_key_is_a_hash_of_the_canonical_config():
    cfg = toy_grid().runs()[0]
    shuffled = json.loads(json.dumps(dict(reversed(list(cfg.items())))))
    assert sweep.run_key(cfg) == sweep.run_key(shuffled) and len(sweep.run_key(cfg)) == 64
    keys = {sweep.run_key(c) for c in toy_grid(seeds=(0, 1), epochs=3).runs() + toy_grid().runs()}
    assert len(keys) == 8 + 4                            # every seed / epoch count / loss / noise: its own key


@pytest.mark.parametrize("bad, match", [
    (dict(losses=("nope",)), "unknown loss 'nope'"),
    (dict(losses=("forward(X)",)), r"forward\(T\) or forward\(T-hat\)"),
    (dict(losses=(sweep.LossSpec("ce", transition="true"),)), "transition applies to"),
    (dict(losses=(("gce", {"q": 1.5}),)), "q must be in"),
    (dict(noise=("sym 1.5",)), r"rate must be in \[0, 1\]"),
    (dict(noise=("human worse",)), "needs dataset 'cifar10n'"),
    (dict(noise=(("gaussian", 0.1),)), "unknown noise kind"),
    (dict(seeds=(-1,)), r"seeds\[0\] must be in"),
    (dict(noise=({"kind": "symmetric", "rate": 0.2, "mapping": "mnist"},)), "mapping applies to asymmetric"),
    (dict(noise=({"kind": "pair", "rate": 0.2, "include_true": True},)), "include_true applies to symmetric"),
    (dict(noise=({"kind": "symmetric", "rate": 0.2, "exact": "no"},)), "exact must be True or False"),
])
def test_bad_grid_specs_fail_early_with_a_clear_message(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        toy_grid(**bad).runs()


def test_grid_name_must_be_a_folder_name():
    with pytest.raises(ValueError, match="plain folder name"):
        sweep.Grid("../x")


# ----------------------------------------------------------------------------- one run

def test_a_run_is_determined_by_its_config():
    cfg = toy_grid(noise=("sym 0.3",)).runs()[0]
    a, b = sweep.run_one(cfg, device=CPU), sweep.run_one(cfg, device=CPU)
    assert sweep.same_result(a, b)
    assert a["format"] == sweep.FORMAT and a["key"] == sweep.run_key(cfg) and a["engine"] == "sequential"
    assert a["device"] == "cpu" and a["wall_time"] > 0
    assert set(a["versions"]) >= {"torch", "nblib", "python", "numpy"}
    m = a["metrics"]
    assert m["realised_noise_rate"] == pytest.approx(0.3, abs=0.01)          # exact=True flips
    assert m["memorisation_gap"] == pytest.approx(m["best_test_acc"] - m["final_test_acc"])
    assert len(a["history"]["test_acc"]) == 2 and m["final_test_acc"] == a["history"]["test_acc"][-1]
    other = sweep.run_one(toy_grid(noise=("sym 0.3",), seeds=(1,)).runs()[0], device=CPU)
    assert not sweep.same_result(a, other)


def test_estimated_transition_is_stored_with_its_error():
    cfg = toy_grid(losses=("forward(T-hat)",), noise=("sym 0.3",)).runs()[0]
    r = sweep.run_one(cfg, device=CPU)
    T_hat = np.array(r["transition_estimated"])
    assert T_hat.shape == (2, 2) and np.allclose(T_hat.sum(1), 1)
    assert r["metrics"]["estimation_error"] == pytest.approx(nblib.estimate.estimation_error(T_hat, r["transition"]))


# ----------------------------------------------------------------------------- cache, resume, safety

def test_results_are_cached_and_a_rerun_computes_only_what_is_missing(tmp_path):
    g = toy_grid()
    first = sweep.run_grid(g, root=tmp_path, engine="sequential", progress=False)
    assert (first.computed, first.cached) == (4, 0)
    files = sorted((tmp_path / "toy").glob("*.json"))
    assert len(files) == 4 and all(f.stem == sweep.run_key(json.loads(f.read_text())["config"]) for f in files)
    again = sweep.run_grid(g, root=tmp_path, progress=False)
    assert (again.computed, again.cached) == (0, 4)
    files[0].unlink()
    third = sweep.run_grid(g, root=tmp_path, engine="sequential", progress=False)
    assert (third.computed, third.cached) == (1, 3)
    assert all(sweep.same_result(a, b) for a, b in zip(first.results, third.results))
    assert sweep.load_grid(g, root=tmp_path).cached == 4


def test_corrupt_foreign_and_edited_files_give_clear_errors(tmp_path):
    g = toy_grid()
    sweep.run_grid(g, root=tmp_path, progress=False)
    path = sweep.ResultCache(tmp_path / "toy").path(sweep.run_key(g.runs()[0]))
    good = path.read_text()

    path.write_text(good[: len(good) // 2])                       # truncated by a crash of some other tool
    with pytest.raises(sweep.SweepCacheError, match=f"{path.name}.*not valid JSON.*delete it"):
        sweep.run_grid(g, root=tmp_path, progress=False)
    path.write_text(json.dumps({"hello": "world"}))               # someone else's JSON
    with pytest.raises(sweep.SweepCacheError, match="format is None, expected 'nblib-sweep/1'"):
        sweep.load_grid(g, root=tmp_path)
    edited = json.loads(good)
    edited["config"]["seed"] = 7
    path.write_text(json.dumps(edited))
    with pytest.raises(sweep.SweepCacheError, match="was edited"):
        sweep.run_grid(g, root=tmp_path, progress=False)
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(sweep.SweepCacheError, match="not a text file"):
        sweep.run_grid(g, root=tmp_path, progress=False)

    res = sweep.run_grid(g, root=tmp_path, progress=False, on_corrupt="recompute")
    assert res.computed == 1 and json.loads(path.read_text())["key"] == path.stem


def test_load_grid_says_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"4 of 4 runs of grid 'toy'.*python -m nblib.sweep"):
        sweep.load_grid(toy_grid(), root=tmp_path)
    assert sweep.load_grid(toy_grid(), root=tmp_path, missing="skip").results == []


def test_a_failed_write_leaves_neither_a_partial_file_nor_a_temp_file(tmp_path, monkeypatch):
    result = sweep.run_one(toy_grid().runs()[0], device=CPU)
    cache = sweep.ResultCache(tmp_path)

    def dump_half_then_die(obj, f, **kw):
        f.write(json.dumps(obj)[:100])
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep.cache.json, "dump", dump_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        cache.save(result)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_number_is_stored_as_null_in_an_ordinary_file(tmp_path):
    """Standard JSON (other readers reject a bare NaN) with mode 0644 (mkstemp's 0600 hid results from
    other users); read back, null is NaN again."""
    result = sweep.run_one(toy_grid(noise=("sym 0.0",)).runs()[0], device=CPU)
    assert np.isnan(result["metrics"]["final_flipped_acc_noisy"])          # no flipped sample: no accuracy
    path = sweep.ResultCache(tmp_path).save(result)
    text = path.read_text()
    assert "NaN" not in text and '"final_flipped_acc_noisy": null' in text
    json.loads(text, parse_constant=_no_constant)
    assert path.stat().st_mode & 0o777 == 0o644
    assert np.isnan(sweep.read_result(path)["metrics"]["final_flipped_acc_noisy"])


def _no_constant(name):
    raise ValueError(f"{name} is not standard JSON")


KILL_GRID = dict(dataset="toy2d", losses=("ce", "gce", "mae"), noise=("sym 0.0", "sym 0.2", "sym 0.4"),
                 seeds=(0,))     # 9 runs of ~0.3 s each at 20 epochs
KILL_SCRIPT = textwrap.dedent("""
    import sys, torch
    from nblib import sweep

    def saved(res):
        print("saved", res["key"], flush=True)

    if __name__ == "__main__":
        torch.set_num_threads(1)
        root, workers, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        grid = sweep.Grid("killme", epochs=epochs, **%r)
        executor = sweep.process_pool(workers) if workers else None
        sweep.run_grid(grid, root=root, engine="sequential", progress=False, on_result=saved, executor=executor,
                       threads=1)
        print("finished", flush=True)
""" % (KILL_GRID,))
WORKERS_EXIT_SECONDS = 5     # a pool worker polls for its parent every PARENT_POLL_SECONDS (0.5 s)


@pytest.mark.parametrize("workers, epochs", [(0, 20), (2, 60)], ids=["in-process", "process-pool"])
def test_kill_9_in_the_middle_loses_at_most_the_run_in_flight(tmp_path, workers, epochs):
    """Kill a sweep subprocess with SIGKILL while it writes results; no file may be damaged, the
    rerun computes exactly the runs that are not on disk, and no pool worker is left running."""
    psutil = pytest.importorskip("psutil")
    env = {**os.environ, "NBLIB_DEVICE": "cpu", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path), str(workers), str(epochs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    reported, children = [], []
    try:
        deadline = time.monotonic() + 120
        while len(reported) < 3 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("saved"):
                reported.append(line.split()[1])
        assert len(reported) >= 3, proc.stderr.read()
        children = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)                  # no cleanup handlers run
        proc.wait(timeout=30)
        # the pool's workers (and its resource tracker) exit on their own once their parent is gone
        _, alive = psutil.wait_procs(children, timeout=WORKERS_EXIT_SECONDS)
        assert not alive, f"still running {WORKERS_EXIT_SECONDS} s after the sweep was killed: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for child in children:
            if child.is_running():
                child.kill()
    assert proc.returncode == -signal.SIGKILL
    assert len(children) >= workers                     # the pool was running (the check above is not vacuous)
    folder = tmp_path / "killme"
    stored = {p.stem for p in folder.glob("*.json")}
    for key in stored:                                      # every file on disk is complete and valid
        sweep.ResultCache(folder).load(key)
    in_flight = max(workers, 1)
    assert set(reported) <= stored and len(stored - set(reported)) <= in_flight   # lost: at most the runs in flight
    grid = sweep.Grid("killme", epochs=epochs, **KILL_GRID)
    assert len(stored) < len(grid), "the sweep finished before it was killed; make the runs longer"
    rerun = sweep.run_grid(grid, root=tmp_path, engine="sequential", progress=False)
    assert (rerun.cached, rerun.computed) == (len(stored), len(grid) - len(stored))
    assert not list(folder.glob("*.tmp")) or all(p.name.startswith(".") for p in folder.glob("*.tmp"))


def test_exit_with_parent_is_a_no_op_outside_a_pool_worker():
    """In the sweep process itself (executor=None, threads) and in a process that is not the
    submitter's child (a Dask worker) no watchdog thread starts."""
    import threading

    before = {t.name for t in threading.enumerate()}
    sweep.exit_with_parent(os.getpid())                     # the parent itself
    sweep.exit_with_parent(os.getppid() + 10**6)            # not our parent
    assert {t.name for t in threading.enumerate()} == before
    with pytest.raises(ValueError, match="workers must be in"):
        sweep.process_pool(0)


# ----------------------------------------------------------------------------- engines and executors

def test_vmap_engine_matches_the_sequential_engine_in_distribution(tmp_path):
    g = sweep.Grid("eq", dataset="digits", losses=("ce", "forward(T)"), noise=("sym 0.4",),
                   seeds=(0, 1, 2), epochs=3)
    seq = sweep.run_grid(g, root=tmp_path / "seq", engine="sequential", progress=False)
    vm = sweep.run_grid(g, root=tmp_path / "vmap", engine="vmap", progress=False)
    assert {r["engine"] for r in vm.results} == {"vmap"} and vm.results[0]["stack"]["size"] == 6
    a = seq.frame().groupby("loss")["final_test_acc"]
    b = vm.frame().groupby("loss")["final_test_acc"]
    for loss in ("ce", "forward(T)"):
        # same accuracy within seed noise: the gap of the means is within 2 standard errors (+1 point)
        se = np.sqrt((a.std()[loss] ** 2 + b.std()[loss] ** 2) / 3)
        assert abs(a.mean()[loss] - b.mean()[loss]) <= 2 * se + 0.01, loss
    for x, y in zip(seq.results, vm.results):               # same labels, same init: trajectories agree
        assert x["metrics"]["realised_noise_rate"] == y["metrics"]["realised_noise_rate"]
        assert abs(x["metrics"]["final_test_acc"] - y["metrics"]["final_test_acc"]) < 0.05


def test_a_vmap_result_is_replayed_exactly_with_its_stack(tmp_path):
    g = sweep.Grid("rep", dataset="digits", losses=("ce", "tgce", "forward(T-hat)"), noise=("sym 0.4",),
                   seeds=(0,), epochs=3, grad_clip=1.0)
    res = sweep.run_grid(g, root=tmp_path, engine="vmap", progress=False)
    again = sweep.recompute(res.results[2], root=tmp_path)
    assert again["engine"] == "vmap" and sweep.same_result(again, res.results[2])
    assert "estimation_error" in again["metrics"]


def test_a_vmap_result_is_replayed_from_the_bundle_alone(tmp_path):
    """An installed nblib (Colab) ships the grids' bundles, not their cache folders."""
    g = sweep.Grid("rep", dataset="digits", losses=("ce", "gce"), noise=("sym 0.4",),
                   seeds=(0,), epochs=2, grad_clip=1.0)
    res = sweep.run_grid(g, root=tmp_path / "work", engine="vmap", progress=False)
    shipped = tmp_path / "shipped"
    write_bundle(res.results, bundle_path(shipped, "rep"))
    again = sweep.recompute(res.results[1], root=shipped)
    assert sweep.same_result(again, res.results[1])
    with pytest.raises(FileNotFoundError, match="members of the stack"):
        sweep.recompute(res.results[1], root=tmp_path / "empty_root_with_nothing")


def test_fit_batched_refuses_models_it_cannot_batch():
    data = nblib.data.load("toy2d", device=CPU)
    bn = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
    assert not supports_batched(bn) and supports_batched(nblib.models.make_model("auto", data))
    ce = nblib.losses.make_loss("ce", 2)
    with pytest.raises(ValueError, match="BatchNorm or Dropout"):
        fit_batched([bn, bn], data, losses=[ce, ce], y_trains=[data.y_train] * 2, seeds=[0, 1], device=CPU)
    small = nblib.models.make_model("mlp", data, hidden=(4,))
    with pytest.raises(ValueError, match="differs in architecture"):
        fit_batched([nblib.models.make_model("auto", data), small], data, losses=[ce, ce],
                    y_trains=[data.y_train] * 2, seeds=[0, 1], device=CPU)
    with pytest.raises(ValueError, match="one entry per model"):
        fit_batched([small, small], data, losses=[ce], y_trains=[data.y_train] * 2, seeds=[0, 1], device=CPU)


def test_any_executor_gives_the_same_results(tmp_path):
    g = toy_grid()
    here = sweep.run_grid(g, root=tmp_path / "here", progress=False)
    with cf.ThreadPoolExecutor(2) as ex:
        pooled = sweep.run_grid(g, root=tmp_path / "pool", executor=ex, threads=1, progress=False)
    assert pooled.computed == 4
    assert all(sweep.same_result(a, b) for a, b in zip(here.results, pooled.results))
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        sweep.run_grid(g, root=tmp_path / "x", executor="dask", progress=False)


def test_a_small_grid_runs_on_a_local_dask_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    g = toy_grid()
    here = sweep.run_grid(g, root=tmp_path / "here", progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        res = sweep.run_grid(g, root=tmp_path / "dask", executor=client.get_executor(), progress=False)
    assert res.computed == 4 and len(list((tmp_path / "dask" / "toy").glob("*.json"))) == 4
    assert all(sweep.same_result(a, b) for a, b in zip(here.results, res.results))


# ----------------------------------------------------------------------------- tables

def test_results_frame_and_mean_std_table(tmp_path):
    g = toy_grid(seeds=(0, 1))
    res = sweep.run_grid(g, root=tmp_path, progress=False)
    df = res.frame()
    assert len(df) == 8 and {"loss", "noise", "seed", "final_test_acc", "memorisation_gap"} <= set(df)
    table = res.table()
    assert list(table.index) == ["ce", "gce"] and list(table.columns) == ["sym 0", "sym 0.3"]
    cell = df[(df.loss == "gce") & (df.noise == "sym 0.3")]["final_test_acc"] * 100
    assert table.loc["gce", "sym 0.3"] == f"{cell.mean():.1f} ± {cell.std():.1f}"
    assert res.pivot("best_test_acc").shape == (2, 2)


# ----------------------------------------------------------------------------- noise spec text, command line

@pytest.mark.parametrize("text", ["sym abc", "sym 0.4 0.2", "gaussian 0.1", "", "sym 0,4"])
def test_a_bad_noise_spec_names_itself_and_the_expected_form(text):
    with pytest.raises(ValueError, match=rf"noise spec {text!r}:.*e\.g\. 'sym 0\.4'"):
        sweep.NoiseSpec.parse(text)


@pytest.mark.parametrize("args, option", [
    (["--epochs", "0"], "--epochs"), (["--seeds", "0"], "--seeds"), (["--epochs", "0", "--seeds", "0"], "--epochs"),
    (["--epochs", "-3"], "--epochs"), (["--seeds", "two"], "--seeds"), (["--workers", "-1"], "--workers"),
    (["--stack-size", "0"], "--stack-size"), (["--threads", "0"], "--threads"),
    (["--workers", "2", "--dask", "tcp://x:1"], "--dask"),
])
def test_the_command_line_refuses_bad_values_instead_of_using_defaults(args, option, capsys, tmp_path):
    """--epochs 0 --seeds 0 used to run the grid's 20 epochs and seeds (0, 1, 2) (truthiness)."""
    from nblib.sweep.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["digits-classroom", "--root", str(tmp_path), *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert option in err and ("must be an integer >=" in err or "not both" in err), err
    assert not list(tmp_path.iterdir())                 # nothing was computed


# ----------------------------------------------------------------------------- the committed results

def _committed_results():
    try:
        out = subprocess.run(["git", "ls-files", "-s", "--", "data/results"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    entries = [line.split(None, 3) for line in out.splitlines()]
    return [(mode, REPO / path) for mode, _, _, path in entries if path.endswith(".json")]


def test_every_committed_result_is_standard_json_with_mode_0644():
    """Other JSON readers reject bare NaN; results are ordinary files (issue 12, item 7)."""
    results = _committed_results()
    assert results
    for mode, path in results:
        assert mode == "100644", f"{path}: git mode {mode}"
        result = json.loads(path.read_text(), parse_constant=_no_constant)
        assert result["key"] == path.stem


def test_the_migration_tool_rewrites_old_files_without_changing_keys_or_numbers(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("migrate_results", REPO / "tools" / "migrate_results.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    result = sweep.run_one(toy_grid(noise=("sym 0.0",)).runs()[0], device=CPU)
    old = tmp_path / "grid" / f"{result['key']}.json"
    old.parent.mkdir()
    old.write_text(json.dumps(result, indent=1, sort_keys=True))        # the old writer: bare NaN
    old.chmod(0o600)
    assert tool.needs_migration(old) and tool.main([str(tmp_path), "--check"]) == 1
    assert tool.main([str(tmp_path)]) == 0
    assert [p.name for p in old.parent.iterdir()] == [old.name] and tool.needs_migration(old) is None
    assert old.stat().st_mode & 0o777 == 0o644
    assert sweep.same_result(sweep.read_result(old), result) and tool.main([str(tmp_path), "--check"]) == 0
