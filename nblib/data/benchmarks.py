"""The papers' benchmark datasets, downloaded once: Fashion-MNIST, CIFAR-10/100, and the real
human labels of CIFAR-10N / CIFAR-100N (Wei et al. 2022).

Images are scaled to [0, 1] and then normalised per channel, x <- (x - mean) / std, with the
training-set statistics named below (FASHION_MNIST_MEAN, CIFAR10_MEAN, ...).

The CIFAR-N label files can also be read alone, without images: :func:`read_cifar_n_labels`
returns their validated label arrays. They are read with ``torch.load(weights_only=True)`` (no code
can run; only NumPy integer arrays are allowlisted, besides plain lists of ints), every label set
must hold one integer label in [0, K) per training image, CIFAR-100N's superclass labels must be
the superclasses of its fine labels, and ``clean_label`` must equal the official training labels.
"""
from __future__ import annotations

import gzip
import pickle
import tarfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .._checks import check_choice
from ..noise import CIFAR100_FINE_NAMES, CIFAR100_SUPERCLASSES, CIFAR100_SUPERCLASS_NAMES
from .files import DataError, FILES, cached_remote, fetch


FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
MAX_PIXEL = 255.0
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)  # true per-channel std (not the oft-copied 0.2023, ...)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)  # per-channel, over the 50000 training images
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck")
CIFAR10_DIR = "cifar-10-batches-py"  # folder inside the tarball
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"
CIFAR100_DIR = "cifar-100-python"  # folder inside the tarball: pickles train, test (and meta)
# fine label -> its superclass (coarse label); the names are nblib.noise's
CIFAR100_SUPERCLASS_OF = tuple(next(s for s, members in enumerate(CIFAR100_SUPERCLASSES) if c in members)
                               for c in range(len(CIFAR100_FINE_NAMES)))
CIFAR10N_KEYS = {"aggre": "aggre_label", "worse": "worse_label", "random1": "random_label1",
                 "random2": "random_label2", "random3": "random_label3"}
CIFAR100N_KEYS = {"noisy": "noisy_label"}  # the fine noisy labels; the file also has superclass ones


# What each CIFAR-N label file holds: key -> number of classes of its labels (one per training image)
CIFAR_N_LABEL_FILES = {
    "cifar10n": {"clean_label": len(CIFAR10_CLASSES),
                 **{key: len(CIFAR10_CLASSES) for key in CIFAR10N_KEYS.values()}},
    "cifar100n": {"clean_label": len(CIFAR100_FINE_NAMES), "noisy_label": len(CIFAR100_FINE_NAMES),
                  "clean_coarse_label": len(CIFAR100_SUPERCLASS_NAMES),
                  "noisy_coarse_label": len(CIFAR100_SUPERCLASS_NAMES)},
}


IDX_UBYTE = 0x08  # IDX type code for unsigned bytes; magic = 0x0000 | type << 8 | ndim


def fashion_mnist(*, root, download, seed):
    """Fashion-MNIST (Xiao et al. 2017): 28x28 grey images, official 60000/10000 split."""
    def parse(p):
        return dict(x_train=_read_idx(p["train-images-idx3-ubyte.gz"], 3)[:, None],
                    y_train=_read_idx(p["train-labels-idx1-ubyte.gz"], 1).astype(np.int64),
                    x_test=_read_idx(p["t10k-images-idx3-ubyte.gz"], 3)[:, None],
                    y_test=_read_idx(p["t10k-labels-idx1-ubyte.gz"], 1).astype(np.int64))
    arrays = cached_remote("fashion_mnist", root, download, parse, len(FASHION_MNIST_CLASSES))
    for split in ("train", "test"):
        arrays[f"x_{split}"] = _normalise(arrays[f"x_{split}"], (FASHION_MNIST_MEAN,), (FASHION_MNIST_STD,))
    return arrays, FASHION_MNIST_CLASSES


class CifarLayout(NamedTuple):
    """Where a CIFAR python tarball keeps its pickles, and how its images are labelled and normalised."""
    train: tuple[str, ...]  # members holding the training images, in order
    test: str
    label_key: bytes        # the pickles' key of the labels the Dataset uses
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...]


CIFAR_LAYOUTS = {
    "cifar10": CifarLayout(tuple(f"{CIFAR10_DIR}/{b}" for b in CIFAR10_TRAIN_BATCHES),
                           f"{CIFAR10_DIR}/{CIFAR10_TEST_BATCH}", b"labels", CIFAR10_MEAN, CIFAR10_STD,
                           CIFAR10_CLASSES),
    "cifar100": CifarLayout((f"{CIFAR100_DIR}/train",), f"{CIFAR100_DIR}/test", b"fine_labels",
                            CIFAR100_MEAN, CIFAR100_STD, CIFAR100_FINE_NAMES),
}


CIFAR_N_IMAGES = {"cifar10n": "cifar10", "cifar100n": "cifar100"}  # the image set of each label file


def cifar(*, root, download, seed, name):
    """CIFAR-10 or CIFAR-100 (Krizhevsky 2009): 32x32 colour images, official 50000/10000 split.

    The pickles inside the tarball are unpickled only after the tarball's SHA-256 matched the
    published value. CIFAR-100's labels are its 100 fine classes.
    """
    layout = CIFAR_LAYOUTS[name]
    (tarball,) = FILES[name]

    def parse(p):
        with tarfile.open(p[tarball.filename], "r:gz") as tar:
            train = [_cifar_batch(tar, member, layout.label_key) for member in layout.train]
            test = _cifar_batch(tar, layout.test, layout.label_key)
        return dict(x_train=np.concatenate([x for x, _ in train]), y_train=np.concatenate([y for _, y in train]),
                    x_test=test[0], y_test=test[1])
    arrays = cached_remote(name, root, download, parse, len(layout.classes))
    for split in ("train", "test"):
        arrays[f"x_{split}"] = _normalise(arrays[f"x_{split}"], layout.mean, layout.std)
    return arrays, layout.classes


def cifar_n(*, root, download, seed, name):
    """CIFAR-10 / CIFAR-100 plus the CIFAR-N human labels (Wei et al. 2022) of the training images.

    The label file's ``clean_label`` must equal the official training labels, so a file that does
    not belong to these images is refused; its noisy label sets go to ``noisy_<short name>``.
    """
    images = CIFAR_N_IMAGES[name]
    arrays, classes = cifar(root=root, download=download, seed=seed, name=images)
    (label_file,) = FILES[name]
    path = fetch(name, root, download)[label_file.filename]
    labels = read_cifar_n_labels(path, name)
    clean, y = labels["clean_label"], arrays["y_train"]
    if not np.array_equal(clean, y):
        where = (f"at {int((clean != y).sum())} positions" if clean.shape == y.shape
                 else f"in length ({len(clean)} labels for {len(y)} images)")
        raise DataError(f"{path}: clean_label differs from the {images} training labels {where}, so "
                        f"this is not the official {name} label file; delete it and load again")
    for short, key in CIFAR_N_NOISY[name].items():
        arrays[f"noisy_{short}"] = labels[key]
    return arrays, classes


def read_cifar_n_labels(path, dataset: str | None = None) -> dict[str, np.ndarray]:
    """The label sets of a CIFAR-N label file, read safely and validated: ``{key: int64 array}``.

    path: ``CIFAR-10_human.pt`` or ``CIFAR-100_human.pt`` (see ``CIFAR_N_LABEL_FILES`` for their
        keys); no images are needed, so the label noise can be studied on its own.
    dataset: "cifar10n" or "cifar100n"; None -> recognised from the file's keys.

    The file must hold exactly the expected keys, each a 1-D integer array (or a list of ints, as
    CIFAR-100N's superclass labels are) with labels in [0, K), all of one length; for CIFAR-100N
    each superclass label must be the superclass of the fine label beside it.
    """
    if dataset is not None:
        check_choice("dataset", dataset, CIFAR_N_LABEL_FILES)
    path = Path(path)
    labels = _load_label_file(path)
    if dataset is None:
        dataset = next((d for d, keys in CIFAR_N_LABEL_FILES.items() if set(keys) == set(labels)), None)
        if dataset is None:
            expected = "; ".join(f"{d}: {', '.join(keys)}" for d, keys in CIFAR_N_LABEL_FILES.items())
            raise DataError(f"{path}: keys {', '.join(map(str, labels))} are not those of a CIFAR-N label "
                            f"file ({expected}); delete it and load again")
    expected = CIFAR_N_LABEL_FILES[dataset]
    if set(labels) != set(expected):
        raise DataError(f"{path}: keys {', '.join(map(str, labels))}, expected those of the {dataset} "
                        f"label file: {', '.join(expected)}; delete it and load again")
    arrays = {key: _label_array(path, key, labels[key], k) for key, k in expected.items()}
    lengths = {key: len(v) for key, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(f"{path}: label sets of different lengths {lengths}; delete it and load again")
    if dataset == "cifar100n":
        superclass_of = np.asarray(CIFAR100_SUPERCLASS_OF)
        for kind in ("clean", "noisy"):
            wrong = int((superclass_of[arrays[f"{kind}_label"]] != arrays[f"{kind}_coarse_label"]).sum())
            if wrong:
                raise DataError(f"{path}: {kind}_coarse_label is not the superclass of {kind}_label for "
                                f"{wrong} images; delete it and load again")
    return arrays


def _label_array(path: Path, key: str, value, num_classes: int) -> np.ndarray:
    """``value`` as int64 if it is a 1-D integer array or a list of ints in [0, num_classes)."""
    int_list = isinstance(value, list) and all(type(v) is int for v in value)  # bools are refused too
    int_array = isinstance(value, np.ndarray) and value.dtype.kind in "iu" and value.ndim == 1
    if not (int_list or int_array) or len(value) == 0:
        got = (f"an array of dtype {value.dtype} and shape {value.shape}" if isinstance(value, np.ndarray)
               else f"a {type(value).__name__} of {len(value)}" if isinstance(value, list)
               else f"a {type(value).__name__}")
        raise DataError(f"{path}: {key!r} must be a non-empty 1-D integer array or list of ints, got "
                        f"{got}; delete it and load again")
    values = np.asarray(value, dtype=object) if int_list else value  # Python ints of any size
    if values.min() < 0 or values.max() >= num_classes:
        raise DataError(f"{path}: {key!r} must hold labels in [0, {num_classes}), got values in "
                        f"[{values.min()}, {values.max()}]; delete it and load again")
    return values.astype(np.int64)


def _load_label_file(path: Path) -> dict:
    """``torch.load(weights_only=True)`` of a dict of NumPy arrays and lists (no code can run).

    Only NumPy's array reconstructor (under its NumPy 2 and NumPy 1 module names), ndarray and
    the integer dtypes are allowlisted, so a file holding any other object is refused; what the
    arrays and lists hold is checked by :func:`read_cifar_n_labels`.
    """
    from numpy._core.multiarray import _reconstruct
    int_dtypes = [type(np.dtype(t)) for t in (np.int8, np.int16, np.int32, np.int64,
                                              np.uint8, np.uint16, np.uint32, np.uint64)]
    allow = [np.ndarray, np.dtype, *int_dtypes, _reconstruct,
             (_reconstruct, "numpy.core.multiarray._reconstruct")]
    try:
        with torch.serialization.safe_globals(allow):
            labels = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any unpickling failure means: not the expected file
        raise DataError(f"cannot read {path} with torch.load(weights_only=True) ({e}); it is not an "
                        "official CIFAR-N label file: delete it and load again") from e
    if not isinstance(labels, dict):
        raise DataError(f"{path}: expected a dict of label arrays, got {type(labels).__name__}; "
                        "delete it and load again")
    return labels


def _normalise(x_uint8: np.ndarray, mean, std) -> np.ndarray:
    """uint8 (N, C, H, W) -> float32 ((x / 255) - mean) / std per channel, computed in place."""
    x = x_uint8.astype(np.float32)
    x /= MAX_PIXEL
    x -= np.asarray(mean, np.float32)[:, None, None]
    x /= np.asarray(std, np.float32)[:, None, None]
    return x


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes (LeCun's MNIST format) into a uint8 array."""
    with gzip.open(path, "rb") as f:
        buf = f.read()
    magic, expected = int.from_bytes(buf[:4], "big"), IDX_UBYTE << 8 | ndim
    if magic != expected:
        raise DataError(f"{path}: not an IDX file of {ndim}-D unsigned bytes (magic {magic:#010x}, "
                        f"expected {expected:#010x}); delete it and load again")
    shape = tuple(int(d) for d in np.frombuffer(buf, ">u4", count=ndim, offset=4))
    data = np.frombuffer(buf, np.uint8, offset=4 + 4 * ndim)
    if data.size != np.prod(shape):
        raise DataError(f"{path}: header says shape {shape} but holds {data.size} bytes; "
                        "delete it and load again")
    return data.reshape(shape)


def _cifar_batch(tar: tarfile.TarFile, member: str, label_key: bytes):
    """One pickled CIFAR batch -> (uint8 images (N, 3, 32, 32), int64 labels ``label_key`` (N,))."""
    try:
        d = pickle.load(tar.extractfile(member), encoding="bytes")
        return (np.asarray(d[b"data"], np.uint8).reshape(-1, 3, 32, 32),
                np.asarray(d[label_key], np.int64))
    except (KeyError, ValueError, pickle.UnpicklingError) as e:
        raise DataError(f"{tar.name}: cannot read {member} ({e!r}); "
                        "delete the archive and load again") from e


CIFAR_N_NOISY = {"cifar10n": CIFAR10N_KEYS, "cifar100n": CIFAR100N_KEYS}  # Dataset.noisy_labels keys
