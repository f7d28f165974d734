"""The workbook's one test of "does it beat the noise?": a spread over seeds, and "ranges apart".

Every experiment here is run with several seeds. A result is the mean over the seeds with the
lowest and highest seed beside it, written ``mean [min, max]``. Two results are told apart only
when their seed ranges do not overlap (the worst seed of the better one beats the best seed of the
other). With 3-5 seeds this is a deliberately plain rule, stricter than a t-test at the same seed
count, and one a reader can check by eye on a dot plot.

* :class:`Spread`: one result (``Spread.of(values)``), with :meth:`~Spread.apart`,
  :meth:`~Spread.gap`, :meth:`~Spread.beats` and its text form :meth:`~Spread.text`.
* :func:`spread`: a results table grouped, with ``<column>_mean``, ``_min`` and ``_max`` per
  group and the seed count; :func:`spreads` gives the same groups as :class:`Spread` objects, and
  :func:`span_table` as ``mean [min, max]`` text for reading.
* :func:`ranges_apart`: the rule on two lists of per-seed values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import pandas as pd

__all__ = ["Spread", "spread", "spreads", "span_table", "ranges_apart"]


@dataclass(frozen=True)
class Spread:
    """Mean, lowest and highest value of one result over ``n`` seeds."""

    mean: float
    lo: float
    hi: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float], scale: float = 1.0) -> "Spread":
        """The spread of per-seed ``values`` (each times ``scale``: 100 turns fractions into percent)."""
        v = pd.Series(list(values), dtype=float) * scale
        if v.empty:
            raise ValueError("a spread over seeds needs at least one value; got none (did a filter select no run?)")
        if v.isna().any():
            raise ValueError(f"a spread over seeds got NaN among {len(v)} values: a run failed or a column is missing")
        return cls(float(v.mean()), float(v.min()), float(v.max()), int(len(v)))

    @classmethod
    def from_row(cls, row: Mapping, column: str) -> "Spread":
        """The spread stored in a row of :func:`spread`'s table (``<column>_mean``, ``_min``, ``_max``, ``seeds``)."""
        return cls(float(row[f"{column}_mean"]), float(row[f"{column}_min"]), float(row[f"{column}_max"]), int(row.get("seeds", 0)))

    def gap(self, other: "Spread") -> float:
        """How far apart the two seed ranges are: > 0 when apart (by that much), <= 0 when they overlap."""
        return max(other.lo - self.hi, self.lo - other.hi)

    def apart(self, other: "Spread") -> bool:
        """True when the two seed ranges do not overlap: the difference is bigger than the seed-to-seed noise."""
        return self.gap(other) > 0

    def beats(self, other: "Spread") -> bool:
        """Higher mean **and** ranges apart: every seed of this result is above every seed of ``other``."""
        return self.mean > other.mean and self.apart(other)

    def __sub__(self, other: "Spread") -> float:
        """The difference of the means (a gain, in the values' unit)."""
        return self.mean - other.mean

    def text(self, digits: int = 1, signed: bool = False) -> str:
        """``"93.2 [93.0, 93.3]"``: the mean, then the lowest and highest seed (``signed``: ``"+1.8 [+1.2, +2.4]"``)."""
        f = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"
        return f"{f.format(self.mean)} [{f.format(self.lo)}, {f.format(self.hi)}]"

    def __str__(self) -> str:
        return self.text()

    def __format__(self, spec: str) -> str:
        """``f"{s:.2f}"`` or ``f"{s:+.1f}"`` formats all three numbers alike; an empty spec is :meth:`text`."""
        if not spec:
            return self.text()
        return f"{self.mean:{spec}} [{self.lo:{spec}}, {self.hi:{spec}}]"


def ranges_apart(a: Iterable[float], b: Iterable[float]) -> bool:
    """True when the per-seed values ``a`` and ``b`` have seed ranges that do not overlap."""
    return Spread.of(a).apart(Spread.of(b))


def spread(runs: pd.DataFrame, by, columns: Sequence[str], scale: float = 100.0, sort: bool = False) -> pd.DataFrame:
    """Per group of ``by``: ``<column>_mean``, ``_min`` and ``_max`` of each column (times ``scale``:
    percent by default), and ``seeds``, the number of runs in the group. Groups keep their table order
    unless ``sort``."""
    missing = [c for c in [*([by] if isinstance(by, str) else by), *columns] if c not in runs.columns]
    if missing:
        raise KeyError(f"spread over seeds: the table has no column(s) {missing}; it has {list(runs.columns)}")
    g = runs.groupby(by, sort=sort)
    parts = {f"{c}_{stat}": getattr(g[c], stat)() * scale for c in columns for stat in ("mean", "min", "max")}
    return pd.DataFrame(parts).assign(seeds=g.size())


def spreads(runs: pd.DataFrame, by, column: str, scale: float = 100.0, sort: bool = False) -> dict:
    """``{group: Spread}`` of one column, groups in table order (or sorted)."""
    table = spread(runs, by, [column], scale, sort)
    return {key: Spread.from_row(row, column) for key, row in table.iterrows()}


def span_table(runs: pd.DataFrame, by, columns: Mapping[str, str] | Sequence[str], scale: float = 100.0, digits: int = 1,
               signed: bool = False, sort: bool = False) -> pd.DataFrame:
    """The spread as text for reading: one column per quantity holding ``"mean [min, max]"``, and ``seeds``.

    ``columns`` maps a column to its label (or lists columns, which keep their names)."""
    labels = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    out = pd.DataFrame({label: {key: s.text(digits, signed) for key, s in spreads(runs, by, col, scale, sort).items()}
                        for col, label in labels.items()})
    out["seeds"] = runs.groupby(by, sort=sort).size()
    return out.rename_axis(by if isinstance(by, str) else list(by))
