"""Training loops: :func:`fit` on hard labels, :func:`distill` from a frozen teacher.

Both return the per-epoch history as a pandas DataFrame, show a ``tqdm.auto`` progress bar,
and call an optional ``callback(row)`` after each epoch (for live plots). Data are whole
tensors, shuffled with a seeded generator, so a run is repeatable on the same machine.

How a run trains (epochs, learning rate, batch, seed, progress bar, callbacks) is one small
:class:`Run`; every function takes ``run=`` and, for convenience, any of its fields as keywords
(``fit(model, train, epochs=5)`` is ``fit(model, train, run=Run(epochs=5))``).

Distillation recipe (Hinton et al. 2015): train the teacher first, freeze it (``eval()``,
no gradients), and train the student on ``kd_loss``. Without augmentation the teacher sees
the same inputs every epoch, so its logits are computed once and cached; with augmentation
(random shifts) the teacher runs on each augmented batch.
"""

from __future__ import annotations

import copy
import os
import random
import time
from dataclasses import dataclass, fields, replace
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .data import Split
from .i18n import N_, _
from .losses import IGNORE_INDEX, check_alpha, check_labels, cross_entropy_unchecked, kd_loss_from_targets
from .temperature import check_logits, check_temperature

__all__ = ["Run", "seed_everything", "get_device", "jitter", "predict_logits", "accuracy", "hard_step_loss", "kd_step_loss",
           "iter_train", "train_with", "fit", "distill"]


#: Threads for torch on the CPU. Measured on a 2-core machine: a 2x800 MLP epoch on 3,500
#: images takes 0.47 s with one thread and 0.29 s with two; more threads than cores only hurts.
#: ``python -m kdnb.bench`` measures it again: on 2 cores shared with other work, 2 threads
#: trained the 2x800 student 1.28x faster, and the default 1x100 student about 10% slower
#: than 1 thread. Two stay the default: they win where a run costs most.
DEFAULT_THREADS = min(2, os.cpu_count() or 1)

#: Adam's fused implementation (one kernel per parameter tensor) on the CPU and CUDA.
FUSED_ADAM = True


def seed_everything(seed: int = 0, threads: int | None = DEFAULT_THREADS) -> None:
    """Seed ``random``, NumPy and torch, and fix torch's CPU thread count.

    A fixed thread count keeps runs repeatable (the order of floating-point sums can depend
    on it) and timings comparable. Pass ``threads=None`` to leave the count alone.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads is not None:
        torch.set_num_threads(int(threads))


def get_device(prefer: str | None = None) -> torch.device:
    """CUDA if present, else Apple's MPS, else the CPU. ``prefer="cpu"`` forces the CPU."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def jitter(x: torch.Tensor, max_shift: int = 2, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by a random whole number of pixels in [-max_shift, max_shift], zero-filled."""
    if max_shift <= 0:
        return x
    n, _c, h, w = x.shape
    shifts = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator)
    pad = F.pad(x, (max_shift, max_shift, max_shift, max_shift))
    rows = (torch.arange(h).view(1, h) + max_shift - shifts[:, :1]).to(x.device)  # (n, h)
    cols = (torch.arange(w).view(1, w) + max_shift - shifts[:, 1:]).to(x.device)  # (n, w)
    idx_n = torch.arange(n, device=x.device).view(n, 1, 1)
    out = pad[idx_n, :, rows.view(n, h, 1), cols.view(n, 1, w)]  # (n, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous()


@torch.no_grad()
def predict_logits(model: nn.Module, X: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Logits of ``model`` on ``X`` in eval mode, batched, without gradients."""
    if len(X) == 0:
        raise ValueError("predict_logits got no inputs (X is empty)")
    was_training = model.training
    model.eval()
    # A model with no parameters (an int8-quantized one keeps its weights packed) runs on the CPU.
    device = next(model.parameters(), torch.empty(0)).device
    try:
        return torch.cat([model(X[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(X), batch_size)])
    finally:
        model.train(was_training)


def accuracy(model: nn.Module, split: Split) -> float:
    """Top-1 accuracy (0..1) of ``model`` on a split."""
    return (predict_logits(model, split.X).argmax(1) == split.y).float().mean().item()


@dataclass(frozen=True)
class Run:
    """How one training run goes: what every loop here shares.

    Optimisation: ``epochs``, ``lr`` (Adam, cosine decay to 0), ``batch_size``, ``weight_decay``,
    ``augment`` (shift each training image by up to that many pixels), ``seed`` (shuffling and
    shifts), ``restore_best`` (keep the weights of the epoch with the best validation accuracy).
    Reporting: ``progress`` (a tqdm bar), ``desc`` (its label), ``callback(row)`` after each epoch
    (live plots), ``after_step(n)`` after the n-th optimizer step (notebook 06 prunes there).
    """

    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 128
    weight_decay: float = 0.0
    augment: int = 0
    seed: int = 0
    restore_best: bool = False
    progress: bool = True
    desc: str = N_("train")
    callback: Callable[[dict], None] | None = None
    after_step: Callable[[int], None] | None = None

    def __post_init__(self):
        if not (isinstance(self.epochs, int) and self.epochs >= 1) or not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ValueError(f"need whole numbers epochs >= 1 and batch_size >= 1; got epochs={self.epochs!r}, batch_size={self.batch_size!r}")
        if not self.lr > 0 or self.weight_decay < 0 or self.augment < 0:
            raise ValueError(f"need lr > 0, weight_decay >= 0 and augment >= 0; got lr={self.lr}, "
                             f"weight_decay={self.weight_decay}, augment={self.augment}")

    @classmethod
    def of(cls, run: "Run | None" = None, **changes) -> "Run":
        """``run`` (or the defaults) with ``changes`` applied; an unknown name is refused with the list of known ones."""
        unknown = sorted(set(changes) - {f.name for f in fields(cls)})
        if unknown:
            raise TypeError(f"unknown training option(s) {unknown}; a Run has {[f.name for f in fields(cls)]}")
        return replace(run or cls(), **changes)


def hard_step_loss(labels: torch.Tensor, label_smoothing: float = 0.0) -> Callable:
    """``step_loss(index, x, logits)`` for :func:`iter_train`: :func:`kdnb.losses.hard_loss` on ``labels[index]``.

    The same arithmetic as ``hard_loss(logits, labels[index])``, with the label checks done once
    for the whole split (on the first step, when the number of classes is known) instead of on
    every batch. ``label_smoothing=eps`` uses ``F.cross_entropy``'s smoothed targets.
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    all_labelled = not bool((labels == IGNORE_INDEX).any()) if isinstance(labels, torch.Tensor) else True
    checked = []

    def step_loss(idx, xb, logits):
        if not checked:
            check_labels(labels, torch.empty(len(labels), logits.shape[-1]))
            checked.append(True)
        yb = labels.index_select(0, idx)
        if label_smoothing:
            return F.cross_entropy(logits, yb, ignore_index=IGNORE_INDEX, label_smoothing=label_smoothing)
        return cross_entropy_unchecked(logits, yb, all_labelled=all_labelled)

    return step_loss


def _kd_batch_loss(log_p_of: Callable, labels: torch.Tensor, T: float, alpha: float) -> Callable:
    """``step_loss(index, x, logits)``: :func:`kdnb.losses.kd_loss_from_targets` against ``log_p_of(index, x)``, the
    teacher's softened log-probabilities for the batch (looked up in a cache, or computed by the teacher)."""
    all_labelled = not bool((labels == IGNORE_INDEX).any())

    def step_loss(idx, xb, logits):
        log_p = log_p_of(idx, xb)
        if logits.shape != log_p.shape:
            raise ValueError(f"student logits {tuple(logits.shape)} and teacher logits {tuple(log_p.shape)} differ in shape; "
                             "both must be (batch, classes) for the same examples and class order")
        return kd_loss_from_targets(logits, log_p, labels.index_select(0, idx), T, alpha, all_labelled)

    return step_loss


def kd_step_loss(teacher_logits: torch.Tensor, labels: torch.Tensor, T: float = 4.0, alpha: float = 0.9) -> Callable:
    """``step_loss(index, x, logits)`` for :func:`iter_train`: :func:`kdnb.losses.kd_loss` against cached logits.

    The teacher is frozen and its logits are fixed, so its softened targets ``log p_T`` are
    computed once for every training example, and each step only looks its batch up. T, alpha,
    the labels and the logits are checked once, here; each step calls
    :func:`kdnb.losses.kd_loss_from_targets`, the same formula ``kd_loss`` calls, so the loss (and
    the trained student) are the same to the last bit.
    """
    T, alpha = check_temperature(T), check_alpha(alpha)
    check_logits(teacher_logits, "teacher_logits")
    check_labels(labels, teacher_logits)
    log_p_all = F.log_softmax(teacher_logits.detach() / T, dim=-1)
    return _kd_batch_loss(lambda idx, xb: log_p_all.index_select(0, idx), labels, T, alpha)


def _check_split(train: Split, who: str) -> None:
    """Raise a clear error for an empty training split (before any optimizer or scheduler is made)."""
    if len(train) == 0:
        raise ValueError(f"{who} got an empty training split (0 examples): there is nothing to train on; "
                         "check the split sizes or the label filter that made it")


def _stop_if_diverged(row: dict) -> None:
    if not np.isfinite(row["loss"]):
        raise ValueError(f"the training loss is {row['loss']} after epoch {row['epoch']}: the model diverged "
                         "(try a lower learning rate) or the inputs hold NaN or infinite values")


def iter_train(model: nn.Module, train: Split, step_loss: Callable, val: Split | None = None, run: Run | None = None, **changes):
    """The training loop, one epoch at a time: a generator that yields each epoch's row.

    ``step_loss(index, x, logits)`` gets the batch's row numbers in ``train`` (to look up cached
    teacher outputs by example), its inputs and the model's logits, and returns the loss. Every
    parameter of ``model`` is trained, so a module that wraps a student and, say, a FitNets
    regressor trains both. Adam with cosine learning-rate decay. Drive it with
    :func:`train_with`, or step it yourself to interleave two runs epoch by epoch (notebook 05's
    playground trains a distilled student and its hard-label twin side by side this way).
    ``run`` (or its fields as keywords) says how: see :class:`Run`; ``callback`` and ``progress``
    are :func:`train_with`'s.
    """
    run = Run.of(run, **changes)
    _check_split(train, "training")
    device = next(model.parameters()).device
    X, y = train.X.to(device), train.y.to(device)
    gen = torch.Generator().manual_seed(run.seed)
    # The fused Adam updates every parameter in one pass per tensor (about 2.4x faster a step than the
    # for-loop version here); it rounds differently in the last bit, well inside the seed spread.
    opt = torch.optim.Adam(model.parameters(), lr=run.lr, weight_decay=run.weight_decay, fused=FUSED_ADAM and device.type in ("cpu", "cuda"))
    steps_per_epoch = -(-len(X) // run.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=run.epochs * steps_per_epoch)
    best, best_state, steps = -1.0, None, 0
    # Every example is seen once per epoch, so the number of labelled ones seen is known up front.
    seen = int((y != IGNORE_INDEX).sum())
    for epoch in range(1, run.epochs + 1):
        model.train()
        start, losses, sizes, hits = time.perf_counter(), [], [], []
        for idx in torch.randperm(len(X), generator=gen).split(run.batch_size):
            idx = idx.to(device)
            xb = X.index_select(0, idx)  # the same rows as X[idx], gathered about 3x faster
            if run.augment:
                xb = jitter(xb, run.augment, gen)
            logits = model(xb)
            loss = step_loss(idx, xb, logits)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            steps += 1
            if run.after_step is not None:
                run.after_step(steps)
            # The epoch's loss and accuracy stay tensors until the epoch ends: no host sync per step.
            yb = y.index_select(0, idx)
            losses.append(loss.detach())
            sizes.append(len(idx))
            hits.append(((logits.argmax(1) == yb) & (yb != IGNORE_INDEX)).sum())
        total = 0.0
        for value, n in zip(torch.stack(losses).tolist(), sizes):  # the same float sums, in the same order, as per step
            total += value * n
        row = {"epoch": epoch, "loss": total / len(X), "train_acc": int(torch.stack(hits).sum()) / max(seen, 1)}
        if val is not None:
            row["val_acc"] = accuracy(model, val)
            if run.restore_best and row["val_acc"] > best:
                best, best_state = row["val_acc"], copy.deepcopy(model.state_dict())
        row["seconds"] = time.perf_counter() - start
        yield row
    # Runs when the caller asks past the last epoch (a for loop does): the model ends in eval mode.
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()


def train_with(model: nn.Module, train: Split, step_loss: Callable, val: Split | None = None, run: Run | None = None, *,
               stop_if_diverged: bool = False, **changes) -> pd.DataFrame:
    """Train ``model`` on any per-batch loss (:func:`iter_train` to the end); returns the per-epoch history.

    The loop that :func:`fit` and :func:`distill` share, with a progress bar and ``run.callback(row)``
    after each epoch. ``stop_if_diverged`` raises a clear error at the first epoch whose loss is not finite.
    """
    run = Run.of(run, **changes)
    rows = []
    bar = tqdm(total=run.epochs, desc=_(run.desc) if run.desc else run.desc, disable=not run.progress, leave=False)
    for row in iter_train(model, train, step_loss, val, run):
        if stop_if_diverged:
            _stop_if_diverged(row)
        rows.append(row)
        bar.update(1)
        bar.set_postfix({k: round(v, 3) for k, v in row.items() if k in ("loss", "val_acc")})
        if run.callback is not None:
            run.callback(row)
    bar.close()
    return pd.DataFrame(rows).set_index("epoch")


def fit(model: nn.Module, train: Split, val: Split | None = None, run: Run | None = None, *, label_smoothing: float = 0.0,
        **changes) -> pd.DataFrame:
    """Train ``model`` on hard labels with cross-entropy (Adam, cosine learning-rate decay).

    ``run`` (or its fields as keywords, see :class:`Run`) says how. ``label_smoothing=eps`` trains
    on ``(1 - eps) * one_hot + eps / C`` instead of the one-hot labels (Szegedy et al. 2016).
    Returns the history DataFrame.
    """
    run = Run.of(run, **{"desc": N_("fit"), **changes})
    _check_split(train, "fit")
    y = train.y.to(next(model.parameters()).device)
    return train_with(model, train, hard_step_loss(y, label_smoothing), val, run, stop_if_diverged=True)


def distill(student: nn.Module, train: Split, val: Split | None = None, run: Run | None = None, *,
            teacher: nn.Module | torch.Tensor, T: float = 4.0, alpha: float = 0.9, cache_teacher: bool = True,
            **changes) -> pd.DataFrame:
    """Train ``student`` on :func:`kdnb.losses.kd_loss` against a frozen teacher.

    ``teacher`` is a model (put in eval mode and never updated) or its precomputed logits for
    ``train.X``. Without augmentation a model's logits are computed once, before the first epoch
    (``cache_teacher=False`` runs it on every batch instead, to measure what the cache saves).
    Labels equal to ``IGNORE_INDEX`` mark unlabelled examples, which learn from the soft targets
    alone. T and alpha are checked once, here. ``run`` (or its fields as keywords) says how to
    train: see :class:`Run`. Returns the history DataFrame.
    """
    run = Run.of(run, **{"desc": N_("distill"), **changes})
    T, alpha = check_temperature(T), check_alpha(alpha)
    _check_split(train, "distill")
    is_logits = isinstance(teacher, torch.Tensor)
    if not is_logits and not isinstance(teacher, nn.Module):
        raise TypeError(f"teacher must be a model (nn.Module) or its logits for train.X (a tensor), got {type(teacher).__name__}")
    if is_logits and teacher.shape[0] != len(train):
        raise ValueError(f"the teacher's logits have {teacher.shape[0]} rows but the training split has {len(train)} examples")
    if is_logits and run.augment:
        raise ValueError("cached teacher logits are for un-augmented inputs; pass the teacher model when augment > 0")
    if not is_logits:
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    per_batch = not is_logits and (run.augment or not cache_teacher)  # inputs change every step, or caching is off
    device = next(student.parameters()).device
    y = train.y.to(device)
    if not per_batch:
        cached = teacher if is_logits else predict_logits(teacher, train.X)
        step_loss = kd_step_loss(cached.to(device), y, T=T, alpha=alpha)
    else:
        checked = []

        def log_p_of(idx, xb):
            with torch.no_grad():
                t_logits = teacher(xb)
            if not checked:  # once per run, when the number of classes is known
                check_logits(t_logits, "the teacher's logits")
                check_labels(y, torch.empty(len(y), t_logits.shape[-1]))
                checked.append(True)
            return F.log_softmax(t_logits / T, dim=-1)

        step_loss = _kd_batch_loss(log_p_of, y, T, alpha)

    return train_with(student, train, step_loss, val, run, stop_if_diverged=True)
