"""Hinton et al.'s missing-class experiment (section 6): digit 3 left out of the transfer set, then its bias raised.

The run itself (twin students from the same initial weights, one distilled and one on the labels
alone), the bias arithmetic on stored logits, the summaries beside the paper's figures, the study
of training length, T, alpha, teacher and bias rule, and the verdicts section 6's prose draws.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .. import data as kdata
from .. import models, recipe, seeds
from ..seeds import Spread
from ..training import DEFAULT_THREADS, Run, predict_logits, seed_everything
from ..i18n import N_, _
from ..verdicts import Verdicts
from .readouts import Shown

__all__ = ["MISSING", "PAPER_MISSING_CLASS", "drop_class", "raise_bias", "bias_effect", "choose_bias", "bias_curve",
           "train_without_class", "missing_class_run", "missing_class_summary", "missing_class_gap", "bias_curves",
           "missing_class_verdicts", "STUDY_COLUMNS", "MAIN_RULE", "STUDY_BASE", "STUDY_GRID", "WIDE_BIAS_GRID",
           "bias_rules", "study_configurations", "study_rules", "study_verdicts"]

#: The missing-class run: Hinton's unregularized 2x800 student, taught by the CNN teacher
#: on a transfer set without one digit. T, alpha and the learning rate are those of the
#: recipe's ``unregularized-2x800`` setting (T chosen there on the validation split); the
#: training is four times as long (80 epochs, not 20). A study of training length, T, alpha,
#: teacher and bias rule (the table ``nb02_missing_class_study``) found length the main
#: factor: the faint "looks a bit like a 3" part of the soft targets is fitted late.
MISSING = {"teacher": "cnn-mnist", "student": {"kind": "mlp", "hidden": [800, 800]}, "missing": 3,
           "T": 8.0, "alpha": 0.9, "epochs": 80, "lr": 2e-3, "batch_size": 256,
           "bias_grid": (0.0, 12.0, 0.25)}

#: Hinton, Vinyals & Dean 2015, section 3 (MNIST, 10,000 test images, 1,010 of them threes;
#: the transfer set is MNIST's 60,000 training images without their 6,131 threes; the teacher,
#: a 2x1200 net with dropout and jitter, makes 67 test errors).
PAPER_MISSING_CLASS = {"test images": 10000, "test threes": 1010, "errors without 3s": 206,
                       "threes wrong": 133, "bias raised by": 3.5, "errors after": 109,
                       "threes right after (%)": 98.6, "training images": 60000, "training threes": 6131,
                       "teacher test errors": 67}

#: The names of the two students in the tables, in table order.
DISTILLED, LABELS_ONLY = "distilled", "hard labels only"


def drop_class(split: kdata.Split, cls: int) -> tuple[kdata.Split, torch.Tensor]:
    """The split without the images of class ``cls``, and the boolean mask of the rows kept."""
    keep = split.y != cls
    return split.subset(keep.nonzero().flatten()), keep


def raise_bias(logits: torch.Tensor, cls: int, delta: float) -> torch.Tensor:
    """Logits with ``delta`` added to class ``cls``: the same as raising that output unit's bias."""
    out = logits.clone()
    out[:, cls] += delta
    return out


def bias_effect(logits: torch.Tensor, y: torch.Tensor, cls: int, delta: float) -> dict:
    """Errors, accuracy and how many images of ``cls`` are right after raising its bias by ``delta``."""
    pred = raise_bias(logits, cls, delta).argmax(-1)
    of_cls = y == cls
    right = int(((pred == cls) & of_cls).sum())
    return {"delta": float(delta), "errors": int((pred != y).sum()), "accuracy": float((pred == y).float().mean()),
            "class right": right, "class total": int(of_cls.sum()), "class right (%)": 100.0 * right / max(int(of_cls.sum()), 1)}


def choose_bias(val_logits: torch.Tensor, val_y: torch.Tensor, cls: int, grid=None) -> float:
    """The bias increase with the highest **validation** accuracy (the smallest one on ties).

    Chosen on the validation split so that the test split stays unseen (Hinton et al. 2015
    picked their 3.5 as the value that "optimizes overall performance on the test set").
    """
    lo, hi, step = grid or MISSING["bias_grid"]
    deltas = np.arange(lo, hi + step / 2, step)
    accs = [bias_effect(val_logits, val_y, cls, d)["accuracy"] for d in deltas]
    return float(deltas[int(np.argmax(accs))])


def bias_curve(logits: torch.Tensor, y: torch.Tensor, cls: int, deltas) -> pd.DataFrame:
    """:func:`bias_effect` for each bias increase in ``deltas``, one row each."""
    return pd.DataFrame([bias_effect(logits, y, cls, d) for d in deltas]).set_index("delta")


def train_without_class(seed: int, dataset: kdata.Dataset, t_logits: torch.Tensor, spec: dict, hard_twin: bool = True,
                        threads: int | None = DEFAULT_THREADS, progress: bool = False) -> dict:
    """The students of the missing-class experiment, trained on the training split without class ``spec["missing"]``.

    ``{"distilled": model}`` (``kd_loss`` against ``t_logits``, the teacher's logits on the whole
    training split), and with ``hard_twin`` also ``{"hard labels only": model}``: the twin from the
    same initial weights trained on the labels alone (:func:`kdnb.recipe.train_twins`).
    """
    transfer, keep = drop_class(dataset.train, spec["missing"])
    seed_everything(seed, threads)
    init = models.build(spec["student"], in_shape=dataset.image_shape)
    run = Run(epochs=spec["epochs"], lr=spec["lr"], batch_size=spec["batch_size"], seed=seed, progress=progress)
    twins = recipe.train_twins(init, transfer, t_logits[keep], run, T=spec["T"], alpha=spec["alpha"], alone=hard_twin)
    students = {DISTILLED: twins["distilled"]}
    if hard_twin:
        students[LABELS_ONLY] = twins["alone"]
    return students


def missing_class_run(seed: int, dataset: kdata.Dataset, t_logits: torch.Tensor, spec: dict | None = None,
                      progress: bool = False, threads: int | None = DEFAULT_THREADS) -> tuple[list[dict], dict]:
    """Hinton et al.'s missing-class experiment for one seed.

    Two copies of the student (same initial weights) see the training split without class
    ``spec["missing"]``: one distilled from the teacher (``kd_loss``), one on the hard labels
    alone. For each, the bias increase is chosen on the validation split, then the test split
    is scored with and without it. Returns result rows and the students' val/test logits.
    """
    spec = dict(MISSING, **(spec or {}))
    cls = spec["missing"]
    students = train_without_class(seed, dataset, t_logits, spec, threads=threads, progress=progress)
    rows, logits = [], {}
    for name, model in students.items():
        val, test = predict_logits(model, dataset.val.X), predict_logits(model, dataset.test.X)
        logits[name] = {"val": val, "test": test}
        delta = choose_bias(val, dataset.val.y, cls, spec["bias_grid"])
        before, after = bias_effect(test, dataset.test.y, cls, 0.0), bias_effect(test, dataset.test.y, cls, delta)
        paper = bias_effect(test, dataset.test.y, cls, PAPER_MISSING_CLASS["bias raised by"])
        rows.append({"seed": seed, "student": name, "missing": cls, "T": spec["T"] if name == DISTILLED else float("nan"),
                     "test_images": len(dataset.test), "class_total": before["class total"],
                     "errors_before": before["errors"], "class_right_before": before["class right"],
                     "delta_val": delta, "errors_after": after["errors"], "class_right_after": after["class right"],
                     "errors_at_3.5": paper["errors"], "class_right_at_3.5": paper["class right"],
                     "val_acc_before": bias_effect(val, dataset.val.y, cls, 0.0)["accuracy"],
                     "val_acc_after": bias_effect(val, dataset.val.y, cls, delta)["accuracy"]})
    return rows, logits


def missing_class_summary(table: pd.DataFrame, paper: dict | None = None) -> Shown:
    """The missing-class runs over seeds next to Hinton et al.'s figures, in percent of the test images.

    ``table`` is ``results.read("nb02_missing_class")``. Rows: test error and missing-class images
    recognised, before and after the bias increase, and the increase itself. Columns: the
    distilled student's mean, min and max over seeds (:func:`kdnb.seeds.spread`), the label-only
    student's mean, and the paper's value (Hinton et al. 2015: 10,000 test images and 1,010
    threes; here 1,000 and 100, so each of our threes is one percentage point).
    """
    paper = paper or PAPER_MISSING_CLASS
    n, n_cls = table["test_images"], table["class_total"]
    per_run = pd.DataFrame({
        "student": table["student"],
        N_("test error before (%)"): 100 * table["errors_before"] / n,
        N_("missing class right before (%)"): 100 * table["class_right_before"] / n_cls,
        N_("bias raised by (chosen on validation)"): table["delta_val"],
        N_("test error after (%)"): 100 * table["errors_after"] / n,
        N_("missing class right after (%)"): 100 * table["class_right_after"] / n_cls,
        N_("other digits' test error after (%)"): 100 * (table["errors_after"] - (n_cls - table["class_right_after"])) / (n - n_cls),
    })
    quantities = list(per_run.columns[1:])
    spread = seeds.spread(per_run, "student", quantities, scale=1.0)
    kd = {q: Spread.from_row(spread.loc[DISTILLED], q) for q in quantities}
    out = Shown({N_("distilled mean"): [kd[q].mean for q in quantities], N_("min"): [kd[q].lo for q in quantities],
                 N_("max"): [kd[q].hi for q in quantities],
                 N_("labels only"): [spread.loc[LABELS_ONLY, f"{q}_mean"] for q in quantities]}, index=quantities)
    out[N_("paper")] = [100 * paper["errors without 3s"] / paper["test images"],
                        100 * (1 - paper["threes wrong"] / paper["test threes"]),
                        paper["bias raised by"], 100 * paper["errors after"] / paper["test images"],
                        paper["threes right after (%)"], 100 * _paper_other_errors(paper)]
    return out


def _paper_other_errors(paper: dict) -> float:
    """The paper's test error on the digits other than 3 after the bias increase (a fraction)."""
    threes_wrong = paper["test threes"] * (1 - paper["threes right after (%)"] / 100)
    return (paper["errors after"] - threes_wrong) / (paper["test images"] - paper["test threes"])


def missing_class_gap(table: pd.DataFrame, dataset: kdata.Dataset, teacher_test_accuracy: float,
                      paper: dict | None = None) -> Shown:
    """What differs between our missing-class experiment and Hinton et al.'s, side by side.

    Data sizes (the teacher's training images, the student's transfer images, the test and
    validation images of the missing class), the teacher's test error, how many percentage
    points one test image of the missing class is worth, and the distilled student's error on
    the other digits after the bias increase (mean over seeds), written as text for reading.
    """
    paper = paper or PAPER_MISSING_CLASS
    cls = int(table["missing"].iloc[0]) if "missing" in table else MISSING["missing"]
    kd = table[table["student"] == DISTILLED]
    n, n_cls = int(kd["test_images"].iloc[0]), int(kd["class_total"].iloc[0])
    other = (kd["errors_after"] - (n_cls - kd["class_right_after"])) / (n - n_cls)
    rows = {
        N_("teacher's training images"): (len(dataset.train), paper["training images"]),
        N_("student's transfer images (no 3s)"): (int((dataset.train.y != cls).sum()), paper["training images"] - paper["training threes"]),
        N_("teacher's test error (%)"): (100 * (1 - teacher_test_accuracy), 100 * paper["teacher test errors"] / paper["test images"]),
        N_("test 3s"): (n_cls, paper["test threes"]),
        N_("one test 3, in points of '3s right (%)'"): (100 / n_cls, 100 / paper["test threes"]),
        N_("validation 3s (to choose the bias)"): (int((dataset.val.y == cls).sum()), N_("none: chosen on the test set")),
        N_("other digits' test error after (%)"): (100 * other.mean(), 100 * _paper_other_errors(paper)),
    }

    def text(v):
        if isinstance(v, str):
            return v
        if isinstance(v, float) and math.isnan(v):
            return N_("not stated")
        return f"{v:,}" if isinstance(v, int) else f"{v:.2g}" if v < 1 else f"{v:.1f}"

    return Shown({k: [text(a), text(b)] for k, (a, b) in rows.items()}, index=[N_("ours"), N_("Hinton et al. 2015")]).T


def bias_curves(stored: pd.DataFrame, table: pd.DataFrame | None = None, seed: int | None = None, deltas=None,
                cls: int | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """Test bias curves and validation choices for each student, from the stored logits of one seed.

    ``stored`` is ``results.read("nb02_missing_class_logits")`` (the students' logits on the
    validation and test splits). Arithmetic only: the bias is added to the logits, nothing is
    trained. With ``table`` (``results.read("nb02_missing_class")``) each validation choice is
    checked against the one recorded for that seed when the tables were made.
    Returns ``(curves, chosen)``: a :func:`bias_curve` table and the chosen increase per student.
    """
    cls = MISSING["missing"] if cls is None else cls
    seed = int(stored["seed"].iloc[0]) if seed is None else seed
    lo, hi, step = MISSING["bias_grid"]
    deltas = np.arange(lo, hi + step / 2, step) if deltas is None else np.asarray(deltas)
    zcols = [c for c in stored.columns if c.startswith("z")]
    curves, chosen = {}, {}
    for student, part in stored[stored["seed"] == seed].groupby("student", sort=False):
        split = {name: part[part["split"] == name] for name in ("val", "test")}
        z = {name: torch.tensor(d[zcols].to_numpy(), dtype=torch.float32) for name, d in split.items()}
        labels = {name: torch.tensor(d["label"].to_numpy()) for name, d in split.items()}
        chosen[student] = choose_bias(z["val"], labels["val"], cls)
        curves[student] = bias_curve(z["test"], labels["test"], cls, deltas)
        if table is not None:
            recorded = table[(table["seed"] == seed) & (table["student"] == student)]["delta_val"]
            if len(recorded) and not np.isclose(recorded.item(), chosen[student]):
                raise ValueError(f"{student}, seed {seed}: the stored logits choose +{chosen[student]:g}, the table "
                                 f"records +{recorded.item():g}; rerun `python -m kdnb.results make nb02_missing_class`")
    return curves, chosen


def missing_class_verdicts(table: pd.DataFrame) -> Verdicts:
    """Section 6's claims about the missing-class runs (``results.read("nb02_missing_class")``), every seed."""
    kd, hard = (table[table["student"] == name] for name in (DISTILLED, LABELS_ONLY))
    if kd.empty or hard.empty:
        raise ValueError(f"the missing-class table needs rows for both students, {DISTILLED!r} and {LABELS_ONLY!r}")
    n = kd["seed"].nunique()
    return Verdicts({
        _("In all {n} seeds the distilled student gets more test 3s right after the bias increase than before.").format(n=n):
            (kd["class_right_after"] > kd["class_right_before"]).all(),
        _("After the increase it recognises most test 3s (more than half) in every seed."):
            (kd["class_right_after"] > kd["class_total"] / 2).all(),
        _("Its test errors drop with the increase in every seed."): (kd["errors_after"] < kd["errors_before"]).all(),
        _("The label-only student recognises no test 3 in any seed, before or after the increase."):
            (hard["class_right_before"] == 0).all() and (hard["class_right_after"] == 0).all(),
        _("The validation split raises the label-only student's 3 bias by nothing in every seed."): (hard["delta_val"] == 0).all(),
    })


# ------------------------------------------------------------------------------ the study

#: Columns of the missing-class study table (one row per configuration, seed and bias rule).
STUDY_COLUMNS = ["teacher", "T", "alpha", "epochs", "lr", "seed", "threes_right_before", "errors_before", "rule",
                 "delta", "threes_right_after", "errors_after"]
#: The study's bias rules: the validation-accuracy argmax (:func:`choose_bias`, the notebook's rule),
#: the lowest validation cross-entropy of the shifted logits, and the paper's fixed 3.5.
MAIN_RULE = N_("best validation accuracy")
#: The rules' names, marked for translation (the tables keep the English ones).
RULE_NAMES = (MAIN_RULE, N_("lowest validation cross-entropy"), N_("paper's fixed 3.5"))
_CONFIG = ["teacher", "epochs", "lr", "T", "alpha"]
#: The study's configurations, as changes to its starting point (the 20-epoch run of
#: :data:`MISSING`): temperature, alpha, the teacher, training length and learning rate.
STUDY_BASE = dict(MISSING, epochs=20)
STUDY_GRID = ({}, {"T": 4.0}, {"T": 20.0}, {"alpha": 1.0}, {"teacher": "mlp-mnist"}, {"epochs": 40}, {"epochs": 80},
              {"epochs": 80, "lr": 1e-3}, {"epochs": 80, "T": 20.0}, {"epochs": 80, "T": 20.0, "alpha": 1.0},
              {"epochs": 80, "teacher": "mlp-mnist"})
#: Shifts the cross-entropy rule may pick from (wider than the accuracy rule's grid: it can want more).
WIDE_BIAS_GRID = (0.0, 30.0, 0.25)


def bias_rules(val_logits: torch.Tensor, val_y: torch.Tensor, cls: int, grid=None) -> dict[str, float]:
    """The bias increase each rule of the study picks, from the validation split only (the paper's is fixed).

    * best validation accuracy: :func:`choose_bias` (the notebook's rule);
    * lowest validation cross-entropy: the maximum-likelihood fit of the one offset, on a wider grid;
    * the paper's fixed 3.5 (Hinton et al. 2015 chose it on the test set).
    """
    lo, hi, step = WIDE_BIAS_GRID
    wide = np.arange(lo, hi + step / 2, step)
    ce = [F.cross_entropy(raise_bias(val_logits, cls, float(d)), val_y).item() for d in wide]
    return {MAIN_RULE: choose_bias(val_logits, val_y, cls, grid), "lowest validation cross-entropy": float(wide[int(np.argmin(ce))]),
            "paper's fixed 3.5": PAPER_MISSING_CLASS["bias raised by"]}


def study_configurations(study: pd.DataFrame, rule: str = MAIN_RULE) -> Shown:
    """The missing-class study, one row per configuration (teacher, epochs, lr, T, alpha), under one bias rule.

    Test 3s right (of 100) before and after the bias increase, and test errors after it (of
    1,000), as "mean [min, max]" over seeds (:func:`kdnb.seeds.span_table`). ``study`` is
    ``results.read("nb02_missing_class_study")``.
    """
    part = study[study["rule"] == rule]
    table = seeds.span_table(part, _CONFIG, {"threes_right_before": N_("3s right before"), "threes_right_after": N_("3s right after"),
                                             "errors_after": N_("errors after")}, scale=1.0, sort=True)
    return Shown(table.rename_axis(_CONFIG))


def study_rules(study: pd.DataFrame, spec: dict | None = None) -> Shown:
    """For one configuration (default :data:`MISSING`), each bias rule: the increase it picks, the
    test 3s right and the test errors after it, as "mean [min, max]" over seeds."""
    spec = dict(MISSING, **(spec or {}))
    mask = np.ones(len(study), dtype=bool)
    for key in _CONFIG:
        mask &= np.isclose(study[key], spec[key]) if key != "teacher" else (study[key] == spec[key]).to_numpy()
    part = study[mask]
    delta = seeds.span_table(part, N_("rule"), {"delta": N_("bias raised by")}, scale=1.0, digits=2, sort=True)
    counts = seeds.span_table(part, "rule", {"threes_right_after": N_("3s right after"), "errors_after": N_("errors after")},
                              scale=1.0, sort=True)
    return Shown(delta.drop(columns="seeds").join(counts))


def study_verdicts(study: pd.DataFrame) -> Verdicts:
    """Section 6's claims about the study's configurations, under the notebook's bias rule (:data:`MAIN_RULE`)."""
    part = study[study["rule"] == MAIN_RULE]
    before, after, errors = (seeds.spreads(part, _CONFIG, column, scale=1.0)
                             for column in ("threes_right_before", "threes_right_after", "errors_after"))

    def key(epochs=MISSING["epochs"], T=MISSING["T"], alpha=MISSING["alpha"], lr=MISSING["lr"], teacher=MISSING["teacher"]):
        return (teacher, epochs, lr, T, alpha)

    missing = [k for k in (key(20), key(40), key(80), key(80, lr=1e-3), key(20, T=4.0), key(80, T=20.0), key(20, alpha=1.0),
                           key(80, T=20.0, alpha=1.0), key(20, teacher="mlp-mnist"), key(80, teacher="mlp-mnist")) if k not in before]
    if missing:
        raise ValueError(f"the study table lacks the configurations {missing} (teacher, epochs, lr, T, alpha)")
    short, mid, long = before[key(20)], before[key(40)], before[key(80)]
    mlp = "mlp-mnist"
    return Verdicts({
        _("At T = 8, training 80 epochs instead of 20 multiplies the 3s right before the increase more than three-fold."):
            long.mean > 3 * short.mean,
        _("It raises the 3s right after the increase by 5 to 15 points (about ten)."): 5 <= after[key(80)] - after[key(20)] <= 15,
        _("Each doubling of the length (20, 40, 80 epochs) raises the 3s right before the increase beyond the seed ranges."):
            mid.beats(short) and long.beats(mid),
        _("At 80 epochs, halving the learning rate puts the 3s right before the increase between the 40- and the 80-epoch rows."):
            mid.mean < before[key(80, lr=1e-3)].mean < long.mean,
        _("At 20 epochs, T = 8 gets more 3s right after the increase than T = 4, beyond the seed ranges."):
            after[key(20)].beats(after[key(20, T=4.0)]),
        _("At 80 epochs, T = 8 and T = 20 agree within the seed spread (3s right after)."): not after[key(80)].apart(after[key(80, T=20.0)]),
        _("Alpha = 0.9 and alpha = 1 agree within the seed spread, at 20 and at 80 epochs."):
            not after[key(20)].apart(after[key(20, alpha=1.0)]) and not after[key(80, T=20.0)].apart(after[key(80, T=20.0, alpha=1.0)]),
        _("The MLP teacher's student gets more 3s right before the increase than the CNN's, beyond the seed ranges, at 20 and 80 epochs."):
            before[key(20, teacher=mlp)].beats(short) and before[key(80, teacher=mlp)].beats(long),
        _("After the increase, at 80 epochs, it has no more 3s right than the CNN teacher's student."):
            after[key(80, teacher=mlp)].mean <= after[key(80)].mean,
        _("It makes slightly more errors, within the seed ranges."):
            errors[key(80, teacher=mlp)].mean > errors[key(80)].mean and not errors[key(80, teacher=mlp)].apart(errors[key(80)]),
    })
