"""Shared plot style and the widget pattern: one colour per loss, figures with labelled axes."""
import numpy as np
import pytest

from nblib.course import figures as common, style
from nblib.train import History
from nblib.course import widgets as base


def test_every_loss_has_a_style_and_variants_share_it():
    from nblib.losses import LOSSES

    assert set(LOSSES) <= set(style.LOSS_STYLE)
    assert style.loss_style("forward(T)") == style.loss_style("forward")
    hat = style.loss_style("forward(T-hat)")                                      # an estimated T: dotted, own colour
    assert hat["ls"] == style.ESTIMATED_T_LS and hat["color"] != style.loss_color("forward")
    assert style.loss_style("backward(T-hat)") == dict(style.loss_style("backward"), ls=style.ESTIMATED_T_LS)
    assert style.loss_color("gce q=0.3") == style.loss_color("gce")
    combos = {(s["color"], s["ls"]) for s in style.LOSS_STYLE.values()}
    assert len(combos) == len(style.LOSS_STYLE), "two losses would look the same"
    lesson7 = ("ce", "gce", "sce", "nce+rce", "forward(T)", "forward(T-hat)", "backward(T)")   # drawn in one panel
    assert len({style.loss_color(name) for name in lesson7}) == len(lesson7), "lesson 7's losses need distinct colours"


def test_learning_curves_labels_and_colours():
    h = History(epoch=[1, 2, 3], test_acc=[0.5, 0.7, 0.6])
    ax = common.learning_curves({"ce": h, "gce q=0.7": h}, "test_acc", title="t")
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "test accuracy"
    assert [l.get_color() for l in ax.get_lines()] == [style.loss_color("ce"), style.loss_color("gce")]
    with pytest.raises(ValueError, match="metric"):
        common.learning_curves({"ce": h}, "nope")


def test_confusion_matrix_is_row_normalised():
    C = common.confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1], 2)
    assert np.allclose(C, [[0.5, 0.5], [0, 1]])
    ax = common.confusion_heatmap([0, 1], [0, 1], 2, title="c")
    assert ax.get_xlabel() == "predicted class"


def test_transition_heatmap_axes():
    ax = common.transition_heatmap(np.eye(3), title="T")
    assert ax.get_ylabel() == "true label i" and ax.get_title() == "T"
    assert [t.get_text() for t in ax.texts] == ["1.00", "0.00", "0.00", "0.00", "1.00", "0.00", "0.00", "0.00", "1.00"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]


def test_matrix_heatmap_text_contrasts_with_its_cell_and_skips_small_values():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    M = np.array([[0.0, 0.001, 1.0], [np.nan, 0.5, 0.2]])
    im = common.matrix_heatmap(M, ax, vmin=0, vmax=1, annot_min=0.005, nan_text="-", fmt=".1f",
                               xticklabels="abc", yticklabels=["r0", "r1"])
    texts = {(t.get_position()[1], t.get_position()[0]): t for t in ax.texts}
    assert set(texts) == {(0, 2), (1, 0), (1, 1), (1, 2)}               # 0 and 0.001 below annot_min: blank
    assert texts[(1, 0)].get_text() == "-" and texts[(0, 2)].get_text() == "1.0"
    assert texts[(0, 2)].get_color() == "black"                         # viridis is yellow at 1
    assert texts[(1, 2)].get_color() == "white"                         # and dark blue at 0.2
    assert im.get_clim() == (0, 1) and [t.get_text() for t in ax.get_yticklabels()] == ["r0", "r1"]
    with pytest.raises(ValueError, match="M must be a 2-D matrix"):
        common.matrix_heatmap(np.ones(3), ax)                            # not a matrix


def test_interact_figure_redraws_with_plain_update():
    import matplotlib.pyplot as plt

    calls = []

    def update(a):
        calls.append(a)
        fig, ax = plt.subplots()
        ax.plot([0, a])
        return fig

    s = base.slider("a", 0.5, 0.0, 1.0, 0.1)
    box = base.interact_figure(update, {"a": s})
    s.value = 0.8
    assert calls[-1] == pytest.approx(0.8)
    assert len(box.children) == 2
    assert base.time_update(update, a=0.3) > 0
    log = base.slider("q", 0.7, -2, 0, 0.01, log=True, slow=True)
    assert log.continuous_update is False and log.min == -2


def test_losses_sharing_a_colour_get_different_bar_patterns():
    assert style.loss_color("tgce") == style.loss_color("forward(T)")
    assert style.loss_hatch("tgce") != style.loss_hatch("forward(T)") != style.loss_hatch("forward(T-hat)")
    assert style.loss_style("forward(T-hat)")["ls"] == style.ESTIMATED_T_LS != style.loss_style("forward(T)")["ls"]
    same = {}
    for name in style.LOSS_STYLE:
        key = (style.loss_color(name), style.loss_hatch(name))
        assert key not in same, f"{name} and {same.get(key)} look the same as bars"
        same[key] = name
