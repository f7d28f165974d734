"""Flashcards: one card as HTML, the deck with its in-session review queue, and a replay of that queue."""

from __future__ import annotations

import html
import json
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import ipywidgets as W

from .. import bank
from .._io import atomic_write_text
from ..i18n import N_, _
from ..widgets import button
from .words import LANG_CHOICES, UI, Shown, inline, lang_options, langs_of, link_html, pick_lang, say, ui_lang


def _tag(entry: bank.Entry, lang: str = "en") -> str:
    """The card's tag line (topic · level · seed IDs) in ``lang`` ('en' or 'zh')."""
    k = 0 if lang == "en" else 1
    topic, level = bank.TOPICS[entry.topic][k], bank.DIFFICULTY[entry.difficulty][k]
    seeds = ", ".join(entry.seeds) if entry.seeds else UI["beyond"][lang]
    return f'<span style="color:#555">{html.escape(f"{topic} · {level} · {seeds}")}</span>'


def _source(trap: bank.Trap, lang: str) -> str:
    return UI["common"][lang] if trap.source == "common" else trap.source


#: The punctuation after a label: a full stop or colon in English, its full-width form in Chinese.
_STOP, _COLON = {"en": ".", "zh": "："}, {"en": ":", "zh": "："}


def card_html(entry: bank.Entry, lang: str = "both", revealed: bool = True, long: bool = True, prefix: str = "") -> str:
    """One flashcard as HTML: the question, and once revealed the answer, the trap and the link.

    Every interface word (the tag line, the labels, "common") is in the card's language; with
    ``lang="both"`` the labels follow each language and the tag line is given in both.
    """
    langs = langs_of(lang)
    ui = ui_lang(lang)
    parts = [" / ".join(_tag(entry, g) for g in langs)]
    parts += [f'<div style="font-size:1.2em;font-weight:600;margin:.3em 0">{inline(entry.question[g])}</div>'
              for g in langs]
    if revealed:
        for g in langs:
            parts.append(f"<p><b>{UI['answer'][g]}{_STOP[g]}</b> {inline(entry.short[g])}</p>")
        if entry.trap:
            for g in langs:
                source = html.escape(_source(entry.trap, g))
                label = f"{UI['trap'][g]}（{source}）：" if g == "zh" else f"{UI['trap'][g]} ({source})."
                parts.append(f'<p style="border-left:4px solid #c0392b;padding-left:.5em"><b>{label}</b> ✗ '
                             f'{inline(entry.trap.claim[g])}<br><b>{UI["truth"][g]}{_COLON[g]}</b> ✓ {inline(entry.trap.truth[g])}</p>')
        if long:
            parts.append(f"<details><summary>{UI['more'][ui]}</summary>{bank.markdown_html(entry.long)}</details>")
        parts.append(f"<p>{UI['see'][ui]}{_COLON[ui]}{' ' if ui == 'en' else ''}{link_html(entry.link, prefix)}"
                     + (f" · {html.escape(entry.cite)}" if entry.cite else "") + "</p>")
    return '<div style="font-size:15px;line-height:1.45">' + "\n".join(parts) + "</div>"


# ------------------------------------------------------------------------------------- flashcards

#: The counters a card's progress keeps, and the flag that retires it.
_STAT_COUNTS = ("seen", "knew", "again", "streak")


class Flashcards:
    """Flashcards with an in-session review queue.

    A card known the first time it is shown leaves the queue. *Review again* puts it back ``gap``
    cards later; a card missed once must then be known twice in a row, the second time after a
    longer wait of ``2 * gap`` cards, before it leaves (spaced repetition within the session).
    The queue holds each card of the current topic and level at most once. In 中文 mode every
    button, label and message is in Chinese.
    """

    def __init__(self, entries=None, topic: str = "all", difficulty="all", lang: str | None = None, seed: int = 0,
                 gap: int = 3, path: str = "flashcards_progress.json"):
        self.entries = {e.id: e for e in (bank.load() if entries is None else entries)}
        lang = pick_lang(lang, "both")
        if isinstance(gap, bool) or not isinstance(gap, int) or gap < 1:
            raise ValueError(f"gap is the number of cards before a missed card returns, a whole number of at least 1; "
                             f"got {gap!r}")
        self.gap, self.rng = gap, random.Random(seed)
        self.stats: dict[str, dict] = {}
        self.queue: list[str] = []
        self.revealed = False
        topics = [("all topics · 全部主题", "all")] + [(f"{v[0]} · {v[1]}", k) for k, v in bank.TOPICS.items()]
        levels = [("all levels · 全部难度", "all")] + [(f"{k} · {v[0]} · {v[1]}", k) for k, v in bank.DIFFICULTY.items()]
        self.topic = W.Dropdown(options=topics, value=topic, layout=W.Layout(width="360px"))
        self.difficulty = W.Dropdown(options=levels, value=difficulty, layout=W.Layout(width="240px"))
        self.lang = W.ToggleButtons(options=lang_options(), value=lang, style={"button_width": "80px"})
        self.card = W.HTMLMath(layout=W.Layout(min_height="160px", border="1px solid #ccc", padding="8px 14px"))
        self.status = W.HTML()
        self.message = W.HTML()
        self.reveal_button = button("", "info", layout=W.Layout(width="170px"))
        self.knew_button = button("", "success", layout=W.Layout(width="130px"))
        self.again_button = button("", "warning", layout=W.Layout(width="150px"))
        self.path = W.Text(value=path, layout=W.Layout(width="420px"), style={"description_width": "initial"})
        self.save_button = W.Button(layout=W.Layout(width="80px"))
        self.load_button = W.Button(layout=W.Layout(width="80px"))
        self.reveal_button.on_click(lambda _b: self.reveal())
        self.knew_button.on_click(lambda _b: self.mark(True))
        self.again_button.on_click(lambda _b: self.mark(False))
        self.save_button.on_click(lambda _b: self._guard(lambda: self.save(self.path.value)))
        self.load_button.on_click(lambda _b: self._guard(lambda: self.load(self.path.value)))
        self._loading = False
        for w in (self.topic, self.difficulty):
            w.observe(lambda _b: None if self._loading else self.restart(), names="value")
        self.lang.observe(lambda _b: self.render(), names="value")
        self.widget = W.VBox([W.HBox([self.topic, self.difficulty]), self.lang, self.card,
                              W.HBox([self.reveal_button, self.knew_button, self.again_button]), self.status,
                              W.HBox([self.path, self.save_button, self.load_button]), self.message])
        self.restart()

    @property
    def ui(self) -> str:
        """The interface language: 'zh' in 中文 mode, 'en' otherwise."""
        return ui_lang(self.lang.value)

    def _say(self, key: str, **values) -> str:
        return say(key, self.ui, **values)

    # the deck and the queue
    def deck(self) -> list[str]:
        """The ids that match the filters, in bank order."""
        t, d = self.topic.value, self.difficulty.value
        return [i for i, e in self.entries.items() if t in ("all", e.topic) and d in ("all", e.difficulty)]

    def restart(self) -> None:
        """A new shuffled queue from the filters; cards already known this session are left out."""
        ids = [i for i in self.deck() if not self.stats.get(i, {}).get("done")]
        self.rng.shuffle(ids)
        self.queue, self.revealed = ids, False
        self.message.value = ""
        self.render()

    @property
    def current(self) -> bank.Entry | None:
        return self.entries[self.queue[0]] if self.queue else None

    def reveal(self) -> None:
        if self.current is not None:
            self.revealed = True
            self.render()

    def mark(self, knew: bool) -> None:
        """Record the current card as known or missed, and move on."""
        if self.current is None:
            return
        cid = self.queue.pop(0)
        s = self.stats.setdefault(cid, {"seen": 0, "knew": 0, "again": 0, "streak": 0, "done": False})
        s["seen"] += 1
        if knew:
            s["knew"] += 1
            s["streak"] += 1
            needed = 1 if s["again"] == 0 else 2
            if s["streak"] >= needed:
                s["done"] = True
            else:
                self.queue.insert(min(len(self.queue), 2 * self.gap), cid)
        else:
            s["again"] += 1
            s["streak"] = 0
            self.queue.insert(min(len(self.queue), self.gap), cid)
        self.revealed = False
        self.render()

    def progress(self) -> dict:
        deck = self.deck()
        done = sum(self.stats.get(i, {}).get("done", False) for i in deck)
        review = sum(1 for i in set(self.queue) if self.stats.get(i, {}).get("again", 0))
        return {"cards": len(deck), "known": done, "left": len(self.queue), "to review": review}

    # saving
    def state(self) -> dict:
        return {"format": "kdnb-flashcards", "version": 1, "topic": self.topic.value, "difficulty": self.difficulty.value,
                "lang": self.lang.value, "gap": self.gap, "queue": list(self.queue), "stats": self.stats}

    def save(self, path) -> Path:
        """Write the progress to ``path`` as JSON (atomically: an old file is never left half-written)."""
        path = Path(path).expanduser()
        if path.suffix.lower() != ".json":
            raise ValueError(f"save progress to a .json file, not {path.name!r}")
        atomic_write_text(path, json.dumps(self.state(), ensure_ascii=False, indent=1))
        self.message.value = self._say("saved", n=len(self.stats), path=html.escape(str(path)))
        return path

    def _checked(self, state, name: str) -> dict:
        """The file's settings, each checked, before any is applied; a ValueError lists every problem."""
        if not isinstance(state, dict) or state.get("format") != "kdnb-flashcards":
            raise ValueError(f"{name} is JSON but not a flashcards progress file; choose the file that 'save' wrote")
        problems = []

        def whole(v, low=0):
            return isinstance(v, int) and not isinstance(v, bool) and v >= low

        if state.get("version", 1) != 1:
            problems.append(f"version {state.get('version')!r} (this workbook reads version 1)")
        topics, levels = [v for _i, v in self.topic.options], [v for _i, v in self.difficulty.options]
        if state.get("topic") not in topics or state.get("difficulty") not in levels:
            problems.append(f"a topic or level this bank does not have ({state.get('topic')!r}, "
                            f"{state.get('difficulty')!r})")
        lang = state.get("lang", self.lang.value)
        if lang not in LANG_CHOICES:
            problems.append(f"lang {lang!r} (one of {list(LANG_CHOICES)})")
        gap = state.get("gap", self.gap)
        if not whole(gap, 1):
            problems.append(f"gap {gap!r} (a whole number of at least 1)")
        stats = state.get("stats", {})
        if not isinstance(stats, dict):
            problems.append(f"stats as a {type(stats).__name__} (a mapping from card id to its counts)")
            stats = {}
        for cid, s in stats.items():
            if (not isinstance(s, dict) or set(s) != {*_STAT_COUNTS, "done"}
                    or not all(whole(s[k]) for k in _STAT_COUNTS) or not isinstance(s["done"], bool)):
                problems.append(f"stats for {cid!r} are {json.dumps(s)[:60]} (want whole counts "
                                f"{', '.join(_STAT_COUNTS)} and done true/false)")
                break
        queue = state.get("queue", [])
        if not isinstance(queue, list) or not all(isinstance(i, str) for i in queue):
            problems.append(f"queue {json.dumps(queue)[:60]} (a list of card ids)")
            queue = []
        if twice := sorted({i for i in queue if queue.count(i) > 1}):
            problems.append(f"a queue that lists {', '.join(map(repr, twice[:3]))} more than once")
        if problems:
            raise ValueError(f"{name} is not a usable flashcards progress file: it has " + "; ".join(problems)
                             + ". Nothing was loaded; save the progress again")
        return {"topic": state["topic"], "difficulty": state["difficulty"], "lang": lang, "gap": gap,
                "stats": stats, "queue": queue}

    def load(self, path) -> None:
        """Resume from a file written by :meth:`save`; cards no longer in the bank are dropped.

        The whole file is checked before any of it is applied: a file with a wrong type anywhere
        leaves the deck exactly as it was. Queued cards outside the saved topic and level, or
        already known, are left out.
        """
        path = Path(path).expanduser()
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"no progress file at {path}: save one first, or check the path") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path.name} is not a flashcards progress file (not JSON: {err}); choose the file "
                             "that 'save' wrote") from None
        new = self._checked(state, path.name)
        stats = {k: dict(v) for k, v in new["stats"].items() if k in self.entries}
        dropped = len(new["stats"]) - len(stats)
        self._loading = True  # setting the filters must not reshuffle the saved queue
        try:
            self.topic.value, self.difficulty.value = new["topic"], new["difficulty"]
        finally:
            self._loading = False
        deck = set(self.deck())
        known = [i for i in new["queue"] if i in self.entries]
        outside = sum(i not in deck for i in known)
        self.queue = [i for i in known if i in deck and not stats.get(i, {}).get("done")]  # a known card has left
        self.stats, self.gap, self.revealed = stats, new["gap"], False
        self.lang.value = new["lang"]
        self.message.value = (self._say("loaded", n=len(stats), path=html.escape(str(path)))
                              + (self._say("dropped", n=dropped) if dropped else "")
                              + (self._say("outside", n=outside) if outside else ""))
        self.render()

    def _guard(self, action: Callable) -> None:
        try:
            action()
        except Exception as err:  # a button shows every failure, never a silent one
            self.message.value = f'<span style="color:#c0392b">✗ {html.escape(str(err))}</span>'

    # the view
    def render(self) -> None:
        for w, key in ((self.reveal_button, "reveal"), (self.knew_button, "knew"), (self.again_button, "again"),
                       (self.save_button, "save"), (self.load_button, "load"), (self.path, "file"),
                       (self.topic, "topic"), (self.difficulty, "level")):
            w.description = self._say(key)
        e = self.current
        if e is None:
            p = self.progress()
            self.card.value = f"<p style='font-size:1.2em'>{self._say('all known', cards=p['cards'])}</p>"
        else:
            self.card.value = card_html(e, self.lang.value, self.revealed)
        self.reveal_button.disabled = e is None or self.revealed
        self.knew_button.disabled = self.again_button.disabled = e is None or not self.revealed
        p = self.progress()
        self.status.value = self._say("status", known=p["known"], cards=p["cards"], left=p["left"],
                                      review=p["to review"])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


# ------------------------------------------------------------------------------ a replayed queue


@dataclass
class Walkthrough:
    """One card followed through the review queue, then the deck saved and loaded back."""

    card: str              # the id of the card followed
    gap: int               # the deck's gap: a missed card returns after this many cards
    returns: list          # the card's queue index after each step (None once it has left the queue)
    round_trip: bool       # the loaded deck has the saved deck's queue and progress
    steps: Shown           # one row per step: where the card is, the queue's length, the cards known

    def followed(self) -> str:
        """The line naming the card followed."""
        return _("the card followed: {card}").format(card=self.card)


def review_walkthrough(entries=None, topic: str = "temperature", seed: int = 0) -> Walkthrough:
    """Drive a deck with its methods, as the buttons do: the first card is missed once, then known twice.

    After the miss the card waits ``gap`` cards, after the first success ``2 * gap`` cards, and after
    the second it leaves the queue; the other cards are known at the first showing. Then the deck is
    saved to a temporary file and loaded into a new deck.
    """
    demo = Flashcards(entries, topic=topic, seed=seed)
    card, returns, rows = demo.current.id, [], []

    def record(step: str, deck: Flashcards) -> None:
        at = deck.queue.index(card) if card in deck.queue else None
        p = deck.progress()
        returns.append(at)
        rows.append({N_("step"): step, N_("the card comes back as"): N_("left the queue") if at is None
                     else N_("card {k}").format(k=at + 1), N_("cards in the queue"): p["left"], N_("cards known"): p["known"]})

    for step, knew in ((N_("missed"), False), (N_("known once after the miss"), True), (N_("known twice in a row"), True)):
        while demo.current.id != card:  # every other card is known at once
            demo.reveal()
            demo.mark(True)
        demo.reveal()
        demo.mark(knew)
        record(step, demo)
    with tempfile.TemporaryDirectory() as folder:
        resumed = Flashcards(entries, seed=seed + 1)
        resumed.load(demo.save(Path(folder) / "my_progress.json"))
    record(N_("saved and loaded into a new deck"), resumed)
    same = resumed.queue == demo.queue and resumed.progress() == demo.progress()
    return Walkthrough(card, demo.gap, returns, same, Shown(rows))
