"""Exercises the reader does: a stub to fill in, a checker that names the mistake, a hidden solution.

Each "Check yourself" in a notebook has three cells:

1. **the stub**: a value set to ``...`` or a function whose body calls :func:`your_turn`. Run
   as it is, the check prints "your turn" and what to do; nothing else in the notebook
   depends on it, so *Run All* goes on.
2. **the check**: a function of the notebook's own module (``nb.check_…``) that returns a
   :class:`Verdict` and prints it: ``correct``, ``your turn``, or ``not yet`` with the
   mistake named (for example "the T² factor is missing").
3. **the solution**: a collapsed cell tagged ``solution``; click it to reveal it. It runs the
   same check on the reference answer, so the committed notebook shows that it passes.

A checker is built from :func:`check`: a ``diagnose`` function returns ``None`` for a right
answer and a sentence naming the problem otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from .i18n import N_, _, in_language

__all__ = ["YourTurn", "your_turn", "Verdict", "check", "close", "exercise_name", "SOLUTION_TAG"]

#: The cell tag that marks a solution (its source is collapsed in JupyterLab).
SOLUTION_TAG = "solution"


#: The kinds of exercise a notebook names ("Check yourself 4.1"), with their names in the catalog.
EXERCISE_KINDS = (("Check yourself ", N_("Check yourself {number}")), ("Try it ", N_("Try it {number}")),
                  ("Spot the bug ", N_("Spot the bug {number}")))


def exercise_name(name: str, lang: str | None = None) -> str:
    """An exercise's name as the reader sees it: "Check yourself 4.1", "Try it 2.1" and "Spot the bug 7.1" in
    ``lang`` (default: the current language). A checker passes the English name; only the display translates it."""
    for prefix, msg in EXERCISE_KINDS:
        if name.startswith(prefix):
            shown = _(msg) if lang is None else in_language(lang, msg)
            return shown.format(number=name[len(prefix):])
    return name


class YourTurn(NotImplementedError):
    """Raised by a stub the reader has not filled in yet."""


def your_turn(what: str = "fill in this function") -> None:
    """Stop a stub with a clear message: ``raise`` it from the part the reader writes."""
    raise YourTurn(_("Your turn: {what}").format(what=what))


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: ``status`` is ``"correct"``, ``"wrong"`` or ``"todo"``."""

    exercise: str
    status: str
    message: str
    printed: bool = field(default=False, compare=False, repr=False)

    def __bool__(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        mark = {"correct": _("✓ correct"), "wrong": _("✗ not yet"), "todo": _("→ your turn")}[self.status]
        return _("{exercise}: {mark}. {message}").format(exercise=exercise_name(self.exercise), mark=mark, message=self.message).rstrip()

    __repr__ = __str__

    def _ipython_display_(self) -> None:
        # check() has printed the verdict already; a cell ending in a check must not show it twice
        # (nbval runs cells without history, so a trailing ";" does not hide the value there).
        if not self.printed:
            print(self)


def check(exercise: str, answer: Any, diagnose: Callable[[Any], str | None], todo: str,
          praise: str = "", quiet: bool = False) -> Verdict:
    """Run ``diagnose(answer)`` and print the verdict.

    ``answer`` is ``...`` (or a stub raising :class:`YourTurn`) until the reader fills it in:
    the verdict is then "your turn" with the hint ``todo``. An exception raised by the
    reader's own code is reported as a mistake, with its message, instead of stopping the
    notebook.
    """
    if answer is Ellipsis:
        verdict = Verdict(exercise, "todo", todo)
    else:
        try:
            problem = diagnose(answer)
        except YourTurn:
            problem, verdict = None, Verdict(exercise, "todo", todo)
        except Exception as exc:  # the reader's code failed: say how, and keep going
            problem, verdict = _("your code raised {error}: {message}").format(error=type(exc).__name__, message=exc), None
        else:
            verdict = None
        if verdict is None:
            verdict = Verdict(exercise, "wrong", problem) if problem else Verdict(exercise, "correct", praise)
    if not quiet:
        print(verdict)
        verdict = Verdict(verdict.exercise, verdict.status, verdict.message, printed=True)
    return verdict


def close(a: float, b: float, rel: float = 1e-6, abs_: float = 1e-9) -> bool:
    """``a`` and ``b`` agree up to float error (for checks on numbers the reader computes)."""
    try:
        return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_)
    except (TypeError, ValueError):
        return False


def as_number(x: Any) -> float | None:
    """The reader's answer as a finite float, whatever its numeric type, or None if it is no number.

    Accepts ``int``, ``float``, NumPy scalars and 0-d or one-element tensors and arrays, so a checker
    does not reject a right answer for its type; refuses ``bool``, strings, NaN and infinity.
    """
    if isinstance(x, (bool, str, bytes)) or x is None or x is Ellipsis:
        return None
    try:
        if hasattr(x, "numel") and x.numel() != 1 or hasattr(x, "size") and not callable(x.size) and x.size != 1:
            return None
        value = float(x.item() if hasattr(x, "item") else x)
    except (TypeError, ValueError, RuntimeError):
        return None
    return value if math.isfinite(value) else None
