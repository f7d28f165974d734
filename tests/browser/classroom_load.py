"""How many classroom pages one machine serves: N pages on one ``make present``, in headless Chromium.

    .venv/bin/python -m tests.browser.classroom_load --pages 1 4 8

For each N: start the launcher (``python -m kdnb.classroom``) on a free port, open N pages one after
the other (each gets its own kernel), and measure

* the seconds each page took to show its first explorer (a late student waits for this);
* each kernel's memory (USS: what it alone holds; RSS: with the libraries it shares), Voilà's, and
  what the machine has left;
* the temperature slider's release-to-redraw latency on the last page (5 drags), first with the
  other pages idle, then with every other page's slider moving 10 times a second (a room of students
  all dragging at once; the moves are key presses sent to each page's slider handle).

Prints one table row per N. Not a test: it takes minutes and its numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from kdnb import classroom

from .labpage import CHROMIUM, CHROMIUM_ARGS, free_port, offline_page, timed_drag

#: Moves every other page's slider: one key press every 100 ms, five steps one way, five back.
BUSY_ROOM_JS = """(h) => { let k = 0; window.__kdnbBusy = setInterval(() => {
    const key = (Math.floor(k / 5) % 2) ? 'ArrowLeft' : 'ArrowRight'; k += 1;
    h.dispatchEvent(new KeyboardEvent('keydown', {key, code: key, bubbles: true})); }, 100); }"""


def _kernels(launcher: subprocess.Popen) -> list[psutil.Process]:
    return [p for p in psutil.Process(launcher.pid).children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _wait_for_port(port: int, launcher: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if launcher.poll() is not None:
            raise RuntimeError(f"the launcher exited with code {launcher.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


def _latencies(page, moves: int = 5) -> list[float]:
    image, slider = page.locator("img.widget-image").first, page.locator(".widget-hslider").first
    return [timed_drag(page, slider, image, f) for f in (0.75, 0.25, 0.6, 0.35, 0.8)[:moves]]


def measure(browser, n_pages: int) -> dict:
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="kdnb-load-")) / "launcher.log"
    with open(log, "w") as out:
        launcher = subprocess.Popen([sys.executable, "-m", "kdnb.classroom", f"--port={port}"], stdout=out,
                                    stderr=subprocess.STDOUT, cwd=classroom.ROOT)
    pages = []
    try:
        time.sleep(1)
        url = re.search(r"http://127\.0\.0\.1:\d+", log.read_text()).group(0)
        _wait_for_port(port_of(url), launcher)  # not an HTTP request: that would render a page and start a kernel
        load_s = []
        for _ in range(n_pages):
            page = offline_page(browser, url)
            start = time.perf_counter()
            page.goto(url, timeout=300_000)
            page.wait_for_selector("img.widget-image", timeout=300_000)
            load_s.append(time.perf_counter() - start)
            pages.append(page)
        time.sleep(3)
        kernels = _kernels(launcher)
        uss = [k.memory_full_info().uss / 2**30 for k in kernels]
        rss = [k.memory_info().rss / 2**30 for k in kernels]
        server = psutil.Process(launcher.pid).children()[0].memory_info().rss / 2**30
        idle = _latencies(pages[-1])
        for other in pages[:-1]:
            other.locator(".widget-hslider .noUi-handle").first.evaluate(BUSY_ROOM_JS)
        time.sleep(2)
        busy = _latencies(pages[-1]) if n_pages > 1 else idle
        cpu = psutil.cpu_percent(interval=2.0)
        return {"pages": n_pages, "kernels": len(kernels), "load_s": load_s, "uss_gb": uss, "rss_gb": rss,
                "server_gb": server, "available_gb": psutil.virtual_memory().available / 2**30,
                "idle_ms": idle, "busy_ms": busy, "cpu_busy_room": cpu}
    finally:
        for page in pages:
            page.close()
        launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=60)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.classroom_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[1, 4, 8])
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    print(f"{psutil.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.1f} GB; load average now "
          f"{psutil.getloadavg()[0]:.1f}", flush=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for n in args.pages:
            r = measure(browser, n)
            print(f"{n} pages: {r['kernels']} kernels; first explorer after {min(r['load_s']):.0f}-{max(r['load_s']):.0f} s; "
                  f"per kernel USS {statistics.mean(r['uss_gb']):.2f} GB (RSS {statistics.mean(r['rss_gb']):.2f} GB), "
                  f"Voila {r['server_gb']:.2f} GB, {r['available_gb']:.1f} GB left; slider on the last page: "
                  f"median {statistics.median(r['idle_ms']):.0f} ms (others idle), "
                  f"{statistics.median(r['busy_ms']):.0f} ms, max {max(r['busy_ms']):.0f} ms "
                  f"(every other page's slider moving 10x/s; CPU {r['cpu_busy_room']:.0f}%)", flush=True)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
