"""The Chinese edition (中文版): ``notebooks/zh/``, built from the English notebooks and the translations.

    python -m kdnb.zh stub 03        # add the English cells that have no translation yet to data/zh/03_*.yaml
    python -m kdnb.zh build 03       # write notebooks/zh/03_*.ipynb (no execution)
    python -m kdnb.zh build --all --execute      # what `make zh` runs: every notebook, executed
    python -m kdnb.zh check          # list missing or stale translations and stale Chinese notebooks

Each notebook's translations are one file, ``data/zh/<notebook>.yaml``, keyed by cell id. An
entry holds the English it translates (``en``, so a reviewer sees both and a stale entry shows
what changed), the SHA-256 of that English (``sha``, first 12 hex digits) and the Chinese
(``zh``). The English title's Colab/Binder line is not translated: the build writes the Chinese
edition's own. Code cells are copied unchanged, except the generated Colab install cell, which
moves into ``notebooks/zh`` (the folder whose kernels speak Chinese, :mod:`kdnb.i18n`).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import yaml

from . import cloud, nbtools
from ._io import atomic_write_text, sha256_bytes

__all__ = ["TRANSLATIONS", "ZH", "english_text", "sha", "load", "stub", "build", "code_differences", "problems",
           "notebooks", "write", "main"]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ZH = NOTEBOOKS / "zh"
TRANSLATIONS = ROOT / "data" / "zh"


def notebooks() -> list[Path]:
    """The English notebooks that have a Chinese edition: every numbered one."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _find(key: str) -> Path:
    hits = [p for p in notebooks() if p.stem == key or p.stem.startswith(f"{key}_") or p.name == key]
    if len(hits) != 1:
        raise SystemExit(f"no single English notebook matches {key!r} (give its number, e.g. 03)")
    return hits[0]


def english_text(cell: dict) -> str:
    """A markdown cell's English as translated: its source without the Colab/Binder line."""
    text = "".join(cell["source"])
    return re.sub(r"\n{3,}", "\n\n", cloud.BADGE_LINE.sub("", text)).strip("\n")


def sha(text: str) -> str:
    """The first 12 hex digits of the SHA-256 of ``text`` (UTF-8): what an entry's ``sha`` holds."""
    return sha256_bytes(text.encode())[:12]


def translation_path(english: Path) -> Path:
    return TRANSLATIONS / f"{english.stem}.yaml"


def load(english: Path) -> dict[str, dict]:
    """The translations of one notebook, by cell id ({} when the file does not exist)."""
    path = translation_path(english)
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return data.get("cells", {})


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _write(english: Path, cells: dict[str, dict]) -> Path:
    head = (f"# The Chinese of notebooks/{english.name}, by cell id: `python -m kdnb.zh build {english.stem[:2]}`\n"
            "# turns it into notebooks/zh/. `en` is the English translated and `sha` its hash; when the English\n"
            "# changes, tests/test_zh.py names the cell: update `zh`, then copy the new `en` and `sha`\n"
            f"# (`python -m kdnb.zh stub {english.stem[:2]}` refreshes `en`/`sha` of entries marked `todo`).\n")
    body = yaml.dump({"notebook": english.name, "cells": cells}, Dumper=_Dumper, allow_unicode=True,
                     sort_keys=False, width=1000)
    path = translation_path(english)
    atomic_write_text(path, head + body)
    return path


def stub(english: Path) -> tuple[int, int]:
    """Add every untranslated markdown cell (``zh: null``) in notebook order; keep the rest.

    An entry whose English changed gets ``todo: English changed`` and its new ``en``/``sha``,
    its old Chinese kept for the translator to edit. Returns (cells added, cells marked).
    """
    nb = json.loads(english.read_text(encoding="utf-8"))
    old = load(english)
    out, added, marked = {}, 0, 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text, entry = english_text(cell), dict(old.get(cell["id"], {}))
        if not entry:
            entry, added = {"sha": sha(text), "en": text, "zh": None}, added + 1
        elif entry.get("sha") != sha(text):
            entry.update(sha=sha(text), en=text, todo="English changed")
            marked += 1
        out[cell["id"]] = entry
    _write(english, out)
    return added, marked


def _chinese_code(source: str) -> str:
    """A code cell's source in the Chinese edition: the same, but the Chinese edition's install cell."""
    return cloud.install_source("zh") if source.startswith(cloud.INSTALL_MARK) else source


def build(english: Path) -> dict:
    """The Chinese notebook (sources only, no outputs) for one English notebook.

    Raises ValueError naming every markdown cell without a current translation.
    """
    nb = json.loads(english.read_text(encoding="utf-8"))
    found = load(english)
    bad = _cell_problems(nb, found)
    if bad:
        raise ValueError(f"{english.name}: " + "; ".join(bad))
    return _built(english.name, nb, found)


def _built(name: str, nb: dict, found: dict[str, dict]) -> dict:
    """The Chinese notebook of the English notebook ``nb`` (file ``name``) from its translations ``found``."""
    zh = {"cells": [], "metadata": copy.deepcopy(nb["metadata"]), "nbformat": nb["nbformat"],
          "nbformat_minor": nb["nbformat_minor"]}
    for cell in nb["cells"]:
        new = {key: copy.deepcopy(value) for key, value in cell.items() if key not in ("outputs", "execution_count")}
        if cell["cell_type"] == "markdown":
            text = found[cell["id"]]["zh"].strip("\n")
            if cloud.BADGE_LINE.search("".join(cell["source"])):
                text = cloud.titled(text, "zh/" + name, "zh")
            new["source"] = nbtools.source_lines(text)
        elif cell["cell_type"] == "code":
            new["outputs"], new["execution_count"] = [], None
            source = "".join(cell["source"])
            chinese = _chinese_code(source)
            if chinese != source:
                new["source"] = nbtools.source_lines(chinese)
        zh["cells"].append(new)
    return zh


def _cell_problems(nb: dict, found: dict[str, dict]) -> list[str]:
    out = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        entry = found.get(cell["id"])
        if not entry or not (entry.get("zh") or "").strip():
            out.append(f"markdown cell {cell['id']} has no Chinese translation")
        elif entry.get("sha") != sha(english_text(cell)):
            out.append(f"markdown cell {cell['id']} changed in English since it was translated "
                       f"(stored sha {entry.get('sha')}, now {sha(english_text(cell))})")
        elif entry.get("todo"):
            out.append(f"markdown cell {cell['id']} is marked todo: {entry['todo']}")
    ids = {c["id"] for c in nb["cells"]}
    out += [f"translation {key} matches no cell of the English notebook" for key in found if key not in ids]
    return out


def code_differences(english: dict, chinese: dict) -> list[str]:
    """Where a Chinese notebook's code differs from its English twin's (empty: none).

    Cells must come in the same order with the same ids and types; code cells must be identical,
    except the generated Colab install cell, which must be the Chinese edition's.
    """
    en, zh = english["cells"], chinese["cells"]
    if [(c["cell_type"], c.get("id")) for c in en] != [(c["cell_type"], c.get("id")) for c in zh]:
        return ["the cells differ in number, order, ids or types"]
    out = []
    for a, b in zip(en, zh):
        if a["cell_type"] != "code":
            continue
        if "".join(b["source"]) != _chinese_code("".join(a["source"])):
            out.append(f"code cell {a.get('id')} differs from its English twin")
    return out


def _sources(nb: dict) -> list[tuple]:
    return [(c["cell_type"], c.get("id"), "".join(c["source"])) for c in nb["cells"]]


def problems(english: Path) -> list[str]:
    """Everything out of step between one English notebook, its translations and its Chinese twin."""
    nb = json.loads(english.read_text(encoding="utf-8"))
    found = load(english)
    out = _cell_problems(nb, found)
    twin = ZH / english.name
    if not twin.exists():
        return out + [f"notebooks/zh/{english.name} does not exist (make zh)"]
    if out:
        return out
    committed = json.loads(twin.read_text(encoding="utf-8"))
    if _sources(committed) != _sources(_built(english.name, nb, found)):
        out.append(f"notebooks/zh/{english.name} is stale against the build (make zh)")
    return out


def write(english: Path, execute: bool = False) -> Path:
    """Build one Chinese notebook into notebooks/zh/ and, with ``execute``, run it in place."""
    path = ZH / english.name
    nbtools.write_notebook(path, build(english))
    if execute:
        seconds, peak = nbtools.run(path)
        print(f"zh/{english.name}: {seconds:.1f} s, kernel peak {peak:.0f} MB")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.zh", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("stub", "add untranslated cells to the translation file"),
                       ("build", "write the Chinese notebooks")):
        p = sub.add_parser(name, help=text)
        p.add_argument("notebooks", nargs="*", help="numbers or names (e.g. 03)")
        p.add_argument("--all", action="store_true")
        if name == "build":
            p.add_argument("--execute", action="store_true", help="execute each built notebook in place")
    sub.add_parser("check", help="list every problem; exit 1 if any")
    args = parser.parse_args(argv)
    if args.command == "check":
        bad = [f"{p.name}: {issue}" for p in notebooks() for issue in problems(p)]
        print("\n".join(bad) or "the Chinese edition is in step with the English")
        return 1 if bad else 0
    paths = notebooks() if args.all else [_find(k) for k in args.notebooks]
    if not paths:
        parser.error("name a notebook (e.g. 03) or give --all")
    for english in paths:
        if args.command == "stub":
            added, marked = stub(english)
            print(f"{translation_path(english).relative_to(ROOT)}: {added} cells added, {marked} marked changed")
        else:
            write(english, execute=args.execute)
    return 0


if __name__ == "__main__":
    sys.exit(main())
