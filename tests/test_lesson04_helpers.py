"""Lesson 4 helpers: symmetry tables, the live class-sum explorer, active/passive terms and gradients,
NCE's path figure, the experiment plumbing, the exercise checks."""
import numpy as np
import pandas as pd
import pytest
import torch

from nblib import losses as L
from nblib.course.lesson04 import exercises as ex
from nblib.course.lesson04 import experiments as X
from nblib.course.lesson04 import figures as plots
from nblib.course.lesson04 import widgets as widgets

K = 10


def test_random_logits_seeded_and_validated():
    a, b = widgets.random_logits(4, 3, 2.0, seed=1), widgets.random_logits(4, 3, 2.0, seed=1)
    assert torch.equal(a, b) and a.shape == (4, 3) and a.dtype == torch.float64
    assert not torch.equal(a, widgets.random_logits(4, 3, 2.0, seed=2))
    torch.testing.assert_close(widgets.random_logits(4, 3, 2.0, seed=1), 2 * widgets.random_logits(4, 3, 1.0, seed=1))
    with pytest.raises(ValueError, match="scale"):
        widgets.random_logits(4, 3, 0.0)
    with pytest.raises(ValueError, match="num_classes"):
        widgets.random_logits(4, 1)


def test_symmetry_table_flags_exactly_the_symmetric_losses():
    z = widgets.random_logits(300, K, 3.0)
    table = widgets.symmetry_table(widgets.SYMMETRY_LOSSES, z)
    assert list(table.index) == list(widgets.SYMMETRY_LOSSES)
    assert set(table.index[table["symmetric"]]) == {"nce", "nfl", "ngce", "mae", "rce", "nmae", "nrce"}
    assert table.loc["ce", "gap"] == pytest.approx(L.symmetry_gap("ce", z))
    assert table.loc["nrce", "min"] == pytest.approx(1.0) and table.loc["mae", "max"] == pytest.approx(2 * (K - 1))


def test_class_sum_strips_rows_and_axis_labels():
    z = widgets.random_logits(50, K, 3.0)
    ax = plots.class_sum_strips({n: L.class_sums(n, z) for n in ("ce", "nce", "mae")})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ce", "nce", "mae"]
    spans = [line.get_xdata() for line in ax.get_lines()
             if len(line.get_ydata()) == 2 and line.get_ydata()[0] == line.get_ydata()[1]]
    widths = [float(np.ptp(x)) for x in spans]
    assert widths[0] > 0.1 and widths[1] < 1e-9 and widths[2] < 1e-9   # only CE spreads


@pytest.mark.parametrize("loss, symmetric", [("ce", False), ("gce", False), ("nce", True), ("ngce", True), ("rce", True)])
def test_class_sum_explorer_moves_its_points_and_tells_symmetric_from_not(loss, symmetric):
    base = widgets.random_logits(200, K, 1.0)
    ex_ = plots.ClassSumExplorer(loss, lambda s: s * base, n_shown=100)
    fig = ex_.draw(4.0)
    sums, conf = ex_.sums(4.0)
    np.testing.assert_allclose(ex_.points.get_offsets()[:, 1], sums.numpy()[:100])
    np.testing.assert_allclose(ex_.points.get_offsets()[:, 0], conf.numpy()[:100])
    assert ("constant up to rounding" in fig.axes[0].get_title()) == symmetric
    lo, hi = fig.axes[0].get_ylim()                                  # the axes cover the whole slider range
    for s in plots.SCALE_RANGE:
        assert lo <= float(ex_.sums(s)[0].min()) and float(ex_.sums(s)[0].max()) <= hi
    assert ex_.png(2.0)[:4] == b"\x89PNG"


def test_class_sum_widget_is_live_and_switches_loss():
    box = widgets.class_sum_widget(losses=("ce", "nce"), n=50)
    dropdown, scale = box.children[0].children
    assert scale.continuous_update and (scale.min, scale.max) == plots.SCALE_RANGE
    dropdown.value = "nce"
    assert len(box.children) == 2


# ---------------------------------------------------------------- active / passive

def test_active_passive_bars_one_panel_per_loss_label_hatched():
    z = widgets.random_logits(1, K, 2.0)[0]
    fig = plots.active_passive_bars(z, 2, names=("ce", "rce"))
    axes = fig.axes
    assert len(axes) == 3
    assert axes[1].get_title().startswith("ce (active)") and axes[2].get_title().startswith("rce (passive)")
    assert axes[1].patches[2].get_hatch() == "///" and not axes[1].patches[0].get_hatch()
    np.testing.assert_allclose([p.get_height() for p in axes[2].patches],
                               L.class_terms("rce", z[None], torch.tensor([2]))[0].numpy())


def test_gradient_table_losses_of_p_y_align_with_ce_and_nce_does_not():
    z = widgets.random_logits(300, K, 3.0)
    y = torch.randint(0, K, (300,), generator=torch.Generator().manual_seed(0))
    t = widgets.gradient_table(("ce", "mae", "rce", "nce"), z, y)
    assert (t.loc[["ce", "mae", "rce"], "cos min"] > 1 - 1e-9).all()
    assert (t.loc[["ce", "mae", "rce"], "max |weight - w(p_y)|"] < 1e-9).all()
    assert t.loc["nce", "cos mean"] < 0.95 and np.isnan(t.loc["nce", "max |weight - w(p_y)|"])
    fig = plots.gradient_weight_figure(z, y, names=("ce", "rce", "nce"))
    assert fig.axes[1].get_ylabel().startswith("cosine")


def test_nce_path_ends_near_one_over_k_minus_one():
    z = plots.path_logits(K, favoured=1)
    nce = L.nce(z, torch.zeros(len(z), dtype=torch.long), reduction="none")
    assert float(nce[0]) == pytest.approx(1 / K) and float(nce[-1]) == pytest.approx(1 / (K - 1), rel=1e-3)
    assert bool((nce[1:] >= nce[:-1] - 1e-12).all())               # rises, but only from 1/K to ~1/(K-1)
    fig = plots.nce_path_figure(K)
    assert fig.axes[1].get_yscale() == "log"


# ---------------------------------------------------------------- figures over seeds and the experiment plumbing

def _fake_result():
    """A SweepResult-like object: two losses, three seeds, five epochs, shares and fits set by hand."""
    from nblib.sweep import Grid, SweepResult

    grid = Grid("fake", dataset="digits", losses=("ce", "rce"), noise=("sym 0.4",), seeds=(0, 1, 2), epochs=5)
    results = []
    for cfg in grid.runs():
        loss, seed = cfg["loss"]["label"], cfg["seed"]
        share = 0.6 if loss == "ce" else 0.25
        hist = {"epoch": [1, 2, 3, 4, 5], "test_acc": [0.5, 0.7, 0.8, 0.75, 0.7 + 0.01 * seed],
                "clean_acc": [0.5, 0.8, 0.9, 0.95, 0.99], "flipped_acc_noisy": [0.1, 0.2, 0.5, 0.8, 0.9],
                "flipped_grad_share": [0.9, share, share, share, 0.99], "loss": [1.0] * 5}
        results.append({"config": cfg, "label": {"loss": loss, "noise": "sym 0.4"}, "history": hist, "key": str(seed),
                        "wall_time": 0.0, "engine": "vmap", "device": "cpu",
                        "metrics": {"final_test_acc": hist["test_acc"][-1], "best_test_acc": 0.8,
                                    "memorisation_gap": 0.8 - hist["test_acc"][-1]}})
    return SweepResult(grid, results)


def test_per_seed_fit_table_and_gradient_share():
    res = _fake_result()
    np.testing.assert_allclose(X.grad_share(res, "rce", epochs=(2, 4)), [0.25, 0.25, 0.25])
    np.testing.assert_allclose(X.per_seed(res, "ce", "clean_acc"), [0.99] * 3)
    np.testing.assert_allclose(X.per_seed(res, "ce", "final_test_acc"), [0.70, 0.71, 0.72])
    table = X.fit_table({"clean labels": res, "40% symmetric noise": res}, share_epochs=(2, 4))
    assert list(table.columns) == list(X.FIT_COLUMNS.values())
    assert table.loc[("40% symmetric noise", "rce"), "gradient on flipped"].startswith("0.250")
    assert table.loc[("clean labels", "ce"), "gradient on flipped"] == ""
    fig = plots.seed_curves(res.curves("test_acc", "flipped_grad_share"), ("test_acc", "flipped_grad_share"))
    assert [ax.get_title() for ax in fig.axes] == [plots.CURVE_TITLES["test_acc"], plots.CURVE_TITLES["flipped_grad_share"]]
    assert fig.axes[-1].get_legend() is not None


def test_rate_comparison_and_the_stored_grid():
    grid = X.rate_results("classroom")
    frame = grid.frame()
    assert set(X.RATE_LOSSES) <= set(frame["loss"]) and grid.grid.epochs == 80
    fig = plots.rate_comparison(frame, ("ce", "nce+rce"))
    assert fig.axes[0].get_xlabel() == "symmetric noise rate"


# ---------------------------------------------------------------- exercise checks

def test_check_clean_factor(capsys):
    assert ex.check_clean_factor(1 / 9, 0)
    assert "Correct" in capsys.readouterr().out
    assert not ex.check_clean_factor(0.2, 0.1)                     # 1 - eta, the unnormalized guess
    assert "Not yet" in capsys.readouterr().out
    assert not ex.check_clean_factor(None, 0)
    assert "No answer yet" in capsys.readouterr().out
    with pytest.raises(TypeError, match="at_08 must be a number"):
        ex.check_clean_factor("a ninth", 0)


def test_check_nce_gradient(capsys):
    def formula(z, y):
        log_p = torch.log_softmax(z, dim=1)
        p, K = log_p.exp(), z.shape[1]
        S = log_p.sum(dim=1, keepdim=True)
        e_y = torch.nn.functional.one_hot(y, K).to(z.dtype)
        return ((e_y - p) - log_p.gather(1, y[:, None]) / S * (1 - K * p)) / S

    assert ex.check_nce_gradient(formula)
    assert "Correct" in capsys.readouterr().out
    assert not ex.check_nce_gradient(lambda z, y: torch.softmax(z, 1))     # CE's gradient without the normalizer
    assert "Largest difference from autograd" in capsys.readouterr().out
    assert not ex.check_nce_gradient(lambda z, y: None)
    assert not ex.check_nce_gradient(lambda z, y: formula(z, y)[:, :3])
    assert "one gradient row per sample" in capsys.readouterr().out


def test_large_scale_is_the_classroom_setting_on_more_seeds():
    from nblib.course.settings import SEEDS, SETTINGS

    large, classroom = X.CONFIG["large"], X.CONFIG["classroom"]
    assert large["setting"] == SETTINGS["classroom"]["memorise"] and large["seeds"] == SEEDS["large"]
    assert large["conditions"] == classroom["conditions"] and large["share_epochs"] == classroom["share_epochs"]
    assert "80 epochs" in X.describe("large") and "seeds 0, 1, 2, 3, 4" in X.describe("large")


def test_check_nce_above_bound(capsys):
    assert ex.check_nce_above_bound([-50.0] + [0.0] * 9, label=0)   # p_y alone collapses
    assert "Correct" in capsys.readouterr().out
    assert not ex.check_nce_above_bound([0.0, 50.0] + [0.0] * 8)    # confidently wrong: ~1/(K-1), not above
    assert "Not yet" in capsys.readouterr().out
    assert not ex.check_nce_above_bound(None)
    with pytest.raises(ValueError, match="label must be"):
        ex.check_nce_above_bound([0.0] * 10, label=10)


def test_check_nrce_class_sum(capsys):
    assert ex.check_nrce_class_sum(1.0)
    assert "for every A" in capsys.readouterr().out
    assert ex.check_nrce_class_sum(1)
    assert not ex.check_nrce_class_sum(L.RCE_A / 4)          # the old, unnormalized default
    assert "divide" in capsys.readouterr().out


def test_check_nce(capsys):
    def good(logits, targets):
        logp = logits.log_softmax(1)
        return logp.gather(1, targets[:, None]).squeeze(1) / logp.sum(1)

    assert ex.check_nce(good)
    assert "symmetric" in capsys.readouterr().out
    assert not ex.check_nce(lambda z, y: L.ce(z, y, reduction="none"))
    assert "plain CE" in capsys.readouterr().out
    assert not ex.check_nce(lambda z, y: good(z, y).mean())
    assert "one value per sample" in capsys.readouterr().out
    assert not ex.check_nce(lambda z, y: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not ex.check_nce(lambda z, y: None)
    assert "forget the `return`" in capsys.readouterr().out
    assert not ex.check_nce(lambda z, y: "abc")
    assert "one value per sample" in capsys.readouterr().out


def test_check_gradient_share(capsys):
    res = _fake_result()
    assert ex.check_gradient_share({"ce"}, res, epochs=(2, 4))
    assert "ce 0.60" in capsys.readouterr().out
    assert not ex.check_gradient_share(["ce", "rce"], res, epochs=(2, 4))
    assert not ex.check_gradient_share(None, res)
    assert "No answer yet" in capsys.readouterr().out
    with pytest.raises(TypeError, match="set or list"):
        ex.check_gradient_share("ce", res)
    with pytest.raises(ValueError, match="losses of this experiment"):
        ex.check_gradient_share({"gce"}, res)


def test_loss_scale_check_judges_answers_on_given_runs(capsys):
    f = X.LOSS_SCALE["factor"]
    runs = {("adam", 1.0): 0.85, ("adam", f): 0.853, ("sgd", 1.0): 0.19, ("sgd", f): 0.82}
    assert ex.check_loss_scale("same", "different", runs=runs)
    assert not ex.check_loss_scale("different", "different", runs=runs)
    assert not ex.check_loss_scale(None, "same", runs=runs)
    assert "No answer yet" in capsys.readouterr().out
    with pytest.raises(ValueError, match="adam must be one of"):
        ex.check_loss_scale("yes", "same", runs=runs)


def test_adam_ignores_a_constant_loss_factor_and_sgd_does_not():
    """The experiment behind exercise 7 (four 5-epoch digits MLPs): a claim with a margin, not a number."""
    runs = X.loss_scale_runs(device="cpu")
    f = X.LOSS_SCALE["factor"]
    assert abs(runs[("adam", f)] - runs[("adam", 1.0)]) < ex.SAME_POINTS
    assert abs(runs[("sgd", f)] - runs[("sgd", 1.0)]) > ex.DIFFERENT_POINTS
