"""Every experiment setting of the course, in one commented place.

The stored grids of lesson 6 (``GRIDS``) are computed by ``python -m nblib.sweep NAME``.
"""
from __future__ import annotations

from ..sweep import CLASSROOM_NOISE, Grid

MNIST1D_CLASSROOM = {"num_samples": 5000, "n_train": 2000}   # lessons 1 and 3 use the same subset

# The course's stored grids (data/results/<name>/) and the GPU-sized ones of lesson 6.
GRIDS = {
    # Sized for the course's 2-core CPU: 12 losses x 9 noise settings x 3 seeds each. mnist1d uses
    # lesson 1's classroom setting (2000 training signals, a 64-channel 1-D CNN, Adam 3e-3, 30
    # epochs): long enough for CE to memorise flipped labels, as in the papers' 120-epoch runs
    # (324 runs + 27 CE estimators, ~20 min on 2 worker processes). digits' MLP is ~10x cheaper
    # and stacks well with vmap. More seeds or settings: dataclasses.replace(grid, ...).
    "mnist1d-classroom": Grid("mnist1d-classroom", dataset="mnist1d", dataset_kw=MNIST1D_CLASSROOM,
                              model_kw={"channels": 64}, lr=3e-3, epochs=30),
    "digits-classroom": Grid("digits-classroom", dataset="digits", epochs=20),
    # The papers' CIFAR settings, for SCALE = "paper" on a GPU (hours: ~100 runs x 120 epochs).
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

