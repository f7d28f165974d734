"""The exercise's checker, and the verdicts: the claims the notebook's prose makes about its widgets, computed."""

from __future__ import annotations

import html
import math

import torch

from .. import bank
from ..exercises import Verdict, as_number, check
from ..i18n import _
from ..temperature import entropy, soft_targets
from ..verdicts import Verdicts
from .cards import Flashcards, Walkthrough
from .mock import MockInterview, Replay
from .quiz import Quiz, QuizItem
from .traps import trap_gallery
from .words import langs_of, say

# ------------------------------------------------------------------------------------- exercise


def check_entropy_at_T(value, z=(3.0, 1.0, 0.2, -1.0), T: float = 4.0) -> Verdict:
    """Check yourself 3.1: the entropy, in bits, of softmax(z / T).

    Any numeric type is accepted (a float, a 0-d or one-element tensor, a NumPy scalar), to three
    significant figures (within 0.005 bits); the usual mistakes (T = 1, nats, dividing the
    probabilities by T) are named. The verdict never prints the value itself.
    """
    logits = torch.tensor([list(z)])
    right = entropy(soft_targets(logits, T)).item()

    def diagnose(answer):
        v = as_number(answer)  # a float, a 0-d tensor, a NumPy scalar: any numeric type will do
        if v is None:
            return _("give the entropy as one finite number of bits, got {kind}").format(kind=type(answer).__name__)
        if abs(v - right) <= 5e-3:  # three significant figures are enough
            return None
        if abs(v - entropy(soft_targets(logits, 1.0)).item()) < 1e-3:
            return _("that is the entropy at T = 1: divide the logits by T before the softmax")
        if abs(v - entropy(soft_targets(logits, T), base=math.e).item()) < 1e-3:
            return _("that is in nats (natural log): use log base 2 for bits")
        if abs(v - entropy(torch.softmax(logits, -1) / T).item()) < 1e-3:
            return _("you divided the probabilities by T: temperature divides the logits, inside the softmax")
        return _("not the entropy of softmax(z / T): compute p = softmax(z / T), then −Σ p log₂ p")

    return check("Check yourself 3.1", value, diagnose, todo=_("set entropy_bits to a number, then rerun the cell"),
                 praise=_("softening by T = {T:g} raised the entropy; the uniform limit over {C} classes is "
                          "log₂ {C} = {bits:.0f} bits").format(T=T, C=len(z), bits=math.log2(len(z))))



# ------------------------------------------------------------------------------------- verdicts


def flashcards_verdicts(cards: Flashcards, entries) -> Verdicts:
    """A new deck of every topic and level: a card waits, its answer hidden, and the deck is the whole bank."""
    return Verdicts({
        _("a card is on screen with its answer hidden, and only 'reveal' can be pressed"):
            cards.current is not None and not cards.revealed and not cards.reveal_button.disabled
            and cards.knew_button.disabled and cards.again_button.disabled,
        _("with every topic and level chosen, the deck holds every entry of the bank"):
            cards.progress()["cards"] == len(list(entries)),
    })


def review_verdicts(walk: Walkthrough) -> Verdicts:
    """The review queue as the prose tells it: back after a few cards, then after a longer wait, then gone."""
    after_miss, after_first, after_second, loaded = walk.returns
    return Verdicts({
        _("a missed card comes back after {gap} other cards").format(gap=walk.gap): after_miss == walk.gap,
        _("known once after the miss, it comes back after a longer wait of {wait} cards").format(wait=2 * walk.gap):
            after_first == 2 * walk.gap,
        _("known twice in a row, it leaves the queue"): after_second is None and loaded is None,
        _("saving and loading gives back the same queue and progress"): walk.round_trip,
    })


def quiz_verdicts(quiz: Quiz) -> Verdicts:
    """A new quiz: its first question on screen, an empty number box, nothing scored yet."""
    return Verdicts({
        _("the first question is on screen, in every language shown"):
            quiz.index == 0 and all(html.escape(quiz.current.prompt[g]) in quiz.prompt.value for g in langs_of(quiz.lang)),
        _("the number box starts empty, not at 0"): quiz.number.value == "",
        _("nothing counts until an answer is checked"): quiz.results == [],
    })


def generator_verdicts(drawn: dict[str, list[QuizItem]], at_least: int = 3) -> Verdicts:
    """Over the draws of every generator (:func:`.quiz.draw_each`): no fixed answer, no free point for 0 or a blank."""
    numbers = [it for items in drawn.values() for it in items if it.options is None]
    fewest = min(len({it.shown_answer() for it in items}) for items in drawn.values())
    return Verdicts({
        _("every generator gave at least {n} different answers: none has a fixed answer").format(n=at_least): fewest >= at_least,
        _("0 (what an untouched box used to hold) is right only where the computed answer is 0"):
            bool(numbers) and all(it.is_right(0) == (it.answer == 0) for it in numbers),
        _("an empty box is never right"): bool(numbers) and not any(it.is_right("") for it in numbers),
    })


def interview_verdicts(mock: MockInterview) -> Verdicts:
    """A new mock interview: nothing asked before *start*, and only *start* can be pressed."""
    return Verdicts({
        _("nothing is asked before start: the card invites a press of start"):
            not mock.asked and mock.card.value == say("press start", mock.ui, seconds=mock.seconds),
        _("only start can be pressed"): not mock.start_button.disabled and mock.show_button.disabled
                                     and all(b.disabled for b in mock.rate_buttons),
    })


def replay_verdicts(replay: Replay) -> Verdicts:
    """The replayed interview as the prose tells it: a mid-interview start asks first; weak topics follow the ratings."""
    mock = replay.mock
    summary = mock.summary()
    topics = [a.entry.topic for a in mock.asked]
    rated_low = {bank.TOPICS[a.entry.topic][0] for a in mock.asked if a.score < 2}
    return Verdicts({
        _("start pressed in the middle asks first: no new interview, and the interview goes on"):
            replay.restarted is False and replay.warned and replay.position_after == replay.pressed_at,
        _("every question was rated, and the summary counts each once"):
            mock.current is None and int(summary["questions"].sum()) == len(mock.asked),
        _("each answer took the stand-in clock's {step:g} s").format(step=replay.step): all(a.seconds == replay.step for a in mock.asked),
        _("one question per topic, so a topic is weak exactly where its answer was rated below 'nailed it'"):
            len(set(topics)) == len(topics) and set(summary.loc[summary["weak"], "topic"]) == rated_low,
    })


def trap_verdicts(entries) -> Verdicts:
    """The gallery as the prose tells it: every trap, with its source, what holds, and the section that disproves it."""
    found = bank.traps(entries)

    def links(e) -> bool:
        try:
            return bool(e.trap_link.heading())
        except bank.BankError:
            return False

    return Verdicts({
        _("each trap comes from a real seed question's answer or from common folklore"):
            all(e.trap.source == "common" or e.trap.source in bank.SEED_IDS for e in found),
        _("every trap states the claim and what holds instead, in English and in Chinese"):
            all(e.trap.claim[g].strip() and e.trap.truth[g].strip() for e in found for g in bank.LANGUAGES),
        _("every trap links to a section that exists"): all(links(e) for e in found),
        _("the gallery shows every trap"): trap_gallery(found).count("<tr>") - 1 == len(found) > 0,
    })
