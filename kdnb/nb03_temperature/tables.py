"""The table notebook 03 reads, and its maker: the temperature sweep ``nb03_sweep`` (section 8)::

    python -m kdnb.results make nb03_sweep        # about 7 minutes on 2 idle CPU cores

Every student of :data:`~kdnb.nb03_temperature.sweep.SWEEP`, at every T of ``SWEEP_TEMPERATURES``,
trained alone and distilled from the same initial weights, with each seed of ``SWEEP_SEEDS``.
"""

from __future__ import annotations

import pandas as pd

from .. import results
from ..recipe import grid
from .sweep import SWEEP, SWEEP_SEEDS, SWEEP_TEMPERATURES


@results.maker("nb03_sweep", minutes=7)
def make_sweep(seeds=SWEEP_SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """The sweep's runs, one row per (student, T, seed): :func:`kdnb.recipe.grid` over :data:`SWEEP`."""
    runs = grid(SWEEP, seeds, [{"T": T} for T in SWEEP_TEMPERATURES], threads=threads, progress=progress)
    return {"nb03_sweep": runs}


MAKERS = (make_sweep,)
