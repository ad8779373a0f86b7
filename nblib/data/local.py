"""The offline datasets: scikit-learn's digits, MNIST-1D (generated, never downloaded), 2-D toys."""
from __future__ import annotations

import importlib.metadata
import random

import numpy as np

from .._checks import check_choice, check_in_range, check_int, check_seed
from .files import cached, digest


DIGITS_TEST_FRACTION = 0.2
DIGITS_MAX_PIXEL = 16.0          # load_digits pixels are counts 0..16
MNIST1D_NUM_SAMPLES = 5000       # -> 4000 train / 1000 test with the generator's train_split 0.8
MNIST1D_SEED = 42                # the generator's default seed (mnist1d.data.get_dataset_args)
MNIST1D_NUM_CLASSES = 10
TOY2D_VARIANTS = ("moons", "blobs")
TOY2D_SIZE = 400                 # default n_train and n_test
TOY2D_NOISE = {"moons": 0.2, "blobs": 0.6}  # std of the Gaussian noise added to each point
TOY2D_BLOBS = 3                  # default number of blobs
TOY2D_BLOB_RADIUS = 2.0          # blob centres sit evenly on a circle of this radius


def digits(*, root, download, seed):
    """scikit-learn's 8x8 digits (1797 images), pixels / 16, stratified 80/20 split by ``seed``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.data / DIGITS_MAX_PIXEL).astype(np.float32)
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=DIGITS_TEST_FRACTION, stratify=y,
                                          random_state=seed)
    return dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte), [str(i) for i in range(10)]


def mnist1d(*, root, download, seed, num_samples=MNIST1D_NUM_SAMPLES, data_seed=MNIST1D_SEED):
    """MNIST-1D (Greydanus 2020) generated locally, never downloaded; cached as .npz.

    The generator seeds Python's ``random`` and NumPy's global RNG; both states are saved and
    restored around it, so loading leaves the caller's random streams untouched.
    """
    num_samples = check_int("num_samples", num_samples, MNIST1D_NUM_CLASSES * 2)
    if num_samples % MNIST1D_NUM_CLASSES:
        raise ValueError(f"num_samples must be a multiple of {MNIST1D_NUM_CLASSES}, got {num_samples}")
    data_seed = check_seed(data_seed, "data_seed")
    spec = {"num_samples": num_samples, "seed": data_seed,
            "mnist1d": importlib.metadata.version("mnist1d")}

    def generate():
        from mnist1d.data import get_dataset_args, make_dataset
        args = get_dataset_args(as_dict=False)
        args.num_samples, args.seed = num_samples, data_seed
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            d = make_dataset(args)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
        return dict(x_train=d["x"].astype(np.float32), y_train=d["y"].astype(np.int64),
                    x_test=d["x_test"].astype(np.float32), y_test=d["y_test"].astype(np.int64))

    arrays = cached(root / "mnist1d" / f"mnist1d-{digest(spec)}.npz", generate, MNIST1D_NUM_CLASSES)
    return arrays, [str(i) for i in range(MNIST1D_NUM_CLASSES)]


def toy2d(seed, *, n_train=None, n_test=None, variant="moons", num_classes=None, noise=None):
    """2-D points for live demos: two interleaving half circles ("moons") or K Gaussian blobs.

    Classes are balanced in each split (labels i % K, shuffled); features are standardised with the
    training mean and std. Everything is drawn from ``numpy.random.default_rng(seed)``.
    """
    check_choice("variant", variant, TOY2D_VARIANTS)
    n_train = check_int("n_train", TOY2D_SIZE if n_train is None else n_train, 2)
    n_test = check_int("n_test", TOY2D_SIZE if n_test is None else n_test, 2)
    noise = check_in_range("noise", TOY2D_NOISE[variant] if noise is None else noise, 0)
    if variant == "moons":
        if num_classes not in (None, 2):
            raise ValueError(f"num_classes must be 2 for variant='moons', got {num_classes!r}")
        k = 2
    else:
        k = check_int("num_classes", TOY2D_BLOBS if num_classes is None else num_classes, 2)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    y = np.concatenate([rng.permutation(np.arange(m) % k) for m in (n_train, n_test)])
    if variant == "moons":  # class 0: upper arc; class 1: lower arc shifted right and down
        t = rng.uniform(0, np.pi, n)
        x = np.where(y[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    else:
        angle = 2 * np.pi * np.arange(k) / k
        x = TOY2D_BLOB_RADIUS * np.c_[np.cos(angle), np.sin(angle)][y]
    x = x + noise * rng.standard_normal((n, 2))
    mean, std = x[:n_train].mean(0), x[:n_train].std(0)
    x = ((x - mean) / std).astype(np.float32)
    arrays = dict(x_train=x[:n_train], y_train=y[:n_train].astype(np.int64),
                  x_test=x[n_train:], y_test=y[n_train:].astype(np.int64))
    return arrays, [str(i) for i in range(k)]
