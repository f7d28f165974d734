"""Notebook 04's figures: the flipped sign's run, the push explorer (with its static twin), the comparison.

The explorer never trains: moving a control looks up the push of one loss at one temperature on one
example (:func:`push_state`) and moves the bars in place.
"""

from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F

from .. import losses, plots
from ..i18n import N_, _
from .comparison import METHODS
from .formulas import _grad, _log_one_minus_softmax


def plot_flipped_sign(run: pd.DataFrame, axes=None, figsize=(11, 3.6)):
    """KL to the teacher and agreement with it, step by step, for the right and the flipped sign."""
    fig, axes = plots.subplots(axes, figsize=figsize, nrows=1, ncols=2)
    colours = {N_("KL(p || q): right sign"): plots.DISTILLED, "seed's soft loss: sign flipped": plots.HARD}
    for name, g in run.groupby("loss", sort=False):
        axes[0].plot(g["step"], g["KL to teacher (T = 1)"], marker="o", ms=3, color=colours.get(name), label=_(name))
        axes[1].plot(g["step"], 100 * g["agrees with teacher"], marker="o", ms=3, color=colours.get(name), label=_(name))
    axes[0].set(xlabel=_("training step"), ylabel=_("KL(teacher || student), nats"), title=_("distance to the teacher (test images)"))
    axes[0].set_yscale("log")
    axes[1].set(xlabel=_("training step"), ylabel=_("same top class as teacher (%)"), title=_("agreement with the teacher"),
                ylim=(0, 100))
    axes[0].legend(loc="best")
    fig.tight_layout()
    return fig


def _push_losses() -> dict[str, callable]:
    """Soft losses ``L(z, v, T)`` for one example, compared in the gradient explorer."""
    def sq(z, v, T):
        return T * T * ((F.softmax(v / T, -1) - F.softmax(z / T, -1)) ** 2).sum()

    def adv(z, v, T):
        zz = (z / T).unsqueeze(0)
        return (F.log_softmax(zz, 1) - _log_one_minus_softmax(zz)).sum()

    return {
        N_("T² KL(p_T || q_T): right"): lambda z, v, T: losses.soft_loss(z, v, T),
        N_("seed's soft loss: sign flipped"): lambda z, v, T: -losses.soft_loss(z, v, T),
        N_("T² sum (p_T - q_T)²"): sq,
        N_("seed's 'adversarial' loss"): adv,
    }


#: The explorer's temperature slider stops at these values (the push is drawn at each of them).
PUSH_TEMPERATURES = (1, 1.5, 2, 3, 4, 6, 8, 12, 20)


def push_state(student_logits: torch.Tensor, teacher_logits: torch.Tensor, loss: str, T: float) -> dict:
    """For one example: the softened teacher and student, and the push ``-dL/dz`` on each student logit."""
    fn = _push_losses()[loss]
    _value, g = _grad(lambda z: fn(z, teacher_logits, T), student_logits)
    return {"loss": loss, "T": float(T), "p": F.softmax(teacher_logits / T, -1).numpy(), "q": F.softmax(student_logits / T, -1).numpy(),
            "push": (-g).numpy(), "toward_teacher": float(torch.dot(-g, F.softmax(teacher_logits / T, -1) - F.softmax(student_logits / T, -1)))}


def _push_limits(student_logits, teacher_logits, loss) -> float:
    return 1.15 * max(float(abs(push_state(student_logits, teacher_logits, loss, T)["push"]).max()) for T in PUSH_TEMPERATURES)


def _draw_push(axes, state, limit):
    C = len(state["p"])
    x = torch.arange(C).numpy()
    ax0, ax1 = axes
    b_p = ax0.bar(x - 0.2, state["p"], 0.4, color=plots.TEACHER, label=_("teacher p_T"))
    b_q = ax0.bar(x + 0.2, state["q"], 0.4, color=plots.ALONE, label=_("student q_T"))
    ax0.set(xticks=x, xlabel=_("class"), ylabel=_("probability"), ylim=(0, 1.05), title=_("softened outputs"))
    ax0.legend(loc="upper right")
    colours = [plots.DISTILLED if v >= 0 else plots.HARD for v in state["push"]]
    b_g = ax1.bar(x, state["push"], 0.6, color=colours)
    ax1.axhline(0, color="black", lw=0.8)
    ax1.set(xticks=x, xlabel=_("class"), ylabel=_("-dL/dz (up: raise that logit)"), ylim=(-limit, limit))
    title = ax1.set_title(" ", fontsize=12)  # the push's verdict, updated with the bars
    return {"p": b_p, "q": b_q, "push": b_g, "title": title}


def _update_push(artists, state):
    for bar, h in zip(artists["p"], state["p"]):
        bar.set_height(h)
    for bar, h in zip(artists["q"], state["q"]):
        bar.set_height(h)
    for bar, h in zip(artists["push"], state["push"]):
        bar.set_height(h)
        bar.set_color(plots.DISTILLED if h >= 0 else plots.HARD)
    if state["toward_teacher"] > 0:
        verdict = _("{loss}, T = {T:g}:\npushes the student toward the teacher")
    else:
        verdict = _("{loss}, T = {T:g}:\npushes the student away from the teacher")
    artists["title"].set_text(verdict.format(loss=_(state["loss"]), T=state["T"]))


def plot_push(student_logits, teacher_logits, loss: str, T: float, axes=None, figsize=(11, 3.6)):
    """The explorer's static twin: the two distributions and the push of one loss at one temperature."""
    fig, axes = plots.subplots(axes, figsize=figsize, nrows=1, ncols=2)
    state = push_state(student_logits, teacher_logits, loss, T)
    artists = _draw_push(axes, state, _push_limits(student_logits, teacher_logits, loss))
    _update_push(artists, state)
    fig.tight_layout()
    return fig


def push_explorer(student_logits: torch.Tensor, teacher_logits: torch.Tensor, loss: str = "T² KL(p_T || q_T): right",
                  T: float = 4.0, figsize=(10, 3.4)):
    """Try it: pick a loss and slide T; the bars show which student logits the loss raises or lowers (one example)."""
    import ipywidgets as w

    from ..widgets import Explorer, new_figure, slider_layout

    fig = new_figure(figsize)
    axes = fig.subplots(1, 2)
    limits = {name: _push_limits(student_logits, teacher_logits, name) for name in _push_losses()}
    artists = _draw_push(axes, push_state(student_logits, teacher_logits, loss, T), limits[loss])
    fig.tight_layout()
    controls = {"loss": w.Dropdown(options=[(_(name), name) for name in _push_losses()], value=loss, description=_("loss"),
                                   layout=w.Layout(width="360px")),
                "T": w.SelectionSlider(options=list(PUSH_TEMPERATURES), value=T, description="T", continuous_update=True,
                                       layout=slider_layout())}

    def update(loss, T):
        if axes[1].get_ylim() != (-limits[loss], limits[loss]):  # a new loss: new scale (and a full redraw)
            axes[1].set_ylim(-limits[loss], limits[loss])
        state = push_state(student_logits, teacher_logits, loss, T)
        _update_push(artists, state)
        return state

    def dynamic():
        return [*artists["p"], *artists["q"], *artists["push"], artists["title"]]

    return Explorer(fig, controls, update, dynamic, full_redraw={"loss"})


def plot_comparison(df: pd.DataFrame, axes=None, figsize=(12, 4.2)):
    """Test accuracy of every method, one dot per seed and the mean as a bar, one panel per regime."""
    regimes = list(dict.fromkeys(df["regime"]))
    fig, axes = plots.subplots(axes, figsize=figsize, nrows=1, ncols=len(regimes), squeeze=False)
    axes = list(axes.ravel())
    methods = list(dict.fromkeys(m for m in METHODS if m in set(df["method"])))
    colour = {"baseline": plots.ALONE, N_("logits"): plots.DISTILLED, N_("features"): plots.SMOOTHED, N_("relations"): plots.TEACHER}
    for ax, regime in zip(axes, regimes):
        sub = df[df["regime"] == regime]
        base = 100 * sub[sub["method"] == "hard labels"]["test_acc"].mean()
        for i, m in enumerate(methods):
            acc = 100 * sub[sub["method"] == m]["test_acc"].to_numpy()
            c = colour[METHODS[m]["family"]]
            ax.barh(i, acc.mean() - base, left=base, color=c, alpha=0.35, height=0.6)
            ax.plot(acc, [i] * len(acc), "o", color=c, ms=5)
        ax.axvline(base, color=plots.ALONE, lw=1, ls="--")
        ax.set_yticks(range(len(methods)), [_(m) for m in methods] if ax is axes[0] else [""] * len(methods))
        ax.invert_yaxis()
        ax.set(xlabel=_("test accuracy (%)"), title=_("student sees {regime}").format(regime=_(regime)))
    from matplotlib.patches import Patch

    handles = [Patch(color=c, alpha=0.5, label=_(f)) for f, c in colour.items() if f != "baseline"]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles) + 1, fontsize=10, frameon=False,
               title=_("bars: mean gain over the hard-label mean (dashed line); dots: one per seed"), title_fontsize=10)
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    return fig


# ---------------------------------------------------------------------------------------------------------------------
# PyTorch pitfalls, one function each
# ---------------------------------------------------------------------------------------------------------------------
