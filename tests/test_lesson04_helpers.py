"""Lesson 4 helpers: the symmetry figures, the per-class terms, the run cache, the APL widgets, the checks."""
import numpy as np
import pandas as pd
import pytest
import torch

import nblib
from nblib import losses as L
from nblib.course.lesson04 import exercises as ex
from nblib.course.lesson04 import figures as plots
from nblib.course.style import CLEAN_COLOR, loss_color
from nblib.train import History
from nblib.course.lesson04 import widgets as widgets

K = 10


def _probs(n=5, seed=0):
    return widgets.random_logits(n, K, 2.0, seed).softmax(1)


# ---------------------------------------------------------------- per-class terms (active vs passive)

@pytest.mark.parametrize("name", list(plots.TERM_LOSSES))
def test_class_terms_add_up_to_the_nblib_loss(name):
    z = widgets.random_logits(6, K, 2.5, seed=3)
    p = z.softmax(1)
    for i, y in enumerate([0, 3, 9, 5, 1, 7]):
        terms = plots.class_terms(name, p[i], y)
        expected = L.make_loss(name, K)(z[i:i + 1], torch.tensor([y]), reduction="none").item()
        assert terms.shape == (K,)
        assert terms.sum() == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", list(plots.TERM_LOSSES))
def test_active_terms_live_on_the_label_passive_terms_elsewhere(name):
    p, y = _probs()[0], 4
    terms = plots.class_terms(name, p, y)
    off_label = np.delete(terms, y)
    if plots.TERM_LOSSES[name] == "active":
        assert np.all(off_label == 0) and terms[y] > 0
    else:
        assert np.all(off_label > 0)
    assert (plots.TERM_LOSSES[name] == "active") == (name in ex.ACTIVE)


def test_class_terms_rejects_bad_input():
    p = _probs()[0]
    with pytest.raises(ValueError, match="unknown loss 'gce'"):
        plots.class_terms("gce", p, 0)
    with pytest.raises(ValueError, match="probability vector"):
        plots.class_terms("ce", p * 2, 0)
    with pytest.raises(ValueError, match="y must be a class index"):
        plots.class_terms("ce", p, K)
    with pytest.raises(ValueError, match="length"):
        plots.class_terms("ce", p, 0, num_classes=K + 1)


def test_active_passive_bars_one_panel_per_loss_label_hatched():
    fig = plots.active_passive_bars(_probs()[0], 2, names=("ce", "rce"))
    axes = fig.axes
    assert len(axes) == 3
    assert axes[1].get_title().startswith("ce (active)") and axes[2].get_title().startswith("rce (passive)")
    assert axes[1].patches[2].get_hatch() == "///" and not axes[1].patches[0].get_hatch()
    assert all(ax.get_xlabel().startswith("class k") for ax in axes)


# ---------------------------------------------------------------- symmetry figures and widget

def test_random_logits_seeded_and_validated():
    a, b = widgets.random_logits(4, 3, 2.0, seed=1), widgets.random_logits(4, 3, 2.0, seed=1)
    assert torch.equal(a, b) and a.shape == (4, 3) and a.dtype == torch.float64
    assert not torch.equal(a, widgets.random_logits(4, 3, 2.0, seed=2))
    with pytest.raises(ValueError, match="scale"):
        widgets.random_logits(4, 3, 0.0)
    with pytest.raises(ValueError, match="num_classes"):
        widgets.random_logits(4, 1)


def test_class_sum_strips_rows_and_axis_labels():
    z = widgets.random_logits(50, K, 3.0)
    sums = {n: L.class_sums(n, z) for n in ("ce", "nce", "mae")}
    ax = plots.class_sum_strips(sums)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ce", "nce", "mae"]
    assert "mean" in ax.get_xlabel() and ax.get_title()
    spans = [line.get_xdata() for line in ax.get_lines()                # the horizontal min-max line of each row
             if len(line.get_ydata()) == 2 and line.get_ydata()[0] == line.get_ydata()[1]]
    widths = [float(np.ptp(x)) for x in spans]
    assert widths[0] > 0.1 and widths[1] < 1e-9 and widths[2] < 1e-9   # only CE spreads


@pytest.mark.parametrize("loss, symmetric", [("ce", False), ("gce", False), ("fl", False), ("nce", True),
                                             ("nfl", True), ("ngce", True), ("mae", True), ("rce", True)])
def test_class_sum_update_tells_symmetric_from_not(loss, symmetric):
    fig = widgets.class_sum_update(loss, scale=3.0, n=200)
    hist_ax, scatter_ax = fig.axes
    assert hist_ax.get_title().startswith(f"{loss}: spread")
    assert (scatter_ax.get_title() == "constant") == symmetric
    assert "confidence" in scatter_ax.get_xlabel() and hist_ax.get_ylabel()


def test_class_sum_update_rejects_unknown_loss():
    with pytest.raises(ValueError, match="unknown loss"):
        widgets.class_sum_update("hinge")


def test_class_sum_widget_redraws():
    box = widgets.class_sum_widget(losses=("ce", "nce"), n=50)
    dropdown = box.children[0].children[0]
    dropdown.value = "nce"
    assert dropdown.options == ("ce", "nce") or list(dropdown.options) == ["ce", "nce"]
    assert len(box.children) == 2


def test_symmetry_table_flags_exactly_the_symmetric_losses():
    z = widgets.random_logits(300, K, 3.0)
    table = widgets.symmetry_table(widgets.SYMMETRY_LOSSES, z)
    assert list(table.index) == list(widgets.SYMMETRY_LOSSES)
    symmetric = set(table.index[table["symmetric"]])
    assert symmetric == {"nce", "nfl", "ngce", "mae", "rce", "nmae", "nrce"}
    assert table.loc["ce", "gap"] == pytest.approx(L.symmetry_gap("ce", z))
    assert table.loc["nce", "min"] == pytest.approx(1.0) and table.loc["mae", "max"] == pytest.approx(2 * (K - 1))


def test_variant_table_paper_vs_code_constants():
    table = widgets.variant_table(widgets.random_logits(50, K, 3.0))
    sums = table["class_sum"]
    assert sums["nmae  paper"] == pytest.approx(1.0) and sums["nmae  code"] == pytest.approx(0.5)
    assert sums["nrce  intended"] == pytest.approx(L.RCE_A / 4)
    assert sums["nrce  code (slip)"] == pytest.approx(L.RCE_A * (K - 1) ** 2 / 4)
    assert sums["rce   paper, A = 4"] == pytest.approx(4 * (K - 1))
    assert sums["mae   APL code, 1 - p_y"] == pytest.approx(K - 1)
    assert (table["gap"] < 1e-9).all()


# ---------------------------------------------------------------- training-time figures

def _history(accs):
    e = list(range(1, len(accs) + 1))
    return History(epoch=e, test_acc=list(accs), train_acc=list(accs))


def test_distribution_tracks_grid_and_colours():
    E, S = 4, 3
    probs = np.full((E + 1, S, K), 1 / K)
    given, true = np.array([1, 2, 3]), np.array([1, 5, 3])
    fig = plots.distribution_tracks({"nce": probs, "rce": probs}, given, true, samples=[0, 1])
    axes = np.array(fig.axes).reshape(2, 2)
    assert "clean" in axes[0, 0].get_title() and "flipped" in axes[0, 1].get_title()
    colours = [line.get_color() for line in axes[1, 1].get_lines()]
    assert CLEAN_COLOR in colours and loss_color("rce") in colours
    assert axes[1, 0].get_xlabel() == "epoch"


def test_fit_curves_rows_metrics_columns_conditions():
    h = History(epoch=[1, 2], test_acc=[0.5, 0.6], clean_acc=[0.55, 0.7])
    fig = plots.fit_curves({"clean labels": {"ce": h, "nce": h}, "40% noise": {"ce": h}})
    axes = np.array(fig.axes).reshape(2, 2)
    assert axes[0, 0].get_title() == "clean labels" and axes[0, 1].get_title() == "40% noise"
    assert "train accuracy" in axes[0, 0].get_ylabel() and axes[1, 0].get_ylabel() == "test accuracy"
    assert list(axes[0, 0].get_lines()[0].get_ydata()) == [0.55, 0.7]
    assert list(axes[1, 0].get_lines()[1].get_ydata()) == [0.5, 0.6]
    assert axes[1, 1].get_xlabel() == "epoch"


def test_accuracy_vs_noise_one_line_per_loss():
    table = pd.DataFrame({0.2: [0.9, 0.8], 0.8: [0.3, 0.5]}, index=["ce", "nce+rce"])
    ax = plots.accuracy_vs_noise(table, title="t")
    lines = ax.get_lines()
    assert [l.get_color() for l in lines] == [loss_color("ce"), loss_color("nce+rce")]
    assert list(lines[1].get_ydata()) == [0.8, 0.5] and ax.get_xlabel() == "symmetric noise rate"


def test_grid_heatmap_values_and_selection():
    acc = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    ax = plots.grid_heatmap(acc, [0.1, 1, 10], [1, 10], selected=(1, 10))
    assert sorted(t.get_text() for t in ax.texts)[0] == "0.100"
    rect = [p for p in ax.patches if not p.get_fill()]
    assert len(rect) == 1 and rect[0].get_xy() == (0.5, 0.5)
    with pytest.raises(ValueError, match="shape"):
        plots.grid_heatmap(acc.T, [0.1, 1, 10], [1, 10])


def _grid():
    return {(a, b): _history([0.2, 0.5 + 0.01 * a + 0.001 * b]) for a in (0.1, 1.0) for b in (1.0, 10.0)}


def test_grid_frame_rows_alpha_columns_beta():
    grid = _grid()
    frame = widgets.grid_frame(grid, "best_test_acc")
    assert list(frame.index) == [0.1, 1.0] and list(frame.columns) == [1.0, 10.0]
    assert frame.loc[1.0, 10.0] == grid[(1.0, 10.0)].best_test_acc
    assert frame.stack().idxmax() == (1.0, 10.0)
    with pytest.raises(ValueError, match="metric"):
        widgets.grid_frame(grid, "loss")


def _run(given, true, probs):
    return widgets.Run("ce", {}, 0.4, 0, History(), np.asarray(probs, float), np.asarray(given), np.asarray(true))


def test_run_pick_and_find():
    # 3 epochs (row 0 = before training), 3 samples, 2 classes; sample 1 is flipped
    p_first = np.array([[0.5, 0.9, 0.2], [0.6, 0.8, 0.35], [0.9, 0.7, 0.6]])       # P(class 0) per sample
    probs = np.stack([p_first, 1 - p_first], axis=-1)
    run = _run(given=[0, 0, 0], true=[0, 1, 0], probs=probs)
    assert run.pick(clean=2, flipped=1) == [0, 2, 1]
    with pytest.raises(ValueError, match="only 2 clean"):
        run.pick(clean=3)
    assert run.find(p_given=0.3, clean=True) == (1, 2)        # sample 2 at epoch 1 has p_y = 0.35
    assert run.find(p_given=0.3, clean=False) == (2, 1)       # the flipped one: closest at epoch 2
    assert run.find(p_given=0.9, clean=True, max_epoch=1) == (1, 0)
    with pytest.raises(ValueError, match="p_given"):
        run.find(p_given=2.0)


def test_ab_update_selected_run_and_grid():
    grid = _grid()
    fig = widgets.ab_update(1.0, 10.0, grid, references={"ce": _history([0.3, 0.4])})
    curves, heat = fig.axes[0], fig.axes[1]
    labels = [l.get_label() for l in curves.get_lines()]
    assert labels == ["ce", "nce+rce a=1 b=10"]
    assert "(beta/alpha = 10)" in curves.get_title()
    assert f"{grid[(1.0, 10.0)].best_test_acc:.3f}" in [t.get_text() for t in heat.texts]
    with pytest.raises(ValueError, match="not in the trained grid"):
        widgets.ab_update(5.0, 1.0, grid)


def test_ab_widget_selection_sliders_over_grid_values():
    box = widgets.ab_widget(_grid())
    alpha, beta = box.children[0].children
    assert list(alpha.options) == [0.1, 1.0] and list(beta.options) == [1.0, 10.0]
    alpha.value = 0.1
    beta.value = 10.0
    assert len(box.children) == 2


# ---------------------------------------------------------------- the run cache (a real, tiny training)

@pytest.fixture(scope="module")
def runs():
    data = nblib.data.load("toy2d", device="cpu", n_train=120, n_test=60)
    return widgets.LessonRuns(data, epochs=2, track=5, device="cpu", batch_size=32)


@pytest.mark.slow
def test_lesson_runs_train_once_and_track_distributions(runs):
    run = runs.get("nce+rce", rate=0.4, seed=0, alpha=1.0, beta=1.0)
    spent = runs.train_seconds
    assert runs.get("nce+rce", rate=0.4, seed=0, alpha=1, beta=1) is run      # cached: int/float keys agree
    assert runs.get("nce+rce", rate=0.4) is run                                # and defaults (1, 1) too
    assert runs.train_seconds == spent
    K2 = runs.data.num_classes
    assert run.probs.shape == (3, 5, K2)
    assert np.allclose(run.probs.sum(-1), 1, atol=1e-5)
    noisy, flipped = runs.labels(0.4, 0)
    assert np.array_equal(run.given, noisy[:5].numpy()) and np.array_equal(run.true, runs.data.y_train[:5].numpy())
    assert flipped.float().mean().item() == pytest.approx(0.4, abs=0.02)
    assert len(run.history.test_acc) == 2
    clean = runs.get("ce", rate=0.0)
    assert np.array_equal(clean.given, clean.true)


@pytest.mark.slow
def test_lesson_runs_table_and_grid(runs):
    table = runs.table({"ce": ("ce", {}), "nce": ("nce", {})}, rates=(0.0, 0.4))
    assert list(table.index) == ["ce", "nce"] and list(table.columns) == [0.0, 0.4]
    assert table.loc["ce", 0.0] == runs.get("ce", 0.0).history.final_test_acc
    grid = runs.grid("nce+rce", [1.0], [1.0, 2.0], rate=0.4)
    assert set(grid) == {(1.0, 1.0), (1.0, 2.0)}
    with pytest.raises(ValueError, match="metric"):
        runs.table({"ce": ("ce", {})}, rates=(0.0,), metric="loss")
    with pytest.raises(ValueError, match="rate"):
        runs.labels(1.0)


# ---------------------------------------------------------------- exercise checks

def test_check_mae_class_sum(capsys):
    assert ex.check_mae_class_sum(18)
    assert "Correct" in capsys.readouterr().out
    assert not ex.check_mae_class_sum(9)
    assert "Not yet" in capsys.readouterr().out
    assert not ex.check_mae_class_sum(None)
    assert "No answer yet" in capsys.readouterr().out
    with pytest.raises(TypeError, match="answer must be a number"):
        ex.check_mae_class_sum("many")
    assert ex.check_mae_class_sum(4, num_classes=3)


def test_check_nrce_class_sum(capsys):
    assert ex.check_nrce_class_sum(L.RCE_A / 4)
    assert ex.check_nrce_class_sum(round(L.RCE_A / 4, 3))
    assert not ex.check_nrce_class_sum(1.0)
    assert "A / 4" in capsys.readouterr().out


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


def test_check_active_passive(capsys):
    assert ex.check_active_passive(["ce", "fl", "nce", "nfl"], ["mae", "rce", "nmae", "nrce"])
    assert not ex.check_active_passive(["ce", "fl", "nce", "rce"], ["mae", "nfl", "nmae"])
    out = capsys.readouterr().out
    assert "wrong group: nfl, rce" in out and "missing: nrce" in out
    assert not ex.check_active_passive(["CE", "FL", "NCE", "NFL", "gce"], ["mae", "rce", "nmae", "nrce"])
    assert "not part of the question: gce" in capsys.readouterr().out
