"""Keep the committed notebooks executed and clean.

    python -m kdnb.nbtools run notebooks/00_start_here.ipynb   # execute in place, fresh kernel
    python -m kdnb.nbtools run --all                           # every notebook
    python -m kdnb.nbtools check                               # what the hygiene test checks

``run`` executes top to bottom in a new ``python3`` kernel with the working directory set to
``notebooks/``, then strips volatile metadata (cell ids stay, timings and widget state go) and
writes the file atomically. Peak memory of the kernel is reported.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from ._io import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
MACHINE_PATH = re.compile(r"/(?:work|root|tmp|Users)/|/home/\w+/|[A-Z]:\\\\Users")
KEEP_NB_METADATA = ("kernelspec", "language_info")
#: The kernel every notebook names; `make lab` registers the project's venv under this name and
#: display name, so JupyterLab opens a notebook without rewriting its metadata.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
SOLUTION_TAG = "solution"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def source_lines(text: str) -> list[str]:
    """``text`` as a cell's ``source``: its lines, each but the last ending in a newline."""
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def write_notebook(path: Path, nb: dict) -> bool:
    """Write ``nb`` to ``path`` atomically, as every committed notebook is written; True if the file changed."""
    path = Path(path)
    text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    atomic_write_text(path, text)
    return True


def _is_install_cell(cell: dict) -> bool:
    from .cloud import INSTALL_MARK

    return cell["cell_type"] == "code" and "".join(cell["source"]).startswith(INSTALL_MARK)


def clean(nb: dict) -> dict:
    """Drop volatile metadata: execution timings, widget state, per-cell collapse flags."""
    nb["metadata"] = {k: nb["metadata"][k] for k in KEEP_NB_METADATA if k in nb["metadata"]}
    nb["metadata"]["kernelspec"] = dict(KERNELSPEC)
    for cell in nb["cells"]:
        meta = cell.get("metadata", {})
        cell["metadata"] = {k: v for k, v in meta.items() if k == "tags"}
        # Solutions stay collapsed until the reader opens them; so does the Colab install cell, which is plumbing.
        if SOLUTION_TAG in meta.get("tags", []) or _is_install_cell(cell):
            cell["metadata"]["jupyter"] = {"source_hidden": True}
        # A widget view cannot be shown without the live kernel that made it (its state is not
        # saved), so the file keeps only the static outputs: text, tables, figures.
        if cell["cell_type"] == "code":
            cell["outputs"] = [o for o in cell["outputs"] if WIDGET_VIEW not in o.get("data", {})]
    return nb


def problems(path: Path) -> list[str]:
    """Hygiene problems of one committed notebook (empty list: clean)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = []
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    if counts != list(range(1, len(code) + 1)):
        out.append(f"execution counts are {counts}, not 1..{len(code)}: restart the kernel and run all")
    if nb.get("metadata", {}).get("kernelspec") != KERNELSPEC:
        out.append(f"kernelspec is not {KERNELSPEC}: run `python -m kdnb.nbtools run` on it")
    if "language_info" not in nb.get("metadata", {}):
        out.append("language_info is missing (JupyterLab would mark the notebook modified): run `python -m kdnb.nbtools run` on it")
    extra = set(nb.get("metadata", {})) - set(KEEP_NB_METADATA)
    if extra:
        out.append(f"volatile notebook metadata: {sorted(extra)}")
    for i, cell in enumerate(code, 1):
        src = "".join(cell["source"])
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                out.append(f"cell {i} stores an error: {o.get('ename')}")
            if MACHINE_PATH.search(json.dumps(o)):
                out.append(f"cell {i} output shows a machine path")
            if re.search(r"\b0x[0-9a-f]{6,}\b", json.dumps(o)):
                out.append(f"cell {i} output shows a memory address")
        markers = [line.strip() for line in src.splitlines() if "NBVAL_" in line and line.lstrip().startswith("#")]
        if any(m not in ("# NBVAL_IGNORE_OUTPUT", "# NBVAL_CHECK_OUTPUT", "# NBVAL_RAISES_EXCEPTION") for m in markers):
            out.append(f"cell {i}: an nbval marker must stand alone on its line ({markers})")
        if "NBVAL_IGNORE_OUTPUT" in src and "assert" not in src and ".require()" not in src:
            out.append(f"cell {i} ignores its output but asserts nothing")
        if "NBVAL_SKIP" in src:
            out.append(f"cell {i} is skipped by nbval: test it instead")
        tags = cell.get("metadata", {}).get("tags", [])
        if SOLUTION_TAG in tags and not cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"):
            out.append(f"cell {i} is a solution but is not collapsed")
        if _is_install_cell(cell) and not cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"):
            out.append(f"cell {i} is the Colab install cell but is not collapsed")
        if src.lstrip().startswith("# Solution") and SOLUTION_TAG not in tags:
            out.append(f"cell {i} looks like a solution but is not tagged {SOLUTION_TAG!r}")
    return out


def execute(path: Path, timeout: int = 600):
    """Execute a notebook from a fresh kernel, without saving; return (notebook, seconds, peak MB)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(Path(path).resolve().parent)}})
    start = time.perf_counter()
    with client.setup_kernel():
        # What JupyterLab writes when it opens the notebook: without it every file opens "modified".
        reply = client.wait_for_reply(client.kc.kernel_info())
        nb.metadata["language_info"] = reply["content"]["language_info"]
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        peak = _kernel_peak_mb(client)
    return nb, time.perf_counter() - start, peak


def run(path: Path, timeout: int = 600) -> tuple[float, float]:
    """Execute a notebook in place with a fresh kernel and clean it; return (seconds, peak kernel MB)."""
    import nbformat

    nb, seconds, peak = execute(path, timeout)
    write_notebook(path, clean(json.loads(nbformat.writes(nb))))
    return seconds, peak


def _kernel_peak_mb(client) -> float:
    """Peak resident memory of the running kernel process (Linux: VmHWM), in MB; nan elsewhere."""
    try:
        pid = client.km.provisioner.process.pid
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except Exception:
        pass
    return float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.nbtools")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="execute notebooks in place from a fresh kernel")
    r.add_argument("paths", nargs="*", type=Path)
    r.add_argument("--all", action="store_true")
    sub.add_parser("check", help="list hygiene problems of the committed notebooks")
    args = parser.parse_args(argv)
    if args.command == "run":
        paths = sorted(NOTEBOOKS.glob("*.ipynb")) if args.all else args.paths
        for p in paths:
            seconds, peak = run(Path(p))
            print(f"{Path(p).name}: {seconds:.1f} s, kernel peak {peak:.0f} MB")
        return 0
    paths = sorted(NOTEBOOKS.glob("*.ipynb")) + sorted(NOTEBOOKS.glob("zh/*.ipynb"))
    bad = {str(p.relative_to(NOTEBOOKS)): problems(p) for p in paths}
    for name, issues in bad.items():
        for issue in issues:
            print(f"{name}: {issue}")
    return 1 if any(bad.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
