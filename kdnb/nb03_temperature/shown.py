"""What notebook 03's tables show in the reader's language.

A table of this room is a :class:`Shown` DataFrame (a labelled list of numbers, a :class:`ShownSeries`):
code and tests read its English column names, row labels and cells as ever, and only its display
(HTML and text) goes through :func:`tr`. A label made from a template (``"kd_loss, T = 4, alpha =
0.9"``) is one of :data:`TEMPLATES` with its fields filled in; :func:`tr` finds the template back
and fills in its translation.
"""

from __future__ import annotations

from ..i18n import N_
from ..shown import ShownSeries as BaseShownSeries
from ..shown import ShownTable, template_label

# Labels made from a template (the build sites format them in English).
SLOPE_WITHOUT = N_("log-log slope at T = {lo:.0f}…{hi:.0f}, without T²")
SLOPE_WITH = N_("log-log slope at T = {lo:.0f}…{hi:.0f}, with T²")
BARE_FALL = N_("without T²: norm at T = {low:g} / norm at T = {high:g}")
SCALED_RISE = N_("with T²: norm at T = {b:g} / norm at T = {a:g}")
COSINE = N_("cosine with the gradient at T={reference:g}")
SEED_LOSS = N_("seed's loss, T = {T:g} (t = {t:.3g}, 1 - t = {rest:.3g})")
KD_LOSS = N_("kd_loss, T = {T:g}, alpha = {alpha:g}")
AT_ONE = N_("{name}, T = 1")
AT_FITTED = N_("{name}, fitted T")
FITTED_T = N_("fitted T = {T:.2f}")
ON_SCREEN = N_("{model} entropy on screen (bits)")
TEACHER_CARD = N_("{teacher}: {model} with dropout {dropout:g}, trained on the same training images with random "
                  "shifts of up to {shift} px")
GAP_AT = N_("distilled, gap at T = {T:g} (points)")
AGREEMENT_AT = N_("distilled, agreement at T = {T:g} (%)")
TRAIN_CHANGE = N_("training accuracy, T = {low:g} → {mid:g} (points)")
TEST_CHANGE = N_("test accuracy, T = {low:g} → {mid:g} (points)")

TEMPLATES = (SLOPE_WITHOUT, SLOPE_WITH, BARE_FALL, SCALED_RISE, COSINE, SEED_LOSS, KD_LOSS, AT_ONE, AT_FITTED,
             FITTED_T, ON_SCREEN, TEACHER_CARD, GAP_AT, AGREEMENT_AT, TRAIN_CHANGE, TEST_CHANGE)

#: One label or cell of a table in the reader's language: a catalog entry, or a label made from one of
#: :data:`TEMPLATES` (its fields kept as they are shown; a model's or a run's name translated in turn).
tr = template_label(TEMPLATES, label_fields=("name", "model"))


class Shown(ShownTable):
    """A DataFrame that keeps its English labels for code and shows them in the reader's language."""

    label = staticmethod(tr)


class ShownSeries(BaseShownSeries):
    """A Series that keeps its English labels for code and shows them in the reader's language;
    ``to_frame()`` gives a :class:`Shown` table."""

    table = Shown
