"""The one way to read and write the workbook's precomputed tables in ``data/results/``.

Longer experiments (several seeds, several settings) are run by project scripts, never in a
notebook; the notebooks read their tables here and re-run one slice live. Every table is a
CSV named after what it holds, written atomically, so a reader never sees half a file::

    results.read("settings")            # data/results/settings.csv
    results.write(df, "settings")       # the scripts' side

``$KDNB_RESULTS`` points somewhere else (the tests use it to write into a temporary folder).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from ._io import atomic_write_text

__all__ = ["root", "path", "read", "write", "MAKERS"]

#: Which command makes each table, so a missing file can name its fix.
MAKERS = {
    "settings": "python -m kdnb.recipe settings",
    "bench": "python -m kdnb.bench",
    "bench_machine": "python -m kdnb.bench",
    "temperature_selection": "python -m kdnb.recipe settings",
    "intro_transfer": "python -m kdnb.nb01_what_is_distillation",
    "temperature_sweep": "python -m kdnb.nb03_temperature",
    "loss_weight_trials": "python -m kdnb.nb04_distillation_losses weights",
    "loss_weights": "python -m kdnb.nb04_distillation_losses weights",
    "loss_comparison": "python -m kdnb.nb04_distillation_losses compare",
    "loss_fair_teacher": "python -m kdnb.nb04_distillation_losses fair",
    **{f"practice_{part}": f"python -m kdnb.nb05_distillation_in_practice {cmd}" for part, cmd in (
        ("map", "map"), ("consistency", "consistency"), ("assistants", "assistants"), ("strategies", "strategies"),
        ("text", "text"), ("seed_code", "seeds"), ("scarce", "scarce"))},
    **{f"pruning_{part}": f"python -m kdnb.nb06_pruning_and_compression {part}"
       for part in ("curve", "retrain", "recovery", "compression", "backends", "latency")},
}
_NAME = re.compile(r"^[a-z0-9_]+$")


def root() -> Path:
    """``data/results`` in the repository, or ``$KDNB_RESULTS``."""
    env = os.environ.get("KDNB_RESULTS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data" / "results"


def path(name: str) -> Path:
    """The CSV file of table ``name`` (a lower-case name such as ``"settings"``)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"a results table is named in lower case with underscores (e.g. 'settings'), got {name!r}")
    return root() / f"{name}.csv"


def _maker(name: str) -> str:
    for prefix, command in (("soft_labels_", "python -m kdnb.nb02_soft_vs_hard_labels"),):
        if name.startswith(prefix):
            return command
    return MAKERS.get(name, "the script named in the notebook that reads it")


def read(name: str) -> pd.DataFrame:
    """Read table ``name``; a missing file raises an error that names the command that makes it."""
    p = path(name)
    if not p.exists():
        raise FileNotFoundError(f"{p} is missing; make it with `{_maker(name)}` (or restore it with `git checkout -- {p}`)")
    return pd.read_csv(p)


def write(df: pd.DataFrame, name: str, float_format: str = "%.6g") -> Path:
    """Write table ``name`` atomically (6 significant digits: more than any figure needs)."""
    p = path(name)
    atomic_write_text(p, df.to_csv(index=False, float_format=float_format))
    return p
