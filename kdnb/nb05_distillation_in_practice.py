"""Notebook 05: distillation in practice.

The notebook's experiments, figures and explorers:

* the steps of distillation as one pipeline (003-17, 002-S3): :func:`pipeline_steps`;
* the training playground (a Train button, live curves for a distilled student and its
  hard-label twin): :func:`playground_run`, :func:`plot_playground`, :class:`Playground`;
* the T x alpha map (003-29): :func:`ta_map_runs`, :func:`map_table`, :func:`plot_map`;
* patient and consistent teaching with augmentation (003-29; Beyer et al. 2022): :func:`consistency_runs`;
* teacher assistants (003-10; Mirzadeh et al. 2020): :func:`assistant_runs`;
* self-distillation and mutual learning (003-22; Furlanello et al. 2018, Zhang et al. 2018):
  :func:`self_mutual_runs`, :func:`mutual_loss`;
* a text task that runs offline (000-5): :func:`docstring_corpus`, :func:`text_runs`;
* the seeds' code, run (000-4, 001-5): :func:`seed_code_runs`;
* scarce labels, where the gain comes from (sections 3, 6, 8): a fair teacher that saw only the
  student's labels, hard pseudo-labels and soft targets, side by side: :func:`scarce_runs`,
  :func:`scarce_table`, :func:`scarce_split`.

Every experiment over seeds is run by this module's script and shipped as a table in
``data/results/``; the notebook reads the tables and re-runs one slice live::

    python -m kdnb.nb05_distillation_in_practice map          # data/results/practice_map.csv
    python -m kdnb.nb05_distillation_in_practice consistency  # practice_consistency.csv
    python -m kdnb.nb05_distillation_in_practice assistants   # practice_assistants.csv
    python -m kdnb.nb05_distillation_in_practice strategies   # practice_strategies.csv
    python -m kdnb.nb05_distillation_in_practice text         # practice_text.csv
    python -m kdnb.nb05_distillation_in_practice seeds        # practice_seed_code.csv
    python -m kdnb.nb05_distillation_in_practice scarce       # practice_scarce.csv (sections 3, 6, 8)
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import importlib.util
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import data as kdata
from . import models, plots, recipe, results, training
from .exercises import Verdict, check
from .losses import IGNORE_INDEX, check_alpha, hard_loss, kd_loss
from .temperature import check_temperature
from .teachers import load_teacher, read_manifest

SEEDS = (0, 1, 2, 3, 4)

# ---------------------------------------------------------------------------------------------------------------------
# Shared pieces: one distillation run from given initial weights
# ---------------------------------------------------------------------------------------------------------------------


def student_for(config: dict, seed: int, in_shape=(1, 28, 28), num_classes: int = 10) -> nn.Module:
    """A fresh student built after seeding with ``seed``: the same seed gives the same initial weights."""
    training.seed_everything(seed, threads=None)
    return models.build(config, in_shape=in_shape, num_classes=num_classes)


def hard_only(init: nn.Module, train: kdata.Split, *, epochs: int, lr: float, batch_size: int, seed: int,
              labels: int | None = None) -> nn.Module:
    """A copy of ``init`` trained on the labelled images only (``labels`` of them; None: all), for as
    many gradient steps as a distilled student that sees every image for ``epochs`` epochs."""
    y = recipe.labelled_subset(train.y, labels, seed)
    labelled = y != IGNORE_INDEX
    model = copy.deepcopy(init)
    training.fit(model, kdata.Split(train.X[labelled], y[labelled]), epochs=recipe.twin_epochs(y, epochs), lr=lr,
                 batch_size=batch_size, seed=seed, progress=False)
    return model


# ---------------------------------------------------------------------------------------------------------------------
# 2 · The steps of distillation (003-17, 002-S3)
# ---------------------------------------------------------------------------------------------------------------------


def pipeline_steps(dataset: kdata.Dataset, teacher_name: str = "mlp-mnist") -> pd.DataFrame:
    """The four steps, each with what it produced, read from the shipped teacher and tables.

    1. pretrain the teacher (shipped, with its manifest); 2. compute its soft labels once;
    3. train the student on kd_loss; 4. choose T (and alpha) on the validation split.
    """
    entry = read_manifest()[teacher_name]
    runs = results.read("temperature_selection")
    runs = runs[runs.setting == "default"]
    chosen = float(recipe.select_T(runs).loc["default"])
    at = runs[runs["T"] == chosen]
    return pd.DataFrame([
        {"step": "1 · pretrain the teacher (教师模型), then freeze it",
         "what came out": f"{teacher_name}: {entry['params']:,} parameters, "
                          f"test accuracy {100 * entry['test_accuracy']:.1f}% (trained on the 3,500 training images)"},
        {"step": "2 · soften its outputs once: soft labels (软标签) p_T = softmax(v / T)",
         "what came out": f"a {len(dataset.train):,} x {dataset.num_classes} table of logits, cached; no teacher pass per step"},
        {"step": "3 · train the student on (1 - α)·CE + α·T²·KL",
         "what came out": f"1x100 MLP, {len(runs['seed'].unique())} seeds per T, test accuracy "
                          f"{100 * at.kd_test.mean():.1f}% at the chosen T (hard labels alone: {100 * at.alone_test.mean():.1f}%)"},
        {"step": "4 · choose T on the validation split, never the test split",
         "what came out": f"T = {chosen:g} out of {sorted(runs['T'].unique().tolist())} by mean validation accuracy; "
                          "inference then uses the plain softmax (T = 1)"},
    ])


# ---------------------------------------------------------------------------------------------------------------------
# 3 · The training playground
# ---------------------------------------------------------------------------------------------------------------------

#: Students the playground offers (the dropdown), by display name.
PLAYGROUND_STUDENTS = {
    "MLP 1x30": {"kind": "mlp", "hidden": [30]},
    "MLP 1x100": {"kind": "mlp", "hidden": [100]},
    "MLP 2x300": {"kind": "mlp", "hidden": [300, 300]},
}
#: Teachers the playground offers: the shipped ones. ``cnn-mnist-300`` saw only the 300 labels the
#: student gets in the "300 labels" choice; the others saw all 3,500 (see :func:`playground_note`).
PLAYGROUND_TEACHERS = ("cnn-mnist-300", "mlp-mnist", "cnn-mnist", "cnn-mnist-ls")
#: How many training labels the student gets; the rest of the 3,500 images is an unlabelled transfer set.
#: The 300 are always the subset of seed :data:`SCARCE_LABEL_SEED`, the one ``cnn-mnist-300`` was trained on.
PLAYGROUND_LABELS = {"300 labels": 300, "all 3,500 labels": None}
#: The default: the fair teacher, which saw exactly the student's 300 labels (section 3 explains why).
PLAYGROUND = {"T": 4.0, "alpha": 0.9, "student": "MLP 1x100", "teacher": "cnn-mnist-300", "labels": "300 labels",
              "epochs": 30, "lr": 2e-3, "batch_size": 256, "seed": 0}
#: The name of the playground's first student: distilled, unless alpha = 0 switches the teacher off.
NO_TEACHER = "α = 0: no teacher (the twin's run)"


class TeacherLogits:
    """Each shipped teacher's logits on the training images, computed on first use and kept."""

    def __init__(self, dataset: kdata.Dataset):
        self.dataset, self._logits = dataset, {}

    def __call__(self, name: str) -> torch.Tensor:
        if name not in self._logits:
            self._logits[name] = training.predict_logits(load_teacher(name), self.dataset.train.X)
        return self._logits[name]


def _eval_row(model: nn.Module, split: kdata.Split) -> tuple[float, float]:
    logits = training.predict_logits(model, split.X)
    return (logits.argmax(1) == split.y).float().mean().item(), F.cross_entropy(logits, split.y).item()


def _whole(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)


def check_playground(settings: dict) -> dict:
    """The playground's settings, checked before anything trains or is recorded; returns them normalised.

    Raises ValueError (or TypeError) naming the bad setting: a temperature that is not a number
    above 0, alpha outside [0, 1], an unknown student, teacher or labels choice, epochs or batch
    size below 1, a learning rate that is not a finite number above 0, a seed that is not a whole number.
    """
    s = dict(settings)
    unknown = set(s) - set(PLAYGROUND)
    if unknown:
        raise ValueError(f"unknown playground setting(s) {sorted(unknown)}; the settings are {list(PLAYGROUND)}")
    s["T"], s["alpha"] = check_temperature(s["T"]), check_alpha(s["alpha"])
    for key, options in (("student", PLAYGROUND_STUDENTS), ("teacher", PLAYGROUND_TEACHERS), ("labels", PLAYGROUND_LABELS)):
        if s[key] not in options:
            raise ValueError(f"unknown {key} {s[key]!r}; choose one of {list(options)}")
    s["epochs"], s["batch_size"], s["seed"] = _whole("epochs", s["epochs"], 1), _whole("batch_size", s["batch_size"], 1), _whole("seed", s["seed"], 0)
    lr = s["lr"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a finite number above 0, got {lr!r}")
    s["lr"] = float(lr)
    return s


def student_name(alpha: float) -> str:
    """What the playground calls its first student: "distilled", or :data:`NO_TEACHER` at alpha = 0."""
    return "distilled" if alpha > 0 else NO_TEACHER


def playground_note(settings: dict) -> str:
    """What the chosen teacher saw, against what the student may use, and what alpha = 0 means; plain
    text from the manifest and the settings (no training). The playground shows it under its controls."""
    teacher, labels, alpha = settings["teacher"], PLAYGROUND_LABELS[settings["labels"]], float(settings["alpha"])
    saw = teacher_saw(teacher)
    notes = []
    if alpha == 0:
        notes.append("α = 0 switches the teacher off: the first student then trains exactly as its hard-label twin "
                     "(same initial weights, same labelled images, same batches), so the two curves coincide.")
    elif labels is None and saw is None:
        notes.append(f"{teacher} and the student both saw all 3,500 labels: the gain is the teacher's soft targets alone.")
    elif labels is None:
        notes.append(f"{teacher} saw only {saw} of the 3,500 labels the student gets: a teacher weaker than the labels.")
    elif saw == labels:
        notes.append(f"Fair teacher: {teacher} was trained on exactly the student's {labels} labelled images. "
                     f"The other {3500 - labels:,} images reach the student only through its predictions.")
    else:
        notes.append(f"Caution: {teacher} was trained on all 3,500 labels, including the {3500 - labels:,} the student may not "
                     f"see, so its argmax hands those labels back; part of the gain is withheld labels returned. "
                     f"{FAIR_TEACHER} saw only the student's {labels}: choose it for a fair comparison.")
    return " ".join(notes)


def playground_run(dataset: kdata.Dataset, teachers, *, teacher: str = PLAYGROUND["teacher"], T: float = 4.0, alpha: float = 0.9,
                   student: str = "MLP 1x100", labels: str = "300 labels", epochs: int = 30, lr: float = 2e-3,
                   batch_size: int = 256, seed: int = 0, callback=None) -> pd.DataFrame:
    """Train a distilled student and its hard-label twin side by side, epoch by epoch.

    Both start from the same initial weights. The distilled student sees all 3,500 training
    images (with ``labels="300 labels"`` only 300 of them keep a label, the subset the fair teacher
    ``cnn-mnist-300`` saw; the rest learn from the teacher's soft targets alone). The twin trains
    on the labelled images only, for as many gradient steps. At ``alpha = 0`` there is no teacher
    signal, and the first student trains exactly as the twin (same images, same batches): the
    two runs are the same run. After each epoch of the distilled student, both are scored on the
    training images they may use and on the test split, and ``callback(row)`` gets a row per model.
    ``teachers(name)`` gives a teacher's logits on the training images (a :class:`TeacherLogits`).
    Every setting is checked (:func:`check_playground`) before anything trains. Returns the whole
    history: one row per model and epoch.
    """
    s = check_playground({"teacher": teacher, "T": T, "alpha": alpha, "student": student, "labels": labels, "epochs": epochs,
                          "lr": lr, "batch_size": batch_size, "seed": seed})
    train = dataset.train
    y = recipe.labelled_subset(train.y, PLAYGROUND_LABELS[s["labels"]], SCARCE_LABEL_SEED)
    labelled = y != IGNORE_INDEX
    epochs, twin_epochs = s["epochs"], recipe.twin_epochs(y, s["epochs"])
    twin_train = kdata.Split(train.X[labelled], y[labelled])
    common = {"lr": s["lr"], "batch_size": s["batch_size"], "seed": s["seed"]}
    kd_model = student_for(PLAYGROUND_STUDENTS[s["student"]], s["seed"])
    twin = copy.deepcopy(kd_model)
    if s["alpha"] > 0:
        cached = teachers(s["teacher"])
        if cached.shape != (len(train), dataset.num_classes):
            raise ValueError(f"teacher logits have shape {tuple(cached.shape)}, expected ({len(train)}, {dataset.num_classes}): "
                             "compute them on this dataset's training images")
        kd_step = training.kd_step_loss(cached, y, T=s["T"], alpha=s["alpha"])  # kd_loss, its checks and the teacher's softmax done once
        kd_steps = training.iter_train(kd_model, kdata.Split(train.X, y), kd_step, epochs=epochs, **common)
        kd_schedule = epochs
    else:  # no teacher signal: the twin's own loss, images and batches
        kd_steps = training.iter_train(kd_model, twin_train, training.hard_step_loss(twin_train.y), epochs=twin_epochs, **common)
        kd_schedule = twin_epochs
    twin_steps = training.iter_train(twin, twin_train, training.hard_step_loss(twin_train.y), epochs=twin_epochs, **common)
    first = student_name(s["alpha"])
    rows, done = [], {"kd": 0, "twin": 0}

    def advance(steps, key, schedule, epoch):
        row = None
        while done[key] < round(epoch * schedule / epochs):  # keep both level in gradient steps
            row = next(steps)
            done[key] += 1
        return row

    for epoch in range(1, epochs + 1):
        kd_row = advance(kd_steps, "kd", kd_schedule, epoch)
        twin_row = advance(twin_steps, "twin", twin_epochs, epoch)
        if epoch == epochs:  # let both loops finish (eval mode)
            for steps in (kd_steps, twin_steps):
                for _ in steps:
                    pass
        for name, model, row in ((first, kd_model, kd_row), ("hard labels only", twin, twin_row)):
            test_acc, test_loss = _eval_row(model, dataset.test)
            out = {"epoch": epoch, "model": name, "train_acc": row["train_acc"], "test_acc": test_acc, "test_loss": test_loss}
            rows.append(out)
            if callback is not None:
                callback(out)
    return pd.DataFrame(rows)


_PANELS = (("train_acc", "accuracy on its training labels"), ("test_acc", "test accuracy"),
           ("test_loss", "test loss (CE at T = 1)"))
#: The playground figure's margins (live and static): room for three titles and the suptitle.
_MARGINS = {"left": 0.06, "right": 0.99, "bottom": 0.15, "top": 0.8, "wspace": 0.3}


def _playground_axes(axes, epochs: int):
    for ax, (col, title) in zip(axes, _PANELS):
        ax.set_title(title, fontsize=12)
        ax.set_xlabel("epoch")
        ax.set_xlim(0.5, epochs + 0.5)
        if col == "test_loss":
            ax.set_ylim(0.0, 1.0)
        else:
            ax.set_ylim(0.75, 1.0)
            ax.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
        ax.grid(alpha=0.3)


def _role(model: str) -> str:
    return "twin" if model == "hard labels only" else "student"


def _run_lines(axes, settings: dict):
    """Two lines per panel (the first student, the twin) for one run; returns {(role, column): Line2D}.
    At alpha = 0 the first student is no distilled one, and its legend says so."""
    lines = {}
    first = student_name(float(settings["alpha"]))
    for ax, (col, _) in zip(axes, _PANELS):
        for role, name, colour, style in (("student", first, plots.DISTILLED if first == "distilled" else plots.ALONE, "-"),
                                          ("twin", "hard labels only", plots.ALONE, "--")):
            (line,) = ax.plot([], [], style, color=colour, lw=2, label=name if col == "test_acc" else None)
            lines[(role, col)] = line
    return lines


def _extend(lines, row):
    for col, _ in _PANELS:
        line = lines[(_role(row["model"]), col)]
        xs, ys = list(line.get_xdata()), list(line.get_ydata())
        line.set_data(xs + [row["epoch"]], ys + [row[col]])


def run_label(settings: dict) -> str:
    return f"T={settings['T']:g}, α={settings['alpha']:g}, {settings['student']}, {settings['teacher']}, {settings['labels']}"


def plot_playground(histories: list[tuple[dict, pd.DataFrame]], axes=None, figsize=(10.8, 3.8)):
    """The playground's figure for finished runs: the last one bold, earlier ones faded."""
    new = axes is None
    fig, axes = plots.subplots(axes, figsize, ncols=3)
    if new:
        fig.subplots_adjust(**_MARGINS)
    epochs = max(int(h.epoch.max()) for _, h in histories)
    _playground_axes(axes, epochs)
    for i, (settings, hist) in enumerate(histories):
        lines = _run_lines(axes, settings)
        for row in hist.to_dict("records"):
            _extend(lines, row)
        if i < len(histories) - 1:
            _fade(lines)
    _title(fig, axes, histories[-1][0], len(histories) - 1)
    return fig


def _title(fig, axes, settings: dict, earlier: int) -> None:
    axes[1].legend(loc="lower right", fontsize=10)
    faded = f"   ·   {earlier} earlier run{'s' if earlier != 1 else ''} faded" if earlier else ""
    fig.suptitle(f"{run_label(settings)}{faded}", fontsize=11)  # a second call replaces the text


def _fade(lines):
    for line in lines.values():
        line.set_alpha(0.25)
        line.set_linewidth(1.2)
        line.set_label(None)


class Playground:
    """Sliders for T and alpha, menus for the student, teacher and labels, and a Train button.

    Pressing Train starts a run in a background thread, so the kernel keeps answering; the
    button is disabled until the run ends, and a second press meanwhile starts nothing. The
    curves grow epoch by epoch; earlier runs stay on the plot, faded. ``wait()`` blocks until
    the current run ends (tests and scripts use it); ``runs`` holds every finished run.
    """

    def __init__(self, dataset: kdata.Dataset, teacher_logits: TeacherLogits | None = None, figsize=(10.8, 3.8), **defaults):
        import ipywidgets as w

        from .widgets import BlitView, button, focus_style, new_figure, slider_layout

        self.dataset = dataset
        self.teacher_logits = teacher_logits or TeacherLogits(dataset)
        s = check_playground(dict(PLAYGROUND, **defaults))  # a bad setting fails here, before anything is built
        self.epochs = s["epochs"]
        self.fixed = {k: s[k] for k in ("epochs", "lr", "batch_size", "seed")}
        wide = {"layout": w.Layout(width="300px"), "style": {"description_width": "70px"}}
        long = {"layout": slider_layout(), "style": {"description_width": "70px"}}
        self.controls = {
            "T": w.FloatSlider(value=s["T"], min=1.0, max=20.0, step=0.5, description="T", continuous_update=False, **long),
            "alpha": w.FloatSlider(value=s["alpha"], min=0.0, max=1.0, step=0.05, description="α", continuous_update=False, **long),
            "student": w.Dropdown(options=list(PLAYGROUND_STUDENTS), value=s["student"], description="student", **wide),
            "teacher": w.Dropdown(options=list(PLAYGROUND_TEACHERS), value=s["teacher"], description="teacher", **wide),
            "labels": w.Dropdown(options=list(PLAYGROUND_LABELS), value=s["labels"], description="labels", **wide),
        }
        self.button = button("Train", "primary", icon="play", layout=w.Layout(width="140px"))
        self.progress = w.IntProgress(value=0, min=0, max=self.epochs, description="epoch 0", layout=w.Layout(width="300px"))
        self.status = w.HTML("Press <b>Train</b>: a distilled student and its hard-label twin train side by side.")
        self.fig = new_figure(figsize)
        self.axes = self.fig.subplots(1, 3)
        self.fig.subplots_adjust(**_MARGINS)
        _playground_axes(self.axes, self.epochs)
        self._lines: list[dict] = []
        self.view = BlitView(self.fig, lambda: [line for lines in self._lines for line in lines.values()])
        self.view.render(full=True)
        self.runs: list[tuple[dict, pd.DataFrame]] = []
        self.presses_ignored = 0
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.button.on_click(lambda _: self.train())
        c = self.controls
        self.note = w.HTML(layout=w.Layout(width="95%"))
        for name in ("teacher", "labels", "alpha"):  # text only: a lookup in the manifest, no training
            c[name].observe(lambda _: self._update_note(), names="value")
        self._update_note()
        self.widget = w.VBox([focus_style(), w.HBox([c["T"], c["alpha"]]), w.HBox([c["labels"], c["student"], c["teacher"], self.button]),
                              self.note, w.HBox([self.progress, self.status]), self.view.image])

    def _update_note(self) -> None:
        self.note.value = f"<span>{playground_note(self.settings())}</span>"

    def settings(self) -> dict:
        return {name: control.value for name, control in self.controls.items()} | self.fixed

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def train(self, background: bool = True) -> bool:
        """Start a run with the current settings; returns False (and starts nothing) if one is running."""
        with self._lock:
            if self.running:
                self.presses_ignored += 1
                self.status.value = "A run is in progress: wait for it to finish."
                return False
            settings = self.settings()
            self.button.disabled = True
            self._thread = threading.Thread(target=self._run, args=(settings,), daemon=True)
            self._thread.start()
        if not background:
            self.wait()
        return True

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, settings: dict) -> None:
        try:
            self.status.value = f"Training: {run_label(settings)} …"
            self.progress.value, self.progress.description = 0, "epoch 0"
            start = time.perf_counter()

            def on_row(row):
                if row["epoch"] == 1 and _role(row["model"]) == "student":  # the run has started: new lines, fade the last
                    if self._lines:
                        _fade(self._lines[-1])
                    self._lines.append(_run_lines(self.axes, settings))
                    _title(self.fig, self.axes, settings, len(self._lines) - 1)
                _extend(self._lines[-1], row)
                if row["model"] == "hard labels only":  # both models have this epoch now
                    self.progress.value = row["epoch"]
                    self.progress.description = f"epoch {row['epoch']}"
                    self.view.render(full=True)

            hist = playground_run(self.dataset, self.teacher_logits, callback=on_row, **settings)
            seconds = time.perf_counter() - start
            self.runs.append((settings, hist))
            last = hist[hist.epoch == hist.epoch.max()].set_index("model").test_acc
            first = student_name(settings["alpha"])
            self.status.value = (f"Done in {seconds:.0f} s. Test accuracy: {first} <b>{100 * last[first]:.1f}%</b>, "
                                 f"hard labels only <b>{100 * last['hard labels only']:.1f}%</b>.")
        except BaseException as exc:  # shown to the reader, and kept for tests
            self.error = exc
            self.status.value = f"<span style='color:#b00'>The run failed: {exc}</span>"
        finally:
            self.button.disabled = False

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


# ---------------------------------------------------------------------------------------------------------------------
# 4 · The T x alpha map (003-29)
# ---------------------------------------------------------------------------------------------------------------------

MAP_TEMPERATURES = (1.0, 2.0, 4.0, 8.0, 20.0)
MAP_ALPHAS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)
#: The map's setting: notebook 00's default recipe (2x1200 MLP teacher -> 1x100 MLP, all 3,500 labels).
MAP_SETTING = "default"


def distill_from(init: nn.Module, dataset: kdata.Dataset, teacher_logits: torch.Tensor, *, T: float, alpha: float,
                 epochs: int, lr: float, batch_size: int, seed: int, labels: int | None = None, augment: int = 0) -> nn.Module:
    """A copy of ``init`` distilled on cached teacher logits (labels: how many keep their label)."""
    model = copy.deepcopy(init)
    y = recipe.labelled_subset(dataset.train.y, labels, seed)
    training.distill(model, kdata.Split(dataset.train.X, y), teacher_logits=teacher_logits, T=T, alpha=alpha, epochs=epochs,
                     lr=lr, batch_size=batch_size, seed=seed, augment=augment, progress=False)
    return model


def map_cell(dataset: kdata.Dataset, teacher_logits: torch.Tensor, T: float, alpha: float, seed: int) -> dict:
    """One cell of the map for one seed: the default recipe's student distilled at (T, alpha)."""
    spec = recipe.SETTINGS[MAP_SETTING]
    start = time.perf_counter()
    init = student_for(spec["student"], seed)
    model = distill_from(init, dataset, teacher_logits, T=T, alpha=alpha, epochs=spec["epochs"], lr=spec["lr"],
                         batch_size=spec["batch_size"], seed=seed)
    return {"seed": seed, "T": T, "alpha": alpha, "test": training.accuracy(model, dataset.test),
            "val": training.accuracy(model, dataset.val), "seconds": time.perf_counter() - start}


def ta_map_runs(dataset: kdata.Dataset, seeds=SEEDS[:3], progress: bool = True) -> pd.DataFrame:
    """Every (T, alpha) of the map for every seed. alpha = 0 ignores T (pure cross-entropy), so it
    is trained once per seed and stored with T = NaN."""
    from tqdm.auto import tqdm

    logits = training.predict_logits(load_teacher(recipe.SETTINGS[MAP_SETTING]["teacher"]), dataset.train.X)
    jobs = [(None if a == 0 else T, a, s) for s in seeds for a in MAP_ALPHAS for T in (MAP_TEMPERATURES if a else (None,))]
    rows = [map_cell(dataset, logits, T if T is not None else 1.0, a, s) | ({"T": float("nan")} if T is None else {})
            for T, a, s in tqdm(jobs, desc="T x alpha x seed", disable=not progress)]
    return pd.DataFrame(rows)


def map_table(runs: pd.DataFrame, column: str = "test") -> pd.DataFrame:
    """Mean, min and max (in %) per (T, alpha); alpha = 0 repeated across every T (it ignores T)."""
    hard = runs[runs.alpha == 0]
    soft = runs[runs.alpha > 0]
    parts = [soft]
    for T in MAP_TEMPERATURES:
        parts.append(hard.assign(T=T))
    full = pd.concat(parts, ignore_index=True)
    out = recipe.spread(full, ["T", "alpha"], [column]).reset_index()
    return out.rename(columns=lambda c: c.replace(f"{column}_", ""))


def plot_map(runs: pd.DataFrame, ax=None, figsize=(8.5, 4.6), column: str = "test"):
    """Heatmap of mean accuracy over (alpha, T); each cell also shows the seed range (max - min)."""
    fig, ax = plots.subplots(ax, figsize)
    table = map_table(runs, column)
    mean = table.pivot(index="alpha", columns="T", values="mean")
    rng = table.pivot(index="alpha", columns="T", values="max") - table.pivot(index="alpha", columns="T", values="min")
    im = ax.imshow(mean.values, cmap="viridis", aspect="auto", origin="lower")
    ax.grid(False)
    for i in range(mean.shape[0]):
        for j in range(mean.shape[1]):
            v = mean.values[i, j]
            light = v < np.nanmean(mean.values)
            ax.text(j, i, f"{v:.1f}\n±{rng.values[i, j] / 2:.1f}", ha="center", va="center", fontsize=9,
                    color="white" if light else "black")
    ax.set_xticks(range(mean.shape[1]), [f"{t:g}" for t in mean.columns])
    ax.set_yticks(range(mean.shape[0]), [f"{a:g}" for a in mean.index])
    ax.set_xlabel("temperature T")
    ax.set_ylabel("α (weight of the soft term)")
    seeds = int(table.seeds.max())
    ax.set_title(f"{column} accuracy (%), mean over {seeds} seeds; ± half the seed range")
    fig.colorbar(im, ax=ax, label="mean accuracy (%)")
    return fig


def map_verdicts(runs: pd.DataFrame) -> dict[str, bool]:
    """The map's claims, computed from the table (test accuracy, means over seeds)."""
    t = map_table(runs).set_index(["T", "alpha"])["mean"]
    hard = t.xs(0.0, level="alpha").mean()
    soft = t[t.index.get_level_values("alpha") > 0]
    at = lambda cond: soft[cond(soft.index.get_level_values("T"))]
    return {
        "at T = 1 no α gains more than half a point over labels alone": bool((at(lambda T: T == 1) - hard).abs().max() < 0.5),
        "every cell with T >= 4 and α > 0 beats labels alone by more than a point": bool((at(lambda T: T >= 4) - hard).min() > 1.0),
        "the cells with T >= 4 and α > 0 lie within one point of each other": bool(at(lambda T: T >= 4).max() - at(lambda T: T >= 4).min() < 1.0),
    }


def map_noise(runs: pd.DataFrame, column: str = "val") -> float:
    """The map's noise, in accuracy points: the median over its cells of the seed range (max - min)
    of ``column``. Two cells whose means differ by less than this are not told apart by the seeds."""
    table = map_table(runs, column)
    return float((table["max"] - table["min"]).median())


def map_plateau(runs: pd.DataFrame, column: str = "val") -> pd.DataFrame:
    """The cells tied with the best: mean ``column`` accuracy within :func:`map_noise` of the best mean.

    The tie rule of Check yourself 4.1: every one of these cells is a right answer."""
    table = map_table(runs, column)
    best, noise = table["mean"].max(), map_noise(runs, column)
    tied = table[(table["mean"] >= best - noise - 1e-9) & (table.alpha > 0)]
    return tied.sort_values(["T", "alpha"]).reset_index(drop=True)


def choose_from_map(runs: pd.DataFrame) -> tuple[float, float]:
    """One (T, alpha) from the validation plateau (:func:`map_plateau`), by a fixed rule so it is
    reproducible: the lowest T on the plateau, then the lowest alpha there. Any plateau cell is as good."""
    best = map_plateau(runs).iloc[0]
    return float(best["T"]), float(best["alpha"])


def _pair(choice) -> tuple[float, float] | None:
    """``choice`` as (T, alpha) floats, for any numeric type (float, NumPy, tensor), or None."""
    from .exercises import as_number

    if isinstance(choice, (str, bytes, dict)) or choice is None:
        return None
    if isinstance(choice, (torch.Tensor, np.ndarray)):
        if choice.ndim != 1:
            return None
        choice = list(choice)
    try:
        items = list(choice)
    except TypeError:
        return None
    if len(items) != 2:
        return None
    T, alpha = (as_number(v) for v in items)
    return None if T is None or alpha is None else (T, alpha)


def diagnose_map_choice(choice, runs: pd.DataFrame) -> str | None:
    """Check yourself 4.1: ``choice`` is a (T, alpha) cell tied with the best mean validation
    accuracy, where tied means within :func:`map_noise` (the tie rule stated in the prompt)."""
    pair = _pair(choice)
    if pair is None:
        return "give a pair of numbers: (T, alpha), e.g. (4, 0.5)"
    T, alpha = pair
    val = map_table(runs, "val")
    at = lambda t, a: val[np.isclose(val["T"], t) & np.isclose(val.alpha, a)]
    found = at(T, alpha)
    plateau = map_plateau(runs)
    if not found.empty and alpha > 0 and ((np.isclose(plateau["T"], T) & np.isclose(plateau.alpha, alpha)).any()):
        return None
    if found.empty:
        if not at(alpha, T).empty:
            return "the numbers are swapped: give (T, alpha), temperature first"
        return f"(T={T:g}, α={alpha:g}) is not on the map; T is one of {list(MAP_TEMPERATURES)} and α one of {list(MAP_ALPHAS)}"
    if alpha == 0:
        return "α = 0 switches the teacher off (plain cross-entropy): that row is the baseline the map is compared with"
    mean = float(found["mean"].iloc[0])
    test = map_table(runs, "test")
    by_test = test.sort_values(["mean", "T", "alpha"], ascending=[False, True, True], kind="stable").iloc[0]
    if np.isclose(T, by_test["T"]) and np.isclose(alpha, by_test["alpha"]):
        return "that is the best mean *test* accuracy: choosing on the test split spends it; choose on the 'val' column"
    soft = runs[runs.alpha > 0]
    single = soft.sort_values(["val", "T", "alpha"], ascending=[False, True, True], kind="stable").iloc[0]
    if np.isclose(T, single["T"]) and np.isclose(alpha, single["alpha"]):
        return "that is one seed's best run: average each cell over the seeds first, then compare the means"
    best, noise = float(val["mean"].max()), map_noise(runs)
    return (f"that cell's mean validation accuracy is {best - mean:.2f} points below the best, more than the noise "
            f"({noise:.2f} points, the median seed range): choose a cell within the noise of the best")


def check_map_choice(choice, runs: pd.DataFrame) -> Verdict:
    return check("Check yourself 4.1", choice, lambda c: diagnose_map_choice(c, runs),
                 todo="set choice = (T, alpha) from the map's validation accuracy, then rerun the cell",
                 praise="on the validation plateau, averaged over seeds: any cell within the noise of the best is as good, "
                        "and the test split is still untouched")


def sweep_best_T(sweep: pd.DataFrame) -> pd.DataFrame:
    """Per student of notebook 03's temperature sweep: the T with the best mean validation accuracy
    of the distilled student, the noise (median seed range over its T, in points) and every T
    whose mean lies within that noise of the best (the same tie rule as the map's)."""
    rows = []
    for setting, part in sweep.groupby("setting", sort=False):
        val = 100 * part.groupby("T").kd_val.agg(["mean", "min", "max"])
        test = 100 * part.groupby("T").kd_test.mean()
        noise = float((val["max"] - val["min"]).median())
        best = float(val["mean"].idxmax())
        tied = [float(T) for T in val.index if val.loc[T, "mean"] >= val["mean"].max() - noise - 1e-9]
        rows.append({"student": setting, "seeds": int(part.seed.nunique()), "best T (val)": best, "noise (points)": round(noise, 2),
                     "T within the noise (val)": tied, "best T (test, for reading)": float(test.idxmax())})
    return pd.DataFrame(rows).set_index("student")


# ---------------------------------------------------------------------------------------------------------------------
# 5 · Patient and consistent teaching (003-29; Beyer et al. 2022)
# ---------------------------------------------------------------------------------------------------------------------

#: The variants compared. "teacher": None (hard labels only), "cached" (logits of the un-shifted
#: images, computed once) or "same view" (the teacher runs on each shifted batch the student sees).
CONSISTENCY_VARIANTS = {
    "hard labels, no shifts": {"teacher": None, "augment": 0, "epochs": 60},
    "hard labels, shifts": {"teacher": None, "augment": 2, "epochs": 60},
    "KD, no shifts (cached)": {"teacher": "cached", "augment": 0, "epochs": 60},
    "KD, shifts, teacher cached on un-shifted images": {"teacher": "cached", "augment": 2, "epochs": 60},
    "KD, shifts, teacher sees the same view": {"teacher": "same view", "augment": 2, "epochs": 60},
    "hard labels, no shifts, 4x longer": {"teacher": None, "augment": 0, "epochs": 240},
    "KD, no shifts (cached), 4x longer": {"teacher": "cached", "augment": 0, "epochs": 240},
    "hard labels, shifts, 4x longer": {"teacher": None, "augment": 2, "epochs": 240},
    "KD, shifts, teacher cached, 4x longer": {"teacher": "cached", "augment": 2, "epochs": 240},
    "KD, shifts, same view, 4x longer": {"teacher": "same view", "augment": 2, "epochs": 240},
}


def consistency_run(variant: str, dataset: kdata.Dataset, teacher: nn.Module, cached: torch.Tensor, seed: int,
                    epochs: int | None = None) -> dict:
    """One variant for one seed (the default recipe's teacher, student, T, alpha, lr and batch)."""
    spec = dict(CONSISTENCY_VARIANTS[variant])
    if epochs is not None:
        spec["epochs"] = epochs
    rs = recipe.SETTINGS["default"]
    model = student_for(rs["student"], seed)
    common = {"epochs": spec["epochs"], "lr": rs["lr"], "batch_size": rs["batch_size"], "augment": spec["augment"],
              "seed": seed, "progress": False}
    start = time.perf_counter()
    if spec["teacher"] is None:
        training.fit(model, dataset.train, **common)
    elif spec["teacher"] == "same view" or not spec["augment"]:
        # distill: the cached logits without shifts; with shifts, the teacher on each shifted batch
        source = {"teacher": teacher} if spec["augment"] else {"teacher_logits": cached}
        training.distill(model, dataset.train, T=rs["T"], alpha=rs["alpha"], **source, **common)
    else:
        # The inconsistent choice, which distill refuses: targets of the un-shifted images for shifted inputs.
        y = dataset.train.y

        def stale(idx, xb, logits):
            return kd_loss(logits, cached[idx], y[idx], T=rs["T"], alpha=rs["alpha"])

        training.train_with(model, dataset.train, stale, **common)
    return {"variant": variant, "seed": seed, "epochs": spec["epochs"], "test": training.accuracy(model, dataset.test),
            "val": training.accuracy(model, dataset.val), "seconds": time.perf_counter() - start}


def consistency_runs(dataset: kdata.Dataset, seeds=SEEDS[:3], variants=None, progress: bool = True) -> pd.DataFrame:
    from tqdm.auto import tqdm

    teacher = load_teacher(recipe.SETTINGS["default"]["teacher"])
    cached = training.predict_logits(teacher, dataset.train.X)
    jobs = [(v, s) for v in (variants or CONSISTENCY_VARIANTS) for s in seeds]
    return pd.DataFrame([consistency_run(v, dataset, teacher, cached, s)
                         for v, s in tqdm(jobs, desc="variant x seed", disable=not progress)])


def ranges_apart(a, b) -> bool:
    """True when two rows' [min, max] test ranges do not overlap (of :func:`spread_table`)."""
    return bool(a["test max"] < b["test min"] or b["test max"] < a["test min"])


def range_gap(a, b) -> float:
    """Points between two rows' [min, max] test ranges: > 0 when apart (how far), <= 0 when they overlap."""
    return float(max(b["test min"] - a["test max"], a["test min"] - b["test max"]))


def consistency_verdicts(table: pd.DataFrame) -> dict[str, bool]:
    """The section's claims, computed from :func:`spread_table` of the consistency runs.

    The 240-epoch runs without shifts are the controls that separate "shifts need a longer
    schedule" from "a longer schedule helps anyway"."""
    row = table.loc
    hard, hard_shift = row["hard labels, no shifts"], row["hard labels, shifts"]
    kd, cached, same = row["KD, no shifts (cached)"], row["KD, shifts, teacher cached on un-shifted images"], row["KD, shifts, teacher sees the same view"]
    hard_long_plain, kd_long_plain = row["hard labels, no shifts, 4x longer"], row["KD, no shifts (cached), 4x longer"]
    hard_long, cached_long, same_long = row["hard labels, shifts, 4x longer"], row["KD, shifts, teacher cached, 4x longer"], row["KD, shifts, same view, 4x longer"]
    better = lambda a, b: bool(a["test mean"] > b["test mean"] and ranges_apart(a, b))
    return {
        "at 60 epochs, shifts help the hard-label student (ranges apart)": better(hard_shift, hard),
        "at 60 epochs, shifts do not help the distilled student, cached or not (means not above KD without shifts)":
            bool(max(cached["test mean"], same["test mean"]) <= kd["test mean"]),
        "at 60 epochs, the same view and the cached teacher are not told apart (ranges overlap)": not ranges_apart(same, cached),
        "4x longer without shifts, the hard-label student does not change measurably (ranges overlap)": not ranges_apart(hard_long_plain, hard),
        "4x longer without shifts helps the distilled student (ranges apart)": better(kd_long_plain, kd),
        "at 240 epochs, shifts with the same view beat no shifts for the distilled student (ranges apart)": better(same_long, kd_long_plain),
        "at 240 epochs, the same view beats the cached teacher (ranges apart)": better(same_long, cached_long),
        "4x longer with the same view beats every 60-epoch variant (ranges apart)":
            all(better(same_long, r) for _, r in table[table.index.map(lambda v: "longer" not in v)].iterrows()),
        "at 240 epochs, the hard-label student with shifts does as well as the same view (ranges overlap or better)":
            bool(hard_long["test mean"] >= same_long["test mean"] or not ranges_apart(hard_long, same_long)),
    }


def spread_table(runs: pd.DataFrame, by: str, extra=("seconds",)) -> pd.DataFrame:
    """Test accuracy in % per group (mean, min, max, seeds) and the mean of ``extra`` columns, in table order."""
    out = recipe.spread(runs, by, ["test"]).rename(columns=lambda c: c.replace("test_", "test "))
    for col in extra:
        out[f"{col} (mean)"] = runs.groupby(by, sort=False)[col].mean()
    return out.round(2)


def _colour(group: str, colours: dict | None) -> str:
    for key, colour in (colours or {}).items():  # the first key found in the group's name
        if key in group:
            return colour
    return plots.DISTILLED if "KD" in group or "distil" in group.lower() else plots.ALONE


def plot_spread(runs: pd.DataFrame, by: str, ax=None, figsize=(9, 4.2), colours=None, title: str = ""):
    """One row per group: each seed's test accuracy as a dot, the mean as a bar.

    ``colours`` maps a part of a group's name to a colour (the first match wins); otherwise
    distilled groups are orange and the others grey."""
    fig, ax = plots.subplots(ax, figsize)
    groups = list(dict.fromkeys(runs[by]))
    for i, g in enumerate(groups):
        acc = 100 * runs.loc[runs[by] == g, "test"]
        colour = _colour(g, colours)
        ax.barh(i, acc.mean(), color=colour, alpha=0.35)
        ax.plot(acc, [i] * len(acc), "o", color=colour, ms=5)
        ax.text(acc.max() + 0.05, i, f"{acc.mean():.1f}", va="center", fontsize=9)
    ax.set_yticks(range(len(groups)), groups)
    ax.invert_yaxis()
    lo = 100 * runs.test.min()
    ax.set_xlim(lo - 1.0, 100 * runs.test.max() + 0.8)
    ax.set_xlabel("test accuracy (%): dots are seeds, bars the mean")
    if title:
        ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return fig


# ---------------------------------------------------------------------------------------------------------------------
# 6 · Teacher assistants (003-10; Mirzadeh et al. 2020)
# ---------------------------------------------------------------------------------------------------------------------

ASSISTANT_TEACHER = "mlp-mnist"
#: Colours of the three paths in the figures.
PATH_COLOURS = {"assistant →": plots.TEACHER, "teacher → student": plots.DISTILLED, "hard labels": plots.ALONE}
ASSISTANT = {"kind": "mlp", "hidden": [100]}
TINY_STUDENTS = {"MLP 1x10": {"kind": "mlp", "hidden": [10]}, "MLP 1x30": {"kind": "mlp", "hidden": [30]}}
#: The default recipe's T, alpha, epochs, learning rate and batch, used by sections 6, 7 and 9.
RECIPE = {k: recipe.DEFAULT[k] for k in ("T", "alpha", "epochs", "lr", "batch_size")}
#: T of each tiny student's distillation (from the teacher or from the assistant): the T that the
#: workbook's temperature selection chose on validation for its tiny-student setting (1x30, notebook 00).
TINY_T = recipe.SETTINGS["tiny-student"]["T"]
ASSISTANT_REGIMES = {"all 3,500 labels": None, "300 labels": 300}


def assistant_runs(dataset: kdata.Dataset, seeds=SEEDS, regimes=tuple(ASSISTANT_REGIMES), progress: bool = True) -> pd.DataFrame:
    """For each regime and seed: an assistant (1x100) distilled from the 2x1200 teacher (T = 4), then
    each tiny student trained three ways from the same initial weights: hard labels only,
    distilled from the teacher directly, distilled from the assistant (both at :data:`TINY_T`).
    With 300 labels, the other images are a transfer set labelled only by the teacher (or the
    assistant); the teacher itself was trained on all 3,500. ``seconds`` of the assistant path
    includes training the assistant."""
    from tqdm.auto import tqdm

    r = RECIPE
    train_kw = {k: r[k] for k in ("epochs", "lr", "batch_size")}
    teacher_logits = training.predict_logits(load_teacher(ASSISTANT_TEACHER), dataset.train.X)
    rows = []
    for regime, seed in tqdm([(g, s) for g in regimes for s in seeds], desc="regime x seed", disable=not progress):
        labels = ASSISTANT_REGIMES[regime]
        common = dict(train_kw, seed=seed, labels=labels)
        start = time.perf_counter()
        assistant = distill_from(student_for(ASSISTANT, seed), dataset, teacher_logits, T=r["T"], alpha=r["alpha"], **common)
        assistant_seconds = time.perf_counter() - start
        assistant_logits = training.predict_logits(assistant, dataset.train.X)
        rows.append({"regime": regime, "student": "MLP 1x100 (the assistant)", "path": "teacher → assistant", "seed": seed,
                     "test": training.accuracy(assistant, dataset.test), "seconds": assistant_seconds})
        for name, config in TINY_STUDENTS.items():
            init = student_for(config, seed)
            for path, logits, extra in (("teacher → student", teacher_logits, 0.0),
                                        ("teacher → assistant → student", assistant_logits, assistant_seconds)):
                start = time.perf_counter()
                model = distill_from(init, dataset, logits, T=TINY_T, alpha=r["alpha"], **common)
                rows.append({"regime": regime, "student": name, "path": path, "seed": seed, "test": training.accuracy(model, dataset.test),
                             "seconds": extra + time.perf_counter() - start})
            start = time.perf_counter()
            model = hard_only(init, dataset.train, **common)
            rows.append({"regime": regime, "student": name, "path": "hard labels only", "seed": seed,
                         "test": training.accuracy(model, dataset.test), "seconds": time.perf_counter() - start})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------------------
# 7 · Strategies: self-distillation and mutual learning (003-22)
# ---------------------------------------------------------------------------------------------------------------------

SELF_STUDENT = {"kind": "mlp", "hidden": [100]}


def mutual_loss(logits: torch.Tensor, peer_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Deep mutual learning, one student's loss (Zhang et al. 2018): CE(y, q) + KL(p_peer || q), at T = 1.

    The peer's prediction is a target, so it is detached: each student's gradient comes only
    from its own loss.
    """
    target = F.softmax(peer_logits.detach(), dim=1)
    return hard_loss(logits, labels) + F.kl_div(F.log_softmax(logits, dim=1), target, reduction="batchmean")


class Pair(nn.Module):
    """Two students trained in one loop: ``forward`` returns the first one's logits and keeps the second's."""

    def __init__(self, a: nn.Module, b: nn.Module):
        super().__init__()
        self.a, self.b = a, b
        self.b_logits: torch.Tensor | None = None

    def forward(self, x):
        self.b_logits = self.b(x)
        return self.a(x)


def mutual_run(dataset: kdata.Dataset, seed: int, epochs: int = 60, lr: float = 2e-3, batch_size: int = 256) -> tuple[nn.Module, nn.Module]:
    """Two 1x100 students (different initial weights) teach each other while both learn the labels."""
    a = student_for(SELF_STUDENT, seed)
    b = student_for(SELF_STUDENT, 1000 + seed)
    pair = Pair(a, b)
    y = dataset.train.y

    def step(idx, xb, logits):
        return mutual_loss(logits, pair.b_logits, y[idx]) + mutual_loss(pair.b_logits, logits, y[idx])

    training.train_with(pair, dataset.train, step, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, progress=False)
    return a, b


#: The born-again student's (T, alpha) grid, chosen on validation (the default recipe's T = 4 and
#: alpha = 0.9 were chosen for the 2x1200 teacher, not for a teacher of the student's own shape).
BORN_TEMPERATURES = (1.0, 2.0, 4.0, 8.0)
BORN_ALPHAS = (0.5, 0.9)


def _scores(model: nn.Module, dataset: kdata.Dataset) -> dict:
    """Test and validation accuracy, and how well the model fits its own training labels (accuracy and CE)."""
    logits = training.predict_logits(model, dataset.train.X)
    return {"test": training.accuracy(model, dataset.test), "val": training.accuracy(model, dataset.val),
            "train_acc": (logits.argmax(1) == dataset.train.y).float().mean().item(),
            "train_ce": F.cross_entropy(logits, dataset.train.y).item()}


def self_mutual_runs(dataset: kdata.Dataset, seeds=SEEDS, progress: bool = True) -> pd.DataFrame:
    """Per seed, the 1x100 student (default recipe's lr, batch, 60 epochs) four ways: hard labels only;
    born-again (distilled from a trained copy of itself, Furlanello et al. 2018) at every (T, alpha)
    of :data:`BORN_TEMPERATURES` x :data:`BORN_ALPHAS`; mutual learning (two peers); and, for scale,
    distilled from the 2x1200 teacher (T = 4, alpha = 0.9). Each row also says how well the model
    fits its training labels (``train_acc``, ``train_ce``); born-again rows give their teacher's too."""
    from tqdm.auto import tqdm

    r = RECIPE
    kw = {k: r[k] for k in ("epochs", "lr", "batch_size")}
    teacher_logits = training.predict_logits(load_teacher("mlp-mnist"), dataset.train.X)
    rows = []
    for seed in tqdm(seeds, desc="seeds", disable=not progress):
        init = student_for(SELF_STUDENT, seed)
        start = time.perf_counter()
        alone = copy.deepcopy(init)
        training.fit(alone, dataset.train, seed=seed, progress=False, **kw)
        rows.append({"method": "hard labels only", "seed": seed, "seconds": time.perf_counter() - start} | _scores(alone, dataset))
        # Born again: the trained twin of another seed's initial weights teaches a fresh student.
        start = time.perf_counter()
        born_teacher = student_for(SELF_STUDENT, 2000 + seed)
        training.fit(born_teacher, dataset.train, seed=seed, progress=False, **kw)
        teacher_seconds = time.perf_counter() - start
        fit_of_teacher = _scores(born_teacher, dataset)
        born_logits = training.predict_logits(born_teacher, dataset.train.X)
        for T in BORN_TEMPERATURES:
            for alpha in BORN_ALPHAS:
                start = time.perf_counter()
                born = distill_from(init, dataset, born_logits, T=T, alpha=alpha, seed=seed, **kw)
                rows.append({"method": "self-distillation (born again)", "seed": seed, "T": T, "alpha": alpha,
                             "seconds": teacher_seconds + time.perf_counter() - start,
                             "teacher_train_acc": fit_of_teacher["train_acc"], "teacher_train_ce": fit_of_teacher["train_ce"]}
                            | _scores(born, dataset))
        start = time.perf_counter()
        a, b = mutual_run(dataset, seed, **kw)
        pair = [_scores(m, dataset) for m in (a, b)]
        rows.append({"method": "mutual learning (two peers)", "seed": seed, "seconds": time.perf_counter() - start}
                    | {k: (pair[0][k] + pair[1][k]) / 2 for k in pair[0]})
        start = time.perf_counter()
        kd = distill_from(init, dataset, teacher_logits, seed=seed, T=r["T"], alpha=r["alpha"], **kw)
        rows.append({"method": "distilled from the 2x1200 teacher", "seed": seed, "T": r["T"], "alpha": r["alpha"],
                     "seconds": time.perf_counter() - start} | _scores(kd, dataset))
    cols = ["method", "seed", "T", "alpha", "test", "val", "train_acc", "train_ce", "teacher_train_acc", "teacher_train_ce", "seconds"]
    return pd.DataFrame(rows).reindex(columns=cols)


def born_choice(runs: pd.DataFrame) -> tuple[float, float]:
    """The born-again (T, alpha) with the best mean validation accuracy over seeds (ties: lower T, then lower alpha)."""
    born = runs[runs.method == "self-distillation (born again)"]
    val = born.groupby(["T", "alpha"]).val.mean().reset_index()
    best = val.sort_values(["val", "T", "alpha"], ascending=[False, True, True], kind="stable").iloc[0]
    return float(best["T"]), float(best["alpha"])


def strategies_at_choice(runs: pd.DataFrame) -> pd.DataFrame:
    """The strategies table with the born-again student at its validation-chosen (T, alpha) only."""
    T, alpha = born_choice(runs)
    born = runs.method == "self-distillation (born again)"
    return runs[~born | ((runs["T"] == T) & (runs.alpha == alpha))].reset_index(drop=True)


def born_fit(runs: pd.DataFrame) -> pd.DataFrame:
    """Born again at every (T, alpha) of the grid beside the hard-label student: mean validation and test
    accuracy (%), and how well each fits its own training labels (training accuracy in %, training CE)."""
    cols = {"val": "val (%)", "test": "test (%)", "train_acc": "train accuracy (%)", "train_ce": "train CE"}
    parts = [runs[runs.method == "hard labels only"].assign(T=float("nan"), alpha=float("nan"))]
    parts.append(runs[runs.method == "self-distillation (born again)"])
    out = pd.concat(parts).groupby(["method", "T", "alpha"], dropna=False, sort=False)[list(cols)].mean()
    for col in ("val", "test", "train_acc"):
        out[col] = 100 * out[col]
    return out.rename(columns=cols).round({"val (%)": 2, "test (%)": 2, "train accuracy (%)": 2, "train CE": 3})


def born_fits_less(runs: pd.DataFrame, T: float, alpha: float) -> bool:
    """True when, in every seed, the born-again student at (T, alpha) has a lower training accuracy and a
    higher training CE than the hard-label student of the same seed (the same initial weights)."""
    hard = runs[runs.method == "hard labels only"].set_index("seed")
    born = runs[(runs.method == "self-distillation (born again)") & (runs["T"] == T) & (runs.alpha == alpha)].set_index("seed")
    return bool(((born.train_acc < hard.train_acc) & (born.train_ce > hard.train_ce)).all())


# ---------------------------------------------------------------------------------------------------------------------
# 8 · Text classification, offline (000-5)
# ---------------------------------------------------------------------------------------------------------------------

#: The text task: which library wrote this docstring? Five pinned dependencies of the workbook.
TEXT_LIBRARIES = ("numpy", "torch", "pandas", "matplotlib", "sklearn")
#: Words that name a library (or its usual alias or home-grown type) are removed from the text,
#: so the task is about how each library's documentation reads, not about its name.
_GIVEAWAYS = re.compile(r"\b(numpy|np|torch|pandas|pd|matplotlib|mpl|plt|pyplot|sklearn|scikit|tensors?|ndarrays?|"
                        r"dataframes?|series|axes|estimators?)\b")
_WORD = re.compile(r"[a-z]{2,}")
TEXT_DOCS_PER_LIBRARY = 500
TEXT_SPLIT = (1500, 250, 750)
TEXT_STUDENT_WORDS = 2000
TEXT_STUDENT_DIM = 8
TEXT_TEACHER_FEATURES = 8000
TEXT_REGIMES = {"all 1,500 labels": None, "150 labels": 150}
TEXT_RECIPE = {"alpha": 0.9, "epochs": 40, "lr": 1e-2, "batch_size": 64}


def _docstrings(library: str, files: int = 150) -> list[str]:
    """Docstrings of public functions, classes and methods in ``files`` source files of an installed
    library (chosen by a hash of their path, so the choice is fixed for a given version)."""
    spec = importlib.util.find_spec(library)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"{library} is not installed; the text corpus is built from its source. Run `make lab`.")
    root = Path(spec.origin).parent
    paths = [p for p in root.rglob("*.py") if not any("test" in part for part in p.relative_to(root).parts)]
    paths = sorted(paths, key=lambda p: hashlib.sha256(p.relative_to(root).as_posix().encode()).hexdigest())[:files]
    found: dict[str, None] = {}
    for path in paths:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in tree.body:
            nodes = [node]
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                nodes += [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            for n in nodes:
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not n.name.startswith("_"):
                    doc = ast.get_docstring(n)
                    if doc and len(doc.split()) >= 8:
                        found.setdefault(doc, None)
    return list(found)


def docstring_corpus(per_library: int = TEXT_DOCS_PER_LIBRARY) -> pd.DataFrame:
    """A labelled text corpus built from the installed libraries' own source, offline.

    Process: for each library in :data:`TEXT_LIBRARIES`, parse 150 of its source files (chosen by
    a hash of the path) with :mod:`ast`, keep the docstrings of public functions, classes and
    methods with at least 8 words, lower-case them, remove the words that name a library
    (:data:`_GIVEAWAYS`), and keep ``per_library`` of them, chosen by a hash of the text. The
    label is the library. Nothing is imported from the libraries and nothing is downloaded; the
    versions are pinned, so the corpus is the same on every install (``corpus_digest``).
    """
    rows = []
    for label, library in enumerate(TEXT_LIBRARIES):
        docs = sorted(_docstrings(library), key=lambda d: hashlib.sha256(d.encode()).hexdigest())
        if len(docs) < per_library:
            raise ValueError(f"only {len(docs)} docstrings found in {library}; need {per_library}")
        rows += [{"text": _GIVEAWAYS.sub(" ", d.lower()), "library": library, "label": label} for d in docs[:per_library]]
    return pd.DataFrame(rows)


def corpus_digest(corpus: pd.DataFrame) -> str:
    """First 12 hex digits of the SHA-256 of the corpus (texts and labels): names the corpus a table was made on."""
    h = hashlib.sha256()
    for text, label in zip(corpus.text, corpus.label):
        h.update(f"{label}\t{text}\n".encode())
    return h.hexdigest()[:12]


def tokens(text: str) -> list[str]:
    return _WORD.findall(text)


def _most_frequent(counts, n: int) -> list:
    """The ``n`` most frequent keys, ties broken by the text itself: the same on every run (a Counter
    breaks ties by insertion order, which here follows set order and so Python's hash seed)."""
    text = lambda g: g if isinstance(g, str) else " ".join(g)
    return [g for g, _ in sorted(counts.items(), key=lambda kv: (-kv[1], text(kv[0]), isinstance(kv[0], tuple)))[:n]]


class TextData:
    """The corpus split (stratified), as the student and the teacher read it.

    * ``student``: a :class:`kdnb.data.Dataset` of word ids (N, 128), 0-padded, over the
      :data:`TEXT_STUDENT_WORDS` most frequent training words (other words are dropped);
    * ``teacher``: the same split as dense TF-IDF vectors over the :data:`TEXT_TEACHER_FEATURES`
      most frequent training words *and word pairs* (bigrams).
    Vocabularies and IDF weights come from the training split only.
    """

    def __init__(self, corpus: pd.DataFrame, seed: int = 0, max_len: int = 128):
        parts = kdata.stratified_split(corpus.label.to_numpy(), TEXT_SPLIT, seed)
        docs = [[tokens(t) for t in corpus.text.iloc[p]] for p in parts]
        labels = [torch.tensor(corpus.label.iloc[p].to_numpy(), dtype=torch.long) for p in parts]
        from collections import Counter

        words = Counter(w for doc in docs[0] for w in set(doc))
        self.words = {w: i + 1 for i, w in enumerate(_most_frequent(words, TEXT_STUDENT_WORDS))}
        grams = Counter(g for doc in docs[0] for g in set(doc) | set(zip(doc, doc[1:])))
        self.features = {g: i for i, g in enumerate(_most_frequent(grams, TEXT_TEACHER_FEATURES))}
        df = torch.zeros(len(self.features))
        for doc in docs[0]:
            ids = [self.features[g] for g in set(doc) | set(zip(doc, doc[1:])) if g in self.features]
            df[ids] += 1
        self.idf = torch.log((1 + len(docs[0])) / (1 + df)) + 1
        self.max_len = max_len
        student = [kdata.Split(self._ids(d), y) for d, y in zip(docs, labels)]
        teacher = [kdata.Split(self._tfidf(d), y) for d, y in zip(docs, labels)]
        self.student = kdata.Dataset("docstrings (word ids)", *student, num_classes=len(TEXT_LIBRARIES))
        self.teacher = kdata.Dataset("docstrings (TF-IDF)", *teacher, num_classes=len(TEXT_LIBRARIES))

    def _ids(self, docs) -> torch.Tensor:
        out = torch.zeros(len(docs), self.max_len, dtype=torch.long)
        for i, doc in enumerate(docs):
            ids = [self.words[w] for w in doc if w in self.words][: self.max_len]
            out[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out

    def _tfidf(self, docs) -> torch.Tensor:
        rows, cols = [], []
        for i, doc in enumerate(docs):
            found = [self.features[g] for g in (*doc, *zip(doc, doc[1:])) if g in self.features]
            rows += [i] * len(found)
            cols += found
        out = torch.zeros(len(docs), len(self.features))
        out.index_put_((torch.tensor(rows, dtype=torch.long), torch.tensor(cols, dtype=torch.long)), torch.ones(len(rows)), accumulate=True)
        out = out * self.idf
        return out / out.norm(dim=1, keepdim=True).clamp_min(1e-12)


class BagOfWords(nn.Module):
    """The text student: the mean of its words' embeddings (an ``EmbeddingBag``), then a linear layer."""

    def __init__(self, words: int = TEXT_STUDENT_WORDS, dim: int = TEXT_STUDENT_DIM, classes: int = len(TEXT_LIBRARIES)):
        super().__init__()
        self.bag = nn.EmbeddingBag(words + 1, dim, mode="mean", padding_idx=0)
        self.out = nn.Linear(dim, classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.bag(ids))


def text_teacher(data: TextData, seed: int = 0, labels: torch.Tensor | None = None) -> nn.Module:
    """The text teacher: logistic regression on TF-IDF of words and word pairs.

    ``labels=None`` trains it on every training label. Otherwise ``labels`` is the training
    labels with IGNORE_INDEX on the docstrings it may not see (from :func:`kdnb.recipe.labelled_subset`):
    it then trains on the labelled ones only, for as many gradient steps as on all of them.
    """
    training.seed_everything(seed, threads=None)
    teacher = nn.Linear(len(data.features), len(TEXT_LIBRARIES))
    r = TEXT_RECIPE
    train, epochs = data.teacher.train, r["epochs"]
    if labels is not None:
        keep = labels != IGNORE_INDEX
        train, epochs = kdata.Split(train.X[keep], labels[keep]), recipe.twin_epochs(labels, r["epochs"])
    training.fit(teacher, train, epochs=epochs, lr=r["lr"], batch_size=r["batch_size"], seed=seed, progress=False)
    return teacher


TEXT_TEMPERATURES = (1.0, 2.0, 4.0)


def text_pair(data: TextData, teacher_logits: torch.Tensor, seed: int, regime: str = "all 1,500 labels",
              temperatures=TEXT_TEMPERATURES) -> list[dict]:
    """The bag-of-words student alone and distilled at each T, from the same initial weights, in one regime.

    One row per T; the label-only twin does not depend on T, so it is trained once and repeated.
    """
    r = TEXT_RECIPE
    train = data.student.train
    y = recipe.labelled_subset(train.y, TEXT_REGIMES[regime], seed)
    training.seed_everything(seed, threads=None)
    init = BagOfWords(len(data.words))
    common = {"lr": r["lr"], "batch_size": r["batch_size"], "seed": seed}
    start = time.perf_counter()
    alone = hard_only(init, train, epochs=r["epochs"], labels=TEXT_REGIMES[regime], **common)
    alone_row = {"regime": regime, "seed": seed, "alone_test": training.accuracy(alone, data.student.test),
                 "alone_val": training.accuracy(alone, data.student.val), "alone_seconds": time.perf_counter() - start}
    rows = []
    for T in temperatures:
        kd = copy.deepcopy(init)
        start = time.perf_counter()
        training.distill(kd, kdata.Split(train.X, y), teacher_logits=teacher_logits, T=T, alpha=r["alpha"], epochs=r["epochs"],
                         progress=False, **common)
        rows.append(alone_row | {"T": T, "kd_test": training.accuracy(kd, data.student.test), "kd_val": training.accuracy(kd, data.student.val),
                                 "kd_seconds": time.perf_counter() - start})
    return rows


def text_runs(corpus: pd.DataFrame | None = None, seeds=SEEDS, progress: bool = True) -> pd.DataFrame:
    """Both regimes over seeds, at every T of :data:`TEXT_TEMPERATURES`. One teacher (seed 0) for all
    runs; it saw every training label."""
    from tqdm.auto import tqdm

    corpus = docstring_corpus() if corpus is None else corpus
    data = TextData(corpus)
    teacher = text_teacher(data)
    logits = training.predict_logits(teacher, data.teacher.train.X)
    teacher_test = training.accuracy(teacher, data.teacher.test)
    jobs = [(regime, s) for regime in TEXT_REGIMES for s in seeds]
    rows = [row for regime, s in tqdm(jobs, desc="regime x seed", disable=not progress) for row in text_pair(data, logits, s, regime)]
    return pd.DataFrame(rows).assign(teacher_test=teacher_test, corpus=corpus_digest(corpus))


def text_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per regime: T chosen on validation, then test accuracy (%) alone and distilled at that T over seeds."""
    chosen = recipe.select_T(runs, by="regime")
    at = pd.concat([runs[(runs.regime == r) & (runs["T"] == chosen[r])] for r in chosen.index])
    out = recipe.summarize(at, by="regime")
    out.insert(0, "T (chosen on val)", chosen)
    return out


def text_sizes(data: TextData) -> pd.DataFrame:
    teacher = nn.Linear(len(data.features), len(TEXT_LIBRARIES))
    return pd.DataFrame([
        {"model": "teacher: logistic regression on TF-IDF of words and word pairs", "inputs": f"{len(data.features):,} features",
         "parameters": models.count_params(teacher)},
        {"model": f"student: mean of {TEXT_STUDENT_DIM}-d word embeddings, then linear", "inputs": f"{len(data.words):,} words",
         "parameters": models.count_params(BagOfWords(len(data.words)))},
    ]).set_index("model")


def soft_confusion(teacher_logits: torch.Tensor, labels: torch.Tensor, T: float = 4.0) -> pd.DataFrame:
    """Mean soft target per true library (rows) at temperature T: where the teacher's dark knowledge points."""
    p = F.softmax(teacher_logits / T, dim=1)
    rows = [p[labels == c].mean(0).tolist() for c in range(len(TEXT_LIBRARIES))]
    return pd.DataFrame(rows, index=list(TEXT_LIBRARIES), columns=list(TEXT_LIBRARIES))


# ---------------------------------------------------------------------------------------------------------------------
# Scarce labels: where the gain comes from (sections 3, 6 and 8)
# ---------------------------------------------------------------------------------------------------------------------

#: The seed of the 300-label subset that the fair teacher ``cnn-mnist-300`` saw (its manifest's
#: ``labels.seed``). Every scarce-label image run uses this subset, so the fair teacher saw exactly
#: the student's labels; the seeds vary the student's initial weights and batch order.
SCARCE_LABEL_SEED = 0
#: The teacher that saw only the student's 300 image labels.
FAIR_TEACHER = "cnn-mnist-300"
#: The rows of every scarce-label comparison, in order. "fair teacher": it saw only the student's
#: labels; "teacher saw all labels": it saw every training label, so its argmax hands the withheld
#: labels back. Hard pseudo-labels: the teacher's argmax as the label of each unlabelled image,
#: then plain cross-entropy.
SCARCE_METHODS = ("hard labels only", "hard pseudo-labels, fair teacher", "soft targets, fair teacher",
                  "hard pseudo-labels, teacher saw all labels", "soft targets, teacher saw all labels")
#: The image experiments: the playground's default student (section 3) and the tiny students of section 6.
SCARCE_IMAGE = {
    "3 · playground": {"students": {"MLP 1x100": {"kind": "mlp", "hidden": [100]}}, "full_teacher": "mlp-mnist",
                       "T": 4.0, "alpha": 0.9, "epochs": 30, "lr": 2e-3, "batch_size": 256},
    "6 · tiny students": {"students": TINY_STUDENTS, "full_teacher": ASSISTANT_TEACHER, "T": TINY_T, "alpha": 0.9,
                          "epochs": 60, "lr": 2e-3, "batch_size": 256},
}
SCARCE_LABELS = 300


def teacher_saw(name: str) -> int | None:
    """How many training labels a shipped teacher was trained on (None: all of them), from its manifest."""
    entry = read_manifest().get(name)
    if entry is None:
        raise ValueError(f"unknown teacher {name!r}; the shipped ones are {list(read_manifest())}")
    return entry.get("labels", {}).get("n")


def pseudo_labels(y: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """The labels where there is one (not IGNORE_INDEX), the teacher's argmax everywhere else."""
    if teacher_logits.shape[0] != y.shape[0]:
        raise ValueError(f"{teacher_logits.shape[0]} teacher rows for {y.shape[0]} labels")
    return torch.where(y == IGNORE_INDEX, teacher_logits.argmax(1), y)


def scarce_rows(init: nn.Module, train: kdata.Split, evaluate, y: torch.Tensor, teachers: dict, *, T, alpha: float,
                epochs: int, lr: float, batch_size: int, seed: int) -> list[dict]:
    """One student from the same initial weights, every way of :data:`SCARCE_METHODS`.

    ``y`` marks the unlabelled images with IGNORE_INDEX; ``teachers`` maps "fair teacher" and
    "teacher saw all labels" to their logits on ``train``; ``evaluate(model)`` returns a dict of
    scores. ``T`` may be a tuple: then one soft-target row per T (chosen later on validation).
    The hard-label twin trains on the labelled images only, for as many gradient steps.
    """
    labelled = y != IGNORE_INDEX
    common = {"lr": lr, "batch_size": batch_size, "seed": seed, "progress": False}
    rows = []
    model = copy.deepcopy(init)
    training.fit(model, kdata.Split(train.X[labelled], y[labelled]), epochs=recipe.twin_epochs(y, epochs), **common)
    rows.append({"method": SCARCE_METHODS[0], "T": float("nan")} | evaluate(model))
    for who, logits in teachers.items():
        right = (logits.argmax(1) == train.y)[~labelled].float().mean().item()
        model = copy.deepcopy(init)
        training.fit(model, kdata.Split(train.X, pseudo_labels(y, logits)), epochs=epochs, **common)
        rows.append({"method": f"hard pseudo-labels, {who}", "T": float("nan"), "pseudo_right": right} | evaluate(model))
        for t in (T if isinstance(T, tuple) else (T,)):
            model = copy.deepcopy(init)
            training.distill(model, kdata.Split(train.X, y), teacher_logits=logits, T=t, alpha=alpha, epochs=epochs, **common)
            rows.append({"method": f"soft targets, {who}", "T": t, "pseudo_right": right} | evaluate(model))
    return [r | {"seed": seed} for r in rows]


def scarce_image_runs(dataset: kdata.Dataset, seeds=SEEDS, progress: bool = True) -> list[dict]:
    """Sections 3 and 6 with 300 labels: each student every way of :data:`SCARCE_METHODS`, and in
    section 6 also through a 1x100 assistant distilled from either teacher (T = 4, alpha = 0.9)."""
    from tqdm.auto import tqdm

    if teacher_saw(FAIR_TEACHER) != SCARCE_LABELS or read_manifest()[FAIR_TEACHER]["labels"]["seed"] != SCARCE_LABEL_SEED:
        raise ValueError(f"{FAIR_TEACHER} did not see the {SCARCE_LABELS} labels of subset seed {SCARCE_LABEL_SEED}")
    train = dataset.train
    y = recipe.labelled_subset(train.y, SCARCE_LABELS, SCARCE_LABEL_SEED)
    logits = {name: training.predict_logits(load_teacher(name), train.X) for name in (FAIR_TEACHER, ASSISTANT_TEACHER, "mlp-mnist")}
    evaluate = lambda m: {"test": training.accuracy(m, dataset.test), "val": training.accuracy(m, dataset.val)}
    rows = []
    for seed in tqdm(seeds, desc="seeds", disable=not progress):
        for experiment, spec in SCARCE_IMAGE.items():
            teachers = {"fair teacher": logits[FAIR_TEACHER], "teacher saw all labels": logits[spec["full_teacher"]]}
            kw = {k: spec[k] for k in ("T", "alpha", "epochs", "lr", "batch_size")}
            assistants = {}
            if experiment.startswith("6"):
                for who, teacher_logits in teachers.items():
                    assistant = student_for(ASSISTANT, seed)
                    training.distill(assistant, kdata.Split(train.X, y), teacher_logits=teacher_logits, T=RECIPE["T"],
                                     alpha=RECIPE["alpha"], epochs=spec["epochs"], lr=spec["lr"], batch_size=spec["batch_size"],
                                     seed=seed, progress=False)
                    assistants[who] = training.predict_logits(assistant, train.X)
                    rows.append({"experiment": experiment, "student": "MLP 1x100 (assistant)", "method": f"soft targets, {who}",
                                 "T": RECIPE["T"], "seed": seed} | evaluate(assistant))
            for name, config in spec["students"].items():
                init = student_for(config, seed)
                for row in scarce_rows(init, train, evaluate, y, teachers, seed=seed, **kw):
                    rows.append({"experiment": experiment, "student": name} | row)
                for who, teacher_logits in assistants.items():
                    model = copy.deepcopy(init)
                    training.distill(model, kdata.Split(train.X, y), teacher_logits=teacher_logits, T=spec["T"], alpha=spec["alpha"],
                                     epochs=spec["epochs"], lr=spec["lr"], batch_size=spec["batch_size"], seed=seed, progress=False)
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
        for row in scarce_rows(init, train, evaluate, y, {"fair teacher": fair, "teacher saw all labels": full},
                               T=TEXT_TEMPERATURES, alpha=r["alpha"], epochs=r["epochs"], lr=r["lr"], batch_size=r["batch_size"], seed=seed):
            rows.append({"experiment": "8 · text", "student": "bag of words"} | row)
        rows.append({"experiment": "8 · text", "student": "fair teacher itself", "method": "teacher, 150 labels", "T": float("nan"),
                     "seed": seed, "test": training.accuracy(fair_teacher, data.teacher.test),
                     "val": training.accuracy(fair_teacher, data.teacher.val)})
    return rows


def scarce_chosen(runs: pd.DataFrame) -> pd.DataFrame:
    """The scarce-label runs with one T per (experiment, student, method): where soft targets were
    trained at several T (text), the T with the best mean validation accuracy (ties: the lower T)."""
    keep = []
    for _, part in runs.groupby(["experiment", "student", "method"], sort=False):
        Ts = part["T"].dropna().unique()
        if len(Ts) > 1:
            val = part.groupby("T").val.mean()
            part = part[part["T"] == val[val == val.max()].index.min()]
        keep.append(part)
    return pd.concat(keep).reset_index(drop=True)


def scarce_table(runs: pd.DataFrame, experiment: str, student: str) -> pd.DataFrame:
    """Test accuracy (%) per method over seeds, mean [min, max], for one student of one experiment (T chosen on val)."""
    part = scarce_chosen(runs)
    part = part[(part.experiment == experiment) & (part.student == student)]
    out = recipe.spread(part, "method", ["test"]).rename(columns=lambda c: c.replace("test_", "test "))
    out.insert(0, "T", part.groupby("method", sort=False)["T"].first())
    right = part.groupby("method", sort=False)["pseudo_right"].mean()
    out["teacher right on the unlabelled (%)"] = (100 * right).round(1)
    return out.round(2)


#: The three sources of a scarce-label gain, each as (from method, to method).
SCARCE_SOURCES = {
    "the transfer set, labelled by a fair teacher's argmax (hard pseudo-labels)": ("hard labels only", "hard pseudo-labels, fair teacher"),
    "soft instead of hard targets from the same fair teacher": ("hard pseudo-labels, fair teacher", "soft targets, fair teacher"),
    "withheld labels handed back (teacher saw all labels, soft targets)": ("soft targets, fair teacher", "soft targets, teacher saw all labels"),
}


def _paired(diff: pd.Series) -> str:
    return "up in every seed" if (diff > 0).all() else "down in every seed" if (diff < 0).all() else "mixed"


def scarce_split(runs: pd.DataFrame, experiment: str, student: str) -> pd.DataFrame:
    """The gain of the leaky teacher's soft targets over hard labels, split into :data:`SCARCE_SOURCES`.

    Per source: the change in mean test accuracy (points), the per-seed change [min, max] (paired:
    every method starts from the same initial weights for a seed), a verdict read from the two
    rows' seed ranges ("gain" or "loss" when the ranges are apart, else "within the seed ranges"),
    and the paired reading: "up in every seed", "down in every seed" or "mixed"."""
    table = scarce_table(runs, experiment, student)
    part = scarce_chosen(runs)
    part = part[(part.experiment == experiment) & (part.student == student)].pivot(index="seed", columns="method", values="test")
    rows = []
    for source, (a, b) in SCARCE_SOURCES.items():
        diff = 100 * (part[b] - part[a])
        apart = ranges_apart(table.loc[a], table.loc[b])
        verdict = ("gain" if diff.mean() > 0 else "loss") if apart else "within the seed ranges"
        rows.append({"source": source, "points": round(diff.mean(), 2), "per seed min": round(diff.min(), 2),
                     "per seed max": round(diff.max(), 2), "verdict": verdict, "paired": _paired(diff)})
    total = 100 * (part[SCARCE_SOURCES[list(SCARCE_SOURCES)[-1]][1]] - part["hard labels only"])
    rows.append({"source": "total: teacher saw all labels, soft targets, against hard labels only", "points": round(total.mean(), 2),
                 "per seed min": round(total.min(), 2), "per seed max": round(total.max(), 2),
                 "verdict": ("gain" if total.mean() > 0 else "loss") if ranges_apart(table.loc["hard labels only"],
                            table.loc[SCARCE_SOURCES[list(SCARCE_SOURCES)[-1]][1]]) else "within the seed ranges",
                 "paired": _paired(total)})
    return pd.DataFrame(rows).set_index("source")


def scarce_runs(dataset: kdata.Dataset | None = None, seeds=SEEDS, progress: bool = True) -> pd.DataFrame:
    """The scarce-label table (``practice_scarce``): sections 3, 6 and 8, over seeds."""
    dataset = kdata.load_mnist_subset() if dataset is None else dataset
    rows = scarce_image_runs(dataset, seeds, progress) + scarce_text_runs(seeds=seeds, progress=progress)
    cols = ["experiment", "student", "method", "T", "seed", "test", "val", "pseudo_right"]
    return pd.DataFrame(rows).reindex(columns=cols)


# ---------------------------------------------------------------------------------------------------------------------
# 9 · The seeds' code, run (000-4, 001-5)
# ---------------------------------------------------------------------------------------------------------------------


def seed_001_5_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Seed 001-5's loss line, as written: ``nn.KLDivLoss()(student.log_softmax(1), teacher.log_softmax(1))``.

    (Torch warns that the default ``'mean'`` will change meaning; that one warning is silenced here,
    the call itself is unchanged. Notebook 04, section 5.1, takes the call apart.)
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="reduction: 'mean' divides the total loss", category=UserWarning)
        return nn.KLDivLoss()(student_logits.log_softmax(1), teacher_logits.log_softmax(1))


def side_by_side(dataset: kdata.Dataset, seed: int, epochs: int = 60, lr: float = 2e-3, batch_size: int = 256):
    """Seed 000-4 as written, on this data: a teacher and a student of the same shape trained in one
    loop, each on cross-entropy with the labels. Returns ``(student, teacher)``."""
    student = student_for(SELF_STUDENT, seed)
    teacher = student_for(SELF_STUDENT, 1000 + seed)
    pair = Pair(student, teacher)
    y = dataset.train.y

    def step(idx, xb, logits):
        return F.cross_entropy(logits, y[idx]) + F.cross_entropy(pair.b_logits, y[idx])

    training.train_with(pair, dataset.train, step, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, progress=False)
    return student, teacher


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    """True when two models of the same shape hold bit-for-bit equal parameters and buffers."""
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def seed_code_runs(dataset: kdata.Dataset, seeds=SEEDS, epochs: int = 60, progress: bool = True) -> pd.DataFrame:
    """Per seed, the 1x100 student from the same initial weights, five ways (see the notebook's section 9)."""
    from tqdm.auto import tqdm

    r = RECIPE
    common = {"epochs": epochs, "lr": r["lr"], "batch_size": r["batch_size"]}
    trained_teacher = load_teacher("mlp-mnist")
    trained_logits = training.predict_logits(trained_teacher, dataset.train.X)
    rows = []
    for seed in tqdm(seeds, desc="seeds", disable=not progress):
        init = student_for(SELF_STUDENT, seed)
        alone = copy.deepcopy(init)
        hist = training.fit(alone, dataset.train, seed=seed, progress=False, **common)
        rows.append({"run": "hard labels only", "seed": seed, "test": training.accuracy(alone, dataset.test),
                     "final loss is NaN": bool(np.isnan(hist.loss.iloc[-1]))})
        student, _ = side_by_side(dataset, seed, **common)
        rows.append({"run": "000-4 as written: teacher and student side by side on hard labels", "seed": seed,
                     "test": training.accuracy(student, dataset.test), "final loss is NaN": False,
                     "same weights as hard labels only": same_weights(student, alone)})
        untrained = student_for({"kind": "mlp", "hidden": [500]}, 3000 + seed).eval()  # 001-5 never trains its teacher
        untrained_logits = training.predict_logits(untrained, dataset.train.X)
        model = copy.deepcopy(init)
        hist = training.train_with(model, dataset.train, lambda idx, xb, logits: seed_001_5_loss(logits, untrained_logits[idx]),
                                   seed=seed, progress=False, **common)
        rows.append({"run": "001-5 as written: KLDivLoss(log q, log p), teacher never trained", "seed": seed,
                     "test": training.accuracy(model, dataset.test), "final loss is NaN": bool(np.isnan(hist.loss.iloc[-1]))})
        model = copy.deepcopy(init)
        hist = training.distill(model, dataset.train, teacher_logits=untrained_logits, T=4.0, alpha=1.0, seed=seed, progress=False, **common)
        rows.append({"run": "001-5, loss fixed (T, T², batchmean, probabilities), teacher still untrained", "seed": seed,
                     "test": training.accuracy(model, dataset.test), "final loss is NaN": bool(np.isnan(hist.loss.iloc[-1]))})
        model = copy.deepcopy(init)
        hist = training.distill(model, dataset.train, teacher_logits=trained_logits, T=4.0, alpha=0.9, seed=seed, progress=False, **common)
        rows.append({"run": "correct: trained 2x1200 teacher, frozen, cached, kd_loss(T=4, α=0.9)", "seed": seed,
                     "test": training.accuracy(model, dataset.test), "final loss is NaN": bool(np.isnan(hist.loss.iloc[-1]))})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------------------
# The script that makes the tables
# ---------------------------------------------------------------------------------------------------------------------

#: Each table this module's script writes, with the part that makes it.
TABLES = {"map": "practice_map", "consistency": "practice_consistency", "assistants": "practice_assistants",
          "strategies": "practice_strategies", "text": "practice_text", "seeds": "practice_seed_code", "scarce": "practice_scarce"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.nb05_distillation_in_practice", description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=list(TABLES), help="which table to make")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default: the part's own)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    training.seed_everything(0, threads=args.threads)
    start = time.perf_counter()
    seeds = {} if args.seeds is None else {"seeds": tuple(args.seeds)}
    if args.part == "text":
        table = text_runs(**seeds)
    elif args.part == "scarce":
        table = scarce_runs(**seeds)
    else:
        ds = kdata.load_mnist_subset()
        runner = {"map": ta_map_runs, "consistency": consistency_runs, "assistants": assistant_runs,
                  "strategies": self_mutual_runs, "seeds": seed_code_runs}[args.part]
        table = runner(ds, **seeds)
    path = results.write(table, TABLES[args.part])
    print(f"wrote {path} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())


# ---------------------------------------------------------------------------------------------------------------------
# Exercises: choose (T, alpha) on validation, the consistent-teaching step, the mutual-learning loss
# ---------------------------------------------------------------------------------------------------------------------


class _CheckTeacher(nn.Module):
    """The checker's teacher: dropout and BatchNorm, so train() mode shows in its outputs and buffers."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(144, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))

    def forward(self, x):
        return self.net(x)


#: Check yourself 5.1's problems: (T, alpha, batch size, logit scale). The edges: T = 1, alpha in {0, 1},
#: a batch of one, large logits; then random ones.
def _consistency_cases(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    cases = [(1.0, 0.5, 16, 1.0), (4.0, 0.0, 16, 1.0), (4.0, 1.0, 16, 1.0), (2.5, 0.9, 1, 1.0), (8.0, 0.7, 12, 40.0)]
    for _ in range(3):
        T = float(1 + 9 * torch.rand(1, generator=gen))
        alpha = float(torch.rand(1, generator=gen))
        cases.append((T, alpha, int(torch.randint(2, 20, (1,), generator=gen)), float(1 + 4 * torch.rand(1, generator=gen))))
    return cases


def _consistency_problem(seed: int = 0, batch: int = 16, scale: float = 1.0):
    """A teacher handed over as it left training (train() mode), 40 images, their cached logits (of the
    un-shifted images, in eval mode), a batch's row numbers, the shifted view, and student logits."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(40, 1, 12, 12, generator=gen)
    y = torch.randint(0, 10, (40,), generator=gen)
    torch.manual_seed(seed)
    teacher = _CheckTeacher()
    with torch.no_grad():  # some training, so the BatchNorm statistics and weights are not at their defaults
        teacher.train()(torch.rand(64, 1, 12, 12, generator=gen) * 2)
        cached = teacher.eval()(X)
    teacher.train()
    idx = torch.randperm(40, generator=gen)[:batch]
    xb = training.jitter(X[idx], 2, gen)
    logits = (scale * torch.randn(batch, 10, generator=gen)).requires_grad_()
    return teacher, X, y, cached, idx, xb, logits


def _consistent_mistakes(teacher_eval, cached, y, idx, xb, logits, T, alpha) -> dict:
    """Values of the usual wrong steps, for naming the mistake."""
    z = logits.detach()
    with torch.no_grad():
        view = teacher_eval(xb)
    return {
        "these are the cached targets of the un-shifted images: the teacher must see the shifted batch xb the student sees":
            kd_loss(z, cached[idx], y[idx], T=T, alpha=alpha),
        "that is the hard-label loss alone: no teacher signal reaches the student": hard_loss(z, y[idx]),
        "the temperature is missing: pass T to kd_loss": kd_loss(z, view, y[idx], T=1.0, alpha=alpha),
    }


def diagnose_consistent_step(make_step) -> str | None:
    """Check yourself 5.1: ``make_step(teacher, cached, y, T, alpha)`` returns ``step(idx, xb, logits)``.

    On each problem of :func:`_consistency_cases` (edges and random ones) the checker compares the
    loss and its gradient for the student's logits with ``kd_loss(logits, teacher.eval()(xb), y[idx])``;
    checks that no input was changed, that the teacher ran in eval mode (its BatchNorm statistics
    unchanged) and that no gradient reaches it. It never prints the expected values."""
    for case, (T, alpha, batch, scale) in enumerate(_consistency_cases()):
        teacher, X, y, cached, idx, xb, logits = _consistency_problem(case, batch, scale)
        reference = copy.deepcopy(teacher).eval()
        state = {k: v.clone() for k, v in teacher.state_dict().items()}
        inputs = {"cached": cached.clone(), "y": y.clone(), "idx": idx.clone(), "xb": xb.clone(), "logits": logits.detach().clone()}
        modes = []
        hook = teacher.register_forward_hook(lambda m, *_: modes.append((m.training, torch.is_grad_enabled())))
        try:
            loss = make_step(teacher, cached, y, T, alpha)(idx, xb, logits)
        finally:
            hook.remove()
        now = {"cached": cached, "y": y, "idx": idx, "xb": xb, "logits": logits.detach()}
        changed = [k for k in inputs if not torch.equal(inputs[k], now[k])]
        if changed:
            return f"the step changed its inputs in place ({', '.join(changed)}): compute new tensors instead"
        if any(training_mode for training_mode, _ in modes) or any(not torch.equal(state[k], v) for k, v in teacher.state_dict().items()):
            return ("the teacher ran in train() mode: dropout was on and BatchNorm updated its statistics. "
                    "A frozen teacher runs in eval mode: call teacher.eval() before using it")
        if any(grad_on for _, grad_on in modes):
            return ("the teacher's forward pass builds a graph for gradients it never uses (autograd was on): "
                    "run it under torch.no_grad(); it is frozen, and this saves memory and time")
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            return "step should return the loss as one number (a 0-d tensor), not a Python float or a vector"
        if not torch.isfinite(loss):
            return "the loss is not finite: build the soft targets with softmax(teacher_logits / T), not log-probabilities"
        params = [q for q in teacher.parameters()]
        grads = torch.autograd.grad(loss, [logits] + params, allow_unused=True, retain_graph=True) if loss.requires_grad else [None]
        if any(g is not None and g.abs().max() > 0 for g in grads[1:]):
            return ("a gradient reaches the teacher: its forward pass builds a graph into its weights. "
                    "Run it under torch.no_grad() (it is frozen; this saves memory and time)")
        if grads[0] is None:
            return "the loss has no gradient for the student's logits: do not detach them (or call .item()); only the teacher is frozen"
        with torch.no_grad():
            view = reference(xb)
        want_logits = logits.detach().clone().requires_grad_()
        want = kd_loss(want_logits, view, y[idx], T=T, alpha=alpha)
        (want_grad,) = torch.autograd.grad(want, want_logits)
        if close(loss.item(), want.item(), rel=1e-5) and torch.allclose(grads[0], want_grad, rtol=1e-4, atol=1e-7):
            continue
        for message, value in _consistent_mistakes(reference, cached, y, idx, xb, logits, T, alpha).items():
            if close(loss.item(), value.item(), rel=1e-5):
                return message
        where = f"T = {T:g}, α = {alpha:g}, a batch of {batch}" + (", large logits" if scale > 10 else "")
        if close(loss.item(), want.item(), rel=1e-5):
            return f"the value is right but its gradient for the student's logits is not ({where})"
        return f"the loss differs from kd_loss(logits, teacher(xb), y[idx], T, alpha) at {where}"
    return None


def close(a: float, b: float, rel: float = 1e-6) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def check_consistent_step(make_step) -> Verdict:
    return check("Check yourself 5.1", make_step, diagnose_consistent_step,
                 todo="write the step inside make_consistent_step, then rerun the cell",
                 praise="the frozen teacher (eval mode, no gradients) sees the same shifted view as the student")


def _mutual_variants() -> dict[str, callable]:
    def kl(log_q, p, reduction="batchmean"):
        import warnings

        with warnings.catch_warnings():  # 'mean' warns that it will change; the mistake is the point here
            warnings.simplefilter("ignore", UserWarning)
            return F.kl_div(log_q, p, reduction=reduction)

    return {
        "the peer's prediction is not detached: its gradient flows into the peer; wrap it in .detach()":
            lambda z, v, y: hard_loss(z, y) + kl(F.log_softmax(z, 1), F.softmax(v, 1)),
        "the KL is the wrong way round: the peer's probabilities are the target, KL(p_peer || q)":
            lambda z, v, y: hard_loss(z, y) + kl(F.log_softmax(v.detach(), 1), F.softmax(z, 1)),
        "the cross-entropy with the labels is missing: each peer also learns the labels":
            lambda z, v, y: kl(F.log_softmax(z, 1), F.softmax(v.detach(), 1)),
        "reduction='mean' divides by the number of classes too: use 'batchmean'":
            lambda z, v, y: hard_loss(z, y) + kl(F.log_softmax(z, 1), F.softmax(v.detach(), 1), "mean"),
    }


def diagnose_mutual_loss(fn) -> str | None:
    """Check yourself 7.1: ``fn(logits, peer_logits, labels)``, compared with :func:`mutual_loss` and typical mistakes."""
    gen = torch.Generator().manual_seed(5)
    for _ in range(3):
        z = (2 * torch.randn(6, 10, generator=gen)).requires_grad_()
        v = (2 * torch.randn(6, 10, generator=gen)).requires_grad_()
        y = torch.randint(0, 10, (6,), generator=gen)
        value = fn(z, v, y)
        if not isinstance(value, torch.Tensor) or value.dim() != 0:
            return "return the loss as one number (a 0-d tensor)"
        if not torch.isfinite(value):
            return "the loss is not finite: the target is softmax(peer_logits), probabilities, not log-probabilities"
        if not value.requires_grad:
            return "the loss has no gradient for the student's logits"
        gz, gv = torch.autograd.grad(value, (z, v), allow_unused=True)
        want = mutual_loss(z, v, y)
        (want_gz,) = torch.autograd.grad(want, z)
        if gv is not None and gv.abs().max() > 0:
            return next(iter(_mutual_variants()))
        if not (close(value.item(), want.item(), 1e-4) and torch.allclose(gz, want_gz, atol=1e-5)):
            for message, variant in _mutual_variants().items():
                if close(value.item(), variant(z, v, y).item(), 1e-4):
                    return message
            return "the value differs from CE(y, q) + KL(softmax(peer) || softmax(logits)) with 'batchmean'"
    return None


def check_mutual_loss(fn) -> Verdict:
    return check("Check yourself 7.1", fn, diagnose_mutual_loss, todo="fill in my_mutual_loss, then rerun the cell",
                 praise="each peer learns the labels and its partner's predictions, and only its own weights move")
