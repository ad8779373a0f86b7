"""Lesson 5's experiments: cross entropy, forward and backward correction under the digit map, and
forward correction with an estimated or a wrong T. Every run has several seeds.

The setting is the course's ``memorise`` (digits MLP, 80 epochs; lesson 6's digits grid uses the
same, so its ``asym 0.4`` column holds these losses too), with class-dependent noise: Patrini et
al.'s digit map (7->1, 2->7, 5<->6, 3->8) at ``rate``. For seed s the training labels and the
labels of the held-out validation set are corrupted with T and seed s, as ``nblib.sweep`` does.

Two stacks of models (``nblib.train.fit_batched``: every member trained as ``fit`` would):

1. :func:`train_known`: CE, forward(T) and backward(T) for every seed. The CE members' predicted
   noisy-label probabilities on the training set are recorded after every epoch: the anchor-point
   estimator can then read T from the CE model of any epoch (section 3 of the lesson).
2. :func:`train_forward`: forward correction with one T per seed, for any number of labelled T's:
   the estimate T-hat, or T blended towards a wrong matrix.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from ... import estimate, losses, noise
from ..._checks import check_choice
from ...train import fit_batched, predict_proba
from ..settings import SCALES, SEEDS, SETTINGS, Setting

__all__ = ["CONFIG", "KNOWN", "Experiment", "prepare", "column_failure_matrix", "train_known", "train_forward",
           "wrong_matrices", "train_wrong", "val_selected_epochs", "estimate_at", "estimation_errors", "METRICS", "per_seed",
           "seed_line", "results_table", "curves_frame", "wrong_frame", "per_sample_losses"]

# Per scale: the setting, the digit map's rate, and the wrong T's of section 4 (name, weight w of
# the wrong matrix in (1 - w) T + w T_wrong; w = 0 is forward(T) and the identity at w = 1 is plain
# CE, both trained already). "large" is the classroom setting (80 epochs: the lesson's claims are
# about that length of training) with SEEDS["large"] and more wrong-T weights, not the 200-epoch
# large memorise setting, under which forward(T) memorises too.
CLASSROOM_SETTING = SETTINGS["classroom"]["memorise"]
CONFIG = {
    "classroom": dict(setting=CLASSROOM_SETTING, rate=0.4, mapping="digits",
                      wrong=(("pair i->i+1", 1.0), ("identity", 0.5))),
    "large": dict(setting=CLASSROOM_SETTING, rate=0.4, mapping="digits",
                  wrong=(("pair i->i+1", 0.25), ("pair i->i+1", 0.5), ("pair i->i+1", 0.75), ("pair i->i+1", 1.0),
                         ("identity", 0.25), ("identity", 0.5), ("identity", 0.75))),
}
KNOWN = ("ce", "forward(T)", "backward(T)")
LAST_EPOCHS = 5   # "final" test accuracy: the mean over the last LAST_EPOCHS epochs (one epoch swings 3-4 points)


@dataclass
class Experiment:
    """Everything the lesson trains and reads: the data, the noise, and per run label the seeds' results.

    ``histories[label]``: one :class:`nblib.train.History` per seed (in ``seeds`` order);
    ``models[label]``: the trained models; ``ce_probs[seed]``: (epochs, N, K) float32 array, the
    CE model's predicted probabilities on the training set after each epoch.
    """

    setting: Setting
    data: object
    T: np.ndarray
    seeds: tuple
    device: torch.device
    labels: dict = field(default_factory=dict)     # seed -> (noisy train labels, flipped mask, noisy val labels)
    histories: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    ce_probs: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return self.data.num_classes


def prepare(scale: str = "classroom", seeds=None, device=None) -> Experiment:
    """Load the data of ``scale``'s setting and corrupt its labels with the digit map for every seed."""
    check_choice("scale", scale, SCALES)
    cfg = CONFIG[scale]
    setting = cfg["setting"]
    seeds = tuple(SEEDS[scale] if seeds is None else seeds)
    data = setting.load(device=device)
    T = noise.transition_matrix("asymmetric", data.num_classes, cfg["rate"], mapping=cfg["mapping"])
    exp = Experiment(setting, data, T, seeds, data.x_train.device)
    for s in seeds:
        noisy, flipped = noise.corrupt_labels(data.y_train, T, seed=s, exact=True)
        noisy_val, _ = noise.corrupt_labels(data.y_val, T, seed=s, exact=True)
        exp.labels[s] = (noisy, flipped, noisy_val)
    return exp


def column_failure_matrix(num_classes: int = 10) -> np.ndarray:
    """A T for which the anchor estimator's condition 2 fails alone: every row keeps its true class the
    most likely label, but column 7 does not peak at its diagonal. 7->1 and 7->4 at 0.3 each
    (T_77 = 0.4) and 2->7 at 0.45 (T_22 = 0.55 > T_27 = 0.45 > T_77), so the highest score of column 7
    belongs to a 2."""
    T = np.eye(num_classes)
    T[7, [7, 1, 4]] = 0.4, 0.3, 0.3
    T[2, [2, 7]] = 0.55, 0.45
    return T


def _fit(exp: Experiment, runs: list[tuple[str, int, object]], callback=None, progress: bool = True,
         eval_train: bool = True):
    """Train ``runs`` = [(label, seed, Loss)] as one vmap stack; store histories and models by label.
    ``eval_train=False``: no training-set accuracies per epoch (a third of an MLP stack's time), for
    runs whose test accuracy is all the lesson reads."""
    data, K = exp.data, exp.num_classes
    models = [exp.setting.make_model(data, seed) for _, seed, _ in runs]
    hists, trained = fit_batched(
        models, data, losses=[loss for *_, loss in runs], y_trains=[exp.labels[s][0] for _, s, _ in runs],
        flippeds=[exp.labels[s][1] for _, s, _ in runs], seeds=[s for _, s, _ in runs],
        val=(data.x_val, torch.stack([exp.labels[s][2] for _, s, _ in runs])), callback=callback,
        progress=progress, eval_train=eval_train, device=exp.device, **exp.setting.train_kw())
    for (label, seed, _), h, model in zip(runs, hists, trained):
        exp.histories.setdefault(label, []).append(h)
        exp.models.setdefault(label, []).append(model)
    assert all(len(v) <= len(exp.seeds) for v in exp.histories.values()), "a label was trained twice"


def train_known(exp: Experiment, progress: bool = True) -> Experiment:
    """CE, forward(T) and backward(T) for every seed, one stack; records the CE models' predictions."""
    K = exp.num_classes
    made = {"ce": losses.make_loss("ce", K), "forward(T)": losses.make_loss("forward", K, T=exp.T),
            "backward(T)": losses.make_loss("backward", K, T=exp.T)}
    runs = [(label, s, made[label]) for label in KNOWN for s in exp.seeds]
    ce_members = [i for i, (label, *_) in enumerate(runs) if label == "ce"]
    snapshots = {s: [] for s in exp.seeds}
    x = exp.data.x_train

    def record(epoch, stack, histories):     # the CE members only (a third of the stack's predictions)
        for s, m in zip(exp.seeds, ce_members):
            snapshots[s].append(predict_proba(stack.member(m), x).float().cpu().numpy())

    _fit(exp, runs, callback=record, progress=progress)
    exp.ce_probs = {s: np.stack(v) for s, v in snapshots.items()}
    return exp


def wrong_matrices(exp: Experiment, scale: str = "classroom") -> dict:
    """{label: {seed: T_w}} for the wrong T's of ``CONFIG[scale]["wrong"]``: T blended towards the
    pair map at the same rate (noise in the wrong directions) or towards the identity (noise ignored)."""
    K, rate = exp.num_classes, CONFIG[scale]["rate"]
    targets = {"pair i->i+1": noise.transition_matrix("pair", K, rate), "identity": np.eye(K)}
    return {f"forward(T -> {name}, w={w:g})": {s: noise.blend_transitions(exp.T, targets[name], w) for s in exp.seeds}
            for name, w in CONFIG[scale]["wrong"]}


def train_forward(exp: Experiment, matrices: dict, progress: bool = True, eval_train: bool = True) -> Experiment:
    """Forward correction for every ``label -> {seed: T}`` of ``matrices``, all in one stack
    (``eval_train=False``: test and validation accuracies only, see :func:`_fit`)."""
    K = exp.num_classes
    runs = [(label, s, losses.make_loss("forward", K, T=Ts[s])) for label, Ts in matrices.items() for s in exp.seeds]
    _fit(exp, runs, progress=progress, eval_train=eval_train)
    return exp


def train_wrong(exp: Experiment, wrong: dict, progress: bool = True) -> Experiment:
    """Section 4's runs: forward correction with each wrong T of :func:`wrong_matrices`, one stack.
    Only their test accuracy is read, so no training-set accuracies are recorded (faster)."""
    return train_forward(exp, wrong, progress=progress, eval_train=False)


def val_selected_epochs(exp: Experiment, label: str = "ce") -> dict:
    """{seed: the epoch (1-based) of the highest accuracy on the *noisy* validation set} of run ``label``:
    model selection without clean labels (the first epoch of a tie)."""
    return {s: h.epoch[int(np.argmax(h.val_acc))] for s, h in zip(exp.seeds, exp.histories[label])}


def _final(h, metric: str = "test_acc") -> float:
    """The mean of ``metric`` over the last LAST_EPOCHS epochs of History ``h``."""
    return float(np.mean(getattr(h, metric)[-LAST_EPOCHS:]))


def _selected(h) -> float:
    """Test accuracy at the epoch of the highest noisy validation accuracy (the first of a tie)."""
    return h.test_acc[int(np.argmax(h.val_acc))]


# per_seed's metrics: name -> value of one History
METRICS = {
    "final": _final,                                         # test acc, mean of the last LAST_EPOCHS epochs
    "selected": _selected,                                   # test acc at the noisy-validation-chosen epoch
    "drop": lambda h: _selected(h) - _final(h),              # how far it falls from the chosen epoch
    "oracle": lambda h: h.best_test_acc,                     # best test acc: picked on the test set
    "final_loss": lambda h: h.loss[-1],                      # the last epoch's mean training loss
    "flipped_fit": lambda h: _final(h, "flipped_acc_noisy"),  # share of flipped labels predicted as labelled
}


def per_seed(exp: Experiment, label: str, metric: str = "final") -> np.ndarray:
    """One value per seed of run ``label``, for a metric of :data:`METRICS` (default ``final``, the mean
    test accuracy of the last LAST_EPOCHS epochs)."""
    check_choice("metric", metric, tuple(METRICS))
    return np.array([METRICS[metric](h) for h in exp.histories[label]])


def seed_line(values, digits: int = 1, scale: float = 100.0) -> str:
    """``values`` (one per seed) as a short line: "+4.4, +6.7, ... (mean +5.8)", in points by default."""
    v = scale * np.asarray(values, dtype=float)
    return ", ".join(f"{x:+.{digits}f}" for x in v) + f" (mean {v.mean():+.{digits}f})"


def curves_frame(exp: Experiment, labels=None, metrics=("test_acc", "loss")):
    """Long DataFrame (run, seed, epoch, metrics...) of the runs ``labels`` (default all), for seaborn."""
    import pandas as pd

    rows = []
    for label in labels or exp.histories:
        for s, h in zip(exp.seeds, exp.histories[label]):
            for i, e in enumerate(h.epoch):
                rows.append({"run": label, "seed": s, "epoch": e, **{m: getattr(h, m)[i] for m in metrics}})
    return pd.DataFrame(rows)


def estimate_at(exp: Experiment, seed: int, epoch: int, **estimator) -> np.ndarray:
    """The anchor-point estimate of T from seed ``seed``'s CE model after ``epoch`` (1-based);
    ``estimator``: keywords of ``nblib.estimate.estimate_transition``. Its warning about degenerate
    anchors is silenced here (``nblib.estimate.degenerate_anchors`` gives the reasons)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return estimate.estimate_transition(exp.ce_probs[seed][int(epoch) - 1].astype(np.float64), **estimator)


def estimation_errors(exp: Experiment, **estimator):
    """Long DataFrame (seed, epoch, error): the relative L1 error of the estimate from every epoch's CE model."""
    import pandas as pd

    return pd.DataFrame([{"seed": s, "epoch": e, "error": estimate.estimation_error(estimate_at(exp, s, e, **estimator), exp.T)}
                         for s in exp.seeds for e in range(1, len(exp.ce_probs[s]) + 1)])


def results_table(exp: Experiment, labels, digits: int = 3):
    """DataFrame, one row per run label: "mean ± sd" over seeds of the oracle best test accuracy (picked
    on the test set: selection bias, shown for reference only), the test accuracy at the epoch the
    noisy validation set chooses, the final one (mean of the last LAST_EPOCHS epochs), their gap and
    the final mean training loss."""
    import pandas as pd

    rows = {}
    for label in labels:
        row = {}
        for metric, name in (("oracle", "best test acc (oracle: picked on test)"),
                             ("selected", "at val-chosen epoch"), ("final", f"final (last {LAST_EPOCHS} epochs)"),
                             ("drop", "val-chosen - final"), ("final_loss", "final training loss")):
            v = per_seed(exp, label, metric)
            row[name] = f"{v.mean():.{digits}f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.{digits}f}"
        rows[label] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = f"{len(exp.seeds)} seeds"
    return table


_WRONG = re.compile(r"forward\(T -> (?P<name>.+), w=(?P<w>[0-9.]+)\)")


def wrong_frame(exp: Experiment, wrong: dict):
    """Long DataFrame (wrong, w, seed, final_test_acc: mean of the last LAST_EPOCHS epochs) of the runs ``wrong`` (from
    :func:`wrong_matrices`), with w = 0 (forward(T)) for every wrong matrix and w = 1 of the
    identity (plain CE) added from the runs of :func:`train_known`."""
    import pandas as pd

    rows = []
    names = {_WRONG.fullmatch(label)["name"] for label in wrong}
    for name in sorted(names):
        points = [(0.0, "forward(T)")] + [(float(_WRONG.fullmatch(lab)["w"]), lab) for lab in wrong
                                            if _WRONG.fullmatch(lab)["name"] == name]
        if name == "identity" and all(w != 1.0 for w, _ in points):
            points.append((1.0, "ce"))
        for w, label in sorted(points):
            rows += [{"wrong": name, "w": w, "seed": s, "final_test_acc": a}
                     for s, a in zip(exp.seeds, per_seed(exp, label))]
    return pd.DataFrame(rows)


def per_sample_losses(exp: Experiment, labels, seed_index: int = 0) -> dict:
    """label -> (N,) NumPy array: each trained model's own per-sample loss on its noisy training labels."""
    from ...train import predict_logits

    s = exp.seeds[seed_index]
    noisy = exp.labels[s][0]
    made = {"ce": losses.make_loss("ce", exp.num_classes), "forward(T)": losses.make_loss("forward", exp.num_classes, T=exp.T),
            "backward(T)": losses.make_loss("backward", exp.num_classes, T=exp.T)}
    return {label: made[label](predict_logits(exp.models[label][seed_index], exp.data.x_train), noisy,
                               reduction="none").double().cpu().numpy() for label in labels}
