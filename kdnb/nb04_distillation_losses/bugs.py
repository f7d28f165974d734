"""The checkers of section 7's four "spot the bug" snippets, each the mistake of one seed answer.

7.1 (000-4) a teacher trained beside its student; 7.2 (001-5) a ``KLDivLoss`` call; 7.3 (004-1) soft labels
passed to ``CrossEntropyLoss`` as a third argument; 7.4 (002-S4) a teacher cache read in a shuffled loader's
order. They follow the rule of :mod:`.checks` and share its machinery.
"""

from __future__ import annotations

import copy
import math
import os
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from .. import losses
from ..exercises import Verdict, check, close
from ..i18n import _
from .checks import _call_unchanged, _close_tensors, _entropy, _kd_cases, _loss_and_grads, _named_mistake, _reference_kd
from .pitfalls import Indexed


def _toy_problem(seed: int = 0, n: int = 32):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 6, generator=gen)
    y = torch.randint(0, 4, (n,), generator=gen)

    def net(hidden=16, dropout=0.0, s=0):
        torch.manual_seed(s)
        layers = [nn.Linear(6, hidden), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else []) + [nn.Linear(hidden, 4)]
        return nn.Sequential(*layers)
    return X, y, net


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def diagnose_train_step(train_step) -> str | None:
    """Spot the bug 7.1 (000-4): one distillation step must move the student toward a frozen teacher only.

    The teacher arrives as it leaves training: in ``train()`` mode (with dropout) and with weights that require
    gradients. The step must leave its weights and their ``.grad`` alone, use it in eval mode, and equal one SGD
    step on ``kd_loss`` for several (T, alpha), batch sizes and problems; ``x`` and ``y`` must be unchanged.
    """
    lr = 0.1
    seed = int.from_bytes(os.urandom(2), "little")
    for n, T, alpha, data_seed in ((32, 4.0, 0.9, 0), (32, 1.0, 0.5, seed), (1, 2.0, 1.0, seed + 1), (9, 3.0, 0.0, seed + 2)):
        X, y, net = _toy_problem(data_seed, n)
        results_ = {}
        for name, teacher_seed in (("A", 1), ("A again", 1), ("B", 2)):
            teacher = net(32, dropout=0.5, s=teacher_seed)  # a teacher with dropout, as trained (left in train mode)
            before = copy.deepcopy(teacher.state_dict())
            student = net(8, s=0)
            opt_s = torch.optim.SGD(student.parameters(), lr=lr)
            opt_t = torch.optim.SGD(teacher.parameters(), lr=lr)
            torch.manual_seed(99 if name != "A again" else 100)  # different dropout masks, if the teacher still drops
            x_in, y_in = X.clone(), y.clone()
            train_step(student, teacher, x_in, y_in, opt_s, opt_t, T, alpha)
            if not (torch.equal(x_in, X) and torch.equal(y_in, y)):
                return _("train_step changed x or y in place: the batch belongs to the caller; compute new tensors instead")
            if any(not torch.equal(before[k], teacher.state_dict()[k]) for k in before):
                return _("the teacher's weights changed: a teacher is trained first and then frozen; do not step its optimizer")
            if any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in teacher.parameters()):
                return (_("gradients reached the teacher's weights (their .grad filled): run the teacher under torch.no_grad() "
                        "or detach its logits, so backward() does not go through it"))
            results_[name] = student
        flat = {k: _flat(s) for k, s in results_.items()}
        if alpha > 0 and torch.allclose(flat["A"], flat["B"]):
            return _("the student's update is the same whatever the teacher: no teacher output reaches the student's loss")
        if alpha > 0 and not torch.allclose(flat["A"], flat["A again"]):
            return _("the same teacher gives different updates: it is still in train() mode, so dropout changes its targets; call teacher.eval()")
        teacher = net(32, dropout=0.5, s=1).eval()
        student = net(8, s=0)
        if torch.allclose(flat["A"], _flat(student)):
            return _("the student did not move: step its optimizer on the loss (zero_grad, backward, step)")
        with torch.no_grad():
            v = teacher(X)
        loss = losses.kd_loss(student(X), v, y, T=T, alpha=alpha)
        opt = torch.optim.SGD(student.parameters(), lr=lr)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if not torch.allclose(flat["A"], _flat(student), rtol=1e-4, atol=1e-6):
            return _("at T = {T:g}, alpha = {alpha:g}, a batch of {n}: the student's step differs from one step on "
                     "kd_loss(student(x), teacher(x), y, T, alpha)").format(T=T, alpha=alpha, n=n)
    return None


def check_train_step(fn) -> Verdict:
    """Spot the bug 7.1: the seed's side-by-side training (000-4), fixed."""
    return check("Spot the bug 7.1", fn, diagnose_train_step, todo=_("fix train_step above, then rerun the cell"),
                 praise=_("the teacher is frozen in eval mode, gets no gradient, and its softened outputs drive the student's "
                        "kd_loss step (four settings of T and alpha, a batch of one among them)"))


def diagnose_soft_term(fn) -> str | None:
    """Spot the bug 7.2 (001-5): ``soft_term(student_logits, teacher_logits, T)`` must be T² KL(p_T || q_T), batchmean."""
    for z, v, y, T, _a, what in _kd_cases():
        _out, changed = _call_unchanged(fn, (z, v, T), ("student_logits", "teacher_logits"))
        if changed:
            return changed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = fn(z, v, T)
        if isinstance(raw, torch.Tensor) and raw.numel() == 1 and not torch.isfinite(raw):
            if what.startswith("large logits"):
                return (_("NaN or infinite at large logits: take logs with log_softmax, not torch.log(softmax(...)), which "
                        "gives log 0 where a probability rounds to 0"))
            return _("the loss is NaN: KLDivLoss takes the target as probabilities; pass softmax(v / T), or set log_target=True")
        if isinstance(raw, torch.Tensor) and raw.numel() != 1:
            return _("return one number (the batch's loss), got shape {shape}").format(shape=tuple(raw.shape))
        value, gz, gv, problem = _loss_and_grads(fn, (z, v, T))
        if problem:
            return problem
        ref_value, ref_g, _gv, _problem = _loss_and_grads(lambda s, t, TT: losses.soft_loss(s, t, TT), (z, v, T), teacher=None)
        if _close_tensors(value, ref_value) and _close_tensors(gz, ref_g):
            if gv is not None and gv.abs().max() > 0:
                return (_("right value and gradient, but gradients reach the teacher's logits: detach them "
                        "(teacher_logits.detach()); the teacher is frozen"))
            continue
        C = z.shape[1]
        ref = ref_value.item()
        kl = losses.soft_loss(z, v, T, scale=False).item()
        value = value.item()
        if close(value, ref / C, rel=1e-4) or close(value, kl / C, rel=1e-4):
            return _("the default reduction 'mean' also divides by the number of classes: use reduction='batchmean'")
        if close(value, kl, rel=1e-4) and T != 1:
            return _("the T² factor is missing")
        if close(value, losses.soft_loss(z, v, 1.0).item() / C, rel=1e-4):
            return (_("two mistakes: no temperature (divide both logits by T, multiply the KL by T²), and the default "
                    "reduction 'mean', which also divides by the number of classes (use reduction='batchmean')"))
        if close(value, losses.soft_loss(z, v, 1.0).item(), rel=1e-4) and T != 1:
            return _("no temperature: divide both logits by T before the softmax, and multiply the KL by T²")
        rev = F.kl_div(F.log_softmax(v / T, 1), F.softmax(z / T, 1), reduction="batchmean").item()
        if close(value, rev * T * T, rel=1e-4) or close(value, rev, rel=1e-4):
            return _("the KL is reversed: the student's log-probabilities are the input, the teacher's probabilities the target")
        if close(value, ref, rel=1e-4):
            return _("the value is right but the gradient is not: compute the loss from the student's logits with differentiable ops")
        return _("on {what} (T = {T:g}, a batch of {n}) your value differs from T² KL(p_T || q_T)").format(what=_(what), T=T, n=len(z))
    return None


def check_soft_term(fn) -> Verdict:
    """Spot the bug 7.2: seed 001-5's KLDivLoss call, fixed."""
    return check("Spot the bug 7.2", fn, diagnose_soft_term, todo=_("fix soft_term above, then rerun the cell"),
                 praise=_("T² KL(p_T || q_T), averaged over the batch: values and gradients right at T = 1, at large logits "
                        "and for a batch of one"))


def diagnose_soft_label_loss(fn) -> str | None:
    """Spot the bug 7.3 (004-1): ``loss(outputs, labels, teacher_logits, T, alpha)``: kd_loss's gradient, and its value
    either kd_loss's or, written with cross-entropy and soft targets, kd_loss's plus alpha T² H(p_T)."""
    as_kd = lambda z, v, y, T, a: fn(z, y, v, T, a)  # noqa: E731 (the snippet's argument order)
    cases = _kd_cases()
    for z, v, y, T, a, what in cases:
        _out, changed = _call_unchanged(fn, (z, y, v, T, a), ("outputs", "labels", "teacher_logits"))
        if changed:
            return changed
        value, gz, gv, problem = _loss_and_grads(fn, (z, y, v, T, a), student=0, teacher=2)
        if problem:
            return problem
        if not torch.isfinite(value) or not torch.isfinite(gz).all():
            return _("the loss is NaN or infinite on {what}: use log_softmax (or F.cross_entropy), never torch.log(softmax(...))").format(
                what=_(what))
        ref_value, ref_g, _gv, _problem = _loss_and_grads(_reference_kd, (z, v, y, T, a), teacher=None)
        entropy_term = torch.tensor(a * T * T * _entropy(v, T))
        same_value = _close_tensors(value, ref_value) or _close_tensors(value, ref_value + entropy_term)
        if same_value and _close_tensors(gz, ref_g):
            if gv is not None and gv.abs().max() > 0:
                return (_("right value and gradient, but gradients reach the teacher's logits: detach them "
                        "(teacher_logits.detach()); the teacher is frozen"))
            continue
        named = _named_mistake(as_kd, cases, with_value=False)
        if named:
            return named
        if _close_tensors(gz, ref_g):
            return _("the gradient is right but the value is off by {off:.3g} on {what}: the loss is "
                     "(1 - alpha) * CE(outputs, labels) + alpha * T² * CE(outputs / T, softmax(teacher_logits / T)), nothing added").format(
                off=value.item() - ref_value.item(), what=_(what))
        return _("on {what} (T = {T:g}, alpha = {a:g}) the gradient differs from kd_loss's: (1 - alpha) * CE(outputs, labels) "
                 "+ alpha * T² * CE(outputs / T, softmax(teacher_logits / T)), the second with a probability target").format(
            what=_(what), T=T, a=a)
    return None


def check_soft_label_loss(fn) -> Verdict:
    """Spot the bug 7.3: seed 004-1's three-argument CrossEntropyLoss, fixed."""
    return check("Spot the bug 7.3", fn, diagnose_soft_label_loss, todo=_("fix loss_with_soft_labels above, then rerun the cell"),
                 praise=_("kd_loss's gradient, and its value up to the teacher's entropy (cross-entropy with soft targets is "
                        "the KL plus that constant), at T = 1, alpha = 0 and 1, large logits and a batch of one"))


class _CountingTeacher(nn.Module):
    """Counts the examples that pass through the teacher: a cache runs it once per example."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner, self.rows = inner, 0

    def forward(self, x):
        self.rows += len(x)
        return self.inner(x)


def diagnose_cache(fn) -> str | None:
    """Spot the bug 7.4 (002-S4): ``fn(teacher, dataset, epochs, batch_size, seed)`` -> [(x, y, teacher_logits)], aligned,
    with the teacher run once per example (a cache), and the dataset unchanged."""
    for n, epochs, batch_size, data_seed in ((200, 2, 32, 3), (37, 3, 8, 5), (5, 2, 1, 6)):
        gen = torch.Generator().manual_seed(data_seed)
        X = torch.randn(n, 6, generator=gen)
        y = torch.randint(0, 4, (n,), generator=gen)
        torch.manual_seed(4)
        inner = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
        teacher = _CountingTeacher(inner)
        X0, y0 = X.clone(), y.clone()
        pairs = list(fn(teacher, Indexed(X, y), epochs, batch_size, 0))
        if not (torch.equal(X, X0) and torch.equal(y, y0)):
            return _("the dataset's tensors changed: the cache must not write into the data")
        expected = epochs * math.ceil(n / batch_size)
        if len(pairs) != expected:
            return _("expected one (x, y, teacher_logits) triple per batch for {epochs} epochs ({expected}), got {got}").format(
                epochs=epochs, expected=expected, got=len(pairs))
        aligned = 0
        for xb, yb, t in pairs:
            t = torch.as_tensor(t)
            if t.requires_grad:
                return _("the cached outputs carry an autograd graph: compute the cache under torch.no_grad()")
            with torch.no_grad():
                aligned += int(t.shape == (len(xb), 4) and torch.allclose(t, inner(xb), atol=1e-5))
        if aligned < len(pairs):
            return _("{wrong} of {total} batches get teacher outputs computed for other examples: "
                     "the loader reshuffles every epoch; store the cache by example index and read cache[i]").format(
                wrong=len(pairs) - aligned, total=len(pairs))
        if teacher.rows > n:
            return _("the teacher ran on {rows} examples for a data set of {n}: that is no cache; run it once per "
                     "example, keep the outputs by example index, and read them back in every epoch").format(rows=teacher.rows, n=n)
        first, second = pairs[: len(pairs) // epochs], pairs[len(pairs) // epochs: 2 * len(pairs) // epochs]
        if n > 1 and all(torch.equal(a[1], b[1]) for a, b in zip(first, second)) and all(torch.equal(a[0], b[0]) for a, b in zip(first, second)):
            return _("aligned, but only because the order never changes: keep shuffle=True and index the cache by example")
    return None


def check_cache(fn) -> Verdict:
    """Spot the bug 7.4: seed 002-S4's cache in loader order, fixed."""
    return check("Spot the bug 7.4", fn, diagnose_cache, todo=_("fix cached_teacher_batches above, then rerun the cell"),
                 praise=_("every batch, in every shuffled epoch, gets the teacher's outputs for its own examples, and the "
                        "teacher ran once per example"))
