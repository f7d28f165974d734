"""The distillation settings, and the one runner that measures them over seeds.

A *setting* is a teacher, a student architecture, what the student may see (how many labels,
which view of the input) and how it is trained (T, alpha, epochs, learning rate, batch). For
every setting the same student architecture is trained twice from the same initial weights:
on the hard labels alone ("alone") and with ``kd_loss`` against the frozen teacher's cached
logits ("distilled"). Data: the offline MNIST subset (3,500 training, 500 validation, 1,000
test images).

* :func:`run_setting` trains one pair and returns one row (test, validation and training
  accuracy of both students; with the teacher's test logits, their agreement with it).
* :func:`grid` runs settings x overrides x seeds: the settings table, the temperature
  selection, notebook 01's transfer table and notebook 03's temperature sweep are all grids.
* :func:`summarize` gives mean, min and max over seeds and whether the two seed ranges
  overlap (:mod:`kdnb.seeds`); :func:`select_T` picks each setting's T by mean **validation** accuracy.

``python -m kdnb.results make recipe_settings`` trains every setting at each T of
:data:`SELECTION_TEMPERATURES` with five seeds (table ``recipe_temperature_selection``), picks T
on the validation split, and keeps the runs at the chosen T (table ``recipe_settings``). :data:`SETTINGS` holds the chosen T (a test checks that the two
agree). What each setting shows, in numbers, is in notebook 00 section 5 and notebook 01.

Found on the way: small students distilled for only 20 epochs came out *worse* than their
label-only twins (distillation converged more slowly for them), so every small-student setting
trains for 60 epochs.
"""

from __future__ import annotations

import copy
import time

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import data as kdata
from . import models, seeds
from . import results as kresults
from .i18n import N_, _
from .losses import IGNORE_INDEX
from .seeds import Spread
from .teachers import load_teacher
from .training import DEFAULT_THREADS, Run, accuracy, distill, fit, predict_logits, seed_everything

__all__ = ["SETTINGS", "DEFAULT", "SELECTION_TEMPERATURES", "VIEWS", "view", "twin_epochs", "labelled_subset", "train_twins", "train_pair", "run_setting", "agreement", "grid",
           "summarize", "select_T", "make_settings", "MAKERS"]


#: Each setting: a teacher, a student, what the student may see, and how it is trained.
#: ``labels``: how many training labels the student gets (None: all); the rest of the
#: training split is an unlabelled transfer set that only the teacher can label.
SETTINGS: dict[str, dict] = {
    "default": {
        "summary": N_("2x1200 MLP teacher -> 1x100 MLP student (30x fewer parameters)"),
        "teacher": "mlp-mnist",
        "student": {"kind": "mlp", "hidden": [100]},
        "labels": None,
        "T": 4.0, "alpha": 0.9, "epochs": 60, "lr": 2e-3, "batch_size": 256,
    },
    "unregularized-2x800": {
        "summary": N_("CNN teacher -> 2x800 MLP without regularization (Hinton's MNIST case)"),
        "teacher": "cnn-mnist",
        "student": {"kind": "mlp", "hidden": [800, 800]},
        "labels": None,
        "T": 8.0, "alpha": 0.9, "epochs": 20, "lr": 2e-3, "batch_size": 256,
    },
    "few-labels": {
        "summary": N_("CNN teacher (trained on all 3,500 labels) -> 2x800 MLP that gets 300 of them"),
        "teacher": "cnn-mnist",
        "student": {"kind": "mlp", "hidden": [800, 800]},
        "labels": 300, "labels_seed": 0,
        "T": 8.0, "alpha": 0.9, "epochs": 20, "lr": 2e-3, "batch_size": 256,
    },
    "few-labels-own-teacher": {
        "summary": N_("the same, but the CNN teacher saw only those 300 labels: no other label leaks in"),
        "teacher": "cnn-mnist-300",
        "student": {"kind": "mlp", "hidden": [800, 800]},
        "labels": 300, "labels_seed": 0,
        "T": 4.0, "alpha": 0.9, "epochs": 20, "lr": 2e-3, "batch_size": 256,
    },
    "cnn-teacher": {
        "summary": N_("CNN teacher (more accurate, other architecture) -> 1x100 MLP"),
        "teacher": "cnn-mnist",
        "student": {"kind": "mlp", "hidden": [100]},
        "labels": None,
        "T": 8.0, "alpha": 0.9, "epochs": 60, "lr": 2e-3, "batch_size": 256,
    },
    "tiny-student": {
        "summary": N_("2x1200 MLP teacher -> 1x30 MLP (too small to follow the teacher)"),
        "teacher": "mlp-mnist",
        "student": {"kind": "mlp", "hidden": [30]},
        "labels": None,
        "T": 2.0, "alpha": 0.9, "epochs": 60, "lr": 2e-3, "batch_size": 256,
    },
}
DEFAULT = SETTINGS["default"]


def twin_epochs(y: torch.Tensor, epochs: int) -> int:
    """Epochs for a label-only twin to take as many gradient steps as a student that sees every
    image of ``y`` for ``epochs`` epochs (``y`` marks unlabelled images with IGNORE_INDEX)."""
    return max(1, round(epochs * len(y) / int((y != IGNORE_INDEX).sum())))


def labelled_subset(y: torch.Tensor, n: int | None, seed: int = 0) -> torch.Tensor:
    """Copy of ``y`` keeping ``n`` class-balanced labels; the rest become IGNORE_INDEX."""
    if n is None or n >= len(y):
        return y.clone()
    keep = torch.from_numpy(kdata.stratified_split(y.numpy(), (n,), seed)[0])
    out = torch.full_like(y, IGNORE_INDEX)
    out[keep] = y[keep]
    return out


#: Views of the input a student may get. ``"14x14"``: each 28x28 image average-pooled by 2, as
#: from a cheaper sensor; the teacher still sees (and its cached logits come from) the originals.
VIEWS = {None: lambda X: X, "14x14": lambda X: F.avg_pool2d(X, 2)}


def view(X: torch.Tensor, name: str | None) -> torch.Tensor:
    """The student's view of images ``X``: see :data:`VIEWS`."""
    if name not in VIEWS:
        raise ValueError(f"unknown input view {name!r}; use one of {list(VIEWS)}")
    return VIEWS[name](X)


def train_twins(init: nn.Module, train: kdata.Split, teacher_logits: torch.Tensor | None, run: Run, *, T: float = 4.0,
                alpha: float = 0.9, alone: bool = True) -> dict[str, nn.Module]:
    """The twin runs every comparison here rests on: two copies of ``init`` (the same initial weights).

    ``"alone"``: trained on the labelled images of ``train`` only (labels equal to IGNORE_INDEX
    mark unlabelled ones), for as many gradient steps as the distilled twin takes
    (:func:`twin_epochs`). ``"distilled"``: trained on every image with ``kd_loss`` against the
    frozen teacher's ``teacher_logits`` for ``train.X``. ``alone=False`` skips the first (to add
    more temperatures to one label-only run); ``teacher_logits=None`` skips the second.
    ``run`` says how both train (:class:`kdnb.training.Run`); their progress labels are set here.
    """
    out = {}
    if alone:
        labelled = train.y != IGNORE_INDEX
        out["alone"] = copy.deepcopy(init)
        fit(out["alone"], kdata.Split(train.X[labelled], train.y[labelled]), None, run,
            epochs=twin_epochs(train.y, run.epochs), desc=N_("student alone"))
    if teacher_logits is not None:
        out["distilled"] = copy.deepcopy(init)
        distill(out["distilled"], train, None, run, teacher=teacher_logits, T=T, alpha=alpha, desc=N_("distilled student"))
    return out


def train_pair(setting: dict | str = "default", seed: int = 0, dataset: kdata.Dataset | None = None,
               teacher_logits: torch.Tensor | None = None, progress: bool = False, threads: int | None = DEFAULT_THREADS,
               **overrides):
    """Train a setting's student alone and distilled, from the same initial weights (:func:`train_twins`).

    Returns ``(alone, distilled, spec)``: two trained models and the setting used.
    ``overrides`` replace fields of the setting (e.g. ``T=4``). Pass ``teacher_logits`` for
    ``dataset.train.X`` to share one teacher pass between runs; otherwise it is computed here.
    ``threads`` is torch's thread count for the run (see :func:`kdnb.training.seed_everything`).
    """
    spec = dict(SETTINGS[setting] if isinstance(setting, str) else setting, **overrides)
    ds = dataset or kdata.load_mnist_subset()
    if teacher_logits is None:
        teacher_logits = predict_logits(load_teacher(spec["teacher"]), ds.train.X)
    # Which images keep their label depends on the seed, unless the setting fixes it ("labels_seed").
    y = labelled_subset(ds.train.y, spec["labels"], spec.get("labels_seed", seed))
    X = view(ds.train.X, spec.get("view"))
    seed_everything(seed, threads)
    init = models.build(spec["student"], in_shape=tuple(X.shape[1:]))
    run = Run(epochs=spec["epochs"], lr=spec["lr"], batch_size=spec["batch_size"], seed=seed, progress=progress)
    twins = train_twins(init, kdata.Split(X, y), teacher_logits, run, T=spec["T"], alpha=spec["alpha"])
    summary = spec.get("summary")
    if isinstance(summary, str):
        spec["summary"] = _(summary)   # shown to the reader: in the reader's language
    return twins["alone"], twins["distilled"], spec


def run_setting(setting: dict | str = "default", seed: int = 0, dataset: kdata.Dataset | None = None,
                teacher_logits: torch.Tensor | None = None, progress: bool = False, threads: int | None = DEFAULT_THREADS,
                teacher_test_logits: torch.Tensor | None = None, **overrides) -> dict:
    """:func:`train_pair`, then one row: val and test accuracy of both students, their accuracy on
    their own training images, and (given the teacher's logits on the test split) how often each
    student's top class agrees with the teacher's on the test images."""
    ds = dataset or kdata.load_mnist_subset()
    start = time.perf_counter()
    alone, distilled, spec = train_pair(setting, seed, ds, teacher_logits, progress, threads, **overrides)
    seconds = time.perf_counter() - start
    train, val, test = (kdata.Split(view(split.X, spec.get("view")), split.y) for split in (ds.train, ds.val, ds.test))
    alone_test, kd_test = accuracy(alone, test), accuracy(distilled, test)
    return {
        "seed": seed, "T": spec["T"], "alpha": spec["alpha"], "student": models.describe(spec["student"]),
        "labels": len(ds.train) if spec["labels"] is None else min(spec["labels"], len(ds.train)),
        "alone_test": alone_test, "kd_test": kd_test, "gain": kd_test - alone_test,
        "alone_val": accuracy(alone, val), "kd_val": accuracy(distilled, val),
        "alone_train": accuracy(alone, train), "kd_train": accuracy(distilled, train),
        **({} if teacher_test_logits is None else {
            "alone_agree": agreement(alone, test.X, teacher_test_logits),
            "kd_agree": agreement(distilled, test.X, teacher_test_logits)}),
        "seconds": seconds,
    }


def agreement(model, X: torch.Tensor, teacher_logits: torch.Tensor) -> float:
    """Fraction of inputs on which ``model``'s top class is the teacher's top class (0..1)."""
    return (predict_logits(model, X).argmax(1) == teacher_logits.argmax(1)).float().mean().item()


def grid(settings: dict[str, dict | str], seeds=(0, 1, 2, 3, 4), overrides=({},), dataset: kdata.Dataset | None = None,
         progress: bool = True, threads: int | None = DEFAULT_THREADS) -> pd.DataFrame:
    """The one runner for every precomputed table: settings x overrides x seeds, one row per run.

    ``settings`` maps a row name to a setting (a dict like :data:`SETTINGS`' values, or the
    name of one); ``overrides`` is a list of dicts applied on top (``[{"T": 2}, {"T": 4}]``
    sweeps T; ``[{"labels": 100}, ...]`` the number of labels). Each row holds the setting's
    name, the override values, and :func:`run_setting`'s columns. A teacher's logits are
    computed once per teacher and input view.
    """
    from tqdm.auto import tqdm

    ds = dataset or kdata.load_mnist_subset()
    specs = {name: dict(SETTINGS[s] if isinstance(s, str) else s) for name, s in settings.items()}
    overrides = [dict(o) for o in overrides] or [{}]
    logits: dict[str, torch.Tensor] = {}
    test_logits: dict[str, torch.Tensor] = {}
    jobs = [(name, o, seed) for name in specs for o in overrides for seed in seeds]
    rows = []
    for name, o, seed in tqdm(jobs, desc=_("settings x overrides x seeds"), disable=not progress):
        spec = dict(specs[name], **o)
        if spec["teacher"] not in logits:
            teacher = load_teacher(spec["teacher"], progress=progress)
            logits[spec["teacher"]] = predict_logits(teacher, ds.train.X)
            test_logits[spec["teacher"]] = predict_logits(teacher, ds.test.X)
        row = run_setting(spec, seed, ds, logits[spec["teacher"]], threads=threads,
                          teacher_test_logits=test_logits[spec["teacher"]])
        rows.append({"setting": name, **{k: v for k, v in o.items() if k not in row}, **row})
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame, by="setting") -> pd.DataFrame:
    """Student alone vs distilled, test accuracy in % per group: mean, min, max, mean gain, and
    whether the two seed ranges overlap (overlap: the gain is within the seed-to-seed noise; see :mod:`kdnb.seeds`)."""
    out = seeds.spread(results, by, ["alone_test", "kd_test"])
    out = out.rename(columns=lambda c: c.replace("_test", ""))
    out["gain_mean"] = out.kd_mean - out.alone_mean
    out["ranges_overlap"] = [not Spread.from_row(r, "kd").apart(Spread.from_row(r, "alone")) for _i, r in out.iterrows()]
    cols = ["seeds", "alone_mean", "alone_min", "alone_max", "kd_mean", "kd_min", "kd_max", "gain_mean", "ranges_overlap"]
    return out[cols].round(2)


def select_T(results: pd.DataFrame, by="setting") -> pd.Series:
    """Each group's temperature with the best mean **validation** accuracy of the distilled student.

    Ties go to the lower T. The test columns are never looked at.
    """
    mean_val = results.groupby([by, "T"], sort=False)["kd_val"].mean().reset_index()
    mean_val = mean_val.sort_values([by, "kd_val", "T"], ascending=[True, False, True], kind="stable")
    chosen = mean_val.drop_duplicates(by).set_index(by)["T"]
    return chosen.reindex(results[by].drop_duplicates().tolist())


#: Temperatures tried for every setting; the one with the best validation accuracy is used.
SELECTION_TEMPERATURES = (2.0, 4.0, 8.0, 20.0)


@kresults.maker("recipe_temperature_selection", "recipe_settings", minutes=60)
def make_settings(seeds=(0, 1, 2, 3, 4), threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Every setting at each T of :data:`SELECTION_TEMPERATURES`, then each setting's runs at the T chosen on validation."""
    runs = grid({n: n for n in SETTINGS}, seeds, [{"T": T} for T in SELECTION_TEMPERATURES], threads=threads, progress=progress)
    chosen = select_T(runs)
    table = pd.concat([runs[(runs.setting == n) & (runs["T"] == chosen[n])] for n in SETTINGS], ignore_index=True)
    if progress:
        print(pd.DataFrame({"T chosen on validation": chosen, "T in SETTINGS": {n: SETTINGS[n]["T"] for n in SETTINGS}}).to_string())
    return {"recipe_temperature_selection": runs, "recipe_settings": table}


MAKERS = (make_settings,)
