"""Notebook 05, distillation in practice: what its cells call, and where each piece lives.

``common.py`` holds what every section shares: the seeds, a student's initial weights for a seed
(:func:`student_for`), how a run trains (a quiet :class:`kdnb.training.Run`), the twin runs alone
and distilled (through :func:`kdnb.recipe.train_twins`), the fair teacher ``cnn-mnist-300``, the
``mean [min, max]`` accuracy table (:func:`accuracy_spans`, on :mod:`kdnb.seeds`) and the
dot-and-bar figure of a result over seeds (:func:`plot_spread`).

``steps.py`` (section 2) lists the steps of distillation with what each produced here
(:func:`pipeline_steps`).

``playground.py`` (section 3) is the training playground: :func:`playground_run` trains a
distilled student and its hard-label twin side by side on ``kd_loss``; :class:`Playground` is its
explorer (T and alpha sliders, menus, and a Train button that runs in the background);
:func:`plot_playground` is its static twin and :func:`playground_verdicts` its claims.

``ta_map.py`` (section 4) is the T x alpha map: the runs, the table and heatmap, its plateau on
validation, and notebook 03's temperature sweep read by the same tie rule.

``consistency.py`` (section 5) is patient and consistent teaching: shifts, a cached or a same-view
teacher, 60 and 240 epochs, and the claims read from their seed ranges.

``assistants.py`` (section 6) trains tiny students directly and through a teacher assistant.

``strategies.py`` (section 7) holds self-distillation (born again, on a T x alpha grid), mutual
learning (:func:`mutual_loss`, :func:`mutual_run`) and their readings against hard labels.

``text.py`` (section 8) builds a text task offline from the installed libraries' docstrings, with
a TF-IDF teacher and a bag-of-words student.

``scarce.py`` (sections 3, 6 and 8) splits a scarce-label gain into where it comes from: hard
pseudo-labels, soft targets, and labels handed back by a teacher that saw them.

``seed_code.py`` (section 9) runs the seeds' own code (000-4, 001-5) beside a correct student.

``shown.py`` shows tables and printed lines in the reader's language (:func:`say`).

``checks.py`` holds the exercises' checkers (Check yourself 4.1, 5.1 and 7.1); ``tables.py`` the
makers of the precomputed tables ``nb05_*`` (``python -m kdnb.results make nb05_map`` …), which
the notebook reads with :func:`kdnb.results.read`.
"""

from __future__ import annotations

from .assistants import (TINY_STUDENTS, assistant_readings, assistant_sizes, assistant_table, assistant_verdicts,
                         plot_assistants)
from .checks import check_consistent_step, check_map_choice, check_mutual_loss
from .common import accuracy_spans, plot_spread, same_weights, student_for
from .consistency import consistency_cost, consistency_gaps, consistency_verdicts
from .playground import (PLAYGROUND, Playground, TeacherLogits, playground_finals, playground_note, playground_run,
                         playground_verdicts, plot_playground)
from .scarce import scarce_split, scarce_table, scarce_verdicts
from .shown import say
from .seed_code import seed_code_table, seed_code_verdicts, side_by_side
from .steps import pipeline_steps
from .strategies import (SELF_STUDENT, born_choice, born_fit, born_teacher_fit, born_verdicts, mutual_run, strategies_at_choice,
                         strategies_table, strategies_verdicts, strategy_readings)
from .ta_map import map_cell, map_extremes, map_noise, map_plateau, map_verdicts, plot_map, sweep_best_T, sweep_verdicts
from .text import TextData, corpus_digest, docstring_corpus, soft_confusion, text_sizes, text_summary, text_teacher, text_teacher_verdicts

__all__ = [
    # 1 · set-up, and what several sections use
    "TeacherLogits", "student_for", "SELF_STUDENT", "same_weights", "accuracy_spans", "plot_spread",
    # 2 · the steps
    "pipeline_steps",
    # 3 · the playground
    "PLAYGROUND", "Playground", "playground_note", "playground_run", "plot_playground", "playground_finals", "playground_verdicts",
    # 3, 6, 8 · scarce labels
    "scarce_table", "scarce_split", "scarce_verdicts",
    # 4 · the T x alpha map
    "plot_map", "map_extremes", "map_verdicts", "map_cell", "sweep_best_T", "sweep_verdicts", "map_noise", "map_plateau",
    "check_map_choice",
    # 5 · patient and consistent teaching
    "consistency_gaps", "consistency_cost", "consistency_verdicts", "check_consistent_step",
    # 6 · teacher assistants
    "TINY_STUDENTS", "assistant_sizes", "plot_assistants", "assistant_table", "assistant_readings", "assistant_verdicts",
    # 7 · strategies
    "born_choice", "strategies_at_choice", "strategies_table", "strategy_readings", "strategies_verdicts", "born_teacher_fit",
    "born_fit", "born_verdicts", "mutual_run", "check_mutual_loss",
    # 8 · text
    "docstring_corpus", "TextData", "corpus_digest", "text_sizes", "text_summary", "text_teacher", "soft_confusion",
    "text_teacher_verdicts",
    # 9 · the seeds' code
    "seed_code_table", "seed_code_verdicts", "side_by_side",
    "say",
]
