"""Tables shown in the reader's language (:mod:`kdnb.i18n`), read in English by code.

A room's table is a :class:`ShownTable` subclass that names its ``label`` function (one label or
text cell in, the reader's words out). Code and tests read the English column names, index labels
and cells as ever; only the two views a notebook shows (HTML and text) are translated, and in
English they are pandas' own, byte for byte::

    class Shown(ShownTable):
        label = staticmethod(tr)
"""

from __future__ import annotations

import pandas as pd

from .i18n import _, language

__all__ = ["translated", "ShownTable"]


def translated(frame: pd.DataFrame, label=_) -> pd.DataFrame:
    """A plain copy of ``frame`` with its labels, axis names and text cells passed through ``label``."""
    out = pd.DataFrame(frame).rename(index=label, columns=label)
    out.index.names = [label(n) for n in out.index.names]
    out.columns.names = [label(n) for n in out.columns.names]
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            out.isetitem(i, col.map(label))
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
