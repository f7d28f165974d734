"""The browser suite: a real JupyterLab (and Voilà) on loopback, driven by Debian's Chromium.

Every test here carries the marker ``browser``. Without ``/usr/bin/chromium`` (or
``KDNB_CHROMIUM``) the suite is skipped with a message that says how to install it; CI installs
it, so CI always runs the suite.

The server is started with a token and a free port, serves a temporary copy of ``notebooks/``
(a run-all never touches the committed files), and reads its settings from a temporary folder:
windowing off (every cell is in the page, so a test can reach it), autosave off, and no news
toast. Its kernels run ``kernel_startup.py``, which stamps each figure PNG with the size of its
smallest text. Screenshots go to ``tests/browser/screenshots/`` (git-ignored) and are listed at
the end of the test report.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SHOTS = HERE / "screenshots"
CHROMIUM = os.environ.get("KDNB_CHROMIUM", "/usr/bin/chromium")
TOKEN = "kdnb-browser-suite"
VIEWPORT = {"width": 1280, "height": 720}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

#: Settings for the test server, one file per plugin (JupyterLab's user-settings layout).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}

_shots: list[tuple[str, Path]] = []


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter):
    if _shots:
        terminalreporter.section("browser screenshots")
        for test, path in _shots:
            terminalreporter.write_line(f"{test}: {path.relative_to(ROOT)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> float:
    """Seconds until ``url`` answers 200; a clear error if the server dies or never answers."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}; its log:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"no answer from {url} within {timeout:.0f} s; the server's log:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def chromium_path():
    if not Path(CHROMIUM).exists():
        if os.environ.get("KDNB_REQUIRE_BROWSER"):
            pytest.fail(f"KDNB_REQUIRE_BROWSER is set but there is no Chromium at {CHROMIUM}: "
                        "install it with `apt-get install chromium fonts-noto-cjk`")
        pytest.skip(f"browser suite skipped: no Chromium at {CHROMIUM}. Install it with "
                    "`sudo apt-get install chromium fonts-noto-cjk` (or set KDNB_CHROMIUM); CI always runs the suite.")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def offline_page(browser, base_url: str):
    """A 1280×720 page that may reach only ``base_url``: anything else is refused, as on an offline laptop."""
    page = browser.new_page(viewport=VIEWPORT)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base_url)
               or route.request.url.startswith(("data:", "blob:")) else route.abort())
    return page


class Lab:
    """A JupyterLab server for the suite: its URL, its token, and a REST helper."""

    def __init__(self, url: str, root: Path, startup_s: float):
        self.url, self.root, self.startup_s = url, root, startup_s

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {TOKEN}"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            body = reply.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        for kernel in self.api("/api/kernels"):
            self.api(f"/api/kernels/{kernel['id']}", method="DELETE")


@pytest.fixture(scope="session")
def lab(chromium_path, tmp_path_factory):
    work = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", work / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = work / "settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    startup = work / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    shutil.copy(HERE / "kernel_startup.py", startup / "00-kdnb-stamp.py")
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
               IPYTHONDIR=str(work / "ipython"), JUPYTER_RUNTIME_DIR=str(work / "runtime"),
               OMP_WAIT_POLICY="PASSIVE")
    port = free_port()
    log = work / "lab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={work}", "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    with open(log, "w") as out:
        server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=work)
    url = f"http://127.0.0.1:{port}"
    try:
        startup_s = wait_for_http(f"{url}/api/status?token={TOKEN}", server, log)
        yield Lab(url, work, startup_s)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def screenshot(page, request, name: str) -> Path:
    """Save a screenshot of the viewport and list it in the report."""
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    _shots.append((request.node.nodeid, path))
    return path
