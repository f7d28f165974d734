"""One fast redraw scaffold for every explorer: controls, a pure ``state`` function, artists moved in place.

An explorer is three things:

* **controls**: ipywidgets sliders and menus (a test sets ``control.value`` as a reader drags it);
* **update(values) -> state**: looks numbers up, does arithmetic, moves existing matplotlib
  artists (``set_height``, ``set_ydata``, ``set_text``), and returns what it shows as numbers.
  It never trains;
* **a view**: :class:`BlitView` renders the figure into an ``ipywidgets.Image``. The parts that
  never move (axes, ticks, legend) are drawn once into a saved background; a move restores it
  and draws only the artists that changed, then sends one PNG drawn at the size it is shown
  (where the page is narrower, as with JupyterLab's file browser open, the browser scales it
  down whole, keeping its aspect ratio).

A slider over a log range is a :func:`grid_slider`: its values are the two-significant-figure
numbers (0.1, 0.25, 8, 40 …), so a value set from code is one the page can show, and the page
never sends back a rounded copy of it. Every explorer also puts :data:`FOCUS_CSS` on the page,
so a slider handle reached with the Tab key shows a visible focus ring.

Measured in a real JupyterLab (headless Chromium, 2-core CPU): about 70 ms from a slider move
to the redrawn figure this way, against about 145 ms when the whole figure is re-shown through
an ``ipywidgets.Output``. The same ``update`` function draws each explorer's static twin, so a
notebook shows the figure without a kernel and nbval runs the code path.
"""

from __future__ import annotations

import functools
import io
import math
from typing import Callable, Iterable

__all__ = ["SLIDER_WIDTH", "MAX_FIGURE_PX", "FOCUS_CSS", "slider_layout", "button", "new_figure", "log_grid", "grid_slider",
           "focus_style", "BlitView", "Explorer"]

#: Sliders are at least this wide, so the track a reader drags is about 280 px long after its
#: label and readout: easy to hit on a projector or a touchpad.
SLIDER_WIDTH = "460px"
#: The widest figure (in pixels at the workbook's 100 dpi) that JupyterLab shows unscaled at
#: 1280×720 with the side panel closed; wider images are shrunk and their text with them.
MAX_FIGURE_PX = 1100

#: Button colours with white text at a contrast of at least 4.5:1 (WCAG AA); ipywidgets' own
#: button styles are lighter (2.7:1 to 4.1:1 in JupyterLab's light theme).
BUTTON_COLORS = {"primary": "#1565c0", "success": "#2e7d32", "warning": "#a14f00", "danger": "#c62828",
                 "info": "#00695c"}


#: A visible keyboard focus for slider handles. ipywidgets' own style removes the outline of a focused
#: handle and only darkens it, which is hard to see on a projector; this draws a ring around it
#: (WCAG 2.4.7, focus visible). ``:focus-visible``: keyboard focus, not a mouse drag.
FOCUS_CSS = """
.widget-slider .noUi-target:not([disabled]) .noUi-handle:focus-visible,
.jupyter-widget-slider .noUi-target:not([disabled]) .noUi-handle:focus-visible {
  outline: 3px solid #1565c0 !important; outline-offset: 2px !important;
  box-shadow: 0 0 0 6px rgba(21, 101, 192, 0.35) !important;
}
"""


def focus_style():
    """A hidden ipywidgets HTML holding :data:`FOCUS_CSS`: put it in any widget tree (its style applies to the page)."""
    import ipywidgets as w

    style = w.HTML(f"<style>{FOCUS_CSS}</style>", layout=w.Layout(display="none"))
    style.add_class("kdnb-focus-style")
    return style


def log_grid(lo: float, hi: float) -> list[float]:
    """Every number with two significant figures from ``lo`` to ``hi`` (0.1, 0.11 … 0.99, 1, 1.1 … 50).

    Neighbours differ by at most 10%, and the values a reader names (0.5, 2, 8, 20, 40) are on it.
    Each value is the float nearest its decimal, so ``8.0`` and ``0.1`` compare equal to the literals.
    """
    if not 0 < lo < hi:
        raise ValueError(f"need 0 < lo < hi, got {lo} and {hi}")
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    values = {float(f"{k}e{e - 1}") for e in range(first, last + 1) for k in range(10, 100)}
    return sorted(v for v in values if lo * (1 - 1e-12) <= v <= hi * (1 + 1e-12))


@functools.cache
def _grid_slider_class():
    import ipywidgets as w
    from traitlets import TraitError, validate

    class GridSlider(w.SelectionSlider):
        """ipywidgets' SelectionSlider whose ``value`` setter snaps a number to the nearest option (see :func:`grid_slider`)."""

        @validate("value")
        def _validate_value(self, proposal):
            v = proposal.value
            grid = self._options_values
            try:
                x = float(v)
            except (TypeError, ValueError):
                raise TraitError(f"{self.description or 'this slider'} takes a number, got {v!r}") from None
            if not (x > 0 and math.isfinite(x)) or x < grid[0] / 1.05 or x > grid[-1] * 1.05:
                raise TraitError(f"{self.description or 'the value'} must be between {grid[0]:g} and {grid[-1]:g}, "
                                 f"got {v!r}")
            logs = [abs(math.log(g / x)) for g in grid]
            return grid[logs.index(min(logs))]

    return GridSlider


def grid_slider(value: float, lo: float, hi: float, description: str = "", **kwargs):
    """A slider over :func:`log_grid` (``lo``, ``hi``); ``.value`` is a float on the grid.

    Setting ``.value`` from code snaps it to the nearest grid value (in log terms); a value beyond
    the ends by more than 5% is refused with a ``TraitError``. Built on ipywidgets'
    ``SelectionSlider``: the page and the kernel exchange the position's index, so the page never
    echoes a rounded value back (a ``FloatLogSlider`` snaps 8 to 7.94 on its step grid and sends
    that back, after any cells still queued).
    """
    grid = log_grid(lo, hi)
    options = [(f"{v:g}", v) for v in grid]
    slider = _grid_slider_class()(options=options, value=grid[0], description=description, **kwargs)
    slider.value = value
    return slider


def slider_layout(width: str = SLIDER_WIDTH, **kwargs):
    """An ipywidgets Layout for a slider that is wide enough to drag precisely."""
    import ipywidgets as w

    return w.Layout(width=width, **kwargs)


def button(description: str, kind: str = "primary", **kwargs):
    """An ipywidgets Button with white text on a dark enough colour to read (``kind`` in :data:`BUTTON_COLORS`)."""
    import ipywidgets as w

    if kind not in BUTTON_COLORS:
        raise ValueError(f"unknown button kind {kind!r}: use one of {sorted(BUTTON_COLORS)}")
    b = w.Button(description=description, **kwargs)
    b.style.button_color = BUTTON_COLORS[kind]
    b.style.text_color = "white"
    return b


def new_figure(figsize=(9, 3.6), dpi: int = 100):
    """A matplotlib Figure on the Agg canvas, not registered with pyplot (so no cell shows it twice)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


class BlitView:
    """Render ``fig`` into an ``ipywidgets.Image``, redrawing only ``dynamic()`` artists after the first time.

    ``dynamic`` returns the artists that change on a control move. ``render(full=True)``
    redraws everything (use it when a background element changes, e.g. a new image).
    """

    def __init__(self, fig, dynamic: Callable[[], Iterable]):
        import ipywidgets as w

        self.fig, self.dynamic = fig, dynamic
        width, _ = fig.canvas.get_width_height()
        if width > MAX_FIGURE_PX:
            raise ValueError(f"an explorer figure of {width} px would be shrunk in JupyterLab at 1280x720 "
                             f"(its text with it): make it at most {MAX_FIGURE_PX} px wide ({MAX_FIGURE_PX / fig.dpi:.1f} in)")
        # Shown at the size it is drawn (text stays sharp) where it fits; where the page is narrower
        # (JupyterLab with its file browser open leaves 848 px), the browser shrinks it whole:
        # max-width caps the width and the height follows from the aspect ratio.
        self.image = w.Image(format="png", layout=w.Layout(width=f"{width}px", max_width="100%", height="auto"))
        self._background = None
        self.renders = 0

    def render(self, full: bool = False) -> bytes:
        canvas = self.fig.canvas
        artists = list(self.dynamic())
        if full or self._background is None:
            for a in artists:
                a.set_animated(True)
            canvas.draw()  # everything that is not animated
            self._background = canvas.copy_from_bbox(self.fig.bbox)
        else:
            canvas.restore_region(self._background)
        for a in artists:
            self.fig.draw_artist(a)
        self.image.value = self.png()
        self.renders += 1
        return self.image.value

    def png(self) -> bytes:
        """The canvas as it is now, as PNG bytes (fast compression: the image crosses a socket, not a disk)."""
        from PIL import Image

        canvas = self.fig.canvas
        width, height = canvas.get_width_height()
        buf = io.BytesIO()
        Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).save(
            buf, format="png", compress_level=1)
        return buf.getvalue()


class Explorer:
    """Controls + ``update`` + a :class:`BlitView`, laid out as a widget.

    ``controls`` maps a name to an ipywidget; ``update(**values)`` returns the state and moves
    artists; ``dynamic()`` lists the moving artists; a change of a control named in
    ``full_redraw`` redraws the whole figure. ``explorer.state`` is what is on screen;
    ``explorer.controls[name].value = x`` drives it like a mouse. ``actions`` maps a button's
    label to a function for work too slow for a slider (training); ``explorer.act(label)`` clicks it.
    Subclass it for an explorer with more to hold; never set its attributes from outside.
    """

    def __init__(self, fig, controls: dict, update: Callable[..., dict], dynamic: Callable[[], Iterable],
                 full_redraw: Iterable[str] = (), header=None, actions: dict[str, Callable[[], object]] | None = None):
        import ipywidgets as w

        if not controls:
            raise ValueError("an explorer needs at least one control")
        self.fig, self.controls, self._update = fig, dict(controls), update
        self.full_redraw = set(full_redraw)
        self.view = BlitView(fig, dynamic)
        self.state: dict = {}
        # Actions are buttons for the slow work a slider must not do (training a student): each runs
        # its function, which may redraw through refresh(); a test calls explorer.act(label).
        self.actions = dict(actions or {})
        self.buttons = {label: button(label) for label in self.actions}
        for label, b in self.buttons.items():
            b.on_click(lambda _b, label=label: self.act(label))
        # Controls wrap onto a second line rather than shrink: a slider keeps its full length.
        rows = [w.HBox(list(self.controls.values()) + list(self.buttons.values()), layout=w.Layout(flex_flow="row wrap"))]
        if header is not None:
            rows.append(header)
        self.widget = w.VBox([focus_style()] + rows + [self.view.image])
        for name, control in self.controls.items():
            control.observe(lambda change, name=name: self.refresh(name), names="value")
        self.refresh(None)

    def values(self) -> dict:
        return {name: c.value for name, c in self.controls.items()}

    def refresh(self, changed: str | None = None) -> dict:
        """Recompute the state for the current control values, move the artists, render once."""
        self.state = self._update(**self.values())
        self.view.render(full=changed is None or changed in self.full_redraw)
        return self.state

    def act(self, label: str):
        """Run the action of button ``label`` (what a click does); returns what the action returns."""
        if label not in self.actions:
            raise KeyError(f"no action {label!r}; this explorer has {list(self.actions)}")
        return self.actions[label]()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
