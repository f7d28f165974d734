"""Named, computed verdicts: the claims a section's prose makes, each checked against its numbers.

A notebook module's ``*_verdicts(...)`` functions return a :class:`Verdicts`, one claim per entry
(a sentence) and whether the computed numbers bear it out. A cell shows them and asserts them in
one line::

    nb.map_verdicts(runs).require()

:meth:`Verdicts.require` raises, naming every claim that failed, so a re-run that changes a result
stops the notebook at the claim it broke instead of leaving prose that no longer holds.
"""

from __future__ import annotations

import html

__all__ = ["Verdicts"]


class Verdicts(dict):
    """``{claim: holds}``: shown as a list with a mark per claim (text and HTML)."""

    def __init__(self, claims=(), **kwargs):
        super().__init__(claims, **kwargs)
        for claim, holds in self.items():
            if not isinstance(claim, str) or not claim:
                raise TypeError(f"a verdict's claim is a sentence (a non-empty str), got {claim!r}")
            self[claim] = bool(holds)

    @property
    def failed(self) -> list[str]:
        """The claims the numbers do not bear out."""
        return [claim for claim, holds in self.items() if not holds]

    def require(self) -> "Verdicts":
        """Return these verdicts for display, or raise an AssertionError naming every claim that failed."""
        if not self:
            raise AssertionError("no verdict was computed: an empty list of claims proves nothing")
        if self.failed:
            raise AssertionError("the numbers no longer bear out: " + "; ".join(self.failed)
                                 + ". Re-read the section's prose against its table before changing the claim.")
        return self

    def __str__(self) -> str:
        return "\n".join(f"{'✓' if holds else '✗'} {claim}" for claim, holds in self.items())

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        rows = "".join(
            f'<li style="list-style:none;margin:2px 0"><span style="color:{"#1a7f37" if holds else "#b42318"};'
            f'font-weight:bold">{"✓" if holds else "✗"}</span> {html.escape(claim)}</li>'
            for claim, holds in self.items())
        return f'<ul class="kdnb-verdicts" style="padding-left:0.5em;margin:4px 0">{rows}</ul>'
