"""Binder and Colab: the links under each notebook's title and the Colab install cell after it.

    python -m kdnb.cloud            # write the links and the install cell into every notebook
    python -m kdnb.cloud notebooks/03_temperature.ipynb    # the same, for the notebooks named
    python -m kdnb.cloud --check    # list notebooks whose links or install cell are stale

The links are text, not badge images fetched from Colab's and Binder's servers: offline (a
classroom, a train) a remote image shows as a broken-image icon, while a text link reads the same
everywhere.

Both come from one address, ``[project.urls] Repository`` in ``pyproject.toml``: a fork changes
that line and runs this module. Binder builds its image from ``environment.yml`` (CPU-only
torch, the same pins as ``pyproject.toml``) and ``postBuild`` (installs this package). On Colab
the install cell clones the repository, installs the package without its dependencies (Colab's
own torch, NumPy and pandas stay) plus the two libraries Colab lacks, and turns on Colab's
widget manager; anywhere else it does nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

from .nbtools import source_lines, write_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BRANCH = "main"
#: The link line's words in each edition (the Chinese notebooks live in notebooks/zh/).
BADGE_WORDS = {"en": ("Run it online: ", "Open in Colab", "Launch on Binder"),
               "zh": ("在线运行：", "在 Colab 中打开", "在 Binder 上启动")}


def _either(words) -> str:
    return "|".join(re.escape(word) for word in words)


#: The line of links under the title, in either edition; also matches the older line of remote
#: badge images, so :func:`update` replaces either.
BADGE_LINE = re.compile(rf"^(?:{_either(w[0] for w in BADGE_WORDS.values())})?"
                        rf"\[(?:!\[)?(?:{_either(w[1] for w in BADGE_WORDS.values())})\].*$", re.M)
INSTALL_MARK = "# Colab only:"
#: Installed on Colab beside its own packages (Colab has torch, NumPy, pandas, matplotlib, scikit-learn).
COLAB_EXTRAS = ("mlxtend", "mistune")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def repository() -> str:
    """``https://github.com/owner/name`` from ``pyproject.toml`` (the one place it is written)."""
    url = _project().get("urls", {}).get("Repository", "")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"pyproject.toml [project.urls] Repository must be https://github.com/owner/name, got {url!r}")
    return url


def pins() -> dict[str, str]:
    """Exact pins of ``pyproject.toml``'s dependencies, by lower-case name."""
    return {name.strip().lower(): version.strip()
            for name, _, version in (spec.partition("==") for spec in _project()["dependencies"])}


def colab_url(notebook: str) -> str:
    owner_name = repository().removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{owner_name}/blob/{BRANCH}/notebooks/{notebook}"


def binder_url(notebook: str) -> str:
    owner_name = repository().removeprefix("https://github.com/")
    return f"https://mybinder.org/v2/gh/{owner_name}/{BRANCH}?urlpath=lab/tree/notebooks/{notebook}"


def badges(notebook: str, lang: str = "en") -> str:
    """The Markdown line of links for one notebook: plain text links, so nothing is fetched to show them.

    ``notebook`` is its path under ``notebooks/`` ("03_temperature.ipynb", "zh/03_temperature.ipynb").
    """
    prefix, colab, binder = BADGE_WORDS[lang]
    return f"{prefix}[{colab}]({colab_url(notebook)}) · [{binder}]({binder_url(notebook)})"


def install_source(lang: str = "en") -> str:
    """The guarded install cell: on Colab it installs the workbook; elsewhere it does nothing.

    The Chinese edition's cell differs in one word: it moves into ``notebooks/zh``, the folder
    whose kernels speak Chinese (see :mod:`kdnb.i18n`).
    """
    folder = "/content/kdnb/notebooks" + ("/zh" if lang == "zh" else "")
    packages = ", ".join(f'"{name}=={pins()[name]}"' for name in COLAB_EXTRAS)
    return f'''{INSTALL_MARK} fetch the workbook and install it, keeping Colab's own torch. Anywhere else
# (JupyterLab, Binder, nbval) this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    if not os.path.isdir("/content/kdnb"):
        subprocess.run(["git", "clone", "--depth", "1", "{repository()}", "/content/kdnb"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", "/content/kdnb"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", {packages}], check=True)
    sys.path.insert(0, "/content/kdnb")
    os.chdir("{folder}")
    from google.colab import output

    output.enable_custom_widget_manager()'''


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def titled(title: str, notebook: str, lang: str = "en") -> str:
    """A title cell's Markdown with the current line of links (:func:`badges`) right under its heading,
    any older line removed."""
    heading, _, rest = BADGE_LINE.sub("", title).partition("\n")
    rest = rest.lstrip("\n")
    return f"{heading}\n\n{badges(notebook, lang)}\n\n{rest}".rstrip("\n")


def stale(path: Path) -> list[str]:
    """What is missing or out of date in one notebook's first cells (empty list: current)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]
    out = []
    title = _source(cells[0]) if cells and cells[0]["cell_type"] == "markdown" else ""
    found = BADGE_LINE.findall(title)
    if found != [badges(path.name)]:
        out.append("the title cell's Colab and Binder links are missing, out of date or point elsewhere")
    if len(cells) < 2 or cells[1]["cell_type"] != "code" or _source(cells[1]) != install_source():
        out.append("the second cell is not the current guarded Colab install cell")
    return out


def update(path: Path) -> bool:
    """Write the links and the install cell into one notebook; True if the file changed.

    The notebook must then be executed again (its execution counts shift by one the first time).
    """
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]
    if not cells or cells[0]["cell_type"] != "markdown" or not _source(cells[0]).startswith("# "):
        raise ValueError(f"{path.name}: the first cell must be the Markdown title")
    cells[0]["source"] = source_lines(titled(_source(cells[0]), path.name))
    install = {"cell_type": "code", "execution_count": None, "metadata": {"jupyter": {"source_hidden": True}}, "outputs": [],
               "source": source_lines(install_source())}
    if len(cells) > 1 and cells[1]["cell_type"] == "code" and _source(cells[1]).startswith(INSTALL_MARK):
        install["id"] = cells[1].get("id", "colab-install")
        install["execution_count"] = cells[1].get("execution_count")
        cells[1] = install
    else:
        install["id"] = "colab-install"
        cells.insert(1, install)
    return write_notebook(path, nb)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.cloud", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="the notebooks to update or check (default: every numbered notebook)")
    parser.add_argument("--check", action="store_true", help="only list stale notebooks")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if args.check:
        bad = {p.name: stale(p) for p in paths}
        for name, issues in bad.items():
            for issue in issues:
                print(f"{name}: {issue}")
        return 1 if any(bad.values()) else 0
    for p in paths:
        if update(p):
            shown = p.relative_to(ROOT) if p.is_relative_to(ROOT) else p
            print(f"{p.name}: updated (execute it again: python -m kdnb.nbtools run {shown})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
