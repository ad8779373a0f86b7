"""Answer checks for lesson 4 (normalized losses and Active-Passive losses).

Each ``check_*`` prints whether the answer is right and a hint or the reason, and returns True/False.
The expected values come from ``nblib.losses`` itself, so they follow the variants nblib uses.
"""
from __future__ import annotations

import math

import torch

from ... import losses as L
from ... import theory
from ..feedback import number, unanswered, verdict

__all__ = ["check_clean_factor", "check_nrce_class_sum", "check_nce", "check_nce_gradient", "check_nce_above_bound", "check_gradient_share",
           "check_loss_scale"]

REL_TOL = 1e-3          # numeric answers may be rounded to about 3 significant digits
FN_TOL = 1e-5           # a student's loss function must match nblib's to this absolute tolerance
CHECK_SAMPLES = 256     # random predictions used to test a student's function


def _class_sum(loss: str, num_classes: int) -> float:
    """sum_k L(f(x), k) of an nblib loss (a symmetric one: the same for every x), on one random x."""
    z = torch.randn(1, num_classes, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return float(L.class_sums(loss, z)[0])


def _check_class_sum(answer, loss: str, num_classes: int, why: str, hint: str) -> bool:
    """Compare ``answer`` with sum_k L(f(x), k) of ``loss``; ``why`` may use {expected}."""
    if unanswered(answer):
        return False
    expected = _class_sum(loss, num_classes)
    return verdict(math.isclose(number(answer), expected, rel_tol=REL_TOL), why.format(expected=expected), hint)


def check_clean_factor(at_08, at_09, num_classes: int = 10) -> bool:
    """Exercise: the factor 1 - eta K/(K-1) by which symmetric noise of rate eta scales the clean term
    of a symmetric loss's expected value, at eta = 0.8 and 0.9 (``theory.clean_term_factor``)."""
    if unanswered(at_08, at_09):
        return False
    want = [theory.clean_term_factor(r, num_classes) for r in (0.8, 0.9)]
    got = [number(at_08, "at_08"), number(at_09, "at_09")]
    ok = all(math.isclose(g, w, rel_tol=REL_TOL, abs_tol=REL_TOL) for g, w in zip(got, want))
    return verdict(ok, f"1 - eta K/(K-1) = {want[0]:.3f} at 0.8 (the clean term pulls with a ninth of its clean "
                   f"strength) and {want[1]:.3g} at 0.9 = (K-1)/K (the noisy label says nothing about the true one). "
                   "A ninth of the pull, on 1137 images, helps explain why NCE+RCE and MAE lose much of their "
                   "accuracy at 80%, although the guarantee still holds there.",
                   "Expand (1 - eta) L(f(x), y) + eta/(K-1) sum_{k != y} L(f(x), k) with sum_{k != y} L = C - L(f(x), y) "
                   "and collect the terms in L(f(x), y).")


def check_nce_above_bound(logits, label: int = 0) -> bool:
    """Exercise: a prediction (``logits``, one per class) whose NCE for ``label`` exceeds 1/(K-1), the
    bound C/(K-1) of Ghosh et al.'s class-dependent theorem (NCE's class sum C is 1)."""
    if unanswered(logits):
        return False
    z = torch.as_tensor([number(v, "logits") for v in logits], dtype=torch.float64)[None]
    K = z.shape[1]
    if K < 2 or not 0 <= label < K:
        raise ValueError(f"label must be a class index in [0, {K - 1}] of a prediction with >= 2 logits, got {label!r}")
    value = float(L.nce(z, torch.tensor([label]), reduction="none")[0])
    p = z.softmax(1)[0]
    return verdict(value > 1 / (K - 1),
                   f"NCE = {value:.3f} > 1/(K-1) = {1 / (K - 1):.3f} with p_y = {float(p[label]):.2g}: a p_y much smaller "
                   "than the other classes' makes log p_y dominate sum_k log p_k, so NCE climbs towards 1. NCE "
                   "breaks the theorem's bound; MAE and RCE never do.",
                   f"NCE = {value:.3f} is not above 1/(K-1) = {1 / (K - 1):.3f}. Make p_y alone very small while the other "
                   "classes stay spread (a very negative logit for the label, the others equal).")


def check_nrce_class_sum(answer, num_classes: int = 10) -> bool:
    """Exercise: sum_k NRCE(f(x), k) for nblib's NRCE = RCE / sum_k RCE, whatever RCE's A."""
    return _check_class_sum(answer, "nrce", num_classes,
                            "sum_k RCE(f(x), k) = A sum_k (1 - p_k) = A (K - 1), the same for every x, so NRCE = "
                            "A (1 - p_y) / (A (K - 1)) = (1 - p_y) / (K - 1) and its class sum is {expected:g} "
                            "for every A: normalizing divides the scale out.",
                            "RCE = A (1 - p_y); write sum_k RCE(f(x), k) and divide.")


def _check_inputs(num_classes: int):
    """The random logits (scale 3) and labels a student's function is tested on."""
    gen = torch.Generator().manual_seed(1)
    z = 3 * torch.randn(CHECK_SAMPLES, num_classes, generator=gen, dtype=torch.float64)
    return z, torch.randint(0, num_classes, (CHECK_SAMPLES,), generator=gen)


def _student_output(fn, z, y, shape: tuple, what: str):
    """``fn(z, y)`` as a float64 tensor of ``shape`` (``what`` says it in words), or None with the reason
    printed."""
    try:
        out = fn(z, y)
    except Exception as e:  # the student's code: report any error instead of raising
        print(f"Not yet. Your function raised {type(e).__name__}: {e}")
        return None
    if out is None:
        print("Not yet. Your function returned None: did you forget the `return`?")
        return None
    try:
        got = torch.as_tensor(out, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as e:
        print(f"Not yet. Return a tensor of {what}; got {type(out).__name__} ({e})")
        return None
    if tuple(got.shape) != shape:
        print(f"Not yet. Return {what}: shape {shape}, got {tuple(got.shape)}. Use no mean over the batch.")
        return None
    return got


def check_nce(fn, num_classes: int = 10) -> bool:
    """Exercise: ``fn(logits, targets)`` returns the per-sample NCE, shape (N,), from raw logits."""
    z, y = _check_inputs(num_classes)
    got = _student_output(fn, z, y, (CHECK_SAMPLES,), "one value per sample")
    if got is None:
        return False
    expected = L.nce(z, y, reduction="none")
    err = float((got - expected).abs().max())
    if err > FN_TOL:
        if torch.allclose(got, L.ce(z, y, reduction="none")):
            hint = "That is plain CE: divide it by sum_k (-log p_k)."
        else:
            hint = "NCE = log p_y / sum_k log p_k, with the sum over *all* K classes (use log_softmax)."
        print(f"Not yet. Largest difference from nblib.losses.nce: {err:.3g}. {hint}")
        return False
    sums = sum(torch.as_tensor(fn(z, torch.full_like(y, k)), dtype=torch.float64) for k in range(num_classes))
    return verdict(True, f"Matches nblib.losses.nce (max difference {err:.1e}); its class sums are "
                   f"{float(sums.min()):.6f} to {float(sums.max()):.6f}, i.e. 1: NCE is symmetric.", "")


def check_nce_gradient(fn, num_classes: int = 10) -> bool:
    """Exercise: ``fn(logits, targets)`` returns NCE's logit gradient dNCE/dz, shape (N, K), from a
    formula (compared with autograd through ``nblib.losses.nce``)."""
    z, y = _check_inputs(num_classes)
    got = _student_output(fn, z, y, (CHECK_SAMPLES, num_classes), "one gradient row per sample")
    if got is None:
        return False
    zz = z.clone().requires_grad_(True)
    expected = torch.autograd.grad(L.nce(zz, y, reduction="sum"), zz)[0]
    err = float((got - expected).abs().max())
    return verdict(err <= FN_TOL,
                   f"Matches autograd (max difference {err:.1e}). With S = sum_k log p_k < 0, the first term "
                   "(e_y - p) / S = (p - e_y) / |S| is CE's gradient, scaled down by |S|. The second, "
                   "-NCE (1 - K p) / S, makes a descent step raise the logits of the classes above 1/K and lower "
                   "the others: it sharpens the prediction towards whatever class it already favours (a more "
                   "negative S lowers NCE too). When p_y is tiny, NCE is large, that class is a wrong one, and the "
                   "second term outweighs the first: the negative cosines of section 2.",
                   f"Largest difference from autograd: {err:.3g}. Use the quotient rule on log p_y / S with "
                   "S = sum_k log p_k, d log p_y / dz = e_y - p and dS/dz = 1 - K p.")


def check_gradient_share(answer, results, rate: float = 0.4, epochs=(2, 40)) -> bool:
    """Exercise: which losses of ``results`` (a SweepResult at symmetric noise ``rate``) give the
    flipped samples more than their share (``rate``) of the gradient, averaged over ``epochs``?"""
    from .experiments import grad_share

    if unanswered(answer):
        return False
    if isinstance(answer, str):
        raise TypeError(f"answer must be a set or list of loss names such as {{'ce'}}, got the string {answer!r}")
    names = list(dict.fromkeys(results.frame()["loss"]))
    chosen = {str(a).lower() for a in answer}
    unknown = sorted(chosen - set(names))
    if unknown:
        raise ValueError(f"answer must name losses of this experiment {names}, got {unknown}")
    shares = {n: float(grad_share(results, n, epochs).mean()) for n in names}
    right = {n for n, v in shares.items() if v > rate}
    measured = ", ".join(f"{n} {v:.2f}" for n, v in shares.items())
    if chosen == right:
        return verdict(True, f"Measured shares (flipped samples are {rate:.0%} of the data): {measured}. RCE's weight "
                       "A p_y is small where the model finds the label implausible, i.e. mostly on flipped samples; "
                       "CE weighs every sample alike and keeps pushing on the flipped ones; NCE's gradient vanishes "
                       "on the samples it has fitted, so what is left goes to the ones it has not: mostly flipped.")
    return verdict(False, "", f"{sorted(chosen)} is not it. Think of each loss's weight w(p_y) and of which samples "
                   "have a small p_y during training; the gradient-share curves show the answer.")


SCALE_ANSWERS = ("same", "different")   # exercise 7: does NCE x factor train to a different test accuracy?
SAME_POINTS, DIFFERENT_POINTS = 0.05, 0.20   # |gap| below: "same"; above: "different" (measured: <= 0.006 / >= 0.44)


def _scale_verdict(gap: float) -> str:
    return "same" if gap < SAME_POINTS else "different" if gap > DIFFERENT_POINTS else "unclear"


def check_loss_scale(adam, sgd, runs=None, device=None) -> bool:
    """Exercise 7: does training NCE x factor instead of NCE end at a clearly different test accuracy,
    with Adam and with SGD? Answers "same" or "different". The check trains the four models
    (:func:`experiments.loss_scale_runs`, a few seconds; or pass its result as ``runs``) and prints them."""
    if unanswered(adam, sgd):
        return False
    for name, answer in (("adam", adam), ("sgd", sgd)):
        if answer not in SCALE_ANSWERS:
            raise ValueError(f"{name} must be one of {SCALE_ANSWERS}, got {answer!r}")
    from .experiments import LOSS_SCALE, loss_scale_runs

    runs = loss_scale_runs(device=device) if runs is None else runs
    f = float(LOSS_SCALE["factor"])
    measured = {}
    for opt in ("adam", "sgd"):
        gap = abs(runs[(opt, f)] - runs[(opt, 1.0)])
        measured[opt] = _scale_verdict(gap)
        print(f"{opt}: test accuracy {100 * runs[(opt, 1.0)]:.1f}% with NCE, {100 * runs[(opt, f)]:.1f}% with "
              f"NCE x {f:g} ({measured[opt]})")
    return verdict(adam == measured["adam"] == "same" and sgd == measured["sgd"] == "different",
                   "Adam divides each parameter's step by the running root mean square of its gradient, so a "
                   "constant factor cancels (up to its small epsilon and rounding): the size of a loss does not "
                   "matter, only how its gradient is shared between samples and parameters. SGD's step is the "
                   "learning rate times the gradient, so NCE x 50 is NCE with a 50 times larger learning rate: "
                   "NCE's small gradient is why it underfits under SGD (Ma et al.), not under Adam.",
                   "compare the printed accuracies, then ask what each optimizer's step is made of: SGD's is "
                   "lr x gradient; Adam's is lr x (running mean of the gradient) / (running RMS of the gradient).")
