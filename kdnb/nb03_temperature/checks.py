"""The checkers of notebook 03's exercises ("Check yourself"), each naming the usual mistakes.

Each ``check_*`` prints and returns a :class:`kdnb.exercises.Verdict`; the numeric ones accept any
numeric type (:func:`kdnb.exercises.as_number`). Where a right answer is a measured number, autograd
measures it here on example logits (:func:`learning_rate_cosines`, and the factors of 4.1 and 6.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .. import losses
from ..exercises import Verdict, as_number, check, close
from ..i18n import _
from ..temperature import entropy, soft_targets, top2_ratio
from .experiments import logit_matching_gap, seed_loss, soft_gradient_norms, student_grad


#: The logits of Check yourself 2.1.
RATIO_LOGITS = (3.0, 1.0, 0.0, -1.0)


def check_ratio_e(T) -> Verdict:
    """Check yourself 2.1: the T at which the top-1/top-2 ratio of the logits :data:`RATIO_LOGITS` is e.

    The ratio is ``exp((z1 - z2) / T)``. Names the usual mistakes: T multiplied instead of
    divided (T = 1/2), the probabilities used in place of the logits.
    """
    z = torch.tensor(RATIO_LOGITS, dtype=torch.float64)
    p = soft_targets(z, 1.0)
    prob_gap = float(p[0] - p[1])

    def diagnose(a):
        a = as_number(a)
        if a is None or a <= 0:
            return _("T is a number above 0 (softmax(z / T) is undefined at T = 0)")
        ratio = float(top2_ratio(soft_targets(z, a)))
        if abs(ratio - math.e) <= 1e-3 * math.e:
            return None
        if close(a, 0.5, rel=1e-3):
            return _("T = 1/2 solves exp(2 T) = e: you multiplied the logits by T. Temperature divides them: "
                     "solve exp((z1 - z2) / T) = e")
        if close(a, prob_gap, rel=1e-2):
            return _("you used the probabilities softmax(z) in place of the logits: the ratio is exp((z1 - z2) / T) "
                     "with the logits, z1 - z2 = 3 - 1")
        return _("at T = {T:g} the ratio is {ratio:.3g}, not e: solve exp((z1 - z2) / T) = e for T").format(T=a, ratio=ratio)

    return check("Check yourself 2.1", T, diagnose, todo=_("set T_ratio_e to a number, then rerun the cell"),
                 praise=_("exp((3 - 1) / T) = e when T = 3 - 1 = 2: the ratio depends only on the gap between the two "
                          "largest logits, divided by T"))


def check_two_bits(image_logits: torch.Tensor, T) -> Verdict:
    """Check yourself 2.2: the lowest T, within 10%, at which ``softmax(image_logits / T)`` carries more than 2 bits.

    Right when the entropy at ``T`` is above 2 bits and at ``T / 1.1`` is not. Names the usual
    mistakes: a T below 1 (which sharpens), a T that does not soften enough, a T far above the crossing.
    """
    z = image_logits.detach().double().reshape(-1)

    def bits(t: float) -> float:
        return float(entropy(soft_targets(z, t)))

    def diagnose(a):
        a = as_number(a)
        if a is None or a <= 0:
            return _("T is a number above 0")
        h = bits(a)
        if h > 2 and bits(a / 1.1) <= 2:
            return None
        if h > 2:
            return _("at T = {T:.3g} it carries {bits:.2f} bits, more than 2, but the question asks for the lowest such T "
                     "(within 10%): lower T until it just crosses 2 bits").format(T=a, bits=h)
        if a < 1:
            return _("T = {T:g} is below 1, which sharpens: the entropy is {bits:.2g} bits. Softening needs T above 1").format(
                T=a, bits=h)
        if a == 1:
            return _("T = 1 is the ordinary softmax, where this image is nearly one-hot ({bits:.2g} bits): raise T").format(bits=h)
        return _("at T = {T:g} the entropy is only {bits:.2f} bits: a confident image needs much more softening, "
                 "raise T").format(T=a, bits=h)

    a = as_number(T)
    praise = _("the entropy crosses 2 bits near T = {T:.3g}: a confident teacher shows its dark knowledge only at a "
               "high temperature").format(T=a) if a is not None and a > 0 else ""
    return check("Check yourself 2.2", T, diagnose, todo=_("set T_two_bits to a temperature, then rerun the cell"),
                 praise=praise)


#: The options of Check yourself 3.1: which change acts exactly like a learning rate on the soft term?
LEARNING_RATE_OPTIONS = {
    "a": "multiply the soft loss by a constant, at a fixed T",
    "b": "raise T from 4 to 8",
    "c": "double the optimizer's learning rate",
    "d": "multiply the teacher's logits by 2",
}


def _example_logits(seed: int = 0, n: int = 64, classes: int = 10, scale: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(n, classes, generator=g, dtype=torch.float64),
            scale * torch.randn(n, classes, generator=g, dtype=torch.float64))


def learning_rate_cosines() -> dict[str, float]:
    """Cosine between each option's update direction and the soft-loss gradient at T = 4 (fixed example logits)."""
    z, v = _example_logits()
    ref = student_grad(lambda s: losses.soft_loss(s, v, 4.0), z).flatten()
    moves = {"a": student_grad(lambda s: 3.0 * losses.soft_loss(s, v, 4.0), z), "b": student_grad(lambda s: losses.soft_loss(s, v, 8.0), z),
             "c": 2.0 * student_grad(lambda s: losses.soft_loss(s, v, 4.0), z), "d": student_grad(lambda s: losses.soft_loss(s, 2 * v, 4.0), z)}
    return {k: F.cosine_similarity(g.flatten(), ref, dim=0).item() for k, g in moves.items()}


def check_learning_rate_like(answer) -> Verdict:
    """Check yourself 3.1: the options of :data:`LEARNING_RATE_OPTIONS` that only rescale the soft-loss gradient.

    ``answer`` is a string or a collection of letters. Autograd decides: an option acts like a
    learning rate when its update has cosine 1 with the gradient at T = 4.
    """
    cos = learning_rate_cosines()
    right = {k for k, c in cos.items() if c > 1 - 1e-9}

    def diagnose(a):
        letters = a.replace(",", " ").split() if isinstance(a, str) else list(a) if isinstance(a, (set, list, tuple)) else None
        if isinstance(a, str) and len(letters) == 1 and len(letters[0]) > 1:
            letters = list(letters[0])
        if letters is None or not letters:
            return _('answer with the letters of the options, e.g. {"a", "b"}')
        chosen = {str(x).strip().lower() for x in letters}
        if not chosen <= set(LEARNING_RATE_OPTIONS):
            return _("choose among {options}; got {got}").format(options=", ".join(LEARNING_RATE_OPTIONS),
                                                                 got=sorted(chosen - set(LEARNING_RATE_OPTIONS)))
        if chosen == right:
            return None
        problems = []
        if "b" in chosen:
            problems.append(_("(b) turns the gradient: a new T means new targets p_T (cosine {cosine:.2f} with the T = 4 "
                              "gradient), which no learning rate can do").format(cosine=cos["b"]))
        if "d" in chosen:
            problems.append(_("(d) doubling the teacher's logits is halving T for the teacher alone: new targets, a turned "
                              "gradient (cosine {cosine:.2f})").format(cosine=cos["d"]))
        if "a" not in chosen:
            problems.append(_("(a) does act like a learning rate: a constant factor on a loss multiplies its gradient and "
                              "keeps its direction (T² at a fixed T is such a factor)"))
        if "c" not in chosen:
            problems.append(_("(c) is a learning-rate change by definition"))
        return _("; ").join(problems)

    return check("Check yourself 3.1", answer, diagnose,
                 todo=_("set lr_like to the letters of your options, then rerun the cell"),
                 praise=_("a constant factor and the learning rate rescale the update; changing T, or the teacher's logits, "
                          "changes the targets and so the direction"))


@dataclass(frozen=True)
class FactorQuestion:
    """A "by what factor does X shrink" exercise: what it asks, the wrong values it knows, what it says.

    Right within ``tolerance`` (relative) of what autograd measures; each of ``known``'s
    ``(value, message)`` pairs names a usual mistake; ``otherwise`` answers any other wrong value.
    """

    exercise: str
    asked: str
    known: tuple[tuple[float, str], ...]
    otherwise: str
    todo: str
    praise: str
    tolerance: float = 0.1


def _check_factor(question: FactorQuestion, answer, measured: float) -> Verdict:
    """Check ``answer`` to ``question`` against the factor autograd ``measured``."""

    def diagnose(a):
        a = as_number(a)
        if a is None or a <= 0:
            return _("the answer is a positive number: {asked}").format(asked=question.asked)
        if abs(a / measured - 1) < question.tolerance:
            return None
        return next((message for value, message in question.known if close(a, value, rel=0.05)), question.otherwise)

    return check(question.exercise, answer, diagnose, todo=question.todo, praise=question.praise)


def check_shrink_factor(answer) -> Verdict:
    """Check yourself 4.1: by what factor the bare KL gradient shrinks from T = 20 to T = 40 (autograd measures it)."""
    z, v = _example_logits()
    norms = soft_gradient_norms(z, v, [20.0, 40.0])["without_T2"]
    measured = norms.iloc[0] / norms.iloc[1]
    return _check_factor(FactorQuestion(
        "Check yourself 4.1", _("(norm at T = 20) / (norm at T = 40)"),
        ((2.0, _("2 is how fast q_T - p_T shrinks (as 1/T); the bare KL gradient (q_T - p_T) / T has one more "
                 "factor 1/T, so it falls as 1/T²")),
         (0.25, _("the norm falls to a quarter, so it shrinks by a factor of 4: you gave the factor it is multiplied by")),
         (1.0, _("1 describes the gradient *with* T², which levels off at high T; without T² it keeps falling"))),
        _("autograd measures about {measured:.1f}; far from T = 1 the bare KL gradient scales as 1/T²").format(measured=measured),
        todo=_("set shrink_factor to a number, then rerun the cell"),
        praise=_("(40 / 20)² = 4, and autograd measures {measured:.2f} on example logits").format(measured=measured)),
        answer, measured)


def check_kd_loss(fn) -> Verdict:
    """Check yourself 5.1: ``fn(z, v, y, T, alpha)`` is the distillation loss of :func:`kdnb.losses.kd_loss`.

    ``(1 - alpha) CE(y, softmax(z)) + alpha T² KL(softmax(v / T) || softmax(z / T))``, batch mean.
    Names the usual mistakes: the T² factor missing, alpha on the wrong term, the student not
    softened, the KL reversed, ``F.kl_div``'s default reduction, the seed's loss.
    """
    z, v = _example_logits(seed=1, n=6, classes=5)
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    cases = [(4.0, 0.9), (2.0, 0.3)]

    def soft(T, student_T=None, reverse=False, per_class=False):
        log_p, log_q = F.log_softmax(v / T, -1), F.log_softmax(z / (student_T or T), -1)
        kl = (log_q.exp() * (log_q - log_p)) if reverse else (log_p.exp() * (log_p - log_q))
        return kl.sum() / (z.numel() if per_class else len(z))

    def ce():
        return F.cross_entropy(z, y)

    variants = {
        "no_T2": lambda T, a: (1 - a) * ce() + a * soft(T),
        "swapped": lambda T, a: a * ce() + (1 - a) * T * T * soft(T),
        "student_T1": lambda T, a: (1 - a) * ce() + a * T * T * soft(T, student_T=1.0),
        "reversed": lambda T, a: (1 - a) * ce() + a * T * T * soft(T, reverse=True),
        "mean": lambda T, a: (1 - a) * ce() + a * T * T * soft(T, per_class=True),
        "seed": lambda T, a: seed_loss(z, v, y, T),
    }
    messages = {
        "no_T2": _("the T² factor is missing: without it the soft term's gradient shrinks as 1/T² (section 4)"),
        "swapped": _("alpha weights the soft (teacher) term and 1 - alpha the labels; you swapped them"),
        "student_T1": _("soften the student too: divide the student's logits by the same T inside the KL term"),
        "reversed": _("KL is not symmetric: the target is the teacher, KL(p_T || q_T) = sum p_T (log p_T - log q_T); "
                      "you computed KL(q_T || p_T)"),
        "mean": _("F.kl_div's default reduction='mean' also divides by the number of classes: use "
                  "reduction='batchmean'"),
        "seed": _("that is the seed's loss: its teacher term has no gradient and no T sits inside a softmax"),
    }

    def diagnose(f):
        if not callable(f):
            return _("pass the function itself: nb.check_kd_loss(my_kd_loss)")
        for T, a in cases:
            z_in = z.clone().requires_grad_(True)
            out = f(z_in, v.clone(), y.clone(), T, a)
            if not isinstance(out, torch.Tensor) or out.numel() != 1:
                return _("return the loss as a one-element tensor (a scalar), averaged over the batch")
            if not close(out.item(), losses.kd_loss(z, v, y, T, a).item(), rel=1e-5):
                for name, variant in variants.items():
                    if close(out.item(), variant(T, a).item(), rel=1e-5):
                        return messages[name]
                return _("at T = {T:g}, alpha = {alpha:g} your loss is {yours:.4g}, kd_loss gives {right:.4g}").format(
                    T=T, alpha=a, yours=out.item(), right=losses.kd_loss(z, v, y, T, a).item())
            if out.grad_fn is None:
                return _("right value, but no gradient reaches the student: keep it a tensor (no .item(), no .detach())")
        return None

    return check("Check yourself 5.1", fn, diagnose, todo=_("write the body of my_kd_loss, then rerun the cell"),
                 praise=_("it matches kdnb.losses.kd_loss at two settings of T and alpha, and the teacher's term moves "
                          "the student"))


def check_gap_shrink(answer) -> Verdict:
    """Check yourself 6.1: by what factor the KD-vs-logit-matching gradient difference shrinks from T = 100 to 1,000."""
    z, v = _example_logits()
    gap = logit_matching_gap(z, v, [100.0, 1000.0])["relative_difference"]
    measured = gap.iloc[0] / gap.iloc[1]
    return _check_factor(FactorQuestion(
        "Check yourself 6.1", _("(difference at T = 100) / (difference at T = 1,000)"),
        ((100.0, _("100 = (1000 / 100)² is the 1/T² rate of the bare KL gradient; the *difference* between "
                   "distillation and logit matching is the next term of the expansion, of order 1/T")),
         (0.1, _("the difference falls to a tenth, so it shrinks by a factor of 10: you gave the factor it is "
                 "multiplied by"))),
        _("autograd measures about {measured:.0f}: the difference falls as 1/T").format(measured=measured),
        todo=_("set gap_shrink to a number, then rerun the cell"),
        praise=_("the difference is of order 1/T: autograd measures a factor {measured:.1f} on example logits").format(
            measured=measured),
        tolerance=0.15), answer, measured)


def check_accuracy_changes(answer) -> Verdict:
    """Check yourself 7.1: does temperature scaling for calibration change a model's accuracy? (No.)"""
    z, _v = _example_logits()
    same = all(torch.equal((z / T).argmax(1), z.argmax(1)) for T in (0.3, 1.9, 7.0))

    def diagnose(a):
        if not isinstance(a, (bool, np.bool_)):
            return _("answer True or False, got {answer!r}").format(answer=a)
        if bool(a) == (not same):
            return None
        return _("dividing every logit of an image by the same T > 0 keeps their order, so the argmax, hence accuracy, "
                 "stays; only the confidence moves")

    return check("Check yourself 7.1", answer, diagnose,
                 todo=_("set accuracy_changes to True or False, then rerun the cell"),
                 praise=_("the argmax of z / T is the argmax of z for every T > 0: calibration moves the confidence, "
                          "never the prediction"))


def check_gain(summary: pd.DataFrame, answer, student: str = "2x30", T: float = 4.0) -> Verdict:
    """Check yourself 8.1: the mean gain, in points, of ``student`` distilled at ``T`` over its label-only twin.

    ``summary`` is :func:`sweep_summary`'s table. Names the usual mistakes: the accuracy read
    instead of the gain, a fraction instead of points, another row.
    """
    row = summary.loc[(student, T)]
    expected = float(row["gain_mean"])

    def diagnose(a):
        a = as_number(a)
        if a is None:
            return _("the answer is a number of points")
        if abs(a - expected) <= 0.051:
            return None
        if abs(a - float(row["kd_mean"])) <= 0.051:
            return _("that is the distilled student's accuracy (kd_mean); the gain is kd_mean - alone_mean (gain_mean)")
        if abs(a - float(row["alone_mean"])) <= 0.051:
            return _("that is the label-only student's accuracy (alone_mean); the gain is kd_mean - alone_mean (gain_mean)")
        if abs(a - expected / 100) <= 0.0006:
            return _("that is a fraction; the table is in points (percent), so read gain_mean as it is")
        if abs(a + expected) <= 0.051:
            return _("the sign is reversed: the gain is distilled minus label-only")
        others = sorted(summary["gain_mean"].items(), key=lambda item: item[0][1] != T)  # same T first
        for (s, t), other in others:
            if abs(a - other) <= 0.051 and (s, t) != (student, T):
                return _("that is the row ({other}, T = {other_T:g}); read the row ({student}, T = {T:g})").format(
                    other=s, other_T=t, student=student, T=T)
        return _("read the gain_mean column of the row ({student}, T = {T:g})").format(student=student, T=T)

    return check("Check yourself 8.1", answer, diagnose, todo=_("set gain_small to a number of points, then rerun the cell"),
                 praise=_("the {student} student distilled at T = {T:g} beats its label-only twin by {gain:.2f} points on "
                          "average over the seeds").format(student=student, T=T, gain=expected))
