"""Shared plot style and the widget pattern: one colour per loss, figures with labelled axes."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nblib.plots import common, style  # noqa: E402
from nblib.train import History  # noqa: E402
from nblib.widgets import base  # noqa: E402


def test_every_loss_has_a_style_and_variants_share_it():
    from nblib.losses import LOSSES

    assert set(LOSSES) <= set(style.LOSS_STYLE)
    assert style.loss_style("forward(T-hat)") == style.loss_style("forward")
    assert style.loss_color("gce q=0.3") == style.loss_color("gce")
    combos = {(s["color"], s["ls"]) for s in style.LOSS_STYLE.values()}
    assert len(combos) == len(style.LOSS_STYLE), "two losses would look the same"


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
