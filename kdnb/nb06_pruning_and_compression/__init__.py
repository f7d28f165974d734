"""Notebook 06: pruning (剪枝), quantization (量化), and what really gets smaller and faster.

Everything here prunes with the library that exists, :mod:`torch.nn.utils.prune`, and measures
the claims people make about it. This file names what the notebook's cells call (``__all__``);
the code lives beside it, one file per part of the notebook.

* ``pruning.py``, **mechanics** (sections 2, 3, 5): :func:`prune_global` (``global_unstructured``
  to an exact overall sparsity, also on a model that is already pruned), :func:`prune_neurons`
  (``ln_structured`` over the hidden neurons), :func:`anatomy` (``weight_orig``, ``weight_mask``,
  the forward pre-hook), :func:`sparsity_table`, :func:`nonzero_params`, the 004-2 trap
  (:class:`L2Unstructured`, :func:`mask_comparison`, :func:`mask_verdicts`: for single weights
  the L1 and L2 norms rank alike), and :func:`slim`, which rebuilds a smaller dense MLP from
  structured masks (the only pruning here that makes a model faster).
* ``explorer.py``, **the pruning explorer** (Try it 2.1): :func:`pruning_explorer`, a sparsity
  slider over a trained 2x1200 (a :class:`kdnb.widgets.Explorer`); accuracy is read from a
  precomputed one-shot curve (``one_shot_curve``), the histogram and per-layer bars are
  arithmetic on the sorted weights. :func:`plot_pruning` is its static twin.
* ``retraining.py``, **retraining (004-4)**: :func:`prune_and_train` runs one pruning schedule
  inside one fine-tuning run: one-shot, iterative rounds (Han et al. 2015) or the gradual cubic
  schedule (Zhu & Gupta 2017), all on the same budget :data:`FINE_TUNE`; the table's readers
  :func:`retrain_summary`, :func:`retrain_comparison`, :func:`retrain_verdicts`,
  :func:`plot_retraining`; :func:`best_method`; the dense models, :func:`dense_teacher`.
* ``size_and_speed.py``, **size and speed** (sections 5 and 6): :func:`disk_table` (dense,
  masked, removed, sparse CSR, zipped, int8), :func:`latency_table` and :func:`pruned_variants`,
  :func:`quantize_int8` (``torch.ao.quantization.quantize_dynamic``), ``torchao`` measured
  against it (:func:`backend_comparison`), and the claims (``disk_verdicts``,
  ``pruning_speed_verdicts``, ``int8_verdicts``, ``backend_verdicts``).
* ``recovery.py``, **pruning plus distillation** (section 7): a student cut out of the teacher
  by structured pruning, fine-tuned on hard labels, on the teacher's hard pseudo-labels or on its
  soft targets; with 300 labels also from a fair teacher that saw only those
  (:func:`fair_teacher_train`). :func:`recovery_summary`, :func:`recovery_teachers`,
  :func:`recovery_split` (where the gain comes from), :func:`recovery_verdicts`, :func:`plot_recovery`.
* ``compression.py``, **the compression table** (section 8): :func:`compression_models`,
  :func:`compression_table`, :func:`compression_summary`, :func:`rebuilt_accuracy`, and the claims
  (``rebuild_verdicts``, ``compression_verdicts``, ``compression_speed_verdicts``).
* ``checks.py``, **the exercises**: :func:`check_row_mask` (3.1), :func:`check_cubic_schedule`
  (4.1), :func:`check_phone_choice` and :func:`phone_rows` (8.1).
* ``shown.py``, **the reader's language**: :class:`Shown` tables keep English labels for code and
  show them translated (:mod:`kdnb.i18n`); :func:`said` and the ``*_line`` helpers print the cells' sentences.
* ``tables.py``, **the precomputed tables** ``nb06_curve``, ``nb06_retrain``, ``nb06_recovery``,
  ``nb06_compression``, ``nb06_latency`` and ``nb06_backends`` (needs ``torchao``), made by
  ``python -m kdnb.results make NAME`` into ``data/results/``.
"""

from __future__ import annotations

from .checks import check_cubic_schedule, check_phone_choice, check_row_mask, phone_rows
from .compression import (compression_models, compression_speed_verdicts, compression_summary, compression_table,
                          compression_verdicts, distillation_gap, rebuild_verdicts, rebuilt_accuracy)
from .explorer import plot_pruning, pruning_explorer
from .pruning import (L2Unstructured, anatomy, clone, linear_layers, mask_comparison, mask_verdicts, nonzero_params,
                      prunable, prune_global, prune_neurons, slim, sparsity_table)
from .recovery import (fair_teacher_train, plot_recovery, recovery_summary, recovery_split, recovery_teachers,
                       recovery_verdicts)
from .retraining import (BASE, FINE_TUNE, ROUNDS, best_method, dense_teacher, plot_retraining, prune_and_train,
                         retrain_comparison, retrain_summary, retrain_verdicts, round_epochs)
from .shown import curve_readout, int8_line, prune_facts, said, shown, teacher_line
from .size_and_speed import (backend_comparison, backend_verdicts, disk_table, disk_verdicts, int8_verdicts,
                             latency_table, pruned_variants, pruning_speed_verdicts, quantize_int8, saved_bytes)

__all__ = [
    # set-up and mechanics (sections 1-3)
    "BASE", "dense_teacher", "linear_layers", "clone", "prunable", "prune_global", "prune_neurons", "anatomy",
    "sparsity_table", "nonzero_params", "L2Unstructured", "mask_comparison", "mask_verdicts", "slim",
    # the explorer (Try it 2.1)
    "pruning_explorer", "plot_pruning",
    # retraining (section 4)
    "FINE_TUNE", "ROUNDS", "round_epochs", "prune_and_train", "best_method", "plot_retraining", "retrain_summary",
    "retrain_comparison", "retrain_verdicts",
    # size, speed and int8 (sections 5 and 6)
    "disk_table", "disk_verdicts", "pruned_variants", "latency_table", "pruning_speed_verdicts", "quantize_int8",
    "saved_bytes", "int8_verdicts", "backend_comparison", "backend_verdicts",
    # pruning plus distillation (section 7)
    "fair_teacher_train", "plot_recovery", "recovery_summary", "recovery_teachers", "recovery_split", "recovery_verdicts",
    # the compression table (section 8)
    "compression_models", "rebuilt_accuracy", "rebuild_verdicts", "compression_table", "compression_summary",
    "distillation_gap", "compression_verdicts", "compression_speed_verdicts",
    # the exercises
    "check_row_mask", "check_cubic_schedule", "check_phone_choice", "phone_rows",
    # what the cells print and show, in the reader's language
    "shown", "said", "teacher_line", "prune_facts", "curve_readout", "int8_line",
]
