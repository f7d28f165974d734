"""The checkers of notebook 02's exercises (Check yourself 2.1 to 7.1): each returns an
:class:`kdnb.exercises.Verdict` that names the usual mistake when the answer is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..exercises import Verdict, check, close
from ..i18n import _
from ..losses import hard_loss, kd_loss
from ..temperature import soft_targets
from .missing_class import raise_bias

__all__ = ["check_runner_up", "check_alpha_for_quarter", "check_most_alike", "check_wrong_class_target", "check_raise_bias",
           "check_early_stop_help"]


def _is_int(a) -> bool:
    try:
        return not isinstance(a, bool) and float(a) == int(a)
    except (TypeError, ValueError):
        return False


def check_runner_up(image_logits: torch.Tensor, answer, T: float = 4.0) -> Verdict:
    """Check yourself 2.1: the teacher's runner-up class for one image, and its probability at ``T``.

    ``answer`` is a pair ``(class, probability)``. Names the usual mistakes: the top class
    instead of the second, the probability read at T = 1, probabilities divided by T.
    """
    z = image_logits.reshape(-1).float()
    p, p1 = soft_targets(z, T), soft_targets(z, 1.0)
    order = p.argsort(descending=True)
    top, second = int(order[0]), int(order[1])

    def diagnose(a):
        if not isinstance(a, (tuple, list)) or len(a) != 2:
            return _("answer with a pair: (the runner-up class, its probability at T = 4)")
        cls, prob = a
        if cls is Ellipsis or prob is Ellipsis:
            return _("fill in both parts of the pair: the class and its probability")
        if not _is_int(cls) or not 0 <= int(cls) < len(z):
            return _("the class is a digit from 0 to {last}, got {got}").format(last=len(z) - 1, got=repr(cls))
        cls = int(cls)
        if cls == top:
            return _("class {top} is the teacher's top class; the runner-up is the class with the second-largest probability").format(
                top=top)
        if cls != second:
            return _("class {cls} is not the teacher's second choice for this image; sort its probabilities at T = {T:g} "
                     "(p.topk(2) gives the two largest)").format(cls=cls, T=T)
        try:
            prob = float(prob)
        except (TypeError, ValueError):
            return _("the probability is a number, got {got}").format(got=repr(prob))
        if abs(prob - float(p[second])) <= 2e-3:
            return None
        if abs(prob - float(p1[second])) <= 2e-3:
            return _("right class, but that is its probability at T = 1, where a confident teacher leaves almost nothing "
                     "for the other classes; soften with T = {T:g}: softmax(logits / {T:g})").format(T=T)
        if abs(prob - float(torch.softmax(p1 / T, -1)[second])) <= 2e-3:
            return _("you divided the probabilities by T; temperature divides the logits, before the softmax")
        return _("right class; its probability should be the T = {T:g} value: soft_targets(logits, {T:g})[class]").format(T=T)

    return check("Check yourself 2.1", answer, diagnose, todo=_("set runner_up to (class, probability at T = 4), then rerun the cell"),
                 praise=_("the runner-up is the teacher's best guess after the label, and T = 4 makes its probability big enough "
                          "to learn from"))


def check_alpha_for_quarter(alpha) -> Verdict:
    """Check yourself 3.1: the ``alpha`` of ``kd_loss`` that gives the hard labels a weight of 0.25."""
    z, y = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([0])
    hard = hard_loss(z, y).item()

    def diagnose(a):
        if not isinstance(a, (int, float)) or isinstance(a, bool) or not 0 <= a <= 1:
            return _("alpha is a number between 0 and 1, got {got}").format(got=repr(a))
        # A teacher that agrees with the student adds no soft loss, so kd_loss is the hard term times its weight.
        if close(kd_loss(z, z, y, T=2.0, alpha=a).item() / hard, 0.25):
            return None
        if close(a, 0.25):
            return _("alpha weights the soft (teacher) term, so alpha = 0.25 gives the teacher 0.25 and the hard labels 0.75: "
                     "the weight is on the wrong term")
        return _("with alpha = {a:g} the hard labels get 1 - alpha = {rest:g}, not 0.25").format(a=a, rest=1 - a)

    return check("Check yourself 3.1", alpha, diagnose,
                 todo=_("set alpha_for_quarter to a number between 0 and 1, then rerun the cell"),
                 praise=_("kd_loss = (1 - alpha) * hard + alpha * soft: alpha = 0.75 leaves 0.25 for the labels"))


def check_most_alike(M: pd.DataFrame, digit: int, answer) -> Verdict:
    """Check yourself 4.1: the class a ``digit`` most resembles for the teacher (row ``digit`` of ``M``)."""
    A = np.asarray(M, dtype=float)
    off_row = A[digit].copy()
    off_row[digit] = np.nan
    off_col = A[:, digit].copy()
    off_col[digit] = np.nan
    best, least, col_best = int(np.nanargmax(off_row)), int(np.nanargmin(off_row)), int(np.nanargmax(off_col))

    def diagnose(a):
        if not _is_int(a) or not 0 <= int(a) < len(A):
            return _("the answer is a digit from 0 to {last}, got {got}").format(last=len(A) - 1, got=repr(a))
        a = int(a)
        if a == best:
            return None
        if a == digit:
            return _("that is the diagonal cell: how sure the teacher is that a {digit} is a {digit}; "
                     "leave it out and look at the other cells of the row").format(digit=digit)
        reasons = []
        if a == col_best:
            reasons.append(_("you read column {digit}, which says which digit is most often taken for a {digit}; "
                             "what a {digit} looks like is row {digit}").format(digit=digit))
        if a == least:
            reasons.append(_("in row {digit}, class {a} gets the least probability: a {digit} looks least like a {a}").format(
                digit=digit, a=a))
        return _("; and ").join(reasons) or _("row {digit} gives another class more probability than class {a}").format(digit=digit, a=a)

    return check("Check yourself 4.1", answer, diagnose, todo=_("set zero_looks_like to a digit, then rerun the cell"),
                 praise=_("row {digit}'s largest off-diagonal cell: the teacher gives that class the most probability on "
                          "images of a {digit}").format(digit=digit))


def check_wrong_class_target(value, eps: float = 0.2, num_classes: int = 10) -> Verdict:
    """Check yourself 5.1: each wrong class's target under label smoothing ``eps`` with ``num_classes`` classes."""
    C = num_classes

    def diagnose(v):
        try:
            v = float(v)
        except (TypeError, ValueError):
            return _("the answer is a number, got {got}").format(got=repr(v))
        if close(v, eps / C, rel=1e-3):
            return None
        if close(v, eps / (C - 1), rel=1e-3):
            return _("eps / (C - 1) spreads eps over the wrong classes only; the formula here, like PyTorch's "
                     "F.cross_entropy(label_smoothing=eps), spreads it over all C = {C} classes, the true one included").format(C=C)
        if close(v, eps, rel=1e-3):
            return _("{eps:g} is the whole mass label smoothing moves; it is shared among the classes").format(eps=eps)
        if close(v, 1 - eps, rel=1e-3) or close(v, 1 - eps + eps / C, rel=1e-3):
            return _("that is the true class's target; the question asks for one wrong class")
        return _("not eps / C: (1 - eps) * one_hot + eps / C gives a wrong class only the second term")

    return check("Check yourself 5.1", value, diagnose, todo=_("set wrong_class_target to a number, then rerun the cell"),
                 praise=_("every wrong class gets eps / C, the same for all of them: label smoothing says nothing about "
                          "look-alike classes"))


def check_raise_bias(fn) -> Verdict:
    """Check yourself 6.1: ``fn(z, cls, delta)`` returns logits ``z`` with ``delta`` added to class ``cls`` only.

    Names the usual mistakes: ``delta`` added to every class (which changes no prediction),
    added to the probabilities, to the wrong column, or ``z`` changed in place.
    """
    z = torch.tensor([[0.5, 1.0, -0.2, 0.1, 2.0], [2.0, 0.0, 0.3, -1.0, 0.4], [-1.0, 0.2, 0.0, 1.5, 0.3]])

    def diagnose(f):
        if not callable(f):
            return _("pass the function itself: nb.check_raise_bias(raise_class_bias)")
        given = z.clone()
        out = f(given, 3, 3.5)
        if out is None:
            return _("the function returns nothing: return the new logits")
        if not isinstance(out, torch.Tensor) or out.shape != z.shape:
            return _("return a tensor of the logits' shape {shape}").format(shape=tuple(z.shape))
        out = out.float()
        changed = not torch.equal(given, z)
        expected = raise_bias(z, 3, 3.5)
        if torch.allclose(out, expected):
            if changed:
                return _("right values, but you changed z in place: work on a copy (z.clone()), or the caller's logits move too")
            other = f(z.clone(), 1, -2.0)
            if not torch.allclose(torch.as_tensor(other).float(), raise_bias(z, 1, -2.0)):
                return _("it works for class 3 only: use the cls and delta arguments")
            return None
        if torch.allclose(out, z + 3.5):
            return _("you added delta to every class: softmax ignores a constant added to all logits, so no prediction "
                     "changes; add it to column cls only")
        if torch.allclose(out, raise_bias(torch.softmax(z, -1), 3, 3.5)):
            return _("you added delta to the probabilities; a bias lives on the logits, before the softmax")
        diff = out - z
        for k in range(z.shape[1]):
            if k != 3 and torch.allclose(diff, raise_bias(torch.zeros_like(z), k, 3.5)):
                return _("you raised column {k}; class 3 is column 3 (columns count from 0)").format(k=k)
        return _("the result should equal z except column cls, which is z[:, cls] + delta")

    return check("Check yourself 6.1", fn, diagnose, todo=_("write the body of raise_class_bias, then rerun the cell"),
                 praise=_("adding delta to one logit for every image is exactly what raising that output unit's bias does"))


def check_early_stop_help(few: pd.DataFrame, answer) -> Verdict:
    """Check yourself 7.1: per kind of target, the mean of ``early_stop_test - final_test`` in points."""
    diff = few["early_stop_test"] - few["final_test"]
    expected = 100 * diff.groupby(few["targets"]).mean()

    def diagnose(a):
        if not isinstance(a, pd.Series):
            if np.ndim(a) == 0 and _is_float(a):
                return _("one number per kind of target: group by few['targets'] before taking the mean")
            return _("answer with a pandas Series indexed by the kind of target (few['targets'])")
        if set(a.index) != set(expected.index):
            return _("index the Series by the kind of target, {expected}; got {got}").format(
                expected=sorted(expected.index), got=sorted(map(str, a.index)))
        a = a.reindex(expected.index).astype(float)
        if np.allclose(a, expected, atol=1e-6):
            return None
        if np.allclose(a, expected / 100, atol=1e-8):
            return _("those are fractions of the test images; the question asks for points: multiply by 100")
        if np.allclose(a, -expected, atol=1e-6):
            return _("you subtracted the other way round: early stopping's help is early_stop_test - final_test")
        return _("not the mean over seeds of early_stop_test - final_test (in points) for each kind of target")

    return check("Check yourself 7.1", answer, diagnose, todo=_("set early_stop_help to a Series, then rerun the cell"),
                 praise=_("early stopping can only rescue a run whose validation accuracy peaked before the last epoch"))


def _is_float(a) -> bool:
    try:
        float(a)
        return True
    except (TypeError, ValueError):
        return False

