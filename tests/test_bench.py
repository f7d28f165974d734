"""Tests for kdnb.bench: the tiny mode runs every path in seconds; the counts and the loops are checked, never timings."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from kdnb import bench, bench_loops
from kdnb.models import mlp
from kdnb.training import Run, accuracy, distill, fit, seed_everything


def test_training_flops_count_the_mlp_exactly() -> None:
    flops = bench_loops.training_flops(mlp([100]), mlp([30]), batch=8)
    forward = 2 * (784 * 100 + 100 * 10)
    assert flops["student_forward"] == forward
    # backward: both weight gradients, and the input gradient of the second layer only
    assert flops["student_step"] == forward + forward + 2 * 100 * 10
    assert flops["teacher_forward"] == 2 * (784 * 30 + 30 * 10)


def test_training_matmuls_are_the_products_the_flop_counter_sees() -> None:
    student = mlp([64, 32])
    shapes = bench_loops.training_matmuls(student, batch=16)
    assert shapes[0] == (16, 784, 64) and len(shapes) == 3 * 3 - 1
    assert sum(2 * m * k * n for m, k, n in shapes) == bench_loops.training_flops(student, None, batch=16)["student_step"] * 16
    with pytest.raises(ValueError, match="nn.Linear"):
        bench_loops.training_matmuls(torch.nn.Sequential(torch.nn.ReLU()), 4)


def test_matmul_rate_is_positive() -> None:
    assert bench_loops.matmul_rate([(32, 32, 32)], threads=1, repeats=1, min_seconds=0.001) > 0


def test_textbook_loop_learns_what_distill_learns(mnist) -> None:
    """The same teacher, student, data and epochs: the two loops end within a point of each other."""
    train = mnist.train.subset(torch.arange(1000))
    seed_everything(0)
    teacher = mlp([64])
    fit(teacher, train, epochs=3, batch_size=64, progress=False)
    seed_everything(1)
    ours, theirs = mlp([32]), mlp([32])
    theirs.load_state_dict(ours.state_dict())
    before = accuracy(theirs, mnist.test)
    run = Run(epochs=6, lr=2e-3, batch_size=64, seed=3, progress=False)
    distill(ours, train, run=run, teacher=teacher, T=4.0, alpha=0.7)
    bench_loops.textbook_distill(theirs, teacher, train, run, T=4.0, alpha=0.7)
    ours_acc, theirs_acc = accuracy(ours, mnist.test), accuracy(theirs, mnist.test)
    assert not theirs.training and theirs_acc > before + 0.1
    assert abs(ours_acc - theirs_acc) < 0.02, (ours_acc, theirs_acc)


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        bench.run(seeds=0)
    with pytest.raises(ValueError, match="unknown setting"):
        bench_loops.compare_loops("no-such-setting", seeds=[0])
    with pytest.raises(ValueError, match="not a bench table"):
        bench.show(pd.DataFrame({"value": [1.0]}))
    with pytest.raises(ValueError, match="repeats"):
        bench_loops.median_time(lambda: None, 0)


def test_sig3() -> None:
    assert [bench.sig3(x) for x in (12.345, 0.045678, 12345.0, float("nan"))] == ["12.3", "0.0457", "1.23e+04", "nan"]


def test_tiny_bench_writes_its_table(tmp_path, capsys) -> None:
    assert bench.main(["--tiny", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "machine:" in printed and "textbook time / distill time" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench_tiny.csv", "bench_tiny_machine.csv"]  # no temporary file left
    table = pd.read_csv(tmp_path / "bench_tiny.csv")
    assert list(table.columns) == bench.COLUMNS
    sections = set(table["section"])
    for part in ("textbook loop vs distill: cnn-teacher", "textbook loop vs distill: default", "against the machine",
                 "one training run at 1 and 2 threads: default", "one training run at 1 and 2 threads: unregularized-2x800",
                 "callbacks"):
        assert any(s.startswith(part) for s in sections), part
    assert table["value"].map(math.isfinite).all()
    ratios = table[table["unit"] == "x"]["value"]
    assert len(ratios) == 4 and (ratios > 0).all()
    fraction = table[table["measure"].str.startswith("fraction of the matmul rate")]["value"]
    assert len(fraction) == 1 and 0 < fraction.iloc[0] < 10
    accs = table[table["unit"] == "%"]["value"]
    assert len(accs) == 4 and accs.between(0, 100).all()
    callbacks = table[table["section"].str.startswith("callbacks")]
    assert len(callbacks) == 7 and (callbacks["value"] > 0).all()
    machine = pd.read_csv(tmp_path / "bench_tiny_machine.csv").set_index("key")["value"]
    assert {"cpu", "cores", "torch", "torch threads"} <= set(machine.index)


def test_full_mnist_bench_downloads_checks_and_trains_on_files_the_test_makes(tmp_path) -> None:
    """The optional full-MNIST path for real: fetched from a local mirror, SHA-256 checked, then the default
    recipe's twins trained on it. The files are tiny stand-ins the test writes (no network)."""
    import numpy as np

    from kdnb import data as kdata
    from kdnb.download import MNIST_FILES, ChecksumError

    from test_download import write_idx

    rng = np.random.default_rng(0)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    arrays = {"train_images": rng.integers(0, 256, (300, 28, 28), dtype=np.uint8),
              "train_labels": np.repeat(np.arange(10, dtype=np.uint8), 30),
              "test_images": rng.integers(0, 256, (100, 28, 28), dtype=np.uint8),
              "test_labels": np.repeat(np.arange(10, dtype=np.uint8), 10)}
    files = {key: (MNIST_FILES[key][0], write_idx(mirror / MNIST_FILES[key][0], a)) for key, a in arrays.items()}
    cache = tmp_path / "cache"
    ds = kdata.load_mnist_full(cache, download=True, val_size=50, files=files, mirrors=[mirror.as_uri()])
    assert sorted(p.name for p in cache.iterdir()) == sorted(name for name, _ in files.values())
    figures = bench.bench_full_mnist(ds, epochs=1, threads=1)
    assert figures["training images"] == 250
    assert figures["teacher pass over them (the cache)"] > 0 and figures["two students, seconds per epoch each"] > 0
    for who in ("student alone", "distilled student"):
        assert 0 <= figures[f"{who}, test accuracy"] <= 100
    # A corrupted file in the cache is refused, with the fix named.
    first = cache / files["train_images"][0]
    first.write_bytes(first.read_bytes()[:-10])
    with pytest.raises(ChecksumError, match="delete"):
        kdata.load_mnist_full(cache, val_size=50, files=files)


def test_download_is_refused_without_full_mnist(capsys) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--tiny", "--download"])
    assert "--full-mnist" in capsys.readouterr().err
