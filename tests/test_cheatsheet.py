"""The cheat sheet: complete, in the right language, self-contained, escaped, stable, and fresh.

Most tests render three small entries built here (one with a formula and a trap, one with code
names and a trap whose link points elsewhere, one whose text tries to inject HTML). The last ones
render the real bank and compare it with the committed files in ``data/cheatsheet/``.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import subprocess
import sys
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from kdnb import bank, cheatsheet, mathsvg
from kdnb.bank import Entry, Link, Trap

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
LONG = ("A long answer in English, long enough for the schema: it explains the idea, gives the formula where it "
        "helps, and closes by saying what the linked notebook section shows, as every entry of the bank does.")

ENTRIES = [
    Entry("why-t-squared", (), "temperature", 2,
          {"en": "Why is the soft loss multiplied by T²?", "zh": "为什么软标签损失要乘以 T²？"},
          {"en": "Softening by T shrinks the soft term's gradients by roughly 1/T²; multiplying by T² restores "
                 "their scale, so changing T does not silently reweight the soft term.",
           "zh": "用温度 T 软化后，软标签损失的梯度大约缩小为 1/T²；乘以 T² 把梯度拉回原来的量级，"
                 "调节温度时不会悄悄改变两项损失的权重。"},
          LONG, Link("03_temperature", "4"),
          Trap("common", {"en": "T² makes the loss value comparable across temperatures.",
                          "zh": "乘以 T² 是为了让不同温度下的损失数值可比。"},
               {"en": "It restores the gradient scale; training sees gradients, not the loss value.",
                "zh": "它恢复的是梯度的量级；训练看到的是梯度，而不是损失的数值。"}, None),
          r"\nabla_{z_i}\, T^2\,\mathrm{KL}(p_T \Vert q_T) = T\,(q_{T,i} - p_{T,i})",
          "Hinton, Vinyals & Dean 2015, Distilling the Knowledge in a Neural Network"),
    Entry("kl-batchmean", ("001-5",), "losses", 2,
          {"en": "Why pass `reduction='batchmean'` to `F.kl_div`?",
           "zh": "为什么 `F.kl_div` 要用 `reduction='batchmean'`？"},
          {"en": "`'mean'` divides the summed KL by N·C instead of N, so the soft term comes out C times too small.",
           "zh": "`'mean'` 把 KL 的总和除以 N·C 而不是 N，软标签项因此小了 C 倍。"},
          LONG, Link("04_distillation_losses", "5.1"),
          Trap("001-5", {"en": "`nn.KLDivLoss()(q, p)` with its defaults computes KL(p ‖ q) per example.",
                         "zh": "默认参数的 `nn.KLDivLoss()(q, p)` 计算的就是每个样本的 KL(p ‖ q)。"},
               {"en": "It expects log-probabilities and averages over all N·C elements.",
                "zh": "它要求输入是对数概率，并对全部 N·C 个元素取平均。"},
               Link("04_distillation_losses", "Spot the bug 7.2")),
          r"\mathrm{KL}(p \Vert q) = \sum_i p_i\,(\log p_i - \log q_i)", None),
    Entry("escaped-text", (), "basics", 1,
          {"en": "Does <script>alert('x')</script> stay text?",
           "zh": "<script>alert('x')</script> 会保持为文本吗？"},
          {"en": "Yes: 1 < 2 & <b>bold</b> and *stars* are shown as typed.",
           "zh": "会：1 < 2 & <b>bold</b> 和 *星号* 都按原样显示。"},
          LONG, Link("01_what_is_distillation", "2"), None, None, None),
]
FORMULAS = [e.formula for e in ENTRIES if e.formula]


def fields(entry: Entry, lang: str) -> list[str]:
    """The texts of ``entry`` in ``lang`` that the sheet must show."""
    out = [entry.question[lang], entry.short[lang]]
    if entry.trap:
        out += [entry.trap.claim[lang], entry.trap.truth[lang]]
    return out


class Page(HTMLParser):
    """Collects the visible text, the ids, the links, and every tag that does not close in order."""

    VOID = frozenset({"meta", "link", "br", "img", "hr", "input", "path", "use"})

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.text, self.ids, self.hrefs, self.tags = [], [], [], [], [], []
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"never closed: {self.stack}")

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "a" and "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        if "id" in dict(attrs):
            self.ids.append(dict(attrs)["id"])

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        if not {"style", "svg", "title"} & set(self.stack):
            self.text.append(data)

    @property
    def visible(self) -> str:
        return squash("".join(self.text))


def squash(text: str) -> str:
    """Whitespace collapsed; none at all between Chinese characters (a line fold in YAML adds one)."""
    text = " ".join(text.split())
    return re.sub(r"(?<=[\u3000-\u9fff\uff00-\uffef]) (?=[\u3000-\u9fff\uff00-\uffef])", "", text)


def unmarkdown(text: str) -> str:
    """Markdown's escapes undone: what a reader of the rendered Markdown sees, code marks kept."""
    return squash(html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)))


def plain(text: str) -> str:
    """A bank text as the HTML shows it: code marks dropped."""
    return squash(text.replace("`", ""))


def check_complete(entries, lang: str) -> None:
    md, page_text = cheatsheet.render_markdown(entries, lang), cheatsheet.render_html(entries, lang)
    shown_md, shown_html = unmarkdown(md), Page(page_text).visible
    for e in entries:
        for text in fields(e, lang):
            assert squash(text) in shown_md, f"{e.id}: the {lang} Markdown misses {text!r}"
            assert plain(text) in shown_html, f"{e.id}: the {lang} HTML misses {text!r}"
        if e.formula:
            assert f"$$\n{e.formula.strip()}\n$$" in md, f"{e.id}: the {lang} Markdown misses its formula"
            assert f'aria-label="{html.escape(e.formula.strip())}"' in page_text, f"{e.id}: no SVG for its formula"
        assert cheatsheet.section_label(e.link, lang) in shown_html
        if e.trap:
            assert cheatsheet.section_label(e.trap_link, lang) in shown_html


# ------------------------------------------------------------------------------- sample entries


def test_the_sample_entries_are_valid_bank_entries():
    assert bank.problems(ENTRIES, require_coverage=False) == []


@pytest.mark.parametrize("lang", bank.LANGUAGES)
def test_every_answer_trap_and_formula_is_on_the_sheet(lang):
    check_complete(ENTRIES, lang)


def test_each_sheet_speaks_its_own_language():
    for text in (cheatsheet.render_markdown(ENTRIES, "en"), cheatsheet.render_html(ENTRIES, "en")):
        assert not CJK.findall(text), f"the English sheet contains Chinese: {sorted(set(CJK.findall(text)))}"
    for text in (cheatsheet.render_markdown(ENTRIES, "zh"), Page(cheatsheet.render_html(ENTRIES, "zh")).visible):
        text = unmarkdown(text)
        for word in ("公式", "30 秒回答", "面试陷阱", "错误说法", "正确说法", "题号",
                     bank.TOPICS["temperature"][1]):
            assert word in text
        for e in ENTRIES:
            assert squash(e.question["zh"]) in text or plain(e.question["zh"]) in text
            for english in fields(e, "en"):
                assert plain(english) not in text and squash(english) not in text
        for english in ("Formulas", "30-second answers", "Wrong", "Seeds", bank.TOPICS["temperature"][0]):
            assert english not in text
    assert '<html lang="en">' in cheatsheet.render_html(ENTRIES, "en")
    assert '<html lang="zh-CN">' in cheatsheet.render_html(ENTRIES, "zh")


def test_section_labels_in_chinese_translate_the_activity_names():
    assert cheatsheet.section_label(Link("03_temperature", "4"), "zh") == "03 §4"
    assert cheatsheet.section_label(Link("05_distillation_in_practice", "Check yourself 4.1"), "zh") == "05 自测 4.1"
    assert cheatsheet.section_label(Link("04_distillation_losses", "Spot the bug 7.2"), "zh") == "04 找出错误 7.2"
    assert cheatsheet.section_label(Link("02_soft_vs_hard_labels", "Try it 2.1"), "zh") == "02 动手试试 2.1"
    assert cheatsheet.section_label(Link("02_soft_vs_hard_labels", "A label-smoothed teacher"), "zh") == "02 §5"
    assert cheatsheet.section_label(Link("02_soft_vs_hard_labels", "A label-smoothed teacher"), "en") == \
        "02 A label-smoothed teacher"


@pytest.mark.parametrize("lang", bank.LANGUAGES)
def test_formulas_are_inline_svg_in_html_and_display_maths_in_markdown(lang):
    page_text = cheatsheet.render_html(ENTRIES, lang)
    page = Page(page_text)
    assert page.tags.count("svg") == len(FORMULAS)
    assert len(page.ids) == len(set(page.ids)), "two elements share an id (the formulas' glyph ids must not clash)"
    for tag in ("script", "link", "img", "iframe"):
        assert tag not in page.tags, f"the page should be self-contained, without <{tag}>"
    assert not re.search(r"""(?:src|href)=["']?https?:|@import|url\(\s*["']?https?:""", page_text)
    assert "<?xml" not in page_text and "<!DOCTYPE svg" not in page_text and "<metadata>" not in page_text
    md = cheatsheet.render_markdown(ENTRIES, lang)
    assert md.count("$$\n") == 2 * len(FORMULAS)


def test_formula_svg_is_sized_like_text_and_ids_are_prefixed():
    def height(svg: str) -> float:
        return float(re.search(r'height="([\d.]+)pt"', svg).group(1))

    assert 10 <= height(cheatsheet.formula_svg(r"\alpha\,T^2")) <= 20      # a line of 13 pt maths
    svg = cheatsheet.formula_svg(r"p_i = \frac{\exp(z_i/T)}{\sum_j \exp(z_j/T)}", prefix="demo")
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert 30 <= height(svg) <= 60                                        # a fraction drawn in display style
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert ids and all(i.startswith("demo-") for i in ids)
    refs = re.findall(r'href="#([^"]+)"', svg)
    assert refs and set(refs) <= set(ids)


def test_rendering_is_byte_identical_and_independent_of_the_callers_style():
    import matplotlib

    first = cheatsheet.render(ENTRIES)
    mathsvg._svg.cache_clear()
    before = dict(matplotlib.rcParams)
    with matplotlib.rc_context({"mathtext.fontset": "stix", "svg.fonttype": "none", "text.color": "red",
                                "svg.hashsalt": None, "font.size": 20}):
        again = cheatsheet.render(ENTRIES)
    assert again == first
    assert {k: str(v) for k, v in matplotlib.rcParams.items()} == {k: str(v) for k, v in before.items()}
    assert cheatsheet.render(ENTRIES) == first


def test_rendering_is_byte_identical_in_another_process():
    code = ("import sys, hashlib; sys.path.insert(0, 'tests'); import test_cheatsheet as t; "
            "from kdnb import cheatsheet; "
            "print(hashlib.sha256(''.join(cheatsheet.render(t.ENTRIES).values()).encode()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                         check=False)
    assert out.returncode == 0, out.stderr
    here = hashlib.sha256("".join(cheatsheet.render(ENTRIES).values()).encode()).hexdigest()
    assert out.stdout.strip() == here


@pytest.mark.parametrize("lang", bank.LANGUAGES)
def test_html_is_well_formed_and_text_is_escaped(lang):
    text = cheatsheet.render_html(ENTRIES, lang)
    page = Page(text)
    assert page.errors == []
    assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text
    for tag in ("html", "head", "body", "header", "main", "footer", "style", "title"):
        opened = text.count(f"<{tag}>") + text.count(f"<{tag} ")
        assert opened == text.count(f"</{tag}>") == 1, tag
    assert "<script" not in text and "<b>bold</b>" not in text
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in text
    assert "1 &lt; 2 &amp; &lt;b&gt;bold&lt;/b&gt;" in text
    assert "<code>F.kl_div</code>" in text
    md = cheatsheet.render_markdown(ENTRIES, lang)
    assert "<script" not in md and "<b>" not in md
    assert "&lt;script>" in md and r"\*" in md


def test_print_styles_keep_text_legible_and_entries_whole():
    text = cheatsheet.render_html(ENTRIES, "zh")
    css = re.search(r"<style>(.*?)</style>", text, re.DOTALL).group(1)
    for font in ("Noto Sans CJK SC", "Noto Serif CJK SC", "PingFang SC", "Microsoft YaHei"):
        assert f'"{font}"' in css
    assert "break-inside: avoid" in css
    print_css = css[css.index("@media print"):]
    assert "size: A4" in print_css
    sizes = dict(re.findall(r"(--fs-[\w-]+):\s*([\d.]+)pt", print_css))
    assert sizes and all(float(v) >= 10 for v in sizes.values()), sizes
    assert set(sizes) == set(re.findall(r"(--fs-[\w-]+):", css[:css.index("@media print")]))
    declared = re.findall(r"font-size:\s*([^;}]+)", css)
    assert all(v.strip().startswith("var(--fs-") or (v.strip().endswith("em") and float(v.strip()[:-2]) >= .9)
               for v in declared), declared


@pytest.mark.parametrize("lang", bank.LANGUAGES)
def test_footer_says_the_file_is_generated(lang):
    footer = {"en": "Rendered from data/questions.yaml by `make cheatsheet`; do not edit by hand.",
              "zh": "由 `make cheatsheet` 从 data/questions.yaml 生成，请勿手工编辑。"}[lang]
    assert footer in cheatsheet.render_markdown(ENTRIES, lang)
    assert plain(footer) in Page(cheatsheet.render_html(ENTRIES, lang)).visible


@pytest.mark.parametrize("lang", bank.LANGUAGES)
def test_links_point_at_existing_notebook_sections(lang):
    md = cheatsheet.render_markdown(ENTRIES, lang)
    md_links = (re.findall(r"\]\(<(\.\./\.\./notebooks/[^>]+)>\)", md)
                + re.findall(r"\]\((\.\./\.\./notebooks/[^)\s<]+)\)", md))
    html_links = [h for h in Page(cheatsheet.render_html(ENTRIES, lang)).hrefs if not h.startswith("#")]
    assert len(md_links) >= len(ENTRIES) and len(html_links) >= len(ENTRIES)
    assert len(md_links) == len(html_links)
    for href in md_links + html_links:
        assert href.startswith(cheatsheet.NOTEBOOK_PREFIX), href
        file, _, fragment = href[len(cheatsheet.NOTEBOOK_PREFIX):].partition("#")
        assert (ROOT / "notebooks" / file).exists(), href
        assert file.startswith("zh/") == (lang == "zh"), href  # each sheet links to its own edition
        folder, _, stem = file.removesuffix(".ipynb").rpartition("/")
        assert unquote(fragment) in {bank.anchor(h) for h in bank.headings(ROOT / "notebooks" / folder)[stem]}, href
    # from data/cheatsheet/, the prefix leads to the notebooks folder
    assert (cheatsheet.FOLDER / cheatsheet.NOTEBOOK_PREFIX).resolve() == (ROOT / "notebooks").resolve()


def test_write_renders_eight_files_and_stale_names_a_changed_one(tmp_path):
    paths = cheatsheet.write(ENTRIES, tmp_path)
    assert [p.name for p in paths] == list(cheatsheet.FILES)
    assert cheatsheet.stale(ENTRIES, tmp_path) == []
    for path in paths:
        path.read_text(encoding="utf-8")
    changed = tmp_path / "cheatsheet.zh.html"
    changed.write_text(changed.read_text(encoding="utf-8").replace("公式", "公式表"), encoding="utf-8")
    (tmp_path / "cheatsheet.en.md").unlink()
    assert cheatsheet.stale(ENTRIES, tmp_path) == [tmp_path / "cheatsheet.en.md", changed]


def test_main_writes_and_check_fails_on_a_stale_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cheatsheet, "FOLDER", tmp_path)
    monkeypatch.setattr(bank, "load", lambda path=None: list(ENTRIES))
    assert cheatsheet.main([]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in cheatsheet.FILES) and "3 entries" in out
    assert cheatsheet.main(["--check"]) == 0
    (tmp_path / "cheatsheet.en.html").write_text("edited by hand", encoding="utf-8")
    assert cheatsheet.main(["--check"]) == 1
    assert "cheatsheet.en.html" in capsys.readouterr().out
    assert cheatsheet.main(["--bogus"]) == 2


# ------------------------------------------------------------------------------------ the bank


def real_bank() -> list[Entry]:
    if not bank.BANK.exists():
        pytest.skip("data/questions.yaml is not written yet")
    return bank.load()


@pytest.mark.parametrize("lang", bank.LANGUAGES)
def test_the_real_bank_is_all_on_the_sheet(lang):
    entries = real_bank()
    check_complete(entries, lang)
    if lang == "en":
        for text in (cheatsheet.render_markdown(entries, "en"), cheatsheet.render_html(entries, "en")):
            assert not CJK.findall(text), sorted(set(CJK.findall(text)))
    page = Page(cheatsheet.render_html(entries, lang))
    assert page.errors == []
    assert page.tags.count("svg") == sum(1 for e in entries if e.formula)
    assert len(page.ids) == len(set(page.ids))


def test_the_committed_cheat_sheet_matches_the_bank():
    entries = real_bank()
    missing = [name for name in cheatsheet.FILES if not (cheatsheet.FOLDER / name).exists()]
    if len(missing) == len(cheatsheet.FILES):
        pytest.skip("data/cheatsheet/ is not rendered yet")
    old = cheatsheet.stale(entries)
    assert not old, (f"{[p.name for p in old]} differ from data/questions.yaml (or were edited by hand): "
                     "run `make cheatsheet` (python -m kdnb.cheatsheet)")


# --------------------------------------------------------------------------- the two-page sheet


def test_cli_has_help_and_an_output_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bank, "load", lambda path=None: list(ENTRIES))
    assert cheatsheet.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: python -m kdnb.cheatsheet" in out and "--out DIR" in out and "--check" in out
    assert cheatsheet.main(["--out", str(tmp_path / "sheets")]) == 0
    assert sorted(p.name for p in (tmp_path / "sheets").iterdir()) == sorted(cheatsheet.FILES)
    assert cheatsheet.main(["--out", str(tmp_path / "sheets"), "--check"]) == 0
    assert cheatsheet.main(["--out", str(tmp_path / "elsewhere"), "--check"]) == 1
    assert cheatsheet.main(["--bogus"]) == 2
    code = subprocess.run([sys.executable, "-m", "kdnb.cheatsheet", "--help"], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert code.returncode == 0 and "--out DIR" in code.stdout


def test_most_asked_is_a_computed_rule():
    seed = lambda i, seeds, topic: replace(ENTRIES[2], id=i, seeds=seeds, topic=topic)  # noqa: E731
    entries = [seed("a", ("003-1",), "basics"), seed("b", ("003-2", "003-3"), "basics"),
               seed("c", ("003-4",), "losses"), seed("d", ("003-5",), "losses"), seed("e", (), "code"),
               seed("f", ("003-6", "003-7", "003-8"), "code")]
    # two or more seed IDs: b and f; losses has none, so its first entry answering the most: c
    assert [e.id for e in bank.most_asked(entries)] == ["b", "c", "f"]
    assert bank.most_asked([seed("g", (), "basics")]) == []


@pytest.mark.parametrize("lang", bank.LANGUAGES)
def test_the_sheet_holds_formulas_most_asked_answers_and_the_seeds_traps(lang):
    entries = real_bank()
    page_text = cheatsheet.render_sheet_html(entries, lang)
    page, md = Page(page_text), unmarkdown(cheatsheet.render_sheet_markdown(entries, lang))
    assert page.errors == [] and len(page.ids) == len(set(page.ids))
    formulas = cheatsheet.sheet_formulas(entries)
    keys = {cheatsheet._formula_key(e.formula) for e in entries if e.formula}
    assert len(formulas) == len(keys) < sum(1 for e in entries if e.formula)  # every formula once, duplicates once
    assert page.tags.count("svg") == len(formulas)
    asked = bank.most_asked(entries)
    assert {e.id for e in entries if len(e.seeds) >= 2} <= {e.id for e in asked}
    assert {e.topic for e in asked} == set(bank.TOPICS)
    for e in asked:
        for text in (e.question[lang], e.short[lang]):
            assert plain(text) in page.visible and squash(text) in md, e.id
    traps = cheatsheet.sheet_traps(entries)
    shown = {e.id for e in asked} | {e.id for e in formulas} | {e.id for e in entries if e.formula}
    assert traps and all(e.trap.source != "common" and e.id in shown for e in traps)
    for e in traps:
        for text in (e.trap.claim[lang], e.trap.truth[lang]):
            assert plain(text) in page.visible and squash(text) in md, e.id
    booklet = f"booklet.{lang}.html"
    assert f'href="{booklet}"' in page_text and (cheatsheet.FOLDER / booklet).exists()
    if lang == "en":
        assert not CJK.findall(page_text) and not CJK.findall(cheatsheet.render_sheet_markdown(entries, "en"))
    # what the sheet leaves out, the booklet has
    left_out = [e for e in entries if e not in asked]
    assert left_out and all(plain(e.short[lang]) not in page.visible for e in left_out[:10])


def test_the_sheet_prints_small_but_not_tiny():
    for lang in bank.LANGUAGES:
        css = re.search(r"<style>(.*?)</style>", cheatsheet.render_sheet_html(ENTRIES, lang), re.DOTALL).group(1)
        print_css = css[css.index("@media print"):]
        assert "size: A4" in print_css and "break-inside: avoid" in css
        size = float(re.search(r"font-size:\s*([\d.]+)pt", print_css).group(1))
        assert size == cheatsheet.SHEET_PT[lang] and size >= 7.5
        others = [v.strip() for v in re.findall(r"font-size:\s*([^;}]+)", css.replace(f"font-size: {size:g}pt", ""))]
        assert all(v == "14px" or (v.endswith("em") and float(v[:-2]) >= .9) for v in others), others
