"""Tests of nblib.theory: the class-sum ranges and the noise-tolerance bounds of Zhang & Sabuncu (2018),
checked against the training kernels (nblib.losses) and against brute-force minimisation."""
import itertools
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from nblib import losses, noise, theory

K = 10
QS = (0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
FAST = settings(max_examples=40, deadline=None)


def random_logits(n=4000, K=K, scale=3.0, seed=0):
    return scale * torch.randn(n, K, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("q", QS)
def test_lq_class_sums_lie_in_the_range_and_reach_its_ends(q):
    lo, hi = theory.lq_class_sum_bounds(K, q)
    sums = losses.class_sums("gce", random_logits(), q=q)
    assert bool((sums >= lo - 1e-9).all() and (sums <= hi + 1e-9).all())
    uniform = losses.class_sums("gce", torch.zeros(1, K, dtype=torch.float64), q=q)
    one_hot = losses.class_sums("gce", torch.tensor([[1000.0] + [0.0] * (K - 1)], dtype=torch.float64), q=q)
    assert float(uniform) == pytest.approx(lo, abs=1e-9)
    assert float(one_hot) == pytest.approx(hi, abs=1e-6)


def test_lq_is_symmetric_only_at_q_1():
    assert theory.lq_class_sum_bounds(K, 1.0) == pytest.approx((K - 1, K - 1))
    widths = [np.diff(theory.lq_class_sum_bounds(K, q))[0] for q in QS]
    assert all(a > b for a, b in zip(widths, widths[1:])) and widths[-1] == pytest.approx(0)


@pytest.mark.parametrize("q, k", [(0.7, 0.5), (0.3, 0.5), (0.7, 0.8), (1.0, 0.6)])
def test_truncated_class_sums_lie_in_the_range_and_reach_its_ends(q, k):
    lo, hi = theory.truncated_class_sum_bounds(K, q, k)
    sums = losses.class_sums("tgce", random_logits(), q=q, k=k)
    assert bool((sums >= lo - 1e-9).all() and (sums <= hi + 1e-9).all())
    uniform = losses.class_sums("tgce", torch.zeros(1, K, dtype=torch.float64), q=q, k=k)
    one_hot = losses.class_sums("tgce", torch.tensor([[1000.0] + [0.0] * (K - 1)], dtype=torch.float64), q=q, k=k)
    assert float(uniform) == pytest.approx(hi) and float(one_hot) == pytest.approx(lo, abs=1e-9)


def test_truncation_narrows_the_range_at_the_papers_setting_but_not_near_q_1():
    width = lambda q, k=None: np.diff(theory.class_sum_bounds(K, q, k))[0]  # noqa: E731
    assert width(0.7, 0.5) < width(0.7) / 2
    assert width(0.95, 0.5) > width(0.95)


def noisy_risk_grid(q, T_row, k=None, step=0.0025):
    """Noisy risk sum_j T_row[j] L(p_j) over a grid of the 3-class simplex: (points (M, 3), risks (M,))."""
    a = np.arange(0, 1 + step / 2, step)
    p0, p1 = np.meshgrid(a, a, indexing="ij")
    keep = p0 + p1 <= 1 + 1e-12
    P = np.stack([p0[keep], p1[keep], np.clip(1 - p0[keep] - p1[keep], 0, 1)], axis=1)
    L = losses.loss_of_p("gce", P, q=q) if k is None else losses.loss_of_p("tgce", P, q=q, k=k)
    return P, L @ np.asarray(T_row)


@pytest.mark.parametrize("q, rate", list(itertools.product((0.3, 0.7, 0.9), (0.2, 0.4, 0.6))))
def test_uniform_noise_example_is_the_minimiser_and_within_theorem_1(q, rate):
    ex = theory.uniform_noise_example(3, q, rate)
    P, risk = noisy_risk_grid(q, [1 - rate, rate / 2, rate / 2])
    best = P[np.argmin(risk)]
    assert best[0] == pytest.approx(ex["p_true"], abs=0.01)
    closed = (1 - rate) * losses.loss_of_p("gce", ex["p_true"], q=q) + rate * losses.loss_of_p(
        "gce", (1 - ex["p_true"]) / 2, q=q)
    assert closed <= risk.min() + 1e-9                    # no grid point beats the closed form
    assert 0 <= ex["excess"] <= ex["bound"]


@pytest.mark.parametrize("q", (0.1, 0.5, 0.7, 0.9))
def test_theorem_1_bound_formula_and_its_shrinking_in_q(q):
    rate = 0.4
    assert theory.uniform_noise_bound(K, q, rate) == pytest.approx(rate * (K ** (1 - q) - 1) / (q * (K - 1 - rate * K)))
    assert theory.uniform_noise_bound(K, q, rate) > theory.uniform_noise_bound(K, min(1.0, q + 0.1), rate)
    assert theory.uniform_noise_bound(K, 1.0, rate) == 0


@pytest.mark.parametrize("kind, rate", [("pair", 0.3), ("asymmetric", 0.4), ("symmetric", 0.5)])
@pytest.mark.parametrize("q", (0.3, 0.7))
def test_theorem_2_holds_on_the_simplex_and_truncation_removes_the_gap(kind, rate, q):
    T = noise.transition_matrix(kind, 3, rate, **({"mapping": {0: 1}} if kind == "asymmetric" else {}))
    for y in range(3):                                      # one input per true class
        P, risk = noisy_risk_grid(q, T[y])
        gap = risk[np.all(P == np.eye(3)[y], axis=1)][0] - risk.min()    # R^eta(f*) - min R^eta
        prior = np.eye(3)[y]
        assert -1e-12 <= gap <= theory.class_dependent_bound(T, q, class_prior=prior) + 1e-9
        P, risk_t = noisy_risk_grid(q, T[y], k=0.5)
        assert risk_t[np.all(P == np.eye(3)[y], axis=1)][0] == pytest.approx(risk_t.min(), abs=1e-12)
        assert theory.class_dependent_bound(T, q, k=0.5, class_prior=prior) == 0


def test_theorem_2_bound_formula():
    T = noise.transition_matrix("pair", K, 0.3)
    lo, hi = theory.lq_class_sum_bounds(K, 0.7)
    assert theory.class_dependent_bound(T, 0.7) == pytest.approx((hi - lo) * 0.7)


def test_bad_inputs_name_the_parameter():
    with pytest.raises(ValueError, match="q"):
        theory.lq_class_sum_bounds(K, 0.0)
    with pytest.raises(ValueError, match="k"):
        theory.truncated_class_sum_bounds(K, 0.7, 0.3)
    with pytest.raises(ValueError, match="rate"):
        theory.uniform_noise_bound(K, 0.7, 0.9)
    with pytest.raises(ValueError, match="num_classes"):
        theory.uniform_noise_example(1, 0.7, 0.1)
    with pytest.raises(ValueError, match="most likely"):
        theory.class_dependent_bound(np.full((K, K), 1 / K), 0.7)
    with pytest.raises(ValueError, match="class_prior"):
        theory.class_dependent_bound(noise.transition_matrix("pair", K, 0.3), 0.7, class_prior=[1.0])


# ---------------------------------------------------------------- accuracy against noisy labels
@FAST
@given(acc=st.integers(0, 100).map(lambda a: a / 100), rate=st.integers(0, 89).map(lambda r: r / 100),
       K=st.integers(2, 12), seed=st.integers(0, 10))
def test_noisy_accuracy_under_symmetric_noise_is_the_affine_map_of_the_clean_accuracy(acc, rate, K, seed):
    """Any confusion matrix with clean accuracy acc (errors spread anyhow) scores the affine map."""
    rng = np.random.default_rng(seed)
    off = rng.random((K, K)) * (1 - np.eye(K))
    C = acc * np.eye(K) + (1 - acc) * off / off.sum(1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # rates beyond (K-1)/K are allowed here, with a warning
        T = noise.transition_matrix("symmetric", K, rate)
    assert theory.noisy_accuracy(C, T) == pytest.approx(theory.symmetric_noisy_accuracy(acc, rate, K), abs=1e-12)
    if rate < (K - 1) / K:
        back = theory.clean_accuracy_from_noisy(theory.symmetric_noisy_accuracy(acc, rate, K), rate, K)
        assert back == pytest.approx(acc, abs=1e-9)


def test_noisy_accuracy_matches_sampled_noisy_labels():
    """Monte Carlo: predictions with clean accuracy 0.8, labels corrupted 200 times at rate 0.4."""
    K, n, rate = 10, 2000, 0.4
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(K), n // K)
    wrong = rng.random(n) >= 0.8
    pred = np.where(wrong, (y + rng.integers(1, K, n)) % K, y)
    T = noise.transition_matrix("symmetric", K, rate)
    noisy_accs = [np.mean(pred == np.asarray(noise.corrupt_labels(y, T, seed=s)[0])) for s in range(200)]
    expected = theory.symmetric_noisy_accuracy(np.mean(pred == y), rate, K)
    assert np.mean(noisy_accs) == pytest.approx(expected, abs=3e-3)


def test_noisy_accuracy_depends_on_where_errors_go_under_pair_noise():
    """Same clean accuracy 0.8, errors along the noise (i -> i+1) or against it (i -> i-1)."""
    K, rate = 10, 0.4
    T = noise.transition_matrix("pair", K, rate)
    along = 0.8 * np.eye(K) + 0.2 * np.roll(np.eye(K), 1, axis=1)
    against = 0.8 * np.eye(K) + 0.2 * np.roll(np.eye(K), -1, axis=1)
    assert theory.noisy_accuracy(along, T) == pytest.approx(0.8 * 0.6 + 0.2 * 0.4)
    assert theory.noisy_accuracy(against, T) == pytest.approx(0.8 * 0.6)
    worse_along = 0.7 * np.eye(K) + 0.3 * np.roll(np.eye(K), 1, axis=1)
    assert theory.noisy_accuracy(worse_along, T) > theory.noisy_accuracy(against, T)   # the worse model wins


def test_symmetric_noisy_accuracy_slope_and_bad_inputs():
    K = 10
    assert theory.symmetric_noisy_accuracy(np.array([0.2, 0.9]), 0.9, K) == pytest.approx([0.1, 0.1])  # flat
    lo, hi = theory.symmetric_noisy_accuracy(np.array([0.2, 0.9]), 0.95, K)
    assert lo > hi                                                                       # reversed
    with pytest.raises(ValueError, match="accuracy"):
        theory.symmetric_noisy_accuracy(1.2, 0.4, K)
    with pytest.raises(ValueError, match="rate"):
        theory.clean_accuracy_from_noisy(0.5, 0.9, K)
    with pytest.raises(ValueError, match="confusion"):
        theory.noisy_accuracy(np.ones((3, 3)), np.eye(3))


def test_symmetric_noisy_slope_both_variants_and_the_standard_errors():
    K = 10
    assert theory.symmetric_noisy_slope(0.4, K) == pytest.approx(1 - 0.4 * 10 / 9)
    assert theory.symmetric_noisy_slope(0.4, K, include_true=True) == pytest.approx(0.6)
    # the slope is the derivative of the affine map
    a, b = theory.symmetric_noisy_accuracy(np.array([0.3, 0.8]), 0.4, K)
    assert (b - a) / 0.5 == pytest.approx(theory.symmetric_noisy_slope(0.4, K))
    # included variant: sampled noisy accuracy is rate/K + (1 - rate) acc
    T = noise.transition_matrix("symmetric", K, 0.4, include_true=True)
    C = 0.7 * np.eye(K) + 0.3 * (np.ones((K, K)) - np.eye(K)) / (K - 1)
    assert theory.noisy_accuracy(C, T) == pytest.approx(0.4 / K + 0.6 * 0.7)
    assert theory.accuracy_standard_error(0.5, 100) == pytest.approx(0.05)
    e = theory.noisy_validation_error(0.93, 0.4, K, 300)
    assert e["noisy_se"] == pytest.approx(0.0287, abs=2e-4) and e["clean_se"] == pytest.approx(0.0147, abs=2e-4)
    assert e["clean_units_se"] == pytest.approx(e["noisy_se"] / e["slope"]) and 0.05 < e["clean_units_se"] < 0.053
    with pytest.raises(ValueError, match="rate"):
        theory.noisy_validation_error(0.9, 0.9, K, 300)
    with pytest.raises(ValueError, match="n"):
        theory.accuracy_standard_error(0.5, 0)


@pytest.mark.parametrize("kind,rate", [("symmetric", 0.4), ("pair", 0.4), ("asymmetric", 0.3)])
def test_corrected_accuracy_recovers_the_clean_accuracy_from_noisy_labels(kind, rate):
    K, n = 10, 200_000
    rng = np.random.default_rng(0)
    y = rng.integers(0, K, n)
    wrong = rng.random(n) < 0.25          # errors along the noise (i -> i+1): what fools the raw noisy accuracy
    pred = np.where(wrong, (y + 1) % K, y)
    T = noise.transition_matrix(kind, K, rate)
    noisy = np.asarray(noise.corrupt_labels(torch.as_tensor(y), T, seed=1)[0])
    assert theory.corrected_accuracy(pred, noisy, T) == pytest.approx(np.mean(pred == y), abs=0.01)
    assert theory.corrected_accuracy(pred, y, np.eye(K)) == pytest.approx(np.mean(pred == y))
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="invertible"):
        theory.corrected_accuracy(pred, noisy, noise.transition_matrix("symmetric", K, 0.9))
    with pytest.raises(ValueError, match="predictions"):
        theory.corrected_accuracy(pred[:5], noisy[:4], T)


def test_noisy_labels_for_equal_error_matches_the_clean_error():
    n = theory.noisy_labels_for_equal_error(0.93, 0.4, 10, 300)
    slope = theory.symmetric_noisy_slope(0.4, 10)
    assert 3000 < n < 4500 and n > 300 / slope ** 2          # not the naive 300 / slope^2 ~ 970
    e = theory.noisy_validation_error(0.93, 0.4, 10, round(n))
    assert e["clean_units_se"] == pytest.approx(theory.accuracy_standard_error(0.93, 300), rel=1e-3)
    assert theory.noisy_labels_for_equal_error(0.93, 0.0, 10, 300) == pytest.approx(300)
    with pytest.raises(ValueError, match="clean_accuracy"):
        theory.noisy_labels_for_equal_error(1.0, 0.4, 10, 300)


def test_clean_term_factor():
    assert theory.clean_term_factor(0.0, 10) == 1.0
    assert np.isclose(theory.clean_term_factor(0.8, 10), 1 / 9)
    assert abs(theory.clean_term_factor(0.9, 10)) < 1e-12                 # (K-1)/K: no information left
    assert theory.clean_term_factor(0.95, 10) < 0
    with pytest.raises(ValueError, match="rate"):
        theory.clean_term_factor(1.5, 10)
