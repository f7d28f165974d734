"""The package's shape: a core several notebooks share, and one module per notebook.

* every notebook ``NN_name.ipynb`` has exactly one module of its own, ``kdnb/nbNN_name.py``;
* a notebook module imports core only, never another notebook's module; core imports no
  notebook module (the tools ``bench`` and ``nbtools`` may import anything);
* a notebook imports its own module and no other notebook's;
* figures are ``plot_*(…, ax=None)`` (or ``axes=None``); importing kdnb changes no matplotlib setting;
* ``data/results/`` is reached through :mod:`kdnb.results` only;
* the README's module table lists every module; the kernel `make lab` registers is the one the notebooks name.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "kdnb"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TOOLS = {"bench", "nbtools", "env", "cheatsheet", "classroom", "cloud", "__init__", "_io"}
NB_MODULE = re.compile(r"^nb\d\d_")


def modules() -> list[str]:
    return sorted(p.stem for p in PKG.glob("*.py"))


def notebook_modules() -> list[str]:
    return [m for m in modules() if NB_MODULE.match(m)]


def core_modules() -> list[str]:
    return [m for m in modules() if not NB_MODULE.match(m) and m not in TOOLS]


def imported_kdnb_modules(name: str) -> set[str]:
    tree = ast.parse((PKG / f"{name}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kdnb"):
            parts = node.module.split(".")
            found.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_notebook_has_its_module_and_imports_no_other(path):
    own = "nb" + path.stem
    assert (PKG / f"{own}.py").exists(), f"notebook {path.name} needs its module kdnb/{own}.py"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    used = set(re.findall(r"\bnb\d\d_\w+", code))
    assert used <= {own}, f"{path.name} imports another notebook's module: {sorted(used - {own})}"


def test_every_notebook_module_has_a_notebook():
    stems = {"nb" + p.stem for p in NOTEBOOKS}
    assert set(notebook_modules()) <= stems


@pytest.mark.parametrize("name", notebook_modules())
def test_notebook_modules_import_core_only(name):
    others = {m for m in imported_kdnb_modules(name) if NB_MODULE.match(m)} - {name}
    assert not others, f"{name} imports {sorted(others)}: move what two notebooks share into core"


@pytest.mark.parametrize("name", core_modules())
def test_core_imports_no_notebook_module(name):
    bad = {m for m in imported_kdnb_modules(name) if NB_MODULE.match(m)}
    assert not bad, f"core module {name} imports notebook module(s) {sorted(bad)}"


@pytest.mark.parametrize("name", [m for m in modules() if m not in TOOLS])
def test_figures_are_plot_functions_that_take_axes(name):
    module = importlib.import_module(f"kdnb.{name}")
    for fname, fn in inspect.getmembers(module, inspect.isfunction):
        if fn.__module__ != module.__name__ or not fname.startswith("plot_"):
            continue
        params = inspect.signature(fn).parameters
        assert "ax" in params or "axes" in params, f"{name}.{fname} must accept ax=None (or axes=None)"
        default = params.get("ax", params.get("axes")).default
        assert default is None, f"{name}.{fname}: its ax/axes must default to None"


def test_importing_kdnb_changes_no_matplotlib_setting():
    code = ("import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; "
            "before = dict(plt.rcParams); import importlib, pkgutil, kdnb; "
            "[importlib.import_module('kdnb.' + m.name) for m in pkgutil.iter_modules(kdnb.__path__)]; "
            "after = dict(plt.rcParams); "
            "changed = sorted(k for k in before if str(before[k]) != str(after[k])); print(changed); "
            "assert not changed, changed")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


def test_results_are_reached_through_kdnb_results():
    for name in modules():
        if name == "results":
            continue
        text = (PKG / f"{name}.py").read_text(encoding="utf-8")
        assert not re.search(r"""["']results["']\s*[/)]|data/results/[\w]+\.csv["']\)""", text), \
            f"{name} builds a path into data/results: use kdnb.results.read/write"


def test_readme_module_table_lists_every_module():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in modules():
        if name in ("__init__", "_io"):
            continue
        assert f"`kdnb.{name}`" in readme, f"README's module table misses kdnb.{name}"


def test_make_lab_registers_the_kernel_the_notebooks_name():
    from kdnb.nbtools import KERNELSPEC

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    m = re.search(r'ipykernel install .*--name (\S+) --display-name "([^"]+)"', makefile)
    assert m, "the Makefile should register the venv's kernel with a name and display name"
    assert (m.group(1), m.group(2)) == (KERNELSPEC["name"], KERNELSPEC["display_name"])
    for path in NOTEBOOKS:
        assert json.loads(path.read_text(encoding="utf-8"))["metadata"]["kernelspec"] == KERNELSPEC, path.name
