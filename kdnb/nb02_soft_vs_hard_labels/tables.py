"""The makers of notebook 02's precomputed tables (``python -m kdnb.results make NAME``).

* ``nb02_missing_class`` and ``nb02_missing_class_logits``: the missing-class experiment, one row
  per seed and student, and both students' validation and test logits for the first seed;
* ``nb02_missing_class_study``: the study of training length, T, alpha, teacher and bias rule;
* ``nb02_few_examples`` and ``nb02_few_examples_curves``: hard labels vs soft targets on 3% of the images;
* ``nb02_teachers``: the plain and the label-smoothed teacher, at every T of :data:`~.experiments.TEACHER_TS`.

Every run uses ``threads`` torch threads (1: the fastest on a busy 2-core machine).
"""

from __future__ import annotations

import pandas as pd

from .. import data as kdata
from .. import results
from ..recipe import SETTINGS, run_setting
from ..training import predict_logits
from .experiments import PLAIN, SMOOTHED, TEACHER_TS, few_examples_run
from .missing_class import (MISSING, STUDY_BASE, STUDY_COLUMNS, STUDY_GRID, bias_effect, bias_rules, missing_class_run,
                            train_without_class)
from .targets import teacher_logits

__all__ = ["make_missing_class", "make_missing_class_study", "make_few_examples", "make_teachers", "MAKERS"]

SEEDS = (0, 1, 2, 3, 4)


def _bar(jobs, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(jobs, desc=desc, disable=not progress)


@results.maker("nb02_missing_class", "nb02_missing_class_logits", minutes=5)
def make_missing_class(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """The missing-class experiment for every seed; the students' logits are kept for the first seed."""
    ds = kdata.load_mnist_subset()
    t_train = teacher_logits(MISSING["teacher"], ds, ("train",))["train"]
    rows, saved = [], []
    for seed in _bar(seeds, "missing class (seeds)", progress):
        r, logits = missing_class_run(seed, ds, t_train, threads=threads)
        rows += r
        if seed != seeds[0]:
            continue
        for student, by_split in logits.items():
            for split, z in by_split.items():
                part = pd.DataFrame(z.numpy(), columns=[f"z{c}" for c in range(z.shape[1])])
                part.insert(0, "label", getattr(ds, split).y.numpy())
                part.insert(0, "split", split)
                part.insert(0, "student", student)
                part.insert(0, "seed", seed)
                saved.append(part)
    return {"nb02_missing_class": pd.DataFrame(rows), "nb02_missing_class_logits": pd.concat(saved, ignore_index=True)}


@results.maker("nb02_missing_class_study", minutes=15)
def make_missing_class_study(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """The missing-class study: for each configuration of :data:`~.missing_class.STUDY_GRID` and seed, the
    distilled student scored under every rule of :func:`~.missing_class.bias_rules`.

    One row per configuration, seed and rule, in :data:`~.missing_class.STUDY_COLUMNS`. The label-only
    twin is left out: it recognises no 3 at any shift (the main table shows it).
    """
    ds = kdata.load_mnist_subset()
    logits = {}
    rows = []
    for change, seed in _bar([(c, s) for c in STUDY_GRID for s in seeds], "study: configurations x seeds", progress):
        spec = dict(STUDY_BASE, **change)
        if spec["teacher"] not in logits:
            logits[spec["teacher"]] = teacher_logits(spec["teacher"], ds, ("train",))["train"]
        cls = spec["missing"]
        student = train_without_class(seed, ds, logits[spec["teacher"]], spec, hard_twin=False, threads=threads)["distilled"]
        val, test = predict_logits(student, ds.val.X), predict_logits(student, ds.test.X)
        before = bias_effect(test, ds.test.y, cls, 0.0)
        for rule, delta in bias_rules(val, ds.val.y, cls, spec["bias_grid"]).items():
            after = bias_effect(test, ds.test.y, cls, delta)
            rows.append({"teacher": spec["teacher"], "T": spec["T"], "alpha": spec["alpha"], "epochs": spec["epochs"],
                         "lr": spec["lr"], "seed": seed, "threes_right_before": before["class right"],
                         "errors_before": before["errors"], "rule": rule, "delta": delta,
                         "threes_right_after": after["class right"], "errors_after": after["errors"]})
    return {"nb02_missing_class_study": pd.DataFrame(rows, columns=STUDY_COLUMNS)}


@results.maker("nb02_few_examples", "nb02_few_examples_curves", minutes=2)
def make_few_examples(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Hard labels vs soft targets on 105 training images, every seed, with the curves scored every few epochs."""
    ds = kdata.load_mnist_subset()
    t_train = teacher_logits(MISSING["teacher"], ds, ("train",))["train"]
    rows, curves = [], []
    for seed in _bar(seeds, "few examples (seeds)", progress):
        r, c = few_examples_run(seed, ds, t_train, threads=threads)
        rows += r
        curves.append(c)
    return {"nb02_few_examples": pd.DataFrame(rows), "nb02_few_examples_curves": pd.concat(curves, ignore_index=True)}


@results.maker("nb02_teachers", minutes=10)
def make_teachers(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """The recipe's ``cnn-teacher`` setting distilled from the plain and the label-smoothed CNN at every T of
    :data:`~.experiments.TEACHER_TS` (Müller et al. 2019); for a seed, both students start from the same weights.

    The notebook then chooses T for each teacher on ``kd_val`` (:func:`~.experiments.chosen_T`).
    """
    ds = kdata.load_mnist_subset()
    logits = {name: teacher_logits(name, ds, ("train",))["train"] for name in (PLAIN, SMOOTHED)}
    rows = []
    for name, T, seed in _bar([(t, T, s) for t in logits for T in TEACHER_TS for s in seeds], "teacher x T x seed", progress):
        spec = dict(SETTINGS["cnn-teacher"], teacher=name)
        rows.append({"teacher": name, **run_setting(spec, seed, ds, teacher_logits=logits[name], threads=threads, T=T)})
    return {"nb02_teachers": pd.DataFrame(rows)}


MAKERS = (make_missing_class, make_missing_class_study, make_few_examples, make_teachers)
