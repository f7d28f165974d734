"""Notebook 07's widgets, driven the way a reader drives them: clicks and values."""

import dataclasses
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
from kdnb.nb07_interview_drill import mock as M
from kdnb.nb07_interview_drill import quiz as Q
from kdnb.nb07_interview_drill import traps as T
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
    items = nb.make_quiz(len(Q.GENERATORS) * 3, seed=11)
    assert {i.id for i in items} == {g(__import__("random").Random(0)).id for g in Q.GENERATORS}
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
    items = nb.make_quiz(len(Q.GENERATORS) * 12, seed=5)
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
    for g in Q.GENERATORS:
        answers = {str(g(random.Random(s)).answer)[:6] for s in range(25)}
        assert len(answers) >= 3, (g.__name__, answers)


def _wrong_numbers(a: float) -> list:
    step = 0.05 * max(abs(a), 1.0)
    return [a + step, a - step, -abs(a) - 1, a * 10 + 7, "", None, "twelve", True, float("nan"), float("inf"),
            torch.tensor([a, a]), [a], str(a + 2 * step), 1j]


def _right_numbers(a: float) -> list:
    return [a, np.float32(a), np.float64(a), torch.tensor(a), torch.tensor([a]), f"{a:.6g}", f" {a} "]


@pytest.mark.parametrize("gen", Q.GENERATORS, ids=lambda g: g.__name__)
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
            if Q._number(item.answer) is not None:
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
        mock.rate_button(s).click()
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
    assert (table["weak"] == (table["score"] < M.WEAK_BELOW)).all() and table["weak"].any() and not table["weak"].all()
    assert [mock.rate_button(v).description for v in M.SCORES.values()] == list(M.SCORES)  # English words on English buttons
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
    table = T.trap_table(entries)
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
    l1 = next(i for s in range(40) for i in [Q.q_l1_l2(random.Random(s))] if i.answer > 0)
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


# ------------------------------------------------------------------------------------ verdicts

def test_a_new_deck_verdicts_and_their_failures(entries):
    cards = nb.Flashcards(entries, seed=0)
    nb.flashcards_verdicts(cards, entries).require()
    cards.reveal()  # the answer is showing: "only reveal can be pressed" no longer holds
    with pytest.raises(AssertionError, match="answer hidden"):
        nb.flashcards_verdicts(cards, entries).require()
    narrow = nb.Flashcards(entries, topic="code", seed=0)
    with pytest.raises(AssertionError, match="deck holds every entry"):
        nb.flashcards_verdicts(narrow, entries).require()


def test_review_walkthrough_follows_one_card_and_round_trips(entries):
    walk = nb.review_walkthrough(entries, topic="temperature", seed=0)
    deck = sum(e.topic == "temperature" for e in entries)
    assert walk.card == nb.Flashcards(entries, topic="temperature", seed=0).current.id
    assert walk.returns == [3, 6, None, None] and walk.round_trip
    assert list(walk.steps["the card comes back as"]) == ["card 4", "card 7", "left the queue", "left the queue"]
    assert walk.steps["cards in the queue"].iloc[0] == deck  # the missed card is back in the queue
    assert walk.steps["cards known"].iloc[-1] == deck - walk.steps["cards in the queue"].iloc[-1]
    assert all(v for v in nb.review_verdicts(walk).require().values())
    for broken, words in ((dict(returns=[2, 6, None, None]), "comes back after 3"),
                          (dict(returns=[3, 3, None, None]), "longer wait of 6"),
                          (dict(returns=[3, 6, 0, None]), "leaves the queue"),
                          (dict(round_trip=False), "same queue and progress")):
        with pytest.raises(AssertionError, match=words):
            nb.review_verdicts(dataclasses.replace(walk, **broken)).require()


def test_a_new_quiz_verdicts_and_their_failures():
    quiz = nb.Quiz(n=4, seed=3, lang="both")
    nb.quiz_verdicts(quiz).require()
    quiz.answer(quiz.current.answer)
    with pytest.raises(AssertionError, match="nothing counts"):
        nb.quiz_verdicts(quiz).require()
    quiz.next()
    with pytest.raises(AssertionError, match="first question"):
        nb.quiz_verdicts(quiz).require()


def test_draws_of_every_generator_and_their_verdicts():
    drawn = nb.draw_each(seeds=5)
    assert set(drawn) == {g.__name__.removeprefix("q_") for g in Q.GENERATORS}
    assert all(len(items) == 5 for items in drawn.values())
    table = nb.distinct_answers(drawn)
    assert list(table.index) == ["different answers over 5 draws"] and table.shape == (1, len(Q.GENERATORS))
    assert (table.iloc[0] == [len({it.shown_answer() for it in drawn[k]}) for k in table.columns]).all()
    nb.generator_verdicts(nb.draw_each(seeds=12)).require()
    fixed = {**drawn, "entropy": [drawn["entropy"][0]] * 5}  # a generator that always gives the same answer
    with pytest.raises(AssertionError, match="none has a fixed answer"):
        nb.generator_verdicts(fixed).require()
    choices_only = {k: v for k, v in drawn.items() if v[0].options is not None}  # no number asked: nothing proven
    with pytest.raises(AssertionError, match="empty box is never right"):
        nb.generator_verdicts(choices_only, at_least=1).require()


def test_a_new_interview_verdicts_and_their_failures(entries):
    mock = nb.MockInterview(entries, n=3, seed=0, lang="both")
    nb.interview_verdicts(mock).require()
    mock.start()
    with pytest.raises(AssertionError, match="nothing is asked before start"):
        nb.interview_verdicts(mock).require()


def test_replayed_interview_and_its_verdicts(entries):
    scores = [2, 1, 0, 2, 2, 1, 0, 2]
    replay = nb.replay_interview(entries, scores, seed=7, step=40, press_start_at=3)
    assert [a.score for a in replay.mock.asked] == scores and all(a.seconds == 40 for a in replay.mock.asked)
    assert replay.restarted is False and replay.warned and replay.position_after == 3
    nb.replay_verdicts(replay).require()
    with pytest.raises(AssertionError, match="asks first"):
        nb.replay_verdicts(dataclasses.replace(replay, restarted=True)).require()
    with pytest.raises(AssertionError, match="stand-in clock's 30 s"):
        nb.replay_verdicts(dataclasses.replace(replay, step=30)).require()
    nine = nb.replay_interview(entries, [2] * 9, seed=7, press_start_at=3)  # 8 topics: one repeats
    with pytest.raises(AssertionError, match="one question per topic"):
        nb.replay_verdicts(nine).require()


def test_trap_sources_and_verdicts(entries):
    traps = bank.traps(entries)
    table = nb.trap_sources(entries)
    seeded = [e.trap.source for e in traps if e.trap.source != "common"]
    assert table.loc["all", "traps"] == len(traps) == table.loc["a seed answer", "traps"] + table.loc["common folklore", "traps"]
    assert table.loc["a seed answer", "seed IDs named"] == len(set(seeded)) and set(seeded) <= set(bank.SEED_IDS)
    nb.trap_verdicts(entries).require()
    bad = dataclasses.replace(traps[0], trap=dataclasses.replace(traps[0].trap, source="999-9"))
    with pytest.raises(AssertionError, match="real seed question"):
        nb.trap_verdicts([bad] + traps[1:]).require()
    blank = dataclasses.replace(traps[0], trap=dataclasses.replace(traps[0].trap, truth={"en": "x", "zh": " "}))
    with pytest.raises(AssertionError, match="in English and in Chinese"):
        nb.trap_verdicts([blank]).require()
    with pytest.raises(AssertionError, match="gallery shows every trap"):
        nb.trap_verdicts([e for e in entries if not e.trap]).require()


# ------------------------------------------------------------------------------ Chinese widgets

def test_the_mock_interview_speaks_chinese_in_chinese_mode(entries):
    ticks = iter(range(0, 10**6, 100))
    mock = nb.MockInterview(entries, n=2, seconds=90, seed=0, lang="中文", clock=lambda: next(ticks))
    buttons = [mock.start_button, mock.show_button, *mock.rate_buttons]
    assert [b.description for b in buttons] == ["开始面试", "显示答案", "答得好", "答对一部分", "没答上"]
    assert "按 <b>开始面试</b>" in mock.card.value and "90 秒" in mock.card.value
    mock.start_button.click()
    assert "第 1/2 题" in mock.card.value and "用时" in mock.timer.value
    mock.start_button.click()  # a running interview: the warning is in Chinese too
    assert "面试正在进行" in mock.report.value
    mock.show_button.click()
    assert "超时" in mock.timer.value  # 100 s against 90
    mock.rate_buttons[2].click()  # 没答上: 0 points
    assert mock.asked[0].score == 0
    mock.show_button.click()
    mock.rate_buttons[0].click()  # 答得好: 2 points
    assert mock.asked[1].score == 2 and "面试结束" in mock.card.value
    report = mock.report.value
    assert "得分 50%" in report and "薄弱：复习" in report and bank.TOPICS[mock.asked[0].entry.topic][1] in report
    shown = " ".join([report, mock.card.value, mock.timer.value] + [b.description for b in buttons])
    for word in ("start", "show the answer", "nailed it", "partly", "missed it", "Score", "weak", "solid",
                 "question", "over time", "Interview over", bank.TOPICS[mock.asked[0].entry.topic][0]):
        assert word not in shown, word
    english = nb.MockInterview(entries, n=2, lang="both")
    assert english.start_button.description == "start the interview" and english.rate_button(1).description == "partly"


def test_the_quiz_speaks_chinese_in_chinese_mode():
    quiz = nb.Quiz(n=10, seed=0, lang="中文")
    assert (quiz.check_button.description, quiz.next_button.description) == ("检查", "下一题 →")
    assert quiz.number.description == "答案" and quiz.number.placeholder == "输入一个数"
    assert "答对 0/0 题" in quiz.score.value
    quiz.answer(quiz.current.answer)
    assert "✓ 正确" in quiz.feedback.value and "参见" in quiz.feedback.value
    quiz.next()
    item = quiz.current
    quiz.answer(item.options[0] if item.options and item.options[0] != item.answer else
                (item.options[1] if item.options else item.answer * 3 + 7))
    assert "✗ 不对" in quiz.feedback.value and item.shown_answer() in quiz.feedback.value
    while quiz.current is not None:
        quiz.next()
    assert "完成" in quiz.prompt.value
    for word in ("right", "not quite", "Done", "question"):
        assert word not in quiz.prompt.value + quiz.score.value, word


# ------------------------------------------------------------------------------------ the Chinese edition

def test_the_chinese_edition_shows_the_chinese_side_of_the_bank(entries):
    from kdnb import i18n
    from kdnb.shown import translated

    def shown(table):
        return translated(table, type(table).label)

    i18n.set_language("zh")
    try:
        cards = nb.Flashcards(entries, seed=0)
        assert cards.lang.value == "中文" and cards.reveal_button.description == "显示答案"
        e = cards.current
        assert bank.inline_html(e.question["zh"]) in cards.card.value
        assert bank.inline_html(e.question["en"]) not in cards.card.value
        quiz = nb.Quiz(n=3, seed=0, lang="both")
        table = nb.quiz_table(nb.make_quiz(2, seed=0))
        assert quiz.ui == "zh" and table.columns[0] == "question" and shown(table).columns[0] == "问题"
        assert "问题" in repr(table) and "问题" in table._repr_html_() and "question" not in repr(table)
        walk = nb.review_walkthrough(entries, topic="temperature", seed=0).steps  # English labels for code ...
        assert list(walk["the card comes back as"]) == ["card 4", "card 7", "left the queue", "left the queue"]
        assert list(shown(walk)["卡片重新出现的位置"]) == ["第 4 张", "第 7 张", "已离开队列", "已离开队列"]  # ... Chinese shown
        sources = nb.trap_sources(entries)
        assert sources.loc["all", "traps"] == len(bank.traps(entries)) == shown(sources).loc["全部", "陷阱数"]
        summary = nb.bank_summary(entries)
        assert summary.iloc[-1]["entries"] == len(entries) and summary.iloc[-1]["topic"] == "all"
        assert {"热身", "核心", "深入", "题数"} <= set(shown(summary).columns) and shown(summary).iloc[-1, 0] == "全部"
        assert nb.bank_counts(entries).startswith("共 ")
        assert "主题" in nb.replay_interview(entries, [2, 1], seed=7).mock.summary_table().columns
    finally:
        i18n.set_language(None)
    assert nb.Flashcards(entries, seed=0).lang.value == "both"
