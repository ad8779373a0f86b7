"""Lesson 2 helpers: gradient figures, the gradient widget's update function, exercise checks."""
import numpy as np
import pytest
import torch

from nblib import losses
from nblib.course.lesson02 import exercises as ex
from nblib.course.lesson02 import figures as G
from nblib.course.style import loss_color
from nblib.train import History


def _history(n=5, share=0.4, acc=0.5):
    e = list(range(1, n + 1))
    return History(epoch=e, test_acc=list(np.linspace(0.2, acc, n)), train_acc=list(np.linspace(0.2, acc, n)),
                   flipped_acc_noisy=list(np.linspace(0, 0.8, n)), flipped_grad_share=[share] * n)


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


def test_logit_gradient_view_rejects_bad_input():
    with pytest.raises(ValueError, match="p_y"):
        G.logit_gradient_view(1.0)
    with pytest.raises(ValueError, match="label"):
        G.logit_gradient_view(0.5, num_classes=3, label=3)


def test_grad_share_figure_lines_in_percent_with_fair_share():
    hs = {"ce": _history(share=0.8), "mae": _history(share=0.2)}
    fig = G.grad_share_figure(hs, noise_rate=0.4)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [l.get_color() for l in lines[:2]] == [loss_color("ce"), loss_color("mae")]
    assert np.allclose(lines[0].get_ydata(), 80) and np.allclose(lines[2].get_ydata(), 40)
    assert "%" in ax.get_ylabel() and ax.get_xlabel() == "epoch"
    assert "CCE" in ax.get_title()
    with pytest.raises(ValueError, match="noise_rate"):
        G.grad_share_figure(hs, noise_rate=40)
    with pytest.raises(ValueError, match="runs"):
        G.grad_share_figure({}, noise_rate=0.4)


def test_grad_share_figure_one_panel_per_dataset():
    runs = {"mnist1d": {"ce": _history(share=0.6), "mae": _history(share=0.3)}, "digits": {"ce": _history()}}
    fig = G.grad_share_figure(runs, noise_rate={"mnist1d": 0.4, "digits": 0.38})
    assert [ax.get_title() for ax in fig.axes] == ["mnist1d: 40% of labels flipped", "digits: 38% of labels flipped"]
    assert np.allclose(fig.axes[1].get_lines()[-1].get_ydata(), 38)
    assert "CCE" in fig._suptitle.get_text()


def test_noisy_run_panels_and_underfit_figure():
    hs = {"ce": _history(acc=0.9), "mae": _history(acc=0.5)}
    fig = G.noisy_run_panels(hs)
    assert [ax.get_title() for ax in fig.axes] == ["Test accuracy", "Flipped samples memorised"]
    assert all(ax.get_xlabel() == "epoch" and ax.get_ylabel() for ax in fig.axes)
    fig = G.noisy_run_panels({"mnist1d": hs, "digits": hs})
    assert [ax.get_title() for ax in fig.axes] == ["mnist1d: test accuracy", "mnist1d: flipped samples memorised",
                                                   "digits: test accuracy", "digits: flipped samples memorised"]
    fig = G.underfit_figure({"digits": hs, "mnist1d": hs})
    assert [ax.get_title() for ax in fig.axes] == ["digits: test CE 90%, MAE 50%", "mnist1d: test CE 90%, MAE 50%"]
    assert fig.axes[0].get_ylabel() == "accuracy (fraction correct)"
    with pytest.raises(ValueError, match="runs"):
        G.underfit_figure({})


def test_class_sums_figure_flat_for_mae():
    z = torch.randn(64, 10, generator=torch.Generator().manual_seed(0)) * 3
    sums = {n: losses.class_sums(n, z) for n in ("ce", "mae")}
    fig = G.class_sums_figure(sums, 10)
    ax = fig.axes[0]
    ce, mae = ax.get_lines()
    assert np.all(np.diff(ce.get_ydata()) >= 0), "sorted by CCE's sum"
    assert np.allclose(mae.get_ydata(), 18, atol=1e-4)
    assert "2K-2 = 18" in ax.get_title()


def test_gradient_explorer_builds_and_redraws():
    pytest.importorskip("ipywidgets")
    from nblib.course.lesson02.widgets import gradient_explorer

    box = gradient_explorer(num_classes=10)
    s = box.children[0].children[0]
    assert s.continuous_update is False and s.min > 0 and s.max < 1
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
                    ex.check_symmetric_losses(...)])
    assert capsys.readouterr().out.count("No answer yet") == 4


def test_check_mae_peak():
    assert ex.check_mae_peak(0.5) and not ex.check_mae_peak(0.1)


def test_check_symmetric_losses():
    assert ex.check_symmetric_losses({"mae", "rce", "nce"}) and ex.check_symmetric_losses(["NCE", "MAE", "RCE"])
    assert not ex.check_symmetric_losses(["mae"]) and not ex.check_symmetric_losses(["mae", "rce", "nce", "gce"])
    with pytest.raises(ValueError, match="answer"):
        ex.check_symmetric_losses(["l2"])
