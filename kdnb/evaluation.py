"""Judging a compressed model on what deployment pays for, not on accuracy alone (seed question 003-8).

:func:`evaluate` measures each model once: test accuracy, parameters, bytes, and latency for
one image and for a batch, on this CPU now. :func:`ratios` turns a table into "how many times
smaller, how many times faster, how many points lost" against a reference row (the teacher).
Latencies are measurements of this machine at this moment: compare rows of one table only.
"""

from __future__ import annotations

import pandas as pd

import re

from .data import Split
from .i18n import N_, _
from .models import count_params, measure_latency, size_bytes
from .training import accuracy

__all__ = ["evaluate", "latencies", "ratios", "readable", "header", "size_words"]


def latencies(named_models: dict, in_shape, batch_sizes=(1, 256), repeats: int = 30, rounds: int = 3) -> pd.DataFrame:
    """Milliseconds per forward pass of each model at each batch size, on this CPU now.

    Each figure is the fastest of ``rounds`` medians, measured model after model in turn: on a
    shared machine a burst of load during one model's turn would otherwise make two copies of
    the same network look far apart. Batches above one image get ``max(5, repeats // 3)``
    repeats. Columns ``latency, batch B (ms)``.
    """
    if not named_models:
        raise ValueError("latencies() needs at least one model: pass {name: model}")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    cols = {b: f"latency, batch {b} (ms)" for b in batch_sizes}
    rows = {name: {c: float("inf") for c in cols.values()} for name in named_models}
    for _round in range(rounds):
        for name, model in named_models.items():
            for b, c in cols.items():
                ms = measure_latency(model, tuple(in_shape), b, repeats if b == 1 else max(5, repeats // 3))
                rows[name][c] = min(rows[name][c], ms)
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def evaluate(named_models: dict, test: Split, batch_size: int = 256, repeats: int = 30, rounds: int = 3) -> pd.DataFrame:
    """One row per model: test accuracy (%), parameters, bytes of parameters and buffers,
    latency of one image and of a batch of ``batch_size`` images (ms, from :func:`latencies`).
    """
    if not named_models:
        raise ValueError("evaluate() needs at least one model: pass {name: model}")
    shape = tuple(test.X.shape[1:])
    one, many = "latency, 1 image (ms)", f"latency, {batch_size} images (ms)"
    table = pd.DataFrame.from_dict({name: {"test accuracy (%)": 100 * accuracy(model, test), "parameters": count_params(model),
                                           "bytes": size_bytes(model)} for name, model in named_models.items()},
                                   orient="index").rename_axis("model")
    times = latencies(named_models, shape, (1, batch_size), repeats, rounds)
    table[one] = times["latency, batch 1 (ms)"]
    table[many] = times[f"latency, batch {batch_size} (ms)"]
    return table


def ratios(table: pd.DataFrame, reference: int = 0) -> pd.DataFrame:
    """Each model against the reference row: times fewer parameters and bytes, speed-ups, points lost."""
    ref = table.iloc[reference]
    out = pd.DataFrame(index=table.index)
    out["times fewer parameters"] = ref["parameters"] / table["parameters"]
    out["times fewer bytes"] = ref["bytes"] / table["bytes"]
    for c in (c for c in table.columns if c.startswith("latency")):
        out["speed-up, " + c.split(", ")[1].replace(" (ms)", "")] = ref[c] / table[c]
    out["accuracy lost (points)"] = ref["test accuracy (%)"] - table["test accuracy (%)"]
    return out


#: Column headers of :func:`evaluate`, :func:`latencies` and :func:`ratios` a reader sees (code reads the English).
_HEADERS = {k: k for k in (N_("model"), N_("test accuracy (%)"), N_("parameters"), N_("bytes"), N_("times fewer parameters"),
                           N_("times fewer bytes"), N_("accuracy lost (points)"))}
_LATENCY = re.compile(r"^(latency|speed-up), (1 image|batch \d+|\d+ images)( \(ms\))?$")


def size_words(name: str) -> str | None:
    """What a latency or speed-up header measures ("1 image", "batch 8", "256 images") in the reader's language;
    ``None`` for any other name."""
    m = _LATENCY.match(name) if isinstance(name, str) else None
    if not m:
        return None
    size = m.group(2)
    n = re.search(r"\d+", size).group()
    if size == "1 image":
        return _("1 image")
    if size.startswith("batch"):
        return _("batch {n}").format(n=n)
    return _("{n} images").format(n=n)


def header(name):
    """A header (or index name) of :func:`evaluate`, :func:`latencies` or :func:`ratios` in the reader's language;
    any other name unchanged."""
    if not isinstance(name, str):
        return name
    if name in _HEADERS:
        return _(name)
    where = size_words(name)
    if where is None:
        return name
    what, _size, unit = _LATENCY.match(name).groups()
    head = _("latency, {size}").format(size=where) if what == "latency" else _("speed-up, {size}").format(size=where)
    return head + (_(" (ms)") if unit else "")


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """A table of :func:`evaluate`, :func:`latencies` or :func:`ratios` with its headers in the current language.

    For display only (code keeps reading the English column names); in English it is the same table.
    """
    out = table.rename(columns=header)
    return out.rename_axis(index=header(table.index.name))
