"""The question bank's schema test: complete, covering, linked, distinct, and in the standard terms."""

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from kdnb import bank

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def entries():
    return bank.read(bank.BANK)


def test_the_shipped_bank_has_no_problems(entries):
    found = bank.problems(entries)
    assert not found, "\n".join(found)
    assert len(bank.load()) == len(entries)


def test_at_least_80_entries_and_every_seed_id(entries):
    assert len(entries) >= 80
    covered = {s for e in entries for s in e.seeds}
    assert covered == set(bank.SEED_IDS)
    assert len(bank.SEED_IDS) == 61


def test_every_entry_is_complete_in_both_languages(entries):
    for e in entries:
        for field in ("question", "short"):
            assert e.text(field, "en").strip() and re.search(r"[\u4e00-\u9fff]", e.text(field, "zh")), (e.id, field)
        assert len(e.long.split()) >= 25, e.id
        if e.trap:
            for part in (e.trap.claim, e.trap.truth):
                assert part["en"].strip() and re.search(r"[\u4e00-\u9fff]", part["zh"]), e.id


@pytest.mark.parametrize("needle", [
    "T²", "high T", "batchmean", "label smoothing|label-smoothed", "assistant", "self-distillation", "DistilBERT",
    "structured", "int8", "fail|not help", "never saw|missing|left out",
])
def test_the_questions_beyond_the_seeds_are_there(entries, needle):
    beyond = [e.question["en"] for e in entries if not e.seeds] + [e.question["en"] for e in entries]
    assert any(re.search(needle, q, re.IGNORECASE) for q in beyond), f"no question about {needle!r}"
    assert sum(not e.seeds for e in entries) >= 20


def test_the_seeds_code_bugs_have_entries(entries):
    code = [e for e in entries if e.topic == "code"]
    assert len(code) >= 4
    assert {"000-4", "001-5", "004-1", "002-S4"} <= {s for e in code for s in e.seeds}


def test_every_link_points_to_an_existing_heading(entries):
    heads = bank.headings()
    for e in entries:
        for link in (e.link, e.trap_link):
            assert link.heading() in heads[link.notebook], (e.id, link)
            href = link.href()
            assert href.startswith(f"{link.notebook}.ipynb#") and " " not in href


def test_anchor_is_jupyterlab_heading_id():
    assert bank.anchor("5.1 `KLDivLoss`, six ways (001-5)") == "5.1-KLDivLoss,-six-ways-(001-5)"


def test_link_labels():
    assert bank.Link("03_temperature", "4").label == "03 §4"
    assert bank.Link("04_distillation_losses", "5.1").label == "04 §5.1"
    assert bank.Link("06_pruning_and_compression", "Check yourself 4.1").label == "06 Check yourself 4.1"


def test_traps_name_a_source(entries):
    traps = bank.traps(entries)
    assert len(traps) >= 30
    sources = {e.trap.source for e in traps}
    assert "common" in sources and len(sources - {"common"}) >= 15


def test_seed_index_lists_every_seed_id(entries):
    index = bank.seed_index(entries)
    assert set(index["seed ID"]) == set(bank.SEED_IDS)
    assert index["answered in"].str.match(r"^0[0-8] ").all()


# --------------------------------------------------------------- the checks catch what they claim to

def _base(entries) -> bank.Entry:
    return next(e for e in entries if e.id == "why-t-squared")


def test_problems_catches_a_duplicate_question(entries):
    e = _base(entries)
    twin = replace(e, id="why-t-squared-again")
    found = bank.problems([e, twin], require_coverage=False)
    assert any("ask the same question" in p for p in found)
    near = replace(e, id="near", question={"en": "Why is the soft loss multiplied by T² in distillation?", "zh": "软标签损失乘 T² 的原因？"})
    assert any("near-duplicate" in p for p in bank.problems([e, near], require_coverage=False))


def test_problems_catches_a_broken_link_and_a_link_that_names_no_seed(entries):
    e = _base(entries)
    bad = replace(e, link=bank.Link("03_temperature", "42"))
    assert any("has no section '42'" in p for p in bank.problems([bad], require_coverage=False))
    gone = replace(e, link=bank.Link("99_nothing", "1"))
    assert any("no notebook 99_nothing" in p for p in bank.problems([gone], require_coverage=False))
    wrong_seed = replace(e, seeds=("004-4",), link=bank.Link("03_temperature", "4"))
    assert any("names none of ['004-4']" in p for p in bank.problems([wrong_seed], require_coverage=False))


def test_problems_catches_nonstandard_terms_and_missing_chinese(entries):
    e = _base(entries)
    soft_targets = replace(e, short={"en": e.short["en"], "zh": "学生模型学习教师模型的软目标。"})
    assert any("write 软标签 instead of 软目标" in p for p in bank.problems([soft_targets], require_coverage=False))
    english = replace(e, question={"en": e.question["en"], "zh": "Why T squared?"})
    assert any("question.zh has no Chinese" in p for p in bank.problems([english], require_coverage=False))


def test_problems_catches_coverage_and_formulas(entries):
    e = _base(entries)
    found = bank.problems([replace(e, formula=r"\frac{1}{")], require_coverage=True)
    assert any("seed IDs no entry covers" in p for p in found)
    assert any("formula does not parse" in p for p in found)


def _write(tmp_path, entries_raw) -> Path:
    import yaml

    path = tmp_path / "bank.yaml"
    path.write_text(yaml.safe_dump(entries_raw, allow_unicode=True), encoding="utf-8")
    return path


RAW = {"id": "demo", "seeds": ["003-12"], "topic": "temperature", "difficulty": 1,
       "question": {"en": "What does T do?", "zh": "温度做什么？"},
       "short": {"en": "It divides the logits.", "zh": "它除以 logits。"},
       "long": " ".join(["T divides the logits inside the softmax."] * 6),
       "link": {"notebook": "03_temperature", "section": "2"}}


@pytest.mark.parametrize("change, message", [
    ({"question": {"en": "What does T do?"}}, "needs exactly the keys en and zh"),
    ({"short": {"en": "x", "zh": "  "}}, "'short.zh' is empty"),
    ({"topic": "misc"}, "topic 'misc' is not one of"),
    ({"difficulty": 5}, "difficulty is 1, 2 or 3"),
    ({"seeds": ["003-99"]}, "seeds is a list of seed IDs"),
    ({"id": "Bad Id"}, "id is a lower-case slug"),
    ({"long": "too short"}, "'long' is the English long answer"),
    ({"colour": "red"}, "unknown field(s) ['colour']"),
    ({"cite": "Hinton et al."}, "cite names the year"),
    ({"trap": {"source": "somewhere", "claim": {"en": "a", "zh": "甲"}, "truth": {"en": "b", "zh": "乙"}}},
     "trap.source is the seed ID"),
])
def test_read_names_the_field_and_the_fix(tmp_path, change, message):
    with pytest.raises(bank.BankError, match=re.escape(message)):
        bank.read(_write(tmp_path, [{**RAW, **change}]))


def test_read_rejects_a_file_that_is_not_a_bank(tmp_path):
    path = tmp_path / "bank.yaml"
    path.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(bank.BankError, match="not valid YAML"):
        bank.read(path)
    with pytest.raises(bank.BankError, match="no question bank at"):
        bank.read(tmp_path / "missing.yaml")
    assert bank.read(_write(tmp_path, [RAW]))[0].link.heading().startswith("2 · ")


def test_notebooks_use_the_standard_chinese_terms():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text = "".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"])
        assert bank.nonstandard_in(text) == [], f"{path.name}: (variant, term to write) {bank.nonstandard_in(text)}"


def test_inline_html_escapes_and_renders_code():
    assert bank.inline_html("use `F.kl_div(a, b)` & <b>") == "use <code>F.kl_div(a, b)</code> &amp; &lt;b&gt;"
    assert bank.inline_html("reduction='mean'") == "reduction='mean'"


def test_load_rereads_an_edited_file(tmp_path):
    import yaml

    path = tmp_path / "bank.yaml"
    raw = yaml.safe_load(bank.BANK.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert len(bank.load(path)) == len(raw)
    path.write_text(yaml.safe_dump(raw + [RAW], allow_unicode=True), encoding="utf-8")
    assert len(bank.load(path)) == len(raw) + 1  # the edit is seen, not a cached copy
    with pytest.raises(bank.BankError, match="no question bank at"):
        bank.load(tmp_path / "missing.yaml")
