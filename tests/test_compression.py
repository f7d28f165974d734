"""Tests of kdnb.compression: the evaluation, the families table, the teacher-cost timing, the
side-by-side trap, the transfer demonstration and its widget."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from kdnb import compression, models, training
from kdnb import data as kdata


@pytest.fixture(scope="module")
def small(mnist) -> kdata.Split:
    return mnist.train.subset(range(300))


def test_evaluate_and_ratios(mnist):
    torch.manual_seed(0)
    big, tiny = models.mlp((64, 64)), models.mlp((8,))
    table = training.evaluate({"teacher": big, "student": tiny}, mnist.test.subset(range(200)), batch_size=16, repeats=3)
    assert list(table.index) == ["teacher", "student"]
    assert table.loc["teacher", "bytes"] == 4 * models.count_params(big)
    r = compression.ratios(table)
    assert r.loc["teacher", "times fewer parameters"] == 1.0
    assert r.loc["student", "times fewer parameters"] == pytest.approx(models.count_params(big) / models.count_params(tiny))
    assert r.loc["student", "accuracy lost (points)"] == pytest.approx(
        table.loc["teacher", "test accuracy (%)"] - table.loc["student", "test accuracy (%)"])


def test_families_table_puts_kd_among_the_families():
    fam = compression.families({"smaller": 30.0, "faster": 4.0, "points lost": 1.5})
    for family in ("knowledge distillation", "pruning", "quantization", "low-rank", "efficient architectures", "Deep Compression"):
        assert any(i.startswith(family) for i in fam.index), family
    kd = fam.loc["knowledge distillation (知识蒸馏)"]
    assert "30x" in kd["typical gain"] and kd["needs retraining?"].startswith("yes")
    assert fam.loc["Deep Compression (a pipeline, not a family)", "needs retraining?"].startswith("yes")  # 000-7
    assert compression.families()["typical gain"].iloc[0] == "not measured"


def test_side_by_side_student_learns_nothing_from_the_teacher(small):
    out = compression.side_by_side(small, teacher_config={"kind": "mlp", "hidden": [32]}, epochs=1, batch_size=64)
    assert out["identical weights"] is True
    assert out["grad of student loss wrt teacher outputs"] is None
    # the teacher did train (so the equality is not because nothing happened)
    torch.manual_seed(0)
    fresh = models.build({"kind": "mlp", "hidden": [32]})
    assert not torch.equal(fresh[1].weight, out["teacher"][1].weight)


def test_epoch_seconds_reports_every_mode(small):
    torch.manual_seed(0)
    teacher = models.mlp((64,)).eval()
    t = compression.epoch_seconds({"s": {"kind": "mlp", "hidden": [16]}}, teacher, small, batch_size=100)
    assert list(t.index) == ["s"]
    for col in ("teacher pass, once", "plain", "cached", "teacher every step"):
        assert t.loc["s", col] > 0
    assert t.loc["s", "KD (cached) / plain"] == pytest.approx(t.loc["s", "cached"] / t.loc["s", "plain"])


def test_downsample_halves_each_side(small):
    X = compression.downsample(small.X[:4])
    assert X.shape == (4, 1, 14, 14)
    assert torch.allclose(X.mean(), small.X[:4].mean(), atol=1e-6)  # average pooling keeps the mean


def test_shipped_transfer_results_have_five_seeds_per_label_count():
    res = pd.read_csv(compression.TRANSFER_CSV)
    summary = compression.transfer_summary(res)
    assert (summary["seeds"] == 5).all()
    assert {"alone_test", "kd_test", "labels", "seed"} <= set(res.columns)
    assert summary.loc[300, "gain_mean"] > 0 and not summary.loc[300, "ranges_overlap"]


def _fake_summary():
    res = pd.DataFrame({"labels": [100, 100, 3500, 3500], "seed": [0, 1, 0, 1],
                        "alone_test": [0.70, 0.72, 0.93, 0.92], "kd_test": [0.85, 0.86, 0.93, 0.94]})
    res["gain"] = res.kd_test - res.alone_test
    return compression.transfer_summary(res)


def test_transfer_widget_moves_the_bars_when_the_slider_moves():
    import matplotlib.pyplot as plt

    w = compression.transfer_widget(_fake_summary())
    ax = w.fig.axes[0]
    w.slider.value = 3500
    heights = [b.get_height() for b in ax.patches]
    assert heights == pytest.approx([92.5, 93.5])
    w.slider.value = 100
    assert [b.get_height() for b in ax.patches] == pytest.approx([71.0, 85.5])
    assert w.update(3500)["gain"] == pytest.approx(1.0)
    plt.close(w.fig)
