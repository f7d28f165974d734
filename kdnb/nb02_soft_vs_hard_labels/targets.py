"""What a target carries: one-hot labels, label smoothing and a teacher's soft targets (sections 2 to 5).

The teacher's logits on each split, the targets themselves, the class-similarity matrix ("dark
knowledge", Hinton, Vinyals & Dean 2015), the teacher's most ambiguous images, and how much of its
wrong-class structure a label-smoothed teacher keeps (Müller, Kornblith & Hinton 2019), with the
verdicts sections 5's prose draws from them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .. import data as kdata
from ..temperature import entropy, soft_targets
from ..training import predict_logits
from ..i18n import N_, _
from ..verdicts import Verdicts
from .readouts import Shown

__all__ = ["teacher_logits", "one_hot", "smoothed_labels", "targets_table", "class_similarity", "similar_pairs",
           "most_ambiguous", "wrong_class_uniformity", "same_within_class", "information_table", "information_verdicts",
           "structure_stats", "structure_verdicts"]


def teacher_logits(name: str, dataset: kdata.Dataset, splits=("train", "val", "test")) -> dict[str, torch.Tensor]:
    """The frozen teacher's logits on each split, computed once (one forward pass each)."""
    from ..teachers import load_teacher

    teacher = load_teacher(name)
    return {s: predict_logits(teacher, getattr(dataset, s).X) for s in splits}


def one_hot(y: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Hard labels as one-hot float vectors: the 硬标签 of 003-11."""
    return F.one_hot(y, num_classes).float()


def smoothed_labels(y: torch.Tensor, eps: float = 0.1, num_classes: int = 10) -> torch.Tensor:
    """Label smoothing (Szegedy et al. 2016): ``(1 - eps) * one_hot + eps / C``.

    The same formula as ``F.cross_entropy(..., label_smoothing=eps)``. Every wrong class gets
    exactly ``eps / C``: no wrong class is "more wrong" than another.
    """
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"eps must be in [0, 1], got {eps}")
    return (1.0 - eps) * one_hot(y, num_classes) + eps / num_classes


def targets_table(logits: torch.Tensor, y: torch.Tensor, index: int, Ts=(1.0, 4.0)) -> Shown:
    """One image's hard label and the teacher's soft targets at each T, one column per class (003-3)."""
    rows = {N_("hard label (one-hot)"): one_hot(y[index:index + 1])[0]}
    for T in Ts:
        rows[f"teacher, T={T:g}"] = soft_targets(logits[index:index + 1], T)[0]  # shown through its template (readouts.tr)
    return Shown({k: v.numpy() for k, v in rows.items()}).T.rename_axis(columns=N_("class"))


def class_similarity(probs: torch.Tensor, y: torch.Tensor, num_classes: int = 10) -> pd.DataFrame:
    """Mean soft probability of each class (columns) over the images of each true class (rows).

    The diagonal is how sure the teacher is; the off-diagonal is the "dark knowledge" of
    Hinton et al. 2015: which digits it thinks each digit resembles.
    """
    M = torch.stack([probs[y == c].mean(0) for c in range(num_classes)])
    return pd.DataFrame(M.numpy(), index=pd.Index(range(num_classes), name="true class"),
                        columns=pd.Index(range(num_classes), name="soft probability of class"))


def similar_pairs(M: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """The ``k`` digit pairs with the largest off-diagonal mass, counted in both directions.

    ``score = (M[a, b] + M[b, a]) / 2``: the mean probability the teacher gives the other
    digit of the pair, averaged over the two directions.
    """
    A = M.to_numpy()
    rows = []
    for a in range(len(A)):
        for b in range(a + 1, len(A)):
            rows.append({"pair": f"{a}-{b}", "a": a, "b": b, "P(b | image of a)": A[a, b],
                         "P(a | image of b)": A[b, a], "score": (A[a, b] + A[b, a]) / 2})
    return pd.DataFrame(rows).sort_values("score", ascending=False).head(k).set_index("pair")


def most_ambiguous(probs: torch.Tensor, y: torch.Tensor, k: int = 8) -> pd.DataFrame:
    """The ``k`` images on which the teacher's distribution has the highest entropy, with its top-2 classes."""
    H = entropy(probs)
    order = H.argsort(descending=True)[:k]
    top = probs[order].topk(2, dim=-1)
    return pd.DataFrame({"index": order.numpy(), "label": y[order].numpy(),
                         "top1": top.indices[:, 0].numpy(), "p_top1": top.values[:, 0].numpy(),
                         "top2": top.indices[:, 1].numpy(), "p_top2": top.values[:, 1].numpy(),
                         "entropy (bits)": H[order].numpy()})


def wrong_class_uniformity(probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per example: entropy of the wrong-class probabilities, renormalized, divided by log2(C - 1).

    1 means the wrong classes share the leftover mass evenly, as label smoothing does; values
    near 0 mean it goes to one or two look-alike classes, as a teacher's soft targets do.
    """
    C = probs.shape[-1]
    mask = torch.ones_like(probs, dtype=torch.bool)
    mask[torch.arange(len(y)), y] = False
    wrong = probs[mask].view(-1, C - 1)
    wrong = wrong / wrong.sum(-1, keepdim=True).clamp_min(1e-30)
    return entropy(wrong) / math.log2(C - 1)


def same_within_class(p: torch.Tensor, y: torch.Tensor, tol: float = 1e-6) -> bool:
    """True when every image of a class gets the same target vector (up to ``tol``): then the
    target says nothing about the image beyond its label."""
    return all(bool((p[y == c] - p[y == c][0]).abs().max() <= tol) for c in y.unique().tolist())


def information_table(targets: dict[str, torch.Tensor], y: torch.Tensor) -> pd.DataFrame:
    """Per kind of target: mean entropy (bits per example), mass on the wrong classes, how
    uniform that mass is (1 = spread evenly over the wrong classes), and whether every image
    of a class gets the same vector (:func:`same_within_class`)."""
    rows = []
    for name, p in targets.items():
        true_p = p[torch.arange(len(y)), y]
        uniform = wrong_class_uniformity(p, y) if (1 - true_p).max() > 0 else torch.full((len(y),), float("nan"))
        rows.append({"target": name, "entropy (bits/example)": entropy(p).mean().item(),
                     "wrong-class mass": (1 - true_p).mean().item(),
                     "wrong-class uniformity (0-1)": uniform.nanmean().item() if uniform.isfinite().any() else float("nan"),
                     "one vector per class": same_within_class(p, y)})
    return pd.DataFrame(rows).set_index("target")


def information_verdicts(info: pd.DataFrame, hard: str = "hard label (one-hot)", smoothing: str = "label smoothing, eps=0.1",
                         teacher: tuple[str, str] = ("teacher, T=1", "teacher, T=4")) -> Verdicts:
    """Section 5's claims about :func:`information_table`: what a one-hot label, label smoothing and
    the teacher's soft targets (rows ``hard``, ``smoothing`` and ``teacher`` at a low and a higher T) carry."""
    H, uniform = info["entropy (bits/example)"], info["wrong-class uniformity (0-1)"]
    low, high = teacher
    return Verdicts({
        _("A one-hot label has an entropy of 0 bits."): H[hard] == 0,
        _("Label smoothing adds entropy but gives every image of a class the same vector."):
            H[smoothing] > 0 and bool(info.loc[smoothing, "one vector per class"]),
        _("Label smoothing spreads its wrong-class mass evenly (uniformity 1)."): math.isclose(uniform[smoothing], 1.0, abs_tol=1e-3),
        _("The teacher gives each image its own vector, at both temperatures."):
            not info.loc[low, "one vector per class"] and not info.loc[high, "one vector per class"],
        _("The teacher's wrong-class mass is less even than label smoothing's, at both temperatures."):
            uniform[low] < uniform[smoothing] and uniform[high] < uniform[smoothing],
        _("The teacher's soft labels carry more entropy at the higher T."): H[high] > H[low],
    })


def structure_stats(plain: torch.Tensor, smoothed_teacher: torch.Tensor, y: torch.Tensor, T: float = 4.0) -> dict:
    """How much class structure a label-smoothed teacher keeps, compared with the plain one (Müller et al. 2019).

    Returns the correlation (over the 90 off-diagonal cells, on a log scale) of the two
    class-similarity matrices, the per-example wrong-class uniformity of each teacher, and how
    many orders of magnitude (log10 of max / min) each matrix's off-diagonal spans. The spread
    is a log because the raw ratio can reach millions and its last digits depend on the CPU's
    float kernels.
    """
    Ma = class_similarity(soft_targets(plain, T), y).to_numpy()
    Mb = class_similarity(soft_targets(smoothed_teacher, T), y).to_numpy()
    off = ~np.eye(len(Ma), dtype=bool)
    return {"T": T,
            "off-diagonal correlation (log scale)": float(np.corrcoef(np.log(Ma[off]), np.log(Mb[off]))[0, 1]),
            "uniformity, plain teacher": wrong_class_uniformity(soft_targets(plain, T), y).mean().item(),
            "uniformity, label-smoothed teacher": wrong_class_uniformity(soft_targets(smoothed_teacher, T), y).mean().item(),
            "spread, log10(max/min), plain": float(np.log10(Ma[off].max() / Ma[off].min())),
            "spread, log10(max/min), label-smoothed": float(np.log10(Mb[off].max() / Mb[off].min()))}


def structure_verdicts(stats: pd.DataFrame) -> Verdicts:
    """Section 5's claims about the label-smoothed teacher, from :func:`structure_stats` at several T (one row each)."""
    plain, smoothed = stats["uniformity, plain teacher"], stats["uniformity, label-smoothed teacher"]
    return Verdicts({
        _("At every T the label-smoothed teacher spreads its wrong-class mass more evenly than the plain teacher."):
            (smoothed > plain).all(),
        _("Its uniformity is close to 1 (at least 0.9) at every T."): (smoothed >= 0.9).all(),
        _("Its largest and smallest off-diagonal cells are less than one order of magnitude apart at every T."):
            (stats["spread, log10(max/min), label-smoothed"] < 1).all(),
        _("The plain teacher's off-diagonal spans more than one order of magnitude at every T."):
            (stats["spread, log10(max/min), plain"] > 1).all(),
        _("Some class structure survives: the two teachers' off-diagonal patterns correlate positively at every T."):
            (stats["off-diagonal correlation (log scale)"] > 0).all(),
    })
