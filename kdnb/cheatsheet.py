"""The cheat sheet (two A4 pages) and the booklet (the whole question bank), in English and Chinese.

``data/cheatsheet/`` holds eight files rendered from ``data/questions.yaml``, each in Markdown
(GitHub shows it, formulas included) and in HTML (one self-contained page, made to be printed on A4):

* ``cheatsheet.{en,zh}.{md,html}``, the **cheat sheet**, which prints on at most two A4 pages
  (``tests/browser/test_print.py`` prints it and counts them):

  - **Formulas**: each distinct formula of the bank once (:func:`sheet_formulas`), under its question;
  - **30-second answers to the most-asked questions**, chosen by a computed rule
    (:func:`kdnb.bank.most_asked`: every entry that answers two or more seed IDs, and in a topic
    without one, the entry that answers the most);
  - **Traps**: the wrong claims that the seeds' own answers make on the questions of the sheet
    (:func:`sheet_traps`), each with what holds and the section that disproves it.

* ``booklet.{en,zh}.{md,html}``, the **booklet**: every entry of the bank, with three parts:

  - **Formulas**: every entry's key formula under its question. The Markdown keeps the LaTeX in
    ``$$ … $$`` blocks; the HTML draws it with matplotlib's mathtext into an inline SVG, so the page
    needs neither the internet nor MathJax.
  - **30-second answers**, grouped by topic in the order the workbook teaches them: the question,
    the short answer, the seed IDs it answers and the notebook section that demonstrates it (the
    label, such as ``03 §4``, links to that section).
  - **Traps**: the wrong claim, the correct statement, where the claim comes from and the section
    that disproves it.

:func:`render_sheet_markdown` and :func:`render_sheet_html` build a sheet, :func:`render_markdown`
and :func:`render_html` a booklet, from a list of :class:`kdnb.bank.Entry`; :func:`write` renders
all eight files. The output depends on the bank alone (and on the matplotlib version that draws the
formulas), never on the date or the caller's matplotlib style: the same bank gives the same bytes,
so ``python -m kdnb.cheatsheet --check`` (and the test suite) can tell a file that is out of date,
or edited by hand, from a fresh one. ``python -m kdnb.cheatsheet --help`` lists the options
(``--out DIR`` writes elsewhere).
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

from . import bank
from .exercises import exercise_name
from .mathsvg import formula_svg
from ._io import atomic_write_text

__all__ = ["FOLDER", "FILES", "SHEET_FILES", "BOOKLET_FILES", "SHEET_PT", "render_markdown", "render_html",
           "render_sheet_markdown", "render_sheet_html", "sheet_formulas", "sheet_traps", "render", "formula_svg",
           "section_label", "write", "stale", "main"]

FOLDER = bank.ROOT / "data" / "cheatsheet"
#: The two-page cheat sheets, then the booklets (the whole bank), in the order :func:`write` writes them.
SHEET_FILES = ("cheatsheet.en.md", "cheatsheet.zh.md", "cheatsheet.en.html", "cheatsheet.zh.html")
BOOKLET_FILES = ("booklet.en.md", "booklet.zh.md", "booklet.en.html", "booklet.zh.html")
FILES = SHEET_FILES + BOOKLET_FILES
#: The cheat sheet's printed font size in points, per language: the largest that keeps it on two A4 pages
#: (tests/browser/test_print.py prints it and counts the pages).
SHEET_PT = {"en": 7.5, "zh": 8.0}
#: Links go from data/cheatsheet/ up to the repository, then into notebooks/.
NOTEBOOK_PREFIX = "../../notebooks/"

_TEXT = {
    "en": {
        "title": "Knowledge distillation: interview booklet (the whole question bank)",
        "counts": ("question", "formula", "trap"),
        "intro": "Each answer names the notebook section that demonstrates it: 03 §4 is notebook 03, section 4.",
        "formulas": "Formulas",
        "answers": "30-second answers",
        "traps": "Interview traps",
        "seeds": "Seeds: ",
        "no_seeds": "beyond the seeds",
        "wrong": "Wrong",
        "right": "Right",
        "source": "Source",
        "common": "common belief",
        "disproved": "disproved in",
        "sep": ", ",
        "footer": "Rendered from data/questions.yaml by `make cheatsheet`; do not edit by hand.",
    },
    "zh": {
        "title": "知识蒸馏面试小册子（完整题库）",
        "counts": ("道题", "个公式", "个陷阱"),
        "intro": "每道题都标出演示答案的 notebook 小节：03 §4 即 notebook 03 的第 4 节。",
        "formulas": "公式",
        "answers": "30 秒回答",
        "traps": "面试陷阱",
        "seeds": "题号：",
        "no_seeds": "扩展题",
        "wrong": "错误说法",
        "right": "正确说法",
        "source": "出处",
        "common": "常见误解",
        "disproved": "反驳见",
        "sep": "、",
        "footer": "由 `make cheatsheet` 从 data/questions.yaml 生成，请勿手工编辑。",
    },
}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CODE = re.compile(r"(`[^`]+`)")


def _check_lang(lang: str) -> None:
    if lang not in bank.LANGUAGES:
        raise ValueError(f"lang is one of {bank.LANGUAGES}, not {lang!r}")


def _ordered(entries) -> list[tuple[str, list]]:
    """The non-empty topics in the workbook's order, each with its entries in bank order."""
    return [(topic, group) for topic, group in bank.by_topic(list(entries)).items() if group]


def section_label(link: bank.Link, lang: str = "en") -> str:
    """The section's short label: ``link.label`` in English; in Chinese the same, activities translated.

    ``03 §4`` stays ``03 §4``; ``05 Check yourself 4.1`` becomes ``05 自测 4.1``, the notebook's own heading; a section named
    by its title (``A label-smoothed teacher``) is labelled by the numbered section it sits in.
    """
    _check_lang(lang)
    if lang == "en" or _NUMBER.fullmatch(link.section):
        return link.label
    number = link.notebook[:2]
    activity = exercise_name(link.section, lang)
    if activity != link.section:
        return f"{number} {activity}"
    parent = link.parent()
    return f"{number} §{parent.split(' · ')[0]}" if parent else number


def _counts(flat: list, lang: str) -> str:
    """``12 questions · 5 formulas · 7 traps``, or the Chinese equivalent."""
    numbers = (len(flat), sum(1 for e in flat if e.formula), sum(1 for e in flat if e.trap))
    words = _TEXT[lang]["counts"]
    if lang == "en":
        return " · ".join(f"{n} {w}{'' if n == 1 else 's'}" for n, w in zip(numbers, words))
    return "共 " + " · ".join(f"{n} {w}" for n, w in zip(numbers, words))


def _seeds(entry: bank.Entry, lang: str) -> str:
    t = _TEXT[lang]
    return f"{t['seeds']}{t['sep'].join(entry.seeds)}" if entry.seeds else t["no_seeds"]


def _source(trap: bank.Trap, lang: str) -> str:
    t = _TEXT[lang]
    return f"{t['source']}{': ' if lang == 'en' else '：'}{t['common'] if trap.source == 'common' else trap.source}"


# -------------------------------------------------------------------------------------- Markdown


def _md(text: str) -> str:
    """Plain text for Markdown: code spans kept, the characters Markdown would act on escaped."""
    out = []
    for part in _CODE.split(text):
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(part)
            continue
        part = re.sub(r"([\\*\[\]$~])", r"\\\1", part)
        part = re.sub(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])", r"\\_", part)  # only where it could emphasise
        part = re.sub(r"&(?=#?\w+;)", "&amp;", part)                       # only where it reads as an entity
        part = re.sub(r"<(?=[A-Za-z/!?])", "&lt;", part)                    # only where it reads as a tag
        out.append(part)
    text = "".join(out)
    # A line may not start a heading, a quote or a list.
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", re.sub(r"^([#>+-])", r"\\\1", text))


def _parts(entries, lang: str):
    """What both renderings start from: the language's words, the topic groups, and the entries in order."""
    _check_lang(lang)
    groups = _ordered(entries)
    flat = [e for _, group in groups for e in group]
    return _TEXT[lang], groups, flat, [e for e in flat if e.formula], [e for e in flat if e.trap]


def _href(link: bank.Link, lang: str) -> str:
    """The link to the section in the notebook of the sheet's language (the Chinese edition's for Chinese)."""
    return link.href(prefix=NOTEBOOK_PREFIX + ("zh/" if lang == "zh" else ""), lang=lang)


def _md_link(link: bank.Link, lang: str) -> str:
    href = _href(link, lang)
    if re.search(r"[\s()<>]", href):
        href = f"<{href}>"
    return f"[{section_label(link, lang)}]({href})"


def render_markdown(entries, lang: str = "en") -> str:
    """The cheat sheet in one language as GitHub Markdown (formulas in ``$$`` blocks)."""
    t, groups, flat, with_formula, with_trap = _parts(entries, lang)
    dot = " · "
    lines = [f"# {t['title']}", "",
             f"{_counts(flat, lang)}{'. ' if lang == 'en' else '。'}{t['intro']}",
             ""]
    if with_formula:
        lines += [f"## {t['formulas']}", ""]
        for e in with_formula:
            lines += [f"**{_md(e.question[lang])}** {_md_link(e.link, lang)}", "",
                      "$$", e.formula.strip(), "$$", ""]
    lines += [f"## {t['answers']}", ""]
    for topic, group in groups:
        lines += [f"### {bank.TOPICS[topic][0 if lang == 'en' else 1]}", ""]
        for e in group:
            meta = dot.join([_seeds(e, lang), bank.DIFFICULTY[e.difficulty][0 if lang == "en" else 1],
                             _md_link(e.link, lang)])
            lines += [f"**{_md(e.question[lang])}**\\", f"{_md(e.short[lang])}\\", meta, ""]
    if with_trap:
        lines += [f"## {t['traps']}", ""]
        for e in with_trap:
            # The colon outside the bold: CommonMark will not close ** between "：" and a Chinese character.
            mark = (lambda word: f"**{word}:** ") if lang == "en" else (lambda word: f"**{word}**：")
            lines += [f"✗ {mark(t['wrong'])}{_md(e.trap.claim[lang])}\\",
                      f"✓ {mark(t['right'])}{_md(e.trap.truth[lang])}\\",
                      dot.join([_source(e.trap, lang), f"{t['disproved']} {_md_link(e.trap_link, lang)}"]), ""]
    lines += ["---", "", t["footer"], ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ HTML


_h = bank.inline_html  # plain text for HTML: escaped, `code` spans set as code


def _a(link: bank.Link, lang: str) -> str:
    return (f'<a class="section" href="{html.escape(_href(link, lang))}">'
            f"{html.escape(section_label(link, lang))}</a>")


_FONTS_ZH = '"Noto Sans CJK SC", "Noto Serif CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif'
_FONTS_EN = f'"Segoe UI", "Helvetica Neue", "Liberation Sans", Arial, "DejaVu Sans", {_FONTS_ZH}'

_CSS = """
:root {
  --ink: #1d232b; --muted: #58626e; --rule: #d5dbe2; --accent: #2f5d8a; --card: #f6f8fa;
  --wrong: #a8322b; --right: #23683d;
  --fs-base: 15px; --fs-small: 13.5px; --fs-h1: 26px; --fs-h2: 20px; --fs-h3: 16px; --fs-q: 15px;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font-family: FONTS; font-size: var(--fs-base); line-height: 1.5; color: var(--ink);
       background: #fff; }
header, main, footer { max-width: 74rem; margin: 0 auto; padding: 0 1.5rem; }
header { padding-top: 1.6rem; }
h1 { font-size: var(--fs-h1); margin: 0 0 .3rem; letter-spacing: -.01em; }
.lede { margin: 0 0 .2rem; color: var(--muted); font-size: var(--fs-small); }
nav { font-size: var(--fs-small); margin: .2rem 0 0; }
nav a { margin-right: 1rem; }
h2 { font-size: var(--fs-h2); margin: 1.6rem 0 .7rem; padding-bottom: .2rem;
     border-bottom: 2px solid var(--accent); color: var(--accent); }
h3 { font-size: var(--fs-h3); margin: 0 0 .5rem; padding-top: .35rem; color: var(--accent);
     break-after: avoid; page-break-after: avoid; }
.topic + .topic h3 { padding-top: .6rem; }
h4 { font-size: var(--fs-q); margin: 0 0 .25rem; line-height: 1.35; }
p { margin: 0; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code { font-family: "DejaVu Sans Mono", "Noto Sans Mono CJK SC", Menlo, Consolas, monospace; font-size: .92em;
       background: #eef1f4; padding: 0 .2em; border-radius: 3px; overflow-wrap: anywhere; }
.cards { columns: 2 24rem; column-gap: 1.5rem; }
.card { break-inside: avoid; page-break-inside: avoid; display: block; margin: 0 0 .75rem;
        padding: .5rem .75rem .55rem; background: var(--card); border-left: 3px solid var(--accent);
        border-radius: 0 4px 4px 0; }
.meta { margin-top: .3rem; color: var(--muted); font-size: var(--fs-small); }
.meta a.section { font-weight: 600; }
.sep { font-family: "Liberation Sans", Arial, sans-serif; margin: 0 .12em; color: #8a95a1; }
.formulas { display: grid; grid-template-columns: repeat(auto-fill, minmax(24rem, 1fr)); gap: .75rem 1.5rem; }
.formulas .card { margin: 0; }
.formulas h4 { font-weight: 600; }
.formulas h4 a { color: var(--ink); }
.math { margin: .45rem 0 .1rem; text-align: center; overflow-x: auto; }
svg.formula { max-width: 100%; height: auto; vertical-align: middle; }
.trap { border-left-color: var(--wrong); }
.trap p + p { margin-top: .25rem; }
.mark { font-weight: 700; white-space: nowrap; }
.claim .mark { color: var(--wrong); }
.truth .mark { color: var(--right); }
footer { margin-top: 1.8rem; padding-top: .5rem; padding-bottom: 1.5rem; border-top: 1px solid var(--rule);
         color: var(--muted); font-size: var(--fs-small); }
@media print {
  @page { size: A4; margin: 11mm 11mm 12mm; }
  :root { --fs-base: 10pt; --fs-small: 10pt; --fs-h1: 16pt; --fs-h2: 13pt; --fs-h3: 11.5pt; --fs-q: 10pt; }
  body { line-height: 1.32; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  header, main, footer { max-width: none; padding: 0; }
  header { padding-top: 0; }
  nav { display: none; }
  h2 { margin: 4mm 0 2.5mm; break-after: avoid; page-break-after: avoid; }
  h3 { margin: 0 0 1.5mm; padding-top: 1mm; }
  .topic + .topic h3 { padding-top: 2mm; }
  .cards { columns: 2; column-gap: 6mm; }
  .card { margin: 0 0 1.8mm; padding: 1.3mm 2.4mm 1.4mm; }
  .meta { margin-top: .15rem; }
  h4 { margin-bottom: .1rem; }
  .trap p + p { margin-top: .1rem; }
  .formulas { grid-template-columns: 1fr 1fr; gap: 1.8mm 6mm; }
  .math { margin: .2rem 0 0; }
  a { color: inherit; }
  .meta a.section { color: var(--accent); }
  footer { margin-top: 5mm; padding: 1.5mm 0 0; }
}
"""


def _cite(cite: str) -> str:
    """Authors and year on the sheet, the title on hover: ``Hinton, Vinyals & Dean 2015``."""
    m = re.match(r"(.*?\b(?:19|20)\d\d[a-z]?)\b", cite)
    short = m.group(1) if m else cite
    return f'<span class="cite" title="{html.escape(cite)}">{html.escape(short)}</span>'


def render_html(entries, lang: str = "en") -> str:
    """The cheat sheet in one language as a self-contained HTML page (formulas as inline SVG)."""
    t, groups, flat, with_formula, with_trap = _parts(entries, lang)
    colon = ": " if lang == "en" else "："
    dot = ' <span class="sep" aria-hidden="true">·</span> '
    fonts = _FONTS_EN if lang == "en" else _FONTS_ZH
    counts = _counts(flat, lang)
    shown = [key for key, show in (("formulas", with_formula), ("answers", True), ("traps", with_trap)) if show]
    parts = ["<!DOCTYPE html>", f'<html lang="{"en" if lang == "en" else "zh-CN"}">', "<head>",
             '<meta charset="utf-8">', '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(t['title'])}</title>", f"<style>{_CSS.replace('FONTS', fonts)}</style>",
             "</head>", "<body>", "<header>", f"<h1>{html.escape(t['title'])}</h1>",
             f'<p class="lede">{html.escape(counts)}{". " if lang == "en" else "。"}{html.escape(t["intro"])}</p>',
             "<nav>" + "".join(f'<a href="#{key}">{html.escape(t[key])}</a>' for key in shown) + "</nav>",
             "</header>", "<main>"]
    if with_formula:
        parts += ['<section id="formulas">', f"<h2>{html.escape(t['formulas'])}</h2>", '<div class="formulas">']
        for e in with_formula:
            parts += [f'<div class="card" id="f-{e.id}">',
                      f'<h4><a href="#q-{e.id}">{_h(e.question[lang])}</a></h4>',
                      f'<div class="math">{formula_svg(e.formula, prefix=f"f-{e.id}")}</div>',
                      f'<p class="meta">{_a(e.link, lang)}{dot + _cite(e.cite) if e.cite else ""}</p>',
                      "</div>"]
        parts += ["</div>", "</section>"]
    # One flow of two columns for all topics: a topic's heading sits in the column, as in a dictionary.
    parts += ['<section id="answers">', f"<h2>{html.escape(t['answers'])}</h2>", '<div class="cards">']
    for topic, group in groups:
        parts += [f'<section class="topic" id="t-{topic}">',
                  f"<h3>{html.escape(bank.TOPICS[topic][0 if lang == 'en' else 1])}</h3>"]
        for e in group:
            meta = dot.join([html.escape(_seeds(e, lang)),
                             html.escape(bank.DIFFICULTY[e.difficulty][0 if lang == "en" else 1]), _a(e.link, lang)])
            parts += [f'<article class="card qa" id="q-{e.id}">', f"<h4>{_h(e.question[lang])}</h4>",
                      f"<p>{_h(e.short[lang])}</p>", f'<p class="meta">{meta}</p>', "</article>"]
        parts += ["</section>"]
    parts += ["</div>", "</section>"]
    if with_trap:
        parts += ['<section id="traps">', f"<h2>{html.escape(t['traps'])}</h2>", '<div class="cards">']
        for e in with_trap:
            meta = dot.join([html.escape(_source(e.trap, lang)),
                             f"{html.escape(t['disproved'])} {_a(e.trap_link, lang)}"])
            wrong = f'<span class="mark">✗ {html.escape(t["wrong"])}{colon}</span>'
            right = f'<span class="mark">✓ {html.escape(t["right"])}{colon}</span>'
            parts += [f'<article class="card trap" id="x-{e.id}">',
                      f'<p class="claim">{wrong}{_h(e.trap.claim[lang])}</p>',
                      f'<p class="truth">{right}{_h(e.trap.truth[lang])}</p>',
                      f'<p class="meta">{meta}</p>', "</article>"]
        parts += ["</div>", "</section>"]
    parts += ["</main>", f"<footer>{_h(t['footer'])}</footer>", "</body>", "</html>", ""]
    return "\n".join(parts)


# ---------------------------------------------------------------------------- the two-page sheet

_SHEET_TEXT = {
    "en": {
        "title": "Knowledge distillation: interview cheat sheet",
        "intro": ("Two A4 pages: the formulas, the 30-second answers to the {asked} most-asked questions, and the "
                  "{traps} traps that the seeds' own answers to these questions set. Most-asked: every question two or "
                  "more seed IDs ask, and in a topic without one, the question its seeds ask most. All {entries} "
                  "questions and {all_traps} traps are in the booklet (booklet.en.html)."),
        "formulas": "Formulas",
        "answers": "30-second answers to the most-asked questions",
        "traps": "Traps: the seeds' wrong answers to these questions",
        "footer": "Rendered from data/questions.yaml by `make cheatsheet`; do not edit by hand.",
    },
    "zh": {
        "title": "知识蒸馏面试速查表",
        "intro": ("两页 A4：公式、{asked} 道最常被问到的题的 30 秒回答，以及种子答案在这些题上设下的 {traps} 个陷阱。"
                  "“最常被问到”指被两个及以上种子题号问到的题；某个主题若没有这样的题，就取该主题里被问到最多的一道。"
                  "全部 {entries} 道题和 {all_traps} 个陷阱见小册子（booklet.zh.html）。"),
        "formulas": "公式",
        "answers": "最常被问到的题：30 秒回答",
        "traps": "陷阱：种子答案对这些题的错误说法",
        "footer": "由 `make cheatsheet` 从 data/questions.yaml 生成，请勿手工编辑。",
    },
}


def _formula_key(formula: str) -> str:
    r"""A formula with spacing, ``\mathcal{L}`` and the student's ``q_1`` normalised, to spot the same one twice."""
    key = re.sub(r"\\[,;:! ]|\s+", "", formula)
    key = re.sub(r"\\mathcal\{(\w)\}", r"\1", key)
    return key.replace("q_1", "q")


def sheet_formulas(entries) -> list:
    """The entries whose formula the sheet shows: each distinct formula once, at its first entry in topic order."""
    seen, out = set(), []
    for _, group in _ordered(entries):
        for e in group:
            if e.formula and (key := _formula_key(e.formula)) not in seen:
                seen.add(key)
                out.append(e)
    return out


def sheet_traps(entries) -> list:
    """The traps the sheet shows, in topic order: those of the questions on the sheet (a most-asked
    question or a formula) whose wrong claim comes from a seed's own answer, not from common belief."""
    shown = {e.id for e in bank.most_asked(list(entries))} | {e.id for e in entries if e.formula}
    return [e for _, group in _ordered(entries) for e in group
            if e.id in shown and e.trap and e.trap.source != "common"]


def _sheet_parts(entries, lang: str):
    _check_lang(lang)
    entries = list(entries)
    asked = {e.id for e in bank.most_asked(entries)}
    answers = [e for _, group in _ordered(entries) for e in group if e.id in asked]
    t = _SHEET_TEXT[lang]
    intro = t["intro"].format(asked=len(answers), traps=len(sheet_traps(entries)), entries=len(entries),
                              all_traps=sum(1 for e in entries if e.trap))
    return t, intro, sheet_formulas(entries), answers, sheet_traps(entries)


def _booklet_link(text: str, lang: str, kind: str) -> str:
    """The booklet's file name in the intro, made a link to the booklet of the same kind beside the sheet."""
    name = f"booklet.{lang}.html"
    target = f"booklet.{lang}.{kind}"
    link = f'<a href="{target}">{target}</a>' if kind == "html" else f"[{target}]({target})"
    return text.replace(name, link, 1)


def render_sheet_markdown(entries, lang: str = "en") -> str:
    """The two-page cheat sheet in one language as GitHub Markdown."""
    t, intro, formulas, answers, traps = _sheet_parts(entries, lang)
    lines = [f"# {t['title']}", "", _booklet_link(_md(intro), lang, "md"), "", f"## {t['formulas']}", ""]
    for e in formulas:
        lines += [f"**{_md(e.question[lang])}** {_md_link(e.link, lang)}", "", "$$", e.formula.strip(), "$$", ""]
    lines += [f"## {t['answers']}", ""]
    for e in answers:
        lines += [f"**{_md(e.question[lang])}** {_md_link(e.link, lang)}\\", f"{_md(e.short[lang])}", ""]
    lines += [f"## {t['traps']}", ""]
    for e in traps:
        lines += [f"**{e.trap.source}** ✗ {_md(e.trap.claim[lang])}\\",
                  f"✓ {_md(e.trap.truth[lang])} {_md_link(e.trap_link, lang)}", ""]
    lines += ["---", "", t["footer"], ""]
    return "\n".join(lines)


_SHEET_CSS = """
:root { --ink: #1d232b; --muted: #58626e; --accent: #2f5d8a; --card: #f3f6f9; --wrong: #a8322b; --right: #23683d; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 80rem; padding: 1rem 1.2rem; font-family: FONTS; font-size: 14px;
       line-height: 1.35; color: var(--ink); background: #fff; }
h1 { font-size: 1.45em; margin: 0 0 .15rem; }
.lede { margin: 0 0 .3rem; color: var(--muted); }
h2 { font-size: 1.1em; margin: .55rem 0 .3rem; padding-bottom: .05rem; border-bottom: 1.5px solid var(--accent);
     color: var(--accent); break-after: avoid; page-break-after: avoid; }
p { margin: 0; }
a { color: var(--accent); text-decoration: none; }
code { font-family: "DejaVu Sans Mono", "Noto Sans Mono CJK SC", Menlo, Consolas, monospace; font-size: .92em;
       overflow-wrap: anywhere; }
.f { background: var(--card); padding: .1rem .3rem; margin: 0 0 .2rem; border-radius: 3px; break-inside: avoid;
     page-break-inside: avoid; }
.f .q { color: var(--muted); }
.math { text-align: center; }
svg.formula { max-width: 100%; height: auto; vertical-align: middle; }
.flow { columns: 3; column-gap: .9rem; }
.item { break-inside: avoid; page-break-inside: avoid; margin: 0 0 .3rem; }
.item .q { font-weight: 700; }
.src { font-weight: 700; color: var(--muted); }
.x { color: var(--wrong); font-weight: 700; }
.ok { color: var(--right); font-weight: 700; }
.sec { white-space: nowrap; font-weight: 600; }
footer { margin-top: .4rem; color: var(--muted); font-size: .95em; }
@media print {
  @page { size: A4; margin: 6mm; }
  body { max-width: none; padding: 0; font-size: SIZEpt; line-height: 1.18;
         -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; }
  .sec { color: var(--accent); }
}
"""


def render_sheet_html(entries, lang: str = "en", size: float | None = None) -> str:
    """The cheat sheet in one language as one self-contained HTML page that prints on two A4 pages.

    ``size`` is the printed font size in points (default: :data:`SHEET_PT` for the language).
    """
    t, intro, formulas, answers, traps = _sheet_parts(entries, lang)
    size = SHEET_PT[lang] if size is None else size
    fonts = _FONTS_EN if lang == "en" else _FONTS_ZH
    css = _SHEET_CSS.replace("FONTS", fonts).replace("SIZE", f"{size:g}")
    parts = ["<!DOCTYPE html>", f'<html lang="{"en" if lang == "en" else "zh-CN"}">', "<head>",
             '<meta charset="utf-8">', '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(t['title'])}</title>", f"<style>{css}</style>", "</head>", "<body>",
             "<header>", f"<h1>{html.escape(t['title'])}</h1>", f'<p class="lede">{_booklet_link(_h(intro), lang, "html")}</p>', "</header>",
             "<main>", '<section id="formulas">', f"<h2>{html.escape(t['formulas'])}</h2>", '<div class="flow formulas">']
    for e in formulas:
        parts += [f'<div class="f" id="f-{e.id}">', f'<p class="q">{_h(e.question[lang])} {_a(e.link, lang)}</p>',
                  f'<div class="math">{formula_svg(e.formula, prefix=f"f-{e.id}", size=10.0, display=False)}</div>',
                  "</div>"]
    parts += ["</div>", "</section>", '<section id="answers">', f"<h2>{html.escape(t['answers'])}</h2>",
              '<div class="flow">']
    for e in answers:
        parts += [f'<div class="item" id="q-{e.id}">', f'<p><span class="q">{_h(e.question[lang])}</span> '
                  f'<span class="sec">{_a(e.link, lang)}</span></p>', f"<p>{_h(e.short[lang])}</p>", "</div>"]
    parts += ["</div>", "</section>", '<section id="traps">', f"<h2>{html.escape(t['traps'])}</h2>",
              '<div class="flow">']
    for e in traps:
        parts += [f'<div class="item" id="x-{e.id}">',
                  f'<p><span class="src">{html.escape(e.trap.source)}</span> <span class="x">✗</span> '
                  f"{_h(e.trap.claim[lang])}</p>",
                  f'<p><span class="ok">✓</span> {_h(e.trap.truth[lang])} <span class="sec">{_a(e.trap_link, lang)}'
                  "</span></p>", "</div>"]
    parts += ["</div>", "</section>", "</main>", f"<footer>{_h(t['footer'])}</footer>", "</body>", "</html>", ""]
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------- files


def render(entries=None) -> dict[str, str]:
    """File name -> text for all eight files, the sheets then the booklets (``entries=None``: the bank)."""
    entries = bank.load() if entries is None else list(entries)
    return {"cheatsheet.en.md": render_sheet_markdown(entries, "en"), "cheatsheet.zh.md": render_sheet_markdown(entries, "zh"),
            "cheatsheet.en.html": render_sheet_html(entries, "en"), "cheatsheet.zh.html": render_sheet_html(entries, "zh"),
            "booklet.en.md": render_markdown(entries, "en"), "booklet.zh.md": render_markdown(entries, "zh"),
            "booklet.en.html": render_html(entries, "en"), "booklet.zh.html": render_html(entries, "zh")}


def write(entries=None, folder=None) -> list[Path]:
    """Render the eight files into ``folder`` (default :data:`FOLDER`; ``entries=None``: the bank)."""
    folder = Path(FOLDER if folder is None else folder)
    return [atomic_write_text(folder / name, text) for name, text in render(entries).items()]


def stale(entries=None, folder=None) -> list[Path]:
    """The files in ``folder`` (default :data:`FOLDER`) that are missing or differ from a fresh render."""
    folder = Path(FOLDER if folder is None else folder)
    out = []
    for name, text in render(entries).items():
        path = folder / name
        if not path.exists() or path.read_bytes() != text.encode("utf-8"):
            out.append(path)
    return out


def _shown(path: Path) -> str:
    return str(path.relative_to(bank.ROOT) if path.is_relative_to(bank.ROOT) else path)


def main(argv=None) -> int:
    """``python -m kdnb.cheatsheet [--out DIR] [--check]``: render the sheets and booklets, or check them."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m kdnb.cheatsheet",
        description="Render the two-page cheat sheets and the booklets (English and Chinese, Markdown and HTML) "
                    "from data/questions.yaml.")
    parser.add_argument("--out", metavar="DIR", type=Path, default=None,
                        help=f"the folder to write to, or to check with --check (default: {_shown(FOLDER)})")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a file in the folder is missing or differs from a fresh render")
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as stop:  # --help (0) or a bad option (2): argparse has printed the message
        return int(stop.code or 0)
    folder = FOLDER if args.out is None else args.out
    entries = bank.load()
    if args.check:
        old = stale(entries, folder)
        for path in old:
            print(f"stale: {_shown(path)}")
        if old:
            print("the cheat sheet does not match data/questions.yaml: "
                  "run `make cheatsheet` (python -m kdnb.cheatsheet)")
            return 1
        print(f"cheat sheet up to date ({len(FILES)} files, {len(entries)} entries)")
        return 0
    for path in write(entries, folder):
        print(f"wrote {_shown(path)}")
    print(f"{len(entries)} entries in {len(_ordered(entries))} topics: "
          f"{sum(1 for e in entries if e.formula)} formulas, {len(bank.traps(entries))} traps; the sheet shows "
          f"{len(sheet_formulas(entries))} distinct formulas, {len(bank.most_asked(entries))} answers and "
          f"{len(sheet_traps(entries))} traps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
