"""What every exercise check says, in one place: the same words for the same situation.

- a placeholder still in the cell (``...`` or ``None``): a reminder, no verdict (so a notebook runs
  top to bottom unanswered);
- an answer: "Correct! <why>" or "Not yet. <hint>", and the check returns True or False;
- an answer of the wrong type (text where a number is asked): a TypeError naming the answer.
"""
from __future__ import annotations

import math

NO_ANSWER = "No answer yet: replace the placeholder (... or None) with your answer and run the cell again."


def unanswered(*answers) -> bool:
    """True, with one reminder printed, when any of ``answers`` is still a placeholder."""
    if any(a is None or a is Ellipsis for a in answers):
        print(NO_ANSWER)
        return True
    return False


def verdict(ok: bool, right: str, wrong: str | None = None) -> bool:
    """Print "Correct! ``right``" or "Not yet. ``wrong``" (default: the same text); return ``ok``."""
    print(("Correct! " + right) if ok else ("Not yet. " + (right if wrong is None else wrong)))
    return bool(ok)


def number(answer, name: str = "answer") -> float:
    """``answer`` as a finite float, or a TypeError / ValueError that names it."""
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {answer!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {answer!r}")
    return value
