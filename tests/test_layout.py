"""The package's shape: a core several notebooks share, and one room (a package) per notebook.

* every notebook ``NN_name.ipynb`` has its room ``kdnb/nbNN_name/``: ``__init__.py`` with ``__all__``
  (what the cells call), ``tables.py`` when it makes tables (its ``MAKERS``), ``checks.py`` when it has
  exercises, and other files named for what they hold; a room has no command line of its own;
* a room imports core and its own files, never another room; core imports no room (the tools
  ``bench``, ``nbtools``, ``classroom``, ``cheatsheet``, ``cloud``, ``zh`` may import anything);
* a notebook imports its own room and no other;
* no file in ``kdnb/`` runs past :data:`MAX_LINES` lines; no function takes more than
  :data:`MAX_PARAMS` parameters;
* figures are ``plot_*(…, ax=None)`` (or ``axes=None``); importing kdnb changes no matplotlib setting;
* ``data/results/`` is reached through ``kdnb.results.read``/``write`` only;
* "beats the noise" is said one way (:mod:`kdnb.seeds`), the distillation loss one way (:mod:`kdnb.losses`);
* the README's module table lists every module and room; the kernel `make lab` registers is the one the
  notebooks name.
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
TOOLS = {"bench", "nbtools", "env", "cheatsheet", "classroom", "cloud", "zh", "__init__", "_io"}
ROOM = re.compile(r"^nb\d\d_")
MAX_LINES = 600
MAX_PARAMS = 8


def files() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def dotted(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def rooms() -> list[str]:
    return sorted(p.name for p in PKG.iterdir() if p.is_dir() and ROOM.match(p.name))


def core_modules() -> list[str]:
    return sorted(p.stem for p in PKG.glob("*.py") if p.stem not in TOOLS)


def top_name(path: Path) -> str:
    """The top-level part of kdnb a file belongs to: a room's name, or a module's."""
    rel = path.relative_to(PKG)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_kdnb_parts(path: Path) -> set[str]:
    """Top-level kdnb parts (modules or rooms) a file imports, resolving relative imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = dotted(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                full = base + (node.module.split(".") if node.module else [])
            else:
                full = (node.module or "").split(".")
            if full[:1] != ["kdnb"]:
                continue
            if len(full) > 1:
                found.add(full[1])
            else:
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "kdnb" and len(parts) > 1:
                    found.add(parts[1])
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_notebook_has_its_room_and_imports_no_other(path):
    own = "nb" + path.stem
    room = PKG / own
    assert (room / "__init__.py").exists(), f"notebook {path.name} needs its room kdnb/{own}/__init__.py"
    assert not (PKG / f"{own}.py").exists(), f"kdnb/{own}.py and kdnb/{own}/ both exist: the room is the package"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    # Only imports count: a cell may name another notebook's table ("nb05_map") but not import its room.
    imports = "\n".join(line for line in code.splitlines() if re.match(r"\s*(from|import)\s", line))
    used = set(re.findall(r"\bnb\d\d_\w+", imports)) | set(re.findall(r"\bkdnb\.(nb\d\d_\w+)", code))
    assert used <= {own}, f"{path.name} imports another notebook's room: {sorted(used - {own})}"


def test_every_room_has_a_notebook_and_no_loose_notebook_module_is_left():
    stems = {"nb" + p.stem for p in NOTEBOOKS}
    assert set(rooms()) <= stems
    loose = sorted(p.name for p in PKG.glob("nb[0-9][0-9]_*.py"))
    assert not loose, f"notebook modules must be rooms (packages): {loose}"


@pytest.mark.parametrize("room", rooms())
def test_room_declares_what_its_cells_call(room):
    module = importlib.import_module(f"kdnb.{room}")
    assert isinstance(getattr(module, "__all__", None), list) and module.__all__, f"kdnb/{room}/__init__.py needs __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"kdnb.{room}.__all__ names what does not exist: {missing}"
    assert module.__doc__ and len(module.__doc__.split()) > 20, f"kdnb/{room}/__init__.py needs a docstring: what the room holds"


@pytest.mark.parametrize("room", rooms())
def test_room_has_no_command_line_of_its_own_and_tables_register_their_makers(room):
    for path in sorted((PKG / room).glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "__main__" not in text and "argparse" not in text, \
            f"{path.relative_to(ROOT)}: tables are made with `python -m kdnb.results make NAME`, not a command line here"
    tables = PKG / room / "tables.py"
    if tables.exists():
        module = importlib.import_module(f"kdnb.{room}.tables")
        makers = getattr(module, "MAKERS", ())
        assert makers, f"{tables.relative_to(ROOT)} must list its makers in MAKERS"
        for fn in makers:
            assert all(name.startswith(room[:4] + "_") for name in fn.maker.tables), \
                f"{fn.__qualname__}: a table of {room} is named {room[:4]}_<what>, got {fn.maker.tables}"


@pytest.mark.parametrize("room", rooms())
def test_rooms_import_core_only(room):
    for path in sorted((PKG / room).glob("*.py")):
        others = {m for m in imported_kdnb_parts(path) if ROOM.match(m)} - {room}
        assert not others, f"{path.relative_to(ROOT)} imports {sorted(others)}: move what two notebooks share into core"


@pytest.mark.parametrize("name", core_modules())
def test_core_imports_no_room(name):
    bad = {m for m in imported_kdnb_parts(PKG / f"{name}.py") if ROOM.match(m)}
    assert not bad, f"core module {name} imports notebook room(s) {sorted(bad)}"


@pytest.mark.parametrize("path", files(), ids=lambda p: str(p.relative_to(PKG)))
def test_no_file_is_too_long_to_hold(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines (at most {MAX_LINES}): split it by what it holds"


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = fn.args
    names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
    return [n for n in names if n not in ("self", "cls")]


def test_no_function_takes_more_than_eight_parameters():
    too_many = []
    for path in files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and len(_params(node)) > MAX_PARAMS:
                too_many.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({len(_params(node))})")
    assert not too_many, f"functions with more than {MAX_PARAMS} parameters (pass a small config object): {too_many}"


@pytest.mark.parametrize("path", [p for p in files() if top_name(p) not in TOOLS and p.name != "__main__.py"],
                         ids=lambda p: str(p.relative_to(PKG)))
def test_figures_are_plot_functions_that_take_axes(path):
    module = importlib.import_module(dotted(path))
    for fname, fn in inspect.getmembers(module, inspect.isfunction):
        if fn.__module__ != module.__name__ or not fname.startswith("plot_"):
            continue
        params = inspect.signature(fn).parameters
        assert "ax" in params or "axes" in params, f"{module.__name__}.{fname} must accept ax=None (or axes=None)"
        default = params.get("ax", params.get("axes")).default
        assert default is None, f"{module.__name__}.{fname}: its ax/axes must default to None"


def test_importing_kdnb_changes_no_matplotlib_setting():
    names = [dotted(p) for p in files() if p.name != "__main__.py"]
    code = ("import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; "
            "before = dict(plt.rcParams); import importlib; "
            f"[importlib.import_module(m) for m in {names!r}]; "
            "after = dict(plt.rcParams); "
            "changed = sorted(k for k in before if str(before[k]) != str(after[k])); print(changed); "
            "assert not changed, changed")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


def _notebook_code() -> dict[str, str]:
    return {p.name: "\n".join("".join(c["source"]) for c in json.loads(p.read_text(encoding="utf-8"))["cells"]
                              if c["cell_type"] == "code") for p in NOTEBOOKS}


def test_results_are_reached_through_read_and_write_only():
    sources = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in files() if p.name != "results.py"}
    sources.update(_notebook_code())
    for name, text in sources.items():
        assert not re.search(r"""["']results["']\s*[/)]|data/results/[\w]+\.csv["']\)""", text), \
            f"{name} builds a path into data/results: use kdnb.results.read/write"
        assert not re.search(r"results\.path\(|results\.root\(", text), \
            f"{name} reaches a table's file directly: read it with kdnb.results.read(name)"


def test_beating_the_noise_is_said_one_way():
    """Spreads over seeds, "ranges apart" and "mean [min, max]" text live in kdnb.seeds: a function named for one
    of them elsewhere must go through kdnb.seeds, and no f-string writes the "m [lo, hi]" form by hand."""
    stems = re.compile(r"apart|overlap|span|spread|range_gap")
    text_form = re.compile(r"""f["'][^"'\n]*\}\s*\[\{[^"'\n]*\},\s*\{[^"'\n]*\}\]""")
    found = []
    for path in files():
        if path.name == "seeds.py":
            continue
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef) and stems.search(node.name) and not node.name.startswith("plot_"):
                body = ast.get_source_segment(text, node) or ""
                if "seeds." not in body and "Spread" not in body:
                    found.append(f"{path.relative_to(ROOT)}: def {node.name} does not use kdnb.seeds")
        found += [f"{path.relative_to(ROOT)}: {m.group(0)[:60]}" for m in text_form.finditer(text)]
    for name, code in _notebook_code().items():
        found += [f"{name}: {m.group(0)[:60]}" for m in text_form.finditer(code)]
    assert not found, "use kdnb.seeds (Spread, spread, spreads, span_table, ranges_apart): " + "; ".join(found)


def _code_only(path: Path) -> str:
    """The file's code without its strings and comments (a message may quote the formula)."""
    import io
    import tokenize

    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return " ".join(t.string for t in tokens if t.type not in (tokenize.STRING, tokenize.COMMENT))


def test_the_distillation_loss_is_written_once():
    """``(1 - alpha) * hard + alpha * soft`` lives in kdnb.losses. Exempt: notebook 04's room, which shows the
    loss's spellings (right and wrong) on purpose, and the textbook loop ``make bench`` times distill against."""
    formula = re.compile(r"\(\s*1(?:\.0)?\s*-\s*alpha\s*\)\s*\*")
    found = [str(p.relative_to(ROOT)) for p in files()
             if p.name not in ("losses.py", "bench_loops.py") and not p.relative_to(PKG).parts[0].startswith("nb04_")
             and formula.search(_code_only(p))]
    assert not found, f"call kdnb.losses.kd_loss (or kd_loss_from_targets in a loop) instead of writing it again: {found}"


def test_readme_module_table_lists_every_module_and_room():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in [p.stem for p in PKG.glob("*.py")] + rooms():
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


def test_an_installed_copy_holds_every_room():
    """pyproject.toml's package list finds the rooms too, so a non-editable install (Binder, a wheel) has them."""
    import tomllib

    from setuptools import find_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = set(find_packages(str(ROOT), include=config["packages"]["find"]["include"]))
    assert {"kdnb"} | {f"kdnb.{room}" for room in rooms()} <= found, sorted(found)
    assert not any(p.startswith("tests") for p in found)
