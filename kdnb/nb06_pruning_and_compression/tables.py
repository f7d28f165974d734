"""Notebook 06's precomputed tables, made by ``python -m kdnb.results make NAME``.

``nb06_curve`` (the one-shot pruning curve the explorer reads), ``nb06_retrain`` (the four
retraining methods over seeds), ``nb06_recovery`` (a pruned student fine-tuned on labels,
pseudo-labels or soft targets), ``nb06_compression`` (the compression table's accuracies; reads
``nb06_retrain`` for its pruning method), ``nb06_latency`` (its seed-0 models timed once; reads
``nb06_compression``) and ``nb06_backends`` (int8 with ``torchao``, which it needs installed).
"""

from __future__ import annotations

import pandas as pd

from .. import data as kdata
from .. import results
from ..training import seed_everything
from .compression import compression_runs, latency_runs
from .explorer import one_shot_curve
from .recovery import recovery_runs
from .retraining import SEEDS, dense_teacher, retrain_runs
from .size_and_speed import backend_runs


def _start(threads: int) -> kdata.Dataset:
    seed_everything(0, threads)
    return kdata.load_mnist_subset()


@results.maker("nb06_curve", minutes=3)
def make_curve(seeds=(0,), threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Test and validation accuracy of the first seed's dense 2x1200 (0: the shipped teacher) pruned
    once, globally and layer by layer, at every sparsity from 0 to 99%."""
    ds = _start(threads)
    return {"nb06_curve": one_shot_curve(dense_teacher(seeds[0], ds), ds, progress=progress)}


@results.maker("nb06_retrain", minutes=40)
def make_retrain(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Every retraining method at every sparsity, for each seed's dense 2x1200."""
    ds = _start(threads)
    return {"nb06_retrain": retrain_runs(tuple(seeds), dataset=ds, progress=progress)}


@results.maker("nb06_recovery", minutes=60)
def make_recovery(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """A slim network cut out of each seed's teacher, fine-tuned three ways in three label regimes."""
    ds = _start(threads)
    return {"nb06_recovery": recovery_runs(tuple(seeds), dataset=ds, progress=progress)}


@results.maker("nb06_compression", minutes=25)
def make_compression(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Accuracy of every row of the compression table over seeds (needs ``nb06_retrain``)."""
    ds = _start(threads)
    return {"nb06_compression": compression_runs(tuple(seeds), dataset=ds, progress=progress)}


@results.maker("nb06_latency", minutes=5)
def make_latency(seeds=(0,), threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Zipped bytes and one-thread latency of the compression table's seed-0 models (needs
    ``nb06_compression``; ``seeds`` is not used: the timings are of seed 0's models)."""
    ds = _start(threads)
    return {"nb06_latency": latency_runs(ds, progress=progress)}


@results.maker("nb06_backends", minutes=2, requires="torchao")
def make_backends(seeds=(0,), threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """int8 on this CPU with ``torch.ao`` and with ``torchao``, against float32, on the shipped
    teacher with one thread (``seeds`` is not used)."""
    _start(threads)
    return {"nb06_backends": backend_runs()}


MAKERS = (make_curve, make_retrain, make_recovery, make_compression, make_latency, make_backends)
