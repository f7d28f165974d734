"""The default distillation recipe, and the settings where distillation does or does not help.

All figures: the offline MNIST subset (3,500 training, 500 validation, 1,000 test images),
test accuracy of the same student architecture trained from the same initial weights on hard
labels alone ("alone") or with ``kd_loss`` ("distilled"), five seeds each (0-4), Adam with
cosine decay, batch 256, learning rate 2e-3, alpha = 0.9. T was chosen per setting on the
*validation* split from {2, 4, 8, 20} (``data/results/temperature_selection.csv``).
Recompute everything with ``python -m kdnb.recipe`` (about 2.5 minutes on 2 CPU cores);
the results are in ``data/results/settings.csv``.

====================  ==========================================  =====  ================  ================  ======
setting               teacher -> student                          T      alone: mean       distilled: mean   gain
                                                                         [min, max] (%)    [min, max] (%)
====================  ==========================================  =====  ================  ================  ======
default               MLP 2x1200 (96.8%) -> MLP 1x100, 60 epochs  4      93.2 [93.0, 93.3] 95.0 [94.7, 95.2] +1.8
unregularized-2x800   CNN (98.0%) -> MLP 2x800, 20 epochs         8      95.0 [94.8, 95.3] 96.0 [95.7, 96.8] +1.0
few-labels            CNN -> MLP 2x800, 300 labels + 3,200        4      86.6 [84.5, 89.3] 96.1 [95.5, 96.7] +9.6
                      unlabelled images
cnn-teacher           CNN (98.0%) -> MLP 1x100, 60 epochs         4      93.2 [93.0, 93.3] 93.8 [93.5, 94.2] +0.6
tiny-student          MLP 2x1200 -> MLP 1x30, 60 epochs           4      92.2 [91.8, 92.5] 92.3 [91.6, 92.7] +0.1
====================  ==========================================  =====  ================  ================  ======

What the table says:

* **default**: a student 30 times smaller than its teacher gains about 1.8 points, and the
  seed ranges are far apart. It trains in about 5 seconds per pair of students on 2 cores.
* **unregularized-2x800** is Hinton et al.'s (2015) MNIST case: an over-parameterized student
  with no regularization of its own gains about a point; the soft targets regularize it.
* **few-labels**: when labels are scarce, the teacher turns unlabelled images into training
  signal. (The teacher itself was trained on all 3,500 labels, so this measures what the
  teacher's labels are worth, not a free lunch.)
* **cnn-teacher**: a *more accurate* teacher of another architecture teaches the same 1x100
  student less than the MLP teacher does: accuracy is not all that makes a good teacher
  (Cho & Hariharan 2019 report the same on ImageNet).
* **tiny-student**: 30 hidden units cannot follow the teacher; distillation neither helps nor
  hurts beyond the seed noise.

Two things found on the way: small students distilled for only 20 epochs came out *worse*
than their label-only twins (1.5 to 2 points, two seeds; distillation converges more slowly
for them, so every small-student setting trains for 60 epochs); and for the 2x800 student a
larger learning rate (3e-3) shrank the gain to within the seed noise.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from . import data as kdata
from . import models
from .losses import IGNORE_INDEX
from .teachers import TEACHERS, load_teacher
from .training import DEFAULT_THREADS, accuracy, distill, evaluate, fit, predict_logits, seed_everything

__all__ = ["SETTINGS", "DEFAULT", "labelled_subset", "train_pair", "run_setting", "teaser", "sweep", "summarize"]


#: Each setting: a teacher, a student, what the student may see, and how it is trained.
#: ``labels``: how many training labels the student gets (None: all); the rest of the
#: training split is an unlabelled transfer set that only the teacher can label.
SETTINGS: dict[str, dict] = {
    "default": {
        "summary": "2x1200 MLP teacher -> 1x100 MLP student (30x fewer parameters)",
        "teacher": "mlp-mnist",
        "student": {"kind": "mlp", "hidden": [100]},
        "labels": None,
        "T": 4.0, "alpha": 0.9, "epochs": 60, "lr": 2e-3, "batch_size": 256,
    },
    "unregularized-2x800": {
        "summary": "CNN teacher -> 2x800 MLP without regularization (Hinton's MNIST case)",
        "teacher": "cnn-mnist",
        "student": {"kind": "mlp", "hidden": [800, 800]},
        "labels": None,
        "T": 8.0, "alpha": 0.9, "epochs": 20, "lr": 2e-3, "batch_size": 256,
    },
    "few-labels": {
        "summary": "CNN teacher -> 2x800 MLP with 300 labels; the teacher labels the rest",
        "teacher": "cnn-mnist",
        "student": {"kind": "mlp", "hidden": [800, 800]},
        "labels": 300,
        "T": 4.0, "alpha": 0.9, "epochs": 20, "lr": 2e-3, "batch_size": 256,
    },
    "cnn-teacher": {
        "summary": "CNN teacher (more accurate, other architecture) -> 1x100 MLP",
        "teacher": "cnn-mnist",
        "student": {"kind": "mlp", "hidden": [100]},
        "labels": None,
        "T": 4.0, "alpha": 0.9, "epochs": 60, "lr": 2e-3, "batch_size": 256,
    },
    "tiny-student": {
        "summary": "2x1200 MLP teacher -> 1x30 MLP (too small to follow the teacher)",
        "teacher": "mlp-mnist",
        "student": {"kind": "mlp", "hidden": [30]},
        "labels": None,
        "T": 4.0, "alpha": 0.9, "epochs": 60, "lr": 2e-3, "batch_size": 256,
    },
}
DEFAULT = SETTINGS["default"]


def labelled_subset(y: torch.Tensor, n: int | None, seed: int = 0) -> torch.Tensor:
    """Copy of ``y`` keeping ``n`` class-balanced labels; the rest become IGNORE_INDEX."""
    if n is None or n >= len(y):
        return y.clone()
    keep = torch.from_numpy(kdata.stratified_split(y.numpy(), (n,), seed)[0])
    out = torch.full_like(y, IGNORE_INDEX)
    out[keep] = y[keep]
    return out


def train_pair(setting: dict | str = "default", seed: int = 0, dataset: kdata.Dataset | None = None,
               teacher_logits: torch.Tensor | None = None, progress: bool = False, threads: int | None = DEFAULT_THREADS,
               **overrides):
    """Train the student alone and distilled, from the same initial weights.

    Returns ``(alone, distilled, spec)``: two trained models and the setting used.
    ``overrides`` replace fields of the setting (e.g. ``T=4``). Pass ``teacher_logits`` for
    ``dataset.train.X`` to share one teacher pass between runs; otherwise it is computed here.
    ``threads`` is torch's thread count for the run (see :func:`kdnb.training.seed_everything`).
    """
    spec = dict(SETTINGS[setting] if isinstance(setting, str) else setting, **overrides)
    ds = dataset or kdata.load_mnist_subset()
    if teacher_logits is None:
        teacher_logits = predict_logits(load_teacher(spec["teacher"]), ds.train.X)
    y = labelled_subset(ds.train.y, spec["labels"], seed)
    labelled = y != IGNORE_INDEX
    common = {"lr": spec["lr"], "batch_size": spec["batch_size"], "seed": seed, "progress": progress}

    seed_everything(seed, threads)
    alone = models.build(spec["student"], in_shape=ds.image_shape)
    distilled = copy.deepcopy(alone)  # the same initial weights
    # With few labels the label-only student gets as many gradient steps as the distilled one.
    alone_epochs = max(1, round(spec["epochs"] * len(y) / int(labelled.sum())))
    fit(alone, kdata.Split(ds.train.X[labelled], y[labelled]), epochs=alone_epochs, desc="student alone", **common)
    distill(distilled, kdata.Split(ds.train.X, y), teacher_logits=teacher_logits, T=spec["T"], alpha=spec["alpha"],
            epochs=spec["epochs"], desc="distilled student", **common)
    return alone, distilled, spec


def run_setting(setting: dict | str = "default", seed: int = 0, dataset: kdata.Dataset | None = None,
                teacher_logits: torch.Tensor | None = None, progress: bool = False, threads: int | None = DEFAULT_THREADS,
                **overrides) -> dict:
    """:func:`train_pair`, then the val and test accuracy of both students, as one row."""
    ds = dataset or kdata.load_mnist_subset()
    start = time.perf_counter()
    alone, distilled, spec = train_pair(setting, seed, ds, teacher_logits, progress, threads, **overrides)
    seconds = time.perf_counter() - start
    alone_test, kd_test = accuracy(alone, ds.test), accuracy(distilled, ds.test)
    return {
        "seed": seed, "T": spec["T"], "alpha": spec["alpha"], "student": models.describe(spec["student"]),
        "alone_test": alone_test, "kd_test": kd_test, "gain": kd_test - alone_test,
        "alone_val": accuracy(alone, ds.val), "kd_val": accuracy(distilled, ds.val), "seconds": seconds,
    }


def teaser(seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """The first notebook's table: the shipped teacher, the student alone, the distilled student.

    The columns of :func:`kdnb.training.evaluate`: test accuracy, parameters, bytes, and the
    latency of one image and of a batch, measured on this CPU.
    """
    ds = kdata.load_mnist_subset()
    teacher = load_teacher(DEFAULT["teacher"])
    alone, distilled, spec = train_pair("default", seed, ds, predict_logits(teacher, ds.train.X), progress)
    return evaluate({f"teacher ({models.describe(TEACHERS[DEFAULT['teacher']]['model'])})": teacher,
                     f"student alone ({models.describe(spec['student'])})": alone,
                     f"distilled student (T={spec['T']:g}, alpha={spec['alpha']:g})": distilled}, ds.test)


def sweep(names=None, seeds=(0, 1, 2), progress: bool = True, **overrides) -> pd.DataFrame:
    """Run settings over seeds; one row per (setting, seed)."""
    from tqdm.auto import tqdm

    ds = kdata.load_mnist_subset()
    names = list(names or SETTINGS)
    rows, logits = [], {}
    jobs = [(n, s) for n in names for s in seeds]
    for name, seed in tqdm(jobs, desc="settings x seeds", disable=not progress):
        tname = SETTINGS[name]["teacher"]
        if tname not in logits:
            logits[tname] = predict_logits(load_teacher(tname), ds.train.X)
        rows.append({"setting": name, **run_setting(name, seed, ds, logits[tname], **overrides)})
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, min and max of student-alone and distilled test accuracy per setting (in %)."""
    g = results.groupby("setting", sort=False)
    out = pd.DataFrame({
        "seeds": g.size(),
        "alone_mean": g.alone_test.mean() * 100, "alone_min": g.alone_test.min() * 100, "alone_max": g.alone_test.max() * 100,
        "kd_mean": g.kd_test.mean() * 100, "kd_min": g.kd_test.min() * 100, "kd_max": g.kd_test.max() * 100,
        "gain_mean": g.gain.mean() * 100,
    })
    out["ranges_overlap"] = (out.kd_min <= out.alone_max) & (out.alone_min <= out.kd_max)
    return out.round(2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.recipe", description="measure the distillation settings over seeds")
    parser.add_argument("names", nargs="*", help=f"settings (default: all of {sorted(SETTINGS)})")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--T", type=float, nargs="+", default=None, help="sweep these temperatures instead of each setting's own")
    parser.add_argument("--out", default=None, help="CSV to write (default: data/results/settings.csv)")
    args = parser.parse_args(argv)
    if args.T:
        results = pd.concat([sweep(args.names or None, args.seeds, T=T) for T in args.T], ignore_index=True)
    else:
        results = sweep(args.names or None, args.seeds)
    out = Path(args.out) if args.out else Path(__file__).resolve().parents[1] / "data" / "results" / "settings.csv"
    from ._io import atomic_write_text

    atomic_write_text(out, results.round(4).to_csv(index=False))
    print(summarize(results).to_string())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
