"""The evaluation table and its ratios (core: notebooks 00, 01 and 06 judge models with them)."""

import pytest
import torch

from kdnb import evaluation, models


def test_evaluate_and_ratios(mnist):
    torch.manual_seed(0)
    big, tiny = models.mlp((64, 64)), models.mlp((8,))
    table = evaluation.evaluate({"teacher": big, "student": tiny}, mnist.test.subset(range(200)), batch_size=16, repeats=3)
    assert list(table.index) == ["teacher", "student"]
    assert table.loc["teacher", "bytes"] == 4 * models.count_params(big)
    assert "latency, 16 images (ms)" in table.columns
    r = evaluation.ratios(table)
    assert r.loc["teacher", "times fewer parameters"] == 1.0
    assert r.loc["student", "times fewer parameters"] == pytest.approx(models.count_params(big) / models.count_params(tiny))
    assert r.loc["student", "speed-up, 16 images"] == pytest.approx(
        table.loc["teacher", "latency, 16 images (ms)"] / table.loc["student", "latency, 16 images (ms)"])
    assert r.loc["student", "accuracy lost (points)"] == pytest.approx(
        table.loc["teacher", "test accuracy (%)"] - table.loc["student", "test accuracy (%)"])


def test_evaluate_needs_a_model(mnist):
    with pytest.raises(ValueError, match="at least one model"):
        evaluation.evaluate({}, mnist.test)


def test_latency_is_the_fastest_of_interleaved_rounds(mnist, monkeypatch):
    calls = []
    times = iter([5.0, 9.0, 1.0, 7.0, 3.0, 2.0, 4.0, 8.0])  # round 1: a(1, many), b(1, many); round 2: ...

    def fake_latency(model, shape, batch, repeats):
        calls.append((id(model), batch))
        return next(times)

    monkeypatch.setattr(evaluation, "measure_latency", fake_latency)
    a, b = models.mlp((8,)), models.mlp((4,))
    t = evaluation.evaluate({"a": a, "b": b}, mnist.test.subset(range(50)), batch_size=16, rounds=2)
    assert [c[0] for c in calls] == [id(a), id(a), id(b), id(b)] * 2  # model after model, in turn
    assert t.loc["a", "latency, 1 image (ms)"] == 3.0 and t.loc["a", "latency, 16 images (ms)"] == 2.0
    assert t.loc["b", "latency, 1 image (ms)"] == 1.0 and t.loc["b", "latency, 16 images (ms)"] == 7.0
    with pytest.raises(ValueError, match="rounds"):
        evaluation.evaluate({"a": a}, mnist.test, rounds=0)
