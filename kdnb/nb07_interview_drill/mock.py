"""The mock interview: timed questions across topics, self-rated, ending with the weak topics; and a replay of one."""

from __future__ import annotations

import asyncio
import html
import random
import time
from dataclasses import dataclass
from typing import Callable

import ipywidgets as W
import pandas as pd

from .. import bank
from ..widgets import button
from .cards import card_html
from .words import link_html, pick_lang, say, ui_lang

#: The self-ratings and their points; the keys are also the buttons' words (see :data:`.words.UI`).
SCORES = {"nailed it": 2, "partly": 1, "missed it": 0}
#: A topic whose mean score (a fraction of the points) is below this is weak.
WEAK_BELOW = 0.75
_STYLES = {2: "success", 1: "warning", 0: "danger"}


@dataclass
class _Asked:
    entry: bank.Entry
    seconds: float | None = None
    score: int | None = None


class MockInterview:
    """``n`` random questions, one topic after another, ``seconds`` each to answer aloud.

    *show the answer* stops the clock and reveals the model answer and the trap; the reader rates
    the attempt; after the last question :meth:`summary` lists the weak topics with their links.
    ``clock`` is injectable so tests (and the notebook's static twin) replay an interview. The
    buttons and messages are in Chinese when only Chinese is shown (``lang="中文"``).
    """

    def __init__(self, entries=None, n: int = 6, seconds: int = 90, seed: int | None = None, lang: str | None = None,
                 clock: Callable[[], float] = time.monotonic):
        entries = bank.load() if entries is None else list(entries)
        if not 1 <= n <= len(entries):
            raise ValueError(f"n is between 1 and the {len(entries)} questions in the bank, got {n}")
        if seconds <= 0:
            raise ValueError(f"seconds is the time per question, a positive number; got {seconds}")
        self.n, self.seconds, self.lang, self.clock = n, seconds, pick_lang(lang, "English"), clock
        self.ui = ui_lang(self.lang)
        self.rng = random.Random(seed)
        self.entries = entries
        self.asked: list[_Asked] = []
        self.started = None
        self.revealed = False
        self.timer = W.HTML()
        self.card = W.HTMLMath(layout=W.Layout(min_height="120px", border="1px solid #ccc", padding="8px 14px"))
        self.start_button = button(say("start", self.ui), "primary", layout=W.Layout(width="180px"))
        self.show_button = button(say("show", self.ui), "info", layout=W.Layout(width="160px"))
        self.rate_buttons = [button(say(k, self.ui), _STYLES[v], layout=W.Layout(width="110px")) for k, v in SCORES.items()]
        self.report = W.HTML()
        self.start_button.on_click(lambda _b: self.start())
        self.show_button.on_click(lambda _b: self.reveal())
        for b, score in zip(self.rate_buttons, SCORES.values()):
            b.on_click(lambda _b, score=score: self.rate(score))
        self.widget = W.VBox([W.HBox([self.start_button, self.timer]), self.card,
                              W.HBox([self.show_button] + self.rate_buttons), self.report])
        self._task = None
        self._confirming = False
        self.render()

    def rate_button(self, score: int) -> W.Button:
        """The button that rates an answer ``score`` points."""
        return self.rate_buttons[list(SCORES.values()).index(score)]

    def pick(self) -> list[bank.Entry]:
        """One question per topic in turn (topics shuffled), random within a topic."""
        pools = {t: [e for e in self.entries if e.topic == t] for t in bank.TOPICS}
        for pool in pools.values():
            self.rng.shuffle(pool)
        order = [t for t in pools if pools[t]]
        self.rng.shuffle(order)
        picked = []
        while len(picked) < self.n:
            for t in order:
                if pools[t] and len(picked) < self.n:
                    picked.append(pools[t].pop())
        return picked

    def start(self, confirm: bool = False) -> bool:
        """Start a new interview; while one is running, the first press only asks to confirm.

        Pressing *start* during an interview shows a warning and changes nothing; pressing it again
        (or ``confirm=True``) abandons the running interview and starts a new one. Returns whether
        a new interview started.
        """
        running = self.current is not None
        if running and not (confirm or self._confirming):
            self._confirming = True
            warning = say("running", self.ui, k=self.position + 1, n=len(self.asked))
            self.report.value = f"<p style='color:#c0392b'>{warning}</p>"
            return False
        self._confirming = False
        self.asked = [_Asked(e) for e in self.pick()]
        self.report.value = ""
        self._begin()
        return True

    @property
    def position(self) -> int:
        return sum(a.score is not None for a in self.asked)

    @property
    def current(self) -> _Asked | None:
        return self.asked[self.position] if self.asked and self.position < len(self.asked) else None

    def _begin(self) -> None:
        self.started, self.revealed = self.clock(), False
        self.render()
        self._start_ticking()

    def elapsed(self) -> float:
        return 0.0 if self.started is None else self.clock() - self.started

    def _carry_on(self) -> None:
        """Any answer withdraws a pending restart request."""
        if self._confirming:
            self._confirming = False
            self.report.value = ""

    def reveal(self) -> None:
        a = self.current
        if a is None or self.revealed:
            return
        self._carry_on()
        a.seconds = self.elapsed()
        self.revealed = True
        self.render()

    def rate(self, score: int) -> None:
        """Score the current answer (2 nailed it, 1 partly, 0 missed it) and ask the next question."""
        a = self.current
        if a is None:
            return
        if score not in SCORES.values():
            raise ValueError(f"score is one of {sorted(SCORES.values())}, got {score!r}")
        self._carry_on()
        if not self.revealed:
            self.reveal()
        a.score = score
        if self.current is None:
            self.started = None
            self.render()
            self.report.value = self.summary_html()
        else:
            self._begin()

    def summary(self) -> pd.DataFrame:
        """Per topic: questions asked, mean score (of 2), time used, and whether it is weak."""
        done = [a for a in self.asked if a.score is not None]
        rows = {}
        for a in done:
            r = rows.setdefault(a.entry.topic, {"topic": bank.TOPICS[a.entry.topic][0], "questions": 0, "points": 0,
                                                "seconds": 0.0, "over time": 0, "sections": []})
            r["questions"] += 1
            r["points"] += a.score
            r["seconds"] += a.seconds or 0.0
            r["over time"] += int((a.seconds or 0.0) > self.seconds)
            if a.score < 2:
                r["sections"].append(a.entry.link)
        out = pd.DataFrame(rows.values(), columns=["topic", "questions", "points", "seconds", "over time", "sections"])
        out["score"] = out["points"] / (2 * out["questions"])
        out["weak"] = out["score"] < WEAK_BELOW
        return out.sort_values(["score", "topic"]).reset_index(drop=True)

    def summary_table(self) -> pd.DataFrame:
        """:meth:`summary` as the reader sees it: without the sections, headers and topics in the interface language."""
        table = self.summary().drop(columns="sections")
        if self.ui == "zh":
            names = dict(bank.TOPICS.values())
            table["topic"] = table["topic"].map(names)
        return table.rename(columns={c: say(f"col {c}", self.ui) for c in table.columns})

    def summary_html(self) -> str:
        table = self.summary()
        if table.empty:
            return ""
        total = table["points"].sum() / (2 * table["questions"].sum())
        names = {en: (en, zh)[self.ui == "zh"] for en, zh in bank.TOPICS.values()}
        lines = [f"<p>{say('score', self.ui, total=total, n=int(table['questions'].sum()))}</p><ul>"]
        for _i, r in table.iterrows():
            links = ", ".join(dict.fromkeys(link_html(s) for s in r["sections"]))
            mark = say("weak", self.ui, links=links) if r["weak"] else say("solid", self.ui)
            lines.append(f"<li><b>{html.escape(names[r['topic']])}</b>: {r['score']:.0%} · {mark}</li>")
        return "".join(lines) + "</ul>"

    def render(self) -> None:
        a = self.current
        if a is None:
            self.card.value = say("press start", self.ui, seconds=self.seconds) if not self.asked else say("over", self.ui)
            self.timer.value = ""
        else:
            head = f"<p style='color:#555'>{say('question k', self.ui, k=self.position + 1, n=len(self.asked))}</p>"
            self.card.value = head + card_html(a.entry, self.lang, self.revealed, long=False)
            self._show_time()
        self.show_button.disabled = a is None or self.revealed
        for b in self.rate_buttons:
            b.disabled = a is None or not self.revealed

    def _show_time(self, spent: float | None = None) -> None:
        """The clock: ``spent`` seconds (the answer's time once revealed; 0 when a question opens)."""
        a = self.current
        if spent is None:
            spent = a.seconds if (a and a.seconds is not None) else 0.0
        over = spent > self.seconds
        colour = "#c0392b" if over else "#333"
        self.timer.value = (f"<span style='font-size:1.3em;color:{colour}'>"
                            + say("clock", self.ui, spent=spent, seconds=self.seconds)
                            + (say("over time", self.ui) if over else "") + "</span>")

    def _start_ticking(self) -> None:
        """Refresh the clock once a second while a question is open (only inside a running kernel)."""
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            return
        if not loop.is_running() or (self._task and not self._task.done()):
            return

        async def tick():
            while self.current is not None and not self.revealed:
                self._show_time(self.elapsed())
                await asyncio.sleep(1.0)

        self._task = loop.create_task(tick())

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


# ------------------------------------------------------------------------------------- a replay


@dataclass
class Replay:
    """A finished mock interview replayed with a stand-in clock, and what a mid-interview *start* did."""

    mock: MockInterview
    step: float                  # seconds the stand-in clock advances per reading
    pressed_at: int              # the question (0-based) during which start was pressed
    restarted: bool              # whether that press started a new interview
    position_after: int          # the interview's position right after the press
    warned: bool                 # whether the press showed the "interview is running" warning


def replay_interview(entries, scores, seed: int = 7, step: int = 40, seconds: int = 90, press_start_at: int = 3) -> Replay:
    """Replay an interview of ``len(scores)`` questions: show each answer, rate it ``scores[k]``.

    The clock advances ``step`` seconds per reading, against ``seconds`` per question; *start* is pressed once more during question
    ``press_start_at`` (0-based), before its answer is shown.
    """
    ticks = iter(range(0, 10 ** 9, step))
    mock = MockInterview(entries, n=len(scores), seconds=seconds, seed=seed, clock=lambda: next(ticks))
    mock.start()
    restarted = position = warned = None
    for k, score in enumerate(scores):
        if k == press_start_at:
            restarted = mock.start()
            position, warned = mock.position, bool(mock.report.value)  # the report is empty until then
        mock.reveal()
        mock.rate(score)
    return Replay(mock, step, press_start_at, restarted, position, warned)
