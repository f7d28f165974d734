"""Tests for kdnb.bench: the tiny mode runs every path in seconds; the counts and the loops are checked, never timings."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from kdnb import bench
from kdnb.models import mlp
from kdnb.training import accuracy, distill, fit, seed_everything


def test_training_flops_count_the_mlp_exactly() -> None:
    flops = bench.training_flops(mlp([100]), mlp([30]), batch=8)
    forward = 2 * (784 * 100 + 100 * 10)
    assert flops["student_forward"] == forward
    # backward: both weight gradients, and the input gradient of the second layer only
    assert flops["student_step"] == forward + forward + 2 * 100 * 10
    assert flops["teacher_forward"] == 2 * (784 * 30 + 30 * 10)


def test_training_matmuls_are_the_products_the_flop_counter_sees() -> None:
    student = mlp([64, 32])
    shapes = bench.training_matmuls(student, batch=16)
    assert shapes[0] == (16, 784, 64) and len(shapes) == 3 * 3 - 1
    assert sum(2 * m * k * n for m, k, n in shapes) == bench.training_flops(student, None, batch=16)["student_step"] * 16
    with pytest.raises(ValueError, match="nn.Linear"):
        bench.training_matmuls(torch.nn.Sequential(torch.nn.ReLU()), 4)


def test_matmul_rate_is_positive() -> None:
    assert bench.matmul_rate([(32, 32, 32)], threads=1, repeats=1, min_seconds=0.001) > 0


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
    distill(ours, train, teacher=teacher, T=4.0, alpha=0.7, epochs=6, lr=2e-3, batch_size=64, seed=3, progress=False)
    bench.textbook_distill(theirs, teacher, train.X, train.y, T=4.0, alpha=0.7, epochs=6, lr=2e-3, batch_size=64, seed=3)
    ours_acc, theirs_acc = accuracy(ours, mnist.test), accuracy(theirs, mnist.test)
    assert not theirs.training and theirs_acc > before + 0.1
    assert abs(ours_acc - theirs_acc) < 0.02, (ours_acc, theirs_acc)


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        bench.run(seeds=0)
    with pytest.raises(ValueError, match="unknown setting"):
        bench.compare_loops("no-such-setting", seeds=[0])
    with pytest.raises(ValueError, match="not a bench table"):
        bench.show(pd.DataFrame({"value": [1.0]}))
    with pytest.raises(ValueError, match="repeats"):
        bench.median_time(lambda: None, 0)


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
