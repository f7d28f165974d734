"""Notebook 03's static figures: the explorer's static twin, gradients against T, calibration, the sweep.

Each ``plot_*`` takes ``ax``/``axes`` (None: a new figure) and a ``figsize``, and returns the figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import calibration
from ..i18n import _
from ..plots import ALONE, DISTILLED, subplots
from ..seeds import Spread
from .experiments import CalibrationRun
from .explorer import temperature_panel, update_temperature_panel


def plot_temperature_small_multiples(states: list[dict], models=("teacher", "student"), axes=None, figsize=(10.5, 6.6)):
    """The explorer's panel at several fixed temperatures: its static twin (two rows from four states on)."""
    nrows = 1 if len(states) <= 3 else 2
    ncols = -(-len(states) // nrows)
    fig, axes = subplots(axes, figsize, nrows, ncols, sharey=True)
    flat = np.ravel(axes)
    for ax in flat[len(states):]:
        ax.set_visible(False)
    for ax, state in zip(flat, states):
        artists = temperature_panel(ax, models)
        update_temperature_panel(artists, state, image=False)
        if ax is not flat[0]:
            ax.legend_.remove()
        for m in models:
            artists["texts"][m].set_text(_("H = {bits:.2f} bits").format(bits=state["entropy"][m]))
            artists["texts"][m].set_fontsize(10)
        artists["title"].set_text(f"T = {state['T']:g}")
        ax.set_xlabel(_("class"))
        ax.label_outer()
    fig.tight_layout()
    return fig


def plot_gradient_norms(table: pd.DataFrame, ax=None, figsize=(7, 4.2)):
    """Gradient norm of the soft loss against T (log-log), with and without the T² factor."""
    fig, ax = subplots(ax, figsize)
    T = table.index.to_numpy()
    ax.loglog(T, table["with_T2"], "o-", color=DISTILLED, label=_("T² · KL  (as trained)"))
    ax.loglog(T, table["without_T2"], "s-", color=ALONE, label=_("KL alone (no T²)"))
    ref = table["without_T2"].iloc[-1] * (T[-1] / T) ** 2
    ax.loglog(T, ref, ls="--", color="#333333", lw=1, label=_("slope −2 (∝ 1/T²)"))
    ax.set_xlabel(_("temperature T (log scale)"))
    ax.set_ylabel(_("‖∂ loss / ∂ student logits‖"))
    ax.set_title(_("Why the soft loss is multiplied by T²"), loc="left")
    ax.legend(fontsize=10)
    fig.tight_layout()
    return fig


def plot_logit_matching_gap(table: pd.DataFrame, ax=None, figsize=(7, 4.2)):
    """Relative difference between the distillation and the logit-matching gradients against T (log-log)."""
    fig, ax = subplots(ax, figsize)
    T = table.index.to_numpy()
    ax.loglog(T, table["relative_difference"], "o-", color=DISTILLED, label="‖g_KD(T) − g_logit‖ / ‖g_logit‖")
    ref = table["relative_difference"].iloc[-1] * T[-1] / T
    ax.loglog(T, ref, ls="--", color="#333333", lw=1, label=_("slope −1 (∝ 1/T)"))
    ax.set_xlabel(_("temperature T (log scale)"))
    ax.set_ylabel(_("relative difference of gradients"))
    ax.set_title(_("At high T, distillation becomes logit matching"), loc="left")
    ax.legend(fontsize=10)
    fig.tight_layout()
    return fig


def plot_reliability_diagram(tables: dict[str, pd.DataFrame], eces: dict[str, float], axes=None, figsize=(11, 4.4)):
    """Reliability diagrams side by side: accuracy per confidence bin against the diagonal.

    Bars below the diagonal are over-confident bins. The title of each panel gives its ECE.
    """
    fig, axes = subplots(axes, figsize, 1, len(tables), sharey=True, squeeze=False)
    for ax, (name, table) in zip(axes[0], tables.items()):
        full = table[table["count"] > 0]
        width = table["upper"] - table["lower"]
        ax.bar(full["lower"], full["accuracy"], width=width[full.index], align="edge", color=DISTILLED,
               edgecolor="white", alpha=0.85, label=_("accuracy in the bin"))
        ax.bar(full["lower"], full["confidence"] - full["accuracy"], bottom=full["accuracy"], width=width[full.index],
               align="edge", color="none", edgecolor="#b2182b", hatch="//", lw=0.8, label=_("gap to confidence"))
        ax.plot([0, 1], [0, 1], ls="--", color="#333333", lw=1, label=_("perfect calibration"))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(_("confidence (top probability)"))
        ax.set_title(f"{name}\nECE = {100 * eces[name]:.2f}%", loc="left", fontsize=12)
    axes[0, 0].set_ylabel(_("accuracy"))
    axes[0, 0].legend(loc="upper left", fontsize=9.5)
    fig.tight_layout()
    return fig


def plot_calibration(run: CalibrationRun, axes=None, figsize=(11, 4.4)):
    """Reliability diagrams of :func:`calibration_experiment`'s 2x800 before and after temperature scaling."""
    probs = run.probabilities()
    return plot_reliability_diagram({n: calibration.reliability_table(p, run.labels) for n, p in probs.items()},
                                    {n: calibration.ece(p, run.labels) for n, p in probs.items()}, axes=axes, figsize=figsize)


def plot_gap_and_agreement(table: pd.DataFrame, axes=None, figsize=(12, 7)):
    """Train-test gap (top row) and agreement with the teacher (bottom row) against T, one column per student.

    Orange: the distilled student, its seed mean (line) and range (bars); grey: the
    label-only twin's mean (dashed; it does not depend on T). Each row shares its y axis, so the
    two students are drawn to the same scale. Reads :func:`gap_and_agreement`.
    """
    students = list(dict.fromkeys(table.index.get_level_values("student")))
    fig, axes = subplots(axes, figsize, 2, len(students), squeeze=False, sharex=True, sharey="row")
    rows = (("kd_gap", "alone_gap", _("train − test accuracy (points)"), _("overfitting: the train–test gap")),
            ("kd_agree", "alone_agree", _("agreement with the teacher (%)"), _("top-1 agreement with the teacher, test images")))
    for col, student in enumerate(students):
        part = table.xs(student, level="student")
        T = part.index.to_numpy(dtype=float)
        for row, (kd, alone, ylabel, title) in enumerate(rows):
            ax = axes[row, col]
            spreads = [Spread.from_row(r, kd) for _, r in part.iterrows()]
            mean = np.array([s.mean for s in spreads])
            err = np.array([[s.mean - s.lo for s in spreads], [s.hi - s.mean for s in spreads]])
            ax.errorbar(T, mean, yerr=err, color=DISTILLED, marker="o", lw=2, capsize=4,
                        label=_("distilled: seed mean and range"))
            ax.axhline(part[f"{alone}_mean"].iloc[0], color=ALONE, lw=2, ls="--", label=_("label-only twin (mean)"))
            ax.set_xscale("log")
            ax.set_xticks(T, [f"{t:g}" for t in T])
            ax.minorticks_off()
            ax.set_title(_("{student}: {title}").format(student=student, title=title), loc="left", fontsize=12)
            if col == 0:
                ax.set_ylabel(ylabel)
            if row == 1:
                ax.set_xlabel(_("distillation temperature T (log scale)"))
    axes[0, -1].legend(fontsize=10, loc="lower right")
    axes[0, 0].set_ylim(bottom=0)
    fig.tight_layout()
    return fig


def plot_temperature_sweep(results: pd.DataFrame, axes=None, figsize=(11, 4.4)):
    """Distilled test accuracy against T, one panel per student, each seed a dot; the label-only band in grey.

    Every panel spans the same number of points on its y axis, so the seed-to-seed scatter of
    the two students is drawn to the same scale.
    """
    students = list(dict.fromkeys(results["student"]))
    fig, axes = subplots(axes, figsize, 1, len(students), squeeze=False)
    limits = []
    for ax, student in zip(axes[0], students):
        part = results[results["student"] == student]
        alone = Spread.of(part.drop_duplicates("seed")["alone_test"], scale=100)
        ax.axhspan(alone.lo, alone.hi, color=ALONE, alpha=0.25, lw=0, label=_("label-only, {n} seeds (range)").format(n=alone.n))
        ax.axhline(alone.mean, color=ALONE, lw=1.5)
        g = part.groupby("T")["kd_test"]
        T = np.array(sorted(part["T"].unique()))
        for seed, seed_part in part.groupby("seed"):
            jitter = 1 + 0.04 * (seed - part["seed"].mean())
            ax.scatter(seed_part["T"] * jitter, 100 * seed_part["kd_test"], color=DISTILLED, s=28, alpha=0.7, zorder=3,
                       label=_("distilled, one seed") if seed == part["seed"].min() else None)
        ax.plot(T, 100 * g.mean().loc[T], color=DISTILLED, lw=2, label=_("distilled, mean"))
        ax.set_xscale("log")
        ax.set_xticks(T, [f"{t:g}" for t in T])
        ax.minorticks_off()
        ax.set_xlabel(_("distillation temperature T (log scale)"))
        ax.set_title(_("{student} student").format(student=student), loc="left")
        limits.append((min(alone.lo, 100 * part["kd_test"].min()), max(alone.hi, 100 * part["kd_test"].max())))
    span = max(hi - lo for lo, hi in limits) + 1.2
    for ax, (lo, hi) in zip(axes[0], limits):
        ax.set_ylim(lo - 0.4, lo - 0.4 + span)
    axes[0, 0].set_ylabel(_("test accuracy (%)"))
    axes[0, 0].legend(fontsize=9.5, loc="upper left")
    fig.tight_layout()
    return fig
