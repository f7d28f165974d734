"""Classroom mode (``make present``): the Voilà page loads offline, its sliders redraw, it is legible.

The server is started with the same command ``make present`` runs (``kdnb.classroom.command``),
on a free port; the browser may reach only that server. The start-up time printed is from
launching Voilà to the first explorer image in the page: what a teacher waits for.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from kdnb import classroom
from .labpage import HERE, audit, findings_report, free_port, offline_page, screenshot, serving, timed_drag


@pytest.fixture(scope="module")
def voila(browser, tmp_path_factory):
    work = tmp_path_factory.mktemp("voila")
    startup = work / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    shutil.copy(HERE / "kernel_startup.py", startup / "00-kdnb-stamp.py")
    env = classroom.environment(dict(os.environ, IPYTHONDIR=str(work / "ipython"),
                                     JUPYTER_RUNTIME_DIR=str(work / "runtime")))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    start = time.perf_counter()
    with serving(classroom.command(port), env, classroom.NOTEBOOK.parent, work / "voila.log", f"{url}/"):
        refused = []
        page = offline_page(browser, url, refused)
        page.goto(url, timeout=120_000)
        page.wait_for_selector("img.widget-image", timeout=120_000)
        seconds = time.perf_counter() - start
        print(f"\nclassroom page: {seconds:.1f} s from launching Voila to the first explorer on screen")
        page.wait_for_timeout(1000)
        yield page, refused, seconds
        page.close()


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
    found = audit(page, root="body")
    report = findings_report(found)
    assert not report, report
