"""Derive the small CIFAR-N tables in data/cifar-n/ from the real human label files.

    python tools/derive_cifar_n.py [SOURCE_DIR] [--out DIR]

SOURCE_DIR holds ``CIFAR-10_human.pt`` and ``CIFAR-100_human.pt`` (Wei et al., ICLR 2022; CC BY-NC
4.0); default: the first of ``SHARED_DIRS`` that exists. A file whose SHA-256 differs from the one
pinned in ``nblib.data.FILES`` is refused, so the tables always describe the official files. The
files are read with ``nblib.data.read_cifar_n_labels`` (safe, validated; no images needed).

Written to ``--out`` (default data/cifar-n/), as JSON with one matrix row per line (diffable):
- cifar10n.json: per label set (aggre, random1-3, worse) the count matrix C[i, j] = #(clean i,
  human j), per-class and overall noise rates;
- cifar10n_annotators.json: how the three random annotators agree, how often each one, their
  majority vote (aggre) and the worst label are right, by agreement pattern and by class;
- cifar100n.json: the 100x100 fine and 20x20 superclass count matrices, their rates, and how many
  wrong fine labels stay inside the true superclass.
The course reads them back with ``nblib.human_noise``; the project never reads SOURCE_DIR at run time.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from nblib import data
from nblib.noise import CIFAR100_FINE_NAMES, CIFAR100_SUPERCLASS_NAMES

REPO = Path(__file__).resolve().parents[1]
# the shared folder beside the checkout (../shared), or the machine-wide one
SHARED_DIRS = (REPO.parent / "shared" / "data" / "cifar-n", Path("/work/shared/data/cifar-n"))
OUT_DIR = REPO / "data" / "cifar-n"
RATE_DIGITS = 6      # rates are rounded for reading; the counts beside them are exact
ANNOTATORS = ("random1", "random2", "random3")
SOURCE = {"cifar10n": "CIFAR-10_human.pt", "cifar100n": "CIFAR-100_human.pt"}
ATTRIBUTION = ("J. Wei, Z. Zhu, H. Cheng, T. Liu, G. Niu, Y. Liu, \"Learning with Noisy Labels "
               "Revisited: A Study Using Real-World Human Annotations\", ICLR 2022. Labels and these "
               "derived tables: CC BY-NC 4.0.")
# CIFAR-100N: label set -> (noisy key, clean key, the table's list of the names its classes have)
CIFAR100N_SETS = {"noisy": ("noisy_label", "clean_label", "classes"),
                  "noisy_coarse": ("noisy_coarse_label", "clean_coarse_label", "superclasses")}


class SourceError(RuntimeError):
    """A label file is missing or is not the official one (its SHA-256 differs)."""


def find_source_dir() -> Path | None:
    """The first of ``SHARED_DIRS`` that holds both label files, else None."""
    return next((d for d in SHARED_DIRS if all((d / f).is_file() for f in SOURCE.values())), None)


def rate(part: int, whole: int) -> float:
    return round(part / whole, RATE_DIGITS)


def source_entry(dataset: str, folder: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The label file of ``dataset`` in ``folder``, checked against the pinned SHA-256, and its labels."""
    (pinned,) = data.FILES[dataset]
    path = folder / pinned.filename
    if not path.is_file():
        raise SourceError(f"{path} not found: pass the folder holding {', '.join(SOURCE.values())}")
    actual = data.sha256sum(path)
    if actual != pinned.sha256:
        raise SourceError(f"{path} has sha256 {actual}, not the {pinned.sha256} pinned in nblib.data."
                          f"FILES[{dataset!r}]: it is not the official file ({pinned.url}); refusing it")
    entry = {"file": pinned.filename, "url": pinned.url, "sha256": actual, "attribution": ATTRIBUTION}
    return entry, data.read_cifar_n_labels(path, dataset)


def label_set_table(clean: np.ndarray, noisy: np.ndarray, key: str, names: str, k: int) -> dict:
    """Count matrix C[i, j] = #(clean i, noisy j) with its per-class and overall noise rates."""
    c = np.bincount(clean * k + noisy, minlength=k * k).reshape(k, k)
    per_class, wrong = c.sum(1), c.sum(1) - np.diag(c)
    return {"key": key, "names": names, "errors": int(wrong.sum()),
            "noise_rate": rate(int(wrong.sum()), len(clean)),
            "class_noise_rates": [rate(int(w), int(n)) for w, n in zip(wrong, per_class)],
            "counts": c.tolist()}


def cifar10n_tables(source: dict, labels: dict[str, np.ndarray]) -> dict:
    clean, k = labels["clean_label"], len(data.CIFAR10_CLASSES)
    return {"dataset": "cifar10n", "source": source, "num_images": len(clean),
            "classes": list(data.CIFAR10_CLASSES),
            "class_counts": np.bincount(clean, minlength=k).tolist(),
            "label_sets": {short: label_set_table(clean, labels[key], key, "classes", k)
                           for short, key in data.CIFAR10N_KEYS.items()}}


def agreement_pattern(votes: np.ndarray) -> np.ndarray:
    """Per image, the size of the largest group of annotators that gave the same label (1, 2 or 3)."""
    same = sum((votes[:, a] == votes[:, b]).astype(int) for a, b in itertools.combinations(range(3), 2))
    return np.select([same == 3, same == 1], [3, 2], 1)  # 3 equal pairs: all agree; 1 pair: two agree


def annotator_tables(source: dict, labels: dict[str, np.ndarray]) -> dict:
    """What aggregation buys: the three annotators, their majority vote (aggre) and the worst label."""
    clean, n, k = labels["clean_label"], len(labels["clean_label"]), len(data.CIFAR10_CLASSES)
    votes = np.stack([labels[data.CIFAR10N_KEYS[a]] for a in ANNOTATORS], axis=1)
    right = votes == clean[:, None]
    num_right = right.sum(1)
    aggre, worse = labels[data.CIFAR10N_KEYS["aggre"]], labels[data.CIFAR10N_KEYS["worse"]]
    pattern = agreement_pattern(votes)
    by_pattern = {}
    for size in (3, 2, 1):
        s = pattern == size
        by_pattern[f"{size}/3"] = {
            "images": int(s.sum()), "aggre_correct": int((aggre[s] == clean[s]).sum()),
            "aggre_accuracy": rate(int((aggre[s] == clean[s]).sum()), int(s.sum())),
            "num_correct": np.bincount(num_right[s], minlength=4).tolist()}
    majority = np.where(votes[:, 0] == votes[:, 1], votes[:, 0], votes[:, 2])  # valid where pattern >= 2
    has_majority = pattern >= 2
    patterns = {"".join("R" if r else "W" for r in combo): int(np.all(right == combo, axis=1).sum())
                for combo in itertools.product((True, False), repeat=3)}
    return {
        "dataset": "cifar10n", "source": source, "num_images": n, "annotators": list(ANNOTATORS),
        "classes": list(data.CIFAR10_CLASSES),
        "annotator_correct": {a: int(right[:, i].sum()) for i, a in enumerate(ANNOTATORS)},
        "annotator_accuracy": {a: rate(int(right[:, i].sum()), n) for i, a in enumerate(ANNOTATORS)},
        "by_agreement": by_pattern,
        "num_correct": np.bincount(num_right, minlength=4).tolist(),
        "correct_patterns": patterns,
        "num_correct_by_class": [np.bincount(num_right[clean == c], minlength=4).tolist() for c in range(k)],
        "aggre": {"correct": int((aggre == clean).sum()), "accuracy": rate(int((aggre == clean).sum()), n),
                  "with_majority": int(has_majority.sum()),
                  "equals_majority": int((aggre == majority)[has_majority].sum()),
                  "ties": int((~has_majority).sum()),
                  "tie_picks_an_annotator": int((aggre[:, None] == votes).any(1)[~has_majority].sum())},
        "worse": {"wrong": int((worse != clean).sum()),
                  "some_annotator_wrong": int((num_right < 3).sum()),
                  "wrong_exactly_when_some_annotator_wrong": bool(np.array_equal(worse != clean, num_right < 3)),
                  "picks_an_annotator": int((worse[:, None] == votes).any(1).sum())},
    }


def cifar100n_tables(source: dict, labels: dict[str, np.ndarray]) -> dict:
    clean, noisy = labels["clean_label"], labels["noisy_label"]
    superclass_of = np.asarray(data.CIFAR100_SUPERCLASS_OF)
    wrong = noisy != clean
    within = int((wrong & (superclass_of[noisy] == superclass_of[clean])).sum())
    errors, n = int(wrong.sum()), len(clean)
    names = {"classes": CIFAR100_FINE_NAMES, "superclasses": tuple(CIFAR100_SUPERCLASS_NAMES)}
    return {"dataset": "cifar100n", "source": source, "num_images": n,
            "classes": list(names["classes"]), "superclasses": list(names["superclasses"]),
            "superclass_of": list(data.CIFAR100_SUPERCLASS_OF),
            "class_counts": np.bincount(clean, minlength=len(names["classes"])).tolist(),
            "label_sets": {short: label_set_table(labels[clean_key], labels[key], key, kind, len(names[kind]))
                           for short, (key, clean_key, kind) in CIFAR100N_SETS.items()},
            "fine_errors": {"errors": errors, "within_superclass": within, "across_superclasses": errors - within,
                            "share_within": rate(within, errors), "rate_within": rate(within, n),
                            "rate_across": rate(errors - within, n)}}


def to_json(obj, level: int = 0) -> str:
    """JSON with one key per line and one matrix row per line: small, and a diff shows what changed."""
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(obj, dict):
        return "{\n" + ",\n".join(f"{inner}{json.dumps(k)}: {to_json(v, level + 1)}"
                                  for k, v in obj.items()) + f"\n{pad}}}"
    if isinstance(obj, list) and obj and isinstance(obj[0], list):
        return "[\n" + ",\n".join(inner + to_json(row, level + 1) for row in obj) + f"\n{pad}]"
    return json.dumps(obj)


def derive(source_dir: Path, out_dir: Path) -> dict[str, Path]:
    """Write the three tables into ``out_dir``; return {file name: path}."""
    src10, labels10 = source_entry("cifar10n", source_dir)
    src100, labels100 = source_entry("cifar100n", source_dir)
    tables = {"cifar10n.json": cifar10n_tables(src10, labels10),
              "cifar10n_annotators.json": annotator_tables(src10, labels10),
              "cifar100n.json": cifar100n_tables(src100, labels100)}
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, table in tables.items():
        paths[name] = out_dir / name
        paths[name].write_text(to_json(table) + "\n")
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", nargs="?", type=Path,
                        help=f"folder with {' and '.join(SOURCE.values())} (default: {SHARED_DIRS[0]}, "
                             f"else {SHARED_DIRS[1]})")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"output folder (default {OUT_DIR})")
    args = parser.parse_args(argv)
    source_dir = args.source or find_source_dir()
    if source_dir is None:
        print(f"no CIFAR-N label files in {' or '.join(map(str, SHARED_DIRS))}: pass their folder",
              file=sys.stderr)
        return 2
    try:
        paths = derive(source_dir, args.out)
    except (SourceError, data.DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for name, path in paths.items():
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
