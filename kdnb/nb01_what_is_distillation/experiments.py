"""Notebook 01's experiments: the side-by-side trap, the teacher's cost, and the settings it reads.

* :func:`side_by_side` runs the seeds' "teacher and student trained side by side on hard labels"
  loop (000-4/5) and the same student alone: they come out the same, bit for bit.
* :func:`epoch_seconds` times one epoch of plain training, of distillation from cached teacher
  logits and of distillation that runs the teacher at every step, all measured warm;
  :func:`cached_vs_every_step` shows that the two ways of distilling learn the same thing (003-7).
* :data:`FEW_LABELS` and :func:`few_labels_table`: ``few-labels`` (a teacher trained on all 3,500
  labels) beside ``few-labels-own-teacher`` (a teacher trained on the student's 300).
* :data:`TRANSFER` distils across a change of input (001-1, 003-24): the teacher sees the full
  28x28 images, the student only a 14x14 version of them; :func:`transfer_summary` reads its table.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .. import data as kdata
from .. import models
from ..i18n import N_, _
from ..recipe import SETTINGS, summarize, train_twins
from ..teachers import TEACHERS, read_manifest
from ..training import Run, accuracy, distill, fit, hard_step_loss, predict_logits, seed_everything, train_with

__all__ = ["side_by_side", "epoch_seconds", "cached_vs_every_step", "FEW_LABELS", "few_labels_table", "TRANSFER",
           "TRANSFER_LABELS", "TRANSFER_TABLE", "transfer_summary"]


# ------------------------------------------------------------------ the side-by-side trap (000-4/5)
def side_by_side(train: kdata.Split, student_config: dict | None = None, teacher_config: dict | None = None,
                 epochs: int = 2, batch_size: int = 128, seed: int = 0, threads: int | None = 1) -> dict:
    """The seeds' "distillation" loop (000-4/5), and the same student trained alone.

    The loop trains a teacher and a student at the same time, each with cross-entropy on the
    hard labels: at every batch the teacher takes its own Adam step beside the student's. Nothing
    of the teacher enters the student's loss, so the student comes out bit-for-bit the same as
    its twin trained alone (:func:`kdnb.recipe.train_twins`) from the same initial weights on the
    same batches. Returns both students, the teacher, and an autograd check: the gradient of the
    student's loss with respect to the teacher's outputs (``None``: they are not in its graph).
    """
    student_config = student_config or {"kind": "mlp", "hidden": [100]}
    teacher_config = teacher_config or {"kind": "mlp", "hidden": [400, 400]}
    shape = tuple(train.X.shape[1:])
    seed_everything(seed, threads)
    student0 = models.build(student_config, in_shape=shape)
    teacher = models.build(teacher_config, in_shape=shape)
    run = Run(epochs=epochs, lr=1e-3, batch_size=batch_size, seed=seed, progress=False)

    # the seeds' loop: the teacher trains on the labels beside the student; the student's loss is its own
    student_loss, opt_t, found = hard_step_loss(train.y), torch.optim.Adam(teacher.parameters(), lr=run.lr), {}

    def side_by_side_loss(idx, xb, logits):
        teacher_out = teacher(xb)
        loss = student_loss(idx, xb, logits)
        if "grad" not in found:
            found["grad"] = torch.autograd.grad(loss, teacher_out, retain_graph=True, allow_unused=True)[0]
        opt_t.zero_grad()
        F.cross_entropy(teacher_out, train.y.index_select(0, idx)).backward()
        opt_t.step()
        return loss

    student = copy.deepcopy(student0)
    train_with(student, train, side_by_side_loss, None, run)
    alone = train_twins(student0, train, None, run)["alone"]  # the same start, the same batches, no teacher anywhere
    identical = all(torch.equal(a, b) for a, b in zip(student.state_dict().values(), alone.state_dict().values()))
    return {"student side by side": student, "student alone": alone, "teacher": teacher,
            "identical weights": identical, "grad of student loss wrt teacher outputs": found.get("grad", "not checked")}


# ------------------------------------------------------------------ cost of the teacher (003-7)
def _timed_teacher_pass(teacher, X: torch.Tensor, batch_size: int = 128, repeats: int = 1) -> tuple[torch.Tensor, float]:
    """The teacher's logits on ``X`` and the median seconds of that pass, measured **warm**.

    The first forward pass of a model pays one-off costs (allocating memory, choosing and
    preparing kernels) that no later pass pays; timing it cold would charge them to the cache.
    So one batch runs first, untimed, and then the median of ``repeats`` full passes is reported.
    The pass uses the training batch size, so that it does the same work as the teacher's
    share of a distillation epoch (much larger batches of a CNN can be slower per image: their
    intermediate activations no longer fit in the CPU's caches).
    """
    teacher.eval()
    predict_logits(teacher, X[:batch_size], batch_size)  # warm-up, not timed
    times = []
    for _repeat in range(repeats):
        start = time.perf_counter()
        cache = predict_logits(teacher, X, batch_size)
        times.append(time.perf_counter() - start)
    return cache, float(np.median(times))


def epoch_seconds(students: dict[str, dict], teacher, train: kdata.Split, epochs: int = 1, batch_size: int = 128) -> pd.DataFrame:
    """Seconds per epoch of plain training and of two ways of distilling, per student (003-7).

    ``students`` maps a name to a model config. "cached": the teacher's logits on the
    (un-augmented) training set are computed once, before training (that one-off cost, measured
    warm, is the column ``"teacher pass, once"``); "teacher every step": the frozen teacher runs
    on each batch, as it must when inputs are augmented. Every mode first takes one untimed
    warm-up step; the median of ``epochs`` timed epochs is reported. The last columns are the
    factors, and ``"teacher's share of an epoch"`` (every step minus cached), which should be
    close to the one-off pass: both are one teacher forward pass over the training set.
    """
    cache, once = _timed_teacher_pass(teacher, train.X, batch_size)
    timed = Run(epochs=epochs, batch_size=batch_size, seed=0, progress=False)
    modes = {  # each returns the per-epoch history, whose "seconds" column is the timing
        N_("plain"): lambda m, data, run: fit(m, data, None, run),
        N_("cached"): lambda m, data, run: distill(m, data, None, run, teacher=cache[: len(data)]),
        N_("teacher every step"): lambda m, data, run: distill(m, data, None, run, teacher=teacher, cache_teacher=False),
    }
    rows = {}
    for name, config in students.items():
        row = {N_("teacher pass, once"): once}
        for mode, train_once in modes.items():
            seed_everything(0, threads=None)
            student = models.build(config, in_shape=tuple(train.X.shape[1:]))
            train_once(student, train.subset(range(batch_size)), Run.of(timed, epochs=1))  # warm-up
            row[mode] = float(np.median(train_once(student, train, timed)["seconds"]))
        rows[name] = row
    t = pd.DataFrame(rows).T
    t[N_("teacher's share of an epoch")] = t["teacher every step"] - t["cached"]
    t[N_("KD (teacher every step) / KD (cached)")] = t["teacher every step"] / t["cached"]
    t[N_("KD (cached) / plain")] = t["cached"] / t["plain"]
    return t


def cached_vs_every_step(teacher, student_config: dict, train: kdata.Split, test: kdata.Split, run: Run | None = None, *,
                         T: float = 4.0, alpha: float = 0.9, **run_fields) -> dict:
    """The same student distilled twice from the same initial weights and batches (003-7).

    Once from the teacher's logits cached before training, once with the teacher run on every
    batch. Without augmentation the teacher sees the same images either way, so the two runs
    learn the same thing: their test accuracies agree (up to float error: a batch of 128 and a
    batch of 1,000 may be summed in a different order, so the logits differ in their last bits).
    ``run`` (or its fields as keywords) says how both train; by default 3 epochs at a learning
    rate of 2e-3, batches of 128, seed 0. Returns the seconds of each run (the cached one
    includes its one-off teacher pass), both test accuracies (%), the largest difference
    between the cached and the per-batch teacher logits, and the speed ratio.
    """
    run = Run.of(run or Run(epochs=3, lr=2e-3, batch_size=128, progress=False), **run_fields)
    cache, once = _timed_teacher_pass(teacher, train.X, run.batch_size)
    seed_everything(run.seed, threads=None)
    init = models.build(student_config, in_shape=tuple(train.X.shape[1:]))
    warm_up = Run.of(run, epochs=1)
    out = {"teacher pass, once (s)": once}
    for mode, kw in (("cached", {"teacher": cache}), ("every step", {"teacher": teacher, "cache_teacher": False})):
        distill(copy.deepcopy(init), train.subset(range(run.batch_size)), None, warm_up,  # warm-up, discarded
                **({"teacher": cache[:run.batch_size]} if mode == "cached" else kw))
        student = copy.deepcopy(init)
        hist = distill(student, train, None, run, T=T, alpha=alpha, **kw)
        out[f"{mode}: seconds"] = float(hist["seconds"].sum()) + (once if mode == "cached" else 0.0)
        out[f"{mode}: test accuracy (%)"] = 100 * accuracy(student, test)
    with torch.no_grad():
        per_batch = torch.cat([teacher(xb) for xb in train.X.split(run.batch_size)])
    out["largest logit difference, cached vs per batch"] = (per_batch - cache).abs().max().item()
    out["accuracy difference (points)"] = out["cached: test accuracy (%)"] - out["every step: test accuracy (%)"]
    out["every step / cached (time)"] = out["every step: seconds"] / out["cached: seconds"]
    out["epochs"] = run.epochs
    return out


# ------------------------------------------------------------------ few labels: what the teacher already knew
#: The two few-labels settings of :data:`kdnb.recipe.SETTINGS`: the same 300 labelled images and
#: the same student; only the teacher differs (trained on all 3,500 labels, or on those 300).
FEW_LABELS = ("few-labels", "few-labels-own-teacher")


def few_labels_table(results: pd.DataFrame) -> pd.DataFrame:
    """``few-labels`` beside ``few-labels-own-teacher``: which labels each teacher saw, its test
    accuracy (from the teachers' manifest), the T used, and the students' mean test accuracy (%) over seeds.

    The student alone is the same in both rows (same labelled images, same seeds); the
    difference between the two gains is what the labels only the first teacher saw were worth.
    """
    summary = summarize(results[results["setting"].isin(FEW_LABELS)])
    manifest = read_manifest()
    rows = {}
    for name in FEW_LABELS:
        if name not in summary.index:
            continue
        spec = SETTINGS[name]
        n = TEACHERS[spec["teacher"]].get("labels", {}).get("n")
        rows[name] = {N_("teacher"): spec["teacher"],
                      N_("teacher trained on"): (_("the student's {n} labelled images").format(n=n) if n
                                                 else _("all 3,500 training labels")),
                      N_("teacher test accuracy (%)"): round(100 * manifest[spec["teacher"]]["test_accuracy"], 1),
                      N_("student labels"): spec["labels"],
                      N_("T (chosen on validation)"): float(results.loc[results["setting"] == name, "T"].iloc[0]),
                      N_("alone (%)"): summary.loc[name, "alone_mean"], N_("distilled (%)"): summary.loc[name, "kd_mean"],
                      N_("gain (points)"): summary.loc[name, "gain_mean"],
                      N_("seed ranges overlap"): bool(summary.loc[name, "ranges_overlap"])}
    return pd.DataFrame(rows).T.infer_objects()


# ------------------------------------------------------------------ transfer across inputs (001-1, 003-24)
#: The transfer setting (001-1, 003-24): the 2x1200 MLP teacher sees 28x28 images, the 1x100
#: student only their 14x14 version; how many of the 3,500 training images keep their label varies.
TRANSFER = {"summary": "2x1200 MLP teacher on 28x28 -> 1x100 MLP on 14x14", "teacher": "mlp-mnist",
            "student": {"kind": "mlp", "hidden": [100]}, "view": "14x14", "labels": None,
            "T": 4.0, "alpha": 0.9, "epochs": 60, "lr": 2e-3, "batch_size": 256}
#: How many of the training images keep their label for the student, in the transfer table.
TRANSFER_LABELS = (100, 300, 1000, 3500)
#: The stored table of :data:`TRANSFER` over :data:`TRANSFER_LABELS` and five seeds (``kdnb.results.read`` it).
TRANSFER_TABLE = "nb01_transfer"


#: The headers of :func:`kdnb.recipe.summarize`'s tables that notebook 01 shows, marked for the catalog.
_SUMMARY_HEADERS = (N_("setting"), N_("labels"), N_("seeds"), N_("alone_mean"), N_("alone_min"), N_("alone_max"),
                    N_("kd_mean"), N_("kd_min"), N_("kd_max"), N_("gain_mean"), N_("ranges_overlap"))


def transfer_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, min and max test accuracy (%) per label count, alone vs distilled (:func:`kdnb.recipe.summarize`)."""
    return summarize(results, by="labels")
