"""Lesson 3 helpers: Lq closed forms against nblib.losses, the widgets' update functions, the
cached q sweep, truncated-Lq pruning, the 2-D playground, and the exercise checks."""
import io
import math

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

import nblib
from nblib import losses
from nblib.course.lesson03 import exercises as ex
from nblib.course.lesson03 import figures as P
from nblib.course.style import CLEAN_COLOR, FLIPPED_COLOR, loss_color
from nblib.course import widgets as base
from nblib.course.lesson03 import widgets as W

CPU = "cpu"


def _batch(n=200, seed=0):
    """A synthetic batch: flipped samples have low p_y, as under a model that has not memorised."""
    rng = np.random.default_rng(seed)
    flipped = rng.random(n) < 0.4
    p_y = np.where(flipped, rng.beta(1, 8, n), rng.beta(5, 2, n)).clip(1e-4, 1)
    return dict(p_y=p_y, flipped=flipped, ce_grad_norm=np.sqrt(2) * (1 - p_y))


@pytest.fixture(scope="module")
def toy():
    data, noisy, flipped = W.make_playground_data(0.3, seed=0, device=CPU, n_train=120, n_test=60)
    return data, noisy, flipped


@pytest.fixture(scope="module")
def sweep(toy):
    data, noisy, flipped = toy
    return W.run_q_sweep(data, noisy, flipped, qs=(0.3, 0.7), epochs=3, batch_size=32, lr=1e-2, device=CPU)


# ---------------------------------------------------------------- closed forms vs nblib.losses

def _logits(p_y, k=10):
    return W._logits_for(p_y, k)


# ---------------------------------------------------------------- the q slider

def test_update_q_draws_the_formulas_and_the_gradient_split():
    b = _batch()
    fig = W.update_q(0.3, b)
    ax1, ax2, twin, ax3 = fig.axes[0], fig.axes[1], fig.axes[3], fig.axes[2]
    grid = np.linspace(P.P_MIN, 1, P.CURVE_POINTS)
    lq = [l for l in ax1.get_lines() if l.get_color() == loss_color("gce")][0]
    assert lq.get_ydata() == pytest.approx(losses.loss_of_p("gce", grid, q=0.3))
    weight = [l for l in ax2.get_lines() if l.get_color() == loss_color("gce")][0]
    assert weight.get_ydata() == pytest.approx(grid ** 0.3)
    assert "p_y" in ax1.get_xlabel() and "nats" in ax1.get_ylabel() and "q = 0.3" in fig._suptitle.get_text()
    # the bars: flipped share of sum_i w_i ||p - e_y|| under CE, Lq and MAE
    w_share = lambda w: (w * b["ce_grad_norm"])[b["flipped"]].sum() / (w * b["ce_grad_norm"]).sum()  # noqa: E731
    heights = [r.get_height() for r in ax3.patches]
    assert heights == pytest.approx([100 * w_share(1), 100 * w_share(b["p_y"] ** 0.3), 100 * w_share(b["p_y"])])
    assert heights[0] > heights[1] > heights[2]  # flipped samples have low p_y here
    assert f"{heights[1]:.0f}%" in ax3.get_title()
    colors = {matplotlib.colors.to_hex(p.get_facecolor()[:3]) for p in twin.patches}
    assert {CLEAN_COLOR.lower(), FLIPPED_COLOR.lower()} <= colors


def test_explorer_png_equals_a_full_redraw():
    b = _batch()
    explorer = P.LqExplorer(**b)
    explorer.png(0.9)  # builds the cached background
    png = explorer.png(0.05)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    fig = W.update_q(0.05, b)
    fig.canvas.draw()
    full = np.asarray(fig.canvas.buffer_rgba())
    blit = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert blit.shape == full.shape
    assert np.mean(np.any(blit != full, axis=-1)) < 1e-3  # same pixels, but the moving line overlaps differently
    assert base.time_update(explorer.png, repeats=1, q=0.5) > 0


def test_explorer_rejects_mismatched_arrays_and_bad_q():
    b = _batch()
    with pytest.raises(ValueError, match="same shape"):
        P.LqExplorer(b["p_y"], b["flipped"][:10], b["ce_grad_norm"])
    with pytest.raises(ValueError, match="q"):
        P.LqExplorer(**b).draw(0)


def test_gradient_batch_gives_ce_gradient_norms(toy):
    data, noisy, flipped = toy
    model = nblib.models.make_model("mlp", data, seed=0)
    b = W.gradient_batch(model, data, noisy, flipped, size=50, seed=0)
    assert b["p_y"].shape == b["flipped"].shape == b["ce_grad_norm"].shape == (50,)
    idx = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(0))[:50]
    with torch.no_grad():
        z = model(data.x_train[idx]).double()
    grad_ce = z.softmax(1) - torch.nn.functional.one_hot(noisy[idx], data.num_classes)
    assert b["ce_grad_norm"] == pytest.approx(grad_ce.norm(dim=1).numpy(), rel=1e-5)
    assert np.array_equal(b["flipped"], flipped[idx].numpy())
    # Lq's per-sample gradient norm is p_y^q times CE's (autograd check)
    auto = losses.gradient_weight("gce", z, noisy[idx], q=0.7).numpy()
    assert losses.analytic_weight("gce", b["p_y"], q=0.7) == pytest.approx(auto, rel=1e-4)


# ---------------------------------------------------------------- limits, numerically

def test_limit_table_gap_shrinks_like_q_log2p_over_2():
    t = W.limit_table()
    assert set(t.columns) >= {"q", "p_y", "Lq", "CE", "gap", "predicted_gap"}
    small = t[t.q <= 1e-3]
    assert np.allclose(small.gap, small.predicted_gap, rtol=1e-2)
    by_q = t.groupby("q").gap.max().sort_index()
    assert by_q.is_monotonic_increasing and by_q.iloc[0] < 1e-5


def test_mae_table_shows_q1_is_mae():
    t = W.mae_table()
    assert np.allclose(t.Lq_q1, t.one_minus_p) and np.allclose(t.mae_apl, t.Lq_q1)
    assert np.allclose(t.mae_paper, 2 * t.Lq_q1)


# ---------------------------------------------------------------- the cached sweep and its slider

def test_sweep_runs_are_cached_labelled_and_deterministic(sweep, toy):
    assert list(sweep) == ["CE", "q=0.3", "q=0.7", "MAE (q=1)"]
    r = sweep["q=0.3"]
    assert r.loss == "gce" and r.q == 0.3 and len(r.history.epoch) == 3
    assert r.test_pred.shape == (60,) and r.train_p_given.shape == (120,)
    assert np.all((r.train_p_given > 0) & (r.train_p_given <= 1))
    assert sweep["CE"].q is None and sweep["MAE (q=1)"].q == 1.0
    data, noisy, flipped = toy
    again = W.run_q_sweep(data, noisy, flipped, qs=(0.3,), include_ce=False, include_mae=False, epochs=3,
                          batch_size=32, lr=1e-2, device=CPU)
    assert again["q=0.3"].history.test_acc == r.history.test_acc
    table = W.sweep_table(sweep)
    assert list(table.index) == list(sweep) and table.loc["CE", "q"] == 0
    with pytest.raises(ValueError, match="q"):
        W.run_q_sweep(data, noisy, flipped, qs=(1.5,), epochs=1)


def test_update_trained_shows_the_chosen_run(sweep, toy):
    data = toy[0]
    fig = W.update_trained("q=0.7", sweep, data.y_test.numpy(), data.num_classes)
    curves, heat = fig.axes[:2]
    assert "q=0.7" in curves.get_title() and curves.get_xlabel() == "epoch" and "%" in curves.get_ylabel()
    assert heat.get_xlabel() == "predicted class"
    with pytest.raises(ValueError, match="unknown run"):
        W.update_trained("q=0.5", sweep, data.y_test.numpy(), data.num_classes)
    assert "CE" in W.update_trained("CE", sweep, data.y_test.numpy(), data.num_classes).axes[0].get_title()


def test_accuracy_vs_q_places_ce_at_0_and_mae_at_1(sweep):
    fig = P.accuracy_vs_q_figure(sweep, noise_rate=0.3)
    ax = fig.axes[0]
    x = ax.get_lines()[0].get_xdata()
    assert list(x) == [0, 0.3, 0.7, 1.0]
    assert ax.get_lines()[0].get_ydata() == pytest.approx([100 * sweep[k].final_test_acc for k in sweep])
    assert "q" in ax.get_xlabel() and "%" in ax.get_ylabel()


# ---------------------------------------------------------------- truncated Lq

def test_train_truncated_prunes_and_traces(toy):
    data, noisy, flipped = toy
    run = W.train_truncated(data, noisy, flipped, epochs=6, prune_start=2, prune_every=2, batch_size=32, lr=1e-2,
                            device=CPU)
    assert set(np.unique(run.weights)) <= {0.0, 1.0}
    assert run.trace.epoch == list(range(1, 7)) and run.trace.refresh_epochs == [2, 4, 6]
    assert run.trace.n_pruned[0] == 0 and math.isnan(run.trace.precision[0])
    s = nblib.noise.detection_scores(run.weights == 0, flipped.numpy())
    assert run.scores == s and run.trace.n_pruned[-1] == s["n_flagged"]
    assert run.history.config["loss"] == "tgce"


def test_update_truncation_reports_precision_recall():
    b = _batch()
    fig = W.update_truncation(0.5, b["p_y"], b["flipped"])
    s = nblib.noise.detection_scores(b["p_y"] <= 0.5, b["flipped"])
    title = fig.axes[1].get_title()
    assert f"precision {100 * s['precision']:.0f}%" in title and f"recall {100 * s['recall']:.0f}%" in title
    curve = [l for l in fig.axes[0].get_lines() if l.get_color() == loss_color("tgce")][0]
    assert np.all(curve.get_ydata()[curve.get_xdata() <= 0.5] == pytest.approx(float(losses.loss_of_p("gce", 0.5, q=0.7))))
    with pytest.raises(ValueError, match="k"):
        W.update_truncation(1.0, b["p_y"], b["flipped"])


def test_pruning_figure_draws_the_trace(toy):
    data, noisy, flipped = toy
    run = W.train_truncated(data, noisy, flipped, epochs=4, prune_start=2, prune_every=1, batch_size=32,
                            device=CPU)
    fig = P.pruning_figure(run.trace, {"tgce": run.history})
    assert fig.axes[1].get_lines()[0].get_ydata() == pytest.approx(100 * np.asarray(run.trace.precision),
                                                                   nan_ok=True)


# ---------------------------------------------------------------- playground

def test_update_playground_trains_and_draws(toy):
    fig = W.update_playground("gce", 0.7, 0.3, epochs=5)
    ax = fig.axes[0]
    assert "GCE q=0.7" in ax.get_title() and "flipped" in ax.get_title()
    assert "standardised" in ax.get_xlabel()
    flipped_pts = ax.collections[-1]
    _, _, flipped = W.make_playground_data(0.3, seed=0)
    assert len(flipped_pts.get_offsets()) == int(flipped.sum())
    with pytest.raises(ValueError, match="loss"):
        W.update_playground("focal", 0.7, 0.3, epochs=1)
    with pytest.raises(ValueError, match="noise_rate"):
        W.make_playground_data(0.9)


def test_widgets_build(sweep, toy):
    ipywidgets = pytest.importorskip("ipywidgets")
    data = toy[0]
    b = _batch(50)
    assert isinstance(W.q_widget(b), ipywidgets.VBox)
    assert isinstance(W.trained_widget(sweep, data), ipywidgets.VBox)
    assert isinstance(W.truncation_widget(b["p_y"], b["flipped"]), ipywidgets.VBox)


# ---------------------------------------------------------------- exercises

def test_check_lq_value(capsys):
    assert ex.check_lq_value((1 - 0.2 ** 0.5) / 0.5)
    assert not ex.check_lq_value(-math.log(0.2))
    assert "CE" in capsys.readouterr().out
    assert not ex.check_lq_value(1 - 0.2 ** 0.5)  # forgot / q
    assert "divide by q" in capsys.readouterr().out
    with pytest.raises(TypeError, match="answer"):
        ex.check_lq_value("one")


def test_check_weight_ratio(capsys):
    assert ex.check_weight_ratio(9 ** 0.7)
    assert not ex.check_weight_ratio(9.0)
    assert "MAE" in capsys.readouterr().out
    assert not ex.check_weight_ratio(9 ** -0.7)
    assert "inverted" in capsys.readouterr().out


def test_check_pruning_scores(capsys):
    w = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    flipped = torch.tensor([1, 1, 0, 1, 0, 0], dtype=torch.bool)
    assert ex.check_pruning_scores(2 / 3, 2 / 3, w, flipped)
    w2 = torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    f2 = torch.tensor([1, 0, 0, 1, 1, 0], dtype=torch.bool)  # precision 1/2, recall 1/3
    assert not ex.check_pruning_scores(1 / 3, 1 / 2, w2, f2)
    assert "swapped" in capsys.readouterr().out
    assert ex.check_pruning_scores(1 / 2, 1 / 3, w2, f2)


def test_unanswered_placeholders_ask_for_an_answer(capsys, sweep):
    for check in (lambda: ex.check_lq_value(...), lambda: ex.check_weight_ratio(None),
                  lambda: ex.check_pruning_scores(..., 0.5, np.zeros(3), np.zeros(3, bool)),
                  lambda: ex.check_best_q(..., sweep)):
        assert check() is False
        assert "your answer" in capsys.readouterr().out


def test_check_best_q(sweep):
    best = max(sweep, key=lambda k: sweep[k].final_test_acc)
    assert ex.check_best_q(best, sweep)
    q = sweep[best].q or 0.0
    assert ex.check_best_q(q, sweep)
    wrong = next(k for k in sweep if k != best)
    assert not ex.check_best_q(wrong, sweep)
