"""Speed and memory figures of the workbook, printed (never asserted by timed unit tests).

    python -m kdnb.bench                # teaser, slider callback, each notebook's run time and kernel peak memory
    python -m kdnb.bench --make-test    # also: `make test` in a fresh clone, install included

Figures depend on the machine and on what else it is doing: run on an idle machine and
compare figures from the same run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def bench_teaser(repeats: int = 2) -> float:
    """Best wall-clock seconds of the first notebook's teaser (data, teacher, two students, table)."""
    from .nb00_start_here import teaser

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        teaser(progress=False)
        times.append(time.perf_counter() - start)
    return min(times)


def bench_playground(repeats: int = 2) -> float:
    """Best wall-clock seconds of one Train press in notebook 05's playground, at its default settings
    (teacher logits already cached, as after the set-up cell)."""
    from .data import load_mnist_subset
    from .nb05_distillation_in_practice import Playground

    playground = Playground(load_mnist_subset())
    playground.teacher_logits(playground.settings()["teacher"])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        playground.train(background=False)
        times.append(time.perf_counter() - start)
    if playground.error is not None:
        raise playground.error
    return min(times)


def bench_kernel_during_training(probes: int = 10) -> tuple[float, float, bool]:
    """In a real kernel: press Train in notebook 05's playground, then time trivial cells while it trains.

    Returns (median ms, slowest ms, whether the run was still going after the last probe). The
    run lives in a background thread, so a cell should answer in milliseconds, not wait ~10 s.
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


def bench_notebooks() -> pd.DataFrame:
    """Run every notebook from a fresh kernel (files untouched): seconds and kernel peak memory."""
    from .nbtools import NOTEBOOKS, execute

    rows = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        _, seconds, peak = execute(path)
        rows.append({"notebook": path.name, "seconds": round(seconds, 1), "kernel peak (MB)": round(peak)})
    return pd.DataFrame(rows).set_index("notebook")


def bench_make_test() -> float:
    """Seconds for `make test` in a fresh clone of this repository (creates its own .venv)."""
    with tempfile.TemporaryDirectory(prefix="kdnb-clone-") as tmp:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), tmp], check=True)
        start = time.perf_counter()
        subprocess.run(["make", "test"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--make-test", action="store_true", help="also time `make test` in a fresh clone")
    args = parser.parse_args(argv)
    import numpy as np

    from .nb03_temperature import synthetic_inputs, temperature_explorer
    from .nb04_distillation_losses import PUSH_TEMPERATURES, push_explorer
    from .widgets import time_callback

    print(f"teaser (00_start_here): {bench_teaser():.1f} s   [target < 15 s]")
    explorer = temperature_explorer(synthetic_inputs())
    median, p95 = time_callback(explorer.slider, [float(t) for t in np.geomspace(0.2, 40, 37)], n=200)
    print(f"temperature slider callback, 200 moves: median {median:.1f} ms, p95 {p95:.1f} ms   [target < 30 ms]")
    one = synthetic_inputs(1)["image 0"]
    push = push_explorer(one["student"].float(), one["teacher"].float())
    median, p95 = time_callback(push.controls["T"], list(PUSH_TEMPERATURES), n=200)
    print(f"gradient explorer (04) T slider, 200 moves: median {median:.1f} ms, p95 {p95:.1f} ms   [target < 30 ms]")
    from . import results
    from .nb06_pruning_and_compression import BASE, pruning_explorer
    from .teachers import load_teacher

    pruning = pruning_explorer(load_teacher(BASE), results.read("pruning_curve"))
    median, p95 = time_callback(pruning.controls["sparsity"], list(range(0, 100, 3)), n=200)
    print(f"pruning explorer (06) sparsity slider, 200 moves: median {median:.1f} ms, p95 {p95:.1f} ms   [target < 30 ms]")
    print(f"training playground (05), one Train press: {bench_playground():.1f} s   [target about 10 s]")
    median, worst, running = bench_kernel_during_training()
    print(f"a trivial cell while the playground trains, 10 probes: median {median:.0f} ms, slowest {worst:.0f} ms"
          f"{'' if running else ' (the run had already ended)'}   [target: the kernel stays responsive]")
    print(bench_notebooks().to_string())
    print("   [targets: each notebook < 60 s (05 and 06: < 90 s), kernel peak < 1000 MB]")
    if args.make_test:
        print(f"make test, fresh clone, install included: {bench_make_test() / 60:.1f} min   [target < 6 min]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
