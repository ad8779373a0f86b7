"""Lesson 6's helpers beyond the stored grids' tests (tests/test_benchmark_cells.py): its scales, the
late-swing measure of stability, the gradient-scale table and the T-hat error table."""
import math

import numpy as np
import pytest

from nblib import sweep
from nblib.course.lesson06 import experiments as ex
from nblib.course.lesson06 import paper_claims as pc
from nblib.course.settings import GRIDS
from nblib.train import History


def test_scales_are_those_that_run():
    """"paper" is no scale of lesson 6 (no stored results, one seed); unknown scales fail by name."""
    assert ex.SCALES == ("classroom", "large")
    assert set(ex.grids("large")["digits-classroom"].seeds) == {0, 1, 2, 3, 4}
    with pytest.raises(ValueError, match="scale"):
        ex.grids("paper")
    assert ex.results_root("cpu") == sweep.default_root()


def test_late_oscillation_is_the_mean_swing_over_the_last_epochs():
    h = History(test_acc=[0.1, 0.5, 0.9, 0.5, 0.9, 0.5])
    assert math.isclose(h.late_oscillation(last=3), 0.4) and math.isclose(h.late_oscillation(last=10), 0.4)
    steady = History(test_acc=[0.9 - 0.01 * e for e in range(20)])       # a steady fall is no swing
    assert math.isclose(steady.late_oscillation(), 0.01)
    assert math.isnan(History(test_acc=[0.5]).late_oscillation())
    with pytest.raises(ValueError, match="last must be an int >= 2"):
        h.late_oscillation(last=1)


def test_derived_metric_is_read_from_the_stored_history():
    res = sweep.load_grid(GRIDS["mnist1d-classroom"])
    swing = res.per_seed("late_oscillation", loss="backward(T)", noise="asym 0.4")
    by_hand = [History.from_dict(r["history"]).late_oscillation() for r in
               sorted((r for r in res.results if r["label"] == {"loss": "backward(T)", "noise": "asym 0.4"}),
                      key=lambda r: r["config"]["seed"])]
    assert np.allclose(swing, by_hand) and len(swing) == 3
    with pytest.raises(KeyError, match="metric must be"):
        res.per_seed("no_such_metric", loss="ce", noise="sym 0")


def test_gradient_scale_shows_adam_relevant_weighting():
    """NCE's gradient is far smaller than CE's, but it weights unfitted against fitted samples as CE
    does (ratio of the order of 20); the bounded and APL losses weight them below 1."""
    t = ex.gradient_scale()
    assert t.loc["nce", "|grad| at p_y = 0.01"] < t.loc["ce", "|grad| at p_y = 0.01"] / 10
    assert 10 < t.loc["ce", "unfitted / fitted"] < 30 and 10 < t.loc["nce", "unfitted / fitted"] < 40
    assert (t.loc[["mae", "gce", "nce+rce"], "unfitted / fitted"] < 1).all()


def test_estimation_table_sets_t_hat_beside_the_identity():
    res = {"digits": sweep.load_grid(GRIDS["digits-classroom"])}
    t = ex.estimation_table(res)
    assert list(t.columns) == ["digits: T-hat", "digits: identity"] and "sym 0" not in t.index
    # symmetric noise without the true class: the identity is 2 x rate away; asym 0.4 flips 5 of 10 rows
    assert t.loc["sym 0.8", "digits: identity"] == 1.6 and t.loc["asym 0.4", "digits: identity"] == 0.4
    assert (t["digits: T-hat"] <= t["digits: identity"] + 1e-9).all()


def test_claims_accept_the_validation_selected_metric_only_where_it_means_something():
    digits = sweep.load_grid(GRIDS["digits-classroom"])
    assert pc.parts("ce_gap", digits, pc.SELECTED) == [] and pc.parts("backward_unstable", digits, pc.SELECTED) == []
    held = pc.check("selection_apl_top", digits)
    assert len(held) == 2 and all(c.held for c in held)
    with pytest.raises(ValueError, match="claim must be one of"):
        pc.parts("nope", digits)
