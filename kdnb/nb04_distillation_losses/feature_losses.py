"""Losses beyond logits: where a small CNN's features are read, and the feature and relation losses.

FitNets hints (Romero et al. 2015) are a regressor and ``F.mse_loss`` (see :mod:`.comparison`); attention
transfer (Zagoruyko & Komodakis 2017), the cosine of hidden states (as DistilBERT, Sanh et al. 2019) and
relational KD (Park et al. 2019) are here. :class:`Distiller` wraps a student so that its features are
kept for the loss at every forward pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def tap_points(model: nn.Sequential) -> dict[str, int]:
    """Where to read features in a :func:`kdnb.models.small_cnn`: after each conv block, and the hidden layer."""
    pools = [i for i, m in enumerate(model) if isinstance(m, nn.MaxPool2d)]
    linears = [i for i, m in enumerate(model) if isinstance(m, nn.Linear)]
    if len(pools) < 2 or len(linears) < 2:
        raise ValueError("tap_points expects a small_cnn: two conv blocks with max-pooling and two linear layers")
    hidden = max(i for i, m in enumerate(model) if isinstance(m, nn.ReLU) and i < linears[-1])  # before any dropout
    return {"block1": pools[0], "block2": pools[1], "hidden": hidden}


def forward_features(model: nn.Sequential, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run ``model`` layer by layer and return its logits and the features at :func:`tap_points`."""
    where = {i: name for name, i in tap_points(model).items()}
    out = {}
    for i, layer in enumerate(model):
        x = layer(x)
        if i in where:
            out[where[i]] = x
    out["logits"] = x
    return out


@torch.no_grad()
def teacher_features(teacher: nn.Sequential, X: torch.Tensor, batch_size: int = 500) -> dict[str, torch.Tensor]:
    """The frozen teacher's logits and features for every image of ``X``, in eval mode (computed once, cached).

    Its ``"logits"`` are those of :func:`kdnb.training.predict_logits`, so plain KD needs only those.
    """
    teacher.eval()
    parts = [forward_features(teacher, X[i:i + batch_size]) for i in range(0, len(X), batch_size)]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def attention_map(features: torch.Tensor, p: int = 2) -> torch.Tensor:
    """Zagoruyko & Komodakis 2017: ``Q = mean_c |A_c|^p`` over channels, flattened and L2-normalized, (B, H*W).

    Normalizing makes the map a direction: a student with 8 channels and a teacher with 32 are compared by
    *where* they respond, not how strongly.
    """
    if features.dim() != 4:
        raise ValueError(f"attention_map needs conv features (batch, channels, height, width), got shape {tuple(features.shape)}")
    return F.normalize(features.abs().pow(p).mean(1).flatten(1), dim=1)


def attention_loss(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> torch.Tensor:
    """Sum over layer pairs of ``mean((Q_s - Q_t)^2) / 2``, as in the authors' code (times beta outside)."""
    total = 0.0
    for s, t in zip(student, teacher):
        if s.shape[-2:] != t.shape[-2:]:
            raise ValueError(f"attention maps need the same spatial size: student {tuple(s.shape[-2:])}, teacher {tuple(t.shape[-2:])}")
        total = total + (attention_map(s) - attention_map(t.detach())).pow(2).mean() / 2
    return total


def cosine_loss(student_hidden: torch.Tensor, teacher_hidden: torch.Tensor) -> torch.Tensor:
    """``mean(1 - cos(h_s, h_t))``: DistilBERT's cosine embedding loss on hidden states of the same width."""
    if student_hidden.shape != teacher_hidden.shape:
        raise ValueError(f"cosine loss needs hidden states of the same shape: {tuple(student_hidden.shape)} vs "
                         f"{tuple(teacher_hidden.shape)}; give the student the teacher's width or add a projection")
    return (1 - F.cosine_similarity(student_hidden, teacher_hidden.detach(), dim=1)).mean()


def _pair_distances(e: torch.Tensor) -> torch.Tensor:
    d = torch.cdist(e, e)
    mean = d[d > 0].mean()
    return d / mean


def _angles(e: torch.Tensor) -> torch.Tensor:
    diff = F.normalize(e.unsqueeze(0) - e.unsqueeze(1), dim=2)  # diff[i, j] = unit vector from e_i to e_j
    return torch.bmm(diff, diff.transpose(1, 2)).flatten()  # cos of the angle at e_i between e_j and e_k


def rkd_loss(student: torch.Tensor, teacher: torch.Tensor, w_distance: float = 25.0, w_angle: float = 50.0) -> torch.Tensor:
    """Relational KD (Park et al. 2019): match the *relations* among a batch's embeddings, not the embeddings.

    Distance term: pairwise distances, each divided by the batch's mean distance; angle term: the cosine of
    every angle formed by three examples. Both compared with the Huber loss, weights 25 and 50 as in the paper.
    Embeddings may differ in width between student and teacher.
    """
    if student.shape[0] != teacher.shape[0] or student.shape[0] < 3:
        raise ValueError("RKD needs the same batch of at least 3 examples for student and teacher")
    teacher = teacher.detach()
    with torch.no_grad():
        d_t, a_t = _pair_distances(teacher), _angles(teacher)
    d_s, a_s = _pair_distances(student), _angles(student)
    return w_distance * F.smooth_l1_loss(d_s, d_t) + w_angle * F.smooth_l1_loss(a_s, a_t)


class Distiller(nn.Module):
    """A student, plus the FitNets regressor when the method needs one: training it trains both.

    ``forward`` returns the student's logits and keeps its features in ``self.features`` for the loss.
    """

    def __init__(self, student: nn.Sequential, regressor: nn.Module | None = None):
        super().__init__()
        self.student, self.regressor = student, regressor
        self.features: dict[str, torch.Tensor] = {}

    def forward(self, x):
        self.features = forward_features(self.student, x)
        return self.features["logits"]
