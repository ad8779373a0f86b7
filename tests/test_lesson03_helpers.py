"""Lesson 3 helpers: Lq closed forms against nblib.losses, the theory tables, the live sliders, the q
sweep's tables and figures (on a small real sweep), the stored MNIST-1D sweep, truncated-Lq pruning,
the 2-D playground, and the exercise checks."""
import io
import math
import types

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

import nblib
from nblib import losses, theory
from nblib.course import widgets as base
from nblib.course.lesson03 import exercises as ex
from nblib.course.lesson03 import experiments as E
from nblib.course.lesson03 import figures as P
from nblib.course.lesson03 import widgets as W
from nblib.course.settings import q_sweep_losses
from nblib.course.style import CLEAN_COLOR, FLIPPED_COLOR, loss_color

CPU = "cpu"
LABELS = ["ce", "gce q=0.3", "gce q=0.7", "mae", "tgce"]


def _batch(n=200, seed=0):
    """A synthetic batch: flipped samples have low p_y, as under a model that has not memorised."""
    rng = np.random.default_rng(seed)
    flipped = rng.random(n) < 0.4
    p_y = np.where(flipped, rng.beta(1, 8, n), rng.beta(5, 2, n)).clip(1e-4, 1)
    return dict(p_y=p_y, flipped=flipped, ce_grad_norm=np.sqrt(2) * (1 - p_y))


@pytest.fixture(scope="module")
def toy():
    data, noisy, flipped = E.make_playground_data(0.3, seed=0, device=CPU, n_train=120, n_test=60)
    return data, noisy, flipped


@pytest.fixture(scope="module")
def sweep(tiny_runs):
    return tiny_runs((*q_sweep_losses((0.3, 0.7)), "tgce"), ("sym 0.4",), epochs=6)


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
    b = E.gradient_batch(model, data, noisy, flipped, size=50, seed=0)
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
    t = E.limit_table()
    assert set(t.columns) >= {"q", "p_y", "Lq", "CE", "gap", "predicted_gap"}
    small = t[t.q <= 1e-3]
    assert np.allclose(small.gap, small.predicted_gap, rtol=1e-2)
    by_q = t.groupby("q").gap.max().sort_index()
    assert by_q.is_monotonic_increasing and by_q.iloc[0] < 1e-5


def test_mae_table_shows_q1_is_mae():
    t = E.mae_table()
    assert np.allclose(t.Lq_q1, t.one_minus_p) and np.allclose(t.mae_apl, t.Lq_q1)
    assert np.allclose(t.mae_paper, 2 * t.Lq_q1)


# ---------------------------------------------------------------- the theory, as tables and a figure

def test_class_sum_table_measured_sums_lie_in_the_bands_whose_ends_are_reached():
    t = E.class_sum_table()
    assert (t["random min"] >= t["bound min"] - 1e-9).all() and (t["random max"] <= t["bound max"] + 1e-9).all()
    lq, tr = t.loc["Lq"], t.loc["truncated Lq, k=0.5"]
    assert np.allclose(lq["uniform"], lq["bound min"]) and np.allclose(lq["one-hot"], lq["bound max"])
    assert np.allclose(tr["uniform"], tr["bound max"]) and np.allclose(tr["one-hot"], tr["bound min"])
    assert lq.loc[1.0, "width"] == 0 and lq.loc[0.7, "random min"] == pytest.approx(11.596, abs=1e-3)


def test_bound_table_exact_excess_below_the_bound():
    t = E.bound_table()
    for rate in (0.2, 0.4, 0.6):
        assert (t[f"exact excess, eta={rate:g}"] <= t[f"Thm 1 bound, eta={rate:g}"] + 1e-12).all()
        assert t[f"Thm 1 bound, eta={rate:g}"].is_monotonic_decreasing
    assert t.loc[0.7, "Thm 1, truncated k=0.5, eta=0.2"] < t.loc[0.7, "Thm 1 bound, eta=0.2"]
    assert t.loc[0.7, "Thm 2 bound, pair 0.3"] == pytest.approx(
        theory.class_dependent_bound(nblib.noise.transition_matrix("pair", 10, 0.3), 0.7))


def test_theory_figure_draws_the_theory_functions():
    fig = P.theory_figure(num_classes=10, qs=np.array([0.3, 0.7, 1.0]))
    left, right = fig.axes[:2]
    lq = left.get_lines()[0]
    assert list(lq.get_xdata()) == [0.3, 0.7]
    assert lq.get_ydata() == pytest.approx([(10 ** (1 - q) - 1) / q for q in (0.3, 0.7)])
    assert right.get_lines()[0].get_ydata()[1] == pytest.approx(theory.uniform_noise_bound(10, 0.7, 0.2))
    assert left.get_yscale() == right.get_yscale() == "log"


# ---------------------------------------------------------------- the q sweep

def test_q_sweep_runs_the_sweep_in_the_shared_setting(monkeypatch):
    seen = {}
    monkeypatch.setattr(E.runs, "run", lambda setting, name, **kw: seen.update(name=name, **kw))
    E.q_sweep(types.SimpleNamespace(scale="classroom", seeds=(0, 1, 2), device="cpu"))
    labels = [l if isinstance(l, str) else l["label"] for l in seen["losses"]]
    assert seen["name"] == "memorise" and seen["noise"] == ("sym 0.4",)
    assert labels == ["ce", "gce q=0.3", "gce q=0.5", "gce q=0.7", "gce q=0.9", "mae", "tgce"]


def test_large_scale_is_the_classroom_setting_with_more_seeds(monkeypatch):
    """The claims are checked on seeds 0-4 of the classroom setting: "large" must train exactly that."""
    from nblib.course.settings import SEEDS, SETTINGS

    seen = {}
    monkeypatch.setattr(E.runs, "run", lambda setting, name, **kw: seen.update(setting=setting, **kw))
    large = types.SimpleNamespace(scale="large", seeds=SEEDS["large"], device="cpu")
    E.q_sweep(large)
    assert seen["setting"] == SETTINGS["classroom"][E.SETTING] and seen["seeds"] == (0, 1, 2, 3, 4)
    assert E.CONFIG["large"] == E.CONFIG["classroom"]
    line = E.describe(large)
    assert "80 epochs" in line and "40% symmetric" in line and "[0, 1, 2, 3, 4]" in line and "40, 48" in line


def test_q_position_and_sweep_table(sweep):
    assert [E.q_position(lab) for lab in LABELS] == [0.0, 0.3, 0.7, 1.0, 0.7]
    with pytest.raises(ValueError, match="label"):
        E.q_position("sce")
    t = E.sweep_table(sweep)
    assert list(t.index) == LABELS
    assert list(t.columns) == ["final test acc", "best epoch (oracle)", "flipped fitted", "clean fitted"]


def test_accuracy_vs_q_places_ce_at_0_and_mae_at_1(sweep):
    fig = P.accuracy_vs_q_figure(sweep, title="t")
    left = fig.axes[0]
    xs = sorted({x for l in left.get_lines() for x in np.atleast_1d(l.get_xdata()) if np.isfinite(x)})
    assert xs == [0.0, 0.3, 0.7, 1.0]
    final_line = left.get_lines()[0]
    want = [100 * sweep.per_seed("final_test_acc", loss=lab).mean() for lab in ("ce", "gce q=0.3", "gce q=0.7", "mae")]
    assert final_line.get_ydata() == pytest.approx(want)
    assert "q" in left.get_xlabel() and "%" in left.get_ylabel()


def test_run_explorer_shows_each_runs_seeds_and_mean(sweep):
    ex_ = P.RunExplorer(sweep)
    assert ex_.labels == LABELS
    ex_.draw("gce q=0.7")
    thin, thick = ex_.lines["test_acc"]
    hs = sweep.histories(loss="gce q=0.7")
    assert thick.get_ydata() == pytest.approx(100 * np.mean([h.test_acc for h in hs], axis=0))
    assert thin[1].get_ydata() == pytest.approx(100 * np.asarray(hs[1].test_acc))
    assert "gce q=0.7" in ex_.title.get_text()
    assert ex_.png("mae") != ex_.png("ce")
    with pytest.raises(ValueError, match="unknown run"):
        ex_.draw("gce q=0.5")


def test_stored_q_sweep_is_complete():
    hard = E.stored_q_sweep()
    labels = list(dict.fromkeys(r["label"]["loss"] for r in hard.results))
    assert labels == ["ce", "gce q=0.1", "gce q=0.3", "gce q=0.5", "gce q=0.7", "gce q=0.9", "mae"]
    assert len(hard.results) == 21 and hard.grid.dataset == "mnist1d"


# ---------------------------------------------------------------- truncated Lq

def test_train_truncated_prunes_and_traces(toy):
    data, noisy, flipped = toy
    run = E.train_truncated(data, noisy, flipped, epochs=6, prune_start=2, prune_every=2, batch_size=32, lr=1e-2,
                            device=CPU)
    assert set(np.unique(run.weights)) <= {0.0, 1.0}
    assert run.trace.epoch == list(range(1, 7)) and run.trace.refresh_epochs == [2, 4, 6]
    assert run.trace.n_pruned[0] == 0 and math.isnan(run.trace.precision[0])
    s = nblib.noise.detection_scores(run.weights == 0, flipped.numpy())
    assert run.scores == s and run.trace.n_pruned[-1] == s["n_flagged"]
    assert run.history.config["loss"] == "tgce"
    p = run.trace.p_y_first
    assert p.shape == (len(noisy),) and np.all((p >= 0) & (p <= 1))
    assert run.trace.n_pruned[1] == int((p <= 0.5).sum()), "the first pruning step used these p_y"


def test_truncation_explorer_reports_precision_recall():
    b = _batch()
    fig = W.update_truncation(0.5, b["p_y"], b["flipped"])
    s = nblib.noise.detection_scores(b["p_y"] <= 0.5, b["flipped"])
    title = fig.axes[1].get_title()
    assert f"precision {100 * s['precision']:.0f}%" in title and f"recall {100 * s['recall']:.0f}%" in title
    curve = [l for l in fig.axes[0].get_lines() if l.get_color() == loss_color("tgce")][0]
    assert np.all(curve.get_ydata()[curve.get_xdata() <= 0.5] == pytest.approx(float(losses.loss_of_p("gce", 0.5, q=0.7))))
    explorer = P.TruncationExplorer(b["p_y"], b["flipped"], source="the model at epoch 40")
    assert "epoch 40" in explorer.fig.axes[1].get_xlabel()
    assert explorer.png(0.3) != explorer.png(0.6)
    with pytest.raises(ValueError, match="k"):
        W.update_truncation(1.0, b["p_y"], b["flipped"])


def test_pruned_shares_and_the_pruning_figure(sweep):
    shares = E.pruned_shares(sweep)
    assert list(shares.columns) == ["seed", "epoch", "share"] and set(shares["seed"]) == {0, 1}
    assert sorted(set(shares["epoch"])) == list(nblib.losses.TruncatedLq.pruning_epochs(6))
    assert shares["share"].between(0, 1).all()
    fig = P.pruning_figure(sweep.curves("test_acc"), shares, flipped_fraction=0.4, first_epoch=2)
    left, right = fig.axes[:2]
    assert min(left.get_lines()[0].get_xdata()) == 2
    seed0 = shares[shares.seed == 0]
    assert right.get_lines()[0].get_ydata() == pytest.approx(100 * seed0["share"].to_numpy())
    assert any(np.allclose(l.get_ydata(), 40) for l in right.get_lines())
    with pytest.raises(ValueError, match="record no pruning"):
        E.pruned_shares(sweep, label="mae")


def test_first_pruning_p_y_is_plain_lq_up_to_the_first_step(monkeypatch):
    data, noisy, flipped = E.make_playground_data(0.3, seed=0, device=CPU, n_train=120, n_test=60)
    setting = nblib.course.settings.Setting(dataset="toy2d", model="mlp", model_kw={"hidden": (16,)}, epochs=8,
                                            batch_size=32, lr=1e-2)
    monkeypatch.setitem(E.SETTINGS["classroom"], E.SETTING, setting)
    got = E.first_pruning_p_y(types.SimpleNamespace(scale="classroom", device=CPU), data, noisy, flipped)
    assert got["epoch"] == 4
    model = setting.make_model(data, 0)
    nblib.fit(model, data, loss="gce", loss_params={"q": 0.7}, y_train=noisy, seed=0, progress=False, device=CPU,
              eval_train=False, **{**setting.train_kw(), "epochs": 4})
    want = nblib.train.predict_proba(model, data.x_train).gather(1, noisy[:, None]).squeeze(1).double().numpy()
    assert got["p_y"] == pytest.approx(want)


# ---------------------------------------------------------------- playground

def test_update_playground_trains_and_draws(toy):
    fig = W.update_playground("gce", 0.7, 0.3, epochs=5)
    ax = fig.axes[0]
    assert "GCE q=0.7" in ax.get_title() and "flipped" in ax.get_title()
    assert "standardised" in ax.get_xlabel()
    _, _, flipped = E.make_playground_data(0.3, seed=0)
    assert len(ax.collections[-1].get_offsets()) == int(flipped.sum())
    with pytest.raises(ValueError, match="loss"):
        W.update_playground("focal", 0.7, 0.3, epochs=1)
    with pytest.raises(ValueError, match="noise_rate"):
        E.make_playground_data(0.9)


def test_widgets_build_and_say_how_they_update(sweep):
    ipywidgets = pytest.importorskip("ipywidgets")
    b = _batch(50)
    for box in (W.q_widget(b), W.run_widget(sweep), W.truncation_widget(b["p_y"], b["flipped"])):
        assert isinstance(box, ipywidgets.VBox)
        assert all(c.continuous_update for row in box.children[:-1] for c in row.children)
    playground = W.playground_widget(loss="ce", q=0.7, noise_rate=0.3)      # retrains: acts on release, says so
    sliders = [c for row in playground.children[:-1] for c in row.children if hasattr(c, "continuous_update")
               and c.description != "loss"]
    assert sliders and all(not c.continuous_update and "(on release)" in c.description for c in sliders)


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
    pruned = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
    flipped = torch.tensor([1, 1, 0, 1, 0, 0], dtype=torch.bool)
    assert ex.check_pruning_scores(2 / 3, 2 / 3, pruned, flipped)
    pruned2 = torch.tensor([1, 1, 0, 0, 0, 0], dtype=torch.bool)
    f2 = np.array([1, 0, 0, 1, 1, 0], dtype=bool)  # precision 1/2, recall 1/3
    assert not ex.check_pruning_scores(1 / 3, 1 / 2, pruned2, f2)
    assert "swapped" in capsys.readouterr().out
    assert ex.check_pruning_scores(1 / 2, 1 / 3, pruned2, f2)


def test_unanswered_placeholders_ask_for_an_answer(capsys, sweep):
    for check in (lambda: ex.check_lq_value(...), lambda: ex.check_weight_ratio(None),
                  lambda: ex.check_pruning_scores(..., 0.5, np.zeros(3), np.zeros(3, bool)),
                  lambda: ex.check_within_noise(..., sweep), lambda: ex.check_class_sum_minimum(None)):
        assert check() is False
        assert "your answer" in capsys.readouterr().out


def test_within_noise_follows_the_rule_and_the_check_uses_it(sweep, capsys):
    table = ex.within_noise(sweep, "mae")
    assert set(table) == {"ce", "gce q=0.3", "gce q=0.7", "tgce"}
    for label, (d, within) in table.items():
        want = sweep.per_seed("final_test_acc", loss=label) - sweep.per_seed("final_test_acc", loss="mae")
        assert d == pytest.approx(want)
        one_side = np.all(d > 0) or np.all(d < 0)
        assert within == (not (one_side and abs(d.mean()) > d.std(ddof=1)))
    answer = {label for label, (_, within) in table.items() if within}
    assert ex.check_within_noise(answer, sweep)
    assert "per seed" in capsys.readouterr().out
    wrong = answer ^ {"ce"}
    assert not ex.check_within_noise(wrong, sweep)
    with pytest.raises(ValueError, match="answer"):
        ex.check_within_noise({"sce"}, sweep)
    with pytest.raises(ValueError, match="reference"):
        ex.within_noise(sweep, "sce")


def test_check_class_sum_minimum(capsys):
    K, q = ex.EX5_NUM_CLASSES, ex.EX5_Q
    assert ex.check_class_sum_minimum((K - K ** (1 - q)) / q)
    assert not ex.check_class_sum_minimum((K - 1) / q)
    assert "one-hot" in capsys.readouterr().out
    assert not ex.check_class_sum_minimum(K - K ** (1 - q))
    assert "divide by q" in capsys.readouterr().out
