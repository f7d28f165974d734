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
def cost_vs_accuracy(table: pd.DataFrame, latency_col: str = "latency, 1 image (ms)", figsize=(7.5, 4.2)):
    """Test accuracy against latency (log scale), one point per model, marker area ~ parameters (003-8)."""
    fig, ax = plt.subplots(figsize=figsize)
    colors = [TEACHER if "teacher" in n else DISTILLED if "distilled" in n else ALONE for n in table.index]
    sizes = 60 + 600 * np.sqrt(table["parameters"] / table["parameters"].max())
    ax.scatter(table[latency_col], table["test accuracy (%)"], s=sizes, c=colors, alpha=0.8, zorder=3)
    for name, x, y, p in zip(table.index, table[latency_col], table["test accuracy (%)"], table["parameters"]):
        ax.annotate(f"{name}\n{p / 1e3:,.0f}k parameters", (x, y), xytext=(12, -4), textcoords="offset points", fontsize=10, va="center")
    ax.set_xscale("log")
    lo, hi = table[latency_col].min(), table[latency_col].max()
    ax.set_xlim(lo / 1.6, hi * 5)
    ticks = [t for t in (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if lo / 1.6 <= t <= hi * 5]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ymin, ymax = table["test accuracy (%)"].min(), table["test accuracy (%)"].max()
    ax.set_ylim(ymin - 0.8, ymax + 0.8)
    ax.set_xlabel(f"{latency_col.replace('latency, ', 'latency for ').replace(' (ms)', '')} (ms, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("What you pay (latency) and what you get (accuracy)", loc="left")
    fig.tight_layout()
    return fig


def epoch_timing(table: pd.DataFrame, figsize=(8, 3.6)):
    """Seconds per epoch: plain training, KD from cached logits, KD running the teacher every step (003-7)."""
    modes = [("plain", ALONE, "plain training (labels)"), ("cached", DISTILLED, "KD, teacher logits cached"),
             ("teacher every step", TEACHER, "KD, teacher run every step")]
    fig, ax = plt.subplots(figsize=figsize)
    y = np.arange(len(table))
    h = 0.26
    for k, (col, color, label) in enumerate(modes):
        ax.barh(y + (k - 1) * h, table[col], height=h, color=color, label=label)
        for yi, v in zip(y + (k - 1) * h, table[col]):
            ax.annotate(f"{v:.2f} s", (v, yi), xytext=(4, 0), textcoords="offset points", va="center", fontsize=10)
    ax.set_yticks(y, table.index)
    ax.invert_yaxis()
    ax.set_xlabel("seconds per epoch (3,500 images, this CPU)")
    ax.set_xlim(0, table[[m[0] for m in modes]].to_numpy().max() * 1.15)
    ax.legend(loc="upper center", bbox_to_anchor=(0.45, -0.22), ncol=3, fontsize=10)
    ax.set_title("What the teacher costs during distillation", loc="left")
    fig.tight_layout()
    return fig


def transfer_bars(summary: pd.DataFrame, labels: int, figsize=(7, 4.2)):
    """Bars of mean test accuracy (student alone vs distilled) at one label count, with seed ranges.

    Returns ``(fig, update)``; ``update(labels)`` moves bars, ranges and texts in place and
    returns the numbers it shows.
    """
    fig, ax = plt.subplots(figsize=figsize)
    names = ["student alone\n(labels only)", "distilled\n(teacher on 28x28)"]
    bars = ax.bar([0, 1], [0, 0], color=[ALONE, DISTILLED], width=0.6)
    ranges = [ax.plot([x, x], [0, 0], color="black", lw=2)[0] for x in (0, 1)]
    texts = [ax.text(x, 0, "", ha="center", va="bottom", fontsize=12) for x in (0, 1)]
    ax.set_xticks([0, 1], names)
    lo = min(summary.alone_min.min(), summary.kd_min.min())
    ax.set_ylim(max(0, lo - 8), 100)
    ax.set_ylabel("test accuracy on 14x14 images (%)")
    title = ax.set_title("", loc="left")

    def update(n):
        row = summary.loc[n]
        for k, prefix in enumerate(("alone", "kd")):
            mean, mn, mx = row[f"{prefix}_mean"], row[f"{prefix}_min"], row[f"{prefix}_max"]
            bars[k].set_height(mean)
            ranges[k].set_ydata([mn, mx])
            texts[k].set_position((k, mx + 0.4))
            texts[k].set_text(f"{mean:.1f}%")
        title.set_text(f"Student sees 14x14 images, {int(n):,} of 3,500 labelled: "
                       f"{row.gain_mean:+.1f} points\n(bars: mean of {int(row.seeds)} seeds; lines: min to max)")
        fig.canvas.draw_idle()
        return {"labels": int(n), "alone": float(row.alone_mean), "distilled": float(row.kd_mean), "gain": float(row.gain_mean)}

    update(labels)
    fig.tight_layout()
    return fig, update
# (end of 01 section)


# ---------------------------------------------------------------- 02 soft vs hard labels
SMOOTHED = "#7570b3"  # label smoothing, and the label-smoothed teacher
HARD = "#444444"      # one-hot labels


def soft_vs_hard_examples(images, labels, probs: dict, figsize=(11, 6)):
    """Each row: a test image, its one-hot label (outline) and the teacher's soft targets at each T (003-3)."""
    n = len(labels)
    fig, axes = plt.subplots(n, 2, figsize=figsize, gridspec_kw={"width_ratios": [1, 6]}, squeeze=False)
    colors = [TEACHER, DISTILLED, SMOOTHED]
    width = 0.8 / len(probs)
    classes = np.arange(10)
    for r in range(n):
        ax_img, ax = axes[r]
        ax_img.imshow(np.asarray(images[r]).squeeze(), cmap="gray_r", vmin=0, vmax=1)
        ax_img.set_title(f"label {int(labels[r])}", fontsize=11)
        ax_img.axis("off")
        ax.bar(classes, (classes == int(labels[r])).astype(float), width=0.9, fill=False, edgecolor=HARD, lw=1.5,
               label="hard label (one-hot)" if r == 0 else None)
        for k, (name, p) in enumerate(probs.items()):
            vals = np.asarray(p[r])
            ax.bar(classes - 0.4 + width * (k + 0.5), vals, width=width, color=colors[k % 3], label=name if r == 0 else None)
            second = np.argsort(vals)[-2]
            if k == len(probs) - 1:
                ax.annotate(f"{vals[second]:.2f}", (second - 0.4 + width * (k + 0.5), vals[second]), xytext=(0, 3),
                            textcoords="offset points", ha="center", fontsize=9, color=colors[k % 3])
        ax.set_ylim(0, 1.12)
        ax.set_xticks(classes)
        ax.set_ylabel("probability", fontsize=10)
        ax.tick_params(labelsize=10)
    axes[-1, 1].set_xlabel("class (digit)")
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
    ax.set_xlabel("soft probability given to class")
    ax.set_ylabel("true class of the image")
    ax.set_title(title, fontsize=12)
    if annotate:
        for i in range(len(A)):
            ax.text(i, i, f"{A[i, i]:.2f}", ha="center", va="center", fontsize=8, color="#333333")
            for j in range(len(A)):
                if i != j and A[i, j] >= np.sort(A[off])[-12]:
                    dark = im.norm(A[i, j]) < 0.6  # white on the dark end of viridis, black on the yellow end
                    ax.text(j, i, f"{100 * A[i, j]:.0f}%", ha="center", va="center", fontsize=8.5,
                            color="white" if dark else "black", fontweight="bold")
    return im


def _plain_colorbar(fig, im, **kwargs):
    from matplotlib.ticker import FuncFormatter

    bar = fig.colorbar(im, **kwargs)
    lo, hi = im.norm.vmin, im.norm.vmax
    bar.set_ticks([t for t in (1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if lo <= t <= hi])
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    bar.ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    return bar


def class_similarity_heatmap(M, T: float, title: str | None = None, figsize=(7, 6)):
    """The teacher's mean soft probabilities per true class, off-diagonal on a log colour scale.

    The grey diagonal shows the mean probability of the true class; white numbers mark the
    12 largest off-diagonal cells, in percent ("dark knowledge", Hinton et al. 2015).
    """
    A = np.asarray(M, dtype=float)
    off = A[~np.eye(len(A), dtype=bool)]
    fig, ax = plt.subplots(figsize=figsize)
    im = _heatmap(ax, A, title or f"Teacher's mean soft targets per true class, T={T:g}", off.min(), off.max())
    _plain_colorbar(fig, im, ax=ax, label="mean probability (log scale)", shrink=0.85)
    fig.tight_layout()
    return fig


def similarity_side_by_side(matrices: dict, T: float, figsize=(13, 5.5)):
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
    fig, axes = plt.subplots(1, len(normed), figsize=figsize, squeeze=False)
    for ax, (name, A) in zip(axes[0], normed.items()):
        im = _heatmap(ax, np.nan_to_num(A, nan=1.0), name, vals.min(), vals.max(), annotate=False)
    _plain_colorbar(fig, im, ax=axes[0].tolist(), label="share of the wrong-class mass (log scale)", shrink=0.85)
    fig.suptitle(f"How each teacher spreads its wrong-class probability, T={T:g} (uniform would be 1/9 = 0.11 everywhere)", fontsize=12)
    return fig


def ambiguous_images(images, table: pd.DataFrame, figsize=(12, 2.8)):
    """The teacher's most ambiguous test images, each titled with its label and top-2 classes."""
    n = len(table)
    fig, axes = plt.subplots(1, n, figsize=figsize, squeeze=False)
    for ax, (_, r) in zip(axes[0], table.iterrows()):
        ax.imshow(np.asarray(images[int(r["index"])]).squeeze(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"label {int(r['label'])}\n{int(r['top1'])}: {r['p_top1']:.2f}  {int(r['top2'])}: {r['p_top2']:.2f}", fontsize=10)
        ax.axis("off")
    fig.suptitle("Highest-entropy test images for the teacher (T=1): label, then its top-2 classes and probabilities", fontsize=11)
    fig.tight_layout()
    return fig


def target_vectors(image, figsize=(11, 3.8)):
    """Empty frame for one image and three target vectors: one-hot, label-smoothed, teacher.

    :func:`kdnb.soft_labels.update_targets` fills in the bar heights (draw once, update in place).
    """
    fig, (ax_img, ax) = plt.subplots(1, 2, figsize=figsize, gridspec_kw={"width_ratios": [1, 4]})
    ax_img.imshow(np.asarray(image).squeeze(), cmap="gray_r", vmin=0, vmax=1)
    ax_img.axis("off")
    classes = np.arange(10)
    for k, (color, name) in enumerate(((HARD, "hard label (one-hot): 0 bits"), (SMOOTHED, "label smoothing"), (TEACHER, "teacher"))):
        ax.bar(classes + (k - 1) * 0.27, np.zeros(10), width=0.27, color=color, label=name)
    ax.set_xticks(classes)
    ax.set_xlabel("class (digit)")
    ax.set_ylabel("target probability")
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_ylim(0, 1.5)
    ax.set_yticks([0, 0.01, 0.1, 1])
    ax.set_yticklabels(["0", "0.01", "0.1", "1"])
    ax.set_title("three ways to write the target (symmetric-log axis: small values stay visible)", fontsize=11)
    fig.tight_layout()
    return fig


def missing_class_bias(curves: dict, val_choice: dict, paper_delta: float = 3.5, missing: int = 3, figsize=(11, 4)):
    """Raising the missing class's bias: its test images recognised (left) and all test errors (right).

    ``curves`` maps a student name to a table indexed by the bias increase (from
    :func:`kdnb.soft_labels.bias_curve`); ``val_choice`` the increase chosen on the validation
    split. A dotted line marks Hinton et al.'s 3.5; the grey line is the slider's marker.
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=figsize)
    colors = {0: DISTILLED, 1: ALONE}
    for k, (name, c) in enumerate(curves.items()):
        color = colors.get(k, SMOOTHED)
        ax1.plot(c.index, c["class right (%)"], color=color, lw=2.5, label=name)
        ax2.plot(c.index, c["errors"], color=color, lw=2.5, label=name)
        if name in val_choice:
            for ax in (ax1, ax2):
                ax.axvline(val_choice[name], color=color, ls="--", lw=1.2)
    for ax in (ax1, ax2):
        ax.axvline(paper_delta, color="black", ls=":", lw=1.2)
        ax.axvline(0, color="#999999", lw=3, alpha=0.5, gid="marker")
        ax.set_xlabel(f"bias of class {missing} raised by")
    ax1.set_ylabel(f"test {missing}s recognised (%)")
    ax1.set_ylim(-3, 103)
    ax2.set_ylabel("test errors (all classes)")
    ax2.set_ylim(0, None)
    ax1.legend(loc="center right", fontsize=10)
    ax1.annotate("dashed: chosen on validation\ndotted: paper's 3.5", (0.98, 0.05), xycoords="axes fraction",
                 ha="right", fontsize=9, color="#555555")
    fig.suptitle(f"No {missing} in the transfer set: what raising the {missing} bias recovers", fontsize=12)
    fig.tight_layout()
    return fig


def few_examples_curves(curves: pd.DataFrame, figsize=(11, 4)):
    """Validation accuracy and cross-entropy against epoch, hard labels vs soft targets.

    Thin lines: one seed each; thick lines: the mean over seeds.
    """
    fig, axes = plt.subplots(1, 2, figsize=figsize)
    colors = {"hard labels": ALONE, "soft targets": DISTILLED}
    for ax, col, ylabel in ((axes[0], "val_acc", "validation accuracy (%)"), (axes[1], "val_ce", "validation cross-entropy (nats)")):
        scale = 100 if col == "val_acc" else 1
        for name, part in curves.groupby("targets", sort=False):
            for _, run in part.groupby("seed"):
                ax.plot(run["epoch"], scale * run[col], color=colors.get(name), lw=0.8, alpha=0.45)
            mean = part.groupby("epoch")[col].mean()
            ax.plot(mean.index, scale * mean, color=colors.get(name), lw=2.8, label=f"{name} (mean)")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
    axes[0].legend(loc="lower right", fontsize=10)
    n = curves["seed"].nunique()
    fig.suptitle(f"A 2x800 student on 105 training images (3%), {n} seeds: thin lines one seed each", fontsize=12)
    fig.tight_layout()
    return fig
# (end of 02 section)


# ---------------------------------------------------------------- 03 temperature
MODEL_COLORS = {"teacher": TEACHER, "student": DISTILLED}


def temperature_panel(ax, models=("teacher", "student"), image_ax=None, n_classes: int = 10) -> dict:
    """Draw the temperature explorer's panel once, empty, on ``ax``; return its artists.

    Bars of ``softmax(z / T)`` per class, one colour per model side by side, a title with T,
    and one line of text per model (entropy in bits, top-1/top-2 ratio). Fill and move them
    with :func:`update_temperature_panel`; the live widget and the static figure share both.
    """
    width = 0.8 / len(models)
    x = np.arange(n_classes)
    bars = {}
    for k, m in enumerate(models):
        offset = (k - (len(models) - 1) / 2) * width
        bars[m] = ax.bar(x + offset, np.zeros(n_classes), width, color=MODEL_COLORS.get(m, f"C{k}"), label=m)
    ax.set_xticks(x, [str(c) for c in x])
    ax.set_xlabel("class (digit)")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1.05 + 0.12 * len(models))  # headroom above 1 for the texts: no bar can hide them
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(models), fontsize=10)
    texts = {m: ax.text(0.02, 0.97 - 0.085 * k, "", transform=ax.transAxes, fontsize=10.5, va="top",
                        color=MODEL_COLORS.get(m, f"C{k}"), fontweight="bold", zorder=5,
                        bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1.5})
             for k, m in enumerate(models)}
    uniform = ax.axhline(1 / n_classes, color="#555555", lw=1, ls=":", zorder=0)
    title = ax.set_title("", loc="left")
    image = None
    if image_ax is not None:
        image = image_ax.imshow(np.zeros((28, 28)), cmap="gray_r", vmin=0, vmax=1)
        image_ax.axis("off")
    return {"ax": ax, "bars": bars, "texts": texts, "title": title, "image": image, "uniform": uniform}


def update_temperature_panel(artists: dict, state: dict, image: bool = True) -> None:
    """Move the artists of :func:`temperature_panel` to ``state`` (from ``TemperatureExplorer.state_at``), in place."""
    for m, container in artists["bars"].items():
        for bar, h in zip(container.patches, state["probs"][m]):
            bar.set_height(float(h))
        artists["texts"][m].set_text(f"{m}: entropy {state['entropy'][m]:.2f} bits, "
                                     f"top-1/top-2 = {_ratio_text(state['ratio'][m])}")
    artists["title"].set_text(f"softmax(z / T) at T = {state['T']:.2f}")
    if image and artists["image"] is not None and state.get("image") is not None:
        artists["image"].set_data(state["image"])


def _ratio_text(r: float) -> str:
    return "> 10⁶" if r > 1e6 else (f"{r:,.0f}" if r >= 100 else f"{r:.2f}")


def temperature_small_multiples(states: list[dict], models=("teacher", "student"), figsize=(13, 3.6)):
    """The explorer's panel at several fixed temperatures, side by side: its static twin."""
    fig, axes = plt.subplots(1, len(states), figsize=figsize, sharey=True)
    for ax, state in zip(np.atleast_1d(axes), states):
        artists = temperature_panel(ax, models)
        update_temperature_panel(artists, state, image=False)
        if ax is not np.atleast_1d(axes)[0]:
            ax.legend_.remove()
        for k, m in enumerate(models):
            artists["texts"][m].set_text(f"H = {state['entropy'][m]:.2f} bits")
            artists["texts"][m].set_fontsize(10)
        artists["title"].set_text(f"T = {state['T']:g}")
        ax.set_xlabel("class")
        ax.label_outer()
    fig.tight_layout()
    return fig


def gradient_norms(table: pd.DataFrame, figsize=(7, 4.2)):
    """Gradient norm of the soft loss against T (log-log), with and without the T² factor."""
    fig, ax = plt.subplots(figsize=figsize)
    T = table.index.to_numpy()
    ax.loglog(T, table["with_T2"], "o-", color=DISTILLED, label="T² · KL  (as trained)")
    ax.loglog(T, table["without_T2"], "s-", color=ALONE, label="KL alone (no T²)")
    ref = table["without_T2"].iloc[-1] * (T[-1] / T) ** 2
    ax.loglog(T, ref, ls="--", color="#333333", lw=1, label="slope −2 (∝ 1/T²)")
    ax.set_xlabel("temperature T (log scale)")
    ax.set_ylabel("‖∂ loss / ∂ student logits‖")
    ax.set_title("Why the soft loss is multiplied by T²", loc="left")
    ax.legend(fontsize=10)
    fig.tight_layout()
    return fig


def logit_matching_gap(table: pd.DataFrame, figsize=(7, 4.2)):
    """Relative difference between the distillation and the logit-matching gradients against T (log-log)."""
    fig, ax = plt.subplots(figsize=figsize)
    T = table.index.to_numpy()
    ax.loglog(T, table["relative_difference"], "o-", color=DISTILLED, label="‖g_KD(T) − g_logit‖ / ‖g_logit‖")
    ref = table["relative_difference"].iloc[-1] * T[-1] / T
    ax.loglog(T, ref, ls="--", color="#333333", lw=1, label="slope −1 (∝ 1/T)")
    ax.set_xlabel("temperature T (log scale)")
    ax.set_ylabel("relative difference of gradients")
    ax.set_title("At high T, distillation becomes logit matching", loc="left")
    ax.legend(fontsize=10)
    fig.tight_layout()
    return fig


def reliability_diagram(tables: dict[str, pd.DataFrame], eces: dict[str, float], figsize=(11, 4.4)):
    """Reliability diagrams side by side: accuracy per confidence bin against the diagonal.

    Bars below the diagonal are over-confident bins. The title of each panel gives its ECE.
    """
    fig, axes = plt.subplots(1, len(tables), figsize=figsize, sharey=True, squeeze=False)
    for ax, (name, table) in zip(axes[0], tables.items()):
        full = table[table["count"] > 0]
        width = table["upper"] - table["lower"]
        ax.bar(full["lower"], full["accuracy"], width=width[full.index], align="edge", color=DISTILLED,
               edgecolor="white", alpha=0.85, label="accuracy in the bin")
        ax.bar(full["lower"], full["confidence"] - full["accuracy"], bottom=full["accuracy"], width=width[full.index],
               align="edge", color="none", edgecolor="#b2182b", hatch="//", lw=0.8, label="gap to confidence")
        ax.plot([0, 1], [0, 1], ls="--", color="#333333", lw=1, label="perfect calibration")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("confidence (top probability)")
        ax.set_title(f"{name}\nECE = {100 * eces[name]:.2f}%", loc="left", fontsize=12)
    axes[0, 0].set_ylabel("accuracy")
    axes[0, 0].legend(loc="upper left", fontsize=9.5)
    fig.tight_layout()
    return fig


def temperature_sweep(results: pd.DataFrame, figsize=(11, 4.4)):
    """Distilled test accuracy against T, one panel per student, each seed a dot; the label-only band in grey."""
    students = list(dict.fromkeys(results["student"]))
    fig, axes = plt.subplots(1, len(students), figsize=figsize, squeeze=False)
    for ax, student in zip(axes[0], students):
        part = results[results["student"] == student]
        alone = 100 * part.drop_duplicates("seed")["alone_test"]
        ax.axhspan(alone.min(), alone.max(), color=ALONE, alpha=0.25, lw=0, label=f"label-only, {len(alone)} seeds (range)")
        ax.axhline(alone.mean(), color=ALONE, lw=1.5)
        g = part.groupby("T")["kd_test"]
        T = np.array(sorted(part["T"].unique()))
        for seed, seed_part in part.groupby("seed"):
            jitter = 1 + 0.04 * (seed - part["seed"].mean())
            ax.scatter(seed_part["T"] * jitter, 100 * seed_part["kd_test"], color=DISTILLED, s=28, alpha=0.7, zorder=3,
                       label="distilled, one seed" if seed == part["seed"].min() else None)
        ax.plot(T, 100 * g.mean().loc[T], color=DISTILLED, lw=2, label="distilled, mean")
        ax.set_xscale("log")
        ax.set_xticks(T, [f"{t:g}" for t in T])
        ax.minorticks_off()
        ax.set_xlabel("distillation temperature T (log scale)")
        ax.set_title(student, loc="left")
    axes[0, 0].set_ylabel("test accuracy (%)")
    axes[0, 0].legend(fontsize=9.5, loc="lower right")
    fig.tight_layout()
    return fig


# (end of 03 section)
