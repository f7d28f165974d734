"""The redraw scaffold every explorer uses: state from controls, artists moved, only they redrawn."""

import ipywidgets as w
import numpy as np
import pytest

from kdnb import widgets


def _explorer():
    fig = widgets.new_figure((4, 3))
    ax = fig.add_subplot()
    bars = ax.bar(range(3), [0, 0, 0])
    ax.set_ylim(0, 10)
    slider = w.FloatSlider(value=1.0, min=0.0, max=5.0)

    def update(k):
        for i, b in enumerate(bars.patches):
            b.set_height(k * (i + 1))
        return {"heights": [k * (i + 1) for i in range(3)]}

    return widgets.Explorer(fig, {"k": slider}, update, lambda: bars.patches), bars


def test_moving_a_control_updates_state_artists_and_picture():
    ex, bars = _explorer()
    first = ex.view.image.value
    assert first[:4] == b"\x89PNG"
    ex.controls["k"].value = 2.0
    assert ex.state["heights"] == [2.0, 4.0, 6.0]
    assert [b.get_height() for b in bars.patches] == [2.0, 4.0, 6.0]
    assert ex.view.image.value != first and ex.view.renders == 2


def test_blit_matches_a_full_redraw():
    ex, _ = _explorer()
    ex.controls["k"].value = 3.0
    blitted = ex.view.image.value
    full = ex.view.render(full=True)
    from io import BytesIO

    from PIL import Image

    a, b = (np.asarray(Image.open(BytesIO(x))) for x in (blitted, full))
    assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_image_is_shown_at_its_drawn_size():
    ex, _ = _explorer()
    assert ex.view.image.layout.width == "400px" and ex.view.image.layout.height == "300px"


def test_time_callback_returns_median_and_p95_and_restores_the_control():
    ex, _ = _explorer()
    median, p95 = widgets.time_callback(ex.controls["k"], [0.5, 1.5, 2.5], n=9)
    assert 0 < median <= p95 and ex.controls["k"].value == 1.0


def test_an_explorer_needs_a_control():
    with pytest.raises(ValueError, match="at least one control"):
        widgets.Explorer(widgets.new_figure(), {}, lambda: {}, lambda: [])
