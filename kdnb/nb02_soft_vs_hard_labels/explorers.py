"""Notebook 02's two explorers (:class:`kdnb.widgets.Explorer`), their static twins, and the checks that drive them.

* The target explorer (section 5): one test image, its one-hot label, its label-smoothed label
  and the teacher's soft target, with sliders for ``eps`` and ``T`` (a softmax per move).
* The bias explorer (section 6): the missing class's bias raised along precomputed test curves
  (a table lookup per move).

Each ``*_verdicts`` function moves an explorer's controls the way a reader would, checks what it
shows, and puts the controls back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..plots import HARD, SMOOTHED, TEACHER, subplots
from ..temperature import entropy, soft_targets
from ..i18n import _
from ..verdicts import Verdicts
from ..widgets import Explorer, new_figure, slider_layout
from .figures import plot_missing_class_bias
from .targets import one_hot, smoothed_labels

__all__ = ["target_panel", "update_targets", "plot_targets", "target_explorer", "target_explorer_verdicts", "BiasExplorer",
           "bias_explorer", "bias_explorer_verdicts"]


# ---------------------------------------------------------------------------- targets

def target_panel(ax_img, ax) -> dict:
    """Draw, empty, one image and three target vectors: one-hot, label-smoothed, teacher. Returns the artists.

    The legend sits above the bars and the entropy read-outs in the headroom above 1, so no
    bar ever hides them (the explorer redraws only the bars, the image and the texts).
    """
    image = ax_img.imshow(np.zeros((28, 28)), cmap="gray_r", vmin=0, vmax=1)
    ax_img.axis("off")
    img_title = ax_img.set_title(" ", fontsize=12)
    classes = np.arange(10)
    containers = []
    for k, (color, name) in enumerate(((HARD, _("hard label (one-hot): 0 bits")), (SMOOTHED, _("label smoothing")),
                                       (TEACHER, _("teacher")))):
        containers.append(ax.bar(classes + (k - 1) * 0.27, np.zeros(10), width=0.27, color=color, label=name))
    ax.set_xticks(classes)
    ax.set_xlabel(_("class (digit)"))
    ax.set_ylabel(_("target probability\n(symmetric-log axis)"))
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_ylim(0, 9)  # headroom above 1 for the read-outs
    ax.set_yticks([0, 0.01, 0.1, 1])
    ax.set_yticklabels(["0", "0.01", "0.1", "1"])
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, fontsize=12, frameon=False, borderaxespad=0.2)
    texts = [ax.text(0.99, 0.97 - 0.11 * k, "", transform=ax.transAxes, ha="right", va="top", fontsize=12, color=c)
             for k, c in enumerate((SMOOTHED, TEACHER))]
    dynamic = [p for c in containers for p in c.patches] + texts + [image, img_title]
    return {"image": image, "img_title": img_title, "bars": containers, "texts": texts, "dynamic": dynamic}


def update_targets(artists: dict, logits: torch.Tensor, y: torch.Tensor, images: torch.Tensor, index: int,
                   eps: float, T: float) -> dict:
    """Move :func:`target_panel` to one image, label-smoothing ``eps`` and temperature ``T``.

    Only bar heights, the image and the texts change. Returns the three target vectors and
    their entropies, so a test (or the reader) can check what is drawn.
    """
    hard = one_hot(y[index:index + 1])[0]
    smooth = smoothed_labels(y[index:index + 1], eps)[0]
    teacher = soft_targets(logits[index:index + 1], T)[0]
    artists["image"].set_data(images[index, 0].numpy())
    artists["img_title"].set_text(_("test image {index}, label {label}").format(index=index, label=int(y[index])))
    for bars, values in zip(artists["bars"], (hard, smooth, teacher)):
        for bar, v in zip(bars, values.tolist()):
            bar.set_height(v)
    state = {"index": index, "eps": eps, "T": T, "hard": hard.numpy(), "smoothed": smooth.numpy(),
             "teacher": teacher.numpy(), "H_smoothed": float(entropy(smooth)), "H_teacher": float(entropy(teacher))}
    artists["texts"][0].set_text(_("label smoothing, eps = {eps:.2f}: {bits:.2f} bits").format(eps=eps, bits=state["H_smoothed"]))
    artists["texts"][1].set_text(_("teacher, T = {T:g}: {bits:.2f} bits").format(T=T, bits=state["H_teacher"]))
    return state


def plot_targets(logits, y, images, index: int, eps: float = 0.1, T: float = 4.0, axes=None, figsize=(11, 3.8)):
    """The target explorer's static twin: one image and its three target vectors."""
    fig, axes = subplots(axes, figsize, 1, 2, gridspec_kw={"width_ratios": [1, 4]})
    update_targets(target_panel(*axes), logits, y, images, index, eps, T)
    fig.tight_layout()
    return fig


def target_explorer(logits: torch.Tensor, y: torch.Tensor, images: torch.Tensor, indices, eps: float = 0.1,
                    T: float = 4.0, figsize=(11, 3.8)) -> Explorer:
    """A widget: one test image, its one-hot label, its label-smoothed label and the teacher's soft target.

    Sliders for ``eps`` and ``T`` and a menu of images. Callbacks only recompute a softmax and
    set bar heights. ``explorer.controls["eps"].value = 0.2`` drives it; ``explorer.state``
    holds the vectors last drawn.
    """
    import ipywidgets as w

    indices = [int(i) for i in indices]
    wide = slider_layout()
    controls = {
        "index": w.Dropdown(options=[(_("image {i} (label {label})").format(i=i, label=int(y[i])), i) for i in indices],
                            value=indices[0], description=_("image"), layout=w.Layout(width="260px")),
        "eps": w.FloatSlider(value=eps, min=0.0, max=0.5, step=0.01, description="eps", continuous_update=True, layout=wide),
        "T": w.FloatSlider(value=T, min=1.0, max=20.0, step=0.5, description="T", continuous_update=True, layout=wide),
    }
    fig = new_figure(figsize)
    ax_img, ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 4]})
    artists = target_panel(ax_img, ax)
    fig.tight_layout()
    return Explorer(fig, controls, lambda index, eps, T: update_targets(artists, logits, y, images, index, eps, T),
                    lambda: artists["dynamic"], full_redraw={"index"})


def target_explorer_verdicts(explorer: Explorer, eps: float = 0.3, T: float = 20.0) -> Verdicts:
    """Try it 5.1's claims, read off the target explorer: slide ``eps``, then ``T``, then put both back.

    Label smoothing raises every wrong class equally; the teacher's target keeps its shape (the
    order of its wrong classes) as a higher T flattens it.
    """
    controls = explorer.controls
    start = {"eps": controls["eps"].value, "T": controls["T"].value}
    try:
        controls["eps"].value = eps
        low = dict(explorer.state)
        controls["T"].value = T
        high = dict(explorer.state)
    finally:
        controls["eps"].value, controls["T"].value = start["eps"], start["T"]
    wrong = low["hard"] == 0
    C = len(low["hard"])
    return Verdicts({
        _("At eps = {eps:g} label smoothing gives every wrong class the same {share:g}.").format(eps=eps, share=eps / C):
            np.allclose(low["smoothed"][wrong], eps / C),
        _("Raising T from {T0:g} to {T:g} raises the entropy of the teacher's target.").format(T0=start["T"], T=T):
            high["H_teacher"] > low["H_teacher"],
        _("The teacher's target keeps its shape as it flattens: its wrong classes stay in the same order."):
            np.array_equal(np.argsort(low["teacher"][wrong]), np.argsort(high["teacher"][wrong])),
        _("At T = {T:g} the teacher's wrong classes still differ from one another, unlike label smoothing's.").format(T=T):
            np.ptp(high["teacher"][wrong]) > 1e-3,
    })


# ------------------------------------------------------------------------------- bias

class BiasExplorer(Explorer):
    """A widget over precomputed :func:`~.missing_class.bias_curve` tables: slide the bias increase of the missing class.

    ``curves`` maps a student name to its test bias curve, ``val_choice`` to the increase chosen
    on the validation split (a dashed line). The slider moves a marker; ``label`` (above the
    figure) reports the threes recognised and the errors at that value (lookups only).
    """

    def __init__(self, curves: dict[str, pd.DataFrame], val_choice: dict[str, float], figsize=(11, 4)):
        import ipywidgets as w

        self.curves = dict(curves)
        self.deltas = next(iter(self.curves.values())).index.to_numpy()
        slider = w.FloatSlider(value=float(self.deltas[0]), min=float(self.deltas.min()), max=float(self.deltas.max()),
                               step=float(self.deltas[1] - self.deltas[0]), description=_("bias +"), continuous_update=True,
                               layout=slider_layout())
        fig = new_figure(figsize)
        plot_missing_class_bias(self.curves, val_choice, axes=fig.subplots(1, 2))
        self.markers = [line for ax in fig.axes for line in ax.lines if line.get_gid() == "marker"]
        self.label = w.HTML()
        super().__init__(fig, {"delta": slider}, self._show, lambda: self.markers, header=self.label)

    def _show(self, delta: float) -> dict:
        d = float(self.deltas[np.abs(self.deltas - delta).argmin()])
        parts = [_readout(name, curve.loc[d]) for name, curve in self.curves.items()]
        self.label.value = _("bias raised by {d:.2f}: ").format(d=d) + _("; ").join(parts)
        for line in self.markers:
            line.set_xdata([d, d])
        return {"delta": d, **{name: curve.loc[d].to_dict() for name, curve in self.curves.items()}}


def _readout(name: str, row) -> str:
    """One student's line of the bias explorer's read-out."""
    return _("{name}: {right} of {total} threes right, {errors} errors").format(
        name=_(name), right=int(row["class right"]), total=int(row["class total"]), errors=int(row["errors"]))


def bias_explorer(curves: dict[str, pd.DataFrame], val_choice: dict[str, float], figsize=(11, 4)) -> BiasExplorer:
    """The bias explorer (:class:`BiasExplorer`) over ``curves``, marking each student's ``val_choice``."""
    return BiasExplorer(curves, val_choice, figsize)


def bias_explorer_verdicts(explorer: BiasExplorer, delta: float = 3.5) -> Verdicts:
    """Try it 6.1's explorer, moved to ``delta`` (the paper's 3.5) and back: it shows the stored curves' values there."""
    control = explorer.controls["delta"]
    start = control.value
    try:
        control.value = delta
        state, text = dict(explorer.state), explorer.label.value
        marked = all(np.allclose(line.get_xdata(), delta) for line in explorer.markers)
    finally:
        control.value = start
    return Verdicts({
        _("At +{delta:g} the explorer's markers sit at +{delta:g}.").format(delta=delta): state["delta"] == delta and marked,
        _("It reports each student's test 3s right at +{delta:g} as the stored curve has them.").format(delta=delta):
            all(state[name]["class right"] == curve.loc[state["delta"], "class right"] for name, curve in explorer.curves.items()),
        _("Its read-out names the threes right and the errors of every student."):
            all(_readout(name, curve.loc[state["delta"]]) in text for name, curve in explorer.curves.items()),
    })
