"""Distillation losses, written to be read, and tested against ``torch.nn.functional``.

Notation: student logits ``z``, teacher logits ``v``, batch size B, C classes,
``q_T = softmax(z / T)`` (student), ``p_T = softmax(v / T)`` (teacher), labels ``y``.

* Hard loss (硬标签损失): cross-entropy with the labels, ``CE(y, q_1)``, at T = 1.
* Soft loss (软标签损失): ``T^2 * KL(p_T || q_T)``, averaged over the batch ("batchmean").
  ``KL(p || q) = sum_i p_i (log p_i - log q_i) >= 0``, zero only when p = q. Its gradient with
  respect to ``z`` is ``T * (q_T - p_T) / B``: without the ``T^2`` factor it would shrink as
  ``1/T^2`` and the soft term would fade as T grows (Hinton et al. 2015, section 2).
* Combined: ``kd_loss = (1 - alpha) * hard + alpha * soft``. **alpha weights the soft
  (teacher) term**; alpha = 0 is ordinary training, alpha = 1 ignores the labels.
* Logit matching: at high T, for zero-mean logits, the soft loss's gradient tends to
  ``(z - v) / (C * B)``, the gradient of :func:`logit_matching_loss` (Hinton et al. 2015,
  section 2.1; Ba & Caruana 2014 matched logits directly).
* Feature losses (FitNets' hints, attention transfer) live with notebook 04, which compares them.
* Sequences: logits of shape (B, S, C) (a language model's, one distribution per token) are
  read per token. Both terms are averaged over the valid tokens, exactly as if the (B, S)
  positions were the rows of a (B*S, C) batch; ``mask`` (B, S) marks which tokens count
  (padding is False). ``F.kl_div(..., reduction="batchmean")`` on (B, S, C) divides by B only,
  which would make the soft term S times too heavy next to the per-token cross-entropy.

The teacher's terms carry no gradient: the teacher is frozen, so ``sum p log p`` (its
entropy) is a constant. Only ``-sum p log q`` moves the student.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from .temperature import check_logits, check_temperature

__all__ = [
    "IGNORE_INDEX",
    "check_alpha",
    "check_labels",
    "cross_entropy_unchecked",
    "soft_loss_from_targets",
    "hard_loss",
    "kl_divergence",
    "soft_loss",
    "kd_loss",
    "kd_loss_from_targets",
    "logit_matching_loss",
]

#: Label value that marks an unlabeled example (as in ``F.cross_entropy``): such rows get
#: only the soft loss, which is how a teacher teaches from an unlabeled transfer set.
IGNORE_INDEX = -100


def check_alpha(alpha) -> float:
    """Return ``alpha`` as a float, or raise unless it lies in [0, 1]."""
    if isinstance(alpha, torch.Tensor) and alpha.numel() == 1:
        alpha = alpha.item()
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a number in [0, 1], got {type(alpha).__name__}")
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(
            f"alpha must be in [0, 1], got {alpha}: it weights the soft (teacher) term and "
            "1 - alpha weights the hard (label) term"
        )
    return alpha


def check_labels(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Raise unless ``labels`` are int64 class indices matching ``logits`` (B, C)."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor of class indices, got {type(labels).__name__}")
    if labels.dtype != torch.long:
        hint = " (one-hot or probabilities? use labels.argmax(-1))" if labels.is_floating_point() else ""
        raise TypeError(f"labels must be class indices of dtype torch.long, got {labels.dtype}{hint}; use labels.long()")
    if labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"labels of shape {tuple(labels.shape)} do not match logits of shape {tuple(logits.shape)}; "
            "expected one label per row of logits"
        )
    C = logits.shape[-1]
    bad = (labels != IGNORE_INDEX) & ((labels < 0) | (labels >= C))
    if bad.any():
        value = labels[bad][0].item()
        raise ValueError(f"label {value} is out of range for {C} classes; labels must be in 0..{C - 1}")
    return labels


def _check_not_empty(logits: torch.Tensor, name: str) -> None:
    if logits.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(logits.shape)}): a loss averages over examples, and there is none")


def _check_mask(mask, logits: torch.Tensor) -> torch.Tensor:
    """Raise unless ``mask`` is a bool tensor of shape ``logits.shape[:-1]`` that keeps at least one position."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"mask must be a torch.bool tensor (True = a token that counts; from labels: "
                        f"mask = labels != {IGNORE_INDEX}), got "
                        f"{mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__}")
    if mask.shape != logits.shape[:-1]:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not match logits of shape {tuple(logits.shape)}; "
                         "expected one entry per row (or per token of a (batch, sequence, classes) tensor)")
    if not bool(mask.any()):
        raise ValueError("mask selects no position (no token counts): a loss averages over valid tokens, and there is none")
    return mask


def _check_pair(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> None:
    check_logits(student_logits, "student_logits")
    check_logits(teacher_logits, "teacher_logits")
    _check_not_empty(student_logits, "student_logits")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student_logits {tuple(student_logits.shape)} and teacher_logits {tuple(teacher_logits.shape)} "
            "differ in shape; both must be (batch, classes) for the same examples and class order"
        )


def hard_loss(student_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with the hard labels at T = 1 (rows labelled IGNORE_INDEX are skipped)."""
    check_logits(student_logits, "student_logits")
    _check_not_empty(student_logits, "student_logits")
    check_labels(labels, student_logits)
    return cross_entropy_unchecked(student_logits, labels)


def cross_entropy_unchecked(student_logits: torch.Tensor, labels: torch.Tensor, all_labelled: bool = False) -> torch.Tensor:
    """:func:`hard_loss` without its checks, for a training loop that checked the whole split once.

    ``all_labelled=True`` (known from that check) skips the test for a batch with no labelled
    row, which would otherwise cost a host sync per step.
    """
    if not all_labelled and bool((labels == IGNORE_INDEX).all()):
        return student_logits.sum() * 0.0  # no labelled row: a zero that keeps the graph
    C = student_logits.shape[-1]  # flatten, so (B, S, C) logits are read class-last like 2-D ones
    return F.cross_entropy(student_logits.reshape(-1, C), labels.reshape(-1), ignore_index=IGNORE_INDEX)


def kl_divergence(p: torch.Tensor, log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """``mean over the rows of sum_i p_i (log p_i - log q_i)``, i.e. KL(p || q) "batchmean".

    Terms with ``p_i = 0`` contribute 0. For 2-D inputs this matches
    ``F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)``; a single 1-D row is
    its own batch of one; (B, S, C) sequence logits have B*S rows, one per token (``F.kl_div``'s
    "batchmean" would divide by B alone).
    """
    batch = p.numel() // p.shape[-1] if p.dim() > 1 else 1
    terms = torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p))
    return terms.sum() / batch


def soft_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float = 4.0, scale: bool = True,
              mask: torch.Tensor | None = None) -> torch.Tensor:
    """``T^2 * KL(p_T || q_T)`` (batchmean): the student matches the teacher's softened outputs.

    ``scale=False`` drops the T^2 factor, to show why it is there: the gradient then falls
    roughly as 1/T^2 (Hinton et al. 2015). (B, S, C) logits are averaged per token; ``mask``
    (bool, B x S) keeps only the tokens that count (see the module's notes on sequences).
    """
    T = check_temperature(T)
    _check_pair(student_logits, teacher_logits)
    if mask is not None:
        mask = _check_mask(mask, student_logits)
        return soft_loss(student_logits[mask], teacher_logits[mask], T, scale)
    teacher_logits = teacher_logits.detach()  # the teacher is frozen: no gradient flows to it
    return soft_loss_from_targets(F.log_softmax(teacher_logits / T, dim=-1), student_logits, T, scale)


def soft_loss_from_targets(log_p: torch.Tensor, student_logits: torch.Tensor, T: float, scale: bool = True) -> torch.Tensor:
    """:func:`soft_loss` from the teacher's softened log-probabilities ``log_p = log_softmax(v / T)``,
    without checks: a frozen teacher's targets can be computed once for a whole training set."""
    log_q = F.log_softmax(student_logits / T, dim=-1)
    kl = kl_divergence(log_p.exp(), log_p, log_q)
    return kl * T * T if scale else kl


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    T: float = 4.0,
    alpha: float = 0.9,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """The distillation loss ``(1 - alpha) * CE(y, q_1) + alpha * T^2 * KL(p_T || q_T)``.

    ``alpha`` weights the **soft** (teacher) term. Labels equal to :data:`IGNORE_INDEX` mark
    unlabelled examples, which then learn from the teacher alone.

    Sequence logits (B, S, C) with labels (B, S) are read per token: the value is that of the
    same call on the (B*S, C) rows, so both terms are means over tokens. ``mask`` (bool, B x S;
    False for padding) drops tokens from both terms: the value is then that of the call on the
    valid tokens alone. (A token with a label of IGNORE_INDEX but a True mask still gets the soft
    term, as an unlabelled row does.) An empty batch, or a mask with no valid token, raises.
    """
    T = check_temperature(T)
    alpha = check_alpha(alpha)
    _check_pair(student_logits, teacher_logits)
    check_labels(labels, student_logits)
    if mask is not None:
        mask = _check_mask(mask, student_logits)
        return kd_loss(student_logits[mask], teacher_logits[mask], labels[mask], T, alpha)
    log_p = F.log_softmax(teacher_logits.detach() / T, dim=-1)  # the teacher is frozen: no gradient flows to it
    return kd_loss_from_targets(student_logits, log_p, labels, T, alpha)


def kd_loss_from_targets(student_logits: torch.Tensor, log_p: torch.Tensor, labels: torch.Tensor, T: float, alpha: float,
                         all_labelled: bool = False) -> torch.Tensor:
    """:func:`kd_loss` from the teacher's softened log-probabilities ``log_p = log_softmax(v / T)``, without checks.

    The one place the combined loss is written. A training loop checks T, alpha, the labels and
    the teacher's logits once per run, computes a frozen teacher's ``log_p`` once for the whole
    training set, and calls this on each batch (``all_labelled``: no label is IGNORE_INDEX, known
    from that check, which saves a host sync per step). The value is :func:`kd_loss`'s, bit for bit.
    """
    hard = cross_entropy_unchecked(student_logits, labels, all_labelled=all_labelled)
    return (1.0 - alpha) * hard + alpha * soft_loss_from_targets(log_p, student_logits, T)


def logit_matching_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Squared error between zero-mean logits, ``sum_i (z~_i - v~_i)^2 / (2C)``, batch-averaged.

    ``z~ = z - mean(z)`` per row. The ``1/(2C)`` makes its gradient exactly the high-temperature
    limit of :func:`soft_loss`'s, so the two can be compared directly.
    """
    _check_pair(student_logits, teacher_logits)
    C = student_logits.shape[-1]
    z = student_logits - student_logits.mean(-1, keepdim=True)
    v = teacher_logits.detach() - teacher_logits.detach().mean(-1, keepdim=True)
    batch = z.shape[0] if z.dim() > 1 else 1
    return ((z - v) ** 2).sum() / (2 * C * batch)

