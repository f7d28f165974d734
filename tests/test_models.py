"""Tests for kdnb.models: builders, configs, sizes and latency."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kdnb import models
from kdnb.models import build, count_params, describe, measure_latency, mlp, size_bytes, small_cnn

SHAPES = [(1, 28, 28), (1, 8, 8)]


@pytest.mark.parametrize("in_shape", SHAPES)
@pytest.mark.parametrize("factory", [
    lambda s: mlp(hidden=(16, 8), in_shape=s),
    lambda s: mlp(hidden=(16,), in_shape=s, dropout=0.5),
    lambda s: small_cnn(channels=(4, 8), hidden=16, in_shape=s),
    lambda s: small_cnn(in_shape=s),
], ids=["mlp", "mlp-dropout", "cnn-tiny", "cnn-default"])
def test_output_shape(factory, in_shape) -> None:
    model = factory(in_shape)
    assert isinstance(model, nn.Sequential)
    x = torch.rand(5, *in_shape)
    model.train()
    assert model(x).shape == (5, 10)
    model.eval()
    assert model(x).shape == (5, 10)


def test_num_classes_is_respected() -> None:
    assert mlp(hidden=(4,), in_shape=(1, 8, 8), num_classes=3)(torch.rand(2, 1, 8, 8)).shape == (2, 3)
    assert small_cnn(channels=(2,), hidden=4, in_shape=(1, 8, 8), num_classes=7)(torch.rand(2, 1, 8, 8)).shape == (2, 7)


def test_count_params_by_hand() -> None:
    model = mlp(hidden=[3], in_shape=(1, 2, 2))
    assert count_params(model) == (4 * 3 + 3) + (3 * 10 + 10)
    model = mlp(hidden=[5, 2], in_shape=(1, 3, 1), num_classes=4)
    assert count_params(model) == (3 * 5 + 5) + (5 * 2 + 2) + (2 * 4 + 4)
    # Dropout adds no parameters.
    assert count_params(mlp(hidden=[3], in_shape=(1, 2, 2), dropout=0.5)) == count_params(mlp(hidden=[3], in_shape=(1, 2, 2)))


def test_count_params_cnn_by_hand() -> None:
    # conv 1->2 (3x3): 18 + 2; 8x8 -> pool -> 4x4; dense 2*4*4=32 -> 5: 160 + 5; 5 -> 10: 50 + 10.
    model = small_cnn(channels=(2,), hidden=5, in_shape=(1, 8, 8))
    assert count_params(model) == (9 * 2 + 2) + (32 * 5 + 5) + (5 * 10 + 10)


def test_hinton_2x800_size() -> None:
    # 784*800+800 + 800*800+800 + 800*10+10, the well-known ~1.28M of Hinton's student.
    assert count_params(mlp()) == 784 * 800 + 800 + 800 * 800 + 800 + 800 * 10 + 10


@pytest.mark.parametrize("model", [mlp(hidden=[3], in_shape=(1, 2, 2)), small_cnn(channels=(4, 8), hidden=16)],
                         ids=["mlp", "cnn"])
def test_size_bytes_is_four_per_float32_parameter(model) -> None:
    assert size_bytes(model) == 4 * count_params(model)


def test_size_bytes_counts_dtype_and_buffers() -> None:
    model = mlp(hidden=[3], in_shape=(1, 2, 2)).double()
    assert size_bytes(model) == 8 * count_params(model)
    with_bn = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    # BatchNorm: weight and bias are parameters; running mean/var (float32) and num_batches_tracked (int64) are buffers.
    assert size_bytes(with_bn) == 4 * (6 + 3 + 3 + 3) + 4 * (3 + 3) + 8


def test_build_from_config() -> None:
    model = build({"kind": "mlp", "hidden": [7, 7]}, in_shape=(1, 8, 8))
    assert count_params(model) == count_params(mlp(hidden=[7, 7], in_shape=(1, 8, 8)))
    assert model(torch.rand(2, 1, 8, 8)).shape == (2, 10)
    config = {"kind": "cnn", "channels": [4, 8], "hidden": 16, "dropout": 0.1}
    model = build(config, in_shape=(1, 28, 28), num_classes=5)
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 5)
    assert count_params(model) == count_params(small_cnn(channels=(4, 8), hidden=16, num_classes=5))
    assert config == {"kind": "cnn", "channels": [4, 8], "hidden": 16, "dropout": 0.1}  # not mutated
    dropouts = [m.p for m in model if isinstance(m, nn.Dropout)]
    assert dropouts == [0.1, 0.1]


@pytest.mark.parametrize("config", [{"kind": "transformer"}, {"hidden": [8]}, {}])
def test_build_unknown_kind(config) -> None:
    with pytest.raises(ValueError, match="kind"):
        build(config)


def test_describe() -> None:
    assert describe({"kind": "mlp", "hidden": [800, 800]}) == "MLP 2x800"
    assert describe({"kind": "mlp", "hidden": [1200, 1200], "dropout": 0.5}) == "MLP 2x1200 +dropout"
    assert describe({"kind": "mlp", "hidden": [64, 32]}) == "MLP 64-32"
    assert describe({"kind": "cnn", "channels": [32, 64]}) == "CNN 32-64"
    assert describe({"kind": "cnn"}) == "CNN 32-64"
    assert describe({"kind": "cnn", "channels": [8, 16, 32]}) == "CNN 8-16-32"


def test_mlp_dropout_layout() -> None:
    model = mlp(hidden=[4, 4], in_shape=(1, 2, 2), dropout=0.5)
    rates = [m.p for m in model if isinstance(m, nn.Dropout)]
    assert rates == [0.2, 0.5, 0.5]  # lighter on the input (Hinton et al. 2012)
    assert not any(isinstance(m, nn.Dropout) for m in mlp(hidden=[4], in_shape=(1, 2, 2)))


@pytest.mark.parametrize("training", [True, False])
def test_measure_latency_positive_and_restores_mode(training: bool) -> None:
    model = mlp(hidden=[8], in_shape=(1, 8, 8), dropout=0.5)
    model.train(training)
    seen_modes = []
    model.register_forward_pre_hook(lambda module, args: seen_modes.append(module.training))
    ms = measure_latency(model, in_shape=(1, 8, 8), batch_size=4, repeats=5, warmup=1)
    assert isinstance(ms, float)
    assert ms > 0.0
    assert ms < 1000.0
    assert len(seen_modes) == 6 and not any(seen_modes)  # measured in eval mode
    assert model.training is training
    assert all(m.training is training for m in model.modules())


def test_measure_latency_uses_no_grad() -> None:
    model = mlp(hidden=[4], in_shape=(1, 2, 2))
    grads = []
    model.register_forward_hook(lambda module, args, out: grads.append(out.requires_grad))
    measure_latency(model, in_shape=(1, 2, 2), repeats=2, warmup=0)
    assert grads == [False, False]


def test_all_exports_exist() -> None:
    for name in models.__all__:
        assert hasattr(models, name), name
