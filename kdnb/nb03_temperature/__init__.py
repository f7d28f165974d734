"""Notebook 03, temperature (温度): what T does, why T², what it is not, and how it changes the student.

This file is the notebook's room: it re-exports what the cells call (``__all__``) from the files
beside it, one per kind of work.

``explorer.py``: the temperature explorer of section 2 (seed 003-12). :func:`pick_images` chooses
test images from the teacher's logits (one to open on, the surest, the most ambiguous),
:func:`explorer_inputs` gathers their logits and :func:`temperature_explorer` builds a
:class:`TemperatureExplorer`, a :class:`kdnb.widgets.Explorer` whose pure
``state_at(T, image)`` the tables and verdicts of section 2 read (:func:`picks_table`,
:func:`shape_table`, :func:`shape_verdicts`, :func:`on_screen_table`, :func:`tour_verdicts`).
:func:`synthetic_inputs` feeds it random logits for tests and benchmarks.

``experiments.py``: measurements on logits. Section 3 (002-S2): :func:`gradient_cosines`, T turns
the soft-loss gradient where a learning rate only rescales it. Section 4 (003-13):
:func:`soft_gradient_norms`, :func:`gradient_scaling` and :func:`scaling_verdicts`, the gradient
with and without T². Section 5 (002-S3): the seed's loss with ``t = 1/T``, :func:`seed_weights`,
and :func:`teacher_swap_test` with :func:`swap_verdicts`, autograd showing that its teacher term
teaches nothing. Section 6: :func:`logit_matching_gap`, distillation's high-T limit. Section 7
(003-12): :func:`deployment_table` (the temperature at inference) and
:func:`calibration_experiment`, :func:`confidence_gaps` and :func:`calibration_verdicts`
(temperature scaling for calibration, Guo et al. 2017). Section 8: :func:`targets_vs_labels`.

``sweep.py``: the temperature sweep of section 8 (003-28), Hinton's two student shapes over
seeds (:data:`SWEEP`), read by :func:`sweep_card`, :func:`sweep_summary`, :func:`sweep_reading`,
:func:`sweep_verdicts`, :func:`gap_and_agreement`, :func:`gap_reading`, :func:`gap_verdicts` and
:func:`live_vs_stored`. ``tables.py`` makes its table, ``nb03_sweep``
(``python -m kdnb.results make nb03_sweep``).

``figures.py``: the static figures (``plot_*``), among them the explorer's static twin
:func:`plot_temperature_small_multiples`.

``shown.py``: what the tables show in the reader's language. Every table of the room is a
:class:`~.shown.Shown` DataFrame (a labelled list, a :class:`~.shown.ShownSeries`): code and tests
read its English names, and only its display is translated.

``checks.py``: the checkers of the "Check yourself" exercises (``check_*``), each naming the
usual mistakes, and :data:`RATIO_LOGITS`, the logits of exercise 2.1.
"""

from __future__ import annotations

from .checks import (RATIO_LOGITS, check_accuracy_changes, check_gain, check_gap_shrink, check_kd_loss,
                     check_learning_rate_like, check_ratio_e, check_shrink_factor, check_two_bits)
from .experiments import (CalibrationRun, calibration_experiment, calibration_verdicts, confidence_gaps,
                          deployment_table, division_report, gradient_cosines, gradient_scaling, logit_matching_gap, scaling_verdicts,
                          pair_accuracies, seed_weights, setup_report, soft_gradient_norms, swap_verdicts, targets_vs_labels,
                          teacher_swap_test)
from .explorer import (TemperatureExplorer, explorer_inputs, on_screen_table, pick_images, picks_table, shape_table,
                       shape_verdicts, synthetic_inputs, temperature_explorer, tour_verdicts)
from .figures import (plot_calibration, plot_gap_and_agreement, plot_gradient_norms, plot_logit_matching_gap,
                      plot_temperature_small_multiples, plot_temperature_sweep)
from .sweep import (SWEEP, gap_and_agreement, gap_reading, gap_verdicts, live_vs_stored, sweep_card, sweep_reading,
                    sweep_summary, sweep_verdicts)

__all__ = [
    # what the set-up and section 7 print
    "setup_report", "pair_accuracies", "division_report",
    # section 2: the explorer and the shape of softmax(z / T)
    "pick_images", "picks_table", "explorer_inputs", "temperature_explorer", "TemperatureExplorer", "synthetic_inputs",
    "plot_temperature_small_multiples", "shape_table", "shape_verdicts", "on_screen_table", "tour_verdicts",
    # sections 3 to 7: gradients, the seed's loss, the high-T limit, inference and calibration
    "gradient_cosines", "soft_gradient_norms", "plot_gradient_norms", "gradient_scaling", "scaling_verdicts",
    "seed_weights", "teacher_swap_test", "swap_verdicts", "logit_matching_gap", "plot_logit_matching_gap",
    "deployment_table", "CalibrationRun", "calibration_experiment", "plot_calibration", "confidence_gaps",
    "calibration_verdicts",
    # section 8: the sweep
    "targets_vs_labels", "SWEEP", "sweep_card", "sweep_summary", "plot_temperature_sweep", "sweep_reading",
    "sweep_verdicts", "gap_and_agreement", "plot_gap_and_agreement", "gap_reading", "gap_verdicts", "live_vs_stored",
    # the exercises
    "RATIO_LOGITS", "check_ratio_e", "check_two_bits", "check_learning_rate_like", "check_shrink_factor",
    "check_kd_loss", "check_gap_shrink", "check_accuracy_changes", "check_gain",
]
