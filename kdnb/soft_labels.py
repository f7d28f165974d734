"""Soft labels (软标签) vs hard labels (硬标签): what a teacher's probabilities carry.

Computations behind notebook 02 (seed questions 003-3, 003-11, 003-25, 000-2):

* the teacher's soft targets ``softmax(v / T)`` next to the one-hot label, and their entropy
  in bits (a one-hot label carries 0 bits beyond the class itself);
* the class-similarity matrix ("dark knowledge", Hinton, Vinyals & Dean 2015): the teacher's
  mean soft probabilities per true class, the digit pairs it finds similar, and the images it
  finds most ambiguous;
* label smoothing (Szegedy et al. 2016) against teacher targets, and a teacher trained with
  label smoothing (Müller, Kornblith & Hinton 2019), whose wrong-class probabilities lose
  their structure;
* Hinton et al.'s "missing class" experiment: digit 3 removed from the transfer set, then
  the 3 bias raised by an amount chosen on the validation split;
* soft targets as a regularizer when only about 3% of the training images are available
  (Hinton et al. 2015 report it for speech).

The longer runs are made by the project script, which writes ``data/results/soft_labels_*.csv``::

    python -m kdnb.soft_labels             # everything (a few minutes on 2 CPU cores)
    python -m kdnb.soft_labels missing     # one part: teachers | missing | few
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from . import data as kdata
from . import models
from ._io import atomic_write_text
from .temperature import entropy, soft_targets
from .training import accuracy, distill, fit, predict_logits, seed_everything

__all__ = [
    "RESULTS", "MISSING", "FEW", "PAPER_MISSING_CLASS", "PAPER_FEW_DATA",
    "teacher_logits", "one_hot", "smoothed_labels", "targets_table", "class_similarity", "similar_pairs",
    "most_ambiguous", "wrong_class_uniformity", "information_table", "structure_stats",
    "drop_class", "raise_bias", "bias_effect", "choose_bias", "bias_curve", "missing_class_run",
    "few_examples_subset", "few_examples_run", "compare_teachers", "chosen_T", "spread", "target_explorer", "update_targets",
    "bias_explorer", "read_results", "main",
]

#: Where the project script writes its tables.
RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"

#: The missing-class run: Hinton's unregularized 2x800 student, taught by the CNN teacher
#: on a transfer set without one digit. T and the schedule are those of the recipe's
#: ``unregularized-2x800`` setting (T chosen there on the validation split).
MISSING = {"teacher": "cnn-mnist", "student": {"kind": "mlp", "hidden": [800, 800]}, "missing": 3,
           "T": 8.0, "alpha": 0.9, "epochs": 20, "lr": 2e-3, "batch_size": 256,
           "bias_grid": (0.0, 12.0, 0.25)}

#: The few-examples run: 105 training images (3% of 3,500, class-balanced), the same 2x800
#: student, hard labels (alpha = 0) or the teacher's soft targets alone (alpha = 1).
FEW = {"teacher": "cnn-mnist", "student": {"kind": "mlp", "hidden": [800, 800]}, "n": 105,
       "T": 4.0, "epochs": 100, "lr": 1e-3, "batch_size": 32, "eval_every": 5}

#: Hinton, Vinyals & Dean 2015, section 3 (MNIST, 10,000 test images, 1,010 of them threes).
PAPER_MISSING_CLASS = {"test images": 10000, "test threes": 1010, "errors without 3s": 206,
                       "threes wrong": 133, "bias raised by": 3.5, "errors after": 109,
                       "threes right after (%)": 98.6}
#: Same paper, section 4 (speech, frame accuracy on the test set with 3% of the training data).
PAPER_FEW_DATA = {"hard targets (%)": 44.5, "soft targets (%)": 57.0, "baseline on 100% (%)": 58.9}


# ------------------------------------------------------------------------------- targets

def teacher_logits(name: str, dataset: kdata.Dataset, splits=("train", "val", "test")) -> dict[str, torch.Tensor]:
    """The frozen teacher's logits on each split, computed once (one forward pass each)."""
    from .teachers import load_teacher

    teacher = load_teacher(name)
    return {s: predict_logits(teacher, getattr(dataset, s).X) for s in splits}


def one_hot(y: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Hard labels as one-hot float vectors: the 硬标签 of 003-11."""
    return F.one_hot(y, num_classes).float()


def smoothed_labels(y: torch.Tensor, eps: float = 0.1, num_classes: int = 10) -> torch.Tensor:
    """Label smoothing (Szegedy et al. 2016): ``(1 - eps) * one_hot + eps / C``.

    The same formula as ``F.cross_entropy(..., label_smoothing=eps)``. Every wrong class gets
    exactly ``eps / C``: no wrong class is "more wrong" than another.
    """
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"eps must be in [0, 1], got {eps}")
    return (1.0 - eps) * one_hot(y, num_classes) + eps / num_classes


def targets_table(logits: torch.Tensor, y: torch.Tensor, index: int, Ts=(1.0, 4.0)) -> pd.DataFrame:
    """One image's hard label and the teacher's soft targets at each T, one column per class (003-3)."""
    rows = {"hard label (one-hot)": one_hot(y[index:index + 1])[0]}
    for T in Ts:
        rows[f"teacher, T={T:g}"] = soft_targets(logits[index:index + 1], T)[0]
    return pd.DataFrame({k: v.numpy() for k, v in rows.items()}).T.rename_axis(columns="class")


def class_similarity(probs: torch.Tensor, y: torch.Tensor, num_classes: int = 10) -> pd.DataFrame:
    """Mean soft probability of each class (columns) over the images of each true class (rows).

    The diagonal is how sure the teacher is; the off-diagonal is the "dark knowledge" of
    Hinton et al. 2015: which digits it thinks each digit resembles.
    """
    M = torch.stack([probs[y == c].mean(0) for c in range(num_classes)])
    return pd.DataFrame(M.numpy(), index=pd.Index(range(num_classes), name="true class"),
                        columns=pd.Index(range(num_classes), name="soft probability of class"))


def similar_pairs(M: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """The ``k`` digit pairs with the largest off-diagonal mass, counted in both directions.

    ``score = (M[a, b] + M[b, a]) / 2``: the mean probability the teacher gives the other
    digit of the pair, averaged over the two directions.
    """
    A = M.to_numpy()
    rows = []
    for a in range(len(A)):
        for b in range(a + 1, len(A)):
            rows.append({"pair": f"{a}-{b}", "a": a, "b": b, "P(b | image of a)": A[a, b],
                         "P(a | image of b)": A[b, a], "score": (A[a, b] + A[b, a]) / 2})
    return pd.DataFrame(rows).sort_values("score", ascending=False).head(k).set_index("pair")


def most_ambiguous(probs: torch.Tensor, y: torch.Tensor, k: int = 8) -> pd.DataFrame:
    """The ``k`` images on which the teacher's distribution has the highest entropy, with its top-2 classes."""
    H = entropy(probs)
    order = H.argsort(descending=True)[:k]
    top = probs[order].topk(2, dim=-1)
    return pd.DataFrame({"index": order.numpy(), "label": y[order].numpy(),
                         "top1": top.indices[:, 0].numpy(), "p_top1": top.values[:, 0].numpy(),
                         "top2": top.indices[:, 1].numpy(), "p_top2": top.values[:, 1].numpy(),
                         "entropy (bits)": H[order].numpy()})


def wrong_class_uniformity(probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per example: entropy of the wrong-class probabilities, renormalized, divided by log2(C - 1).

    1 means the wrong classes share the leftover mass evenly, as label smoothing does; values
    near 0 mean it goes to one or two look-alike classes, as a teacher's soft targets do.
    """
    C = probs.shape[-1]
    mask = torch.ones_like(probs, dtype=torch.bool)
    mask[torch.arange(len(y)), y] = False
    wrong = probs[mask].view(-1, C - 1)
    wrong = wrong / wrong.sum(-1, keepdim=True).clamp_min(1e-30)
    return entropy(wrong) / math.log2(C - 1)


def information_table(targets: dict[str, torch.Tensor], y: torch.Tensor) -> pd.DataFrame:
    """Per kind of target: mean entropy (bits per example), mass on the wrong classes, and how
    uniform that mass is (1 = spread evenly over the wrong classes)."""
    rows = []
    for name, p in targets.items():
        true_p = p[torch.arange(len(y)), y]
        uniform = wrong_class_uniformity(p, y) if (1 - true_p).max() > 0 else torch.full((len(y),), float("nan"))
        rows.append({"target": name, "entropy (bits/example)": entropy(p).mean().item(),
                     "wrong-class mass": (1 - true_p).mean().item(),
                     "wrong-class uniformity (0-1)": uniform.nanmean().item() if uniform.isfinite().any() else float("nan")})
    return pd.DataFrame(rows).set_index("target")


def structure_stats(plain: torch.Tensor, smoothed_teacher: torch.Tensor, y: torch.Tensor, T: float = 4.0) -> dict:
    """How much class structure a label-smoothed teacher keeps, compared with the plain one (Müller et al. 2019).

    Returns the correlation (over the 90 off-diagonal cells, on a log scale) of the two
    class-similarity matrices, and the per-example wrong-class uniformity of each teacher.
    """
    Ma = class_similarity(soft_targets(plain, T), y).to_numpy()
    Mb = class_similarity(soft_targets(smoothed_teacher, T), y).to_numpy()
    off = ~np.eye(len(Ma), dtype=bool)
    return {"T": T,
            "off-diagonal correlation (log scale)": float(np.corrcoef(np.log(Ma[off]), np.log(Mb[off]))[0, 1]),
            "uniformity, plain teacher": wrong_class_uniformity(soft_targets(plain, T), y).mean().item(),
            "uniformity, label-smoothed teacher": wrong_class_uniformity(soft_targets(smoothed_teacher, T), y).mean().item(),
            "off-diagonal spread (max/min), plain": float(Ma[off].max() / Ma[off].min()),
            "off-diagonal spread (max/min), label-smoothed": float(Mb[off].max() / Mb[off].min())}


# ------------------------------------------------------------------------- missing class

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
    do not say how they picked 3.5).
    """
    lo, hi, step = grid or MISSING["bias_grid"]
    deltas = np.arange(lo, hi + step / 2, step)
    accs = [bias_effect(val_logits, val_y, cls, d)["accuracy"] for d in deltas]
    return float(deltas[int(np.argmax(accs))])


def bias_curve(logits: torch.Tensor, y: torch.Tensor, cls: int, deltas) -> pd.DataFrame:
    """:func:`bias_effect` for each bias increase in ``deltas``, one row each."""
    return pd.DataFrame([bias_effect(logits, y, cls, d) for d in deltas]).set_index("delta")


def missing_class_run(seed: int, dataset: kdata.Dataset, t_logits: torch.Tensor, spec: dict | None = None,
                      progress: bool = False) -> tuple[list[dict], dict]:
    """Hinton et al.'s missing-class experiment for one seed.

    Two copies of the student (same initial weights) see the training split without class
    ``spec["missing"]``: one distilled from the teacher (``kd_loss``), one on the hard labels
    alone. For each, the bias increase is chosen on the validation split, then the test split
    is scored with and without it. Returns result rows and the students' val/test logits.
    """
    spec = dict(MISSING, **(spec or {}))
    cls = spec["missing"]
    transfer, keep = drop_class(dataset.train, cls)
    seed_everything(seed)
    kd_student = models.build(spec["student"], in_shape=dataset.image_shape)
    hard_student = copy.deepcopy(kd_student)
    common = {"epochs": spec["epochs"], "lr": spec["lr"], "batch_size": spec["batch_size"], "seed": seed, "progress": progress}
    distill(kd_student, transfer, teacher_logits=t_logits[keep], T=spec["T"], alpha=spec["alpha"], desc="distilled, no 3s", **common)
    fit(hard_student, transfer, desc="hard labels, no 3s", **common)
    rows, logits = [], {}
    for name, model in (("distilled", kd_student), ("hard labels only", hard_student)):
        val, test = predict_logits(model, dataset.val.X), predict_logits(model, dataset.test.X)
        logits[name] = {"val": val, "test": test}
        delta = choose_bias(val, dataset.val.y, cls, spec["bias_grid"])
        before, after = bias_effect(test, dataset.test.y, cls, 0.0), bias_effect(test, dataset.test.y, cls, delta)
        paper = bias_effect(test, dataset.test.y, cls, PAPER_MISSING_CLASS["bias raised by"])
        rows.append({"seed": seed, "student": name, "missing": cls, "T": spec["T"] if name == "distilled" else float("nan"),
                     "test_images": len(dataset.test), "class_total": before["class total"],
                     "errors_before": before["errors"], "class_right_before": before["class right"],
                     "delta_val": delta, "errors_after": after["errors"], "class_right_after": after["class right"],
                     "errors_at_3.5": paper["errors"], "class_right_at_3.5": paper["class right"],
                     "val_acc_before": bias_effect(val, dataset.val.y, cls, 0.0)["accuracy"],
                     "val_acc_after": bias_effect(val, dataset.val.y, cls, delta)["accuracy"]})
    return rows, logits


# ---------------------------------------------------------------------- few examples

def few_examples_subset(y: torch.Tensor, n: int = 105, seed: int = 0) -> torch.Tensor:
    """Indices of ``n`` class-balanced training images (3% of 3,500 is 105)."""
    return torch.from_numpy(kdata.stratified_split(y.numpy(), (n,), seed)[0])


def few_examples_run(seed: int, dataset: kdata.Dataset, t_logits: torch.Tensor, spec: dict | None = None,
                     progress: bool = False) -> tuple[list[dict], pd.DataFrame]:
    """Hard labels vs the teacher's soft targets on a class-balanced ~3% of the training split.

    Both copies of the student start from the same weights and see the same ``n`` images (the
    subset depends on the seed); the teacher was trained on the whole training split. Records,
    every ``eval_every`` epochs, validation accuracy, validation cross-entropy and test accuracy;
    reports the test accuracy after the fixed budget and at the checkpoint with the best
    validation accuracy (early stopping). Hinton et al. 2015 report 44.5% (hard) vs 57.0% (soft) on speech.
    """
    spec = dict(FEW, **(spec or {}))
    idx = few_examples_subset(dataset.train.y, spec["n"], seed)
    small = dataset.train.subset(idx)
    seed_everything(seed)
    hard = models.build(spec["student"], in_shape=dataset.image_shape)
    soft = copy.deepcopy(hard)
    common = {"epochs": spec["epochs"], "lr": spec["lr"], "batch_size": spec["batch_size"], "seed": seed, "progress": progress}
    rows, curves = [], []
    for name, model in (("hard labels", hard), ("soft targets", soft)):
        log, epoch = [], [0]

        def callback(row, model=model, log=log, epoch=epoch):
            epoch[0] += 1
            if epoch[0] % spec["eval_every"] and epoch[0] != spec["epochs"]:
                return  # scoring 1,500 images costs more than an epoch on 105: score every few epochs
            with torch.no_grad():
                val = predict_logits(model, dataset.val.X)
                test = predict_logits(model, dataset.test.X)
            log.append({"epoch": epoch[0], "val_acc": (val.argmax(1) == dataset.val.y).float().mean().item(),
                        "val_ce": F.cross_entropy(val, dataset.val.y).item(),
                        "test_acc": (test.argmax(1) == dataset.test.y).float().mean().item()})

        if name == "hard labels":
            fit(model, small, callback=callback, desc=name, **common)
        else:
            distill(model, small, teacher_logits=t_logits[idx], T=spec["T"], alpha=1.0, callback=callback, desc=name, **common)
        hist = pd.DataFrame(log)
        best = hist.loc[hist["val_acc"].idxmax()]
        rows.append({"seed": seed, "targets": name, "n_train": len(small), "T": spec["T"] if name == "soft targets" else float("nan"),
                     "final_test": hist["test_acc"].iloc[-1], "final_val_ce": hist["val_ce"].iloc[-1],
                     "best_epoch": int(best["epoch"]), "early_stop_test": best["test_acc"], "min_val_ce": hist["val_ce"].min()})
        curves.append(hist.assign(seed=seed, targets=name))
    return rows, pd.concat(curves, ignore_index=True)


# ------------------------------------------------------------- label-smoothed teacher

#: Temperatures tried for each teacher. The label-smoothed teacher's logits are about 4.6 times
#: smaller than the plain teacher's, so the plain teacher needs a higher T for equally soft targets.
TEACHER_TS = (1.0, 2.0, 4.0, 8.0, 20.0)


def compare_teachers(seeds=(0, 1, 2, 3, 4), Ts=TEACHER_TS, setting: str = "cnn-teacher",
                     teachers_=("cnn-mnist", "cnn-mnist-ls"), dataset: kdata.Dataset | None = None,
                     progress: bool = True) -> pd.DataFrame:
    """Distil the same student from the plain and the label-smoothed teacher (Müller et al. 2019).

    Every (teacher, T, seed) runs :func:`kdnb.recipe.run_setting`, so both students start from
    the same weights for a given seed. T should then be chosen per teacher on ``kd_val``.
    """
    from tqdm.auto import tqdm

    from .recipe import SETTINGS, run_setting

    ds = dataset or kdata.load_mnist_subset()
    logits = {name: teacher_logits(name, ds, ("train",))["train"] for name in teachers_}
    jobs = [(t, T, s) for t in teachers_ for T in Ts for s in seeds]
    rows = []
    for name, T, seed in tqdm(jobs, desc="teacher x T x seed", disable=not progress):
        spec = dict(SETTINGS[setting], teacher=name)
        rows.append({"teacher": name, **run_setting(spec, seed, ds, teacher_logits=logits[name], T=T)})
    return pd.DataFrame(rows)


def chosen_T(results: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`compare_teachers` at each teacher's best T by mean **validation** accuracy."""
    best = results.groupby(["teacher", "T"])["kd_val"].mean().groupby("teacher").idxmax()
    keep = results.set_index(["teacher", "T"]).index.isin(best.tolist())
    return results[keep].reset_index(drop=True)


def spread(results: pd.DataFrame, by, columns, scale: float = 100.0) -> pd.DataFrame:
    """Mean, min and max of ``columns`` per group, times ``scale`` (percent by default), for tables over seeds."""
    g = results.groupby(by, sort=False)
    parts = {f"{c} {stat}": getattr(g[c], stat)() * scale for c in columns for stat in ("mean", "min", "max")}
    return pd.DataFrame(parts).assign(seeds=g.size())


# ---------------------------------------------------------------------------- widgets

def update_targets(fig, logits: torch.Tensor, y: torch.Tensor, images: torch.Tensor, index: int, eps: float, T: float) -> dict:
    """Redraw :func:`kdnb.plots.target_vectors` for one image, label-smoothing ``eps`` and temperature ``T``.

    Only bar heights, the image and the texts change. Returns the three target vectors and
    their entropies, so a test (or the reader) can check what is drawn.
    """
    hard = one_hot(y[index:index + 1])[0]
    smooth = smoothed_labels(y[index:index + 1], eps)[0]
    teacher = soft_targets(logits[index:index + 1], T)[0]
    ax_img, ax_bar = fig.axes[0], fig.axes[1]
    ax_img.images[0].set_data(images[index, 0].numpy())
    ax_img.set_title(f"test image {index}, label {int(y[index])}")
    for bars, values in zip(ax_bar.containers, (hard, smooth, teacher)):
        for bar, v in zip(bars, values.tolist()):
            bar.set_height(v)
    state = {"index": index, "eps": eps, "T": T, "hard": hard.numpy(), "smoothed": smooth.numpy(),
             "teacher": teacher.numpy(), "H_smoothed": float(entropy(smooth)), "H_teacher": float(entropy(teacher))}
    bars = ax_bar.containers
    bars[1].set_label(f"label smoothing, eps={eps:.2f}: {state['H_smoothed']:.2f} bits")
    bars[2].set_label(f"teacher, T={T:g}: {state['H_teacher']:.2f} bits")
    ax_bar.legend(loc="upper right", fontsize=10)
    return state


def target_explorer(logits: torch.Tensor, y: torch.Tensor, images: torch.Tensor, indices, eps: float = 0.1,
                    T: float = 4.0, figsize=(11, 3.8)):
    """A widget: one test image, its one-hot label, its label-smoothed label and the teacher's soft target.

    Sliders for ``eps`` and ``T`` and a menu of images. Callbacks only recompute a softmax and
    set bar heights. The returned box has ``.image``, ``.eps``, ``.T`` (set ``.value`` to drive
    it), ``.fig`` and ``.state`` (the vectors last drawn).
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    from . import plots

    indices = [int(i) for i in indices]
    image = w.Dropdown(options=[(f"image {i} (label {int(y[i])})", i) for i in indices], value=indices[0], description="image")
    eps_s = w.FloatSlider(value=eps, min=0.0, max=0.5, step=0.01, description="eps", continuous_update=True)
    T_s = w.FloatSlider(value=T, min=1.0, max=20.0, step=0.5, description="T", continuous_update=True)
    with plt.ioff():
        fig = plots.target_vectors(images[indices[0], 0], figsize=figsize)
    plt.close(fig)  # shown only through the Output below, not again by a later plt.show()
    out = w.Output()
    box = w.VBox([w.HBox([image, eps_s, T_s]), out])
    box.image, box.eps, box.T, box.fig, box.out = image, eps_s, T_s, fig, out

    def redraw(_=None):
        box.state = update_targets(fig, logits, y, images, image.value, eps_s.value, T_s.value)
        with out:
            out.clear_output(wait=True)
            display(fig)

    for control in (image, eps_s, T_s):
        control.observe(redraw, names="value")
    redraw()
    return box


def bias_explorer(curves: dict[str, pd.DataFrame], val_choice: dict[str, float], figsize=(11, 4)):
    """A widget over precomputed :func:`bias_curve` tables: slide the bias increase of the missing class.

    ``curves`` maps a student name to its test bias curve. The slider moves a marker; the
    label reports the threes recognised and the errors at that value (lookups only).
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    from . import plots

    first = next(iter(curves.values()))
    deltas = first.index.to_numpy()
    slider = w.FloatSlider(value=float(deltas[0]), min=float(deltas.min()), max=float(deltas.max()),
                           step=float(deltas[1] - deltas[0]), description="bias +", continuous_update=True)
    with plt.ioff():
        fig = plots.missing_class_bias(curves, val_choice, figsize=figsize)
    plt.close(fig)  # shown only through the Output below, not again by a later plt.show()
    label = w.HTML()
    out = w.Output()
    box = w.VBox([slider, label, out])
    box.slider, box.fig, box.label = slider, fig, label

    def redraw(_=None):
        d = float(deltas[np.abs(deltas - slider.value).argmin()])
        parts = []
        for name, curve in curves.items():
            r = curve.loc[d]
            parts.append(f"{name}: {int(r['class right'])} of {int(r['class total'])} threes right, {int(r['errors'])} errors")
        box.state = {"delta": d, **{name: curve.loc[d].to_dict() for name, curve in curves.items()}}
        label.value = f"bias raised by {d:.2f}: " + "; ".join(parts)
        for line in fig.axes[0].lines + fig.axes[1].lines:
            if line.get_gid() == "marker":
                line.set_xdata([d, d])
        with out:
            out.clear_output(wait=True)
            display(fig)

    slider.observe(redraw, names="value")
    redraw()
    return box


# ------------------------------------------------------------------- project script

def read_results(name: str) -> pd.DataFrame:
    """Read ``data/results/soft_labels_<name>.csv`` (written by ``python -m kdnb.soft_labels``)."""
    path = RESULTS / f"soft_labels_{name}.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; make it with `python -m kdnb.soft_labels`")
    return pd.read_csv(path)


def _write(df: pd.DataFrame, name: str, out: Path) -> Path:
    path = out / f"soft_labels_{name}.csv"
    atomic_write_text(path, df.to_csv(index=False, float_format="%.6g"))
    print(f"wrote {path} ({len(df)} rows)")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.soft_labels", description="the experiments of notebook 02")
    parser.add_argument("parts", nargs="*", help="any of: missing, few, teachers (default: all three)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--T", type=float, nargs="+", default=None,
                        help="teachers part only: run these temperatures and merge them into the existing table")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    parts, out = args.parts or ["missing", "few", "teachers"], Path(args.out)
    unknown = set(parts) - {"missing", "few", "teachers"}
    if unknown:
        parser.error(f"unknown part(s) {sorted(unknown)}; choose from missing, few, teachers")
    from tqdm.auto import tqdm

    ds = kdata.load_mnist_subset()
    start = time.perf_counter()
    if "missing" in parts or "few" in parts:
        t_train = teacher_logits(MISSING["teacher"], ds, ("train",))["train"]
    if "missing" in parts:
        rows, saved = [], []
        for seed in tqdm(args.seeds, desc="missing class (seeds)"):
            r, logits = missing_class_run(seed, ds, t_train)
            rows += r
            if seed == args.seeds[0]:
                for student, by_split in logits.items():
                    for split, z in by_split.items():
                        part = pd.DataFrame(z.numpy(), columns=[f"z{c}" for c in range(z.shape[1])])
                        part.insert(0, "label", getattr(ds, split).y.numpy())
                        part.insert(0, "split", split)
                        part.insert(0, "student", student)
                        part.insert(0, "seed", seed)
                        saved.append(part)
        _write(pd.DataFrame(rows), "missing_class", out)
        _write(pd.concat(saved, ignore_index=True), "missing_class_logits", out)
    if "few" in parts:
        rows, curves = [], []
        for seed in tqdm(args.seeds, desc="few examples (seeds)"):
            r, c = few_examples_run(seed, ds, t_train)
            rows += r
            curves.append(c)
        _write(pd.DataFrame(rows), "few_examples", out)
        _write(pd.concat(curves, ignore_index=True), "few_examples_curves", out)
    if "teachers" in parts:
        Ts = tuple(args.T) if args.T else TEACHER_TS
        table = compare_teachers(seeds=args.seeds, Ts=Ts, dataset=ds)
        old = out / "soft_labels_teachers.csv"
        if args.T and old.exists():  # merge: keep the other temperatures, replace these
            previous = pd.read_csv(old)
            previous = previous[~previous["T"].isin(Ts) | ~previous["seed"].isin(args.seeds)]
            table = pd.concat([previous, table], ignore_index=True).sort_values(["teacher", "T", "seed"], kind="stable")
        _write(table, "teachers", out)
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
