"""The checkers of notebook 01's exercises (Check yourself 2.1, 3.1, 4.1, 6.1, 7.1).

Each returns a :class:`kdnb.exercises.Verdict` and names the usual mistake; :data:`NEEDS_DATA`
holds the answers of Check yourself 4.1 with the reason for each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .. import models
from ..i18n import N_, _
from ..exercises import Verdict, YourTurn, check, close
from ..losses import kd_loss
from ..recipe import summarize
from .experiments import FEW_LABELS

__all__ = ["check_student_loss", "check_student_kb", "NEEDS_DATA", "check_needs_data", "check_leaked_points",
           "check_best_setting"]


def check_student_loss(student_loss) -> Verdict:
    """Check yourself 2.1: ``student_loss(student_out, teacher_out, y)`` lets the teacher reach the student.

    Right: the loss of Hinton et al. (2015) used by :func:`kdnb.losses.kd_loss` at T = 4 and
    alpha = 0.9, ``(1-α)·CE(y, softmax(z)) + α·T²·KL(softmax(v/T) || softmax(z/T))``,
    with no gradient flowing into the teacher's logits. The diagnosis names the usual mistakes:
    cross-entropy on the labels only (the teacher never reaches the student), teacher logits
    not detached, the KL's sign flipped (the student is pushed *away* from the teacher), the
    T^2 factor missing, or a KL averaged over classes instead of over the batch.
    """
    T, alpha = 4.0, 0.9
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(8, 10, generator=gen)
    v1, v2 = 3 * torch.randn(8, 10, generator=gen), 3 * torch.randn(8, 10, generator=gen)
    y = torch.randint(0, 10, (8,), generator=gen)

    def diagnose(fn):
        if not callable(fn):
            return _("student_loss should be a function of (student_out, teacher_out, y), got {kind}").format(
                kind=type(fn).__name__)
        zz, vv = z.clone().requires_grad_(True), v1.clone().requires_grad_(True)
        loss = fn(zz, vv, y)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            return _("return one number: a scalar tensor (average over the batch), not a list or a tensor per example")
        if not torch.isfinite(loss):
            return _("the loss is {value}: check the logs (use F.log_softmax, not log(softmax))").format(value=loss.item())
        g_z, g_v = torch.autograd.grad(loss.reshape(()), (zz, vv), allow_unused=True)
        if g_z is None:
            return _("the loss does not depend on the student's outputs: nothing would train")
        if g_v is not None and g_v.abs().max() > 0:
            return _("gradients reach the teacher: detach its logits (teacher_out.detach(), or compute them under "
                     "torch.no_grad()); the teacher is frozen")
        z2 = z.clone().requires_grad_(True)
        g_z2, = torch.autograd.grad(fn(z2, v2, y).reshape(()), z2)
        if torch.allclose(g_z, g_z2):
            return _("no teacher output reaches the student: swapping the teacher leaves the student's gradient "
                     "unchanged (cross-entropy on the labels alone is not distillation)")
        p = torch.softmax(v1 / T, 1)

        def kl_to_teacher(s):
            return (p * (torch.log(p) - torch.log_softmax(s / T, 1))).sum(1).mean()

        if kl_to_teacher(z - 0.5 * g_z) > kl_to_teacher(z):
            return _("a step down your loss moves the student *away* from the teacher: the KL's sign is flipped "
                     "(KL(p || q) = sum p (log p - log q))")
        want = kd_loss(z, v1, y, T=T, alpha=alpha).item()
        got = loss.item()
        if close(got, want, rel=1e-4):
            return None
        soft = alpha * kd_loss(z, v1, y, T=T, alpha=1.0).item()  # the weighted soft term, alpha·T²·KL
        hard = want - soft                                            # the weighted hard term
        if close(got, hard + soft / T**2, rel=1e-4):
            return _("the T² factor is missing: multiply the soft term by T**2 (its gradient shrinks as 1/T² otherwise)")
        if close(got, hard + soft / 10, rel=1e-4) or close(got, hard + soft / (10 * T**2), rel=1e-4):
            return _("the KL is averaged over classes as well as examples: use reduction='batchmean' "
                     "(sum over classes, mean over the batch)")
        if close(got, kd_loss(z, v1, y, T=T, alpha=1 - alpha).item(), rel=1e-4):
            return _("alpha and 1 - alpha are swapped: here alpha = 0.9 weights the soft (teacher) term")
        return _("the teacher reaches the student, but the value is {got:.4f} where (1-α)·CE + α·T²·KL at T = 4, "
                 "α = 0.9 gives {want:.4f}: check T, α and which distribution is the target").format(got=got, want=want)

    return check("Check yourself 2.1", student_loss, diagnose,
                 todo=_("write the loss so that the teacher's logits reach the student (see the formula in section 2)"),
                 praise=_("the teacher's softened outputs reach the student, and no gradient reaches the teacher."))


def check_student_kb(student_kb, model) -> Verdict:
    """Check yourself 3.1: the student's size in KB (1 KB = 1,024 bytes), parameters stored as float32.

    Accepted within half a KB (so a rounded answer passes). Names the usual slips: counting
    parameters instead of bytes, counting bits, kilo = 1,000, or forgetting to divide.
    """
    n = models.count_params(model)
    right = n * 4 / 1024

    def diagnose(kb):
        if isinstance(kb, bool) or not isinstance(kb, (int, float, np.number)):
            return _("student_kb is a number of kilobytes, got {kb!r}").format(kb=kb)
        if abs(kb - right) <= 0.5:
            return None
        for value, why in ((n / 1024, _("that counts parameters, not bytes: each float32 parameter takes 4 bytes")),
                           (n * 32 / 1024, _("that counts bits: a float32 is 32 bits, which is 4 bytes")),
                           (n * 4, _("that is bytes: divide by 1,024 for KB")),
                           (n * 4 / 1000, _("close, but 1 KB here is 1,024 bytes, not 1,000")),
                           (n * 8 / 1024, _("8 bytes per parameter is float64; the model is float32 (4 bytes)")),
                           (n * 4 / 1024**2, _("that is MB: divide the bytes by 1,024 once, not twice"))):
            if abs(kb - value) <= max(0.5, 0.002 * value):
                return why
        return _("{kb:g} KB is not it: count the parameters (models.count_params), times 4 bytes, divided by "
                 "1,024").format(kb=kb)

    return check("Check yourself 3.1", student_kb, diagnose,
                 todo=_("set student_kb to the distilled student's size in KB (float32, 1 KB = 1,024 bytes)"),
                 praise=_("{n:,} parameters x 4 bytes = {kb:.0f} KB.").format(n=n, kb=right))


#: Which compression methods still need a training set once the big model exists (Check yourself 4.1),
#: and why. Post-training quantization needs at most a few hundred unlabelled calibration inputs.
NEEDS_DATA = {
    "knowledge distillation": (True, N_("KD trains the student on a transfer set: it needs inputs, though labels are "
                                        "optional")),
    "pruning with fine-tuning": (True, N_("fine-tuning after pruning is training: it needs the training data")),
    "post-training int8 quantization": (False, N_("post-training quantization needs at most a few hundred calibration "
                                                  "inputs to set its ranges (dynamic quantization needs none), not a "
                                                  "training set")),
    "low-rank factorization with fine-tuning": (True, N_("the fine-tune after factorizing is training: it needs data")),
}


def check_needs_data(needs_data) -> Verdict:
    """Check yourself 4.1: which methods need a training set after the teacher exists (True/False each)."""
    def diagnose(answer):
        if not isinstance(answer, dict):
            return _("needs_data is a dict of method -> True/False, got {kind}").format(kind=type(answer).__name__)
        missing = [k for k in NEEDS_DATA if k not in answer]
        if missing:
            return _("answer every method; missing: {missing}").format(missing=", ".join(missing))
        if any(answer[k] is Ellipsis for k in NEEDS_DATA):
            raise YourTurn(_("replace every ... by True or False"))
        wrong = [k for k, (want, _why) in NEEDS_DATA.items() if bool(answer[k]) != want]
        if not wrong:
            return None
        k = wrong[0]
        if len(wrong) > 1:
            return _("{method}: {why} ({more} more wrong)").format(method=k, why=_(NEEDS_DATA[k][1]), more=len(wrong) - 1)
        return _("{method}: {why}").format(method=k, why=_(NEEDS_DATA[k][1]))

    return check("Check yourself 4.1", needs_data, diagnose,
                 todo=_("replace each ... by True (needs a training set or transfer set) or False"),
                 praise=_("only post-training quantization gets by without a training set."))


def check_leaked_points(leaked_points, results: pd.DataFrame) -> Verdict:
    """Check yourself 6.1: how many points of ``few-labels``' gain came from labels only its teacher saw.

    That is ``gain(few-labels) - gain(few-labels-own-teacher)`` (mean over seeds, in points);
    accepted to within 0.05 points. Names the usual slips: giving the whole gain, giving the
    own-teacher gain, a fraction instead of points, or the sign the wrong way round.
    """
    summary = summarize(results[results["setting"].isin(FEW_LABELS)])
    g_all, g_own = summary.loc[FEW_LABELS[0], "gain_mean"], summary.loc[FEW_LABELS[1], "gain_mean"]
    right = g_all - g_own

    def diagnose(x):
        if isinstance(x, bool) or not isinstance(x, (int, float, np.number)):
            return _("leaked_points is a number of points, got {x!r}").format(x=x)
        if abs(x - right) <= 0.05:
            return None
        if abs(x - g_all) <= 0.05:
            return _("that is few-labels' whole gain, which includes what a teacher adds from the unlabelled images; "
                     "subtract the gain that remains with the teacher that saw only the student's labels")
        if abs(x - g_own) <= 0.05:
            return _("that is the gain with the teacher's own 300 labels: what remains, not what leaked")
        if abs(x + right) <= 0.05:
            return _("the sign is the wrong way round: few-labels gains more than few-labels-own-teacher")
        if abs(x - right / 100) <= 0.0005:
            return _("that is a fraction; give it in points (percentage points of test accuracy)")
        return _("compare the two rows' gain (mean over the seeds): few-labels minus few-labels-own-teacher")

    return check("Check yourself 6.1", leaked_points, diagnose,
                 todo=_("set leaked_points from the table: gain of few-labels minus gain of few-labels-own-teacher"),
                 praise=_("{leaked:.1f} of the {g_all:.1f} points came from labels the student was not given.").format(
                     leaked=right, g_all=g_all))


def check_best_setting(best_setting, results: pd.DataFrame) -> Verdict:
    """Check yourself 7.1: the shipped setting with the largest mean gain (distilled minus alone)."""
    summary = summarize(results)
    best = summary["gain_mean"].idxmax()

    def diagnose(name):
        if not isinstance(name, str) or name not in summary.index:
            return _("{name!r} is not a setting; choose one of {settings}").format(name=name, settings=list(summary.index))
        if name == best:
            return None
        if name == FEW_LABELS[1] and best == FEW_LABELS[0]:
            return _("its gain is large, but few-labels gains more: the same student and labels, with a teacher "
                     "that also saw the labels the student lacks")
        if summary.loc[name, "kd_mean"] == summary["kd_mean"].max():
            return _("that setting has the most accurate distilled student, not the largest gain: "
                     "the gain is distilled minus alone")
        if name == summary["alone_mean"].idxmin():
            return _("that setting has the weakest student alone; the question asks for the largest gain")
        return _("{name} gains {gain:+.1f} points; another setting gains more").format(
            name=name, gain=summary.loc[name, "gain_mean"])

    return check("Check yourself 7.1", best_setting, diagnose, todo=_("set best_setting to the name of a setting"),
                 praise=_("{best} gains the most: its student has few labels and the teacher labels the other images "
                          "(a teacher that saw more labels than the student, as section 6 shows).").format(best=best))
