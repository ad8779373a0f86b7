"""Tests of nblib.data: offline loaders, and the download loaders on tiny files in the real formats.

No test touches the network: downloads are served by a fake ``urlopen`` and every root is tmp_path.
The real CIFAR-N label files are tested where the shared data folder has them (skipped elsewhere).
"""
import gzip
import hashlib
import io
import pickle
import random
import tarfile
import time
import urllib.error
import urllib.request
import warnings
import zipfile

import numpy as np
import pytest
import torch

import nblib
from nblib import data
from nblib.data import RemoteFile
from nblib.noise import CIFAR100_FINE_NAMES, CIFAR100_SUPERCLASS_NAMES

CPU = "cpu"


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def class_counts(y, k):
    return np.bincount(y.numpy(), minlength=k)


# ----------------------------------------------------------------------------- offline sets

def test_digits_shapes_and_stratified_split():
    d = data.load("digits", device=CPU, seed=0)
    assert d.x_train.shape == (1437, 64) and d.x_test.shape == (360, 64)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.long
    assert d.num_classes == 10 and d.classes == [str(i) for i in range(10)] and d.input_shape == (64,)
    assert 0 <= d.x_train.min() and d.x_train.max() <= 1 and d.noisy_labels == {}
    total = class_counts(d.y_train, 10) + class_counts(d.y_test, 10)
    assert np.all(np.abs(class_counts(d.y_test, 10) - 0.2 * total) <= 1)  # stratified 80/20
    again, other = data.load("digits", device=CPU, seed=0), data.load("digits", device=CPU, seed=1)
    assert torch.equal(again.x_test, d.x_test) and not torch.equal(other.x_test, d.x_test)
    assert "train=1437" in repr(d) and "test=360" in repr(d)


def test_subset_is_stratified_and_seeded():
    d = data.load("digits", device=CPU, n_train=200, n_test=50, seed=3)
    assert len(d.y_train) == 200 and len(d.y_test) == 50
    assert np.all(np.abs(class_counts(d.y_train, 10) - 20) <= 1)
    assert torch.equal(d.x_train, data.load("digits", device=CPU, n_train=200, n_test=50, seed=3).x_train)


@pytest.fixture(scope="module")
def mnist1d_runs(tmp_path_factory):
    """Load mnist1d twice from an empty root: generation (cache miss), then the cached file."""
    root = tmp_path_factory.mktemp("mnist1d_root")
    random.seed(123)
    np.random.seed(7)
    py_state, np_state = random.getstate(), np.random.get_state()
    t0 = time.perf_counter()
    first = data.load("mnist1d", device=CPU, root=root)
    t1 = time.perf_counter()
    state_kept = random.getstate() == py_state and all(
        np.array_equal(a, b) for a, b in zip(np.random.get_state(), np_state))
    second = data.load("mnist1d", device=CPU, root=root)
    t2 = time.perf_counter()
    return dict(root=root, first=first, second=second, miss_s=t1 - t0, hit_s=t2 - t1, state_kept=state_kept)


def test_mnist1d_shapes(mnist1d_runs):
    d = mnist1d_runs["first"]
    assert d.x_train.shape == (4000, 40) and d.x_test.shape == (1000, 40)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.long and d.num_classes == 10
    assert set(d.y_train.unique().tolist()) == set(range(10))
    assert np.all(class_counts(d.y_train, 10) > 300)  # roughly balanced


def test_mnist1d_cache_hit_is_identical_and_faster(mnist1d_runs):
    a, b = mnist1d_runs["first"], mnist1d_runs["second"]
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert mnist1d_runs["hit_s"] < mnist1d_runs["miss_s"]
    files = [p.name for p in (mnist1d_runs["root"] / "mnist1d").iterdir()]
    assert len(files) == 1 and files[0].endswith(".npz")  # no temp file left behind


def test_mnist1d_generation_restores_global_rng(mnist1d_runs):
    assert mnist1d_runs["state_kept"]


def test_mnist1d_options_change_the_cache_key(mnist1d_runs):
    small = data.load("mnist1d", device=CPU, root=mnist1d_runs["root"], num_samples=200, data_seed=1)
    assert small.x_train.shape == (160, 40) and small.x_test.shape == (40, 40)
    with pytest.raises(ValueError, match="num_samples"):
        data.load("mnist1d", device=CPU, root=mnist1d_runs["root"], num_samples=205)


def test_toy2d_moons_and_blobs():
    m = data.load("toy2d", device=CPU, seed=0)
    assert m.x_train.shape == (400, 2) and m.x_test.shape == (400, 2) and m.num_classes == 2
    assert m.x_train.dtype == torch.float32 and class_counts(m.y_train, 2).tolist() == [200, 200]
    assert torch.allclose(m.x_train.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(m.x_train.std(0, unbiased=False), torch.ones(2), atol=1e-4)
    b = data.load("toy2d", device=CPU, seed=0, variant="blobs", num_classes=4, n_train=100, n_test=40, noise=0.1)
    assert b.x_train.shape == (100, 2) and b.x_test.shape == (40, 2) and b.num_classes == 4
    assert torch.equal(m.x_train, data.load("toy2d", device=CPU, seed=0).x_train)
    assert not torch.equal(m.x_train, data.load("toy2d", device=CPU, seed=1).x_train)


@pytest.mark.parametrize("kw, word", [
    (dict(variant="spirals"), "variant"), (dict(noise=-1), "noise"), (dict(n_train=1), "n_train"),
    (dict(num_classes=3), "num_classes"), (dict(variant="blobs", num_classes=1), "num_classes")])
def test_toy2d_bad_options(kw, word):
    with pytest.raises(ValueError, match=word):
        data.load("toy2d", device=CPU, **kw)


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(ValueError, match="digits.*cifar10n"):
        data.load("mnist", device=CPU)


def test_unknown_keyword_is_named():
    with pytest.raises(ValueError, match="bogus"):
        data.load("digits", device=CPU, bogus=1)
    with pytest.raises(ValueError, match="n_train"):
        data.load("digits", device=CPU, n_train=10_000)


def test_default_device_and_to(monkeypatch):
    monkeypatch.setenv("NBLIB_DEVICE", "cpu")
    d = data.load("toy2d")
    assert d.device.type == "cpu" and d.x_train.device.type == "cpu"
    assert d.to("cpu").x_test.device.type == "cpu"


# ----------------------------------------------------------------------------- tiny files in the real formats

def idx_gz(array: np.ndarray) -> bytes:
    """Gzipped IDX file of unsigned bytes: magic 0x00000800 | ndim, big-endian dims, data."""
    header = (0x0800 | array.ndim).to_bytes(4, "big") + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def tiny_fashion(n_train=20, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte.gz": np.arange(n_train) % 10,
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte.gz": np.arange(n_test) % 10}
    return arrays, {name: idx_gz(a) for name, a in arrays.items()}


def cifar_tar_gz(per_batch=10, n_test=10, seed=0, name="cifar10"):
    """A cifar-10-python.tar.gz (5 train batches + test batch) or cifar-100-python.tar.gz (train +
    test) with the real layout and bytes keys; CIFAR-100's pickles also hold b"coarse_labels"."""
    layout = data.CIFAR_LAYOUTS[name]
    rng = np.random.default_rng(seed)
    buf, labels = io.BytesIO(), {}
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member in [*layout.train, layout.test]:
            n = n_test if member == layout.test else per_batch
            pixels = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
            pixels[0, :1024], pixels[0, 1024:2048], pixels[0, 2048:] = 10, 20, 30  # R, G, B planes
            labels[member] = rng.integers(0, len(layout.classes), n).tolist()
            content = {b"batch_label": member.encode(), layout.label_key: labels[member],
                       b"data": pixels, b"filenames": [b"x.png"] * n}
            if name == "cifar100":
                content[b"coarse_labels"] = [data.CIFAR100_SUPERCLASS_OF[y] for y in labels[member]]
            blob = pickle.dumps(content, protocol=2)
            info = tarfile.TarInfo(member)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    y_train = np.concatenate([labels[m] for m in layout.train])
    return buf.getvalue(), y_train


def human_pt(y_train: np.ndarray, clean=None, numpy1_names=False) -> bytes:
    """A CIFAR-10_human.pt: torch.save'd dict of NumPy label arrays (noisy = clean + shift mod 10)."""
    labels = {"clean_label": y_train if clean is None else clean}
    for shift, key in enumerate(data.CIFAR10N_KEYS.values(), start=1):
        labels[key] = (y_train + shift) % 10
    return torch_file(labels, numpy1_names)


def human100_labels(y_train: np.ndarray) -> dict:
    """The content of a CIFAR-100_human.pt: fine labels as int64 arrays (noisy = clean + 1 mod 100),
    superclass labels as Python lists of ints, as in the official file."""
    superclass_of = np.asarray(data.CIFAR100_SUPERCLASS_OF)
    noisy = (y_train + 1) % 100
    return {"clean_label": y_train.astype(np.int64), "noisy_label": noisy.astype(np.int64),
            "clean_coarse_label": superclass_of[y_train].tolist(),
            "noisy_coarse_label": superclass_of[noisy].tolist()}


def torch_file(labels: dict, numpy1_names=False) -> bytes:
    """torch.save(labels); numpy1_names: as written under NumPy 1.x, like the official files."""
    buf = io.BytesIO()
    torch.save(labels, buf)
    if not numpy1_names:
        return buf.getvalue()
    # the official file was written under NumPy 1.x: its pickle names numpy.core.multiarray
    zin, out = zipfile.ZipFile(io.BytesIO(buf.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            blob = zin.read(item.filename)
            if item.filename.endswith("data.pkl"):
                blob = blob.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
            zout.writestr(item, blob)
    return out.getvalue()


def install(monkeypatch, name, blobs: dict[str, bytes], sha_override=None):
    """Point FILES[name] at fake URLs with the tiny files' real SHA-256s."""
    files = tuple(RemoteFile(f"https://example.invalid/{fn}", fn, (sha_override or {}).get(fn, sha(b)))
                  for fn, b in blobs.items())
    monkeypatch.setitem(data.FILES, name, files)


def provide(monkeypatch, root, name, blobs: dict[str, bytes]):
    """install() the tiny files of ``name`` and put them in ``root/name`` (no download needed)."""
    install(monkeypatch, name, blobs)
    write_files(root / name, blobs)


def provide_cifar_n(monkeypatch, root, name, label_file: bytes, tar_blob: bytes):
    """The tiny image tarball and label file of cifar10n / cifar100n, both in place."""
    images = data.CIFAR_N_IMAGES[name]
    provide(monkeypatch, root, images, {data.FILES[images][0].filename: tar_blob})
    provide(monkeypatch, root, name, {data.FILES[name][0].filename: label_file})


def write_files(folder, blobs):
    folder.mkdir(parents=True, exist_ok=True)
    for fn, b in blobs.items():
        (folder / fn).write_bytes(b)


class FakeWeb:
    """Stands in for urllib.request.urlopen: serves bytes by URL and counts calls."""

    def __init__(self, blobs=None, error=None):
        self.blobs, self.error, self.calls = blobs or {}, error, []

    def __call__(self, url, timeout=None):
        self.calls.append((url, timeout))
        if self.error is not None:
            raise self.error
        return io.BytesIO(self.blobs[url.rsplit("/", 1)[1]])


@pytest.fixture
def no_network(monkeypatch):
    web = FakeWeb(error=urllib.error.URLError("[Errno -3] Temporary failure in name resolution"))
    monkeypatch.setattr(urllib.request, "urlopen", web)
    return web


def test_fashion_mnist_from_local_files(tmp_path, monkeypatch, no_network):
    arrays, blobs = tiny_fashion()
    install(monkeypatch, "fashion_mnist", blobs)
    write_files(tmp_path / "fashion_mnist", blobs)
    d = data.load("fashion_mnist", device=CPU, root=tmp_path, download=False)
    assert d.x_train.shape == (20, 1, 28, 28) and d.x_test.shape == (10, 1, 28, 28)
    assert d.x_train.dtype == torch.float32 and d.classes[0] == "T-shirt/top" and d.classes[9] == "Ankle boot"
    expected = (arrays["train-images-idx3-ubyte.gz"] / 255 - data.FASHION_MNIST_MEAN) / data.FASHION_MNIST_STD
    assert np.allclose(d.x_train[:, 0].numpy(), expected, atol=1e-5)
    assert d.y_test.tolist() == arrays["t10k-labels-idx1-ubyte.gz"].tolist()
    assert no_network.calls == []
    # parsed arrays are cached: the raw files are no longer needed
    for fn in blobs:
        (tmp_path / "fashion_mnist" / fn).unlink()
    assert torch.equal(data.load("fashion_mnist", device=CPU, root=tmp_path, download=False).x_train, d.x_train)


def test_idx_magic_number_is_checked(tmp_path, monkeypatch):
    _, blobs = tiny_fashion()
    blobs["train-labels-idx1-ubyte.gz"] = idx_gz(np.zeros((20, 1)))  # 2-D: wrong magic for labels
    install(monkeypatch, "fashion_mnist", blobs)
    write_files(tmp_path / "fashion_mnist", blobs)
    with pytest.raises(data.DataError, match="magic"):
        data.load("fashion_mnist", device=CPU, root=tmp_path, download=False)


def test_download_verifies_and_writes_atomically(tmp_path, monkeypatch):
    _, blobs = tiny_fashion()
    install(monkeypatch, "fashion_mnist", blobs)
    web = FakeWeb(blobs)
    monkeypatch.setattr(urllib.request, "urlopen", web)
    d = data.load("fashion_mnist", device=CPU, root=tmp_path)
    assert len(d.y_train) == 20 and len(web.calls) == 4
    assert all(timeout == data.DOWNLOAD_TIMEOUT for _, timeout in web.calls)
    folder = tmp_path / "fashion_mnist"
    assert all((folder / fn).read_bytes() == b for fn, b in blobs.items())
    assert not list(folder.glob("*.tmp"))


def test_corrupt_download_is_discarded(tmp_path, monkeypatch):
    _, blobs = tiny_fashion()
    install(monkeypatch, "fashion_mnist", blobs)
    bad = dict(blobs, **{"t10k-labels-idx1-ubyte.gz": b"truncated"})
    monkeypatch.setattr(urllib.request, "urlopen", FakeWeb(bad))
    with pytest.raises(data.ChecksumError, match="t10k-labels-idx1-ubyte.gz"):
        data.load("fashion_mnist", device=CPU, root=tmp_path)
    folder = tmp_path / "fashion_mnist"
    assert not (folder / "t10k-labels-idx1-ubyte.gz").exists() and not list(folder.glob("*.tmp"))


def test_checksum_mismatch_message(tmp_path, monkeypatch, no_network):
    _, blobs = tiny_fashion()
    expected = "0" * 64
    install(monkeypatch, "fashion_mnist", blobs, sha_override={"train-images-idx3-ubyte.gz": expected})
    write_files(tmp_path / "fashion_mnist", blobs)
    with pytest.raises(data.ChecksumError) as err:
        data.load("fashion_mnist", device=CPU, root=tmp_path)
    msg = str(err.value)
    assert "train-images-idx3-ubyte.gz" in msg and expected in msg
    assert sha(blobs["train-images-idx3-ubyte.gz"]) in msg and "delete it" in msg
    assert isinstance(err.value, RuntimeError)


def test_offline_error_says_where_to_put_the_files(tmp_path, monkeypatch, no_network):
    _, blobs = tiny_fashion()
    install(monkeypatch, "fashion_mnist", blobs)
    with pytest.raises(data.DownloadError) as err:
        data.load("fashion_mnist", device=CPU, root=tmp_path)
    msg = str(err.value)
    assert "name resolution" in msg and str(tmp_path / "fashion_mnist") in msg
    for f in data.FILES["fashion_mnist"]:
        assert f.filename in msg and f.url in msg
    assert isinstance(err.value, RuntimeError) and no_network.calls
    assert not list((tmp_path / "fashion_mnist").glob("*"))  # nothing half-written


def test_download_false_never_touches_the_network(tmp_path, no_network):
    with pytest.raises(data.DownloadError) as err:
        data.load("cifar10", device=CPU, root=tmp_path, download=False)
    msg = str(err.value)
    assert "download=False" in msg and "cifar-10-python.tar.gz" in msg and str(tmp_path / "cifar10") in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in msg
    assert no_network.calls == []


def test_cifar10_from_a_tiny_tarball(tmp_path, monkeypatch, no_network):
    blob, y_train = cifar_tar_gz()
    provide(monkeypatch, tmp_path, "cifar10", {"cifar-10-python.tar.gz": blob})
    d = data.load("cifar10", device=CPU, root=tmp_path, download=False)
    assert d.x_train.shape == (50, 3, 32, 32) and d.x_test.shape == (10, 3, 32, 32)
    assert d.classes[0] == "airplane" and d.classes[9] == "truck" and d.y_train.tolist() == y_train.tolist()
    first = d.x_train[0, :, 0, 0].numpy()  # planes R, G, B = 10, 20, 30
    expected = (np.array([10, 20, 30]) / 255 - np.array(data.CIFAR10_MEAN)) / np.array(data.CIFAR10_STD)
    assert np.allclose(first, expected, atol=1e-5)


def test_cifar100_from_a_tiny_tarball(tmp_path, monkeypatch, no_network):
    blob, y_train = cifar_tar_gz(per_batch=40, name="cifar100")
    provide(monkeypatch, tmp_path, "cifar100", {"cifar-100-python.tar.gz": blob})
    d = data.load("cifar100", device=CPU, root=tmp_path, download=False)
    assert d.x_train.shape == (40, 3, 32, 32) and d.x_test.shape == (10, 3, 32, 32) and d.num_classes == 100
    assert d.classes[0] == "apple" and d.classes[99] == "worm" and d.y_train.tolist() == y_train.tolist()
    expected = (np.array([10, 20, 30]) / 255 - np.array(data.CIFAR100_MEAN)) / np.array(data.CIFAR100_STD)
    assert np.allclose(d.x_test[0, :, 0, 0].numpy(), expected, atol=1e-5) and d.noisy_labels == {}


def test_cifar100_superclass_of_each_class():
    assert np.bincount(data.CIFAR100_SUPERCLASS_OF).tolist() == [5] * 20
    superclasses = list(CIFAR100_SUPERCLASS_NAMES)
    of = dict(zip(CIFAR100_FINE_NAMES, data.CIFAR100_SUPERCLASS_OF))
    assert superclasses[of["aquarium_fish"]] == "fish" and superclasses[of["maple_tree"]] == "trees"
    assert all(name in CIFAR100_SUPERCLASS_NAMES[superclasses[of[name]]] for name in CIFAR100_FINE_NAMES)


@pytest.mark.parametrize("numpy1_names", [False, True])
def test_cifar10n_human_labels(tmp_path, monkeypatch, no_network, numpy1_names):
    tar_blob, y_train = cifar_tar_gz()
    provide_cifar_n(monkeypatch, tmp_path, "cifar10n", human_pt(y_train, numpy1_names=numpy1_names), tar_blob)
    d = data.load("cifar10n", device=CPU, root=tmp_path, download=False)
    assert set(d.noisy_labels) == {"aggre", "worse", "random1", "random2", "random3"}
    for shift, key in enumerate(data.CIFAR10N_KEYS, start=1):
        assert d.noisy_labels[key].dtype == torch.long
        assert torch.equal(d.noisy_labels[key], (d.y_train + shift) % 10)
    sub = data.load("cifar10n", device=CPU, root=tmp_path, download=False, n_train=20, seed=1)
    assert len(sub.y_train) == 20 and torch.equal(sub.noisy_labels["aggre"], (sub.y_train + 1) % 10)
    assert "noisy_labels" in repr(sub)


@pytest.mark.parametrize("numpy1_names", [False, True])
def test_cifar100n_human_labels(tmp_path, monkeypatch, no_network, numpy1_names):
    tar_blob, y_train = cifar_tar_gz(per_batch=40, name="cifar100")
    label_file = torch_file(human100_labels(y_train), numpy1_names)
    provide_cifar_n(monkeypatch, tmp_path, "cifar100n", label_file, tar_blob)
    d = data.load("cifar100n", device=CPU, root=tmp_path, download=False)
    assert list(d.noisy_labels) == ["noisy"] and d.noisy_labels["noisy"].dtype == torch.long
    assert torch.equal(d.noisy_labels["noisy"], (d.y_train + 1) % 100) and d.num_classes == 100


@pytest.mark.parametrize("name", ["cifar10n", "cifar100n"])
def test_cifar_n_rejects_wrong_clean_labels(tmp_path, monkeypatch, no_network, name):
    tar_blob, y_train = cifar_tar_gz(name=data.CIFAR_N_IMAGES[name])
    other = (y_train + 1) % 10
    label_file = human_pt(y_train, clean=other) if name == "cifar10n" else torch_file(human100_labels(other))
    provide_cifar_n(monkeypatch, tmp_path, name, label_file, tar_blob)
    with pytest.raises(data.DataError, match=f"clean_label differs .* {name} label file"):
        data.load(name, device=CPU, root=tmp_path, download=False)


def test_cifar_n_file_for_other_images_is_refused(tmp_path, monkeypatch, no_network):
    tar_blob, y_train = cifar_tar_gz()
    provide_cifar_n(monkeypatch, tmp_path, "cifar10n", human_pt(y_train[:-1]), tar_blob)
    with pytest.raises(data.DataError, match="49 labels for 50 images"):
        data.load("cifar10n", device=CPU, root=tmp_path, download=False)


class Payload:  # not allowlisted: a pickle holding it must be refused, not executed
    pass


@pytest.mark.parametrize("content", [{"clean_label": Payload()}, {"clean_label": [Payload()]}])
def test_cifar10n_refuses_arbitrary_pickles(tmp_path, monkeypatch, no_network, content):
    tar_blob, _ = cifar_tar_gz()
    provide_cifar_n(monkeypatch, tmp_path, "cifar10n", torch_file(content), tar_blob)
    with pytest.raises(data.DataError, match="weights_only=True"):
        data.load("cifar10n", device=CPU, root=tmp_path, download=False)


def test_cifar_n_labels_read_alone(tmp_path):
    """The label files are read and validated without any image: int64 arrays, format recognised."""
    y = np.arange(30) % 10
    (tmp_path / "c10.pt").write_bytes(human_pt(y, numpy1_names=True))
    (tmp_path / "c100.pt").write_bytes(torch_file(human100_labels(np.arange(200) % 100)))
    c10 = data.read_cifar_n_labels(tmp_path / "c10.pt")
    assert set(c10) == set(data.CIFAR_N_LABEL_FILES["cifar10n"]) and c10["clean_label"].tolist() == y.tolist()
    c100 = data.read_cifar_n_labels(str(tmp_path / "c100.pt"), "cifar100n")  # lists become arrays too
    assert all(v.dtype == np.int64 and v.shape == (200,) for v in c100.values())
    assert c100["clean_coarse_label"][0] == list(CIFAR100_SUPERCLASS_NAMES).index("fruit_and_vegetables")
    with pytest.raises(data.DataError, match="expected those of the cifar100n label file"):
        data.read_cifar_n_labels(tmp_path / "c10.pt", "cifar100n")
    with pytest.raises(ValueError, match="unknown dataset 'cifar100'"):
        data.read_cifar_n_labels(tmp_path / "c10.pt", "cifar100")


def spoil(labels: dict, key: str, value) -> dict:
    """``labels`` with ``key`` set to ``value`` (None: removed)."""
    out = {k: v for k, v in labels.items() if k != key}
    return out if value is None else {**out, key: value}


_C100 = human100_labels(np.arange(200) % 100)


@pytest.mark.parametrize("labels, message", [
    (spoil(_C100, "noisy_label", _C100["noisy_label"].astype(np.float64)), "weights_only=True"),  # not allowlisted
    (spoil(_C100, "noisy_coarse_label", [float(v) for v in _C100["noisy_coarse_label"]]), "list of 200"),
    (spoil(_C100, "noisy_coarse_label", [bool(v) for v in _C100["noisy_coarse_label"]]), "list of ints"),
    (spoil(_C100, "noisy_coarse_label", [[v] for v in _C100["noisy_coarse_label"]]), "list of ints"),
    (spoil(_C100, "noisy_coarse_label", "fish"), "got a str"),
    (spoil(_C100, "clean_label", _C100["clean_label"].reshape(20, 10)), r"shape \(20, 10\)"),
    (spoil(_C100, "noisy_coarse_label", []), "'noisy_coarse_label' must be a non-empty 1-D"),
    (spoil(_C100, "noisy_label", _C100["noisy_label"] + 100), r"labels in \[0, 100\)"),
    (spoil(_C100, "noisy_coarse_label", [20] * 200), r"labels in \[0, 20\)"),
    (spoil(_C100, "noisy_coarse_label", [2 ** 70] * 200), r"labels in \[0, 20\)"),
    (spoil(_C100, "noisy_coarse_label", _C100["noisy_coarse_label"][:-1]), "different lengths"),
    (spoil(_C100, "noisy_coarse_label", _C100["clean_coarse_label"]), "noisy_coarse_label is not the superclass"),
    (spoil(_C100, "extra", [1] * 200), "keys .* extra"),
    (spoil(_C100, "noisy_label", None), "not those of a CIFAR-N label file"),
])
def test_cifar_n_label_content_is_checked(tmp_path, labels, message):
    """Exactly int arrays and lists of ints, labels in range, one length, coherent superclasses."""
    path = tmp_path / "CIFAR-100_human.pt"
    path.write_bytes(torch_file(labels))
    with pytest.raises(data.DataError, match=message) as err:
        data.read_cifar_n_labels(path)
    assert str(path) in str(err.value) and "delete it" in str(err.value)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "table.npz"
    target.write_bytes(b"old")

    def crash(tmp):
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        nblib._io.atomic_write(target, crash)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["table.npz"]


def test_published_checksums_look_right():
    assert set(data.FILES) == {"fashion_mnist", "cifar10", "cifar10n", "cifar100", "cifar100n"}
    for files in data.FILES.values():
        for f in files:
            assert len(f.sha256) == 64 and int(f.sha256, 16) >= 0 and f.url.endswith(f.filename)


# ----------------------------------------------------------------------------- the real CIFAR-N label files

# noise rates of the official files (share of labels that differ from clean_label), as the shared
# folder's README and the CIFAR-N paper give them, to 4 decimals
REAL_RATES = {"cifar10n": {"aggre_label": 0.0901, "random_label1": 0.1723, "random_label2": 0.1812,
                           "random_label3": 0.1764, "worse_label": 0.4021},
              "cifar100n": {"noisy_label": 0.4020}}


@pytest.mark.parametrize("name", ["cifar10n", "cifar100n"])
def test_real_cifar_n_label_file(cifar_n_dir, name):
    """The pinned SHA-256 is the official file's; the safe loader reads it; its noise rates are right."""
    (f,) = data.FILES[name]
    path = cifar_n_dir / f.filename
    assert data.sha256sum(path) == f.sha256
    labels = data.read_cifar_n_labels(path)
    assert set(labels) == set(data.CIFAR_N_LABEL_FILES[name])
    assert all(v.dtype == np.int64 and v.shape == (50_000,) for v in labels.values())
    clean, k = labels["clean_label"], data.CIFAR_N_LABEL_FILES[name]["clean_label"]
    assert np.bincount(clean, minlength=k).tolist() == [50_000 // k] * k  # balanced classes
    for key, expected in REAL_RATES[name].items():
        assert np.mean(labels[key] != clean) == pytest.approx(expected, abs=5e-5), key


def test_validation_split_is_stratified_and_disjoint_from_the_training_set():
    full = data.load("digits", device=CPU)
    d = data.load("digits", device=CPU, n_val=300, n_train=500)
    assert len(d.y_val) == 300 and len(d.y_train) == 500 and d.x_test.shape == full.x_test.shape
    counts = torch.bincount(d.y_val, minlength=10)
    assert counts.max() - counts.min() <= 2
    rows = {tuple(r) for r in d.x_train.tolist()}
    assert not any(tuple(r) in rows for r in d.x_val.tolist())
    assert "val=300" in repr(d) and d.to(CPU).y_val is not None
    with pytest.raises(ValueError, match="n_val"):
        data.load("digits", device=CPU, n_val=len(full.y_train))
    with pytest.raises(ValueError, match="n_val is not available for toy2d"):
        data.load("toy2d", device=CPU, n_val=10)


@pytest.mark.parametrize("damage, problem", [
    (lambda a: a.pop("y_test"), r"array\(s\) y_test missing"),
    (lambda a: a["y_train"].__setitem__(0, 10), r"y_train holds labels in \[0, 10\], outside \[0, 9\]"),
    (lambda a: a["y_test"].__setitem__(0, -1), r"y_test holds labels in \[-1, 9\]"),
    (lambda a: a.update(y_train=a["y_train"][:-1]), r"y_train is not one integer label per input"),
    (lambda a: a.update(y_train=a["y_train"].astype(np.float32)), r"y_train is not one integer label"),
])
def test_a_damaged_data_cache_is_rebuilt_with_a_warning(tmp_path, damage, problem):
    """A parsed .npz cache missing an array used to give a bare KeyError, and one with labels out of
    range was used as it was; now it is validated on read and rebuilt from its source."""
    first = data.load("mnist1d", device=CPU, root=tmp_path, num_samples=200)
    (cache,) = (tmp_path / "mnist1d").glob("*.npz")
    with np.load(cache) as f:
        arrays = {k: f[k] for k in f.files}
    damage(arrays)
    with open(cache, "wb") as f:
        np.savez(f, **arrays)
    with pytest.warns(RuntimeWarning, match=rf"data cache .*{cache.name}: {problem}.*rebuilding it"):
        again = data.load("mnist1d", device=CPU, root=tmp_path, num_samples=200)
    assert torch.equal(again.y_train, first.y_train) and torch.equal(again.y_test, first.y_test)
    assert [p.name for p in (tmp_path / "mnist1d").iterdir()] == [cache.name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # the rebuilt cache is good: read silently
        data.load("mnist1d", device=CPU, root=tmp_path, num_samples=200)


@pytest.mark.parametrize("name, k", [("digits", 10), ("mnist1d", 10), ("cifar10n", 10), ("cifar100", 100),
                                     ("cifar100n", 100), ("toy2d", 2)])
def test_num_classes_without_loading(name, k):
    assert data.num_classes(name) == k
    assert data.num_classes("toy2d", variant="blobs", num_classes=5) == 5
