"""What distillation is, what it costs, and where it sits among the compression methods.

The computations behind notebook 01:

* :func:`kdnb.training.evaluate` measures models the way a compressed model is judged (seed
  question 003-8): test accuracy, parameters, bytes and latency, and :func:`ratios` turns that into
  "how much smaller, how much faster, how many points lost".
* :func:`families` is the table of compression families (003-2, 000-7): knowledge
  distillation (知识蒸馏), pruning (剪枝), quantization (量化), low-rank factorization and
  efficient architectures. Only the KD row is measured here; the others are measured in
  notebook 06 and cited from their papers.
* :func:`epoch_seconds` times one epoch of plain training, of distillation from cached
  teacher logits, and of distillation that runs the teacher at every step (003-7).
* :func:`side_by_side` runs the seeds' "teacher and student trained side by side on hard
  labels" loop (000-4/5) and shows that the student learns nothing from the teacher.
* :func:`transfer_run` distils across a change of input (001-1, 003-24): the teacher sees
  the full 28x28 images, the student only a 14x14 version of the same images.

Recompute the transfer table with ``python -m kdnb.compression`` (about a minute on 2 cores);
it writes ``data/results/intro_transfer.csv``.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from . import data as kdata
from . import models
from .losses import IGNORE_INDEX
from .recipe import labelled_subset, run_setting
from .training import accuracy, distill, evaluate, fit, predict_logits, seed_everything

__all__ = ["ratios", "pair_run", "families", "epoch_seconds", "side_by_side",
           "downsample", "transfer_run", "transfer_sweep", "transfer_summary", "RESULTS", "TRANSFER_CSV",
           "transfer_view", "transfer_widget"]

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"
TRANSFER_CSV = RESULTS / "intro_transfer.csv"


# ------------------------------------------------------------------ evaluation (003-8)
def ratios(table: pd.DataFrame, reference: int = 0) -> pd.DataFrame:
    """Each model against the reference row (the teacher): times smaller, times faster, points lost."""
    ref = table.iloc[reference]
    lat = [c for c in table.columns if c.startswith("latency")]
    out = pd.DataFrame(index=table.index)
    out["times fewer parameters"] = ref["parameters"] / table["parameters"]
    out["times fewer bytes"] = ref["bytes"] / table["bytes"]
    for c in lat:
        out["speed-up, " + c.split(", ")[1].replace(" (ms)", "")] = ref[c] / table[c]
    out["accuracy lost (points)"] = ref["test accuracy (%)"] - table["test accuracy (%)"]
    return out


def pair_run(setting: str, seed: int, ds: kdata.Dataset, teacher_logits: torch.Tensor, threads: int | None = 1) -> dict:
    """One seed of a shipped setting (:data:`kdnb.recipe.SETTINGS`): test accuracy alone vs distilled.

    :func:`kdnb.recipe.run_setting` with one thread by default, so that a live re-run stays
    fast when the machine is busy.
    """
    row = run_setting(setting, seed, ds, teacher_logits, threads=threads)
    return {"setting": setting, "seed": seed, "alone_test": row["alone_test"], "kd_test": row["kd_test"]}


# ------------------------------------------------------------------ families (003-2, 000-7)
def families(kd: dict | None = None) -> pd.DataFrame:
    """The five families of model compression, side by side (003-2, 000-7, 003-30, 002-Q1).

    ``kd`` fills the KD row's "gain here" with what was measured in this notebook, e.g.
    ``{"smaller": 30.2, "faster": 5.1, "points lost": 1.8}``.
    Sources: Hinton et al. 2015 (KD); Han et al. 2015, 2016 (pruning, Deep Compression);
    Jacob et al. 2018 (integer quantization); Denton et al. 2014, Jaderberg et al. 2014
    (low-rank); Howard et al. 2017 (MobileNets).
    """
    kd_gain = "not measured"
    if kd:
        kd_gain = (f"measured here: {kd['smaller']:.0f}x fewer parameters, {kd['faster']:.1f}x faster per image, "
                   f"{kd['points lost']:.1f} points below the teacher")
    rows = [
        ("knowledge distillation (知识蒸馏)", "a new, smaller model is trained to match the teacher's soft targets",
         "yes: KD *is* training the student", kd_gain,
         "a trained teacher, a transfer set (labels optional), a student architecture", "Hinton et al. 2015"),
        ("pruning (剪枝)", "weights, neurons or channels are removed (set to zero or cut out)",
         "yes, fine-tune with masks kept, often prune-retrain in rounds",
         "measured in notebook 06; 9-13x fewer weights on AlexNet/VGG-16 with no accuracy loss (paper)",
         "the trained model, data to fine-tune; speed needs structured pruning or sparse kernels",
         "Han et al. 2015"),
        ("quantization (量化)", "numbers are stored and computed in fewer bits (float32 -> int8)",
         "post-training works; quantization-aware training recovers more",
         "measured in notebook 06; 4x smaller at int8 by construction",
         "integer kernels on the target hardware, a little calibration data", "Jacob et al. 2018"),
        ("low-rank factorization", "a weight matrix or filter bank is replaced by a product of thin factors",
         "usually a fine-tune after the factorization",
         "measured in notebook 06; about 2x speed-ups on conv layers with <1 point loss (papers)",
         "the trained model; layers whose weights are close to low rank",
         "Denton et al. 2014; Jaderberg et al. 2014"),
        ("efficient architectures", "the network is designed small (e.g. depthwise separable convolutions)",
         "trained from scratch (and can also be a KD student)",
         "measured in notebook 06; MobileNet: 27x fewer multiply-adds than VGG-16, 0.9 points lower ImageNet top-1 (paper)",
         "architecture design or search; data to train", "Howard et al. 2017"),
        ("Deep Compression (a pipeline, not a family)", "pruning + trained quantization + Huffman coding",
         "yes, retrains after pruning and while sharing weights", "35x (AlexNet) and 49x (VGG-16) smaller storage (paper)",
         "the trained model and its training data", "Han et al. 2016"),
    ]
    return pd.DataFrame(rows, columns=["family", "what changes", "needs retraining?", "typical gain",
                                       "what you need", "source"]).set_index("family")


# ------------------------------------------------------------------ cost of the teacher (003-7)
def epoch_seconds(students: dict[str, dict], teacher, train: kdata.Split, epochs: int = 1, batch_size: int = 128) -> pd.DataFrame:
    """Seconds per epoch of plain training and of two ways of distilling, per student (003-7).

    ``students`` maps a name to a model config. "cached": the teacher's logits on the
    (un-augmented) training set are computed once, before training (that one-off cost is the
    column ``"teacher pass, once"``); "teacher every step": the frozen teacher runs on each
    batch, as it must when inputs are augmented. Each mode first takes one warm-up step; the
    median of ``epochs`` timed epochs is reported. The last two columns are the factors.
    """
    teacher.eval()
    start = time.perf_counter()
    cache = predict_logits(teacher, train.X)
    once = time.perf_counter() - start
    runs = {  # each returns the per-epoch history, whose "seconds" column is the timing
        "plain": lambda m, data, e, seed: fit(m, data, epochs=e, batch_size=batch_size, seed=seed, progress=False),
        "cached": lambda m, data, e, seed: distill(m, data, teacher_logits=cache[: len(data)], epochs=e,
                                                   batch_size=batch_size, seed=seed, progress=False),
        "teacher every step": lambda m, data, e, seed: distill(m, data, teacher=teacher, cache_teacher=False, epochs=e,
                                                               batch_size=batch_size, seed=seed, progress=False),
    }
    rows = {}
    for name, config in students.items():
        row = {"teacher pass, once": once}
        for mode, run in runs.items():
            seed_everything(0, threads=None)
            student = models.build(config, in_shape=tuple(train.X.shape[1:]))
            run(student, train.subset(range(batch_size)), 1, 0)  # warm-up
            row[mode] = float(np.median(run(student, train, epochs, 0)["seconds"]))
        rows[name] = row
    t = pd.DataFrame(rows).T
    t["KD (teacher every step) / KD (cached)"] = t["teacher every step"] / t["cached"]
    t["KD (cached) / plain"] = t["cached"] / t["plain"]
    return t


# ------------------------------------------------------------------ the side-by-side trap (000-4/5)
def side_by_side(train: kdata.Split, student_config: dict | None = None, teacher_config: dict | None = None,
                 epochs: int = 2, batch_size: int = 128, seed: int = 0, threads: int | None = 1) -> dict:
    """The seeds' "distillation" loop (000-4/5), and the same student trained alone.

    The loop trains a teacher and a student at the same time, each with cross-entropy on the
    hard labels. Nothing of the teacher enters the student's loss, so the student comes out
    bit-for-bit the same as a student trained alone from the same initial weights on the same
    batches. Returns both students, the teacher, and an autograd check: the gradient of the
    student's loss with respect to the teacher's outputs (``None``: they are not in its graph).
    """
    student_config = student_config or {"kind": "mlp", "hidden": [100]}
    teacher_config = teacher_config or {"kind": "mlp", "hidden": [400, 400]}
    shape = tuple(train.X.shape[1:])
    seed_everything(seed, threads)
    student0 = models.build(student_config, in_shape=shape)
    teacher = models.build(teacher_config, in_shape=shape)

    def batches(epoch):
        return torch.randperm(len(train), generator=torch.Generator().manual_seed(seed * 1000 + epoch)).split(batch_size)

    # the seeds' loop: both models trained together, both on the labels
    student = copy.deepcopy(student0)
    opt_s = torch.optim.Adam(student.parameters(), lr=1e-3)
    opt_t = torch.optim.Adam(teacher.parameters(), lr=1e-3)
    grad_wrt_teacher = "not checked"
    for epoch in range(epochs):
        for idx in batches(epoch):
            xb, yb = train.X[idx], train.y[idx]
            teacher_out = teacher(xb)
            student_out = student(xb)
            teacher_loss = F.cross_entropy(teacher_out, yb)
            student_loss = F.cross_entropy(student_out, yb)
            if grad_wrt_teacher == "not checked":
                grad_wrt_teacher = torch.autograd.grad(student_loss, teacher_out, retain_graph=True, allow_unused=True)[0]
            opt_t.zero_grad()
            teacher_loss.backward()
            opt_t.step()
            opt_s.zero_grad()
            student_loss.backward()
            opt_s.step()

    # the same student, alone: same start, same batches, no teacher anywhere
    alone = copy.deepcopy(student0)
    opt = torch.optim.Adam(alone.parameters(), lr=1e-3)
    for epoch in range(epochs):
        for idx in batches(epoch):
            loss = F.cross_entropy(alone(train.X[idx]), train.y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    identical = all(torch.equal(a, b) for a, b in zip(student.state_dict().values(), alone.state_dict().values()))
    return {"student side by side": student, "student alone": alone, "teacher": teacher,
            "identical weights": identical, "grad of student loss wrt teacher outputs": grad_wrt_teacher}


# ------------------------------------------------------------------ transfer across inputs (001-1, 003-24)
def downsample(X: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Average-pool images by ``factor`` (28x28 -> 14x14): the student's cheaper view of the data."""
    return F.avg_pool2d(X, factor)


def transfer_run(ds: kdata.Dataset, teacher_logits: torch.Tensor, labels: int | None = None, seed: int = 0,
                 student_config: dict | None = None, T: float = 4.0, alpha: float = 0.9, epochs: int = 60,
                 lr: float = 2e-3, batch_size: int = 256, threads: int | None = 2) -> dict:
    """Cross-resolution distillation (as in Gupta et al. 2016's supervision transfer, on paired inputs).

    The teacher's logits come from the full 28x28 training images; the student sees only
    14x14 versions of the same images, with ``labels`` of them labelled (None: all). The same
    student (same initial weights) is trained on the labels alone, and distilled. Returns test
    accuracies (the test images are downsampled too).
    """
    student_config = student_config or {"kind": "mlp", "hidden": [100]}
    Xs = downsample(ds.train.X)
    y = labelled_subset(ds.train.y, labels, seed)
    lab = y != IGNORE_INDEX
    test = kdata.Split(downsample(ds.test.X), ds.test.y)
    seed_everything(seed, threads)
    alone = models.build(student_config, in_shape=tuple(Xs.shape[1:]))
    kd = copy.deepcopy(alone)
    common = {"lr": lr, "batch_size": batch_size, "seed": seed, "progress": False}
    alone_epochs = max(1, round(epochs * len(y) / int(lab.sum())))  # as many steps as the distilled student
    fit(alone, kdata.Split(Xs[lab], y[lab]), epochs=alone_epochs, **common)
    distill(kd, kdata.Split(Xs, y), teacher_logits=teacher_logits, T=T, alpha=alpha, epochs=epochs, **common)
    return {"labels": int(lab.sum()), "seed": seed, "alone_test": accuracy(alone, test), "kd_test": accuracy(kd, test)}


def transfer_sweep(label_counts=(100, 300, 1000, 3500), seeds=(0, 1, 2, 3, 4), teacher_name: str = "mlp-mnist",
                   progress: bool = True, threads: int | None = 1) -> pd.DataFrame:
    """:func:`transfer_run` over label counts and seeds; one row per run.

    One torch thread by default: on a 2-core machine shared with other jobs, two threads per
    run were measured 20 times slower than one (threads wait for each other).
    """
    from tqdm.auto import tqdm

    from .teachers import load_teacher

    ds = kdata.load_mnist_subset()
    logits = predict_logits(load_teacher(teacher_name), ds.train.X)
    rows = []
    for n in tqdm([(n, s) for n in label_counts for s in seeds], desc="labels x seeds", disable=not progress):
        rows.append({"teacher": teacher_name, **transfer_run(ds, logits, n[0], n[1], threads=threads)})
    out = pd.DataFrame(rows)
    out["gain"] = out.kd_test - out.alone_test
    return out


def transfer_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, min and max test accuracy (%) per label count, alone vs distilled."""
    g = results.groupby("labels")
    out = pd.DataFrame({"seeds": g.size(),
                        "alone_mean": 100 * g.alone_test.mean(), "alone_min": 100 * g.alone_test.min(),
                        "alone_max": 100 * g.alone_test.max(),
                        "kd_mean": 100 * g.kd_test.mean(), "kd_min": 100 * g.kd_test.min(), "kd_max": 100 * g.kd_test.max()})
    out["gain_mean"] = out.kd_mean - out.alone_mean
    out["ranges_overlap"] = (out.kd_min <= out.alone_max) & (out.alone_min <= out.kd_max)
    return out.round(2)


def transfer_view(summary: pd.DataFrame, labels: int | None = None, figsize=(7, 4.2)):
    """The transfer figure and its update function: ``update(labels)`` moves the bars in place."""
    from .plots import transfer_bars

    return transfer_bars(summary, labels if labels is not None else int(summary.index[0]), figsize=figsize)


def transfer_widget(summary: pd.DataFrame, figsize=(7, 4.2)):
    """Try it: a slider over the number of labels the student gets; bars read the stored results.

    Returns the widget (a ``VBox``); ``widget.slider`` and ``widget.update`` let a test drive it.
    The callback only looks numbers up: no training happens here.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import clear_output, display

    counts = [int(n) for n in summary.index]
    fig, update = transfer_view(summary, counts[0], figsize)
    plt.close(fig)
    slider = w.SelectionSlider(options=counts, value=counts[0], description="labels", continuous_update=True,
                               layout=w.Layout(width="420px"))
    out = w.Output()

    def redraw(labels):
        info = update(labels)
        with out:
            clear_output(wait=True)
            display(fig)
        return info

    slider.observe(lambda change: redraw(change["new"]), names="value")
    box = w.VBox([slider, out])
    box.slider, box.update, box.fig = slider, redraw, fig
    redraw(counts[0])
    return box


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.compression", description="the transfer table of notebook 01")
    parser.add_argument("--labels", type=int, nargs="+", default=[100, 300, 1000, 3500])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--teacher", default="mlp-mnist")
    parser.add_argument("--out", default=str(TRANSFER_CSV))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = transfer_sweep(args.labels, args.seeds, args.teacher)
    from ._io import atomic_write_text

    atomic_write_text(args.out, results.round(4).to_csv(index=False))
    print(transfer_summary(results).to_string())
    print(f"wrote {args.out} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
