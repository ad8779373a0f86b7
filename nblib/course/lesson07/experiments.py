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
(the same at 200 epochs, 5 seeds), ``"paper"``: CIFAR-10 images with ResNet-34 in the CIFAR-N
benchmark's recipe (``nblib.course.settings.GRIDS["cifar10n-paper"]``) for a GPU and someone with
CIFAR-10 on disk; there part 1 applies the human T to the clean CIFAR-10 labels and part 2 uses the
*real* human labels (``human worse``, instance-dependent by nature) - the paper-scale version of the
same question.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

from ... import human_noise
from ...sweep import NoiseSpec, Setting
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


def paper_setting() -> Setting:
    """The CIFAR-10N benchmark's recipe (ResNet-34, SGD, cosine, 120 epochs), from lesson 6's stored grid."""
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
                      "a GPU and CIFAR-10 on disk (nblib.data.load('cifar10n'); hours)")
    idn = NoiseSpec("instance", matrix=T, name=IDN_NAME, sharpness=SHARPNESS)
    note = "a laptop CPU (about a minute)" if scale == "classroom" else "a GPU or a patient CPU"
    return Config(SETTINGS[scale]["memorise"], tuple(SEEDS[scale]), ccn, idn, note)


SCALES = ("classroom", "large", "paper")
CONFIG = {scale: _config(scale) for scale in SCALES}


def base_scale(scale: str) -> str:
    """The course scale behind a lesson scale (``nblib.course.setup``): "paper" runs on the "large" one."""
    from ..._checks import check_choice

    return "large" if check_choice("scale", scale, SCALES) == "paper" else scale


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


def sharpness_widget(idn, sharpness: float = SHARPNESS):
    """The sharpness slider on the instance-dependent run's data (its scores, labels, T and seeds);
    None with a note where the noise has no difficulty scores (SCALE = "paper": real human labels)."""
    from ...sweep import difficulty_scores, run_labels
    from .widgets import SharpnessExplorer

    runs = _by_seed(idn)
    if runs[0]["config"]["noise"]["kind"] != "instance":
        print("the noise here is real (human labels): no difficulty scores to draw")
        return None
    cfg = runs[0]["config"]
    labels = run_labels(cfg)
    explorer = SharpnessExplorer(difficulty_scores(cfg)[0], labels["clean"], labels["T"],
                                 seeds=[r["config"]["seed"] for r in runs])
    return explorer.widget(sharpness)
