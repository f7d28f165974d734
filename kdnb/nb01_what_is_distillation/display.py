"""What notebook 01 shows, in the reader's language: :func:`shown` makes a table a :class:`Shown`, whose display
translates its headers, model labels and texts (the table itself keeps the English names that code and tests
read), :func:`model_label` turns "teacher (MLP 2x1200 +dropout)" into its Chinese, and :func:`show_soft_target`
and :func:`parameters_changed` print two readouts of the notebook.
"""

from __future__ import annotations

import re

import pandas as pd

from ..evaluation import header
from ..i18n import N_, _
from ..shown import ShownTable

__all__ = ["Shown", "model_label", "shown", "show_soft_target", "parameters_changed"]

_ROLES = {"teacher": N_("teacher ({model})"), "student alone": N_("student alone ({model})"),
          "distilled student": N_("distilled student ({model})")}
_MODEL = re.compile(r"^(teacher|student alone|distilled student) \((.+)\)$")
_STUDENT = re.compile(r"^(.+) student$")


def model_label(name):
    """A label in the reader's language: a model ("teacher (MLP 2x1200 +dropout)", "MLP 1x100 student"), a header of
    :mod:`kdnb.evaluation`'s tables, or any text of the catalog; anything else unchanged."""
    if not isinstance(name, str) or not name:
        return name
    m = _MODEL.match(name)
    if m:
        return _(_ROLES[m.group(1)]).format(model=m.group(2))
    words = header(name)
    if words == name:
        words = _(name)
    if words != name:
        return words
    m = _STUDENT.match(name)
    return _("{model} student").format(model=m.group(1)) if m else name


class Shown(ShownTable):
    """A table of notebook 01, shown with its labels and texts in the reader's language (:func:`model_label`)."""

    label = staticmethod(model_label)


def shown(table: pd.DataFrame) -> Shown:
    """``table`` as a :class:`Shown`: the same English labels for code, its display in the reader's language."""
    return Shown(table)


def show_soft_target(i: int, label: int, p, T: float) -> None:
    """Print one training image's label and the teacher's soft target at ``T``, one probability per class."""
    print(_("training image {i}, label {label}; the teacher's soft target at T = {T:g}:").format(i=i, label=label, T=T))
    print("  ".join(f"{c}: {q:.2f}" for c, q in enumerate(p.tolist())))


def parameters_changed(trained, init) -> int:
    """How many parameters of ``trained`` differ from ``init`` (its initial weights); prints the count and share."""
    n = sum(p.numel() for p in trained.parameters())
    changed = sum((a != b).sum().item() for a, b in zip(trained.parameters(), init.parameters()))
    print(_("parameters changed by distillation: {changed:,} of {total:,} ({share:.0f}%)")
          .format(changed=changed, total=n, share=100 * changed / n))
    return changed
