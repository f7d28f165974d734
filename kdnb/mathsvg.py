"""Formulas drawn as inline SVG, so a printed page needs neither the internet nor MathJax.

:func:`formula_svg` draws a mathtext formula (LaTeX without the dollars) with matplotlib into an
``<svg>`` element whose bytes depend on the formula, an id prefix and the size only: the cheat
sheet and the booklet (:mod:`kdnb.cheatsheet`) embed it, and a re-render of the same bank gives
the same page.
"""

from __future__ import annotations

import functools
import html
import io
import re

__all__ = ["formula_svg"]

_INK = "#1d232b"


@functools.lru_cache(maxsize=256)
def _svg(formula: str, size: float) -> str:
    import matplotlib
    import matplotlib.style
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    text = f"${formula.strip()}$"
    # A fixed style (whatever the caller's rcParams), and a fixed salt for the ids the SVG writer makes.
    with matplotlib.style.context("default"), matplotlib.rc_context(
            {"svg.hashsalt": "kdnb-cheatsheet", "svg.fonttype": "path", "mathtext.fontset": "cm"}):
        prop = FontProperties(size=size)
        width, height, depth, _, _ = MathTextParser("path").parse(text, dpi=72, prop=prop)
        fig = Figure(figsize=(width / 72, height / 72))
        fig.text(0, depth / height, text, fontproperties=prop, color=_INK)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", dpi=72, transparent=True,
                    metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]                                   # no XML declaration or DOCTYPE
    svg = re.sub(r"\s*<!--.*?-->", "", svg, flags=re.DOTALL)         # the comment repeats the LaTeX
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    svg = re.sub(r"\s*<defs>\s*<style[^>]*>.*?</style>\s*</defs>", "", svg, flags=re.DOTALL)  # it would style the page
    return re.sub(r"[ \t]+\n", "\n", svg).strip()                   # no trailing spaces in the page


def _display(formula: str) -> str:
    r"""Display style, as ``$$`` gives in Markdown: ``\frac`` becomes ``\dfrac`` outside sub- and superscripts."""
    out, groups, i = [], [], 0          # groups: for each open brace, whether it is a script's argument
    while i < len(formula):
        c = formula[i]
        if c == "\\" and formula.startswith("\\frac", i) and not formula[i + 5:i + 6].isalpha():
            script = any(groups) or "".join(out).rstrip().endswith(("^", "_"))
            out.append("\\frac" if script else "\\dfrac")
            i += 5
            continue
        if c == "\\":                   # any other command, or an escaped brace, passes unchanged
            m = re.match(r"\\(?:[A-Za-z]+|.)?", formula[i:], re.DOTALL)
            out.append(m.group(0))
            i += len(m.group(0))
            continue
        if c == "{":
            before = formula[:i].rstrip()
            groups.append(before.endswith(("^", "_")) or bool(groups and groups[-1]))
        elif c == "}" and groups:
            groups.pop()
        out.append(c)
        i += 1
    return "".join(out)


def formula_svg(formula: str, prefix: str = "f", size: float = 13.0, display: bool = True) -> str:
    """``formula`` (mathtext LaTeX, without the dollars) drawn as an inline ``<svg>`` element.

    Every id in it starts with ``prefix``, so several formulas can share one page; the bytes depend
    on the formula, the prefix and the size only.
    """
    try:
        svg = _svg(_display(formula) if display else formula, size)
    except ValueError:                  # mathtext could not take the display form: draw it as written
        svg = _svg(formula, size)
    ids = re.findall(r'\bid="([^"]+)"', svg)
    if ids:
        names = "|".join(re.escape(i) for i in sorted(set(ids), key=len, reverse=True))
        svg = re.sub(rf'(\bid="|#)({names})(?=[")])', rf"\1{prefix}-\2", svg)
    label = html.escape(formula.strip())
    return svg.replace("<svg ", f'<svg class="formula" role="img" aria-label="{label}" ', 1)
