"""nblib: the library behind the course on learning with noisy labels.

Data flows loader -> noise -> model + loss -> train -> results -> plots / widgets:

    import nblib
    data = nblib.data.load("mnist1d")                                    # tensors on nblib.device()
    T = nblib.noise.transition_matrix("symmetric", data.num_classes, 0.4)
    noisy, flipped = nblib.noise.corrupt_labels(data.y_train, T, seed=0)
    model = nblib.models.make_model("auto", data, seed=0)
    hist = nblib.fit(model, data, loss="gce", y_train=noisy, epochs=30)

The core (a researcher can reuse it alone): losses, noise, instance_noise (hard samples flip first), estimate, theory (the papers' bounds as numbers),
data, human_noise, models, train (one epoch loop for one model or a vmap stack), difficulty (a clean
model's cross-fitted uncertainty of each sample), sweep (grids of runs, cached). The course on top of it:
``nblib.course`` (settings, figures, widgets, claims, one package per lesson).
``sweep`` and the course load on first use (they pull pandas, matplotlib, ipywidgets).
"""
import importlib

from ._device import device, torch_threads
from . import losses, noise, instance_noise, estimate, data, human_noise, models, train, difficulty, theory
from .train import fit

__version__ = "0.1.0"
_LAZY = ("sweep", "course")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'nblib' has no attribute {name!r}")
