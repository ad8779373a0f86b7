"""Every figure the notebooks show. Topic modules, all re-exported here:

- ``style``: palette (one colour per loss), ``use_style``, ``new_axes``;
- ``common``: learning curves, transition-matrix and confusion heatmaps;
- one module per lesson topic (noise, gradients, gce, apl, correction, benchmark).
"""
from .style import *  # noqa: F401,F403
from .common import *  # noqa: F401,F403
