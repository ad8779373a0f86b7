"""Tests of nblib.estimate: Patrini's anchor-point estimator of T."""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from nblib.estimate import anchor_points, estimate_transition, estimation_error
from nblib.noise import transition_matrix


def diag_dominant_T(K, seed=0):
    """T[i, i] >= 0.6 > 0.4 >= T[c, i]: the anchor of class i has the largest p(noisy = i | x)."""
    return 0.6 * np.eye(K) + 0.4 * np.random.default_rng(seed).dirichlet(np.ones(K), size=K)


def anchored_probs(T, n_mix=2000, n_outliers=0, seed=0):
    """p(noisy | x) = p(true | x) T for n_mix samples with mixed clean posteriors, one anchor per
    class (p(true | x) = e_i, so its row is exactly T[i]), and n_outliers overconfident one-hot rows
    per class (they score 1 > T[i, i] and must be filtered out)."""
    K = len(T)
    rng = np.random.default_rng(seed)
    mixed = rng.dirichlet(np.ones(K), size=n_mix) @ T
    outliers = np.repeat(np.eye(K), n_outliers, axis=0)
    P = np.vstack([mixed, T, outliers])
    return P[rng.permutation(len(P))]


def reference_anchors(P, percentile, filter_outliers):
    """The algorithm as the paper/official code states it, one class at a time (on a copy)."""
    out = []
    for i in range(P.shape[1]):
        scores = P[:, i].copy()
        if filter_outliers:
            scores[scores >= np.percentile(scores, percentile, method="higher")] = 0.0
        out.append(int(np.argmax(scores)))
    return np.array(out)


@pytest.mark.parametrize("K", [2, 3, 10])
def test_recovers_T_exactly_from_anchors_without_filter(K):
    T = diag_dominant_T(K)
    T_hat = estimate_transition(anchored_probs(T), filter_outliers=False)
    np.testing.assert_allclose(T_hat, T, atol=1e-12)
    assert estimation_error(T_hat, T) < 1e-12


@pytest.mark.parametrize("K", [3, 10])
def test_filter_removes_overconfident_outliers(K):
    T = diag_dominant_T(K, seed=1)
    P = anchored_probs(T, n_mix=2000, n_outliers=100)  # 100 per class > 3% of all samples
    np.testing.assert_allclose(estimate_transition(P), T, atol=1e-12)
    # without the filter the one-hot outliers become the anchors and T_hat = I
    np.testing.assert_allclose(estimate_transition(P, filter_outliers=False), np.eye(K))
    assert estimation_error(np.eye(K), T) > 0.1


@pytest.mark.parametrize("K", [3, 10])
def test_error_grows_smoothly_with_prediction_noise(K):
    T = diag_dominant_T(K)
    sigmas = [0.0, 0.002, 0.005, 0.01, 0.02]
    errors = []
    for sigma in sigmas:
        runs = []
        for seed in range(3):
            rng = np.random.default_rng(100 + seed)
            P = np.clip(anchored_probs(T, seed=seed) + sigma * rng.standard_normal((2000 + K, K)), 0, None)
            runs.append(estimation_error(estimate_transition(P / P.sum(1, keepdims=True),
                                                             filter_outliers=False), T))
        errors.append(np.mean(runs))
    assert errors[0] < 1e-12
    assert all(a < b for a, b in zip(errors, errors[1:]))  # monotone in the noise level
    # each row picks up about K * E|N(0, sigma^2)| ~ 0.8 K sigma of L1 error
    assert all(e <= 2 * K * s for e, s in zip(errors[1:], sigmas[1:]))
    assert errors[1] < 0.05


@pytest.mark.filterwarnings("ignore:estimate_transition. the anchor points are degenerate")  # random probs
@settings(max_examples=30, deadline=None)
@given(N=st.integers(1, 80), K=st.integers(2, 6), percentile=st.floats(1, 100),
       filter_outliers=st.booleans(), seed=st.integers(0, 2**31))
def test_anchors_match_the_reference_algorithm(N, K, percentile, filter_outliers, seed):
    P = np.random.default_rng(seed).dirichlet(np.ones(K), size=N)
    before = P.copy()
    a = anchor_points(P, percentile, filter_outliers)
    assert a.shape == (K,) and a.dtype.kind == "i"
    ref = reference_anchors(P, percentile, filter_outliers)
    dropped_all = [i for i in range(K) if np.all(P[:, i] >= np.percentile(P[:, i], percentile, method="higher"))]
    keep = [i for i in range(K) if i not in dropped_all]  # the reference's fallback differs (index 0)
    assert np.array_equal(a[keep], ref[keep])
    assert np.array_equal(P, before)  # input never modified (the official code zeroes it in place)
    T_hat = estimate_transition(P, percentile, filter_outliers)
    assert np.allclose(T_hat.sum(1), 1) and np.allclose(T_hat, P[a] / P[a].sum(1, keepdims=True))


def test_constant_column_falls_back_to_argmax():
    P = np.full((4, 2), 0.5)
    assert np.array_equal(anchor_points(P), [0, 0])
    with pytest.warns(RuntimeWarning, match="classes 0 and 1 share an anchor sample"):
        np.testing.assert_allclose(estimate_transition(P), np.full((2, 2), 0.5))


def test_torch_input_same_as_numpy():
    T = diag_dominant_T(4)
    P = anchored_probs(T, n_mix=300)
    t = torch.as_tensor(P, dtype=torch.float32)
    np.testing.assert_allclose(estimate_transition(t, filter_outliers=False), T, atol=1e-6)
    assert np.array_equal(anchor_points(t), anchor_points(P))
    assert estimation_error(torch.as_tensor(T), T) == 0.0


def test_estimation_error_value():
    K, rate = 10, 0.3
    T = transition_matrix("symmetric", K, rate)
    assert estimation_error(np.eye(K), T) == pytest.approx(2 * rate)  # each row is off by 2 * rate in L1


@pytest.mark.parametrize("probs, kw, match", [
    (np.array([0.2, 0.8]), {}, "probs"),                        # 1-D
    (np.ones((3, 1)), {}, "probs"),                             # K = 1
    (np.array([[0.5, np.nan], [0.5, 0.5]]), {}, "probs"),       # NaN
    (np.array([[1.5, -0.5], [0.5, 0.5]]), {}, "probs"),         # negative
    (np.array([[2.0, 1.0], [0.1, 3.0]]), {}, "probs"),          # logits, rows do not sum to 1
    (np.full((3, 2), 0.5), {"percentile": 0}, "percentile"),
    (np.full((3, 2), 0.5), {"percentile": 100.5}, "percentile"),
])
def test_bad_probs_or_percentile(probs, kw, match):
    with pytest.raises(ValueError, match=match):
        estimate_transition(probs, **kw)
    with pytest.raises(ValueError, match=match):
        anchor_points(probs, **kw)


def test_estimation_error_bad_input():
    with pytest.raises(ValueError, match="T_hat"):
        estimation_error(np.ones((3, 3)), np.eye(3))
    with pytest.raises(ValueError, match="T must be"):
        estimation_error(np.eye(3), np.eye(4))


def one_hot_probs(K=10, n=1000, seed=0):
    """What an over-confident model (one that memorised its noisy labels) predicts: one-hot rows."""
    return np.eye(K)[np.random.default_rng(seed).integers(0, K, n)]


def test_over_confident_probabilities_warn_instead_of_a_silently_wrong_T_hat():
    """The issue's case: one-hot probabilities gave T_hat with error 2.0 (the percentile filter drops
    every confident score, so each class's anchor is a sample of another class) and no warning."""
    T = transition_matrix("symmetric", 10, 0.4)
    with pytest.warns(RuntimeWarning, match=r"anchor points are degenerate.*share an anchor.*favour another label"
                                            r".*one-hot.*over-confident.*earlier epoch.*lower percentile.*calibrat"):
        T_hat = estimate_transition(one_hot_probs())
    assert estimation_error(T_hat, T) > 1.5
    with pytest.warns(RuntimeWarning, match=r"100% of the rows of probs are one-hot.*T_hat is a 0/1 matrix"):
        T_hat = estimate_transition(one_hot_probs(), filter_outliers=False)          # the identity
    np.testing.assert_array_equal(T_hat, np.eye(10))


def test_an_anchor_of_another_class_warns():
    """No sample favours class 0, so its anchor (the largest p_0) is a sample of class 1."""
    P = np.array([[0.4, 0.6], [0.45, 0.55], [0.1, 0.9]])
    with pytest.warns(RuntimeWarning, match=r"the anchors of classes 0 \(predicts 1 with p=0.55\) favour another label"):
        estimate_transition(P, filter_outliers=False)


def test_a_row_that_favours_another_label_names_both_causes():
    """Row 0 of T favours label 1 (T_00 = 0.4 < T_01 = 0.6): even the true anchor of class 0, whose
    prediction is exactly row 0 of T, favours 1, so the message must not claim it is a foreign sample."""
    T = np.array([[0.4, 0.6], [0.0, 1.0]])
    P = T[[0, 0, 1]]                               # a perfect model: row c of T at a sample of class c
    assert anchor_points(P, filter_outliers=False)[0] == 0              # the anchor *is* a 0
    with pytest.warns(RuntimeWarning, match=r"classes 0 \(predicts 1 with p=0.60\) favour another label: either they "
                                            r"are not samples of their class, or T_ii is not the largest entry of row i"):
        estimate_transition(P, filter_outliers=False)


@pytest.mark.parametrize("K", [3, 10])
def test_good_anchors_do_not_warn(K):
    T = diag_dominant_T(K, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        estimate_transition(anchored_probs(T, n_mix=2000, n_outliers=100))          # filtered outliers
        estimate_transition(anchored_probs(T), filter_outliers=False)
        estimate_transition(anchored_probs(np.eye(K)), filter_outliers=False)      # no noise, calibrated model
