"""The PyTorch traps of section 5, one function each, and the claims the section makes of their tables.

Each ``pitfall_*`` runs the wrong call and the right one side by side on the same inputs and returns a
small table; each ``*_verdicts`` states what the section's prose says that table shows.
"""

from __future__ import annotations

import copy
import math
import warnings

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .. import data as kdata
from .. import losses, training
from ..i18n import _
from ..verdicts import Verdicts


def pitfall_kldiv(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float = 4.0) -> pd.DataFrame:
    """``nn.KLDivLoss`` called five ways, against KL(p_T || q_T) computed by hand (001-5)."""
    log_q, log_p = F.log_softmax(student_logits / T, 1), F.log_softmax(teacher_logits / T, 1)
    true_kl = (log_p.exp() * (log_p - log_q)).sum(1).mean().item()
    calls = {
        "seed 001-5: KLDivLoss()(log q, log p)": lambda: nn.KLDivLoss()(log_q, log_p),
        "KLDivLoss()(log q, p): default 'mean'": lambda: nn.KLDivLoss()(log_q, log_p.exp()),
        "KLDivLoss('batchmean')(q, p): probabilities as input": lambda: nn.KLDivLoss(reduction="batchmean")(log_q.exp(), log_p.exp()),
        "KLDivLoss('batchmean')(log p, q): arguments swapped": lambda: nn.KLDivLoss(reduction="batchmean")(log_p, log_q.exp()),
        "KLDivLoss('batchmean')(log q, p): right": lambda: nn.KLDivLoss(reduction="batchmean")(log_q, log_p.exp()),
        "KLDivLoss('batchmean', log_target=True)(log q, log p): right": lambda: nn.KLDivLoss(reduction="batchmean", log_target=True)(log_q, log_p),
    }
    rows = []
    for name, call in calls.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 'mean' warns that it divides by the number of classes too
            value = call().item()
        ratio = value / true_kl
        rows.append({"call": name, "value / true KL": ratio, "right": math.isfinite(value) and abs(ratio - 1) < 1e-4})
    table = pd.DataFrame(rows).set_index("call")
    table.attrs.update(true_kl=true_kl, classes=int(student_logits.shape[1]))
    return table


def kldiv_verdicts(calls: pd.DataFrame) -> Verdicts:
    """What section 5.1 says of :func:`pitfall_kldiv`'s six calls."""
    ratio = calls["value / true KL"]
    return Verdicts({
        _("Two of the six calls compute the KL."): calls["right"].sum() == 2,
        _("The seed's call returns NaN."): math.isnan(ratio.iloc[0]),
        _("The default 'mean' returns the KL divided by the number of classes."): abs(ratio.iloc[1] - 1 / calls.attrs["classes"]) < 1e-4,
    })


def pitfall_train_mode(teacher: nn.Module, X: torch.Tensor, y: torch.Tensor, T: float = 4.0) -> pd.DataFrame:
    """Soft targets from a teacher with dropout, called twice in ``train()`` mode and twice in ``eval()`` mode."""
    was = teacher.training
    rows = []
    try:
        for mode in ("train", "eval"):
            teacher.train(mode == "train")
            with torch.no_grad():
                a, b = (F.softmax(teacher(X) / T, 1) for _i in range(2))
            rows.append({"mode": f"teacher.{mode}()", "largest change of a target between two calls": (a - b).abs().max().item(),
                         "accuracy (%)": 100 * (a.argmax(1) == y).float().mean().item()})
    finally:
        teacher.train(was)
    return pd.DataFrame(rows).set_index("mode")


def pitfall_no_grad(teacher: nn.Module, student: nn.Module, X: torch.Tensor, y: torch.Tensor, T: float = 4.0) -> pd.DataFrame:
    """One distillation step with the teacher's forward pass inside and outside ``torch.no_grad()``.

    Outside it, autograd records the teacher's graph and ``backward`` fills the teacher's ``.grad``: memory and
    time spent on a model that must not change (and an optimizer over all parameters would move it).
    """
    teacher = copy.deepcopy(teacher).requires_grad_(True)  # as a model fresh from training: its weights require grad
    rows = []
    for guarded in (False, True):
        teacher.zero_grad(set_to_none=True)
        student.zero_grad(set_to_none=True)
        teacher.eval()
        if guarded:
            with torch.no_grad():
                v = teacher(X)
        else:
            v = teacher(X)
        z = student(X)
        # the naive soft loss, written without .detach(), as a reader would: the teacher's graph is still attached
        p, log_q = F.softmax(v / T, 1), F.log_softmax(z / T, 1)
        loss = T * T * (p * (p.clamp_min(1e-30).log() - log_q)).sum(1).mean()
        loss.backward()
        grads = [q.grad for q in teacher.parameters() if q.grad is not None]
        rows.append({"teacher forward": "inside torch.no_grad()" if guarded else "no guard",
                     "teacher output has a graph": v.grad_fn is not None,
                     "teacher tensors given a gradient": len(grads),
                     "gradient bytes on the teacher": sum(g.numel() * g.element_size() for g in grads)})
    teacher.zero_grad(set_to_none=True)
    student.zero_grad(set_to_none=True)
    return pd.DataFrame(rows).set_index("teacher forward")


def pitfall_three_args(outputs: torch.Tensor, labels: torch.Tensor, teacher_logits: torch.Tensor, T: float = 4.0) -> dict:
    """Seed 004-1's ``nn.CrossEntropyLoss()(outputs, labels, soft_labels)``, and the call that works.

    Returns the error the seed's call raises and the soft loss written with a probability target.
    """
    try:
        nn.CrossEntropyLoss()(outputs, labels, F.softmax(teacher_logits, 1))
        error = None
    except TypeError as exc:
        error = f"TypeError: {exc}"
    p_T = F.softmax(teacher_logits / T, 1)
    soft_ce = nn.CrossEntropyLoss()(outputs / T, p_T)  # probability targets: PyTorch >= 1.10
    by_hand = -(p_T * F.log_softmax(outputs / T, 1)).sum(1).mean()
    return {"error": error, "soft_ce": soft_ce.item(), "by_hand": by_hand.item()}


class Indexed(torch.utils.data.Dataset):
    """A dataset of ``(x, y, i)``: each example carries its row number, so a cache can be indexed by example."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.X[i], self.y[i], i


@torch.no_grad()
def pitfall_shuffled_cache(teacher: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 64, seed: int = 0) -> pd.DataFrame:
    """Seed 002-S4: teacher outputs cached in the order of a *shuffled* DataLoader, read back in the next epoch.

    For each way of caching, how often the cached teacher's top class equals the label of the example it is paired
    with in epoch 2 (chance is one in ten).
    """
    teacher.eval()
    loader = torch.utils.data.DataLoader(Indexed(X, y), batch_size=batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    by_batch = [teacher(xb) for xb, _y, _i in loader]              # the seed's cache: one entry per batch, loader order
    by_example = torch.empty(len(y), by_batch[0].shape[1])
    for xb, _y, i in loader:                                       # the fix: store each row at its example's index
        by_example[i] = teacher(xb)
    hits = {"cache in loader order, read by batch number": 0, "cache indexed by example": 0}
    for b, (xb, yb, i) in enumerate(loader):                      # epoch 2: a new shuffle
        hits["cache in loader order, read by batch number"] += (by_batch[b].argmax(1) == yb).sum().item()
        hits["cache indexed by example"] += (by_example[i].argmax(1) == yb).sum().item()
    return pd.DataFrame({"cached top class = label of the paired example (%)": {k: 100 * v / len(y) for k, v in hits.items()}})


def pitfall_sequence_batchmean(B: int = 4, S: int = 12, V: int = 50, T: float = 2.0, seed: int = 0) -> pd.DataFrame:
    """``F.kl_div(..., reduction="batchmean")`` on (B, S, V) sequence logits divides by B, not by the tokens.

    Random student and teacher logits for B sequences of S tokens over a vocabulary of V; the second half of the
    rows carries padding at the end. Each call's value is divided by the per-token KL (mean over the valid tokens):
    without padding, "batchmean" is S times too large; summing the masked KL and dividing by B, it is the number of
    valid tokens per sequence too large. ``attrs`` holds S and the valid tokens per sequence.
    """
    gen = torch.Generator().manual_seed(seed)
    z, v = 2 * torch.randn(B, S, V, generator=gen), 2 * torch.randn(B, S, V, generator=gen)
    lengths = torch.tensor([S if b < (B + 1) // 2 else S // 2 + b for b in range(B)]).clamp(max=S)
    valid = torch.arange(S).unsqueeze(0) < lengths.unsqueeze(1)
    log_q, log_p = F.log_softmax(z / T, -1), F.log_softmax(v / T, -1)
    kl_tok = (log_p.exp() * (log_p - log_q)).sum(-1)                         # (B, S): the KL of each token
    all_tokens, valid_tokens = kl_tok.mean(), kl_tok[valid].mean()
    calls = {
        "F.kl_div(..., 'batchmean') on (B, S, V), no padding": (F.kl_div(log_q, log_p, reduction="batchmean", log_target=True), all_tokens),
        "the same, flattened to (B*S, V) first": (F.kl_div(log_q.reshape(-1, V), log_p.reshape(-1, V), reduction="batchmean", log_target=True), all_tokens),
        "kdnb.losses.soft_loss(z, v, T, scale=False), no padding": (losses.soft_loss(z, v, T, scale=False), all_tokens),
        "with padding: KL summed over valid tokens, divided by B": ((kl_tok * valid).sum() / B, valid_tokens),
        "with padding: kdnb.losses.soft_loss(..., mask=valid)": (losses.soft_loss(z, v, T, scale=False, mask=valid), valid_tokens),
    }
    rows = [{"call": k, "value / per-token KL": (value / ref).item()} for k, (value, ref) in calls.items()]
    table = pd.DataFrame(rows).set_index("call")
    table.attrs.update(S=S, valid_per_sequence=valid.sum().item() / B)
    return table


def sequence_verdicts(seq: pd.DataFrame) -> Verdicts:
    """What section 5.5 says of :func:`pitfall_sequence_batchmean`'s five calls (in its row order)."""
    ratio = seq["value / per-token KL"]
    return Verdicts({
        _("'batchmean' on (B, S, V) logits is S times the per-token KL."): abs(ratio.iloc[0] - seq.attrs["S"]) < 1e-3,
        _("With padding, the masked KL summed and divided by B is too large by the valid tokens per sequence."):
            abs(ratio.iloc[3] - seq.attrs["valid_per_sequence"]) < 1e-3,
        _("Flattening to (B*S, V) first, soft_loss, and soft_loss with the mask each give the per-token KL."):
            bool((abs(ratio.iloc[[1, 2, 4]] - 1) < 1e-5).all()),
    })


def pitfall_batchnorm_teacher(train: kdata.Split, X_other: torch.Tensor, epochs: int = 2, batch_size: int = 128,
                              shift: int = 2, seed: int = 0) -> pd.DataFrame:
    """A teacher with BatchNorm, trained briefly, then run under ``torch.no_grad()`` over the batches of a distillation
    epoch (``X_other``, shifted by up to ``shift`` pixels as augmentation does) in ``train()`` and in ``eval()`` mode:
    ``no_grad`` stops gradients, not the update of BatchNorm's running statistics.

    Returns, per mode, the largest change of the BatchNorm layer's ``running_mean``, the batches it counted, and how
    many images of ``X_other`` get another top class from the eval-mode teacher afterwards (the teacher has changed).
    """
    threads = torch.get_num_threads()
    training.seed_everything(seed, threads=1)  # a tiny model: one thread is fastest, and the caller's count comes back
    try:
        teacher = nn.Sequential(nn.Flatten(), nn.Linear(int(train.X[0].numel()), 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 10))
        training.fit(teacher, train, epochs=epochs, progress=False)
    finally:
        torch.set_num_threads(threads)
    teacher.requires_grad_(False)
    before_logits = training.predict_logits(teacher, X_other)
    gen = torch.Generator().manual_seed(seed)
    batches = [training.jitter(X_other[i:i + batch_size], shift, gen) for i in range(0, len(X_other), batch_size)]
    rows = []
    for mode in ("train", "eval"):
        t = copy.deepcopy(teacher)
        bn = t[2]
        mean_before, count_before = bn.running_mean.clone(), int(bn.num_batches_tracked)
        t.train(mode == "train")
        with torch.no_grad():
            for xb in batches:
                t(xb)
        after_logits = training.predict_logits(t, X_other)
        rows.append({"teacher forward": f"teacher.{mode}(), inside torch.no_grad()",
                     "largest change of running_mean": (bn.running_mean - mean_before).abs().max().item(),
                     "batches counted by BatchNorm": int(bn.num_batches_tracked) - count_before,
                     "images whose top class changed": int((after_logits.argmax(1) != before_logits.argmax(1)).sum())})
    return pd.DataFrame(rows).set_index("teacher forward")


def batchnorm_verdicts(trap: pd.DataFrame) -> Verdicts:
    """What section 5.6 says of :func:`pitfall_batchnorm_teacher`'s two rows (train mode, then eval mode)."""
    moved, kept = trap.iloc[0], trap.iloc[1]
    mean, counted, changed = "largest change of running_mean", "batches counted by BatchNorm", "images whose top class changed"
    return Verdicts({
        _("In train() mode under torch.no_grad(), BatchNorm counts the batches and its running mean moves."):
            moved[counted] > 0 and moved[mean] > 0,
        _("The eval-mode teacher then gives another top class on some images: it has changed."): moved[changed] > 0,
        _("In eval() mode the running statistics stay as they were, and no top class changes."):
            kept[mean] == 0 and kept[counted] == 0 and kept[changed] == 0,
    })
