"""The makers of notebook 05's precomputed tables (``python -m kdnb.results make nb05_…``).

Each maker fixes torch's thread count, runs one experiment over its seeds and returns its table;
:mod:`kdnb.results` writes it to ``data/results/``. Minutes are for 2 idle cores."""

from __future__ import annotations

import pandas as pd

from .. import data as kdata
from .. import results, training
from .assistants import assistant_runs
from .common import SEEDS
from .consistency import consistency_runs
from .scarce import scarce_runs
from .seed_code import seed_code_runs
from .strategies import self_mutual_runs
from .ta_map import ta_map_runs
from .text import text_runs


@results.maker("nb05_map", minutes=10)
def make_map(seeds=SEEDS[:3], threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Section 4: the default recipe's student at every (T, alpha) of the map."""
    training.seed_everything(0, threads=threads)
    return {"nb05_map": ta_map_runs(kdata.load_mnist_subset(), seeds, progress)}


@results.maker("nb05_consistency", minutes=25)
def make_consistency(seeds=SEEDS[:3], threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Section 5: every variant of patient and consistent teaching."""
    training.seed_everything(0, threads=threads)
    return {"nb05_consistency": consistency_runs(kdata.load_mnist_subset(), seeds, progress=progress)}


@results.maker("nb05_assistants", minutes=10)
def make_assistants(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Section 6: the tiny students alone, distilled directly and through an assistant, in both regimes."""
    training.seed_everything(0, threads=threads)
    return {"nb05_assistants": assistant_runs(kdata.load_mnist_subset(), seeds, progress=progress)}


@results.maker("nb05_strategies", minutes=10)
def make_strategies(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Section 7: hard labels, born again (on a T x alpha grid), mutual learning and the real teacher."""
    training.seed_everything(0, threads=threads)
    return {"nb05_strategies": self_mutual_runs(kdata.load_mnist_subset(), seeds, progress)}


@results.maker("nb05_text", minutes=5)
def make_text(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Section 8: the bag-of-words student alone and distilled, with all labels and with 150."""
    training.seed_everything(0, threads=threads)
    return {"nb05_text": text_runs(seeds=seeds, progress=progress)}


@results.maker("nb05_seed_code", minutes=5)
def make_seed_code(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Section 9: the seeds' own code beside a hard-label and a correct student."""
    training.seed_everything(0, threads=threads)
    return {"nb05_seed_code": seed_code_runs(kdata.load_mnist_subset(), seeds, progress=progress)}


@results.maker("nb05_scarce", minutes=10)
def make_scarce(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Sections 3, 6 and 8 with scarce labels: where the gain comes from."""
    training.seed_everything(0, threads=threads)
    return {"nb05_scarce": scarce_runs(seeds=seeds, progress=progress)}


MAKERS = (make_map, make_consistency, make_assistants, make_strategies, make_text, make_seed_code, make_scarce)
