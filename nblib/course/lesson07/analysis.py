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
    "inverse_inf_norm": "||T^-1||_inf",
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


HUMAN_PREFIX = "CIFAR-"      # comparison_matrices' names of the matrices measured from annotators
CLASS_CONDITIONAL = {True: "no (part 2)", False: "yes (drawn so)"}   # human vs synthetic noise
TOLERANT = "MAE, NCE, RCE, NCE+RCE: tolerant"
# the class-conditional theorems also bound the loss, 0 <= L <= C/(K-1): MAE and RCE meet it, NCE not
# everywhere (it tends to 1 when p_y alone collapses; lesson 4), so NCE and NCE+RCE only where it holds
TOLERANT_CC = "MAE, RCE: tolerant (NCE, NCE+RCE: only where L <= C/(K-1))"
PARTIAL = "GCE (q<1), SCE: bounded / partial, no tolerance theorem"
T_PART = ("T_ii > T_ij (in T), class-conditional noise (no, part 2), 0 <= L <= C/(K-1) (the loss), "
          "R(f*) = 0 (not in T)")

# (lessons, theorem, what it needs, how a matrix's column is filled): the papers' theorems (Ghosh et
# al. 2017 Thm 1-2, Zhang & Sabuncu 2018, Wang et al. 2019, Ma et al. 2020 Thm 1-2, Patrini et al.
# 2017) with every condition; only the parts about T can be read from a matrix.
CONDITIONS = (
    ("2, 4", f"{TOLERANT} under symmetric noise", "uniform off-diagonals, rate < (K-1)/K", "symmetric"),
    ("2, 4", f"{TOLERANT_CC} under class-conditional noise", T_PART, "dominant"),
    ("3, 4", PARTIAL, "the same conditions; GCE: a bound on the risk, SCE: only its RCE term", "bound"),
    ("5", "backward correction: unbiased", "T invertible, class-conditional noise", "invertible"),
    ("5", "forward correction: consistent; anchor-point T-hat", "class-conditional noise: P(y~|y,x) = P(y~|y)",
     "class-conditional"),
)


def conditions_table(matrices: dict, human=None) -> pd.DataFrame:
    """Which theorem's conditions each matrix meets, as far as it can tell: "yes" / "no" for the
    parts about T ("T-part yes": the rest is not in T), and for class-conditional noise "no (part 2)"
    on the human matrices (``human``: their names; default those starting with ``HUMAN_PREFIX``)
    and "yes (drawn so)" on the synthetic ones."""
    props = {name: noise.transition_properties(T) for name, T in matrices.items()}
    human = {n for n in matrices if n.startswith(HUMAN_PREFIX)} if human is None else set(human)
    K = next(iter(matrices.values())).shape[0]
    yes = lambda ok, text="yes": text if ok else "no"  # noqa: E731
    fill = {
        "symmetric": lambda p, n: yes(p["uniform_off_diagonal"] and p["expected_flip_rate"] < (K - 1) / K),
        "dominant": lambda p, n: yes(p["diagonally_dominant"], "T-part yes"),
        "bound": lambda p, n: yes(p["diagonally_dominant"], "bound only"),
        "invertible": lambda p, n: yes(np.isfinite(p["inverse_inf_norm"]), "T-part yes"),
        "class-conditional": lambda p, n: CLASS_CONDITIONAL[n in human],
    }
    rows = []
    for lessons, theorem, condition, key in CONDITIONS:
        row = {"lesson": lessons, "theorem": theorem, "needs": condition}
        row.update({name: fill[key](p, name) for name, p in props.items()})
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
    """Each single-label set (random1-3: one label per image, each image's label from one of many
    crowd workers), their majority vote (aggre) and the worst label: noise rate and accuracy."""
    names = {"random1": "random1 (1 label per image)", "random2": "random2 (1 label per image)",
             "random3": "random3 (1 label per image)", "aggre": "aggre (majority vote)",
             "worse": "worse (wrong if any is)"}
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
    """CIFAR-100N's fine classes that humans label as another class at least as often as correctly,
    with the margin T_ii - T_ij and the same in images (of the class's 500): how firm the verdict is."""
    T = human_noise.transition("noisy", "cifar100n")
    names = human_noise.class_names("cifar100n", "noisy")
    margins, images = noise.row_margins(T), human_noise.margin_counts("noisy", "cifar100n")
    rows = []
    for i in np.flatnonzero(margins <= 0):
        j = int(np.argmax(np.where(np.arange(len(T)) == i, -1.0, T[i])))
        rows.append({"true class": names[i], "T_ii": T[i, i], "most frequent wrong label": names[j], "T_ij": T[i, j],
                     "T_ii - T_ij": margins[i], "margin (images)": int(images[i])})
    return pd.DataFrame(rows)


def superclass_order() -> np.ndarray:
    """CIFAR-100's fine classes ordered by superclass (then by name): blocks of 5 along the diagonal."""
    return np.lexsort((np.arange(len(human_noise.superclass_of())), human_noise.superclass_of()))


# ----------------------------------------------------------------------------- the leaderboard

HUMAN_SECTION = "Human label noise"
SYNTHETIC_SECTION = "CIFAR-10, ResNet-34"
SYNTHETIC_100_SECTION = "CIFAR-100"
SYNTHETIC_100_COLUMNS = ("sym 0.4",)          # CIFAR-100 beside CIFAR-100N: the same overall rate (40 %)
WEBVISION = re.compile(r"mini WebVision top-1,\s*(.+?)\s*\(")
WEBVISION_NAME = "mini WebVision top-1 (%, ResNet-50, Ma et al. 2020)"
HUMAN_LABEL_SETS = {"C10N aggregate": ("aggre", "cifar10n"), "random1": ("random1", "cifar10n"),
                    "random2": ("random2", "cifar10n"), "random3": ("random3", "cifar10n"),
                    "worst": ("worse", "cifar10n"), "C100N": ("noisy", "cifar100n")}   # reference column -> label set
SYNTHETIC_KINDS = {"sym": "symmetric", "asym": "asymmetric"}
SHARED_METHODS = {"GCE": "GCE", "forward": ("Forward", "Forward-T")}   # in both reference tables


def _section(tables: dict, prefix: str) -> pd.DataFrame:
    name = next((k for k in tables if k.startswith(prefix)), None)
    if name is None:
        raise KeyError(f"data/paper_results.md has no section starting with {prefix!r}; sections: {list(tables)}")
    return tables[name]


def human_leaderboard(path=None) -> pd.DataFrame:
    """The papers' CIFAR-10N / CIFAR-100N test accuracies (%) from the reference file."""
    return _section(paper_tables(path), HUMAN_SECTION)


def synthetic_reference(path=None, section: str = SYNTHETIC_SECTION) -> pd.DataFrame:
    """The papers' CIFAR-10 (or, with ``section=SYNTHETIC_100_SECTION``, CIFAR-100) table with
    synthetic noise (%), from the same file."""
    return _section(paper_tables(path), section)


def webvision(path=None) -> pd.Series:
    """mini WebVision top-1 (%) of the APL losses, as the reference file states it in prose."""
    text = (find_data("paper_results.md") if path is None else path).read_text()
    m = WEBVISION.search(text)
    if m is None:
        raise ValueError("data/paper_results.md: no 'mini WebVision top-1, NAME NUMBER, ...' line found")
    pairs = [re.fullmatch(r"(\S+)\s+([0-9.]+)", item.strip()) for item in m.group(1).split(",")]
    return pd.Series({p.group(1): float(p.group(2)) for p in pairs if p}, name=WEBVISION_NAME)


def overall_rate(column: str, num_classes: int = 10) -> float:
    """The share of all labels that are wrong in a reference table's column: a CIFAR-N label set's
    measured rate, or for synthetic noise ("sym 0.4", "asym 0.4") the expected flip rate of the
    course's matrix (asymmetric noise flips 5 of CIFAR-10's 10 classes, so its rate is half of eta)."""
    if column in HUMAN_LABEL_SETS:
        return human_noise.noise_rate(*HUMAN_LABEL_SETS[column])
    kind, rate = column.split()
    T = noise.transition_matrix(SYNTHETIC_KINDS[kind], num_classes, float(rate))
    return noise.transition_properties(T)["expected_flip_rate"]


def _method(table: pd.DataFrame, key: str) -> str:
    names = SHARED_METHODS[key]
    return next(m for m in table.index if m in ((names,) if isinstance(names, str) else names))


def method_gaps(path=None) -> pd.DataFrame:
    """Per column of the reference tables (points): the overall noise rate, GCE minus forward
    correction (the methods the human and the synthetic tables share), and the better of the two
    minus CE where the table has a CE row (the course's copy of the human-noise table has none: NaN
    there). CIFAR-100's ``SYNTHETIC_100_COLUMNS`` stand beside CIFAR-100N."""
    human = human_leaderboard(path)
    blocks = [("human (CIFAR-N)", human, list(human.columns), None),
              ("synthetic CIFAR-10", synthetic_reference(path), list(synthetic_reference(path).columns), 10),
              ("synthetic CIFAR-100", synthetic_reference(path, SYNTHETIC_100_SECTION), list(SYNTHETIC_100_COLUMNS), 100)]
    rows = {}
    for kind, table, columns, K in blocks:
        gce, fwd = table.loc[_method(table, "GCE")], table.loc[_method(table, "forward")]
        for col in columns:
            best = max(gce[col], fwd[col])
            rows[(kind, col)] = {"overall noise rate": overall_rate(col) if K is None else overall_rate(col, K),
                                 "GCE - forward": gce[col] - fwd[col],
                                 "better of the two - CE": best - table[col].get("CE", np.nan)}
    return pd.DataFrame(rows).T


RUN_METRICS = {"final_test_acc": "final test acc.", "best_test_acc": "best test acc.",
               "final_flipped_acc_noisy": "flipped labels fitted"}


def run_table(result, metrics=RUN_METRICS) -> pd.DataFrame:
    """Per loss of a SweepResult with one noise setting: "mean ± std" (%) over seeds of each metric."""
    return pd.DataFrame({label: result.table(metric).iloc[:, 0] for metric, label in metrics.items()})


def mean_sd(values, signed: bool = False) -> str:
    """Per-seed fractions as "mean ± sd" in points (just the mean for one seed)."""
    v = PERCENT * np.asarray(values, dtype=float)
    mean = f"{v.mean():+.1f}" if signed else f"{v.mean():.1f}"
    return mean if len(v) < 2 else f"{mean} ± {v.std(ddof=1):.1f}"


def gains_over_ce(result, metric: str = "final_test_acc") -> dict:
    """Per loss of ``result`` except CE: its per-seed ``metric`` minus CE's (paired by seed)."""
    ce = per_seed(result.results, metric, loss="ce")
    return {loss: per_seed(result.results, metric, loss=loss) - ce for loss in _losses(result) if loss != "ce"}


def unclaimed_gain_changes(ccn, idn, metric: str = "final_test_acc") -> str:
    """One line per loss of both runs: how its gain over CE changes from class-conditional to
    instance-dependent noise (points, paired by seed), printed as not claimed: too small against the
    seed spread to state at this size."""
    a, b = gains_over_ce(ccn, metric), gains_over_ce(idn, metric)
    lines = []
    for loss in (loss for loss in b if loss in a):
        d = PERCENT * (b[loss] - a[loss])
        lines.append(f"  not claimed: {loss}'s gain over CE changes by {mean_sd(d / PERCENT, signed=True)} points "
                     f"({len(d)} seeds: {', '.join(f'{x:+.1f}' for x in d)})")
    return "\n".join(lines)


def course_table(ccn, idn, metric: str = "final_test_acc") -> pd.DataFrame:
    """The losses both runs have: ``metric`` "mean ± sd" (%) under class-conditional and
    instance-dependent noise with the human T, each one's gain over CE (points, paired by seed:
    "mean ± sd" of the per-seed differences), and the change of that gain between the two noises."""
    losses = [loss for loss in _losses(idn) if loss in _losses(ccn)]
    gains = {name: gains_over_ce(res, metric) for name, res in (("class-conditional", ccn), ("instance-dependent", idn))}
    out = {}
    for name, res in (("class-conditional", ccn), ("instance-dependent", idn)):
        out[(name, "%")] = res.table(metric).iloc[:, 0].reindex(losses)
        out[(name, "gain over CE")] = pd.Series({loss: mean_sd(gains[name][loss], signed=True) if loss in gains[name]
                                                 else "" for loss in losses})
    out[("gain change", "points")] = pd.Series(
        {loss: mean_sd(gains["instance-dependent"][loss] - gains["class-conditional"][loss], signed=True)
         if loss != "ce" else "" for loss in losses})
    return pd.DataFrame(out)


def estimated_diagonal(result, loss: str = "forward(T-hat)") -> np.ndarray:
    """Per seed (in seed order): the mean diagonal of the run's estimated T-hat (1 = the identity)."""
    runs = sorted((r for r in result.results if r["label"]["loss"] == loss), key=lambda r: r["config"]["seed"])
    return np.array([np.diag(np.asarray(r["transition_estimated"], dtype=float)).mean() for r in runs])


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
