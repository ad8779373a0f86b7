"""Lesson 5 (loss correction): the live explorers, the experiment runner, the exercise checks."""
import numpy as np
import pytest
import torch

from nblib import estimate, losses, noise
from nblib.course.lesson05 import exercises as ex
from nblib.course.lesson05 import experiments as X
from nblib.course.lesson05 import figures as F
from nblib.course.lesson05 import widgets as W
from nblib.train import History

K = 10
T_DIGIT = noise.transition_matrix("asymmetric", K, 0.4, mapping="digits")


@pytest.fixture
def logits_labels():
    g = torch.Generator().manual_seed(0)
    return 2 * torch.randn(200, K, generator=g, dtype=torch.float64), torch.randint(0, K, (200,), generator=g)


def fake_history(accs, val=None, loss=0.5):
    h = History()
    for e, a in enumerate(accs, 1):
        h.epoch.append(e)
        h.test_acc.append(a)
        h.val_acc.append(a if val is None else val[e - 1])
        h.loss.append(loss)
    return h


# ----------------------------------------------------------------------------- the binary toy
def test_expected_losses_are_class_values_times_the_noisy_distribution():
    toy = F.ExpectedLossExplorer()
    r = toy.curves(0.7, 0.1, 0.4)
    T = noise.binary_transition(0.1, 0.4)
    noisy = T.T @ np.array([0.3, 0.7])
    assert r["noisy_posterior"] == pytest.approx(noisy[1])
    i = 150
    z = torch.tensor([[0.0, np.log(toy.q[i] / (1 - toy.q[i]))]], dtype=torch.float64)
    assert r["forward"][i] == pytest.approx(float(losses.class_values("forward", z, T=T)[0] @ torch.as_tensor(noisy)))
    np.testing.assert_allclose(r["backward"], r["clean"], rtol=1e-10)          # Theorem 1
    m = toy.minima(0.7, 0.1, 0.4)
    assert m["forward"] == pytest.approx(0.7, abs=0.01) and m["backward"] == pytest.approx(0.7, abs=0.01)
    assert m["ce"] == pytest.approx(noisy[1], abs=0.01)                          # CE: the noisy posterior
    assert toy.draw(0.6, 0.2, 0.2) is toy.fig and toy.png(0.6, 0.2, 0.2)[:4] == b"\x89PNG"


# ----------------------------------------------------------------------------- conditioning
@pytest.mark.parametrize("family, star", [("symmetric", 0.9), ("digit map", 0.5)])
def test_conditioning_explorer_stops_at_float32s_limit(logits_labels, family, star):
    z, y = logits_labels
    c = F.ConditioningExplorer(z, y, family)
    assert c.eta_star == pytest.approx(star)
    assert c.eta_max < star and noise.condition_number(F.family_matrix(family, K, c.eta_max)) <= losses.MAX_COND
    torch.testing.assert_close(torch.as_tensor(c.backward_losses(0.3)),
                               losses.backward(z, y, T=F.family_matrix(family, K, 0.3), reduction="none"))
    assert c.backward_losses(0.0) == pytest.approx(losses.ce(z, y, reduction="none").numpy())
    assert c.png(0.3)[:4] == b"\x89PNG" and c.draw(c.eta_max + 1) is c.fig     # eta beyond the limit is clipped


def test_conditioning_table_grows_towards_singular(logits_labels):
    z, y = logits_labels
    t = F.conditioning_table(z, y, "symmetric", (0.0, 0.5, 0.85))
    assert list(t.columns) == ["cond_T", "max_abs_T_inv", "bwd_loss_std", "bwd_loss_min", "share_negative"]
    assert t["cond_T"].is_monotonic_increasing and t["bwd_loss_std"].is_monotonic_increasing
    assert t.loc[0.0, "share_negative"] == 0


# ----------------------------------------------------------------------------- estimation
def test_estimation_explorer_reads_the_chosen_epoch():
    rng = np.random.default_rng(0)
    y = rng.integers(0, K, 500)
    exact = T_DIGIT[y]                                               # a perfect, calibrated model
    probs = np.stack([np.full_like(exact, 1 / K), exact]).astype(np.float32)
    e = F.EstimationExplorer(probs, T_DIGIT, [0.1, 0.6])
    assert e.val_epoch == 2
    T_hat, reasons = e.estimate(2, 100.0, False)
    assert estimate.estimation_error(T_hat, T_DIGIT) < 1e-6 and reasons == []
    assert e.error(2, 100.0, False) < 1e-6 and e.errors.shape == (2,)
    assert e.png(1, 97.0, True)[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="one value per epoch"):
        F.EstimationExplorer(probs, T_DIGIT, [0.1])


def test_widgets_build(logits_labels):
    import ipywidgets as w

    z, y = logits_labels
    assert isinstance(W.expected_loss_widget(), w.VBox)
    box = W.conditioning_widget(z, y, eta=0.4)
    assert isinstance(box, w.VBox)
    family, eta = box.children[0].children
    assert eta.continuous_update and eta.max == pytest.approx(F.ConditioningExplorer.max_eta(K, "symmetric"))
    family.value = "digit map"
    assert eta.max < 0.5 and eta.value <= eta.max
    probs = np.stack([torch.softmax(z, 1).numpy()] * 3)
    est = W.estimation_widget(probs, T_DIGIT, [0.2, 0.3, 0.25])
    epoch, percentile, _ = est.children[0].children
    assert epoch.max == 3 and epoch.value == 3 and percentile.continuous_update


# ----------------------------------------------------------------------------- figures over seeds
def test_seed_figures():
    import pandas as pd

    curves = pd.DataFrame([{"run": r, "seed": s, "epoch": e, "test_acc": 0.5 + 0.01 * e, "loss": 1.0 / e}
                           for r in ("ce", "forward(T)") for s in (0, 1) for e in range(1, 4)])
    fig = F.curves_figure(curves)
    assert fig.axes[0].get_ylabel().startswith("test accuracy")
    errors = pd.DataFrame([{"seed": s, "epoch": e, "error": 1.0 / e} for s in (0, 1) for e in range(1, 4)])
    assert F.estimation_error_figure(errors, {0: 2, 1: 3}).axes[0].get_ylabel().startswith("relative L1")
    finals = pd.DataFrame([{"wrong": n, "w": w, "seed": s, "final_test_acc": 0.8 - 0.1 * w}
                           for n in ("identity", "pair") for w in (0.0, 1.0) for s in (0, 1)])
    assert F.wrong_t_figure(finals, ce_final=[0.7, 0.72]).axes[0].get_xlabel().startswith("weight w")
    fig = F.loss_distribution_figure({"ce": np.array([0.1, 2.0]), "backward(T)": np.array([-5.0, 0.3])})
    assert "negative" in fig.axes[0].get_legend().get_texts()[1].get_text()


# ----------------------------------------------------------------------------- the experiment runner (tiny)
@pytest.fixture(scope="module")
def tiny():
    """Two seeds, the classroom setting cut to 3 epochs: every stage of the lesson's pipeline."""
    from nblib.course import settings

    exp = X.prepare("classroom", seeds=(0, 1), device="cpu")
    exp.setting = settings.SETTINGS["classroom"]["memorise"].replace(epochs=3)
    X.train_known(exp, progress=False)
    return exp


@pytest.mark.slow
def test_the_pipeline_records_ce_predictions_and_trains_forward(tiny):
    exp = tiny
    assert set(exp.histories) == set(X.KNOWN) and all(len(v) == 2 for v in exp.histories.values())
    assert exp.ce_probs[0].shape == (3, len(exp.data.y_train), K)
    np.testing.assert_allclose(exp.ce_probs[1][-1].sum(axis=1), 1, atol=1e-4)
    # the recorded predictions are the CE model's: its final training accuracy can be read off them
    acc = float((exp.ce_probs[0][-1].argmax(1) == exp.labels[0][0].numpy()).mean())
    assert acc == pytest.approx(exp.histories["ce"][0].train_acc[-1], abs=1e-9)
    epochs = X.val_selected_epochs(exp)
    assert set(epochs) == {0, 1} and all(1 <= e <= 3 for e in epochs.values())
    hats = {s: X.estimate_at(exp, s, epochs[s]) for s in exp.seeds}
    assert X.estimation_errors(exp).shape == (2 * 3, 3)
    wrong = X.wrong_matrices(exp)
    X.train_forward(exp, {"forward(T-hat)": hats, **wrong}, progress=False)
    assert len(exp.histories["forward(T-hat)"]) == 2
    frame = X.wrong_frame(exp, wrong)
    assert set(frame["wrong"]) == {"identity", "pair i->i+1"} and {0.0, 1.0} <= set(frame["w"])
    assert X.per_seed(exp, "backward(T)", "drop").shape == (2,)
    table = X.results_table(exp, X.KNOWN)
    assert list(table.index) == list(X.KNOWN) and "±" in table.iloc[0, 0]
    per = X.per_sample_losses(exp, X.KNOWN)
    assert per["ce"].shape == (len(exp.data.y_train),) and (per["ce"] >= 0).all()
    assert set(X.curves_frame(exp, ["ce"])["run"]) == {"ce"}


def test_model_choice_check(capsys):
    hs = [fake_history([0.5, 0.9, 0.7], val=[0.4, 0.6, 0.5]), fake_history([0.5, 0.6, 0.8], val=[0.5, 0.7, 0.6])]
    assert ex.check_model_choice([2, 2], hs)
    assert not ex.check_model_choice([3, 3], hs)
    assert "last epoch" in capsys.readouterr().out
    assert not ex.check_model_choice([2, 3], hs)
    assert "clean *test* labels" in capsys.readouterr().out
    assert not ex.check_model_choice([1], hs)
    assert not ex.check_model_choice(None, hs)
    assert "No answer yet" in capsys.readouterr().out


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
    assert ex.check_singular_eta(0.9, kind="symmetric")
    assert ex.check_singular_eta(0.75, num_classes=4, kind="symmetric")
    assert not ex.check_singular_eta(1.0, kind="symmetric")
    assert ex.check_singular_eta(0.5) and not ex.check_singular_eta(0.9)            # pair map, K = 10
    assert ex.check_singular_eta(float("inf"), num_classes=9) and not ex.check_singular_eta(0.5, num_classes=9)
    with pytest.raises(ValueError, match="kind"):
        ex.check_singular_eta(0.5, kind="digits")
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


# ----------------------------------------------------------------------------- review fixes
def test_large_scale_is_the_classroom_setting_with_more_seeds():
    from nblib.course.settings import SEEDS

    assert X.CONFIG["large"]["setting"].epochs == X.CONFIG["classroom"]["setting"].epochs == 80
    assert X.CONFIG["large"]["setting"] == X.CONFIG["classroom"]["setting"] and len(SEEDS["large"]) == 5


def test_per_seed_metrics_use_the_val_chosen_epoch_and_the_last_five():
    from types import SimpleNamespace

    accs = [0.5, 0.9, 0.8] + [0.7] * 4 + [0.6]
    h = fake_history(accs, val=[0.1, 0.2, 0.9] + [0.3] * 5)           # val peaks at epoch 3, test at 2
    exp = SimpleNamespace(histories={"ce": [h]})
    assert X.per_seed(exp, "ce", "oracle")[0] == pytest.approx(0.9)
    assert X.per_seed(exp, "ce", "selected")[0] == pytest.approx(0.8)
    assert X.per_seed(exp, "ce")[0] == pytest.approx(np.mean(accs[-5:]))
    assert X.per_seed(exp, "ce", "drop")[0] == pytest.approx(0.8 - np.mean(accs[-5:]))
    with pytest.raises(ValueError, match="metric"):
        X.per_seed(exp, "ce", "best")
    assert X.seed_line([0.01, -0.02]) == "+1.0, -2.0 (mean -0.5)"


def test_column_failure_matrix_fails_condition_2_only():
    T = X.column_failure_matrix(K)
    np.testing.assert_allclose(T.sum(axis=1), 1)
    assert all(T[i].argmax() == i for i in range(K))                   # every row keeps its class most likely
    assert T[:, 7].argmax() == 2                                       # column 7 peaks at a 2
    y = np.repeat(np.arange(K), 5)
    P = T[y]
    anchors = estimate.anchor_points(P, filter_outliers=False)
    assert y[anchors[7]] == 2 and [y[a] for i, a in enumerate(anchors) if i != 7] == [i for i in range(K) if i != 7]
    reasons = " ".join(estimate.degenerate_anchors(P, anchors, P[anchors]))
    assert "7 (predicts 2 with p=0.55)" in reasons and "(predicts 7" not in reasons
