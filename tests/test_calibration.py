"""Expected calibration error and post-hoc temperature scaling (Guo et al. 2017)."""

import math

import pytest
import torch

from kdnb import calibration


def _calibrated(n=20000, C=10, seed=0):
    """Labels drawn from the model's own probabilities: calibrated by construction."""
    g = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(n, C, generator=g, dtype=torch.float64)
    labels = torch.multinomial(torch.softmax(logits, -1), 1, generator=g).squeeze(1)
    return logits, labels


def test_ece_of_a_calibrated_model_is_near_zero():
    logits, labels = _calibrated()
    assert calibration.ece(torch.softmax(logits, -1), labels) < 0.015


def test_ece_of_an_overconfident_model_is_large_and_scaling_finds_T_above_1():
    logits, labels = _calibrated()
    sharp = 3 * logits  # the same ranking, three times too confident
    assert calibration.ece(torch.softmax(sharp, -1), labels) > 0.05
    T = calibration.fit_temperature(sharp, labels)
    assert 2.7 < T < 3.3
    assert calibration.ece(torch.softmax(sharp / T, -1), labels) < 0.015


def test_underconfident_logits_get_T_below_1():
    logits, labels = _calibrated()
    assert calibration.fit_temperature(logits / 2, labels) < 0.6


def test_scaling_leaves_accuracy_unchanged():
    logits, labels = _calibrated(2000)
    T = calibration.fit_temperature(3 * logits, labels)
    report = calibration.calibration_report({"before": 3 * logits, "after": 3 * logits / T}, labels)
    assert report.loc["before", "accuracy (%)"] == report.loc["after", "accuracy (%)"]
    assert report.loc["after", "NLL"] < report.loc["before", "NLL"]


def test_fitted_T_minimizes_nll():
    logits, labels = _calibrated(3000, seed=2)
    T = calibration.fit_temperature(2 * logits, labels)
    best = calibration.nll(2 * logits, labels, T)
    for other in (0.8 * T, 1.2 * T):
        assert calibration.nll(2 * logits, labels, other) > best


def test_reliability_table_bins_and_counts():
    probs = torch.tensor([[0.95, 0.05], [0.55, 0.45], [0.05, 0.95], [0.5, 0.5]])
    labels = torch.tensor([0, 1, 1, 0])
    table = calibration.reliability_table(probs, labels, n_bins=10)
    assert table["count"].sum() == 4 and len(table) == 10
    top = table.iloc[-1]
    assert top["count"] == 2 and math.isclose(top["accuracy"], 1.0) and math.isclose(top["confidence"], 0.95, rel_tol=1e-6)
    # hand computation: bins (0.5] -> conf .5 acc 1, (0.5,0.6] -> conf .55 acc 0, (0.9,1] -> conf .95 acc 1
    assert math.isclose(calibration.ece(probs, labels, 10), 0.25 * 0.5 + 0.25 * 0.55 + 0.5 * 0.05, rel_tol=1e-6)


def test_ece_rejects_logits():
    with pytest.raises(ValueError, match="probabilities"):
        calibration.ece(torch.tensor([[2.0, -1.0]]), torch.tensor([0]))
