"""Real human label noise: the CIFAR-10N / CIFAR-100N tables shipped in data/cifar-n/.

CIFAR-N (Wei et al., ICLR 2022; CC BY-NC 4.0) gives every CIFAR training image its clean label
and labels from human annotators. A lesson on real noise needs what those labels say about the
noise, not the 50000 labels themselves, so ``tools/derive_cifar_n.py`` reduces the official label
files to small tables (see data/cifar-n/README.md). This module reads them back: no label file,
image or network is needed.

Label sets (``label_sets(dataset)``):
- cifar10n: ``aggre`` (majority vote of three annotators, 9.0 % wrong), ``random1``-``random3``
  (one annotator each, ~17-18 %), ``worse`` (a wrong annotator's label whenever there is one, 40 %);
- cifar100n: ``noisy`` (one annotator, 100 fine classes, 40 %) and ``noisy_coarse`` (the same
  labels mapped to the 20 superclasses).

Convention as in :mod:`nblib.noise`: ``T[i, j] = P(human label j | true class i)``, the count
matrix ``C[i, j] = #(clean i, human j)`` normalised by rows.
"""
from __future__ import annotations

import copy
import functools
import json

import numpy as np

from nblib._checks import check_choice
from nblib._paths import find_data

DATASETS = ("cifar10n", "cifar100n")
TABLE_DIR = "cifar-n"                      # under data/
ANNOTATOR_TABLE = "cifar10n_annotators.json"
DERIVE_COMMAND = "python tools/derive_cifar_n.py"


@functools.lru_cache(maxsize=None)
def _read(filename: str) -> dict:
    """One table of data/cifar-n/, parsed once per process (callers get copies)."""
    path = find_data(f"{TABLE_DIR}/{filename}")
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the CIFAR-N tables ship in the repository's "
                                f"data/{TABLE_DIR}/ (run from a checkout, or regenerate them from the "
                                f"label files with `{DERIVE_COMMAND}`)")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _table(dataset: str) -> dict:
    return _read(f"{check_choice('dataset', dataset, DATASETS)}.json")


def _label_set(label_set: str, dataset: str) -> dict:
    sets = _table(dataset)["label_sets"]
    return sets[check_choice("label_set", label_set, sets)]


def label_sets(dataset: str = "cifar10n") -> tuple[str, ...]:
    """The label sets of ``dataset``, e.g. ``("aggre", "worse", "random1", "random2", "random3")``."""
    return tuple(_table(dataset)["label_sets"])


def counts(label_set: str = "worse", dataset: str = "cifar10n") -> np.ndarray:
    """(K, K) int64 count matrix ``C[i, j]`` = how many images of true class i got human label j."""
    return np.array(_label_set(label_set, dataset)["counts"], dtype=np.int64)


def transition(label_set: str = "worse", dataset: str = "cifar10n") -> np.ndarray:
    """(K, K) float64 row-stochastic ``T[i, j] = P(human label j | true class i)``: ``counts`` / row sums.

    >>> transition("worse").shape
    (10, 10)
    """
    c = counts(label_set, dataset).astype(np.float64)
    return c / c.sum(axis=1, keepdims=True)


def margin_counts(label_set: str = "worse", dataset: str = "cifar10n") -> np.ndarray:
    """(K,) int64 per true class i, ``C[i, i] - max_{j != i} C[i, j]``: by how many images the true
    class leads (> 0) or trails (<= 0) the most frequent wrong label; ``nblib.noise.row_margins`` of
    ``transition`` in images, so a verdict "T_ii > T_ij" that rests on a handful of images shows."""
    C = counts(label_set, dataset)
    off = np.where(np.eye(len(C), dtype=bool), np.iinfo(np.int64).min, C)
    return np.diag(C) - off.max(axis=1)


def noise_rate(label_set: str = "worse", dataset: str = "cifar10n") -> float:
    """Share of all training labels of ``label_set`` that differ from the clean label."""
    return float(_label_set(label_set, dataset)["noise_rate"])


def class_noise_rates(label_set: str = "worse", dataset: str = "cifar10n") -> np.ndarray:
    """(K,) share of wrong labels among the images of each true class, 1 - diag(T) (rounded to 1e-6)."""
    return np.array(_label_set(label_set, dataset)["class_noise_rates"], dtype=np.float64)


def class_names(dataset: str = "cifar10n", label_set: str | None = None) -> list[str]:
    """Names of the classes that index ``label_set``'s matrices (None: the dataset's classes).

    For cifar100n, ``noisy`` is indexed by the 100 fine classes, ``noisy_coarse`` by the 20 superclasses.
    """
    table = _table(dataset)
    key = "classes" if label_set is None else _label_set(label_set, dataset)["names"]
    return list(table[key])


def superclass_of() -> np.ndarray:
    """(100,) int64: the superclass index of each CIFAR-100 fine class (``class_names("cifar100n")``)."""
    return np.array(_table("cifar100n")["superclass_of"], dtype=np.int64)


def superclass_noise() -> dict:
    """CIFAR-100N: how many wrong fine labels stay inside the true superclass and how many leave it.

    Keys: ``errors``, ``within_superclass``, ``across_superclasses`` (image counts), ``share_within``
    (of the errors), ``rate_within`` and ``rate_across`` (of all images).
    """
    return dict(_table("cifar100n")["fine_errors"])


def agreement() -> dict:
    """CIFAR-10N's three annotators: how they agree and how often each, and their votes, are right.

    Keys (counts are exact, rates rounded to 1e-6): ``annotator_correct`` / ``annotator_accuracy``
    per annotator; ``by_agreement``: for "3/3", "2/3", "1/3" (the largest group of annotators giving
    one label) the ``images``, how often ``aggre`` is right there and ``num_correct`` (images with
    0, 1, 2, 3 annotators right); ``num_correct`` and ``num_correct_by_class`` (rows: true class);
    ``correct_patterns`` (e.g. "RWR": annotators 1 and 3 right, 2 wrong); ``aggre`` (majority vote:
    ties, and whether it equals the majority) and ``worse`` (wrong exactly when some annotator is).
    """
    return copy.deepcopy(_read(ANNOTATOR_TABLE))


def confusions(label_set: str = "worse", dataset: str = "cifar10n", top: int = 8) -> list[dict]:
    """The ``top`` largest off-diagonal entries of ``label_set``'s T, largest first.

    Each is ``{"true": name, "label": name, "rate": T[i, j], "count": C[i, j]}``: the share and the
    number of images of true class ``true`` that the humans labelled ``label``.
    """
    from nblib._checks import check_int

    top = check_int("top", top, 1)
    C = counts(label_set, dataset)
    T = transition(label_set, dataset)
    names = class_names(dataset, label_set)
    off = np.where(np.eye(len(T), dtype=bool), -1.0, T)
    order = np.argsort(-off, axis=None, kind="stable")[:top]
    return [{"true": names[k // len(T)], "label": names[k % len(T)], "rate": float(T.flat[k]), "count": int(C.flat[k])}
            for k in order]


def joint_errors() -> dict:
    """CIFAR-10N: how many images 0, 1, 2, 3 of the three annotators got wrong, observed and if they
    had erred independently given the true class (each with its own per-class error rates):
    ``{"observed": (4,) ints, "independent": (4,) floats}`` (see ``nblib.noise.independent_wrong_counts``).

    The observed counts far from the independent ones in both tails (more images all wrong, more
    all right) say that the annotators' errors depend on the image, not only on its class.
    """
    from nblib.noise import independent_wrong_counts

    table = _read(ANNOTATOR_TABLE)
    rates = np.array([class_noise_rates(a) for a in table["annotators"]])
    right = np.array(table["num_correct_by_class"], dtype=np.int64)     # (K, 4): images with 0..3 right
    observed = right.sum(axis=0)[::-1]                                   # images with 0..3 wrong
    return {"observed": observed, "independent": independent_wrong_counts(rates, right.sum(axis=1))}


def within_superclass_if_uniform() -> float:
    """CIFAR-100: the share of wrong fine labels that would stay inside the true superclass if a wrong
    label were drawn uniformly from the other 99 classes: (superclass size - 1) / 99, averaged over
    the classes (4/99 = 0.040, every superclass has 5 classes). Compare ``superclass_noise()["share_within"]``."""
    sup = superclass_of()
    size = np.bincount(sup)[sup]              # the size of each fine class's superclass
    return float(np.mean((size - 1) / (len(sup) - 1)))
