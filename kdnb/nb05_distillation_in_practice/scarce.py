"""Scarce labels, where the gain comes from (sections 3, 6 and 8): the same student trained on its few
labels alone, on a teacher's hard pseudo-labels, and on its soft targets, with a fair teacher (it saw
only the student's labels) and with one that saw every label, over seeds."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from .. import data as kdata
from .. import recipe, seeds, training
from ..losses import IGNORE_INDEX
from ..seeds import Spread
from ..teachers import load_teacher, read_manifest
from ..i18n import N_, _
from ..verdicts import Verdicts
from .assistants import ASSISTANT, ASSISTANT_TEACHER, TINY_STUDENTS, TINY_T
from .common import FAIR_TEACHER, RECIPE, SCARCE_LABEL_SEED, SCARCE_LABELS, SEEDS, distilled, quiet_run, student_for, teacher_saw, trained_alone
from .shown import Shown
from .text import TEXT_RECIPE, TEXT_REGIMES, TEXT_TEMPERATURES, BagOfWords, TextData, docstring_corpus, text_teacher

#: The rows of every scarce-label comparison, in order. "fair teacher": it saw only the student's
#: labels; "teacher saw all labels": it saw every training label, so its argmax hands the withheld
#: labels back. Hard pseudo-labels: the teacher's argmax as the label of each unlabelled image,
#: then plain cross-entropy.
SCARCE_METHODS = (N_("hard labels only"), N_("hard pseudo-labels, fair teacher"), N_("soft targets, fair teacher"),
                  N_("hard pseudo-labels, teacher saw all labels"), N_("soft targets, teacher saw all labels"))
#: Labels of the tables below, translated when shown.
TABLE_LABELS = (N_("soft targets via an assistant, fair teacher"), N_("soft targets via an assistant, teacher saw all labels"),
                N_("teacher right on the unlabelled (%)"), N_("source"), N_("points"), N_("per seed min"), N_("per seed max"),
                N_("verdict"), N_("paired"), N_("bag of words"), N_("gain"), N_("loss"), N_("up in every seed"), N_("down in every seed"), N_("mixed"))
#: The image experiments: the playground's default student (section 3) and the tiny students of section 6.
SCARCE_IMAGE = {
    "3 · playground": {"students": {"MLP 1x100": {"kind": "mlp", "hidden": [100]}}, "full_teacher": "mlp-mnist",
                       "T": 4.0, "alpha": 0.9, "epochs": 30, "lr": 2e-3, "batch_size": 256},
    "6 · tiny students": {"students": TINY_STUDENTS, "full_teacher": ASSISTANT_TEACHER, "T": TINY_T, "alpha": 0.9,
                          "epochs": 60, "lr": 2e-3, "batch_size": 256},
}
#: The students each experiment's prose reads.
SCARCE_STUDENTS = {"3 · playground": ("MLP 1x100",), "6 · tiny students": tuple(TINY_STUDENTS), "8 · text": ("bag of words",)}
WITHIN = N_("within the seed ranges")


def pseudo_labels(y: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """The labels where there is one (not IGNORE_INDEX), the teacher's argmax everywhere else."""
    if teacher_logits.shape[0] != y.shape[0]:
        raise ValueError(f"{teacher_logits.shape[0]} teacher rows for {y.shape[0]} labels")
    return torch.where(y == IGNORE_INDEX, teacher_logits.argmax(1), y)


def scarce_rows(init: nn.Module, train: kdata.Split, y: torch.Tensor, teachers: dict, evaluate, run: training.Run, *,
                T, alpha: float) -> list[dict]:
    """One student from the same initial weights, every way of :data:`SCARCE_METHODS`.

    ``y`` marks the unlabelled images of ``train`` with IGNORE_INDEX; ``teachers`` maps "fair
    teacher" and "teacher saw all labels" to their logits on ``train``; ``evaluate(model)`` returns
    a dict of scores; ``run`` says how every model trains. ``T`` may be a tuple: then one
    soft-target row per T (chosen later on validation). The hard-label twin trains on the labelled
    images only, for as many gradient steps (:func:`kdnb.recipe.train_twins`).
    """
    labelled = y != IGNORE_INDEX
    scarce = kdata.Split(train.X, y)
    rows = [{"method": SCARCE_METHODS[0], "T": float("nan")} | evaluate(trained_alone(init, scarce, run))]
    for who, logits in teachers.items():
        right = (logits.argmax(1) == train.y)[~labelled].float().mean().item()
        # Every image labelled (its own label or the teacher's argmax): the twin then sees them all, for run.epochs.
        model = trained_alone(init, kdata.Split(train.X, pseudo_labels(y, logits)), run)
        rows.append({"method": f"hard pseudo-labels, {who}", "T": float("nan"), "pseudo_right": right} | evaluate(model))
        for t in (T if isinstance(T, tuple) else (T,)):
            model = distilled(init, scarce, logits, run, T=t, alpha=alpha)
            rows.append({"method": f"soft targets, {who}", "T": t, "pseudo_right": right} | evaluate(model))
    return [r | {"seed": run.seed} for r in rows]


def scarce_image_runs(dataset: kdata.Dataset, seeds=SEEDS, progress: bool = True) -> list[dict]:
    """Sections 3 and 6 with 300 labels: each student every way of :data:`SCARCE_METHODS`, and in
    section 6 also through a 1x100 assistant distilled from either teacher (T = 4, alpha = 0.9)."""
    from tqdm.auto import tqdm

    if teacher_saw(FAIR_TEACHER) != SCARCE_LABELS or read_manifest()[FAIR_TEACHER]["labels"]["seed"] != SCARCE_LABEL_SEED:
        raise ValueError(f"{FAIR_TEACHER} did not see the {SCARCE_LABELS} labels of subset seed {SCARCE_LABEL_SEED}")
    train = dataset.train
    y = recipe.labelled_subset(train.y, SCARCE_LABELS, SCARCE_LABEL_SEED)
    scarce = kdata.Split(train.X, y)
    logits = {name: training.predict_logits(load_teacher(name), train.X) for name in (FAIR_TEACHER, ASSISTANT_TEACHER, "mlp-mnist")}
    evaluate = lambda m: {"test": training.accuracy(m, dataset.test), "val": training.accuracy(m, dataset.val)}
    rows = []
    for seed in tqdm(seeds, desc="seeds", disable=not progress):
        for experiment, spec in SCARCE_IMAGE.items():
            teachers = {"fair teacher": logits[FAIR_TEACHER], "teacher saw all labels": logits[spec["full_teacher"]]}
            run = quiet_run(seed, epochs=spec["epochs"], lr=spec["lr"], batch_size=spec["batch_size"])
            assistants = {}
            if experiment.startswith("6"):
                for who, teacher_logits in teachers.items():
                    assistant = distilled(student_for(ASSISTANT, seed), scarce, teacher_logits, run, T=RECIPE["T"], alpha=RECIPE["alpha"])
                    assistants[who] = training.predict_logits(assistant, train.X)
                    rows.append({"experiment": experiment, "student": "MLP 1x100 (assistant)", "method": f"soft targets, {who}",
                                 "T": RECIPE["T"], "seed": seed} | evaluate(assistant))
            for name, config in spec["students"].items():
                init = student_for(config, seed)
                for row in scarce_rows(init, train, y, teachers, evaluate, run, T=spec["T"], alpha=spec["alpha"]):
                    rows.append({"experiment": experiment, "student": name} | row)
                for who, teacher_logits in assistants.items():
                    model = distilled(init, scarce, teacher_logits, run, T=spec["T"], alpha=spec["alpha"])
                    rows.append({"experiment": experiment, "student": name, "method": f"soft targets via an assistant, {who}",
                                 "T": spec["T"], "seed": seed} | evaluate(model))
    return rows


def scarce_text_runs(corpus: pd.DataFrame | None = None, seeds=SEEDS, progress: bool = True) -> list[dict]:
    """Section 8 with 150 labels: the bag-of-words student every way of :data:`SCARCE_METHODS`, soft
    targets at each T of :data:`TEXT_TEMPERATURES`. The fair teacher is the same logistic regression
    trained on the student's 150 labels only (per seed, as the labels are); the other saw all 1,500."""
    from tqdm.auto import tqdm

    corpus = docstring_corpus() if corpus is None else corpus
    data = TextData(corpus)
    train = data.student.train
    full = training.predict_logits(text_teacher(data), data.teacher.train.X)
    r = TEXT_RECIPE
    evaluate = lambda m: {"test": training.accuracy(m, data.student.test), "val": training.accuracy(m, data.student.val)}
    rows = []
    for seed in tqdm(seeds, desc="seeds", disable=not progress):
        y = recipe.labelled_subset(train.y, TEXT_REGIMES["150 labels"], seed)
        fair_teacher = text_teacher(data, seed=seed, labels=y)
        fair = training.predict_logits(fair_teacher, data.teacher.train.X)
        training.seed_everything(seed, threads=None)
        init = BagOfWords(len(data.words))
        run = quiet_run(seed, epochs=r["epochs"], lr=r["lr"], batch_size=r["batch_size"])
        for row in scarce_rows(init, train, y, {"fair teacher": fair, "teacher saw all labels": full}, evaluate, run,
                               T=TEXT_TEMPERATURES, alpha=r["alpha"]):
            rows.append({"experiment": "8 · text", "student": "bag of words"} | row)
        rows.append({"experiment": "8 · text", "student": "fair teacher itself", "method": "teacher, 150 labels", "T": float("nan"),
                     "seed": seed, "test": training.accuracy(fair_teacher, data.teacher.test),
                     "val": training.accuracy(fair_teacher, data.teacher.val)})
    return rows


def scarce_runs(dataset: kdata.Dataset | None = None, seeds=SEEDS, progress: bool = True) -> pd.DataFrame:
    """The scarce-label table (``nb05_scarce``): sections 3, 6 and 8, over seeds."""
    dataset = kdata.load_mnist_subset() if dataset is None else dataset
    rows = scarce_image_runs(dataset, seeds, progress) + scarce_text_runs(seeds=seeds, progress=progress)
    cols = ["experiment", "student", "method", "T", "seed", "test", "val", "pseudo_right"]
    return pd.DataFrame(rows).reindex(columns=cols)


def scarce_chosen(runs: pd.DataFrame) -> pd.DataFrame:
    """The scarce-label runs with one T per (experiment, student, method): where soft targets were
    trained at several T (text), the T with the best mean validation accuracy (ties: the lower T)."""
    keep = []
    for _key, part in runs.groupby(["experiment", "student", "method"], sort=False):
        Ts = part["T"].dropna().unique()
        if len(Ts) > 1:
            val = part.groupby("T").val.mean()
            part = part[part["T"] == val[val == val.max()].index.min()]
        keep.append(part)
    return pd.concat(keep).reset_index(drop=True)


def _part(runs: pd.DataFrame, experiment: str, student: str) -> pd.DataFrame:
    part = scarce_chosen(runs)
    return part[(part.experiment == experiment) & (part.student == student)]


def scarce_spreads(runs: pd.DataFrame, experiment: str, student: str) -> dict[str, Spread]:
    """``{method: Spread}`` of test accuracy (%) over seeds, for one student of one experiment (T chosen on val)."""
    return seeds.spreads(_part(runs, experiment, student), "method", "test")


def scarce_table(runs: pd.DataFrame, experiment: str, student: str) -> pd.DataFrame:
    """Test accuracy (%) per method over seeds, ``mean [min, max]``, for one student of one experiment
    (T chosen on val), with how often the teacher's argmax is right on the unlabelled images."""
    part = _part(runs, experiment, student)
    out = seeds.span_table(part, "method", {"test": "test accuracy (%)"}).rename_axis("method")
    out.insert(0, "T", part.groupby("method", sort=False)["T"].first())
    right = part.groupby("method", sort=False)["pseudo_right"].mean()
    out["teacher right on the unlabelled (%)"] = (100 * right).round(1)
    return Shown(out)


#: The three sources of a scarce-label gain, each as (from method, to method).
SCARCE_SOURCES = {
    N_("the transfer set, labelled by a fair teacher's argmax (hard pseudo-labels)"): ("hard labels only", "hard pseudo-labels, fair teacher"),
    N_("soft instead of hard targets from the same fair teacher"): ("hard pseudo-labels, fair teacher", "soft targets, fair teacher"),
    N_("withheld labels handed back (teacher saw all labels, soft targets)"): ("soft targets, fair teacher", "soft targets, teacher saw all labels"),
}
SCARCE_TOTAL = (N_("total: teacher saw all labels, soft targets, against hard labels only"),
                ("hard labels only", "soft targets, teacher saw all labels"))


def _paired(diff: pd.Series) -> str:
    return "up in every seed" if (diff > 0).all() else "down in every seed" if (diff < 0).all() else "mixed"


def scarce_split(runs: pd.DataFrame, experiment: str, student: str) -> pd.DataFrame:
    """The gain of the leaky teacher's soft targets over hard labels, split into :data:`SCARCE_SOURCES`.

    Per source: the change in mean test accuracy (points), the per-seed change [min, max] (paired:
    every method starts from the same initial weights for a seed), a verdict read from the two
    rows' seed ranges ("gain" or "loss" when the ranges are apart, else "within the seed ranges"),
    and the paired reading: "up in every seed", "down in every seed" or "mixed"."""
    s = scarce_spreads(runs, experiment, student)
    test = _part(runs, experiment, student).pivot(index="seed", columns="method", values="test")
    rows = []
    for source, (a, b) in [*SCARCE_SOURCES.items(), SCARCE_TOTAL]:
        diff = 100 * (test[b] - test[a])
        change = Spread.of(diff)
        verdict = ("gain" if change.mean > 0 else "loss") if s[a].apart(s[b]) else WITHIN
        rows.append({"source": source, "points": round(change.mean, 2), "per seed min": round(change.lo, 2),
                     "per seed max": round(change.hi, 2), "verdict": verdict, "paired": _paired(diff)})
    return Shown(pd.DataFrame(rows).set_index("source"))


def scarce_verdicts(runs: pd.DataFrame, experiment: str) -> Verdicts:
    """What the prose of ``experiment`` reads from its split (:func:`scarce_split`), per student.

    Everywhere: the transfer set labelled by the fair teacher's argmax is a gain (ranges apart),
    soft targets instead of those hard labels add nothing (within the seed ranges), and the total
    is a gain. Sections 3 and 8: soft targets are lower in every paired seed. Sections 3 and 6: the
    teacher that saw all labels adds nothing measurable; section 8: it hands back labels worth more
    than the fair teacher's two steps together. Section 6: the assistant path stays within the seed
    ranges of direct distillation, with either teacher.
    """
    claims = {}
    for student in SCARCE_STUDENTS[experiment]:
        split = scarce_split(runs, experiment, student)
        verdict, paired, points = (split[c].tolist() for c in ("verdict", "paired", "points"))
        who = _(student)
        claims[_("{student}: the transfer set labelled by the fair teacher's argmax gains over hard labels only (ranges apart)").format(
            student=who)] = verdict[0] == "gain"
        claims[_("{student}: soft targets instead of those hard pseudo-labels add nothing (within the seed ranges)").format(
            student=who)] = verdict[1] == WITHIN
        if experiment != "6 · tiny students":
            claims[_("{student}: soft targets score below the hard pseudo-labels in every paired seed").format(
                student=who)] = paired[1] == "down in every seed"
        if experiment == "8 · text":
            claims[_("{student}: the withheld labels a teacher that saw all labels hands back are a gain (ranges apart)").format(
                student=who)] = verdict[2] == "gain"
            claims[_("{student}: they are worth more than the fair teacher's hard and soft steps together").format(
                student=who)] = points[2] > points[0] + points[1]
        else:
            claims[_("{student}: a teacher that saw all labels adds nothing measurable over the fair one (within the seed ranges)").format(
                student=who)] = verdict[2] == WITHIN
        claims[_("{student}: in total, a teacher that saw all labels gains over hard labels only (ranges apart)").format(
            student=who)] = verdict[3] == "gain"
        if experiment == "6 · tiny students":
            s = scarce_spreads(runs, experiment, student)
            claims[_("{student}: the assistant path stays within the seed ranges of direct distillation, with either teacher").format(
                student=who)] = all(
                not s[f"soft targets via an assistant, {who}"].apart(s[f"soft targets, {who}"]) for who in ("fair teacher", "teacher saw all labels"))
    return Verdicts(claims)
