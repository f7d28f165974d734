"""Figures that two or more notebooks share, the workbook's colours, and its style.

Every figure function is ``plot_*(…, ax=None)`` (``axes=None`` when it needs several panels):
given axes it draws into them, so figures compose; without, it makes a figure of
``figsize``. It returns the Figure. Figures that belong to one notebook live in that
notebook's module, beside the data they draw.

Importing :mod:`kdnb` changes no matplotlib setting: a notebook's set-up calls
:func:`use_style` to apply the workbook's style (sized for a projector).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import fonts
from .i18n import _

__all__ = ["ALONE", "DISTILLED", "TEACHER", "SMOOTHED", "HARD", "STYLE", "use_style", "subplots",
           "plot_seed_results", "plot_digits"]

ALONE = "#8c8c8c"      # the student trained on labels alone
DISTILLED = "#d95f02"  # the distilled student
TEACHER = "#1b9e77"    # the teacher
SMOOTHED = "#7570b3"   # label smoothing, and the label-smoothed teacher
HARD = "#444444"       # one-hot labels

#: The workbook's matplotlib settings: large enough text for a projector, light grids, no top/right spines.
STYLE = {
    "figure.dpi": 100, "font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "xtick.labelsize": 11,
    "ytick.labelsize": 11, "legend.fontsize": 11, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.alpha": 0.3, "legend.frameon": False,
}


def use_style() -> None:
    """Apply :data:`STYLE` to matplotlib (each notebook's set-up calls this once).

    It also registers the shipped Chinese font (:mod:`kdnb.fonts`) behind DejaVu Sans, so a
    Chinese label draws on any machine: each character DejaVu lacks falls back to it.
    """
    plt.rcParams.update(STYLE)
    family = fonts.register()
    plt.rcParams["font.family"] = ["DejaVu Sans", family]
    plt.rcParams["font.sans-serif"] = ["DejaVu Sans", family]


def subplots(ax=None, figsize=(7, 4), nrows: int = 1, ncols: int = 1, **kwargs):
    """``(fig, ax)``: the given axes and their figure, or a new figure of ``figsize``.

    With ``nrows * ncols > 1`` and ``ax`` given, ``ax`` must hold that many axes.
    """
    if ax is None:
        return plt.subplots(nrows, ncols, figsize=figsize, **kwargs)
    n = np.size(ax)
    if n != nrows * ncols:
        raise ValueError(f"this figure needs {nrows * ncols} axes, got {n}")
    first = np.ravel(ax)[0] if n > 1 else (ax[0] if isinstance(ax, (list, tuple, np.ndarray)) else ax)
    if kwargs.get("squeeze") is False:
        ax = np.asarray(ax, dtype=object).reshape(nrows, ncols)
    return first.figure, ax


def plot_seed_results(results: pd.DataFrame, summaries: dict[str, str] | None = None, ax=None, figsize=(9, 4.5)):
    """Test accuracy per seed, student alone vs distilled, one row per setting.

    Each dot is one seed; the bar is the mean. Non-overlapping clouds mean a gain that is
    larger than the seed-to-seed noise.
    """
    settings = list(dict.fromkeys(results["setting"]))
    fig, ax = subplots(ax, figsize)
    for row, name in enumerate(settings):
        part = results[results["setting"] == name]
        for offset, col, color, label in ((0.15, "alone_test", ALONE, _("student alone (hard labels)")),
                                          (-0.15, "kd_test", DISTILLED, _("distilled student"))):
            values = 100 * part[col].to_numpy()
            ax.scatter(values, np.full(len(values), row + offset), color=color, s=36, alpha=0.85,
                       label=label if row == 0 else None, zorder=3)
            ax.plot([values.mean()] * 2, [row + offset - 0.12, row + offset + 0.12], color=color, lw=3, zorder=4)
        gain = 100 * (part["kd_test"] - part["alone_test"]).mean()
        ax.annotate(_("{gain:+.1f} pts").format(gain=gain), (100 * part[["alone_test", "kd_test"]].to_numpy().max(), row),
                    xytext=(8, 0), textcoords="offset points", va="center", fontsize=12)
    ax.set_yticks(range(len(settings)), settings, fontsize=12, fontweight="bold")
    if summaries:
        for row, name in enumerate(settings):
            text = summaries.get(name, "")
            ax.annotate((_(text) if text else "").replace("->", "→"), (0, row + 0.42), xycoords=("axes fraction", "data"),
                        xytext=(4, 0), textcoords="offset points", fontsize=11, color="#444444", va="center")
    ax.invert_yaxis()
    ax.set_ylim(len(settings) - 0.4, -0.6)
    ax.set_xlabel(_("test accuracy on the held-out split (%)"))
    ax.set_title(_("Does distillation help? {n} seeds per setting (dots) and their mean (bars)").format(
        n=results["seed"].nunique()), loc="left")
    ax.legend(loc="lower right", fontsize=11)
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo, hi + 0.12 * (hi - lo))
    fig.tight_layout()
    return fig


def plot_digits(split, n_per_class: int = 1, axes=None, figsize=(10, 1.6)):
    """The first ``n_per_class`` images of each class in a split, one column per class."""
    classes = sorted(set(split.y.tolist()))
    fig, axes = subplots(axes, figsize, n_per_class, len(classes), squeeze=False)
    for col, c in enumerate(classes):
        idx = (split.y == c).nonzero().flatten()[:n_per_class]
        for row, i in enumerate(idx.tolist()):
            ax = axes[row, col]
            ax.imshow(split.X[i, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
            ax.axis("off")
            if row == 0:
                ax.set_title(str(c))
    fig.tight_layout()
    return fig
