"""Test-wide settings: small models train faster on one thread than on two contended ones;
figures render off-screen and are closed after every test. Fixtures for the real CIFAR-N label
files, which only a machine with the shared data folder has (the tests that need them skip elsewhere)."""
import importlib.util
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


DERIVE_CIFAR_N = Path(__file__).resolve().parents[1] / "tools" / "derive_cifar_n.py"


@pytest.fixture(scope="session")
def derive_cifar_n():
    """tools/derive_cifar_n.py imported as a module (it is a script, not part of nblib)."""
    spec = importlib.util.spec_from_file_location("derive_cifar_n", DERIVE_CIFAR_N)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def cifar_n_dir(derive_cifar_n):
    """The folder with the real CIFAR-N label files; skips the test where there is none."""
    folder = derive_cifar_n.find_source_dir()
    if folder is None:
        pytest.skip("the real CIFAR-N label files are not here (looked in "
                    f"{' and '.join(map(str, derive_cifar_n.SHARED_DIRS))}); a user's clone has none")
    return folder


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """A small real sweep for the lessons' tables and figures: digits with its validation split, a few
    epochs, two seeds, trained once per (losses, noise) as a vmap stack in a temporary cache.
    Call it as ``tiny_runs(losses, noise)``; returns the ``nblib.sweep.SweepResult``."""
    from nblib.course.settings import Setting
    from nblib.sweep import run_grid

    made = {}

    def make(losses, noise, epochs: int = 4, seeds=(0, 1)):
        key = (repr(losses), tuple(noise), epochs, tuple(seeds))
        if key not in made:
            setting = Setting(dataset="digits", dataset_kw={"n_val": 300}, epochs=epochs, batch_size=128, lr=3e-3)
            grid = setting.grid("tiny", losses=losses, noise=noise, seeds=seeds)
            made[key] = run_grid(grid, root=tmp_path_factory.mktemp("runs"), engine="vmap", progress=False, threads=1)
        return made[key]

    return make
