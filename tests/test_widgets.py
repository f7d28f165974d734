"""The redraw scaffold every explorer uses: state from controls, artists moved, only they redrawn."""

import ipywidgets as w
import numpy as np
import pytest

from kdnb import bench, widgets


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


def test_image_is_shown_at_its_drawn_size_or_shrunk_whole():
    """At most its drawn width, never wider than its container, the height following the aspect ratio:
    a fixed height would squeeze the figure whenever the page is narrower (JupyterLab's file browser open)."""
    ex, _ = _explorer()
    layout = ex.view.image.layout
    assert (layout.width, layout.max_width, layout.height) == ("400px", "100%", "auto")
    assert layout.min_height is None and layout.max_height is None


def test_an_explorer_puts_a_visible_focus_ring_on_slider_handles():
    ex, _ = _explorer()
    styles = [c for c in ex.widget.children if "kdnb-focus-style" in c._dom_classes]
    assert len(styles) == 1 and styles[0].layout.display == "none"  # takes no room; its <style> still applies
    css = styles[0].value
    assert css.startswith("<style>") and ".noUi-handle:focus-visible" in css
    assert "outline: 3px solid" in css and "box-shadow" in css


def test_log_grid_holds_the_named_values_with_steps_of_at_most_ten_percent():
    grid = widgets.log_grid(0.1, 50)
    assert grid[0] == 0.1 and grid[-1] == 50.0 and grid == sorted(set(grid))
    assert {0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 20.0, 40.0, 50.0} <= set(grid)
    ratios = np.array(grid[1:]) / np.array(grid[:-1])
    assert ratios.max() <= 1.1 + 1e-12 and ratios.min() > 1.0
    assert all(float(f"{v:g}") == v and len(f"{v:g}".replace("0.", "").replace(".", "").lstrip("0")) <= 2 for v in grid)
    with pytest.raises(ValueError):
        widgets.log_grid(0, 10)
    with pytest.raises(ValueError):
        widgets.log_grid(5, 1)


def test_grid_slider_snaps_values_from_code_and_refuses_ones_off_its_range():
    import traitlets

    s = widgets.grid_slider(1.0, 0.1, 50, description="T")
    assert isinstance(s, w.SelectionSlider) and s.value == 1.0 and s.label == "1"
    for asked, shown in ((8, 8.0), (7.96, 8.0), (np.float32(0.5), 0.5), (39.81, 40.0), (0.104, 0.1), (52.0, 50.0)):
        s.value = asked
        assert s.value == shown and type(s.value) is float and s.label == f"{shown:g}", asked
    for bad in (0, -2, 1000, float("inf"), float("nan"), "x"):
        with pytest.raises(traitlets.TraitError):
            s.value = bad
    assert s.value == 50.0
    with pytest.raises(traitlets.TraitError):
        widgets.grid_slider(60, 0.1, 50)


def test_grid_slider_talks_to_the_page_by_index():
    """The page sends an integer position back, equal to the one it was sent: no rounded value returns."""
    s = widgets.grid_slider(8.0, 0.1, 50)
    state = s.get_state()
    assert state["_model_name"] == "SelectionSliderModel" and isinstance(state["index"], int)
    assert state["_options_labels"][state["index"]] == "8"
    s.set_state({"index": state["index"] + 1})  # as if the reader pressed the right arrow key
    assert s.value == 8.1


def test_time_callback_returns_median_and_p95_and_restores_the_control():
    ex, _ = _explorer()
    median, p95 = bench.time_callback(ex.controls["k"], [0.5, 1.5, 2.5], n=9)
    assert 0 < median <= p95 and ex.controls["k"].value == 1.0


def test_an_explorer_needs_a_control():
    with pytest.raises(ValueError, match="at least one control"):
        widgets.Explorer(widgets.new_figure(), {}, lambda: {}, lambda: [])


def test_an_action_is_a_button_that_runs_its_function_and_may_redraw():
    fig = widgets.new_figure((4, 3))
    ax = fig.add_subplot()
    (line,) = ax.plot([0, 1], [0, 0])
    trained = []
    ex = None

    def train():
        trained.append(len(trained) + 1)
        ex.refresh(None)
        return len(trained)

    ex = widgets.Explorer(fig, {"k": w.FloatSlider(value=1.0)}, lambda k: {"k": k, "runs": len(trained)}, lambda: [line],
                          actions={"Train": train})
    assert ex.state["runs"] == 0 and list(ex.buttons) == ["Train"]
    assert ex.buttons["Train"].description == "Train" and ex.buttons["Train"] in ex.widget.children[1].children
    ex.buttons["Train"].click()
    assert trained == [1] and ex.state["runs"] == 1
    assert ex.act("Train") == 2 and ex.state["runs"] == 2
    with pytest.raises(KeyError, match="no action 'Stop'"):
        ex.act("Stop")
