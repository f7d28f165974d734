"""The CJK font the figures draw Chinese with, shipped inside the package.

``NotoSansSC-kdnb-Regular.otf`` and ``-Bold.otf`` are subsets of Noto Sans CJK SC (SIL Open Font
License 1.1, see ``OFL.txt``): only the characters that kdnb's Chinese catalog, the Chinese notebooks and the
question bank use, so a laptop, Colab or Binder draws Chinese without installing a font.
:func:`kdnb.plots.use_style` registers it behind DejaVu Sans: Latin, digits, Greek and maths come
from DejaVu, and each character DejaVu lacks falls back to this font.

    python -m kdnb.fonts build [--source PATH]   # cut the subset again (after new translations)
    python -m kdnb.fonts check                   # list characters the subset lacks; exit 1 if any

The build reads Noto Sans CJK from Debian's ``fonts-noto-cjk`` (or ``--source``); using the
shipped subset needs nothing but matplotlib.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

__all__ = ["FONTS", "FONT", "LICENSE", "FAMILY", "register", "needed", "covered", "missing", "build", "main"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WEIGHTS = ("Regular", "Bold")
FONTS = {w: HERE / f"NotoSansSC-kdnb-{w}.otf" for w in WEIGHTS}
FONT = FONTS["Regular"]
LICENSE = HERE / "OFL.txt"
FAMILY = "Noto Sans SC kdnb"
SOURCE = Path("/usr/share/fonts/opentype/noto")   # NotoSansCJK-Regular.ttc and -Bold.ttc
SOURCE_INDEX = 2    # Noto Sans CJK SC inside the collection (JP, KR, SC, TC, HK)
#: Always kept: full-width punctuation and the symbols a sentence may use next to Chinese.
ALWAYS = "，。、；：？！“”‘’（）《》〈〉【】「」『』…—～·％＋－×÷＝＜＞０１２３４５６７８９"
_registered = False


def register() -> str:
    """Add the shipped font to matplotlib's font list (once); return its family name."""
    global _registered
    if not _registered:
        from matplotlib import font_manager

        for path in FONTS.values():
            font_manager.fontManager.addfont(str(path))
        _registered = True
    return FAMILY


def _texts():
    """Every text that may be drawn or shown in Chinese: catalog, translations, bank, notebooks."""
    from ..i18n import PO, read_po

    if PO.exists():
        for m in read_po():
            yield from ([m.string] if isinstance(m.string, str) else list(m.string or ()))
    for path in sorted((ROOT / "data" / "zh").glob("*.yaml")):
        yield path.read_text(encoding="utf-8")
    bank = ROOT / "data" / "questions.yaml"
    if bank.exists():
        yield bank.read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks").glob("**/*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        yield from ("".join(c["source"]) for c in nb["cells"])


def _dejavu() -> set[int]:
    from fontTools.ttLib import TTFont
    from matplotlib import font_manager

    path = font_manager.findfont("DejaVu Sans", fallback_to_default=False)
    return set(TTFont(path, lazy=True).getBestCmap())


def needed() -> set[str]:
    """The characters the subset must hold: every one used in Chinese text that DejaVu Sans lacks."""
    dejavu = _dejavu()
    chars = set(ALWAYS)
    for text in _texts():
        chars.update(ch for ch in text if ord(ch) > 0x2E7F and ord(ch) not in dejavu)
    return {ch for ch in chars if not ch.isspace() and ord(ch) not in range(0xFE00, 0xFE10)}


def covered(path: Path = FONT) -> set[str]:
    from fontTools.ttLib import TTFont

    return {chr(code) for code in TTFont(path, lazy=True).getBestCmap()}


def missing() -> list[str]:
    """Characters needed but absent from the shipped subset, sorted."""
    have = set.intersection(*(covered(p) if p.exists() else set() for p in FONTS.values()))
    return sorted(needed() - have)


def build(source: Path = SOURCE, extra: str = "") -> tuple[int, int]:
    """Cut both subsets from Noto Sans CJK SC; write them atomically. Returns (characters, bytes in all)."""
    chars = needed() | set(extra)
    total = 0
    for weight, target in FONTS.items():
        total += _cut(source / f"NotoSansCJK-{weight}.ttc" if source.is_dir() else source, weight, chars, target)
    return len(chars), total


def _cut(source: Path, weight: str, chars: set[str], target: Path) -> int:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    from .._io import atomic_write_bytes

    if not source.exists():
        raise FileNotFoundError(f"no Noto Sans CJK at {source}: apt-get install fonts-noto-cjk, or pass --source DIR")
    font = TTFont(source, fontNumber=SOURCE_INDEX if source.suffix == ".ttc" else -1)
    have = set(font.getBestCmap())
    absent = sorted(ch for ch in chars if ord(ch) not in have)
    if absent:
        raise ValueError(f"Noto Sans CJK SC has no glyph for {''.join(absent)!r}: reword the text that uses them")
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    sub = subset.Subsetter(options)
    sub.populate(unicodes=sorted(ord(ch) for ch in chars))
    sub.subset(font)
    renamed = {1: FAMILY, 2: weight, 3: f"{FAMILY} {weight} (subset)", 4: f"{FAMILY} {weight}",
               6: f"NotoSansSCkdnb-{weight}", 16: FAMILY, 17: weight}
    for record in font["name"].names:
        if record.nameID in renamed:
            record.string = renamed[record.nameID]
    buf = io.BytesIO()
    font.save(buf)
    atomic_write_bytes(target, buf.getvalue())
    return len(buf.getvalue())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.fonts", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="cut the subset again from Noto Sans CJK SC")
    b.add_argument("--source", type=Path, default=SOURCE, help="folder with NotoSansCJK-{Regular,Bold}.ttc")
    b.add_argument("--extra", default="", help="characters to keep besides those the texts use")
    sub.add_parser("check", help="list the characters the shipped subset lacks")
    args = parser.parse_args(argv)
    if args.command == "build":
        n, size = build(args.source, args.extra)
        print(f"kdnb/fonts: {n} characters, {size / 1024:.0f} KiB in {len(FONTS)} files")
        return 0
    gaps = missing()
    print("".join(gaps) if gaps else "the shipped subset covers every character the workbook uses")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
