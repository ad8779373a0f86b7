"""Test-wide settings: small models train faster on one thread than on two contended ones."""
import matplotlib
import torch

matplotlib.use("Agg")
torch.set_num_threads(1)
