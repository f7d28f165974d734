"""Calibration: does a confidence of 90% mean right 90% of the time? And post-hoc temperature scaling.

"Temperature scaling" names two different things, and seed question 003-12 mixes them up:

* In **distillation** (Hinton et al. 2015), T divides the teacher's and the student's logits
  inside the softmax *during training*, to soften the targets; the deployed student predicts
  at T = 1.
* In **calibration** (Guo, Pleiss, Sun & Weinberger 2017, *On Calibration of Modern Neural
  Networks*), one scalar T is fitted *after* training, on held-out data, by minimizing the
  negative log-likelihood of ``softmax(z / T)``; predictions then use that T. Dividing all
  logits by the same positive T never changes the argmax, so accuracy is unchanged: only the
  confidences move.

Expected calibration error (ECE, Naeini et al. 2015; Guo et al. 2017): sort predictions into
``n_bins`` equal-width bins of confidence (the top probability), and average
``|accuracy - mean confidence|`` over the bins, weighted by the fraction of predictions in each.
"""

from __future__ import annotations

import math

import pandas as pd
import torch
import torch.nn.functional as F

from .temperature import check_logits

__all__ = ["reliability_table", "ece", "nll", "fit_temperature", "calibration_report"]


def _check(probs: torch.Tensor, labels: torch.Tensor) -> None:
    if not isinstance(probs, torch.Tensor) or probs.dim() != 2 or not probs.is_floating_point():
        raise TypeError("probs must be a float tensor of shape (N, classes): pass soft_targets(logits, T)")
    if (probs < 0).any() or not torch.allclose(probs.sum(-1), torch.ones(len(probs), dtype=probs.dtype), atol=1e-4):
        raise ValueError("each row of probs must be a probability distribution (non-negative, summing to 1); "
                         "pass probabilities, not logits")
    if labels.shape != probs.shape[:1] or labels.dtype != torch.long:
        raise ValueError(f"labels must be int64 class indices of shape ({len(probs)},), got {labels.dtype} {tuple(labels.shape)}")


def reliability_table(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> pd.DataFrame:
    """Per confidence bin: its edges, how many predictions fall in it, their mean confidence and accuracy.

    Bins are ``(k/n, (k+1)/n]`` (the first also takes 0), as in Guo et al. (2017). Empty bins
    have ``count`` 0 and NaN confidence and accuracy. This is the data of a reliability diagram.
    """
    _check(probs, labels)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    conf, pred = probs.max(-1)
    correct = (pred == labels).double()
    conf = conf.double()
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    index = torch.bucketize(conf, edges[1:-1], right=False)  # bin k holds (edges[k], edges[k+1]]
    rows = []
    for k in range(n_bins):
        mask = index == k
        n = int(mask.sum())
        rows.append({"lower": edges[k].item(), "upper": edges[k + 1].item(), "count": n,
                     "confidence": conf[mask].mean().item() if n else math.nan,
                     "accuracy": correct[mask].mean().item() if n else math.nan})
    return pd.DataFrame(rows)


def ece(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> float:
    """Expected calibration error: ``sum_b (n_b / N) |acc_b - conf_b|`` over equal-width bins (0 is perfect)."""
    table = reliability_table(probs, labels, n_bins)
    full = table[table["count"] > 0]
    return float(((full["count"] / full["count"].sum()) * (full["accuracy"] - full["confidence"]).abs()).sum())


def nll(logits: torch.Tensor, labels: torch.Tensor, T: float = 1.0) -> float:
    """Mean negative log-likelihood of the labels under ``softmax(logits / T)``, in float64 (no checks:
    :func:`fit_temperature` calls it at every step of its search, and its callers check the logits once)."""
    return F.cross_entropy(logits.double() / T, labels).item()


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, lo: float = 0.05, hi: float = 20.0, tol: float = 1e-4) -> float:
    """The T that minimizes the NLL of ``softmax(logits / T)`` on held-out data (Guo et al. 2017).

    Fit it on a *validation* split, never on the test split. The NLL is a smooth function of
    ``log T`` with one minimum for the usual logits, so a golden-section search on ``log T`` in
    ``[lo, hi]`` finds it without gradients or a learning rate. A result at ``hi`` means the
    logits carry almost no information about the labels.
    """
    check_logits(logits)
    logits = logits.detach().double()
    a, b = math.log(lo), math.log(hi)
    g = (math.sqrt(5) - 1) / 2

    def f(log_t: float) -> float:
        return nll(logits, labels, math.exp(log_t))

    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return math.exp((a + b) / 2)


def calibration_report(logits_by_model: dict[str, torch.Tensor], labels: torch.Tensor, n_bins: int = 15) -> pd.DataFrame:
    """Accuracy, mean confidence, NLL and ECE (in %) for several sets of logits on the same labels."""
    rows = {}
    for name, z in logits_by_model.items():
        p = F.softmax(z.double(), -1)
        rows[name] = {"accuracy (%)": 100 * (p.argmax(-1) == labels).double().mean().item(),
                      "mean confidence (%)": 100 * p.max(-1).values.mean().item(),
                      "NLL": nll(z, labels),
                      "ECE (%)": 100 * ece(p, labels, n_bins)}
    return pd.DataFrame(rows).T
