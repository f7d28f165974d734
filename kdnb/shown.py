"""Tables shown in the reader's language (:mod:`kdnb.i18n`), read in English by code.

A room's table is a :class:`ShownTable` subclass that names its ``label`` function (one label or
text cell in, the reader's words out). Code and tests read the English column names, index labels
and cells as ever; only the two views a notebook shows (HTML and text) are translated, and in
English they are pandas' own, byte for byte::

    class Shown(ShownTable):
        label = staticmethod(tr)

    class ShownColumn(ShownSeries):      # a labelled list of values; .to_frame() is a Shown
        table = Shown

A label a table builds from a template (``"kd_loss, T = 4, alpha = 0.9"`` from
``N_("kd_loss, T = {T:g}, alpha = {alpha:g}")``) is translated by :func:`template_label`, which
finds the template back and fills in its translation.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

import pandas as pd

from .i18n import _, language

__all__ = ["translated", "ShownTable", "ShownSeries", "template_label"]


def translated(frame: pd.DataFrame, label=_) -> pd.DataFrame:
    """A plain copy of ``frame`` with its labels, axis names and text cells passed through ``label``
    (a yes/no column too, when ``label`` has words for True and False)."""
    out = pd.DataFrame(frame).rename(index=label, columns=label)
    out.index.names = [label(n) for n in out.index.names]
    out.columns.names = [label(n) for n in out.columns.names]
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            out.isetitem(i, col.map(label))
        elif pd.api.types.is_bool_dtype(col.dtype) and label(True) is not True:
            out.isetitem(i, col.astype(object).map(label))
    return out


class ShownTable(pd.DataFrame):
    """A DataFrame that keeps its English labels for code and shows them in the reader's language."""

    @staticmethod
    def label(text):
        return _(text) if isinstance(text, str) and text else text

    @property
    def _constructor(self):
        return type(self)

    def __repr__(self) -> str:
        if language() == "en":
            return super().__repr__()
        return repr(translated(self, type(self).label))

    def _repr_html_(self):
        if language() == "en":
            return super()._repr_html_()
        return translated(self, type(self).label)._repr_html_()


class ShownSeries(pd.Series):
    """A Series that keeps its English labels for code and shows them in the reader's language; a room
    names its table class (``table``), which ``to_frame()`` gives and whose ``label`` translates."""

    table: type[ShownTable] = ShownTable

    @property
    def _constructor(self):
        return type(self)

    @property
    def _constructor_expanddim(self):
        return type(self).table

    def __repr__(self) -> str:
        if language() == "en":
            return super().__repr__()
        label = type(self).table.label
        return repr(translated(pd.Series(self).to_frame(0), label).iloc[:, 0].rename(label(self.name)))


_FIELD = re.compile(r"\{(\w+)[^{}]*\}")


def _pattern(template: str) -> re.Pattern:
    parts, seen, end = [], set(), 0
    for m in _FIELD.finditer(template):
        name = m.group(1)
        parts += [re.escape(template[end:m.start()]), f"(?P={name})" if name in seen else f"(?P<{name}>.+?)"]
        seen.add(name)
        end = m.end()
    return re.compile("".join(parts + [re.escape(template[end:])]))


def template_label(templates: Iterable[str], fallback: Callable = ShownTable.label,
                   label_fields: Iterable[str] = ()) -> Callable:
    """A label function: ``fallback(text)`` when that translates ``text``; else, when ``text`` is one of
    ``templates`` (message ids marked with ``N_``) filled in, the template's translation filled in with the
    same values (as they were shown; the fields named in ``label_fields`` are labels, translated in turn)."""
    patterns = [(template, _pattern(template)) for template in templates]
    fields = set(label_fields)

    def label(text):
        out = fallback(text)
        if not isinstance(text, str) or not text or out != text:
            return out
        for template, pattern in patterns:
            m = pattern.fullmatch(text)
            if m:
                values = {k: label(v) if k in fields else v for k, v in m.groupdict().items()}
                return _FIELD.sub(r"{\1}", _(template)).format(**values)
        return text

    return label
