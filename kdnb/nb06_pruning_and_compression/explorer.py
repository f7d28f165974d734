"""The pruning explorer (Try it 2.1): a sparsity slider over a trained model, pruned once, no retraining.

:func:`one_shot_curve` measures accuracy at every sparsity once (table ``nb06_curve``), so the
slider only reads it. :class:`PruningPanels` is the arithmetic and the drawing of the three
panels; :class:`PruningExplorer` is the live widget (a :class:`kdnb.widgets.Explorer`) and
:func:`plot_pruning` its static twin, both drawn by the same panels.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from torch import nn
from torch.nn.utils import prune

from .. import data as kdata
from ..i18n import _
from ..plots import DISTILLED, HARD, SMOOTHED, TEACHER, subplots
from ..training import accuracy
from ..widgets import Explorer, new_figure
from .pruning import clone, linear_layers, prunable, prune_global

#: The sparsities, in %, that the explorer and its static twin show: the one-shot curve's range.
PERCENT_RANGE = (0, 99)
#: The three panels' relative widths: accuracy, histogram, per-layer bars.
_WIDTHS = {"width_ratios": (1.15, 1.15, 0.85)}


def one_shot_curve(model: nn.Module, dataset: kdata.Dataset, sparsities=None, progress: bool = False) -> pd.DataFrame:
    """Accuracy of ``model`` pruned once, with no retraining, at each sparsity: global L1
    (:func:`prune_global`) and layer by layer (``l1_unstructured`` at the same sparsity in
    each Linear layer). One row per sparsity; validation and test accuracy (0..1)."""
    from tqdm.auto import tqdm

    sparsities = np.round(np.arange(0, 1.0, 0.01), 2) if sparsities is None else sparsities
    rows = []
    for s in tqdm(sparsities, desc="one-shot pruning curve", disable=not progress):
        g = prune_global(clone(model), float(s))
        lw = clone(model)
        for m, name in prunable(lw):
            prune.l1_unstructured(m, name, amount=float(s))
        rows.append({"sparsity": float(s), "global_val": accuracy(g, dataset.val), "global_test": accuracy(g, dataset.test),
                     "layerwise_val": accuracy(lw, dataset.val), "layerwise_test": accuracy(lw, dataset.test)})
    return pd.DataFrame(rows)


def check_percent(percent) -> float:
    """``percent`` as a float, or a ValueError saying the range: the explorer, its slider's
    starting value and the static twin all refuse the same values (nothing is clamped)."""
    lo, hi = PERCENT_RANGE
    if isinstance(percent, bool) or not isinstance(percent, (int, float, np.integer, np.floating)) or not lo <= percent <= hi:
        raise ValueError(f"sparsity is a percentage from {lo} to {hi}, got {percent!r}: 90 prunes 90% of the weights")
    return float(percent)


def _fit_layout(fig) -> None:
    """Margins that leave room for every label of the three panels (the y label at the left edge
    and the last x label at the right edge were cut off with tighter ones)."""
    fig.subplots_adjust(left=0.065, right=0.985, bottom=0.17, top=0.9, wspace=0.36)


class PruningPanels:
    """The explorer's three panels over a trained model's weights (global magnitude pruning, no retraining).

    Test accuracy against sparsity (read from a precomputed :func:`one_shot_curve`, so a move
    trains and evaluates nothing), the histogram of the weights that survive, and each layer's
    sparsity. :meth:`state_at` is the arithmetic both the live widget and :func:`plot_pruning`
    use: a global threshold on the sorted ``|w|``, then counts by binary search. :meth:`draw`
    draws the panels once; :meth:`move` moves their artists to a state.
    """

    def __init__(self, model: nn.Module, curve: pd.DataFrame, bins: int = 81):
        need = {"sparsity", "global_test"}
        if not need <= set(curve.columns):
            raise ValueError(f"the curve needs columns {sorted(need)}: make it with one_shot_curve()")
        self.curve = curve.sort_values("sparsity").reset_index(drop=True)
        self.layers = [f"{m.in_features}→{m.out_features}" for _, m in linear_layers(model)]
        weights = [m.weight.detach().flatten().numpy().astype(np.float64) for _, m in linear_layers(model)]
        if not weights:
            raise ValueError("the model has no Linear layer to prune")
        self.abs_sorted = np.sort(np.abs(np.concatenate(weights)))
        self.layer_abs = [np.sort(np.abs(w)) for w in weights]
        self.signed = np.sort(np.concatenate(weights))
        lim = float(self.abs_sorted[-1]) * 1.001  # every weight falls in a bin (the log scale shows the tails)
        self.edges = np.linspace(-lim, lim, bins + 1)
        self.counts = np.diff(np.searchsorted(self.signed, self.edges))

    def state_at(self, percent: float) -> dict:
        """What the panels show at ``percent`` % sparsity (0 to 99)."""
        percent = check_percent(percent)
        n = len(self.abs_sorted)
        k = int(round(percent / 100 * n))
        threshold = float(self.abs_sorted[k - 1]) if k else 0.0
        lo, hi = self.edges[:-1], self.edges[1:]
        # weights in [lo, hi) that are also in [-threshold, threshold]: the pruned ones (up to ties in |w|)
        start = np.searchsorted(self.signed, np.maximum(lo, -threshold), side="left")
        stop = np.where(hi <= threshold, np.searchsorted(self.signed, hi, side="left"),
                        np.searchsorted(self.signed, threshold, side="right"))
        pruned_in_bin = np.maximum(stop - start, 0) if k else 0
        surviving = self.counts - pruned_in_bin
        per_layer = [100 * np.searchsorted(a, threshold, side="right") / len(a) if k else 0.0 for a in self.layer_abs]
        idx = int(np.abs(self.curve.sparsity.to_numpy() - percent / 100).argmin())
        return {"percent": float(percent), "threshold": threshold, "kept": n - k, "surviving": surviving,
                "layer_sparsity": per_layer, "test_acc": float(self.curve.global_test.iloc[idx]),
                "curve_sparsity": float(self.curve.sparsity.iloc[idx])}

    def draw(self, axes) -> dict:
        """Draw the three panels once on ``axes`` (three Axes); return the artists that move."""
        ax_acc, ax_hist, ax_layer = axes
        c = self.curve
        ax_acc.plot(100 * c.sparsity, 100 * c.global_test, color=TEACHER, lw=2, label=_("global (all layers ranked together)"))
        if "layerwise_test" in c:
            ax_acc.plot(100 * c.sparsity, 100 * c.layerwise_test, color=SMOOTHED, lw=1.5, ls="--",
                        label=_("layer by layer (same sparsity in each)"))
        ax_acc.set(xlabel=_("sparsity: weights set to zero (%)"), ylabel=_("test accuracy (%)"), ylim=(0, 100), xlim=(0, 100))
        ax_acc.set_title(_("accuracy, pruned once, no retraining"), loc="left")
        ax_acc.legend(loc="lower left", fontsize=10)
        marker, = ax_acc.plot([], [], "o", color=DISTILLED, ms=10, zorder=5)
        vline = ax_acc.axvline(0, color=DISTILLED, lw=1, ls=":")
        label = ax_acc.text(0.03, 0.5, "", transform=ax_acc.transAxes, fontsize=12, fontweight="bold", color=DISTILLED,
                            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none"})
        # One filled step outline per histogram (a single artist to move, not one bar per bin).
        ax_hist.set_yscale("log")
        floor = 0.8
        ax_hist.stairs(np.maximum(self.counts, floor), self.edges, baseline=floor, fill=True, color="#dddddd",
                       label=_("pruned"))
        kept = ax_hist.stairs(np.maximum(self.counts, floor), self.edges, baseline=floor, fill=True, color=TEACHER,
                              label=_("kept"), gid="kept")
        ax_hist.set_ylim(floor, 100 * max(self.counts.max(), 1))  # headroom above the peak for the text and legend
        ax_hist.xaxis.set_major_locator(plt.MaxNLocator(5))
        ax_hist.set(xlabel=_("weight value"), ylabel=_("weights per bin (log scale)"))
        ax_hist.set_title(_("the weights that survive"), loc="left")
        ax_hist.legend(loc="upper right", fontsize=10, handlelength=1.2)
        hist_text = ax_hist.text(0.02, 0.97, "", transform=ax_hist.transAxes, fontsize=10.5, va="top")
        x = np.arange(len(self.layers))
        layer_bars = ax_layer.bar(x, np.zeros(len(x)), color=HARD, width=0.6)
        ax_layer.set_xticks(x, [name.replace("→", "→\n") for name in self.layers])
        ax_layer.set(xlabel=_("Linear layer (inputs→outputs)"), ylabel=_("sparsity (%)"), ylim=(0, 125))
        ax_layer.xaxis.label.set_fontsize(11)
        ax_layer.set_yticks(range(0, 101, 20))
        ax_layer.set_title(_("each layer's share pruned"), loc="left")
        target = ax_layer.axhline(0, color=DISTILLED, lw=1.5, ls="--", label=_("overall"))
        ax_layer.legend(loc="upper left", fontsize=10)
        layer_text = [ax_layer.text(i, 0, "", ha="center", va="bottom", fontsize=11) for i in x]
        return {"marker": marker, "vline": vline, "label": label, "kept": kept, "hist_text": hist_text,
                "layer_bars": layer_bars, "target": target, "layer_text": layer_text}

    @staticmethod
    def move(artists: dict, state: dict) -> None:
        """Move the artists of :meth:`draw` to ``state``, in place."""
        s, acc = state["percent"], 100 * state["test_acc"]
        artists["marker"].set_data([s], [acc])
        artists["vline"].set_xdata([s, s])
        artists["label"].set_text(_("{s:.0f}% pruned\ntest accuracy {acc:.1f}%").format(s=s, acc=acc))
        artists["kept"].set_data(np.maximum(state["surviving"], 0.8))
        artists["hist_text"].set_text(_("kept {kept:,}\nzeroed: |w| ≤ {threshold:.3g}").format(kept=state["kept"], threshold=state["threshold"]))
        for bar, txt, v in zip(artists["layer_bars"].patches, artists["layer_text"], state["layer_sparsity"]):
            bar.set_height(v)
            inside = v > 15  # inside the bar, clear of the dashed overall line
            txt.set_position((bar.get_x() + bar.get_width() / 2, v - 3 if inside else v + 1))
            txt.set_verticalalignment("top" if inside else "bottom")
            txt.set_color("white" if inside else "black")
            txt.set_text(f"{v:.0f}%")
        artists["target"].set_ydata([s, s])

    @staticmethod
    def dynamic(artists: dict) -> list:
        """The artists that :meth:`move` changes (what the explorer redraws on a slider move)."""
        return ([artists[k] for k in ("marker", "vline", "label", "hist_text", "target", "kept")]
                + list(artists["layer_bars"].patches) + list(artists["layer_text"]))


class PruningExplorer(Explorer):
    """Try it 2.1: a sparsity slider (0–99%, control ``"sparsity"``) over ``model``, pruned once.

    ``explorer.controls["sparsity"].value = 90`` moves it like a mouse; ``explorer.state`` holds
    what it shows (:meth:`PruningPanels.state_at`) and :meth:`state_at` computes it for any
    percentage without moving anything. A move reads the precomputed ``curve`` and moves the
    drawn artists (:attr:`artists`): nothing trains or evaluates.
    """

    def __init__(self, model: nn.Module, curve: pd.DataFrame, percent: int = 50, figsize=(10.8, 4.4)):
        import ipywidgets as w

        percent = check_percent(percent)
        if percent != int(percent):
            raise ValueError(f"the slider moves in whole percents, got {percent!r}: plot_pruning draws any value in [0, 99]")
        self.panels = PruningPanels(model, curve)
        fig = new_figure(figsize)
        self.artists = self.panels.draw(fig.subplots(1, 3, gridspec_kw=_WIDTHS))
        _fit_layout(fig)
        slider = w.IntSlider(value=int(percent), min=0, max=int(PERCENT_RANGE[1]), step=1, description=_("sparsity %"),
                             continuous_update=True, layout=w.Layout(width="520px"))
        super().__init__(fig, {"sparsity": slider}, self._show, lambda: self.panels.dynamic(self.artists))

    def _show(self, sparsity) -> dict:
        state = self.panels.state_at(sparsity)
        self.panels.move(self.artists, state)
        return state

    def state_at(self, percent: float) -> dict:
        """What the explorer would show at ``percent`` % sparsity (the slider does not move)."""
        return self.panels.state_at(percent)


def pruning_explorer(model: nn.Module, curve: pd.DataFrame, percent: int = 50, figsize=(10.8, 4.4)) -> PruningExplorer:
    """Try it 2.1: the :class:`PruningExplorer` over ``model`` and its one-shot ``curve``, starting at ``percent``."""
    return PruningExplorer(model, curve, percent, figsize)


def plot_pruning(model: nn.Module, curve: pd.DataFrame, percent: float = 90, axes=None, figsize=(10.8, 4.4)):
    """The explorer's static twin: the same panels and the same arithmetic at ``percent`` % sparsity."""
    percent = check_percent(percent)  # before anything is drawn
    fig, axes = subplots(axes, figsize, 1, 3, gridspec_kw=_WIDTHS)
    panels = PruningPanels(model, curve)
    panels.move(panels.draw(axes), panels.state_at(percent))
    _fit_layout(fig)
    return fig
