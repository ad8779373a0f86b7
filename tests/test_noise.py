"""Tests of nblib.noise: transition matrices, label corruption, realised rates."""
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from nblib import noise
from nblib.noise import (ASYMMETRIC_MAPS, CIFAR10_CLASSES, CIFAR100_FINE_NAMES, CIFAR100_SUPERCLASS_NAMES,
                         CIFAR100_SUPERCLASSES, NOISE_KINDS, corrupt_labels, empirical_transition,
                         expected_flip_rate, noise_summary, realised_rate, transition_matrix)

FAST = settings(max_examples=40, deadline=None)
MAP_MIN_K = {"mnist": 9, "digits": 9, "cifar10": 10, "cifar100": 100}
rates = st.integers(0, 100).map(lambda r: r / 100)  # realistic rates on a grid of 0.01


def T_quiet(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return transition_matrix(*args, **kw)


def round_half_up(x):
    return math.floor(x + 0.5 + 1e-9)


def balanced_labels(K, n):
    return np.repeat(np.arange(K), n)


# ---------------------------------------------------------------- transition matrices
@FAST
@given(kind=st.sampled_from(NOISE_KINDS), extra=st.integers(0, 20), rate=rates,
       include_true=st.booleans(), mapping=st.sampled_from(sorted(ASYMMETRIC_MAPS)))
def test_rows_sum_to_one(kind, extra, rate, include_true, mapping):
    K = (MAP_MIN_K[mapping] if kind == "asymmetric" else 2) + extra
    T = T_quiet(kind, K, rate, include_true=include_true, mapping=mapping)
    assert T.shape == (K, K) and T.dtype == np.float64
    assert np.all(T >= 0) and np.allclose(T.sum(1), 1, atol=1e-12)


@pytest.mark.parametrize("K, rate", [(2, 0.3), (10, 0.4), (100, 0.8)])
def test_symmetric_formula(K, rate):
    T = transition_matrix("symmetric", K, rate)
    assert np.allclose(np.diag(T), 1 - rate)
    assert np.allclose(T[~np.eye(K, dtype=bool)], rate / (K - 1))
    assert expected_flip_rate(T) == pytest.approx(rate)


def test_symmetric_include_true():
    K, rate = 10, 0.5
    T = transition_matrix("symmetric", K, rate, include_true=True)
    assert np.allclose(np.diag(T), 1 - rate + rate / K)
    assert np.allclose(T[0, 1:], rate / K)
    assert expected_flip_rate(T) == pytest.approx(rate * (K - 1) / K)  # realised rate is smaller


def test_pair():
    T = transition_matrix("pair", 5, 0.3)
    for i in range(5):
        assert T[i, i] == pytest.approx(0.7) and T[i, (i + 1) % 5] == pytest.approx(0.3)
    assert np.count_nonzero(T) == 10


@pytest.mark.parametrize("mapping, pairs", [
    ("mnist", {7: 1, 2: 7, 5: 6, 6: 5, 3: 8}),
    ("digits", {7: 1, 2: 7, 5: 6, 6: 5, 3: 8}),
    ("cifar10", {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}),
])
def test_asymmetric_maps(mapping, pairs):
    rate = 0.4
    T = transition_matrix("asymmetric", 10, rate, mapping=mapping)
    expected = np.eye(10)
    for src, dst in pairs.items():
        expected[src, src], expected[src, dst] = 1 - rate, rate
    np.testing.assert_allclose(T, expected)


def test_cifar10_names_match_the_map():
    named = {CIFAR10_CLASSES[s]: CIFAR10_CLASSES[d] for s, d in ASYMMETRIC_MAPS["cifar10"].items()}
    assert named == {"truck": "automobile", "bird": "airplane", "deer": "horse", "cat": "dog", "dog": "cat"}


def test_cifar100_superclasses_partition():
    assert len(CIFAR100_FINE_NAMES) == 100 and list(CIFAR100_FINE_NAMES) == sorted(CIFAR100_FINE_NAMES)
    assert len(CIFAR100_SUPERCLASSES) == 20 and all(len(g) == 5 for g in CIFAR100_SUPERCLASSES)
    assert sorted(i for g in CIFAR100_SUPERCLASSES for i in g) == list(range(100))
    for g, names in zip(CIFAR100_SUPERCLASSES, CIFAR100_SUPERCLASS_NAMES.values()):
        assert {CIFAR100_FINE_NAMES[i] for i in g} == set(names)
    people = CIFAR100_SUPERCLASSES[list(CIFAR100_SUPERCLASS_NAMES).index("people")]
    assert [CIFAR100_FINE_NAMES[i] for i in people] == ["baby", "boy", "girl", "man", "woman"]


def test_cifar100_noise_stays_in_superclass_cyclically():
    T = transition_matrix("asymmetric", 100, 0.2, mapping="cifar100")
    coarse = {i: c for c, g in enumerate(CIFAR100_SUPERCLASSES) for i in g}
    for i in range(100):
        j = [j for j in np.flatnonzero(T[i]) if j != i]
        assert len(j) == 1 and coarse[j[0]] == coarse[i] and T[i, j[0]] == pytest.approx(0.2)
    # following the map 5 times from any class comes back to it (a 5-cycle per superclass)
    m = ASYMMETRIC_MAPS["cifar100"]
    for g in CIFAR100_SUPERCLASSES:
        orbit = [g[0]]
        for _ in range(4):
            orbit.append(m[orbit[-1]])
        assert sorted(orbit) == list(g) and m[orbit[-1]] == g[0]


def test_custom_mapping_dict():
    T = transition_matrix("asymmetric", 3, 0.25, mapping={0: 2})
    np.testing.assert_allclose(T, [[0.75, 0, 0.25], [0, 1, 0], [0, 0, 1]])


def test_warns_when_true_class_not_most_likely():
    with pytest.warns(UserWarning, match="T\\[i, i\\] <= T\\[i, j\\]"):
        transition_matrix("pair", 10, 0.6)
    with pytest.warns(UserWarning):
        transition_matrix("symmetric", 10, 0.95)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        transition_matrix("symmetric", 10, 0.8)
        transition_matrix("asymmetric", 10, 0.45)


@pytest.mark.parametrize("args, kw, match", [
    (("gaussian", 10, 0.2), {}, "kind"),
    (("symmetric", 1, 0.2), {}, "num_classes"),
    (("symmetric", 10, 1.5), {}, "rate"),
    (("pair", 10, -0.1), {}, "rate"),
    (("asymmetric", 10, 0.2), {"mapping": "svhn"}, "mapping"),
    (("asymmetric", 8, 0.2), {"mapping": "mnist"}, "mapping classes"),
    (("asymmetric", 10, 0.2), {"mapping": "cifar100"}, "mapping classes"),
    (("asymmetric", 10, 0.2), {"mapping": {3: 3}}, "mapping"),
])
def test_transition_matrix_bad_input(args, kw, match):
    with pytest.raises(ValueError, match=match):
        transition_matrix(*args, **kw)


def test_num_classes_must_be_int():
    with pytest.raises(TypeError, match="num_classes"):
        transition_matrix("symmetric", 10.0, 0.2)


# ---------------------------------------------------------------- corruption
@FAST
@given(kind=st.sampled_from(["symmetric", "pair"]), K=st.integers(2, 12), n=st.integers(1, 60),
       rate=rates, seed=st.integers(0, 2**31))
def test_exact_flips_round_rate_n_per_class(kind, K, n, rate, seed):
    T = T_quiet(kind, K, rate)
    y = np.random.default_rng(seed).permutation(balanced_labels(K, n))
    noisy, flipped = corrupt_labels(y, T, seed=seed, exact=True)
    assert np.array_equal(flipped, noisy != y)
    assert np.all(np.bincount(y[flipped], minlength=K) == round_half_up(rate * n))
    emp = empirical_transition(y, noisy, K)  # every count within 1 of n T[i, j]
    assert np.all(np.abs(emp - T) * n < 1 + 1e-9)
    assert np.all(emp[T == 0] == 0)  # never a label with zero probability


@FAST
@given(K=st.integers(2, 8), counts=st.lists(st.integers(0, 40), min_size=8, max_size=8),
       seed=st.integers(0, 2**31), data=st.data())
def test_exact_matches_any_T_within_rounding(K, counts, seed, data):
    rng = np.random.default_rng(seed)
    T = rng.dirichlet(np.full(K, 0.5), size=K)
    T[rng.random((K, K)) < 0.3] = 0  # some impossible flips
    T[np.arange(K), np.arange(K)] += 1e-3
    T /= T.sum(1, keepdims=True)
    y = rng.permutation(np.repeat(np.arange(K), counts[:K]))
    noisy, _ = corrupt_labels(y, T, seed=seed, exact=True)
    n = np.bincount(y, minlength=K)
    got = np.zeros((K, K), int)
    np.add.at(got, (y, noisy), 1)
    assert np.array_equal(got.sum(1), n)
    assert np.all(np.abs(got - T * n[:, None]) < 1 + 1e-9) and np.all(got[T == 0] == 0)
    flips = n - np.diag(got)
    assert np.array_equal(flips, [round_half_up(n[i] * (1 - T[i, i])) for i in range(K)])


def test_draw_mode_within_binomial_error():
    K, n, rate = 10, 2000, 0.3
    T = transition_matrix("symmetric", K, rate)
    y = balanced_labels(K, n)
    noisy, flipped = corrupt_labels(y, T, seed=1)
    per_class = flipped.reshape(K, n).mean(1)
    assert np.all(np.abs(per_class - rate) < 4 * np.sqrt(rate * (1 - rate) / n))
    emp = empirical_transition(y, noisy, K)
    assert np.all(np.abs(emp - T) <= 4 * np.sqrt(T * (1 - T) / n) + 1e-12)
    assert abs(realised_rate(y, noisy) - rate) < 4 * np.sqrt(rate * (1 - rate) / (K * n))


def test_draw_mode_never_picks_zero_probability_classes():
    T = transition_matrix("asymmetric", 10, 0.4, mapping="cifar10")
    y = balanced_labels(10, 500)
    noisy, _ = corrupt_labels(y, T, seed=0)
    assert np.all(empirical_transition(y, noisy, 10)[T == 0] == 0)


@pytest.mark.parametrize("exact", [False, True])
def test_seeds_reproduce_and_differ(exact):
    T = transition_matrix("symmetric", 10, 0.4)
    y = balanced_labels(10, 100)
    a, _ = corrupt_labels(y, T, seed=3, exact=exact)
    b, _ = corrupt_labels(y, T, seed=3, exact=exact)
    c, _ = corrupt_labels(y, T, seed=4, exact=exact)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("dtype", [torch.long, torch.int32])
@pytest.mark.parametrize("exact", [False, True])
def test_tensor_in_tensor_out(dtype, exact):
    y = torch.arange(10, dtype=dtype).repeat(20)
    noisy, flipped = corrupt_labels(y, transition_matrix("pair", 10, 0.3), seed=0, exact=exact)
    assert isinstance(noisy, torch.Tensor) and noisy.dtype == dtype and noisy.device == y.device
    assert flipped.dtype == torch.bool and flipped.shape == y.shape
    assert torch.equal(flipped, noisy != y)
    y_np = y.numpy()
    noisy_np, flipped_np = corrupt_labels(y_np, torch.as_tensor(transition_matrix("pair", 10, 0.3)),
                                          seed=0, exact=exact)
    assert isinstance(noisy_np, np.ndarray) and noisy_np.dtype == y_np.dtype
    assert np.array_equal(noisy_np, noisy.numpy()) and np.array_equal(flipped_np, flipped.numpy())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_tensor_stays_on_gpu():
    y = torch.arange(10, device="cuda").repeat(5)
    noisy, flipped = corrupt_labels(y, transition_matrix("symmetric", 10, 0.5), seed=0)
    assert noisy.device == y.device and flipped.device == y.device


def test_global_rng_untouched():
    np_state, torch_state = np.random.get_state(), torch.get_rng_state()
    y = balanced_labels(10, 50)
    for exact in (False, True):
        corrupt_labels(y, transition_matrix("symmetric", 10, 0.5), seed=0, exact=exact)
        corrupt_labels(torch.as_tensor(y), transition_matrix("pair", 10, 0.4), seed=0, exact=exact)
    after = np.random.get_state()
    assert np_state[0] == after[0] and np.array_equal(np_state[1], after[1]) and np_state[2:] == after[2:]
    assert torch.equal(torch_state, torch.get_rng_state())


def test_identity_changes_nothing():
    y = balanced_labels(4, 30)
    for exact in (False, True):
        noisy, flipped = corrupt_labels(y, np.eye(4), seed=0, exact=exact)
        assert np.array_equal(noisy, y) and not flipped.any()


@pytest.mark.parametrize("labels, T, kw, match", [
    (np.array([0, 1, 10]), np.eye(10), {}, "labels"),
    (np.array([0, -1]), np.eye(10), {}, "labels"),
    (np.array([0, 1]), np.full((3, 3), 0.5), {}, "rows of T"),
    (np.array([0, 1]), np.ones((2, 3)) / 3, {}, "T must be a square"),
    (np.array([0, 1]), np.eye(3), {"seed": -1}, "seed"),
])
def test_corrupt_labels_bad_input(labels, T, kw, match):
    with pytest.raises(ValueError, match=match):
        corrupt_labels(labels, T, **kw)


# ---------------------------------------------------------------- summaries
def test_realised_rate_and_empirical_transition():
    clean, noisy = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0])
    assert realised_rate(clean, noisy) == pytest.approx(0.4)
    np.testing.assert_allclose(empirical_transition(clean, noisy, 3), [[0.5, 0.5, 0], [0, 1, 0], [1, 0, 0]])
    assert np.all(np.isnan(empirical_transition(clean, noisy, 4)[3]))  # class 3 never occurs
    with pytest.raises(ValueError, match="same shape"):
        realised_rate(clean, noisy[:3])
    with pytest.raises(ValueError, match="noisy"):
        empirical_transition(clean, np.array([0, 1, 1, 1, 3]), 3)


def test_expected_flip_rate_with_prior_and_summary():
    T = transition_matrix("asymmetric", 10, 0.4, mapping="mnist")  # 5 of 10 classes flip
    assert expected_flip_rate(T) == pytest.approx(0.2)
    prior = np.bincount(balanced_labels(10, 3))
    prior[[7, 2, 5, 6, 3]] *= 3  # counts work as a prior
    assert expected_flip_rate(T, prior) == pytest.approx(0.4 * 15 / 20)
    s = noise_summary(T)
    assert s["expected_flip_rate"] == pytest.approx(0.2) and s["diagonally_dominant"]
    assert s["min_diagonal"] == pytest.approx(0.6) and s["max_off_diagonal"] == pytest.approx(0.4)
    assert np.isfinite(s["condition_number"])
    with pytest.raises(ValueError, match="class_prior"):
        expected_flip_rate(T, np.ones(3))
    assert noise.noise_summary(np.full((2, 2), 0.5))["condition_number"] > 1e12  # singular T


def test_detection_scores_by_hand():
    flagged = np.array([1, 1, 1, 0, 0, 0], bool)
    flipped = np.array([1, 1, 0, 1, 0, 0], bool)
    s = noise.detection_scores(flagged, torch.as_tensor(flipped))
    assert (s["n_flagged"], s["n_flipped"], s["flagged_and_flipped"]) == (3, 3, 2)
    assert (s["precision"], s["recall"]) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert math.isnan(noise.detection_scores(np.zeros(3, bool), np.ones(3, bool))["precision"])
    with pytest.raises(ValueError, match="same shape"):
        noise.detection_scores(flagged, flipped[:3])
    with pytest.raises(TypeError, match="boolean"):
        noise.detection_scores(flagged.astype(float), flipped)


@pytest.mark.parametrize("kind, kw, K, star", [("symmetric", {}, 10, 0.9), ("symmetric", {}, 3, 2 / 3),
                                              ("asymmetric", {"mapping": "mnist"}, 10, 0.5), ("pair", {}, 10, 0.5),
                                              ("pair", {}, 3, math.inf), ("symmetric", {"include_true": True}, 10, 1.0)])
def test_singular_rate_is_where_T_loses_rank(kind, kw, K, star):
    eta = noise.singular_rate(kind, K, **kw)
    assert eta == pytest.approx(star)
    if math.isfinite(star) and star < 1:
        with warnings.catch_warnings():       # at the singular rate T is not diagonally dominant
            warnings.simplefilter("ignore")
            T = noise.transition_matrix(kind, K, star, **kw)
        assert noise.condition_number(T) > 1e12
        assert noise.condition_number(noise.transition_matrix(kind, K, star / 2, **kw)) < 1e3


def test_blend_transitions():
    T = noise.transition_matrix("symmetric", 4, 0.2)
    P = noise.transition_matrix("pair", 4, 0.2)
    np.testing.assert_allclose(noise.blend_transitions(T, P, 0.0), T)
    np.testing.assert_allclose(noise.blend_transitions(T, P, 1.0), P)
    np.testing.assert_allclose(noise.blend_transitions(T, P, 0.25).sum(1), 1.0)
    with pytest.raises(ValueError, match="weight"):
        noise.blend_transitions(T, P, 1.5)


def test_binary_transition_rows_and_limits():
    T = noise.binary_transition(0.1, 0.4)
    np.testing.assert_allclose(T, [[0.9, 0.1], [0.4, 0.6]])
    assert noise.condition_number(T) == pytest.approx(np.linalg.cond(T))
    with pytest.raises(ValueError, match="e01 \\+ e10 must be < 1"):
        noise.binary_transition(0.6, 0.4)
    with pytest.raises(ValueError, match="e10"):
        noise.binary_transition(0.1, -0.1)
