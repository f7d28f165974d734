"""Section 2: the steps of distillation (003-17, 002-S3), each with what it produced in this workbook."""

from __future__ import annotations

import pandas as pd

from .. import data as kdata
from .. import recipe, results
from ..i18n import _
from ..teachers import read_manifest


def pipeline_steps(dataset: kdata.Dataset, teacher_name: str = "mlp-mnist") -> pd.DataFrame:
    """The four steps, each with what it produced, read from the shipped teacher and tables.

    1. pretrain the teacher (shipped, with its manifest); 2. compute its soft labels once;
    3. train the student on kd_loss; 4. choose T (and alpha) on the validation split.
    """
    entry = read_manifest()[teacher_name]
    runs = results.read("recipe_temperature_selection")
    runs = runs[runs.setting == "default"]
    chosen = float(recipe.select_T(runs).loc["default"])
    at = runs[runs["T"] == chosen]
    return pd.DataFrame([
        {"step": _("1 · pretrain the teacher (教师模型), then freeze it"),
         "what came out": _("{teacher}: {params:,} parameters, test accuracy {acc:.1f}% (trained on the 3,500 training images)").format(
             teacher=teacher_name, params=entry['params'], acc=100 * entry['test_accuracy'])},
        {"step": _("2 · soften its outputs once: soft labels (软标签) p_T = softmax(v / T)"),
         "what came out": _("a {n:,} x {k} table of logits, cached; no teacher pass per step").format(
             n=len(dataset.train), k=dataset.num_classes)},
        {"step": _("3 · train the student on (1 - α)·CE + α·T²·KL"),
         "what came out": _("1x100 MLP, {seeds} seeds per T, test accuracy {kd:.1f}% at the chosen T (hard labels alone: "
                            "{alone:.1f}%)").format(seeds=len(runs['seed'].unique()), kd=100 * at.kd_test.mean(),
                                                     alone=100 * at.alone_test.mean())},
        {"step": _("4 · choose T on the validation split, never the test split"),
         "what came out": _("T = {T:g} out of {grid} by mean validation accuracy; inference then uses the plain softmax "
                            "(T = 1)").format(T=chosen, grid=sorted(runs['T'].unique().tolist()))},
    ])
