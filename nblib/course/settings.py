"""Every experiment setting of the course, in one commented place.

A :class:`nblib.sweep.Setting` fixes the data, the model and the training; a lesson adds the losses,
the noise and the seeds (see :func:`nblib.course.runs.run`). The same question gets the same setting in every
lesson, so their numbers agree. Two scales: ``"classroom"`` (what the notebooks run on a laptop CPU,
each lesson under a minute with its seeds) and ``"large"`` (more data, epochs and seeds, for a GPU).
Lessons 1-5 check their claims on the classroom settings, so at their ``SCALE = "large"`` they run
those settings with ``SEEDS["large"]`` (their ``experiments.CONFIG``); lesson 7 runs the "large"
settings below (its text says what changes at 200 epochs).

The stored grids of lesson 6 (``GRIDS``) are computed by ``python -m nblib.sweep NAME``.
"""
from __future__ import annotations

from .._checks import check_choice
from ..sweep import CLASSROOM_LOSSES, CLASSROOM_NOISE, Grid, Setting

SCALES = ("classroom", "large")


# ------------------------------------------------------------------------------------------------
# The settings. Measured on the course's 2-core CPU (seeds 0-4, also with ATEN_CPU_CAPABILITY=default):
#
# "memorise": the course's main experiment, lessons 1-5 and lesson 6's digits grid. An MLP on
#   digits trained long enough (80 epochs) for cross entropy to fit nearly every flipped label: at
#   symmetric noise 0.4 it fits >= 93 % of them on every seed while its test accuracy falls >= 20
#   points below its peak. 300 of digits' 1437 training images are held out as a validation set
#   (its labels get the same noise): model selection without clean labels. ~1-2 s per model in a
#   vmap stack, so 3 seeds of a dozen runs fit in a lesson.
# "hard": MNIST-1D with a 1-D CNN (lesson 6's main grid): harder data, on which MAE underfits and
#   GCE's q shows its trade-off; ~10 s per run on a CPU, so its results are stored (data/results).
MNIST1D_CLASSROOM = {"num_samples": 5000, "n_train": 2000}

SETTINGS = {
    "classroom": {
        "memorise": Setting(dataset="digits", dataset_kw={"n_val": 300}, epochs=80, batch_size=64, lr=3e-3),
        "hard": Setting(dataset="mnist1d", dataset_kw=MNIST1D_CLASSROOM, model_kw={"channels": 64}, epochs=30, lr=3e-3),
    },
    "large": {   # for a GPU: more epochs and data (MNIST-1D's full 4000 training signals)
        "memorise": Setting(dataset="digits", dataset_kw={"n_val": 300}, epochs=200, batch_size=64, lr=3e-3),
        "hard": Setting(dataset="mnist1d", model_kw={"channels": 128}, epochs=100, lr=3e-3),
    },
}
SEEDS = {"classroom": (0, 1, 2), "large": (0, 1, 2, 3, 4)}

# Lesson 3's sweep of generalized cross entropy's q, from near CE (q -> 0) to near MAE (q = 1).
GCE_QS = (0.1, 0.3, 0.5, 0.7, 0.9)


def q_sweep_losses(qs=GCE_QS) -> tuple:
    """CE, Lq for each q in ``qs`` (labelled "gce q=0.3", ...) and MAE: the losses of a q sweep."""
    return ("ce", *({"name": "gce", "params": {"q": float(q)}, "label": f"gce q={q:g}"} for q in qs), "mae")


def setting(name: str, scale: str = "classroom") -> Setting:
    """The named setting at ``scale``."""
    check_choice("scale", scale, SCALES)
    return SETTINGS[scale][check_choice("setting", name, SETTINGS[scale])]


# ------------------------------------------------------------------------------------------------
# The course's stored grids (data/results/<name>/) and the GPU-sized ones of lesson 6.
CLASSROOM = SETTINGS["classroom"]
GRIDS = {
    # Sized for the course's 2-core CPU: 12 losses x 9 noise settings x 3 seeds each, in the
    # classroom settings above. More seeds or settings: dataclasses.replace(grid, ...).
    # MNIST-1D ("hard") is lesson 6's headline grid: CE memorises there as on the papers' CIFAR runs.
    "mnist1d-classroom": CLASSROOM["hard"].grid("mnist1d-classroom", losses=CLASSROOM_LOSSES, noise=CLASSROOM_NOISE,
                                                seeds=SEEDS["classroom"]),
    # digits in the memorise setting of lessons 1-5: the same run configurations as theirs, trained in
    # other vmap stacks (one per cell, its 3 seeds), and a stacked model's last bits depend on its
    # stack mates: per seed they differ by up to ~2 points after 80 epochs, in distribution they agree.
    "digits-classroom": CLASSROOM["memorise"].grid("digits-classroom", losses=CLASSROOM_LOSSES, noise=CLASSROOM_NOISE,
                                                   seeds=SEEDS["classroom"]),
    # Lesson 3's q sweep on the harder data (CE, Lq for each q of GCE_QS, MAE at symmetric 0.4, 3 seeds):
    # where MAE underfits, accuracy vs q has a hump (on digits it has none). ~10 s per run.
    "mnist1d-gce-q": CLASSROOM["hard"].grid("mnist1d-gce-q", losses=q_sweep_losses(), noise=("sym 0.4",),
                                           seeds=SEEDS["classroom"]),
    # The papers' CIFAR settings, for a GPU (hours: ~100 runs x 120 epochs). No lesson reads them yet (one
    # seed; lesson 6 needs >= 3 and its own table): see data/results/README.md.
    # CIFAR-10: the APL code's setting: its 8-layer CNN, SGD (momentum 0.9), lr 0.01, weight decay
    # 1e-4, cosine schedule, gradient clipping 5.0, 120 epochs, batch 128. CIFAR-10N: the same
    # recipe on ResNet-34 (the CIFAR-N benchmark's model) with the real human labels. nblib.fit
    # has no data augmentation, so expect a few points below the published numbers.
    "cifar10-paper": Grid("cifar10-paper", dataset="cifar10", model="cnn8", epochs=120, lr=0.01,
                          optimizer="sgd", weight_decay=1e-4, schedule="cosine", grad_clip=5.0,
                          noise=CLASSROOM_NOISE[1:], seeds=(0,)),
    "cifar10n-paper": Grid("cifar10n-paper", dataset="cifar10n", model="resnet34", epochs=120, lr=0.01,
                           optimizer="sgd", weight_decay=1e-4, schedule="cosine", grad_clip=5.0,
                           losses=("ce", "gce", "sce", "nce+rce", "forward(T)", "backward(T)", "forward(T-hat)"),
                           noise=tuple(f"human {s}" for s in ("aggre", "random1", "worse")), seeds=(0,)),
}
