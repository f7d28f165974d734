"""Section 6: teacher assistants (003-10; Mirzadeh et al. 2020). Two tiny students trained on hard labels,
distilled from the 2x1200 teacher directly, and distilled through a 1x100 assistant, over seeds."""

from __future__ import annotations

import time

import pandas as pd

from .. import data as kdata
from .. import models, plots, recipe, seeds, training
from ..teachers import load_teacher
from ..i18n import N_, _
from ..verdicts import Verdicts
from .common import RECIPE, SEEDS, accuracy_spans, distilled, plot_spread, quiet_run, student_for, trained_alone, with_labels
from .shown import Shown

ASSISTANT_TEACHER = "mlp-mnist"
#: Colours of the three paths in the figures.
PATH_COLOURS = {"assistant →": plots.TEACHER, "teacher → student": plots.DISTILLED, "hard labels": plots.ALONE}
ASSISTANT = {"kind": "mlp", "hidden": [100]}
TINY_STUDENTS = {"MLP 1x10": {"kind": "mlp", "hidden": [10]}, "MLP 1x30": {"kind": "mlp", "hidden": [30]}}
#: T of each tiny student's distillation (from the teacher or from the assistant): the T that the
#: workbook's temperature selection chose on validation for its tiny-student setting (1x30, notebook 00).
TINY_T = recipe.SETTINGS["tiny-student"]["T"]
ASSISTANT_REGIMES = {N_("all 3,500 labels"): None, N_("300 labels"): 300}
#: The three ways each tiny student is trained.
PATHS = (N_("teacher → student"), N_("teacher → assistant → student"), N_("hard labels only"))
ASSISTANT_LABELS = (N_("MLP 1x100 (the assistant)"), N_("teacher → assistant"))


def assistant_runs(dataset: kdata.Dataset, seeds=SEEDS, regimes=tuple(ASSISTANT_REGIMES), progress: bool = True) -> pd.DataFrame:
    """For each regime and seed: an assistant (1x100) distilled from the 2x1200 teacher (T = 4), then
    each tiny student trained three ways from the same initial weights: hard labels only,
    distilled from the teacher directly, distilled from the assistant (both at :data:`TINY_T`).
    With 300 labels, the other images are a transfer set labelled only by the teacher (or the
    assistant); the teacher itself was trained on all 3,500. ``seconds`` of the assistant path
    includes training the assistant."""
    from tqdm.auto import tqdm

    r = RECIPE
    teacher_logits = training.predict_logits(load_teacher(ASSISTANT_TEACHER), dataset.train.X)
    rows = []
    for regime, seed in tqdm([(g, s) for g in regimes for s in seeds], desc="regime x seed", disable=not progress):
        train = with_labels(dataset.train, ASSISTANT_REGIMES[regime], seed)
        run = quiet_run(seed, epochs=r["epochs"], lr=r["lr"], batch_size=r["batch_size"])
        start = time.perf_counter()
        assistant = distilled(student_for(ASSISTANT, seed), train, teacher_logits, run, T=r["T"], alpha=r["alpha"])
        assistant_seconds = time.perf_counter() - start
        assistant_logits = training.predict_logits(assistant, dataset.train.X)
        rows.append({"regime": regime, "student": "MLP 1x100 (the assistant)", "path": "teacher → assistant", "seed": seed,
                     "test": training.accuracy(assistant, dataset.test), "seconds": assistant_seconds})
        for name, config in TINY_STUDENTS.items():
            init = student_for(config, seed)
            # The twins (same initial weights), each timed on its own: distilled directly, through the assistant, alone.
            for path, logits, extra in ((PATHS[0], teacher_logits, 0.0), (PATHS[1], assistant_logits, assistant_seconds)):
                start = time.perf_counter()
                model = distilled(init, train, logits, run, T=TINY_T, alpha=r["alpha"])
                rows.append({"regime": regime, "student": name, "path": path, "seed": seed, "test": training.accuracy(model, dataset.test),
                             "seconds": extra + time.perf_counter() - start})
            start = time.perf_counter()
            model = trained_alone(init, train, run)
            rows.append({"regime": regime, "student": name, "path": PATHS[2], "seed": seed,
                         "test": training.accuracy(model, dataset.test), "seconds": time.perf_counter() - start})
    return pd.DataFrame(rows)


def _groups(runs: pd.DataFrame) -> pd.DataFrame:
    return runs.assign(group=runs.regime + " · " + runs.student + ": " + runs.path)


def assistant_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy (%) of every regime, student and path, ``mean [min, max]`` over seeds, and the mean seconds."""
    return accuracy_spans(_groups(runs), "group")


def _paths(runs: pd.DataFrame, regime: str, student: str) -> dict:
    s = seeds.spreads(_groups(runs), "group", "test")
    return {path: s[f"{regime} · {student}: {path}"] for path in PATHS}


def _within(a, b) -> str:
    return N_("outside the seed ranges") if a.apart(b) else N_("within the seed ranges")


def assistant_sizes(teacher_params: int, assistant_params: int) -> None:
    """Print the parameter counts of section 6's teacher, assistant and tiny students."""
    sizes = {name: models.count_params(student_for(config, 0)) for name, config in TINY_STUDENTS.items()}
    print(_("parameters: teacher mlp-mnist {teacher:,}, assistant 1x100 {assistant:,}, {tiny}").format(
        teacher=teacher_params, assistant=assistant_params, tiny=", ".join(f"{name} {n:,}" for name, n in sizes.items())))


def plot_assistants(runs: pd.DataFrame, axes=None, figsize=(9.6, 4.6)):
    """Section 6's figure: one panel per regime (two axes), each tiny student's three paths, dots for seeds."""
    new = axes is None
    fig, axes = plots.subplots(axes, figsize, ncols=2)
    for ax, (regime, part) in zip(axes, runs.groupby("regime", sort=False)):
        part = part[part.student != "MLP 1x100 (the assistant)"]
        plot_spread(part.assign(group=part.student + ": " + part.path), "group", ax=ax, colours=PATH_COLOURS,
                    title=_("{regime} ({n} seeds)").format(regime=_(regime), n=part.seed.nunique()))
        ax.set_xlabel("")                                 # one shared label below both panels
    axes[1].set_yticklabels([])
    fig.supxlabel(_("test accuracy (%): dots are seeds, bars the mean"), fontsize=11)
    if new:
        fig.tight_layout()
    return fig


def assistant_readings(runs: pd.DataFrame) -> pd.DataFrame:
    """Per regime and tiny student: direct distillation against hard labels, and the assistant path
    against direct distillation (points of mean test accuracy, and whether the seed ranges are apart),
    with the assistant path's training time as a multiple of the direct one's."""
    seconds = _groups(runs).groupby("group").seconds.mean()
    rows = []
    for regime in runs.regime.drop_duplicates():
        for student in TINY_STUDENTS:
            direct, via, hard = (_paths(runs, regime, student)[p] for p in PATHS)
            rows.append({"regime": regime, "student": student,
                         N_("direct KD − hard labels (points)"): round(direct - hard, 2), N_("direct vs hard labels"): _within(direct, hard),
                         N_("assistant path − direct (points)"): round(via - direct, 2), N_("assistant vs direct"): _within(via, direct),
                         N_("assistant path's time (x direct)"): round(seconds[f"{regime} · {student}: {PATHS[1]}"]
                                                                   / seconds[f"{regime} · {student}: {PATHS[0]}"], 1)})
    return Shown(pd.DataFrame(rows).set_index(["regime", "student"]))


def assistant_verdicts(runs: pd.DataFrame) -> Verdicts:
    """Section 6's claims: the assistant path is never told apart from direct distillation; with
    every label the tiny students gain nothing measurable from the teacher; with 300 labels direct
    distillation beats hard labels (the teacher labels the transfer set)."""
    every = [(regime, student) for regime in runs.regime.drop_duplicates() for student in TINY_STUDENTS]
    paths = {key: _paths(runs, *key) for key in every}
    return Verdicts({
        _("for every tiny student and regime, the assistant path stays within the seed ranges of direct distillation"):
            all(not p[PATHS[1]].apart(p[PATHS[0]]) for p in paths.values()),
        _("with all 3,500 labels, neither tiny student gains from the teacher beyond the seed ranges"):
            all(not paths[("all 3,500 labels", s)][PATHS[0]].beats(paths[("all 3,500 labels", s)][PATHS[2]]) for s in TINY_STUDENTS),
        _("with 300 labels, direct distillation beats hard labels for both tiny students (ranges apart)"):
            all(paths[("300 labels", s)][PATHS[0]].beats(paths[("300 labels", s)][PATHS[2]]) for s in TINY_STUDENTS),
    })
