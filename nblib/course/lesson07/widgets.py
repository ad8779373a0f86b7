"""Lesson 7's slider: how sharply instance-dependent noise picks the hard samples.

``SharpnessExplorer`` draws, for the lesson's digits and the human T, the flip rate in each
difficulty fifth of every class and how often the three seeds' noise is wrong on the same samples
(observed / what independent draws would give), beside CIFAR-10N's three annotators. A move of
the slider redraws only the bars and texts (:class:`nblib.course.widgets.LiveFigure`): the
corruption itself (:func:`nblib.instance_noise.corrupt_labels_instance`, three seeds) costs a few ms.
"""
from __future__ import annotations

import numpy as np

from ... import human_noise, instance_noise, noise
from ..style import OKABE_ITO
from ..widgets import LiveFigure, interact_png, live_figure, slider

BINS = 5                      # difficulty fifths
FIFTHS = ("easiest", "2nd", "3rd", "4th", "hardest")
SHARPNESS_RANGE = (0.0, 8.0, 0.5)
RATIO_MAX = 6.0               # y range of the observed / independent panel
ANNOTATORS = 3                # noise seeds read as annotators, as many as CIFAR-10N has per image


class SharpnessExplorer:
    """Flip rate by difficulty and the seeds' joint errors, for a sharpness chosen by a slider.

    scores: each training sample's difficulty (e.g. ``nblib.sweep.difficulty_scores(config)[0]``);
    labels: the clean labels; T: the transition matrix; seeds: the noise seeds drawn (3 = the
    lesson's seeds, read as three annotators of the same images; the first ``ANNOTATORS`` are used).
    """

    def __init__(self, scores, labels, T, seeds=(0, 1, 2)):
        self.scores = np.asarray(scores, dtype=np.float64)
        self.labels = labels.detach().cpu().numpy() if hasattr(labels, "detach") else np.asarray(labels)
        self.T, self.seeds = np.asarray(T, dtype=np.float64), tuple(seeds)[:ANNOTATORS]
        self.fig, axes = live_figure(ncols=2, width=4.1, height=3.1, bottom=0.2, top=0.8)
        self.ax_rate, self.ax_joint = axes[0]
        x = np.arange(BINS)
        flat = self.flip_rates(0.0)
        self.ax_rate.bar(x - 0.2, flat, 0.4, color=OKABE_ITO["grey"], label="class-conditional (sharpness 0)")
        self.rate_bars = self.ax_rate.bar(x + 0.2, flat, 0.4, color=OKABE_ITO["vermillion"], label="this sharpness")
        self.ax_rate.set_xticks(x, FIFTHS)
        self.ax_rate.set_xlabel("difficulty fifth within the class")
        self.ax_rate.set_ylabel("labels flipped")
        self.ax_rate.set_ylim(0, 1)
        self.ax_rate.legend(fontsize=7, loc="upper left")
        k = np.arange(len(self.seeds) + 1)
        human = human_noise.joint_errors()
        ratio = human["observed"] / human["independent"]
        self.ax_joint.plot(np.arange(len(ratio)), ratio, "D", color=OKABE_ITO["black"],
                           label=f"CIFAR-10N's {len(ratio) - 1} annotators")
        self.joint_bars = self.ax_joint.bar(k, np.ones(len(k)), 0.6, color=OKABE_ITO["sky"],
                                            label=f"{len(self.seeds)} noise seeds on digits")
        self.ax_joint.axhline(1.0, color=OKABE_ITO["grey"], lw=0.8)
        self.ax_joint.set_ylim(0, RATIO_MAX)
        self.ax_joint.set_xticks(np.arange(max(len(k), len(ratio))))
        self.ax_joint.set_xlabel("draws wrong on the same sample")
        self.ax_joint.set_ylabel("observed / if independent")
        self.ax_joint.legend(fontsize=7, loc="upper left")
        self.title = self.fig.suptitle("", fontsize=10)
        self.live = LiveFigure(self.fig, [*self.rate_bars, *self.joint_bars, self.title], self._update)

    def masks(self, sharpness: float) -> np.ndarray:
        """(seeds, N) flipped masks of instance-dependent noise with this sharpness."""
        w = instance_noise.instance_flip_weights(self.scores, self.labels, sharpness)
        return np.array([instance_noise.corrupt_labels_instance(self.labels, self.T, w, seed=s)[1] for s in self.seeds])

    def flip_rates(self, sharpness: float) -> np.ndarray:
        """Flip rate per difficulty fifth, averaged over the seeds."""
        return np.mean([instance_noise.flip_rate_by_difficulty(m, self.scores, self.labels, BINS)
                        for m in self.masks(sharpness)], axis=0)

    def _update(self, sharpness: float):
        masks = self.masks(sharpness)
        rates = np.mean([instance_noise.flip_rate_by_difficulty(m, self.scores, self.labels, BINS) for m in masks], axis=0)
        joint = noise.joint_wrong_counts(masks, self.labels)
        ratio = joint["observed"] / joint["independent"]
        for bar, v in zip(self.rate_bars, rates):
            bar.set_height(v)
        for bar, v in zip(self.joint_bars, ratio):
            bar.set_height(min(v, RATIO_MAX))
        n = len(self.seeds)
        self.title.set_text(f"all {n} wrong: {joint['observed'][-1]} samples, {ratio[-1]:.1f}x independent")

    def draw(self, sharpness: float):
        """The figure at ``sharpness`` (static use and tests)."""
        return self.live.draw(sharpness=sharpness)

    def png(self, sharpness: float) -> bytes:
        """PNG bytes at ``sharpness``: what the slider shows."""
        return self.live.png(sharpness=sharpness)

    def widget(self, sharpness: float = 3.0):
        """The slider (redraws while dragging) above the figure."""
        lo, hi, step = SHARPNESS_RANGE
        return interact_png(self.png, {"sharpness": slider("sharpness", sharpness, lo, hi, step, readout_format=".1f")})
