"""Notebook 07's widgets, driven the way a reader drives them: clicks and values."""

import html
import json
import math

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


def test_quiz_answers_match_an_independent_computation():
    import random

    rng = random.Random(4)
    batch = nb.q_batchmean(rng)
    assert batch.answer == pytest.approx(float(batch.prompt["en"].split(" over ")[1].split(" classes")[0]))
    assert nb.q_l1_l2(rng).answer == 0.0
    assert nb.q_pruned_copies(rng).answer == 2.0
    sw = nb.q_seed_weights(rng)
    T = float(sw.prompt["en"].split("T = ")[1].split(",")[0])
    assert sw.answer == pytest.approx(1 - 1 / T) and sw.answer < 0
    assert nb.q_t_squared(rng).answer == "T²"
    assert nb.q_alpha(rng).answer == "0"
    assert nb.q_ce_minus_kl(rng).answer.startswith("H(p)")
    ent = nb.q_entropy(rng)
    z = torch.tensor([[float(v) for v in ent.prompt["en"].split("[")[1].split("]")[0].split(",")]])
    T = float(ent.prompt["en"].split("T = ")[1].rstrip("?"))
    p = F.softmax(z / T, -1)
    assert ent.answer == pytest.approx(-(p * p.log2()).sum().item(), rel=1e-5)


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
    assert nb.most_asked(entries).count("<tr>") == 1 + len(bank.TOPICS)


# ------------------------------------------------------------------------------------- exercise

def test_entropy_checker_accepts_the_solution_and_names_mistakes():
    ns = {"nb": nb, "torch": torch, "entropy": entropy, "soft_targets": soft_targets}
    exec(solution_cells("07_interview_drill.ipynb")["3.1"], ns)
    z = torch.tensor([[3.0, 1.0, 0.2, -1.0]])
    assert "entropy at T = 1" in nb.check_entropy_at_T(entropy(soft_targets(z, 1.0)).item(), ).message
    assert "nats" in nb.check_entropy_at_T(entropy(soft_targets(z, 4.0), base=math.e).item()).message
    assert "divided the probabilities" in nb.check_entropy_at_T(entropy(torch.softmax(z, -1) / 4).item()).message
    assert "not the entropy" in nb.check_entropy_at_T(1.5).message
    assert nb.check_entropy_at_T(...).status == "todo"
