"""Results as tables: one row per run (pandas), loss x noise pivots over seeds, "mean ± std" strings."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

# the metrics stored per run and summarised in tables
METRICS = ("final_test_acc", "best_test_acc", "memorisation_gap", "best_epoch", "realised_noise_rate",
           "final_train_acc", "final_flipped_acc_noisy", "wall_time")

def results_frame(results: Iterable[dict]):
    """One row per run: loss, noise, kind, rate, seed, the metrics, engine, device, key."""
    import pandas as pd

    rows = []
    for r in results:
        c = r["config"]
        rows.append({"loss": r["label"]["loss"], "noise": r["label"]["noise"], "kind": c["noise"]["kind"],
                     "rate": c["noise"].get("rate", float("nan")), "seed": c["seed"],
                     **{m: r["metrics"].get(m, r.get(m)) for m in METRICS if m != "wall_time"},
                     "estimation_error": r["metrics"].get("estimation_error", float("nan")),
                     "wall_time": r["wall_time"], "engine": r["engine"], "device": r["device"], "key": r["key"]})
    return pd.DataFrame(rows)


def _ordered(values) -> list:
    return list(dict.fromkeys(values))


def pivot(frame, metric: str = "final_test_acc", stat: str = "mean"):
    """loss x noise table of ``stat`` ("mean", "std", "count", ...) of ``metric`` over seeds,
    rows and columns in the grid's order."""
    table = frame.pivot_table(index="loss", columns="noise", values=metric, aggfunc=stat)
    return table.reindex(index=_ordered(frame["loss"]), columns=_ordered(frame["noise"]))


def summary_table(frame, metric: str = "final_test_acc", scale: float = 100.0, digits: int = 1):
    """loss x noise table of "mean ± std" strings (std over seeds, ddof=1; accuracies in %)."""
    mean, std = pivot(frame, metric, "mean") * scale, pivot(frame, metric, "std") * scale
    out = mean.astype(object)
    for r in mean.index:
        for c in mean.columns:
            m, s = mean.loc[r, c], std.loc[r, c]
            out.loc[r, c] = "" if math.isnan(m) else f"{m:.{digits}f} ± {0.0 if math.isnan(s) else s:.{digits}f}"
    return out


def curves_frame(results: Iterable[dict], metrics=("test_acc",)):
    """One row per run and epoch: loss, noise, seed, epoch and the per-epoch ``metrics`` (long format,
    what seaborn's ``lineplot(x="epoch", y=metric, hue="loss", errorbar=...)`` draws with a band)."""
    import pandas as pd

    rows = []
    for r in results:
        h, c = r["history"], r["config"]
        for i, epoch in enumerate(h["epoch"]):
            rows.append({"loss": r["label"]["loss"], "noise": r["label"]["noise"], "seed": c["seed"], "epoch": epoch,
                         **{m: h[m][i] if m in h else float("nan") for m in metrics}})
    return pd.DataFrame(rows)


def per_seed(results: Iterable[dict], metric: str, *, loss: str | None = None, noise: str | None = None):
    """The values of ``metric`` (a stored metric, one of ``DERIVED_METRICS`` computed from the stored
    history, or the last epoch of a history curve) of the runs of
    one cell (``loss`` and ``noise`` labels; either may be omitted if the results have only one),
    ordered by seed: the per-seed numbers a claim compares (pairs line up across losses)."""
    import numpy as np

    cell = [r for r in results if (loss is None or r["label"]["loss"] == loss)
            and (noise is None or r["label"]["noise"] == noise)]
    if not cell:
        raise KeyError(f"no runs with loss={loss!r}, noise={noise!r}")
    if len({(r["label"]["loss"], r["label"]["noise"]) for r in cell}) > 1:
        raise ValueError(f"loss={loss!r}, noise={noise!r} selects more than one cell; name both")
    cell.sort(key=lambda r: r["config"]["seed"])
    return np.array([_metric(r, metric) for r in cell], dtype=float)


def _late_oscillation(result: dict) -> float:
    from ..train import History

    return History.from_dict(result["history"]).late_oscillation()


# Metrics computed from a stored run's history on demand (not stored in its "metrics").
DERIVED_METRICS = {
    # mean |change of test accuracy| between consecutive epochs over the last 10 (History.late_oscillation)
    "late_oscillation": _late_oscillation,
}


def _metric(result: dict, metric: str) -> float:
    if metric in result["metrics"]:
        return result["metrics"][metric]
    if metric in DERIVED_METRICS:
        return DERIVED_METRICS[metric](result)
    if metric in result["history"]:
        return result["history"][metric][-1]
    raise KeyError(f"metric must be a stored metric {sorted(result['metrics'])}, a derived one "
                   f"{sorted(DERIVED_METRICS)} or a history curve, got {metric!r}")


@dataclass
class SweepResult:
    """What :func:`run_grid` / :func:`load_grid` return: the grid, its results in grid order, how
    many were computed now and how many came from the cache, and the wall time."""

    grid: Grid
    results: list
    computed: int = 0
    cached: int = 0
    wall_time: float = 0.0

    def frame(self):
        """:func:`results_frame` of the results."""
        return results_frame(self.results)

    def table(self, metric: str = "final_test_acc", **kw):
        """:func:`summary_table` (loss x noise, "mean ± std")."""
        return summary_table(self.frame(), metric, **kw)

    def pivot(self, metric: str = "final_test_acc", stat: str = "mean"):
        """:func:`pivot` (loss x noise numbers)."""
        return pivot(self.frame(), metric, stat)

    def curves(self, *metrics: str):
        """:func:`curves_frame`: per-epoch ``metrics`` (default test accuracy), one row per run and epoch."""
        return curves_frame(self.results, metrics or ("test_acc",))

    def per_seed(self, metric: str = "final_test_acc", *, loss: str | None = None, noise: str | None = None):
        """:func:`per_seed`: ``metric`` of one cell's runs, ordered by seed."""
        return per_seed(self.results, metric, loss=loss, noise=noise)

    def histories(self, *, loss: str | None = None, noise: str | None = None) -> list:
        """The per-epoch records (:class:`nblib.train.History`) of one cell's runs, ordered by seed."""
        from ..train import History

        cell = [r for r in self.results if (loss is None or r["label"]["loss"] == loss)
                and (noise is None or r["label"]["noise"] == noise)]
        return [History.from_dict(r["history"]) for r in sorted(cell, key=lambda r: r["config"]["seed"])]

    def __repr__(self):
        return (f"SweepResult({self.grid.name!r}, runs={len(self.results)}, computed={self.computed}, "
                f"cached={self.cached}, wall_time={self.wall_time:.1f}s)")

