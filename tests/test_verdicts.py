"""kdnb.verdicts: a section's claims, computed, shown and asserted in one line."""

import pytest

from kdnb.verdicts import Verdicts


def test_require_returns_the_verdicts_when_every_claim_holds():
    v = Verdicts({"the distilled student beats the student alone (ranges apart)": True, "T = 4 is chosen": 1})
    assert v.require() is v and v.failed == [] and v["T = 4 is chosen"] is True
    assert str(v) == "✓ the distilled student beats the student alone (ranges apart)\n✓ T = 4 is chosen"
    assert v._repr_html_().count("✓") == 2


def test_require_names_every_claim_that_failed():
    v = Verdicts({"a holds": True, "b holds": False, "c holds": False})
    with pytest.raises(AssertionError, match="b holds; c holds"):
        v.require()
    assert "✗ b holds" in str(v) and "✗" in v._repr_html_()


def test_an_empty_or_malformed_verdict_is_refused():
    with pytest.raises(AssertionError, match="no verdict"):
        Verdicts().require()
    with pytest.raises(TypeError, match="sentence"):
        Verdicts({"": True})
    with pytest.raises(TypeError, match="sentence"):
        Verdicts({3: True})


def test_claims_are_escaped_in_html():
    assert "&lt;b&gt;" in Verdicts({"<b> is not bold": True})._repr_html_()
