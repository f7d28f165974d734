"""Widgets: thin, testable views over the pure functions of :mod:`kdnb.temperature`.

Each widget is built by a function that returns an object exposing its controls (so a test
can set ``slider.value``) and its current ``state`` (what it shows, as numbers). It draws its
figure once; a change of a control recomputes a few numbers, moves the existing artists
(``set_height``, ``set_text``) and re-renders. Nothing is trained in a callback.

Rendering without ``ipympl`` (the default inline backend): the figure is a plain Agg figure,
rendered to PNG and sent to an ``ipywidgets.Image`` (``mode="image"``), or re-displayed through
an ``ipywidgets.Output`` (``mode="output"``). :func:`benchmark_callback` measures one update.
"""

from __future__ import annotations

import io
import math
import statistics
import time

import numpy as np
import torch

from . import plots
from .temperature import check_temperature, entropy, soft_targets, top2_ratio

__all__ = ["pick_images", "explorer_inputs", "TemperatureExplorer", "temperature_explorer", "benchmark_callback"]


def pick_images(teacher_logits: torch.Tensor, labels: torch.Tensor, n_ambiguous: int = 4) -> dict[str, int]:
    """Test images worth exploring, found from the teacher's logits rather than typed in.

    Returns ``{description: index}``: the image the teacher is most sure of (lowest entropy at
    T = 1 among those it gets right), the ``n_ambiguous`` images with the highest entropy at
    T = 1 (where the "dark knowledge", the ranking of the wrong classes, is visible even
    without softening), and the confidently classified image whose second class is the most
    probable one (a near miss).
    """
    with torch.no_grad():
        p = soft_targets(teacher_logits.double(), 1.0)
        h = entropy(p)
        pred = p.argmax(-1)
        right = pred == labels
    out: dict[str, int] = {}
    conf = int(torch.where(right, h, torch.full_like(h, math.inf)).argmin())
    out[f"#{conf}: a {int(labels[conf])} the teacher is sure of"] = conf
    for i in h.argsort(descending=True)[:n_ambiguous].tolist():
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


class TemperatureExplorer:
    """A temperature (温度) slider over real logits: bars of ``softmax(z / T)``, entropy, top-1/top-2 ratio.

    ``logits_by_image`` maps a label (shown in the dropdown) to ``{"teacher": z, "student": z,
    "image": 28x28 array (optional)}``; any model names work, in the order given. Controls:
    :attr:`slider` (a ``FloatLogSlider`` for T) and :attr:`dropdown` (the image). The numbers on
    screen are in :attr:`state`. :meth:`state_at` is the pure computation the callback and the
    static twin share; :meth:`update` moves the artists and renders once.
    """

    def __init__(self, logits_by_image: dict, T: float = 1.0, T_min: float = 0.1, T_max: float = 50.0,
                 mode: str = "image", figsize=(9, 3.4), dpi: int = 80):
        import ipywidgets as w
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if not logits_by_image:
            raise ValueError("logits_by_image is empty: pass at least one image's logits")
        if mode not in ("image", "output"):
            raise ValueError(f"mode must be 'image' or 'output', got {mode!r}")
        check_temperature(T_min)
        if not T_min < T_max:
            raise ValueError(f"need T_min < T_max, got {T_min} and {T_max}")
        self.logits_by_image = logits_by_image
        first = next(iter(logits_by_image.values()))
        self.models = [k for k in first if k != "image"]
        self.has_image = "image" in first
        self.mode = mode
        self.slider = w.FloatLogSlider(value=T, base=10, min=math.log10(T_min), max=math.log10(T_max), step=0.01,
                                       description="T", readout_format=".2f", continuous_update=True,
                                       layout=w.Layout(width="420px"))
        self.dropdown = w.Dropdown(options=list(logits_by_image), description="image", layout=w.Layout(width="420px"))
        self.fig = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(self.fig)
        if self.has_image:
            grid = self.fig.add_gridspec(1, 2, width_ratios=(1, 5), wspace=0.22)
            image_ax, ax = self.fig.add_subplot(grid[0]), self.fig.add_subplot(grid[1])
        else:
            image_ax, ax = None, self.fig.add_subplot()
        self.artists = plots.temperature_panel(ax, self.models, image_ax=image_ax, n_classes=len(first[self.models[0]]))
        self.fig.subplots_adjust(left=0.01 if self.has_image else 0.08, right=0.99, bottom=0.15, top=0.86)
        self.view = w.Image(format="png") if mode == "image" else w.Output()
        self.state: dict = {}
        self._background = None
        self.widget = w.VBox([w.HBox([self.slider, self.dropdown]), self.view])
        self.slider.observe(self.update, names="value")
        self.dropdown.observe(self.update, names="value")
        self.update()

    def state_at(self, T: float, key: str | None = None) -> dict:
        """The numbers shown at temperature ``T`` for image ``key``: probabilities, entropy (bits), top-1/top-2."""
        T = check_temperature(T)
        key = self.dropdown.value if key is None else key
        entry = self.logits_by_image[key]
        probs, ent, ratio = {}, {}, {}
        for m in self.models:
            p = soft_targets(entry[m], T)
            probs[m] = p.numpy()
            ent[m] = float(entropy(p))
            ratio[m] = float(top2_ratio(p))
        return {"T": T, "key": key, "probs": probs, "entropy": ent, "ratio": ratio,
                "image": entry.get("image"), "argmax": {m: int(probs[m].argmax()) for m in self.models}}

    def update(self, change=None) -> dict:
        """Recompute the state for the current controls, move the artists, render once."""
        self.state = self.state_at(self.slider.value, self.dropdown.value)
        new_image = change is None or change["owner"] is self.dropdown
        plots.update_temperature_panel(self.artists, self.state, image=new_image)
        self._render(full=new_image or self._background is None)
        return self.state

    def _dynamic(self) -> list:
        a = self.artists
        return [p for c in a["bars"].values() for p in c.patches] + list(a["texts"].values()) + [a["title"]]

    def _render(self, full: bool = False) -> None:
        """Blit: the axes, ticks and legend are drawn once into a saved background; a slider
        move restores it and draws only the bars and texts (Agg has no ``draw_idle`` to defer
        to, so this is what keeps an update cheap). The PNG is encoded with light compression."""
        canvas = self.fig.canvas
        if self.mode == "output":
            from IPython.display import display

            with self.view:
                self.view.clear_output(wait=True)
                display(self.fig)  # the plain way: the inline backend renders the whole figure
            return
        if full:
            for artist in self._dynamic():
                artist.set_animated(True)
            canvas.draw()  # everything that is not animated
            self._background = canvas.copy_from_bbox(self.fig.bbox)
        else:
            canvas.restore_region(self._background)
        for artist in self._dynamic():
            self.fig.draw_artist(artist)
        from PIL import Image

        width, height = canvas.get_width_height()
        buf = io.BytesIO()
        Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).save(
            buf, format="png", compress_level=1)
        self.view.value = buf.getvalue()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def temperature_explorer(logits_by_image: dict, T: float = 1.0, **kwargs) -> TemperatureExplorer:
    """Build the temperature explorer (seed questions 002-S2, 002-S3, 003-12): display it, or drive it from code.

    ``explorer.slider.value = 20`` moves it; ``explorer.state`` holds what it shows.
    """
    return TemperatureExplorer(logits_by_image, T=T, **kwargs)


def _synthetic_inputs(n_images: int = 3, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {f"image {i}": {"teacher": 4 * torch.randn(10, generator=g, dtype=torch.float64),
                           "student": 3 * torch.randn(10, generator=g, dtype=torch.float64),
                           "image": np.zeros((28, 28), dtype=np.float32)} for i in range(n_images)}


def benchmark_callback(n: int = 200, explorer: TemperatureExplorer | None = None, mode: str = "image") -> float:
    """Median milliseconds of one slider update: set ``slider.value``, recompute, move artists, render.

    This is the kernel's share of a slider move; the browser adds the round trip and the
    repaint. Without an ``explorer`` one is built on synthetic logits.
    """
    ex = explorer or temperature_explorer(_synthetic_inputs(), mode=mode)
    values = np.geomspace(0.2, 40, 37)
    times = []
    for i in range(n):
        value = float(values[i % len(values)])
        if math.isclose(value, ex.slider.value):
            value *= 1.01
        start = time.perf_counter()
        ex.slider.value = value
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)
