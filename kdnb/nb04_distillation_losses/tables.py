"""Notebook 04's precomputed tables, made with ``python -m kdnb.results make NAME``.

* ``nb04_weights`` and ``nb04_weight_trials`` (one run): each feature loss's weight, chosen on validation;
* ``nb04_comparison``: every method in both regimes over seeds (it reads ``nb04_weights``);
* ``nb04_fair_teacher``: the 300-label regime's controls, a teacher that saw only those labels and hard
  pseudo-labels (the same weights).
"""

from __future__ import annotations

import pandas as pd

from .. import data as kdata
from .. import results, training
from .comparison import FAIR_TEACHER, FEATURE_METHODS, METHODS, PSEUDO, REGIMES, SEEDS, TEACHER, fair_teacher_subset, load_cache, run_method
from .readings import weights_from_trials


def _dataset(threads: int) -> kdata.Dataset:
    training.seed_everything(0, threads=threads)
    return kdata.load_mnist_subset()


@results.maker("nb04_weights", "nb04_weight_trials", minutes=10)
def make_weights(seeds=(0,), threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Every candidate weight of each feature loss (:data:`METHODS`) in both regimes; the chosen weight has the best
    validation accuracy averaged over the regimes (and the seeds, if more than one)."""
    ds = _dataset(threads)
    cache = load_cache(ds)
    rows = []
    for seed in seeds:
        for method in FEATURE_METHODS:
            for w in METHODS[method]["weights"]:
                for regime in REGIMES:
                    rows.append(run_method(method, seed, ds, cache, regime, weight=w))
                    if progress:
                        r = rows[-1]
                        print(f"{method:24s} w={w:<8g} {regime:10s} val {100 * r['val_acc']:.1f}  test {100 * r['test_acc']:.1f}", flush=True)
    trials = pd.DataFrame(rows)
    return {"nb04_weights": weights_from_trials(trials), "nb04_weight_trials": trials}


@results.maker("nb04_comparison", minutes=20)
def make_comparison(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Every method x regime x seed with the weights of ``nb04_weights``: the table behind section 6's comparison."""
    ds = _dataset(threads)
    cache = load_cache(ds)
    rows = []
    for regime in REGIMES:
        for seed in seeds:
            for method in METHODS:
                rows.append(run_method(method, seed, ds, cache, regime))
                if progress:
                    r = rows[-1]
                    print(f"{regime:10s} seed {seed} {method:24s} test {100 * r['test_acc']:.1f}  {r['epoch_seconds']:.2f} s/epoch", flush=True)
    return {"nb04_comparison": pd.DataFrame(rows)}


@results.maker("nb04_fair_teacher", minutes=25)
def make_fair_teacher(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """The 300-label regime's controls, over seeds: every teacher-reading method again with :data:`FAIR_TEACHER`, and
    :data:`PSEUDO` with both teachers. The hard-label rows and the all-label teacher's methods are in ``nb04_comparison``
    (the same students, seeds and weights); the weights stay those chosen with :data:`TEACHER`."""
    ds = _dataset(threads)
    if not fair_teacher_subset(ds)["same images"]:
        raise RuntimeError(f"{FAIR_TEACHER} did not see the student's 300 labelled images; rebuild it")
    caches = {TEACHER: load_cache(ds), FAIR_TEACHER: load_cache(ds, FAIR_TEACHER)}
    plan = {TEACHER: [PSEUDO], FAIR_TEACHER: [PSEUDO] + [m for m in METHODS if m != "hard labels"]}
    rows = []
    for seed in seeds:
        for teacher, methods in plan.items():
            for method in methods:
                row = run_method(method, seed, ds, caches[teacher], "300 labels")
                rows.append({"teacher": teacher, **row})
                if progress:
                    print(f"{teacher:14s} seed {seed} {method:24s} test {100 * row['test_acc']:.1f}  {row['epoch_seconds']:.2f} s/epoch", flush=True)
    return {"nb04_fair_teacher": pd.DataFrame(rows)}


MAKERS = (make_weights, make_comparison, make_fair_teacher)
