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
import sys
import urllib.request
from pathlib import Path

import pytest

from .labpage import CHROMIUM, CHROMIUM_ARGS, HERE, ROOT, SHOTS_TAKEN, TOKEN, free_port, serving

#: Settings for the test server, one file per plugin (JupyterLab's user-settings layout).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}



def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter):
    if SHOTS_TAKEN:
        terminalreporter.section("browser screenshots")
        for test, path in SHOTS_TAKEN:
            terminalreporter.write_line(f"{test}: {path.relative_to(ROOT)}")


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
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={work}", "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    url = f"http://127.0.0.1:{port}"
    with serving(cmd, env, work, work / "lab.log", f"{url}/api/status?token={TOKEN}") as startup_s:
        yield Lab(url, work, startup_s)


