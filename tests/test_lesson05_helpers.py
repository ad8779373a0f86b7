"""Lesson 5 (loss correction): plot helpers, widget update functions, the experiment runner, exercise checks."""
import numpy as np
import pytest
import torch

from nblib import losses, noise
from nblib.estimate import estimate_transition, estimation_error
from nblib.course.lesson05 import exercises as ex
from nblib.course.lesson05 import figures as cp
from nblib.train import History
from nblib.course.lesson05 import widgets as cw

K = 10
T_DIGIT = noise.transition_matrix("asymmetric", K, 0.4, mapping="mnist")


@pytest.fixture
def probs_labels():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, K)) * 2
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return p, rng.integers(0, K, size=200)


def fake_history(accs, loss=0.5):
    h = History()
    for e, a in enumerate(accs, 1):
        h.epoch.append(e)
        h.test_acc.append(a)
        h.loss.append(loss)
    return h


# ----------------------------------------------------------------------------- numeric helpers
def test_singular_eta_and_condition_number_blow_up():
    for family, star in (("symmetric", 0.9), ("digit map", 0.5)):
        assert cp.family_singular_eta(family, K) == pytest.approx(star)
        conds = [cp.condition_number(cp.transition_family(family, e, K)) for e in (0.0, star / 2, star - 0.01)]
        assert conds[0] == pytest.approx(1.0)
        assert conds[0] < conds[1] < conds[2] and conds[2] > 50
    with pytest.raises(ValueError, match="eta"):
        cp.transition_family("symmetric", 0.9, K)
    with pytest.raises(ValueError, match="family"):
        cp.family_singular_eta("pair")


def test_symmetric_family_eigenvalue_formula():
    eta = 0.3
    T = cp.transition_family("symmetric", eta, K)
    assert np.linalg.eigvalsh(T).min() == pytest.approx(1 - eta * K / (K - 1))


def test_blend_transition():
    P = noise.transition_matrix("pair", K, 0.4)
    np.testing.assert_allclose(cp.blend_transition(T_DIGIT, P, 0.0), T_DIGIT)
    np.testing.assert_allclose(cp.blend_transition(T_DIGIT, P, 1.0), P)
    B = cp.blend_transition(T_DIGIT, P, 0.25)
    np.testing.assert_allclose(B.sum(axis=1), 1)
    with pytest.raises(ValueError, match="weight"):
        cp.blend_transition(T_DIGIT, P, 1.5)


def test_backward_loss_matrix_matches_nblib_losses_and_is_unbiased(probs_labels):
    p, _ = probs_labels
    L = cp.backward_loss_matrix(p, T_DIGIT)
    logits = torch.as_tensor(np.log(p))
    for j in (0, 3, 7):
        ref = losses.backward(logits, torch.full((len(p),), j), T=T_DIGIT, reduction="none").numpy()
        np.testing.assert_allclose(L[:, j], ref, rtol=1e-6, atol=1e-6)
    # Theorem 1: averaging over the noise of each clean label gives CE
    np.testing.assert_allclose(L @ T_DIGIT.T, -np.log(p), rtol=1e-6, atol=1e-8)
    assert (L < 0).any()
    with pytest.raises(ValueError, match="T must be"):
        cp.backward_loss_matrix(p, np.eye(3))


def test_backward_spread_grows_towards_singular(probs_labels):
    p, y = probs_labels
    s = cp.backward_spread(p, y, "symmetric", [0.0, 0.5, 0.85])
    assert s[0] < s[1] < s[2]
    assert s[0] == pytest.approx((-np.log(p[np.arange(len(y)), y])).std())


def test_binary_expected_losses_minima():
    r = cp.binary_expected_losses(0.7, 0.1, 0.4)
    step = r["q"][1] - r["q"][0]
    assert r["noisy_posterior"] == pytest.approx(0.3 * 0.1 + 0.7 * 0.6)
    assert abs(r["argmin"]["ce"] - r["noisy_posterior"]) <= step
    assert abs(r["argmin"]["forward"] - 0.7) <= step
    assert abs(r["argmin"]["backward"] - 0.7) <= step
    np.testing.assert_allclose(r["backward"], r["clean"], atol=1e-10)  # Theorem 1
    assert not np.allclose(r["forward"], r["clean"])                    # forward is not unbiased
    with pytest.raises(ValueError, match="e01 \\+ e10"):
        cp.binary_expected_losses(0.5, 0.6, 0.45)


def test_conditioning_and_estimation_tables(probs_labels):
    p, y = probs_labels
    t = cp.conditioning_table(p, y, "digit map", [0.0, 0.4, 0.49])
    assert list(t.index) == [0.0, 0.4, 0.49]
    assert t["cond_T"].is_monotonic_increasing and t["bwd_loss_std"].is_monotonic_increasing
    assert t.loc[0.0, "share_negative"] == 0
    e = cp.estimation_table({5: p, 10: p}, T_DIGIT)
    assert list(e.index) == [5, 10] and e.shape[1] == 2
    assert e.iloc[0, 1] == pytest.approx(round(estimation_error(estimate_transition(p, filter_outliers=False), T_DIGIT), 3))


def test_results_and_blend_tables():
    a, b = fake_history([0.5, 0.8, 0.7]), fake_history([0.6, 0.6, 0.9], loss=-1.0)
    t = cp.results_table({"ce": [a, b], "backward(T)": [b, b]})
    assert t.loc["ce", "best_test_acc"] == pytest.approx(0.85)
    assert t.loc["ce", "final_test_acc"] == pytest.approx(0.8)
    assert t.loc["backward(T)", "final_train_loss"] == -1.0
    assert cp.curve_roughness(a) == pytest.approx(0.2)
    single = cp.results_table({"ce": a})
    assert "final_std" not in single.columns
    cache = {"pair": (np.eye(K), {0.0: a, 1.0: b})}
    assert cp.blend_table(cache).loc[1.0, "pair"] == pytest.approx(0.9)


# ----------------------------------------------------------------------------- figures and widget updates
def test_update_expected_loss_returns_figure():
    fig = cw.update_expected_loss(0.7, 0.1, 0.4)
    assert len(fig.axes) == 1
    assert "0.70" in fig.axes[0].get_title()


def test_update_conditioning_clips_eta_per_family(probs_labels):
    p, y = probs_labels
    fig = cw.update_conditioning("symmetric", 0.8, probs=p, labels=y)
    assert len(fig.axes) == 3
    # eta 0.8 is past the digit map's singular point 0.5: clipped to 0.49, not an error
    fig = cw.update_conditioning("digit map", 0.8, probs=torch.as_tensor(p), labels=torch.as_tensor(y))
    assert "0.49" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="family"):
        cw.update_conditioning("pair", 0.3, probs=p, labels=y)


def test_update_estimation_array_and_dict(probs_labels):
    p, _ = probs_labels
    fig = cw.update_estimation(97.0, True, probs=p, T=T_DIGIT)
    err = estimation_error(estimate_transition(p), T_DIGIT)
    assert f"{err:.3f}" in fig._suptitle.get_text()
    fig = cw.update_estimation(99.0, False, 10, probs={10: p}, T=T_DIGIT)
    assert len(fig.axes) == 3
    with pytest.raises(ValueError, match="epoch"):
        cw.update_estimation(97.0, True, 3, probs={10: p}, T=T_DIGIT)


def test_update_wrong_t():
    cache = {"pair": (noise.transition_matrix("pair", K, 0.4), {0.0: fake_history([0.5, 0.9]),
                                                                0.5: fake_history([0.5, 0.7])})}
    fig = cw.update_wrong_t("pair", 0.5, cache=cache, T=T_DIGIT, ce_history=fake_history([0.6, 0.8]))
    assert len(fig.axes) == 3
    assert "0.50" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="weight"):
        cw.update_wrong_t("pair", 0.3, cache=cache, T=T_DIGIT)
    with pytest.raises(ValueError, match="wrong"):
        cw.update_wrong_t("identity", 0.0, cache=cache, T=T_DIGIT)


def test_loss_distribution_and_curves_figures():
    fig = cp.loss_distribution_figure({"ce": np.abs(np.random.default_rng(0).normal(size=50)),
                                       "backward(T)": np.random.default_rng(1).normal(size=50)})
    assert "negative" in fig.axes[0].get_legend().get_texts()[1].get_text()
    fig = cp.correction_curves_figure({"ce": fake_history([0.5, 0.8]), "forward(T)": fake_history([0.6, 0.9])})
    assert len(fig.axes) == 2


def test_widgets_build(probs_labels):
    w = pytest.importorskip("ipywidgets")
    p, y = probs_labels
    box = cw.expected_loss_widget()
    assert isinstance(box, w.VBox)
    assert not any(c.continuous_update for c in box.children[0].children)  # figures redraw on release
    box = cw.conditioning_widget(p, y, eta=0.8)
    family, eta = box.children[0].children
    family.value = "digit map"
    assert eta.max == pytest.approx(0.49) and eta.value <= 0.49
    assert isinstance(cw.estimation_widget({10: p, 20: p}, T_DIGIT, epoch=20), w.VBox)
    h = fake_history([0.5, 0.9])
    cache = {"a": (np.eye(K), {0.0: h, 1.0: h}), "b": (np.eye(K), {0.0: h, 1.0: h})}
    assert isinstance(cw.wrong_t_widget(cache, T_DIGIT), w.VBox)
    with pytest.raises(ValueError, match="same weights"):
        cw.wrong_t_widget({"a": cache["a"], "c": (np.eye(K), {0.0: h})}, T_DIGIT)


# ----------------------------------------------------------------------------- experiment runner (tiny)
@pytest.fixture(scope="module")
def tiny():
    from nblib.data import load

    data = load("digits", device="cpu")
    noisy, _ = noise.corrupt_labels(data.y_train, T_DIGIT, seed=0)
    return data, noisy


@pytest.mark.slow
def test_train_seeds_records_probs_and_forward_identity_is_ce(tiny):
    data, noisy = tiny
    specs = {"ce": ("ce", {}), "forward(I)": ("forward", {"T": np.eye(K)}), "backward(T)": ("backward", {"T": T_DIGIT})}
    out = cw.train_seeds(data, noisy, specs, seeds=(0,), epochs=2, record={"ce": (1, 2)})
    assert set(out["histories"]) == set(specs) and len(out["histories"]["ce"]) == 1
    probs = out["probs"]["ce"][0]
    assert sorted(probs) == [1, 2] and probs[2].shape == (len(noisy), K)
    np.testing.assert_allclose(probs[2].sum(axis=1), 1, atol=1e-5)
    # same init and batches: forward with T = I trains exactly like CE
    np.testing.assert_allclose(out["histories"]["forward(I)"][0].loss, out["histories"]["ce"][0].loss, rtol=1e-5)
    per = cw.per_sample_losses({k: v[0] for k, v in out["models"].items()}, specs, data.x_train, noisy, K)
    assert per["backward(T)"].shape == (len(noisy),) and (per["ce"] >= 0).all()
    per_seed = cw.train_seeds(data, noisy, lambda s: {"ce": ("ce", {})}, seeds=(0, 1), epochs=1)
    assert len(per_seed["histories"]["ce"]) == 2


@pytest.mark.slow
def test_train_blends_reuses_known_runs(tiny):
    data, noisy = tiny
    known = fake_history([0.1])
    out = cw.train_blends(data, noisy, T_DIGIT, np.eye(K), [0.0, 0.5], epochs=1, known={0.0: known})
    assert list(out) == [0.0, 0.5] and out[0.0] is known
    assert out[0.5].config["loss"] == "forward" and len(out[0.5].test_acc) == 1


# ----------------------------------------------------------------------------- exercise checks
def test_check_forward(capsys):
    assert ex.check_forward(lambda p, T, y: -np.log((p @ T)[np.arange(len(y)), y]))
    assert not ex.check_forward(lambda p, T, y: -np.log((p @ T.T)[np.arange(len(y)), y]))
    assert "instead of T^T" in capsys.readouterr().out
    assert not ex.check_forward(lambda p, T, y: -np.log(p[np.arange(len(y)), y]))
    assert "plain cross entropy" in capsys.readouterr().out
    assert not ex.check_forward(lambda p, T, y: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not ex.check_forward(lambda p, T, y: np.zeros(3))
    assert "shape" in capsys.readouterr().out


def test_check_backward(capsys):
    good = lambda p, T, y: (-np.log(p) @ np.linalg.inv(T).T)[np.arange(len(y)), y]  # noqa: E731
    assert ex.check_backward(good)
    assert ex.check_backward(lambda p, T, y: torch.as_tensor(good(p, T, y)))  # tensors are fine too
    capsys.readouterr()
    assert not ex.check_backward(lambda p, T, y: (-np.log(p) @ np.linalg.inv(T))[np.arange(len(y)), y])
    assert "column of T^{-1}" in capsys.readouterr().out
    assert not ex.check_backward(lambda p, T, y: (-np.log(p) @ T.T)[np.arange(len(y)), y])
    assert "inverse" in capsys.readouterr().out


def test_check_singular_eta(capsys):
    assert ex.check_singular_eta(0.9)
    assert ex.check_singular_eta(0.75, num_classes=4)
    assert not ex.check_singular_eta(1.0)
    capsys.readouterr()
    assert not ex.check_singular_eta(None)
    assert capsys.readouterr().out.startswith("No answer yet")
    with pytest.raises(TypeError, match="value must be a number"):
        ex.check_singular_eta("0.9 or so")


def test_check_anchor_estimate(capsys):
    def good(p):
        T_hat = p[p.argmax(axis=0)]
        return T_hat / T_hat.sum(axis=1, keepdims=True)

    assert ex.check_anchor_estimate(good)
    assert not ex.check_anchor_estimate(lambda p: good(p).T)
    assert "transposed" in capsys.readouterr().out
    assert not ex.check_anchor_estimate(lambda p: np.eye(p.shape[1]))
    assert not ex.check_anchor_estimate(lambda p: np.eye(2))
    assert "must be" in capsys.readouterr().out
