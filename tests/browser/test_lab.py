"""Every notebook, English and Chinese, in a real JupyterLab at 1280×720: Run All, then what a reader sees.

For each notebook of both editions (notebooks/ and notebooks/zh/, one kernel at a time), opened as ``make lab`` opens it (the file browser open,
an 848 px output area): no error output, no stderr, no widget shown as raw text; every image keeps
its aspect ratio there. With the side panel closed: the page is legible (labpage's limits). Every
slider belongs to an explorer this file drives, and each of those explorers redraws when it is
moved. Notebook 03's explorer, after Run All, shows on the page (slider, readout, figure) what its
cell says, and its handle shows keyboard focus. The temperature explorer's release-to-redraw
latency is measured and printed. No text shows tofu: the browser draws every Chinese character of
the page with a CJK font, and every figure draws its Chinese with the shipped font (the figure
stamp names the font that drew it). The flashcards of 07 reveal an answer on click.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest

from .labpage import (ROOT, audit, findings_report, focus_ring, image_digest, open_notebook, output_width, problems_after_run, run_all,
                      screenshot, settle, side_panel, summary, timed_drag)

ENGLISH = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: Both editions: the Chinese notebooks (notebooks/zh/) run, explore and pass the same audit.
NOTEBOOKS = ENGLISH + sorted(f"zh/{p.name}" for p in (ROOT / "notebooks" / "zh").glob("[0-9][0-9]_*.ipynb"))
LATENCY_TARGET_MS = 150.0


class Run:
    def __init__(self, name, page, seconds):
        self.name, self.page, self.seconds = name, page, seconds
        self.number = Path(name).name[:2]
        #: Screenshot names: "03-…" for the English notebook, "zh-03-…" for its Chinese twin.
        self.tag = "zh-" if name.startswith("zh/") else ""

    def outputs_with(self, selector: str):
        """The output areas, in notebook order, that hold ``selector``."""
        return self.page.locator(".jp-OutputArea-output").filter(has=self.page.locator(selector))


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=[n.replace("/", "-").removesuffix(".ipynb") for n in NOTEBOOKS])
def ran(request, browser, lab):
    workspace = "suite-" + request.param.replace("/", "-").removesuffix(".ipynb")
    page = open_notebook(browser, lab, request.param, workspace=workspace, side_panel_open=True)
    seconds = run_all(page)
    print(f"\n{request.param}: Run All took {seconds:.1f} s in the browser")
    yield Run(request.param, page, seconds)
    page.close()
    lab.shutdown_kernels()


def test_runs_clean(ran, request):
    screenshot(ran.page, request, f"{ran.tag}{Path(ran.name).stem}-end")
    problems = problems_after_run(ran.page)
    assert not problems, "\n".join(problems)


def test_default_layout_keeps_every_figure_whole(ran, request):
    """As ``make lab`` first shows it: the file browser open, figures shrunk to fit, none squeezed."""
    side_panel(ran.page, True)
    width = output_width(ran.page)
    assert 700 < width < 900, f"expected the narrow output area of the default layout, got {width:.0f} px"
    found = audit(ran.page, at_drawn_size=False)
    explorers = ran.page.locator(".jp-OutputArea-output img.widget-image")
    assert found["counts"]["images"] >= explorers.count(), found["counts"]
    if explorers.count():
        explorers.first.scroll_into_view_if_needed()
        screenshot(ran.page, request, f"{ran.tag}{Path(ran.name).stem}-explorer-side-panel-open")
    report = findings_report(found)
    assert not report, f"with the side panel open ({width:.0f} px):\n{report}"


def test_is_legible_at_1280x720(ran):
    side_panel(ran.page, False)
    found = audit(ran.page)
    assert found["counts"]["texts"] > 20, f"the audit saw almost no text: {found['counts']}"
    report = findings_report(found)
    assert not report, report


# --- the explorers: each slider moved, each view checked -------------------------------------------

#: Where each move drags a handle, as a fraction of its track: every position differs from the one before.
POSITIONS = (0.8, 0.2, 0.65, 0.35, 0.9, 0.1, 0.7, 0.3, 0.75, 0.45)


def _sliders(output):
    return output.locator(".widget-hslider")


def _drive_each_slider(run, output, moves: int = 3) -> int:
    """Move every slider of one explorer; assert its image changes each time. Returns the moves made."""
    image = output.locator("img.widget-image").first
    made = 0
    for k in range(_sliders(output).count()):
        for m in range(moves):
            timed_drag(run.page, _sliders(output).nth(k), image, POSITIONS[m])
            made += 1
    return made


def explore_01(run, request):
    explorer = run.outputs_with("img.widget-image").first
    assert _drive_each_slider(run, explorer) >= 3
    return 1


def explore_02(run, request):
    explorers = run.outputs_with("img.widget-image")
    assert explorers.count() == 2, "notebook 02 shows the target explorer and the bias explorer"
    for k in range(2):
        assert _drive_each_slider(run, explorers.nth(k)) >= 3
    screenshot(run.page, request, f"{run.tag}02-bias-explorer")
    return 2


def explore_03(run, request):
    explorer = run.outputs_with("img.widget-image").first
    image, slider = explorer.locator("img.widget-image").first, _sliders(explorer).first
    readout = explorer.locator(".kdnb-readout").first
    latencies, readouts = [], [readout.inner_text()]
    for k in range(10):
        latencies.append(timed_drag(run.page, slider, image, POSITIONS[k]))
        readouts.append(readout.inner_text())
    assert all(a != b for a, b in zip(readouts, readouts[1:])), f"the entropy readout did not follow the slider: {readouts}"
    screenshot(run.page, request, f"{run.tag}03-temperature-explorer")
    print(f"\ntemperature explorer, release to redrawn figure: {summary(latencies)}")
    assert statistics.median(latencies) < LATENCY_TARGET_MS, summary(latencies)
    return 1


def explore_04(run, request):
    explorer = run.outputs_with("img.widget-image").first
    assert _drive_each_slider(run, explorer) >= 3
    return 1


def explore_05(run, request):
    train = TRAIN_LABEL[run.tag]
    playground = run.outputs_with(f"button:has-text('{train}')").first
    image = playground.locator("img.widget-image").first
    playground.scroll_into_view_if_needed()
    before = image.get_attribute("src")
    button = playground.locator(f"button:has-text('{train}')").first
    button.click()
    seen = {before}
    for _ in range(600):  # up to a minute: the curves grow once per epoch
        run.page.wait_for_timeout(100)
        seen.add(image.get_attribute("src"))
        if len(seen) >= 4 and not button.is_disabled():
            break
    assert len(seen) >= 4, "the playground's curves did not grow after Train"
    screenshot(run.page, request, f"{run.tag}05-playground-after-train")
    return 1


def explore_06(run, request):
    explorer = run.outputs_with("img.widget-image").first
    assert _drive_each_slider(run, explorer) >= 3
    screenshot(run.page, request, f"{run.tag}06-pruning-explorer")
    return 1


def explore_08(run, request):
    explorer = run.outputs_with("img.widget-image").first
    readout = explorer.locator(".kdnb-readout").first
    before = readout.inner_text()
    assert _drive_each_slider(run, explorer) >= 3
    assert readout.inner_text() != before, "the beta explorer's readout did not follow the slider"
    screenshot(run.page, request, f"{run.tag}08-divergence-explorer")
    return 1


def explore_07(run, request):
    """The flashcards have no slider: reveal the first card's answer and keep the picture."""
    cards = run.outputs_with(".widget-toggle-buttons").first
    cards.scroll_into_view_if_needed()
    before = cards.locator(".widget-htmlmath").first.inner_text()
    cards.locator("button", has_text=REVEAL).first.click()
    run.page.wait_for_function("([el, before]) => el.innerText !== before",
                               arg=[cards.locator(".widget-htmlmath").first.element_handle(), before], timeout=10_000)
    screenshot(run.page, request, f"{run.tag}07-flashcards")
    return 0


EXPLORERS = {"01": explore_01, "02": explore_02, "03": explore_03, "04": explore_04, "05": explore_05,
             "06": explore_06, "07": explore_07, "08": explore_08}
#: The flashcards' reveal button (notebook 07's words), in either edition.
REVEAL = re.compile("reveal the answer|显示答案")
#: The playground's Train button in each edition.
TRAIN_LABEL = {"": "Train", "zh-": "训练"}


def test_03_explorer_shows_what_its_cell_says_after_run_all(ran, request):
    """Cell "back at T = 1": the slider's readout, the page text and the figure agree, after the queue has
    drained and any message the page sends back has arrived (a slider that rounds a value set from code
    sends the rounded one back after the queued cells, and the explorer moves there)."""
    if not ran.name.startswith("03"):
        pytest.skip("notebook 03 only (the Chinese twin runs the same code; its sentence is translated)")
    page = ran.page
    side_panel(page, True)  # as the reader sees it
    explorer = ran.outputs_with("img.widget-image").first
    image, slider = explorer.locator("img.widget-image").first, _sliders(explorer).first
    readout = explorer.locator(".kdnb-readout").first
    settle(page, image, quiet_ms=3000)
    said = page.locator(".jp-OutputArea-output", has_text="back at T = ").first.inner_text()
    T_said = said.rsplit("back at T = ", 1)[1].split()[0]
    assert T_said == "1", said
    assert slider.locator(".widget-readout").inner_text().strip() == T_said
    assert readout.inner_text().startswith(f"T = {float(T_said):.2f}"), readout.inner_text()
    # The figure: three steps right and three back with the keyboard land on the same grid value, so a
    # figure showing T = 1 comes back byte for byte; one left at another T would not.
    shown = image_digest(image)
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    for key in ("ArrowRight",) * 3 + ("ArrowLeft",) * 3:
        handle.press(key)
        page.wait_for_timeout(150)
    settle(page, image, quiet_ms=1000)
    assert slider.locator(".widget-readout").inner_text().strip() == T_said
    assert image_digest(image) == shown, "the figure after Run All is not the one the explorer draws at T = 1"
    ring = focus_ring(handle)
    assert ring, "a slider handle with keyboard focus shows no outline or box-shadow"
    screenshot(page, request, "03-explorer-after-run-all-focused")


def test_every_explorer_responds(ran, request):
    side_panel(ran.page, False)
    prefix = ran.number
    sliders = ran.page.locator(".jp-OutputArea-output .widget-hslider").count()
    explore = EXPLORERS.get(prefix)
    if explore is None:
        assert sliders == 0, f"{ran.name} shows {sliders} sliders that no browser test drives: add one to EXPLORERS"
        return
    explored = explore(ran, request)
    views = ran.outputs_with("img.widget-image").count()
    assert explored == views, f"{ran.name} shows {views} explorer views, the test drove {explored}"
