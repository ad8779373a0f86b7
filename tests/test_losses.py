"""Tests of nblib.losses against independent NumPy implementations of shared/reference/FORMULAS.md.

The references below are written straight from the formulas (softmax, then the definition, with the
official code's clamps where it has them); they share no code with nblib.losses.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from nblib import losses as L
from nblib.losses import APL_PRESETS, DEFAULTS, LOSSES, SCE_PRESETS, make_loss

F64 = torch.float64
K = 5                       # classes in most tests
A_OFFICIAL = -math.log(1e-4)  # the official RCE scale, ~9.2103
FAST = settings(max_examples=10, deadline=None)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Every tensor here is tiny: one intra-op thread beats waking a pool (3x less CPU on 2 busy cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -----------------------------------------------------------------------------
# helpers: random batches, transition matrices, and the NumPy references

def batch(n=8, k=K, seed=0, scale=2.0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    z = scale * torch.randn(n, k, generator=g, dtype=dtype)
    y = torch.randint(0, k, (n,), generator=g)
    return z, y


def random_T(k=K, seed=0, eta=0.3):
    """(1 - eta) I + eta R with R row-stochastic: strictly diagonally dominant for eta < 0.5."""
    rng = np.random.default_rng(seed)
    return (1 - eta) * np.eye(k) + eta * rng.dirichlet(np.ones(k), size=k)


def pair_T(k=K, rate=0.3):
    T = (1 - rate) * np.eye(k)
    T[np.arange(k), (np.arange(k) + 1) % k] = rate
    return T


def np_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def onehot(y, k):
    return np.eye(k)[np.asarray(y)]


def r_ce(p, y):
    return -np.log(p[np.arange(len(y)), y])


def r_mae(p, y, variant="paper"):
    l1 = np.abs(p - onehot(y, p.shape[1])).sum(axis=1)  # ||p - e_y||_1
    return l1 if variant == "paper" else l1 / 2


def r_gce(p, y, q=0.7):
    return (1 - p[np.arange(len(y)), y] ** q) / q


def r_tgce(p, y, q=0.7, k=0.5):
    py = p[np.arange(len(y)), y]
    return np.where(py > k, (1 - py ** q) / q, (1 - k ** q) / q)


def r_rce(p, y, A=None):
    if A is None:  # the official code: clamp p to [1e-7, 1] and the one-hot to [1e-4, 1]
        pc = np.clip(p, 1e-7, 1.0)
        return -(pc * np.log(np.clip(onehot(y, p.shape[1]), 1e-4, 1.0))).sum(axis=1)
    return A * (1 - p[np.arange(len(y)), y])


def r_fl(p, y, gamma=0.5):
    py = p[np.arange(len(y)), y]
    return -((1 - py) ** gamma) * np.log(py)


def normalized(ref):
    """The definition L(f(x), y) / sum_k L(f(x), k) applied to a reference loss."""
    def norm(p, y, **kw):
        n, k = p.shape
        total = sum(ref(p, np.full(n, c), **kw) for c in range(k))
        return ref(p, y, **kw) / total
    return norm


REFERENCES = {
    "ce": lambda p, y: r_ce(p, y),
    "mae": lambda p, y, variant="paper": r_mae(p, y, variant),
    "gce": lambda p, y, q=0.7: r_gce(p, y, q),
    "tgce": lambda p, y, q=0.7, k=0.5: r_tgce(p, y, q, k),
    "rce": lambda p, y, A=None: r_rce(p, y, A),
    "sce": lambda p, y, alpha=0.1, beta=1.0: alpha * r_ce(p, y) + beta * r_rce(p, y),
    "fl": lambda p, y, gamma=0.5, detach=True: r_fl(p, y, gamma),
    "nce": lambda p, y: normalized(r_ce)(p, y),
    "nfl": lambda p, y, gamma=0.5, detach=True: normalized(r_fl)(p, y, gamma=gamma),
    "nmae": lambda p, y, variant="paper": (normalized(r_mae)(p, y) if variant == "paper"
                                           else (1 - p[np.arange(len(y)), y]) / (2 * (p.shape[1] - 1))),
    "nrce": lambda p, y, variant="intended": r_rce(p, y) * (1 / (4 * (p.shape[1] - 1)) if variant == "intended"
                                                          else (p.shape[1] - 1) / 4),
    "ngce": lambda p, y, q=0.7: normalized(r_gce)(p, y, q=q),
    "nce+rce": lambda p, y, alpha=1.0, beta=1.0: alpha * normalized(r_ce)(p, y) + beta * r_rce(p, y),
    "nce+mae": lambda p, y, alpha=1.0, beta=1.0, mae_variant="apl": (
        alpha * normalized(r_ce)(p, y) + beta * r_mae(p, y, mae_variant)),
    "nfl+rce": lambda p, y, alpha=1.0, beta=1.0, gamma=0.5, detach=True: (
        alpha * normalized(r_fl)(p, y, gamma=gamma) + beta * r_rce(p, y)),
    "nfl+mae": lambda p, y, alpha=1.0, beta=1.0, gamma=0.5, detach=True: (
        alpha * normalized(r_fl)(p, y, gamma=gamma) + beta * r_mae(p, y, "apl")),
    "forward": lambda p, y, T: -np.log((p @ T)[np.arange(len(y)), y]),
    "backward": lambda p, y, T: (-np.log(p) @ np.linalg.inv(T).T)[np.arange(len(y)), y],
}

# (name, params): defaults, the other variant, and a non-default value for every hyper-parameter
CASES = [
    ("ce", {}), ("mae", {}), ("mae", {"variant": "apl"}), ("gce", {}), ("gce", {"q": 0.3}),
    ("tgce", {}), ("tgce", {"q": 0.4, "k": 0.3}), ("rce", {}), ("rce", {"A": 4.0}),
    ("sce", {}), ("sce", dict(SCE_PRESETS["cifar100"])), ("fl", {}), ("fl", {"gamma": 2.0, "detach": False}),
    ("nce", {}), ("nfl", {}), ("nfl", {"gamma": 1.5, "detach": False}), ("nmae", {}),
    ("nmae", {"variant": "official"}), ("nrce", {}), ("nrce", {"variant": "official"}), ("ngce", {}),
    ("ngce", {"q": 0.2}), ("nce+rce", {}), ("nce+rce", dict(APL_PRESETS["mnist"]["nce+rce"])),
    ("nce+mae", {}), ("nce+mae", {"mae_variant": "paper", "alpha": 10.0}), ("nfl+rce", {}),
    ("nfl+rce", {"gamma": 1.0, "detach": False, "beta": 0.1}), ("nfl+mae", {}),
    ("nfl+mae", dict(APL_PRESETS["cifar100"]["nfl+mae"])),
    ("forward", {"T": random_T()}), ("forward", {"T": pair_T()}), ("backward", {"T": random_T(seed=1)}),
]
IDS = [f"{n}-{'-'.join(map(str, p.values())) if n not in ('forward', 'backward') else i}"
       for i, (n, p) in enumerate(CASES)]


def reference(name, p, y, params):
    """The reference value; its rce uses the official clamps unless a case sets A explicitly."""
    return REFERENCES[name](p, y, **params)


# -----------------------------------------------------------------------------
# values against the references

def test_losses_tuple_matches_contract():
    assert LOSSES == ("ce", "mae", "gce", "tgce", "rce", "sce", "fl", "nce", "nfl", "nmae", "nrce", "ngce",
                      "nce+rce", "nce+mae", "nfl+rce", "nfl+mae", "forward", "backward")
    assert {n for n, _ in CASES} == set(LOSSES)
    for name in ("nce_rce", "nce_mae", "nfl_rce", "nfl_mae", "forward", "backward"):
        assert callable(getattr(L, name))


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
@FAST
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 9))
def test_value_matches_reference(name, params, seed, n):
    z, y = batch(n=n, seed=seed)
    want = reference(name, np_softmax(z.numpy()), y.numpy(), params)
    fn = L._FUNCTIONS[name]
    got = fn(z, y, reduction="none", **params)
    assert got.shape == (n,) and got.dtype == F64
    # 1e-5: the official RCE also floors p at 1e-7, which nblib leaves out (< A K 1e-7)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-5 if "rce" in name else 1e-12)
    np.testing.assert_allclose(fn(z, y, **params).item(), want.mean(), rtol=1e-10, atol=1e-5)
    np.testing.assert_allclose(fn(z, y, reduction="sum", **params).item(), want.sum(), rtol=1e-10, atol=1e-4)


def test_rce_is_scaled_one_minus_p_y():
    z, y = batch(scale=1.0)
    p_y = torch.softmax(z, 1)[torch.arange(len(y)), y]
    torch.testing.assert_close(L.rce(z, y, reduction="none"), A_OFFICIAL * (1 - p_y))
    torch.testing.assert_close(L.rce(z, y, A=4.0, reduction="none"), 4.0 * (1 - p_y))  # the paper's |A|


def test_float32_in_float32_out():
    z, y = batch(dtype=torch.float32)
    for name, params in CASES:
        out = L._FUNCTIONS[name](z, y, reduction="none", **params)
        assert out.dtype == torch.float32, name
        want = L._FUNCTIONS[name](z.double(), y, reduction="none", **params)
        torch.testing.assert_close(out.double(), want, rtol=1e-4, atol=1e-4)


# -----------------------------------------------------------------------------
# limits and relations between losses

def test_gce_limits():
    z, y = batch()
    ce = L.ce(z, y, reduction="none")
    torch.testing.assert_close(L.gce(z, y, q=1e-4, reduction="none"), ce, rtol=1e-3, atol=0)
    torch.testing.assert_close(L.gce(z, y, q=1e-8, reduction="none"), ce, rtol=1e-7, atol=0)
    gaps = [(L.gce(z, y, q=q, reduction="none") - ce).abs().max() for q in (0.5, 0.1, 0.01)]
    assert gaps[0] > gaps[1] > gaps[2]  # Lq -> CCE as q -> 0
    p_y = torch.softmax(z, 1)[torch.arange(len(y)), y]
    torch.testing.assert_close(L.gce(z, y, q=1.0, reduction="none"), 1 - p_y)
    torch.testing.assert_close(L.gce(z, y, q=1.0, reduction="none"), L.mae(z, y, variant="apl", reduction="none"))


def test_mae_paper_is_twice_apl_and_nmae_variants():
    z, y = batch()
    apl = L.mae(z, y, variant="apl", reduction="none")
    torch.testing.assert_close(L.mae(z, y, reduction="none"), 2 * apl)
    torch.testing.assert_close(L.nmae(z, y, reduction="none"), apl / (K - 1))
    torch.testing.assert_close(L.nmae(z, y, variant="official", reduction="none"), apl / (2 * (K - 1)))


def test_nrce_variants():
    z, y = batch()
    intended = L.nrce(z, y, reduction="none")
    torch.testing.assert_close(L.nrce(z, y, variant="official", reduction="none"), intended * (K - 1) ** 2)
    # with the paper's A = 4 the intended normalizer gives exactly RCE / sum_k RCE = NMAE
    torch.testing.assert_close(L.nrce(z, y, A=4.0, reduction="none"), L.nmae(z, y, reduction="none"))


def test_focal_gamma_zero_is_ce():
    z, y = batch()
    for detach in (True, False):
        torch.testing.assert_close(L.fl(z, y, gamma=0.0, detach=detach), L.ce(z, y))


def test_apl_pairs_are_weighted_sums():
    z, y = batch()
    kw = dict(reduction="none")
    torch.testing.assert_close(L.nce_rce(z, y, alpha=2.0, beta=3.0, **kw),
                               2 * L.nce(z, y, **kw) + 3 * L.rce(z, y, **kw))
    torch.testing.assert_close(L.nce_mae(z, y, alpha=2.0, beta=3.0, **kw),
                               2 * L.nce(z, y, **kw) + 3 * L.mae(z, y, variant="apl", **kw))
    torch.testing.assert_close(L.nfl_rce(z, y, gamma=1.0, **kw), L.nfl(z, y, gamma=1.0, **kw) + L.rce(z, y, **kw))
    torch.testing.assert_close(L.nfl_mae(z, y, mae_variant="paper", **kw), L.nfl(z, y, **kw) + L.mae(z, y, **kw))
    torch.testing.assert_close(L.sce(z, y, alpha=0.5, beta=2.0, **kw), 0.5 * L.ce(z, y, **kw) + 2 * L.rce(z, y, **kw))


# -----------------------------------------------------------------------------
# symmetry: sum_k L(f(x), k) is constant for symmetric (e.g. normalized) losses

SYMMETRIC = {  # name or (name, params) -> the constant
    "mae": 2 * (K - 1), "rce": A_OFFICIAL * (K - 1), "nce": 1.0, "nmae": 1.0, "nrce": A_OFFICIAL / 4,
    "ngce": 1.0, "nfl": 1.0, "nce+rce": 1 + A_OFFICIAL * (K - 1), "nce+mae": 1.0 + (K - 1),
    "nfl+rce": 1 + A_OFFICIAL * (K - 1), "nfl+mae": 1.0 + (K - 1),
}


@pytest.mark.parametrize("name", sorted(SYMMETRIC))
def test_symmetric_losses_have_constant_class_sums(name):
    z, _ = batch(n=32, scale=3.0, seed=3)
    assert L.symmetry_gap(name, z) < 1e-10
    sums = L.class_sums(name, z)
    assert sums.shape == (32,) and not sums.requires_grad
    torch.testing.assert_close(sums, torch.full_like(sums, SYMMETRIC[name]))


def test_symmetry_of_variants():
    z, _ = batch(n=32, scale=3.0, seed=4)
    assert L.class_sums("mae", z, variant="apl").sub(K - 1).abs().max() < 1e-12
    assert L.class_sums("nmae", z, variant="official").sub(0.5).abs().max() < 1e-12
    assert L.symmetry_gap("nrce", z, variant="official") < 1e-10
    assert L.symmetry_gap("ngce", z, q=0.2) < 1e-10
    assert L.symmetry_gap(make_loss("nfl", K, gamma=2.0, detach=False), z) < 1e-10


@pytest.mark.parametrize("name,params", [("ce", {}), ("fl", {}), ("gce", {}), ("sce", {}),
                                         ("forward", {"T": random_T()})])
def test_non_symmetric_losses(name, params):
    z, _ = batch(n=32, scale=3.0, seed=3)
    assert L.symmetry_gap(name, z, **params) > 0.1


# -----------------------------------------------------------------------------
# loss correction

@FAST
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(2, 6), eta=st.floats(0.0, 0.45))
def test_backward_is_unbiased(seed, k, eta):
    T = random_T(k, seed, eta)
    z, _ = batch(n=4, k=k, seed=seed, scale=3.0)
    # per_label[:, j] = L_bwd(p, j);  sum_j T[c, j] L_bwd(p, j) must be -log p_c for every clean c
    per_label = torch.stack([L.backward(z, torch.full((4,), j), T, reduction="none") for j in range(k)], 1)
    expected = -torch.log_softmax(z, 1)
    torch.testing.assert_close(per_label @ torch.as_tensor(T).T, expected, rtol=1e-8, atol=1e-8)


def test_backward_can_be_negative():
    T = random_T(eta=0.45, seed=2)
    z, y = batch(n=64, scale=3.0)
    assert L.backward(z, y, T, reduction="none").min() < 0


@pytest.mark.parametrize("name", ["forward", "backward"])
def test_correction_with_identity_is_ce(name):
    z, y = batch(n=16, scale=5.0)
    for T in (np.eye(K), torch.eye(K)):
        torch.testing.assert_close(L._FUNCTIONS[name](z, y, T, reduction="none"), L.ce(z, y, reduction="none"))


def test_forward_with_zero_column_only_fails_for_impossible_labels():
    T = np.eye(K)
    T[2] = [0, 0, 0, 1, 0]  # label 2 always flips to 3: column 2 is all zero
    z, _ = batch()
    y = torch.tensor([0, 1, 3, 4])
    assert torch.isfinite(L.forward(z[:4], y, T))
    with pytest.raises(ValueError, match="column 2 of T is all zero"):
        L.forward(z[:4], torch.tensor([0, 2, 3, 4]), T)


# -----------------------------------------------------------------------------
# gradients

def gradcheck_case(name, params):
    if "detach" in DEFAULTS[name] and params.get("detach", True):
        return None  # detached focal factors: the gradient is deliberately not d(value)/dz
    return name, params


GRADCHECK = [c for c in (gradcheck_case(n, p) for n, p in CASES) if c is not None]
GRADCHECK += [("fl", {"detach": False}), ("nfl", {"detach": False}), ("nfl+mae", {"detach": False})]


@pytest.mark.parametrize("name,params", GRADCHECK, ids=[n for n, _ in GRADCHECK])
def test_gradcheck(name, params):
    z, y = batch(n=3, k=4, seed=5)
    params = {**params}
    if "T" in params:
        params["T"] = params["T"][:4, :4] / params["T"][:4, :4].sum(1, keepdims=True)
    z.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: L._FUNCTIONS[name](x, y, reduction="none", **params), (z,))


def test_detached_focal_gradients_match_frozen_weights():
    z, y = batch(n=6, seed=6)
    p = np_softmax(z.numpy())
    e = onehot(y.numpy(), K)
    idx = np.arange(len(y))
    gamma = 0.5
    # fl: the factor c_y = (1 - p_y)^gamma is a constant, so grad = c_y (p - e_y)
    x = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(L.fl(x, y, reduction="sum"), x)
    c = (1 - p) ** gamma
    np.testing.assert_allclose(g.numpy(), c[idx, y][:, None] * (p - e), rtol=1e-10)
    # nfl: N / D with N = c_y (-log p_y), D = sum_k c_k (-log p_k), the c_k constant
    x = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(L.nfl(x, y, reduction="sum"), x)
    num = c[idx, y] * -np.log(p[idx, y])
    den = (c * -np.log(p)).sum(1)
    d_num = c[idx, y][:, None] * (p - e)
    d_den = c.sum(1, keepdims=True) * p - c  # sum_k c_k (p - e_k)
    want = d_num / den[:, None] - (num / den ** 2)[:, None] * d_den
    np.testing.assert_allclose(g.numpy(), want, rtol=1e-9)
    # the exact derivative differs
    x = z.clone().requires_grad_(True)
    (g_exact,) = torch.autograd.grad(L.nfl(x, y, detach=False, reduction="sum"), x)
    assert not torch.allclose(g, g_exact)


@pytest.mark.parametrize("q", [0.1, 0.7, 1.0])
def test_gce_logit_gradient_and_weight(q):
    z, y = batch(n=10, seed=7)
    x = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(L.gce(x, y, q=q, reduction="sum"), x)
    p_y = torch.softmax(z, 1)[torch.arange(10), y]
    torch.testing.assert_close(g[torch.arange(10), y], -p_y ** q * (1 - p_y))  # dLq/dz_y = -p_y^q (1 - p_y)
    # dLq/dz = p_y^q dCE/dz, so the norm ratio is exactly p_y^q
    torch.testing.assert_close(L.gradient_weight("gce", z, y, q=q), p_y ** q, rtol=1e-12, atol=0)
    torch.testing.assert_close(L.gradient_weight(make_loss("gce", K, q=q), z, y), p_y ** q, rtol=1e-12, atol=0)


P_Y_ONLY = [("ce", {}), ("mae", {}), ("mae", {"variant": "apl"}), ("gce", {"q": 0.3}), ("tgce", {}),
            ("tgce", {"k": 0.2, "q": 0.9}), ("rce", {}), ("sce", {"alpha": 0.5, "beta": 2.0}), ("fl", {}),
            ("fl", {"gamma": 2.0}), ("fl", {"detach": False}), ("fl", {"gamma": 2.0, "detach": False})]


@pytest.mark.parametrize("name,params", P_Y_ONLY, ids=[f"{n}{p}" for n, p in P_Y_ONLY])
def test_gradient_weight_equals_analytic_weight(name, params):
    z, y = batch(n=12, seed=8, scale=3.0)
    p_y = torch.softmax(z, 1)[torch.arange(12), y]
    want = L.analytic_weight(name, p_y, **params)
    assert isinstance(want, torch.Tensor)
    torch.testing.assert_close(L.gradient_weight(name, z, y, **params), want, rtol=1e-9, atol=1e-12)


def test_analytic_weight_values():
    p = np.array([0.0, 0.2, 0.5, 1.0])
    np.testing.assert_allclose(L.analytic_weight("ce", p), 1.0)
    np.testing.assert_allclose(L.analytic_weight("mae", p), 2 * p)
    np.testing.assert_allclose(L.analytic_weight("mae", p, variant="apl"), p)
    np.testing.assert_allclose(L.analytic_weight("gce", p), p ** 0.7)
    np.testing.assert_allclose(L.analytic_weight("gce", p, q=0.3), p ** 0.3)
    np.testing.assert_allclose(L.analytic_weight("tgce", p), [0, 0, 0, 1])
    np.testing.assert_allclose(L.analytic_weight("rce", p), A_OFFICIAL * p)
    np.testing.assert_allclose(L.analytic_weight("fl", p), (1 - p) ** 0.5)
    exact = L.analytic_weight("fl", p, detach=False)
    assert np.all(np.isfinite(exact)) and exact[0] == 1 and exact[-1] == 0
    assert isinstance(L.analytic_weight("gce", 0.5), np.ndarray)


def test_gradient_weight_zero_over_zero_is_zero():
    z = torch.tensor([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]], dtype=F64)
    y = torch.tensor([0, 1])
    w = L.gradient_weight("mae", z, y)
    assert w[0] == 0 and torch.isclose(w[1], torch.tensor(2 / 3, dtype=F64))


# -----------------------------------------------------------------------------
# numerics at the extremes: logits +-1e4 and p_y -> 0

EXTREME_Z = [[1e4, -1e4, 0.0, 0.0], [1e4, -1e4, 0.0, 0.0], [-1e4, 1e4, 3.0, 0.0],
             [0.0, 0.0, 0.0, 0.0], [1e4, 1e4, -1e4, -1e4], [-50.0, 0.0, 0.0, 0.0]]
EXTREME_Y = [0, 1, 0, 3, 3, 0]  # p_y = 1, 0, 0, 1/4, 0, ~e^-51
EXTREME_CASES = [(n, p) for n, p in CASES if n not in ("forward", "backward")]
EXTREME_CASES += [("fl", {"detach": False}), ("nfl", {"detach": False}), ("nfl+rce", {"detach": False}),
                  ("nfl+mae", {"detach": False})]
EXTREME_CASES += [(n, {"T": T}) for n in ("forward", "backward") for T in (np.eye(4), pair_T(4), random_T(4))]


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,params", EXTREME_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(EXTREME_CASES)])
def test_finite_values_and_gradients_at_extremes(name, params, dtype):
    z = torch.tensor(EXTREME_Z, dtype=dtype, requires_grad=True)
    y = torch.tensor(EXTREME_Y)
    out = L._FUNCTIONS[name](z, y, reduction="none", **params)
    assert torch.isfinite(out).all(), out
    (g,) = torch.autograd.grad(out.sum(), z)
    assert torch.isfinite(g).all(), g


def test_ce_like_losses_stay_exact_at_extremes():
    z = torch.tensor(EXTREME_Z, dtype=torch.float32)
    y = torch.tensor(EXTREME_Y)
    want = L.ce(z, y, reduction="none")
    assert want[1] == 2e4  # -log p_y from log_softmax, not log(0)
    for T in (np.eye(4), torch.eye(4)):
        torch.testing.assert_close(L.forward(z, y, T, reduction="none"), want)
        torch.testing.assert_close(L.backward(z, y, T, reduction="none"), want)


# -----------------------------------------------------------------------------
# truncated Lq

def test_tgce_truncates_without_weights():
    z, y = batch(n=40, scale=3.0, seed=9)
    p_y = torch.softmax(z, 1)[torch.arange(40), y]
    keep = p_y > 0.5
    assert 0 < keep.sum() < 40
    x = z.clone().requires_grad_(True)
    val = L.tgce(x, y, reduction="none")
    lq_k = (1 - 0.5 ** 0.7) / 0.7
    torch.testing.assert_close(val[~keep], torch.full_like(val[~keep], lq_k))
    torch.testing.assert_close(val[keep], L.gce(z, y, reduction="none")[keep])
    (g,) = torch.autograd.grad(val.sum(), x)
    assert (g[~keep] == 0).all() and (g[keep].abs().sum(1) > 0).all()


def test_tgce_weights_semantics():
    z, y = batch(n=40, scale=3.0, seed=9)
    q, k = 0.7, 0.5
    w = L.prune_weights(z, y, k=k)
    assert w.dtype == z.dtype and not w.requires_grad and set(w.tolist()) <= {0.0, 1.0}
    p_y = torch.softmax(z, 1)[torch.arange(40), y]
    torch.testing.assert_close(w, (p_y > k).to(F64))
    # weights computed on the same logits reproduce the unweighted truncation
    torch.testing.assert_close(L.tgce(z, y, weights=w, reduction="none"), L.tgce(z, y, reduction="none"))
    # stale weights: w Lq(p_y) + (1 - w) Lq(k) >= 0; the port's w (Lq(p_y) - Lq(k)) is that minus Lq(k)
    stale = torch.zeros(40, dtype=F64)
    stale[::2] = 1
    x = z.clone().requires_grad_(True)
    ours = L.tgce(x, y, weights=stale, reduction="none")
    lq, lq_k = L.gce(x, y, q=q, reduction="none"), (1 - k ** q) / q
    port = stale * (lq - lq_k)
    assert (ours >= 0).all() and (port < 0).any()
    torch.testing.assert_close(ours - port, torch.full_like(ours, lq_k))
    g_ours, = torch.autograd.grad(ours.sum(), x, retain_graph=True)
    g_port, = torch.autograd.grad(port.sum(), x)
    torch.testing.assert_close(g_ours, g_port)
    # all pruned: constant loss, no gradient
    zero = L.tgce(x, y, weights=torch.zeros(40), reduction="none")
    torch.testing.assert_close(zero, torch.full_like(zero, lq_k))


def test_truncated_lq_module():
    z, y = batch(n=40, scale=3.0, seed=9)
    m = make_loss("tgce", K, k=0.3, reduction="sum")
    assert isinstance(m, L.TruncatedLq) and isinstance(m, L.Loss)
    w = m.prune_weights(z, y)
    torch.testing.assert_close(w, L.prune_weights(z, y, k=0.3))
    torch.testing.assert_close(m(z, y, weights=w), L.tgce(z, y, k=0.3, reduction="sum"))
    assert m(z, y, reduction="none", weights=w).shape == (40,)
    assert "TruncatedLq" in repr(m) and "k=0.3" in repr(m)


# -----------------------------------------------------------------------------
# make_loss and the module

def test_defaults_and_presets():
    assert DEFAULTS["gce"] == {"q": 0.7} and DEFAULTS["tgce"] == {"q": 0.7, "k": 0.5}
    assert DEFAULTS["fl"]["gamma"] == 0.5 and DEFAULTS["nfl"]["gamma"] == 0.5
    assert DEFAULTS["fl"]["detach"] is True and DEFAULTS["nfl"]["detach"] is True
    assert DEFAULTS["rce"]["A"] == pytest.approx(9.2103404)
    assert DEFAULTS["mae"]["variant"] == "paper" and DEFAULTS["nce+mae"]["mae_variant"] == "apl"
    assert DEFAULTS["nmae"]["variant"] == "paper" and DEFAULTS["nrce"]["variant"] == "intended"
    assert {k: DEFAULTS["sce"][k] for k in ("alpha", "beta")} == SCE_PRESETS["cifar10"] == {"alpha": 0.1, "beta": 1.0}
    assert SCE_PRESETS["mnist"] == {"alpha": 0.01, "beta": 1.0}
    assert SCE_PRESETS["cifar100"] == {"alpha": 6.0, "beta": 0.1}
    for pair in ("nce+rce", "nce+mae", "nfl+rce", "nfl+mae"):
        default = {k: DEFAULTS[pair][k] for k in ("alpha", "beta")}
        assert default == APL_PRESETS["cifar10"][pair] == {"alpha": 1.0, "beta": 1.0}
        assert APL_PRESETS["mnist"][pair] == {"alpha": 1.0, "beta": 10.0}
        assert APL_PRESETS["cifar100"][pair] == {"alpha": 10.0, "beta": 0.1 if pair.endswith("rce") else 1.0}
    assert "T" not in DEFAULTS["forward"] and "T" not in DEFAULTS["backward"]


@pytest.mark.parametrize("name", LOSSES)
def test_make_loss_round_trip(name):
    extra = {"T": random_T()} if name in ("forward", "backward") else {}
    m = make_loss(name, K, **extra)
    assert isinstance(m, torch.nn.Module)
    assert m.name == name and m.num_classes == K and m.reduction == "mean"
    assert set(m.params) == set(DEFAULTS[name]) | set(extra)
    assert name in repr(m) and "reduction='mean'" in repr(m)
    z, y = batch(n=7)
    fn = L._FUNCTIONS[name]
    none = m(z, y, reduction="none")
    assert none.shape == (7,) and m(z, y).shape == () and m(z, y, reduction="sum").shape == ()
    torch.testing.assert_close(none, fn(z, y, reduction="none", **m.params))
    torch.testing.assert_close(m(z, y), none.mean())
    torch.testing.assert_close(m(z, y, reduction="sum"), none.sum())
    # rebuilding from .params gives the same module; its own reduction is the default
    again = make_loss(name, K, reduction="none", **m.params)
    torch.testing.assert_close(again(z, y), none)
    if extra:
        assert isinstance(m.params["T"], np.ndarray) and m.params["T"].dtype == np.float64


def test_loss_module_backprops_through_a_model():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, K).double()
    x = torch.randn(6, 3, dtype=F64)
    y = torch.randint(0, K, (6,))
    make_loss("nce+rce", K, **APL_PRESETS["mnist"]["nce+rce"])(model(x), y).backward()
    assert model.weight.grad is not None and torch.isfinite(model.weight.grad).all()


# -----------------------------------------------------------------------------
# bad input: clear errors that name the parameter

BAD_PARAMS = [
    ("foo", {}, ValueError, r"unknown loss 'foo'; choose one of: ce, mae"),
    ("gce", {"p": 1}, TypeError, r"unknown parameter 'p' for loss 'gce'; valid parameters: q"),
    ("tgce", {"weights": None}, TypeError, r"'weights'"),
    ("gce", {"q": 0.0}, ValueError, r"q must be in \(0, 1\], got 0"),
    ("gce", {"q": 1.5}, ValueError, r"q must be in \(0, 1\], got 1.5"),
    ("ngce", {"q": -0.1}, ValueError, r"q must be in \(0, 1\]"),
    ("gce", {"q": "big"}, TypeError, r"q must be a number"),
    ("tgce", {"k": 0.0}, ValueError, r"k must be in \(0, 1\)"),
    ("tgce", {"k": 1.0}, ValueError, r"k must be in \(0, 1\)"),
    ("fl", {"gamma": -1.0}, ValueError, r"gamma must be in \[0, inf\]"),
    ("nfl+mae", {"gamma": -0.5}, ValueError, r"gamma must be"),
    ("sce", {"alpha": -1.0}, ValueError, r"alpha must be in \[0, inf\]"),
    ("nce+rce", {"beta": -1.0}, ValueError, r"beta must be in \[0, inf\]"),
    ("rce", {"A": 0.0}, ValueError, r"A must be in \(0, inf\]"),
    ("nrce", {"A": -4.0}, ValueError, r"A must be in \(0, inf\]"),
    ("mae", {"variant": "l1"}, ValueError, r"unknown variant 'l1'; choose one of: paper, apl"),
    ("nmae", {"variant": "apl"}, ValueError, r"unknown variant 'apl'; choose one of: paper, official"),
    ("nrce", {"variant": "paper"}, ValueError, r"unknown variant 'paper'; choose one of: intended, official"),
    ("nce+mae", {"mae_variant": "x"}, ValueError, r"unknown mae_variant 'x'"),
    ("fl", {"detach": "yes"}, TypeError, r"detach must be True or False"),
    ("forward", {}, TypeError, r"loss 'forward' needs parameter T"),
    ("backward", {}, TypeError, r"needs parameter T"),
    ("forward", {"T": np.eye(3)}, ValueError, r"T must be \(5, 5\) for num_classes=5"),
    ("forward", {"T": np.ones((5, 5))}, ValueError, r"rows of T must sum to 1"),
    ("forward", {"T": 2 * np.eye(5) - np.full((5, 5), 0.2)}, ValueError, r"T must have finite entries in \[0, 1\]"),
    ("backward", {"T": np.full((5, 5), 0.2)}, ValueError, r"T must be invertible"),
]


@pytest.mark.parametrize("name,params,error,match", BAD_PARAMS, ids=[f"{n}-{m[:20]}" for n, _, _, m in BAD_PARAMS])
def test_make_loss_rejects_bad_parameters(name, params, error, match):
    with pytest.raises(error, match=match):
        make_loss(name, K, **params)


def test_functions_reject_bad_parameters():
    z, y = batch()
    with pytest.raises(ValueError, match=r"q must be in \(0, 1\]"):
        L.gce(z, y, q=2.0)
    with pytest.raises(ValueError, match=r"k must be in \(0, 1\)"):
        L.prune_weights(z, y, k=1.5)
    with pytest.raises(ValueError, match=r"T must be invertible"):
        L.backward(z, y, np.full((K, K), 1 / K))
    with pytest.raises(ValueError, match=r"unknown reduction 'avg'; choose one of: mean, sum, none"):
        L.ce(z, y, reduction="avg")
    with pytest.raises(ValueError, match=r"reduction"):
        make_loss("ce", K, reduction="avg")
    with pytest.raises(ValueError, match=r"num_classes must be in \[2, inf\]"):
        make_loss("ce", 1)


def test_bad_batches():
    z, y = batch()
    m = make_loss("gce", K)
    with pytest.raises(ValueError, match=r"logits must be 2-D \(N, K\)"):
        L.ce(z[0], y[0])
    with pytest.raises(TypeError, match=r"logits must be a floating-point tensor"):
        L.ce(z.long(), y)
    with pytest.raises(TypeError, match=r"logits must be a torch.Tensor"):
        L.ce(z.numpy(), y)
    with pytest.raises(ValueError, match=r"logits must have shape \(N, 5\) for num_classes=5"):
        m(z[:, :4], y.clamp(max=3))
    with pytest.raises(ValueError, match=r"targets must be in \[0, 4\]"):
        m(z, torch.full_like(y, K))
    with pytest.raises(ValueError, match=r"targets must be in \[0, 4\]"):
        L.nce(z, torch.full_like(y, -1))
    with pytest.raises(TypeError, match=r"targets must be integer class indices"):
        L.ce(z, y.double())
    with pytest.raises(ValueError, match=r"targets must have shape \(8,\)"):
        L.ce(z, y[:3])
    with pytest.raises(ValueError, match=r"weights must have shape \(8,\)"):
        L.tgce(z, y, weights=torch.ones(3))
    with pytest.raises(ValueError, match=r"weights must be in \[0, 1\]"):
        L.tgce(z, y, weights=torch.full((8,), 2.0))


def test_helpers_reject_bad_input():
    z, y = batch()
    with pytest.raises(ValueError, match=r"use gradient_weight for 'nce'"):
        L.analytic_weight("nce", 0.5)
    with pytest.raises(ValueError, match=r"unknown loss 'bogus'"):
        L.analytic_weight("bogus", 0.5)
    with pytest.raises(ValueError, match=r"p_y must be in \[0, 1\]"):
        L.analytic_weight("gce", [0.5, 1.5])
    with pytest.raises(ValueError, match=r"q must be in \(0, 1\]"):
        L.analytic_weight("gce", 0.5, q=2.0)
    with pytest.raises(TypeError, match=r"unknown parameter 'k' for loss 'gce'"):
        L.analytic_weight("gce", 0.5, k=0.5)
    with pytest.raises(TypeError, match=r"parameters \['q'\] are only accepted with a loss name"):
        L.gradient_weight(make_loss("gce", K), z, y, q=0.5)
    with pytest.raises(TypeError, match=r"loss must be a name from LOSSES or a Loss module"):
        L.symmetry_gap(L.ce, z)
    with pytest.raises(ValueError, match=r"unknown loss 'foo'"):
        L.class_sums("foo", z)


# ---- closed forms of p_y for plots and exercises (loss_of_p) --------------------------------------

def _logits_for(p_y, k=10):
    """Logits of K-class predictions with probability p_y on class 0 and the rest shared evenly."""
    p = torch.as_tensor(p_y, dtype=torch.float64).reshape(-1, 1)
    rest = ((1 - p) / (k - 1)).expand(-1, k - 1)
    return torch.cat([p, rest], dim=1).log()


def test_loss_of_p_matches_the_losses_and_their_limits():
    ps = np.array([1e-3, 0.05, 0.5, 0.95, 1.0])
    z, y = _logits_for(ps), torch.zeros(len(ps), dtype=torch.long)
    for q in (1e-6, 0.1, 0.7, 1.0):
        assert L.loss_of_p("gce", ps, q=q) == pytest.approx(L.gce(z, y, q=q, reduction="none").numpy(), rel=1e-9,
                                                            abs=1e-12)
    assert L.loss_of_p("ce", ps) == pytest.approx(L.ce(z, y, reduction="none").numpy(), abs=1e-12)
    assert L.loss_of_p("gce", ps, q=1) == pytest.approx(1 - ps)
    assert L.loss_of_p("gce", 0.5, q=1e-9) == pytest.approx(math.log(2), rel=1e-8)  # no cancellation for tiny q
    for name in ("mae", "rce", "sce", "fl"):
        assert L.loss_of_p(name, ps[:-1]) == pytest.approx(L.make_loss(name, 10)(z[:-1], y[:-1], "none").numpy(),
                                                           rel=1e-9)
    t = torch.as_tensor(ps)
    assert isinstance(L.loss_of_p("ce", t), torch.Tensor)


def test_truncated_loss_of_p_is_flat_below_k():
    ps = np.array([0.05, 0.3, 0.5, 0.51, 0.9])
    z, y = _logits_for(ps), torch.zeros(len(ps), dtype=torch.long)
    ours = L.loss_of_p("tgce", ps, q=0.7, k=0.5)
    assert ours == pytest.approx(L.tgce(z, y, q=0.7, k=0.5, reduction="none").numpy(), rel=1e-9)
    assert ours[0] == ours[1] == ours[2] == pytest.approx(L.loss_of_p("gce", 0.5, q=0.7))


@pytest.mark.parametrize("kw, name", [(dict(name="gce", p_y=0.5, q=1.5), "q"), (dict(name="gce", p_y=0.5, q=-0.1), "q"),
                                      (dict(name="gce", p_y=1.2, q=0.5), "p_y"), (dict(name="gce", p_y=-0.1), "p_y"),
                                      (dict(name="tgce", p_y=0.5, k=1.0), "k"), (dict(name="nce", p_y=0.5), "loss")])
def test_loss_of_p_names_a_bad_parameter(kw, name):
    with pytest.raises(ValueError, match=name):
        L.loss_of_p(**kw)


def test_class_values_row_sums_are_class_sums_and_expected_losses():
    z = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    V = L.class_values("ce", z)
    assert V.shape == (5, 4)
    torch.testing.assert_close(V.sum(1), L.class_sums("ce", z))
    torch.testing.assert_close(V, -z.log_softmax(1))


def test_backward_refuses_a_T_that_float32_cannot_invert_usefully():
    """MAX_COND comes from float32 precision (~8.4e4), not 1e12: at cond(T) = 1e8 the 'correction'
    would be rounding noise. The error explains the limit; a T just inside it is accepted."""
    assert L.MAX_COND == pytest.approx(L.BACKWARD_REL_ERROR / np.finfo(np.float32).eps) and 1e4 < L.MAX_COND < 1e6

    def two_class_T(cond):        # [[1 - e, e], [e, 1 - e]] has condition number 1 / (1 - 2 e)
        e = (1 - 1 / cond) / 2
        return np.array([[1 - e, e], [e, 1 - e]])

    with pytest.raises(ValueError, match=r"condition number is 1e\+08, above the limit 8.39e\+04.*float32"):
        make_loss("backward", 2, T=two_class_T(1e8))
    make_loss("backward", 2, T=two_class_T(L.MAX_COND / 2))
    make_loss("forward", 2, T=two_class_T(1e8))          # forward correction never inverts T
