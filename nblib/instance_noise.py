"""Instance-dependent noise: the class-conditional counts of T, but hard samples flip first.

Human annotators do not flip labels at random within a class: they err on the ambiguous images.
``corrupt_labels_instance`` keeps everything class-conditional noise fixes (how many labels of each
class flip and to which classes: the realised T) and changes only *which* samples flip, drawn by
weights that rise with a difficulty score (e.g. a clean model's uncertainty, nblib.difficulty).
"""
from __future__ import annotations

import numpy as np

from ._checks import check_in_range, check_int, check_real_array
from ._labels import ROUND_TOL, as_bool, corruption_inputs, corruption_outputs, exact_counts, to_numpy


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` (smallest = 1); tied values share their average rank."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.r_[0, np.flatnonzero(np.diff(xs)) + 1]
    ends = np.r_[starts[1:], len(xs)]
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def _scores_and_labels(scores, labels):
    s = check_real_array("scores", scores, "one number per sample").reshape(-1)
    y = np.asarray(to_numpy(labels)).reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f"scores must have one value per label ({y.size}), got {s.size}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    return s, y


def difficulty_ranks(scores, labels) -> np.ndarray:
    """Each sample's difficulty rank within its own class, scaled to (0, 1]: ``r_n = rank_n / n_i``.

    scores: one difficulty per sample (larger = harder, e.g. ``1 - p(true class | x)``);
    labels: the (clean) class of each sample. The hardest sample of each class gets 1, the easiest
    1/n_i; tied scores share their average rank. Ranks *within* a class do not depend on the scale
    of the scores, nor on how hard a class is as a whole.
    """
    s, y = _scores_and_labels(scores, labels)
    r = np.empty(len(s), dtype=np.float64)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        r[idx] = _average_ranks(s[idx]) / idx.size
    return r


def instance_flip_weights(scores, labels, sharpness: float) -> np.ndarray:
    """Flip weights that rise with difficulty: ``w_n = r_n ** sharpness`` (r from :func:`difficulty_ranks`).

    sharpness = 0: every weight 1, i.e. class-conditional noise (any sample of a class as likely
    to flip as any other); larger values make the hardest samples of each class flip first (with
    sharpness s, the hardest sample is drawn 2**s times as readily as the class median).
    """
    check_in_range("sharpness", sharpness, 0, None)
    return difficulty_ranks(scores, labels) ** float(sharpness)


def corrupt_labels_instance(labels, T, weights, seed: int = 0):
    """Instance-dependent corruption with the class-conditional counts of T: ``(noisy, flipped_mask)``.

    Per class i (n_i samples) the flip counts are those of ``corrupt_labels(..., exact=True)``:
    m_i = round(n_i (1 - T[i, i])) flips, split among j != i by largest remainder. So the realised
    noise rate and the realised transition matrix are the same as for class-conditional noise,
    for every seed and every weight vector. What the weights decide is *which* samples flip: m_i
    of class i drawn without replacement, each next pick with probability proportional to its
    weight among those not picked yet (Efraimidis & Spirakis 2006: the m_i largest keys
    log(u_n) / w_n, u_n uniform). Their new labels are the flip counts in a random order.

    weights: one finite weight > 0 per sample (e.g. :func:`instance_flip_weights`); all equal gives
    class-conditional noise. Labels and outputs as in :func:`corrupt_labels`; randomness only from
    ``numpy.random.default_rng(seed)``.
    """
    T, y, shape, rng = corruption_inputs(labels, T, seed)
    K = T.shape[0]
    w = check_real_array("weights", weights, "one weight per sample").reshape(-1)
    if w.shape != y.shape:
        raise ValueError(f"weights must have one value per label ({y.size}), got {w.size}")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError("weights must be finite and > 0 (use instance_flip_weights)")
    keys = np.log(rng.random(y.size)) / w
    noisy = y.copy()
    for i in range(K):
        idx = np.flatnonzero(y == i)
        if not idx.size:
            continue
        counts = exact_counts(T[i], i, idx.size)
        flips = idx.size - counts[i]
        if flips:
            chosen = idx[np.argsort(-keys[idx], kind="stable")[:flips]]
            targets = np.repeat(np.arange(K), np.where(np.arange(K) == i, 0, counts))
            noisy[chosen] = rng.permutation(targets)
    return corruption_outputs(labels, noisy, y, shape)


def flip_rate_by_difficulty(flipped, scores, labels, bins: int = 5) -> np.ndarray:
    """Share of flipped samples in each within-class difficulty bin, easiest bin first: ``(bins,)``.

    Samples go to bin ``ceil(r * bins) - 1`` by their :func:`difficulty_ranks` r, pooled over
    classes. Class-conditional noise gives about the overall rate in every bin; instance-dependent
    noise a rate that rises from the easy bins to the hard ones.
    """
    bins = check_int("bins", bins, 1)
    f = as_bool(flipped, "flipped").reshape(-1)
    r = difficulty_ranks(scores, labels)
    if f.shape != r.shape:
        raise ValueError(f"flipped must have one value per label ({r.size}), got {f.size}")
    b = np.clip(np.ceil(r * bins - ROUND_TOL).astype(np.int64) - 1, 0, bins - 1)
    return np.array([f[b == k].mean() if np.any(b == k) else np.nan for k in range(bins)])
