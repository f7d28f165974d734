"""The temperature explorer of notebook 03 (section 2): a slider over a real teacher's logits.

:func:`pick_images` chooses the test images worth exploring from the teacher's logits,
:func:`explorer_inputs` gathers their logits, and :func:`temperature_explorer` builds the
:class:`TemperatureExplorer` (a :class:`kdnb.widgets.Explorer`). :func:`temperature_panel` and
:func:`update_temperature_panel` draw its panel, shared with the static twin in ``figures.py``.
The tables and verdicts of section 2 (:func:`picks_table`, :func:`shape_table`,
:func:`shape_verdicts`, :func:`on_screen_table`, :func:`tour_verdicts`) read the explorer's own
pure computation, :meth:`TemperatureExplorer.state_at`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from ..i18n import N_, _
from ..plots import DISTILLED, TEACHER
from ..temperature import check_temperature, entropy, soft_targets, top2_ratio
from ..verdicts import Verdicts
from ..widgets import Explorer, grid_slider, new_figure, slider_layout
from .shown import ON_SCREEN, Shown

MODEL_COLORS = {"teacher": TEACHER, "student": DISTILLED}
#: The models' names as the figures and readouts show them.
MODEL_LABELS = {"teacher": N_("teacher"), "student": N_("student")}


def model_label(model: str) -> str:
    """``model`` ("teacher", "student" or any other name) as the reader sees it, in the current language."""
    return _(MODEL_LABELS[model]) if model in MODEL_LABELS else model

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
        out[_("#{i}: a {label} with a runner-up ({runner_up})").format(
            i=i, label=int(labels[i]), runner_up=int(z[i].topk(2).indices[1]))] = i
    out[_("#{i}: a {label} the teacher is sure of").format(i=conf, label=int(labels[conf]))] = conf
    for i in ambiguous:
        if bool(right[i]):
            name = _("#{i}: an ambiguous {label} (teacher right)").format(i=i, label=int(labels[i]))
        else:
            name = _("#{i}: an ambiguous {label} (teacher says {said})").format(i=i, label=int(labels[i]), said=int(pred[i]))
        out[name] = i
    return out


def picks_table(picks: dict[str, int], teacher_logits: torch.Tensor, labels: torch.Tensor) -> Shown:
    """One row per picked test image: its label, the teacher's class, entropy (bits) and top-1/top-2 at T = 1."""
    index = list(picks.values())
    p = soft_targets(teacher_logits[index], 1.0)
    return Shown({N_("label"): [int(labels[i]) for i in index],
                  N_("teacher says"): p.argmax(1).tolist(),
                  N_("entropy at T=1 (bits)"): entropy(p).numpy().round(2),
                  N_("top-1/top-2 at T=1"): [f"{r:.3g}" for r in top2_ratio(p).tolist()]},
                 index=pd.Index(index, name=N_("test image")))


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
        bars[m] = ax.bar(x + offset, np.zeros(n_classes), width, color=MODEL_COLORS.get(m, f"C{k}"), label=model_label(m))
    ax.set_xticks(x, [str(c) for c in x])
    ax.set_xlabel(_("class (digit)"))
    ax.set_ylabel(_("probability"))
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
            artists["texts"][m].set_text(_("{model}: entropy {bits:.2f} bits, top-1/top-2 = {ratio}").format(
                model=model_label(m), bits=state["entropy"][m], ratio=_ratio_text(state["ratio"][m])))
    if readouts:
        artists["title"].set_text(_("softmax(z / T) at T = {T:.2f}").format(T=state["T"]))
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
    ``controls["key"]`` (the image; it opens on the first), also reachable as ``slider`` and
    ``dropdown``. :meth:`state_at` is the pure computation that the callback and the static twin share.
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
            "key": w.Dropdown(options=list(logits_by_image), description=_("image"), layout=w.Layout(width="420px")),
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
        _("{model}: entropy {bits:.2f} bits, top-1/top-2 {ratio}").format(
            model=model_label(m), bits=state["entropy"][m], ratio=_ratio_text(state["ratio"][m]))
        for m in state["entropy"]]
    return " &nbsp;·&nbsp; ".join(parts)


def temperature_explorer(logits_by_image: dict, T: float = 1.0, **kwargs) -> TemperatureExplorer:
    """Build the temperature explorer (seed questions 002-S2, 003-12): display it, or drive it from code.

    ``explorer.controls["T"].value = 20`` moves it as a reader would; ``explorer.state`` holds what it shows.
    """
    return TemperatureExplorer(logits_by_image, T=T, **kwargs)


def synthetic_inputs(n_images: int = 3, seed: int = 0) -> dict:
    """Random logits for the explorer (tests and benchmarks): teacher, student and a blank image."""
    g = torch.Generator().manual_seed(seed)
    return {f"image {i}": {"teacher": 4 * torch.randn(10, generator=g, dtype=torch.float64),
                           "student": 3 * torch.randn(10, generator=g, dtype=torch.float64),
                           "image": np.zeros((28, 28), dtype=np.float32)} for i in range(n_images)}


# ------------------------------------------------------------------ what section 2 reads off the explorer
def shape_table(explorer: TemperatureExplorer, confident: str, ambiguous: str, temperatures) -> Shown:
    """The teacher's entropy (bits) on the confident and the ambiguous image per T, and the ambiguous image's
    top-1/top-2 ratio: the explorer's numbers at fixed temperatures (:meth:`TemperatureExplorer.state_at`)."""
    index = pd.Index(list(temperatures), name="T")
    table = Shown({name: [explorer.state_at(T, key)["entropy"]["teacher"] for T in index]
                   for name, key in ((N_("entropy, confident image (bits)"), confident),
                                     (N_("entropy, ambiguous image (bits)"), ambiguous))}, index=index)
    table = table.round(3)
    table[N_("top-1/top-2, ambiguous")] = [f"{explorer.state_at(T, ambiguous)['ratio']['teacher']:.3g}" for T in index]
    return table


def shape_verdicts(explorer: TemperatureExplorer, confident: str, ambiguous: str, temperatures) -> Verdicts:
    """Section 2's claims about the shape of ``softmax(z / T)``, on the teacher's logits for two images."""
    Ts = sorted(float(T) for T in temperatures)
    states = {name: [explorer.state_at(T, key) for T in Ts] for name, key in (("confident", confident), ("ambiguous", ambiguous))}
    bits = {name: [s["entropy"]["teacher"] for s in seen] for name, seen in states.items()}
    classes = sorted({s["argmax"]["teacher"] for s in states["ambiguous"]})
    uniform = math.log2(len(states["ambiguous"][0]["probs"]["teacher"]))
    return Verdicts({
        _("The teacher's entropy grows with T on both images: the higher T, the flatter the distribution."):
            all(pd.Series(b).is_monotonic_increasing for b in bits.values()),
        _("At T = {T:g} the confident image is one-hot to within 0.01 bits.").format(T=Ts[0]): bits["confident"][0] < 0.01,
        _("At T = {T:g} the ambiguous image carries more than 95% of the uniform distribution's "
          "{bits:.2f} bits.").format(T=Ts[-1], bits=uniform): bits["ambiguous"][-1] > 0.95 * uniform,
        _("The teacher's class for the ambiguous image is the same ({classes}) at all {n} "
          "temperatures: dividing by T keeps the order of the logits.").format(
            classes=", ".join(map(str, classes)), n=len(Ts)): len(classes) == 1,
    })


def on_screen_table(seen: dict[float, dict]) -> Shown:
    """Entropy (bits) of each model as the explorer showed it, per T: ``seen`` maps T to ``explorer.state``."""
    models = list(next(iter(seen.values()))["entropy"])
    return Shown({ON_SCREEN.format(model=MODEL_LABELS.get(m, m)): [s["entropy"][m] for s in seen.values()] for m in models},
                 index=pd.Index(list(seen), name="T")).round(2)


def tour_verdicts(explorer: TemperatureExplorer, seen: dict[float, dict], frames: dict[float, bytes],
                  teacher_logits: torch.Tensor, renders_before: int, back_to: float = 1.0) -> Verdicts:
    """What driving the explorer from code showed (section 2).

    ``seen`` maps each T set on the slider to the state shown then, on one image whose teacher logits
    are ``teacher_logits``; ``frames`` maps each T set on the image the explorer opens on to the PNG
    drawn; ``renders_before`` is ``explorer.view.renders`` before the tour; ``back_to`` is the T the
    explorer's cell set.
    """
    states = list(seen.values())
    z = teacher_logits.detach().double()
    entropies = [s["entropy"]["teacher"] for s in states]
    state, opening = explorer.state, explorer.controls["key"].options[0]
    return Verdicts({
        _("On the image it was switched to, the explorer showed each T it was set to ({temperatures}), and teacher "
          "and student kept the same top class.").format(temperatures=", ".join(f"{T:g}" for T in seen)):
            all(s["T"] == T and s["key"] == states[0]["key"] for T, s in seen.items())
            and all(len(set(s["argmax"].values())) == 1 for s in states),
        _("Its bars are softmax(z / T) of the teacher's logits."):
            all(np.allclose(s["probs"]["teacher"], soft_targets(z, T).numpy()) for T, s in seen.items()),
        _("The teacher's entropy on screen grows with T."): entropies == sorted(entropies),
        _("On the image it opens on, T = {temperatures} draw {n} different frames.").format(
            temperatures=", ".join(f"{T:g}" for T in frames), n=len(frames)):
            len(set(frames.values())) == len(frames),
        _("Every move redrew the figure."): explorer.view.renders > renders_before,
        _("The explorer is back at T = {T:g} on the image it opens on, where its cell set it.").format(T=state["T"]):
            state["T"] == explorer.controls["T"].value == back_to and state["key"] == opening,
    })
