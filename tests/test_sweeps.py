"""Temperature sweeps: gradient scaling with T, the high-T limit, and the shipped sweep CSV."""

import numpy as np
import pandas as pd
import pytest
import torch

from kdnb import sweeps


@pytest.fixture(scope="module")
def logits():
    g = torch.Generator().manual_seed(0)
    return 3 * torch.randn(64, 10, generator=g), 3 * torch.randn(64, 10, generator=g)


def test_without_T2_the_gradient_falls_as_one_over_T_squared(logits):
    z, v = logits
    table = sweeps.soft_gradient_norms(z, v, [1, 10, 100])
    assert np.allclose(table["with_T2"] / table["without_T2"], np.array([1, 100, 10000]), rtol=1e-4)
    # from T=10 to T=100 the bare KL gradient shrinks by about 100, the scaled one levels off
    assert 80 < table.loc[10.0, "without_T2"] / table.loc[100.0, "without_T2"] < 120
    assert 0.8 < table.loc[10.0, "with_T2"] / table.loc[100.0, "with_T2"] < 1.25


def test_distillation_tends_to_logit_matching(logits):
    z, v = logits
    gap = sweeps.logit_matching_gap(z, v, [2, 20, 200])["relative_difference"]
    assert gap.is_monotonic_decreasing and gap.iloc[-1] < 0.02
    assert 5 < gap.iloc[1] / gap.iloc[2] < 20  # about 1/T


def test_temperature_changes_the_gradient_direction(logits):
    z, v = logits
    cos = sweeps.gradient_cosines(z, v, [1, 4, 20])
    assert cos.loc[1.0] == pytest.approx(1.0)
    assert cos.loc[20.0] < 0.99  # not a rescaled copy: T is no learning rate


def test_sweep_settings_differ_only_in_width():
    s = sweeps.sweep_settings()
    assert s["small"]["student"]["hidden"] == [30] and s["large"]["student"]["hidden"] == [300]
    assert {k: v for k, v in s["small"].items() if k not in ("student", "summary")} == \
           {k: v for k, v in s["large"].items() if k not in ("student", "summary")}


def test_shipped_csv_is_complete():
    df = pd.read_csv(sweeps.default_csv())
    assert set(df["T"]) == set(sweeps.SWEEP_TEMPERATURES)
    assert set(df["seed"]) == set(sweeps.SWEEP_SEEDS)
    assert df.groupby(["student", "T"]).size().eq(len(sweeps.SWEEP_SEEDS)).all()
    # the label-only student does not depend on T: identical for each T of a seed
    assert df.groupby(["student", "seed"])["alone_test"].nunique().eq(1).all()
    summary = sweeps.summarize_sweep(df)
    assert {"kd_mean", "kd_min", "kd_max", "alone_mean", "gain"} <= set(summary.columns)


def test_cli_writes_csv_atomically(tmp_path, monkeypatch):
    fake = pd.DataFrame([{"size": "small", "hidden": 30, "seed": 0, "T": 2.0, "student": "MLP 1x30",
                          "alone_test": 0.9, "kd_test": 0.91}])
    monkeypatch.setattr(sweeps, "temperature_sweep", lambda *a, **k: fake)
    out = tmp_path / "sweep.csv"
    assert sweeps.main(["temperature", "--T", "2", "--seeds", "0", "--out", str(out)]) == 0
    assert pd.read_csv(out)["kd_test"].iloc[0] == 0.91
    assert not list(tmp_path.glob(".*.tmp"))
