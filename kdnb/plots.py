"""Every figure of the workbook, sized for a projector. Functions return the matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

ALONE = "#8c8c8c"
DISTILLED = "#d95f02"
TEACHER = "#1b9e77"

plt.rcParams.update({
    "figure.dpi": 100, "font.size": 12, "axes.titlesize": 13, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "legend.frameon": False,
})


def seed_results(results: pd.DataFrame, summaries: dict[str, str] | None = None, figsize=(9, 4.5)):
    """Test accuracy per seed, student alone vs distilled, one row per setting.

    Each dot is one seed; the bar is the mean. Non-overlapping clouds mean a gain that is
    larger than the seed-to-seed noise.
    """
    settings = list(dict.fromkeys(results["setting"]))
    fig, ax = plt.subplots(figsize=figsize)
    for row, name in enumerate(settings):
        part = results[results["setting"] == name]
        for offset, col, color, label in ((0.15, "alone_test", ALONE, "student alone (hard labels)"),
                                          (-0.15, "kd_test", DISTILLED, "distilled student")):
            values = 100 * part[col].to_numpy()
            ax.scatter(values, np.full(len(values), row + offset), color=color, s=36, alpha=0.85,
                       label=label if row == 0 else None, zorder=3)
            ax.plot([values.mean()] * 2, [row + offset - 0.12, row + offset + 0.12], color=color, lw=3, zorder=4)
        gain = 100 * part["gain"].mean()
        ax.annotate(f"{gain:+.1f} pts", (100 * part[["alone_test", "kd_test"]].to_numpy().max(), row),
                    xytext=(8, 0), textcoords="offset points", va="center", fontsize=11)
    ax.set_yticks(range(len(settings)), settings, fontsize=11, fontweight="bold")
    if summaries:
        for row, name in enumerate(settings):
            ax.annotate(summaries.get(name, "").replace("->", "→"), (0, row + 0.42), xycoords=("axes fraction", "data"),
                        xytext=(4, 0), textcoords="offset points", fontsize=9.5, color="#555555", va="center")
    ax.invert_yaxis()
    ax.set_ylim(len(settings) - 0.4, -0.6)
    ax.set_xlabel("test accuracy on the held-out split (%)")
    ax.set_title(f"Does distillation help? {results['seed'].nunique()} seeds per setting (dots) and their mean (bars)", loc="left")
    ax.legend(loc="lower right", fontsize=10)
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo, hi + 0.12 * (hi - lo))
    fig.tight_layout()
    return fig


def training_curves(histories: dict[str, pd.DataFrame], column: str = "val_acc", figsize=(7, 4)):
    """One line per run: a history column (default validation accuracy) against the epoch."""
    fig, ax = plt.subplots(figsize=figsize)
    colors = {"alone": ALONE, "distilled": DISTILLED, "teacher": TEACHER}
    for name, hist in histories.items():
        color = next((c for key, c in colors.items() if key in name), None)
        scale = 100 if column.endswith("acc") else 1
        ax.plot(hist.index, scale * hist[column], marker="o", ms=3, label=name, color=color)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)" if column == "val_acc" else column)
    ax.legend()
    fig.tight_layout()
    return fig


def digits(split, n_per_class: int = 1, figsize=(10, 1.6)):
    """The first ``n_per_class`` images of each class in a split, one column per class."""
    classes = sorted(set(split.y.tolist()))
    fig, axes = plt.subplots(n_per_class, len(classes), figsize=figsize, squeeze=False)
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


# ---------------------------------------------------------------- 01 what is distillation
# (end of 01 section)


# ---------------------------------------------------------------- 02 soft vs hard labels
# (end of 02 section)


# ---------------------------------------------------------------- 03 temperature
# (end of 03 section)
