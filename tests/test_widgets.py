"""The temperature explorer, driven from code as a reader drives it with the mouse."""

import math

import numpy as np
import pytest
import torch

from kdnb import temperature, widgets


@pytest.fixture(scope="module")
def inputs():
    return widgets._synthetic_inputs(n_images=3, seed=1)


@pytest.fixture(scope="module")
def explorer(inputs):
    return widgets.temperature_explorer(inputs, T=1.0)


def test_slider_updates_the_state_and_the_text(explorer, inputs):
    explorer.slider.value = 20
    key = explorer.dropdown.value
    for model in ("teacher", "student"):
        expected = temperature.soft_targets(inputs[key][model], 20)
        assert np.allclose(explorer.state["probs"][model], expected.numpy(), atol=1e-12)
        assert math.isclose(explorer.state["entropy"][model], temperature.entropy(expected).item(), rel_tol=1e-12)
        assert math.isclose(explorer.state["ratio"][model], temperature.top2_ratio(expected).item(), rel_tol=1e-12)
        heights = [bar.get_height() for bar in explorer.artists["bars"][model].patches]
        assert np.allclose(heights, expected.numpy())
        assert f"entropy {explorer.state['entropy'][model]:.2f} bits" in explorer.artists["texts"][model].get_text()
    assert "T = 20.00" in explorer.artists["title"].get_text()
    assert explorer.view.value[:8] == b"\x89PNG\r\n\x1a\n"  # a rendered image reached the view


def test_extremes():
    z = torch.tensor([5.0, 3.0, 1.0, 0.5, 0.0, -1.0, -1.0, -2.0, -3.0, -4.0], dtype=torch.float64)
    explorer = widgets.temperature_explorer({"a": {"teacher": z}})
    explorer.slider.value = 0.1
    p = explorer.state["probs"]["teacher"]
    assert p.max() > 0.999 and explorer.state["entropy"]["teacher"] < 0.02  # about one-hot: the argmax
    explorer.slider.value = 50
    p = explorer.state["probs"]["teacher"]
    assert np.abs(p - 0.1).max() < 0.05 and explorer.state["entropy"]["teacher"] > 0.97 * math.log2(10)  # nearly uniform


def test_argmax_is_the_same_at_every_temperature(explorer):
    seen = set()
    for T in (0.1, 1.0, 4.0, 50.0):
        explorer.slider.value = T
        seen.add(explorer.state["argmax"]["teacher"])
    assert len(seen) == 1


def test_dropdown_switches_image(explorer, inputs):
    explorer.slider.value = 4
    keys = list(inputs)
    explorer.dropdown.value = keys[2]
    expected = temperature.soft_targets(inputs[keys[2]]["teacher"], 4)
    assert np.allclose(explorer.state["probs"]["teacher"], expected.numpy())
    explorer.dropdown.value = keys[0]


def test_state_at_is_pure(explorer):
    before = dict(explorer.state)
    s = explorer.state_at(3.0)
    assert s["T"] == 3.0 and explorer.state["T"] == before["T"]


def test_pick_images_finds_confident_and_ambiguous():
    logits = torch.tensor([[9.0, 0, 0, 0], [1.0, 0.9, 0.8, 0], [2.0, 1.9, 0, 0], [5.0, 0, 0, 0]])
    labels = torch.tensor([0, 1, 0, 0])
    picks = widgets.pick_images(logits, labels, n_ambiguous=2)
    assert list(picks.values()) == [0, 1, 2]
    assert "sure" in next(iter(picks)) and "says 0" in list(picks)[1]


def test_benchmark_returns_milliseconds(explorer):
    ms = widgets.benchmark_callback(n=5, explorer=explorer)
    assert 0 < ms < 5000


def test_bad_inputs():
    with pytest.raises(ValueError):
        widgets.temperature_explorer({})
    with pytest.raises(ValueError):
        widgets.temperature_explorer(widgets._synthetic_inputs(1), mode="ipympl")
