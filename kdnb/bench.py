"""The workbook's performance record: speed and memory, printed as a table and written to CSV.

    python -m kdnb.bench                      # everything (about 20 minutes on 2 cores); writes data/results/bench_figures.csv
    python -m kdnb.bench --skip-notebooks     # everything but running the notebooks (about 8 minutes)
    python -m kdnb.bench --tiny               # every code path on tiny inputs, in seconds; writes bench_tiny.csv
    python -m kdnb.bench --make-test          # also: `make test` in a fresh clone, install included
    python -m kdnb.bench --full-mnist --download   # also: the default recipe on full MNIST (fetched, checksummed)

What it measures, each figure the median of repeated runs (``--repeats``, ``--seeds``):

* **against the textbook loop**: :func:`textbook_distill` (what PyTorch's knowledge-distillation
  tutorial writes: a ``DataLoader`` over a ``TensorDataset``, the teacher's forward pass on every
  batch, ``F.kl_div(..., reduction="batchmean")`` times T²) against :func:`kdnb.training.distill`
  on the same teacher, student, data, epochs, seeds and threads, whole runs including distill's
  one teacher pass; both students' test accuracies;
* **against the machine**: the training's FLOPs (counted by ``torch.utils.flop_counter``), the
  sustained torch matmul rate on the training's own matrix shapes at the same thread count,
  and the fraction of that rate ``distill`` reaches on the default recipe;
* one training run at 1 and 2 threads; every slider callback (median and p95); the teaser; a
  playground run; each notebook's run time and kernel peak memory.

Every comparison is a ratio of two figures from the same run. Figures depend on the machine and
on what else it is doing: the table names the machine, and runs on a busy machine are slower.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from . import results
from .bench_loops import compare_loops, matmul_rate, median_time, profile_distill, thread_times, training_flops, training_matmuls
from .seeds import Spread, ranges_apart

ROOT = Path(__file__).resolve().parents[1]

#: Columns of the bench table (and of data/results/bench_figures.csv).
COLUMNS = ["section", "measure", "value", "unit", "spread", "runs", "note"]

#: The two comparisons with the textbook loop: the CNN teacher, whose forward pass costs far
#: more than the 1x100 student's step, and the default recipe (a 2x1200 MLP teacher).
LOOP_CASES = ("cnn-teacher", "default")


def time_calls(fn: Callable[[int], object], n: int) -> tuple[float, float]:
    """Median and 95th percentile milliseconds of ``fn(i)`` for i in 0..n-1."""
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        times.append(1000 * (time.perf_counter() - t0))
    times.sort()
    return statistics.median(times), times[min(n - 1, int(0.95 * n))]


def time_callback(control, values, n: int = 60) -> tuple[float, float]:
    """Median and 95th percentile milliseconds of setting ``control.value`` (the kernel's share of a move).

    Cycles through ``values``; the browser adds the round trip and the repaint. Leaves the
    control where it started.
    """
    values = list(values)
    start_value = control.value

    def move(i):
        value = values[i % len(values)]
        control.value = values[(i + 1) % len(values)] if value == control.value else value

    try:
        return time_calls(move, n)
    finally:
        control.value = start_value


def sig3(x: float) -> str:
    """A number with 3 significant figures (``12.3``, ``0.0456``, ``1.23e+04``)."""
    if x != x:  # nan
        return "nan"
    return f"{x:.3g}"


# ---------------------------------------------------------------------------- the machine


def machine() -> pd.Series:
    """What the figures ran on: CPU model, cores, torch threads, versions (:func:`kdnb.env.report`)."""
    from .env import report

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rows = {"cpu": f"{cpu} ({platform.machine()})", "cores": str(os.cpu_count()),
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset")}
    env = report()["value"]
    rows.update({k: env[k] for k in ("python", "torch", "numpy", "torch threads") if k in env})
    return pd.Series(rows, name="value")


# ---------------------------------------------------------------------------- the workbook


def bench_teaser(repeats: int = 3) -> float:
    """Median wall-clock seconds of the first notebook's teaser (data, teacher, two students, table)."""
    from .nb00_start_here import teaser

    return median_time(lambda: teaser(progress=False), repeats)[0]


def bench_playground(repeats: int = 3) -> float:
    """Median wall-clock seconds of one Train press in notebook 05's playground, at its default settings
    (teacher logits already cached, as after the set-up cell)."""
    from .data import load_mnist_subset
    from .nb05_distillation_in_practice import Playground

    playground = Playground(load_mnist_subset())
    playground.teacher_logits(playground.settings()["teacher"])
    seconds = median_time(lambda: playground.train(background=False), repeats)[0]
    if playground.error is not None:
        raise playground.error
    return seconds


def bench_callbacks(n: int = 200) -> dict[str, tuple[float, float]]:
    """Median and p95 ms of every slider callback (kernel side) and of a quiz check, ``n`` moves each."""
    import numpy as np

    from . import data as kdata
    from . import nb02_soft_vs_hard_labels as nb02
    from . import nb03_temperature as nb03
    from . import nb04_distillation_losses as nb04
    from . import nb06_pruning_and_compression as nb06
    from . import nb07_interview_drill as nb07
    from . import results
    from .teachers import load_teacher
    from .training import predict_logits

    out = {}
    explorer = nb03.temperature_explorer(nb03.synthetic_inputs())
    out["temperature explorer (03), T slider"] = time_callback(explorer.controls["T"], [float(t) for t in np.geomspace(0.2, 40, 37)], n=n)
    ds = kdata.load_mnist_subset()
    logits = predict_logits(load_teacher("cnn-mnist"), ds.test.X)
    target = nb02.target_explorer(logits, ds.test.y, ds.test.X, [0, 1, 2])
    out["target explorer (02), T slider"] = time_callback(target.controls["T"], [float(t) for t in np.arange(1, 20.5, 0.5)], n=n)
    out["target explorer (02), eps slider"] = time_callback(target.controls["eps"], [round(e, 2) for e in np.arange(0, 0.51, 0.01)], n=n)
    mc = results.read("nb02_missing_class")
    curves, chosen = nb02.bias_curves(results.read("nb02_missing_class_logits"), mc, seed=0)
    bias = nb02.bias_explorer(curves, chosen)
    out["bias explorer (02), bias slider"] = time_callback(bias.controls["delta"], [float(d) for d in next(iter(curves.values())).index], n=n)
    one = nb03.synthetic_inputs(1)["image 0"]
    push = nb04.push_explorer(one["student"].float(), one["teacher"].float())
    out["gradient explorer (04), T slider"] = time_callback(push.controls["T"], list(nb04.PUSH_TEMPERATURES), n=n)
    pruning = nb06.pruning_explorer(load_teacher(nb06.BASE), results.read("nb06_curve"))
    out["pruning explorer (06), sparsity slider"] = time_callback(pruning.controls["sparsity"], list(range(0, 100, 3)), n=n)
    quizzes = [nb07.Quiz(n=8, seed=seed) for seed in range(-(-n // 8))]  # made before the clock starts

    def check(i):
        quiz = quizzes[i // 8]
        quiz.answer(quiz.current.answer)
        quiz.next()

    out["quiz (07), check an answer and go on"] = time_calls(check, n)
    return out


def bench_kernel_during_training(probes: int = 10) -> tuple[float, float, bool]:
    """In a real kernel: press Train in notebook 05's playground, then time trivial cells while it trains.

    Returns (median ms, slowest ms, whether the run was still going after the last probe). The
    run lives in a background thread, so a cell should answer in milliseconds, not wait for the run.
    """
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        setup = ("from kdnb import data, nb05_distillation_in_practice as nb\n"
                 "pg = nb.Playground(data.load_mnist_subset())\npg.teacher_logits(pg.settings()['teacher'])\n"
                 "pg.train();")
        reply = kc.execute_interactive(setup, timeout=300)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the playground did not start: {reply['content']}")
        times = []
        for _ in range(probes):
            start = time.perf_counter()
            kc.execute_interactive("x = 1 + 1", timeout=60)
            times.append(1000 * (time.perf_counter() - start))
            time.sleep(0.2)
        reply = kc.execute_interactive("", user_expressions={"running": "pg.running"}, timeout=60)
        running = reply["content"]["user_expressions"]["running"]["data"]["text/plain"] == "True"
        kc.execute_interactive("pg.wait()", timeout=300)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    times.sort()
    return times[len(times) // 2], times[-1], running


def bench_notebooks(repeats: int = 1) -> pd.DataFrame:
    """Run every notebook of both editions from a fresh kernel (files untouched), ``repeats`` times:
    median seconds, highest kernel peak memory. The Chinese twins are named ``zh/NN_….ipynb``."""
    from .nbtools import NOTEBOOKS, execute

    rows = []
    paths = sorted(NOTEBOOKS.glob("*.ipynb")) + sorted((NOTEBOOKS / "zh").glob("*.ipynb"))
    names = {p: str(p.relative_to(NOTEBOOKS)) for p in paths}
    runs: dict[str, list] = {names[p]: [] for p in paths}
    for _ in range(repeats):
        for path in paths:
            _, seconds, peak = execute(path)
            runs[names[path]].append((seconds, peak))
    for name, values in runs.items():
        rows.append({"notebook": name, "seconds": statistics.median(s for s, _ in values),
                     "kernel peak (MB)": max(p for _, p in values)})
    return pd.DataFrame(rows).set_index("notebook")


def bench_make_test() -> float:
    """Seconds for `make test` in a fresh clone of this repository (creates its own .venv)."""
    with tempfile.TemporaryDirectory(prefix="kdnb-clone-") as tmp:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), tmp], check=True)
        start = time.perf_counter()
        subprocess.run(["make", "test"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


def bench_full_mnist(dataset, epochs: int = 3, threads: int | None = None) -> dict[str, float]:
    """The default recipe at full scale: ``dataset`` is :func:`kdnb.data.load_mnist_full` (55,000
    training images, the official 10,000 test images), against the 3,500 of the shipped subset.

    The teacher is the shipped 2x1200 MLP (trained on the subset). Times its one pass over the
    training images (the cache), the distilled student's and its label-only twin's epochs
    (:func:`kdnb.recipe.train_twins`, ``epochs`` each), and gives both students' test accuracy.
    """
    from . import models
    from .recipe import DEFAULT, train_twins
    from .teachers import load_teacher
    from .training import DEFAULT_THREADS, Run, accuracy, predict_logits, seed_everything

    seed_everything(0, DEFAULT_THREADS if threads is None else threads)
    teacher = load_teacher(DEFAULT["teacher"])
    start = time.perf_counter()
    logits = predict_logits(teacher, dataset.train.X)
    cache_s = time.perf_counter() - start
    init = models.build(DEFAULT["student"])
    run = Run(epochs=epochs, lr=DEFAULT["lr"], batch_size=DEFAULT["batch_size"], progress=False)
    start = time.perf_counter()
    twins = train_twins(init, dataset.train, logits, run, T=DEFAULT["T"], alpha=DEFAULT["alpha"])
    both_s = time.perf_counter() - start
    return {"training images": float(len(dataset.train)), "teacher pass over them (the cache)": cache_s,
            "two students, seconds per epoch each": both_s / (2 * epochs),
            "student alone, test accuracy": 100 * accuracy(twins["alone"], dataset.test),
            "distilled student, test accuracy": 100 * accuracy(twins["distilled"], dataset.test)}


# ---------------------------------------------------------------------------- the record


def _range_text(values) -> str:
    """The lowest and highest of several runs, ``"1.23-1.31"`` (empty for one run)."""
    s = Spread.of(values)
    return f"{sig3(s.lo)}-{sig3(s.hi)}" if s.n > 1 else ""


def run(tiny: bool = False, seeds: int = 5, repeats: int = 3, notebooks: bool = True, notebook_repeats: int = 1,
        threads: int | None = None, kernel_probe: bool = True, log: Callable[[str], None] = print) -> pd.DataFrame:
    """Measure everything; return the bench table (:data:`COLUMNS`). ``tiny``: every path on tiny inputs, in seconds."""
    from .training import DEFAULT_THREADS, seed_everything

    if seeds < 1 or repeats < 1 or notebook_repeats < 1:
        raise ValueError(f"seeds, repeats and notebook_repeats must be at least 1; got {seeds}, {repeats}, {notebook_repeats}")
    threads = DEFAULT_THREADS if threads is None else int(threads)
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    if tiny:
        seeds, repeats, notebooks, kernel_probe = 1, 1, False, False
    rows: list[dict] = []

    def add(section, measure, value, unit, spread="", runs=1, note=""):
        rows.append({"section": section, "measure": measure, "value": float(value), "unit": unit, "spread": spread,
                     "runs": int(runs), "note": note})

    # Against the textbook loop, and the default recipe's whole-run time for the fraction of peak.
    loops = {}
    for case in LOOP_CASES:
        log(f"textbook loop against distill: {case} ...")
        r = loops[case] = compare_loops(case, seeds=range(seeds), threads=threads, tiny=tiny)
        d, t = statistics.median(r["distill_s"]), statistics.median(r["textbook_s"])
        ratios = [b / a for a, b in zip(r["distill_s"], r["textbook_s"])]
        teacher = r["spec"]["teacher"]
        section = f"textbook loop vs distill: {case} ({teacher} -> {r['spec']['student']['hidden']} MLP, {r['spec']['epochs']} epochs)"
        add(section, "distill, whole run (one teacher pass included)", d, "s", _range_text(r["distill_s"]), seeds)
        add(section, "textbook loop, whole run", t, "s", _range_text(r["textbook_s"]), seeds)
        add(section, "textbook time / distill time", statistics.median(ratios), "x", _range_text(ratios), seeds, "ratio per seed, median")
        for who in ("distill", "textbook"):
            accs = [100 * a for a in r[f"{who}_acc"]]
            add(section, f"{who} student, test accuracy", statistics.mean(accs), "%", _range_text(accs), seeds, "mean over seeds")
        da, ta = r["distill_acc"], r["textbook_acc"]
        add(section, "accuracy ranges overlap (1 = yes)", float(not ranges_apart(da, ta)), "", "", seeds,
            "the two loops agree within the seed spread")

    # Against the machine: the default recipe.
    from . import models
    from .recipe import DEFAULT
    from .teachers import load_teacher

    spec, n_train = loops["default"]["spec"], loops["default"]["n_train"]
    seed_everything(0, threads)
    student = models.build(spec["student"])
    flops = training_flops(student, load_teacher(spec["teacher"]))
    per_epoch = flops["student_step"] * n_train
    log("matmul rate ...")
    rate = matmul_rate(training_matmuls(student, DEFAULT["batch_size"]), threads, repeats=5 if not tiny else 1,
                       min_seconds=0.2 if not tiny else 0.02)
    square = matmul_rate([(1024, 1024, 1024)], threads, repeats=5 if not tiny else 1, min_seconds=0.2 if not tiny else 0.02)
    log("threads ...")
    by_threads = thread_times((1, 2), repeats=repeats, tiny=tiny)
    epochs_s = by_threads.get(threads) or thread_times((threads,), repeats=repeats, tiny=tiny)[threads]
    section = f"against the machine: default recipe, {threads} thread(s)"
    add(section, "student forward + backward per example", flops["student_step"] / 1e6, "MFLOP", note="torch.utils.flop_counter")
    add(section, "3x the student forward, per example", 3 * flops["student_forward"] / 1e6, "MFLOP",
        note="the rule of thumb; the first layer needs no input gradient")
    add(section, "teacher forward per example (once per run, cached)", flops["teacher_forward"] / 1e6, "MFLOP")
    add(section, "training FLOPs per epoch", per_epoch / 1e9, "GFLOP", note=f"{n_train} images")
    add(section, "matmul rate, the training's shapes", rate, "GFLOP/s", runs=5 if not tiny else 1, note="median")
    add(section, "matmul rate, 1024x1024x1024", square, "GFLOP/s", runs=5 if not tiny else 1, note="median")
    add(section, "arithmetic time per epoch at that rate", 1000 * per_epoch / (rate * 1e9), "ms")
    add(section, "distill time per epoch, logits cached", 1000 * epochs_s / spec["epochs"], "ms", runs=repeats)
    add(section, "fraction of the matmul rate, epochs", per_epoch * spec["epochs"] / epochs_s / (rate * 1e9), "", runs=repeats,
        note="distill with the teacher's logits given")

    for name, ms in profile_distill(epochs=1 if tiny else 10, threads=threads, tiny=tiny).items():
        add(section, f"per epoch, profiled: {name}", ms, "ms", note="torch.profiler, self CPU time")

    for setting, times in (("default", by_threads), ("unregularized-2x800", thread_times((1, 2), repeats, tiny, "unregularized-2x800"))):
        section = f"one training run at 1 and 2 threads: {setting} (teacher logits cached)"
        for t, s in times.items():
            add(section, f"{t} thread(s)", s, "s", runs=repeats)
        add(section, "1-thread time / 2-thread time", times[1] / times[2], "x", runs=repeats,
            note=f"default: {DEFAULT_THREADS} thread(s)")

    log("callbacks ...")
    for name, (median, p95) in bench_callbacks(n=10 if tiny else 200).items():
        add("callbacks (kernel side)", name, median, "ms", f"p95 {sig3(p95)}", 10 if tiny else 200, "median; spread: p95")

    if not tiny:
        log("teaser and playground ...")
        add("the workbook", "teaser (00_start_here)", bench_teaser(repeats), "s", runs=repeats)
        add("the workbook", "playground (05), one Train press", bench_playground(repeats), "s", runs=repeats)
    if kernel_probe:
        median, worst, running = bench_kernel_during_training()
        add("the workbook", "a trivial cell while the playground trains", median, "ms", f"slowest {worst:.0f}", 10,
            "" if running else "the run had already ended")
    if notebooks:
        log("notebooks ...")
        table = bench_notebooks(notebook_repeats)
        for name, r in table.iterrows():
            add("notebooks", f"{name}: run time", r["seconds"], "s", runs=notebook_repeats, note="fresh kernel")
            add("notebooks", f"{name}: kernel peak memory", r["kernel peak (MB)"], "MB", runs=notebook_repeats)
        add("notebooks", "all notebooks: run time", table["seconds"].sum(), "s", runs=notebook_repeats)
    torch.set_num_threads(threads)
    return pd.DataFrame(rows, columns=COLUMNS)


def show(table: pd.DataFrame) -> str:
    """The bench table as text, numbers to 3 significant figures."""
    missing = set(COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"not a bench table: columns {sorted(missing)} are missing")
    out = table.assign(value=table["value"].map(sig3))
    lines = []
    for section, part in out.groupby("section", sort=False):
        lines.append(f"\n{section}")
        lines.append(part.drop(columns="section").to_string(index=False))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="every code path on tiny inputs, in seconds (writes bench_tiny.csv)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of each textbook-loop comparison (default 5)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each timed run (default 3)")
    parser.add_argument("--notebook-repeats", type=int, default=1, help="runs of each notebook (default 1)")
    parser.add_argument("--skip-notebooks", action="store_true", help="do not run the notebooks")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: kdnb.training.DEFAULT_THREADS)")
    parser.add_argument("--make-test", action="store_true", help="also time `make test` in a fresh clone")
    parser.add_argument("--out", type=Path, default=None, help="folder for the CSV files (default: data/results/)")
    parser.add_argument("--full-mnist", action="store_true", help="also time the default recipe on full MNIST "
                        "(its files in data/cache/mnist; add --download to fetch them, about 11 MB, SHA-256 checked)")
    parser.add_argument("--download", action="store_true", help="with --full-mnist: download missing MNIST files")
    args = parser.parse_args(argv)
    if args.download and not args.full_mnist:
        parser.error("--download fetches full MNIST for --full-mnist; pass both")

    table = run(tiny=args.tiny, seeds=args.seeds, repeats=args.repeats, notebooks=not args.skip_notebooks,
                notebook_repeats=args.notebook_repeats, threads=args.threads, kernel_probe=not args.tiny)
    if args.make_test:
        table.loc[len(table)] = ["the workbook", "make test, fresh clone, install included", bench_make_test() / 60, "min", "", 1, ""]
    if args.full_mnist:
        from .data import load_mnist_full

        epochs = 1 if args.tiny else 3
        for measure, value in bench_full_mnist(load_mnist_full(download=args.download), epochs, args.threads).items():
            table.loc[len(table)] = ["full MNIST: the default recipe at 16x the data", measure, value, "", "", 1,
                                     f"{epochs} epoch(s)" if "accuracy" in measure else ""]
    print("machine:\n" + machine().to_string())
    print(show(table))
    name = "bench_tiny" if args.tiny else "bench_figures"
    path = write(table, name, args.out)
    write(machine().rename_axis("key").reset_index(), f"{name}_machine", args.out)
    print(f"\nwritten: {path}")
    return 0


@results.maker("bench_figures", "bench_machine", minutes=20)
def make_figures(seeds=(0, 1, 2, 3, 4), threads: int = 2, progress: bool = True) -> dict[str, pd.DataFrame]:
    """The whole record (``python -m kdnb.bench``): the textbook-loop comparisons over ``len(seeds)`` seeds."""
    table = run(seeds=len(seeds), threads=threads, log=print if progress else (lambda _: None))
    return {"bench_figures": table, "bench_machine": machine().rename_axis("key").reset_index()}


MAKERS = (make_figures,)


def write(table: pd.DataFrame, name: str, folder: Path | None = None) -> Path:
    """Write ``table`` as ``name.csv`` atomically: into ``data/results/`` (:func:`kdnb.results.write`) or into ``folder``."""
    from ._io import atomic_write_text

    if folder is None:
        return results.write(table, name)
    return atomic_write_text(Path(folder) / f"{name}.csv", table.to_csv(index=False, float_format="%.6g"))


if __name__ == "__main__":
    sys.exit(main())
