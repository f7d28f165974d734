"""What ``make bench`` measures ``distill`` against: the textbook loop, and the machine itself.

* :func:`textbook_distill`: distillation as PyTorch's knowledge-distillation tutorial writes it
  (a ``DataLoader``, the teacher on every batch, ``F.kl_div`` times T²), and :func:`compare_loops`,
  whole runs of both on one setting, seed by seed;
* :func:`training_flops`, :func:`training_matmuls` and :func:`matmul_rate`: what one training step
  costs in arithmetic, and how fast this machine's torch multiplies matrices of those shapes;
* :func:`thread_times` and :func:`profile_distill`: one run at several thread counts, and where an
  epoch's time goes.

:mod:`kdnb.bench` runs them and writes the table.
"""

from __future__ import annotations

import copy
import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .training import Run

__all__ = ["median_time", "textbook_distill", "loop_inputs", "compare_loops", "training_flops", "training_matmuls",
           "matmul_rate", "thread_times", "PROFILE_GROUPS", "profile_distill"]


def median_time(fn: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls, and every time."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


# ---------------------------------------------------------------------------- the textbook loop


def textbook_distill(student: nn.Module, teacher: nn.Module, train, run: Run, *, T: float, alpha: float) -> nn.Module:
    """Distillation as PyTorch's knowledge-distillation tutorial writes it, with ``distill``'s optimizer.

    A ``DataLoader`` over a ``TensorDataset`` feeds shuffled batches; the frozen teacher runs on
    every batch; the soft term is ``F.kl_div(log q_T, p_T, reduction="batchmean") * T**2`` and the
    hard term ``nn.CrossEntropyLoss``, weighted as in :func:`kdnb.losses.kd_loss` (``alpha`` weights
    the soft term). Adam with the same cosine decay as :func:`kdnb.training.distill`; the loader's
    generator is seeded with ``run.seed`` (the loader draws from it before shuffling, so its batches
    come in another order than distill's). ``run`` gives epochs, lr, batch size and seed; the rest
    of it (augmentation, callbacks) the tutorial's loop does not have.
    """
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(train.X, train.y), batch_size=run.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(run.seed))
    optimizer = torch.optim.Adam(student.parameters(), lr=run.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=run.epochs * len(loader))
    cross_entropy = nn.CrossEntropyLoss()
    teacher.eval()
    for _ in range(run.epochs):
        student.train()
        running = 0.0
        for inputs, labels in loader:
            optimizer.zero_grad()
            with torch.no_grad():
                teacher_logits = teacher(inputs)
            student_logits = student(inputs)
            soft = F.kl_div(F.log_softmax(student_logits / T, dim=-1), F.softmax(teacher_logits / T, dim=-1),
                            reduction="batchmean") * T ** 2
            loss = alpha * soft + (1 - alpha) * cross_entropy(student_logits, labels)  # kd_loss, alpha on the soft term
            loss.backward()
            optimizer.step()
            schedule.step()
            running += loss.item()
    student.eval()
    return student


def _run(spec: dict, **changes) -> Run:
    """How a setting trains (epochs, lr, batch), quietly: a bench run shows no progress bar."""
    return Run.of(Run(epochs=spec["epochs"], lr=spec["lr"], batch_size=spec["batch_size"], progress=False), **changes)


def loop_inputs(case: str, tiny: bool):
    from . import data as kdata
    from .recipe import SETTINGS
    from .teachers import load_teacher

    if case not in SETTINGS:
        raise ValueError(f"unknown setting {case!r}; choose one of {sorted(SETTINGS)}")
    spec = dict(SETTINGS[case])
    ds = kdata.load_mnist_subset()
    if tiny:
        ds = kdata.Dataset(ds.name, ds.train.subset(torch.arange(512)), ds.val, ds.test.subset(torch.arange(200)))
        spec["epochs"] = 1
    return spec, ds, load_teacher(spec["teacher"])


def compare_loops(case: str, seeds=(0, 1, 2), threads: int | None = None, tiny: bool = False) -> dict:
    """Whole runs of ``distill`` and of :func:`textbook_distill` on one setting, seed by seed, interleaved.

    ``distill`` gets the teacher model, so its time includes its one teacher pass over the
    training images. Returns times (s), test accuracies (0..1) per seed, and the setting.
    """
    from . import models
    from .training import DEFAULT_THREADS, accuracy, distill, seed_everything

    threads = DEFAULT_THREADS if threads is None else threads
    spec, ds, teacher = loop_inputs(case, tiny)
    out = {"distill_s": [], "textbook_s": [], "distill_acc": [], "textbook_acc": [], "spec": spec, "n_train": len(ds.train)}
    seed_everything(0, threads)
    warm = models.build(spec["student"])  # untimed: the first call of a kernel pays for its set-up
    textbook_distill(warm, teacher, ds.train.subset(torch.arange(512)), _run(spec, epochs=1), T=spec["T"], alpha=spec["alpha"])
    for seed in seeds:
        seed_everything(seed, threads)
        ours = models.build(spec["student"])
        theirs = copy.deepcopy(ours)  # the same initial weights
        start = time.perf_counter()
        distill(ours, ds.train, run=_run(spec, seed=seed), teacher=teacher, T=spec["T"], alpha=spec["alpha"])
        out["distill_s"].append(time.perf_counter() - start)
        start = time.perf_counter()
        textbook_distill(theirs, teacher, ds.train, _run(spec, seed=seed), T=spec["T"], alpha=spec["alpha"])
        out["textbook_s"].append(time.perf_counter() - start)
        out["distill_acc"].append(accuracy(ours, ds.test))
        out["textbook_acc"].append(accuracy(theirs, ds.test))
    return out


# ---------------------------------------------------------------------------- against the machine


def training_flops(student: nn.Module, teacher: nn.Module | None, in_shape=(1, 28, 28), batch: int = 256) -> dict:
    """FLOPs per training example, counted by ``torch.utils.flop_counter`` on one batch.

    ``student``: one forward and backward pass with a loss (the first layer computes no gradient
    for its input, so this is less than the usual 3x forward). ``teacher``: one forward pass.
    """
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(batch, *in_shape)
    s = copy.deepcopy(student).train()
    with FlopCounterMode(display=False) as counter:
        s(x).logsumexp(-1).sum().backward()
    student_step = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        s(x)
    student_forward = counter.get_total_flops()
    teacher_forward = 0
    if teacher is not None:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            copy.deepcopy(teacher).eval()(x)
        teacher_forward = counter.get_total_flops()
    return {"student_step": student_step / batch, "student_forward": student_forward / batch,
            "teacher_forward": teacher_forward / batch}


def training_matmuls(student: nn.Module, batch: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matrix product in one training step of an MLP student, backward included.

    Per linear layer ``in -> out``: the forward ``(batch, in) @ (in, out)``, the weight gradient
    ``(out, batch) @ (batch, in)``, and (not for the first layer) the input gradient ``(batch, out) @ (out, in)``.
    """
    linears = [m for m in student.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("training_matmuls needs a student with nn.Linear layers")
    shapes = []
    for i, layer in enumerate(linears):
        k, n = layer.in_features, layer.out_features
        shapes += [(batch, k, n), (n, batch, k)] + ([(batch, n, k)] if i > 0 else [])
    return shapes


def matmul_rate(shapes, threads: int, repeats: int = 5, min_seconds: float = 0.2) -> float:
    """Sustained torch matmul GFLOP/s on ``shapes`` ((m, k, n) each) at ``threads`` threads: the median of ``repeats``."""
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    pairs = [(torch.rand(m, k, generator=g), torch.rand(k, n, generator=g), torch.empty(m, n)) for m, k, n in shapes]
    flops = sum(2 * m * k * n for m, k, n in shapes)

    def once():
        for a, b, c in pairs:
            torch.mm(a, b, out=c)

    once()
    start, loops = time.perf_counter(), 0
    while time.perf_counter() - start < min_seconds / 4 or loops < 3:  # find a loop count that takes about min_seconds
        once()
        loops += 1
    loops = max(1, int(loops * min_seconds / max(time.perf_counter() - start, 1e-9) / 4) * 4)
    seconds, _ = median_time(lambda: [once() for _ in range(loops)], repeats)
    return flops * loops / seconds / 1e9


def thread_times(threads=(1, 2), repeats: int = 3, tiny: bool = False, setting: str = "default") -> dict[int, float]:
    """Median seconds of one ``distill`` run of ``setting`` (teacher logits cached) at each thread count, interleaved."""
    from . import models
    from .training import distill, predict_logits, seed_everything

    spec, ds, teacher = loop_inputs(setting, tiny)
    logits = predict_logits(teacher, ds.train.X)
    times: dict[int, list[float]] = {t: [] for t in threads}
    for _ in range(repeats):
        for t in threads:
            seed_everything(0, t)
            student = models.build(spec["student"])
            start = time.perf_counter()
            distill(student, ds.train, run=_run(spec), teacher=logits, T=spec["T"], alpha=spec["alpha"])
            times[t].append(time.perf_counter() - start)
    return {t: statistics.median(v) for t, v in times.items()}


#: Groups of profiler events, by the name of the op (the first group whose words match takes the event).
PROFILE_GROUPS = {
    "matrix products": ("aten::mm", "aten::addmm"),
    "optimizer step (Adam) and zero_grad": ("Optimizer.", "aten::_fused_adam"),
    "batch gathers (index_select)": ("aten::index_select",),
}


def profile_distill(epochs: int = 5, threads: int | None = None, tiny: bool = False) -> dict[str, float]:
    """Where a default-recipe ``distill`` epoch goes: milliseconds per epoch of each :data:`PROFILE_GROUPS` group,
    of everything else (self CPU time of each op, from ``torch.profiler``), and the median epoch's wall clock."""
    from torch.profiler import ProfilerActivity, profile

    from . import models
    from .training import DEFAULT_THREADS, distill, predict_logits, seed_everything

    spec, ds, teacher = loop_inputs("default", tiny)
    logits = predict_logits(teacher, ds.train.X)
    seed_everything(0, DEFAULT_THREADS if threads is None else threads)
    student = models.build(spec["student"])
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        history = distill(student, ds.train, run=_run(spec, epochs=epochs), teacher=logits, T=spec["T"], alpha=spec["alpha"])
    groups = {name: 0.0 for name in PROFILE_GROUPS}
    other = 0.0
    for event in prof.key_averages():
        ms = event.self_cpu_time_total / 1000
        for name, prefixes in PROFILE_GROUPS.items():
            if event.key.startswith(prefixes):
                groups[name] += ms
                break
        else:
            other += ms
    out = {name: ms / epochs for name, ms in groups.items()}
    out["every other op (loss, autograd, metrics)"] = other / epochs
    out["wall clock, under the profiler"] = 1000 * float(history["seconds"].median())
    return out
