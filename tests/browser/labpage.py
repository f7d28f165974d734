"""Driving a notebook in JupyterLab from Playwright, and reading what the page shows.

Kept apart from the tests so each test reads as what it checks. Legibility limits (at 1280×720):
text of at least 12 px with a contrast of at least 4.5:1 (WCAG AA), sliders at least 250 px long,
images shown at the size they are drawn, and figure text of at least 12 px on screen.

Two layouts. ``make lab`` opens JupyterLab with the file browser open, which leaves an output area
848 px wide: there, wide figures are shrunk, and the audit checks that every image keeps its
aspect ratio (within 2%) and stays inside the page. With the side panel closed every figure fits,
and the audit also checks that each is shown at its drawn size with legible text.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SHOTS = HERE / "screenshots"
CHROMIUM = os.environ.get("KDNB_CHROMIUM", "/usr/bin/chromium")
TOKEN = "kdnb-browser-suite"
VIEWPORT = {"width": 1280, "height": 720}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

#: (test id, path) of every screenshot taken, listed at the end of the report.
SHOTS_TAKEN: list[tuple[str, Path]] = []


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


@contextlib.contextmanager
def serving(cmd: list[str], env: dict, cwd: Path, log: Path, ready_url: str, timeout: float = 120):
    """Run a server for the suite; yield the seconds until ``ready_url`` answered; stop it afterwards."""
    with open(log, "w") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    try:
        yield wait_for_http(ready_url, process, log, timeout)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def offline_page(browser, base_url: str, refused: list[str] | None = None):
    """A 1280×720 page that may reach only ``base_url``: anything else is refused (and listed in
    ``refused``), as on an offline laptop."""
    page = browser.new_page(viewport=VIEWPORT)

    def only_local(route):
        if route.request.url.startswith((base_url, "data:", "blob:")):
            route.continue_()
        else:
            if refused is not None:
                refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    return page


def screenshot(page, request, name: str) -> Path:
    """Save a screenshot of the viewport and list it in the report."""
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    SHOTS_TAKEN.append((request.node.nodeid, path))
    return path


MIN_TEXT_PX = 12.0
MIN_CONTRAST = 4.5
MIN_SLIDER_PX = 250.0
SCALE_TOLERANCE = 0.02  # an image may be shown within 2% of its drawn size

RAW_WIDGET_TEXT = ("interactive(children=", "VBox(children=", "HBox(children=", "Error displaying widget",
                   "Loading widget...", "IntSlider(", "FloatSlider(", "Output()")


def side_panel(page, open_: bool) -> None:
    """Open or close JupyterLab's left side panel (the file browser); a no-op when it already is so."""
    for _ in range(3):
        if bool(page.locator("#jp-left-stack:visible").count()) == open_:
            break
        page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        if open_:
            page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab").first.click()
        else:
            page.keyboard.press("Control+b")
        page.wait_for_timeout(400)
    assert bool(page.locator("#jp-left-stack:visible").count()) == open_, f"could not {'open' if open_ else 'close'} the side panel"
    page.wait_for_timeout(300)  # images re-flow to the new width


def output_width(page) -> float:
    """The width, in CSS px, of the first output area: where figures have to fit."""
    return page.evaluate("""() => { const o = document.querySelector('.jp-Notebook .jp-OutputArea-output');
        return o ? o.getBoundingClientRect().width : 0; }""")


def open_notebook(browser, lab, name: str, workspace: str, side_panel_open: bool = True):
    """Open ``notebooks/name`` in a fresh workspace; return the page.

    By default as ``make lab`` shows it, with the file browser open; ``side_panel_open=False`` closes it."""
    page = offline_page(browser, lab.url)
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/notebooks/{name}?reset&token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    page.wait_for_function("""() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');
        return s && s.getAttribute('data-status') === 'idle'; }""", timeout=90_000)
    side_panel(page, side_panel_open)
    return page


def run_all(page, timeout_s: float = 420) -> float:
    """Run All Cells from the menu and wait until every code cell has run; return the seconds it took."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # The saved notebook already shows numbered prompts: first see the queue ([*]), then wait for it to
    # drain. Cells with hidden input show no prompt.
    queued = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
        .some(p => p.textContent.includes('[*]'))"""
    start = time.perf_counter()
    for attempt in range(3):
        # Focus the notebook first: on a busy machine a menu command can reach the page before the
        # notebook is the current document, and then does nothing.
        page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        page.locator("div.lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(queued, timeout=20_000, polling=50)
            break
        except PlaywrightTimeout:
            SHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SHOTS / f"run-all-not-started-{attempt}.png"))
            page.keyboard.press("Escape")
    else:
        raise AssertionError("Run All Cells did not start the queue in three tries (see screenshots/run-all-not-started-*.png)")
    page.wait_for_function(f"""() => {{ const s = document.querySelector('.jp-Notebook-ExecutionIndicator');
        return !({queued})() && s && s.getAttribute('data-status') === 'idle'; }}""", timeout=timeout_s * 1000, polling=500)
    elapsed = time.perf_counter() - start
    # Widget views render after their messages arrive: wait until none is still loading.
    page.wait_for_function("() => !document.body.innerText.includes('Loading widget...')", timeout=30_000)
    page.wait_for_timeout(1000)
    return elapsed


def problems_after_run(page) -> list[str]:
    """Error outputs, stderr, and widgets shown as raw text, as readable lines."""
    return page.evaluate("""(raw) => {
        const out = [];
        document.querySelectorAll('.jp-Notebook .jp-CodeCell').forEach((cell, i) => {
            cell.querySelectorAll('.jp-OutputArea-output').forEach(o => {
                const mime = o.getAttribute('data-mime-type') || '';
                const text = o.innerText.trim();
                if (mime.includes('error')) out.push(`code cell ${i + 1}: error output: ${text.slice(0, 300)}`);
                else if (mime.includes('stderr') && text) out.push(`code cell ${i + 1}: stderr: ${text.slice(0, 300)}`);
                for (const r of raw) if (text.includes(r)) out.push(`code cell ${i + 1}: widget shown as text: ${text.slice(0, 120)}`);
            });
        });
        return out; }""", list(RAW_WIDGET_TEXT))


AUDIT_JS = """async (limits) => {
    const [minText, minContrast, minSlider, tol, rootSelector, atDrawnSize, cjkFont] = limits;
    const notebook = document.querySelector(rootSelector);
    const viewRight = notebook.getBoundingClientRect().right;
    const lum = (c) => { const m = c.match(/[\\d.]+/g).map(Number);
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
        return [0.2126 * f(m[0]) + 0.7152 * f(m[1]) + 0.0722 * f(m[2]), m.length > 3 ? m[3] : 1]; };
    const background = (el) => { for (let e = el; e; e = e.parentElement) {
        const c = getComputedStyle(e).backgroundColor; const m = c.match(/[\\d.]+/g);
        if (m && (m.length < 4 || Number(m[3]) > 0.5)) return c; } return 'rgb(255, 255, 255)'; };
    const shown = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0
        && getComputedStyle(el).visibility !== 'hidden'; };
    const where = (el) => { const cell = el.closest('.jp-Cell'); const cells = [...notebook.querySelectorAll('.jp-Cell')];
        return 'cell ' + (cells.indexOf(cell) + 1); };
    const found = {text: [], contrast: [], sliders: [], scale: [], aspect: [], overflow: [], figtext: [], unstamped: [],
                   figtofu: [], counts: {}};
    // Text: every element with its own visible text, outside code editors, prompts and maths.
    let texts = 0;
    for (const el of notebook.querySelectorAll('.jp-Cell *')) {
        if (el.closest('.jp-InputArea-editor, .jp-InputPrompt, .jp-OutputPrompt, mjx-container, .MathJax, sub, sup, svg, .jp-Collapser'))
            continue;
        const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
        if (!own || !shown(el)) continue;
        texts += 1;
        const style = getComputedStyle(el);
        const size = parseFloat(style.fontSize);
        const sample = el.textContent.trim().slice(0, 50);
        if (size < minText - 0.01) found.text.push(`${where(el)}: ${size}px "${sample}"`);
        const [lf, alpha] = lum(style.color); const [lb] = lum(background(el));
        const ratio = (Math.max(lf, lb) + 0.05) / (Math.min(lf, lb) + 0.05);
        if (alpha > 0.5 && ratio < minContrast) found.contrast.push(`${where(el)}: ${ratio.toFixed(2)}:1 "${sample}"`);
    }
    // Sliders: the track a reader drags.
    const sliders = notebook.querySelectorAll('.widget-hslider .noUi-target');
    for (const s of sliders) { if (!shown(s)) continue; const w = s.getBoundingClientRect().width;
        if (w < minSlider) found.sliders.push(`${where(s)}: ${w.toFixed(0)}px`); }
    // Images in outputs: shown at their drawn size, and their smallest figure text as shown.
    const imgs = [...notebook.querySelectorAll('.jp-OutputArea-output img')].filter(shown);
    for (const img of imgs) {
        if (!img.complete) await new Promise(r => { img.onload = r; setTimeout(r, 3000); });
        const box = img.getBoundingClientRect();
        const scale = box.width * devicePixelRatio / img.naturalWidth;
        if (atDrawnSize && Math.abs(scale - 1) > tol) found.scale.push(`${where(img)}: drawn ${img.naturalWidth}px, shown at ${scale.toFixed(2)}x`);
        // Shrunk or not, an image keeps its shape: shown width/height against drawn width/height.
        const aspect = (box.width / box.height) / (img.naturalWidth / img.naturalHeight);
        if (Math.abs(aspect - 1) > tol)
            found.aspect.push(`${where(img)}: drawn ${img.naturalWidth}x${img.naturalHeight}, shown ${box.width.toFixed(0)}x${box.height.toFixed(0)} (width/height at ${(100 * aspect).toFixed(0)}% of its own)`);
        const right = img.getBoundingClientRect().right;
        if (right > Math.min(viewRight, innerWidth) + 1)
            found.overflow.push(`${where(img)}: ${img.naturalWidth}px wide, runs ${(right - Math.min(viewRight, innerWidth)).toFixed(0)}px past the visible page`);
        const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
        let stamp = null, cjk = null;
        for (let p = 8; p + 8 <= bytes.length;) {
            const len = (bytes[p] << 24 | bytes[p + 1] << 16 | bytes[p + 2] << 8 | bytes[p + 3]) >>> 0;
            const type = String.fromCharCode(...bytes.slice(p + 4, p + 8));
            if (type === 'IDAT') break;
            if (type === 'tEXt') { const body = new TextDecoder().decode(bytes.slice(p + 8, p + 8 + len));
                const [key, value] = body.split('\\0'); if (key === 'kdnb-min-text-px') stamp = value;
                if (key === 'kdnb-cjk-font') cjk = value; }
            p += 12 + len;
        }
        if (cjk !== null && cjk !== 'none' && cjk !== cjkFont)
            found.figtofu.push(`${where(img)}: Chinese drawn with ${cjk}, not ${cjkFont}`);
        if (stamp === null) found.unstamped.push(`${where(img)}: ${img.naturalWidth}x${img.naturalHeight}`);
        else if (atDrawnSize && stamp !== 'none' && parseFloat(stamp) * scale < minText - 0.01)
            found.figtext.push(`${where(img)}: ${(parseFloat(stamp) * scale).toFixed(1)}px on screen (${stamp}px drawn, shown at ${scale.toFixed(2)}x)`);
    }
    found.counts = {texts, sliders: sliders.length, images: imgs.length};
    return found; }"""


def audit(page, root: str = ".jp-Notebook", at_drawn_size: bool = True) -> dict:
    """Legibility findings for everything under ``root`` (in JupyterLab all cells are in the page: windowing is off).

    ``at_drawn_size=False`` (a narrow layout: the side panel open) lets figures be shrunk; their
    aspect ratio, their text and the sliders are checked all the same."""
    found = page.evaluate(AUDIT_JS, [MIN_TEXT_PX, MIN_CONTRAST, MIN_SLIDER_PX, SCALE_TOLERANCE, root, at_drawn_size, CJK_FAMILY])
    found["tofu"] = html_tofu(page, root)
    return found


FINDINGS = [("text", "text under 12 px"), ("contrast", "text with contrast under 4.5:1"),
            ("sliders", "sliders under 250 px"), ("scale", "images not shown at their drawn size"),
            ("aspect", "images squeezed or stretched (aspect ratio off by more than 2%)"),
            ("overflow", "images wider than the visible page"), ("figtext", "figure text under 12 px on screen"),
            ("unstamped", "images the kernel did not stamp (not drawn by matplotlib?)"),
            ("figtofu", "figures whose Chinese is not drawn with the shipped CJK font (tofu: no font had the glyph)"),
            ("tofu", "page text whose Chinese the browser draws with no CJK font (tofu)")]

#: The family the figures draw Chinese with (kdnb/fonts); the stamp names the font each figure used.
CJK_FAMILY = "Noto Sans SC kdnb"
#: A font the browser may draw Chinese with: any of these in a family name (Noto CJK, Source Han, WenQuanYi ...).
CJK_BROWSER_FONT = re.compile(r"CJK|Han|SC|TC|JP|WenQuanYi|Hei|Song|Kai|Ming|Fallback|YaHei|PingFang", re.I)

_MARK_CJK_JS = """([rootSelector, limit]) => {
    const root = document.querySelector(rootSelector); let n = 0;
    for (const el of root.querySelectorAll('[data-kdnb-cjk]')) el.removeAttribute('data-kdnb-cjk');
    for (const el of root.querySelectorAll('.jp-Cell *')) {
        if (n >= limit) break;
        if (el.closest('.jp-InputArea-editor, mjx-container, svg')) continue;
        const own = [...el.childNodes].filter(c => c.nodeType === 3).map(c => c.textContent).join('');
        if (/[\\u4e00-\\u9fff]/.test(own) && el.getBoundingClientRect().width > 0) { el.setAttribute('data-kdnb-cjk', ''); n++; }
    }
    return n; }"""


def html_tofu(page, root: str = ".jp-Notebook", limit: int = 60) -> list[str]:
    """Elements with Chinese text (up to ``limit``) that Chromium draws with no CJK font.

    Chromium reports, through the DevTools protocol, the platform fonts it used for a node's text
    (``CSS.getPlatformFontsForNode``): a Chinese text drawn without a CJK family among them shows tofu."""
    if not page.evaluate(_MARK_CJK_JS, [root, limit]):
        return []
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        doc = cdp.send("DOM.getDocument", {"depth": 0})
        nodes = cdp.send("DOM.querySelectorAll", {"nodeId": doc["root"]["nodeId"], "selector": "[data-kdnb-cjk]"})["nodeIds"]
        out = []
        for node in nodes:
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
            if not any(CJK_BROWSER_FONT.search(f["familyName"]) for f in fonts):
                html = cdp.send("DOM.getOuterHTML", {"nodeId": node})["outerHTML"]
                out.append(f"{[f['familyName'] for f in fonts]}: {html[:80]}")
        return out
    finally:
        cdp.detach()


def findings_report(found: dict) -> str:
    """The audit's findings as readable lines; empty when everything is legible."""
    report = []
    for key, what in FINDINGS:
        if found[key]:
            report.append(f"{what} ({len(found[key])}):\n  " + "\n  ".join(found[key][:15]))
    return "\n".join(report)


def drag(page, slider, fraction: float) -> None:
    """Drag the handle of ``slider`` (a ``.widget-hslider``) to ``fraction`` of its track, then release it."""
    handle, track = slider.locator(".noUi-handle").first, slider.locator(".noUi-target").first
    handle.scroll_into_view_if_needed()
    box, rail = handle.bounding_box(), track.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(rail["x"] + fraction * rail["width"], y, steps=5)
    page.mouse.up()


def wait_for_change(page, get, before, timeout_s: float = 10.0) -> float:
    """Milliseconds until ``get()`` differs from ``before``; an AssertionError if it never does."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        if get() != before:
            return 1000 * (time.perf_counter() - start)
        page.wait_for_timeout(5)
    raise AssertionError(f"nothing changed within {timeout_s:.0f} s (still {str(before)[:80]!r})")


def settle(page, image, quiet_ms: int = 2000, timeout_s: float = 30.0) -> None:
    """Wait until ``image`` (an ``img`` locator) has kept the same ``src`` for ``quiet_ms``: the kernel
    has answered every message the page sent, and nothing is still redrawing."""
    deadline = time.perf_counter() + timeout_s
    last, since = image.get_attribute("src"), time.perf_counter()
    while time.perf_counter() < deadline:
        page.wait_for_timeout(100)
        now = image.get_attribute("src")
        if now != last:
            last, since = now, time.perf_counter()
        elif 1000 * (time.perf_counter() - since) >= quiet_ms:
            return
    raise AssertionError(f"the figure kept changing for {timeout_s:.0f} s")


def image_digest(image) -> str:
    """SHA-256 of the bytes an ``img`` shows (its ``src`` is a fresh blob URL on every redraw, so compare bytes)."""
    return image.evaluate("""async (img) => { const bytes = await (await fetch(img.src)).arrayBuffer();
        const d = await crypto.subtle.digest('SHA-256', bytes);
        return [...new Uint8Array(d)].map(b => b.toString(16).padStart(2, '0')).join(''); }""")


def focus_ring(handle) -> str:
    """The outline or box-shadow a focused slider handle shows ('' if none): checked with focus from the keyboard."""
    return handle.evaluate("""(h) => { h.focus(); const s = getComputedStyle(h);
        if (!h.matches(':focus')) return '';
        const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 ? `outline ${s.outlineWidth} ${s.outlineStyle} ${s.outlineColor}` : '';
        const shadow = s.boxShadow && s.boxShadow !== 'none' ? `box-shadow ${s.boxShadow}` : '';
        return [outline, shadow].filter(Boolean).join('; '); }""")


def image_src(locator):
    return lambda: locator.get_attribute("src")


def summary(latencies: list[float]) -> str:
    return f"median {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms over {len(latencies)} moves"


def timed_drag(page, slider, image, fraction: float, timeout_s: float = 10.0) -> float:
    """Drag ``slider`` to ``fraction`` of its track; milliseconds from the mouse release to the last new ``image``.

    Both instants are taken inside the page (a mouse-up listener and a MutationObserver on the
    image's ``src``): release, kernel round trip, new PNG in the page. A slider that updates
    while it is dragged may redraw more than once; the figure counts as redrawn when it has
    been quiet for 300 ms, and the latency is that of its last change.
    """
    image.evaluate("""(img) => {
        const m = window.__kdnbMove = {released: null, before: 0, after: []};
        document.addEventListener('mouseup', () => { m.released = performance.now(); }, {capture: true, once: true});
        m.observer = new MutationObserver(() => { if (m.released === null) m.before += 1;
                                                   else m.after.push(performance.now()); });
        m.observer.observe(img, {attributes: true, attributeFilter: ['src']}); }""")
    drag(page, slider, fraction)
    deadline = time.perf_counter() + timeout_s
    while True:
        state = page.evaluate("""() => { const m = window.__kdnbMove; const now = performance.now();
            return {before: m.before, after: m.after.length, quiet: m.after.length ? now - m.after[m.after.length - 1] : now - m.released,
                    latency: m.after.length ? m.after[m.after.length - 1] - m.released : null}; }""")
        if state["after"] and state["quiet"] > 300:
            break
        if not state["after"] and state["before"] and state["quiet"] > 2000:
            return 0.0  # redrawn during the drag, already showing the released value
        if time.perf_counter() > deadline:
            raise AssertionError(f"the figure did not change within {timeout_s:.0f} s of the release")
        page.wait_for_timeout(20)
    page.evaluate("() => window.__kdnbMove.observer.disconnect()")
    return state["latency"]
