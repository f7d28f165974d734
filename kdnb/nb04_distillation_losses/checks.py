"""The checkers of Check yourself 2.1, 3.1 and 6.1, and the machinery every checker of the notebook shares.

Every checker follows one rule: (a) run the reader's code on randomized problems that include the edges
(T = 1, alpha in {0, 1}, large logits, a batch of one); (b) compare values and gradients with respect to the
student; (c) check that the inputs are unchanged afterwards; (d) check that no gradient reaches the teacher;
(e) accept every correct formulation and any numeric type; (f) never print the solution's result under the stub.
A ``diagnose_*`` function returns ``None`` for a right answer and a sentence naming the mistake otherwise; its
``check_*`` twin prints the verdict in the notebook.
"""

from __future__ import annotations

import math
import os
import random
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from .. import losses
from ..exercises import Verdict, as_number, check, close
from ..i18n import N_, _
from .feature_losses import attention_map

def _close_tensors(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-4) -> bool:
    """Equal up to float32 rounding, relative to the size of ``b`` (so a large-logit case is judged fairly)."""
    a, b = a.detach().double(), b.detach().double()
    if a.shape != b.shape or not torch.isfinite(a).all():
        return False
    scale = float(b.abs().max()) if b.numel() else 0.0
    return bool(torch.allclose(a, b, rtol=rtol, atol=1e-6 * max(scale, 1.0)))


def _reference_kd(z, v, y, T, alpha):
    return losses.kd_loss(z, v, y, T=T, alpha=alpha)


def _kd_variants() -> dict[str, callable]:
    """The usual ways to get ``kd_loss`` wrong, each as a function, with the sentence that names it."""
    def soft(z, v, T, reduction="batchmean", scale=True, swap=False, both_log=False, teacher_T=True):
        log_q = F.log_softmax(z / T, 1)
        log_p = F.log_softmax(v / (T if teacher_T else 1.0), 1)
        if both_log:
            kl = F.kl_div(log_q, log_p, reduction=reduction)
        elif swap:
            kl = F.kl_div(log_p, log_q.exp(), reduction=reduction)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # 'mean' warns that it divides by the classes too: that is the mistake named
                kl = F.kl_div(log_q, log_p.exp(), reduction=reduction)
        return kl * T * T if scale else kl

    def ce(z, y):
        return F.cross_entropy(z, y)

    return {
        N_("the T² factor is missing: without it the soft term's gradient shrinks as 1/T² (multiply the KL by T * T)"):
            lambda z, v, y, T, a: (1 - a) * ce(z, y) + a * soft(z, v, T, scale=False),
        N_("reduction='mean' divides by the number of classes as well as the batch: use reduction='batchmean'"):
            lambda z, v, y, T, a: (1 - a) * ce(z, y) + a * soft(z, v, T, reduction="mean"),
        N_("the KL is reversed: you computed KL(q || p); F.kl_div(input, target) is KL(target || input), so pass the "
           "student's log-probabilities as input and the teacher's probabilities as target"):
            lambda z, v, y, T, a: (1 - a) * ce(z, y) + a * soft(z, v, T, swap=True),
        N_("the target is log-probabilities but log_target is False: F.kl_div takes the target as probabilities unless "
           "log_target=True"):
            lambda z, v, y, T, a: (1 - a) * ce(z, y) + a * soft(z, v, T, both_log=True),
        N_("the teacher's logits are not divided by T: soften teacher and student with the same temperature"):
            lambda z, v, y, T, a: (1 - a) * ce(z, y) + a * soft(z, v, T, teacher_T=False),
        N_("alpha weights the wrong term: alpha multiplies the soft (teacher) term and 1 - alpha the hard one"):
            lambda z, v, y, T, a: a * ce(z, y) + (1 - a) * soft(z, v, T),
        N_("the hard term uses the softened student logits: cross-entropy with the labels is taken at T = 1"):
            lambda z, v, y, T, a: (1 - a) * ce(z / T, y) + a * soft(z, v, T),
        N_("the hard term is missing: (1 - alpha) * cross_entropy(student_logits, labels)"):
            lambda z, v, y, T, a: a * soft(z, v, T),
        N_("the soft term is missing: alpha * T² * KL(p_T || q_T)"):
            lambda z, v, y, T, a: (1 - a) * ce(z, y),
    }


#: The fixed problems every loss checker runs, (B, C, T, alpha, logit scale, what the case tests). Two more are drawn
#: at random on every call (:func:`_kd_cases`).
KD_EDGES = [
    (8, 10, 4.0, 0.7, 3.0, N_("an ordinary batch")),
    (5, 3, 2.0, 0.3, 3.0, N_("three classes")),
    (16, 10, 8.0, 0.9, 3.0, N_("a high T")),
    (6, 5, 1.0, 0.5, 3.0, N_("T = 1")),
    (1, 4, 1.5, 0.5, 3.0, N_("a batch of one")),
    (6, 5, 2.0, 0.0, 3.0, N_("alpha = 0")),
    (6, 5, 3.0, 1.0, 3.0, N_("alpha = 1")),
    (6, 10, 1.0, 0.5, 150.0, N_("large logits (T = 1)")),
    (4, 10, 4.0, 0.9, 600.0, N_("large logits (T = 4)")),
]


def _kd_cases(seed: int | None = None):
    """``[(z, v, y, T, alpha, what)]``: the edges of :data:`KD_EDGES` and two random problems (fresh unless ``seed``)."""
    gen = torch.Generator().manual_seed(1234)
    specs = list(KD_EDGES)
    rnd = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=torch.Generator().manual_seed(
        seed if seed is not None else int.from_bytes(os.urandom(4), "little")))))
    for _i in range(2):
        B, C = int(torch.randint(1, 13, (1,), generator=rnd)), int(torch.randint(2, 13, (1,), generator=rnd))
        # Inside the edges, never on them: T = 1, alpha = 0 and alpha = 1 are edges of their own (KD_EDGES), and a
        # random problem that landed on one would blur which mistake the answer makes.
        T = round(float(1.1 + 8.9 * torch.rand(1, generator=rnd)), 2)
        alpha = round(float(0.05 + 0.9 * torch.rand(1, generator=rnd)), 2)
        specs.append((B, C, T, alpha, 3.0, N_("a random problem")))
    cases = []
    for B, C, T, alpha, scale, what in specs:
        g = gen if what != "a random problem" else rnd
        z, v = scale * torch.randn(B, C, generator=g), scale * torch.randn(B, C, generator=g)
        y = torch.randint(0, C, (B,), generator=g)
        cases.append((z, v, y, T, alpha, what))
    return cases


def _call_unchanged(fn, args: tuple, names: tuple) -> tuple[object, str | None]:
    """Call ``fn(*args)`` on copies; return its output and, if it changed an input in place, the sentence that says so."""
    copies = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*copies)
    for name, before, after in zip(names, args, copies):
        if isinstance(before, torch.Tensor) and not torch.equal(before, after.detach()):
            return out, _("your function changed its input {name} in place (an in-place op such as {name} /= T or .div_()): "
                          "the caller's tensor is now different; compute a new tensor (x = x / T) instead").format(name=name)
    return out, None


def _loss_and_grads(fn, args: tuple, student: int = 0, teacher: int | None = 1):
    """Value of ``fn(*args)`` and its gradients with respect to the student's argument and (if any) the teacher's.

    Returns ``(value, grad_student, grad_teacher, problem)``; ``problem`` names a result that is no differentiable
    scalar.
    """
    args = list(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
    args[student] = args[student].requires_grad_(True)
    if teacher is not None:
        args[teacher] = args[teacher].requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*args)
    if not isinstance(out, torch.Tensor):
        kind = _("a Python number: .item() or float() cut the graph") if as_number(out) is not None else type(out).__name__
        return None, None, None, _("return the loss as a tensor that autograd can differentiate, not {kind}").format(kind=kind)
    if out.numel() != 1:
        return None, None, None, _("return one number for the batch (averaged over examples), not a tensor of shape {shape}").format(
            shape=tuple(out.shape))
    if not out.requires_grad:
        return out.detach(), None, None, (_("the loss has no gradient with respect to the student's logits: did you detach the "
                                          "student (.detach(), .data, torch.no_grad() around it) or go through .item() or NumPy?"))
    wrt = [args[student]] + ([args[teacher]] if teacher is not None else [])
    grads = torch.autograd.grad(out.reshape(()), wrt, allow_unused=True)
    gz = grads[0] if grads[0] is not None else torch.zeros_like(args[student])
    gv = grads[1] if teacher is not None else None
    return out.detach().reshape(()), gz, gv, None


def _agrees(fn, other, case, with_value: bool = True) -> bool:
    """``fn`` and ``other`` give the same gradient on ``case`` (and the same value, if ``with_value``)."""
    z, v, y, T, a = case[:5]
    try:
        value, gz, _gv, problem = _loss_and_grads(fn, (z, v, y, T, a), teacher=None)
        o_value, o_gz, _gv, _problem = _loss_and_grads(other, (z, v, y, T, a), teacher=None)
    except Exception:
        return False
    if problem or value is None or o_value is None or not torch.isfinite(o_value):
        return False
    return _close_tensors(gz, o_gz) and (not with_value or _close_tensors(value, o_value))


def _named_mistake(fn, cases, with_value: bool = True) -> str | None:
    """The sentence of the first known ``kd_loss`` mistake that ``fn`` reproduces on every case, if any."""
    for name, bug in _kd_variants().items():
        if all(_agrees(fn, bug, case, with_value) for case in cases):
            return _(name)
    return None


def _where_wrong(failed: list[str], total: list[str]) -> str:
    """A sentence for a function that is right on some problems and wrong on others."""
    kinds = sorted(set(failed))
    if all("T = 1" in k for k in kinds):
        return _("right in general but wrong at T = 1: the same formula holds at every T, so no special case for T == 1")
    if set(kinds) <= {"alpha = 0", "alpha = 1"}:
        return (_("right in general but wrong at alpha = 0 or alpha = 1: the same formula covers the ends (alpha = 0 is "
                "plain cross-entropy, alpha = 1 the soft term alone), so no special case that changes it"))
    if set(kinds) <= {"a batch of one"}:
        return _("right in general but wrong for a batch of one example: keep the batch dimension (no .squeeze())")
    if all(k.startswith("large logits") for k in kinds):
        return (_("right on ordinary logits, wrong on large ones: take logs with F.log_softmax, not torch.log(softmax(...)), "
                "which rounds small probabilities to 0 and their log to -inf"))
    return _("wrong on {k} of {n} problems ({kinds})").format(k=len(failed), n=len(total), kinds=_(", ").join(_(k) for k in kinds))


def diagnose_kd_loss(fn) -> str | None:
    """``None`` if ``fn(student_logits, teacher_logits, labels, T, alpha)`` is the distillation loss, else the mistake.

    Runs :data:`KD_EDGES` and two random problems; compares values and gradients with :func:`kdnb.losses.kd_loss`,
    then with each known mistake; checks that the inputs are unchanged and that no gradient reaches the teacher.
    """
    cases = _kd_cases()
    names = ("student_logits", "teacher_logits", "labels")
    failed, nonfinite, leaks = [], [], False
    for z, v, y, T, a, what in cases:
        _out, changed = _call_unchanged(fn, (z, v, y, T, a), names)
        if changed:
            return changed
        value, gz, gv, problem = _loss_and_grads(fn, (z, v, y, T, a))
        if problem:
            return problem
        if not torch.isfinite(value) or not torch.isfinite(gz).all():
            nonfinite.append(what)
            continue
        leaks = leaks or (gv is not None and bool(gv.abs().max() > 0))
        ref_value, ref_gz, _gv, _problem = _loss_and_grads(_reference_kd, (z, v, y, T, a), teacher=None)
        if not (_close_tensors(value, ref_value) and _close_tensors(gz, ref_gz)):
            failed.append(what)
    if nonfinite:
        if all(w.startswith("large logits") for w in nonfinite):
            named = _named_mistake(fn, [c for c in cases if not c[5].startswith("large logits")]) if failed else None
            if named:
                return named
            return (_("the loss is NaN or infinite at large logits: torch.log(softmax(...)) rounds small probabilities to 0 "
                    "and takes log 0; use F.log_softmax (and F.kl_div or a sum over log-probabilities)"))
        return (_("the target is log-probabilities but log_target is False: F.kl_div takes the target as probabilities unless "
                "log_target=True (your loss is NaN or infinite on ordinary logits: the log of a non-positive number; "
                "use F.log_softmax for every log)"))
    if not failed:
        if leaks:
            return (_("gradients reach the teacher's logits: the teacher is frozen, so detach them "
                    "(teacher_logits.detach(), or compute them under torch.no_grad())"))
        return None
    named = _named_mistake(fn, cases)
    if named:
        return named
    if all(_agrees(fn, _reference_kd, case, with_value=False) for case in cases):
        z, v, y, T, a, _what = next(c for c in cases if c[5] in failed)
        value, *_rest = _loss_and_grads(fn, (z, v, y, T, a), teacher=None)
        ref_value, *_rest = _loss_and_grads(_reference_kd, (z, v, y, T, a), teacher=None)
        return _("the gradient is right but the value is off by a constant ({off:.3g} on one "
                 "problem): cross-entropy with soft targets equals KL plus the teacher's entropy; use the KL").format(
            off=value.item() - ref_value.item())
    if len(failed) < len(cases):
        return _where_wrong(failed, [c[5] for c in cases])
    return (_("your loss differs from (1 - alpha) * CE(labels, z) + alpha * T² * KL(softmax(v/T) || softmax(z/T)) in value "
            "and gradient on every problem; compare your terms with the formula above"))


def check_kd_loss(fn) -> Verdict:
    """Check yourself 2.1: the reader's ``kd_loss(student_logits, teacher_logits, labels, T, alpha)``."""
    return check("Check yourself 2.1", fn, diagnose_kd_loss,
                 todo=_("write kd_loss in the cell above (replace the your_turn line), then rerun it"),
                 praise=_("values and gradients match kdnb.losses.kd_loss on {n} problems (T = 1, alpha = 0 "
                          "and 1, large logits, a batch of one, two random ones), the inputs are untouched, and no gradient "
                          "reaches the teacher").format(n=len(KD_EDGES) + 2))
# ------------------------------------------------------------------------------------------------ Check yourself 3.1


#: Library calls that compute a KL divergence: the gap must not be computed as CE - KL.
_KL_CALLS = ((F, "kl_div"), (losses, "kl_divergence"), (losses, "soft_loss"), (losses, "kd_loss"))

#: Functions that read logits, named as a torch function mode sees them (``F.log_softmax``, ``Tensor.softmax``,
#: ``nn.CrossEntropyLoss`` ... all arrive under these names): a made-up student's logits pass through one of them.
_READS_LOGITS = frozenset({"softmax", "log_softmax", "special_softmax", "special_log_softmax", "softmin", "cross_entropy",
                           "logsumexp", "special_logsumexp", "exp", "exp_"})


class _LogitsRead(TorchFunctionMode):
    """While active, keeps a copy of every tensor of ``classes``-wide logits that a softmax-like function reads."""

    def __init__(self, classes: int):
        super().__init__()
        self.classes, self.read = classes, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in _READS_LOGITS:
            first = args[0] if args else next(iter(kwargs.values()), None)
            if (isinstance(first, torch.Tensor) and first.is_floating_point() and first.dim() >= 1
                    and first.shape[-1] == self.classes and first.numel() > 1):
                self.read.append(first.detach().clone())
        return func(*args, **kwargs)


def _teachers_logits(t: torch.Tensor, v: torch.Tensor) -> bool:
    """True when every row of ``t`` is a row of ``v`` times a positive factor plus a constant: logits that a softmax
    reads as the teacher's (``v / T``, ``log_softmax(v / T)``, in any dtype, through NumPy or not)."""
    C = v.shape[-1]
    rows, cand = t.double().reshape(-1, C), v.detach().double().reshape(-1, C)
    rows, cand = rows - rows.mean(1, keepdim=True), cand - cand.mean(1, keepdim=True)
    for r in rows:
        size = float(r.abs().max())
        if not math.isfinite(size):
            return False
        found = False
        for c in cand:
            cc = float(c.dot(c))
            if cc == 0.0:
                found = size < 1e-9
            else:
                a = float(r.dot(c)) / cc
                found = a > 0 and bool(torch.allclose(r, a * c, rtol=1e-4, atol=1e-5 * max(size, 1e-12)))
            if found:
                break
        if not found:
            return False
    return True


def _rng_states():
    return torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


def _same_rng(a, b) -> bool:
    return torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def _watched_call(fn, v: torch.Tensor, T: float):
    """``fn(v, T)`` on a copy, watched: returns its output, a sentence if it changed ``v`` in place, the KL calls it
    made, the logits its softmax-like calls read, and whether it drew random numbers."""
    calls = []
    saved = [(mod, name, getattr(mod, name)) for mod, name in _KL_CALLS]

    def spy(original, name):
        def wrapper(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)
        return wrapper

    mode, before = _LogitsRead(v.shape[-1]), _rng_states()
    try:
        for mod, name, original in saved:
            setattr(mod, name, spy(original, name))
        with mode:
            out, changed = _call_unchanged(fn, (v, T), ("teacher_logits",))
    finally:
        for mod, name, original in saved:
            setattr(mod, name, original)
    return out, changed, calls, mode.read, not _same_rng(before, _rng_states())


def _entropy(v: torch.Tensor, T: float) -> float:
    log_p = F.log_softmax(v.double() / T, 1)
    return float(-(log_p.exp() * log_p).sum(1).mean())


def _gap_gradient_problem(fn, v: torch.Tensor, T: float) -> str | None:
    """If ``fn`` returns a tensor differentiable in the teacher's logits, its gradient must be the entropy's."""
    x = v.clone().requires_grad_(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(x, T)
    except Exception:  # e.g. .numpy() on a tensor that requires grad: the answer is a plain number, judged by value
        return None
    if not isinstance(out, torch.Tensor) or out.numel() != 1 or out.grad_fn is None:
        return None
    (g,) = torch.autograd.grad(out.reshape(()), x, allow_unused=True)
    ref = v.detach().double().requires_grad_(True)
    log_p = F.log_softmax(ref / T, 1)
    (g_ref,) = torch.autograd.grad(-(log_p.exp() * log_p).sum(1).mean(), ref)
    if g is None or not _close_tensors(g, g_ref):
        return (_("the value is right but its gradient with respect to the teacher's logits is not the entropy's: compute "
                "H(p_T) from the teacher's logits with differentiable ops, nothing added that only changes the gradient"))
    return None


def diagnose_entropy_gap(fn) -> str | None:
    """Check yourself 3.1: ``fn(teacher_logits, T)`` returns CE(p_T, q_T) - KL(p_T || q_T), i.e. the teacher's mean
    entropy, from the teacher's logits and T alone (any numeric type; rounding to 3 significant figures is fine).

    Runs :data:`KD_EDGES` and two random problems. Refused whatever the value: a change of the teacher's logits in
    place, a library KL (the gap would then be CE - KL, not worked out), any student (logits a softmax reads that are
    not the teacher's, random or fixed), and random numbers drawn. A tensor answer's gradient with respect to the
    teacher's logits must be the entropy's (on ordinary logits, where every probability is above 0)."""
    for z, v, y, T, a, what in _kd_cases():
        out, changed, calls, read, drew = _watched_call(fn, v, T)
        if changed:
            return changed
        if calls:
            return _("computed as CE - KL from the two losses ({call} was called): the exercise asks for the gap from "
                     "the teacher's logits and T alone, which shows what it is; write -sum p_T log p_T, averaged over the batch").format(
                call=calls[0])
        if any(not _teachers_logits(t, v) for t in read) or drew:
            how = _("draws random numbers") if drew else _("feeds logits that are not the teacher's to a softmax")
            return _("your function {how}: a student of its own. CE - KL is the same for every student, so leave the "
                     "student out and compute the gap from the teacher's logits and T alone: -sum p_T log p_T, averaged "
                     "over the batch").format(how=how)
        if isinstance(out, torch.Tensor) and out.numel() > 1 or isinstance(out, np.ndarray) and out.size > 1:
            return _("give one number for the batch (a mean over examples), not an array of shape {shape}").format(shape=tuple(out.shape))
        a_ = as_number(out)
        if a_ is None:
            raw = out.item() if isinstance(out, torch.Tensor) and out.numel() == 1 else out
            if isinstance(raw, float) and not math.isfinite(raw):
                return (_("the result is NaN or infinite on large logits: p * log(p) is 0 * log 0 where a probability rounds to 0; "
                        "use F.log_softmax for log p_T (or torch.special.entr)"))
            return _("return a number (a float, a NumPy number or a one-element tensor), got {kind}").format(kind=type(out).__name__)
        h = _entropy(v, T)
        if close(a_, h, rel=5e-3, abs_=5e-4):  # rounded to 3 significant figures is right too
            problem = None if what.startswith("large") else _gap_gradient_problem(fn, v, T)
            if problem:
                return problem
            continue
        log_p = F.log_softmax(v.double() / T, 1)
        if close(a_, h / math.log(2), rel=2e-3, abs_=5e-4):
            return _("that is the entropy in bits; the losses use natural logarithms (nats)")
        if close(a_, h * len(v), rel=2e-3, abs_=5e-4) and len(v) > 1:
            return _("that is the sum over the batch; the losses average over the batch (mean over examples)")
        if close(a_, -h, rel=2e-3, abs_=5e-4) and h > 1e-3:
            return _("the sign is flipped: entropy is -sum p log p, which is never negative")
        if close(a_, _entropy(v, 1.0), rel=2e-3, abs_=5e-4) and T != 1.0:
            return _("that is the teacher's entropy at T = 1: divide the teacher's logits by T first")
        if close(a_, float(-(log_p.exp() * log_p).sum(1).mean() / v.shape[1]), rel=2e-3, abs_=5e-4):
            return _("averaged over the classes as well as the batch: sum over the classes, then average over the batch")
        where = (_("on a batch of {n} with {C} classes at T = {T:g} (large logits)") if what.startswith("large")
                 else _("on a batch of {n} with {C} classes at T = {T:g}")).format(n=len(v), C=v.shape[1], T=T)
        return _("{where} your value is off; the gap is the teacher's mean entropy H(p_T) = mean over the batch of "
                 "-sum_i p_T,i log p_T,i").format(where=where)
    return None


def check_entropy_gap(fn) -> Verdict:
    """Check yourself 3.1: the reader's ``entropy_gap(teacher_logits, T)``, CE - KL from the teacher alone."""
    return check("Check yourself 3.1", fn, diagnose_entropy_gap,
                 todo=_("write entropy_gap(teacher_logits, T) in the cell above, from the teacher's logits and T only"),
                 praise=_("CE - KL is the teacher's mean entropy on {n} batches (T = 1, large logits and a "
                          "batch of one among them), from the teacher alone: a constant for the student").format(n=len(KD_EDGES) + 2))




# ------------------------------------------------------------------------------------------------ Check yourself 6.1


def _attention_cases():
    gen = torch.Generator().manual_seed(7)
    shapes = [((6, 5, 4, 3), 1.0), ((1, 8, 7, 7), 1.0), ((3, 1, 5, 5), 1.0), ((4, 16, 6, 6), 30.0), ((2, 3, 1, 9), 1.0)]
    return [scale * torch.randn(*shape, generator=gen) for shape, scale in shapes]


def diagnose_attention_map(fn) -> str | None:
    for A in _attention_cases():
        out, changed = _call_unchanged(fn, (A,), ("features",))
        if changed:
            return changed
        if not isinstance(out, torch.Tensor):
            return _("return a tensor, got {kind}").format(kind=type(out).__name__)
        ref = attention_map(A)
        B, C, H, W = A.shape
        if tuple(out.shape) != tuple(ref.shape):
            if tuple(out.shape) == (B, H, W):
                return _("flatten the map: one row of H*W values per example, shape (batch, H*W)")
            if tuple(out.shape) == (B, C):
                return _("you reduced over the spatial positions; reduce over the channels (dim=1) and keep H*W positions")
            return _("expected shape (batch, H*W) = {want}, got {got}").format(want=tuple(ref.shape), got=tuple(out.shape))
        if not _close_tensors(out, ref, rtol=1e-5):
            if torch.allclose(out, F.normalize(A.abs().mean(1).flatten(1), dim=1), atol=1e-6):
                return _("square the activations (p = 2) before averaging over channels: the paper's |A|^2")
            if torch.allclose(out, F.normalize(A.pow(2).mean(1), dim=2).flatten(1), atol=1e-6) or torch.allclose(out, F.normalize(A.pow(2).mean(1), dim=1).flatten(1), atol=1e-6):
                return _("normalize the whole flattened map (all H*W values together), not one row or column of it")
            if torch.allclose(out, A.pow(2).mean(1).flatten(1), atol=1e-5) or torch.allclose(out, A.pow(2).sum(1).flatten(1), atol=1e-5):
                return _("the map is not normalized: divide by its L2 norm (F.normalize(..., dim=1)) so student and teacher compare directions")
            if torch.allclose(out, F.normalize(A.mean(1).flatten(1), dim=1), atol=1e-6):
                return _("averaging signed activations lets positive and negative cancel: use |A|^2")
            if torch.allclose(out, F.normalize(A.pow(2).flatten(1), dim=1)[:, : ref.shape[1]], atol=1e-6):
                return _("reduce over the channels first (mean over dim=1), then flatten")
            return _("on features of shape {shape}: Q = normalize(mean over channels of A², flattened over H*W); compare your steps "
                     "with that").format(shape=tuple(A.shape))
        # the map is used inside a loss: it must pass gradients back to the student's features
        w = torch.randn(ref.shape, generator=torch.Generator().manual_seed(11))
        a1 = A.clone().requires_grad_(True)
        out1 = fn(a1)
        if not isinstance(out1, torch.Tensor) or not out1.requires_grad:
            return _("the map has no gradient: the student learns through it, so no .detach(), .data, NumPy or torch.no_grad()")
        (g,) = torch.autograd.grad((out1 * w).sum(), a1, allow_unused=True)
        a2 = A.clone().requires_grad_(True)
        (g_ref,) = torch.autograd.grad((attention_map(a2) * w).sum(), a2)
        if g is None or not _close_tensors(g, g_ref, rtol=1e-4):
            return _("the values are right but the gradient is not: compute the map from the features with differentiable ops")
    return None


def check_attention_map(fn) -> Verdict:
    """Check yourself 6.1: the reader's ``attention_map(features)``."""
    return check("Check yourself 6.1", fn, diagnose_attention_map, todo=_("write attention_map in the cell above, then rerun it"),
                 praise=_("it matches the paper's map on five shapes (a batch of one and a single channel among them), values "
                        "and gradients: mean of A² over channels, flattened, L2-normalized (a sum over channels works too)"))
