"""The workbook's precomputed tables in ``data/results/``: one way to read them, one way to make them.

Longer experiments (several seeds, several settings) are run by scripts, never in a notebook; the
notebooks read their tables here and re-run one slice live. Every table is a CSV named
``<owner>_<what>``, where the owner is the module that makes it: ``nb04_loss_comparison`` is made
by notebook 04's ``kdnb/nb04_distillation_losses/tables.py``, ``recipe_settings`` by
:mod:`kdnb.recipe`, ``bench_figures`` by :mod:`kdnb.bench`. Tables are written atomically, so a
reader never sees half a file::

    results.read("recipe_settings")          # data/results/recipe_settings.csv
    results.write(df, "recipe_settings")     # a maker's side

    python -m kdnb.results list              # every table, its maker and how long it takes
    python -m kdnb.results make nb04_loss_comparison [--seeds 0 1 2] [--threads 1]
    python -m kdnb.results make all          # what `make results` runs (hours on 2 cores)

A maker is a function registered with :func:`maker`; it returns ``{table name: DataFrame}`` and
:func:`make` writes each. An owner module lists its makers in ``MAKERS``. This module imports an
owner only when asked to make or list its tables, so reading a table imports nothing else.

``$KDNB_RESULTS`` points somewhere else (the tests use it to write into a temporary folder).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from ._io import atomic_write_text

__all__ = ["root", "path", "read", "write", "Maker", "maker", "owner_module", "makers", "make"]

_NAME = re.compile(r"^(nb\d\d|recipe|bench)_[a-z0-9_]+$")
_PKG = Path(__file__).resolve().parent


def root() -> Path:
    """``data/results`` in the repository, or ``$KDNB_RESULTS``."""
    env = os.environ.get("KDNB_RESULTS")
    return Path(env) if env else _PKG.parent / "data" / "results"


def path(name: str) -> Path:
    """The CSV file of table ``name`` (``<owner>_<what>``, lower case, e.g. ``"recipe_settings"``)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"a results table is named <owner>_<what> in lower case, where the owner is nbNN, recipe or bench "
                         f"(e.g. 'recipe_settings', 'nb04_loss_comparison'); got {name!r}")
    return root() / f"{name}.csv"


def read(name: str) -> pd.DataFrame:
    """Read table ``name``; a missing file raises an error that names the command that makes it."""
    p = path(name)
    if not p.exists():
        raise FileNotFoundError(f"{p} is missing; make it with `python -m kdnb.results make {name}` "
                                f"(or restore it with `git checkout -- {p}`)")
    return pd.read_csv(p)


def write(df: pd.DataFrame, name: str, float_format: str = "%.6g") -> Path:
    """Write table ``name`` atomically (6 significant digits: more than any figure needs)."""
    p = path(name)
    atomic_write_text(p, df.to_csv(index=False, float_format=float_format))
    return p


@dataclass(frozen=True)
class Maker:
    """A function that computes one or more tables: ``fn(seeds=None, threads=1, progress=True) -> {name: DataFrame}``.

    ``minutes``: about how long it takes on 2 idle cores; ``requires``: an optional package it needs."""

    fn: Callable[..., dict]
    tables: tuple[str, ...]
    minutes: float
    requires: str | None = None

    @property
    def command(self) -> str:
        return f"python -m kdnb.results make {self.tables[0]}"


def maker(*tables: str, minutes: float, requires: str | None = None):
    """Register the decorated function as the maker of ``tables`` (it must return exactly those)."""
    for name in tables:
        path(name)  # the name follows the pattern

    def wrap(fn):
        params = inspect.signature(fn).parameters
        missing = {"seeds", "threads", "progress"} - set(params)
        if missing:
            raise TypeError(f"a table maker takes seeds=, threads= and progress=; {fn.__qualname__} lacks {sorted(missing)}")
        fn.maker = Maker(fn, tuple(tables), minutes, requires)
        return fn

    return wrap


def owner_module(name: str) -> str:
    """The module that makes table ``name``: ``kdnb.nbNN_*.tables`` for ``nbNN_*``, else ``kdnb.recipe`` or ``kdnb.bench``."""
    owner = path(name).stem.split("_")[0]
    if owner in ("recipe", "bench"):
        return f"kdnb.{owner}"
    packages = sorted(p.name for p in _PKG.glob(f"{owner}_*") if (p / "tables.py").exists())
    if len(packages) != 1:
        raise LookupError(f"table {name!r}: expected one notebook package kdnb/{owner}_*/ with a tables.py, found {packages}")
    return f"kdnb.{packages[0]}.tables"


def _owners() -> list[str]:
    nb = sorted(f"kdnb.{p.parent.name}.tables" for p in _PKG.glob("nb[0-9][0-9]_*/tables.py"))
    return ["kdnb.recipe", "kdnb.bench", *nb]


def makers() -> dict[str, Maker]:
    """``{table name: Maker}`` for every table of every owner (this imports every owner module)."""
    out: dict[str, Maker] = {}
    for module_name in _owners():
        module = importlib.import_module(module_name)
        for fn in getattr(module, "MAKERS", ()):
            for name in fn.maker.tables:
                if name in out:
                    raise LookupError(f"table {name!r} has two makers: {out[name].fn.__qualname__} and {fn.__qualname__}")
                out[name] = fn.maker
    return out


def make(name: str, seeds=None, threads: int = 1, progress: bool = True) -> list[Path]:
    """Run the maker of table ``name`` and write every table it returns; returns their paths."""
    module = importlib.import_module(owner_module(name))
    found = [fn.maker for fn in getattr(module, "MAKERS", ()) if name in fn.maker.tables]
    if not found:
        raise LookupError(f"no maker for table {name!r} in {module.__name__}; `python -m kdnb.results list` shows every table")
    m = found[0]
    kwargs = {"threads": threads, "progress": progress, **({} if seeds is None else {"seeds": tuple(seeds)})}
    tables = m.fn(**kwargs)
    if set(tables) != set(m.tables):
        raise RuntimeError(f"{m.fn.__qualname__} returned tables {sorted(tables)}, but it is registered for {sorted(m.tables)}")
    return [write(df, table) for table, df in tables.items()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.results", description="list or make the workbook's precomputed tables")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every table, its maker and about how long it takes on 2 idle cores")
    mk = sub.add_parser("make", help="make tables by name (or `all`)")
    mk.add_argument("names", nargs="+", help="table names, or `all` (every table but the bench's: `make bench` makes those)")
    mk.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default: each maker's own)")
    mk.add_argument("--threads", type=int, default=1, help="torch threads per run (1: fastest on a busy 2-core machine)")
    args = parser.parse_args(argv)
    registry = makers()
    if args.command == "list":
        rows = [{"table": name, "maker": f"{m.fn.__module__}.{m.fn.__name__}", "minutes": m.minutes, "needs": m.requires or ""}
                for name, m in sorted(registry.items())]
        print(pd.DataFrame(rows).to_string(index=False))
        return 0
    names = [n for n in registry if not n.startswith("bench_")] if args.names == ["all"] else args.names
    unknown = sorted(set(names) - set(registry))
    if unknown:
        parser.error(f"unknown table(s) {unknown}; `python -m kdnb.results list` shows every table")
    done: set[str] = set()
    for name in names:
        if name in done:
            continue
        m = registry[name]
        if m.requires and importlib.util.find_spec(m.requires) is None:
            if args.names == ["all"]:
                print(f"skipping {', '.join(m.tables)}: it needs {m.requires} (pip install {m.requires})", flush=True)
                done.update(m.tables)
                continue
            parser.error(f"{name} needs {m.requires}: pip install {m.requires}")
        start = time.perf_counter()
        print(f"making {', '.join(m.tables)} (about {m.minutes:g} min on 2 idle cores)", flush=True)
        for p in make(name, args.seeds, args.threads):
            print(f"  wrote {p}")
        done.update(m.tables)
        print(f"  took {(time.perf_counter() - start) / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
