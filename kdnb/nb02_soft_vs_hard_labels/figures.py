"""Notebook 02's figures: soft vs hard targets, the class-similarity heatmaps, ambiguous images, the
missing class's bias curves and the few-examples learning curves. Each ``plot_*`` takes ``ax``/``axes``
(or draws a new figure) and returns the figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..i18n import _
from ..plots import ALONE, DISTILLED, HARD, SMOOTHED, TEACHER, subplots

__all__ = ["plot_soft_vs_hard_examples", "plot_class_similarity", "plot_similarity_side_by_side", "plot_ambiguous_images",
           "plot_missing_class_bias", "plot_few_examples_curves"]


def plot_soft_vs_hard_examples(images, labels, probs: dict, axes=None, figsize=(11, 6)):
    """Each row: a test image, its one-hot label (outline) and the teacher's soft targets at each T (003-3)."""
    n = len(labels)
    fig, axes = subplots(axes, figsize, n, 2, gridspec_kw={"width_ratios": [1, 6]}, squeeze=False)
    colors = [TEACHER, DISTILLED, SMOOTHED]
    width = 0.8 / len(probs)
    classes = np.arange(10)
    for r in range(n):
        ax_img, ax = axes[r]
        ax_img.imshow(np.asarray(images[r]).squeeze(), cmap="gray_r", vmin=0, vmax=1)
        ax_img.set_title(_("label {label}").format(label=int(labels[r])), fontsize=11)
        ax_img.axis("off")
        ax.bar(classes, (classes == int(labels[r])).astype(float), width=0.9, fill=False, edgecolor=HARD, lw=1.5,
               label=_("hard label (one-hot)") if r == 0 else None)
        for k, (name, p) in enumerate(probs.items()):
            vals = np.asarray(p[r])
            ax.bar(classes - 0.4 + width * (k + 0.5), vals, width=width, color=colors[k % 3], label=_(name) if r == 0 else None)
            second = np.argsort(vals)[-2]
            if k == len(probs) - 1:
                ax.annotate(f"{vals[second]:.2f}", (second - 0.4 + width * (k + 0.5), vals[second]), xytext=(0, 3),
                            textcoords="offset points", ha="center", fontsize=11, color=colors[k % 3])
        ax.set_ylim(0, 1.12)
        ax.set_xticks(classes)
        ax.set_ylabel(_("probability"), fontsize=11)
        ax.tick_params(labelsize=11)
    axes[-1, 1].set_xlabel(_("class (digit)"))
    fig.legend(loc="upper center", ncol=len(probs) + 1, fontsize=11, bbox_to_anchor=(0.55, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def _heatmap(ax, M, title, vmin, vmax, annotate=True):
    from matplotlib.colors import LogNorm

    A = np.asarray(M, dtype=float).copy()
    off = ~np.eye(len(A), dtype=bool)
    masked = np.ma.masked_where(~off, A)
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("#dddddd")
    im = ax.imshow(masked, cmap=cmap, norm=LogNorm(vmin=vmin, vmax=vmax))
    ax.set_xticks(range(len(A)))
    ax.set_yticks(range(len(A)))
    ax.grid(False)
    ax.set_xlabel(_("soft probability given to class"))
    ax.set_ylabel(_("true class of the image"))
    ax.set_title(title, fontsize=12)
    if annotate:
        for i in range(len(A)):
            ax.text(i, i, f"{A[i, i]:.2f}", ha="center", va="center", fontsize=10, color="#333333")
            for j in range(len(A)):
                if i != j and A[i, j] >= np.sort(A[off])[-12]:
                    dark = im.norm(A[i, j]) < 0.6  # white on the dark end of viridis, black on the yellow end
                    ax.text(j, i, f"{100 * A[i, j]:.0f}%", ha="center", va="center", fontsize=10,
                            color="white" if dark else "black", fontweight="bold")
    return im


def _plain_colorbar(fig, im, **kwargs):
    from matplotlib.ticker import FuncFormatter

    bar = fig.colorbar(im, **kwargs)
    lo, hi = im.norm.vmin, im.norm.vmax
    bar.set_ticks([t for t in (1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if lo <= t <= hi])
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    bar.ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _pos: ""))
    return bar


def plot_class_similarity(M, T: float, title: str | None = None, ax=None, figsize=(7, 6)):
    """The teacher's mean soft probabilities per true class, off-diagonal on a log colour scale.

    The grey diagonal shows the mean probability of the true class; white numbers mark the
    12 largest off-diagonal cells, in percent ("dark knowledge", Hinton et al. 2015).
    """
    A = np.asarray(M, dtype=float)
    off = A[~np.eye(len(A), dtype=bool)]
    fig, ax = subplots(ax, figsize)
    im = _heatmap(ax, A, title or _("Teacher's mean soft targets per true class, T={T:g}").format(T=T), off.min(), off.max())
    _plain_colorbar(fig, im, ax=ax, label=_("mean probability (log scale)"), shrink=0.85)
    fig.tight_layout()
    return fig


def plot_similarity_side_by_side(matrices: dict, T: float, axes=None, figsize=(13, 5.5)):
    """Two or more class-similarity matrices on one shared log colour scale (Müller et al. 2019).

    Each matrix is divided row by row by its wrong-class total, so the colours show *how the
    wrong-class mass is shared*, whatever its size: uniform rows mean no class similarity.
    """
    normed = {}
    for name, M in matrices.items():
        A = np.asarray(M, dtype=float).copy()
        np.fill_diagonal(A, 0)
        A = A / A.sum(1, keepdims=True)
        np.fill_diagonal(A, np.nan)
        normed[name] = A
    vals = np.concatenate([A[np.isfinite(A)] for A in normed.values()])
    fig, axes = subplots(axes, figsize, 1, len(normed), squeeze=False)
    for ax, (name, A) in zip(axes[0], normed.items()):
        im = _heatmap(ax, np.nan_to_num(A, nan=1.0), _(name), vals.min(), vals.max(), annotate=False)
    _plain_colorbar(fig, im, ax=axes[0].tolist(), label=_("share of the wrong-class mass (log scale)"), shrink=0.85)
    fig.suptitle(_("How each teacher spreads its wrong-class probability, T={T:g} (uniform would be 1/9 = 0.11 everywhere)").format(T=T),
                 fontsize=12)
    return fig


def plot_ambiguous_images(images, table: pd.DataFrame, axes=None, figsize=(12, 2.8)):
    """The teacher's most ambiguous test images, each titled with its label and top-2 classes."""
    n = len(table)
    fig, axes = subplots(axes, figsize, 1, n, squeeze=False)
    for ax, (_i, r) in zip(axes[0], table.iterrows()):
        ax.imshow(np.asarray(images[int(r["index"])]).squeeze(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(_("label {label}").format(label=int(r["label"]))
                     + f"\n{int(r['top1'])}: {r['p_top1']:.2f}  {int(r['top2'])}: {r['p_top2']:.2f}", fontsize=11)
        ax.axis("off")
    fig.suptitle(_("Highest-entropy test images for the teacher (T=1): label, then its top-2 classes and probabilities"), fontsize=11)
    fig.tight_layout()
    return fig


def plot_missing_class_bias(curves: dict, val_choice: dict, paper_delta: float = 3.5, missing: int = 3, axes=None,
                            figsize=(11, 4)):
    """Raising the missing class's bias: its test images recognised (left) and all test errors (right).

    ``curves`` maps a student name to a table indexed by the bias increase (from
    :func:`bias_curve`); ``val_choice`` the increase chosen on the validation
    split. A dotted line marks Hinton et al.'s 3.5; the grey line is the slider's marker.
    """
    fig, axes = subplots(axes, figsize, 1, 2)
    ax1, ax2 = np.ravel(axes)
    colors = {0: DISTILLED, 1: ALONE}
    for k, (name, c) in enumerate(curves.items()):
        color = colors.get(k, SMOOTHED)
        ax1.plot(c.index, c["class right (%)"], color=color, lw=2.5, label=_(name))
        ax2.plot(c.index, c["errors"], color=color, lw=2.5, label=_(name))
        if name in val_choice:
            for ax in (ax1, ax2):
                ax.axvline(val_choice[name], color=color, ls="--", lw=1.2)
    for ax in (ax1, ax2):
        ax.axvline(paper_delta, color="black", ls=":", lw=1.2)
        ax.axvline(0, color="#999999", lw=3, alpha=0.5, gid="marker")
        ax.set_xlabel(_("bias of class {missing} raised by").format(missing=missing))
    ax1.set_ylabel(_("test {missing}s recognised (%)").format(missing=missing))
    ax1.set_ylim(-3, 103)
    ax2.set_ylabel(_("test errors (all classes)"))
    ax2.set_ylim(0, None)
    ax1.legend(loc="center right", fontsize=11)
    ax1.annotate(_("dashed: chosen on validation\ndotted: paper's 3.5"), (0.98, 0.05), xycoords="axes fraction",
                 ha="right", fontsize=11, color="#555555")
    fig.suptitle(_("No {missing} in the transfer set: what raising the {missing} bias recovers").format(missing=missing), fontsize=12)
    fig.tight_layout()
    return fig


def plot_few_examples_curves(curves: pd.DataFrame, axes=None, figsize=(11, 4)):
    """Validation accuracy and cross-entropy against epoch, hard labels vs soft targets.

    Thin lines: one seed each; thick lines: the mean over seeds.
    """
    fig, axes = subplots(axes, figsize, 1, 2)
    axes = np.ravel(axes)
    colors = {"hard labels": ALONE, "soft targets": DISTILLED}
    for ax, col, ylabel in ((axes[0], "val_acc", _("validation accuracy (%)")), (axes[1], "val_ce", _("validation cross-entropy (nats)"))):
        scale = 100 if col == "val_acc" else 1
        for name, part in curves.groupby("targets", sort=False):
            for _seed, run in part.groupby("seed"):
                ax.plot(run["epoch"], scale * run[col], color=colors.get(name), lw=0.8, alpha=0.45)
            mean = part.groupby("epoch")[col].mean()
            ax.plot(mean.index, scale * mean, color=colors.get(name), lw=2.8, label=_("{name} (mean)").format(name=_(name)))
        ax.set_xlabel(_("epoch"))
        ax.set_ylabel(ylabel)
    axes[0].legend(loc="lower right", fontsize=11)
    n = curves["seed"].nunique()
    fig.suptitle(_("A 2x800 student on 105 training images (3%), {n} seeds: thin lines one seed each").format(n=n), fontsize=12)
    fig.tight_layout()
    return fig

