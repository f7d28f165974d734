"""The workbook's two languages: English (the default) and Chinese (中文).

Every sentence that kdnb prints, draws or shows in a widget goes through Python's standard
:mod:`gettext`::

    from kdnb.i18n import _, N_

    print(_("teacher accuracy {acc:.1f}%").format(acc=acc))   # translated when called
    LABELS = {"alone": N_("student alone")}                     # marked now, translated at use: _(LABELS[k])

The English text is the message id; the Chinese catalog is
``kdnb/locale/zh/LC_MESSAGES/kdnb.po`` (compiled to ``kdnb.mo`` beside it). Babel extracts the
ids from the package (``python -m kdnb.i18n update``), and a test fails on any id without a
Chinese entry, or whose ``{placeholders}`` differ between the two languages.

Which language speaks, first match wins:

1. :func:`set_language` (``kdnb.set_language("zh")`` in a notebook);
2. the environment variable ``KDNB_LANG`` (``en`` or ``zh``);
3. where the kernel runs: a kernel started in ``notebooks/zh/`` (JupyterLab, Voila, nbval and
   Colab all start it in the notebook's folder) speaks Chinese; anywhere else, English.

Error messages raised on bad input to a function stay in English, like the libraries' own.
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import gettext
import json
import os
import re
import sys
from pathlib import Path

__all__ = ["LANGUAGES", "set_language", "language", "_", "N_", "ngettext", "in_language", "placeholders", "main"]

LANGUAGES = ("en", "zh")
DOMAIN = "kdnb"
LOCALE = Path(__file__).resolve().parent / "locale"
ROOT = Path(__file__).resolve().parents[1]
_chosen: str | None = None


def _check(lang: str, where: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"{where}: unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    return lang


def set_language(lang: str | None) -> None:
    """Speak ``lang`` ("en" or "zh") from now on; ``None`` goes back to the automatic choice."""
    global _chosen
    _chosen = None if lang is None else _check(lang, "set_language")


def language() -> str:
    """The language kdnb speaks now: "en" or "zh" (see the module's docstring for the order)."""
    if _chosen is not None:
        return _chosen
    env = os.environ.get("KDNB_LANG", "").strip()
    if env:
        return _check(env.split("_")[0].lower(), "KDNB_LANG")
    cwd = Path.cwd()
    return "zh" if cwd.name == "zh" and cwd.parent.name == "notebooks" else "en"


@functools.lru_cache(maxsize=None)
def _translations(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=str(LOCALE), languages=[lang])


def reload() -> None:
    """Forget the loaded catalogs (after ``python -m kdnb.i18n update`` rewrote them)."""
    _translations.cache_clear()


def _(message: str) -> str:
    """``message`` in the current language (English text in, the same or its translation out)."""
    return _translations(language()).gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it now (module-level constants)."""
    return message


def in_language(lang: str, message: str) -> str:
    """``message`` (an id marked with ``N_``) in ``lang``, whatever the current language is."""
    return _translations(_check(lang, "in_language")).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the current language."""
    return _translations(language()).ngettext(singular, plural, n)


_FIELD = re.compile(r"(?<!\{)\{([^{}]*)\}(?!\})")


def placeholders(text: str) -> list[str]:
    """The ``{name}`` / ``{name:.1f}`` fields of a message, sorted (a translation must keep them all)."""
    return sorted(_FIELD.findall(text))


# ---- maintenance: extract, merge, compile (needs Babel, a test dependency) -------------------

PO = LOCALE / "zh" / "LC_MESSAGES" / f"{DOMAIN}.po"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def extract():
    """Babel's catalog of every message id in the package (no translations)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project="kdnb", domain=DOMAIN, charset="utf-8")
    pkg = Path(__file__).resolve().parent
    for filename, lineno, message, comments, context in extract_from_dir(
            str(pkg), method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("i18n:",)):
        catalog.add(message, None, [(f"kdnb/{filename}", lineno)], auto_comments=comments, context=context)
    return catalog


def read_po(path: Path = PO):
    from babel.messages.pofile import read_po as _read

    with open(path, "rb") as f:
        return _read(f, locale="zh")


def update(extra: dict[str, str] | None = None) -> tuple[int, int]:
    """Re-extract the ids, keep every existing translation, add ``extra``; write the .po and .mo.

    Returns (ids, ids still without a translation).
    """
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import write_po
    import io

    from ._io import atomic_write_bytes

    known: dict = {}
    if PO.exists():
        for m in read_po():
            if m.id and m.string and (m.string if isinstance(m.string, str) else all(m.string)):
                known[m.id] = m.string
    for key, value in (extra or {}).items():
        if value:
            known[key] = value
    template = extract()
    out = Catalog(project="kdnb", domain=DOMAIN, locale="zh", charset="utf-8")
    missing = 0
    for m in template:
        if not m.id:
            continue
        if isinstance(m.id, tuple):   # ngettext: Chinese has one form, keyed in JSON by the singular
            one = known.get(m.id) or known.get(m.id[0])
            string = (one, one) if isinstance(one, str) else one
        else:
            string = known.get(m.id)
        if not string:
            missing += 1
            string = ("", "") if isinstance(m.id, tuple) else ""
        out.add(m.id, string, m.locations, auto_comments=m.auto_comments)
    buf = io.BytesIO()
    write_po(buf, out, width=100, omit_header=False, sort_output=False, no_location=False)
    atomic_write_bytes(PO, buf.getvalue())
    mo = io.BytesIO()
    write_mo(mo, out)
    atomic_write_bytes(PO.with_suffix(".mo"), mo.getvalue())
    reload()
    return len([m for m in out if m.id]), missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.i18n", description="Maintain kdnb's Chinese catalog.")
    sub = parser.add_subparsers(dest="command", required=True)
    u = sub.add_parser("update", help="re-extract the message ids, keep the translations, compile the .mo")
    u.add_argument("json", nargs="*", type=Path, help="JSON files {english: chinese} to merge in")
    sub.add_parser("missing", help="list the ids without a Chinese entry")
    args = parser.parse_args(argv)
    if args.command == "update":
        extra: dict[str, str] = {}
        for path in args.json:
            extra.update(json.loads(path.read_text(encoding="utf-8")))
        PO.parent.mkdir(parents=True, exist_ok=True)
        with open(LOCALE / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            total, missing = update(extra)
        print(f"{PO.relative_to(ROOT)}: {total} messages, {missing} without a Chinese entry")
        return 0
    template = extract()
    have = {m.id for m in read_po() if m.id and m.string} if PO.exists() else set()
    gaps = [m for m in template if m.id and m.id not in have]
    for m in gaps:
        where = m.locations[0] if m.locations else ("?", 0)
        print(f"{where[0]}:{where[1]}: {m.id!r}")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
