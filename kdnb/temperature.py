"""Temperature (温度): how dividing logits by T reshapes a softmax.

Hinton, Vinyals & Dean (2015), *Distilling the Knowledge in a Neural Network*, eq. (1):

.. math::  p_i(T) = \\frac{\\exp(z_i / T)}{\\sum_j \\exp(z_j / T)}

T = 1 is the ordinary softmax. T > 1 flattens the distribution and lifts the small
probabilities (the "dark knowledge"); T < 1 sharpens it; T -> 0 tends to the one-hot argmax
and T -> infinity to the uniform distribution. Distillation uses T >= 1 (the paper tried
about 2 to 20), for teacher and student alike, during training only: the deployed
student predicts at T = 1.

The checks here are shared by :mod:`kdnb.losses`, so every entry point rejects a bad
temperature or non-finite logits with the same clear message.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

__all__ = [
    "check_temperature",
    "check_logits",
    "soft_targets",
    "entropy",
    "top2_ratio",
]


def check_temperature(T) -> float:
    """Return ``T`` as a float, or raise if it is not a finite number above zero."""
    if isinstance(T, torch.Tensor):
        if T.numel() != 1:
            raise ValueError(f"temperature must be a single number, got a tensor of shape {tuple(T.shape)}")
        T = T.item()
    if isinstance(T, bool) or not isinstance(T, numbers.Real):
        raise TypeError(f"temperature must be a number, got {type(T).__name__}; pass e.g. T=4.0")
    T = float(T)
    if not math.isfinite(T):
        raise ValueError(f"temperature must be finite, got T={T}; distillation uses T between about 1 and 20")
    if T <= 0:
        raise ValueError(
            f"temperature must be > 0, got T={T}: softmax(z / T) is undefined at T = 0 and "
            "reversed for T < 0. Use T >= 1 to soften (distillation), 0 < T < 1 to sharpen."
        )
    return T


def check_logits(logits: torch.Tensor, name: str = "logits") -> torch.Tensor:
    """Raise unless ``logits`` is a floating tensor of shape (..., classes) with finite values."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {logits.dtype}; call .float() first")
    if logits.dim() < 1 or logits.shape[-1] < 2:
        raise ValueError(f"{name} must have shape (..., classes) with at least 2 classes, got {tuple(logits.shape)}")
    if not torch.isfinite(logits).all():
        bad = (~torch.isfinite(logits)).sum().item()
        raise ValueError(
            f"{name} contain {bad} NaN or infinite value(s); check the model's inputs and "
            "learning rate (a diverged model outputs NaN), or the data for missing values"
        )
    return logits


def soft_targets(logits: torch.Tensor, T: float = 1.0) -> torch.Tensor:
    """Softened probabilities ``softmax(logits / T)`` over the last dimension (软标签 soft labels)."""
    T = check_temperature(T)
    check_logits(logits)
    return F.softmax(logits / T, dim=-1)


def entropy(probs: torch.Tensor, base: float = 2.0) -> torch.Tensor:
    """Shannon entropy of each distribution in ``probs`` (last dimension), in bits by default.

    A one-hot label has entropy 0; the uniform distribution over C classes has log(C).
    Terms with p = 0 contribute 0 (the limit of p log p).
    """
    if not isinstance(probs, torch.Tensor) or not probs.is_floating_point():
        raise TypeError("probs must be a floating-point torch.Tensor of probabilities")
    if not base > 1:
        raise ValueError(f"base must be > 1 (2 for bits, math.e for nats), got {base}")
    if (probs < 0).any() or not torch.isfinite(probs).all():
        raise ValueError("probs must be finite and non-negative; pass soft_targets(logits, T), not logits")
    plogp = torch.where(probs > 0, probs * torch.log(probs.clamp_min(1e-45)), torch.zeros_like(probs))
    return -plogp.sum(-1) / math.log(base)


def top2_ratio(probs: torch.Tensor) -> torch.Tensor:
    """Largest probability divided by the second largest: how much the top class dominates."""
    top = probs.topk(2, dim=-1).values
    return top[..., 0] / top[..., 1]
