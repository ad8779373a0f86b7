"""Answer checks for lesson 2 (CCE vs MAE gradients).

Each ``check_*`` prints whether the answer is right (and a hint if not) and returns True/False.

1. ``check_ce_logit_gradient``: dCCE/dz for the logits ``EX1_LOGITS`` and label ``EX1_LABEL``
   (p - e_y), by hand with NumPy.
2. ``check_gradient_ratio``: how many times larger is CCE's parameter gradient than MAE's
   (2 - 2 p_y) for a sample with p_y = ``EX2_P_Y``?  1 / (2 p_y).
3. ``check_mae_peak``: at which p_y is MAE's logit gradient |dMAE/dz_y| = 2 p_y (1 - p_y) largest?
4. ``check_symmetric_losses``: which of ``EX4_CANDIDATES`` are symmetric (sum_k L(f(x), k) constant)?
5. ``check_fitting_seed``: on the stored MNIST-1D runs at 40% noise, which seed's MAE fits the most
   clean training samples (the seed whose MAE share stays below the fraction in the second half)?
6. ``check_risk_factor``: the factor 1 - eta K/(K - 1) in front of the clean risk, for K = ``EX6_K``
   at the rates ``EX6_RATES`` (0 at eta = (K-1)/K, negative beyond: the noisy-risk minimiser then
   maximises the clean risk).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ... import losses as _losses
from ... import theory as _theory
from ..feedback import number, unanswered, verdict

__all__ = ["EX1_LOGITS", "EX1_LABEL", "EX2_P_Y", "EX4_CANDIDATES", "EX6_K", "EX6_RATES", "check_ce_logit_gradient",
           "check_gradient_ratio", "check_mae_peak", "check_symmetric_losses", "check_fitting_seed",
           "check_risk_factor"]

EX1_LOGITS = (2.0, 1.0, 0.1)
EX1_LABEL = 1
EX2_P_Y = 0.05
EX4_CANDIDATES = ("ce", "mae", "gce", "rce", "nce", "fl")
EX6_K = 10
EX6_RATES = (0.9, 0.95)
TOL = 1e-3          # absolute tolerance for numeric answers
REL_TOL = 0.01      # relative tolerance for the ratio
SYM_SAMPLES = 128   # random inputs on which the symmetry gap is measured (float64)
SYM_TOL = 1e-6      # a gap below this is rounding: the loss is symmetric


def _ce_logit_gradient() -> np.ndarray:
    z = torch.tensor([EX1_LOGITS], dtype=torch.float64, requires_grad=True)
    _losses.ce(z, torch.tensor([EX1_LABEL]), reduction="sum").backward()
    return z.grad[0].numpy()


def check_ce_logit_gradient(answer) -> bool:
    """Exercise 1: the vector dCCE/dz (length K) for logits ``EX1_LOGITS`` and label ``EX1_LABEL``."""
    if unanswered(answer):
        return False
    a = np.asarray(answer.detach().cpu() if isinstance(answer, torch.Tensor) else answer, dtype=np.float64)
    want = _ce_logit_gradient()
    if a.shape != want.shape:
        return verdict(False, "", f"The gradient has one entry per class: shape {want.shape}, got {a.shape}.")
    if np.allclose(a, -want, atol=TOL):
        return verdict(False, "", "Right size, wrong sign: the gradient is p - e_y (descent moves z by -(p - e_y)).")
    return verdict(np.allclose(a, want, atol=TOL),
                   f"dCCE/dz = p - e_y = {np.round(want, 3).tolist()}: the label's logit is pushed up by "
                   "1 - p_y, every other logit down by its own probability; the entries sum to 0.",
                   "Hint: p = softmax(z) = exp(z) / exp(z).sum(); then subtract 1 at the label's index.")


def check_gradient_ratio(answer) -> bool:
    """Exercise 2: ||dCCE/dtheta|| / ||dMAE/dtheta|| for one sample with p_y = ``EX2_P_Y`` (MAE = 2 - 2 p_y)."""
    if unanswered(answer):
        return False
    a = number(answer)
    want = 1 / float(_losses.analytic_weight("mae", EX2_P_Y))   # CCE's weight is 1
    return verdict(abs(a - want) <= REL_TOL * want,
                   f"dCCE/dtheta = -(1/p_y) dp_y/dtheta and dMAE/dtheta = -2 dp_y/dtheta, so the ratio is "
                   f"1/(2 p_y) = {want:g}: a sample the model finds implausible pulls {want:g} times harder "
                   "under CCE.",
                   "Hint: both gradients point along dp_y/dtheta; compare the factors 1/p_y and 2."
                   + (" (That is MAE's size relative to CCE; the question asks the other way round.)"
                   if abs(a - 1 / want) <= REL_TOL / want else ""))


def check_mae_peak(answer) -> bool:
    """Exercise 3: the p_y in (0, 1) that maximises MAE's logit gradient |dMAE/dz_y| = 2 p_y (1 - p_y)."""
    if unanswered(answer):
        return False
    a = number(answer)
    p = np.linspace(0, 1, 100001)
    want = float(p[np.argmax(p * (1 - p))])
    return verdict(abs(a - want) <= TOL,
                   "d/dp [2p(1 - p)] = 2 - 4p = 0 at p_y = 1/2. MAE ignores samples it finds implausible "
                   "(p_y near 0) as well as the ones it already fits (p_y near 1): robust to flipped labels, "
                   "but slow on hard samples, which stay at small p_y and get little of its gradient.",
                   "Hint: differentiate 2 p (1 - p) with respect to p and set it to 0.")


@lru_cache(maxsize=1)
def _symmetric_candidates() -> frozenset:
    z = torch.randn(SYM_SAMPLES, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    return frozenset(n for n in EX4_CANDIDATES if _losses.symmetry_gap(n, z) < SYM_TOL)


def check_symmetric_losses(answer) -> bool:
    """Exercise 4: the set of names among ``EX4_CANDIDATES`` whose sum over all labels,
    sum_k L(f(x), k), is the same for every x (use ``nblib.losses.symmetry_gap``)."""
    if unanswered(answer):
        return False
    if isinstance(answer, str):
        answer = [answer]
    a = {str(n).lower() for n in answer}
    unknown = a - set(EX4_CANDIDATES)
    if unknown:
        return verdict(False, "", f"Not among the candidates: {sorted(unknown)}. Name losses from {EX4_CANDIDATES}.")
    want = _symmetric_candidates()
    missing, extra = sorted(want - a), sorted(a - want)
    return verdict(a == want,
                   f"{sorted(want)} are symmetric: MAE and RCE are affine in p_y (sum_k (1 - p_k) = K - 1), and "
                   "NCE is normalized. CE, GCE (q < 1) and FL are not.",
                   (f"Missing: {missing}. " if missing else "") + (f"Not symmetric: {extra}. " if extra else "")
                   + "Hint: use float64 logits (dtype=torch.float64): symmetry_gap(name, logits) is then 0 up to "
                   "rounding (< 1e-9) for a symmetric loss; in float32 rounding alone leaves gaps near 1e-5.")


def check_fitting_seed(answer, result=None) -> bool:
    """Exercise 5: the seed whose MAE fits the most clean training samples at the end of the stored
    MNIST-1D runs at 40% noise (``result``: default ``experiments.stored_runs()``)."""
    if unanswered(answer):
        return False
    from .experiments import noise_label, STORED_RATE, stored_runs

    result = stored_runs() if result is None else result
    fit = result.per_seed("clean_acc", loss="mae", noise=noise_label(STORED_RATE))
    seeds = list(result.grid.seeds)
    want = seeds[int(np.argmax(fit))]
    listing = ", ".join(f"seed {s}: {f:.2f}" for s, f in zip(seeds, fit))
    return verdict(number(answer) == want,
                   f"Seed {want} ({listing}). MAE's push 2p_y(1 - p_y) is large only for samples in the middle. "
                   "Where MAE learns many clean samples, those pass through the middle and draw the gradient, "
                   "while flipped samples stay at small p_y: share below the fraction. Where it stalls, many clean "
                   "samples sit at small p_y like the flipped ones, and the share is a ratio between two muted groups.",
                   f"Not that one. Look at the per-seed values ({listing}): which is largest?")


def check_risk_factor(answer) -> bool:
    """Exercise 6: the pair (factor at EX6_RATES[0], factor at EX6_RATES[1]) of 1 - eta K/(K - 1), K = EX6_K,
    the slope of the noisy risk in the clean risk for a symmetric loss."""
    if unanswered(answer):
        return False
    a = np.asarray(answer, dtype=np.float64).ravel()
    want = np.array([_theory.symmetric_noisy_accuracy(1.0, r, EX6_K) - _theory.symmetric_noisy_accuracy(0.0, r, EX6_K)
                     for r in EX6_RATES])
    if a.shape != want.shape:
        return verdict(False, "", f"Give one factor per rate {EX6_RATES}: two numbers.")
    return verdict(bool(np.allclose(a, want, atol=TOL)),
                   f"{want[0]:+.4f} and {want[1]:+.4f}. At eta = (K-1)/K = 0.9 the noisy label is uniform whatever "
                   "the true class: the noisy risk is the constant eta C/(K-1) and every f minimises it. Beyond it the "
                   "factor is negative: the noisy-risk minimiser maximises the clean risk (it learns to predict a "
                   "wrong class).",
                   "Hint: K/(K - 1) = 10/9 for K = 10; multiply by each rate and subtract from 1.")
