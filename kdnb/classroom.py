"""Classroom mode: three explorers on one page for a projector, served by Voilà (``make present``).

    make present                               # serves notebooks/classroom.ipynb at http://127.0.0.1:8866
    python -m kdnb.classroom --port 9000       # the same, on another port

The page holds the temperature explorer (notebook 03), the training playground (notebook 05)
and the pruning slider (notebook 06), as tabs, with code hidden and text sized for a room at
1280×720. Everything it shows comes from the shipped data and teachers: it runs offline, and
nothing trains until someone presses Train. It is a tool: the notebooks stay the place where
each explorer is explained, and each explorer's code stays in its notebook's module.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "classroom.ipynb"
PORT = 8866

#: Voilà's template for the page (``data/classroom/voila/templates/classroom``): the lab page with
#: projector-sized text, and without the Font Awesome stylesheets the lab page fetches from a CDN.
TEMPLATES = ROOT / "data" / "classroom"
TEMPLATE = "classroom"

TABS = ("Temperature", "Train a student", "Prune")

NOTES = {
    "Temperature": "Drag T. Low T sharpens the teacher's softmax towards its top class; high T spreads the "
                   "probability over the classes it ranks next, the \"dark knowledge\" a student learns from. "
                   "The readout gives each model's entropy in bits and the ratio of its two largest probabilities.",
    "Train a student": "Pick the settings and press Train: two students with the same initial weights, one on the "
                       "labels alone (α = 0) and one distilled, train side by side on 3,500 MNIST images. "
                       "The line under the buttons shows each epoch, and the time the run took.",
    "Prune": "Drag the sparsity: the teacher's smallest weights (by magnitude, ranked across all layers) are set to "
             "zero. The accuracy comes from a curve computed in advance; the histogram shows the weights that survive.",
}


def _note(text: str):
    import ipywidgets as w

    note = w.HTML(text)
    note.add_class("kdnb-room-note")
    return note


def temperature_tab(ds):
    """Notebook 03's explorer on the CNN teacher and the 2×1200 MLP teacher, over the images worth a look."""
    from . import teachers, training
    from .nb03_temperature import explorer_inputs, pick_images, temperature_explorer

    cnn, mlp = teachers.load_teacher("cnn-mnist"), teachers.load_teacher("mlp-mnist")
    cnn_test, mlp_test = training.predict_logits(cnn, ds.test.X), training.predict_logits(mlp, ds.test.X)
    picks = pick_images(cnn_test, ds.test.y)
    inputs = explorer_inputs(picks, {"CNN teacher": cnn_test, "MLP teacher": mlp_test}, ds.test.X)
    return temperature_explorer(inputs, T=1.0)


def playground_tab(ds):
    """Notebook 05's training playground; nothing trains until Train is pressed."""
    from .nb05_distillation_in_practice import Playground, TeacherLogits

    return Playground(ds, TeacherLogits(ds))


def pruning_tab():
    """Notebook 06's pruning slider over the shipped teacher and its precomputed accuracy curve."""
    from . import results
    from .nb06_pruning_and_compression import dense_teacher, pruning_explorer

    return pruning_explorer(dense_teacher(0), results.read("pruning_curve"), percent=50)


def app():
    """The classroom page: a tab per explorer, each with one line on what to do."""
    import ipywidgets as w

    from .data import load_mnist_subset
    from .plots import use_style

    use_style()
    ds = load_mnist_subset()
    explorers = {"Temperature": temperature_tab(ds), "Train a student": playground_tab(ds), "Prune": pruning_tab()}
    pages = [w.VBox([_note(NOTES[name]), explorer.widget]) for name, explorer in explorers.items()]
    tabs = w.Tab(children=pages, titles=list(TABS))
    page = w.VBox([w.HTML("<h2 style='margin:4px 0'>Knowledge distillation (知识蒸馏): three things to try</h2>"), tabs])
    page.explorers = explorers
    return page


def command(port: int = PORT) -> list[str]:
    """The Voilà command ``make present`` runs (loopback only, no browser opened, code hidden).

    Run it with :func:`environment`, which tells Voilà where the classroom template lives.
    """
    voila = shutil.which("voila", path=str(Path(sys.executable).parent)) or "voila"
    return [voila, str(NOTEBOOK), f"--port={port}", "--Voila.ip=127.0.0.1", "--no-browser", "--strip_sources=True",
            f"--template={TEMPLATE}", "--theme=light", "--show_tracebacks=True"]


def environment(base: dict | None = None) -> dict:
    """``base`` (default: this process's environment) plus the template path and quiet OpenMP threads."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(TEMPLATES), env.get("JUPYTER_PATH", "")) if p)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.classroom", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args(argv)
    print(f"Classroom mode: open http://127.0.0.1:{args.port}/ in a browser (Ctrl+C stops it).", flush=True)
    return subprocess.call(command(args.port), env=environment(), cwd=NOTEBOOK.parent)


if __name__ == "__main__":
    sys.exit(main())
