"""Classroom mode without a browser: the page's widgets, the Voilà command, the offline template.

The browser suite (tests/browser/test_classroom.py) serves the page and drags its sliders.
"""

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from kdnb import classroom


@pytest.fixture(scope="module")
def page():
    return classroom.app()


def test_page_has_the_three_explorers_in_order(page):
    assert list(page.explorers) == list(classroom.TABS)
    tabs = page.children[-1]
    assert tuple(tabs.titles) == classroom.TABS and len(tabs.children) == 3


def test_temperature_tab_follows_its_slider(page):
    explorer = page.explorers["Temperature"]
    explorer.slider.value = 8.0
    assert explorer.state["T"] == 8.0 and "T = 8.00" in explorer.readout.value
    assert set(explorer.state["entropy"]) == {"CNN teacher", "MLP teacher"}


def test_temperature_tab_opens_where_moderate_temperatures_show(page):
    """A class asked "what happens at T = 0.5?" sees the bars move: T = 0.5, 1 and 3 draw three frames."""
    explorer = page.explorers["Temperature"]
    explorer.dropdown.value = explorer.dropdown.options[0]
    assert "runner-up" in explorer.dropdown.value
    frames = set()
    for T in (0.5, 1.0, 3.0):
        explorer.slider.value = T
        frames.add(explorer.view.image.value)
    assert len(frames) == 3
    explorer.slider.value = 1.0


def test_pruning_tab_follows_its_slider(page):
    explorer = page.explorers["Prune"]
    explorer.controls["sparsity"].value = 90
    assert explorer.state["percent"] == 90


def test_nothing_trains_until_train_is_pressed(page):
    playground = page.explorers["Train a student"]
    assert not playground.running and not playground.runs


def test_command_hides_code_uses_the_template_and_stays_on_loopback():
    cmd = classroom.command(9123)
    assert "--port=9123" in cmd and "--Voila.port_retries=0" in cmd
    assert "--Voila.ip=0.0.0.0" in classroom.command(9123, ip="0.0.0.0") and "--Voila.ip=127.0.0.1" in cmd and "--strip_sources=True" in cmd
    assert f"--template={classroom.TEMPLATE}" in cmd and str(classroom.NOTEBOOK) in cmd
    env = classroom.environment({"JUPYTER_PATH": "/elsewhere"})
    assert env["JUPYTER_PATH"].split(":")[0] == str(classroom.TEMPLATES) and "/elsewhere" in env["JUPYTER_PATH"]
    folder = classroom.TEMPLATES / "voila" / "templates" / classroom.TEMPLATE
    assert (folder / "index.html.j2").is_file() and (folder / "conf.json").is_file()


def test_template_removes_exactly_the_cdn_links_of_voilas_lab_page():
    """If Voila changes its lab page, the template's replacements stop matching: this fails first."""
    from jupyter_core.paths import jupyter_path

    lab = next(Path(p) for p in jupyter_path("voila", "templates", "lab") if (Path(p) / "index.html.j2").is_file())
    lab = lab / "index.html.j2"
    links = re.findall(r'<link rel="stylesheet" href="(https://[^"]+)"[^>]*/>', lab.read_text())
    assert links, "Voila's lab page links no remote stylesheet any more: the template's replacements can go"
    ours = (classroom.TEMPLATES / "voila" / "templates" / classroom.TEMPLATE / "index.html.j2").read_text()
    cdn = re.search(r"set cdn = '([^']+)'", ours).group(1)
    for link in links:
        assert link.startswith(cdn) and f"cdn ~ '{link.removeprefix(cdn)}\" type" in ours, f"{link} is not removed"


def _options(cmd: list[str]) -> dict:
    return dict(arg[2:].split("=", 1) for arg in cmd if arg.startswith("--") and "=" in arg)


def test_idle_kernels_are_culled_but_open_pages_are_not():
    options = _options(classroom.command(9123))
    assert options["MappingKernelManager.cull_idle_timeout"] == str(classroom.CULL_IDLE_S)
    assert 0 < int(options["MappingKernelManager.cull_interval"]) <= 60
    assert options["MappingKernelManager.cull_connected"] == "False"  # a page left open keeps its kernel
    assert options["MappingKernelManager.cull_busy"] == "False"  # a Train run is never cut short
    short = _options(classroom.command(9123, cull_idle_s=9))
    assert short["MappingKernelManager.cull_idle_timeout"] == "9" and short["MappingKernelManager.cull_interval"] == "3"
    for bad in (0, 2, 2.5, -60):
        with pytest.raises(ValueError, match="cull after"):
            classroom.command(9123, cull_idle_s=bad)


def test_voila_reads_the_culling_options():
    """The options reach the kernel manager Voila builds (a typo in a class or trait name would be ignored)."""
    from voila.app import Voila

    app = Voila()
    app.parse_command_line(_options_only(classroom.command(9123, cull_idle_s=30)))
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

    manager = AsyncMappingKernelManager(config=app.config)
    assert (manager.cull_idle_timeout, manager.cull_interval, manager.cull_connected, manager.cull_busy) == (30, 10, False, False)
    assert app.port == 9123 and app.port_retries == 0


def _options_only(cmd: list[str]) -> list[str]:
    return [arg for arg in cmd if arg.startswith("--") and "=" in arg and not arg.startswith(("--template", "--theme",
                                                                                                "--strip_sources",
                                                                                                "--show_tracebacks"))]


def test_a_taken_port_is_skipped_and_the_printed_address_is_the_served_one(monkeypatch, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert not classroom.port_is_free(port)
        chosen = classroom.choose_port(port)
        assert chosen != port and classroom.port_is_free(chosen)
        served = []
        monkeypatch.setattr(classroom, "serve", lambda cmd, **kw: served.append(cmd) or 0)
        assert classroom.main(["--port", str(port)]) == 0
    out = capsys.readouterr().out
    printed = int(re.search(r"http://127\.0\.0\.1:(\d+)/", out).group(1))
    assert printed != port and f"port {port} is taken" in out
    assert f"--port={printed}" in served[0] and "--Voila.port_retries=0" in served[0]


#: A stand-in for Voila: it starts a "kernel" in a session of its own (as jupyter_client does), writes
#: both pids, and serves until it is told to stop. With IGNORE set it ignores SIGTERM.
FAKE_SERVER = """
import os, signal, subprocess, sys, time
if os.environ.get("IGNORE"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
kernel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
open(sys.argv[1], "w").write(f"{os.getpid()} {kernel.pid}")
time.sleep(300)
"""

LAUNCHER = """
import sys
from kdnb import classroom
classroom.stop.__defaults__ = (3.0,)
sys.exit(classroom.serve([sys.executable, sys.argv[1], sys.argv[2]]))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
@pytest.mark.parametrize("ignores_sigterm", [False, True], ids=["stops", "ignores-sigterm"])
def test_stopping_the_launcher_stops_the_server_and_its_kernels(tmp_path, sig, ignores_sigterm):
    server, pids = tmp_path / "server.py", tmp_path / "pids"
    server.write_text(FAKE_SERVER)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(classroom.ROOT)} | ({"IGNORE": "1"} if ignores_sigterm else {})
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(server), str(pids)], env=env)
    try:
        deadline = time.time() + 30
        while not (pids.exists() and pids.read_text().count(" ") == 1) and time.time() < deadline:
            time.sleep(0.05)
        server_pid, kernel_pid = map(int, pids.read_text().split())
        assert psutil.pid_exists(server_pid) and psutil.pid_exists(kernel_pid)
        launcher.send_signal(sig)
        assert launcher.wait(timeout=30) == 128 + sig
        for pid in (server_pid, kernel_pid):
            gone = not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
            assert gone, f"process {pid} outlived the launcher"
    finally:
        if launcher.poll() is None:
            launcher.kill()


def test_killing_the_launcher_outright_still_stops_the_server(tmp_path):
    """``kill -9`` cannot be caught: the server asked the kernel (Linux) for SIGTERM when its parent dies."""
    if not sys.platform.startswith("linux"):
        pytest.skip("parent-death signals are Linux only")
    server, pids = tmp_path / "server.py", tmp_path / "pids"
    server.write_text(FAKE_SERVER)
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(server), str(pids)],
                                env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(classroom.ROOT)})
    deadline = time.time() + 30
    while not (pids.exists() and pids.read_text().count(" ") == 1) and time.time() < deadline:
        time.sleep(0.05)
    server_pid, _ = map(int, pids.read_text().split())
    launcher.kill()
    launcher.wait(timeout=10)
    deadline = time.time() + 10
    while psutil.pid_exists(server_pid) and psutil.Process(server_pid).status() != psutil.STATUS_ZOMBIE and time.time() < deadline:
        time.sleep(0.05)
    assert not psutil.pid_exists(server_pid) or psutil.Process(server_pid).status() == psutil.STATUS_ZOMBIE


def test_the_page_speaks_chinese_when_asked():
    """make present LANG=zh: the launcher passes KDNB_LANG=zh to Voilà's kernels, and the page is Chinese."""
    from kdnb import i18n

    assert classroom.environment({}, lang="zh")["KDNB_LANG"] == "zh"
    assert "KDNB_LANG" not in classroom.environment({})
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        classroom.environment({}, lang="fr")
    i18n.set_language("zh")
    try:
        page = classroom.app()
        tabs = page.children[-1]
        assert tuple(tabs.titles) == ("温度", "训练学生", "剪枝")
        assert "三件可以动手试的事" in page.children[0].value
        assert list(page.explorers) == list(classroom.TABS)  # the explorers keep their English keys
        assert re.search(r"[\u4e00-\u9fff]", page.explorers["Temperature"].readout.value)
    finally:
        i18n.set_language(None)


def test_make_present_maps_lang_to_the_launcher():
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text(encoding="utf-8")
    assert "--lang $(PRESENT_LANG)" in makefile and "filter zh zh_%,$(LANG)" in makefile
