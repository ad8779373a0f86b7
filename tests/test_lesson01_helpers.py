"""Lesson 1 helpers: noise figures, the live noise explorer, the memorisation experiment's tables and
figures (on a small real sweep), the noisy-validation checks, and the exercise checks."""
import io
import types

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from nblib import noise, theory
from nblib.course import lesson01 as L
from nblib.course.lesson01 import exercises as ex
from nblib.course.lesson01 import figures as P
from nblib.course.style import loss_color

RATES = ("sym 0", "sym 0.4")


def _labels(n=500, K=10, seed=0):
    return torch.as_tensor(np.random.default_rng(seed).integers(0, K, n))


def _visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


@pytest.fixture(scope="module")
def result(tiny_runs):
    return tiny_runs(("ce",), RATES)


# ---------------------------------------------------------------- noise figures

def test_flipped_examples_curves_and_images():
    y = _labels(200)
    noisy, flipped = noise.corrupt_labels(y, noise.transition_matrix("symmetric", 10, 0.5), seed=1)
    fig = P.flipped_examples(torch.randn(200, 40), y, noisy, n=4)
    axes = _visible_axes(fig)
    assert len(axes) == 4
    for ax in axes:
        t, lab = ax.get_title(), ax.get_title().split()
        assert t.startswith("true ") and "label" in t and lab[1] != lab[-1]
    fig = P.flipped_examples(torch.rand(200, 64), y, noisy, n=7, image_shape=(8, 8))
    assert len(_visible_axes(fig)) == 7 and len(fig.axes) == 12 and _visible_axes(fig)[0].images
    with pytest.raises(ValueError, match="flipped"):
        P.flipped_examples(torch.randn(50, 40), y[:50], y[:50])


def test_transition_panels_one_heatmap_per_matrix():
    Ms = {P.NOISE_TITLES[k]: noise.transition_matrix(rate=0.4, num_classes=10, **v) for k, v in P.NOISE_VARIANTS.items()}
    fig = P.transition_panels(Ms, suptitle="four noise models")
    assert [ax.get_title() for ax in fig.axes] == list(Ms)
    texts = [t.get_text() for t in fig.axes[2].texts]      # pair flip: only non-zero cells annotated
    assert sorted(set(texts)) == [".40", ".60"] and len(texts) == 20
    assert ".044" in [t.get_text() for t in fig.axes[0].texts] and ".040" in [t.get_text() for t in fig.axes[1].texts]
    with pytest.raises(ValueError, match="matrices"):
        P.transition_panels({})


@pytest.mark.parametrize("kind", list(P.NOISE_VARIANTS))
def test_noise_view_states_expected_and_realised_rate_and_writes_the_cells(kind):
    y = _labels(2000)
    fig = P.noise_view(kind, 0.4, labels=y, seed=3)
    T = noise.transition_matrix(rate=0.4, num_classes=10, **P.NOISE_VARIANTS[kind])
    expected = noise.expected_flip_rate(T, np.bincount(y.numpy(), minlength=10))
    realised = noise.realised_rate(y, noise.corrupt_labels(y, T, seed=3)[0])
    head = fig._suptitle.get_text()
    assert P.NOISE_TITLES[kind] in head and f"expected flips {expected:.1%}" in head and f"realised {realised:.1%}" in head
    left, right = fig.axes
    assert np.allclose(left.images[0].get_array(), T)
    shown = {t.get_text() for t in left.texts if t.get_text()}
    assert shown == {P._fmt(v) for v in T.ravel() if v >= P.ANNOT_MIN}


def test_noise_view_without_labels_and_the_warning_line():
    fig = P.noise_view("pair", 0.6)            # no labels: only the nominal T, and a warning line
    assert len(fig.axes) == 1 and "warning" in fig._suptitle.get_text()
    assert "warning" not in P.noise_view("symmetric", 0.4, labels=_labels(100))._suptitle.get_text()
    with pytest.raises(ValueError, match="kind"):
        P.noise_view("uniform", 0.2)


def test_noise_explorer_png_paints_the_numbers_that_draw_writes():
    ex_ = P.NoiseExplorer(_labels(500))
    png = ex_.png(kind="pair", rate=0.3)
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert image.shape[:2] == tuple(reversed(ex_.fig.canvas.get_width_height()))
    assert not any(t.get_visible() for c in ex_.cells for row in c.texts for t in row)     # painted, not drawn
    fig = ex_.draw(kind="pair", rate=0.3)        # a static draw shows the Text artists again
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    static = np.asarray(Image.open(buf).convert("RGB")).astype(int)
    assert static.shape == image.shape
    assert np.mean(np.abs(static - image) > 60) < 0.01, "painted labels must look like the drawn ones"


def test_rate_style_and_palette():
    rates = [0.0, 0.2, 0.4, 0.6]
    styles = [P.rate_style(r, rates) for r in rates]
    assert len({s["color"] for s in styles}) == 4 and len({str(s["ls"]) for s in styles}) == 4
    lum = [np.mean(matplotlib.colors.to_rgb(s["color"])) for s in styles]
    assert lum == sorted(lum), "more noise is drawn lighter"
    palette, dashes = P.rate_palette(["sym 0", "sym 0.4"])
    assert set(palette) == set(dashes) == {"sym 0", "sym 0.4"} and dashes["sym 0"] == ""
    assert np.mean(matplotlib.colors.to_rgb(loss_color("ce"))) > lum[0]


def test_noise_explorer_widget_follows_the_hand():
    pytest.importorskip("ipywidgets")
    box = L.widgets.noise_explorer(labels=_labels(300))
    controls = [c for row in box.children[:-1] for c in row.children]
    assert [c.description for c in controls] == ["noise model", "rate", "exact counts per class", "seed"]
    assert controls[1].continuous_update is True and controls[3].continuous_update is True
    controls[0].value = "pair"
    controls[1].value = 0.3


# ---------------------------------------------------------------- the memorisation experiment

def test_memorisation_runs_lesson_1s_grid_in_the_shared_setting(monkeypatch):
    seen = {}
    monkeypatch.setattr(L.experiments.runs, "run", lambda setting, name, **kw: seen.update(setting=setting, name=name, **kw))
    course = types.SimpleNamespace(scale="classroom", seeds=(0, 1, 2), device="cpu")
    L.experiments.memorisation(course)
    assert seen["name"] == "memorise" and seen["losses"] == ("ce",) and seen["seeds"] == (0, 1, 2)
    assert seen["noise"] == ["sym 0", "sym 0.2", "sym 0.4", "sym 0.6", "pair 0.4"]
    assert seen["setting"].dataset_kw == {"n_val": 300}
    large = types.SimpleNamespace(scale="large", seeds=(0, 1, 2, 3, 4), device="cpu")
    L.experiments.memorisation(large)    # large: the classroom setting itself, more seeds and the 80% rate
    assert seen["setting"] is L.experiments.CONFIG["classroom"]["setting"] and seen["seeds"] == (0, 1, 2, 3, 4)
    assert seen["noise"] == ["sym 0", "sym 0.2", "sym 0.4", "sym 0.6", "sym 0.8", "pair 0.4"]
    assert set(L.experiments.CLAIM_RATES) <= set(L.experiments.CONFIG["classroom"]["rates"])
    text = L.experiments.describe(large)
    assert "80 epochs" in text and "5 seeds" in text and "80%" in text and "pair noise at 40%" in text
    assert "3 seeds" in L.experiments.describe(course) and "80%" not in L.experiments.describe(course)


def test_memorisation_table_and_figure(result):
    table = L.experiments.memorisation_table(result)
    assert list(table.index) == list(RATES)
    assert list(table.columns) == ["labels flipped", "best test acc", "best epoch", "final test acc", "drop",
                                   "flipped fitted", "noisy-val pick"]
    assert table.loc["sym 0", "flipped fitted"] == "–" and "±" in table.loc["sym 0.4", "drop"]
    final = result.per_seed("final_test_acc", loss="ce", noise="sym 0.4")
    assert table.loc["sym 0.4", "final test acc"].startswith(f"{100 * final.mean():.1f} ±")
    fig = L.figures.memorisation_figure(result.curves("test_acc", "flipped_acc_noisy", "flipped_acc_true"))
    left, right = fig.axes[:2]
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["0%", "40%"]
    assert left.get_xlabel() == "epoch" and "test accuracy" in left.get_ylabel()
    assert "flipped" in right.get_ylabel()


def test_at_best_epoch_fitted_slope_and_selection(result):
    hs = result.histories(loss="ce", noise="sym 0.4")
    got = L.experiments.at_best_epoch(result, "flipped_acc_true", "sym 0.4")
    assert got.tolist() == [h.flipped_acc_true[h.best_epoch - 1] for h in hs]
    slope = L.experiments.fitted_slope(result, "sym 0.4")
    assert slope == pytest.approx([np.polyfit(h.test_acc, h.val_acc, 1)[0] for h in hs])
    table = L.experiments.selection_per_seed(result, ["sym 0", "sym 0.4"])
    assert len(table) == 4 and list(table.index.get_level_values("seed")) == [0, 1, 0, 1]
    row = table.loc[("sym 0.4", 1)]
    assert row["lost"] == pytest.approx(row["best test acc"] - row["picked test acc"], abs=0.11) and row["lost"] >= 0
    assert row["best epoch"] == hs[1].best_epoch


def test_realised_rate_spread_scatters_around_the_expected_rate():
    y = _labels(1000)
    spread = L.experiments.realised_rate_spread(y, noise.transition_matrix("symmetric", 10, 0.4), draws=50)
    assert len(spread["rates"]) == 50 and spread["min"] <= spread["mean"] <= spread["max"]
    assert abs(spread["mean"] - 0.4) < 0.01 and 0.5 * 0.0155 < spread["sd"] < 1.5 * 0.0155   # binomial sd sqrt(.24/1000)
    assert spread["rates"][0] == noise.realised_rate(y, noise.corrupt_labels(y, noise.transition_matrix("symmetric", 10, 0.4), seed=0)[0])


def test_validation_error_table_divides_by_the_slope():
    t = L.experiments.validation_error_table(0.93, (0.4, 0.8), 10, 300)
    assert list(t.index) == ["40%", "80%"] and t.loc["40%", "slope"] == pytest.approx(1 - 4 / 9)
    assert t.loc["40%", "clean-units ± (points)"] == pytest.approx(t.loc["40%", "noisy acc ± (points)"] / (1 - 4 / 9))
    assert t.loc["80%", "clean-units ± (points)"] > 15 > 5 > t.loc["40%", "clean labels ± (points)"]


def test_noisy_validation_figure_draws_the_affine_map(result):
    curves = result.curves("test_acc", "val_acc").query("noise == 'sym 0.4'")
    fig = L.figures.noisy_validation_figure(curves, 0.4, 10, selected_epochs=[2, 3])
    ax = fig.axes[0]
    affine = [l for l in ax.get_lines() if "affine" in str(l.get_label())][0]
    means = curves.groupby("epoch")["test_acc"].mean().to_numpy()
    assert affine.get_ydata() == pytest.approx(theory.symmetric_noisy_accuracy(means, 0.4, 10))
    assert sum(1 for l in ax.get_lines() if list(l.get_xdata()) in ([2, 2], [3, 3])) == 2


def test_affine_check_samples_agree_with_the_formula():
    table = L.experiments.affine_check(0.4, 10, draws=50)
    assert np.allclose(table["noisy accuracy (sampled)"], table["affine map"], atol=0.01)


def test_class_dependent_example_ranks_a_worse_model_higher():
    t = L.experiments.class_dependent_example(0.4, 10)
    assert t.loc["80% right, errors along the noise", "accuracy on noisy labels"] == pytest.approx(0.56)
    assert t.loc["80% right, errors against the noise", "accuracy on noisy labels"] == pytest.approx(0.48)
    assert (t.loc["70% right, errors along the noise", "accuracy on noisy labels"]
            > t.loc["80% right, errors against the noise", "accuracy on noisy labels"])


# ---------------------------------------------------------------- exercise checks

def test_check_pair_matrix(capsys):
    K, r = ex.EX2_NUM_CLASSES, ex.EX2_RATE
    T = (1 - r) * np.eye(K) + r * np.roll(np.eye(K), 1, axis=1)
    assert ex.check_pair_matrix(T) and ex.check_pair_matrix(torch.tensor(T).tolist())
    assert not ex.check_pair_matrix(T.T)
    assert "transpose" in capsys.readouterr().out
    no_wrap = T.copy()
    no_wrap[-1] = np.eye(K)[-1]
    assert not ex.check_pair_matrix(no_wrap) and not ex.check_pair_matrix(np.eye(3))


def test_checks_accept_the_placeholder_without_crashing(capsys):
    assert not any([ex.check_best_epoch_trend(..., None), ex.check_pair_matrix(...), ex.check_max_symmetric_rate(...),
                    ex.check_noisy_labels_needed(None)])
    assert capsys.readouterr().out.count("No answer yet") == 4


def test_check_max_symmetric_rate():
    assert ex.check_max_symmetric_rate(0.9)
    assert not ex.check_max_symmetric_rate(0.5) and not ex.check_max_symmetric_rate(90)


def test_check_best_epoch_trend_reads_the_run(capsys):
    def fake(e20, e60):
        epochs = {"sym 0.2": np.array(e20), "sym 0.6": np.array(e60)}
        return types.SimpleNamespace(per_seed=lambda metric, loss, noise: epochs[noise])
    mixed = fake([12, 16, 13], [13, 7, 10])          # one seed later: within noise
    assert ex.check_best_epoch_trend("no", mixed) and not ex.check_best_epoch_trend("yes", mixed)
    assert "[12, 16, 13]" in capsys.readouterr().out
    every = fake([14, 16, 13], [9, 7, 10])
    assert ex.check_best_epoch_trend("Yes", every) and not ex.check_best_epoch_trend("no", every)
    assert not ex.check_best_epoch_trend("maybe", every)


def test_check_noisy_labels_needed(capsys):
    want = theory.noisy_labels_for_equal_error(ex.EX4_CLEAN_ACC, ex.EX4_RATE, ex.EX4_NUM_CLASSES, ex.EX4_N_CLEAN)
    assert ex.check_noisy_labels_needed(want) and ex.check_noisy_labels_needed(round(want, -2))
    slope = theory.symmetric_noisy_slope(ex.EX4_RATE, ex.EX4_NUM_CLASSES)
    assert not ex.check_noisy_labels_needed(ex.EX4_N_CLEAN / slope ** 2)
    assert "variance" in capsys.readouterr().out
    assert not ex.check_noisy_labels_needed(ex.EX4_N_CLEAN / slope) and "square" in capsys.readouterr().out
    assert not ex.check_noisy_labels_needed(300)
    with pytest.raises(TypeError, match="answer"):
        ex.check_noisy_labels_needed("a lot")
