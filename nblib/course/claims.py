"""A lesson's claims about its experiments, stated as comparisons with a margin and checked on the spot.

A course may only claim what holds for whoever reruns it, on another CPU and another seed. So a
lesson does not write "GCE beats CE by 12 points" in its text; it states the claim here, with the
margin it is sure of, and the notebook prints whether this run bears it out, with the numbers:

    claims = Claims()
    claims.compare("GCE (q=0.7) ends above CE", gce_final, ">", ce_final, margin=0.05, unit="points")
    claims.compare("CE fits most flipped labels by the end", ce_memorised, ">=", 0.8)

    ✔ held     GCE (q=0.7) ends above CE by at least 5.0 points: +12.3 ± 2.1 (seeds +10.1, +12.9, +14.0)
    ✔ held     CE fits most flipped labels by the end (at least 0.80): 0.93 ± 0.02 (seeds 0.91, 0.93, 0.95)

The rule, the same for every claim: the **mean over seeds** must clear the margin, and **every
seed** must lie on the claimed side of the threshold without the margin (so one lucky seed cannot
carry a claim, and the effect is larger than the seed-to-seed spread whenever the margin is). A
claim of no effect (``"~"``) holds when the mean difference is within ``margin`` either way.
Paired values (the same seeds on both sides) are compared seed by seed.

Where a run cannot back claims (one seed, say), ``Claims(skip="why")`` prints that once and checks
nothing: its ``compare`` calls return None.

Tests run every notebook with ``NBLIB_STRICT_CLAIMS=1``: a claim that does not hold then raises
:class:`ClaimNotHeld`, which fails the notebook's test, on this CPU and under the capability stage
that imitates another one. Without it a claim that fails prints "not held" and the lesson goes on.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

STRICT_ENV_VAR = "NBLIB_STRICT_CLAIMS"
OPS = (">", ">=", "<", "<=", "~")
HELD, NOT_HELD = "✔ held    ", "✘ NOT HELD"
UNITS = {"points": 100.0, "": 1.0, "%": 100.0}   # display scale of a difference of fractions


class ClaimNotHeld(AssertionError):
    """A lesson's claim did not hold on this run (raised only in strict mode, i.e. under the tests)."""


def strict() -> bool:
    """True when claims must hold (``NBLIB_STRICT_CLAIMS=1``, set by the notebook tests)."""
    return os.environ.get(STRICT_ENV_VAR, "").strip().lower() in ("1", "true", "yes")


def _values(x, name: str) -> np.ndarray:
    v = np.atleast_1d(np.asarray(x, dtype=np.float64))
    if v.ndim != 1 or len(v) == 0:
        raise ValueError(f"{name} must be a number or a 1-D sequence of per-seed values, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be finite; got {v.tolist()}")
    return v


@dataclass
class Claim:
    """One checked claim: what was claimed, the per-seed values compared, and whether it held."""

    text: str
    op: str
    margin: float
    values: np.ndarray          # per seed: a - b ("difference"), or a itself when b is a threshold ("value")
    against: str                # "difference" or "value": how the printed line shows the values
    held: bool
    unit: str = ""

    def line(self) -> str:
        """The printed line: verdict, claim, measured mean ± std and every seed's value."""
        scale = UNITS[self.unit]
        v = self.values * scale
        digits = 1 if scale != 1.0 else 3
        sign = "+" if self.against == "difference" else ""
        fmt = lambda x: f"{x:{sign}.{digits}f}"  # noqa: E731
        spread = f" ± {v.std(ddof=1):.{digits}f}" if len(v) > 1 else ""
        seeds = ", ".join(fmt(x) for x in v)
        n = f"{len(v)} seeds" if len(v) > 1 else "1 run"
        return f"{HELD if self.held else NOT_HELD} {self.text}: {fmt(v.mean())}{spread} ({n}: {seeds})"


@dataclass
class Claims:
    """The claims of one lesson (or one section): ``compare`` checks and prints each as it is made."""

    claims: list = field(default_factory=list)
    quiet: bool = False
    skip: str = ""              # non-empty: the claims are not checked on this run, and this says why

    def __post_init__(self):
        if self.skip and not self.quiet:
            print(f"claims not checked: {self.skip}")

    def compare(self, text: str, a, op: str, b, *, margin: float = 0.0, unit: str = "") -> Claim:
        """Claim ``a op b (+ margin)`` over seeds and print the verdict.

        a: per-seed values (a sequence, one per seed) or one number.
        op: ">" / ">=" (a above b by at least ``margin``), "<" / "<=" (below by at least
            ``margin``), or "~" (equal within ``margin`` either way: "no difference beyond noise").
        b: a threshold (a number) or per-seed values paired with ``a`` (same seeds, same order).
        margin: how far beyond b the mean must lie (>= 0), in the units of the values (fractions).
        unit: "points" or "%" shows fractions x 100; "" as they are.
        Returns the :class:`Claim` (None when the claims are skipped); in strict mode (tests) raises
        :class:`ClaimNotHeld` if it fails.
        """
        if self.skip:
            return None
        if op not in OPS:
            raise ValueError(f"op must be one of {', '.join(OPS)}, got {op!r}")
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(map(repr, UNITS))}, got {unit!r}")
        margin = float(margin)
        if not margin >= 0:
            raise ValueError(f"margin must be >= 0, got {margin!r}")
        va = _values(a, "a")
        vb = _values(b, "b")
        if len(vb) not in (1, len(va)):
            raise ValueError(f"b must be one threshold or one value per seed of a ({len(va)}), got {len(vb)}")
        d = va - vb                           # per seed: how far a lies above b
        mean = d.mean()
        if op in (">", ">="):
            held = mean >= margin and bool(np.all(d > 0 if op == ">" else d >= 0))
        elif op in ("<", "<="):
            held = -mean >= margin and bool(np.all(d < 0 if op == "<" else d <= 0))
        else:
            held = abs(mean) <= margin
        threshold = len(vb) == 1 and np.ndim(b) == 0
        scale = UNITS[unit]
        m = f"{margin * scale:.1f} {unit}".strip() if unit else f"{margin:g}"
        if op == "~":
            full = f"{text} (within ±{m})"
        elif threshold:
            word = {">": "above", ">=": "at least", "<": "below", "<=": "at most"}[op]
            ref = f"{float(vb[0]) * scale:.1f}" if unit else f"{float(vb[0]):g}"
            full = f"{text} ({word} {ref}{' by ' + m if margin else ''})"
            d = va                            # show the measured values themselves
        else:
            full = f"{text} by at least {m}" if margin else text
        claim = Claim(full, op, margin, d, "value" if threshold else "difference", bool(held), unit)
        self.claims.append(claim)
        if not self.quiet:
            print(claim.line())
        if not claim.held and strict():
            raise ClaimNotHeld(f"claim not held on this run: {claim.line()}")
        return claim

    @property
    def all_held(self) -> bool:
        return all(c.held for c in self.claims)

    def __str__(self) -> str:
        return "\n".join(c.line() for c in self.claims)
