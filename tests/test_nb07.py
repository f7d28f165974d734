"""Notebook 07's widgets, driven the way a reader drives them: clicks and values."""

import html
import json
import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import solution_cells
from kdnb import bank
from kdnb import nb07_interview_drill as nb
from kdnb.temperature import entropy, soft_targets


@pytest.fixture(scope="module")
def entries():
    return bank.load()


# ------------------------------------------------------------------------------------ flashcards

def test_flashcards_reveal_then_mark(entries):
    cards = nb.Flashcards(entries, seed=0)
    assert cards.progress()["cards"] == len(entries) == cards.progress()["left"]
    assert cards.knew_button.disabled and not cards.reveal_button.disabled
    q = cards.current
    assert bank.inline_html(q.question["en"]) in cards.card.value and bank.inline_html(q.short["en"]) not in cards.card.value
    cards.reveal_button.click()
    assert bank.inline_html(q.short["en"]) in cards.card.value and bank.inline_html(q.short["zh"]) in cards.card.value
    assert not cards.knew_button.disabled and cards.reveal_button.disabled
    cards.knew_button.click()
    assert cards.current is not q and cards.progress()["known"] == 1 and q.id not in cards.queue


def test_review_again_brings_a_card_back_then_retires_it_after_two_successes(entries):
    cards = nb.Flashcards(entries, topic="temperature", seed=3, gap=3)
    first = cards.current.id
    cards.reveal_button.click()
    cards.again_button.click()
    assert cards.queue.index(first) == 3 and cards.progress()["to review"] == 1
    positions, expected = [], []
    for _ in range(2):
        while cards.current.id != first:
            cards.reveal()
            cards.mark(True)
        expected.append(min(6, len(cards.queue) - 1))
        cards.reveal()
        cards.mark(True)
        positions.append(cards.queue.index(first) if first in cards.queue else None)
    assert positions == [expected[0], None]
    assert cards.stats[first] == {"seen": 3, "knew": 2, "again": 1, "streak": 2, "done": True}


def test_filters_and_language_toggle(entries):
    cards = nb.Flashcards(entries, seed=0)
    cards.topic.value = "compression"
    assert {entries_by_id(entries)[i].topic for i in cards.queue} == {"compression"}
    cards.difficulty.value = 3
    assert all(entries_by_id(entries)[i].difficulty == 3 for i in cards.queue)
    cards.topic.value, cards.difficulty.value = "all", "all"
    cards.lang.value = "English"
    e = cards.current
    en, zh = bank.inline_html(e.question["en"]), bank.inline_html(e.question["zh"])
    assert en in cards.card.value and zh not in cards.card.value
    cards.lang.value = "中文"
    assert zh in cards.card.value and en not in cards.card.value


def entries_by_id(entries):
    return {e.id: e for e in entries}


def test_an_exhausted_selection_says_so(entries):
    cards = nb.Flashcards(entries, topic="code", seed=0)
    while cards.current is not None:
        cards.reveal()
        cards.mark(True)
    assert "are known" in cards.card.value and cards.reveal_button.disabled


def test_progress_saves_atomically_and_loads_back(entries, tmp_path):
    cards = nb.Flashcards(entries, topic="labels", seed=0)
    cards.reveal(); cards.mark(False)
    cards.reveal(); cards.mark(True)
    cards.path.value = str(tmp_path / "p.json")
    cards.save_button.click()
    assert "saved" in cards.message.value and [p.name for p in tmp_path.iterdir()] == ["p.json"]
    other = nb.Flashcards(entries, seed=5)
    other.path.value = str(tmp_path / "p.json")
    other.load_button.click()
    assert other.queue == cards.queue and other.stats == cards.stats and other.topic.value == "labels"
    assert other.current.id == cards.current.id


def test_loading_a_bad_file_names_the_problem(entries, tmp_path):
    cards = nb.Flashcards(entries, seed=0)
    (tmp_path / "bad.json").write_text("{not json")
    cards.path.value = str(tmp_path / "bad.json")
    cards.load_button.click()
    assert "not a flashcards progress file" in cards.message.value
    (tmp_path / "other.json").write_text(json.dumps({"a": 1}))
    with pytest.raises(ValueError, match="not a flashcards progress file"):
        cards.load(tmp_path / "other.json")
    with pytest.raises(FileNotFoundError, match="save one first"):
        cards.load(tmp_path / "missing.json")
    with pytest.raises(ValueError, match=r"\.json file"):
        cards.save(tmp_path / "progress.txt")
    state = cards.state()
    (tmp_path / "topic.json").write_text(json.dumps({**state, "topic": "astrology"}))
    with pytest.raises(ValueError, match="topic or level this bank does not have"):
        cards.load(tmp_path / "topic.json")
    state["stats"]["no-such-card"] = {"seen": 1, "knew": 1, "again": 0, "streak": 1, "done": True}
    (tmp_path / "old.json").write_text(json.dumps(state))
    cards.load(tmp_path / "old.json")
    assert "1 card(s) no longer in the bank were dropped" in cards.message.value


# ------------------------------------------------------------------------------------------ quiz

def test_every_generator_computes_an_answer_that_checks(entries):
    items = nb.make_quiz(len(nb.GENERATORS) * 3, seed=11)
    assert {i.id for i in items} == {g(__import__("random").Random(0)).id for g in nb.GENERATORS}
    for item in items:
        assert item.is_right(item.answer)
        item.link.heading()  # points at a real section
        if item.options is not None:
            assert item.answer in item.options
            assert not any(item.is_right(o) for o in item.options if o != item.answer)


def _prompt_number(prompt: str, before: str, after: str) -> float:
    return float(prompt.split(before, 1)[1].split(after, 1)[0])


def _prompt_logits(prompt: str) -> torch.Tensor:
    return torch.tensor([[float(v) for v in prompt.split("[", 1)[1].split("]", 1)[0].split(",")]])


def independent_answer(item):
    """The answer recomputed from the prompt alone, without the generator's code; None where that is impossible."""
    en = item.prompt["en"]
    if item.id == "entropy":
        p = F.softmax(_prompt_logits(en) / _prompt_number(en, "at T = ", "?"), -1)
        return -(p * p.log2()).sum().item()
    if item.id == "t-squared":
        return _prompt_number(en, "At T = ", ",") ** 2
    if item.id == "batchmean":
        return _prompt_number(en, " over ", " classes")
    if item.id == "seed-weights":
        return 1 - 1 / _prompt_number(en, "T = ", ",")
    if item.id == "top2":
        z = _prompt_logits(en).flatten().sort(descending=True).values
        return math.exp((z[0] - z[1]).item() / _prompt_number(en, "At T = ", ","))
    if item.id == "pruned-copies":
        pruned = 2 if "bias" in en else 1
        return float(2 + (pruned if "before prune.remove" in en else 0))
    if item.id == "alpha":
        return {"plain cross-entropy": "0", "only the soft term": "1", "weighted equally": "0.5"}[
            next(k for k in ("plain cross-entropy", "only the soft term", "weighted equally") if k in en)]
    if item.id == "ce-minus-kl":
        ask = en.split("classes, ", 1)[1].split(" equals", 1)[0]
        return {"CE(p, q) − KL(p ‖ q)": "H(p), the teacher's entropy", "CE(p, q) − H(p)": "KL(p ‖ q)",
                "H(p) + KL(p ‖ q)": "CE(p, q)"}[ask]
    if item.id == "one-hot":
        ts = sorted(item.options, key=float)
        return ts[0] if "one-hot" in en.split("softmax(z / T)", 1)[1] else ts[-1]
    if item.id == "l1-l2":
        return 0.0 if "single weights" in en else None
    raise AssertionError(f"no independent computation for {item.id}")


def test_quiz_answers_match_an_independent_computation():
    items = nb.make_quiz(len(nb.GENERATORS) * 12, seed=5)
    structured = 0
    for item in items:
        expected = independent_answer(item)
        if expected is None:  # structured L1 against L2: whole rows swap in and out of the mask
            cols = int(item.prompt["en"].split("×", 1)[1].split(" ", 1)[0])
            assert item.answer % (2 * cols) == 0, item.prompt["en"]
            structured += item.answer > 0
        elif isinstance(expected, str):
            assert item.answer == expected, item.prompt["en"]
        else:
            assert item.answer == pytest.approx(expected, rel=1e-4, abs=1e-9), item.prompt["en"]
    assert structured > 0  # ranking rows by L1 and by L2 norms does change some masks


def test_every_generator_draws_different_answers():
    """The prose says each question is drawn at random: no generator has a fixed answer."""
    for g in nb.GENERATORS:
        answers = {str(g(random.Random(s)).answer)[:6] for s in range(25)}
        assert len(answers) >= 3, (g.__name__, answers)


def _wrong_numbers(a: float) -> list:
    step = 0.05 * max(abs(a), 1.0)
    return [a + step, a - step, -abs(a) - 1, a * 10 + 7, "", None, "twelve", True, float("nan"), float("inf"),
            torch.tensor([a, a]), [a], str(a + 2 * step), 1j]


def _right_numbers(a: float) -> list:
    return [a, np.float32(a), np.float64(a), torch.tensor(a), torch.tensor([a]), f"{a:.6g}", f" {a} "]


@pytest.mark.parametrize("gen", nb.GENERATORS, ids=lambda g: g.__name__)
def test_each_quiz_checker_battery(gen):
    """Per generator, over seeds: >= 5 wrong answers rejected, >= 3 right formulations accepted."""
    for seed in range(6):
        item = gen(random.Random(seed))
        if item.options is None:
            wrong, right = _wrong_numbers(item.answer), _right_numbers(item.answer)
        else:
            others = [o for o in item.options if o != item.answer]
            wrong = others + [None, "", f"{item.answer}x", True, float("nan"), [item.answer], item.answer.upper() + "?"]
            right = [item.answer, f"  {item.answer} ", np.str_(item.answer)]
            if nb._number(item.answer) is not None:
                right += [float(item.answer), np.float32(float(item.answer)), torch.tensor(float(item.answer))]
        assert len(wrong) >= 5 + (len(item.options) - 1 if item.options else 0) and len(right) >= 3
        for w in wrong:
            assert not item.is_right(w), (item.prompt["en"], w)
        for r in right:
            assert item.is_right(r), (item.prompt["en"], r)


def test_quiz_widget_scores_and_explains():
    quiz = nb.Quiz(n=4, seed=2, lang="English")
    first = quiz.current
    assert quiz.answer(first.answer) is True and "✓ right" in quiz.feedback.value
    assert "1 of 1 right" in quiz.score.value
    quiz.next_button.click()
    second = quiz.current
    wrong = (second.options[0] if second.options[0] != second.answer else second.options[1]) if second.options else \
        second.answer * 3 + 7
    assert quiz.answer(wrong) is False and "not quite" in quiz.feedback.value and second.shown_answer() in quiz.feedback.value
    assert quiz.answer(second.answer) is True and quiz.results == [True, False]  # only the first check counts
    quiz.next()
    quiz.next()  # skipped counts as wrong
    quiz.next()
    assert quiz.current is None and "Done: 1 of 4 right" in quiz.prompt.value and quiz.check_button.disabled


def test_quiz_rejects_a_nan_and_a_missing_choice():
    quiz = nb.Quiz(n=10, seed=0)
    num = next(i for i in quiz.items if i.options is None)
    assert not num.is_right(float("nan")) and not num.is_right("twelve")
    while quiz.current.options is None:
        quiz.next()
    assert quiz.answer(None) is False and "choose an option" in quiz.feedback.value
    with pytest.raises(ValueError, match="at least one question"):
        nb.make_quiz(0)


# ------------------------------------------------------------------------------- mock interview

def _replay(entries, scores, step=40, seconds=90, n=None):
    ticks = iter(range(0, 10**6, step))
    mock = nb.MockInterview(entries, n=n or len(scores), seconds=seconds, seed=1, clock=lambda: next(ticks))
    mock.start_button.click()
    for s in scores:
        mock.show_button.click()
        next(b for b in mock.rate_buttons if nb.SCORES[b.description] == s).click()
    return mock


def test_mock_interview_asks_across_topics_and_times_each_answer(entries):
    mock = _replay(entries, [2] * 8)
    topics = [a.entry.topic for a in mock.asked]
    assert len(set(topics)) == 8  # one per topic before any topic repeats
    assert all(a.seconds == 40 for a in mock.asked)
    assert mock.current is None and "Score 100%" in mock.report.value


def test_mock_interview_summary_names_weak_topics_with_links(entries):
    mock = _replay(entries, [0, 2, 1, 2, 2, 2, 2, 2], step=100)
    table = mock.summary()
    weak = table[table["weak"]]
    assert set(weak["topic"]) == {bank.TOPICS[mock.asked[i].entry.topic][0] for i in (0, 2)}
    assert (table["over time"] == 1).all()  # 100 s against a 90 s budget
    summary = mock.summary_html()
    assert html.escape(mock.asked[0].entry.link.href()) in summary and "weak: revise" in summary


def test_mock_interview_validates_its_settings(entries):
    with pytest.raises(ValueError, match="n is between 1 and"):
        nb.MockInterview(entries, n=0)
    with pytest.raises(ValueError, match="seconds is the time per question"):
        nb.MockInterview(entries, seconds=0)
    mock = _replay(entries, [], n=3)
    with pytest.raises(ValueError, match="score is one of"):
        mock.rate(5)


# ------------------------------------------------------------------------------- trap gallery

def test_trap_gallery_shows_every_trap_with_its_link(entries):
    traps = bank.traps(entries)
    table = nb.trap_table(entries)
    assert len(table) == len(traps) and (table["verdict"] == "wrong").all()
    gallery = nb.trap_gallery(entries)
    for e in traps:
        assert bank.inline_html(e.trap.claim["zh"]) in gallery and bank.inline_html(e.trap.truth["en"]) in gallery
        assert html.escape(e.trap_link.href()) in gallery
    only = nb.trap_gallery(entries, topic="compression")
    assert only.count("<tr>") - 1 == sum(e.topic == "compression" for e in traps)


def test_summary_tables(entries):
    summary = nb.bank_summary(entries)
    assert summary.iloc[-1]["entries"] == len(entries)
    assert summary.iloc[-1]["traps"] == len(bank.traps(entries))
    assert "$$" in nb.formula_sheet(entries)
    assert len(nb.references(entries)) >= 10
    asked = bank.most_asked(entries)
    table = nb.most_asked(entries)
    assert table.count("<tr>") == 1 + len(asked) and {e.topic for e in asked} == set(bank.TOPICS)
    assert all(bank.inline_html(e.short["zh"]) in table for e in asked)


# ------------------------------------------------------------------------------------- exercise

ENTROPY_Z = torch.tensor([[3.0, 1.0, 0.2, -1.0]])


def test_entropy_checker_accepts_the_solution_and_names_mistakes():
    ns = {"nb": nb, "torch": torch, "entropy": entropy, "soft_targets": soft_targets}
    exec(solution_cells("07_interview_drill.ipynb")["3.1"], ns)
    z = ENTROPY_Z
    assert "entropy at T = 1" in nb.check_entropy_at_T(entropy(soft_targets(z, 1.0)).item(), ).message
    assert "nats" in nb.check_entropy_at_T(entropy(soft_targets(z, 4.0), base=math.e).item()).message
    assert "divided the probabilities" in nb.check_entropy_at_T(entropy(torch.softmax(z, -1) / 4).item()).message
    assert "not the entropy" in nb.check_entropy_at_T(1.5).message
    assert nb.check_entropy_at_T(...).status == "todo"


def test_entropy_checker_battery(capsys):
    """Beyond the named mistakes, >= 5 wrong answers are rejected and >= 3 right formulations accepted."""
    p = F.softmax(ENTROPY_Z / 4, -1)
    right = -(p * p.log2()).sum()
    wrong = [entropy(soft_targets(ENTROPY_Z, 2.0)).item(),          # T = 2
             entropy(soft_targets(ENTROPY_Z, 8.0)).item(),          # T = 8
             math.log2(4),                                          # the uniform limit
             -right.item(),                                         # the sign dropped
             -(p * p.log10()).sum().item(),                         # log base 10
             entropy(soft_targets(ENTROPY_Z, 0.25)).item(),         # multiplied by T
             right.item() + 0.01,                                   # off in the second decimal
             torch.tensor([right.item()] * 2),                      # more than one number
             "1.9", True, float("nan"), None]
    for w in wrong:
        assert nb.check_entropy_at_T(w).status == "wrong", w
    right_ways = [right.item(), right, right.reshape(1), np.float32(right.item()), np.float64(right.item()),
                  round(right.item(), 3),
                  -sum(q * math.log2(q) for q in p.flatten().tolist()),
                  entropy(soft_targets(ENTROPY_Z, 4.0))]
    for r in right_ways:
        assert nb.check_entropy_at_T(r).status == "correct", r
    out = capsys.readouterr().out
    assert f"{right.item():.3g}" not in out and f"{right.item():.2f}" not in out  # the value itself is never printed


BAD_STATES = {
    "lang": ({"lang": "fr"}, "lang 'fr'"),
    "stats as a list": ({"stats": [1, 2]}, "stats as a list"),
    "non-dict stats value": ({"stats": {"why-t-squared": 3}}, "stats for 'why-t-squared'"),
    "stats with a string count": ({"stats": {"why-t-squared": {"seen": "1", "knew": 0, "again": 0, "streak": 0,
                                                              "done": False}}}, "whole counts"),
    "nested queue": ({"queue": [["why-t-squared"]]}, "queue"),
    "queue as a string": ({"queue": "why-t-squared"}, "queue"),
    "duplicated queue": ({"queue": ["why-t-squared", "why-t-squared"]}, "more than once"),
    "gap as text": ({"gap": "3"}, "gap '3'"),
    "gap zero": ({"gap": 0}, "gap 0"),
    "gap a bool": ({"gap": True}, "gap True"),
    "version": ({"version": 2}, "version 2"),
}


@pytest.mark.parametrize("case", BAD_STATES)
def test_loading_wrong_types_changes_nothing_and_says_why(entries, tmp_path, case):
    source = nb.Flashcards(entries, topic="temperature", seed=0)
    source.reveal(); source.mark(False)
    good = source.state()
    change, words = BAD_STATES[case]
    (tmp_path / "bad.json").write_text(json.dumps({**good, **change}), encoding="utf-8")
    cards = nb.Flashcards(entries, topic="labels", seed=4, gap=2, lang="English")
    cards.reveal(); cards.mark(True)
    before = (cards.state(), cards.revealed, cards.card.value, cards.status.value)
    with pytest.raises(ValueError, match="not a usable flashcards progress file") as err:
        cards.load(tmp_path / "bad.json")
    assert words in str(err.value) and "Nothing was loaded" in str(err.value)
    assert (cards.state(), cards.revealed, cards.card.value, cards.status.value) == before
    cards.path.value = str(tmp_path / "bad.json")
    cards.load_button.click()  # the button shows the error in the widget
    assert "✗" in cards.message.value and html.escape(words) in cards.message.value
    assert cards.state() == before[0]


def test_loading_restores_the_gap_and_keeps_the_queue_to_the_filter(entries, tmp_path):
    cards = nb.Flashcards(entries, topic="temperature", seed=0, gap=5)
    cards.reveal(); cards.mark(False)
    state = cards.state()
    cards.save(tmp_path / "p.json")
    other = nb.Flashcards(entries, seed=1, gap=2)
    other.load(tmp_path / "p.json")
    assert other.gap == 5 and other.queue == cards.queue
    shown = other.current.id
    other.reveal(); other.mark(False)  # a miss comes back gap = 5 cards later, as before saving
    assert len(other.queue) > 6 and other.queue.index(shown) == 5
    # a hand-edited file: a card of another topic, and one already known, in the queue
    outsider = next(e.id for e in entries if e.topic == "compression")
    known = next(e.id for e in entries if e.topic == "temperature" and e.id not in state["queue"][:1])
    state["stats"][known] = {"seen": 1, "knew": 1, "again": 0, "streak": 1, "done": True}
    state["queue"] = state["queue"] + [outsider]
    (tmp_path / "edited.json").write_text(json.dumps(state), encoding="utf-8")
    other.load(tmp_path / "edited.json")
    deck = set(other.deck())
    assert outsider not in other.queue and known not in other.queue and set(other.queue) <= deck
    assert len(other.queue) == len(set(other.queue))
    assert "outside this topic and level were left out" in other.message.value


def test_the_chinese_mode_translates_the_whole_interface(entries):
    cards = nb.Flashcards(entries, seed=0, lang="中文")
    common = next(e for e in entries if e.trap and e.trap.source == "common")
    cards.queue.remove(common.id)
    cards.queue.insert(0, common.id)
    cards.reveal()
    english = ["reveal", "knew it", "review again", "save", "load", "progress file", "topic", "level", "known",
               "in the queue", "beyond the seeds", "(common)", "30-second answer", "What holds", "See:",
               bank.TOPICS[common.topic][0], bank.DIFFICULTY[common.difficulty][0]]
    shown = " ".join([cards.card.value.split("<details>")[0], cards.status.value]
                     + [w.description for w in (cards.reveal_button, cards.knew_button, cards.again_button,
                                                cards.save_button, cards.load_button, cards.path, cards.topic,
                                                cards.difficulty)])
    for word in english:
        assert word not in shown, word
    for word in ("显示答案", "会了", "再复习", "保存", "读取", "进度文件", "常见误解", "已掌握",
                 bank.TOPICS[common.topic][1], bank.DIFFICULTY[common.difficulty][1]):
        assert word in shown, word
    beyond = next(e for e in entries if not e.seeds)
    assert "扩展题" in nb.card_html(beyond, "中文") and "beyond the seeds" not in nb.card_html(beyond, "中文")
    cards.lang.value = "English"
    assert cards.reveal_button.description == "reveal the answer" and "(common)" in cards.card.value


def test_an_empty_number_box_is_no_answer():
    quiz = nb.Quiz(n=10, seed=0, lang="English")
    while quiz.current.options is not None:
        quiz.next()
    item = quiz.current
    assert quiz.number.value == ""  # the box starts empty, not at 0
    scored = len(quiz.results)
    assert quiz._value() == "" and quiz.answer(quiz._value()) is False
    assert "type a number first" in quiz.feedback.value and len(quiz.results) == scored
    quiz.number.value = item.shown_answer()
    quiz.check_button.click()
    assert quiz.results[-1] is True
    l1 = next(i for s in range(40) for i in [nb.q_l1_l2(random.Random(s))] if i.answer > 0)
    assert not l1.is_right(0) and not l1.is_right("")


def test_start_does_not_silently_restart_a_running_interview(entries):
    ticks = iter(range(0, 10**6, 10))
    mock = nb.MockInterview(entries, n=4, seed=2, clock=lambda: next(ticks))
    mock.start_button.click()
    mock.show_button.click()
    mock.rate(2)
    asked = [a.entry.id for a in mock.asked]
    mock.start_button.click()  # first press: a warning, nothing changes
    assert "An interview is running" in mock.report.value and "question 2 of 4" in mock.report.value
    assert [a.entry.id for a in mock.asked] == asked and mock.position == 1
    mock.show_button.click()  # answering on withdraws the request
    assert mock.report.value == ""
    mock.start_button.click()
    assert mock.position == 1
    mock.start_button.click()  # pressed twice: a new interview
    assert mock.position == 0 and all(a.score is None for a in mock.asked) and mock.report.value == ""
    finished = _replay(entries, [2, 2], n=2)
    assert finished.start() is True  # after the last question, start needs no confirmation
