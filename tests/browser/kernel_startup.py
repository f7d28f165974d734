"""IPython start-up file for the browser suite's kernels: stamp every figure PNG with its smallest text.

The browser sees a figure only as pixels. To check that text in a figure is legible on screen,
each PNG a kernel sends carries one PNG text chunk, ``kdnb-min-text-px``: the smallest font size,
in pixels of the PNG, of any text matplotlib drew into it (``none`` when it drew no text). The
browser multiplies it by the scale at which the image is shown.

A second chunk, ``kdnb-cjk-font``, names the font that drew the figure's Chinese: for each
character outside DejaVu Sans's range, the first font of the text's fallback list that holds its
glyph (``none`` when the figure has no such character; ``tofu:<characters>`` when no font of the
list holds them, so they were drawn as empty boxes).

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
CJK_KEY = b"kdnb-cjk-font"
_text_draw = _mtext.Text.draw
_glyphs: dict = {}


def _font_with(ch: str, prop) -> str | None:
    """The family of the first font in ``prop``'s fallback list that has a glyph for ``ch``."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    for path in font_manager.fontManager._find_fonts_by_props(prop):
        font = _glyphs.get(str(path))
        if font is None:
            font = _glyphs[str(path)] = FT2Font(str(path))
        if font.get_char_index(ord(ch)):
            return font.family_name
    return None


def _recording_draw(self, renderer):
    result = _text_draw(self, renderer)
    if self.get_visible() and self.get_text().strip() and renderer is not None:
        fig = self.get_figure(root=True)
        if fig is not None:
            px = float(renderer.points_to_pixels(self.get_fontsize()))
            fig._kdnb_min_text_px = min(getattr(fig, "_kdnb_min_text_px", math.inf), px)
            wide = {ch for ch in self.get_text() if ord(ch) >= 0x2E80}
            if wide:
                seen = fig.__dict__.setdefault("_kdnb_cjk", {})
                for ch in wide:
                    seen.setdefault(_font_with(ch, self.get_fontproperties()), set()).add(ch)
    return result


def _chunk(key: bytes, text: bytes) -> bytes:
    data = key + b"\0" + text
    return struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))


def stamp(png: bytes, fig) -> bytes:
    """``png`` with tEXt chunks after IHDR naming the smallest text ``fig`` drew and its CJK font."""
    smallest = getattr(fig, "_kdnb_min_text_px", math.inf)
    text = b"none" if smallest == math.inf else f"{smallest:.2f}".encode()
    seen = getattr(fig, "_kdnb_cjk", {})
    if not seen:
        cjk = "none"
    elif None in seen:
        cjk = "tofu:" + "".join(sorted(seen[None]))
    else:
        cjk = ",".join(sorted(seen))
    chunks = _chunk(KEY, text) + _chunk(CJK_KEY, cjk.encode("latin-1", "backslashreplace"))
    return png[:33] + chunks + png[33:]  # 8-byte signature + 25-byte IHDR chunk


_print_figure = _pylabtools.print_figure


def _stamping_print_figure(fig, fmt="png", bbox_inches="tight", base64=False, **kwargs):
    if fmt not in ("png", "retina"):
        return _print_figure(fig, fmt, bbox_inches, base64, **kwargs)
    fig._kdnb_min_text_px = math.inf
    fig._kdnb_cjk = {}
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
