"""Core maths behind lesson 7 (real label noise): instance-dependent noise with a given T, the
properties of T the theorems assume, annotators' joint errors, cross-fitted difficulty, and the
sweep's noise kinds ``matrix`` / ``instance``."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import nblib
from nblib import difficulty, human_noise, noise, sweep
from nblib.instance_noise import corrupt_labels_instance, difficulty_ranks, flip_rate_by_difficulty, instance_flip_weights
from nblib.noise import (corrupt_labels, empirical_transition, independent_wrong_counts, joint_wrong_counts,
                         transition_matrix, transition_properties)

FAST = settings(max_examples=30, deadline=None)
T_WORSE = human_noise.transition("worse")
K = 10


def labels_and_scores(n_per_class=60, seed=0):
    rng = np.random.default_rng(seed + 12345)     # not the noise's seed: keys would equal the scores
    y = np.repeat(np.arange(K), n_per_class)
    return y, rng.random(y.size)


# ----------------------------------------------------------------------------- the generator

@FAST
@given(seed=st.integers(0, 10_000), sharpness=st.floats(0, 8), n=st.integers(1, 80))
def test_instance_noise_has_the_exact_counts_of_class_conditional_noise(seed, sharpness, n):
    """Same realised rate and same realised T as corrupt_labels(exact=True), for any seed and weights."""
    y, s = labels_and_scores(n, seed)
    noisy, flipped = corrupt_labels_instance(y, T_WORSE, instance_flip_weights(s, y, sharpness), seed=seed)
    ref, ref_flipped = corrupt_labels(y, T_WORSE, seed=seed, exact=True)
    assert flipped.sum() == ref_flipped.sum()
    np.testing.assert_array_equal(empirical_transition(y, noisy, K), empirical_transition(y, ref, K))
    assert np.array_equal(flipped, noisy != y)


def test_realised_T_is_within_one_count_of_T_and_the_rate_is_exact():
    y, s = labels_and_scores(500)
    noisy, flipped = corrupt_labels_instance(y, T_WORSE, instance_flip_weights(s, y, 3.0), seed=1)
    counts = np.bincount(y * K + noisy, minlength=K * K).reshape(K, K)
    assert np.all(np.abs(counts - 500 * T_WORSE) < 1)
    assert flipped.mean() == pytest.approx(human_noise.noise_rate("worse"), abs=1 / 500)


def test_seeded_and_type_preserving():
    y, s = labels_and_scores()
    w = instance_flip_weights(s, y, 2.0)
    a, fa = corrupt_labels_instance(y, T_WORSE, w, seed=3)
    b, fb = corrupt_labels_instance(y, T_WORSE, w, seed=3)
    c, _ = corrupt_labels_instance(y, T_WORSE, w, seed=4)
    assert np.array_equal(a, b) and np.array_equal(fa, fb) and not np.array_equal(a, c)
    t, ft = corrupt_labels_instance(torch.as_tensor(y), T_WORSE, torch.as_tensor(w), seed=3)
    assert t.dtype == torch.int64 and ft.dtype == torch.bool and np.array_equal(t.numpy(), a)


def test_hard_samples_flip_first_and_sharpness_zero_is_class_conditional():
    y, s = labels_and_scores(400)
    rates = {sh: np.mean([flip_rate_by_difficulty(corrupt_labels_instance(y, T_WORSE, instance_flip_weights(s, y, sh),
                                                                          seed=k)[1], s, y) for k in range(5)], axis=0)
             for sh in (0.0, 3.0, 50.0)}
    rate = human_noise.noise_rate("worse")
    assert np.all(np.abs(rates[0.0] - rate) < 0.06)                 # flat: class-conditional
    assert np.all(np.diff(rates[3.0]) > 0) and rates[3.0][-1] > 2 * rates[3.0][0] + 0.3
    # very sharp: the flips are (nearly) the hardest samples of each class
    hardest = difficulty_ranks(s, y) > 1 - (1 - np.diag(T_WORSE))[y]
    _, f = corrupt_labels_instance(y, T_WORSE, instance_flip_weights(s, y, 50.0), seed=0)
    assert (f & hardest).sum() / f.sum() > 0.95


def test_ranks_are_within_class_and_ties_share_them():
    y = np.array([0, 0, 0, 1, 1])
    s = np.array([0.3, 0.1, 0.3, 5.0, -1.0])
    np.testing.assert_allclose(difficulty_ranks(s, y), [2.5 / 3, 1 / 3, 2.5 / 3, 1.0, 0.5])
    np.testing.assert_allclose(instance_flip_weights(s, y, 0.0), 1.0)


@pytest.mark.parametrize("bad, match", [
    (dict(weights=np.zeros(600)), "weights must be finite and > 0"),
    (dict(weights=np.ones(5)), "one value per label"),
    (dict(T=np.eye(3)), r"labels must be in \[0, 2\]"),
])
def test_bad_inputs_are_named(bad, match):
    y, _ = labels_and_scores()
    kw = dict(labels=y, T=T_WORSE, weights=np.ones(y.size)) | bad
    with pytest.raises(ValueError, match=match):
        corrupt_labels_instance(**kw)


def test_sharpness_must_be_non_negative():
    y, s = labels_and_scores()
    with pytest.raises(ValueError, match="sharpness"):
        instance_flip_weights(s, y, -1)


# ----------------------------------------------------------------------------- properties of T

def test_transition_properties_of_symmetric_pair_and_human_T():
    sym = transition_properties(transition_matrix("symmetric", K, 0.4))
    assert sym["uniform_off_diagonal"] and sym["max_asymmetry"] == 0 and sym["condition_number"] == pytest.approx(1.8)
    assert sym["min_singular_value"] == pytest.approx(1 - 0.4 * K / (K - 1))
    pair = transition_properties(transition_matrix("pair", K, 0.4))
    assert not pair["uniform_off_diagonal"] and pair["max_asymmetry"] == pytest.approx(0.4)
    assert pair["min_margin"] == pytest.approx(0.2) and pair["diagonally_dominant"]
    human = transition_properties(T_WORSE)
    assert human["diagonally_dominant"] and human["min_margin"] > 0 and not human["uniform_off_diagonal"]
    assert human["condition_number"] == pytest.approx(3.3, abs=0.05)
    assert human["max_abs_inverse"] == pytest.approx(np.abs(np.linalg.inv(T_WORSE)).max())
    assert human["inverse_inf_norm"] == pytest.approx(np.abs(np.linalg.inv(T_WORSE)).sum(axis=1).max())
    fine = transition_properties(human_noise.transition("noisy", "cifar100n"))
    assert not fine["diagonally_dominant"] and fine["min_margin"] < 0


def test_row_margins():
    T = np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2], [0.1, 0.6, 0.3]])
    np.testing.assert_allclose(noise.row_margins(T), [0.2, 0.0, -0.3])
    assert transition_properties(T)["min_margin"] == pytest.approx(-0.3)


def test_inverse_inf_norm_bounds_every_backward_corrected_loss():
    """|(T^-1 l)_i| <= ||T^-1||_inf max_j l_j for per-class losses l >= 0; the norm is attained (by a sign vector)."""
    rng = np.random.default_rng(3)
    for T in (T_WORSE, transition_matrix("pair", K, 0.45), human_noise.transition("aggre")):
        bound = transition_properties(T)["inverse_inf_norm"]
        Tinv = np.linalg.inv(T)
        losses = -np.log(rng.dirichlet(np.ones(K), size=200))           # (200, K) per-class CE losses
        corrected = losses @ Tinv.T                                      # row n: T^-1 l_n
        assert np.all(np.abs(corrected) <= bound * losses.max(axis=1, keepdims=True) + 1e-9)
        i = np.abs(Tinv).sum(axis=1).argmax()
        assert abs(Tinv[i] @ np.sign(Tinv[i])) == pytest.approx(bound)   # l = sign pattern attains it
    assert transition_properties(np.eye(K))["inverse_inf_norm"] == pytest.approx(1.0)


def test_singular_T_has_infinite_inverse_entry():
    with pytest.warns(UserWarning):
        T = transition_matrix("symmetric", 4, 0.75)
    props = transition_properties(T)
    assert props["max_abs_inverse"] == props["inverse_inf_norm"] == float("inf")


def test_margin_counts_are_row_margins_in_images():
    m = human_noise.margin_counts("noisy", "cifar100n")
    names = human_noise.class_names("cifar100n", "noisy")
    assert m.dtype == np.int64 and {names[i]: int(m[i]) for i in np.flatnonzero(m <= 0)} == {
        "pine_tree": -29, "shrew": -8, "streetcar": -4}
    per_class = human_noise.counts("noisy", "cifar100n").sum(axis=1)
    np.testing.assert_allclose(m, noise.row_margins(human_noise.transition("noisy", "cifar100n")) * per_class,
                               atol=1e-9)
    assert (human_noise.margin_counts("worse") > 0).all()


# ----------------------------------------------------------------------------- joint errors

def test_independent_wrong_counts_is_a_binomial_per_class():
    out = independent_wrong_counts([[0.1, 0.5], [0.1, 0.5], [0.1, 0.5]], [100, 10])
    expected = 100 * np.array([0.9 ** 3, 3 * 0.1 * 0.9 ** 2, 3 * 0.01 * 0.9, 0.001]) + 10 * np.array([1, 3, 3, 1]) / 8
    np.testing.assert_allclose(out, expected)
    assert out.sum() == pytest.approx(110)


def test_joint_counts_see_independent_and_shared_errors():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 2500)
    indep = rng.random((3, y.size)) < 0.3
    res = joint_wrong_counts(indep, y)
    assert res["observed"].sum() == y.size
    np.testing.assert_allclose(res["observed"], res["independent"], rtol=0.1)
    shared = np.tile(rng.random(y.size) < 0.3, (3, 1))          # all wrong together
    res = joint_wrong_counts(shared, y)
    assert res["observed"][3] > 3 * res["independent"][3] and res["observed"][1] == 0


def test_cifar10n_annotators_are_not_independent():
    res = human_noise.joint_errors()
    assert res["observed"].tolist() == [29896, 14777, 4260, 1067]
    assert res["independent"].sum() == pytest.approx(50000)
    assert res["observed"][3] / res["independent"][3] > 3


def test_top_confusions_of_the_human_T():
    top = human_noise.confusions("worse", top=5)
    assert [(c["true"], c["label"]) for c in top] == [("truck", "automobile"), ("automobile", "truck"),
                                                      ("cat", "dog"), ("dog", "cat"), ("deer", "horse")]
    assert top[0]["rate"] == pytest.approx(0.282) and top[0]["count"] == 1410
    fine = human_noise.confusions("noisy", "cifar100n", top=2)
    assert fine[0]["true"] == "streetcar" and fine[0]["label"] == "bus"


# ----------------------------------------------------------------------------- cross-fitted difficulty

@pytest.mark.slow
def test_cross_fitted_uncertainty_scores_every_sample_by_a_model_that_did_not_see_it():
    data = nblib.data.load("digits", device="cpu", n_val=100)
    make = lambda d, s: nblib.models.make_model("auto", d, seed=s)  # noqa: E731
    with nblib.torch_threads(1):
        train, val = difficulty.clean_uncertainty(data, make, folds=2, seed=0, epochs=5, lr=3e-3)
        again, _ = difficulty.clean_uncertainty(data, make, folds=2, seed=0, epochs=5, lr=3e-3)
    assert train.shape == (len(data.y_train),) and val.shape == (len(data.y_val),)
    assert np.all((train >= 0) & (train <= 1)) and np.array_equal(train, again)
    assert (train < 0.5).mean() > 0.7          # a clean model (5 epochs) is right on most held-out samples


def test_folds_are_stratified():
    y = np.repeat(np.arange(3), [10, 11, 7])
    f = difficulty.fold_ids(y, folds=2, seed=0)
    for c in range(3):
        counts = np.bincount(f[y == c], minlength=2)
        assert abs(counts[0] - counts[1]) <= 1
    with pytest.raises(ValueError, match="folds"):
        difficulty.fold_ids(y, folds=1)


# ----------------------------------------------------------------------------- sweep noise kinds

def test_matrix_and_instance_noise_specs_resolve_with_T_and_labels():
    g = sweep.Grid("g", dataset="digits", losses=("ce", "forward(T)"),
                   noise=(sweep.NoiseSpec("matrix", matrix=T_WORSE, name="human T"),
                          sweep.NoiseSpec("instance", matrix=T_WORSE, sharpness=3.0)), seeds=(0,))
    runs = g.runs()
    m, i = runs[0]["noise"], runs[1]["noise"]
    assert m["kind"] == "matrix" and np.allclose(m["T"], T_WORSE) and m["exact"] is True
    assert i["kind"] == "instance" and i["sharpness"] == 3.0 and i["scorer"] == sweep.noise_kinds.SCORER
    assert sweep.noise_label(m) == "human T" and sweep.noise_label(i) == "instance 3"
    assert sweep.run_key(runs[0]) != sweep.run_key(runs[1])


@pytest.mark.parametrize("spec, match", [
    (dict(kind="matrix"), "needs matrix=T"),
    (dict(kind="matrix", matrix=np.eye(3)), r"matrix must be \(10, 10\)"),
    (dict(kind="instance", matrix=T_WORSE, sharpness=-1.0), "sharpness"),
    (dict(kind="symmetric", rate=0.2, matrix=T_WORSE), "matrix applies to matrix, instance noise only"),
    (dict(kind="matrix", matrix=T_WORSE, sharpness=2.0), "sharpness applies to instance noise only"),
    (dict(kind="human", label_set="worse"), "NoiseSpec\\('matrix'"),
])
def test_bad_given_noise_specs_fail_early(spec, match):
    with pytest.raises(ValueError, match=match):
        sweep.Grid("g", dataset="digits", noise=(sweep.NoiseSpec(**spec),), losses=("ce",)).runs()


@pytest.mark.slow
def test_a_grid_with_the_human_T_and_instance_noise_runs_and_keeps_the_realised_T(tmp_path):
    noises = (sweep.NoiseSpec("matrix", matrix=T_WORSE, name="ccn"),
              sweep.NoiseSpec("instance", matrix=T_WORSE, name="idn", sharpness=3.0))
    g = sweep.Grid("g", dataset="digits", dataset_kw={"n_val": 100}, losses=("ce", "forward(T)"), noise=noises,
                   seeds=(0,), epochs=2)
    with nblib.torch_threads(1):
        res = sweep.run_grid(g, root=tmp_path, progress=False)
    rates = {r["label"]["noise"]: r["metrics"]["realised_noise_rate"] for r in res.results}
    assert rates["ccn"] == rates["idn"]                   # same counts, other samples
    for r in res.results:
        np.testing.assert_allclose(r["transition"], T_WORSE)   # forward(T)'s T is the given matrix
    cfg = next(r["config"] for r in res.results if r["label"]["noise"] == "idn")
    train_scores, val_scores = sweep.difficulty_scores(cfg)
    assert train_scores.shape == (1337,) and val_scores.shape == (100,)
    with pytest.raises(ValueError, match="instance"):
        sweep.difficulty_scores(res.results[0]["config"])


def test_a_sparse_grid_runs_only_its_pairs():
    g = sweep.Grid("g", dataset="digits", losses=("ce", "gce", "forward(T)"), noise=("sym 0.4", "asym 0.2"),
                   seeds=(0, 1), pairs=[("ce", "sym 0.4"), ("gce", "sym 0.4"), ("ce", "asym 0.2"), ("ce", "asym 0.2")])
    runs = g.runs()
    assert len(runs) == len(g) == 3 * 2
    assert {(r["loss"]["label"], sweep.noise_label(r["noise"])) for r in runs} == {
        ("ce", "sym 0.4"), ("gce", "sym 0.4"), ("ce", "asym 0.2")}
    full = sweep.Grid("g", dataset="digits", losses=("ce", "gce", "forward(T)"), noise=("sym 0.4", "asym 0.2"),
                      seeds=(0, 1))
    assert {sweep.run_key(c) for c in runs} <= {sweep.run_key(c) for c in full.runs()}   # same keys as the full grid
    with pytest.raises(ValueError, match=r"pairs \[\('mae', 'sym 0.4'\)\] are not"):
        sweep.Grid("g", dataset="digits", losses=("ce",), noise=("sym 0.4",), pairs=[("mae", "sym 0.4")]).runs()
    with pytest.raises(ValueError, match="at least one"):
        sweep.Grid("g", dataset="digits", losses=("ce",), noise=("sym 0.4",), pairs=[])
