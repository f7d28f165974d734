"""Section 3: the training playground. A distilled student and its hard-label twin train side by side
from the same initial weights, epoch by epoch; the explorer's Train button runs it in the background."""

from __future__ import annotations

import copy
import threading
import time
from types import MappingProxyType

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .. import data as kdata
from .. import plots, recipe, training
from ..i18n import N_, _
from ..losses import IGNORE_INDEX, check_alpha
from ..teachers import load_teacher
from ..temperature import check_temperature
from ..verdicts import Verdicts
from ..widgets import Explorer
from .common import FAIR_TEACHER, SCARCE_LABEL_SEED, student_for, teacher_saw
from .shown import Shown, tr

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
PLAYGROUND_LABELS = {N_("300 labels"): 300, N_("all 3,500 labels"): None}
#: The default: the fair teacher, which saw exactly the student's 300 labels (section 3 explains why).
PLAYGROUND = {"T": 4.0, "alpha": 0.9, "student": "MLP 1x100", "teacher": "cnn-mnist-300", "labels": "300 labels",
              "epochs": 30, "lr": 2e-3, "batch_size": 256, "seed": 0}
#: The name of the playground's first student: distilled, unless alpha = 0 switches the teacher off.
NO_TEACHER = N_("α = 0: no teacher (the twin's run)")
TWIN = N_("hard labels only")
DISTILLED = N_("distilled")
#: The columns of :func:`playground_finals`, translated when shown.
FINAL_COLUMNS = (N_("distilled (%)"), N_("hard labels only (%)"), N_("α = 0: no teacher (the twin's run) (%)"))


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
    return DISTILLED if alpha > 0 else NO_TEACHER


def playground_note(settings: dict) -> str:
    """What the chosen teacher saw, against what the student may use, and what alpha = 0 means; plain
    text from the manifest and the settings (no training). The playground shows it under its controls."""
    teacher, labels, alpha = settings["teacher"], PLAYGROUND_LABELS[settings["labels"]], float(settings["alpha"])
    saw = teacher_saw(teacher)
    if alpha == 0:
        return _("α = 0 switches the teacher off: the first student then trains exactly as its hard-label twin "
                 "(same initial weights, same labelled images, same batches), so the two curves coincide.")
    if labels is None and saw is None:
        return _("{teacher} and the student both saw all 3,500 labels: the gain is the teacher's soft targets alone.").format(teacher=teacher)
    if labels is None:
        return _("{teacher} saw only {saw} of the 3,500 labels the student gets: a teacher weaker than the labels.").format(
            teacher=teacher, saw=saw)
    if saw == labels:
        return _("Fair teacher: {teacher} was trained on exactly the student's {labels} labelled images. "
                 "The other {rest:,} images reach the student only through its predictions.").format(
            teacher=teacher, labels=labels, rest=3500 - labels)
    return _("Caution: {teacher} was trained on all 3,500 labels, including the {rest:,} the student may not "
             "see, so its argmax hands those labels back; part of the gain is withheld labels returned. "
             "{fair} saw only the student's {labels}: choose it for a fair comparison.").format(
        teacher=teacher, rest=3500 - labels, fair=FAIR_TEACHER, labels=labels)


def playground_run(dataset: kdata.Dataset, teachers, callback=None, **settings) -> pd.DataFrame:
    """Train a distilled student and its hard-label twin side by side, epoch by epoch.

    ``settings`` are any of :data:`PLAYGROUND`'s (the others keep their defaults); all are checked
    (:func:`check_playground`) before anything trains. Both students start from the same initial
    weights. The distilled student sees all 3,500 training images (with ``labels="300 labels"`` only
    300 of them keep a label, the subset the fair teacher ``cnn-mnist-300`` saw; the rest learn from
    the teacher's soft targets alone) and trains on ``kd_loss`` at the chosen T and alpha
    (:func:`kdnb.training.kd_step_loss`, the loss :func:`kdnb.training.distill` uses). The twin
    trains on the labelled images only, for as many gradient steps. At ``alpha = 0`` there is no
    teacher signal, and the first student trains exactly as the twin (same images, same batches):
    the two runs are the same run. After each epoch of the distilled student, both are scored on the
    training images they may use and on the test split, and ``callback(row)`` gets a row per model.
    ``teachers(name)`` gives a teacher's logits on the training images (a :class:`TeacherLogits`).
    Returns the whole history: one row per model and epoch.
    """
    s = check_playground(dict(PLAYGROUND, **settings))
    train = dataset.train
    y = recipe.labelled_subset(train.y, PLAYGROUND_LABELS[s["labels"]], SCARCE_LABEL_SEED)
    labelled = y != IGNORE_INDEX
    epochs = s["epochs"]
    run = training.Run(epochs=epochs, lr=s["lr"], batch_size=s["batch_size"], seed=s["seed"], progress=False)
    twin_run = training.Run.of(run, epochs=recipe.twin_epochs(y, epochs))
    twin_train = kdata.Split(train.X[labelled], y[labelled])
    kd_model = student_for(PLAYGROUND_STUDENTS[s["student"]], s["seed"])
    twin = copy.deepcopy(kd_model)
    if s["alpha"] > 0:
        cached = teachers(s["teacher"])
        if cached.shape != (len(train), dataset.num_classes):
            raise ValueError(f"teacher logits have shape {tuple(cached.shape)}, expected ({len(train)}, {dataset.num_classes}): "
                             "compute them on this dataset's training images")
        kd_step = training.kd_step_loss(cached, y, T=s["T"], alpha=s["alpha"])  # kd_loss, its checks and the teacher's softmax done once
        kd_run, kd_steps = run, training.iter_train(kd_model, kdata.Split(train.X, y), kd_step, None, run)
    else:  # no teacher signal: the twin's own loss, images and batches
        kd_run = twin_run
        kd_steps = training.iter_train(kd_model, twin_train, training.hard_step_loss(twin_train.y), None, twin_run)
    twin_steps = training.iter_train(twin, twin_train, training.hard_step_loss(twin_train.y), None, twin_run)
    first = student_name(s["alpha"])
    rows, done = [], {"kd": 0, "twin": 0}

    def advance(steps, key, schedule, epoch):
        row = None
        while done[key] < round(epoch * schedule / epochs):  # keep both level in gradient steps
            row = next(steps)
            done[key] += 1
        return row

    for epoch in range(1, epochs + 1):
        kd_row = advance(kd_steps, "kd", kd_run.epochs, epoch)
        twin_row = advance(twin_steps, "twin", twin_run.epochs, epoch)
        if epoch == epochs:  # let both loops finish (eval mode)
            for steps in (kd_steps, twin_steps):
                for _row in steps:
                    pass
        for name, model, row in ((first, kd_model, kd_row), (TWIN, twin, twin_row)):
            test_acc, test_loss = _eval_row(model, dataset.test)
            out = {"epoch": epoch, "model": name, "train_acc": row["train_acc"], "test_acc": test_acc, "test_loss": test_loss}
            rows.append(out)
            if callback is not None:
                callback(out)
    return pd.DataFrame(rows)


def _last_epoch(hist: pd.DataFrame) -> pd.DataFrame:
    return hist[hist.epoch == hist.epoch.max()].set_index("model")


def playground_finals(runs: list[tuple[dict, pd.DataFrame]]) -> pd.DataFrame:
    """Test accuracy (%) of both students after the last epoch, one row per run (named by its teacher)."""
    rows = {}
    for settings, hist in runs:
        last = _last_epoch(hist).test_acc
        rows[settings["teacher"]] = {f"{name} (%)": round(100 * last[name], 1) for name in last.index}
    return Shown(pd.DataFrame.from_dict(rows, orient="index").rename_axis("teacher"))


def playground_verdicts(runs: list[tuple[dict, pd.DataFrame]], off: pd.DataFrame) -> Verdicts:
    """The claims of section 3's static run: the fair teacher's distilled student ends ahead of its
    twin (test accuracy by more than 2 points, and a lower test loss), and at alpha = 0 (``off``)
    the first student's history equals its twin's, epoch for epoch."""
    fair = [_last_epoch(hist) for settings, hist in runs if settings["teacher"] == FAIR_TEACHER]
    if len(fair) != 1:
        raise ValueError(f"expected one run with the fair teacher {FAIR_TEACHER}, got {len(fair)}")
    last = fair[0]
    curves = lambda name: off[off.model == name].drop(columns="model").reset_index(drop=True)
    return Verdicts({
        _("with the fair teacher {fair}, the distilled student ends more than 2 points above its twin on the test images").format(
            fair=FAIR_TEACHER): last.test_acc["distilled"] > last.test_acc[TWIN] + 0.02,
        _("... and with a lower test loss"): last.test_loss["distilled"] < last.test_loss[TWIN],
        _("at α = 0 the first student's curves equal its twin's, epoch for epoch"): len(off) > 0 and curves(NO_TEACHER).equals(curves(TWIN)),
    })


_PANELS = (("train_acc", N_("accuracy on its training labels")), ("test_acc", N_("test accuracy")),
           ("test_loss", N_("test loss (CE at T = 1)")))
#: The playground figure's margins (live and static): room for three titles and the suptitle.
_MARGINS = {"left": 0.06, "right": 0.99, "bottom": 0.15, "top": 0.8, "wspace": 0.3}


def _playground_axes(axes, epochs: int):
    for ax, (col, title) in zip(axes, _PANELS):
        ax.set_title(_(title), fontsize=12)
        ax.set_xlabel(_("epoch"))
        ax.set_xlim(0.5, epochs + 0.5)
        if col == "test_loss":
            ax.set_ylim(0.0, 1.0)
        else:
            ax.set_ylim(0.75, 1.0)
            ax.yaxis.set_major_formatter(lambda v, _pos: f"{100 * v:.0f}%")
        ax.grid(alpha=0.3)


def _role(model: str) -> str:
    return "twin" if model == TWIN else "student"


def _run_lines(axes, settings: dict):
    """Two lines per panel (the first student, the twin) for one run; returns {(role, column): Line2D}.
    At alpha = 0 the first student is no distilled one, and its legend says so."""
    lines = {}
    first = student_name(float(settings["alpha"]))
    for ax, (col, _title) in zip(axes, _PANELS):
        for role, name, colour, style in (("student", first, plots.DISTILLED if first == DISTILLED else plots.ALONE, "-"),
                                          ("twin", TWIN, plots.ALONE, "--")):
            (line,) = ax.plot([], [], style, color=colour, lw=2, label=_(name) if col == "test_acc" else None)
            lines[(role, col)] = line
    return lines


def _extend(lines, row):
    for col, _title in _PANELS:
        line = lines[(_role(row["model"]), col)]
        xs, ys = list(line.get_xdata()), list(line.get_ydata())
        line.set_data(xs + [row["epoch"]], ys + [row[col]])


def run_label(settings: dict) -> str:
    return f"T={settings['T']:g}, α={settings['alpha']:g}, {settings['student']}, {settings['teacher']}, {tr(settings['labels'])}"


def plot_playground(histories: list[tuple[dict, pd.DataFrame]], axes=None, figsize=(10.8, 3.8)):
    """The playground's figure for finished runs: the last one bold, earlier ones faded."""
    new = axes is None
    fig, axes = plots.subplots(axes, figsize, ncols=3)
    if new:
        fig.subplots_adjust(**_MARGINS)
    epochs = max(int(h.epoch.max()) for _s, h in histories)
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
    faded = ("   ·   " + (_("{n} earlier run faded") if earlier == 1 else _("{n} earlier runs faded")).format(n=earlier)) if earlier else ""
    fig.suptitle(f"{run_label(settings)}{faded}", fontsize=11)  # a second call replaces the text


def _fade(lines):
    for line in lines.values():
        line.set_alpha(0.25)
        line.set_linewidth(1.2)
        line.set_label(None)


class Playground(Explorer):
    """Sliders for T and alpha, menus for the student, teacher and labels, and a Train button.

    An :class:`kdnb.widgets.Explorer`: moving a control only rewrites the note under the menus
    (what the chosen teacher saw; never training). The **Train** action (``act("Train")``, or
    :meth:`train`) starts a run of :func:`playground_run` with the current settings in a
    background thread, so the kernel keeps answering; the button is disabled until the run ends,
    and a press meanwhile starts nothing. The curves grow epoch by epoch; earlier runs stay on the
    plot, faded. :meth:`wait` blocks until the current run ends; ``runs`` holds every finished run,
    ``error`` the exception of a failed one.
    """

    def __init__(self, dataset: kdata.Dataset, teacher_logits: TeacherLogits | None = None, figsize=(10.8, 3.8), **defaults):
        import ipywidgets as w

        from ..widgets import new_figure, slider_layout

        s = check_playground(dict(PLAYGROUND, **defaults))  # a bad setting fails here, before anything is built
        self.dataset = dataset
        self.teacher_logits = teacher_logits or TeacherLogits(dataset)
        self.epochs = s["epochs"]
        self.fixed = MappingProxyType({k: s[k] for k in ("epochs", "lr", "batch_size", "seed")})
        wide = {"layout": w.Layout(width="300px"), "style": {"description_width": "70px"}}
        long = {"layout": slider_layout(), "style": {"description_width": "70px"}}
        controls = {
            "T": w.FloatSlider(value=s["T"], min=1.0, max=20.0, step=0.5, description="T", continuous_update=False, **long),
            "alpha": w.FloatSlider(value=s["alpha"], min=0.0, max=1.0, step=0.05, description="α", continuous_update=False, **long),
            "labels": w.Dropdown(options=[(_(k), k) for k in PLAYGROUND_LABELS], value=s["labels"], description=_("labels"), **wide),
            "student": w.Dropdown(options=list(PLAYGROUND_STUDENTS), value=s["student"], description=_("student"), **wide),
            "teacher": w.Dropdown(options=list(PLAYGROUND_TEACHERS), value=s["teacher"], description=_("teacher"), **wide),
        }
        self.note = w.HTML(layout=w.Layout(width="95%"))
        self.progress = w.IntProgress(value=0, min=0, max=self.epochs, description=_("epoch {n}").format(n=0), layout=w.Layout(width="300px"))
        self.status = w.HTML(_("Press <b>Train</b>: a distilled student and its hard-label twin train side by side."))
        fig = new_figure(figsize)
        self.axes = fig.subplots(1, 3)
        fig.subplots_adjust(**_MARGINS)
        _playground_axes(self.axes, self.epochs)
        self._lines: list[dict] = []
        self.runs: list[tuple[dict, pd.DataFrame]] = []
        self.presses_ignored = 0
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()          # one run at a time
        self._drawing = threading.RLock()      # the figure is drawn by the kernel's thread and the run's, one at a time
        super().__init__(fig, controls, self._show, lambda: [line for lines in self._lines for line in lines.values()],
                         header=w.VBox([self.note, w.HBox([self.progress, self.status])]), actions={"Train": self.train})
        self.buttons["Train"].icon = "play"
        self.buttons["Train"].description = _("Train")
        self.buttons["Train"].layout.width = "140px"

    def _show(self, **values) -> dict:
        """The explorer's update: the note for the chosen settings (a lookup in the manifest, no training)."""
        settings = dict(values, **self.fixed)
        self.note.value = f"<span>{playground_note(settings)}</span>"
        return {"settings": settings, "note": self.note.value}

    def refresh(self, changed: str | None = None) -> dict:
        with self._drawing:
            return super().refresh(changed)

    def settings(self) -> dict:
        return self.values() | dict(self.fixed)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def train(self, background: bool = True) -> bool:
        """Start a run with the current settings; returns False (and starts nothing) if one is running."""
        with self._lock:
            if self.running:
                self.presses_ignored += 1
                self.status.value = _("A run is in progress: wait for it to finish.")
                return False
            settings = self.settings()
            self.buttons["Train"].disabled = True
            self._thread = threading.Thread(target=self._run, args=(settings,), daemon=True)
            self._thread.start()
        if not background:
            self.wait()
        return True

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _on_row(self, settings: dict, row: dict) -> None:
        with self._drawing:
            if row["epoch"] == 1 and _role(row["model"]) == "student":  # the run has started: new lines, fade the last
                if self._lines:
                    _fade(self._lines[-1])
                self._lines.append(_run_lines(self.axes, settings))
                _title(self.fig, self.axes, settings, len(self._lines) - 1)
            _extend(self._lines[-1], row)
            if row["model"] == TWIN:  # both models have this epoch now
                self.progress.value = row["epoch"]
                self.progress.description = _("epoch {n}").format(n=row["epoch"])
                self.view.render(full=True)

    def _run(self, settings: dict) -> None:
        try:
            self.status.value = _("Training: {run} …").format(run=run_label(settings))
            self.progress.value, self.progress.description = 0, _("epoch {n}").format(n=0)
            start = time.perf_counter()
            hist = playground_run(self.dataset, self.teacher_logits, callback=lambda row: self._on_row(settings, row), **settings)
            seconds = time.perf_counter() - start
            self.runs.append((settings, hist))
            last = _last_epoch(hist).test_acc
            first = student_name(settings["alpha"])
            self.status.value = _("Done in {seconds:.0f} s. Test accuracy: {first} <b>{first_acc:.1f}%</b>, "
                                  "{twin} <b>{twin_acc:.1f}%</b>.").format(seconds=seconds, first=_(first), first_acc=100 * last[first],
                                                                           twin=_(TWIN), twin_acc=100 * last[TWIN])
        except BaseException as exc:  # shown to the reader, and kept for tests
            self.error = exc
            self.status.value = "<span style='color:#b00'>" + _("The run failed: {error}").format(error=exc) + "</span>"
        finally:
            self.buttons["Train"].disabled = False
