"""Test-wide settings: small models train faster on one thread than on two contended ones;
figures render off-screen and are closed after every test."""
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
