"""Label noise: transition matrices T and the corruption of clean labels with them.

Convention (used everywhere in nblib): ``T[i, j] = P(noisy = j | true = i)``, rows sum to 1.

Noise models (Patrini et al. 2017; also used by GCE and APL), rate eta:

- symmetric:   T = (1 - eta) I + eta / (K - 1) (11^T - I)   the label never lands on the true class,
               so the expected flip rate is eta. Variant ``include_true=True``:
               T = (1 - eta) I + eta / K 11^T                the uniform draw may hit the true class,
               so the expected flip rate is only eta (K - 1) / K.
- pair:        i -> (i + 1) mod K with probability eta.
- asymmetric:  a named map {src: dst}, T[src, src] = 1 - eta, T[src, dst] = eta, other rows identity.
               ``mnist``/``digits`` 7->1, 2->7, 5<->6, 3->8; ``cifar10`` truck->automobile (9->1),
               bird->airplane (2->0), deer->horse (4->7), cat<->dog (3<->5); ``cifar100`` each fine
               class -> the next fine class of its *real* superclass (cyclic within the 5). The
               official codes use blocks of 5 consecutive indices, which are not superclasses,
               because the fine labels are in alphabetical order.

The expected flip rate of T under a class prior pi is  1 - sum_i pi_i T[i, i]. The realised rate of a
particular corruption differs from it by sampling error (``exact=False``) or rounding (``exact=True``),
so always report ``realised_rate`` next to the nominal rate.
"""
from __future__ import annotations

import warnings

import numpy as np

from ._checks import (check_bool, check_choice, check_in_range, check_int, check_labels, check_real_array,
                      check_transition_matrix)
from ._labels import ROUND_TOL, as_bool, corruption_inputs, corruption_outputs, exact_counts, to_numpy

NOISE_KINDS = ("symmetric", "pair", "asymmetric")

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")

CIFAR100_FINE_NAMES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup",
    "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house",
    "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man",
    "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid",
    "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy",
    "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal",
    "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar",
    "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)

# The 20 coarse classes in their official order (coarse label c is the c-th key), by fine names.
CIFAR100_SUPERCLASS_NAMES = {
    "aquatic_mammals": ("beaver", "dolphin", "otter", "seal", "whale"),
    "fish": ("aquarium_fish", "flatfish", "ray", "shark", "trout"),
    "flowers": ("orchid", "poppy", "rose", "sunflower", "tulip"),
    "food_containers": ("bottle", "bowl", "can", "cup", "plate"),
    "fruit_and_vegetables": ("apple", "mushroom", "orange", "pear", "sweet_pepper"),
    "household_electrical_devices": ("clock", "keyboard", "lamp", "telephone", "television"),
    "household_furniture": ("bed", "chair", "couch", "table", "wardrobe"),
    "insects": ("bee", "beetle", "butterfly", "caterpillar", "cockroach"),
    "large_carnivores": ("bear", "leopard", "lion", "tiger", "wolf"),
    "large_man-made_outdoor_things": ("bridge", "castle", "house", "road", "skyscraper"),
    "large_natural_outdoor_scenes": ("cloud", "forest", "mountain", "plain", "sea"),
    "large_omnivores_and_herbivores": ("camel", "cattle", "chimpanzee", "elephant", "kangaroo"),
    "medium_mammals": ("fox", "porcupine", "possum", "raccoon", "skunk"),
    "non-insect_invertebrates": ("crab", "lobster", "snail", "spider", "worm"),
    "people": ("baby", "boy", "girl", "man", "woman"),
    "reptiles": ("crocodile", "dinosaur", "lizard", "snake", "turtle"),
    "small_mammals": ("hamster", "mouse", "rabbit", "shrew", "squirrel"),
    "trees": ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"),
    "vehicles_1": ("bicycle", "bus", "motorcycle", "pickup_truck", "train"),
    "vehicles_2": ("lawn_mower", "rocket", "streetcar", "tank", "tractor"),
}
# CIFAR100_SUPERCLASSES[c] = sorted fine-label indices of coarse class c (derived from the names).
CIFAR100_SUPERCLASSES = tuple(tuple(sorted(CIFAR100_FINE_NAMES.index(n) for n in names))
                              for names in CIFAR100_SUPERCLASS_NAMES.values())

_MNIST_MAP = {7: 1, 2: 7, 5: 6, 6: 5, 3: 8}
ASYMMETRIC_MAPS = {
    "mnist": _MNIST_MAP,
    "digits": dict(_MNIST_MAP),
    "cifar10": {9: 1, 2: 0, 4: 7, 3: 5, 5: 3},
    "cifar100": {g[k]: g[(k + 1) % len(g)] for g in CIFAR100_SUPERCLASSES for k in range(len(g))},
}


# the asymmetric map of each dataset (MNIST-like sets share the digit confusions of Patrini et al.)
DATASET_MAPPING = {"digits": "digits", "mnist1d": "mnist", "fashion_mnist": "mnist", "cifar10": "cifar10",
                   "cifar10n": "cifar10", "cifar100": "cifar100", "cifar100n": "cifar100"}


def default_mapping(dataset: str) -> str:
    """The name in ``ASYMMETRIC_MAPS`` of ``dataset``'s asymmetric noise (the MNIST map if it has none)."""
    return DATASET_MAPPING.get(dataset, "mnist")


def _check_mapping(mapping, num_classes: int) -> dict:
    """Resolve a map name (or a {src: dst} dict) and check every class index is < num_classes."""
    if isinstance(mapping, str):
        mapping = ASYMMETRIC_MAPS[check_choice("mapping", mapping, ASYMMETRIC_MAPS)]
    if not isinstance(mapping, dict) or not mapping:
        raise ValueError(f"mapping must be one of {tuple(ASYMMETRIC_MAPS)} or a non-empty {{src: dst}} dict, "
                         f"got {mapping!r}")
    for src, dst in mapping.items():
        for c in (src, dst):
            check_int("mapping class", c)
            if not 0 <= c < num_classes:
                raise ValueError(f"mapping classes must be in [0, {num_classes - 1}] for num_classes="
                                 f"{num_classes}, got {src}->{dst} (use a larger num_classes or another map)")
        if src == dst:
            raise ValueError(f"mapping must send a class to another class, got {src}->{dst}")
    return mapping


def transition_matrix(kind: str, num_classes: int, rate: float, *, include_true: bool = False,
                      mapping="mnist") -> np.ndarray:
    """Noise transition matrix T (K, K), ``T[i, j] = P(noisy = j | true = i)``, float64.

    kind="symmetric":  T = (1 - rate) I + rate / (K - 1) (11^T - I); flip rate = rate.
        include_true=True: T = (1 - rate) I + rate / K 11^T; the uniform draw can land on the true
        class, so the *realised* flip rate is rate (K - 1) / K, not rate.
    kind="pair":       T[i, i] = 1 - rate, T[i, (i + 1) mod K] = rate.
    kind="asymmetric": for each src -> dst of ``mapping`` (a name in ``ASYMMETRIC_MAPS`` or a dict)
        T[src, src] = 1 - rate, T[src, dst] = rate; every other row is the identity row.

    ``rate`` must be in [0, 1]. A ``UserWarning`` is raised when some row has T[i, i] <= T[i, j] for a
    j != i (symmetric with rate >= (K - 1) / K, pair/asymmetric with rate >= 1/2): the true class is
    then no longer the most likely noisy label, and the robustness guarantees of symmetric losses
    (Ghosh et al. 2017: 1 - eta_i > eta_ij) no longer hold.
    """
    check_choice("kind", kind, NOISE_KINDS)
    K = check_int("num_classes", num_classes, 2)
    check_in_range("rate", rate, 0, 1)
    include_true = check_bool("include_true", include_true)
    if kind == "symmetric":
        if include_true:
            T = (1 - rate) * np.eye(K) + rate / K * np.ones((K, K))
        else:
            T = (1 - rate) * np.eye(K) + rate / (K - 1) * (np.ones((K, K)) - np.eye(K))
    else:
        pairs = {i: (i + 1) % K for i in range(K)} if kind == "pair" else _check_mapping(mapping, K)
        T = np.eye(K)
        for src, dst in pairs.items():
            T[src, src], T[src, dst] = 1 - rate, rate
    off = T - np.diag(np.diag(T))
    if np.any((off.max(axis=1) > 0) & (np.diag(T) <= off.max(axis=1) + ROUND_TOL)):
        warnings.warn(f"{kind} noise with rate={rate} for K={K}: some true class is no more likely than a "
                      f"wrong one (T[i, i] <= T[i, j]); labels are not recoverable by majority", stacklevel=2)
    return T


def corrupt_labels(labels, T, seed: int = 0, exact: bool = False):
    """Corrupt clean labels with transition matrix T; return ``(noisy, flipped_mask)``.

    ``labels``: integer class indices in [0, K) (torch tensor, NumPy array or list). The output keeps
    the type: a tensor comes back as a tensor of the same dtype on the same device (mask: bool tensor),
    anything else as NumPy arrays.

    exact=False (Patrini): each label is drawn independently, noisy_n ~ Categorical(T[y_n]), using
    cumulative row sums and one uniform draw per sample. Per-class flip counts are binomial.
    exact=True: for each class i with n_i samples, exactly m_i = round(n_i (1 - T[i, i])) samples
    (round half up) are flipped, split among j != i by largest remainder of n_i T[i, j] (each count is
    within 1 of n_i T[i, j]); which samples get which label is a random permutation.
    The APL code flips exactly int(eta n_c) per class, *sequentially* (cat -> dog, then dog -> cat on
    the already-flipped labels), which biases the realised T; here every class is flipped from the
    clean labels at once.

    Randomness comes only from ``numpy.random.default_rng(seed)``; global RNG state is untouched.
    """
    T, y, shape, rng = corruption_inputs(labels, T, seed)
    K = T.shape[0]
    exact = check_bool("exact", exact)
    if exact:
        noisy = np.empty_like(y)
        for i in range(K):
            idx = np.flatnonzero(y == i)
            if idx.size:
                noisy[rng.permutation(idx)] = np.repeat(np.arange(K), exact_counts(T[i], i, idx.size))
    else:
        cum = np.cumsum(T, axis=1)
        last = K - 1 - np.argmax(T[:, ::-1] > 0, axis=1)  # last class with T[i, j] > 0
        u = rng.random(y.size)
        noisy = np.minimum((u[:, None] >= cum[y]).sum(axis=1), last[y])
    return corruption_outputs(labels, noisy, y, shape)


def _pair(clean, noisy):
    c, n = to_numpy(clean), to_numpy(noisy)
    if c.shape != n.shape:
        raise ValueError(f"clean and noisy must have the same shape, got {c.shape} and {n.shape}")
    if c.size == 0:
        raise ValueError("clean must contain at least one label, got an empty array")
    return c.reshape(-1), n.reshape(-1)


def realised_rate(clean, noisy) -> float:
    """Fraction of labels that differ: mean(noisy != clean)."""
    c, n = _pair(clean, noisy)
    return float(np.mean(c != n))


def empirical_transition(clean, noisy, num_classes: int) -> np.ndarray:
    """Empirical T: ``T_emp[i, j] = #{clean = i, noisy = j} / #{clean = i}`` (float64 (K, K)).

    Rows of classes that do not occur in ``clean`` are NaN (there is nothing to estimate them from).
    """
    K = check_int("num_classes", num_classes, 2)
    check_labels(clean, K, name="clean")
    check_labels(noisy, K, name="noisy")
    c, n = _pair(clean, noisy)
    counts = np.bincount(c.astype(np.int64) * K + n.astype(np.int64), minlength=K * K).reshape(K, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / counts.sum(axis=1, keepdims=True)


def expected_flip_rate(T, class_prior=None) -> float:
    """Expected fraction of flipped labels, 1 - sum_i pi_i T[i, i].

    ``class_prior`` pi defaults to uniform (1/K each); it is normalised to sum 1, so class counts
    (e.g. ``np.bincount(y)``) work too.
    """
    T = check_transition_matrix(T)
    K = T.shape[0]
    if class_prior is None:
        pi = np.full(K, 1.0 / K)
    else:
        pi = check_real_array("class_prior", class_prior, "a (K,) vector")
        if pi.shape != (K,) or not np.all(np.isfinite(pi)) or np.any(pi < 0) or pi.sum() <= 0:
            raise ValueError(f"class_prior must be {K} finite non-negative weights with a positive sum, "
                             f"got {class_prior!r}")
        pi = pi / pi.sum()
    return float(1 - pi @ np.diag(T))


def condition_number(T) -> float:
    """2-norm condition number of T (inf when singular): how much T^-1, and with it backward
    correction, amplifies errors (see ``nblib.losses.MAX_COND``)."""
    return float(np.linalg.cond(check_transition_matrix(T)))


def singular_rate(kind: str, num_classes: int, **kw) -> float:
    """The smallest rate in (0, 1] at which ``transition_matrix(kind, num_classes, rate, **kw)`` is
    singular; inf if T stays invertible for every rate up to 1.

    These matrices are linear in the rate, T(eta) = (1 - eta) I + eta P with P = T(1), so their
    eigenvalues are (1 - eta) + eta lambda for the eigenvalues lambda of P, and T(eta) is singular
    where some real lambda < 1 gives eta = 1 / (1 - lambda). Symmetric noise: lambda = -1/(K - 1),
    eta* = (K - 1)/K (0.9 for K = 10); a swap of two classes (MNIST's 5 <-> 6): lambda = -1, eta* = 1/2.
    """
    with warnings.catch_warnings():   # rate 1 is far from diagonally dominant; P is only a device here
        warnings.simplefilter("ignore")
        P = transition_matrix(kind, num_classes, 1.0, **kw)
    lam = np.linalg.eigvals(P)
    real = lam.real[(np.abs(lam.imag) < 1e-9) & (lam.real < 1 - 1e-9)]
    rates = 1.0 / (1.0 - real)
    rates = rates[rates <= 1 + 1e-12]
    return float(rates.min()) if len(rates) else float("inf")


def binary_transition(e01: float, e10: float) -> np.ndarray:
    """The 2 x 2 T of two classes with flip rates e01 = P(noisy 1 | true 0) and e10 = P(noisy 0 | true 1).

    Both in [0, 1) with e01 + e10 < 1 (det T = 1 - e01 - e10: at e01 + e10 = 1 the label says
    nothing about the class, beyond it the classes are swapped).
    """
    check_in_range("e01", e01, 0, 1, hi_open=True)
    check_in_range("e10", e10, 0, 1, hi_open=True)
    if e01 + e10 >= 1:
        raise ValueError(f"e01 + e10 must be < 1 (else T is singular or swaps the classes), got {e01 + e10:.3g}")
    return np.array([[1 - e01, e01], [e10, 1 - e10]], dtype=np.float64)


def blend_transitions(T, T_wrong, weight: float) -> np.ndarray:
    """(1 - weight) T + weight T_wrong: a transition matrix that is wrong by ``weight`` in [0, 1]."""
    T = check_transition_matrix(T)
    T_wrong = check_transition_matrix(T_wrong, num_classes=T.shape[0], name="T_wrong")
    check_in_range("weight", weight, 0, 1)
    return (1 - weight) * T + weight * T_wrong


def detection_scores(flagged, flipped) -> dict:
    """How well a set of flagged samples (e.g. pruned by truncated Lq) finds the flipped ones.

    precision = |flagged & flipped| / |flagged|  (how many flagged samples really were flipped),
    recall    = |flagged & flipped| / |flipped|  (how many flipped samples got flagged);
    nan where undefined. Both arguments: boolean arrays or tensors of the same length.
    """
    flagged, flipped = as_bool(flagged, "flagged"), as_bool(flipped, "flipped")
    if flagged.shape != flipped.shape:
        raise ValueError(f"flagged and flipped must have the same shape, got {flagged.shape} and {flipped.shape}")
    hits = int((flagged & flipped).sum())
    n_flagged, n_flipped = int(flagged.sum()), int(flipped.sum())
    return dict(n_flagged=n_flagged, n_flipped=n_flipped, flagged_and_flipped=hits,
                precision=hits / n_flagged if n_flagged else float("nan"),
                recall=hits / n_flipped if n_flipped else float("nan"))


def noise_summary(T, class_prior=None) -> dict:
    """A few numbers that describe T, for printing next to a heatmap.

    expected_flip_rate: 1 - sum_i pi_i T[i, i] (uniform pi by default);
    min_diagonal, max_off_diagonal: is every true class still the most likely noisy label?
    diagonally_dominant: T[i, i] > T[i, j] for all j != i (the condition of Ghosh et al. 2017);
    condition_number: cond(T) (inf if singular); large values make backward correction (T^-1) noisy.
    """
    T = check_transition_matrix(T)
    off = T - np.diag(np.diag(T))
    return {
        "num_classes": T.shape[0],
        "expected_flip_rate": expected_flip_rate(T, class_prior),
        "min_diagonal": float(np.diag(T).min()),
        "max_off_diagonal": float(off.max()),
        "diagonally_dominant": bool(np.all(np.diag(T) > off.max(axis=1))),
        "condition_number": condition_number(T),
    }


# ------------------------------------------------------------------------------------------------
# What a transition matrix satisfies, and whether several annotators' errors are independent.

UNIFORM_TOL = 1e-9   # off-diagonal entries closer than this count as equal (symmetric noise)


def row_margins(T) -> np.ndarray:
    """(K,) per row, ``T[i, i] - max_{j != i} T[i, j]``: > 0 where the true class is still the most
    frequent label of its row (the "diagonally dominant" condition of the robust-loss theorems)."""
    T = check_transition_matrix(T)
    off = np.where(np.eye(T.shape[0], dtype=bool), -np.inf, T)
    return np.diag(T) - off.max(axis=1)


def transition_properties(T) -> dict:
    """The properties of T that the robustness theorems of the course assume, as numbers.

    Adds to :func:`noise_summary` (flip rate, min diagonal, diagonally dominant, cond(T)):
    ``min_margin``: min_i (T[i, i] - max_{j != i} T[i, j]); > 0 exactly when T is diagonally dominant
    (Ghosh et al. 2017, GCE Thm 2, APL Thm 2: 1 - eta_y > eta_yk);
    ``uniform_off_diagonal``: every off-diagonal entry equal, i.e. symmetric (uniform) noise, the
    condition of the symmetric-noise theorems (MAE, GCE Thm 1, APL Thm 1);
    ``max_asymmetry``: max_ij |T[i, j] - T[j, i]| (0 when i -> j is as likely as j -> i);
    ``min_singular_value``: 0 when T is singular (backward correction needs T^-1);
    ``max_abs_inverse``: the largest |entry| of T^-1;
    ``inverse_inf_norm``: ||T^-1||_inf = max_i sum_j |(T^-1)_ij|, the largest row sum of |entries|. A
    backward-corrected loss is a row of T^-1 times the vector of per-class losses, so it is bounded
    by it: |(T^-1 l)_i| <= ||T^-1||_inf max_j l_j (Patrini et al. 2017, with l_j = -log p_j).
    Both are inf when T is singular.
    """
    T = check_transition_matrix(T)
    out = noise_summary(T)
    K = T.shape[0]
    off = T[~np.eye(K, dtype=bool)]
    out["min_margin"] = float(row_margins(T).min())
    out["uniform_off_diagonal"] = bool(off.max() - off.min() <= UNIFORM_TOL and np.ptp(np.diag(T)) <= UNIFORM_TOL)
    out["max_asymmetry"] = float(np.abs(T - T.T).max())
    sv = np.linalg.svd(T, compute_uv=False)
    out["min_singular_value"] = float(sv.min())
    singular = sv.min() <= sv.max() * K * np.finfo(np.float64).eps       # numpy's matrix_rank tolerance
    inverse = None if singular else np.abs(np.linalg.inv(T))
    out["max_abs_inverse"] = float("inf") if singular else float(inverse.max())
    out["inverse_inf_norm"] = float("inf") if singular else float(inverse.sum(axis=1).max())
    return out


def independent_wrong_counts(error_rates, class_counts) -> np.ndarray:
    """Expected number of samples that 0, 1, ..., A annotators get wrong, if the A annotators erred
    independently given the true class: ``(A + 1,)`` floats.

    error_rates: (A, K), annotator a's error rate on class k (e.g. 1 - its T[k, k]);
    class_counts: (K,) samples per class. Within class k the number wrong is then Poisson-binomial
    with the rates error_rates[:, k]; the counts are the sum over classes. Class-conditional noise
    from independent annotators gives this; errors that concentrate on hard samples give more
    samples with all annotators wrong (and with none wrong).
    """
    E = np.atleast_2d(np.asarray(error_rates, dtype=np.float64))
    n = np.asarray(class_counts, dtype=np.float64).reshape(-1)
    if E.shape[1] != n.size:
        raise ValueError(f"error_rates must be (annotators, K) with K = len(class_counts) = {n.size}, got {E.shape}")
    if not np.all((E >= 0) & (E <= 1)) or not np.all(n >= 0):
        raise ValueError("error_rates must be in [0, 1] and class_counts >= 0")
    out = np.zeros(E.shape[0] + 1)
    for k in range(n.size):
        dist = np.array([1.0])
        for e in E[:, k]:
            dist = np.convolve(dist, [1 - e, e])
        out += n[k] * dist
    return out


def joint_wrong_counts(wrong, labels) -> dict:
    """How many samples 0, 1, ..., A annotators got wrong, observed and if they were independent.

    wrong: (A, N) boolean, wrong[a, n] = annotator (or noise draw) a's label of sample n is wrong;
    labels: (N,) true classes. Returns ``{"observed": (A + 1,) ints, "independent": (A + 1,)
    floats}``, the latter from :func:`independent_wrong_counts` with each annotator's per-class
    error rates measured on these samples.
    """
    W = np.atleast_2d(as_bool(wrong, "wrong"))
    y = np.asarray(to_numpy(labels)).reshape(-1)
    if W.shape[1] != y.size:
        raise ValueError(f"wrong must be (annotators, N) with N = len(labels) = {y.size}, got {W.shape}")
    classes = np.unique(y)
    rates = np.array([[W[a, y == c].mean() for c in classes] for a in range(W.shape[0])])
    return {"observed": np.bincount(W.sum(axis=0), minlength=W.shape[0] + 1),
            "independent": independent_wrong_counts(rates, [np.sum(y == c) for c in classes])}
