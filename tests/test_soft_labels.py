"""kdnb.soft_labels: targets, class similarity, the missing-class bias, widgets, shipped results."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from kdnb import soft_labels as sl
from kdnb.temperature import soft_targets


def _logits(n=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(10).repeat(n // 10)
    z = 0.3 * torch.randn(len(y), 10, generator=g)
    z[torch.arange(len(y)), y] += 5.0
    z[torch.arange(len(y)), (y + 1) % 10] += 3.0  # every class resembles the next one
    return z, y


def test_smoothed_labels_match_torch_label_smoothing():
    z, y = _logits()
    eps = 0.1
    manual = -(sl.smoothed_labels(y, eps) * F.log_softmax(z, -1)).sum(-1).mean()
    assert torch.isclose(manual, F.cross_entropy(z, y, label_smoothing=eps), atol=1e-6)
    t = sl.smoothed_labels(torch.tensor([2]), 0.2)[0]
    assert torch.isclose(t.sum(), torch.tensor(1.0)) and torch.isclose(t[0], torch.tensor(0.02))
    with pytest.raises(ValueError):
        sl.smoothed_labels(y, 1.5)


def test_class_similarity_finds_the_planted_pairs():
    z, y = _logits()
    M = sl.class_similarity(soft_targets(z, 4.0), y)
    assert M.shape == (10, 10) and np.allclose(M.sum(axis=1), 1.0)
    pairs = sl.similar_pairs(M, k=10)
    planted = {f"{min(a, (a + 1) % 10)}-{max(a, (a + 1) % 10)}" for a in range(10)}
    assert set(pairs.index) == planted


def test_most_ambiguous_is_sorted_by_entropy_and_reports_top2():
    z, y = _logits()
    z[7] = 0.0  # a perfectly uncertain row
    table = sl.most_ambiguous(soft_targets(z, 1.0), y, k=5)
    assert table["index"].iloc[0] == 7
    assert math.isclose(table["entropy (bits)"].iloc[0], math.log2(10), rel_tol=1e-5)
    assert table["entropy (bits)"].is_monotonic_decreasing
    assert (table["p_top1"] >= table["p_top2"]).all()


def test_uniformity_is_one_for_label_smoothing_and_low_for_structured_targets():
    z, y = _logits()
    assert torch.allclose(sl.wrong_class_uniformity(sl.smoothed_labels(y, 0.1), y), torch.ones(len(y)), atol=1e-5)
    assert sl.wrong_class_uniformity(soft_targets(z, 1.0), y).mean() < 0.8
    info = sl.information_table({"one-hot": sl.one_hot(y), "ls": sl.smoothed_labels(y, 0.1)}, y)
    assert info.loc["one-hot", "entropy (bits/example)"] == 0.0
    assert info.loc["ls", "wrong-class mass"] == pytest.approx(0.09)


def test_structure_stats_sees_a_flattened_teacher():
    z, y = _logits()
    flat = z / 4.0 + 0.3 * torch.randn(z.shape, generator=torch.Generator().manual_seed(1))
    flat[torch.arange(len(y)), (y + 1) % 10] -= 0.5  # remove the planted structure
    stats = sl.structure_stats(z, flat, y, T=1.0)
    assert stats["uniformity, label-smoothed teacher"] > stats["uniformity, plain teacher"]
    assert stats["off-diagonal spread (max/min), plain"] > stats["off-diagonal spread (max/min), label-smoothed"]


def test_bias_is_chosen_on_validation_and_recovers_the_class():
    y = torch.tensor([0, 1, 3, 3, 2, 3])
    z = torch.zeros(6, 4)
    z[torch.arange(6), torch.tensor([0, 1, 0, 1, 2, 2])] = 2.0  # every 3 is misread
    z[[0, 1, 4], [0, 1, 2]] = 4.0  # the other digits are read confidently
    z[:, 3] = 1.0
    assert sl.bias_effect(z, y, 3, 0.0)["class right"] == 0
    delta = sl.choose_bias(z, y, 3, grid=(0.0, 3.0, 0.5))
    assert delta == 1.5  # the smallest increase that wins the 3s without losing the others
    after = sl.bias_effect(z, y, 3, delta)
    assert after["class right"] == 3 and after["errors"] == 0
    assert torch.equal(sl.raise_bias(z, 3, 1.0)[:, 3], z[:, 3] + 1.0)
    curve = sl.bias_curve(z, y, 3, [0.0, 1.5])
    assert curve.loc[1.5, "class right"] == 3


def test_drop_class_and_few_examples_subset(mnist):
    kept, mask = sl.drop_class(mnist.train, 3)
    assert (kept.y != 3).all() and len(kept) == int(mask.sum()) == int((mnist.train.y != 3).sum())
    idx = sl.few_examples_subset(mnist.train.y, 105, seed=0)
    counts = torch.bincount(mnist.train.y[idx], minlength=10)
    assert len(idx) == 105 and counts.max() - counts.min() <= 1
    assert not torch.equal(idx, sl.few_examples_subset(mnist.train.y, 105, seed=1))


def test_chosen_T_uses_validation_not_test():
    df = pd.DataFrame({"teacher": ["a"] * 4, "T": [1.0, 1.0, 4.0, 4.0], "seed": [0, 1, 0, 1],
                       "kd_val": [0.9, 0.9, 0.8, 0.8], "kd_test": [0.5, 0.5, 0.99, 0.99]})
    assert sl.chosen_T(df)["T"].unique().tolist() == [1.0]
    table = sl.spread(df, "teacher", ["kd_test"])
    assert table.loc["a", "kd_test max"] == pytest.approx(99.0) and table.loc["a", "seeds"] == 4


def test_target_explorer_updates_when_sliders_move():
    z, y = _logits()
    images = torch.rand(len(y), 1, 28, 28)
    box = sl.target_explorer(z, y, images, [0, 5], eps=0.1, T=1.0)
    assert np.isclose(box.state["smoothed"].max(), 0.91)
    box.eps.value = 0.4
    assert np.isclose(box.state["smoothed"].min(), 0.04)
    h1 = box.state["H_teacher"]
    box.T.value = 10.0
    assert box.state["H_teacher"] > h1
    heights = [b.get_height() for b in box.fig.axes[1].containers[2]]
    assert np.allclose(heights, box.state["teacher"])
    box.image.value = 5
    assert box.state["hard"].argmax() == int(y[5])


def test_bias_explorer_reports_lookups():
    y = torch.tensor([3, 3, 1, 0])
    z = torch.tensor([[0.0, 2.0, 0.0, 1.0], [2.0, 0.0, 0.0, 1.0], [0.0, 3.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0]])
    curves = {"distilled": sl.bias_curve(z, y, 3, np.arange(0, 2.01, 0.5))}
    box = sl.bias_explorer(curves, {"distilled": 1.0})
    box.slider.value = 1.5
    assert box.state["delta"] == 1.5
    assert box.state["distilled"]["class right"] == 2
    assert "2 of 2 threes right" in box.label.value


def test_main_rejects_unknown_parts():
    with pytest.raises(SystemExit):
        sl.main(["nonsense"])


@pytest.mark.parametrize("name,columns", [
    ("missing_class", {"seed", "student", "class_right_before", "class_right_after", "delta_val"}),
    ("few_examples", {"seed", "targets", "final_test", "early_stop_test"}),
    ("teachers", {"teacher", "T", "seed", "kd_val", "kd_test", "alone_test"}),
])
def test_shipped_results_are_complete(name, columns):
    df = sl.read_results(name)
    assert columns <= set(df.columns)
    assert df["seed"].nunique() >= 3
    if name == "missing_class":
        hard = df[df["student"] == "hard labels only"]
        assert (hard["class_right_before"] == 0).all()  # a label-only student never saw a 3
