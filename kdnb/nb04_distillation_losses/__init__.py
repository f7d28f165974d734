"""Notebook 04, distillation losses: the formula, its spellings, the PyTorch traps, losses beyond logits, exercises.

What the notebook's cells call is listed in ``__all__`` and imported here from the files of this package:

* ``formulas.py``: the loss on paper. Its three spellings share one gradient (:func:`three_losses`), what each term
  pushes for several alpha (:func:`term_gradients`), the seeds' formulas (003-4, 003-5, 003-27, 002-S3) computed
  and tested (:func:`audit_formulas`, :func:`confident_mistake`), and the flipped sign on a network
  (:func:`flipped_sign_run`); with the claims section 3 and 4 make of them.
* ``figures.py``: the flipped sign's curves, the push explorer (:func:`push_explorer`, which never trains, and its
  static twin :func:`plot_push`), and the comparison's dot plot.
* ``pitfalls.py``: one function per PyTorch trap of section 5 (001-5, 004-1, 002-S4, a teacher left in ``train()``
  with dropout or BatchNorm, ``'batchmean'`` on sequences), and the claims the section makes of them.
* ``feature_losses.py``: where the small CNN's features are read, attention transfer, the cosine of hidden states,
  relational KD, and :class:`Distiller`, a student that keeps its features for the loss.
* ``comparison.py``: section 6's settings (``METHODS``, the regimes, the teachers) and one run of one method
  (:func:`run_method`), trained with :class:`kdnb.training.Run` on the teacher's cached outputs.
* ``readings.py``: the comparison's tables read over seeds through :mod:`kdnb.seeds` (gains over the hard-label
  twin, the fair-teacher controls, where KD's few-label gain comes from), and section 6's claims as verdicts.
* ``tables.py``: the makers of ``nb04_weights`` with ``nb04_weight_trials``, ``nb04_comparison`` and
  ``nb04_fair_teacher`` (``python -m kdnb.results make nb04_comparison``).
* ``shown.py``: the tables' labels in the reader's language (:func:`shown`, at the point of display) and the readouts
  the cells print (``report_*``).
* ``checks.py``: the checkers of Check yourself 2.1 (``kd_loss``), 3.1 (CE - KL from the teacher alone) and 6.1
  (the attention map), and the machinery every checker shares; ``bugs.py``: the checkers of the four
  "spot the bug" snippets of section 7.
"""

from __future__ import annotations

import pandas as pd

from .bugs import check_cache, check_soft_label_loss, check_soft_term, check_train_step
from .checks import check_attention_map, check_entropy_gap, check_kd_loss
from .comparison import FAIR_TEACHER, TEACHER, fair_teacher_subset, label_agreement, run_method
from .figures import PUSH_TEMPERATURES, plot_comparison, plot_flipped_sign, plot_push, push_explorer, push_state
from .formulas import (audit_formulas, audit_shown, audit_verdicts, confident_mistake, flipped_sign_run, term_gradients,
                       three_losses, three_losses_verdicts)
from .pitfalls import (Indexed, batchnorm_verdicts, kldiv_verdicts, pitfall_batchnorm_teacher, pitfall_kldiv, pitfall_no_grad,
                       pitfall_sequence_batchmean, pitfall_shuffled_cache, pitfall_three_args, pitfall_train_mode, sequence_verdicts)
from .readings import (comparison_shown, comparison_table, comparison_verdicts, fair_shown, fair_table, fair_verdicts, gain_split,
                       method_effects, split_shown, split_verdicts, weight_trials_table)
from .shown import (report_accuracies, report_edge, report_entropy, report_flip, report_gap, report_live, report_sequence,
                    report_subset, report_three_args, shown)

__all__ = [
    "formatted",
    # the readouts the cells print, in the reader's language
    "report_accuracies", "report_entropy", "report_gap", "report_flip", "report_three_args", "report_sequence",
    "report_edge", "report_live", "report_subset",
    # sections 2-4: the loss, its spellings, the seeds' formulas
    "term_gradients", "three_losses", "three_losses_verdicts", "audit_formulas", "audit_shown", "audit_verdicts",
    "confident_mistake", "flipped_sign_run", "plot_flipped_sign", "push_explorer", "push_state", "plot_push", "PUSH_TEMPERATURES",
    # section 5: the PyTorch traps
    "pitfall_kldiv", "kldiv_verdicts", "pitfall_train_mode", "pitfall_no_grad", "pitfall_three_args", "Indexed",
    "pitfall_shuffled_cache", "pitfall_sequence_batchmean", "sequence_verdicts", "pitfall_batchnorm_teacher", "batchnorm_verdicts",
    # section 6: losses beyond logits, compared
    "TEACHER", "FAIR_TEACHER", "comparison_table", "comparison_shown", "weight_trials_table",
    "plot_comparison", "run_method", "method_effects", "comparison_verdicts", "fair_teacher_subset", "label_agreement",
    "fair_table", "fair_shown", "fair_verdicts", "gain_split", "split_shown", "split_verdicts",
    # the exercises
    "check_kd_loss", "check_entropy_gap", "check_attention_map", "check_train_step", "check_soft_term",
    "check_soft_label_loss", "check_cache",
]


def formatted(table: pd.DataFrame, spec: str = ".3g") -> pd.DataFrame:
    """A copy of ``table`` for reading: every float column as text in the format ``spec`` (``".2g"``: two significant
    figures); other columns (counts, yes/no) as they are; its labels in the reader's language (:func:`.shown.shown`)."""
    return shown(table.assign(**{c: table[c].map(lambda v: format(v, spec)) for c in table.columns
                                 if pd.api.types.is_float_dtype(table[c])}))
