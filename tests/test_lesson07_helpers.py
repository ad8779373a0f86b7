"""Lesson 7 (real label noise): tables, figures, the sharpness slider, the experiment's plumbing, exercise checks."""
import dataclasses

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nblib  # noqa: E402
from nblib import human_noise, noise, sweep  # noqa: E402
from nblib.course import lesson07 as L  # noqa: E402
from nblib.course.lesson07 import analysis as A  # noqa: E402
from nblib.course.lesson07 import exercises as ex  # noqa: E402
from nblib.course.lesson07 import experiments as E  # noqa: E402
from nblib.course.widgets import SLOW_UPDATE_S, time_update  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------------------- tables from the CIFAR-N data

def test_comparison_matrices_share_the_worse_rate():
    mats = A.comparison_matrices()
    assert list(mats) == ["CIFAR-10N aggre", "CIFAR-10N random1", "CIFAR-10N worse", "symmetric 0.40", "pair 0.40"]
    rates = A.properties_table(mats)["noise rate"]
    assert rates["symmetric 0.40"] == pytest.approx(rates["CIFAR-10N worse"]) == pytest.approx(rates["pair 0.40"])


def test_properties_and_conditions_say_what_the_theorems_need():
    mats = A.comparison_matrices()
    props = A.properties_table(mats)
    assert props["diagonally dominant"].all() and props["uniform off-diagonals"].sum() == 1
    assert props.loc["CIFAR-10N worse", "cond(T)"] == pytest.approx(3.303, abs=1e-3)
    assert props.loc["CIFAR-10N worse", "||T^-1||_inf"] == pytest.approx(3.814, abs=1e-3)
    cond = A.conditions_table(mats)
    theorem = lambda text: cond.xs(text, level="theorem").iloc[0].tolist()  # noqa: E731
    assert theorem(f"{A.TOLERANT} under symmetric noise") == ["no", "no", "no", "yes", "no"]
    class_conditional = cond.xs(f"{A.TOLERANT_CC} under class-conditional noise", level="theorem")
    assert class_conditional.index[0][-1] == A.T_PART and "R(f*) = 0" in A.T_PART     # every condition is named
    assert "C/(K-1)" in A.T_PART and "NCE" not in A.TOLERANT_CC.split(":")[0]          # the bound on the loss too
    assert theorem(A.PARTIAL) == ["bound only"] * 5
    assert theorem("forward correction: consistent; anchor-point T-hat") == ["no (part 2)"] * 3 + ["yes (drawn so)"] * 2


def test_annotators_agreement_and_superclasses():
    ann = A.annotator_table()
    assert ann.loc["aggre (majority vote)", "noise rate"] == pytest.approx(0.0901)
    agree = A.agreement_table()
    assert agree["images"].sum() == 50000 and agree.loc["3/3 agree", "majority vote right"] > 0.99
    sup = A.superclass_table()["value"]
    assert sup["wrong fine labels inside the true superclass"] > 8 * sup["the same if wrong labels were uniform"]
    assert sup["the same if wrong labels were uniform"] == pytest.approx(4 / 99)
    rows = A.not_dominant_rows().set_index("true class")
    assert rows["margin (images)"].to_dict() == {"pine_tree": -29, "shrew": -8, "streetcar": -4}
    np.testing.assert_allclose(rows["T_ii - T_ij"], rows["T_ii"] - rows["T_ij"])
    order = A.superclass_order()
    assert sorted(order) == list(range(100))
    assert np.all(np.diff(human_noise.superclass_of()[order]) >= 0)


def test_joint_errors_table_has_ratios():
    t = A.joint_errors_table(cifar=human_noise.joint_errors())
    assert t.loc[("cifar", "observed / independent"), "3 wrong"] == pytest.approx(1067 / 331.47, rel=1e-3)


def test_leaderboard_sections_and_webvision(tmp_path):
    human = A.human_leaderboard()
    assert list(human.index) == ["GCE", "Forward-T", "Backward-T"] and human.loc["GCE", "worst"] == 80.66
    web = A.webvision()
    assert web.to_dict() == {"NCE+RCE": 62.64, "NCE+MAE": 62.36} and "ResNet-50" in web.name
    gaps = A.method_gaps()
    assert gaps.loc[("human (CIFAR-N)", "worst"), "GCE - forward"] == pytest.approx(80.66 - 79.79)
    assert np.isnan(gaps.loc[("human (CIFAR-N)", "worst"), "better of the two - CE"])
    assert gaps.loc[("synthetic CIFAR-10", "sym 0.4"), "better of the two - CE"] == pytest.approx(87.13 - 81.88)
    assert gaps.loc[("synthetic CIFAR-100", "sym 0.4"), "GCE - forward"] == pytest.approx(61.77 - 31.05)
    rates = gaps["overall noise rate"]
    assert rates[("synthetic CIFAR-10", "asym 0.4")] == pytest.approx(0.2)           # 5 of 10 classes flip
    assert rates[("human (CIFAR-N)", "C10N aggregate")] == pytest.approx(0.0901)
    assert rates[("human (CIFAR-N)", "C100N")] == pytest.approx(0.402)
    bad = tmp_path / "paper_results.md"
    bad.write_text("## Human label noise\n| method | a |\n|---|---|\n| GCE | 1 |\n")
    with pytest.raises(ValueError, match="WebVision"):
        A.webvision(bad)


# ----------------------------------------------------------------------------- figures

def test_figures_draw_from_the_tables():
    fig = L.figures.transition_gallery(A.comparison_matrices(), A.class_rates_table())
    assert len([ax for ax in fig.axes if ax.get_visible()]) >= 6
    fig = L.figures.cifar100_figure()
    assert fig.axes[0].images[0].get_array().shape == (100, 100)
    assert len(fig.axes) == 4                                                         # two colour bars
    assert "large man-made outdoor things" in [t.get_text() for t in fig.axes[1].get_yticklabels()]
    fig = L.figures.joint_errors_figure({"CIFAR-10N": human_noise.joint_errors()})
    assert len(fig.axes[0].patches) == 8


# ----------------------------------------------------------------------------- the sharpness slider

@pytest.fixture(scope="module")
def explorer():
    rng = np.random.default_rng(7)
    y = np.repeat(np.arange(10), 110)
    return L.widgets.SharpnessExplorer(rng.random(y.size), y, human_noise.transition("worse"))


def test_sharpness_zero_is_flat_and_three_rises(explorer):
    flat, sharp = explorer.flip_rates(0.0), explorer.flip_rates(3.0)
    assert np.all(np.abs(flat - human_noise.noise_rate("worse")) < 0.1)
    assert np.all(np.diff(sharp) > 0)
    explorer.draw(3.0)
    assert "independent" in explorer.title.get_text()
    heights = [b.get_height() for b in explorer.rate_bars]
    np.testing.assert_allclose(heights, sharp)


def test_sharpness_slider_follows_the_hand(explorer):
    explorer.png(2.0)
    seconds = time_update(explorer.png, repeats=3, sharpness=2.5)
    assert seconds < 4 * SLOW_UPDATE_S, f"{seconds * 1000:.0f} ms per move (target {SLOW_UPDATE_S * 1000:.0f} ms)"
    assert explorer.png(1.0)[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- the experiment's plumbing

def test_configs_per_scale():
    assert set(L.CONFIG) == {"classroom", "large", "paper"}
    c = L.CONFIG["classroom"]
    assert c.setting == nblib.course.settings.SETTINGS["classroom"]["memorise"] and len(c.seeds) >= 3
    assert c.ccn.kind == "matrix" and c.idn.kind == "instance" and c.idn.sharpness == E.SHARPNESS
    np.testing.assert_allclose(np.array(c.ccn.matrix), human_noise.transition("worse"))
    paper = L.CONFIG["paper"]
    g = nblib.course.settings.GRIDS["cifar10n-paper"]
    assert (paper.setting.dataset, paper.setting.model, paper.setting.epochs) == (g.dataset, g.model, g.epochs)
    assert paper.idn.kind == "human" and paper.idn.label_set == "worse"
    assert E.base_scale("paper") == "large" and E.base_scale("classroom") == "classroom"
    with pytest.raises(ValueError, match="scale"):
        E.base_scale("huge")
    scales = E.describe_scales()
    assert list(scales.columns) == list(E.SCALES) and scales.loc["seeds", "paper"] == [0]
    assert "gradient clipping" in scales.loc["training", "paper"]


def test_setup_and_claims_follow_the_lesson_scale(capsys, monkeypatch):
    monkeypatch.setenv("NBLIB_STRICT_CLAIMS", "1")
    course = E.setup("paper")
    assert capsys.readouterr().out.startswith("scale: paper | device:") and course.seeds == (0,)
    claims = E.claims("paper")
    assert "not checked" in capsys.readouterr().out
    assert claims.compare("anything", [0.0], ">", 1.0) is None            # one seed: nothing is checked
    assert not E.claims("classroom").skip and not E.claims("large").skip


@pytest.mark.slow
def test_both_parts_run_as_one_sparse_grid_with_paired_noise(tmp_path, monkeypatch):
    """A 2-epoch version of the lesson's experiment: both noises, the realised-noise table, the widget."""
    monkeypatch.setenv("NBLIB_LESSON_CACHE", str(tmp_path))
    cfg = E.CONFIG["classroom"]
    monkeypatch.setitem(E.CONFIG, "classroom", dataclasses.replace(cfg, setting=cfg.setting.replace(epochs=2),
                                                                   seeds=(0, 1)))
    with nblib.torch_threads(1):
        ccn, idn = E.human_t_runs("classroom")
    assert {r["label"]["noise"] for r in ccn.results} == {E.CCN_NAME}
    assert {r["label"]["noise"] for r in idn.results} == {E.IDN_NAME}
    assert len(ccn.results) == len(E.LOSSES) * 2 and len(idn.results) == len(E.INSTANCE_LOSSES) * 2
    assert {r["engine"] for r in ccn.results + idn.results} == {"vmap"}
    table = E.realised_noise(ccn, idn)
    assert (table["flipped, class-conditional"] == table["flipped, instance-dependent"]).all()
    assert (table["max |difference of realised T|"] == 0).all()
    table = A.course_table(ccn, idn)
    assert list(table.index) == list(E.INSTANCE_LOSSES) and " ± " in table.loc["gce", ("gain change", "points")]
    assert A.unclaimed_gain_changes(ccn, idn).count("not claimed") == len(E.INSTANCE_LOSSES) - 1
    diag = A.estimated_diagonal(ccn)
    assert diag.shape == (2,) and np.all((diag > 0) & (diag <= 1))
    cal = E.calibration(idn)
    assert cal.ratio.shape == (3,) and cal.human_ratio.shape == (4,) and cal.flip_rates.shape == (2, 5)  # 2 seeds
    stopped = E.t_hat_when_stopped(ccn)
    assert list(stopped.index) == [0, 1] and (stopped["error (stopped)"] >= 0).all()
    assert A.run_table(ccn).shape == (len(E.LOSSES), 3)
    assert E.sharpness_widget(idn) is not None
    fig = L.figures.curves_figure(ccn)
    assert len(fig.axes) == 2
    L.figures.paired_figure(ccn, idn)


# ----------------------------------------------------------------------------- exercises

def test_placeholders_print_the_reminder(capsys):
    for check in (lambda: ex.check_fragile_verdicts(None, None), lambda: ex.check_backward_ranking(...),
                  lambda: ex.check_t_hat(None, "a", "closer"), lambda: ex.check_beyond_noise(None, None)):
        assert check() is False
        assert "No answer yet" in capsys.readouterr().out


def test_exercise_1_margins_in_images_and_fragile_verdicts(capsys):
    margins = human_noise.margin_counts("noisy", "cifar100n")
    assert not ex.check_fragile_verdicts(margins + 1, ["shrew"])
    assert "differ" in capsys.readouterr().out
    assert not ex.check_fragile_verdicts(margins, ["shrew", "streetcar", "pine_tree"])
    assert "missing 1" in capsys.readouterr().out
    assert ex.check_fragile_verdicts(list(margins), ["streetcar", "flatfish", "shrew"])
    with pytest.raises(TypeError, match="list of class names"):
        ex.check_fragile_verdicts(margins, "shrew")
    with pytest.raises(ValueError, match="one number per fine class"):
        ex.check_fragile_verdicts(margins[:10], ["shrew"])


def test_exercise_2_ranking_by_the_inverse_norm():
    cands = ex.backward_candidates()
    norm = {n: np.abs(np.linalg.inv(T)).sum(axis=1).max() for n, T in cands.items()}
    order = sorted(cands, key=norm.get)
    assert order == ["CIFAR-10N aggre", "CIFAR-10N worse", "CIFAR-100N fine", "pair 0.48"]
    by_entry = sorted(cands, key=lambda n: np.abs(np.linalg.inv(cands[n])).max())
    assert by_entry != order                                # the largest |entry| would rank them otherwise
    assert ex.check_backward_ranking(order)
    assert not ex.check_backward_ranking(order[::-1])
    with pytest.raises(ValueError, match="each of"):
        ex.check_backward_ranking(order[:3])


def test_exercise_3_identity_error_reason_and_prediction(capsys):
    truth = 2 * human_noise.noise_rate("worse")
    assert not ex.check_t_hat(truth / 2, "a", "closer")
    assert not ex.check_t_hat(truth, "b", "closer")
    assert "right number" in capsys.readouterr().out
    assert not ex.check_t_hat(truth, "a", "closer")              # no runs given: asks for them
    assert "fourth argument" in capsys.readouterr().out
    with pytest.raises(TypeError, match="error must be a number"):
        ex.check_t_hat("big", "a", "closer")
    with pytest.raises(ValueError, match="stopped must be one of"):
        ex.check_t_hat(truth, "a", "nearer")


class FakeResult:
    """Just enough of a SweepResult for per_seed: results with labels, seeds and metrics."""

    def __init__(self, values: dict):
        self.results = [{"label": {"loss": loss, "noise": "n"}, "config": {"seed": s},
                         "metrics": {"final_test_acc": v}} for loss, vs in values.items() for s, v in enumerate(vs)]


def test_exercise_4_t_interval():
    clear = FakeResult({"gce": [0.90, 0.91, 0.92], "forward(T)": [0.80, 0.80, 0.81]})
    assert ex.check_beyond_noise(True, clear) and not ex.check_beyond_noise(False, clear)
    # mean +2.0, SE 0.94 (the review's example): beyond 2 standard errors, inside the t-interval (t = 4.30)
    wide = FakeResult({"gce": [0.803, 0.833, 0.828], "forward(T)": [0.80, 0.80, 0.80]})
    assert ex.check_beyond_noise(False, wide)
    with pytest.raises(TypeError, match="True or False"):
        ex.check_beyond_noise("yes", wide)
    assert ex.t_quantile(2) == pytest.approx(4.303)
    with pytest.raises(ValueError, match="df must be"):
        ex.t_quantile(0)
