"""Lesson 7's tables: what real human noise looks like and what the theorems need of it.

Every number comes from the CIFAR-N tables shipped in data/cifar-n (``nblib.human_noise``), the
core's matrix properties (``nblib.noise.transition_properties``), the papers' reference file
(data/paper_results.md, parsed by lesson 6's ``paper_tables``) or the lesson's own runs. Nothing
here computes maths of its own; it selects, labels and arranges.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ... import human_noise, noise
from ..._paths import find_data
from ...sweep import per_seed
from ..lesson06.figures import paper_tables

SHOWN_SETS = ("aggre", "random1", "worse")    # CIFAR-10N label sets the lesson draws
RATE_SET = "worse"                            # symmetric and pair noise are drawn at this set's rate
PERCENT = 100.0

PROPERTIES = {   # nblib.noise.transition_properties key -> column label
    "expected_flip_rate": "noise rate",
    "min_diagonal": "min T_ii",
    "min_margin": "min (T_ii - max T_ij)",
    "diagonally_dominant": "diagonally dominant",
    "uniform_off_diagonal": "uniform off-diagonals",
    "max_asymmetry": "max |T_ij - T_ji|",
    "min_singular_value": "min singular value",
    "condition_number": "cond(T)",
    "max_abs_inverse": "max |(T^-1)_ij|",
}


def comparison_matrices() -> dict[str, np.ndarray]:
    """CIFAR-10N's aggre, random1 and worse T, and symmetric and pair noise at worse's rate (10 classes)."""
    rate = human_noise.noise_rate(RATE_SET)
    K = len(human_noise.class_names())
    out = {f"CIFAR-10N {s}": human_noise.transition(s) for s in SHOWN_SETS}
    out[f"symmetric {rate:.2f}"] = noise.transition_matrix("symmetric", K, rate)
    out[f"pair {rate:.2f}"] = noise.transition_matrix("pair", K, rate)
    return out


def properties_table(matrices: dict) -> pd.DataFrame:
    """One row per matrix, the properties the theorems assume (``PROPERTIES``)."""
    rows = {name: noise.transition_properties(T) for name, T in matrices.items()}
    return pd.DataFrame.from_dict({name: {label: p[key] for key, label in PROPERTIES.items()}
                                   for name, p in rows.items()}, orient="index")


# (lessons, theorem, condition, property that decides it, or None: not visible in T)
CONDITIONS = (
    ("2-4", "MAE, GCE, NCE, APL: robust to symmetric noise", "uniform off-diagonals (and rate < (K-1)/K)",
     "uniform_off_diagonal"),
    ("2-4", "the same losses: robust to class-conditional noise", "diagonally dominant: T_ii > T_ij",
     "diagonally_dominant"),
    ("5", "backward correction: unbiased", "T invertible", "min_singular_value"),
    ("5", "forward / backward / anchor-point T-hat", "noise depends on the true class only", None),
)


def conditions_table(matrices: dict) -> pd.DataFrame:
    """Which theorem's condition each matrix meets: yes / no, or "not in T" where T cannot tell."""
    props = {name: noise.transition_properties(T) for name, T in matrices.items()}
    K = next(iter(matrices.values())).shape[0]
    rows = []
    for lessons, theorem, condition, key in CONDITIONS:
        row = {"lesson": lessons, "theorem": theorem, "needs": condition}
        for name, p in props.items():
            if key is None:
                row[name] = "not in T"
            elif key == "uniform_off_diagonal":
                row[name] = "yes" if p[key] and p["expected_flip_rate"] < (K - 1) / K else "no"
            elif key == "min_singular_value":
                row[name] = "yes" if np.isfinite(p["max_abs_inverse"]) else "no"
            else:
                row[name] = "yes" if p[key] else "no"
        rows.append(row)
    return pd.DataFrame(rows).set_index(["lesson", "theorem", "needs"])


def confusions_table(label_set: str = RATE_SET, dataset: str = "cifar10n", top: int = 8) -> pd.DataFrame:
    """The largest off-diagonal entries of a human T: true class, human label, T_ij and the image count."""
    return pd.DataFrame(human_noise.confusions(label_set, dataset, top)).rename(
        columns={"true": "true class", "label": "human label", "rate": "T_ij", "count": "images"})


def class_rates_table(label_sets=SHOWN_SETS) -> pd.DataFrame:
    """Per-class noise rate 1 - T_ii of each label set (rows: class)."""
    return pd.DataFrame({s: human_noise.class_noise_rates(s) for s in label_sets}, index=human_noise.class_names())


# ----------------------------------------------------------------------------- annotators

def annotator_table() -> pd.DataFrame:
    """Each single annotator, their majority vote (aggre) and the worst label: noise rate and accuracy."""
    names = {"random1": "annotator 1", "random2": "annotator 2", "random3": "annotator 3",
             "aggre": "majority vote (aggre)", "worse": "worst of three (worse)"}
    rates = {label: human_noise.noise_rate(s) for s, label in names.items()}
    return pd.DataFrame({"noise rate": rates, "accuracy": {k: 1 - v for k, v in rates.items()}})


def agreement_table() -> pd.DataFrame:
    """Images by how many of the three annotators gave the same label, and how often the majority is right there."""
    by = human_noise.agreement()["by_agreement"]
    total = sum(v["images"] for v in by.values())
    return pd.DataFrame({f"{k} agree": {"images": v["images"], "share of images": v["images"] / total,
                                        "majority vote right": v["aggre_accuracy"]} for k, v in by.items()}).T


def joint_errors_table(**sources) -> pd.DataFrame:
    """Observed vs independent counts of samples with 0..A annotators wrong, one block per source
    (``name=nblib.noise.joint_wrong_counts(...)`` or ``human_noise.joint_errors()``)."""
    rows = {}
    for name, res in sources.items():
        obs, ind = np.asarray(res["observed"], dtype=float), np.asarray(res["independent"], dtype=float)
        for what, v in (("observed", obs), ("if independent", ind)):
            rows[(name, what)] = {f"{k} wrong": v[k] for k in range(len(v))}
        rows[(name, "observed / independent")] = {f"{k} wrong": obs[k] / ind[k] for k in range(len(obs))}
    return pd.DataFrame(rows).T


def superclass_table() -> pd.DataFrame:
    """CIFAR-100N: fine and superclass noise rates, and where the wrong fine labels go."""
    fine = human_noise.superclass_noise()
    return pd.DataFrame({"value": {
        "fine labels wrong": human_noise.noise_rate("noisy", "cifar100n"),
        "superclass labels wrong": human_noise.noise_rate("noisy_coarse", "cifar100n"),
        "wrong fine labels inside the true superclass": fine["share_within"],
        "the same if wrong labels were uniform": human_noise.within_superclass_if_uniform(),
    }})


def not_dominant_rows() -> pd.DataFrame:
    """CIFAR-100N's fine classes that humans label as another class at least as often as correctly."""
    T = human_noise.transition("noisy", "cifar100n")
    names = human_noise.class_names("cifar100n", "noisy")
    rows = []
    for i in np.flatnonzero(noise.row_margins(T) <= 0):
        j = int(np.argmax(np.where(np.arange(len(T)) == i, -1.0, T[i])))
        rows.append({"true class": names[i], "T_ii": T[i, i], "most frequent wrong label": names[j], "T_ij": T[i, j]})
    return pd.DataFrame(rows)


def superclass_order() -> np.ndarray:
    """CIFAR-100's fine classes ordered by superclass (then by name): blocks of 5 along the diagonal."""
    return np.lexsort((np.arange(len(human_noise.superclass_of())), human_noise.superclass_of()))


# ----------------------------------------------------------------------------- the leaderboard

HUMAN_SECTION = "Human label noise"
SYNTHETIC_SECTION = "CIFAR-10, ResNet-34"
WEBVISION = re.compile(r"mini WebVision top-1,\s*(.+?)\s*\(")


def _section(tables: dict, prefix: str) -> pd.DataFrame:
    name = next((k for k in tables if k.startswith(prefix)), None)
    if name is None:
        raise KeyError(f"data/paper_results.md has no section starting with {prefix!r}; sections: {list(tables)}")
    return tables[name]


def human_leaderboard(path=None) -> pd.DataFrame:
    """The papers' CIFAR-10N / CIFAR-100N test accuracies (%) from the reference file."""
    return _section(paper_tables(path), HUMAN_SECTION)


def synthetic_reference(path=None) -> pd.DataFrame:
    """The papers' CIFAR-10 table with synthetic noise (%), from the same file."""
    return _section(paper_tables(path), SYNTHETIC_SECTION)


def webvision(path=None) -> pd.Series:
    """mini WebVision top-1 (%) of the APL losses, as the reference file states it in prose."""
    text = (find_data("paper_results.md") if path is None else path).read_text()
    m = WEBVISION.search(text)
    if m is None:
        raise ValueError("data/paper_results.md: no 'mini WebVision top-1, NAME NUMBER, ...' line found")
    pairs = [re.fullmatch(r"(\S+)\s+([0-9.]+)", item.strip()) for item in m.group(1).split(",")]
    return pd.Series({p.group(1): float(p.group(2)) for p in pairs if p}, name="mini WebVision top-1 (%)")


ROBUST = {"GCE": "GCE", "Forward": "forward", "Forward-T": "forward", "Backward-T": "backward", "SCE": "SCE"}


def method_spread(human: pd.DataFrame, synthetic: pd.DataFrame) -> pd.DataFrame:
    """Per column of the two reference tables (points): GCE minus forward correction (both tables
    have them), best minus worst of the robust methods listed, and (synthetic only: the human table
    has no CE row) the best robust method minus CE."""
    rows = {}
    for kind, table in (("human (CIFAR-N)", human), ("synthetic (CIFAR-10)", synthetic)):
        robust = table.loc[[m for m in table.index if m in ROBUST]]
        forward = next(m for m in robust.index if ROBUST[m] == "forward")
        for col in table.columns:
            v = robust[col].dropna()
            rows[(kind, col)] = {"GCE - forward": table.loc["GCE", col] - table.loc[forward, col],
                                 "best - worst robust": v.max() - v.min(),
                                 "best robust - CE": v.max() - table[col].get("CE", np.nan)}
    return pd.DataFrame(rows).T


RUN_METRICS = {"final_test_acc": "final test acc.", "best_test_acc": "best test acc.",
               "final_flipped_acc_noisy": "flipped labels fitted"}


def run_table(result, metrics=RUN_METRICS) -> pd.DataFrame:
    """Per loss of a SweepResult with one noise setting: "mean ± std" (%) over seeds of each metric."""
    return pd.DataFrame({label: result.table(metric).iloc[:, 0] for metric, label in metrics.items()})


def course_table(ccn, idn, metric: str = "final_test_acc") -> pd.DataFrame:
    """The losses both runs have: ``metric`` "mean ± std" (%) under class-conditional and
    instance-dependent noise with the human T, and each one's mean gain over CE (points)."""
    losses = [loss for loss in _losses(idn) if loss in _losses(ccn)]
    out = {}
    for name, res in (("class-conditional", ccn), ("instance-dependent", idn)):
        ce = per_seed(res.results, metric, loss="ce")
        out[(name, "%")] = res.table(metric).iloc[:, 0].reindex(losses)
        out[(name, "gain over CE")] = pd.Series(
            {loss: "" if loss == "ce" else f"{PERCENT * (per_seed(res.results, metric, loss=loss) - ce).mean():+.1f}"
             for loss in losses})
    return pd.DataFrame(out)


def _losses(res) -> list[str]:
    return list(dict.fromkeys(r["label"]["loss"] for r in res.results))


PAPER_LOSSES = {"CE": "ce", "GCE": "gce", "Forward-T": "forward(T)", "Backward-T": "backward(T)",
                "NCE+RCE": "nce+rce", "NCE+MAE": "nce+mae"}     # the papers' names -> the course's loss labels
PAPER_COLUMNS = {"worst": "CIFAR-10N worst", "C10N aggregate": "CIFAR-10N aggregate", "C100N": "CIFAR-100N"}


def leaderboard_beside(ccn, idn, path=None) -> pd.DataFrame:
    """The papers' human-noise numbers (%) beside the course's own final test accuracy ("mean ± std" %,
    digits with the human T), one row per method; blank where a side has no number."""
    human, web = human_leaderboard(path), webvision(path)
    rows = {}
    for paper_name, loss in PAPER_LOSSES.items():
        row = {f"{label} (paper)": (human.loc[paper_name, col] if paper_name in human.index else np.nan)
               for col, label in PAPER_COLUMNS.items()}
        row["mini WebVision (paper)"] = web.get(paper_name, np.nan)
        for name, res in (("human T", ccn), ("human T, hard first", idn)):
            row[f"digits, {name} (course)"] = res.table().iloc[:, 0].get(loss, "")
        rows[paper_name] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    return out.fillna("").astype(str).replace("nan", "")
