"""The feedback every exercise check shares: placeholders, verdicts, numbers."""
import math

import pytest

from nblib.course import feedback as fb


@pytest.mark.parametrize("answers", [(None,), (...,), (0.5, None), (..., ...)])
def test_a_placeholder_prints_one_reminder(answers, capsys):
    assert fb.unanswered(*answers)
    assert capsys.readouterr().out == fb.NO_ANSWER + "\n"


def test_answers_are_not_placeholders(capsys):
    assert not fb.unanswered(0, "", 0.0, [])
    assert capsys.readouterr().out == ""


def test_verdict_prints_why_or_a_hint(capsys):
    assert fb.verdict(True, "because", "hint") is True
    assert fb.verdict(0, "because", "hint") is False
    assert fb.verdict(False, "same text") is False
    assert capsys.readouterr().out.splitlines() == ["Correct! because", "Not yet. hint", "Not yet. same text"]


def test_number_accepts_numbers_and_names_the_bad_answer():
    assert fb.number("0.25") == 0.25 and fb.number(3) == 3.0
    with pytest.raises(TypeError, match="recall must be a number, got 'high'"):
        fb.number("high", "recall")
    with pytest.raises(ValueError, match="finite"):
        fb.number(math.inf)
