"""IPython start-up file for the browser suite's kernels: stamp every figure PNG with its smallest text.

The browser sees a figure only as pixels. To check that text in a figure is legible on screen,
each PNG a kernel sends carries one PNG text chunk, ``kdnb-min-text-px``: the smallest font size,
in pixels of the PNG, of any text matplotlib drew into it (``none`` when it drew no text). The
browser multiplies it by the scale at which the image is shown.

Two ways a PNG leaves a kernel here: IPython's inline display of a Figure (``print_figure``) and
the explorers' :class:`kdnb.widgets.BlitView` (``BlitView.png``). Both are wrapped. Nothing else
changes: the test server sets ``IPYTHONDIR`` to a temporary folder that holds this file.
"""

import math
import struct
import zlib

import IPython.core.pylabtools as _pylabtools
import matplotlib.text as _mtext

KEY = b"kdnb-min-text-px"
_text_draw = _mtext.Text.draw


def _recording_draw(self, renderer):
    result = _text_draw(self, renderer)
    if self.get_visible() and self.get_text().strip() and renderer is not None:
        fig = self.get_figure(root=True)
        if fig is not None:
            px = float(renderer.points_to_pixels(self.get_fontsize()))
            fig._kdnb_min_text_px = min(getattr(fig, "_kdnb_min_text_px", math.inf), px)
    return result


def stamp(png: bytes, fig) -> bytes:
    """``png`` with a tEXt chunk after IHDR naming the smallest text ``fig`` drew."""
    smallest = getattr(fig, "_kdnb_min_text_px", math.inf)
    text = b"none" if smallest == math.inf else f"{smallest:.2f}".encode()
    data = KEY + b"\0" + text
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    return png[:33] + chunk + png[33:]  # 8-byte signature + 25-byte IHDR chunk


_print_figure = _pylabtools.print_figure


def _stamping_print_figure(fig, fmt="png", bbox_inches="tight", base64=False, **kwargs):
    if fmt not in ("png", "retina"):
        return _print_figure(fig, fmt, bbox_inches, base64, **kwargs)
    fig._kdnb_min_text_px = math.inf
    raw = _print_figure(fig, fmt, bbox_inches, False, **kwargs)
    if raw is None:
        return None
    out = stamp(raw, fig)
    if base64:
        from base64 import b64encode

        return b64encode(out).decode("ascii")
    return out


_mtext.Text.draw = _recording_draw
_pylabtools.print_figure = _stamping_print_figure

try:
    from kdnb import widgets as _widgets
except ImportError:  # the package is not installed: nothing to stamp
    pass
else:
    _blit_png = _widgets.BlitView.png

    def _stamping_png(self):
        return stamp(_blit_png(self), self.fig)

    _widgets.BlitView.png = _stamping_png
