"""What notebook 05 shows in the reader's language (:mod:`kdnb.i18n`): tables whose labels are
translated only when displayed, labels built of known parts, and the lines its cells print.

A :class:`Shown` table keeps its English column names, index labels and cells for the code and the
tests that read them; its HTML and text views translate every label and text cell that the
catalog knows. In English both views are pandas' own, byte for byte."""

from __future__ import annotations

from ..i18n import N_, _, language
from ..shown import ShownTable

#: Chinese punctuation for the separators of composite labels ("300 labels · MLP 1x10: hard labels only").
_SEPARATORS = ((" · ", " · "), (": ", "："), (", ", "，"))


def tr(text):
    """``text`` in the current language: its own translation, else its parts around " · ", ": " or ", "
    translated one by one (numbers, model names and anything unknown stay as they are)."""
    if not isinstance(text, str) or language() == "en" or not text:
        return text
    whole = _(text)
    if whole != text:
        return whole
    for sep, zh in _SEPARATORS:
        if sep in text:
            parts = text.split(sep)
            done = [tr(p) for p in parts]
            if done != parts:
                return zh.join(done)
    return text


class Shown(ShownTable):
    """A DataFrame that keeps its English labels for code and shows them in the reader's language."""

    label = staticmethod(tr)


#: The lines notebook 05's cells print, by key (:func:`say`).
MESSAGES = {
    "recipe": N_("default recipe: mlp-mnist {teacher:,} parameters, 1x100 student {student:,}: {ratio:.0f} times fewer"),
    "extremes": N_("worst and best cell on the test split (for reading only; the choice is made on validation):"),
    "map_live": N_("T = 20, α = 1, seed 0: live {live:.0f}%, table {table:.0f}%  (test accuracy)"),
    "teacher_right": N_("mlp-mnist is right on {pct:.1f}% of the 3,500 training images"),
    "noise": N_("noise: {noise:.1f} points; {n} cells within it of the best mean validation accuracy:"),
    "chosen": N_("chosen: T = {T:g}, α = {alpha:g}"),
    "cost": N_("cost: an epoch with the same-view teacher takes about {x:.0f}x as long as one with the cached teacher"),
    "tiny": N_("{student}, 300 labels, 5 seeds:"),
    "born": N_("born again: T = {T:g}, α = {alpha:g}, chosen on validation"),
    "born_fit": N_("the born-again teacher (a 1x100 trained on the labels) is right on {fit} % of its 3,500 training "
                   "images (mean [min, max] over seeds)"),
    "mutual_live": N_("mutual learning, seed 0: live {live:.0f}%, table {table:.0f}% (mean test accuracy of the two peers)"),
    "corpus": N_("{n:,} docstrings, corpus {digest}; for example ({library}):"),
    "shared": N_("docstrings found word for word under two libraries (copied between them): {k} of {n:,}"),
    "text_teacher": N_("teacher test accuracy: {pct:.1f}%"),
    "fair_text": N_("the fair teacher itself: {spread} % test accuracy (mean [min, max] over seeds)"),
    "text_fit": N_("the teacher is right on {pct:.1f}% of its own training docstrings; mean soft labels at T = {T:g}:"),
    "same_weights": N_("000-4: the student's weights equal the hard-label student's: {same}"),
}

#: Labels that reach a table or a figure from a cell (an axis name, a title): translated when shown.
CELL_LABELS = (N_("the 1x100 assistants, 300 labels"), N_("the 1x100 student taught by mlp-mnist, 3 seeds per variant"),
               N_("the 1x100 student, four ways (5 seeds)"))


def say(key: str, **values) -> None:
    """Print the line ``key`` of :data:`MESSAGES` in the current language, filled with ``values``."""
    print(_(MESSAGES[key]).format(**values))
