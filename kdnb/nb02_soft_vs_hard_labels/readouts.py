"""What notebook 02's cells print and show, in the reader's language (:mod:`kdnb.i18n`).

The cells compute their numbers and hand them to :func:`say`, which prints one sentence of
:data:`MESSAGES`. The room's tables are :class:`Shown` tables (:class:`kdnb.shown.ShownTable`):
code reads their English labels and cells, and only their display goes through the catalog;
:func:`shown` makes a table a cell builds one too. :func:`teachers_table`, :func:`missing_class_runs`
and :func:`few_examples_spec` are the tables a cell used to type.
"""

from __future__ import annotations

import pandas as pd

from ..i18n import N_, _
from ..models import describe
from ..shown import ShownSeries as BaseShownSeries
from ..shown import ShownTable, template_label, translated

__all__ = ["MESSAGES", "LABELS", "tr", "Shown", "ShownSeries", "say", "shown", "teachers_table", "missing_class_runs",
           "few_examples_spec"]

#: One sentence per readout of the notebook, by key: ``say(key, **values)`` prints it.
MESSAGES = {
    "subset": N_("MNIST subset: {train:,} training, {val} validation and {test:,} test images"),
    "runner_up": N_("For test image {example} (a {label}), the teacher's runner-up class is {runner_up}: "
                    "probability {p1:.1e} at T=1 and {p4:.2f} at T=4."),
    "true_class": N_("Mean probability of the true class over the test split: {p1:.2f} at T=1, {p4:.2f} at T=4."),
    "same_top": N_("Same top class at T=1 and T=4 on every test image: {same}"),
    "shuffle": N_("alpha = {alpha}, T = {T:g}: shuffling the labels changes the loss: {changed}; "
                  "it changes the gradient by {change:.0%} of its norm"),
    "hard_share": N_("the hard term has weight {weight:.1f} and makes up {share:.0%} of the gradient's norm here"),
    "teacher_wrong": N_("the teacher's top class disagrees with the label on {wrong} of {n:,} training images"),
    "pairs": N_("Digit pairs the teacher finds most alike (T=4): {pairs}"),
    "seven": N_("It thinks a 7 looks most like a {most} ({p_most:.2f}) and least like a {least} ({p_least:.1g})."),
    "ambiguous": N_("{wrong} of these {n} images are misclassified by the teacher; "
                    "their entropies range from {lo:.1f} to {hi:.1f} bits."),
    "val_vs_test": N_("off-diagonal pattern, validation vs test images: correlation {r:.2f} (log scale)"),
    "symmetry": N_("P(b | image of a) vs P(a | image of b): correlation {r:.2f} (similarity runs both ways, not perfectly)"),
    "bits": N_("At T=1 the teacher's soft labels carry {h1:.2f} bits per image on average; "
               "at T=4, {h4:.2f} bits (the maximum for 10 classes is {hmax:.2f})."),
    "smoothing_bits": N_("Label smoothing with eps=0.1 has {h:.2f} bits of entropy."),
    "logit_scale": N_("the plain teacher's logits are {scale:.1f} times as spread as the label-smoothed teacher's "
                      "(mean per-image standard deviation)"),
    "teacher_Ts": N_("temperatures tried for each teacher: {Ts}"),
    "smoothing_gap": N_("label-smoothed minus plain teacher's distilled student: {gap:+.1f} points, mean [min, max] over seeds"),
    "top_wrong": N_("{name:>15} teacher: top class wrong on {train} training images and {test} test images"),
    "whole_target": N_("the whole target for a 4: {target}"),
    "transfer": N_("transfer set: {n:,} images, {threes} of them 3s"),
    "mass3": N_("the teacher's soft targets at T={T:g} still put {mass:.0f} units of probability on class 3 "
                "(mean {mean:.2f} per image, highest on average for the {most}s); at T=1 the median image gives "
                "class 3 a probability of about 10^{power:.0f}"),
    "hard_curve": N_("hard labels only: at most {best} threes right for any increase from {lo:g} to {hi:g}"),
    "kd_curve": N_("distilled: {right} threes right at the validation choice +{chosen:g}; {best} at best, "
                   "at a cost of {errors} errors at +{hi:g}"),
    "at_paper_bias": N_("{student:>17}, bias +3.5 (the paper's value): {right} of {total} threes right, {errors} errors"),
    "few_gain": N_("fixed budget: soft minus hard = {gain:+.1f} points, mean [min, max] over {n} seeds"),
    "few_paper": N_("paper (speech, frame accuracy, one run): hard {hard}%, soft {soft}% ({gain:+.1f} points); "
                    "the model trained on all the data: {all}%"),
    "few_ce": N_("{name:>12}: mean validation cross-entropy lowest {lowest:.2f} (epoch {epoch}), "
                 "{last:.2f} at epoch {last_epoch} ({rise:+.2f})"),
}

#: Labels the cells write themselves (dictionary keys, names in loops) and tables show: marked
#: here so that :func:`shown` and :func:`say` find them in the catalog.
LABELS = (N_("hard label (one-hot)"), N_("label smoothing, eps=0.1"), N_("teacher, T=1"), N_("teacher, T=4"),
          N_("label-smoothed teacher, T=1"), N_("label-smoothed teacher, T=4"), N_("plain teacher"),
          N_("label-smoothed teacher"), N_("plain"), N_("label-smoothed"), N_("student alone (%)"), N_("distilled (%)"),
          N_("seeds"), N_("distilled"), N_("hard labels only"), N_("hard labels"), N_("soft targets"), N_("targets"),
          N_("setting"), N_("pair"), N_("score"), N_("P(b | image of a)"), N_("P(a | image of b)"), N_("target"),
          N_("entropy (bits/example)"), N_("wrong-class mass"), N_("wrong-class uniformity (0-1)"), N_("one vector per class"),
          N_("off-diagonal correlation (log scale)"), N_("uniformity, plain teacher"), N_("uniformity, label-smoothed teacher"),
          N_("spread, log10(max/min), plain"), N_("spread, log10(max/min), label-smoothed"))


#: Labels a table builds from a template (the template is the message id).
TEMPLATES = (N_("teacher, T={T:g}"),)

#: One label or text cell in the reader's language: its catalog entry, or its template's; anything else as it is.
tr = template_label(TEMPLATES)


class Shown(ShownTable):
    """A table of this notebook: code reads its English labels and cells, the reader sees them in their language."""

    label = staticmethod(tr)


class ShownSeries(BaseShownSeries):
    """A column of this notebook (a run's configuration) whose :meth:`~pandas.Series.to_frame` is a :class:`Shown` table."""

    table = Shown


def say(key: str, **values) -> None:
    """Print the readout ``MESSAGES[key]`` with ``values`` (text values are translated when the catalog has them)."""
    print(_(MESSAGES[key]).format(**{k: tr(v) for k, v in values.items()}))


def shown(table):
    """``table`` for display in the reader's language: a DataFrame as a :class:`Shown` table (the same data, its
    English labels kept for code); a Series as a copy with its labels, index names and name translated."""
    if isinstance(table, pd.Series):
        out = translated(table.to_frame(), tr).iloc[:, 0]
        out.name = tr(table.name)
        return out
    return Shown(table)


def teachers_table(manifest: dict, n_train: int, names=("cnn-mnist", "cnn-mnist-ls")) -> Shown:
    """The two teachers of the notebook: model, training data, label smoothing, test accuracy."""
    return Shown({name: {N_("model"): describe(e["model"]),
                         N_("trained on"): _("{n:,} training images, ±{px} px jitter").format(n=n_train,
                                                                                             px=e["train"]["augment"]),
                         N_("label smoothing"): e["train"].get("label_smoothing", 0.0),
                         N_("test accuracy (%)"): round(100 * e["test_accuracy"], 1)}
                  for name, e in manifest.items() if name in names}).T


def missing_class_runs(table: pd.DataFrame) -> Shown:
    """The missing-class table (``results.read("nb02_missing_class")``) as the reader sees it: one row per seed and student."""
    cols = {"seed": N_("seed"), "student": N_("student"), "errors_before": N_("errors before"),
            "class_right_before": N_("3s right before"), "delta_val": N_("bias + (val)"), "errors_after": N_("errors after"),
            "class_right_after": N_("3s right after")}
    return Shown(table[list(cols)].rename(columns=cols))


def few_examples_spec(n_train: int) -> ShownSeries:
    """Section 7's configuration as a readable column."""
    from .experiments import FEW, spec_table

    extra = {N_("training images"): _("{n} of {total:,} ({share:.0%}), class-balanced").format(
                 n=FEW["n"], total=n_train, share=FEW["n"] / n_train),
             N_("targets"): _("hard labels (alpha = 0), or the teacher's soft targets alone (alpha = 1) at T = {T:g}").format(
                 T=FEW["T"])}
    return spec_table({k: v for k, v in FEW.items() if k != "T"}, **extra)
