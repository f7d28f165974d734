"""Classroom mode (``make present``): the Voilà page loads offline, its sliders redraw, it is legible.

The server is started the way ``make present`` starts it, through the launcher
(``python -m kdnb.classroom``), asked for a port that is already taken: the address it prints must
be the one that answers. The browser may reach only that server. The start-up time printed is from
starting the launcher to the first explorer image in the page: what a teacher waits for. A page
that is closed has its kernel culled (the launcher is started with a short idle limit), while the
open page keeps its own; stopping the launcher stops Voilà and every kernel.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from kdnb import classroom
from .labpage import HERE, audit, findings_report, focus_ring, offline_page, screenshot, settle, timed_drag, wait_for_http

#: The idle limit the test launcher is given (make present: ``classroom.CULL_IDLE_S``).
CULL_IDLE_S = 12


class Voila:
    def __init__(self, launcher: subprocess.Popen, url: str, page, refused: list, seconds: float):
        self.launcher, self.url, self.page, self.refused, self.seconds = launcher, url, page, refused, seconds

    def server(self) -> psutil.Process:
        return psutil.Process(self.launcher.pid).children()[0]

    def kernels(self) -> list[psutil.Process]:
        """The server's live kernels. A culled kernel can linger as a zombie until the server reaps it, or vanish
        between listing and reading its command line: neither is a live kernel."""
        live = []
        for p in self.server().children(recursive=True):
            try:
                if p.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(p.cmdline()):
                    live.append(p)
            except (psutil.ZombieProcess, psutil.NoSuchProcess):
                continue
        return live

    def __iter__(self):  # page, refused, seconds
        return iter((self.page, self.refused, self.seconds))

    def __getitem__(self, k):
        return (self.page, self.refused, self.seconds)[k]


@pytest.fixture(scope="module")
def voila(browser, tmp_path_factory):
    work = tmp_path_factory.mktemp("voila")
    startup = work / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    shutil.copy(HERE / "kernel_startup.py", startup / "00-kdnb-stamp.py")
    env = dict(os.environ, IPYTHONDIR=str(work / "ipython"), JUPYTER_RUNTIME_DIR=str(work / "runtime"))
    log = work / "launcher.log"
    with socket.socket() as taken:  # someone else's server on the port asked for
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        start = time.perf_counter()
        with open(log, "w") as out:
            launcher = subprocess.Popen([sys.executable, "-m", "kdnb.classroom", f"--port={port}",
                                         f"--cull-idle={CULL_IDLE_S}"], stdout=out, stderr=subprocess.STDOUT, env=env,
                                        cwd=classroom.ROOT)
        try:
            deadline = time.time() + 30
            while not re.search(r"http://127\.0\.0\.1:\d+/", log.read_text()) and time.time() < deadline:
                time.sleep(0.1)
            url = re.search(r"http://127\.0\.0\.1:\d+/", log.read_text()).group(0).rstrip("/")
            assert url != f"http://127.0.0.1:{port}", "the launcher printed the taken port"
            wait_for_http(f"{url}/", launcher, log)  # the printed address is the one that answers
            refused = []
            page = offline_page(browser, url, refused)
            page.goto(url, timeout=120_000)
            page.wait_for_selector("img.widget-image", timeout=120_000)
            seconds = time.perf_counter() - start
            print(f"\nclassroom page: {seconds:.1f} s from starting the launcher to the first explorer on screen")
            page.wait_for_timeout(1000)
            served = Voila(launcher, url, page, refused, seconds)
            yield served
            page.close()
            # kill, as a teacher closing the terminal's job would: Voila and every kernel go with the launcher
            everything = [psutil.Process(launcher.pid)] + psutil.Process(launcher.pid).children(recursive=True)
            launcher.send_signal(signal.SIGTERM)
            launcher.wait(timeout=60)
            _, alive = psutil.wait_procs(everything, timeout=10)
            assert not alive, f"still running after the launcher was stopped: {[p.cmdline()[:3] for p in alive]}"
        finally:
            if launcher.poll() is None:
                launcher.kill()


def _tab(page, title: str):
    page.locator(".lm-TabBar-tab", has_text=title).first.click()
    page.wait_for_timeout(500)
    panel = page.locator(".widget-tab-contents > .lm-Widget:visible, .jupyter-widget-tab-contents > .lm-Widget:visible").first
    return panel


def test_page_loads_offline_without_errors(voila, request):
    page, refused, seconds = voila
    screenshot(page, request, "classroom-temperature")
    text = page.inner_text("body")
    assert "Traceback" not in text and "Error" not in text, text[:2000]
    assert [t.strip() for t in page.locator(".lm-TabBar-tab").all_inner_texts()] == list(classroom.TABS)
    needed = [u for u in refused if u.split("?")[0].endswith((".js", ".css", ".woff", ".woff2"))]
    assert not needed, f"the page asked the internet for scripts or fonts: {needed}"
    assert seconds < 90, f"the classroom page took {seconds:.0f} s to show its first explorer"


@pytest.mark.parametrize("title", ["Temperature", "Prune"])
def test_a_focused_handle_shows_a_ring(voila, request, title):
    page = voila[0]
    panel = _tab(page, title)
    handle = panel.locator(".widget-hslider .noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")
    handle.press("ArrowLeft")
    assert focus_ring(handle), f"the {title} tab's slider handle shows no keyboard focus"
    settle(page, panel.locator("img.widget-image").first)
    if title == "Temperature":  # the page text and the slider agree once the kernel has caught up
        shown = float(panel.locator(".widget-hslider .widget-readout").first.inner_text())
        text = panel.locator(".kdnb-readout").first.inner_text()
        assert text.startswith(f"T = {shown:.2f}"), (shown, text)
    screenshot(page, request, f"classroom-{title.lower()}-focus")


def test_a_closed_pages_kernel_is_culled_and_the_open_one_kept(voila, browser):
    page = voila.page
    # The fixture's first request (is the server up?) rendered the page without a browser: that kernel never
    # had a page connected, so it goes first, and the open page's kernel stays.
    deadline = time.time() + CULL_IDLE_S + 60
    while len(voila.kernels()) > 1 and time.time() < deadline:
        time.sleep(1)
    before = {k.pid for k in voila.kernels()}
    assert len(before) == 1, f"expected the open page's kernel only, found {len(before)}"
    second = offline_page(browser, voila.url)
    second.goto(voila.url, timeout=120_000)
    second.wait_for_selector("img.widget-image", timeout=120_000)
    during = {k.pid for k in voila.kernels()}
    assert len(during) == 2 and before < during
    second.close()
    deadline = time.time() + CULL_IDLE_S + 60
    while {k.pid for k in voila.kernels()} != before and time.time() < deadline:
        time.sleep(1)
    assert {k.pid for k in voila.kernels()} == before, "the closed page's kernel was not culled"
    # The open page, idle all that time, still has its kernel: its slider still redraws.
    panel = _tab(page, "Temperature")
    image, slider = panel.locator("img.widget-image").first, panel.locator(".widget-hslider").first
    assert timed_drag(page, slider, image, 0.7) < 10_000


@pytest.mark.parametrize("title", ["Temperature", "Prune"])
def test_slider_redraws_the_figure(voila, request, title):
    page = voila[0]
    panel = _tab(page, title)
    image, slider = panel.locator("img.widget-image").first, panel.locator(".widget-hslider").first
    latencies = [timed_drag(page, slider, image, fraction) for fraction in (0.8, 0.2, 0.6, 0.3)]
    screenshot(page, request, f"classroom-{title.lower()}-moved")
    print(f"\nclassroom {title}: release to new figure {[round(v) for v in latencies]} ms")


def test_train_tab_trains(voila, request):
    page = voila[0]
    panel = _tab(page, "Train a student")
    image = panel.locator("img.widget-image").first
    before = image.get_attribute("src")
    panel.locator("button:has-text('Train')").first.click()
    seen = {before}
    for _ in range(300):
        page.wait_for_timeout(100)
        seen.add(image.get_attribute("src"))
        if len(seen) >= 3:
            break
    assert len(seen) >= 3, "the playground's curves did not grow after Train"
    screenshot(page, request, "classroom-train")


@pytest.mark.parametrize("title", ["Temperature", "Train a student", "Prune"])
def test_each_tab_is_legible_at_1280x720(voila, title):
    page = voila[0]
    _tab(page, title)
    found = audit(page, root="body")  # includes: every image keeps its aspect ratio
    report = findings_report(found)
    assert not report, report
