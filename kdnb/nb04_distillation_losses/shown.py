"""What notebook 04 shows the reader: its tables' labels in the reader's language, and the readouts its cells print.

The tables of this package keep English column names, row labels and values (cells and tests read them by
name); :func:`shown` makes a table a :class:`Shown`, whose display is in the reader's language. Every label a
table may show is marked here with ``N_`` so that the catalog holds it; a label that is not in the catalog stays
as it is (numbers, model names).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..i18n import N_, _, language
from ..shown import ShownTable

#: Column names, index names, row labels and values that the notebook's tables show (marked for the catalog).
LABELS = (
    # section 2: term_gradients
    N_("alpha"), N_("hard term (1 - alpha) CE"), N_("soft term alpha T^2 KL"), N_("teacher's share of the push"),
    # section 3: three_losses
    N_("loss"), N_("value"), N_("value - KL"), N_("same gradient as KL"), N_("-sum p_T log q_T (by hand)"),
    # section 4: audit_formulas, confident_mistake
    N_("formula"), N_("uses the teacher"), N_("loss after descent"), N_("KL to teacher before"), N_("KL to teacher after"),
    N_("agrees with teacher after (%)"),
    N_("squared error with the label, sum (y - q)^2 (003-5 hard)"),
    N_("seed's soft loss, sum p (log q - log p) (003-5, 003-27)"),
    N_("squared error with the teacher, sum (p - q)^2 (003-27)"),
    N_("seed's 'adversarial' loss, sum log q - log(1 - q) (003-27)"),
    N_("seed's t-weighted loss, t = 1/T = 2 (002-S3)"),
    N_("KL(p || q), the soft loss as it should be"),
    N_("wrong class ahead by (logits)"), N_("p of the true class"), N_("cross-entropy gradient norm"),
    N_("squared-error gradient norm"),
    # section 5: the traps
    N_("call"), N_("value / true KL"), N_("right"),
    N_("seed 001-5: KLDivLoss()(log q, log p)"), N_("KLDivLoss()(log q, p): default 'mean'"),
    N_("KLDivLoss('batchmean')(q, p): probabilities as input"), N_("KLDivLoss('batchmean')(log p, q): arguments swapped"),
    N_("KLDivLoss('batchmean')(log q, p): right"), N_("KLDivLoss('batchmean', log_target=True)(log q, log p): right"),
    N_("mode"), N_("largest change of a target between two calls"), N_("accuracy (%)"),
    N_("teacher forward"), N_("inside torch.no_grad()"), N_("no guard"), N_("teacher output has a graph"),
    N_("teacher tensors given a gradient"), N_("gradient bytes on the teacher"),
    N_("cached top class = label of the paired example (%)"), N_("cache in loader order, read by batch number"),
    N_("cache indexed by example"),
    N_("value / per-token KL"), N_("F.kl_div(..., 'batchmean') on (B, S, V), no padding"),
    N_("the same, flattened to (B*S, V) first"), N_("kdnb.losses.soft_loss(z, v, T, scale=False), no padding"),
    N_("with padding: KL summed over valid tokens, divided by B"), N_("with padding: kdnb.losses.soft_loss(..., mask=valid)"),
    N_("teacher.train(), inside torch.no_grad()"), N_("teacher.eval(), inside torch.no_grad()"),
    N_("largest change of running_mean"), N_("batches counted by BatchNorm"), N_("images whose top class changed"),
    # section 6: the comparison and its controls
    N_("regime"), N_("method"), N_("all labels"), N_("300 labels"), N_("hard labels"), N_("FitNets hints"),
    N_("attention transfer"), N_("cosine of hidden states"), N_("hard pseudo-labels"), N_("hard labels (300 labels only)"),
    N_("none"), N_("weight"), N_("mean"), N_("chosen"), N_("at the edge"),
    N_("test accuracy (%)"), N_("gain over hard labels"), N_("seeds better"), N_("time / epoch vs hard"),
    N_("extra_params"), N_("weight w"), N_("mean gain (points)"), N_("verdict"),
    N_("helps: better in every seed"), N_("hurts: worse in every seed"), N_("no clear effect: the seeds disagree"),
    N_("teacher"), N_("unlabelled images"), N_("top class = true label on them (%)"), N_("agrees with all training labels (%)"),
    N_("student's loss"), N_("gain, by seed"), N_("minus the same teacher's hard pseudo-labels"),
    N_("vs pseudo-labels, by seed"), N_("part"), N_("points"),
)


def sign_words(text: str) -> str:
    """:func:`.readings.sign_verdict`'s English words in the reader's language ("better in 1, equal in 4 of 5 seeds")."""
    if text in ("better in every seed", "worse in every seed", ""):
        return _(text) if text else text
    m = re.fullmatch(r"(.*) of (\d+) seeds", text)
    if not m:
        return _(text)
    words = {"better": N_("better in {k}"), "worse": N_("worse in {k}"), "equal": N_("equal in {k}")}
    parts = []
    for part in m.group(1).split(", "):
        kind, _in, k = part.partition(" in ")
        parts.append(_(words[kind]).format(k=k) if kind in words else part)
    return _("{parts} of {n} seeds").format(parts=_(", ").join(parts), n=m.group(2))


_SIGN_WORDS = (N_("better in every seed"), N_("worse in every seed"))


def _label(value):
    """A label or text cell in the reader's language (:func:`sign_words` for a per-seed verdict); yes/no for a
    truth value; anything else (numbers, empty text) unchanged."""
    if isinstance(value, (bool, np.bool_)):
        return _("yes") if value else _("no")
    return sign_words(value) if isinstance(value, str) and value else value


class Shown(ShownTable):
    """A table of notebook 04: English for code, its labels, texts and truth values in the reader's language
    (a yes/no column reads 是/否 in Chinese; in English the display is pandas' own)."""

    label = staticmethod(_label)


def shown(table: pd.DataFrame) -> Shown:
    """``table`` as a :class:`Shown`: the same English labels and values for code, its display in the reader's language."""
    return Shown(table)


# ---------------------------------------------------------------------------------------------------------------------
# The readouts the notebook's cells print
# ---------------------------------------------------------------------------------------------------------------------


def report_accuracies(labels, teacher_cnn, teacher_mlp, student) -> None:
    """Section 1: the test accuracy of both teachers and of the two-epoch student, one line each."""
    names = (_("teacher cnn-mnist"), _("teacher mlp-mnist"), _("student after 2 epochs"))
    for name, z in zip(names, (teacher_cnn, teacher_mlp, student)):
        acc = 100 * (z.argmax(1) == labels).float().mean()
        print(_("{name}: {acc:.0f}% of the {n:,} test images").format(name=name, acc=acc, n=len(labels)))


def report_entropy(three: pd.DataFrame, T: float = 4.0) -> None:
    """Section 3: the teacher's mean entropy, the constant between soft CE and KL."""
    print(_("teacher's mean entropy H(p_T) at T = {T:g}: {h:.3f} nats").format(T=T, h=three.attrs["teacher_entropy"]))


def report_gap(n: int, T: float, ce_minus_kl, gap) -> None:
    """Solution 3.1: CE - KL computed with both losses beside the reader's ``entropy_gap``."""
    print(_("{n} test images at T = {T:g}: CE - KL = {d:.3g}, entropy_gap = {g:.3g} nats").format(
        n=n, T=T, d=float(ce_minus_kl), g=float(gap)))


def report_flip(end: pd.DataFrame, steps: int) -> None:
    """Section 4: where each sign leaves the student after ``steps`` steps (``end``: the last row per loss)."""
    parts = [_("{loss}: KL {kl:.2g}, agreement {agree:.0f}%").format(loss=_(k), kl=r["KL to teacher (T = 1)"],
                                                                       agree=100 * r["agrees with teacher"])
             for k, r in end.iterrows()]
    print(_("after {steps} steps: {parts}").format(steps=steps, parts=_("; ").join(parts)))


def report_three_args(out: dict) -> None:
    """Section 5.3: the error of seed 004-1's call, and the soft cross-entropy written as PyTorch takes it."""
    print(out["error"])
    print(_("soft targets as the target argument: {ce:.3g}, the same sum by hand: {hand:.3g}").format(
        ce=out["soft_ce"], hand=out["by_hand"]))


def report_sequence(seq: pd.DataFrame) -> None:
    """Section 5.5: the sequence length and the valid tokens per sequence behind the ratios."""
    print(_("S = {S} tokens per sequence; with padding, {valid:.3g} valid tokens per sequence on average").format(
        S=seq.attrs["S"], valid=seq.attrs["valid_per_sequence"]))


def report_edge(trials: pd.DataFrame) -> None:
    """Section 6: the methods whose chosen weight is the smallest or largest candidate."""
    edge = sorted({m for (m, w), r in trials.iterrows() if r["at the edge"]})
    print(_("chosen at the edge of the candidates (a weight beyond them was not tried):"),
          _(", ").join(_(m) for m in edge) or _("none"))


def report_live(live: dict, shipped) -> None:
    """Section 6: the live run beside the table's."""
    print(_("live: {live:.1f}%, table: {table:.1f}%, {sec:.2f} s per epoch here").format(
        live=100 * live["test_acc"], table=100 * shipped["test_acc"], sec=live["epoch_seconds"]))


_SUBSET = (N_("same data set and split"), N_("teacher's labelled images"), N_("student's labelled images"), N_("same images"))


def report_subset(subset: dict) -> None:
    """Section 6: :func:`.comparison.fair_teacher_subset`'s answers, on one line."""
    yes_no = {True: _("yes"), False: _("no")} if language() == "zh" else {}
    print(_(", ").join(_("{key}: {value}").format(key=_(k), value=yes_no.get(v, v) if isinstance(v, bool) else v)
                       for k, v in subset.items()))


_WORDS = (N_("yes"), N_("no"))
