"""Lesson 1 helpers: noise figures, the noise widget's update function, exercise checks."""
import matplotlib
import numpy as np
import pytest
import torch

from nblib import noise
from nblib.course.lesson01 import exercises as ex
from nblib.course.lesson01 import figures as P
from nblib.course.style import CLEAN_COLOR, FLIPPED_COLOR, loss_color
from nblib.train import History


def _labels(n=500, K=10, seed=0):
    return torch.as_tensor(np.random.default_rng(seed).integers(0, K, n))


def _history(test_acc, noisy=None, true=None):
    n = len(test_acc)
    return History(epoch=list(range(1, n + 1)), test_acc=list(test_acc),
                   flipped_acc_noisy=list(noisy if noisy is not None else np.linspace(0.0, 0.9, n)),
                   flipped_acc_true=list(true if true is not None else np.linspace(0.6, 0.1, n)))


def _visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


# ---------------------------------------------------------------- figures

def test_flipped_examples_curves_and_images():
    y = _labels(200)
    noisy, flipped = noise.corrupt_labels(y, noise.transition_matrix("symmetric", 10, 0.5), seed=1)
    x = torch.randn(200, 40)
    fig = P.flipped_examples(x, y, noisy, n=4)
    axes = _visible_axes(fig)
    assert len(axes) == 4
    for ax in axes:
        t, lab = ax.get_title(), ax.get_title().split()
        assert t.startswith("true ") and "label" in t
        assert lab[1] != lab[-1], "a flipped example must show two different classes"
    assert axes[0].get_xlabel() == "position (step)" and axes[0].get_ylabel() == "signal (a.u.)"
    assert fig._suptitle is not None
    fig = P.flipped_examples(torch.rand(200, 64), y, noisy, n=7, image_shape=(8, 8))
    assert len(_visible_axes(fig)) == 7 and len(fig.axes) == 12          # 2 rows of 6, 5 hidden
    assert _visible_axes(fig)[0].images, "digits are drawn as images"


def test_flipped_examples_rejects_clean_labels():
    y = _labels(50)
    with pytest.raises(ValueError, match="flipped"):
        P.flipped_examples(torch.randn(50, 40), y, y)


def test_transition_panels_one_heatmap_per_matrix():
    Ms = {P.NOISE_TITLES[k]: noise.transition_matrix(rate=0.4, num_classes=10, **v)
          for k, v in P.NOISE_VARIANTS.items()}
    fig = P.transition_panels(Ms, suptitle="four noise models")
    assert [ax.get_title() for ax in fig.axes] == list(Ms)
    assert all(ax.get_xlabel() == "noisy label j" and ax.get_ylabel() == "true label i" for ax in fig.axes)
    texts = [t.get_text() for t in fig.axes[2].texts]      # pair flip: only non-zero cells annotated
    assert sorted(set(texts)) == [".40", ".60"] and len(texts) == 20
    assert ".044" in [t.get_text() for t in fig.axes[0].texts]     # 0.4/9 told apart from 0.4/10
    assert ".040" in [t.get_text() for t in fig.axes[1].texts]
    with pytest.raises(ValueError, match="matrices"):
        P.transition_panels({})


@pytest.mark.parametrize("kind", list(P.NOISE_VARIANTS))
def test_noise_view_titles_state_expected_and_realised_rate(kind):
    y = _labels(2000)
    fig = P.noise_view(kind, 0.4, labels=y, seed=3)
    left, right = fig.axes
    T = noise.transition_matrix(rate=0.4, num_classes=10, **P.NOISE_VARIANTS[kind])
    expected = noise.expected_flip_rate(T, np.bincount(y.numpy(), minlength=10))
    assert left.get_title() == f"nominal T: expected flips {expected:.1%}"
    noisy, _ = noise.corrupt_labels(y, T, seed=3)
    realised = noise.realised_rate(y, noisy)
    assert right.get_title() == f"realised on 2000 labels: {realised:.1%} flipped"
    assert P.NOISE_TITLES[kind] in fig._suptitle.get_text()


def test_noise_view_include_true_flips_fewer_labels_and_warns_in_title():
    y = _labels(5000)
    fig = P.noise_view("symmetric_incl", 0.5, labels=y, exact=True)
    assert "expected flips 45.0%" in fig.axes[0].get_title()
    assert "warning" not in fig._suptitle.get_text()
    fig = P.noise_view("pair", 0.6)            # no labels: only the nominal T, and a warning line
    assert len(fig.axes) == 1 and "warning" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="kind"):
        P.noise_view("uniform", 0.2)


def test_rate_style_keeps_the_loss_colour_family_and_separates_rates():
    rates = [0.0, 0.2, 0.4, 0.6]
    styles = [P.rate_style(r, rates) for r in rates]
    assert len({s["color"] for s in styles}) == 4 and len({str(s["ls"]) for s in styles}) == 4
    lum = [np.mean(matplotlib.colors.to_rgb(s["color"])) for s in styles]
    assert lum == sorted(lum), "more noise is drawn lighter"
    assert P.rate_style(0.2, [0.2]) == P.rate_style(0.2, [0.2], "ce")
    assert np.mean(matplotlib.colors.to_rgb(loss_color("ce"))) > lum[0]


def test_accuracy_by_rate_marks_peaks():
    hs = {0.0: _history([0.5, 0.8, 0.9]), 0.4: _history([0.4, 0.7, 0.5])}
    fig = P.accuracy_by_rate(hs)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and "test accuracy" in ax.get_ylabel()
    assert "peaks" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["clean", "40% noise"]
    dots = [l for l in ax.get_lines() if l.get_marker() == "o"]
    assert [tuple(d.get_xydata()[0]) for d in dots] == [(3, 0.9), (2, 0.7)]


def test_flipped_fit_panels_skip_clean_and_use_clean_flipped_colours():
    hs = {0.0: _history([0.5, 0.9]), 0.2: _history([0.5, 0.6]), 0.6: _history([0.3, 0.2])}
    fig = P.flipped_fit_panels(hs)
    assert [ax.get_title() for ax in fig.axes] == ["20% symmetric noise", "60% symmetric noise"]
    colours = [l.get_color() for l in fig.axes[0].get_lines()[:2]]
    assert colours == [FLIPPED_COLOR, CLEAN_COLOR]
    assert fig.axes[0].get_ylabel() == "share of flipped training samples"
    with pytest.raises(ValueError, match="rate > 0"):
        P.flipped_fit_panels({0.0: _history([0.5])})


def test_noise_explorer_builds_and_redraws():
    pytest.importorskip("ipywidgets")
    from nblib.course.lesson01.widgets import noise_explorer

    box = noise_explorer(labels=_labels(300))
    controls = [c for row in box.children[:-1] for c in row.children]
    assert [c.description for c in controls] == ["noise model", "rate", "exact counts per class", "seed"]
    assert controls[1].continuous_update is False
    controls[0].value = "pair"          # redraws through the plain update function without error
    controls[1].value = 0.3


# ---------------------------------------------------------------- exercise checks

def test_check_expected_flip_rate(capsys):
    assert ex.check_expected_flip_rate(ex.EX1_RATE * (ex.EX1_NUM_CLASSES - 1) / ex.EX1_NUM_CLASSES)
    assert "Correct" in capsys.readouterr().out
    assert not ex.check_expected_flip_rate(ex.EX1_RATE)
    assert not ex.check_expected_flip_rate(54)
    assert "fraction" in capsys.readouterr().out
    with pytest.raises(TypeError, match="answer"):
        ex.check_expected_flip_rate("a lot")


def test_check_pair_matrix(capsys):
    K, r = ex.EX2_NUM_CLASSES, ex.EX2_RATE
    T = (1 - r) * np.eye(K) + r * np.roll(np.eye(K), 1, axis=1)
    assert ex.check_pair_matrix(T) and ex.check_pair_matrix(torch.tensor(T).tolist())
    assert not ex.check_pair_matrix(T.T)
    assert "transpose" in capsys.readouterr().out
    no_wrap = T.copy()
    no_wrap[-1] = np.eye(K)[-1]
    assert not ex.check_pair_matrix(no_wrap)
    assert not ex.check_pair_matrix(np.eye(3))


def test_checks_accept_the_placeholder_without_crashing(capsys):
    h = _history([0.5, 0.8])
    assert not any([ex.check_expected_flip_rate(...), ex.check_pair_matrix(...), ex.check_max_symmetric_rate(...),
                    ex.check_best_epoch(..., h)])
    assert capsys.readouterr().out.count("No answer yet") == 4


def test_check_max_symmetric_rate():
    assert ex.check_max_symmetric_rate(0.9)
    assert not ex.check_max_symmetric_rate(0.5) and not ex.check_max_symmetric_rate(90)


def test_check_best_epoch():
    h = _history([0.5, 0.8, 0.7, 0.6])
    assert ex.check_best_epoch(2, h)
    assert not ex.check_best_epoch(1, h) and not ex.check_best_epoch(4, h)
    with pytest.raises(TypeError, match="integer"):
        ex.check_best_epoch(2.0, h)
