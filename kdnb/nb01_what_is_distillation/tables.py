"""Notebook 01's precomputed table: ``nb01_transfer``, the transfer demonstration of section 8.

``python -m kdnb.results make nb01_transfer`` (about two minutes on 2 cores).
"""

from __future__ import annotations

import pandas as pd

from .. import results
from ..recipe import grid
from .experiments import TRANSFER, TRANSFER_LABELS, TRANSFER_TABLE

__all__ = ["make_transfer", "MAKERS"]


@results.maker(TRANSFER_TABLE, minutes=2)
def make_transfer(seeds=(0, 1, 2, 3, 4), threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """:data:`TRANSFER` for every label count of :data:`TRANSFER_LABELS`, alone and distilled, over ``seeds``."""
    runs = grid({"transfer": TRANSFER}, seeds, [{"labels": n} for n in TRANSFER_LABELS], threads=threads, progress=progress)
    return {TRANSFER_TABLE: runs}


MAKERS = (make_transfer,)
