"""Getting files onto disk safely: downloads checked against a pinned SHA-256, parsed arrays cached.

Downloads (urllib, ``DOWNLOAD_TIMEOUT`` s) go to a temporary file that replaces the target only
after its SHA-256 matched the constant in ``FILES``; a file that is already there is checked the
same way. Offline, the error says which files to put where. Parsed arrays are cached as ``.npz``
next to the raw files (written atomically: temp file + ``os.replace``), so later loads are instant.
A cache is checked when it is read (every array there, labels in [0, K), one label per input): an
unreadable or damaged one is rebuilt from its source, with a warning that names the file.

Checksum provenance (see ``FILES``):
- Fashion-MNIST: SHA-256 of the four official files, as published in two independent public
  download scripts that agree (Connor Olding's ``mnists`` hash list; a ``fashion_mnist`` dataset
  module with ``_SHA256_*`` constants). Zalando's README publishes MD5s only.
- CIFAR-10: SHA-256 pinned by ``keras.datasets.cifar10`` (``file_hash=``) and many others; the
  Toronto page lists MD5 c58f30108f718f92721af3b95e74349a for the same 170,498,071-byte file.
- CIFAR-100: SHA-256 pinned by ``keras.datasets.cifar100`` (``file_hash=``) and torchvision's
  prototype ``Cifar100`` dataset (``_SHA256``); the Toronto page lists MD5
  eb9058c3a382ffc7106e4002c42a8d85 for the same 169,001,437-byte file.
- CIFAR-10N / CIFAR-100N ``CIFAR-10_human.pt`` / ``CIFAR-100_human.pt``: the authors publish no
  hash, so the SHA-256 was computed by the course from the files in their repository
  (UCSC-REAL/cifar-10-100n, ``data/``; 2,401,007 and 1,000,959 bytes) and pinned here. The files
  are also checked by content (see :mod:`nblib.data.benchmarks`).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.error
import urllib.request
import warnings
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._io import atomic_write


DOWNLOAD_TIMEOUT = 60  # seconds without data before a download gives up
HASH_CHUNK = 1 << 20
CACHE_ARRAYS = ("x_train", "y_train", "x_test", "y_test")  # what every parsed .npz cache holds


class RemoteFile(NamedTuple):
    """One file to download: where from, the name it is saved under, its SHA-256."""
    url: str
    filename: str
    sha256: str


_FMNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_CIFAR_N_URL = "https://github.com/UCSC-REAL/cifar-10-100n/raw/main/data/"


FILES: dict[str, tuple[RemoteFile, ...]] = {
    "fashion_mnist": (
        RemoteFile(_FMNIST_URL + "train-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz",
                   "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc"),
        RemoteFile(_FMNIST_URL + "train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz",
                   "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc"),
        RemoteFile(_FMNIST_URL + "t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                   "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229"),
        RemoteFile(_FMNIST_URL + "t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                   "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf"),
    ),
    "cifar10": (
        RemoteFile("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "cifar-10-python.tar.gz",
                   "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),
    ),
    "cifar10n": (
        RemoteFile(_CIFAR_N_URL + "CIFAR-10_human.pt", "CIFAR-10_human.pt",
                   "873e69c39cb9b5e97fb6bae2d60bb59b38a5cbc31d2b868f7903dcb2b9dd2310"),
    ),
    "cifar100": (
        RemoteFile("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "cifar-100-python.tar.gz",
                   "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"),
    ),
    "cifar100n": (
        RemoteFile(_CIFAR_N_URL + "CIFAR-100_human.pt", "CIFAR-100_human.pt",
                   "bd2d80409754d420292d622e15e25248ba21e37d27429efac49c8da723f44394"),
    ),
}


class DataError(RuntimeError):
    """A dataset file is missing, unreadable or not in the expected format."""


class DownloadError(DataError):
    """A download failed, or files are missing and ``download=False``."""


class ChecksumError(DataError):
    """A file's SHA-256 differs from the published one."""


def digest(obj) -> str:
    """Short stable hash of a JSON-able object (cache keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def cached(path: Path, build, num_classes: int) -> dict[str, np.ndarray]:
    """Arrays from ``path`` (.npz) if it exists, reads and passes :func:`_cache_problem`, else
    ``build()`` them and save atomically. A cache that exists but is unusable is rebuilt with a
    ``RuntimeWarning`` naming it and what was wrong (never a bare KeyError, never silent acceptance)."""
    if path.exists():
        try:
            with np.load(path) as f:
                arrays = {k: f[k] for k in f.files}
            problem = _cache_problem(arrays, num_classes)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            problem = f"it cannot be read ({e})"
        if problem is None:
            return arrays
        warnings.warn(f"data cache {path}: {problem}; rebuilding it from its source", RuntimeWarning, stacklevel=2)
    arrays = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, _save_npz(arrays))
    return arrays


def _cache_problem(arrays: dict[str, np.ndarray], num_classes: int) -> str | None:
    """What makes parsed arrays unusable (None: nothing): a missing array, labels that are not one
    integer in [0, num_classes) per input."""
    missing = [k for k in CACHE_ARRAYS if k not in arrays]
    if missing:
        return f"array(s) {', '.join(missing)} missing"
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) != len(x):
            return (f"y_{split} is not one integer label per input (shape {y.shape}, dtype {y.dtype}; "
                    f"x_{split} {x.shape})")
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            return f"y_{split} holds labels in [{y.min()}, {y.max()}], outside [0, {num_classes - 1}]"
    return None


def cached_remote(name: str, root: Path, download: bool, parse, num_classes: int) -> dict[str, np.ndarray]:
    """Parsed arrays of a downloaded set, cached under a key made of its files' checksums."""
    key = digest([[f.filename, f.sha256] for f in FILES[name]])
    return cached(root / name / f"{name}-{key}.npz", lambda: parse(fetch(name, root, download)), num_classes)


def _save_npz(arrays: dict[str, np.ndarray]):
    def write(tmp: Path):
        with open(tmp, "wb") as f:  # a file object, so np.savez does not append ".npz"
            np.savez(f, **arrays)
    return write


def sha256sum(path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _manual_help(name: str, folder: Path) -> str:
    lines = [f"  {f.filename:<30} <- {f.url}" for f in FILES[name]]
    return (f"Download these files on a machine with internet access and place them in "
            f"{folder}{os.sep} (or pass root=/another/folder containing {name}{os.sep}):\n" + "\n".join(lines))


def _verify(f: RemoteFile, path: Path, shown: Path) -> None:
    """Raise ChecksumError if ``path`` does not have the pinned SHA-256."""
    actual = sha256sum(path)
    if actual != f.sha256:
        raise ChecksumError(f"checksum mismatch for {shown}: expected sha256 {f.sha256}, got {actual}. "
                            f"The file is corrupt, incomplete or a different version: delete it and "
                            f"load again to download it afresh from {f.url}")


def fetch(name: str, root: Path, download: bool) -> dict[str, Path]:
    """Make sure every file of ``FILES[name]`` is in ``<root>/<name>/`` and verified; return paths."""
    folder = root / name
    missing = [f.filename for f in FILES[name] if not (folder / f.filename).exists()]
    if missing and not download:
        raise DownloadError(f"{name}: missing {', '.join(missing)} in {folder} and download=False.\n"
                            + _manual_help(name, folder))
    paths = {}
    for f in FILES[name]:
        path = folder / f.filename
        if path.exists():
            _verify(f, path, path)
        else:
            _download(name, f, path)
        paths[f.filename] = path
    return paths


def _download(name: str, f: RemoteFile, path: Path) -> None:
    """Download ``f.url`` to a temp file, verify it, then rename it onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"downloading {f.url} -> {path}", flush=True)
    try:
        def fetch(tmp: Path):
            with urllib.request.urlopen(f.url, timeout=DOWNLOAD_TIMEOUT) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out, HASH_CHUNK)
            _verify(f, tmp, path)
        atomic_write(path, fetch)
    except (urllib.error.URLError, OSError) as e:  # URLError, HTTPError, timeouts, refused
        raise DownloadError(f"could not download {f.url} ({e}).\n"
                            + _manual_help(name, path.parent)) from e
