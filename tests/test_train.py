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


# ---- one engine for one model and many ---------------------------------------------------------

def test_a_stack_member_trains_like_its_single_run(digits, noisy40):
    """fit_batched member m = fit(models[m]) in distribution; with one member the loop is the same code."""
    noisy, _ = noisy40
    models = [nblib.models.make_model("auto", digits, seed=s) for s in (0, 1)]
    hists, trained = nblib.train.fit_batched(models, digits, losses=["ce", "gce"], y_trains=[noisy, noisy],
                                             seeds=[0, 1], epochs=3, device=CPU)
    single = _run(digits, seed=1, loss="gce", y_train=noisy)
    assert len(trained) == 2 and hists[1].config["engine"] == "vmap"
    assert abs(hists[1].final_test_acc - single.final_test_acc) < 0.05


def test_members_with_different_transition_matrices_are_not_merged(digits, noisy40):
    """Two forward losses with different T must each use their own T (grouping is by value)."""
    noisy, _ = noisy40
    K = digits.num_classes
    T1 = nblib.noise.transition_matrix("symmetric", K, 0.4)
    T2 = nblib.noise.transition_matrix("pair", K, 0.4)
    losses = [nblib.losses.make_loss("forward", K, T=T) for T in (T1, T2)]
    models = [nblib.models.make_model("auto", digits, seed=0) for _ in range(2)]
    both, _ = nblib.train.fit_batched(models, digits, losses=losses, y_trains=[noisy] * 2, seeds=[0, 0],
                                      epochs=2, device=CPU)
    alone, _ = nblib.train.fit_batched([nblib.models.make_model("auto", digits, seed=0)], digits,
                                       losses=[losses[1]], y_trains=[noisy], seeds=[0], epochs=2, device=CPU)
    assert both[1].loss == pytest.approx(alone[0].loss, rel=1e-5)
    assert both[0].loss != pytest.approx(both[1].loss, rel=1e-3)


def test_fit_many_follows_the_engine_rule(digits, noisy40):
    noisy, _ = noisy40
    mlps = [nblib.models.make_model("auto", digits, seed=s) for s in (0, 1)]
    assert nblib.train.stack_pays(mlps[0], CPU)
    hists, _ = nblib.train.fit_many(mlps, digits, losses=["ce", "ce"], y_trains=[noisy] * 2, seeds=[0, 1],
                                    epochs=2, progress=False, device=CPU)
    assert [h.config.get("engine") for h in hists] == ["vmap", "vmap"]
    cnn = torch.nn.Sequential(torch.nn.Unflatten(1, (1, 64)), torch.nn.Conv1d(1, 4, 3), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 62, 10))
    assert not nblib.train.stack_pays(cnn, CPU)
    hists, models = nblib.train.fit_many([cnn], digits, losses=["ce"], y_trains=[noisy], seeds=[0], epochs=1,
                                         progress=False, device=CPU)
    assert "engine" not in hists[0].config and models[0] is cnn
    with pytest.raises(ValueError, match="unknown engine"):
        nblib.train.fit_many(mlps, digits, losses=["ce"] * 2, y_trains=[noisy] * 2, seeds=[0, 1], engine="gpu")


def test_noisy_validation_accuracy_is_recorded(digits, noisy40):
    noisy, _ = noisy40
    x_val, y_val = digits.x_test, noisy[:len(digits.x_test)]
    h = _run(digits, y_train=noisy, val=(x_val, y_val))
    assert len(h.val_acc) == 3 and all(0 <= v <= 1 for v in h.val_acc)
    assert all(math.isnan(v) for v in _run(digits, y_train=noisy).val_acc)
    with pytest.raises(ValueError, match="val must be"):
        _run(digits, y_train=noisy, val=(x_val[:, :10], y_val))


# ---- training that goes bad stops loudly ---------------------------------------------------------

def test_divergence_stops_with_a_message_and_keeps_the_history(digits):
    with pytest.raises(nblib.train.TrainingDiverged, match=r"diverged at epoch 1 .*lower learning rate") as err:
        _run(digits, lr=1e6, optimizer="sgd")
    assert len(err.value.histories[0].loss) == 1
    bad = digits.to(CPU)
    bad = type(bad)(bad.name, bad.x_train.clone(), bad.y_train, bad.x_test, bad.y_test, bad.classes)
    bad.x_train[0, 0] = float("nan")
    with pytest.raises(nblib.train.TrainingDiverged, match="nan"):
        _run(bad)


@pytest.mark.parametrize("weights, match", [
    (lambda n: -torch.ones(n), r"sample_weight must be >= 0"),
    (lambda n: torch.full((n,), float("nan")), r"sample_weight must be finite"),
    (lambda n: torch.zeros(n), r"sample_weight are all 0"),
    (lambda n: torch.ones(n + 1), r"sample_weight must have shape"),
])
def test_bad_sample_weights_are_refused(digits, weights, match):
    with pytest.raises(ValueError, match=match):
        _run(digits, sample_weight=weights(len(digits.y_train)))


def test_label_shape_and_loss_params_are_checked(digits):
    with pytest.raises(ValueError, match=r"y_train must have shape \(\d+,\)"):
        _run(digits, y_train=digits.y_train[:, None])
    with pytest.raises(TypeError, match="loss_params .* only used with a loss name"):
        _run(digits, loss=nblib.losses.make_loss("gce", 10), loss_params={"q": 0.3})
    for bad, error in ((-1, ValueError), (1.5, TypeError), ("0", TypeError)):
        with pytest.raises(error, match="seed"):
            _run(digits, seed=bad)


def test_pruning_nearly_everything_warns(digits):
    with pytest.warns(RuntimeWarning, match=r"truncated Lq pruned \d+% of the training samples at epoch 1"):
        _run(digits, loss="tgce", epochs=2, lr=1e-5)


def test_a_stack_callback_sees_every_member_and_can_stop(digits, noisy40):
    """fit_batched's callback gets the stack after each epoch: its predictions are what its members predict."""
    noisy, flipped = noisy40
    models = [nblib.models.make_model("auto", digits, seed=s) for s in (0, 1)]
    seen = []

    def record(epoch, stack, histories):
        logits = stack.predict(digits.x_test)
        assert logits.shape == (2, len(digits.y_test), digits.num_classes)
        acc = (logits.argmax(2) == digits.y_test).float().mean(1).tolist()
        assert acc == pytest.approx([h.test_acc[-1] for h in histories])
        torch.testing.assert_close(stack.member(1)(digits.x_test), logits[1], rtol=1e-4, atol=1e-4)
        seen.append(epoch)
        return epoch == 2

    hists, _ = nblib.train.fit_batched(models, digits, losses=["ce", "ce"], y_trains=[noisy, noisy],
                                       flippeds=[flipped, flipped], seeds=[0, 1], epochs=4, callback=record, device=CPU)
    assert seen == [1, 2] and all(len(h.epoch) == 2 for h in hists)
