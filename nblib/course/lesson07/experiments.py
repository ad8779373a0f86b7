"""Lesson 7's experiments: CIFAR-10N's human T on another dataset, class-conditional vs instance-dependent.

One sparse sweep of one setting (``nblib.course.runs.run``: cached per machine, one vmap stack for
the MLP), ``human_t_runs``, with two parts:

1. the human transition matrix (CIFAR-10N ``worse``, 40 % wrong) applied to the
   labels class-conditionally (noise kind ``matrix``), every loss of the lesson. On digits the
   class semantics do not carry over (digit 3 plays "cat", 5 "dog"): the run tests the *structure*
   of human noise (which rows are noisier, how the flips spread), not CIFAR.
2. the same T, the same realised counts, but the samples that flip are the hard
   ones (noise kind ``instance``: a clean model's cross-fitted uncertainty, ``SHARPNESS``), for the
   losses whose assumptions it tests. Paired with part 1 (same seeds, same rate, same realised T):
   the only difference is *which* samples flipped.

Scales: ``"classroom"`` (digits MLP, the course's ``memorise`` setting, 3 seeds, CPU), ``"large"``
(the same at 200 epochs, 5 seeds), ``"paper"``: CIFAR-10 images with ResNet-34 in lesson 6's
``cifar10n-paper`` recipe (``nblib.course.settings.GRIDS``: APL's CIFAR-10 recipe, Ma et al. 2020,
not the CIFAR-N benchmark's own) for a GPU and someone with CIFAR-10 on disk; there part 1 applies
the human T to the clean CIFAR-10 labels and part 2 uses the *real* human labels (``human worse``,
instance-dependent by nature) - the paper-scale version of the same question. The paper scale runs
one seed, so its claims are not checked (:func:`claims`).
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ... import human_noise, noise
from ...sweep import NoiseSpec, Setting
from ..claims import Claims
from ..runs import run
from ..settings import GRIDS, SEEDS, SETTINGS

LABEL_SET = "worse"          # CIFAR-10N's label set whose T the lesson applies (40.2 % wrong)
SHARPNESS = 3.0              # instance-dependent noise: the hardest sample of a class flips 2**3 = 8x as
                             # readily as its class median; with it, the three seeds of digits' noise are
                             # all wrong together ~3x as often as independent draws (CIFAR-10N's
                             # annotators: 3.2x; the lesson measures both)
LOSSES = ("ce", "gce", "sce", "nce+rce", "forward(T)", "forward(T-hat)", "backward(T)")
INSTANCE_LOSSES = ("ce", "gce", "nce+rce", "forward(T)")
CCN_NAME = "human T"                          # the column of class-conditional noise with the human T
IDN_NAME = "human T, hard samples first"      # the same T, instance-dependent
MIN_CLAIM_SEEDS = 3                           # a scale with fewer seeds prints its claims as not checked


def paper_setting() -> Setting:
    """Lesson 6's ``cifar10n-paper`` grid's setting (ResNet-34, SGD, cosine, 120 epochs: APL's CIFAR-10
    recipe, Ma et al. 2020, not the CIFAR-N benchmark's own training recipe)."""
    g = GRIDS["cifar10n-paper"]                   # a Grid is a Setting with losses, noise and seeds
    return Setting(**{f.name: copy.deepcopy(getattr(g, f.name)) for f in dataclasses.fields(Setting)})


@dataclass(frozen=True)
class Config:
    """What one scale of the lesson runs: the setting, the seeds, and the two noise settings."""

    setting: Setting
    seeds: tuple
    ccn: NoiseSpec          # class-conditional noise with the human T
    idn: NoiseSpec          # instance-dependent noise with the same T
    device_note: str


def _config(scale: str) -> Config:
    T = human_noise.transition(LABEL_SET)
    ccn = NoiseSpec("matrix", matrix=T, name=CCN_NAME)
    if scale == "paper":
        return Config(paper_setting(), (0,), ccn, NoiseSpec("human", label_set=LABEL_SET),
                      "a GPU and CIFAR-10 on disk (nblib.data.load('cifar10n'))")
    idn = NoiseSpec("instance", matrix=T, name=IDN_NAME, sharpness=SHARPNESS)
    note = "a laptop CPU" if scale == "classroom" else "a GPU or a patient CPU"
    return Config(SETTINGS[scale]["memorise"], tuple(SEEDS[scale]), ccn, idn, note)


SCALES = ("classroom", "large", "paper")
CONFIG = {scale: _config(scale) for scale in SCALES}


def base_scale(scale: str) -> str:
    """The course scale behind a lesson scale (``nblib.course.setup``): "paper" runs on the "large" one."""
    from ..._checks import check_choice

    return "large" if check_choice("scale", scale, SCALES) == "paper" else scale


def setup(scale: str = "classroom"):
    """``nblib.course.setup`` for a lesson scale: the course scale behind it (:func:`base_scale`), and
    the printed line names this scale and the seeds it runs."""
    from .. import setup as course_setup

    return course_setup(base_scale(scale), seeds=CONFIG[scale].seeds, label=scale)


def describe_scales() -> pd.DataFrame:
    """What each scale of the lesson runs (one column per scale): data, model, training, seeds, losses
    and the two noises."""
    from ...models import AUTO_MODEL

    rows = {}
    for scale, cfg in CONFIG.items():
        s = cfg.setting
        model = AUTO_MODEL.get(s.dataset, s.model) if s.model == "auto" else s.model
        rows[scale] = {"data / model": f"{s.dataset} / {model}", "epochs": s.epochs,
                       "training": ", ".join([f"{s.optimizer} lr {s.lr:g}", f"batch {s.batch_size}"]
                                             + ([f"weight decay {s.weight_decay:g}"] if s.weight_decay else [])
                                             + ([f"{s.schedule} schedule"] if s.schedule != "constant" else [])
                                             + ([f"gradient clipping {s.grad_clip:g}"] if s.grad_clip else [])),
                       "seeds": list(cfg.seeds),
                       "losses (part 3 + part 4)": f"{len(LOSSES)} + {len(INSTANCE_LOSSES)}",
                       "part 3 noise": cfg.ccn.name, "part 4 noise": cfg.idn.name or f"real labels ({cfg.idn.label_set})",
                       "needs": cfg.device_note}
    return pd.DataFrame(rows)


def claims(scale: str = "classroom") -> Claims:
    """The lesson's claims at ``scale``: checked where it runs at least ``MIN_CLAIM_SEEDS`` seeds, else
    (``"paper"``: one seed) skipped with a printed note, since one run cannot show an effect beyond
    the seed spread."""
    seeds = CONFIG[scale].seeds
    if len(seeds) < MIN_CLAIM_SEEDS:
        return Claims(skip=f"SCALE = {scale!r} runs {len(seeds)} seed(s), and a claim needs at least {MIN_CLAIM_SEEDS}")
    return Claims()


def human_t_runs(scale: str = "classroom", device=None, progress: bool = False):
    """Both experiments as one sparse sweep (every loss of ``LOSSES`` under the human T applied
    class-conditionally, ``INSTANCE_LOSSES`` also under instance-dependent noise with the same T),
    trained together in one vmap stack where the model allows it. Returns ``(ccn, idn)``: two
    SweepResults, one per noise."""
    from ...data import num_classes
    from ...sweep import SweepResult, noise_label

    cfg = CONFIG[scale]
    ccn, idn = (noise_label(spec.resolved(cfg.setting.dataset, num_classes(cfg.setting.dataset)))
                for spec in (cfg.ccn, cfg.idn))
    pairs = [(loss, ccn) for loss in LOSSES] + [(loss, idn) for loss in INSTANCE_LOSSES]
    both = run(cfg.setting, f"lesson07-{scale}", losses=LOSSES, noise=(cfg.ccn, cfg.idn), seeds=cfg.seeds,
               pairs=pairs, device=device, progress=progress, stack_size=len(pairs) * len(cfg.seeds))
    return tuple(SweepResult(both.grid, [r for r in both.results if r["label"]["noise"] == name],
                             computed=both.computed, cached=both.cached, wall_time=both.wall_time)
                 for name in (ccn, idn))


def realised_noise(ccn, idn):
    """Per seed: labels flipped by each noise and the largest gap between their realised T.
    Machine-independent for the classroom runs: both flip exactly the class-conditional counts of T;
    instance-dependent noise only picks other samples."""
    import numpy as np
    import pandas as pd

    from ...noise import empirical_transition
    from ...sweep import run_labels

    rows = {}
    for a, b in zip(_by_seed(ccn), _by_seed(idn)):
        la, lb = run_labels(a["config"]), run_labels(b["config"])
        K = len(la["T"])
        Ta, Tb = (empirical_transition(lab["clean"], lab["noisy"], K) for lab in (la, lb))
        gap = np.abs(Ta - Tb)
        rows[a["config"]["seed"]] = {"labels": len(la["clean"]), "flipped, class-conditional": int(la["flipped"].sum()),
                                     "flipped, instance-dependent": int(lb["flipped"].sum()),
                                     "max |difference of realised T|": float(gap.max())}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("seed")


def _by_seed(result) -> list[dict]:
    """One run per seed (the first loss: every loss of a seed sees the same labels)."""
    first = result.results[0]["label"]["loss"]
    return sorted((r for r in result.results if r["label"]["loss"] == first), key=lambda r: r["config"]["seed"])


def _explorer(idn):
    """The sharpness explorer on the instance-dependent run's data (its scores, labels, T and seeds);
    None where the noise has no difficulty scores (SCALE = "paper": real human labels)."""
    from ...sweep import difficulty_scores, run_labels
    from .widgets import SharpnessExplorer

    runs = _by_seed(idn)
    if runs[0]["config"]["noise"]["kind"] != "instance":
        print("the noise here is real (human labels): no difficulty scores to draw")
        return None
    cfg = runs[0]["config"]
    labels = run_labels(cfg)
    return SharpnessExplorer(difficulty_scores(cfg)[0], labels["clean"], labels["T"],
                             seeds=[r["config"]["seed"] for r in runs])


def sharpness_widget(idn, sharpness: float = SHARPNESS):
    """The sharpness slider on the instance-dependent run's data; None with a note at SCALE = "paper"."""
    explorer = _explorer(idn)
    return None if explorer is None else explorer.widget(sharpness)


@dataclass(frozen=True)
class Calibration:
    """The lesson's instance-dependent noise beside CIFAR-10N's annotators (see :func:`calibration`)."""

    joint: pd.DataFrame          # samples with 0..3 draws / annotators wrong: observed, if independent, ratio
    flip_rates: pd.DataFrame     # share of labels flipped per difficulty fifth, at sharpness 0 and the lesson's
    ratio: np.ndarray            # the noise draws' observed / independent, 0..3 wrong (NaN at SCALE = "paper")
    human_ratio: np.ndarray      # CIFAR-10N's annotators' observed / independent


def calibration(idn, sharpness: float = SHARPNESS) -> Calibration:
    """How concentrated the lesson's instance-dependent noise is, against the annotators of part 2:
    the three seeds' draws read as three annotators of the same images (joint errors vs independence)
    and the flip rate per difficulty fifth. At SCALE = "paper" (real labels) only the annotators."""
    from .analysis import joint_errors_table
    from .widgets import FIFTHS

    human = human_noise.joint_errors()
    human_ratio = np.asarray(human["observed"], float) / np.asarray(human["independent"], float)
    rows = [f"sharpness {a:g}" + (" (class-conditional)" if a == 0 else "") for a in (0.0, sharpness)]
    explorer = _explorer(idn)
    if explorer is None:       # real labels: nothing drawn, so NaN where the draws would be
        return Calibration(joint_errors_table(**{"CIFAR-10N annotators": human}),
                           pd.DataFrame(np.nan, index=rows, columns=FIFTHS), np.full(len(human_ratio), np.nan),
                           human_ratio)
    joint = noise.joint_wrong_counts(explorer.masks(sharpness), explorer.labels)
    table = joint_errors_table(**{"CIFAR-10N annotators": human,
                                  f"digits, {len(explorer.seeds)} noise draws, sharpness {sharpness:g}": joint})
    rates = pd.DataFrame([explorer.flip_rates(a) for a in (0.0, sharpness)], index=rows, columns=FIFTHS)
    return Calibration(table, rates, np.asarray(joint["observed"], float) / np.asarray(joint["independent"], float),
                       human_ratio)


def t_hat_when_stopped(result, loss: str = "forward(T-hat)") -> pd.DataFrame:
    """Per seed: the run's T-hat (anchor points of a CE model trained for every epoch on the noisy
    labels) beside T-hat from a CE model trained on the same labels from the same initial weights,
    but only for the epochs that the noisy validation set selects for the run's CE model
    (``val_selected_epoch``): the estimation error sum|T-hat - T| / sum|T| and the mean diagonal of
    each. Trains one CE model per seed (about a second each for the digits MLP)."""
    from ... import estimate
    from ..._device import device as pick_device
    from ...sweep import per_seed, run_labels
    from ...train import fit, predict_proba

    runs = sorted((r for r in result.results if r["label"]["loss"] == loss), key=lambda r: r["config"]["seed"])
    if not runs:
        raise KeyError(f"the result has no {loss!r} runs")
    stop = per_seed(result.results, "val_selected_epoch", loss="ce")
    setting, dev = result.grid, pick_device()
    data = setting.load(device=dev)
    rows = {}
    for r, epochs in zip(runs, stop):
        cfg, seed = r["config"], r["config"]["seed"]
        labels = run_labels(cfg, device=dev)
        model = setting.make_model(data, seed)
        fit(model, data, loss="ce", y_train=labels["noisy"], flipped=labels["flipped"], seed=seed, progress=False,
            device=dev, eval_train=False, **setting.replace(epochs=int(epochs)).train_kw())
        T_stop = estimate.estimate_transition(predict_proba(model, data.x_train).cpu(), **cfg["estimator"])
        T_end = np.asarray(r["transition_estimated"], dtype=float)
        rows[seed] = {"CE epochs": int(epochs), "error (stopped)": estimate.estimation_error(T_stop, labels["T"]),
                      "error (run, all epochs)": estimate.estimation_error(T_end, labels["T"]),
                      "mean diag (stopped)": float(np.diag(T_stop).mean()),
                      "mean diag (run)": float(np.diag(T_end).mean()),
                      "mean diag (true T)": float(np.diag(labels["T"]).mean())}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("seed")
