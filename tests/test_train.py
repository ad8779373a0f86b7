"""The training loop: repeatable, honest diagnostics, clear errors, and the course's headline effect."""
import math

import pytest
import torch

import nblib
from nblib.train import History, fit, predict_proba

CPU = "cpu"


@pytest.fixture(scope="module")
def digits():
    return nblib.data.load("digits", device=CPU)


@pytest.fixture(scope="module")
def noisy40(digits):
    T = nblib.noise.transition_matrix("symmetric", digits.num_classes, 0.4)
    return nblib.noise.corrupt_labels(digits.y_train, T, seed=0, exact=True)


def _run(data, seed=0, **kw):
    model = nblib.models.make_model("auto", data, seed=seed)
    kw.setdefault("epochs", 3)
    return fit(model, data, seed=seed, progress=False, device=CPU, **kw)


def test_same_seed_gives_identical_history(digits, noisy40):
    noisy, _ = noisy40
    a = _run(digits, y_train=noisy)
    b = _run(digits, y_train=noisy)
    for m in History.METRICS:
        if m != "time":
            assert getattr(a, m) == getattr(b, m), m
    c = _run(digits, seed=1, y_train=noisy)
    assert c.loss != a.loss


def test_history_fields_and_frame(digits, noisy40):
    noisy, flipped = noisy40
    h = _run(digits, y_train=noisy, epochs=2)
    assert h.epoch == [1, 2]
    assert all(len(getattr(h, m)) == 2 for m in History.METRICS)
    df = h.to_frame()
    assert list(df.index) == [1, 2] and "flipped_grad_share" in df
    assert h.config["noise_rate"] == pytest.approx(flipped.float().mean().item())
    assert History.from_dict(h.to_dict()).test_acc == h.test_acc
    for a, b in zip(h.flipped_acc_noisy, h.flipped_acc_true):
        assert 0 <= a + b <= 1   # a flipped sample is predicted as its noisy or its true label, not both
    assert 0 < h.flipped_grad_share[-1] < 1


def test_clean_labels_have_no_flipped_subset(digits):
    h = _run(digits, epochs=1)
    assert math.isnan(h.flipped_acc_noisy[0]) and h.flipped_grad_share[0] == 0.0
    assert h.clean_acc[0] == h.train_acc[0]


def test_gradient_share_is_one_when_every_sample_counts_as_flipped(digits, noisy40):
    noisy, _ = noisy40
    h = _run(digits, y_train=noisy, flipped=torch.ones_like(noisy, dtype=torch.bool), epochs=1)
    assert h.flipped_grad_share[0] == pytest.approx(1.0)


def test_truncated_lq_prunes_mostly_flipped_samples(digits, noisy40):
    noisy, flipped = noisy40
    w = torch.ones(len(noisy))
    h = _run(digits, y_train=noisy, loss="tgce", epochs=24, sample_weight=w, lr=3e-3)
    pruned = w == 0
    assert pruned.any()
    precision = (pruned & flipped).sum() / pruned.sum()
    assert precision > 0.7, f"pruning should hit mostly flipped samples, precision {precision:.2f}"
    assert h.config["final_sample_weight_mean"] == pytest.approx(w.mean().item())


def test_callback_can_stop_early(digits):
    seen = []
    h = _run(digits, epochs=5, callback=lambda e, m, hist: seen.append(e) or e == 2)
    assert seen == [1, 2] and h.epoch == [1, 2]


def test_gce_beats_ce_under_40_percent_symmetric_noise(digits, noisy40):
    """The course's headline effect, as a real seeded run: GCE ends well above CE."""
    noisy, _ = noisy40
    kw = dict(y_train=noisy, epochs=60, lr=3e-3)
    ce = _run(digits, loss="ce", **kw)
    gce = _run(digits, loss="gce", **kw)
    assert gce.final_test_acc > ce.final_test_acc + 0.05, (ce.final_test_acc, gce.final_test_acc)
    assert ce.best_test_acc - ce.final_test_acc > 0.03, "CE should memorise: final below its best"


def test_predict_proba_rows_sum_to_one(digits):
    model = nblib.models.make_model("auto", digits, seed=0)
    p = predict_proba(model, digits.x_test)
    assert p.shape == (len(digits.x_test), digits.num_classes)
    assert torch.allclose(p.sum(1), torch.ones(len(p)), atol=1e-5)


@pytest.mark.parametrize("kw, match", [
    (dict(epochs=0), "epochs"),
    (dict(lr=-1.0), "lr"),
    (dict(batch_size=0), "batch_size"),
    (dict(optimizer="rmsprop"), "optimizer"),
    (dict(schedule="step"), "schedule"),
    (dict(grad_clip=0.0), "grad_clip"),
    (dict(loss="nope"), "loss"),
])
def test_bad_arguments_are_named(digits, kw, match):
    with pytest.raises(ValueError, match=match):
        _run(digits, **kw)


def test_bad_labels_are_named(digits):
    bad = digits.y_train.clone()
    bad[0] = 99
    with pytest.raises(ValueError, match="y_train"):
        _run(digits, y_train=bad)
    with pytest.raises(ValueError, match="y_train"):
        _run(digits, y_train=digits.y_train[:10])
    with pytest.raises(ValueError, match="sample_weight"):
        _run(digits, sample_weight=torch.ones(3))


def test_eval_train_false_skips_only_the_training_set_curves(digits, noisy40):
    y, flipped = noisy40
    full = _run(digits, y_train=y, flipped=flipped, epochs=3)
    lean = _run(digits, y_train=y, flipped=flipped, epochs=3, eval_train=False)
    assert lean.test_acc == full.test_acc and lean.loss == full.loss              # the training itself is unchanged
    assert lean.flipped_grad_share == full.flipped_grad_share
    for curve in ("train_acc", "clean_acc", "flipped_acc_noisy", "flipped_acc_true"):
        assert len(getattr(lean, curve)) == 3 and all(math.isnan(v) for v in getattr(lean, curve))
        assert not any(math.isnan(v) for v in getattr(full, curve))
