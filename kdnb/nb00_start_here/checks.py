"""The checkers of notebook 00's exercises: each returns a :class:`kdnb.exercises.Verdict` naming the usual mistake."""

from __future__ import annotations

import pandas as pd
import torch

from ..exercises import Verdict, as_number, check, close
from ..i18n import _
from ..losses import hard_loss, kd_loss
from ..recipe import summarize

__all__ = ["check_alpha_for_labels_only", "check_which_setting"]


def check_alpha_for_labels_only(alpha) -> Verdict:
    """Check yourself 4.1: the ``alpha`` that makes ``kd_loss`` the plain cross-entropy with the labels."""
    z, v, y = torch.tensor([[2.0, 0.5, -1.0]]), torch.tensor([[1.0, 1.5, -2.0]]), torch.tensor([0])

    def diagnose(a):
        a = as_number(a)
        if a is None or not 0 <= a <= 1:
            return _("alpha is a number between 0 and 1")
        if close(kd_loss(z, v, y, T=4.0, alpha=a).item(), hard_loss(z, y).item()):
            return None
        if a == 1:
            return _("alpha = 1 keeps only the soft (teacher) term: alpha weights the soft term, 1 - alpha the labels")
        return _("with alpha = {a:g} the teacher's term still has weight {a:g}; which alpha removes it?").format(a=a)

    return check("Check yourself 4.1", alpha, diagnose, todo=_("set alpha_for_labels_only to a number, then rerun the cell"),
                 praise=_("alpha weights the soft (teacher) term, so alpha = 0 leaves only the cross-entropy with the labels"))


def check_which_setting(results: pd.DataFrame, name) -> Verdict:
    """Check yourself 5.1: the setting whose gain is within the seed noise (the two seed ranges overlap)."""
    table = summarize(results)
    within_noise = list(table.index[table["ranges_overlap"]])

    def diagnose(n):
        if n not in table.index:
            return _("{name} is not a setting; choose one of {names}").format(name=repr(n), names=list(table.index))
        if n in within_noise:
            return None
        if n == table["gain_mean"].idxmax():
            return _("that setting gains the most; look for the one whose distilled and label-only dots overlap")
        return _("{name} gains {gain:+.1f} points and its seed ranges do not overlap: look at the ranges_overlap "
                 "column").format(name=n, gain=table.loc[n, "gain_mean"])

    return check("Check yourself 5.1", name, diagnose, todo=_("set no_clear_gain to a setting's name, then rerun the cell"),
                 praise=_("its distilled and label-only seed ranges overlap: the gain is within the seed noise"))
