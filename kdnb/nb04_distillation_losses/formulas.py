"""The distillation loss on paper: its three spellings, what alpha weights, and the seeds' formulas computed.

Everything here works on logits (a batch of student and teacher outputs), not on trained networks, except
:func:`flipped_sign_run`, which trains two copies of a small student for a few steps.
"""

from __future__ import annotations

import copy

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .. import losses
from ..i18n import N_, _
from ..verdicts import Verdicts
from .shown import shown as in_language

def _grad(fn, z: torch.Tensor) -> tuple[float, torch.Tensor]:
    z = z.detach().clone().requires_grad_(True)
    value = fn(z)
    (g,) = torch.autograd.grad(value, z)
    return value.item(), g


def three_losses(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float = 4.0) -> pd.DataFrame:
    """Three ways to write the soft loss, their values and their gradients with respect to the student's logits.

    * ``F.cross_entropy(z / T, p_T)``: PyTorch's cross-entropy with probability targets (torch >= 1.10);
    * ``-sum p_T log q_T``: the same "soft CE" written by hand;
    * ``F.kl_div(log q_T, p_T, reduction="batchmean")``: KL(p_T || q_T).

    CE = KL + H(p_T), and the teacher's entropy H(p_T) does not depend on the student: same gradient.
    """
    p = F.softmax(teacher_logits / T, dim=1)
    spellings = {
        "F.cross_entropy(z/T, p_T)": lambda z: F.cross_entropy(z / T, p),
        "-sum p_T log q_T (by hand)": lambda z: -(p * F.log_softmax(z / T, dim=1)).sum(1).mean(),
        "F.kl_div(log q_T, p_T, 'batchmean')": lambda z: F.kl_div(F.log_softmax(z / T, dim=1), p, reduction="batchmean"),
    }
    entropy = -(p * p.clamp_min(1e-30).log()).sum(1).mean().item()
    kl_value, kl_grad = _grad(spellings["F.kl_div(log q_T, p_T, 'batchmean')"], student_logits)
    rows = []
    for name, fn in spellings.items():
        value, g = _grad(fn, student_logits)
        rows.append({"loss": name, "value": value, "value - KL": value - kl_value,
                     "same gradient as KL": bool(torch.allclose(g, kl_grad, rtol=1e-4, atol=1e-7))})
    table = pd.DataFrame(rows).set_index("loss")
    table.attrs["teacher_entropy"] = entropy
    return table


def three_losses_verdicts(three: pd.DataFrame) -> Verdicts:
    """What section 3 claims of :func:`three_losses`'s table: one gradient, and values apart by the teacher's entropy."""
    soft_ce_gap = three["value - KL"].iloc[0]
    return Verdicts({
        _("The three spellings give the student the same gradient."): three["same gradient as KL"].all(),
        _("Cross-entropy with the soft targets exceeds the KL by the teacher's entropy H(p_T) (within 0.001)."):
            abs(soft_ce_gap - three.attrs["teacher_entropy"]) < 1e-3,
    })


def term_gradients(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, T: float = 4.0,
                   alphas=(0.0, 0.5, 0.9, 1.0)) -> pd.DataFrame:
    """Norm of each term's gradient in ``kd_loss`` with respect to the student's logits, for several alpha.

    ``(1 - alpha)`` multiplies the hard term and ``alpha`` the soft one, so the share of the push that comes
    from the teacher grows with alpha.
    """
    _value, g_hard = _grad(lambda z: losses.hard_loss(z, labels), student_logits)
    _value, g_soft = _grad(lambda z: losses.soft_loss(z, teacher_logits, T), student_logits)
    rows = []
    for a in alphas:
        h, s = (1 - a) * g_hard.norm().item(), a * g_soft.norm().item()
        rows.append({"alpha": a, "hard term (1 - alpha) CE": h, "soft term alpha T^2 KL": s,
                     "teacher's share of the push": s / (h + s) if h + s > 0 else float("nan")})
    return pd.DataFrame(rows).set_index("alpha")


# ---------------------------------------------------------------------------------------------------------------------
# The seeds' formulas, computed
# ---------------------------------------------------------------------------------------------------------------------


def _log_one_minus_softmax(z: torch.Tensor) -> torch.Tensor:
    """``log(1 - softmax(z))`` without rounding 1 - q to 0: the log-sum-exp of the *other* logits minus that of all."""
    C = z.shape[1]
    others = z.unsqueeze(1).expand(-1, C, C).masked_fill(torch.eye(C, dtype=torch.bool), float("-inf"))
    return torch.logsumexp(others, dim=2) - torch.logsumexp(z, dim=1, keepdim=True)


def seed_formulas() -> dict[str, callable]:
    """The loss formulas of seeds 003-5, 003-27 and 002-S3 as functions ``L(z, v, y)`` (student logits z, teacher v).

    ``y`` is one-hot where a seed writes a hard label. Each is summed over classes and averaged over the batch. The
    seeds put no temperature in these formulas, so neither does this; 002-S3's t = 1/T is taken at its T = 0.5.
    """
    t = 2.0

    def q(z):
        return F.softmax(z, dim=1)

    def p(v):
        return F.softmax(v, dim=1)

    def onehot(y, z):
        return F.one_hot(y, z.shape[1]).float()

    return {
        "squared error with the label, sum (y - q)^2 (003-5 hard)": lambda z, v, y: ((onehot(y, z) - q(z)) ** 2).sum(1).mean(),
        "seed's soft loss, sum p (log q - log p) (003-5, 003-27)": lambda z, v, y: (p(v) * (F.log_softmax(z, 1) - F.log_softmax(v, 1))).sum(1).mean(),
        "squared error with the teacher, sum (p - q)^2 (003-27)": lambda z, v, y: ((p(v) - q(z)) ** 2).sum(1).mean(),
        "seed's 'adversarial' loss, sum log q - log(1 - q) (003-27)": lambda z, v, y: (F.log_softmax(z, 1) - _log_one_minus_softmax(z)).sum(1).mean(),
        "seed's t-weighted loss, t = 1/T = 2 (002-S3)": lambda z, v, y: -(t * (onehot(y, z) * F.log_softmax(z, 1)).sum(1)
                                                                      + (1 - t) * (onehot(y, z) * F.log_softmax(v, 1)).sum(1)).mean(),
        "KL(p || q), the soft loss as it should be": lambda z, v, y: F.kl_div(F.log_softmax(z, 1), F.log_softmax(v, 1), reduction="batchmean", log_target=True),
    }


def confident_mistake(margins=(0.0, 2.0, 5.0, 10.0), C: int = 10) -> pd.DataFrame:
    """Gradient norms of cross-entropy and of squared error ``sum (y - q)^2`` for a student that is wrong by ``margin``.

    The student's logit for a wrong class exceeds the others by ``margin``; the label is another class. Cross-entropy
    pushes with norm near ``sqrt(2)`` however wrong the student is; squared error's push fades as the softmax saturates.
    """
    rows = []
    y = torch.tensor([1])
    for m in margins:
        z = torch.zeros(1, C)
        z[0, 0] = m
        _value, g_ce = _grad(lambda zz: F.cross_entropy(zz, y), z)
        _value, g_se = _grad(lambda zz: ((F.one_hot(y, C).float() - F.softmax(zz, 1)) ** 2).sum(), z)
        rows.append({"wrong class ahead by (logits)": m, "p of the true class": F.softmax(z, 1)[0, 1].item(),
                     "cross-entropy gradient norm": g_ce.norm().item(), "squared-error gradient norm": g_se.norm().item()})
    return pd.DataFrame(rows).set_index("wrong class ahead by (logits)")


def audit_formulas(student_logits: torch.Tensor, teacher_logits: torch.Tensor, other_teacher: torch.Tensor, labels: torch.Tensor,
                   steps: int = 300, lr: float = 0.1) -> pd.DataFrame:
    """Test each seed formula as a loss for the student: does it see the teacher, and where does descending it lead?

    ``uses the teacher``: the gradient changes when ``teacher_logits`` is swapped for ``other_teacher``.
    Then ``steps`` of Adam on the student's logits themselves (a student with unlimited capacity) from
    ``student_logits``: the loss at the end, and KL(teacher || student) at T = 1 before and after.
    """
    rows = []
    for name, fn in seed_formulas().items():
        _value, g1 = _grad(lambda z: fn(z, teacher_logits, labels), student_logits)
        _value, g2 = _grad(lambda z: fn(z, other_teacher, labels), student_logits)
        z = student_logits.detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        for _i in range(steps):
            opt.zero_grad()
            fn(z, teacher_logits, labels).backward()
            opt.step()
        with torch.no_grad():
            kl = lambda zz: losses.soft_loss(zz, teacher_logits, 1.0, scale=False).item()  # noqa: E731
            agree = (z.argmax(1) == teacher_logits.argmax(1)).float().mean().item()
            rows.append({"formula": name, "uses the teacher": not torch.allclose(g1, g2, rtol=1e-5, atol=1e-8),
                         "loss after descent": fn(z, teacher_logits, labels).item(),
                         "KL to teacher before": kl(student_logits), "KL to teacher after": kl(z),
                         "agrees with teacher after": agree})
    return pd.DataFrame(rows).set_index("formula")


def audit_shown(audit: pd.DataFrame) -> pd.DataFrame:
    """:func:`audit_formulas`'s table for reading: losses and KLs to 2 significant figures, agreement in whole percent."""
    shown = {c: audit[c].map(lambda v: f"{v:.2g}") for c in ("loss after descent", "KL to teacher before", "KL to teacher after")}
    shown["agrees with teacher after (%)"] = (100 * audit["agrees with teacher after"]).round(0)
    return in_language(audit.assign(**shown).drop(columns="agrees with teacher after"))


def audit_verdicts(audit: pd.DataFrame) -> Verdicts:
    """What section 4 claims of :func:`audit_formulas`'s table (its rows in :func:`seed_formulas`' order)."""
    label_se, flipped, teacher_se, adversarial, t_weighted, kl = audit.index
    after, before = audit["KL to teacher after"], audit["KL to teacher before"]
    unbounded = audit["loss after descent"] <= -1
    sees = audit["uses the teacher"]
    return Verdicts({
        _("Descending KL(p || q) brings the student to the teacher (KL below 0.01 after descent)."): after[kl] < 0.01,
        _("The sign-flipped soft loss and the 'adversarial' loss have no floor: descent takes both below -1."):
            unbounded[flipped] and unbounded[adversarial],
        _("Descending the sign-flipped soft loss drives the student away: its KL to the teacher grows more than tenfold."):
            after[flipped] > 10 * before[flipped],
        _("Squared error with the label, the 'adversarial' loss and the t-weighted loss never see the teacher."):
            not sees[[label_se, adversarial, t_weighted]].any(),
        _("The seeds' soft loss, squared error with the teacher and KL do see the teacher."): sees[[flipped, teacher_se, kl]].all(),
    })


def flipped_sign_run(student: nn.Module, X: torch.Tensor, teacher_logits: torch.Tensor, X_test: torch.Tensor,
                     teacher_test: torch.Tensor, T: float = 4.0, steps: int = 60, lr: float = 1e-3) -> pd.DataFrame:
    """Train two copies of ``student`` for ``steps`` Adam steps, one on ``T^2 KL(p_T || q_T)`` and one on the seed's
    sign-flipped soft loss ``T^2 sum p (log q - log p) = -T^2 KL``; track KL and agreement with the teacher on test images.

    Both copies see the same batches of 128 training images, drawn with a generator seeded 0."""
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, len(X), (128,), generator=gen) for _i in range(steps)]
    rows = []
    for sign, name in ((1.0, N_("KL(p || q): right sign")), (-1.0, N_("seed's soft loss: sign flipped"))):
        model = copy.deepcopy(student).train()
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        for step in range(steps + 1):
            if step % 5 == 0:
                with torch.no_grad():
                    model.eval()
                    z = model(X_test)
                    model.train()
                    rows.append({"loss": name, "step": step, "KL to teacher (T = 1)": losses.soft_loss(z, teacher_test, 1.0, scale=False).item(),
                                 "agrees with teacher": (z.argmax(1) == teacher_test.argmax(1)).float().mean().item()})
            if step == steps:
                break
            idx = batches[step]
            loss = sign * losses.soft_loss(model(X[idx]), teacher_logits[idx], T)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return pd.DataFrame(rows)

