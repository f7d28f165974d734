"""Notebook 02, soft labels (软标签) vs hard labels (硬标签): what its cells call, and where each part lives.

Seed questions 003-3, 003-11, 003-25 and 000-2. The notebook imports this package as ``nb``; the
names in ``__all__`` are exactly what its cells call.

``targets.py``: the targets themselves. The teacher's soft targets ``softmax(v / T)`` next to the
one-hot label and label smoothing (Szegedy et al. 2016), their entropy in bits, the
class-similarity matrix ("dark knowledge", Hinton, Vinyals & Dean 2015) with the digit pairs and
the images the teacher finds ambiguous, and how much class structure a teacher trained with label
smoothing keeps (Müller, Kornblith & Hinton 2019), with section 5's verdicts.

``missing_class.py``: Hinton et al.'s missing-class experiment (section 6). Digit 3 is removed from
the transfer set, a distilled student and its label-only twin are trained from the same initial
weights, and the 3 bias is raised by an amount chosen on the validation split. Also the bias
arithmetic on stored logits, the summaries beside the paper's figures, and the study of training
length, T, alpha, teacher and bias rule, with their verdicts.

``experiments.py``: soft targets as a regularizer when only 3% of the training images are available
(section 7; Hinton et al. report it for speech), and the plain vs the label-smoothed teacher, each at
its T chosen on validation (section 5), with their verdicts; :func:`spec_table` prints a run's configuration.

``explorers.py``: the target explorer (section 5) and the bias explorer (section 6), their static
twins, and the verdict functions that drive them as a reader would. ``figures.py``: the other figures.

``readouts.py``: what the cells print (:func:`say`) and the room's tables (``Shown``, and :func:`shown`), whose
English labels code reads and whose display is in the reader's language (:mod:`kdnb.i18n`).

``checks.py``: the checkers of the six Check-yourself exercises.

``tables.py``: the makers of the tables ``nb02_missing_class``, ``nb02_missing_class_logits``,
``nb02_missing_class_study``, ``nb02_few_examples``, ``nb02_few_examples_curves`` and
``nb02_teachers`` in ``data/results/`` (``python -m kdnb.results make nb02_missing_class``; the
notebook reads them with ``kdnb.results.read``).
"""

from __future__ import annotations

from .checks import (check_alpha_for_quarter, check_early_stop_help, check_most_alike, check_raise_bias, check_runner_up,
                     check_wrong_class_target)
from .experiments import (FEW, PAPER_FEW_DATA, TEACHER_TS, chosen_T, few_examples_run, few_examples_verdicts,
                          plot_teacher_results, smoothing_gap, soft_minus_hard, spec_table, teacher_comparison, teacher_verdicts)
from .explorers import bias_explorer, bias_explorer_verdicts, plot_targets, target_explorer, target_explorer_verdicts
from .figures import (plot_ambiguous_images, plot_class_similarity, plot_few_examples_curves, plot_missing_class_bias,
                      plot_similarity_side_by_side, plot_soft_vs_hard_examples)
from .missing_class import (MISSING, PAPER_MISSING_CLASS, bias_curves, drop_class, missing_class_gap, missing_class_summary,
                            missing_class_verdicts, study_configurations, study_rules, study_verdicts)
from .readouts import few_examples_spec, missing_class_runs, say, shown, teachers_table
from .targets import (class_similarity, information_table, information_verdicts, most_ambiguous, one_hot, similar_pairs,
                      smoothed_labels, structure_stats, structure_verdicts, targets_table, teacher_logits)

__all__ = [
    # the runs' settings and the paper's figures
    "MISSING", "PAPER_MISSING_CLASS", "PAPER_FEW_DATA", "TEACHER_TS", "spec_table", "few_examples_spec",
    # what the cells print and show, in the reader's language
    "say", "shown", "teachers_table", "missing_class_runs",
    # sections 2-5: the targets
    "teacher_logits", "one_hot", "smoothed_labels", "targets_table", "class_similarity", "similar_pairs", "most_ambiguous",
    "information_table", "information_verdicts", "structure_stats", "structure_verdicts",
    # section 5: the label-smoothed teacher
    "chosen_T", "teacher_comparison", "smoothing_gap", "teacher_verdicts", "plot_teacher_results",
    # section 6: the missing class
    "drop_class", "missing_class_summary", "missing_class_verdicts", "study_configurations", "study_verdicts", "study_rules",
    "missing_class_gap", "bias_curves",
    # section 7: few examples
    "few_examples_run", "soft_minus_hard", "few_examples_verdicts",
    # explorers and figures
    "target_explorer", "target_explorer_verdicts", "plot_targets", "bias_explorer", "bias_explorer_verdicts",
    "plot_soft_vs_hard_examples", "plot_class_similarity", "plot_similarity_side_by_side", "plot_ambiguous_images",
    "plot_missing_class_bias", "plot_few_examples_curves",
    # the exercises' checkers
    "check_runner_up", "check_alpha_for_quarter", "check_most_alike", "check_wrong_class_target", "check_raise_bias",
    "check_early_stop_help",
]
