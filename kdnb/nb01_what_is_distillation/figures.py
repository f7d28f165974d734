"""Notebook 01's figures and its explorer.

* :func:`plot_cost_vs_accuracy`: what each model costs (latency) against what it gets (accuracy), 003-8.
* :func:`plot_epoch_timing`: seconds per epoch with and without the teacher's cached logits, 003-7.
* :func:`transfer_widget`: the transfer explorer (a slider over the student's label count; it
  reads the stored table and never trains); :func:`plot_transfer` is its static twin, drawn by
  the same :func:`transfer_bars` and :func:`update_transfer_bars`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..evaluation import size_words
from ..i18n import _
from ..plots import ALONE, DISTILLED, TEACHER, subplots
from ..seeds import Spread
from ..widgets import Explorer, new_figure, slider_layout
from .display import model_label

__all__ = ["plot_cost_vs_accuracy", "plot_epoch_timing", "transfer_bars", "update_transfer_bars", "plot_transfer",
           "transfer_widget"]


def plot_cost_vs_accuracy(table: pd.DataFrame, latency_col: str = "latency, 1 image (ms)", ax=None, figsize=(7.5, 4.2)):
    """Test accuracy against latency (log scale), one point per model, marker area ~ parameters (003-8)."""
    fig, ax = subplots(ax, figsize)
    colors = [TEACHER if "teacher" in n else DISTILLED if "distilled" in n else ALONE for n in table.index]
    sizes = 60 + 600 * np.sqrt(table["parameters"] / table["parameters"].max())
    ax.scatter(table[latency_col], table["test accuracy (%)"], s=sizes, c=colors, alpha=0.8, zorder=3)
    for name, x, y, p, s in zip(table.index, table[latency_col], table["test accuracy (%)"], table["parameters"], sizes):
        ax.annotate(_("{name}\n{k:,.0f}k parameters").format(name=model_label(name), k=p / 1e3), (x, y), xytext=(6 + np.sqrt(s) / 2, -4), textcoords="offset points",
                    fontsize=10, va="center")  # the label starts just past the marker's edge
    ax.set_xscale("log")
    lo, hi = table[latency_col].min(), table[latency_col].max()
    ax.set_xlim(lo / 1.6, hi * 5)
    ticks = [t for t in (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if lo / 1.6 <= t <= hi * 5]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ymin, ymax = table["test accuracy (%)"].min(), table["test accuracy (%)"].max()
    ax.set_ylim(ymin - 0.8, ymax + 0.8)
    ax.set_xlabel(_latency_label(latency_col))
    ax.set_ylabel(_("test accuracy (%)"))
    ax.set_title(_("What you pay (latency) and what you get (accuracy)"), loc="left")
    fig.tight_layout()
    return fig


def _latency_label(latency_col: str) -> str:
    """The x label for ``latency_col`` ("latency, 1 image (ms)": "latency for 1 image (ms, log scale)"), translated."""
    what = size_words(latency_col) or latency_col
    return _("latency for {what} (ms, log scale)").format(what=what)


def plot_epoch_timing(table: pd.DataFrame, ax=None, figsize=(8, 3.6)):
    """Seconds per epoch: plain training, KD from cached logits, KD running the teacher every step (003-7)."""
    modes = [("plain", ALONE, _("plain training (labels)")), ("cached", DISTILLED, _("KD, teacher logits cached")),
             ("teacher every step", TEACHER, _("KD, teacher run every step"))]
    fig, ax = subplots(ax, figsize)
    y = np.arange(len(table))
    h = 0.26
    for k, (col, color, label) in enumerate(modes):
        ax.barh(y + (k - 1) * h, table[col], height=h, color=color, label=label)
        for yi, v in zip(y + (k - 1) * h, table[col]):
            ax.annotate(_("{v:.2f} s").format(v=v), (v, yi), xytext=(4, 0), textcoords="offset points", va="center", fontsize=10)
    ax.set_yticks(y, [model_label(n) for n in table.index])
    ax.invert_yaxis()
    ax.set_xlabel(_("seconds per epoch (3,500 images, this CPU)"))
    ax.set_xlim(0, table[[m[0] for m in modes]].to_numpy().max() * 1.15)
    ax.legend(loc="upper center", bbox_to_anchor=(0.45, -0.22), ncol=3, fontsize=10)
    ax.set_title(_("What the teacher costs during distillation"), loc="left")
    fig.tight_layout()
    return fig


def transfer_bars(summary: pd.DataFrame, ax) -> dict:
    """Draw the transfer bars once, empty, on ``ax`` (student alone vs distilled, with seed ranges)."""
    names = [_("student alone\n(its labels only)"), _("distilled\n(teacher: 28x28, all 3,500 labels)")]
    bars = ax.bar([0, 1], [0, 0], color=[ALONE, DISTILLED], width=0.6)
    ranges = [ax.plot([x, x], [0, 0], color="black", lw=2)[0] for x in (0, 1)]
    texts = [ax.text(x, 0, "", ha="center", va="bottom", fontsize=12) for x in (0, 1)]
    ax.set_xticks([0, 1], names)
    lo = min(summary.alone_min.min(), summary.kd_min.min())
    ax.set_ylim(max(0, lo - 8), 100)
    ax.set_ylabel(_("test accuracy on 14x14 images (%)"))
    title = ax.set_title(" \n ", loc="left", fontsize=12)
    return {"bars": bars, "ranges": ranges, "texts": texts, "title": title,
            "dynamic": list(bars.patches) + ranges + texts + [title]}


def update_transfer_bars(artists: dict, summary: pd.DataFrame, labels: int) -> dict:
    """Move the transfer bars to label count ``labels``; return the numbers shown."""
    row = summary.loc[labels]
    shown = {prefix: Spread.from_row(row, prefix) for prefix in ("alone", "kd")}
    for k, s in enumerate(shown.values()):
        artists["bars"][k].set_height(s.mean)
        artists["ranges"][k].set_ydata([s.lo, s.hi])
        artists["texts"][k].set_position((k, s.hi + 0.4))
        artists["texts"][k].set_text(f"{s.mean:.1f}%")
    artists["title"].set_text(_("Student sees 14x14 images, {labels:,} of 3,500 labelled: {gain:+.1f} points\n"
                                "(bars: mean of {seeds} seeds; lines: min to max)").format(
        labels=int(labels), gain=row.gain_mean, seeds=int(row.seeds)))
    return {"labels": int(labels), "alone": shown["alone"].mean, "distilled": shown["kd"].mean, "gain": float(row.gain_mean)}


def plot_transfer(summary: pd.DataFrame, labels: int, ax=None, figsize=(7.5, 4.5)):
    """The transfer explorer's static twin: the bars at one label count."""
    fig, ax = subplots(ax, figsize)
    update_transfer_bars(transfer_bars(summary, ax), summary, labels)
    fig.tight_layout()
    return fig


def transfer_widget(summary: pd.DataFrame, figsize=(7.5, 4.5)) -> Explorer:
    """Try it: a slider over the number of labels the student gets; the bars read the stored results.

    The update only looks numbers up; nothing trains. ``explorer.controls["labels"].value = 300``
    drives it; ``explorer.state`` holds what it shows.
    """
    import ipywidgets as w

    fig = new_figure(figsize)
    counts = [int(n) for n in summary.index]
    artists = transfer_bars(summary, ax=fig.add_subplot())
    fig.tight_layout()
    slider = w.SelectionSlider(options=counts, value=counts[0], description=_("labels"), continuous_update=True,
                               layout=slider_layout())
    return Explorer(fig, {"labels": slider}, lambda labels: update_transfer_bars(artists, summary, labels),
                    lambda: artists["dynamic"])
