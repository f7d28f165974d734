"""The checkers of notebook 08's two loss exercises: ``sequence_kd_loss`` and ``generalized_jsd``.

Both follow the workbook's rule for checkers: (a) run the reader's function on randomized problems that include the
edges; (b) compare values and gradients with respect to the student's logits against a float64 reference; (c) check
that the inputs are unchanged afterwards; (d) check that no gradient reaches the teacher; (e) accept every correct
formulation (a loss must come back as a tensor with a gradient, and the message says so when it does not); (f) never
print the reference's value under the stub. A ``diagnose_*`` function returns ``None`` for a right answer and a
sentence naming the mistake otherwise; its ``check_*`` twin prints the verdict in the notebook.

The machinery (:func:`_run`, :func:`_diagnose`) is the same idea as notebook 04's checkers, written again here because
a room imports core modules only.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..exercises import Verdict, as_number, check
from ..i18n import N_, _
from ..losses import IGNORE_INDEX, soft_loss
from .divergence import generalized_jsd

__all__ = ["diagnose_sequence_kd", "check_sequence_kd", "diagnose_generalized_jsd", "check_generalized_jsd",
           "SEQUENCE_EDGES", "JSD_EDGES"]


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-4) -> bool:
    """Equal up to float32 rounding, relative to the size of ``b`` (so a large-logit case is judged fairly)."""
    a, b = a.detach().double(), b.detach().double()
    if a.shape != b.shape or not torch.isfinite(a).all():
        return False
    size = float(b.abs().max()) if b.numel() else 0.0
    return bool(torch.allclose(a, b, rtol=rtol, atol=1e-6 * max(size, 1.0)))


_BACKWARD = N_("your function calls backward() itself: return the loss, and let the training step call backward() once")


def _changed_inputs(fn, args: tuple, names: tuple) -> str | None:
    """Call ``fn`` on copies of ``args``; the sentence that says which input it changed in place, if any."""
    copies = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn(*copies)
        except RuntimeError as exc:  # backward() on a loss of inputs that need no gradient
            if "does not require grad" not in str(exc):
                raise
            return _(_BACKWARD)
    for name, before, after in zip(names, args, copies):
        if isinstance(before, torch.Tensor) and not torch.equal(before, after.detach()):
            return _("your function changed its input {name} in place (an in-place op such as {name} /= T, .div_() or "
                     "{name}[...] = ...): the caller's tensor is now different; compute a new tensor instead").format(name=name)
    return None


@dataclass(frozen=True)
class _Outcome:
    """What one call gave: the value and the gradients with respect to the student's and the teacher's logits."""

    value: torch.Tensor
    grad: torch.Tensor
    teacher_grad: torch.Tensor | None

    @property
    def finite(self) -> bool:
        return bool(torch.isfinite(self.value)) and bool(torch.isfinite(self.grad).all())


def _run(fn, args: tuple, dtype: torch.dtype | None = None) -> _Outcome | str:
    """``fn(*args)`` on copies (cast to ``dtype`` if given), differentiated; or the sentence saying why it cannot be."""
    args = [a.clone().to(dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() and dtype else
            a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    z, v = args[0].requires_grad_(True), args[1].requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*args)
    if not isinstance(out, torch.Tensor):
        kind = (_("a Python or NumPy number: .item(), float() or NumPy cut the graph") if as_number(out) is not None
                else type(out).__name__)
        return _("return the loss as a tensor that autograd can differentiate (training calls loss.backward()), "
                 "not {kind}").format(kind=kind)
    if out.numel() != 1:
        return _("return one number for the batch (the mean), not a tensor of shape {shape}").format(shape=tuple(out.shape))
    if not out.requires_grad:
        return _("the loss has no gradient with respect to the student's logits: did you detach the student (.detach(), "
                 ".data, torch.no_grad() around it) or go through .item() or NumPy?")
    try:
        gz, gv = torch.autograd.grad(out.reshape(()), [z, v], allow_unused=True)
    except RuntimeError as exc:
        if "second time" not in str(exc):
            raise
        return _(_BACKWARD)
    if gz is None:
        return _("the loss does not reach the student's logits through autograd (a tensor made from a number, such as "
                 "torch.tensor(loss.item()), has no history): compute it from student_logits with torch operations")
    return _Outcome(out.detach().reshape(()), gz, gv)


def _quiet_run(mistake, args: tuple) -> _Outcome | str:
    """:func:`_run` of one of the checker's own mistakes; an error there (say, a mean over no token) is no match."""
    try:
        return _run(mistake, args)
    except Exception as exc:  # the checker's model of a mistake failed, not the reader's code
        return f"{type(exc).__name__}: {exc}"


def _agrees(a: _Outcome, b: _Outcome | str) -> bool:
    if isinstance(b, str):
        return False
    if not a.finite or not b.finite:
        return not a.finite and not b.finite
    return _close(a.value, b.value) and _close(a.grad, b.grad)


@dataclass(frozen=True)
class _Task:
    """One exercise: its arguments' names, its reference, its named mistakes, how to say where a partly right answer
    goes wrong (``partial``: ``(a problem it fails on, the problems it may fail on, the sentence)``, the first that
    fits wins), and what to say of a value off by a power of T (``power(k)``: the answer is the reference times T^k)."""

    names: tuple[str, ...]
    reference: Callable
    mistakes: Callable[[], dict[str, Callable]]
    partial: tuple[tuple[str, frozenset, str], ...]
    formula: str
    constant: str
    power: Callable[[int], str]


_AT_T1 = N_("right in general but wrong at T = 1: the same formula holds at every T, so no special case for T == 1")
_SQUEEZE = N_("right in general but wrong for a batch of one sequence or sequences of one token: keep every dimension "
            "(no .squeeze()), and select the valid tokens with a boolean mask")
_ENDS = N_("right for 0 < beta < 1 but wrong at beta = 0 or beta = 1: those ends are forward KL(P || Q) and reverse "
         "KL(Q || P), computed as plain KLs")
_NEAR_ENDS = N_("right at the ends and at ordinary beta but wrong close to them: the mixture formula holds for every "
              "0 < beta < 1; only beta = 0 and beta = 1 exactly are the plain KLs")
_LARGE = N_("right on ordinary logits, wrong on large ones: take logs with F.log_softmax (and form a mixture with "
          "torch.logaddexp), not torch.log(softmax(...)), which rounds small probabilities to 0 and their log to -inf")


def _diagnose(fn, task: _Task, cases: list) -> str | None:
    """The shared diagnosis: ``cases`` are ``(args, what)``; see the module's rule. Runs on one thread (the tensors are
    tiny: a second thread only costs, several times over on a busy machine) and restores the caller's count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _diagnose_cases(fn, task, cases)
    finally:
        torch.set_num_threads(threads)


def _diagnose_cases(fn, task: _Task, cases: list) -> str | None:
    outcomes = []
    for args, _what in cases:
        problem = _changed_inputs(fn, args, task.names)
        out = problem or _run(fn, args)
        if isinstance(out, str):
            return out
        outcomes.append(out)
    refs = [_run(task.reference, args, torch.float64) for args, _what in cases]
    failed = [what for (_args, what), out, ref in zip(cases, outcomes, refs)
              if not (out.finite and _close(out.value, ref.value) and _close(out.grad, ref.grad))]
    if not failed:
        if any(out.teacher_grad is not None and bool(out.teacher_grad.abs().max() > 0) for out in outcomes):
            return _("gradients reach the teacher's logits: the teacher is frozen, so detach them "
                     "(teacher_logits.detach(), or compute them under torch.no_grad())")
        return None
    for sentence, mistake in task.mistakes().items():
        if any(o.finite for o in outcomes) and all(_agrees(o, _quiet_run(mistake, args)) for o, (args, _what) in zip(outcomes, cases)):
            return _(sentence)
    whats = [what for _args, what in cases]
    kinds = set(failed)
    for needed, allowed, sentence in task.partial:
        if needed in kinds and kinds <= allowed:
            return _(sentence)
    k = _power_of_T(outcomes, refs, [args[3] for args, _what in cases])
    if k is not None:
        return task.power(k)
    factor = _factor(outcomes, refs)
    if factor is not None:
        bits = _(" (that is a log to base 2, bits: use natural logs)") if abs(factor * math.log(2) - 1) < 1e-3 else ""
        return _("your value is {factor:.4g} times the right one on every problem, and so is the gradient{bits}: "
                 "{formula}").format(factor=factor, bits=bits, formula=_(task.formula))
    bad = [what for what, o in zip(whats, outcomes) if not o.finite]
    if bad:
        return _("your loss or its gradient is NaN or infinite on {bad} of {total} problems ({which}): "
                 "a log of 0 (torch.log of a probability that rounded to 0), a division by zero tokens, or "
                 "log-probabilities passed as F.kl_div's target without log_target=True").format(
                     bad=len(bad), total=len(cases), which=_whats(bad))
    if all(_close(o.grad, r.grad) for o, r in zip(outcomes, refs)):
        gaps = [float(o.value) - float(r.value) for o, r in zip(outcomes, refs)]
        return _("the gradient is right but the value is off ({gap:+.3g} on one problem): {constant}").format(
            gap=gaps[0], constant=_(task.constant))
    if all(_close(o.value, r.value) for o, r in zip(outcomes, refs)):
        return _("the value is right but the gradient with respect to the student's logits is not: compute the loss "
                 "from the student's logits with differentiable ops, with nothing added that only changes the gradient")
    if len(failed) < len(cases):
        return _("wrong on {failed} of {total} problems ({which}): {formula}").format(
            failed=len(failed), total=len(cases), which=_whats(kinds), formula=_(task.formula))
    return _("your loss differs in value and gradient on every problem: {formula}").format(formula=_(task.formula))


def _whats(kinds) -> str:
    """The problems' names, sorted as in English, each in the reader's language."""
    return ", ".join(_(k) for k in sorted(set(kinds)))


def _power_of_T(outcomes: list[_Outcome], refs: list[_Outcome], temperatures: list[float]) -> int | None:
    """The whole k (not 0) for which every answer is the reference times T^k, values and gradients, if there is one."""
    ks = []
    for out, ref, T in zip(outcomes, refs, temperatures):
        if not out.finite or abs(float(ref.value)) < 1e-6:
            return None
        ratio = float(out.value) / float(ref.value)
        if ratio <= 0 or not _close(out.grad, ratio * ref.grad, rtol=1e-3):
            return None
        if T == 1.0:
            if abs(ratio - 1) > 1e-3:
                return None
        else:
            ks.append(math.log(ratio) / math.log(T))
    k = round(ks[0]) if ks else 0
    return k if k != 0 and all(abs(x - k) < 1e-2 for x in ks) else None


def _factor(outcomes: list[_Outcome], refs: list[_Outcome]) -> float | None:
    """The one factor (not 1) by which every answer is the reference times a constant, values and gradients, if any."""
    ratios = []
    for out, ref in zip(outcomes, refs):
        if not out.finite or abs(float(ref.value)) < 1e-6:
            return None
        ratios.append(float(out.value) / float(ref.value))
        if not _close(out.grad, ratios[-1] * ref.grad, rtol=1e-3):
            return None
    c = ratios[0]
    return c if abs(c - 1) > 1e-3 and all(abs(r / c - 1) < 1e-3 for r in ratios) else None


def _t_power(n: int) -> str:
    return {1: "T", -1: "1/T"}.get(n, f"T^{n}" if n > 0 else f"1/T^{-n}")


def _random_generator(seed: int | None) -> torch.Generator:
    seed = seed if seed is not None else int.from_bytes(os.urandom(4), "little")
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------- sequence_kd_loss (B, S, V)

#: The fixed problems of :func:`diagnose_sequence_kd`: (B, S, V, T, logit scale, valid tokens per sequence, what).
#: Two random problems are added on every call.
SEQUENCE_EDGES = [
    (4, 6, 11, 2.0, 3.0, (6, 4, 2, 5), N_("an ordinary batch")),
    (3, 5, 7, 3.0, 3.0, (5, 5, 5), N_("no padding")),
    (3, 5, 7, 1.0, 3.0, (5, 3, 4), N_("T = 1")),
    (1, 7, 9, 2.5, 3.0, (5,), N_("a batch of one")),
    (3, 6, 8, 2.0, 3.0, (6, 1, 4), N_("a row with one valid token")),
    (4, 1, 6, 2.0, 3.0, (1, 1, 1, 1), N_("sequences of length 1")),
    (2, 5, 10, 1.0, 400.0, (5, 3), N_("large logits (T = 1)")),
    (3, 4, 10, 4.0, 400.0, (4, 2, 3), N_("large logits (T = 4)")),
]


def _sequence_cases(seed: int | None = None) -> list:
    """``[((z, v, labels, T), what)]``: :data:`SEQUENCE_EDGES` and two random problems (fresh unless ``seed``)."""
    gen, rnd = torch.Generator().manual_seed(8), _random_generator(seed)
    specs = list(SEQUENCE_EDGES)
    for _i in range(2):  # inside the edges, never on them: T = 1, one sequence, one token are cases of their own
        B, S = int(torch.randint(2, 7, (1,), generator=rnd)), int(torch.randint(2, 9, (1,), generator=rnd))
        V, T = int(torch.randint(3, 17, (1,), generator=rnd)), round(float(1.1 + 4.9 * torch.rand(1, generator=rnd)), 2)
        lengths = tuple(int(n) for n in torch.randint(1, S + 1, (B,), generator=rnd))
        specs.append((B, S, V, T, 3.0, lengths, N_("a random problem")))
    cases = []
    for B, S, V, T, scale, lengths, what in specs:
        g = rnd if what == "a random problem" else gen
        z, v = scale * torch.randn(B, S, V, generator=g), scale * torch.randn(B, S, V, generator=g)
        labels = torch.randint(0, V, (B, S), generator=g)
        labels[torch.arange(S) >= torch.tensor(lengths)[:, None]] = IGNORE_INDEX
        labels[0, 0] = 0  # a real token whose id is 0: a mask made of labels != 0 is wrong here
        cases.append(((z, v, labels, T), what))
    return cases


def _reference_sequence_kd(z, v, labels, T):
    return soft_loss(z, v.detach(), T, mask=labels != IGNORE_INDEX)


def _logs(z, v, T, student_T: bool = True, teacher_T: bool = True):
    """The student's and the frozen teacher's log-probabilities, each softened by T unless told not to."""
    return F.log_softmax(z / (T if student_T else 1.0), -1), F.log_softmax(v.detach() / (T if teacher_T else 1.0), -1)


def _token_kl(log_a, log_b):
    """KL(a || b) per position, from log-probabilities."""
    return (log_a.exp() * (log_a - log_b)).sum(-1)


def _sequence_mistakes() -> dict[str, Callable]:
    """The usual ways to get ``sequence_kd_loss`` wrong, each as a function, with the sentence that names it."""
    def kl(z, v, T, **soften):
        log_q, log_p = _logs(z, v, T, **soften)
        return _token_kl(log_p, log_q)

    def valid(y):
        return y != IGNORE_INDEX

    return {
        N_("reduction='batchmean' on the (B, S, V) tensors divides by B, the batch size, not by the number of tokens, "
           "and counts the padding: keep the tokens with labels != -100 (a (tokens, V) tensor) and average over them"):
            lambda z, v, y, T: T * T * F.kl_div(F.log_softmax(z / T, -1), F.log_softmax(v.detach() / T, -1),
                                                reduction="batchmean", log_target=True),
        N_("you sum the KL over the valid tokens and divide by B, the batch size (what 'batchmean' does once the padding is "
           "zeroed): divide by the number of valid tokens, (labels != -100).sum()"):
            lambda z, v, y, T: T * T * (kl(z, v, T) * valid(y)).sum() / y.shape[0],
        N_("you divide by B * S, which counts the padding positions: divide by the number of valid tokens, "
           "(labels != -100).sum()"):
            lambda z, v, y, T: T * T * (kl(z, v, T) * valid(y)).sum() / y.numel(),
        N_("the padding is counted: its KL is in the sum and its positions in the count; keep only the tokens with "
           "labels != -100"):
            lambda z, v, y, T: T * T * kl(z, v, T).mean(),
        N_("you average per sequence, then over sequences: a token of a short sequence then weighs more than one of a long "
           "sequence; average over all the valid tokens at once"):
            lambda z, v, y, T: T * T * ((kl(z, v, T) * valid(y)).sum(1) / valid(y).sum(1)).mean(),
        N_("the mask is inverted: you kept the padding (labels == -100) and dropped the real tokens; keep labels != -100"):
            lambda z, v, y, T: T * T * kl(z, v, T)[~valid(y)].mean(),
        N_("your mask (labels != 0, or labels.bool()) keeps the padding, since -100 is not 0, and drops the real tokens "
           "whose id is 0: the mask is labels != -100"):
            lambda z, v, y, T: T * T * kl(z, v, T)[y != 0].mean(),
        N_("reduction='mean' divides by the vocabulary size as well as the tokens: sum over the vocabulary, then average "
           "over the valid tokens (reduction='batchmean' on the (tokens, V) tensor)"):
            lambda z, v, y, T: T * T * kl(z, v, T)[valid(y)].mean() / z.shape[-1],
        N_("you sum the KL over the valid tokens: the loss is their mean (divide by (labels != -100).sum())"):
            lambda z, v, y, T: T * T * kl(z, v, T)[valid(y)].sum(),
        N_("the T² factor is missing: without it the gradient shrinks as 1/T² (multiply the KL by T * T)"):
            lambda z, v, y, T: kl(z, v, T)[valid(y)].mean(),
        N_("the KL is reversed: you computed KL(q || p); F.kl_div(input, target) is KL(target || input), so the student's "
           "log-probabilities are the input and the teacher's the target"):
            lambda z, v, y, T: T * T * _token_kl(*_logs(z, v, T))[valid(y)].mean(),
        N_("the teacher's logits are not divided by T: soften teacher and student with the same temperature"):
            lambda z, v, y, T: T * T * kl(z, v, T, teacher_T=False)[valid(y)].mean(),
        N_("the student's logits are not divided by T: soften teacher and student with the same temperature"):
            lambda z, v, y, T: T * T * kl(z, v, T, student_T=False)[valid(y)].mean(),
    }


_SEQUENCE = _Task(
    names=("student_logits", "teacher_logits", "labels"),
    reference=_reference_sequence_kd,
    mistakes=_sequence_mistakes,
    partial=(
        ("T = 1", frozenset({"T = 1", "large logits (T = 1)"}), _AT_T1),
        ("a batch of one", frozenset({"a batch of one", "sequences of length 1"}), _SQUEEZE),
        ("sequences of length 1", frozenset({"a batch of one", "sequences of length 1"}), _SQUEEZE),
        ("large logits (T = 4)", frozenset({"large logits (T = 1)", "large logits (T = 4)"}), _LARGE),
        ("large logits (T = 1)", frozenset({"large logits (T = 1)", "large logits (T = 4)"}), _LARGE),
    ),
    formula=N_("the loss is T² · KL(softmax(v/T) || softmax(z/T)) summed over the vocabulary and averaged over the tokens "
            "whose label is not -100; compare your steps with that"),
    constant=N_("if you used cross-entropy with soft targets, it is the KL plus the teacher's entropy: subtract the "
             "entropy, or use the KL"),
    power=lambda k: _("your loss carries {power} where it should carry T²: multiply the per-token KL by T * T, "
                      "once").format(power=_t_power(k + 2)),
)


def diagnose_sequence_kd(fn) -> str | None:
    """``None`` if ``fn(student_logits, teacher_logits, labels, T)`` is the per-token distillation loss, else the mistake.

    The loss: for (B, S, V) logits and labels (B, S) with -100 at padding, ``T² · KL(p_T || q_T)`` averaged over the
    valid tokens (padding out of the sum and out of the count). Runs :data:`SEQUENCE_EDGES` and two random problems;
    compares values and gradients with :func:`kdnb.losses.soft_loss` (``mask = labels != -100``) in float64.
    """
    return _diagnose(fn, _SEQUENCE, _sequence_cases())


def check_sequence_kd(fn, exercise: str = "Check yourself 3.1") -> Verdict:
    """The reader's ``sequence_kd_loss(student_logits, teacher_logits, labels, T)``, checked and the verdict printed."""
    return check(exercise, fn, diagnose_sequence_kd,
                 todo=_("write sequence_kd_loss in the cell above (replace the your_turn line), then rerun it"),
                 praise=_("values and gradients match T² · KL averaged over the valid tokens on {n} "
                          "batches (padding, T = 1, a batch of one, a row with one valid token, sequences of one token, "
                          "large logits, two random ones), the inputs are untouched, and no gradient reaches the "
                          "teacher").format(n=len(SEQUENCE_EDGES) + 2))


# --------------------------------------------------------------------------------------- generalized_jsd (N, V)

#: The fixed problems of :func:`diagnose_generalized_jsd`: (N, V, beta, T, logit scale, what). Two random problems
#: are added on every call.
JSD_EDGES = [
    (6, 10, 0.5, 2.0, 3.0, N_("an ordinary batch")),
    (5, 8, 0.0, 2.0, 3.0, N_("beta = 0")),
    (5, 8, 1.0, 2.0, 3.0, N_("beta = 1")),
    (5, 8, 0.01, 1.5, 3.0, N_("beta = 0.01")),
    (5, 8, 0.99, 1.5, 3.0, N_("beta = 0.99")),
    (5, 8, 1e-4, 1.0, 3.0, N_("beta = 0.0001")),
    (5, 8, 1 - 1e-4, 1.0, 3.0, N_("beta = 0.9999")),
    (6, 7, 0.3, 1.0, 3.0, N_("T = 1")),
    (1, 9, 0.7, 2.0, 3.0, N_("a batch of one")),
    (4, 10, 0.5, 1.0, 400.0, N_("large logits (T = 1)")),
    (4, 10, 0.2, 3.0, 300.0, N_("large logits (T = 3)")),
]


def _jsd_cases(seed: int | None = None) -> list:
    """``[((z, v, beta, T), what)]``: :data:`JSD_EDGES` and two random problems (fresh unless ``seed``)."""
    gen, rnd = torch.Generator().manual_seed(9), _random_generator(seed)
    specs = list(JSD_EDGES)
    for _i in range(2):  # inside the edges, never on them
        N, V = int(torch.randint(2, 9, (1,), generator=rnd)), int(torch.randint(3, 17, (1,), generator=rnd))
        beta = round(float(0.05 + 0.9 * torch.rand(1, generator=rnd)), 2)
        T = round(float(1.1 + 4.9 * torch.rand(1, generator=rnd)), 2)
        specs.append((N, V, beta, T, 3.0, N_("a random problem")))
    cases = []
    for N, V, beta, T, scale, what in specs:
        g = rnd if what == "a random problem" else gen
        cases.append(((scale * torch.randn(N, V, generator=g), scale * torch.randn(N, V, generator=g), beta, T), what))
    return cases


def _reference_jsd(z, v, beta, T):
    return generalized_jsd(z, v, beta, T)


def _log_mixture(log_p, log_q, w):
    """log(w P + (1 - w) Q), in log space; ``w`` in [0, 1]."""
    w = torch.tensor(float(w), dtype=log_p.dtype)
    return torch.logaddexp(log_p + w.log(), log_q + torch.log1p(-w))


def _kl_mean(log_a, log_b):
    """KL(a || b) averaged over the rows."""
    return _token_kl(log_a, log_b).mean()


def _jsd_with(z, v, beta, T, ends=True, **how):
    """JSD(beta) with one thing changed (``how``): the mixture's weight on P, the KL terms' weights, which end is which."""
    log_q, log_p = _logs(z, v, T, how.get("student_T", True), how.get("teacher_T", True))
    if ends and beta in (0.0, 1.0):
        forward = (beta == 0.0) != how.get("swap_ends", False)
        return _kl_mean(log_p, log_q) if forward else _kl_mean(log_q, log_p)
    w = how.get("w", lambda b: b)(beta)
    log_m = _log_mixture(log_p, log_q, w) if 0.0 < w < 1.0 else (log_p if w == 1.0 else log_q)
    a = how.get("a", lambda b: b)(beta)
    return a * _kl_mean(log_p, log_m) + (1 - a) * _kl_mean(log_q, log_m)


def _jsd_reversed_to_mixture(z, v, beta, T):
    if beta in (0.0, 1.0):
        return _jsd_with(z, v, beta, T)
    log_q, log_p = _logs(z, v, T)
    log_m = _log_mixture(log_p, log_q, beta)
    return beta * _kl_mean(log_m, log_p) + (1 - beta) * _kl_mean(log_m, log_q)


def _jsd_mistakes() -> dict[str, Callable]:
    """The usual ways to get ``generalized_jsd`` wrong, each as a function, with the sentence that names it."""
    def probs_as_input(z, v, beta, T):
        log_q, log_p = _logs(z, v, T)
        if beta in (0.0, 1.0):
            a, b = (log_q, log_p) if beta == 0.0 else (log_p, log_q)
            return F.kl_div(a.exp(), b.exp(), reduction="batchmean")
        m = beta * log_p.exp() + (1 - beta) * log_q.exp()
        return (beta * F.kl_div(m, log_p.exp(), reduction="batchmean")
                + (1 - beta) * F.kl_div(m, log_q.exp(), reduction="batchmean"))

    def no_mixture(z, v, beta, T):
        log_q, log_p = _logs(z, v, T)
        return beta * _kl_mean(log_p, log_q) + (1 - beta) * _kl_mean(log_q, log_p)

    def mixed_logits(z, v, beta, T, normalize=True):
        log_q, log_p = _logs(z, v, T)
        if beta in (0.0, 1.0):
            return _jsd_with(z, v, beta, T)
        log_m = beta * log_p + (1 - beta) * log_q
        log_m = F.log_softmax(log_m, -1) if normalize else log_m
        return beta * _kl_mean(log_p, log_m) + (1 - beta) * _kl_mean(log_q, log_m)

    return {
        N_("the mixture's weights are swapped: M = beta P + (1 - beta) Q with P the teacher's distribution; you wrote "
           "(1 - beta) P + beta Q"):
            lambda z, v, b, T: _jsd_with(z, v, b, T, w=lambda b: 1 - b),
        N_("the two KL terms' weights are swapped: beta weighs KL(P || M), the teacher's term, and 1 - beta weighs "
           "KL(Q || M)"):
            lambda z, v, b, T: _jsd_with(z, v, b, T, a=lambda b: 1 - b),
        N_("the ends are swapped: beta = 0 is forward KL(P || Q) (Hinton's, mode covering) and beta = 1 is reverse "
           "KL(Q || P) (MiniLLM's, mode seeking)"):
            lambda z, v, b, T: _jsd_with(z, v, b, T, swap_ends=True),
        N_("at beta = 0 and beta = 1 the mixture formula gives 0 (M is then Q or P): the ends are the plain KLs, forward "
           "KL(P || Q) at beta = 0 and reverse KL(Q || P) at beta = 1 (JSD(beta) / beta tends to forward KL, not JSD(beta) "
           "itself), so compute them separately, as TRL does"):
            lambda z, v, b, T: _jsd_with(z, v, b, T, ends=False),
        N_("there is no mixture: beta KL(P || Q) + (1 - beta) KL(Q || P) is not JSD(beta); compare both distributions with "
           "M = beta P + (1 - beta) Q"):
            no_mixture,
        N_("F.kl_div takes log-probabilities as its input (first argument): you passed probabilities; pass log M (and "
           "log_target=True with log-probabilities as the target)"):
            probs_as_input,
        N_("M is a mixture of probabilities, not of logits or log-probabilities: form log(beta P + (1 - beta) Q) with "
           "torch.logaddexp(log P + log(beta), log Q + log(1 - beta))"):
            mixed_logits,
        N_("M is a mixture of probabilities: beta log P + (1 - beta) log Q is not log M (and not even normalized); form "
           "log(beta P + (1 - beta) Q) with torch.logaddexp(log P + log(beta), log Q + log(1 - beta))"):
            lambda z, v, b, T: mixed_logits(z, v, b, T, normalize=False),
        N_("the student's logits are not divided by T: soften teacher and student with the same temperature"):
            lambda z, v, b, T: _jsd_with(z, v, b, T, student_T=False),
        N_("the teacher's logits are not divided by T: soften teacher and student with the same temperature"):
            lambda z, v, b, T: _jsd_with(z, v, b, T, teacher_T=False),
        N_("the KLs point the wrong way: JSD(beta) compares each distribution with the mixture, KL(P || M) and KL(Q || M); "
           "you computed KL(M || P) and KL(M || Q) (F.kl_div(input, target) is KL(target || input))"):
            lambda z, v, b, T: _jsd_reversed_to_mixture(z, v, b, T),
        N_("you multiplied by T²: this exercise asks for the divergence itself, as TRL's generalized_jsd_loss computes it "
           "(no T² factor)"):
            lambda z, v, b, T: T * T * _jsd_with(z, v, b, T),
        N_("reduction='mean' divides by the vocabulary size as well as the rows: sum over the vocabulary, then average "
           "over the rows (reduction='batchmean')"):
            lambda z, v, b, T: _jsd_with(z, v, b, T) / z.shape[-1],
        N_("you sum over the rows: the divergence is their mean (reduction='batchmean', or .sum(-1).mean())"):
            lambda z, v, b, T: _jsd_with(z, v, b, T) * z.shape[0],
    }


_NEAR_BETAS = frozenset({"beta = 0.01", "beta = 0.99", "beta = 0.0001", "beta = 0.9999"})

_JSD = _Task(
    names=("student_logits", "teacher_logits"),
    reference=_reference_jsd,
    mistakes=_jsd_mistakes,
    partial=(
        ("beta = 0", frozenset({"beta = 0", "beta = 1"}), _ENDS),
        ("beta = 1", frozenset({"beta = 0", "beta = 1"}), _ENDS),
        *((near, _NEAR_BETAS, _NEAR_ENDS) for near in sorted(_NEAR_BETAS)),
        ("T = 1", frozenset({"T = 1", "large logits (T = 1)"}), _AT_T1),
        ("a batch of one", frozenset({"a batch of one"}), N_("right in general but wrong for a batch of one row: keep "
                                                             "the batch dimension (no .squeeze())")),
        ("large logits (T = 1)", frozenset({"large logits (T = 1)", "large logits (T = 3)"}), _LARGE),
        ("large logits (T = 3)", frozenset({"large logits (T = 1)", "large logits (T = 3)"}), _LARGE),
    ),
    formula=N_("JSD(beta) = beta KL(P || M) + (1 - beta) KL(Q || M) with M = beta P + (1 - beta) Q, P = softmax(v / T) "
            "and Q = softmax(z / T), each KL summed over the vocabulary and averaged over the rows; forward KL(P || Q) "
            "at beta = 0 and reverse KL(Q || P) at beta = 1"),
    constant=N_("JSD(beta) has no constant term: compute the two KLs to the mixture"),
    power=lambda k: _("your value is JSD(beta) times {power}: this exercise asks for the divergence itself, with no "
                      "factor of T (TRL's generalized_jsd_loss has none either)").format(power=_t_power(k)),
)


def diagnose_generalized_jsd(fn) -> str | None:
    """``None`` if ``fn(student_logits, teacher_logits, beta, T)`` is GKD's JSD(beta) on (N, V) logits, else the mistake.

    The mean over rows, no T² factor; forward KL at beta = 0 and reverse KL at beta = 1. Runs :data:`JSD_EDGES` and two
    random problems; compares values and gradients with :func:`.divergence.generalized_jsd` in float64.
    """
    return _diagnose(fn, _JSD, _jsd_cases())


def check_generalized_jsd(fn, exercise: str = "Check yourself 4.1") -> Verdict:
    """The reader's ``generalized_jsd(student_logits, teacher_logits, beta, T=1.0)``, checked and the verdict printed."""
    return check(exercise, fn, diagnose_generalized_jsd,
                 todo=_("write generalized_jsd in the cell above (replace the your_turn line), then rerun it"),
                 praise=_("values and gradients match JSD(beta) on {n} problems (beta = 0 and 1, and "
                          "0.0001, 0.01, 0.99 and 0.9999 beside them, T = 1, a batch of one, large logits, two random "
                          "ones), the inputs are untouched, and no gradient reaches the teacher").format(n=len(JSD_EDGES) + 2))
