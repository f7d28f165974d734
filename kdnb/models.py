"""Small teachers and students, and how to measure them.

Builders return plain ``nn.Sequential`` models, so a reader sees every layer. Models are
described by a JSON-able config (``{"kind": "mlp", "hidden": [800, 800]}``) so that
:mod:`kdnb.teachers` can store and rebuild them.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

__all__ = ["mlp", "small_cnn", "build", "count_params", "size_bytes", "measure_latency", "describe"]


def mlp(hidden=(800, 800), in_shape=(1, 28, 28), num_classes: int = 10, dropout: float = 0.0) -> nn.Sequential:
    """A ReLU multilayer perceptron on flattened images; ``hidden=(800, 800)`` is Hinton's 2x800."""
    in_features = 1
    for d in in_shape:
        in_features *= int(d)
    layers: list[nn.Module] = [nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(min(dropout, 0.2)))  # lighter dropout on the input, as Hinton et al. 2012
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def small_cnn(channels=(32, 64), hidden: int = 128, in_shape=(1, 28, 28), num_classes: int = 10, dropout: float = 0.25) -> nn.Sequential:
    """Two 3x3 conv blocks (conv, ReLU, 2x2 max-pool), then a hidden dense layer."""
    c_in, h, w = (int(d) for d in in_shape)
    layers: list[nn.Module] = []
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c_in, h, w = c, h // 2, w // 2
    layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in * h * w, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes)]
    return nn.Sequential(*layers)


_BUILDERS = {"mlp": mlp, "cnn": small_cnn}


def build(config: dict, in_shape=(1, 28, 28), num_classes: int = 10) -> nn.Sequential:
    """Build a model from a config such as ``{"kind": "cnn", "channels": [32, 64]}``."""
    config = dict(config)
    kind = config.pop("kind", None)
    if kind == "charlm":  # a character-level language model (notebook 08): no image shape, no classes
        from .charlm import CharTransformer

        return CharTransformer(**config)
    if kind not in _BUILDERS:
        raise ValueError(f"unknown model kind {kind!r}; use one of {sorted(_BUILDERS) + ['charlm']}")
    return _BUILDERS[kind](in_shape=in_shape, num_classes=num_classes, **config)


def describe(config: dict) -> str:
    """A short human name for a model config, e.g. ``MLP 2x800`` or ``CNN 32-64``."""
    if config.get("kind") == "mlp":
        hidden = list(config.get("hidden", []))
        width = f"{len(hidden)}x{hidden[0]}" if hidden and len(set(hidden)) == 1 else "-".join(map(str, hidden))
        return f"MLP {width}" + (" +dropout" if config.get("dropout") else "")
    if config.get("kind") == "cnn":
        return "CNN " + "-".join(map(str, config.get("channels", (32, 64))))
    if config.get("kind") == "charlm":
        return f"transformer {config.get('layers', 4)}x{config.get('width', 128)}"
    return str(config)


def count_params(model: nn.Module) -> int:
    """Number of parameters (weights and biases)."""
    return sum(p.numel() for p in model.parameters())


def size_bytes(model: nn.Module) -> int:
    """Bytes held by the model's parameters and buffers in memory (float32: 4 bytes each)."""
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


@torch.no_grad()
def measure_latency(model: nn.Module, in_shape=(1, 28, 28), batch_size: int = 1, repeats: int = 50, warmup: int = 5) -> float:
    """Median wall-clock milliseconds for one forward pass on a batch, in eval mode, on the CPU.

    A measurement of this machine at this moment, not a property of the model: compare
    models measured in the same run.
    """
    was_training = model.training
    model.eval()
    x = torch.zeros(batch_size, *in_shape)
    times = []
    try:
        for _ in range(warmup):
            model(x)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    return 1000.0 * statistics.median(times)
