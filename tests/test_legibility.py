"""The legibility rules the browser suite checks in a page, checked here without a browser."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kdnb import plots, widgets

ROOT = Path(__file__).resolve().parents[1]


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


@pytest.mark.parametrize("kind", sorted(widgets.BUTTON_COLORS))
def test_button_text_contrast_is_at_least_aa(kind):
    bg = _luminance(widgets.BUTTON_COLORS[kind])
    assert (1.05) / (bg + 0.05) >= 4.5, f"white on {widgets.BUTTON_COLORS[kind]} is under 4.5:1"
    b = widgets.button("go", kind)
    assert b.style.button_color == widgets.BUTTON_COLORS[kind] and b.style.text_color == "white"


def test_unknown_button_kind_is_refused():
    with pytest.raises(ValueError, match="unknown button kind 'loud'"):
        widgets.button("go", "loud")


def test_workbook_style_text_is_at_least_12_px():
    style = plots.STYLE
    for key in ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize", "legend.fontsize"):
        assert style[key] * style["figure.dpi"] / 72 >= 12, f"{key} = {style[key]} pt is under 12 px at {style['figure.dpi']} dpi"


def test_an_explorer_too_wide_for_the_page_is_refused():
    fig = widgets.new_figure(figsize=(12, 3))
    with pytest.raises(ValueError, match="at most 1100 px wide"):
        widgets.BlitView(fig, lambda: [])
    widgets.BlitView(widgets.new_figure(figsize=(10.8, 3)), lambda: [])


def test_slider_layout_is_wide_enough():
    assert int(widgets.SLIDER_WIDTH.removesuffix("px")) >= 430  # about 250 px of track after label and readout
    assert widgets.slider_layout().width == widgets.SLIDER_WIDTH


def test_the_browser_suites_kernels_stamp_each_png_with_its_smallest_text(tmp_path):
    """tests/browser/kernel_startup.py, run in a fresh interpreter: both ways a PNG leaves a kernel are stamped."""
    probe = f"""
import json
exec(open({str(ROOT / 'tests' / 'browser' / 'kernel_startup.py')!r}).read())
import IPython.core.pylabtools as pt
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from kdnb import widgets

def chunk(png):
    import struct
    png, p = bytes(png), 8
    while p < len(png):
        (length,) = struct.unpack(">I", png[p:p + 4])
        kind, body = png[p + 4:p + 8], png[p + 8:p + 8 + length]
        if kind == b"tEXt" and body.startswith(b"kdnb-min-text-px\\0"):
            return body.split(b"\\0", 1)[1].decode()
        p += 12 + length
    return None

fig, ax = plt.subplots(figsize=(3, 2), dpi=100)
ax.set_title("title", fontsize=20)
ax.tick_params(labelsize=9)
ax.text(0.5, 0.5, "small", fontsize=7)
inline = pt.print_figure(fig, "png")
blank, bare = plt.subplots(figsize=(1, 1), dpi=100)
bare.axis("off")
empty = pt.print_figure(blank, "png")
view_fig = widgets.new_figure(figsize=(2, 1), dpi=100)
view_fig.text(0.1, 0.5, "label", fontsize=12)
view = widgets.BlitView(view_fig, lambda: [])
print(json.dumps([chunk(inline), chunk(empty), chunk(view.render())]))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    inline, empty, view = json.loads(out.stdout.strip().splitlines()[-1])
    assert float(inline) == pytest.approx(7 * 100 / 72, abs=0.01)  # the 7 pt text, the smallest drawn
    assert empty.startswith("none")
    assert float(view) == pytest.approx(12 * 100 / 72, abs=0.01)
