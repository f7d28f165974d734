"""Notebook 01, what is knowledge distillation: its experiments, tables, verdicts, figures and exercises.

This file holds what the notebook's cells call and re-exports the rest. :func:`families` is the
table of compression families (003-2, 000-7): knowledge distillation (知识蒸馏), pruning (剪枝),
quantization (量化), low-rank factorization and efficient architectures; only the KD row is
measured here (notebook 06 measures the others). :func:`accuracies`, :func:`fit_gap` and
:func:`agreement_table` are the small tables the cells show, and every ``*_verdicts`` function
returns the claims a section's prose makes, computed from its numbers
(:class:`kdnb.verdicts.Verdicts`; a cell shows and asserts them with ``.require()``).

``experiments.py`` holds what is run: :func:`side_by_side` (the seeds' side-by-side loop, 000-4/5),
:func:`epoch_seconds` and :func:`cached_vs_every_step` (the teacher's cost, 003-7),
:func:`few_labels_table` (whose labels a few-label gain comes from) and :data:`TRANSFER` with
:func:`transfer_summary` (distilling across a change of input, 001-1, 003-24).

``figures.py`` holds the figures (:func:`plot_cost_vs_accuracy`, :func:`plot_epoch_timing`,
:func:`plot_transfer`) and the transfer explorer (:func:`transfer_widget`), which reads the stored
table and never trains.

``checks.py`` holds the checkers of the notebook's exercises (Check yourself 2.1, 3.1, 4.1, 6.1,
7.1); each names the usual mistake.

``tables.py`` makes the stored table ``nb01_transfer``: ``python -m kdnb.results make nb01_transfer``
(about two minutes on 2 cores). Evaluation (accuracy, size, latency, ratios) is core: :mod:`kdnb.evaluation`.
"""

from __future__ import annotations

import pandas as pd

from .. import data as kdata
from .. import models, seeds
from ..i18n import N_, _
from ..teachers import LM_TEACHERS, read_manifest
from ..training import accuracy
from ..verdicts import Verdicts
from .checks import (NEEDS_DATA, check_best_setting, check_leaked_points, check_needs_data, check_student_kb,
                     check_student_loss)
from .experiments import (FEW_LABELS, TRANSFER, TRANSFER_LABELS, TRANSFER_TABLE, cached_vs_every_step, epoch_seconds,
                          few_labels_table, side_by_side, transfer_summary)
from .display import model_label, parameters_changed, show_soft_target, shown
from .figures import plot_cost_vs_accuracy, plot_epoch_timing, plot_transfer, transfer_widget

__all__ = ["accuracies", "twin_verdicts", "side_by_side", "trap_verdicts", "evaluation_verdicts", "ranking_verdicts",
           "plot_cost_vs_accuracy", "families", "families_verdicts", "epoch_seconds", "plot_epoch_timing",
           "timing_verdicts", "cached_vs_every_step", "caching_verdicts", "few_labels_table",
           "few_labels_verdicts", "fit_gap", "teacher_choice_verdicts", "replay_verdicts", "TRANSFER",
           "TRANSFER_TABLE", "transfer_summary", "plot_transfer", "transfer_widget", "explorer_verdicts",
           "transfer_verdicts", "same_network_verdicts", "agreement_table", "agreement_verdicts", "check_student_loss",
           "check_student_kb", "check_needs_data", "check_leaked_points", "check_best_setting", "shown", "model_label",
           "show_soft_target", "parameters_changed"]


# ------------------------------------------------------------------ section 2: the recipe, and the trap (000-4/5)
def accuracies(named_models: dict, split: kdata.Split) -> pd.Series:
    """Accuracy (%) of each named model on ``split``."""
    return pd.Series({name: 100 * accuracy(m, split) for name, m in named_models.items()}, name="accuracy (%)")


def twin_verdicts(acc: pd.Series) -> Verdicts:
    """Section 2's result, from :func:`accuracies` on the test split of (teacher, student alone, distilled student) in that order."""
    teacher, alone, distilled = (float(a) for a in acc.iloc[:3])
    return Verdicts({
        _("the distilled student ({distilled:.1f}%) beats the same student trained on labels alone ({alone:.1f}%)")
        .format(distilled=distilled, alone=alone): distilled > alone,
        _("the teacher ({teacher:.1f}%) stays ahead of the distilled student").format(teacher=teacher):
            teacher > distilled,
    })


def trap_verdicts(trap: dict) -> Verdicts:
    """What :func:`side_by_side` shows: training beside a teacher on the labels distils nothing."""
    return Verdicts({
        _("the student trained side by side with the teacher has, bit for bit, the weights of the same student "
          "trained alone"): trap["identical weights"] is True,
        _("no gradient of the student's loss reaches the teacher's outputs (autograd finds none)"):
            trap["grad of student loss wrt teacher outputs"] is None,
    })


# ------------------------------------------------------------------ section 3: judging a distilled student (003-8)
def evaluation_verdicts(table: pd.DataFrame) -> Verdicts:
    """What :func:`kdnb.evaluation.evaluate` shows for (teacher, student alone, distilled student), in that order."""
    acc, params, latency = table["test accuracy (%)"], table["parameters"], table["latency, 1 image (ms)"]
    return Verdicts({
        _("the teacher has {ratio:.0f}x the student's parameters (more than 20x)").format(
            ratio=params.iloc[0] / params.iloc[2]): params.iloc[0] > 20 * params.iloc[2],
        _("the distilled student is more accurate than the student alone"): acc.iloc[2] > acc.iloc[1],
        _("the distilled student answers one image faster than the teacher"): latency.iloc[2] < latency.iloc[0],
    })


def ranking_verdicts(table: pd.DataFrame) -> Verdicts:
    """The trap "the best model is the most accurate": who wins on accuracy alone, and what the student trades."""
    winner = table["test accuracy (%)"].idxmax()
    teacher, student = table.iloc[0], table.iloc[2]
    lost = teacher["test accuracy (%)"] - student["test accuracy (%)"]
    fewer, smaller = teacher["parameters"] / student["parameters"], teacher["bytes"] / student["bytes"]
    return Verdicts({
        _("ranked by accuracy alone, the winner is the teacher: {winner}").format(winner=model_label(winner)):
            str(winner).startswith("teacher"),
        _("the distilled student gives up {lost:.1f} points for {fewer:.0f}x fewer parameters and {smaller:.0f}x "
          "fewer bytes").format(lost=lost, fewer=fewer, smaller=smaller): lost > 0 and fewer > 1 and smaller > 1,
    })


# ------------------------------------------------------------------ section 4: the compression families (003-2, 000-7)
#: The rows of :func:`families` (the KD row's "typical gain" is filled in there); every text is marked
#: for translation, and :func:`shown` translates it at display.
_FAMILIES = [
    (N_("knowledge distillation (知识蒸馏)"), N_("a new, smaller model is trained to match the teacher's soft targets"),
     N_("yes: KD *is* training the student"), None,
     N_("a trained teacher, a transfer set (labels optional), a student architecture"), "Hinton et al. 2015"),
    (N_("pruning (剪枝)"), N_("weights, neurons or channels are removed (set to zero or cut out)"),
     N_("yes, fine-tune with masks kept, often prune-retrain in rounds"),
     N_("measured in notebook 06; 9-13x fewer weights on AlexNet/VGG-16 with no accuracy loss (paper)"),
     N_("the trained model, data to fine-tune; speed needs structured pruning or sparse kernels"),
     "Han et al. 2015"),
    (N_("quantization (量化)"), N_("numbers are stored and computed in fewer bits (float32 -> int8)"),
     N_("post-training works; quantization-aware training recovers more"),
     N_("measured in notebook 06; 4x smaller at int8 by construction"),
     N_("integer kernels on the target hardware, a little calibration data"), "Jacob et al. 2018"),
    (N_("low-rank factorization"), N_("a weight matrix or filter bank is replaced by a product of thin factors"),
     N_("usually a fine-tune after the factorization"),
     N_("measured in notebook 06; about 2x speed-ups on conv layers with <1 point loss (papers)"),
     N_("the trained model; layers whose weights are close to low rank"),
     "Denton et al. 2014; Jaderberg et al. 2014"),
    (N_("efficient architectures"), N_("the network is designed small (e.g. depthwise separable convolutions)"),
     N_("trained from scratch (and can also be a KD student)"),
     N_("measured in notebook 06; MobileNet: 27x fewer multiply-adds than VGG-16, 0.9 points lower ImageNet top-1 "
        "(paper)"),
     N_("architecture design or search; data to train"), "Howard et al. 2017"),
    (N_("Deep Compression (a pipeline, not a family)"), N_("pruning + trained quantization + Huffman coding"),
     N_("yes, retrains after pruning and while sharing weights"),
     N_("35x (AlexNet) and 49x (VGG-16) smaller storage (paper)"),
     N_("the trained model and its training data"), "Han et al. 2016"),
]


def families(kd: dict | None = None) -> pd.DataFrame:
    """The five families of model compression, side by side (003-2, 000-7, 003-30, 002-Q1).

    ``kd`` fills the KD row's "gain here" with what was measured in this notebook, e.g.
    ``{"smaller": 30.2, "faster": 5.1, "points lost": 1.8}``.
    Sources: Hinton et al. 2015 (KD); Han et al. 2015, 2016 (pruning, Deep Compression);
    Jacob et al. 2018 (integer quantization); Denton et al. 2014, Jaderberg et al. 2014
    (low-rank); Howard et al. 2017 (MobileNets).
    """
    kd_gain = _("not measured")
    if kd:
        parts = []
        if "smaller" in kd:
            parts.append(_("{n:.0f}x fewer parameters").format(n=kd["smaller"]))
        if "faster" in kd:
            parts.append(_("{n:.1f}x faster per image").format(n=kd["faster"]))
        if "points lost" in kd:
            parts.append(_("{n:.1f} points below the teacher").format(n=kd["points lost"]))
        kd_gain = _("measured here: {parts}").format(parts=_(", ").join(parts))
    table = pd.DataFrame(_FAMILIES, columns=[N_("family"), N_("what changes"), N_("needs retraining?"), N_("typical gain"),
                                             N_("what you need"), N_("source")]).set_index("family")
    table.loc[_FAMILIES[0][0], "typical gain"] = kd_gain
    return table


def families_verdicts(fam: pd.DataFrame) -> Verdicts:
    """000-7's two halves, read from :func:`families`: both KD and Deep Compression retrain the compressed model."""
    retrains = fam["needs retraining?"].str.startswith("yes")
    return Verdicts({
        _("knowledge distillation retrains: it is the training of the compressed model (the student)"):
            retrains["knowledge distillation (知识蒸馏)"],
        _("Deep Compression retrains too, after pruning and while sharing weights"):
            retrains["Deep Compression (a pipeline, not a family)"],
    })


# ------------------------------------------------------------------ section 5: the teacher's cost (003-7)
def timing_verdicts(times: pd.DataFrame) -> Verdicts:
    """What :func:`epoch_seconds` shows, for its first (small) and last (large) student."""
    small, big = times.iloc[0], times.iloc[-1]
    every = "KD (teacher every step) / KD (cached)"
    once, share = small["teacher pass, once"], small["teacher's share of an epoch"]
    return Verdicts({
        _("for the {student}, running the teacher every step makes an epoch {factor:.1f}x slower than reading cached "
          "logits (more than 2x: the teacher dominates)").format(student=model_label(times.index[0]),
                                                                 factor=small[every]): small[every] > 2,
        _("a cached KD epoch costs {factor:.1f}x a plain one (less than 2x)").format(
            factor=small["KD (cached) / plain"]): small["KD (cached) / plain"] < 2,
        _("for the {student} the factor shrinks to {factor:.1f}x: its own training dominates the epoch").format(
            student=model_label(times.index[-1]), factor=big[every]): big[every] < small[every],
        _("the one-off teacher pass ({once:.2f} s) costs about the teacher's share of an every-step epoch "
          "({share:.2f} s), within a factor of 3: the same work, measured warm").format(once=once, share=share):
            1 / 3 < once / share < 3,
    })


def caching_verdicts(same: dict) -> Verdicts:
    """What :func:`cached_vs_every_step` shows: caching the teacher's logits changes the cost, not what is learnt."""
    cached, every = same["cached: test accuracy (%)"], same["every step: test accuracy (%)"]
    return Verdicts({
        _("after {epochs} epochs, the student distilled from cached logits ({cached:.1f}%) and the one taught by the "
          "teacher at every step ({every:.1f}%) agree within 3 of the 1,000 test images").format(
            epochs=same["epochs"], cached=cached, every=every): abs(same["accuracy difference (points)"]) <= 0.3,
        _("the cached and the per-batch teacher logits are equal up to float error (1e-4)"):
            same["largest logit difference, cached vs per batch"] < 1e-4,
        _("running the teacher every step takes {factor:.1f}x the time ({every:.1f} s against {cached:.1f} s, "
          "one-off pass included)").format(factor=same["every step / cached (time)"],
                                           every=same["every step: seconds"], cached=same["cached: seconds"]):
            same["every step / cached (time)"] > 1.5,
    })


# ------------------------------------------------------------------ section 6: what distillation buys
def few_labels_verdicts(few: pd.DataFrame) -> Verdicts:
    """What :func:`few_labels_table` shows: how much of the few-label gain the all-label teacher brought along."""
    g_all, g_own = few.loc[FEW_LABELS[0], "gain (points)"], few.loc[FEW_LABELS[1], "gain (points)"]
    own_apart = not few.loc[FEW_LABELS[1], "seed ranges overlap"]
    return Verdicts({
        _("the student alone is the same in both rows (the same 300 labelled images and seeds)"):
            few.loc[FEW_LABELS[0], "alone (%)"] == few.loc[FEW_LABELS[1], "alone (%)"],
        _("a teacher that saw all 3,500 labels gains {g_all:+.1f} points, one that saw only the student's 300 gains "
          "{g_own:+.1f}").format(g_all=g_all, g_own=g_own): g_all > g_own,
        _("the teacher that saw only the student's labels still lifts it, beyond the seed noise"):
            g_own > 0 and own_apart,
        _("so {leaked:.1f} of the {g_all:.1f} points came from labels the student was not given").format(
            leaked=g_all - g_own, g_all=g_all): g_all - g_own > 0,
    })


def fit_gap(named_models: dict, ds: kdata.Dataset) -> pd.DataFrame:
    """Train and test accuracy (%) of each model and the gap between them (002-Q3: does KD overfit?)."""
    gap = pd.DataFrame({n: {N_("train accuracy (%)"): 100 * accuracy(m, ds.train), "test accuracy (%)": 100 * accuracy(m, ds.test)}
                        for n, m in named_models.items()}).T
    gap[N_("train - test (points)")] = gap["train accuracy (%)"] - gap["test accuracy (%)"]
    return gap


# ------------------------------------------------------------------ section 7: choosing teacher and student (003-9)
def teacher_choice_verdicts(summary: pd.DataFrame) -> Verdicts:
    """Section 7's reading of the settings (:func:`kdnb.recipe.summarize`), teacher accuracies from the manifest."""
    g, overlap = summary["gain_mean"], summary["ranges_overlap"]
    acc = {n: 100 * e["test_accuracy"] for n, e in read_manifest().items() if n not in LM_TEACHERS}  # image teachers
    return Verdicts({
        _("the CNN teacher ({cnn:.1f}%) is more accurate than the MLP teacher ({mlp:.1f}%)").format(
            cnn=acc["cnn-mnist"], mlp=acc["mlp-mnist"]): acc["cnn-mnist"] > acc["mlp-mnist"],
        _("yet it teaches the 1x100 student less: {cnn:+.1f} points against {mlp:+.1f}").format(
            cnn=g["cnn-teacher"], mlp=g["default"]): g["cnn-teacher"] < g["default"],
        _("the 1x30 student gains {gain:+.1f} points, less than the 1x100 student").format(gain=g["tiny-student"]):
            g["tiny-student"] < g["default"],
        _("the 1x30 student's gain is within the seed noise (its seed ranges overlap)"): bool(overlap["tiny-student"]),
    })


def replay_verdicts(live: dict, stored, expect_gain: bool = False, tolerance: float = 0.005) -> Verdicts:
    """A live re-run of one stored run (:func:`kdnb.recipe.run_setting`) against the stored row: both students
    within ``tolerance`` (0.005: 5 of the 1,000 test images); ``expect_gain`` adds "distilled beats alone"."""
    claims = {
        _("the live run (alone {live_alone:.1f}%, distilled {live_kd:.1f}%) reproduces the stored one (alone "
          "{stored_alone:.1f}%, distilled {stored_kd:.1f}%) within {images:.0f} test images").format(
            live_alone=100 * live["alone_test"], live_kd=100 * live["kd_test"],
            stored_alone=100 * stored["alone_test"], stored_kd=100 * stored["kd_test"], images=1000 * tolerance):
            abs(live["alone_test"] - stored["alone_test"]) <= tolerance
            and abs(live["kd_test"] - stored["kd_test"]) <= tolerance}
    if expect_gain:
        claims[_("the distilled student beats the student alone in the live run")] = live["kd_test"] > live["alone_test"]
    return Verdicts(claims)


# ------------------------------------------------------------------ section 8: across inputs (001-1, 003-24)
def explorer_verdicts(explorer, summary: pd.DataFrame) -> Verdicts:
    """Drive :func:`transfer_widget` like a reader (3,500 labels, then 300) and check what it shows against the table."""
    explorer.controls["labels"].value = 3500
    at_full = dict(explorer.state)
    explorer.controls["labels"].value = 300
    at_few = dict(explorer.state)
    return Verdicts({
        _("at 3,500 labels the explorer shows the stored gain"): at_full["labels"] == 3500
                                                                 and at_full["gain"] == summary.loc[3500, "gain_mean"],
        _("at 300 labels it shows a larger gain than at 3,500"): at_few["labels"] == 300
                                                                  and at_few["gain"] > at_full["gain"],
    })


def transfer_verdicts(summary: pd.DataFrame) -> Verdicts:
    """What :func:`transfer_summary` shows: the teacher's help shrinks to the seed noise as the student gets its labels."""
    few, full = summary.loc[300], summary.loc[3500]
    return Verdicts({
        _("with 300 labels the distilled student gains {gain:+.1f} points, beyond the seed noise").format(
            gain=few.gain_mean): few.gain_mean > 0 and not few.ranges_overlap,
        _("with all 3,500 labels the gain shrinks to {gain:+.1f} points, within the seed noise").format(
            gain=full.gain_mean):
            full.gain_mean < few.gain_mean and bool(full.ranges_overlap),
    })


# ------------------------------------------------------------------ section 9 and 11: speed, and fidelity
def same_network_verdicts(alone, distilled, table: pd.DataFrame) -> Verdicts:
    """003-26's trap: the two students of section 3 are the same network, so they are equally fast."""
    ratio = table["latency, 1 image (ms)"].iloc[2] / table["latency, 1 image (ms)"].iloc[1]
    return Verdicts({
        _("the two students have the same architecture and parameter count"):
            str(alone) == str(distilled) and models.count_params(alone) == models.count_params(distilled),
        _("one-image latency, distilled / alone: {ratio:.1f}x (the same network, measured twice; between 0.5x and "
          "2x)").format(ratio=ratio): 0.5 < ratio < 2,
    })


def agreement_table(runs: pd.DataFrame) -> pd.DataFrame:
    """How often each student's top class is its teacher's on the test images (%, mean over the seeds), per setting."""
    table = seeds.spread(runs, "setting", ["alone_agree", "kd_agree"])[["alone_agree_mean", "kd_agree_mean"]]
    table.columns = [N_("student alone agrees with its teacher (%)"), N_("distilled student agrees (%)")]
    return table


def agreement_verdicts(table: pd.DataFrame) -> Verdicts:
    """What :func:`agreement_table` shows: distillation raises fidelity, but never to every test image."""
    alone, distilled = table.iloc[:, 0], table.iloc[:, 1]
    return Verdicts({
        _("distillation raises every setting's agreement with its teacher"): bool((distilled > alone).all()),
        _("no student agrees with its teacher on every test image"):
            bool((distilled < 100).all() and (alone < 100).all()),
    })
