"""Classroom mode: three explorers on one page for a projector, served by Voilà (``make present``).

    make present                               # serves notebooks/classroom.ipynb at http://127.0.0.1:8866
    python -m kdnb.classroom --port 9000       # the same, on another port (a taken port: the next free one)
    python -m kdnb.classroom --cull-idle 300   # shut a closed page's kernel down after 5 idle minutes
    python -m kdnb.classroom --ip 0.0.0.0      # serve the network too (a trusted one only)
    python -m kdnb.classroom --lang zh         # the page in Chinese (make present LANG=zh)

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
import signal
import socket
import subprocess
import sys
from pathlib import Path

from .i18n import LANGUAGES, N_, _, _check

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "classroom.ipynb"
PORT = 8866
#: Each page gets its own kernel (about 0.5 GB). A page that is closed, or a laptop that went to
#: sleep, leaves its kernel behind; Voilà's kernel manager shuts down any kernel that no page has
#: been connected to for this many seconds. A page left open is never culled, however idle.
CULL_IDLE_S = 600

#: Voilà's template for the page (``data/classroom/voila/templates/classroom``): the lab page with
#: projector-sized text, and without the Font Awesome stylesheets the lab page fetches from a CDN.
TEMPLATES = ROOT / "data" / "classroom"
TEMPLATE = "classroom"

TABS = (N_("Temperature"), N_("Train a student"), N_("Prune"))

NOTES = {
    "Temperature": N_("Drag T. Low T sharpens the teacher's softmax towards its top class; high T spreads the "
                   "probability over the classes it ranks next, the \"dark knowledge\" a student learns from. "
                   "It opens on an image whose runner-up shows at T = 1; pick the one the teacher is sure of, and "
                   "nothing moves below T of about 3. The readout gives each model's entropy in bits and the ratio "
                   "of its two largest probabilities."),
    "Train a student": N_("Pick the settings and press Train: two students with the same initial weights, one on the "
                       "labels alone (α = 0) and one distilled, train side by side on 3,500 MNIST images. "
                       "The line under the buttons shows each epoch, and the time the run took."),
    "Prune": N_("Drag the sparsity: the teacher's smallest weights (by magnitude, ranked across all layers) are set to "
             "zero. The accuracy comes from a curve computed in advance; the histogram shows the weights that survive."),
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
    inputs = explorer_inputs(picks, {_("CNN teacher"): cnn_test, _("MLP teacher"): mlp_test}, ds.test.X)
    return temperature_explorer(inputs, T=1.0)


def playground_tab(ds):
    """Notebook 05's training playground; nothing trains until Train is pressed."""
    from .nb05_distillation_in_practice import Playground, TeacherLogits

    return Playground(ds, TeacherLogits(ds))


def pruning_tab():
    """Notebook 06's pruning slider over the shipped teacher and its precomputed accuracy curve."""
    from . import results
    from .nb06_pruning_and_compression import dense_teacher, pruning_explorer

    return pruning_explorer(dense_teacher(0), results.read("nb06_curve"), percent=50)


def app():
    """The classroom page: a tab per explorer, each with one line on what to do."""
    import ipywidgets as w

    from .data import load_mnist_subset
    from .plots import use_style

    use_style()
    ds = load_mnist_subset()
    explorers = {"Temperature": temperature_tab(ds), "Train a student": playground_tab(ds), "Prune": pruning_tab()}
    pages = [w.VBox([_note(_(NOTES[name])), explorer.widget]) for name, explorer in explorers.items()]
    tabs = w.Tab(children=pages, titles=[_(name) for name in TABS])
    heading = _("Knowledge distillation (知识蒸馏): three things to try")
    page = w.VBox([w.HTML(f"<h2 style='margin:4px 0'>{heading}</h2>"), tabs])
    page.explorers = explorers
    return page


def cull_options(idle_s: int = CULL_IDLE_S) -> list[str]:
    """jupyter-server's idle-kernel culling, as Voilà options: a kernel with no page connected and no
    activity for ``idle_s`` seconds is shut down, checked every ``min(60, idle_s // 3)`` seconds.
    Connected pages are never culled (``cull_connected=False``), nor busy kernels (a Train run)."""
    if int(idle_s) != idle_s or idle_s < 3:
        raise ValueError(f"cull after at least 3 whole seconds, got {idle_s!r}")
    interval = max(1, min(60, int(idle_s) // 3))
    return [f"--MappingKernelManager.cull_idle_timeout={int(idle_s)}", f"--MappingKernelManager.cull_interval={interval}",
            "--MappingKernelManager.cull_connected=False", "--MappingKernelManager.cull_busy=False"]


def command(port: int = PORT, cull_idle_s: int = CULL_IDLE_S, ip: str = "127.0.0.1") -> list[str]:
    """The Voilà command ``make present`` runs (loopback only unless ``ip`` says otherwise, no browser
    opened, code hidden).

    Voilà is told to use ``port`` or fail (``port_retries=0``), never to move silently to another
    one: the address the launcher prints is then the one that answers. Run it with
    :func:`environment`, which tells Voilà where the classroom template lives.
    """
    voila = shutil.which("voila", path=str(Path(sys.executable).parent)) or "voila"
    return [voila, str(NOTEBOOK), f"--port={port}", "--Voila.port_retries=0", f"--Voila.ip={ip}", "--no-browser",
            "--strip_sources=True", f"--template={TEMPLATE}", "--theme=light", "--show_tracebacks=True",
            *cull_options(cull_idle_s)]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def choose_port(preferred: int = PORT, tries: int = 20, host: str = "127.0.0.1") -> int:
    """``preferred`` if nothing listens there, else the next free port above it (else any free port)."""
    for port in range(preferred, min(preferred + tries, 65536)):
        if port_is_free(port, host):
            return port
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def environment(base: dict | None = None, lang: str | None = None) -> dict:
    """``base`` (default: this process's environment) plus the template path and quiet OpenMP threads;
    with ``lang``, the language the page's kernels speak (``KDNB_LANG``)."""
    env = dict(os.environ if base is None else base)
    if lang is not None:
        env["KDNB_LANG"] = _check(lang, "environment")
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(TEMPLATES), env.get("JUPYTER_PATH", "")) if p)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def _die_with_parent() -> None:
    """In the child, before Voilà starts (Linux): get SIGTERM if the launcher dies, even by ``kill -9``."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _Stop(Exception):
    pass


def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def stop(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """Stop the server and everything it started: SIGTERM to its process group (Voilà then shuts its
    kernels down), SIGKILL after ``timeout`` seconds, then any kernel still running.

    Kernels run in sessions of their own, so they are found by walking the process tree first."""
    import psutil

    children = _descendants(process.pid)
    for sig, wait_s in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    alive = [c for c in children if c.is_running()]
    for c in alive:
        c.terminate()
    _, alive = psutil.wait_procs(alive, timeout=5)
    for c in alive:
        c.kill()


def serve(cmd: list[str], env: dict | None = None, cwd=None) -> int:
    """Run ``cmd`` in its own process group until it exits, or until this process gets SIGINT
    (Ctrl+C), SIGTERM (``kill``) or SIGHUP (the terminal closed): then stop it and its children."""
    def on_signal(signum, frame):
        raise _Stop(signum)

    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, on_signal) for s in handled}
    process = None
    try:
        process = subprocess.Popen(cmd, env=env, cwd=cwd, start_new_session=True,
                                   preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        return process.wait()
    except _Stop as stopped:
        return 128 + stopped.args[0]
    finally:
        for s in handled:
            signal.signal(s, signal.SIG_IGN)  # a second Ctrl+C must not interrupt the clean-up
        if process is not None and process.poll() is None:
            stop(process)
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.classroom", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=PORT, help=f"the port to serve on, or the next free one (default {PORT})")
    parser.add_argument("--cull-idle", type=int, default=CULL_IDLE_S, metavar="SECONDS",
                        help=f"shut down a kernel no page has used for this long (default {CULL_IDLE_S})")
    parser.add_argument("--ip", default="127.0.0.1",
                        help="the address to listen on (default: this machine only; 0.0.0.0 serves the network, "
                             "where anyone who reaches the port can run code: a trusted network only)")
    parser.add_argument("--lang", choices=LANGUAGES, default=None,
                        help="the page's language: en (default) or zh (make present LANG=zh)")
    args = parser.parse_args(argv)
    port = choose_port(args.port, host=args.ip)
    moved = f" (port {args.port} is taken)" if port != args.port else ""
    host = "127.0.0.1" if args.ip in ("127.0.0.1", "0.0.0.0") else args.ip
    elsewhere = " (other machines: this machine's address instead of 127.0.0.1)" if args.ip == "0.0.0.0" else ""
    print(f"Classroom mode: open http://{host}:{port}/ in a browser{moved}{elsewhere}. Ctrl+C stops it.", flush=True)
    code = serve(command(port, args.cull_idle, args.ip), env=environment(lang=args.lang), cwd=NOTEBOOK.parent)
    if code not in (0, 128 + signal.SIGINT, 128 + signal.SIGTERM, 128 + signal.SIGHUP):
        print(f"Classroom mode: Voilà exited with code {code} (see its messages above).", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
