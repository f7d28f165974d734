"""Notebook 03, temperature (温度): its experiments, figures, explorer and exercises.

Questions answered by varying T and measuring something:

* :class:`TemperatureExplorer`: a slider over a real teacher's logits (003-12); its static
  twin is :func:`plot_temperature_small_multiples`.
* :func:`gradient_cosines`: temperature is no learning-rate knob (002-S2): it turns the
  soft-loss gradient, a learning rate only rescales it.
* :func:`soft_gradient_norms`: why the soft loss is multiplied by T². Its gradient with
  respect to the student's logits is ``T (q_T - p_T) / B`` with the factor and
  ``(q_T - p_T) / (T B)`` without it; ``q_T - p_T`` itself shrinks as ``1/T`` at high T, so
  without the factor the gradient falls as ``1/T²`` (Hinton, Vinyals & Dean 2015, section 2).
* :func:`seed_loss`, :func:`seed_weights`, :func:`teacher_swap_test`: seed 002-S3's loss
  ``-(1/N) sum [t y log q + (1 - t) y log p]`` with ``t = 1/T``, tested by autograd: its
  teacher term has no gradient, so swapping the teacher changes nothing the student learns.
* :func:`logit_matching_gap`: at high T, distillation becomes matching zero-mean logits with
  a squared error (same paper, section 2.1; Ba & Caruana 2014 did that directly).
* :func:`calibration_experiment`: temperature scaling for calibration (Guo et al. 2017), a
  different use of the word (003-12).
* :data:`SWEEP`: how T changes what the student learns (003-28), for Hinton's two student
  shapes (two hidden layers of 30 and of 300 units), over seeds, with the label-only
  baseline, precomputed by::

      python -m kdnb.nb03_temperature          # a few minutes on 2 idle CPU cores

  which writes ``data/results/temperature_sweep.csv``; :func:`sweep_summary` and
  :func:`gap_and_agreement` read it.
* ``check_*``: the checkers of the notebook's "Check yourself" exercises.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from . import calibration, losses, results
from . import models as kmodels
from .exercises import Verdict, check, close
from .plots import ALONE, DISTILLED, TEACHER, subplots
from .recipe import SETTINGS, grid, spread, summarize
from .teachers import TEACHERS
from .temperature import check_temperature, entropy, soft_targets, top2_ratio
from .training import fit, predict_logits, seed_everything
from .widgets import Explorer, grid_slider, new_figure, slider_layout

__all__ = [
    "pick_images", "explorer_inputs", "TemperatureExplorer", "temperature_explorer", "synthetic_inputs",
    "soft_gradient_norms", "gradient_cosines", "logit_matching_gap",
    "seed_loss", "seed_weights", "teacher_swap_test", "targets_vs_labels",
    "CalibrationRun", "calibration_experiment",
    "SWEEP", "SWEEP_TEMPERATURES", "SWEEP_SEEDS", "sweep_card", "sweep_summary", "gap_and_agreement",
    "temperature_panel", "update_temperature_panel", "plot_temperature_small_multiples", "plot_gradient_norms",
    "plot_logit_matching_gap", "plot_reliability_diagram", "plot_calibration", "plot_temperature_sweep",
    "plot_gap_and_agreement",
    "RATIO_LOGITS", "LEARNING_RATE_OPTIONS", "learning_rate_cosines",
    "check_ratio_e", "check_two_bits", "check_learning_rate_like", "check_shrink_factor", "check_kd_loss",
    "check_gap_shrink", "check_accuracy_changes", "check_gain", "main",
]

#: Temperatures of the training sweep: Hinton et al. (2015) used T from about 2 to 20.
SWEEP_TEMPERATURES = (1.0, 2.0, 4.0, 8.0, 20.0)
#: Seeds of the training sweep (initial weights and batch order).
SWEEP_SEEDS = (0, 1, 2)
#: The sweep's students, both taught by the 2x1200 MLP teacher: Hinton et al. (2015) compared
#: students with two hidden layers of 30 and of 300 units. Same schedule as the recipe's
#: small-student settings (60 epochs, Adam 2e-3, batch 256, alpha 0.9).
SWEEP = {
    "2x30": dict(SETTINGS["tiny-student"], student={"kind": "mlp", "hidden": [30, 30]},
                 summary="2x1200 MLP teacher -> 2x30 MLP"),
    "2x300": dict(SETTINGS["tiny-student"], student={"kind": "mlp", "hidden": [300, 300]},
                  summary="2x1200 MLP teacher -> 2x300 MLP"),
}


# ------------------------------------------------------------------ the temperature explorer
MODEL_COLORS = {"teacher": TEACHER, "student": DISTILLED}


#: The explorer opens on the image whose teacher ranks a runner-up this far below its top class at T = 1
#: (top-1/top-2 probability ratio). At about 10, the runner-up's bar is a tenth of the winner's at T = 1,
#: a hundredth at T = 0.5 and about half at T = 3: every move in the range a class asks about shows.
#: (On an image the teacher is sure of, nothing moves on screen below T of about 3.)
OPENING_RATIO = 10.0


def pick_images(teacher_logits: torch.Tensor, labels: torch.Tensor, n_ambiguous: int = 4) -> dict[str, int]:
    """Test images worth exploring, found from the teacher's logits rather than typed in.

    Returns ``{description: index}``, in this order (the explorer opens on the first):

    * the image to open on: among those the teacher gets right, the one whose top-1/top-2
      probability ratio at T = 1 is closest to :data:`OPENING_RATIO` (its two largest logits
      differ by about ln 10), so the bars move visibly from T = 0.5 to 3;
    * the image the teacher is most sure of (lowest entropy at T = 1 among those it gets right);
    * the ``n_ambiguous`` images with the highest entropy at T = 1 (where the "dark knowledge",
      the ranking of the wrong classes, is visible even without softening).
    """
    with torch.no_grad():
        z = teacher_logits.double()
        p = soft_targets(z, 1.0)
        h = entropy(p)
        pred = p.argmax(-1)
        right = pred == labels
        top2 = z.topk(2, dim=-1).values
        gap = top2[:, 0] - top2[:, 1]
    conf = int(torch.where(right, h, torch.full_like(h, math.inf)).argmin())
    ambiguous = h.argsort(descending=True)[:n_ambiguous].tolist()
    taken = torch.zeros_like(right)
    taken[[conf] + ambiguous] = True
    distance = torch.where(right & ~taken, (gap - math.log(OPENING_RATIO)).abs(), torch.full_like(gap, math.inf))
    out: dict[str, int] = {}
    if torch.isfinite(distance).any():
        i = int(distance.argmin())
        out[f"#{i}: a {int(labels[i])} with a runner-up ({int(z[i].topk(2).indices[1])})"] = i
    out[f"#{conf}: a {int(labels[conf])} the teacher is sure of"] = conf
    for i in ambiguous:
        verdict = "right" if bool(right[i]) else f"says {int(pred[i])}"
        out[f"#{i}: an ambiguous {int(labels[i])} (teacher {verdict})"] = i
    return out


def explorer_inputs(picks: dict[str, int], logits_by_model: dict[str, torch.Tensor], images: torch.Tensor | None = None) -> dict:
    """Gather, for each picked image, each model's 10 logits (and the image), for :func:`temperature_explorer`."""
    out = {}
    for name, i in picks.items():
        entry = {model: z[i].detach().double().clone() for model, z in logits_by_model.items()}
        if images is not None:
            entry["image"] = images[i].squeeze().numpy()
        out[name] = entry
    return out


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


def update_temperature_panel(artists: dict, state: dict, image: bool = True, readouts: bool = True) -> None:
    """Move the artists of :func:`temperature_panel` to ``state`` (from ``TemperatureExplorer.state_at``), in place.

    ``readouts=False`` moves the bars only (the live explorer shows T and the numbers as page text).
    """
    for m, container in artists["bars"].items():
        for bar, h in zip(container.patches, state["probs"][m]):
            bar.set_height(float(h))
        if readouts:
            artists["texts"][m].set_text(f"{m}: entropy {state['entropy'][m]:.2f} bits, "
                                         f"top-1/top-2 = {_ratio_text(state['ratio'][m])}")
    if readouts:
        artists["title"].set_text(f"softmax(z / T) at T = {state['T']:.2f}")
    if image and artists["image"] is not None and state.get("image") is not None:
        artists["image"].set_data(state["image"])


def _ratio_text(r: float) -> str:
    return "> 10⁶" if r > 1e6 else (f"{r:,.0f}" if r >= 100 else f"{r:.2f}")


class TemperatureExplorer(Explorer):
    """A temperature (温度) slider over real logits: bars of ``softmax(z / T)``, entropy, top-1/top-2 ratio.

    ``logits_by_image`` maps a label (shown in the dropdown) to ``{"teacher": z, "student": z,
    "image": 28x28 array (optional)}``; any model names work, in the order given. Controls:
    ``controls["T"]`` (a slider over the two-significant-figure temperatures from ``T_min`` to
    ``T_max``, :func:`kdnb.widgets.grid_slider`; a value set from code snaps to the nearest) and
    ``controls["key"]`` (the image; it opens on the first). :meth:`state_at` is
    the pure computation that the callback and the static twin share.
    """

    def __init__(self, logits_by_image: dict, T: float = 1.0, T_min: float = 0.1, T_max: float = 50.0,
                 figsize=(9, 3.6)):
        import ipywidgets as w

        if not logits_by_image:
            raise ValueError("logits_by_image is empty: pass at least one image's logits")
        check_temperature(T_min)
        if not T_min < T_max:
            raise ValueError(f"need T_min < T_max, got {T_min} and {T_max}")
        self.logits_by_image = logits_by_image
        first = next(iter(logits_by_image.values()))
        self.models = [k for k in first if k != "image"]
        self.has_image = "image" in first
        controls = {
            # Two-significant-figure temperatures (0.1, 0.11 … 8, 8.1 … 50): a value set from code is
            # one the slider shows, so the page never sends a rounded copy back.
            "T": grid_slider(T, T_min, T_max, description="T", continuous_update=True, layout=slider_layout()),
            "key": w.Dropdown(options=list(logits_by_image), description="image", layout=w.Layout(width="420px")),
        }
        fig = new_figure(figsize)
        if self.has_image:
            grid_ = fig.add_gridspec(1, 2, width_ratios=(1, 5), wspace=0.22)
            image_ax, ax = fig.add_subplot(grid_[0]), fig.add_subplot(grid_[1])
        else:
            image_ax, ax = None, fig.add_subplot()
        self.artists = temperature_panel(ax, self.models, image_ax=image_ax, n_classes=len(first[self.models[0]]))
        fig.subplots_adjust(left=0.01 if self.has_image else 0.08, right=0.99, bottom=0.15, top=0.86)
        a = self.artists
        # A move redraws the bars only. T, the entropies and the ratios are page text above the figure
        # (sharp at any zoom, read by a screen reader and a browser test), so the figure's own readouts
        # are hidden here and its title does not change; the static twin shows them in the figure.
        for text in a["texts"].values():
            text.set_visible(False)
        a["title"].set_text("softmax(z / T)")
        ax.set_ylim(0, 1.08)  # no headroom needed for the hidden readouts
        dynamic = [p for c in a["bars"].values() for p in c.patches]
        self.readout = w.HTML(layout=w.Layout(margin="2px 0 0 8px"))
        self.readout.add_class("kdnb-readout")
        super().__init__(fig, controls, self._show, lambda: dynamic, full_redraw={"key"}, header=self.readout)
        self.slider, self.dropdown = controls["T"], controls["key"]

    def state_at(self, T: float, key: str | None = None) -> dict:
        """The numbers shown at temperature ``T`` for image ``key``: probabilities, entropy (bits), top-1/top-2."""
        T = check_temperature(T)
        key = self.controls["key"].value if key is None else key
        entry = self.logits_by_image[key]
        probs, ent, ratio = {}, {}, {}
        for m in self.models:
            p = soft_targets(entry[m], T)
            probs[m] = p.numpy()
            ent[m] = float(entropy(p))
            ratio[m] = float(top2_ratio(p))
        return {"T": T, "key": key, "probs": probs, "entropy": ent, "ratio": ratio,
                "image": entry.get("image"), "argmax": {m: int(probs[m].argmax()) for m in self.models}}

    def _show(self, T: float, key: str) -> dict:
        state = self.state_at(T, key)
        update_temperature_panel(self.artists, state, readouts=False)
        self.readout.value = readout_html(state)
        return state


def readout_html(state: dict) -> str:
    """One line of page text: T, then each model's entropy (bits) and top-1/top-2 ratio."""
    parts = [f"<b>T = {state['T']:.2f}</b>"] + [
        f"{m}: entropy {state['entropy'][m]:.2f} bits, top-1/top-2 {_ratio_text(state['ratio'][m])}"
        for m in state["entropy"]]
    return " &nbsp;·&nbsp; ".join(parts)


def temperature_explorer(logits_by_image: dict, T: float = 1.0, **kwargs) -> TemperatureExplorer:
    """Build the temperature explorer (seed questions 002-S2, 003-12): display it, or drive it from code.

    ``explorer.slider.value = 20`` moves it; ``explorer.state`` holds what it shows.
    """
    return TemperatureExplorer(logits_by_image, T=T, **kwargs)


def synthetic_inputs(n_images: int = 3, seed: int = 0) -> dict:
    """Random logits for the explorer (tests and benchmarks): teacher, student and a blank image."""
    g = torch.Generator().manual_seed(seed)
    return {f"image {i}": {"teacher": 4 * torch.randn(10, generator=g, dtype=torch.float64),
                           "student": 3 * torch.randn(10, generator=g, dtype=torch.float64),
                           "image": np.zeros((28, 28), dtype=np.float32)} for i in range(n_images)}


# ------------------------------------------------------------------ gradients against T
def _grad(loss_fn, student_logits: torch.Tensor) -> torch.Tensor:
    z = student_logits.detach().clone().requires_grad_(True)
    loss_fn(z).backward()
    return z.grad


def soft_gradient_norms(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperatures) -> pd.DataFrame:
    """Norm of d(soft loss)/d(student logits), computed by autograd, with and without T².

    One row per T: ``with_T2`` uses :func:`kdnb.losses.soft_loss` as trained
    (``T² KL(p_T || q_T)``), ``without_T2`` the bare KL (``scale=False``). The ratio of the two
    is exactly T²; the point is how each behaves as T grows (seed questions 002-S2, 003-13).
    """
    rows = []
    for T in temperatures:
        g_with = _grad(lambda z: losses.soft_loss(z, teacher_logits, T, scale=True), student_logits)
        g_without = _grad(lambda z: losses.soft_loss(z, teacher_logits, T, scale=False), student_logits)
        rows.append({"T": float(T), "with_T2": g_with.norm().item(), "without_T2": g_without.norm().item()})
    return pd.DataFrame(rows).set_index("T")


def gradient_cosines(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperatures, reference: float = 1.0) -> pd.Series:
    """Cosine similarity between the soft-loss gradient at each T and at ``reference``.

    A learning-rate knob (the seed 002-S2 claim) would rescale the gradient and leave its
    direction alone: every cosine would be 1. Temperature changes *which way* the student's
    logits are pushed, because it changes the targets.
    """
    ref = _grad(lambda z: losses.soft_loss(z, teacher_logits, reference), student_logits).flatten()
    out = {}
    for T in temperatures:
        g = _grad(lambda z: losses.soft_loss(z, teacher_logits, T), student_logits).flatten()
        out[float(T)] = torch.nn.functional.cosine_similarity(g, ref, dim=0).item()
    return pd.Series(out, name=f"cosine with the gradient at T={reference:g}").rename_axis("T")


def logit_matching_gap(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperatures) -> pd.DataFrame:
    """How far the distillation gradient is from the logit-matching gradient, per T.

    ``relative_difference = ||g_KD(T) - g_LM|| / ||g_LM||`` where ``g_KD`` is the gradient of
    ``T² KL(p_T || q_T)`` and ``g_LM`` that of :func:`kdnb.losses.logit_matching_loss` (squared
    error between zero-mean logits, scaled so that the two agree in the limit). Hinton et al.
    (2015), section 2.1: at high temperature distillation *is* logit matching.
    """
    g_lm = _grad(lambda z: losses.logit_matching_loss(z, teacher_logits), student_logits)
    rows = []
    for T in temperatures:
        g_kd = _grad(lambda z: losses.soft_loss(z, teacher_logits, T), student_logits)
        rows.append({"T": float(T), "relative_difference": ((g_kd - g_lm).norm() / g_lm.norm()).item(),
                     "cosine": torch.nn.functional.cosine_similarity(g_kd.flatten(), g_lm.flatten(), dim=0).item()})
    return pd.DataFrame(rows).set_index("T")


# ------------------------------------------------------------------ seed 002-S3: t = 1/T and its loss
def seed_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, T: float) -> torch.Tensor:
    """Seed 002-S3's loss exactly as it is written: ``-(1/N) sum_i [t y_i log q_i + (1 - t) y_i log p_i]``.

    ``t = 1 / T``, ``q = softmax(student logits)``, ``p = softmax(teacher logits)`` and ``y`` the
    one-hot labels: the seed never divides a logit by T. Written out to be *tested*, not used:
    the teacher term ``(1 - t) y log p`` holds nothing of the student, so it has no gradient
    with respect to the student's logits (see :func:`teacher_swap_test`).
    """
    t = 1.0 / check_temperature(T)
    y = F.one_hot(labels, student_logits.shape[-1]).to(student_logits.dtype)
    log_q = F.log_softmax(student_logits, dim=-1)
    log_p = F.log_softmax(teacher_logits, dim=-1)
    return -(t * (y * log_q).sum(-1) + (1 - t) * (y * log_p).sum(-1)).mean()


def seed_weights(temperatures) -> pd.DataFrame:
    """The seed's two weights per T: ``t = 1/T`` on the student term and ``1 - t`` on the teacher term.

    For the seed's range, 0 < T < 1, ``t > 1`` and ``1 - t < 0``: a negative weight.
    """
    rows = [{"T": float(T), "t = 1/T (student term)": 1 / check_temperature(T),
             "1 - t (teacher term)": 1 - 1 / float(T)} for T in temperatures]
    return pd.DataFrame(rows).set_index("T")


def teacher_swap_test(student_logits: torch.Tensor, teacher_a: torch.Tensor, teacher_b: torch.Tensor,
                      labels: torch.Tensor, seed_T=(0.5, 0.8), kd_T: float = 4.0, alpha: float = 0.9) -> pd.DataFrame:
    """Does the student's gradient change when the teacher is swapped? The test that can fail.

    For each loss (the seed's at each T of ``seed_T``, and :func:`kdnb.losses.kd_loss` at
    ``kd_T``, ``alpha``), autograd computes the gradient with respect to ``student_logits``
    twice, once with ``teacher_a`` and once with ``teacher_b``. A loss that teaches anything
    about the teacher must give two different gradients. Columns:

    * ``loss value changes``: the two losses differ (for the seed's loss, by a constant);
    * ``gradient unchanged by the swap``: the relative change ``||g_a - g_b|| / ||g_a||`` is
      below 1e-6 (equal up to float error);
    * ``gradient = t x gradient of CE(labels)``: the loss is, for the student, the
      cross-entropy with the labels scaled by ``t`` (for kd_loss ``t`` is taken as 1).
    """
    def grad(loss):
        z = student_logits.detach().double().clone().requires_grad_(True)
        loss(z).backward()
        return z.grad

    ce = grad(lambda z: F.cross_entropy(z, labels))
    rows = {}
    cases = [(f"seed's loss, T = {T:g} (t = {1 / T:.3g}, 1 - t = {1 - 1 / T:.3g})", 1 / T,
              lambda v, T=T: (lambda z: seed_loss(z, v, labels, T))) for T in seed_T]
    cases.append((f"kd_loss, T = {kd_T:g}, alpha = {alpha:g}", 1.0,
                  lambda v: (lambda z: losses.kd_loss(z, v, labels, kd_T, alpha))))
    for name, t, make in cases:
        g_a, g_b = grad(make(teacher_a.double())), grad(make(teacher_b.double()))
        z = student_logits.detach().double()
        loss_a, loss_b = make(teacher_a.double())(z).item(), make(teacher_b.double())(z).item()
        change = ((g_a - g_b).norm() / g_a.norm()).item()
        rows[name] = {"loss value changes": abs(loss_a - loss_b) > 1e-6 * abs(loss_a),
                      "gradient unchanged by the swap": change < 1e-6,
                      "gradient = t x gradient of CE(labels)": bool(torch.allclose(g_a, t * ce, rtol=1e-6, atol=1e-12)),
                      "relative change": change}
    return pd.DataFrame(rows).T.astype({"loss value changes": bool, "gradient unchanged by the swap": bool,
                                        "gradient = t x gradient of CE(labels)": bool, "relative change": float})


def targets_vs_labels(teacher_logits: torch.Tensor, labels: torch.Tensor, temperatures) -> pd.DataFrame:
    """How far the teacher's soft targets are from the hard labels, per T (seed 003-28).

    Mean entropy in bits, and mean total-variation distance ``0.5 sum |p_T - y|`` to the one-hot
    label: 0 when the targets are the labels, towards 0.9 when they are uniform over 10 classes.
    """
    onehot = F.one_hot(labels, teacher_logits.shape[-1]).double()
    rows = {}
    for T in temperatures:
        p = soft_targets(teacher_logits.double(), T)
        rows[float(T)] = {"mean entropy (bits)": entropy(p).mean().item(),
                          "mean distance to the hard label (total variation)": 0.5 * (p - onehot).abs().sum(1).mean().item()}
    return pd.DataFrame(rows).T.rename_axis("T")


# ------------------------------------------------------------------ temperature scaling for calibration (003-12)
@dataclass
class CalibrationRun:
    """What :func:`calibration_experiment` measured: the report, the fitted temperatures and the logits."""

    report: pd.DataFrame
    T_fit: float
    T_teacher: float
    test_logits: torch.Tensor
    labels: torch.Tensor
    name: str = "2x800 on labels"

    def probabilities(self) -> dict[str, torch.Tensor]:
        """Test probabilities of the 2x800 before (T = 1) and after scaling (fitted T)."""
        return {f"{self.name}, T = 1": F.softmax(self.test_logits.double(), -1),
                f"{self.name}, T = {self.T_fit:.2f} (fitted)": F.softmax(self.test_logits.double() / self.T_fit, -1)}


def calibration_experiment(dataset, teacher, extra: dict[str, torch.Tensor] | None = None, seed: int = 0,
                           setting: str = "unregularized-2x800", teacher_name: str = "CNN teacher") -> CalibrationRun:
    """Guo et al. (2017) temperature scaling on Hinton's unregularized 2x800 net, trained here.

    Trains ``SETTINGS[setting]``'s student on the hard labels alone (no dropout, no
    distillation), fits one T on the **validation** split for it and for ``teacher``
    (:func:`kdnb.calibration.fit_temperature`), and reports accuracy, mean confidence, NLL and
    ECE on the **test** split before and after scaling. ``extra`` adds rows (test logits) at T = 1.
    """
    s = SETTINGS[setting]
    seed_everything(seed)
    big = kmodels.build(s["student"])
    fit(big, dataset.train, epochs=s["epochs"], lr=s["lr"], batch_size=s["batch_size"], seed=seed, progress=False)
    big_val, big_test = predict_logits(big, dataset.val.X), predict_logits(big, dataset.test.X)
    teacher_val, teacher_test = predict_logits(teacher, dataset.val.X), predict_logits(teacher, dataset.test.X)
    T_fit = calibration.fit_temperature(big_val, dataset.val.y)
    T_teacher = calibration.fit_temperature(teacher_val, dataset.val.y)
    rows = {"2x800 on labels, T = 1": (big_test, 1.0), "2x800 on labels, fitted T": (big_test, T_fit),
            f"{teacher_name}, T = 1": (teacher_test, 1.0), f"{teacher_name}, fitted T": (teacher_test, T_teacher)}
    rows.update({name: (z, 1.0) for name, z in (extra or {}).items()})
    report = calibration.calibration_report({name: z / T for name, (z, T) in rows.items()}, dataset.test.y)
    report.insert(0, "T", [T for _, T in rows.values()])
    return CalibrationRun(report, T_fit, T_teacher, big_test, dataset.test.y)


# ------------------------------------------------------------------ the sweep (003-28)
def sweep_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per student and T: :func:`kdnb.recipe.summarize` (accuracy, mean and range over seeds), plus
    the train-test gap of the distilled student and its top-1 agreement with the teacher, and the
    distilled student's mean validation accuracy (the split on which T is chosen), in %."""
    out = summarize(runs, by=["setting", "T"])
    g = runs.groupby(["setting", "T"], sort=False)
    out["kd_gap"] = 100 * (g.kd_train.mean() - g.kd_test.mean())
    out["alone_gap"] = 100 * (g.alone_train.mean() - g.alone_test.mean())
    out["kd_agree"] = 100 * g.kd_agree.mean()
    out["alone_agree"] = 100 * g.alone_agree.mean()
    out["kd_val"] = 100 * g.kd_val.mean()
    return out.rename_axis(["student", "T"]).round(2)


def sweep_card(runs: pd.DataFrame) -> pd.Series:
    """What the sweep trained, read from :data:`SWEEP`, the teacher's config and the CSV itself."""
    first = next(iter(SWEEP.values()))
    teacher = TEACHERS[first["teacher"]]
    t_model = teacher["model"]
    return pd.Series({
        "teacher": f"{first['teacher']}: {kmodels.describe(dict(t_model, dropout=0))} with dropout "
                   f"{t_model.get('dropout', 0):g}, trained on the same training images with random shifts of up to "
                   f"{teacher['train']['augment']} px",
        "students (Hinton's two shapes)": ", ".join(f"{name}: {kmodels.describe(s['student'])}" for name, s in SWEEP.items()),
        "training images (labels and transfer set)": f"{int(runs['labels'].iloc[0]):,}",
        "temperatures T": ", ".join(f"{T:g}" for T in sorted(runs["T"].unique())),
        "alpha (weight of the soft term)": ", ".join(f"{a:g}" for a in sorted(runs["alpha"].unique())),
        "epochs, batch, learning rate": f"{first['epochs']}, {first['batch_size']}, {first['lr']:g}",
        "seeds per (student, T)": f"{runs.groupby(['setting', 'T']).size().min()}",
        "baseline": "the same student on the labels alone, from the same initial weights",
    }, name="temperature sweep")


def gap_and_agreement(runs: pd.DataFrame) -> pd.DataFrame:
    """Per student and T, over seeds (mean, min, max, in %): the distilled student's accuracy on its
    training images and on the test images, their difference (the train-test gap, a measure of
    overfitting), and its top-1 agreement with the teacher on the test images; the label-only
    twin's gap and agreement for comparison (seed 003-28)."""
    df = runs.assign(kd_gap=runs.kd_train - runs.kd_test, alone_gap=runs.alone_train - runs.alone_test)
    out = spread(df, ["setting", "T"], ["kd_train", "kd_test", "kd_gap", "kd_agree", "alone_gap", "alone_agree"])
    keep = ["kd_train_mean", "kd_test_mean", "kd_gap_mean", "kd_gap_min", "kd_gap_max",
            "kd_agree_mean", "kd_agree_min", "kd_agree_max", "alone_gap_mean", "alone_agree_mean"]
    return out[keep].rename_axis(["student", "T"]).round(2)


# ------------------------------------------------------------------ figures


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
        for k, m in enumerate(models):
            artists["texts"][m].set_text(f"H = {state['entropy'][m]:.2f} bits")
            artists["texts"][m].set_fontsize(10)
        artists["title"].set_text(f"T = {state['T']:g}")
        ax.set_xlabel("class")
        ax.label_outer()
    fig.tight_layout()
    return fig


def plot_gradient_norms(table: pd.DataFrame, ax=None, figsize=(7, 4.2)):
    """Gradient norm of the soft loss against T (log-log), with and without the T² factor."""
    fig, ax = subplots(ax, figsize)
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


def plot_logit_matching_gap(table: pd.DataFrame, ax=None, figsize=(7, 4.2)):
    """Relative difference between the distillation and the logit-matching gradients against T (log-log)."""
    fig, ax = subplots(ax, figsize)
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


def plot_reliability_diagram(tables: dict[str, pd.DataFrame], eces: dict[str, float], axes=None, figsize=(11, 4.4)):
    """Reliability diagrams side by side: accuracy per confidence bin against the diagonal.

    Bars below the diagonal are over-confident bins. The title of each panel gives its ECE.
    """
    fig, axes = subplots(axes, figsize, 1, len(tables), sharey=True, squeeze=False)
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
    rows = (("kd_gap", "alone_gap", "train − test accuracy (points)", "overfitting: the train–test gap"),
            ("kd_agree", "alone_agree", "agreement with the teacher (%)", "top-1 agreement with the teacher, test images"))
    for col, student in enumerate(students):
        part = table.xs(student, level="student")
        T = part.index.to_numpy(dtype=float)
        for row, (kd, alone, ylabel, title) in enumerate(rows):
            ax = axes[row, col]
            mean = part[f"{kd}_mean"].to_numpy()
            err = np.vstack([mean - part[f"{kd}_min"].to_numpy(), part[f"{kd}_max"].to_numpy() - mean])
            ax.errorbar(T, mean, yerr=err, color=DISTILLED, marker="o", lw=2, capsize=4,
                        label="distilled: seed mean and range")
            ax.axhline(part[f"{alone}_mean"].iloc[0], color=ALONE, lw=2, ls="--", label="label-only twin (mean)")
            ax.set_xscale("log")
            ax.set_xticks(T, [f"{t:g}" for t in T])
            ax.minorticks_off()
            ax.set_title(f"{student}: {title}", loc="left", fontsize=12)
            if col == 0:
                ax.set_ylabel(ylabel)
            if row == 1:
                ax.set_xlabel("distillation temperature T (log scale)")
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
        ax.set_title(f"{student} student", loc="left")
        limits.append((min(alone.min(), 100 * part["kd_test"].min()), max(alone.max(), 100 * part["kd_test"].max())))
    span = max(hi - lo for lo, hi in limits) + 1.2
    for ax, (lo, hi) in zip(axes[0], limits):
        ax.set_ylim(lo - 0.4, lo - 0.4 + span)
    axes[0, 0].set_ylabel("test accuracy (%)")
    axes[0, 0].legend(fontsize=9.5, loc="upper left")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ exercises ("Check yourself")
def _number(a) -> float | None:
    """``a`` as a float if it is a real number (not a bool), else None."""
    if isinstance(a, bool) or isinstance(a, str):
        return None
    try:
        value = float(a)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


#: The logits of Check yourself 2.1.
RATIO_LOGITS = (3.0, 1.0, 0.0, -1.0)


def check_ratio_e(T) -> Verdict:
    """Check yourself 2.1: the T at which the top-1/top-2 ratio of the logits :data:`RATIO_LOGITS` is e.

    The ratio is ``exp((z1 - z2) / T)``. Names the usual mistakes: T multiplied instead of
    divided (T = 1/2), the probabilities used in place of the logits.
    """
    z = torch.tensor(RATIO_LOGITS, dtype=torch.float64)
    p = soft_targets(z, 1.0)
    prob_gap = float(p[0] - p[1])

    def diagnose(a):
        a = _number(a)
        if a is None or a <= 0:
            return "T is a number above 0 (softmax(z / T) is undefined at T = 0)"
        ratio = float(top2_ratio(soft_targets(z, a)))
        if abs(ratio - math.e) <= 1e-3 * math.e:
            return None
        if close(a, 0.5, rel=1e-3):
            return ("T = 1/2 solves exp(2 T) = e: you multiplied the logits by T. Temperature divides them: "
                    "solve exp((z1 - z2) / T) = e")
        if close(a, prob_gap, rel=1e-2):
            return ("you used the probabilities softmax(z) in place of the logits: the ratio is exp((z1 - z2) / T) "
                    "with the logits, z1 - z2 = 3 - 1")
        return f"at T = {a:g} the ratio is {ratio:.3g}, not e: solve exp((z1 - z2) / T) = e for T"

    return check("Check yourself 2.1", T, diagnose, todo="set T_ratio_e to a number, then rerun the cell",
                 praise="exp((3 - 1) / T) = e when T = 3 - 1 = 2: the ratio depends only on the gap between the two "
                        "largest logits, divided by T")


def check_two_bits(image_logits: torch.Tensor, T) -> Verdict:
    """Check yourself 2.2: the lowest T, within 10%, at which ``softmax(image_logits / T)`` carries more than 2 bits.

    Right when the entropy at ``T`` is above 2 bits and at ``T / 1.1`` is not. Names the usual
    mistakes: a T below 1 (which sharpens), a T that does not soften enough, a T far above the crossing.
    """
    z = image_logits.detach().double().reshape(-1)

    def bits(t: float) -> float:
        return float(entropy(soft_targets(z, t)))

    def diagnose(a):
        a = _number(a)
        if a is None or a <= 0:
            return "T is a number above 0"
        h = bits(a)
        if h > 2 and bits(a / 1.1) <= 2:
            return None
        if h > 2:
            return (f"at T = {a:.3g} it carries {h:.2f} bits, more than 2, but the question asks for the lowest such T "
                    "(within 10%): lower T until it just crosses 2 bits")
        if a < 1:
            return f"T = {a:g} is below 1, which sharpens: the entropy is {h:.2g} bits. Softening needs T above 1"
        if a == 1:
            return f"T = 1 is the ordinary softmax, where this image is nearly one-hot ({h:.2g} bits): raise T"
        return f"at T = {a:g} the entropy is only {h:.2f} bits: a confident image needs much more softening, raise T"

    a = _number(T)
    praise = (f"the entropy crosses 2 bits near T = {a:.3g}: a confident teacher shows its dark knowledge only at a "
              "high temperature") if a is not None and a > 0 else ""
    return check("Check yourself 2.2", T, diagnose, todo="set T_two_bits to a temperature, then rerun the cell", praise=praise)


#: The options of Check yourself 3.1: which change acts exactly like a learning rate on the soft term?
LEARNING_RATE_OPTIONS = {
    "a": "multiply the soft loss by a constant, at a fixed T",
    "b": "raise T from 4 to 8",
    "c": "double the optimizer's learning rate",
    "d": "multiply the teacher's logits by 2",
}


def _example_logits(seed: int = 0, n: int = 64, classes: int = 10, scale: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(n, classes, generator=g, dtype=torch.float64),
            scale * torch.randn(n, classes, generator=g, dtype=torch.float64))


def learning_rate_cosines() -> dict[str, float]:
    """Cosine between each option's update direction and the soft-loss gradient at T = 4 (fixed example logits)."""
    z, v = _example_logits()
    ref = _grad(lambda s: losses.soft_loss(s, v, 4.0), z).flatten()
    moves = {"a": _grad(lambda s: 3.0 * losses.soft_loss(s, v, 4.0), z), "b": _grad(lambda s: losses.soft_loss(s, v, 8.0), z),
             "c": 2.0 * _grad(lambda s: losses.soft_loss(s, v, 4.0), z), "d": _grad(lambda s: losses.soft_loss(s, 2 * v, 4.0), z)}
    return {k: F.cosine_similarity(g.flatten(), ref, dim=0).item() for k, g in moves.items()}


def check_learning_rate_like(answer) -> Verdict:
    """Check yourself 3.1: the options of :data:`LEARNING_RATE_OPTIONS` that only rescale the soft-loss gradient.

    ``answer`` is a string or a collection of letters. Autograd decides: an option acts like a
    learning rate when its update has cosine 1 with the gradient at T = 4.
    """
    cos = learning_rate_cosines()
    right = {k for k, c in cos.items() if c > 1 - 1e-9}

    def diagnose(a):
        letters = a.replace(",", " ").split() if isinstance(a, str) else list(a) if isinstance(a, (set, list, tuple)) else None
        if isinstance(a, str) and len(letters) == 1 and len(letters[0]) > 1:
            letters = list(letters[0])
        if letters is None or not letters:
            return 'answer with the letters of the options, e.g. {"a", "b"}'
        chosen = {str(x).strip().lower() for x in letters}
        if not chosen <= set(LEARNING_RATE_OPTIONS):
            return f"choose among {', '.join(LEARNING_RATE_OPTIONS)}; got {sorted(chosen - set(LEARNING_RATE_OPTIONS))}"
        if chosen == right:
            return None
        problems = []
        if "b" in chosen:
            problems.append(f"(b) turns the gradient: a new T means new targets p_T (cosine {cos['b']:.2f} with the T = 4 "
                            "gradient), which no learning rate can do")
        if "d" in chosen:
            problems.append(f"(d) doubling the teacher's logits is halving T for the teacher alone: new targets, a turned "
                            f"gradient (cosine {cos['d']:.2f})")
        if "a" not in chosen:
            problems.append("(a) does act like a learning rate: a constant factor on a loss multiplies its gradient and "
                            "keeps its direction (T² at a fixed T is such a factor)")
        if "c" not in chosen:
            problems.append("(c) is a learning-rate change by definition")
        return "; ".join(problems)

    return check("Check yourself 3.1", answer, diagnose, todo="set lr_like to the letters of your options, then rerun the cell",
                 praise="a constant factor and the learning rate rescale the update; changing T, or the teacher's logits, "
                        "changes the targets and so the direction")


def _check_factor(exercise: str, answer, measured: float, tolerance: float, asked: str,
                  known: list[tuple[float, str]], otherwise: str, todo: str, praise: str) -> Verdict:
    """A check for "by what factor does X shrink": right within ``tolerance`` of what autograd
    ``measured``; each ``known`` wrong value gets its own message."""

    def diagnose(a):
        a = _number(a)
        if a is None or a <= 0:
            return f"the answer is a positive number: {asked}"
        if abs(a / measured - 1) < tolerance:
            return None
        return next((message for value, message in known if close(a, value, rel=0.05)), otherwise)

    return check(exercise, answer, diagnose, todo=todo, praise=praise)


def check_shrink_factor(answer) -> Verdict:
    """Check yourself 4.1: by what factor the bare KL gradient shrinks from T = 20 to T = 40 (autograd measures it)."""
    z, v = _example_logits()
    norms = soft_gradient_norms(z, v, [20.0, 40.0])["without_T2"]
    measured = norms.iloc[0] / norms.iloc[1]
    return _check_factor(
        "Check yourself 4.1", answer, measured, 0.1, "(norm at T = 20) / (norm at T = 40)",
        [(2.0, "2 is how fast q_T - p_T shrinks (as 1/T); the bare KL gradient (q_T - p_T) / T has one more "
               "factor 1/T, so it falls as 1/T²"),
         (0.25, "the norm falls to a quarter, so it shrinks by a factor of 4: you gave the factor it is multiplied by"),
         (1.0, "1 describes the gradient *with* T², which levels off at high T; without T² it keeps falling")],
        f"autograd measures about {measured:.1f}; far from T = 1 the bare KL gradient scales as 1/T²",
        todo="set shrink_factor to a number, then rerun the cell",
        praise=f"(40 / 20)² = 4, and autograd measures {measured:.2f} on example logits")


def check_kd_loss(fn) -> Verdict:
    """Check yourself 5.1: ``fn(z, v, y, T, alpha)`` is the distillation loss of :func:`kdnb.losses.kd_loss`.

    ``(1 - alpha) CE(y, softmax(z)) + alpha T² KL(softmax(v / T) || softmax(z / T))``, batch mean.
    Names the usual mistakes: the T² factor missing, alpha on the wrong term, the student not
    softened, the KL reversed, ``F.kl_div``'s default reduction, the seed's loss.
    """
    z, v = _example_logits(seed=1, n=6, classes=5)
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    cases = [(4.0, 0.9), (2.0, 0.3)]

    def soft(T, student_T=None, reverse=False, per_class=False):
        log_p, log_q = F.log_softmax(v / T, -1), F.log_softmax(z / (student_T or T), -1)
        kl = (log_q.exp() * (log_q - log_p)) if reverse else (log_p.exp() * (log_p - log_q))
        return kl.sum() / (z.numel() if per_class else len(z))

    def ce():
        return F.cross_entropy(z, y)

    variants = {
        "no_T2": lambda T, a: (1 - a) * ce() + a * soft(T),
        "swapped": lambda T, a: a * ce() + (1 - a) * T * T * soft(T),
        "student_T1": lambda T, a: (1 - a) * ce() + a * T * T * soft(T, student_T=1.0),
        "reversed": lambda T, a: (1 - a) * ce() + a * T * T * soft(T, reverse=True),
        "mean": lambda T, a: (1 - a) * ce() + a * T * T * soft(T, per_class=True),
        "seed": lambda T, a: seed_loss(z, v, y, T),
    }
    messages = {
        "no_T2": "the T² factor is missing: without it the soft term's gradient shrinks as 1/T² (section 4)",
        "swapped": "alpha weights the soft (teacher) term and 1 - alpha the labels; you swapped them",
        "student_T1": "soften the student too: divide the student's logits by the same T inside the KL term",
        "reversed": ("KL is not symmetric: the target is the teacher, KL(p_T || q_T) = sum p_T (log p_T - log q_T); "
                     "you computed KL(q_T || p_T)"),
        "mean": ("F.kl_div's default reduction='mean' also divides by the number of classes: use "
                 "reduction='batchmean'"),
        "seed": "that is the seed's loss: its teacher term has no gradient and no T sits inside a softmax",
    }

    def diagnose(f):
        if not callable(f):
            return "pass the function itself: nb.check_kd_loss(my_kd_loss)"
        for T, a in cases:
            z_in = z.clone().requires_grad_(True)
            out = f(z_in, v.clone(), y.clone(), T, a)
            if not isinstance(out, torch.Tensor) or out.numel() != 1:
                return "return the loss as a one-element tensor (a scalar), averaged over the batch"
            if not close(out.item(), losses.kd_loss(z, v, y, T, a).item(), rel=1e-5):
                for name, variant in variants.items():
                    if close(out.item(), variant(T, a).item(), rel=1e-5):
                        return messages[name]
                return (f"at T = {T:g}, alpha = {a:g} your loss is {out.item():.4g}, kd_loss gives "
                        f"{losses.kd_loss(z, v, y, T, a).item():.4g}")
            if out.grad_fn is None:
                return "right value, but no gradient reaches the student: keep it a tensor (no .item(), no .detach())"
        return None

    return check("Check yourself 5.1", fn, diagnose, todo="write the body of my_kd_loss, then rerun the cell",
                 praise="it matches kdnb.losses.kd_loss at two settings of T and alpha, and the teacher's term moves the student")


def check_gap_shrink(answer) -> Verdict:
    """Check yourself 6.1: by what factor the KD-vs-logit-matching gradient difference shrinks from T = 100 to 1,000."""
    z, v = _example_logits()
    gap = logit_matching_gap(z, v, [100.0, 1000.0])["relative_difference"]
    measured = gap.iloc[0] / gap.iloc[1]
    return _check_factor(
        "Check yourself 6.1", answer, measured, 0.15, "(difference at T = 100) / (difference at T = 1,000)",
        [(100.0, "100 = (1000 / 100)² is the 1/T² rate of the bare KL gradient; the *difference* between "
                 "distillation and logit matching is the next term of the expansion, of order 1/T"),
         (0.1, "the difference falls to a tenth, so it shrinks by a factor of 10: you gave the factor it is multiplied by")],
        f"autograd measures about {measured:.0f}: the difference falls as 1/T",
        todo="set gap_shrink to a number, then rerun the cell",
        praise=f"the difference is of order 1/T: autograd measures a factor {measured:.1f} on example logits")


def check_accuracy_changes(answer) -> Verdict:
    """Check yourself 7.1: does temperature scaling for calibration change a model's accuracy? (No.)"""
    z, _ = _example_logits()
    same = all(torch.equal((z / T).argmax(1), z.argmax(1)) for T in (0.3, 1.9, 7.0))

    def diagnose(a):
        if not isinstance(a, (bool, np.bool_)):
            return f"answer True or False, got {a!r}"
        if bool(a) == (not same):
            return None
        return ("dividing every logit of an image by the same T > 0 keeps their order, so the argmax, hence accuracy, "
                "stays; only the confidence moves")

    return check("Check yourself 7.1", answer, diagnose, todo="set accuracy_changes to True or False, then rerun the cell",
                 praise="the argmax of z / T is the argmax of z for every T > 0: calibration moves the confidence, never the prediction")


def check_gain(summary: pd.DataFrame, answer, student: str = "2x30", T: float = 4.0) -> Verdict:
    """Check yourself 8.1: the mean gain, in points, of ``student`` distilled at ``T`` over its label-only twin.

    ``summary`` is :func:`sweep_summary`'s table. Names the usual mistakes: the accuracy read
    instead of the gain, a fraction instead of points, another row.
    """
    row = summary.loc[(student, T)]
    expected = float(row["gain_mean"])

    def diagnose(a):
        a = _number(a)
        if a is None:
            return "the answer is a number of points"
        if abs(a - expected) <= 0.051:
            return None
        if abs(a - float(row["kd_mean"])) <= 0.051:
            return "that is the distilled student's accuracy (kd_mean); the gain is kd_mean - alone_mean (gain_mean)"
        if abs(a - float(row["alone_mean"])) <= 0.051:
            return "that is the label-only student's accuracy (alone_mean); the gain is kd_mean - alone_mean (gain_mean)"
        if abs(a - expected / 100) <= 0.0006:
            return "that is a fraction; the table is in points (percent), so read gain_mean as it is"
        if abs(a + expected) <= 0.051:
            return "the sign is reversed: the gain is distilled minus label-only"
        others = sorted(summary["gain_mean"].items(), key=lambda item: item[0][1] != T)  # same T first
        for (s, t), other in others:
            if abs(a - other) <= 0.051 and (s, t) != (student, T):
                return f"that is the row ({s}, T = {t:g}); read the row ({student}, T = {T:g})"
        return f"read the gain_mean column of the row ({student}, T = {T:g})"

    return check("Check yourself 8.1", answer, diagnose, todo="set gain_small to a number of points, then rerun the cell",
                 praise=f"the {student} student distilled at T = {T:g} beats its label-only twin by {expected:.2f} points on "
                        "average over the seeds")



def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.nb03_temperature", description="the temperature sweep of notebook 03")
    parser.add_argument("--T", type=float, nargs="+", default=list(SWEEP_TEMPERATURES))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SWEEP_SEEDS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    runs = grid(SWEEP, args.seeds, [{"T": T} for T in args.T], threads=args.threads)
    path = results.write(runs, "temperature_sweep")
    print(sweep_summary(runs).to_string())
    print(f"wrote {path} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
