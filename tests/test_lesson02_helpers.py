"""Lesson 2 helpers: gradient figures, the live gradient explorer, the gradient-share experiment's
tables and figures (on a small real sweep), the stored MNIST-1D runs, and the exercise checks."""
import types

import numpy as np
import pytest
import torch

from nblib import losses
from nblib.course.lesson02 import exercises as ex
from nblib.course.lesson02 import experiments as E
from nblib.course.lesson02 import figures as G
from nblib.course.style import loss_color


# ---------------------------------------------------------------- figures

def test_weight_curves_match_the_formulas():
    fig = G.weight_curves(num_classes=10)
    left, right = fig.axes
    assert "1/p_y" in left.get_title() and left.get_yscale() == "log"
    assert "p_y" in left.get_xlabel() and "theta" in left.get_ylabel()
    ce, mae, apl = [l for l in left.get_lines() if len(l.get_xdata()) > 2]
    p = ce.get_xdata()
    assert np.allclose(ce.get_ydata(), 1 / p) and np.allclose(mae.get_ydata(), 2) and np.allclose(apl.get_ydata(), 1)
    assert ce.get_color() == loss_color("ce") and mae.get_color() == loss_color("mae")
    ce_z, mae_z = [l for l in right.get_lines() if len(l.get_xdata()) > 2]
    assert np.allclose(ce_z.get_ydata(), 1 - p) and np.allclose(mae_z.get_ydata(), 2 * p * (1 - p))
    with pytest.raises(ValueError, match="p_min"):
        G.weight_curves(p_min=0)


@pytest.mark.parametrize("p_y", [0.05, 0.5, 0.9])
def test_logit_gradient_view_bars_are_p_minus_onehot(p_y):
    fig = G.logit_gradient_view(p_y, num_classes=5, label=2)
    ax = fig.axes[0]
    bars = ax.patches
    ce = np.array([b.get_height() for b in bars[:5]])
    mae = np.array([b.get_height() for b in bars[5:10]])
    want = np.full(5, (1 - p_y) / 4)
    want[2] = p_y - 1
    assert np.allclose(ce, want) and np.allclose(mae, 2 * p_y * want)
    assert f"{1 / (2 * p_y):.1f} x" in ax.get_title()
    assert ax.get_xlabel() == "class k" and "z_k" in ax.get_ylabel()
    lo, hi = ax.get_ylim()
    assert lo <= want.min() and hi >= want.max()


def test_gradient_explorer_png_moves_only_the_bars():
    explorer = G.GradientExplorer(10)
    a, b = explorer.png(0.1), explorer.png(0.6)
    assert a != b and a[:8] == b"\x89PNG\r\n\x1a\n"
    assert explorer.gradients(0.6)["ce"][0] == pytest.approx(-0.4)


def test_logit_gradient_view_rejects_bad_input():
    with pytest.raises(ValueError, match="p_y"):
        G.logit_gradient_view(1.0)
    with pytest.raises(ValueError, match="label"):
        G.logit_gradient_view(0.5, num_classes=3, label=3)


@pytest.fixture(scope="module")
def result(tiny_runs):
    return tiny_runs(("ce", "mae"), ("sym 0", "sym 0.4"), epochs=6)


def test_gradient_runs_use_the_shared_setting(monkeypatch):
    seen = {}
    monkeypatch.setattr(E.runs, "run", lambda setting, name, **kw: seen.update(name=name, **kw))
    E.gradient_runs(types.SimpleNamespace(scale="classroom", seeds=(0, 1, 2), device="cpu"))
    assert seen["name"] == "memorise" and seen["losses"] == ("ce", "mae") and seen["noise"] == ("sym 0", "sym 0.4")


def test_large_scale_is_the_classroom_setting_with_more_seeds(monkeypatch):
    from nblib.course.settings import SEEDS, SETTINGS

    seen = {}
    monkeypatch.setattr(E.runs, "run", lambda setting, name, **kw: seen.update(setting=setting, **kw))
    course = types.SimpleNamespace(scale="large", seeds=SEEDS["large"], device="cpu")
    E.gradient_runs(course)
    assert seen["setting"] == SETTINGS["classroom"]["memorise"] and seen["seeds"] == SEEDS["large"]
    text = E.describe(course)
    assert f"{SETTINGS['classroom']['memorise'].epochs} epochs" in text and f"{len(SEEDS['large'])} seeds" in text
    assert "40%" in text and E.studied_noise(course) == "sym 0.4"


def test_share_window_and_excess(result):
    assert E.share_window(result) == (2, 3)
    got = E.share_excess(result, "ce", "sym 0.4", (2, 4))
    rates = result.per_seed("realised_noise_rate", loss="ce", noise="sym 0.4")
    want = [np.mean(h.flipped_grad_share[1:4]) - r for h, r in zip(result.histories(loss="ce", noise="sym 0.4"), rates)]
    assert got == pytest.approx(want)
    table = E.share_table(result, "sym 0.4")
    assert list(table.index) == ["ce", "mae"]
    assert list(table.columns) == ["share - fraction, epochs 2-3", "share - fraction, epochs 4-6", "best test acc",
                                   "final test acc", "drop from best", "flipped fitted"]
    assert E.share_halves(result) == ((2, 3), (4, 6))


def test_per_seed_helpers(result, capsys):
    E.print_share_per_seed(result, "sym 0.4")
    out = capsys.readouterr().out
    assert out.count("per seed") == 4 and "epochs  2- 3" in out and "epochs  4- 6" in out
    best = result.per_seed("best_test_acc", loss="mae", noise="sym 0.4")
    final = result.per_seed("final_test_acc", loss="mae", noise="sym 0.4")
    assert E.test_acc_drop(result, "mae", "sym 0.4") == pytest.approx(best - final)
    hists = result.histories(loss="ce", noise="sym 0")
    assert E.first_epoch_acc(result, "ce") == pytest.approx([h.test_acc[0] for h in hists])
    assert E.clean_fit_rise(result, "ce", "sym 0.4", start=2) == pytest.approx(
        [h.clean_acc[-1] - h.clean_acc[1] for h in result.histories(loss="ce", noise="sym 0.4")])
    table = E.final_accuracy_table(result, "sym 0")
    assert list(table.index) == ["CE", "MAE"] and table.shape[1] == len(result.grid.seeds)
    (title, (curves, fraction)), = E.share_panels("digits", result, "sym 0.4").items()
    assert title == "digits" and set(curves["noise"]) == {"sym 0.4"} and 0.3 < fraction < 0.5
    assert set(E.clean_curves(result)["noise"]) == {"sym 0"}
    noisy = E.curves_at(result, "sym 0.4", "test_acc", "flipped_acc_noisy")
    assert set(noisy["noise"]) == {"sym 0.4"} and {"test_acc", "flipped_acc_noisy"} <= set(noisy.columns)


def test_gradient_share_figure_bands_in_percent_with_fair_share(result):
    curves = result.curves("flipped_grad_share").query("noise == 'sym 0.4'")
    fig = G.gradient_share_figure({"digits": (curves, 0.4)}, window=(2, 3))
    ax = fig.axes[0]
    ce_mean = 100 * curves[curves.loss == "ce"].groupby("epoch")["flipped_grad_share"].mean().to_numpy()
    ce_line = [l for l in ax.get_lines() if l.get_color() == loss_color("ce")][0]
    assert ce_line.get_ydata() == pytest.approx(ce_mean)
    assert any(np.allclose(l.get_ydata(), 40) for l in ax.get_lines())
    assert "%" in ax.get_ylabel() and ax.get_title() == "digits: 40% of labels flipped"
    assert ax.patches or ax.collections, "the late epochs are shaded"
    with pytest.raises(ValueError, match="fraction"):
        G.gradient_share_figure({"digits": (curves, 40)}, window=(2, 3))
    with pytest.raises(ValueError, match="panels"):
        G.gradient_share_figure({}, window=(2, 3))


def test_noisy_runs_and_underfit_figures(result):
    fig = G.noisy_runs_figure(result.curves("test_acc", "flipped_acc_noisy").query("noise == 'sym 0.4'"))
    assert [ax.get_title() for ax in fig.axes[:2]] == ["Test accuracy", "Flipped samples memorised"]
    clean = result.curves("test_acc", "train_acc").query("noise == 'sym 0'")
    fig = G.underfit_figure({"digits": clean, "again": clean})
    assert [ax.get_title() for ax in fig.axes[:2]] == ["digits", "again"]
    n_runs = clean.groupby(["loss", "seed"]).ngroups
    assert len(fig.axes[0].get_lines()) == 2 * n_runs, "one test and one train line per run (seeds drawn apart)"
    assert fig.axes[0].get_ylabel() == "accuracy (fraction correct)"
    with pytest.raises(ValueError, match="panels"):
        G.underfit_figure({})


def test_stored_runs_are_lesson_6s_mnist1d_cells():
    hard = E.stored_runs(0.4)
    assert {(r["label"]["loss"], r["label"]["noise"]) for r in hard.results} == {
        (loss, noise) for loss in ("ce", "mae") for noise in ("sym 0", "sym 0.4")}
    assert hard.grid.dataset == "mnist1d" and len(hard.results) == 12


def test_class_sums_figure_flat_for_mae():
    z = torch.randn(64, 10, generator=torch.Generator().manual_seed(0)) * 3
    sums = {n: losses.class_sums(n, z) for n in ("ce", "mae")}
    fig = G.class_sums_figure(sums, 10)
    ax = fig.axes[0]
    ce, mae = ax.get_lines()
    assert np.all(np.diff(ce.get_ydata()) >= 0), "sorted by CCE's sum"
    assert np.allclose(mae.get_ydata(), 18, atol=1e-4)
    assert "2K-2 = 18" in ax.get_title()


def test_gradient_explorer_widget_follows_the_hand():
    pytest.importorskip("ipywidgets")
    from nblib.course.lesson02.widgets import gradient_explorer

    box = gradient_explorer(num_classes=10)
    s = box.children[0].children[0]
    assert s.continuous_update is True and s.min > 0 and s.max < 1
    s.value = 0.3


# ---------------------------------------------------------------- exercise checks

def test_check_ce_logit_gradient(capsys):
    z = np.array(ex.EX1_LOGITS)
    g = np.exp(z) / np.exp(z).sum()
    g[ex.EX1_LABEL] -= 1
    assert ex.check_ce_logit_gradient(g) and ex.check_ce_logit_gradient(torch.tensor(g))
    assert not ex.check_ce_logit_gradient(-g)
    assert "sign" in capsys.readouterr().out
    assert not ex.check_ce_logit_gradient(g + 0.1)
    assert not ex.check_ce_logit_gradient(g[:2])


def test_check_gradient_ratio(capsys):
    assert ex.check_gradient_ratio(1 / (2 * ex.EX2_P_Y))
    assert not ex.check_gradient_ratio(2 * ex.EX2_P_Y)
    assert "other way round" in capsys.readouterr().out
    assert not ex.check_gradient_ratio(1 / ex.EX2_P_Y)


def test_checks_accept_the_placeholder_without_crashing(capsys):
    assert not any([ex.check_ce_logit_gradient(...), ex.check_gradient_ratio(...), ex.check_mae_peak(...),
                    ex.check_symmetric_losses(...), ex.check_fitting_seed(...), ex.check_risk_factor(None)])
    assert capsys.readouterr().out.count("No answer yet") == 6


def test_check_mae_peak():
    assert ex.check_mae_peak(0.5) and not ex.check_mae_peak(0.1)


def test_check_symmetric_losses():
    assert ex.check_symmetric_losses({"mae", "rce", "nce"}) and ex.check_symmetric_losses(["NCE", "MAE", "RCE"])
    assert not ex.check_symmetric_losses(["mae"]) and not ex.check_symmetric_losses(["mae", "rce", "nce", "gce"])

def test_check_symmetric_losses_names_the_candidates_for_an_unknown_name(capsys):
    assert not ex.check_symmetric_losses(["mae", "l2"])
    out = capsys.readouterr().out
    assert "l2" in out and all(n in out for n in ex.EX4_CANDIDATES)


def test_check_fitting_seed_reads_the_stored_runs(capsys):
    hard = E.stored_runs()
    fit = hard.per_seed("clean_acc", loss="mae", noise="sym 0.4")
    best = int(hard.grid.seeds[int(np.argmax(fit))])
    assert ex.check_fitting_seed(best, hard)
    assert not ex.check_fitting_seed((best + 1) % len(fit), hard)


def test_check_risk_factor():
    K = ex.EX6_K
    assert ex.check_risk_factor([1 - r * K / (K - 1) for r in ex.EX6_RATES])
    assert not ex.check_risk_factor([0.0, 0.0]) and not ex.check_risk_factor([0.0])
