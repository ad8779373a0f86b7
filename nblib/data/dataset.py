"""``load(name)``: a :class:`Dataset` of tensors on the compute device, with stratified subsets
and a validation split held out of the training set."""
from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import numpy as np
import torch

from .._checks import check_bool, check_choice, check_int, check_seed
from .._device import device as default_device
from .._paths import data_dir
from .benchmarks import CIFAR_LAYOUTS, CIFAR_N_IMAGES, cifar, cifar_n, fashion_mnist
from .local import MNIST1D_NUM_CLASSES, TOY2D_BLOBS, digits, mnist1d, toy2d


DATASETS = ("digits", "mnist1d", "toy2d", "fashion_mnist", "cifar10", "cifar10n", "cifar100", "cifar100n")
DATA_ENV_VAR = "NBLIB_DATA"
DEFAULT_ROOT = data_dir() / "cache"    # downloads and parsed arrays (the checkout's data/cache when editable)


@dataclasses.dataclass(eq=False, repr=False)
class Dataset:
    """A train/test split as tensors on one device, plus class names.

    ``noisy_labels`` holds real human noisy labels aligned with ``y_train`` (cifar10n: keys
    ``aggre, worse, random1, random2, random3``; cifar100n: ``noisy``, the fine labels); it is
    ``{}`` for the other sets.
    """
    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: list[str]
    noisy_labels: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    x_val: torch.Tensor | None = None     # a validation split, when loaded with n_val (clean labels)
    y_val: torch.Tensor | None = None

    @property
    def num_classes(self) -> int:
        """K, the number of classes."""
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, e.g. ``(64,)`` or ``(3, 32, 32)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def device(self) -> torch.device:
        """The device the tensors live on."""
        return self.x_train.device

    def to(self, device) -> "Dataset":
        """Return a copy with every tensor on ``device``."""
        dev = torch.device(device)
        return dataclasses.replace(
            self, x_train=self.x_train.to(dev), y_train=self.y_train.to(dev),
            x_test=self.x_test.to(dev), y_test=self.y_test.to(dev),
            noisy_labels={k: v.to(dev) for k, v in self.noisy_labels.items()},
            x_val=None if self.x_val is None else self.x_val.to(dev),
            y_val=None if self.y_val is None else self.y_val.to(dev))

    def __repr__(self) -> str:
        noisy = f", noisy_labels={list(self.noisy_labels)}" if self.noisy_labels else ""
        val = f", val={len(self.y_val)}" if self.y_val is not None else ""
        return (f"Dataset({self.name!r}, train={len(self.y_train)}{val}, test={len(self.y_test)}, "
                f"input_shape={self.input_shape}, classes={self.num_classes}, "
                f"device={self.device}{noisy})")


_COMMON_KW = ("n_train", "n_test", "n_val")
_EXTRA_KW = {"digits": (), "mnist1d": ("num_samples", "data_seed"),
             "toy2d": ("variant", "num_classes", "noise"), "fashion_mnist": (), "cifar10": (),
             "cifar10n": (), "cifar100": (), "cifar100n": ()}
_FIXED_CLASSES = {"digits": 10, "mnist1d": MNIST1D_NUM_CLASSES, "fashion_mnist": 10, "cifar10": 10, "cifar10n": 10,
                  "cifar100": 100, "cifar100n": 100}


def _check_keywords(name: str, kw: dict) -> None:
    """Raise naming any keyword that dataset ``name`` does not take."""
    allowed = _COMMON_KW + _EXTRA_KW[name]
    unknown = sorted(set(kw) - set(allowed))
    if unknown:
        raise ValueError(f"unknown keyword(s) for dataset {name!r}: {', '.join(unknown)}; "
                         f"allowed: {', '.join(allowed)}")


def num_classes(name: str, **kw) -> int:
    """K of dataset ``name`` loaded with keywords ``kw``, without loading it (toy2d: from its keywords)."""
    check_choice("dataset", name, DATASETS)
    _check_keywords(name, kw)
    if name in _FIXED_CLASSES:
        return _FIXED_CLASSES[name]
    if kw.get("variant", "moons") == "moons":
        return 2
    return check_int("num_classes", kw.get("num_classes") or TOY2D_BLOBS, 2)


def load(name: str, *, device=None, seed: int = 0, root=None, download: bool = True, **kw) -> Dataset:
    """Load dataset ``name`` (one of ``DATASETS``) as tensors on ``device``.

    device: where the tensors go; None -> ``nblib._device.device()`` (cuda > mps > cpu).
    seed: an integer in [0, 2**32 - 1] (``nblib._checks.MAX_SEED``): the digits train/test split, the
        toy2d sample, and which samples ``n_train``/``n_test`` keep. It does not change mnist1d's
        signals (see ``data_seed``) or the official splits.
    root: data folder (default ``$NBLIB_DATA`` or ``<repo>/data/cache``).
    download: fetch missing files of fashion_mnist / cifar10(n) / cifar100(n); False -> error instead.

    Keywords: ``n_train``, ``n_test`` (all sets): keep a class-stratified random subset of this
    size (for toy2d: how many points to generate). ``n_val`` (not toy2d): first move a
    class-stratified random set of this many training samples into a validation split
    (``x_val``, ``y_val``, clean labels), disjoint from the training set that is kept. mnist1d: ``num_samples`` (5000, a multiple of
    10; the first 80% train) and ``data_seed`` (42, the generator's own default, kept separate
    from ``seed`` so every lesson sees the same signals). toy2d: ``variant`` ("moons" | "blobs"), ``num_classes`` (blobs only,
    default 3), ``noise`` (std of the Gaussian noise; 0.2 moons, 0.6 blobs).

    >>> load("digits", device="cpu")
    Dataset('digits', train=1437, test=360, input_shape=(64,), classes=10, device=cpu)
    """
    check_choice("dataset", name, DATASETS)
    _check_keywords(name, kw)
    seed = check_seed(seed)
    download = check_bool("download", download)
    dev = default_device(device)
    root = Path(root if root is not None else os.environ.get(DATA_ENV_VAR, DEFAULT_ROOT))
    n_train, n_test, n_val = kw.pop("n_train", None), kw.pop("n_test", None), kw.pop("n_val", None)
    if name == "toy2d":
        if n_val is not None:
            raise ValueError("n_val is not available for toy2d: generate a second sample with another seed instead")
        arrays, classes = toy2d(seed, n_train=n_train, n_test=n_test, **kw)
    else:
        arrays, classes = _LOADERS[name](root=root, download=download, seed=seed, **kw)
        _split_validation(arrays, n_val, seed)
        _subsample(arrays, "train", n_train, seed)
        _subsample(arrays, "test", n_test, seed)
    t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
    noisy = {k[len("noisy_"):]: v.long() for k, v in t.items() if k.startswith("noisy_")}
    val = {"x_val": t["x_val"], "y_val": t["y_val"].long()} if "x_val" in t else {}
    return Dataset(name, t["x_train"], t["y_train"].long(), t["x_test"], t["y_test"].long(),
                   list(classes), noisy, **val).to(dev)


def _stratified_order(y: np.ndarray, seed: int) -> np.ndarray:
    """All indices of ``y`` in an order whose every prefix holds each class in proportion (+-1).

    Samples are shuffled with ``default_rng(seed)``, then ordered by their rank inside their own
    class divided by the class size.
    """
    perm = np.random.default_rng(seed).permutation(len(y))
    frac = np.empty(len(y))
    for c in np.unique(y):
        members = perm[y[perm] == c]
        frac[members] = (np.arange(len(members)) + 0.5) / len(members)
    return perm[np.argsort(frac[perm], kind="stable")]


def _take(arrays: dict, split: str, keep: np.ndarray) -> None:
    for k in list(arrays):
        if k.endswith(f"_{split}") or (split == "train" and k.startswith("noisy_")):
            arrays[k] = arrays[k][keep]


def _subsample(arrays: dict, split: str, size, seed: int) -> None:
    """Keep a class-stratified random subset of ``size`` samples of ``split`` (in place)."""
    y = arrays[f"y_{split}"]
    if size is None:
        return
    size = check_int(f"n_{split}", size, 1, len(y))
    _take(arrays, split, np.sort(_stratified_order(y, seed)[:size]))


VAL_SEED_OFFSET = 1_000_003   # the validation split's shuffle differs from the n_train/n_test subsets'


def _split_validation(arrays: dict, size, seed: int) -> None:
    """Move a class-stratified random set of ``size`` training samples to x_val / y_val (in place),
    so that the validation set is disjoint from whatever training subset is kept afterwards."""
    if size is None:
        return
    y = arrays["y_train"]
    size = check_int("n_val", size, 1, len(y) - 1)
    order = _stratified_order(y, seed + VAL_SEED_OFFSET)
    val, rest = np.sort(order[:size]), np.sort(order[size:])
    arrays["x_val"], arrays["y_val"] = arrays["x_train"][val], y[val]
    _take(arrays, "train", rest)


_LOADERS = {"digits": digits, "mnist1d": mnist1d, "fashion_mnist": fashion_mnist,
            **{name: functools.partial(cifar, name=name) for name in CIFAR_LAYOUTS},
            **{name: functools.partial(cifar_n, name=name) for name in CIFAR_N_IMAGES}}
