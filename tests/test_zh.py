"""The Chinese edition stays in step with the English one.

* every English markdown cell has a translation, made from the English as it is now (its hash);
* each Chinese notebook's code is its English twin's, and the notebook is what the build makes;
* kdnb's catalog has a Chinese entry for every message, with the same placeholders;
* no chapter, catalog entry or bank answer uses a rejected variant of a glossary term;
* the shipped font holds every character drawn, and no figure warns of a missing glyph;
* a translation keeps the English's maths, code and numbers, and its links resolve.
"""

from __future__ import annotations

import ast
import io
import json
import re
import warnings
from pathlib import Path

import pytest
import yaml

from kdnb import bank, cloud, fonts, i18n, zh

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = zh.notebooks()
GLOSSARY = bank.glossary()


def _nb(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# ---- the notebooks -------------------------------------------------------------------------

def test_every_numbered_notebook_has_a_chinese_twin():
    assert ENGLISH, "no English notebooks found"
    assert sorted(p.name for p in zh.ZH.glob("*.ipynb")) == [p.name for p in ENGLISH]


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem[:2])
def test_every_markdown_cell_is_translated_from_the_current_english(english):
    assert zh._cell_problems(_nb(english), zh.load(english)) == []


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem[:2])
def test_chinese_code_cells_are_their_english_twins(english):
    assert zh.code_differences(_nb(english), _nb(zh.ZH / english.name)) == []


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem[:2])
def test_chinese_notebook_is_what_the_build_makes(english):
    assert zh.problems(english) == []


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem[:2])
def test_chinese_notebook_has_its_own_colab_and_binder_links(english):
    title = "".join(_nb(zh.ZH / english.name)["cells"][0]["source"])
    assert cloud.BADGE_LINE.findall(title) == [cloud.badges("zh/" + english.name, "zh")]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A one-notebook edition in a temporary folder: an English notebook, its translation, its twin."""
    notebooks, translations = tmp_path / "notebooks", tmp_path / "data" / "zh"
    (notebooks / "zh").mkdir(parents=True)
    translations.mkdir(parents=True)
    monkeypatch.setattr(zh, "NOTEBOOKS", notebooks)
    monkeypatch.setattr(zh, "ZH", notebooks / "zh")
    monkeypatch.setattr(zh, "TRANSLATIONS", translations)
    cells = [{"cell_type": "markdown", "id": "m0", "metadata": {}, "source": ["# 99 · Title\n", "\n", "Some prose."]},
             {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": None, "outputs": [],
              "source": ["print(1 + 1)"]},
             {"cell_type": "markdown", "id": "m2", "metadata": {}, "source": ["## 2 · More\n", "Text $T^2$."]}]
    english = notebooks / "99_sandbox.ipynb"
    english.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    zh.stub(english)
    data = yaml.safe_load(zh.translation_path(english).read_text(encoding="utf-8"))
    data["cells"]["m0"]["zh"] = "# 99 · 标题\n\n一些文字。"
    data["cells"]["m2"]["zh"] = "## 2 · 更多\n文字 $T^2$。"
    zh.translation_path(english).write_text(yaml.safe_dump(data, allow_unicode=True))
    zh.write(english)
    return english


def test_sandbox_edition_is_in_step(sandbox):
    assert zh.problems(sandbox) == []


def test_a_new_english_cell_without_translation_is_named(sandbox):
    nb = _nb(sandbox)
    nb["cells"].append({"cell_type": "markdown", "id": "m3", "metadata": {}, "source": ["A new cell."]})
    sandbox.write_text(json.dumps(nb))
    assert zh.problems(sandbox) == ["markdown cell m3 has no Chinese translation"]


def test_an_edited_english_cell_is_named_stale(sandbox):
    nb = _nb(sandbox)
    nb["cells"][2]["source"] = ["## 2 · More\n", "Text $T^2$, edited."]
    sandbox.write_text(json.dumps(nb))
    [problem] = zh.problems(sandbox)
    assert problem.startswith("markdown cell m2 changed in English since it was translated")
    # stub marks it and keeps the old Chinese for the translator; the build still refuses it
    zh.stub(sandbox)
    entry = zh.load(sandbox)["m2"]
    assert entry["todo"] and entry["zh"] == "## 2 · 更多\n文字 $T^2$。"
    with pytest.raises(ValueError, match="m2 is marked todo"):
        zh.build(sandbox)


def test_a_chinese_code_cell_that_differs_is_named(sandbox):
    twin = zh.ZH / sandbox.name
    nb = _nb(twin)
    nb["cells"][1]["source"] = ["print(1 + 2)"]
    twin.write_text(json.dumps(nb))
    assert zh.code_differences(_nb(sandbox), nb) == ["code cell c1 differs from its English twin"]
    assert zh.problems(sandbox) == [f"notebooks/zh/{sandbox.name} is stale against the build (make zh)"]


def test_an_english_code_edit_makes_the_chinese_notebook_stale(sandbox):
    nb = _nb(sandbox)
    nb["cells"][1]["source"] = ["print(2 + 2)"]
    sandbox.write_text(json.dumps(nb))
    assert zh.problems(sandbox) == [f"notebooks/zh/{sandbox.name} is stale against the build (make zh)"]
    zh.write(sandbox)
    assert zh.problems(sandbox) == []


def test_a_missing_twin_is_named(sandbox):
    (zh.ZH / sandbox.name).unlink()
    assert zh.problems(sandbox) == [f"notebooks/zh/{sandbox.name} does not exist (make zh)"]


# ---- what a translation must keep ----------------------------------------------------------

_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.S)
_CODE = re.compile(r"`[^`\n]+`")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _numbers(text: str) -> set[str]:
    """The numbers written outside the maths of ``text``, without thousands separators."""
    return {n.replace(",", "") for n in _NUMBER.findall(_MATH.sub(" ", text))}


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem[:2])
def test_translations_keep_the_maths_code_and_numbers(english):
    problems = []
    for key, entry in zh.load(english).items():
        en, cn = entry["en"], entry.get("zh") or ""
        for pattern, what in ((_MATH, "maths"), (_CODE, "code")):
            lost = sorted(set(pattern.findall(en)) - set(pattern.findall(cn)))
            if lost:
                problems.append(f"{key}: {what} {lost[:3]} missing from the Chinese")
        lost, added = sorted(_numbers(en) - _numbers(cn)), sorted(_numbers(cn) - _numbers(en))
        if lost:
            problems.append(f"{key}: numbers {lost[:5]} missing from the Chinese")
        if added:
            problems.append(f"{key}: numbers {added[:5]} are not in the English")
    assert problems == []


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem[:2])
def test_links_in_chinese_notebooks_resolve(english):
    twin = zh.ZH / english.name
    broken = []
    for cell in _nb(twin)["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for target in _LINK.findall("".join(cell["source"])):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (twin.parent / target.split("#")[0]).resolve()
            if not path.exists():
                broken.append(f"{cell['id']}: {target}")
    assert broken == []


# ---- the glossary --------------------------------------------------------------------------

def _rejected(text: str) -> list[str]:
    """Rejected variants in ``text``, ignoring those that only occur inside an accepted term."""
    return sorted({bad for bad, _good in bank.nonstandard_in(text)})


def test_glossary_is_well_formed():
    raw = yaml.safe_load(bank.GLOSSARY.read_text(encoding="utf-8"))["terms"]
    assert [set(term) - {"drill"} for term in raw] == [{"en", "zh", "reject"}] * len(raw)
    seen = set()
    for term in GLOSSARY:
        assert term["en"] not in seen, f"{term['en']} is listed twice"
        seen.add(term["en"])
        assert term["zh"] not in term["reject"], term
    assert {"知识蒸馏", "教师模型", "学生模型", "软标签", "硬标签", "温度", "交叉熵", "KL散度", "标签平滑", "剪枝", "量化",
            "迁移集", "暗知识"} <= {t["zh"] for t in GLOSSARY}


def test_the_glossary_check_catches_a_variant():
    assert _rejected("教师模型把柔性标签交给学生模型") == ["柔性标签"]
    assert _rejected("超参数和软标签") == []


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem[:2])
def test_no_chapter_uses_a_rejected_term(english):
    found = {key: _rejected(entry.get("zh") or "") for key, entry in zh.load(english).items()}
    assert {k: v for k, v in found.items() if v} == {}


def test_catalog_and_bank_use_no_rejected_term():
    found = {m.id: _rejected(m.string) for m in i18n.read_po() if isinstance(m.string, str) and m.string}
    assert {k: v for k, v in found.items() if v} == {}
    bank = (ROOT / "data" / "questions.yaml").read_text(encoding="utf-8")
    assert _rejected(bank) == []


# ---- the catalog ---------------------------------------------------------------------------

def test_every_message_has_a_chinese_entry():
    have = {m.id: m.string for m in i18n.read_po() if m.id}
    ids = [m.id for m in i18n.extract() if m.id]
    assert len(ids) > 500, "far fewer messages than the workbook shows: is extraction broken?"
    missing = [m for m in ids if not have.get(m) or (isinstance(have[m], tuple) and not all(have[m]))]
    assert missing == [], f"{len(missing)} messages without Chinese (python -m kdnb.i18n missing)"


def test_no_entry_is_fuzzy_or_obsolete():
    catalog = i18n.read_po()
    assert [m.id for m in catalog if m.fuzzy and m.id] == []
    assert not catalog.obsolete


def test_translations_keep_their_placeholders():
    bad = [(m.id, m.string) for m in i18n.read_po() if isinstance(m.id, str) and m.string
           and i18n.placeholders(m.id) != i18n.placeholders(m.string)]
    assert bad == []


def test_compiled_catalog_matches_its_source():
    from babel.messages.mofile import write_mo

    buf = io.BytesIO()
    write_mo(buf, i18n.read_po())
    assert buf.getvalue() == i18n.PO.with_suffix(".mo").read_bytes(), "run python -m kdnb.i18n update"


def test_chinese_strings_are_chinese_and_english_stays_the_default(monkeypatch, tmp_path):
    monkeypatch.delenv("KDNB_LANG", raising=False)
    monkeypatch.chdir(tmp_path)
    i18n.set_language(None)
    entry = next(m for m in i18n.read_po() if isinstance(m.id, str) and m.id and m.string and "{" not in m.id)
    assert i18n.language() == "en" and i18n._(entry.id) == entry.id
    try:
        i18n.set_language("zh")
        assert i18n._(entry.id) == entry.string and re.search(r"[\u4e00-\u9fff]", entry.string)
    finally:
        i18n.set_language(None)


def test_language_follows_env_then_folder(monkeypatch, tmp_path):
    i18n.set_language(None)
    monkeypatch.delenv("KDNB_LANG", raising=False)
    (tmp_path / "notebooks" / "zh").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks" / "zh")
    assert i18n.language() == "zh"
    monkeypatch.setenv("KDNB_LANG", "en")
    assert i18n.language() == "en"
    monkeypatch.setenv("KDNB_LANG", "zh_CN")
    assert i18n.language() == "zh"
    monkeypatch.setenv("KDNB_LANG", "fr")
    with pytest.raises(ValueError, match="KDNB_LANG: unknown language 'fr'"):
        i18n.language()
    with pytest.raises(ValueError, match="set_language: unknown language 'de'"):
        i18n.set_language("de")


# ---- user-facing text goes through the catalog ---------------------------------------------

#: Modules that are tools run from a terminal (their output is for maintainers), and the i18n machinery;
#: a room's tables.py is its table makers (``python -m kdnb.results make``), whose lines are a maintainer's log.
_TOOL_MODULES = {"bench", "bench_loops", "nbtools", "cheatsheet", "cloud", "zh", "i18n", "fonts", "_io", "mathsvg"}
_SHOWN_CALLS = {"set_title", "set_xlabel", "set_ylabel", "suptitle", "set_text", "HTML", "Markdown", "Label",
                "Button", "ToggleButton", "Checkbox"}
_SHOWN_KEYWORDS = {"label", "description", "title", "tooltip", "placeholder"}
_WORDS = re.compile(r"[A-Za-z]{3,}\s+[A-Za-z]{2,}")


def _bare_text(node) -> bool:
    """A literal (or f-string) with English words in it, not wrapped in _()."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(_WORDS.search(re.sub(r"<[^>]+>", " ", node.value)))
    if isinstance(node, ast.JoinedStr):
        text = " ".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        return bool(_WORDS.search(re.sub(r"<[^>]+>", " ", text)))
    return False


def _shown_literals(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and (fn.name == "main" or fn.name.startswith("_cli")):
            skip.update(id(n) for n in ast.walk(fn))
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or id(node) in skip:
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        args = list(node.args) if name in _SHOWN_CALLS or name == "print" else []
        args += [k.value for k in node.keywords if k.arg in _SHOWN_KEYWORDS]
        out += [f"{path.relative_to(root)}:{a.lineno}" for a in args if _bare_text(a)]
    return out


def test_text_that_kdnb_shows_goes_through_the_catalog():
    pkg = ROOT / "kdnb"
    paths = [p for p in sorted(pkg.rglob("*.py")) if "__pycache__" not in p.parts
             and (p.relative_to(pkg).parts[0].removesuffix(".py") not in _TOOL_MODULES) and p.name != "tables.py"]
    found = [hit for p in paths for hit in _shown_literals(p)]
    assert found == [], f"{len(found)} shown texts are not wrapped in _(): {found[:20]}"


def test_the_shown_text_check_catches_a_bare_title(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('ax.set_title("Student accuracy")\nprint(f"gain {g} points")\nw.Button(description="Train now")\n'
                   'ax.set_title(_("Student accuracy"))\nprint(f"{g:.1f}%")\n')
    hits = [h.rsplit(":", 1)[1] for h in _shown_literals(bad, root=tmp_path)]
    assert hits == ["1", "2", "3"]


# ---- the font ------------------------------------------------------------------------------

def test_font_subset_ships_with_its_licence_and_is_small():
    assert fonts.LICENSE.read_text(encoding="utf-8").count("SIL OPEN FONT LICENSE") == 1
    for path in fonts.FONTS.values():
        assert path.stat().st_size < 4_000_000, f"{path.name} is larger than a subset should be"


def test_font_subset_holds_every_character_the_workbook_uses():
    assert fonts.missing() == [], "python -m kdnb.fonts build"


def test_every_catalog_entry_draws_without_a_missing_glyph():
    """Every character of the catalog and the glossary, drawn in both weights the figures use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kdnb import plots

    plots.use_style()
    texts = [m.string for m in i18n.read_po() if isinstance(m.string, str) and m.string]
    chars = sorted({ch for t in texts + [t["zh"] for t in GLOSSARY] for ch in t if not ch.isspace() and ch != "$"})
    assert len(chars) > 500
    lines = ["".join(chars[i:i + 60]) for i in range(0, len(chars), 60)]
    fig, ax = plt.subplots()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for weight in ("normal", "bold"):
            label = ax.text(0, 0, "\n".join(lines), fontweight=weight)
            fig.canvas.draw()
            label.remove()
    plt.close(fig)


def test_the_glyph_check_fails_without_the_font():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        fig, ax = plt.subplots()
        ax.set_title("温度")
        with pytest.warns(UserWarning, match="missing from font"):
            fig.canvas.draw()
        plt.close(fig)


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem[:2])
def test_chinese_notebooks_ran_without_a_missing_glyph_or_an_error(english):
    bad = []
    for cell in _nb(zh.ZH / english.name)["cells"]:
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", [])) if out.get("output_type") == "stream" else ""
            if out.get("output_type") == "error" or "missing from font" in text or "Glyph" in text:
                bad.append(cell.get("id"))
    assert bad == []


def _output_text(nb: dict) -> str:
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            parts.append("".join(out.get("text", [])))
            for mime in ("text/plain", "text/html", "text/markdown"):
                parts.append("".join(out.get("data", {}).get(mime, [])))
    return "\n".join(parts)


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem[:2])
def test_chinese_notebooks_print_in_chinese(english):
    """The Chinese twin's kernel spoke Chinese: its outputs hold far more Chinese than the English ones
    (notebook 07's English flashcards already show both languages, hence a ratio and not a count)."""
    han = re.compile(r"[\u4e00-\u9fff]")
    en = len(han.findall(_output_text(_nb(english))))
    cn = len(han.findall(_output_text(_nb(zh.ZH / english.name))))
    assert cn >= max(50, 1.3 * en), f"{english.name}: {cn} Chinese characters in the Chinese outputs, {en} in the English"


def test_readmes_state_the_font_subset_as_shipped():
    chars, size = len(fonts.covered()), fonts.FONT.stat().st_size / 1024
    for name, pattern in (("README.md", r"([\d,]+) characters, (\d+) KiB per weight"),
                          ("README.zh.md", r"子集共 ([\d,]+) 个字符，每种字重 (\d+) KiB")):
        m = re.search(pattern, (ROOT / name).read_text(encoding="utf-8"))
        assert m, f"{name} does not state the font subset's size"
        said_chars, said_kib = int(m.group(1).replace(",", "")), int(m.group(2))
        assert abs(said_chars - chars) <= 0.05 * chars and abs(said_kib - size) <= 0.05 * size, \
            f"{name} says {said_chars} characters, {said_kib} KiB; the subset has {chars}, {size:.0f} KiB"
