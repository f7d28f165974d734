"""Printing the cheat sheets and the booklets: what a reader gets from the browser's "Print to PDF" on A4.

Each committed HTML page in ``data/cheatsheet/`` is opened in Debian's Chromium, offline (the page
may load nothing but itself), and printed with ``page.pdf(format="A4")``. The two-page cheat sheet
must fit on at most two pages in each language, nothing on it may stick out of the printed width, and
the booklets (the whole bank) must print too. The PDFs land in ``tests/browser/screenshots/`` beside
the screenshots, so a reviewer can look at them.
"""

from __future__ import annotations

import re

import pytest

from kdnb import bank, cheatsheet
from .labpage import SHOTS, SHOTS_TAKEN

SHEET_PAGES = 2  # at most, per language


def pdf_pages(pdf: bytes) -> int:
    """The number of pages of a PDF that Chromium wrote (one ``/Type /Page`` object per page)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def print_page(browser, request, name: str) -> tuple[bytes, dict]:
    """Print ``data/cheatsheet/name`` to an A4 PDF, offline; return the PDF and what the print layout measured."""
    path = cheatsheet.FOLDER / name
    assert path.exists(), f"{name} is missing: run `make cheatsheet`"
    page = browser.new_page()
    outside = []

    def only_the_file(route):
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_file)
    page.goto(path.resolve().as_uri())
    page.emulate_media(media="print")
    layout = page.evaluate("""() => ({
        scroll: document.documentElement.scrollWidth, width: document.documentElement.clientWidth,
        wide: [...document.querySelectorAll('svg, p, h1, h2, h3, h4, div')]
              .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
              .map(e => e.tagName + (e.id ? '#' + e.id : '')).slice(0, 5)})""")
    pdf = page.pdf(format="A4")
    page.close()
    SHOTS.mkdir(exist_ok=True)
    out = SHOTS / f"{name}.pdf"
    out.write_bytes(pdf)
    SHOTS_TAKEN.append((request.node.nodeid, out))
    layout["outside"] = outside
    return pdf, layout


@pytest.mark.parametrize("lang", bank.LANGUAGES)
def test_the_cheat_sheet_prints_on_at_most_two_a4_pages(browser, request, lang):
    pdf, layout = print_page(browser, request, f"cheatsheet.{lang}.html")
    pages = pdf_pages(pdf)
    print(f"\ncheatsheet.{lang}.html: {pages} A4 page(s) at {cheatsheet.SHEET_PT[lang]:g} pt")
    assert pdf.startswith(b"%PDF") and 1 <= pages <= SHEET_PAGES, \
        (f"cheatsheet.{lang}.html prints on {pages} A4 pages; at most {SHEET_PAGES}: "
         f"lower cheatsheet.SHEET_PT[{lang!r}] or shorten what the sheet selects")
    assert layout["outside"] == [], f"the page tried to load {layout['outside']}"
    assert layout["scroll"] <= layout["width"] and layout["wide"] == [], f"sticks out of the page: {layout}"


@pytest.mark.parametrize("lang", bank.LANGUAGES)
def test_the_booklet_prints(browser, request, lang):
    pdf, layout = print_page(browser, request, f"booklet.{lang}.html")
    pages = pdf_pages(pdf)
    print(f"\nbooklet.{lang}.html: {pages} A4 pages")
    assert pdf.startswith(b"%PDF") and pages > SHEET_PAGES  # the whole bank: longer than the sheet
    assert layout["outside"] == [], f"the page tried to load {layout['outside']}"
    assert layout["scroll"] <= layout["width"], f"sticks out of the page: {layout}"
