"""Tests of nblib.human_noise and the CIFAR-N tables it reads (data/cifar-n/).

The tables are checked against each other and against the rates the CIFAR-N paper publishes; where
the real label files are present (the shared data folder), the derivation is rerun and must
reproduce the committed files byte for byte.
"""
import numpy as np
import pytest

from nblib import data, human_noise
from nblib._paths import find_data
from nblib.noise import CIFAR100_FINE_NAMES, CIFAR100_SUPERCLASS_NAMES

CIFAR10N_SETS = ("aggre", "worse", "random1", "random2", "random3")
# the CIFAR-N paper's noise rates (to 4 decimals; the tables hold them exactly)
PAPER_RATES = {("cifar10n", "aggre"): 0.0901, ("cifar10n", "random1"): 0.1723,
               ("cifar10n", "random2"): 0.1812, ("cifar10n", "random3"): 0.1764,
               ("cifar10n", "worse"): 0.4021, ("cifar100n", "noisy"): 0.4020}
ALL_SETS = [("cifar10n", s) for s in CIFAR10N_SETS] + [("cifar100n", "noisy"), ("cifar100n", "noisy_coarse")]
TABLES = ("cifar10n.json", "cifar10n_annotators.json", "cifar100n.json")
MAX_TOTAL_BYTES = 200_000
ROUNDING = 5e-7  # the tables round rates to 6 decimals


def test_tables_ship_small():
    paths = [find_data(f"cifar-n/{name}") for name in TABLES]
    assert all(p.is_file() for p in paths)
    assert sum(p.stat().st_size for p in paths) < MAX_TOTAL_BYTES
    assert (paths[0].parent / "README.md").is_file()


def test_label_sets_and_names():
    assert human_noise.label_sets() == CIFAR10N_SETS == tuple(data.CIFAR10N_KEYS)
    assert human_noise.label_sets("cifar100n") == ("noisy", "noisy_coarse")
    assert human_noise.class_names() == list(data.CIFAR10_CLASSES)
    assert human_noise.class_names("cifar100n") == list(CIFAR100_FINE_NAMES)
    assert human_noise.class_names("cifar100n", "noisy") == list(CIFAR100_FINE_NAMES)
    assert human_noise.class_names("cifar100n", "noisy_coarse") == list(CIFAR100_SUPERCLASS_NAMES)
    assert human_noise.superclass_of().tolist() == list(data.CIFAR100_SUPERCLASS_OF)


@pytest.mark.parametrize("dataset, label_set", ALL_SETS)
def test_counts_rates_and_transition_agree(dataset, label_set):
    c = human_noise.counts(label_set, dataset)
    k = len(human_noise.class_names(dataset, label_set))
    assert c.shape == (k, k) and c.dtype == np.int64 and c.min() >= 0
    assert c.sum(axis=1).tolist() == [50_000 // k] * k  # every class has the same number of images
    T = human_noise.transition(label_set, dataset)
    assert T.dtype == np.float64 and np.allclose(T.sum(axis=1), 1, atol=1e-12)
    assert human_noise.noise_rate(label_set, dataset) == pytest.approx(1 - np.trace(c) / c.sum(), abs=ROUNDING)
    assert np.allclose(human_noise.class_noise_rates(label_set, dataset), 1 - np.diag(T), atol=ROUNDING)


def test_cifar10n_class_counts_are_5000():
    for label_set in CIFAR10N_SETS:
        assert human_noise.counts(label_set).sum(axis=1).tolist() == [5000] * 10


@pytest.mark.parametrize("key, expected", PAPER_RATES.items())
def test_noise_rates_are_the_papers(key, expected):
    dataset, label_set = key
    assert human_noise.noise_rate(label_set, dataset) == pytest.approx(expected, abs=5e-5)


def test_worse_is_diagonally_dominant_with_the_known_confusions():
    T, names = human_noise.transition("worse"), human_noise.class_names()
    off = T - np.diag(np.diag(T))
    assert np.all(np.diag(T) > off.max(axis=1))  # every row: the true class is the likeliest label
    assert names[int(np.argmin(np.diag(T)))] == "cat"
    top = {names[i]: names[int(np.argmax(off[i]))] for i in range(10)}
    assert top["automobile"] == "truck" and top["truck"] == "automobile"
    assert top["cat"] == "dog" and top["dog"] == "cat" and top["deer"] == "horse"
    i = names.index
    assert T[i("automobile"), i("truck")] == pytest.approx(0.247, abs=5e-4)
    assert T[i("cat"), i("dog")] == pytest.approx(0.206, abs=5e-4)


def test_cifar100n_superclass_matrix_is_the_fine_one_pooled():
    fine, coarse, of = human_noise.counts("noisy", "cifar100n"), human_noise.counts("noisy_coarse", "cifar100n"), \
        human_noise.superclass_of()
    pooled = np.zeros((20, 20), np.int64)
    np.add.at(pooled, (of[:, None], of[None, :]), fine)
    assert np.array_equal(pooled, coarse)
    s = human_noise.superclass_noise()
    same = of[:, None] == of[None, :]
    within = int(fine[same].sum() - np.trace(fine))
    assert s["within_superclass"] == within and s["across_superclasses"] == int(fine[~same].sum())
    assert s["errors"] == within + s["across_superclasses"] == int(fine.sum() - np.trace(fine))
    assert s["rate_across"] == pytest.approx(human_noise.noise_rate("noisy_coarse", "cifar100n"), abs=ROUNDING)
    assert s["share_within"] == pytest.approx(within / s["errors"], abs=ROUNDING)


def test_agreement_is_consistent_with_the_label_sets():
    a = human_noise.agreement()
    n = a["num_images"]
    groups = a["by_agreement"]
    assert list(groups) == ["3/3", "2/3", "1/3"] and sum(g["images"] for g in groups.values()) == n
    assert np.sum([g["num_correct"] for g in groups.values()], axis=0).tolist() == a["num_correct"]
    assert sum(g["aggre_correct"] for g in groups.values()) == a["aggre"]["correct"]
    c = human_noise.counts
    assert a["aggre"]["correct"] == np.trace(c("aggre"))
    assert a["worse"]["wrong"] == a["worse"]["some_annotator_wrong"] == n - np.trace(c("worse"))
    assert a["worse"]["wrong_exactly_when_some_annotator_wrong"]
    assert a["aggre"]["equals_majority"] == a["aggre"]["with_majority"] == n - groups["1/3"]["images"]
    patterns = a["correct_patterns"]
    assert sum(patterns.values()) == n and patterns["RRR"] == a["num_correct"][3]
    for i, annotator in enumerate(a["annotators"]):
        right = sum(v for p, v in patterns.items() if p[i] == "R")
        assert right == a["annotator_correct"][annotator] == np.trace(c(annotator))
    by_class = np.array(a["num_correct_by_class"])
    assert by_class.sum(axis=0).tolist() == a["num_correct"] and by_class.sum(axis=1).tolist() == [5000] * 10
    # aggregation buys: the majority vote is right more often than any single annotator
    assert a["aggre"]["accuracy"] > max(a["annotator_accuracy"].values())


def test_tables_name_the_pinned_source_files():
    for name in ("cifar10n", "cifar100n"):
        assert human_noise._table(name)["source"]["sha256"] == data.FILES[name][0].sha256
    assert human_noise.agreement()["source"]["sha256"] == data.FILES["cifar10n"][0].sha256


def test_results_are_copies():
    human_noise.counts()[0, 0] = -1
    human_noise.agreement()["num_correct"][0] = -1
    assert human_noise.counts()[0, 0] >= 0 and human_noise.agreement()["num_correct"][0] >= 0


@pytest.mark.parametrize("call, message", [
    (lambda: human_noise.transition("worst"), "unknown label_set 'worst'; choose one of: aggre, worse"),
    (lambda: human_noise.transition("worse", "cifar100n"), "label_set 'worse'; choose one of: noisy, noisy_coarse"),
    (lambda: human_noise.counts("aggre", "cifar10"), "unknown dataset 'cifar10'; choose one of: cifar10n, cifar100n"),
    (lambda: human_noise.class_names("cifar100n", "fine"), "label_set 'fine'"),
])
def test_bad_arguments_name_the_choices(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_missing_tables_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr(human_noise, "find_data", lambda relative: tmp_path / relative)
    human_noise._read.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match="derive_cifar_n.py"):
            human_noise.transition()
    finally:
        human_noise._read.cache_clear()


# ----------------------------------------------------------------------------- the derivation script

def test_derivation_reproduces_the_committed_tables(cifar_n_dir, derive_cifar_n, tmp_path):
    paths = derive_cifar_n.derive(cifar_n_dir, tmp_path)
    assert sorted(paths) == sorted(TABLES)
    for name, path in paths.items():
        assert path.read_bytes() == find_data(f"cifar-n/{name}").read_bytes(), name


def test_derivation_refuses_an_unofficial_file(derive_cifar_n, tmp_path, capsys):
    for f in derive_cifar_n.SOURCE.values():
        (tmp_path / f).write_bytes(b"not the official file")
    with pytest.raises(derive_cifar_n.SourceError, match="sha256 .* pinned in nblib.data"):
        derive_cifar_n.derive(tmp_path, tmp_path / "out")
    assert derive_cifar_n.main([str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    assert "refusing it" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_agreement_pattern_counts_the_largest_group(derive_cifar_n):
    votes = np.array([[1, 1, 1], [1, 1, 2], [1, 2, 1], [2, 1, 1], [0, 1, 2]])
    assert derive_cifar_n.agreement_pattern(votes).tolist() == [3, 2, 2, 2, 1]
