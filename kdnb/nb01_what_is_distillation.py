"""Notebook 01, what is knowledge distillation: its experiments, figures and explorer.

* :func:`side_by_side` runs the seeds' "teacher and student trained side by side on hard
  labels" loop (000-4/5) and shows that the student learns nothing from the teacher.
* :func:`families` is the table of compression families (003-2, 000-7): knowledge
  distillation (知识蒸馏), pruning (剪枝), quantization (量化), low-rank factorization and
  efficient architectures. Only the KD row is measured here; notebook 06 measures the others.
* :func:`epoch_seconds` times one epoch of plain training, of distillation from cached
  teacher logits, and of distillation that runs the teacher at every step, all measured warm;
  :func:`cached_vs_every_step` shows that both ways learn the same thing (003-7).
* :func:`few_labels_table` puts ``few-labels`` (a teacher trained on all 3,500 labels) beside
  ``few-labels-own-teacher`` (a teacher trained on the student's 300): the difference is what
  the labels only the first teacher saw were worth.
* ``check_*``: the checkers of the notebook's exercises (Check yourself 2.1, 3.1, 4.1, 6.1, 7.1);
  each names the usual mistake.
* :data:`TRANSFER` distils across a change of input (001-1, 003-24): the teacher sees the
  full 28x28 images, the student only a 14x14 version of the same images.

Evaluation (accuracy, size, latency, ratios) is core: :mod:`kdnb.evaluation`. Recompute the
transfer table with ``python -m kdnb.nb01_what_is_distillation`` (about two minutes on 2
cores); it writes ``data/results/intro_transfer.csv``.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from . import data as kdata
from . import models, results
from .plots import ALONE, DISTILLED, TEACHER, subplots
from .exercises import Verdict, YourTurn, check, close
from .losses import hard_loss, kd_loss
from .recipe import SETTINGS, grid, summarize
from .teachers import TEACHERS, read_manifest
from .training import accuracy, distill, fit, predict_logits, seed_everything
from .widgets import Explorer, new_figure, slider_layout

__all__ = ["families", "epoch_seconds", "cached_vs_every_step", "side_by_side", "FEW_LABELS",
           "few_labels_table", "check_student_loss", "check_student_kb", "NEEDS_DATA", "check_needs_data",
           "check_leaked_points", "check_best_setting", "TRANSFER", "TRANSFER_LABELS", "transfer_summary",
           "transfer_widget", "transfer_bars", "update_transfer_bars", "plot_transfer", "plot_cost_vs_accuracy",
           "plot_epoch_timing"]


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
        parts = []
        if "smaller" in kd:
            parts.append(f"{kd['smaller']:.0f}x fewer parameters")
        if "faster" in kd:
            parts.append(f"{kd['faster']:.1f}x faster per image")
        if "points lost" in kd:
            parts.append(f"{kd['points lost']:.1f} points below the teacher")
        kd_gain = "measured here: " + ", ".join(parts)
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
def _timed_teacher_pass(teacher, X: torch.Tensor, batch_size: int = 128, repeats: int = 1) -> tuple[torch.Tensor, float]:
    """The teacher's logits on ``X`` and the median seconds of that pass, measured **warm**.

    The first forward pass of a model pays one-off costs (allocating memory, choosing and
    preparing kernels) that no later pass pays; timing it cold would charge them to the cache.
    So one batch runs first, untimed, and then the median of ``repeats`` full passes is reported.
    The pass uses the training batch size, so that it does the same work as the teacher's
    share of a distillation epoch (much larger batches of a CNN can be slower per image: their
    intermediate activations no longer fit in the CPU's caches).
    """
    teacher.eval()
    predict_logits(teacher, X[:batch_size], batch_size)  # warm-up, not timed
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        cache = predict_logits(teacher, X, batch_size)
        times.append(time.perf_counter() - start)
    return cache, float(np.median(times))


def epoch_seconds(students: dict[str, dict], teacher, train: kdata.Split, epochs: int = 1, batch_size: int = 128) -> pd.DataFrame:
    """Seconds per epoch of plain training and of two ways of distilling, per student (003-7).

    ``students`` maps a name to a model config. "cached": the teacher's logits on the
    (un-augmented) training set are computed once, before training (that one-off cost, measured
    warm, is the column ``"teacher pass, once"``); "teacher every step": the frozen teacher runs
    on each batch, as it must when inputs are augmented. Every mode first takes one untimed
    warm-up step; the median of ``epochs`` timed epochs is reported. The last columns are the
    factors, and ``"teacher's share of an epoch"`` (every step minus cached), which should be
    close to the one-off pass: both are one teacher forward pass over the training set.
    """
    cache, once = _timed_teacher_pass(teacher, train.X, batch_size)
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
    t["teacher's share of an epoch"] = t["teacher every step"] - t["cached"]
    t["KD (teacher every step) / KD (cached)"] = t["teacher every step"] / t["cached"]
    t["KD (cached) / plain"] = t["cached"] / t["plain"]
    return t


def cached_vs_every_step(teacher, student_config: dict, train: kdata.Split, test: kdata.Split, epochs: int = 3,
                         batch_size: int = 128, lr: float = 2e-3, T: float = 4.0, alpha: float = 0.9, seed: int = 0) -> dict:
    """The same student distilled twice from the same initial weights and batches (003-7).

    Once from the teacher's logits cached before training, once with the teacher run on every
    batch. Without augmentation the teacher sees the same images either way, so the two runs
    learn the same thing: their test accuracies agree (up to float error: a batch of 128 and a
    batch of 1,000 may be summed in a different order, so the logits differ in their last bits).
    Returns the seconds of each run (the cached one includes its one-off teacher pass), both
    test accuracies (%), the largest difference between the cached and the per-batch teacher
    logits, and the speed ratio.
    """
    cache, once = _timed_teacher_pass(teacher, train.X, batch_size)
    seed_everything(seed, threads=None)
    init = models.build(student_config, in_shape=tuple(train.X.shape[1:]))
    out = {"teacher pass, once (s)": once}
    for mode, kw in (("cached", {"teacher_logits": cache}), ("every step", {"teacher": teacher, "cache_teacher": False})):
        student = copy.deepcopy(init)
        distill(student, train.subset(range(batch_size)), epochs=1, batch_size=batch_size, progress=False,
                **({"teacher_logits": cache[:batch_size]} if mode == "cached" else kw))  # warm-up, discarded
        student = copy.deepcopy(init)
        hist = distill(student, train, T=T, alpha=alpha, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                       progress=False, **kw)
        out[f"{mode}: seconds"] = float(hist["seconds"].sum()) + (once if mode == "cached" else 0.0)
        out[f"{mode}: test accuracy (%)"] = 100 * accuracy(student, test)
    with torch.no_grad():
        per_batch = torch.cat([teacher(xb) for xb in train.X.split(batch_size)])
    out["largest logit difference, cached vs per batch"] = (per_batch - cache).abs().max().item()
    out["accuracy difference (points)"] = out["cached: test accuracy (%)"] - out["every step: test accuracy (%)"]
    out["every step / cached (time)"] = out["every step: seconds"] / out["cached: seconds"]
    out["epochs"] = epochs
    return out


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
#: The transfer setting (001-1, 003-24): the 2x1200 MLP teacher sees 28x28 images, the 1x100
#: student only their 14x14 version; how many of the 3,500 training images keep their label varies.
TRANSFER = {"summary": "2x1200 MLP teacher on 28x28 -> 1x100 MLP on 14x14", "teacher": "mlp-mnist",
            "student": {"kind": "mlp", "hidden": [100]}, "view": "14x14", "labels": None,
            "T": 4.0, "alpha": 0.9, "epochs": 60, "lr": 2e-3, "batch_size": 256}
TRANSFER_LABELS = (100, 300, 1000, 3500)


def transfer_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, min and max test accuracy (%) per label count, alone vs distilled (:func:`kdnb.recipe.summarize`)."""
    return summarize(results, by="labels")


def transfer_widget(summary: pd.DataFrame, figsize=(7.5, 4.5)) -> Explorer:
    """Try it: a slider over the number of labels the student gets; the bars read the stored results.

    The callback only looks numbers up; nothing trains. ``explorer.controls["labels"].value = 300``
    drives it; ``explorer.state`` holds what it shows.
    """
    import ipywidgets as w

    fig = new_figure(figsize)
    counts = [int(n) for n in summary.index]
    artists = transfer_bars(summary, ax=fig.add_subplot())
    fig.tight_layout()
    slider = w.SelectionSlider(options=counts, value=counts[0], description="labels", continuous_update=True,
                               layout=slider_layout())
    return Explorer(fig, {"labels": slider}, lambda labels: update_transfer_bars(artists, summary, labels),
                    lambda: artists["dynamic"])


# ------------------------------------------------------------------ few labels: what the teacher already knew
#: The two few-labels settings of :data:`kdnb.recipe.SETTINGS`: the same 300 labelled images and
#: the same student; only the teacher differs (trained on all 3,500 labels, or on those 300).
FEW_LABELS = ("few-labels", "few-labels-own-teacher")


def few_labels_table(results: pd.DataFrame) -> pd.DataFrame:
    """``few-labels`` beside ``few-labels-own-teacher``: which labels each teacher saw, its test
    accuracy (from the teachers' manifest), the T used, and the students' mean test accuracy (%) over seeds.

    The student alone is the same in both rows (same labelled images, same seeds); the
    difference between the two gains is what the labels only the first teacher saw were worth.
    """
    summary = summarize(results[results["setting"].isin(FEW_LABELS)])
    manifest = read_manifest()
    rows = {}
    for name in FEW_LABELS:
        if name not in summary.index:
            continue
        spec = SETTINGS[name]
        teacher = TEACHERS[spec["teacher"]]
        n = teacher.get("labels", {}).get("n")
        rows[name] = {"teacher": spec["teacher"],
                      "teacher trained on": f"the student's {n} labelled images" if n else "all 3,500 training labels",
                      "teacher test accuracy (%)": round(100 * manifest[spec["teacher"]]["test_accuracy"], 1),
                      "student labels": spec["labels"],
                      "T (chosen on validation)": float(results.loc[results["setting"] == name, "T"].iloc[0]),
                      "alone (%)": summary.loc[name, "alone_mean"], "distilled (%)": summary.loc[name, "kd_mean"],
                      "gain (points)": summary.loc[name, "gain_mean"],
                      "seed ranges overlap": bool(summary.loc[name, "ranges_overlap"])}
    return pd.DataFrame(rows).T.infer_objects()


# ------------------------------------------------------------------ Check yourself (exercises)
def check_student_loss(student_loss) -> Verdict:
    """Check yourself 2.1: ``student_loss(student_out, teacher_out, y)`` lets the teacher reach the student.

    Right: the loss of Hinton et al. (2015) used by :func:`kdnb.losses.kd_loss` at T = 4 and
    alpha = 0.9, ``(1 - alpha) * CE(y, softmax(z)) + alpha * T^2 * KL(softmax(v/T) || softmax(z/T))``,
    with no gradient flowing into the teacher's logits. The diagnosis names the usual mistakes:
    cross-entropy on the labels only (the teacher never reaches the student), teacher logits
    not detached, the KL's sign flipped (the student is pushed *away* from the teacher), the
    T^2 factor missing, or a KL averaged over classes instead of over the batch.
    """
    T, alpha = 4.0, 0.9
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(8, 10, generator=gen)
    v1, v2 = 3 * torch.randn(8, 10, generator=gen), 3 * torch.randn(8, 10, generator=gen)
    y = torch.randint(0, 10, (8,), generator=gen)

    def diagnose(fn):
        if not callable(fn):
            return f"student_loss should be a function of (student_out, teacher_out, y), got {type(fn).__name__}"
        zz, vv = z.clone().requires_grad_(True), v1.clone().requires_grad_(True)
        loss = fn(zz, vv, y)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            return "return one number: a scalar tensor (average over the batch), not a list or a tensor per example"
        if not torch.isfinite(loss):
            return f"the loss is {loss.item()}: check the logs (use F.log_softmax, not log(softmax))"
        g_z, g_v = torch.autograd.grad(loss.reshape(()), (zz, vv), allow_unused=True)
        if g_z is None:
            return "the loss does not depend on the student's outputs: nothing would train"
        if g_v is not None and g_v.abs().max() > 0:
            return ("gradients reach the teacher: detach its logits (teacher_out.detach(), or compute them under "
                    "torch.no_grad()); the teacher is frozen")
        z2 = z.clone().requires_grad_(True)
        g_z2, = torch.autograd.grad(fn(z2, v2, y).reshape(()), z2)
        if torch.allclose(g_z, g_z2):
            return ("no teacher output reaches the student: swapping the teacher leaves the student's gradient "
                    "unchanged (cross-entropy on the labels alone is not distillation)")
        p = torch.softmax(v1 / T, 1)

        def kl_to_teacher(s):
            return (p * (torch.log(p) - torch.log_softmax(s / T, 1))).sum(1).mean()

        if kl_to_teacher(z - 0.5 * g_z) > kl_to_teacher(z):
            return ("a step down your loss moves the student *away* from the teacher: the KL's sign is flipped "
                    "(KL(p || q) = sum p (log p - log q))")
        want = kd_loss(z, v1, y, T=T, alpha=alpha).item()
        got = loss.item()
        if close(got, want, rel=1e-4):
            return None
        hard = (1 - alpha) * hard_loss(z, y).item()
        soft = want - hard
        if close(got, hard + soft / T**2, rel=1e-4):
            return "the T² factor is missing: multiply the soft term by T**2 (its gradient shrinks as 1/T² otherwise)"
        if close(got, hard + soft / 10, rel=1e-4) or close(got, hard + soft / (10 * T**2), rel=1e-4):
            return ("the KL is averaged over classes as well as examples: use reduction='batchmean' "
                    "(sum over classes, mean over the batch)")
        if close(got, hard / (1 - alpha) * alpha + soft / alpha * (1 - alpha), rel=1e-4):
            return "alpha and 1 - alpha are swapped: here alpha = 0.9 weights the soft (teacher) term"
        return (f"the teacher reaches the student, but the value is {got:.4f} where (1-α)·CE + α·T²·KL at T = 4, "
                f"α = 0.9 gives {want:.4f}: check T, α and which distribution is the target")

    return check("Check yourself 2.1", student_loss, diagnose,
                 todo="write the loss so that the teacher's logits reach the student (see the formula in section 2)",
                 praise="the teacher's softened outputs reach the student, and no gradient reaches the teacher.")


def check_student_kb(student_kb, model) -> Verdict:
    """Check yourself 3.1: the student's size in KB (1 KB = 1,024 bytes), parameters stored as float32.

    Accepted within half a KB (so a rounded answer passes). Names the usual slips: counting
    parameters instead of bytes, counting bits, kilo = 1,000, or forgetting to divide.
    """
    n = models.count_params(model)
    right = n * 4 / 1024

    def diagnose(kb):
        if isinstance(kb, bool) or not isinstance(kb, (int, float, np.number)):
            return f"student_kb is a number of kilobytes, got {kb!r}"
        if abs(kb - right) <= 0.5:
            return None
        for value, why in ((n / 1024, "that counts parameters, not bytes: each float32 parameter takes 4 bytes"),
                           (n * 32 / 1024, "that counts bits: a float32 is 32 bits, which is 4 bytes"),
                           (n * 4, "that is bytes: divide by 1,024 for KB"),
                           (n * 4 / 1000, "close, but 1 KB here is 1,024 bytes, not 1,000"),
                           (n * 8 / 1024, "8 bytes per parameter is float64; the model is float32 (4 bytes)"),
                           (n * 4 / 1024**2, "that is MB: divide the bytes by 1,024 once, not twice")):
            if abs(kb - value) <= max(0.5, 0.002 * value):
                return why
        return f"{kb:g} KB is not it: count the parameters (models.count_params), times 4 bytes, divided by 1,024"

    return check("Check yourself 3.1", student_kb, diagnose,
                 todo="set student_kb to the distilled student's size in KB (float32, 1 KB = 1,024 bytes)",
                 praise=f"{n:,} parameters x 4 bytes = {right:.0f} KB.")


#: Which compression methods still need a training set once the big model exists (Check yourself 4.1),
#: and why. Post-training quantization needs at most a few hundred unlabelled calibration inputs.
NEEDS_DATA = {
    "knowledge distillation": (True, "KD trains the student on a transfer set: it needs inputs, though labels are optional"),
    "pruning with fine-tuning": (True, "fine-tuning after pruning is training: it needs the training data"),
    "post-training int8 quantization": (False, "post-training quantization needs at most a few hundred calibration "
                                               "inputs to set its ranges (dynamic quantization needs none), not a "
                                               "training set"),
    "low-rank factorization with fine-tuning": (True, "the fine-tune after factorizing is training: it needs data"),
}


def check_needs_data(needs_data) -> Verdict:
    """Check yourself 4.1: which methods need a training set after the teacher exists (True/False each)."""
    def diagnose(answer):
        if not isinstance(answer, dict):
            return f"needs_data is a dict of method -> True/False, got {type(answer).__name__}"
        missing = [k for k in NEEDS_DATA if k not in answer]
        if missing:
            return f"answer every method; missing: {', '.join(missing)}"
        if any(answer[k] is Ellipsis for k in NEEDS_DATA):
            raise YourTurn("replace every ... by True or False")
        wrong = [k for k, (want, _) in NEEDS_DATA.items() if bool(answer[k]) != want]
        if not wrong:
            return None
        k = wrong[0]
        more = f" ({len(wrong) - 1} more wrong)" if len(wrong) > 1 else ""
        return f"{k}: {NEEDS_DATA[k][1]}{more}"

    return check("Check yourself 4.1", needs_data, diagnose,
                 todo="replace each ... by True (needs a training set or transfer set) or False",
                 praise="only post-training quantization gets by without a training set.")


def check_leaked_points(leaked_points, results: pd.DataFrame) -> Verdict:
    """Check yourself 6.1: how many points of ``few-labels``' gain came from labels only its teacher saw.

    That is ``gain(few-labels) - gain(few-labels-own-teacher)`` (mean over seeds, in points);
    accepted to within 0.05 points. Names the usual slips: giving the whole gain, giving the
    own-teacher gain, a fraction instead of points, or the sign the wrong way round.
    """
    summary = summarize(results[results["setting"].isin(FEW_LABELS)])
    g_all, g_own = summary.loc[FEW_LABELS[0], "gain_mean"], summary.loc[FEW_LABELS[1], "gain_mean"]
    right = g_all - g_own

    def diagnose(x):
        if isinstance(x, bool) or not isinstance(x, (int, float, np.number)):
            return f"leaked_points is a number of points, got {x!r}"
        if abs(x - right) <= 0.05:
            return None
        if abs(x - g_all) <= 0.05:
            return ("that is few-labels' whole gain, which includes what a teacher adds from the unlabelled images; "
                    "subtract the gain that remains with the teacher that saw only the student's labels")
        if abs(x - g_own) <= 0.05:
            return "that is the gain with the teacher's own 300 labels: what remains, not what leaked"
        if abs(x + right) <= 0.05:
            return "the sign is the wrong way round: few-labels gains more than few-labels-own-teacher"
        if abs(x - right / 100) <= 0.0005:
            return "that is a fraction; give it in points (percentage points of test accuracy)"
        return "compare the two rows' gain (mean over the seeds): few-labels minus few-labels-own-teacher"

    return check("Check yourself 6.1", leaked_points, diagnose,
                 todo="set leaked_points from the table: gain of few-labels minus gain of few-labels-own-teacher",
                 praise=f"{right:.1f} of the {g_all:.1f} points came from labels the student was not given.")


def check_best_setting(best_setting, results: pd.DataFrame) -> Verdict:
    """Check yourself 7.1: the shipped setting with the largest mean gain (distilled minus alone)."""
    summary = summarize(results)
    best = summary["gain_mean"].idxmax()

    def diagnose(name):
        if not isinstance(name, str) or name not in summary.index:
            return f"{name!r} is not a setting; choose one of {list(summary.index)}"
        if name == best:
            return None
        if name == FEW_LABELS[1] and best == FEW_LABELS[0]:
            return ("its gain is large, but few-labels gains more: the same student and labels, with a teacher "
                    "that also saw the labels the student lacks")
        if summary.loc[name, "kd_mean"] == summary["kd_mean"].max():
            return ("that setting has the most accurate distilled student, not the largest gain: "
                    "the gain is distilled minus alone")
        if name == summary["alone_mean"].idxmin():
            return "that setting has the weakest student alone; the question asks for the largest gain"
        return f"{name} gains {summary.loc[name, 'gain_mean']:+.1f} points; another setting gains more"

    return check("Check yourself 7.1", best_setting, diagnose, todo="set best_setting to the name of a setting",
                 praise=f"{best} gains the most: its student has few labels and the teacher labels the other images "
                        "(a teacher that saw more labels than the student, as section 6 shows).")


# ------------------------------------------------------------------ figures
def plot_cost_vs_accuracy(table: pd.DataFrame, latency_col: str = "latency, 1 image (ms)", ax=None, figsize=(7.5, 4.2)):
    """Test accuracy against latency (log scale), one point per model, marker area ~ parameters (003-8)."""
    fig, ax = subplots(ax, figsize)
    colors = [TEACHER if "teacher" in n else DISTILLED if "distilled" in n else ALONE for n in table.index]
    sizes = 60 + 600 * np.sqrt(table["parameters"] / table["parameters"].max())
    ax.scatter(table[latency_col], table["test accuracy (%)"], s=sizes, c=colors, alpha=0.8, zorder=3)
    for name, x, y, p, s in zip(table.index, table[latency_col], table["test accuracy (%)"], table["parameters"], sizes):
        ax.annotate(f"{name}\n{p / 1e3:,.0f}k parameters", (x, y), xytext=(6 + np.sqrt(s) / 2, -4), textcoords="offset points",
                    fontsize=10, va="center")  # the label starts just past the marker's edge
    ax.set_xscale("log")
    lo, hi = table[latency_col].min(), table[latency_col].max()
    ax.set_xlim(lo / 1.6, hi * 5)
    ticks = [t for t in (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if lo / 1.6 <= t <= hi * 5]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ymin, ymax = table["test accuracy (%)"].min(), table["test accuracy (%)"].max()
    ax.set_ylim(ymin - 0.8, ymax + 0.8)
    ax.set_xlabel(f"{latency_col.replace('latency, ', 'latency for ').replace(' (ms)', '')} (ms, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("What you pay (latency) and what you get (accuracy)", loc="left")
    fig.tight_layout()
    return fig


def plot_epoch_timing(table: pd.DataFrame, ax=None, figsize=(8, 3.6)):
    """Seconds per epoch: plain training, KD from cached logits, KD running the teacher every step (003-7)."""
    modes = [("plain", ALONE, "plain training (labels)"), ("cached", DISTILLED, "KD, teacher logits cached"),
             ("teacher every step", TEACHER, "KD, teacher run every step")]
    fig, ax = subplots(ax, figsize)
    y = np.arange(len(table))
    h = 0.26
    for k, (col, color, label) in enumerate(modes):
        ax.barh(y + (k - 1) * h, table[col], height=h, color=color, label=label)
        for yi, v in zip(y + (k - 1) * h, table[col]):
            ax.annotate(f"{v:.2f} s", (v, yi), xytext=(4, 0), textcoords="offset points", va="center", fontsize=10)
    ax.set_yticks(y, table.index)
    ax.invert_yaxis()
    ax.set_xlabel("seconds per epoch (3,500 images, this CPU)")
    ax.set_xlim(0, table[[m[0] for m in modes]].to_numpy().max() * 1.15)
    ax.legend(loc="upper center", bbox_to_anchor=(0.45, -0.22), ncol=3, fontsize=10)
    ax.set_title("What the teacher costs during distillation", loc="left")
    fig.tight_layout()
    return fig


def transfer_bars(summary: pd.DataFrame, ax) -> dict:
    """Draw the transfer bars once, empty, on ``ax`` (student alone vs distilled, with seed ranges)."""
    names = ["student alone\n(its labels only)", "distilled\n(teacher: 28x28, all 3,500 labels)"]
    bars = ax.bar([0, 1], [0, 0], color=[ALONE, DISTILLED], width=0.6)
    ranges = [ax.plot([x, x], [0, 0], color="black", lw=2)[0] for x in (0, 1)]
    texts = [ax.text(x, 0, "", ha="center", va="bottom", fontsize=12) for x in (0, 1)]
    ax.set_xticks([0, 1], names)
    lo = min(summary.alone_min.min(), summary.kd_min.min())
    ax.set_ylim(max(0, lo - 8), 100)
    ax.set_ylabel("test accuracy on 14x14 images (%)")
    title = ax.set_title(" \n ", loc="left", fontsize=12)
    return {"bars": bars, "ranges": ranges, "texts": texts, "title": title,
            "dynamic": list(bars.patches) + ranges + texts + [title]}


def update_transfer_bars(artists: dict, summary: pd.DataFrame, labels: int) -> dict:
    """Move the transfer bars to label count ``labels``; return the numbers shown."""
    row = summary.loc[labels]
    for k, prefix in enumerate(("alone", "kd")):
        mean, mn, mx = row[f"{prefix}_mean"], row[f"{prefix}_min"], row[f"{prefix}_max"]
        artists["bars"][k].set_height(mean)
        artists["ranges"][k].set_ydata([mn, mx])
        artists["texts"][k].set_position((k, mx + 0.4))
        artists["texts"][k].set_text(f"{mean:.1f}%")
    artists["title"].set_text(f"Student sees 14x14 images, {int(labels):,} of 3,500 labelled: "
                              f"{row.gain_mean:+.1f} points\n(bars: mean of {int(row.seeds)} seeds; lines: min to max)")
    return {"labels": int(labels), "alone": float(row.alone_mean), "distilled": float(row.kd_mean),
            "gain": float(row.gain_mean)}


def plot_transfer(summary: pd.DataFrame, labels: int, ax=None, figsize=(7.5, 4.5)):
    """The transfer explorer's static twin: the bars at one label count."""
    fig, ax = subplots(ax, figsize)
    update_transfer_bars(transfer_bars(summary, ax), summary, labels)
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.nb01_what_is_distillation", description="the transfer table of notebook 01")
    parser.add_argument("--labels", type=int, nargs="+", default=list(TRANSFER_LABELS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args(argv)
    start = time.perf_counter()
    runs = grid({"transfer": TRANSFER}, args.seeds, [{"labels": n} for n in args.labels], threads=1)
    path = results.write(runs, "intro_transfer")
    print(transfer_summary(runs).to_string())
    print(f"wrote {path} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())