"""Every slider the notebooks show. Each widget is built by ``interact_figure`` around a plain
``update`` function that returns a matplotlib figure; tests call the update functions directly.
Works with ipywidgets 7 (Colab) and 8 (JupyterLab 4)."""
from .base import *  # noqa: F401,F403
