"""Robust classification losses for learning with noisy labels.

Every loss here is a plain function over raw logits ``z`` (N, K) and integer targets ``y`` (N,):

    name(logits, targets, <hyper-parameters>, reduction="mean")   reduction: "mean" | "sum" | "none"

Notation: p = softmax(z), p_y = probability of the given (possibly noisy) label, e_y its one-hot
vector, K the number of classes, T[i, j] = P(noisy = j | true = i) (rows sum to 1).

    name      per-sample value                                  source
    ce        -log p_y                                          cross entropy (CCE)
    mae       2 - 2 p_y = ||p - e_y||_1  (variant="apl": 1-p_y)  Ghosh et al. 2017
    gce       Lq = (1 - p_y^q) / q                              Zhang & Sabuncu 2018
    tgce      Lq(p_y) if p_y > k else Lq(k)                     Zhang & Sabuncu 2018 (truncated)
    rce       A (1 - p_y),  A = -ln(1e-4) ~ 9.21                Wang et al. 2019
    sce       alpha ce + beta rce                               Wang et al. 2019
    fl        -(1 - p_y)^gamma log p_y                          Lin et al. 2017 (focal)
    nce       log p_y / sum_k log p_k                           Ma et al. 2020 (normalized)
    nfl       fl(y) / sum_k fl(k)                               Ma et al. 2020
    nmae      (1 - p_y) / (K - 1)                               Ma et al. 2020
    nrce      RCE / sum_k RCE = (1 - p_y) / (K - 1)             Ma et al. 2020
    ngce      (1 - p_y^q) / (K - sum_k p_k^q)                   Ma et al. 2020
    nce+rce, nce+mae, nfl+rce, nfl+mae:  alpha * active + beta * passive   (APL, Ma et al. 2020)
    forward   -log (T^T p)_y                                    Patrini et al. 2017
    backward  sum_j (T^-1)[y, j] (-log p_j)                     Patrini et al. 2017

Why these losses: CCE's gradient wrt the parameters is -(1/p_y) dp_y/dtheta, so a sample whose
(noisy) label the model finds unlikely gets a *large* weight 1/p_y, and the network memorises wrong
labels. MAE weighs every sample equally (robust, but slow to fit); Lq weighs each sample by p_y^q
relative to CCE and interpolates between the two. A loss is *symmetric* when sum_k L(f(x), k) is the
same constant for every x (Ghosh et al.): such losses tolerate symmetric noise below (K-1)/K.
Normalizing any loss, L(f(x), y) / sum_k L(f(x), k), makes it symmetric. Loss correction instead
uses a known (or estimated) T to undo the noise on average.

Paper vs official code. Where they differ, nblib picks one and the other is one parameter away:
  * mae: default = the paper's L1 distance 2 - 2 p_y; ``variant="apl"`` = the APL code's 1 - p_y
    (= Lq at q = 1). The APL pairs (nce+mae, nfl+mae) default to the APL value so that the official
    alpha/beta presets apply (``mae_variant="paper"`` switches).
  * rce: the official value with its clamps (one-hot >= 1e-4) is A (1 - p_y) with A = -ln(1e-4)
    (natural log, ~9.2103); nblib uses that A. The paper writes log 0 := A = -4 (base 10) and RCE =
    -A (1 - p_y); that is ``A=4`` here (nblib's A is the positive scale).
  * nmae: default = the paper's normalization (1 - p_y) / (K - 1) (class sums = 1, like every other
    normalized loss); ``variant="official"`` = the code's (1 - p_y) / (2 (K - 1)).
  * nrce: default = the normalization the lesson teaches, RCE / sum_k RCE = (1 - p_y) / (K - 1)
    (class sums = 1 for every A: A cancels); ``variant="official"`` = the code's RCE times
    ``1 / 4 * (K - 1)``, meant as 1 / (4 (K - 1)) (right only for the paper's A = 4), which Python
    reads as (K - 1) / 4: class sums A (K - 1)^2 / 4.
  * nce: the denominator sum_k log p_k is differentiated too (no stop-gradient, as in the code).
  * fl, nfl: the official code *detaches* the focal factors (1 - p)^gamma (they act as constant
    weights in the backward pass; values are unchanged); ``detach=False`` gives the exact derivative.
  * gce, ngce: the official code clamps p >= 1e-7; nblib computes p^q = exp(q log p) without a
    clamp (values differ only where some p_k < 1e-7, by about K (1e-7)^q; gradients stay exact).

Numerics: every log p comes from ``log_softmax``; nblib never takes the log of a probability and never
clamps one. Instead: 1 - p = -expm1(log p); p^q = exp(q log p); log(1 - p_k) = logsumexp_{j != k}
log p_j; log (T^T p)_y = logsumexp_k (log p_k + log T[k, y]). Values and gradients stay finite for
logits up to +-1e4 and for p_y -> 0, in float32 and float64 (tests/test_losses.py checks this).

Also here: ``make_loss(name, num_classes, **params)`` -> an ``nn.Module`` with the hyper-parameters
bound, and the teaching helpers ``gradient_weight``, ``gradient_alignment``, ``logit_gradient_norm``,
``analytic_weight``, ``loss_of_p``,
``class_values`` (every label's loss), ``class_sums``, ``symmetry_gap``, ``class_terms`` (Ma et
al.'s per-class terms: active vs passive) and ``prune_weights`` (the pruning step of truncated Lq).

Layout (why one long file): each loss is written once, as a kernel over log-probabilities
(``_gce``, ...); the public functions, the ``Loss`` modules and the teaching helpers all call those
kernels, so the formula a lesson shows and the one training uses cannot drift apart. The sections,
in order: constants and presets, numerics, kernels, functions, modules, teaching helpers.
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_bool, check_choice, check_in_range, check_int, check_labels, check_transition_matrix

# -----------------------------------------------------------------------------
# constants: defaults from the papers and the official code, and numerical limits

Q_GCE = 0.7               # Lq exponent q (Zhang & Sabuncu; also the APL configs)
K_TRUNC = 0.5             # truncated Lq threshold k (Zhang & Sabuncu)
GAMMA_FOCAL = 0.5         # focal exponent gamma in the APL configs (fl, nfl and their pairs)
RCE_LABEL_FLOOR = 1e-4    # official RCE clamps the one-hot label to [1e-4, 1], i.e. log 0 := log 1e-4
RCE_A = -math.log(RCE_LABEL_FLOOR)  # ~9.2103: rce = RCE_A * (1 - p_y)
# Backward correction multiplies the loss vector by T^-1. In float32 (eps ~1.2e-7) that product carries a
# relative error of about cond(T) * eps, so its unbiasedness holds to BACKWARD_REL_ERROR only while
# cond(T) <= BACKWARD_REL_ERROR / eps: ~8.4e4. Beyond it the "correction" is float32 rounding noise.
BACKWARD_REL_ERROR = 1e-2
MAX_COND = BACKWARD_REL_ERROR / float(np.finfo(np.float32).eps)
REDUCTIONS = ("mean", "sum", "none")
MAE_VARIANTS = ("paper", "apl")
NMAE_VARIANTS = ("paper", "official")
NRCE_VARIANTS = ("normalized", "official")

# official (alpha, beta) of the APL pairs per dataset (Ma et al. 2020 configs); nblib's default is CIFAR-10
_APL_PAIRS = ("nce+rce", "nce+mae", "nfl+rce", "nfl+mae")
APL_PRESETS = {
    "mnist": {pair: {"alpha": 1.0, "beta": 10.0} for pair in _APL_PAIRS},
    "cifar10": {pair: {"alpha": 1.0, "beta": 1.0} for pair in _APL_PAIRS},
    "cifar100": {"nce+rce": {"alpha": 10.0, "beta": 0.1}, "nfl+rce": {"alpha": 10.0, "beta": 0.1},
                 "nce+mae": {"alpha": 10.0, "beta": 1.0}, "nfl+mae": {"alpha": 10.0, "beta": 1.0}},
}
# official (alpha, beta) of SCE per dataset (Wang et al. 2019); nblib's default is CIFAR-10
SCE_PRESETS = {
    "mnist": {"alpha": 0.01, "beta": 1.0},
    "cifar10": {"alpha": 0.1, "beta": 1.0},
    "cifar100": {"alpha": 6.0, "beta": 0.1},
}
APL_ALPHA, APL_BETA = 1.0, 1.0    # = APL_PRESETS["cifar10"]: neutral "just add them" weights
SCE_ALPHA, SCE_BETA = 0.1, 1.0    # = SCE_PRESETS["cifar10"]

# allowed range of every numeric hyper-parameter: (lo, hi, lo_open, hi_open)
_RANGES = {
    "q": (0, 1, True, False),        # q in (0, 1]
    "k": (0, 1, True, True),         # k in (0, 1)
    "gamma": (0, None, False, False),
    "alpha": (0, None, False, False),
    "beta": (0, None, False, False),
    "A": (0, None, True, False),     # positive scale; the paper's A = -4 is A = 4 here
}

# -----------------------------------------------------------------------------
# validation and small numerical helpers


def _check(**params):
    """Validate numeric hyper-parameters by name against ``_RANGES``."""
    for name, value in params.items():
        lo, hi, lo_open, hi_open = _RANGES[name]
        check_in_range(name, value, lo, hi, lo_open=lo_open, hi_open=hi_open)


def _check_logits(logits):
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor of raw scores, got {type(logits).__name__}")
    if logits.ndim != 2:
        raise ValueError(f"logits must be 2-D (N, K) raw scores, got shape {tuple(logits.shape)}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got dtype {logits.dtype}")
    if logits.shape[1] < 2:
        raise ValueError(f"logits must have K >= 2 columns (classes), got shape {tuple(logits.shape)}")


def _prepare(logits, targets):
    """Validate a batch; return (log p, targets as a long tensor on the logits' device)."""
    _check_logits(logits)
    n, k = logits.shape
    shape = tuple(targets.shape) if isinstance(targets, torch.Tensor) else np.shape(targets)
    if shape != (n,):
        raise ValueError(f"targets must have shape ({n},) to match logits {tuple(logits.shape)}, got {shape}")
    check_labels(targets, k)
    y = torch.as_tensor(targets, device=logits.device).long()
    return F.log_softmax(logits, dim=1), y


def _reduce(per_sample, reduction):
    check_choice("reduction", reduction, REDUCTIONS)
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


def _gather(x, y):
    """x[i, y_i] for every row i."""
    return x.gather(1, y.unsqueeze(1)).squeeze(1)


def _one_minus_p(logp):
    """1 - p from log p; -expm1 keeps full precision when p is close to 1."""
    return -torch.expm1(logp)


def _log_one_minus_p(logp):
    """log(1 - p_k) = logsumexp_{j != k} log p_j, shape (N, K), cost O(N K^2).

    Unlike log(-expm1(log p)), this stays finite with a finite gradient when p_k rounds to 1.
    """
    n, k = logp.shape
    diagonal = torch.eye(k, dtype=torch.bool, device=logp.device)
    return logp.unsqueeze(1).expand(n, k, k).masked_fill(diagonal, -math.inf).logsumexp(dim=2)


def _focal_factor(logp, gamma, detach):
    """(1 - p_k)^gamma for every class, (N, K); a constant in backprop when ``detach`` (APL code)."""
    if detach:
        with torch.no_grad():
            return _one_minus_p(logp).clamp_min(0).pow(gamma)
    return torch.exp(gamma * _log_one_minus_p(logp))


def _check_T(T, num_classes, invertible=False):
    """Validate T (shape, rows sum to 1) and, for backward correction, that it can be inverted."""
    if T is None:
        raise TypeError("T is required: the (K, K) noise transition matrix, T[i, j] = P(noisy=j | true=i)")
    T = check_transition_matrix(T, num_classes)
    if invertible:
        cond = np.linalg.cond(T)
        if not np.isfinite(cond) or cond > MAX_COND:
            raise ValueError(f"T must be invertible and well-conditioned for backward correction: its condition number is "
                             f"{cond:.3g}, above the limit {MAX_COND:.3g}. Training runs in float32 (relative "
                             f"precision {np.finfo(np.float32).eps:.1e}), so T^-1 times the loss vector is off by "
                             f"about cond(T) x 1.2e-7 of its size: beyond the limit, more than "
                             f"{BACKWARD_REL_ERROR:.0%}, and the loss is no longer unbiased. Use forward correction, "
                             f"or a T further from singular")
    return T


# -----------------------------------------------------------------------------
# per-sample kernels: (log p (N, K), y (N,), hyper-parameters) -> (N,) values, inputs already
# validated. Each formula is written once, here. The public functions below validate their
# arguments and call these; a ``Loss`` module validates once when it is built, and its
# ``per_sample`` (the training loop's path) calls them directly: no host synchronisation and no
# matrix inverse per batch.


def _ce(logp, y):
    return -_gather(logp, y)


# The passive losses are c (1 - p_y) for a constant c; their scales, shared by the kernels and
# ``class_terms``:
def _mae_scale(variant):
    return 2.0 if variant == "paper" else 1.0


def _nmae_scale(num_classes, variant):
    return 1.0 / (num_classes - 1) if variant == "paper" else 1.0 / (2 * (num_classes - 1))


def _nrce_scale(num_classes, A, variant):
    """NRCE's c: RCE / sum_k RCE = (1 - p_y) / (K - 1); the official code's RCE * (K - 1) / 4."""
    return 1.0 / (num_classes - 1) if variant == "normalized" else A * (num_classes - 1) / 4


def _mae(logp, y, variant="paper"):
    return _mae_scale(variant) * _one_minus_p(_gather(logp, y))


def _lq(logp_y, q):
    return -torch.expm1(q * logp_y) / q  # (1 - p_y^q) / q, accurate as q -> 0


def _lq_at(p, q):
    """Lq of a fixed probability p (a float): the constant loss of a truncated sample, Lq(k)."""
    return (1.0 - p ** q) / q


def _gce(logp, y, q):
    return _lq(_gather(logp, y), q)


def _tgce(logp, y, q, k, weights=None):
    """Lq(p_y) if p_y > k else Lq(k); with pruning ``weights`` w: w Lq(p_y) + (1 - w) Lq(k)."""
    logp_y = _gather(logp, y)
    lq = _lq(logp_y, q)
    if weights is None:
        return torch.where(logp_y.exp() > k, lq, torch.full_like(lq, _lq_at(k, q)))
    return weights * lq + (1 - weights) * _lq_at(k, q)


def _rce(logp, y, A):
    return A * _one_minus_p(_gather(logp, y))


def _sce(logp, y, alpha, beta, A):
    return alpha * _ce(logp, y) + beta * _rce(logp, y, A)


def _fl(logp, y, gamma, detach):
    return _gather(_focal_factor(logp, gamma, detach), y) * -_gather(logp, y)


def _nce(logp, y):
    return _gather(logp, y) / logp.sum(dim=1)


def _nfl(logp, y, gamma, detach):
    focal = _focal_factor(logp, gamma, detach) * -logp  # fl(f(x), k) for every class k
    return _gather(focal, y) / focal.sum(dim=1)


def _nmae(logp, y, variant):
    return _nmae_scale(logp.shape[1], variant) * _one_minus_p(_gather(logp, y))


def _nrce(logp, y, A, variant):
    return _nrce_scale(logp.shape[1], A, variant) * _one_minus_p(_gather(logp, y))


def _ngce(logp, y, q):
    numerator = -torch.expm1(q * _gather(logp, y))
    denominator = logp.shape[1] - torch.exp(q * logp).sum(dim=1)
    return numerator / denominator


def _nce_rce(logp, y, alpha, beta, A):
    return alpha * _nce(logp, y) + beta * _rce(logp, y, A)


def _nce_mae(logp, y, alpha, beta, mae_variant):
    return alpha * _nce(logp, y) + beta * _mae(logp, y, mae_variant)


def _nfl_rce(logp, y, alpha, beta, gamma, A, detach):
    return alpha * _nfl(logp, y, gamma, detach) + beta * _rce(logp, y, A)


def _nfl_mae(logp, y, alpha, beta, gamma, mae_variant, detach):
    return alpha * _nfl(logp, y, gamma, detach) + beta * _mae(logp, y, mae_variant)


def _forward(logp, y, T):
    """T here is log T as a tensor (see ``_T_tensor``): -logsumexp_k (log p_k + log T[k, y])."""
    return -(logp + T.t()[y]).logsumexp(dim=1)


def _backward(logp, y, T):
    """T here is T^-1 as a tensor (see ``_T_tensor``): -sum_j (T^-1)[y, j] log p_j."""
    return -(T[y] * logp).sum(dim=1)


def _T_tensor(name, T, like):
    """The form of a validated T that the kernel of loss ``name`` takes, as a tensor of ``like``'s
    dtype and device: log T for forward (log 0 = -inf, an impossible label), T^-1 for backward."""
    if name == "forward":
        return torch.as_tensor(T, dtype=like.dtype, device=like.device).log()
    return torch.as_tensor(np.linalg.inv(T), dtype=like.dtype, device=like.device)


def _check_possible_targets(T, y):
    """Forward correction: every noisy label must be possible, i.e. column T[:, y] not all zero."""
    possible = torch.as_tensor(T.sum(axis=0) > 0, device=y.device)
    if not bool(possible[y].all()):
        bad = int(y[~possible[y]][0])
        raise ValueError(f"targets contain label {bad}, but column {bad} of T is all zero "
                         f"(P(noisy={bad}) = 0 for every true class)")


# -----------------------------------------------------------------------------
# the losses


def ce(logits, targets, reduction="mean"):
    """Cross entropy, CCE = -log p_y.

    Gradient wrt the logits: p - e_y. Wrt parameters: -(1/p_y) dp_y/dtheta, i.e. samples the model
    finds unlikely (often the mislabelled ones) get the largest weight.
    """
    logp, y = _prepare(logits, targets)
    return _reduce(_ce(logp, y), reduction)


def mae(logits, targets, variant="paper", reduction="mean"):
    """Mean absolute error between p and the one-hot label.

    variant="paper": ||p - e_y||_1 = 2 - 2 p_y  (Ghosh et al. 2017; gradient -2 dp_y/dtheta).
    variant="apl":   1 - p_y  (the APL code's "MAE", half the L1 value; equals Lq at q = 1).
    Symmetric: sum_k L(f(x), k) = 2 (K - 1) (paper) or K - 1 (apl) for every x.
    """
    check_choice("variant", variant, MAE_VARIANTS)
    logp, y = _prepare(logits, targets)
    return _reduce(_mae(logp, y, variant), reduction)


def gce(logits, targets, q=Q_GCE, reduction="mean"):
    """Generalized cross entropy Lq = (1 - p_y^q) / q, q in (0, 1] (Zhang & Sabuncu 2018).

    q -> 0 recovers CCE, q = 1 gives 1 - p_y (MAE up to a factor 2). dLq/dtheta = p_y^q * dCCE/dtheta:
    each sample's CCE gradient is down-weighted by p_y^q. dLq/dz_y = -p_y^q (1 - p_y).
    Computed as -expm1(q log p_y) / q (no probability clamp; the APL code clamps p >= 1e-7).
    """
    _check(q=q)
    logp, y = _prepare(logits, targets)
    return _reduce(_gce(logp, y, q), reduction)


def tgce(logits, targets, q=Q_GCE, k=K_TRUNC, weights=None, reduction="mean"):
    """Truncated Lq (Zhang & Sabuncu 2018): Lq(p_y) if p_y > k, else the constant Lq(k).

    Samples the model finds unlikely (p_y <= k, suspected noisy) get zero gradient.
    With ``weights`` w (N,) in {0, 1} (from ``prune_weights``, refreshed every few epochs in the
    paper): w Lq(p_y) + (1 - w) Lq(k), always >= 0. The popular PyTorch port computes
    w (Lq(p_y) - Lq(k)) instead: negative values, the same gradient.
    """
    _check(q=q, k=k)
    logp, y = _prepare(logits, targets)
    if weights is not None:
        weights = torch.as_tensor(weights, dtype=logits.dtype, device=logits.device)
        if weights.shape != y.shape:
            raise ValueError(f"weights must have shape {tuple(y.shape)} (one per sample), got {tuple(weights.shape)}")
        if not bool(((weights >= 0) & (weights <= 1)).all()):
            raise ValueError("weights must be in [0, 1] (1 = keep the sample, 0 = pruned)")
    return _reduce(_tgce(logp, y, q, k, weights), reduction)


def prune_weights(logits, targets, k=K_TRUNC):
    """Truncated-Lq pruning step: float tensor (N,) equal to 1 where p_y > k, else 0 (no gradient)."""
    _check(k=k)
    with torch.no_grad():
        logp, y = _prepare(logits, targets)
        return (_gather(logp, y).exp() > k).to(logits.dtype)


def rce(logits, targets, A=RCE_A, reduction="mean"):
    """Reverse cross entropy, -sum_k p_k log e_y[k] with log 0 := -A:  RCE = A (1 - p_y).

    Default A = -ln(1e-4) ~ 9.2103, the official code's value (one-hot clamped to [1e-4, 1]); its
    extra clamp p >= 1e-7 changes the value by < A K 1e-7 and is left out. The paper writes
    A = -4 with RCE = -A (1 - p_y): pass A=4 here. Symmetric: sum_k = A (K - 1).
    """
    _check(A=A)
    logp, y = _prepare(logits, targets)
    return _reduce(_rce(logp, y, A), reduction)


def sce(logits, targets, alpha=SCE_ALPHA, beta=SCE_BETA, A=RCE_A, reduction="mean"):
    """Symmetric cross entropy (Wang et al. 2019): alpha CCE + beta RCE.

    Defaults: the CIFAR-10 preset (0.1, 1); see ``SCE_PRESETS`` for MNIST and CIFAR-100.
    """
    _check(alpha=alpha, beta=beta, A=A)
    logp, y = _prepare(logits, targets)
    return _reduce(_sce(logp, y, alpha, beta, A), reduction)


def fl(logits, targets, gamma=GAMMA_FOCAL, detach=True, reduction="mean"):
    """Focal loss -(1 - p_y)^gamma log p_y (Lin et al. 2017); gamma = 0 is CCE.

    detach=True (official APL code): the factor (1 - p_y)^gamma is a constant weight in the backward
    pass, so the gradient is (1 - p_y)^gamma (p - e_y). detach=False: the exact derivative.
    """
    _check(gamma=gamma)
    check_bool("detach", detach)
    logp, y = _prepare(logits, targets)
    return _reduce(_fl(logp, y, gamma, detach), reduction)


def nce(logits, targets, reduction="mean"):
    """Normalized cross entropy: log p_y / sum_k log p_k, in [0, 1], symmetric (sum_k = 1).

    The denominator is differentiated, as in the official code. Alone it underfits (Ma et al. 2020).
    """
    logp, y = _prepare(logits, targets)
    return _reduce(_nce(logp, y), reduction)


def nfl(logits, targets, gamma=GAMMA_FOCAL, detach=True, reduction="mean"):
    """Normalized focal loss: fl(f(x), y) / sum_k fl(f(x), k), symmetric (sum_k = 1).

    fl(f(x), k) = (1 - p_k)^gamma (-log p_k). detach=True (official code): the factors (1 - p_k)^gamma
    in numerator and denominator are constants in backprop while the log p_k are differentiated;
    the value is unchanged. detach=False: the exact derivative.
    """
    _check(gamma=gamma)
    check_bool("detach", detach)
    logp, y = _prepare(logits, targets)
    return _reduce(_nfl(logp, y, gamma, detach), reduction)


def nmae(logits, targets, variant="paper", reduction="mean"):
    """Normalized MAE.

    variant="paper":    MAE / sum_k MAE = (1 - p_y) / (K - 1)     (sum_k = 1, like every normalized loss)
    variant="official": (1 - p_y) / (2 (K - 1))                    (the APL code; sum_k = 1/2)
    """
    check_choice("variant", variant, NMAE_VARIANTS)
    logp, y = _prepare(logits, targets)
    return _reduce(_nmae(logp, y, variant), reduction)


def nrce(logits, targets, A=RCE_A, variant="normalized", reduction="mean"):
    """Normalized reverse cross entropy.

    variant="normalized": RCE / sum_k RCE = A (1 - p_y) / (A (K - 1)) = (1 - p_y) / (K - 1): class
                          sums 1 for every A (A cancels; it equals the paper's NMAE).
    variant="official":   RCE (K - 1) / 4 = A (K - 1) (1 - p_y) / 4, what the code's
                          ``1 / 4 * (K - 1)`` computes (a precedence slip for 1 / (4 (K - 1)), itself
                          right only for the paper's A = 4; the shipped APL configs use plain RCE,
                          so it never touched the paper's numbers). Symmetric, class sums A (K-1)^2 / 4.
    """
    _check(A=A)
    check_choice("variant", variant, NRCE_VARIANTS)
    logp, y = _prepare(logits, targets)
    return _reduce(_nrce(logp, y, A, variant), reduction)


def ngce(logits, targets, q=Q_GCE, reduction="mean"):
    """Normalized generalized cross entropy: (1 - p_y^q) / (K - sum_k p_k^q), symmetric (sum_k = 1).

    Both numerator and denominator are differentiated (official code).
    """
    _check(q=q)
    logp, y = _prepare(logits, targets)
    return _reduce(_ngce(logp, y, q), reduction)


def nce_rce(logits, targets, alpha=APL_ALPHA, beta=APL_BETA, A=RCE_A, reduction="mean"):
    """APL loss alpha NCE + beta RCE (active + passive). Defaults: CIFAR-10 preset; see APL_PRESETS."""
    _check(alpha=alpha, beta=beta, A=A)
    logp, y = _prepare(logits, targets)
    return _reduce(_nce_rce(logp, y, alpha, beta, A), reduction)


def nce_mae(logits, targets, alpha=APL_ALPHA, beta=APL_BETA, mae_variant="apl", reduction="mean"):
    """APL loss alpha NCE + beta MAE, MAE = 1 - p_y as in the APL code (mae_variant="paper": 2 - 2 p_y)."""
    _check(alpha=alpha, beta=beta)
    check_choice("mae_variant", mae_variant, MAE_VARIANTS)
    logp, y = _prepare(logits, targets)
    return _reduce(_nce_mae(logp, y, alpha, beta, mae_variant), reduction)


def nfl_rce(logits, targets, alpha=APL_ALPHA, beta=APL_BETA, gamma=GAMMA_FOCAL, A=RCE_A, detach=True,
            reduction="mean"):
    """APL loss alpha NFL + beta RCE. Defaults: CIFAR-10 preset, gamma = 0.5, detached focal factors."""
    _check(alpha=alpha, beta=beta, gamma=gamma, A=A)
    check_bool("detach", detach)
    logp, y = _prepare(logits, targets)
    return _reduce(_nfl_rce(logp, y, alpha, beta, gamma, A, detach), reduction)


def nfl_mae(logits, targets, alpha=APL_ALPHA, beta=APL_BETA, gamma=GAMMA_FOCAL, mae_variant="apl",
            detach=True, reduction="mean"):
    """APL loss alpha NFL + beta MAE, MAE = 1 - p_y as in the APL code (mae_variant="paper": 2 - 2 p_y)."""
    _check(alpha=alpha, beta=beta, gamma=gamma)
    check_choice("mae_variant", mae_variant, MAE_VARIANTS)
    check_bool("detach", detach)
    logp, y = _prepare(logits, targets)
    return _reduce(_nfl_mae(logp, y, alpha, beta, gamma, mae_variant, detach), reduction)


def forward(logits, targets, T, reduction="mean"):
    """Forward correction (Patrini et al. 2017): -log (T^T p)_y = -log sum_k p_k T[k, y].

    The model's clean-label prediction p is pushed through the noise channel T and compared with the
    noisy label by cross entropy. Computed as -logsumexp_k (log p_k + log T[k, y]); equals CCE when
    T = I. A target y whose column T[:, y] is all zero (an impossible noisy label) is an error.
    """
    logp, y = _prepare(logits, targets)
    T = _check_T(T, logp.shape[1])
    _check_possible_targets(T, y)
    return _reduce(_forward(logp, y, _T_tensor("forward", T, logp)), reduction)


def backward(logits, targets, T, reduction="mean"):
    """Backward correction (Patrini et al. 2017): sum_j (T^-1)[y, j] (-log p_j).

    Unbiased: for every clean label c, sum_j T[c, j] L(p, j) = -log p_c, so its expectation over the
    noise is the clean CCE. It can be negative and has high variance when T is ill-conditioned;
    T must be invertible (condition number <= MAX_COND). Equals CCE when T = I.
    """
    logp, y = _prepare(logits, targets)
    T = _check_T(T, logp.shape[1], invertible=True)
    return _reduce(_backward(logp, y, _T_tensor("backward", T, logp)), reduction)


# -----------------------------------------------------------------------------
# registry, defaults, and the nn.Module wrapper

_FUNCTIONS = {
    "ce": ce, "mae": mae, "gce": gce, "tgce": tgce, "rce": rce, "sce": sce, "fl": fl, "nce": nce,
    "nfl": nfl, "nmae": nmae, "nrce": nrce, "ngce": ngce, "nce+rce": nce_rce, "nce+mae": nce_mae,
    "nfl+rce": nfl_rce, "nfl+mae": nfl_mae, "forward": forward, "backward": backward,
}
_KERNELS = {
    "ce": _ce, "mae": _mae, "gce": _gce, "tgce": _tgce, "rce": _rce, "sce": _sce, "fl": _fl, "nce": _nce,
    "nfl": _nfl, "nmae": _nmae, "nrce": _nrce, "ngce": _ngce, "nce+rce": _nce_rce, "nce+mae": _nce_mae,
    "nfl+rce": _nfl_rce, "nfl+mae": _nfl_mae, "forward": _forward, "backward": _backward,
}
LOSSES = tuple(_FUNCTIONS)
_CALL_ARGS = ("logits", "targets", "reduction", "weights")  # per call, not hyper-parameters


def _hyper_params(name):
    """{parameter: default} of a loss, read from its signature (inspect.Parameter.empty = required)."""
    signature = inspect.signature(_FUNCTIONS[name])
    return {p.name: p.default for p in signature.parameters.values() if p.name not in _CALL_ARGS}


# default hyper-parameters of every loss (the function signatures are the single source of truth)
DEFAULTS = {name: {p: d for p, d in _hyper_params(name).items() if d is not inspect.Parameter.empty}
            for name in LOSSES}


def _check_param_names(name: str, params) -> dict:
    """The hyper-parameters of loss ``name``; a TypeError naming any of ``params`` it does not take."""
    allowed = _hyper_params(name)
    for p in params:
        if p not in allowed:
            raise TypeError(f"unknown parameter {p!r} for loss {name!r}; valid parameters: "
                            f"{', '.join(allowed) or 'none'}")
    return allowed


def _bind_params(name, num_classes, params):
    """Defaults + ``params``, validated by the loss function itself on an empty batch."""
    allowed = _check_param_names(name, params)
    bound = {**DEFAULTS[name], **params}
    for p in allowed:
        if p not in bound:
            raise TypeError(f"loss {name!r} needs parameter {p} (the (K, K) noise transition matrix)")
    if "T" in bound:
        bound["T"] = check_transition_matrix(bound["T"], num_classes)
    empty = torch.zeros(0, num_classes, dtype=torch.float64), torch.zeros(0, dtype=torch.long)
    _FUNCTIONS[name](*empty, reduction="none", **bound)  # raises on any out-of-range value
    return bound


class Loss(nn.Module):
    """One loss of ``LOSSES`` with its hyper-parameters bound; build it with ``make_loss``.

    Attributes: ``name``, ``num_classes``, ``params`` (dict, defaults filled in; T as a float64
    NumPy array), ``reduction``. Every argument is validated once, here.

    Two ways to call it:
      * ``loss(logits, targets, reduction=None)`` checks the batch (shape, label range, and for
        forward correction that every label is possible under T), then reduces with the module's
        own reduction unless one is given;
      * ``loss.per_sample(logits, targets, weights=None)``: the (N,) per-sample values without any
        check, for a training loop that validated its labels once (``check_targets``) at its
        boundary: no host synchronisation per batch, and T's log or inverse is computed once per
        dtype and device, not per batch.
    """

    def __init__(self, name, num_classes, reduction="mean", **params):
        super().__init__()
        self.name = check_choice("loss", name, LOSSES)
        self.num_classes = check_int("num_classes", num_classes, 2)
        self.reduction = check_choice("reduction", reduction, REDUCTIONS)
        self.params = _bind_params(name, self.num_classes, params)
        self._prepared: dict = {}    # (dtype, device) -> kernel keyword arguments (T as a tensor)

    def _check_width(self, logits):
        _check_logits(logits)
        if logits.shape[1] != self.num_classes:
            raise ValueError(f"logits must have shape (N, {self.num_classes}) for num_classes="
                             f"{self.num_classes}, got {tuple(logits.shape)}")

    def check_targets(self, targets, name: str = "targets"):
        """Validate labels for this loss once: integers in [0, K) and, for forward correction,
        possible under T (column T[:, y] not all zero). Returns them unchanged."""
        check_labels(targets, self.num_classes, name)
        if self.name == "forward":
            _check_possible_targets(self.params["T"], torch.as_tensor(targets).long())
        return targets

    def _kernel_kw(self, like):
        key = (like.dtype, like.device)
        if key not in self._prepared:
            kw = dict(self.params)
            if "T" in kw:
                kw["T"] = _T_tensor(self.name, kw["T"], like)
            self._prepared[key] = kw
        return self._prepared[key]

    def per_sample(self, logits, targets, weights=None):
        """Per-sample losses (N,), unchecked (see the class docstring); ``weights`` (N,) multiply them."""
        logp = F.log_softmax(logits, dim=1)
        out = _KERNELS[self.name](logp, targets, **self._kernel_kw(logp))
        return out if weights is None else out * weights

    def forward(self, logits, targets, reduction=None):
        self._check_width(logits)
        logp, y = _prepare(logits, targets)
        if self.name == "forward":
            _check_possible_targets(self.params["T"], y)
        return _reduce(_KERNELS[self.name](logp, y, **self._kernel_kw(logp)), reduction or self.reduction)

    def extra_repr(self):
        shown = [f"name={self.name!r}", f"num_classes={self.num_classes}"]
        for p, v in self.params.items():
            if isinstance(v, np.ndarray):
                shown.append(f"{p}=<{v.shape[0]}x{v.shape[1]} matrix>")
            else:
                shown.append(f"{p}={v:g}" if isinstance(v, float) else f"{p}={v!r}")
        shown.append(f"reduction={self.reduction!r}")
        return ", ".join(shown)


class TruncatedLq(Loss):
    """Truncated Lq as a module, and the owner of its pruning step (Zhang & Sabuncu 2018, Alg. 1).

    It holds no per-sample state: the training loop keeps one weight per training sample (all 1 at
    the start: plain Lq) and passes the batch's slice as ``weights``, giving w Lq(p_y) + (1 - w) Lq(k).
    At the epochs of ``pruning_epochs`` the loop refreshes the weights with ``keep(p_y)`` computed
    from the current model on the whole training set: samples it finds implausible (p_y <= k,
    likely flipped) stop contributing to the gradient until the next refresh.
    """

    def __init__(self, num_classes, reduction="mean", **params):
        super().__init__("tgce", num_classes, reduction, **params)

    def per_sample(self, logits, targets, weights=None):
        """Per-sample values, unchecked: with ``weights`` w, w Lq(p_y) + (1 - w) Lq(k) (pruning
        weights, not multipliers); without, the threshold rule Lq(p_y) if p_y > k else Lq(k)."""
        q, k = self.params["q"], self.params["k"]
        return _tgce(F.log_softmax(logits, dim=1), targets, q, k, weights)

    def forward(self, logits, targets, reduction=None, weights=None):
        self._check_width(logits)
        return tgce(logits, targets, weights=weights, reduction=reduction or self.reduction, **self.params)

    def prune_weights(self, logits, targets):
        """1.0 where p_y > k (keep), 0.0 elsewhere (prune), with this module's k."""
        return prune_weights(logits, targets, self.params["k"])

    def keep(self, p_y: torch.Tensor) -> torch.Tensor:
        """The pruning step from the probabilities of the given labels: 1.0 where p_y > k, else 0.0."""
        return (p_y > self.params["k"]).to(p_y.dtype)

    @staticmethod
    def pruning_epochs(epochs: int, start: int | None = None, every: int | None = None) -> range:
        """The epochs after which the weights are refreshed, for an ``epochs``-long run.

        Default: from half the run, every tenth of it. The paper prunes from epoch 40 of 120 (a
        third) every 10, but its long run has converged by then; a classroom run of 12-60 epochs has
        not, and pruning that early discards clean samples the model has not learnt yet (lesson 3).
        """
        epochs = check_int("epochs", epochs, 1)
        start = check_int("prune_start", start if start is not None else max(1, epochs // 2), 1)
        every = check_int("prune_every", every if every is not None else max(1, epochs // 10), 1)
        return range(start, epochs + 1, every)


def make_loss(name, num_classes, reduction="mean", **params):
    """Build the ``Loss`` module for ``name`` (one of LOSSES), e.g. make_loss("gce", 10, q=0.5).

    Unknown names, unknown or missing parameters and out-of-range values raise at once, naming the
    parameter. forward/backward need ``T=``; "tgce" returns a ``TruncatedLq``.
    """
    check_choice("loss", name, LOSSES)
    if name == "tgce":
        return TruncatedLq(num_classes, reduction, **params)
    return Loss(name, num_classes, reduction, **params)


# -----------------------------------------------------------------------------
# teaching helpers


def _as_loss(loss, num_classes, params):
    if isinstance(loss, Loss):
        if params:
            raise TypeError(f"parameters {sorted(params)} are only accepted with a loss name; "
                            f"this Loss already has {loss.params}")
        return loss
    if isinstance(loss, str):
        return make_loss(loss, num_classes, **params)
    raise TypeError(f"loss must be a name from LOSSES or a Loss module, got {type(loss).__name__}")


def gradient_weight(loss, logits, targets, **params):
    """Per-sample ||dL_i/dz_i|| / ||dCCE_i/dz_i||, computed with autograd, shape (N,).

    How much gradient each sample gets relative to cross entropy. For a loss of p_y alone this equals
    ``analytic_weight`` (e.g. exactly p_y^q for gce). ``loss``: a name (with ``params``) or a Loss.
    For fl/nfl with detach=True it is the gradient training actually uses. 0/0 (p_y rounds to 1 and
    both gradients vanish) gives 0.
    """
    grad, grad_ce = _logit_gradients(loss, logits, targets, params)
    num, den = grad.norm(dim=1), grad_ce.norm(dim=1)
    return torch.where(num == 0, torch.zeros_like(num), num / den)


def _logit_gradients(loss, logits, targets, params):
    """Per-sample gradients of ``loss`` and of CE with respect to the logits, both (N, K), by autograd.

    Each sample's loss depends only on its own row of logits, so row i of d(sum L)/dz is dL_i/dz_i.
    """
    _check_logits(logits)
    loss_fn = _as_loss(loss, logits.shape[1], params)
    z = logits.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        grad = torch.autograd.grad(loss_fn(z, targets, reduction="sum"), z)[0]
        grad_ce = torch.autograd.grad(ce(z, targets, reduction="sum"), z)[0]
    return grad, grad_ce


def logit_gradient_norm(loss, logits, targets, **params):
    """Per-sample ||dL_i/dz_i||, the size of each sample's push on its own logits, by autograd, shape (N,).

    For CE it is ||p - e_y||, between 0 (p = e_y) and sqrt(2); a bounded or normalized loss can be
    orders of magnitude smaller (lesson 4 compares them along a path of predictions).
    """
    return _logit_gradients(loss, logits, targets, params)[0].norm(dim=1)


def gradient_alignment(loss, logits, targets, **params):
    """Per-sample cosine between dL_i/dz_i and CE's dCE_i/dz_i = p - e_y, by autograd, shape (N,).

    1 means the loss pushes the logits exactly where CE does and differs only by the per-sample
    weight ``gradient_weight``: every loss of p_y alone (MAE, RCE, GCE, FL with detached factors),
    since dL/dz = L'(p_y) dp_y/dz = w(p_y) (p - e_y). A normalized loss such as NCE also depends on
    the other p_k through its denominator, and points elsewhere. 0 where either gradient vanishes.
    """
    grad, grad_ce = _logit_gradients(loss, logits, targets, params)
    norms = grad.norm(dim=1) * grad_ce.norm(dim=1)
    cos = (grad * grad_ce).sum(dim=1) / torch.where(norms == 0, torch.ones_like(norms), norms)
    return torch.where(norms == 0, torch.zeros_like(cos), cos)


_ANALYTIC = ("ce", "mae", "gce", "tgce", "rce", "sce", "fl")


def analytic_weight(name, p_y, **params):
    """Weight w(p_y) of a loss's parameter gradient relative to CCE: dL/dtheta = w * dCCE/dtheta.

    For a loss of p_y alone, w = -p_y dL/dp_y:
        ce 1;  mae 2 p_y (paper) / p_y (apl);  gce p_y^q;  tgce p_y^q if p_y > k else 0;
        rce A p_y;  sce alpha + beta A p_y;
        fl (1 - p_y)^gamma (detach=True), or (1 - p)^gamma - gamma p (1 - p)^(gamma - 1) log p.
    ``p_y``: float, array or tensor in [0, 1]; returns a tensor for a tensor, else a NumPy array.
    Normalized and corrected losses depend on all of p: use ``gradient_weight`` for those.
    Computed in float64.
    """
    check_choice("loss", name, LOSSES)
    if name not in _ANALYTIC:
        raise ValueError(f"analytic_weight covers the losses of p_y alone ({', '.join(_ANALYTIC)}); "
                         f"use gradient_weight for {name!r}")
    _check_param_names(name, params)
    kw = {**DEFAULTS[name], **params}
    _check(**{p: v for p, v in kw.items() if p in _RANGES})
    is_tensor = isinstance(p_y, torch.Tensor)
    p = torch.as_tensor(p_y, dtype=torch.float64)
    if not bool(((p >= 0) & (p <= 1)).all()):
        raise ValueError("p_y must be in [0, 1]")
    if name == "ce":
        w = torch.ones_like(p)
    elif name == "mae":
        check_choice("variant", kw["variant"], MAE_VARIANTS)
        w = (2.0 if kw["variant"] == "paper" else 1.0) * p
    elif name == "gce":
        w = p ** kw["q"]
    elif name == "tgce":
        w = torch.where(p > kw["k"], p ** kw["q"], torch.zeros_like(p))
    elif name == "rce":
        w = kw["A"] * p
    elif name == "sce":
        w = kw["alpha"] + kw["beta"] * kw["A"] * p
    else:  # fl
        check_bool("detach", kw["detach"])
        gamma = kw["gamma"]
        w = (1 - p) ** gamma
        if not kw["detach"]:  # minus gamma (1 - p)^(gamma - 1) p log p, which -> 0 at p = 0 and p = 1
            extra = gamma * (1 - p) ** (gamma - 1) * torch.xlogy(p, p)
            w = w - torch.where(p < 1, extra, torch.zeros_like(p))
    return w if is_tensor else w.numpy()


def class_values(loss, logits, **params):
    """L(f(x), k) for every row of ``logits`` and every label k, shape (N, K), no gradient.

    Row n holds what sample n's loss would be under each possible label: its sum is the class sum
    below; its dot product with a label distribution is the expected loss under that distribution
    (e.g. the noisy posterior T^T c of a clean posterior c, the object of Patrini et al.'s theorems).
    """
    _check_logits(logits)
    loss_fn = _as_loss(loss, logits.shape[1], params)
    n, k = logits.shape
    with torch.no_grad():
        return torch.stack([loss_fn(logits, torch.full((n,), c, dtype=torch.long, device=logits.device),
                                    reduction="none") for c in range(k)], dim=1)


def class_sums(loss, logits, **params):
    """sum_k L(f(x), k) for every row of ``logits``, shape (N,), no gradient.

    Constant across x exactly when the loss is symmetric (Ghosh et al. 2017).
    """
    return class_values(loss, logits, **params).sum(dim=1)


# Ma et al. 2020 (Def. 3) write a loss as L(f(x), y) = sum_k l(f(x), k), one term per class. Active:
# l(f(x), k) = 0 for every k != y (CE = sum_k -q_k log p_k with q = e_y has only the label's term).
# Passive: some l(f(x), k) != 0 for k != y (MAE = sum_k |q_k - p_k|, RCE = sum_k -p_k log q_k with
# log 0 := -A). The kind is a property of how the loss is *written*, not of its gradient: under
# softmax MAE's and RCE's logit gradients are w(p_y) (p - e_y), parallel to CE's (lesson 4).
TERM_KINDS = {"ce": "active", "fl": "active", "nce": "active", "nfl": "active",
              "mae": "passive", "rce": "passive", "nmae": "passive", "nrce": "passive"}


def class_terms(loss, logits, targets, **params):
    """Ma et al.'s per-class terms l(f(x), k) of ``loss`` at the labels ``targets``, shape (N, K), no gradient.

    Row n sums to the loss of sample n. Active losses (``TERM_KINDS``: ce, fl, nce, nfl) put the whole
    loss on the label's column. Passive ones are c (1 - p_y) for a constant c (the loss's scale:
    2 for the paper's MAE, A for RCE, ...): the MAE family as c/2 |e_y - p|_k (c/2 (1 - p_y) at the
    label, c/2 p_k elsewhere), the RCE family as c p_k at every k != y and 0 at the label (the
    clamped log of the one-hot label is 0 there). Computed from the logits (log_softmax; 1 - p_y
    as -expm1(log p_y)), with the loss's own hyper-parameters (``params`` as for ``make_loss``).
    """
    _check_logits(logits)
    loss_fn = _as_loss(loss, logits.shape[1], params)
    if loss_fn.name not in TERM_KINDS:
        raise ValueError(f"class_terms covers the losses Ma et al. split into terms ({', '.join(TERM_KINDS)}), "
                         f"got {loss_fn.name!r}")
    with torch.no_grad():
        logp, y = _prepare(logits, targets)
        K, kw = logp.shape[1], loss_fn.params
        on_label = F.one_hot(y, K).bool()
        if TERM_KINDS[loss_fn.name] == "active":
            value = _KERNELS[loss_fn.name](logp, y, **kw)
            return torch.where(on_label, value[:, None], torch.zeros_like(logp))
        p = logp.exp()
        if loss_fn.name in ("mae", "nmae"):
            c = _mae_scale(kw["variant"]) if loss_fn.name == "mae" else _nmae_scale(K, kw["variant"])
            return c / 2 * torch.where(on_label, _one_minus_p(logp), p)
        c = kw["A"] if loss_fn.name == "rce" else _nrce_scale(K, kw["A"], kw["variant"])
        return c * torch.where(on_label, torch.zeros_like(p), p)


def loss_of_p(name, p_y, **params):
    """The value of a loss of p_y alone (``ce, mae, gce, tgce, rce, sce, fl``) at probabilities ``p_y``.

    For plots and exercises: the curve L(p_y) of each loss, computed by the same kernel as training
    (a prediction whose other classes share 1 - p_y; these losses do not depend on how). ``p_y``:
    float, array or tensor in [0, 1]; float64; returns a tensor for a tensor, else a NumPy array.
    """
    check_choice("loss", name, _ANALYTIC)
    _check_param_names(name, params)
    kw = {**DEFAULTS[name], **params}
    _FUNCTIONS[name](torch.zeros(0, 2, dtype=torch.float64), torch.zeros(0, dtype=torch.long),
                     reduction="none", **kw)   # validates the hyper-parameters, naming any bad one
    is_tensor = isinstance(p_y, torch.Tensor)
    p = torch.as_tensor(p_y, dtype=torch.float64)
    if not bool(((p >= 0) & (p <= 1)).all()):
        raise ValueError("p_y must be probabilities in [0, 1]")
    flat = p.reshape(-1)
    logp = torch.stack([flat.log(), torch.log1p(-flat)], dim=1)         # (N, 2): p_y and the rest
    out = _KERNELS[name](logp, torch.zeros(len(flat), dtype=torch.long), **kw).reshape(p.shape) + 0.0  # no -0.0
    return out if is_tensor else out.numpy()


def symmetry_gap(loss, logits, **params):
    """max - min over the rows of ``class_sums``: 0 (up to rounding) for a symmetric loss."""
    sums = class_sums(loss, logits, **params)
    return float(sums.max() - sums.min())


__all__ = [*(f.__name__ for f in _FUNCTIONS.values()), "LOSSES", "DEFAULTS", "APL_PRESETS", "SCE_PRESETS",
           "Loss", "TruncatedLq", "make_loss", "prune_weights", "gradient_weight", "gradient_alignment",
           "logit_gradient_norm", "analytic_weight", "loss_of_p", "class_values", "class_sums", "class_terms",
           "TERM_KINDS", "symmetry_gap"]
