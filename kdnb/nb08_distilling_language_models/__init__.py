"""Notebook 08, distilling language models: token-level, sequence-level and on-policy distillation, forward and
reverse KL, top-k logits and reasoning traces, on a character-level transformer that writes Python functions.

The model, its corpus and its vocabulary are core (:mod:`kdnb.charlm`), because :mod:`kdnb.teachers` builds and
loads the two teachers. What the notebook's cells call is listed in ``__all__`` and imported here from the files of
this package:

* ``divergence.py``: the generalized JSD of GKD (:func:`generalized_jsd`, beta 0 = forward KL, 1 = reverse KL),
  the ``'batchmean'`` scale error on (B, S, V) logits, and the beta explorer (one Gaussian fitted to two modes)
  with its static twin and its claims;
* ``students.py``: one small student taught in each way (:class:`Teaching`: alone, token-level, sequence-level,
  on-policy, top-k) on one budget, and the teacher's cached log-probabilities and generated texts;
* ``scoring.py``: how a student is scored (perplexity, agreement with the teacher, parse rate, distinct 3-grams,
  the teacher's NLL of its samples, early and late);
* ``traces.py``: section 8's task, sums written with their working, and the two students taught by the teacher's
  answers or by its traces;
* ``readings.py``: the tables read over seeds through :mod:`kdnb.seeds`, the figures, each section's verdicts, and
  what the cells print (in the reader's language);
* ``tables.py``: the makers of ``nb08_students`` with ``nb08_slice``, ``nb08_onpolicy``, ``nb08_topk`` and
  ``nb08_traces`` (``python -m kdnb.results make nb08_students``), and :func:`slice_run`, the row re-run live;
* ``checks.py``: the checkers of Check yourself 3.1 (masked sequence KD) and 4.1 (the generalized JSD).
"""

from __future__ import annotations

from . import traces
from .checks import check_generalized_jsd, check_sequence_kd
from .divergence import (BETAS, batchmean_scale_error, divergence_explorer, fit_one_mode, generalized_jsd, mode_mass,
                         one_mode_fits, one_mode_verdicts, plot_one_mode)
from .readings import (SCORES, divergence_verdicts, onpolicy_verdicts, plot_scores, plot_topk, plot_traces, print_samples,
                       print_scale_error, print_setup, print_slice, print_trl_difference, score, score_table,
                       sequence_verdicts, students_only, token_verdicts, topk_table, topk_verdicts, tr, traces_table,
                       traces_verdicts, transfer_sets_table)
from .scoring import student_scores
from .students import STUDENT, Teaching, topk_loss, train_student
from .tables import slice_run

__all__ = [
    "STUDENT", "traces",
    # sections 2-4: the loss per token, forward and reverse KL
    "generalized_jsd", "batchmean_scale_error", "BETAS", "divergence_explorer", "fit_one_mode", "one_mode_fits",
    "one_mode_verdicts", "plot_one_mode", "mode_mass",
    # the students and their scores
    "Teaching", "train_student", "topk_loss", "student_scores", "slice_run",
    "SCORES", "score_table", "score", "students_only", "plot_scores", "transfer_sets_table",
    "token_verdicts", "divergence_verdicts", "sequence_verdicts", "onpolicy_verdicts",
    # sections 7-8: top-k, reasoning traces
    "topk_table", "plot_topk", "topk_verdicts", "traces_table", "plot_traces", "traces_verdicts",
    # the exercises
    "check_sequence_kd", "check_generalized_jsd",
    # what the cells print, in the reader's language
    "print_setup", "print_samples", "print_scale_error", "print_slice", "print_trl_difference", "tr",
]
