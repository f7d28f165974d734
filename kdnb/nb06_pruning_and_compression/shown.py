"""What notebook 06 shows in the reader's language: its tables' labels and the sentences its cells print.

A table of this room is a :class:`Shown` DataFrame: code and tests read its English column and
row names as ever, and only its display (HTML and text) goes through :func:`kdnb.i18n._`, so in
Chinese the reader sees Chinese headers, row names and words. :func:`said` prints the sentences
of the notebook's cells (their English is kept byte for byte).
"""

from __future__ import annotations


import pandas as pd
import torch

from ..i18n import N_, _
from ..shown import ShownTable, template_label

# Labels that are shown only through a Shown table (the rest are marked where they are defined).
LABELS = (
    N_("kind"), N_("shape"), N_("name"), N_("parameter (trained)"), N_("buffer (saved, not trained)"),
    N_("plain attribute: weight_orig * weight_mask"), N_("forward pre-hook (recomputes weight)"),
    N_("weights"), N_("zero"), N_("sparsity (%)"), N_("all Linear weights"),
    N_("pruned by L1"), N_("pruned by L2"), N_("weights where the masks differ"), N_("identical masks"),
    N_("single weights (unstructured)"), N_("whole neurons (rows, ln_structured)"),
    N_("method"), N_("sparsity"), N_("points against one-shot + fine-tune"), N_("verdict"),
    N_("ahead, seed ranges apart"), N_("behind, seed ranges apart"), N_("ahead on the mean, ranges overlap"),
    N_("behind on the mean, ranges overlap"),
    N_("MB"), N_("bytes"), N_("times smaller than dense"), N_("model"),
    N_("latency, batch 1 (ms)"), N_("latency, batch 256 (ms)"), N_("speed-up, batch 1"), N_("speed-up, batch 256"),
    N_("bytes on disk"), N_("test accuracy (%)"), N_("batch 1"), N_("batch 256"), N_("against float32, one thread"),
    N_("float32"), N_("int8, dynamic"),
    N_("regime"), N_("hidden"), N_("teacher's test accuracy (%)"), N_("its argmax right on the unlabelled images (%)"),
    N_("no unlabelled images"), N_("slim model"), N_("points, paired by seed: mean [min, max]"),
    N_("teacher saw all labels: unlabelled images, hard pseudo-labels"), N_("teacher saw all labels: softness on top"),
    N_("teacher saw all labels: total"), N_("teacher saw 300: unlabelled images, hard pseudo-labels"),
    N_("teacher saw 300: softness on top"), N_("teacher saw 300: total"),
    N_("the teacher's extra labels (soft targets)"),
    N_("built here (%)"), N_("table, seed 0 (%)"), N_("test accuracy, % [min, max]"), N_("parameters"),
    N_("non-zero"), N_("KB on disk"), N_("times smaller"), N_("ms, batch 1"), N_("ms, batch 256"),
    N_("zipped bytes"), N_("accuracy (%)"), N_("min"), N_("max"),
)

#: Speed words a table builds from a template ("faster (2.1x)").
SPEED_WORDS = (N_("as fast ({ratio})"), N_("faster ({ratio})"), N_("slower ({ratio})"))

#: Names from code that a table shows as they are (a layer's attributes, in :func:`anatomy`).
_CODE_NAMES = {"weight", "bias"}


def _word(label):
    return label if isinstance(label, str) and label in _CODE_NAMES else ShownTable.label(label)


#: One label or cell of a table in the reader's language: its catalog entry or its speed word's (anything
#: not a string, and the attribute names of :data:`_CODE_NAMES`, unchanged).
tr = template_label(SPEED_WORDS, fallback=_word)


class Shown(ShownTable):
    """A DataFrame that keeps its English labels for code and shows them in the reader's language."""

    label = staticmethod(tr)


def shown(frame: pd.DataFrame) -> Shown:
    """``frame`` as a :class:`Shown` table (same data; shown in the reader's language)."""
    return Shown(frame)


#: The sentences the notebook's cells print, by key (:func:`said`).
PHRASES = {
    "before": N_("before:"),
    "after prune": N_("after prune.l1_unstructured:"),
    "after remove": N_("after prune.remove:"),
    "small weights": N_("share of the teacher's weights with |w| < 0.1: {share:.1%}"),
    "live 90": N_("90% sparse, live: {live:.1f}%; curve: {curve:.1f}%"),
    "rounds": N_("each of the {rounds} iterative rounds gets {per_round:.1f} epochs before the next cut "
                 "(the last round: {last:.1f})"),
    "live method": N_("{method}, 90%, seed 0: live {live:.1f}%, table {table:.1f}%"),
    "non-zero": N_("non-zero parameters: pruned {pruned:,}, 'restored' {restored:,}, dense {dense:,}"),
    "restored": N_("the 'restored' model is the dense teacher, bit for bit: {same}"),
    "slim": N_("slim model: {units} units; same outputs as the masked model up to float error: {same}"),
    "gap": N_("the distilled 1x100 against the same 1x100 trained alone: {gap:+.1f} points"),
}


def said(key: str, **values) -> str:
    """The cell sentence ``key`` of :data:`PHRASES` with ``values`` filled in, in the reader's language
    (a value that is a label, such as a method's name, is translated too)."""
    values = {k: tr(v) for k, v in values.items()}
    return _(PHRASES[key]).format(**values)


def teacher_line(name: str, description: str, params: int, acc: float) -> str:
    """Section 1's line about the dense teacher (``acc`` in 0..1)."""
    return _("{name}: {description}, {params:,} parameters, test accuracy {acc:.1f}%").format(
        name=name, description=description, params=params, acc=100 * acc)


def prune_facts(layer, before: torch.Tensor) -> str:
    """What ``prune.l1_unstructured`` left in ``layer`` (two lines: ``weight_orig`` and the product)."""
    same = torch.equal(layer.weight_orig, before)
    product = torch.equal(layer.weight, layer.weight_orig * layer.weight_mask)
    zeros = float((layer.weight == 0).float().mean())
    return (_("weight_orig still holds every original value: {same}").format(same=same) + "\n"
            + _("weight = weight_orig * weight_mask: {product}, {zeros:.0%} zeros").format(product=product, zeros=zeros))


def curve_readout(curve: pd.DataFrame) -> str:
    """Two lines read off the one-shot curve: accuracy at 50, 90 and 99% and whether global beats layer by layer."""
    at = curve.set_index("sparsity")
    acc = lambda s: 100 * at.loc[s].global_test  # noqa: E731
    return (_("pruned once, no retraining: test accuracy {a50:.1f}% at 50%, {a90:.1f}% at 90%, {a99:.1f}% at 99% "
              "sparsity (dense: {a0:.1f}%)").format(a50=acc(0.5), a90=acc(0.9), a99=acc(0.99), a0=acc(0.0)) + "\n"
            + _("at 90%, global beats layer-by-layer: {beats}").format(
                beats=at.loc[0.9].global_test > at.loc[0.9].layerwise_test))


def int8_line(int8_bytes: int, dense_bytes: int, int8_acc: float, dense_acc: float) -> str:
    """Section 6's line: int8 against float32, bytes on disk and test accuracy (0..1)."""
    return _("int8: {int8_mb:.1f} MB on disk against {dense_mb:.1f} MB; test accuracy {int8_acc:.1f}% against "
             "{dense_acc:.1f}%").format(int8_mb=int8_bytes / 1e6, dense_mb=dense_bytes / 1e6, int8_acc=100 * int8_acc,
                                         dense_acc=100 * dense_acc)
