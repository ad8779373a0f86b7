"""The claims helper: a claim holds only if the seed mean clears the margin and every seed agrees."""
import pytest

from nblib.course import claims as C


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv(C.STRICT_ENV_VAR, raising=False)


def test_paired_claim_needs_the_mean_beyond_the_margin_and_every_seed_on_its_side(capsys):
    c = C.Claims()
    assert c.compare("A above B", [0.85, 0.86, 0.84], ">", [0.75, 0.74, 0.73], margin=0.05, unit="points").held
    out = capsys.readouterr().out
    assert "✔ held" in out and "by at least 5.0 points: +11.0 ± 1.0 (3 seeds: +10.0, +12.0, +11.0)" in out
    # a large mean carried by one seed, with another seed on the wrong side: not held
    assert not c.compare("A above B", [0.99, 0.70, 0.90], ">", [0.70, 0.71, 0.70], margin=0.05).held
    # every seed on the right side but the mean below the margin: not held
    assert not c.compare("A above B", [0.76, 0.76], ">", [0.75, 0.75], margin=0.05).held
    assert not c.all_held and "✘ NOT HELD" in str(c)


def test_threshold_below_and_no_difference_claims():
    c = C.Claims(quiet=True)
    assert c.compare("fits most flipped labels", [0.93, 0.91, 0.95], ">=", 0.8).held
    assert not c.compare("fits most flipped labels", [0.93, 0.79, 0.95], ">=", 0.8).held
    assert c.compare("B below A", [0.5, 0.6], "<", [0.8, 0.8], margin=0.1).held
    assert c.compare("level", [0.85, 0.86], "~", [0.84, 0.87], margin=0.02).held
    assert not c.compare("level", [0.85, 0.86], "~", [0.80, 0.81], margin=0.02).held
    assert "(at least 0.8)" in c.claims[0].text


def test_strict_mode_raises_on_a_claim_that_does_not_hold(monkeypatch):
    monkeypatch.setenv(C.STRICT_ENV_VAR, "1")
    c = C.Claims(quiet=True)
    assert c.compare("ok", [2.0, 3.0], ">", 1.0).held
    with pytest.raises(C.ClaimNotHeld, match="NOT HELD.*wrong"):
        c.compare("wrong", [0.0, 3.0], ">", 1.0)


def test_skipped_claims_say_why_once_and_check_nothing(monkeypatch, capsys):
    monkeypatch.setenv(C.STRICT_ENV_VAR, "1")
    c = C.Claims(skip="one seed")
    assert c.compare("wrong", [0.0], ">", 1.0) is None and c.claims == [] and c.all_held
    assert capsys.readouterr().out == "claims not checked: one seed\n"


@pytest.mark.parametrize("kw, match", [
    (dict(a=[1.0], op="=>", b=0.0), "op must be one of"),
    (dict(a=[1.0], op=">", b=0.0, margin=-1), "margin must be >= 0"),
    (dict(a=[1.0, 2.0], op=">", b=[0.0, 1.0, 2.0]), "one value per seed"),
    (dict(a=[float("nan")], op=">", b=0.0), "a must be finite"),
    (dict(a=[], op=">", b=0.0), "a must be a number or a 1-D sequence"),
    (dict(a=[1.0], op=">", b=0.0, unit="pts"), "unit must be one of"),
])
def test_bad_claims_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        C.Claims(quiet=True).compare("x", **kw)
