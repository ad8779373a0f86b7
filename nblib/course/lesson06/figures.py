"""Lesson 6's figures: the whole loss x noise grid in one picture, and the papers beside it.

Input is the long results frame of :func:`nblib.sweep.results_frame` (one row per run: loss,
noise, seed and the metrics). Every figure averages over seeds:

- ``accuracy_heatmap``: mean final test accuracy (%) per loss x noise cell;
- ``gap_heatmap``: memorisation = best minus final test accuracy (points). A loss that fits the
  flipped labels peaks early and then falls; the gap is bounded by how high the peak was, so at
  very high rates (a low peak) it can shrink again;
- ``ranking`` / ``ranking_plot``: each loss's rank in every noisy column (1 = best), averaged, and
  its rank with clean labels beside (not averaged in);
- ``paper_tables`` parses data/paper_results.md (the published CIFAR tables) and
  ``paper_comparison`` / ``paper_comparison_plot`` set them beside the course's own numbers.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..._paths import find_data
from ..figures import matrix_heatmap
from ..style import HEATMAP_CMAP, OKABE_ITO, loss_color, loss_hatch, new_axes

__all__ = ["PAPER_RESULTS", "PAPER_NAMES", "accuracy_heatmap", "gap_heatmap", "ranking", "ranking_plot",
           "overview", "paper_tables", "paper_comparison", "paper_comparison_plot", "cell_summary"]

PAPER_RESULTS = find_data("paper_results.md")   # the published tables, wherever the checkout is
# the papers' row names -> the nblib.sweep loss labels set beside them. The CIFAR-10 table's
# "Forward" row does not say whether T was the true or an estimated one (Zhang & Sabuncu report
# both): it is set beside both of ours.
PAPER_NAMES = {"CE": ("ce",), "Forward": ("forward(T)", "forward(T-hat)"), "Forward-T": ("forward(T)",),
               "Backward-T": ("backward(T)",), "GCE": ("gce",), "SCE": ("sce",)}
PERCENT = 100.0
# the comparison figure's colour and marker per line; forward gets its own colour (it shares gce's
# blue elsewhere); a paper row is drawn like the loss it is set beside first
COMPARISON_STYLE = {"ce": (OKABE_ITO["vermillion"], "o"), "gce": (OKABE_ITO["blue"], "^"),
                    "sce": (OKABE_ITO["orange"], "D"), "forward(T)": (OKABE_ITO["black"], "s"),
                    "forward(T-hat)": (OKABE_ITO["grey"], "P"), "backward(T)": (OKABE_ITO["purple"], "v")}
_CELL = re.compile(r"^\s*([0-9.]+)\s*(?:\+-|±)\s*([0-9.]+)\s*$")


def _mean_table(frame: pd.DataFrame, metric: str, stat: str = "mean") -> pd.DataFrame:
    from ...sweep import pivot

    return pivot(frame, metric, stat)


def _heatmap(table: pd.DataFrame, ax, title: str, cbar_label: str, fmt: str, cmap=HEATMAP_CMAP, **kw):
    im = matrix_heatmap(table.to_numpy(dtype=float), ax, cmap=cmap, fmt=fmt, fontsize=7, aspect="auto",
                        xticklabels=table.columns, yticklabels=table.index, **kw)
    ax.tick_params(axis="x", labelrotation=45)
    for label in ax.get_xticklabels():
        label.set_ha("right")
    ax.set_xlabel("noise (kind and rate)")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, label=cbar_label, shrink=0.85)
    return ax


def accuracy_heatmap(frame: pd.DataFrame, metric: str = "final_test_acc", ax=None, title: str | None = None):
    """Heatmap of the mean (over seeds) of ``metric`` in %, losses as rows, noise as columns."""
    if ax is None:
        _, axes = new_axes(width=7.5, height=4.6)
        ax = axes[0, 0]
    table = _mean_table(frame, metric) * PERCENT
    name = metric.replace("_", " ").replace("acc", "accuracy")
    return _heatmap(table, ax, title or f"{name} (%), mean over seeds", f"{name} (%)", ".0f", vmin=0, vmax=100)


def gap_heatmap(frame: pd.DataFrame, ax=None, title: str | None = None):
    """Heatmap of the memorisation gap, best minus final test accuracy (points), mean over seeds."""
    if ax is None:
        _, axes = new_axes(width=7.5, height=4.6)
        ax = axes[0, 0]
    table = _mean_table(frame, "memorisation_gap") * PERCENT
    return _heatmap(table, ax, title or "memorisation: best minus final test accuracy (points)",
                    "best - final (points)", ".1f", cmap="Reds", vmin=0)


def ranking(frame: pd.DataFrame, metric: str = "final_test_acc", columns=None) -> pd.DataFrame:
    """Each loss's rank (1 = best mean ``metric``) in every noisy column, with the average rank and
    the mean accuracy (%) over those columns, sorted best first; the first column ranks the clean
    column ('sym 0'), which the average leaves out (a loss that underfits clean labels shows there).
    ``columns``: the noise columns to average over (default: every one with noise)."""
    table = _mean_table(frame, metric)
    clean = [c for c in table.columns if c.endswith(" 0")]
    cols = list(columns) if columns is not None else [c for c in table.columns if c not in clean]
    ranks = table[cols].rank(ascending=False, method="min")
    out = ranks.copy()
    out["mean rank"] = ranks.mean(axis=1)
    out["mean accuracy (%)"] = table[cols].mean(axis=1) * PERCENT
    if clean:
        out.insert(0, f"{clean[0]} (clean)", table[clean[0]].rank(ascending=False, method="min"))
    return out.sort_values(["mean rank", "mean accuracy (%)"], ascending=[True, False])


def ranking_plot(frame: pd.DataFrame, metric: str = "final_test_acc", ax=None, title: str | None = None):
    """Horizontal bars of the average rank of each loss over the noisy columns (shorter = better)."""
    if ax is None:
        _, axes = new_axes(width=4.6, height=4.2)
        ax = axes[0, 0]
    r = ranking(frame, metric)
    names = list(r.index)[::-1]
    bars = ax.barh(names, r["mean rank"][::-1], color=[loss_color(n) for n in names], edgecolor="white")
    for bar, name in zip(bars, names):
        bar.set_hatch(loss_hatch(name))
    ax.set_xlabel("average rank over noisy settings (1 = best)")
    ax.set_title(title or "ranking of the losses")
    ax.grid(axis="y", visible=False)
    return ax


def overview(frame: pd.DataFrame, title: str | None = None):
    """The one picture: accuracy heatmap, memorisation-gap heatmap and ranking side by side."""
    fig, axes = new_axes(ncols=3, width=5.6, height=4.8)
    fig.set_figwidth(17)
    accuracy_heatmap(frame, ax=axes[0, 0], title="final test accuracy (%)")
    gap_heatmap(frame, ax=axes[0, 1], title="best - final (points): memorisation")
    ranking_plot(frame, ax=axes[0, 2])
    if title:
        fig.suptitle(title)
    return fig


def cell_summary(results: list[dict], metric: str = "final_test_acc") -> str:
    """'mean ± std' (%, 2 decimals) of ``metric`` over a list of results (one cell's seeds)."""
    v = np.array([r["metrics"][metric] for r in results]) * PERCENT
    sd = v.std(ddof=1) if len(v) > 1 else 0.0
    return f"{v.mean():.2f} ± {sd:.2f}"


# ----------------------------------------------------------------------------- the papers' tables

def paper_tables(path=None) -> dict[str, pd.DataFrame]:
    """The Markdown tables of data/paper_results.md as DataFrames of floats (means, %).

    Keys are the section headings (e.g. "CIFAR-10, ResNet-34 (...)"); each frame has the table's
    first column as index and also ``.attrs["std"]``, a frame of the stds where given.
    """
    text = Path(path if path is not None else find_data("paper_results.md")).read_text()
    tables, heading, rows = {}, None, []

    def flush():
        if heading and len(rows) > 2:
            header = rows[0]
            means, stds = {}, {}
            for r in rows[2:]:
                vals = [_parse_cell(c) for c in r[1:]]
                means[r[0]] = [m for m, _ in vals]
                stds[r[0]] = [s for _, s in vals]
            df = pd.DataFrame.from_dict(means, orient="index", columns=header[1:])
            df.index.name = header[0]
            df.attrs["std"] = pd.DataFrame.from_dict(stds, orient="index", columns=header[1:])
            tables[heading] = df

    for line in text.splitlines():
        if line.startswith("## "):
            flush()
            heading, rows = line[3:].strip(), []
        elif line.startswith("|") and heading:
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows and not line.startswith("|"):
            flush()
            rows = []
    flush()
    return tables


def _parse_cell(cell: str):
    m = _CELL.match(cell)
    if m:
        return float(m.group(1)), float(m.group(2))
    try:
        return float(cell), float("nan")
    except ValueError:
        return float("nan"), float("nan")


def paper_comparison(frame: pd.DataFrame, paper: pd.DataFrame, metric: str = "final_test_acc") -> pd.DataFrame:
    """Long table of the cells both have: our loss, noise, ours (%, mean over seeds) and its standard
    deviation, the paper's row set beside it (``PAPER_NAMES``: its "Forward" beside both our
    forward(T) and forward(T-hat)), its mean and standard deviation (%), ours - paper, and the rank
    of the loss within its noise column on each side (1 = best; the paper's among its own rows)."""
    ours, sd = (_mean_table(frame, metric, stat) * PERCENT for stat in ("mean", "std"))
    paper_sd = paper.attrs.get("std", pd.DataFrame(np.nan, index=paper.index, columns=paper.columns))
    paper_rank = paper.rank(ascending=False, method="min")
    rows = []
    for name, labels in PAPER_NAMES.items():
        if name not in paper.index:
            continue
        for label in (lab for lab in labels if lab in ours.index):
            for col in paper.columns:
                if col in ours.columns and np.isfinite(paper.loc[name, col]):
                    rows.append({"loss": label, "noise": col, "ours": ours.loc[label, col], "ours sd": sd.loc[label, col],
                                 "paper row": name, "paper": paper.loc[name, col], "paper sd": paper_sd.loc[name, col],
                                 "rank paper": int(paper_rank.loc[name, col])})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["ours - paper"] = out["ours"] - out["paper"]
    out["rank ours"] = out.groupby("noise")["ours"].rank(ascending=False, method="min").astype(int)
    return out[["loss", "noise", "ours", "ours sd", "paper row", "paper", "paper sd", "ours - paper", "rank ours",
                "rank paper"]]


def paper_comparison_plot(frame: pd.DataFrame, paper: pd.DataFrame, metric: str = "final_test_acc",
                          ours_name: str = "ours", paper_name: str = "paper", title: str | None = None):
    """Accuracy vs noise rate, one panel per noise kind, both on 0-100 %: solid lines with filled
    markers and ± 1 sd over seeds = ours; dashed with open markers and the paper's ± = the paper's
    rows. One colour and marker per line (``COMPARISON_STYLE``), one legend for the figure."""
    cmp = paper_comparison(frame, paper, metric)
    fig, axes = new_axes(ncols=2, width=4.6, height=3.6, sharey=True)
    for ax, kind in zip(axes[0], ("sym", "asym")):
        part = cmp[cmp["noise"].str.startswith(kind + " ")]
        rate = lambda g: g["noise"].str.split().str[1].astype(float)  # noqa: E731
        for loss, g in part.groupby("loss", sort=False):
            color, mk = COMPARISON_STYLE.get(loss, ("k", "o"))
            ax.errorbar(rate(g), g["ours"], yerr=g["ours sd"], marker=mk, color=color, ls="-", capsize=2,
                        label=f"{loss} ({ours_name})")
        for row, g in part.drop_duplicates(["paper row", "noise"]).groupby("paper row", sort=False):
            color, mk = COMPARISON_STYLE.get(PAPER_NAMES[row][0], ("k", "o"))
            ax.errorbar(rate(g), g["paper"], yerr=g["paper sd"].fillna(0), marker=mk, mfc="none", color=color,
                        ls="--", alpha=0.8, capsize=2, label=f"{row} ({paper_name})")
        ax.set_xlabel(f"{'symmetric' if kind == 'sym' else 'asymmetric'} noise rate")
        ax.set_title(f"{'symmetric' if kind == 'sym' else 'asymmetric'} noise")
        ax.set_ylim(0, 100)
    axes[0, 0].set_ylabel("test accuracy (%)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, ncol=4, loc="outside lower center")
    fig.suptitle(title or f"solid: {ours_name} (± 1 sd over seeds), dashed: {paper_name} (± its sd)")
    return fig
