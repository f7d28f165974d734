"""What notebook 01 shows, in the reader's language: :func:`shown` renames a table's headers and
labels at the point of display (the table itself keeps the English names that code and tests
read), :func:`model_label` turns "teacher (MLP 2x1200 +dropout)" into its Chinese, and
:func:`show_soft_target` and :func:`parameters_changed` print two readouts of the notebook.
"""

from __future__ import annotations

import re

import pandas as pd

from ..i18n import N_, _

__all__ = ["COLUMNS", "model_label", "shown", "show_soft_target", "parameters_changed", "translated"]

#: Headers of the tables notebook 01 displays (its own and core's), marked for translation.
COLUMNS = {c: c for c in (
    N_("test accuracy (%)"), N_("parameters"), N_("bytes"), N_("latency, 1 image (ms)"),
    N_("latency, 256 images (ms)"), N_("times fewer parameters"), N_("times fewer bytes"), N_("speed-up, 1 image"),
    N_("speed-up, 256 images"), N_("accuracy lost (points)"), N_("model"), N_("family"), N_("what changes"),
    N_("needs retraining?"), N_("typical gain"), N_("what you need"), N_("source"), N_("teacher pass, once"),
    N_("plain"), N_("cached"), N_("teacher every step"), N_("teacher's share of an epoch"),
    N_("KD (teacher every step) / KD (cached)"), N_("KD (cached) / plain"), N_("teacher"), N_("teacher trained on"),
    N_("teacher test accuracy (%)"), N_("student labels"), N_("T (chosen on validation)"), N_("alone (%)"),
    N_("distilled (%)"), N_("gain (points)"), N_("seed ranges overlap"), N_("train accuracy (%)"),
    N_("train - test (points)"), N_("student alone agrees with its teacher (%)"), N_("distilled student agrees (%)"),
    N_("setting"), N_("labels"), N_("seeds"), N_("alone_mean"), N_("alone_min"), N_("alone_max"), N_("kd_mean"),
    N_("kd_min"), N_("kd_max"), N_("gain_mean"), N_("ranges_overlap"))}

_ROLES = {"teacher": N_("teacher ({model})"), "student alone": N_("student alone ({model})"),
          "distilled student": N_("distilled student ({model})")}
_MODEL = re.compile(r"^(teacher|student alone|distilled student) \((.+)\)$")
_STUDENT = re.compile(r"^(.+) student$")
#: Other English texts a displayed table may hold (the families table's cells, marked in __init__).
_KNOWN: set[str] = set(COLUMNS)


def translated(*texts: str) -> None:
    """Register texts (already marked with ``N_``) that :func:`shown` may translate in a table's cells."""
    _KNOWN.update(texts)


def model_label(name: str) -> str:
    """A model's display name: "teacher (MLP 2x1200 +dropout)", "MLP 1x100 student" or a known text, translated."""
    if not isinstance(name, str):
        return name
    m = _MODEL.match(name)
    if m:
        return _(_ROLES[m.group(1)]).format(model=m.group(2))
    m = _STUDENT.match(name)
    if m:
        return _("{model} student").format(model=m.group(1))
    return _(name) if name in _KNOWN else name


def _cell(value):
    return _(value) if isinstance(value, str) and value in _KNOWN else value


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its headers, index name, model labels and known texts in the reader's language (a copy)."""
    out = table.rename(columns=lambda c: _(c) if c in _KNOWN else c, index=model_label)
    out = out.map(_cell) if hasattr(out, "map") else out.applymap(_cell)
    out.index.name = _(out.index.name) if out.index.name in _KNOWN else out.index.name
    return out


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
