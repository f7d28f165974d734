"""Notebook 07, the interview drill: flashcards, computed quizzes, a mock interview, the trap gallery.

Everything here reads the question bank (:mod:`kdnb.bank`); nothing is typed twice.

* :class:`Flashcards`: cards filtered by topic and difficulty, in English, Chinese or both.
  Reveal the answer, then mark *knew it* or *review again*. A missed card comes back a few cards
  later and again after a longer gap until it is known (spaced repetition within the session);
  progress saves to a JSON file and loads back.
* :class:`Quiz`: multiple-choice and numeric questions whose answers are **computed** by the
  workbook's own functions (:func:`kdnb.temperature.soft_targets`, :func:`kdnb.losses.soft_loss`,
  ``torch.nn.utils.prune`` …) from inputs drawn at random (logits, T, sizes, and for several the
  very question asked), so no answer is typed by hand and none can be learnt by heart.
* :class:`MockInterview`: a timed run of questions across topics; after each, the model answer and
  the trap; at the end, the weak topics with links to the sections that teach them.
* :func:`trap_table` / :func:`trap_gallery`: every trap in the bank, its verdict and the section
  that disproves it.

Widgets are thin views: each has methods (``reveal``, ``mark``, ``answer``, ``rate``) that the
buttons call and the tests drive, and a static twin the notebook prints.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import ipywidgets as W
import pandas as pd
import torch
import torch.nn.functional as F
from torch.nn.utils import prune

from . import bank
from ._io import atomic_write_text
from .exercises import Verdict, as_number, check
from .losses import hard_loss, kd_loss, soft_loss
from .temperature import entropy, soft_targets
from .widgets import button

__all__ = ["LANG_CHOICES", "card_html", "Flashcards", "QuizItem", "GENERATORS", "make_quiz", "quiz_table", "Quiz",
           "MockInterview", "trap_table", "trap_gallery", "formula_sheet", "bank_summary", "references",
           "check_entropy_at_T", "most_asked"]

#: Table cells of the HTML tables, left-aligned and top-aligned (JupyterLab right-aligns cells by default).
_TD, _TH = '<td style="text-align:left;vertical-align:top">', '<th style="text-align:left">'
#: The language toggle: label -> languages shown.
LANG_CHOICES = {"English": ("en",), "中文": ("zh",), "both": ("en", "zh")}
_UI = {  # the interface words, in both languages
    "question": {"en": "Question", "zh": "问题"}, "answer": {"en": "30-second answer", "zh": "30 秒回答"},
    "trap": {"en": "Interview trap", "zh": "面试陷阱"}, "truth": {"en": "What holds", "zh": "正确说法"},
    "more": {"en": "The longer answer", "zh": "详细解答（英文）"}, "see": {"en": "See", "zh": "参见"},
    "common": {"en": "common", "zh": "常见误解"}, "beyond": {"en": "beyond the seeds", "zh": "扩展题"},
    "topic": {"en": "topic", "zh": "主题"}, "level": {"en": "level", "zh": "难度"},
    "reveal": {"en": "reveal the answer", "zh": "显示答案"}, "knew": {"en": "knew it ✓", "zh": "会了 ✓"},
    "again": {"en": "review again ↻", "zh": "再复习 ↻"}, "save": {"en": "save", "zh": "保存"},
    "load": {"en": "load", "zh": "读取"}, "file": {"en": "progress file", "zh": "进度文件"},
    "status": {"en": "{known} of {cards} known · {left} in the queue · {review} to review again",
               "zh": "已掌握 {known}/{cards} 张 · 队列中还有 {left} 张 · 其中 {review} 张待复习"},
    "all known": {"en": "All {cards} card(s) of this selection are known. Change the topic or level for more.",
                  "zh": "这一组的 {cards} 张卡片都已掌握。换一个主题或难度继续练习。"},
    "saved": {"en": "saved {n} card(s) of progress to {path}", "zh": "已把 {n} 张卡片的进度保存到 {path}"},
    "loaded": {"en": "loaded progress on {n} card(s) from {path}", "zh": "已从 {path} 读取 {n} 张卡片的进度"},
    "dropped": {"en": "; {n} card(s) no longer in the bank were dropped", "zh": "；{n} 张题库里已没有的卡片已略去"},
    "outside": {"en": "; {n} queued card(s) outside this topic and level were left out",
                "zh": "；队列中 {n} 张不属于该主题和难度的卡片已略去"},
}


def _langs(lang: str) -> tuple:
    if lang in bank.LANGUAGES:
        return (lang,)
    if lang not in LANG_CHOICES:
        raise ValueError(f"lang is one of {list(LANG_CHOICES)} (or 'en', 'zh'), got {lang!r}")
    return LANG_CHOICES[lang]


def _ui_lang(lang: str) -> str:
    """The language of the interface words: Chinese when only Chinese is shown, English otherwise."""
    return "zh" if _langs(lang) == ("zh",) else "en"


_h = bank.inline_html


def _link_html(link: bank.Link, prefix: str = "") -> str:
    return f'<a href="{html.escape(link.href(prefix=prefix))}" target="_blank">{html.escape(link.label)}</a>'


def _tag(entry: bank.Entry, lang: str = "en") -> str:
    """The card's tag line (topic · level · seed IDs) in ``lang`` ('en' or 'zh')."""
    k = 0 if lang == "en" else 1
    topic, level = bank.TOPICS[entry.topic][k], bank.DIFFICULTY[entry.difficulty][k]
    seeds = ", ".join(entry.seeds) if entry.seeds else _UI["beyond"][lang]
    return f'<span style="color:#555">{html.escape(f"{topic} · {level} · {seeds}")}</span>'


def _source(trap: bank.Trap, lang: str) -> str:
    return _UI["common"][lang] if trap.source == "common" else trap.source


def card_html(entry: bank.Entry, lang: str = "both", revealed: bool = True, long: bool = True, prefix: str = "") -> str:
    """One flashcard as HTML: the question, and once revealed the answer, the trap and the link.

    Every interface word (the tag line, the labels, "common") is in the card's language; with
    ``lang="both"`` the labels follow each language and the tag line is given in both.
    """
    langs = _langs(lang)
    ui = _ui_lang(lang)
    parts = [" / ".join(_tag(entry, g) for g in langs)]
    parts += [f'<div style="font-size:1.2em;font-weight:600;margin:.3em 0">{_h(entry.question[g])}</div>'
              for g in langs]
    if revealed:
        for g in langs:
            parts.append(f"<p><b>{_UI['answer'][g]}.</b> {_h(entry.short[g])}</p>")
        if entry.trap:
            for g in langs:
                parts.append(f'<p style="border-left:4px solid #c0392b;padding-left:.5em"><b>{_UI["trap"][g]}'
                             f' ({html.escape(_source(entry.trap, g))}).</b> ✗ {_h(entry.trap.claim[g])}<br>'
                             f'<b>{_UI["truth"][g]}:</b> ✓ {_h(entry.trap.truth[g])}</p>')
        if long:
            parts.append(f"<details><summary>{_UI['more'][ui]}</summary>{bank.markdown_html(entry.long)}</details>")
        parts.append(f"<p>{_UI['see'][ui]}: {_link_html(entry.link, prefix)}"
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

    def __init__(self, entries=None, topic: str = "all", difficulty="all", lang: str = "both", seed: int = 0,
                 gap: int = 3, path: str = "flashcards_progress.json"):
        self.entries = {e.id: e for e in (bank.load() if entries is None else entries)}
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
        self.lang = W.ToggleButtons(options=list(LANG_CHOICES), value=lang, style={"button_width": "80px"})
        self.card = W.HTMLMath(layout=W.Layout(min_height="160px", border="1px solid #ccc", padding="8px 14px"))
        self.status = W.HTML()
        self.message = W.HTML()
        self.reveal_button = button("", "info", layout=W.Layout(width="170px"))
        self.knew_button = button("", "success", layout=W.Layout(width="130px"))
        self.again_button = button("", "warning", layout=W.Layout(width="150px"))
        self.path = W.Text(value=path, layout=W.Layout(width="420px"), style={"description_width": "initial"})
        self.save_button = W.Button(layout=W.Layout(width="80px"))
        self.load_button = W.Button(layout=W.Layout(width="80px"))
        self.reveal_button.on_click(lambda _: self.reveal())
        self.knew_button.on_click(lambda _: self.mark(True))
        self.again_button.on_click(lambda _: self.mark(False))
        self.save_button.on_click(lambda _: self._guard(lambda: self.save(self.path.value)))
        self.load_button.on_click(lambda _: self._guard(lambda: self.load(self.path.value)))
        self._loading = False
        for w in (self.topic, self.difficulty):
            w.observe(lambda _: None if self._loading else self.restart(), names="value")
        self.lang.observe(lambda _: self.render(), names="value")
        self.widget = W.VBox([W.HBox([self.topic, self.difficulty]), self.lang, self.card,
                              W.HBox([self.reveal_button, self.knew_button, self.again_button]), self.status,
                              W.HBox([self.path, self.save_button, self.load_button]), self.message])
        self.restart()

    @property
    def ui(self) -> str:
        """The interface language: 'zh' in 中文 mode, 'en' otherwise."""
        return _ui_lang(self.lang.value)

    def _say(self, key: str, **values) -> str:
        return _UI[key][self.ui].format(**values)

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
        topics, levels = [v for _, v in self.topic.options], [v for _, v in self.difficulty.options]
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


# ------------------------------------------------------------------------------------------ quiz


@dataclass
class QuizItem:
    """One computed question: ``answer`` came out of a function, never out of the prose."""

    id: str
    prompt: dict                   # {"en": ..., "zh": ...}
    answer: object                 # the option's label (choice) or a float (number)
    explain: dict
    link: bank.Link
    options: list | None = None    # None for a numeric question
    tolerance: float = 0.02        # relative, for numbers

    @property
    def kind(self) -> str:
        return "number" if self.options is None else "choice"

    def is_right(self, value) -> bool:
        """Whether ``value`` is the computed answer: an option's label, or a number of any numeric type.

        A number may come as ``int``, ``float``, a NumPy scalar, a 0-d tensor or the text of a number
        (what a text box holds); an empty box, ``None``, a bool, NaN or infinity is never right.
        """
        if self.options is not None:
            if isinstance(value, str) and value.strip() == str(self.answer):
                return True
            # a numeric option may also be given as a number: 0.5 or "0.50" for the option "0.5"
            label, v = _number(str(self.answer)), _number(value)
            return label is not None and v is not None and math.isclose(v, label, rel_tol=1e-9, abs_tol=1e-12)
        v = _number(value)
        return v is not None and abs(v - self.answer) <= self.tolerance * max(abs(self.answer), 1.0)

    def shown_answer(self) -> str:
        return str(self.answer) if self.options is not None else f"{self.answer:.3g}"


def _number(value) -> float | None:
    """A quiz answer as a finite float: any numeric type, or the text of a number; None otherwise."""
    if isinstance(value, str):
        text = value.strip().replace("−", "-")
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            return None
    return as_number(value)


def _logits(rng: random.Random, n: int = 5) -> torch.Tensor:
    return torch.tensor([[round(rng.uniform(-3, 5), 1) for _ in range(n)]])


def _fmt(z: torch.Tensor) -> str:
    return "[" + ", ".join(f"{v:g}" for v in z.flatten().tolist()) + "]"


def q_entropy(rng):
    z, T = _logits(rng), rng.choice([2, 4, 8])
    h = entropy(soft_targets(z, T)).item()
    return QuizItem("entropy", {"en": f"Logits z = {_fmt(z)}. What is the entropy, in bits, of softmax(z / T) at T = {T}?",
                                "zh": f"logits 为 z = {_fmt(z)}。温度 T = {T} 时，softmax(z / T) 的熵是多少比特？"},
                    h, {"en": "Soften first, then H = −Σ p log₂ p. A higher T spreads the mass, so the entropy rises "
                              "towards log₂ 5 ≈ 2.32 bits.",
                        "zh": "先用温度软化，再算 H = −Σ p log₂ p。T 越高分布越平，熵趋近 log₂ 5 ≈ 2.32 比特。"},
                    bank.Link("03_temperature", "2"))


def q_t_squared(rng):
    z, v, T = _logits(rng), _logits(rng), rng.choice([2, 3, 4, 5, 8, 10])
    grads = []
    for scale in (True, False):
        s = z.clone().requires_grad_(True)
        soft_loss(s, v, T, scale=scale).backward()
        grads.append(s.grad.norm().item())
    ratio = grads[0] / grads[1]
    return QuizItem("t-squared", {"en": f"At T = {T}, how many times larger is the student-logit gradient of "
                                        "T²·KL(p_T ‖ q_T) than that of KL(p_T ‖ q_T) alone?",
                                  "zh": f"T = {T} 时，T²·KL(p_T ‖ q_T) 对学生 logits 的梯度是单独 KL(p_T ‖ q_T) 的多少倍？"},
                    ratio, {"en": "Autograd on kdnb.losses.soft_loss with and without the factor: the ratio is T², the "
                                  "factor that undoes the 1/T² shrinkage of the softened gradients.",
                            "zh": "用 autograd 分别对带和不带 T² 的 soft_loss 求梯度：比值正好是 T²，抵消了软化带来的 1/T² 缩小。"},
                    bank.Link("03_temperature", "4"), tolerance=1e-3)


def q_batchmean(rng):
    n, c = rng.choice([16, 32, 64]), rng.choice([5, 10, 100])
    g = torch.Generator().manual_seed(rng.randrange(10 ** 6))
    log_q = F.log_softmax(torch.randn(n, c, generator=g), -1)
    p = F.softmax(torch.randn(n, c, generator=g), -1)
    with warnings.catch_warnings():  # torch warns that 'mean' is not the KL divergence: that is the point
        warnings.filterwarnings("ignore", message="reduction: 'mean' divides", category=UserWarning)
        ratio = (F.kl_div(log_q, p, reduction="batchmean") / F.kl_div(log_q, p, reduction="mean")).item()
    return QuizItem("batchmean", {"en": f"A batch of {n} examples over {c} classes. By what factor is "
                                        "F.kl_div(..., reduction='batchmean') larger than with reduction='mean'?",
                                  "zh": f"一个批次有 {n} 个样本、{c} 个类别。F.kl_div 用 reduction='batchmean' "
                                        "比用 reduction='mean' 大多少倍？"},
                    ratio, {"en": "'mean' divides the summed KL by N·C, 'batchmean' by N: the ratio is the number of "
                                  "classes, which is why only 'batchmean' is the KL divergence per example.",
                            "zh": "'mean' 除以 N·C，'batchmean' 只除以 N，二者相差类别数 C；只有 'batchmean' 才是每个样本的 KL散度。"},
                    bank.Link("04_distillation_losses", "5.1"), tolerance=1e-3)


def q_seed_weights(rng):
    T = rng.choice([0.25, 0.4, 0.5, 0.8])
    t = 1 / T
    return QuizItem("seed-weights", {"en": f"Seed 002-S3 sets t = 1/T and weights its teacher term by (1 − t). "
                                           f"With its 'usual' T = {T:g}, what is that weight?",
                                     "zh": f"种子题 002-S3 令 t = 1/T，教师项的权重为 (1 − t)。按它所说的 T = {T:g}，"
                                           "这个权重是多少？"},
                    1 - t, {"en": "T below 1 makes t above 1 and the teacher's weight negative, on a term whose gradient is "
                                  "zero anyway: distillation uses T ≥ 1 inside the softmax.",
                            "zh": "T 小于 1 时 t 大于 1，教师项权重为负，而这一项对学生本来就没有梯度；知识蒸馏在 softmax 里用 T ≥ 1。"},
                    bank.Link("03_temperature", "5"), tolerance=1e-6)


def q_l1_l2(rng):
    g = torch.Generator().manual_seed(rng.randrange(10 ** 6))
    rows, cols = rng.choice([16, 32, 64]), rng.choice([16, 32, 64])
    w = torch.randn(rows, cols, generator=g)
    amount = rng.choice([0.25, 0.5, 0.75])
    if rng.random() < 0.5:  # single weights: |w| and w² rank them alike
        what = {"en": "single weights", "zh": "单个权重（非结构化剪枝）"}
        ranks = {"en": "once ranking by |w| (L1) and once by w² (L2)", "zh": "一次按 |w|（L1）排序，一次按 w²（L2）排序"}
        m1 = prune.L1Unstructured(amount).compute_mask(w.abs(), torch.ones_like(w))
        m2 = prune.L1Unstructured(amount).compute_mask(w.pow(2), torch.ones_like(w))
    else:  # whole rows: the L1 and the L2 norm of a row rank the rows differently
        what = {"en": "rows (structured, dim=0)", "zh": "整行（结构化剪枝，dim=0）"}
        ranks = {"en": "once ranking rows by their L1 norm (n=1) and once by their L2 norm (n=2)",
                 "zh": "一次按行的 L1 范数（n=1）排序，一次按 L2 范数（n=2）排序"}
        m1 = prune.LnStructured(amount, n=1, dim=0).compute_mask(w, torch.ones_like(w))
        m2 = prune.LnStructured(amount, n=2, dim=0).compute_mask(w, torch.ones_like(w))
    differ = int((m1 != m2).sum())
    return QuizItem("l1-l2", {"en": f"Prune {amount:.0%} of the {what['en']} of a {rows}×{cols} weight matrix (seeded "
                                    f"random normal), {ranks['en']}. How many entries of the two masks differ?",
                              "zh": f"对一个 {rows}×{cols} 的随机正态权重矩阵剪掉 {amount:.0%} 的{what['zh']}：{ranks['zh']}。"
                                    "两个掩码有多少个位置不同？"},
                    float(differ), {"en": "|w| and w² rank single weights in the same order, so their masks are "
                                          "identical; the L1 and L2 norms of a group (a row, a channel) can rank the "
                                          "groups differently, so structured masks can differ.",
                                    "zh": "|w| 与 w² 对单个权重的排序完全相同，所以非结构化掩码一样；按组（行、通道）剪枝时，"
                                          "L1 和 L2 范数对各组的排序可能不同，掩码就可能不同。"},
                    bank.Link("06_pruning_and_compression", "3"), tolerance=0.0)


def q_closest_one_hot(rng):
    z = _logits(rng)
    options = sorted(rng.sample(["0.25", "0.5", "1", "2", "4", "8", "20"], 4), key=float)
    rng.shuffle(options)
    sharp = rng.random() < 0.5
    tops = [soft_targets(z, float(T)).max().item() for T in options]
    pick = max if sharp else min
    answer = options[pick(range(4), key=lambda i: tops[i])]
    goal = ({"en": "closest to one-hot (the largest top probability)", "zh": "最接近 one-hot（最大概率最高）"} if sharp
            else {"en": "closest to uniform (the smallest top probability)", "zh": "最接近均匀分布（最大概率最低）"})
    return QuizItem("one-hot", {"en": f"Logits z = {_fmt(z)}. Which T makes softmax(z / T) {goal['en']}?",
                                "zh": f"logits 为 z = {_fmt(z)}。哪个温度 T 让 softmax(z / T) {goal['zh']}？"},
                    answer, {"en": "Dividing by a small T stretches the gaps between logits (T → 0 gives the argmax); a "
                                   "large T shrinks them (T → ∞ gives the uniform distribution). Distillation uses T ≥ 1.",
                             "zh": "除以较小的 T 会拉大 logits 之间的差距（T → 0 时退化为 argmax）；较大的 T 缩小差距"
                                   "（T → ∞ 时趋于均匀分布）。知识蒸馏用 T ≥ 1。"},
                    bank.Link("03_temperature", "2"), options)


_ALPHA_GOALS = {
    "hard": ({"en": "plain cross-entropy with the labels", "zh": "只剩与硬标签的交叉熵"}, lambda ce, soft: ce),
    "soft": ({"en": "only the soft term T²·KL(p_T ‖ q_T)", "zh": "只剩软标签项 T²·KL(p_T ‖ q_T)"}, lambda ce, soft: soft),
    "even": ({"en": "the two terms weighted equally", "zh": "两项权重相等"}, lambda ce, soft: 0.5 * (ce + soft)),
}


def q_alpha(rng):
    z, v = _logits(rng), _logits(rng)
    y = torch.tensor([rng.randrange(z.shape[-1])])
    T = rng.choice([2.0, 4.0, 8.0])
    goal = rng.choice(sorted(_ALPHA_GOALS))
    words, target = _ALPHA_GOALS[goal]
    value = target(hard_loss(z, y).item(), soft_loss(z, v, T).item())
    options = ["0", "0.25", "0.5", "1"]
    answer = next(a for a in options if math.isclose(kd_loss(z, v, y, T=T, alpha=float(a)).item(), value, rel_tol=1e-6))
    return QuizItem("alpha", {"en": f"kdnb's kd_loss is (1 − α)·CE(y, q) + α·T²·KL(p_T ‖ q_T). Which α leaves "
                                    f"{words['en']}?",
                              "zh": f"kdnb 的 kd_loss 为 (1 − α)·CE(y, q) + α·T²·KL(p_T ‖ q_T)。α 取多少时{words['zh']}？"},
                    answer, {"en": "α weights the soft (teacher) term and 1 − α the hard one: α = 0 keeps the labels only, "
                                   "α = 1 the teacher only. Papers differ on which term α weights: say which convention "
                                   "you use.",
                             "zh": "α 是软标签项（教师项）的权重，1 − α 是硬标签项的权重：α = 0 只剩标签，α = 1 只剩教师。"
                                   "不同论文中 α 加在哪一项上并不统一，面试时要说明约定。"},
                    bank.Link("04_distillation_losses", "2"), options)


def q_pruned_copies(rng):
    n = rng.choice([32, 64, 128, 256])
    layer = torch.nn.Linear(n, n)
    also_bias, removed = rng.random() < 0.5, rng.random() < 0.5
    prune.l1_unstructured(layer, "weight", amount=rng.choice([0.5, 0.9]))
    if also_bias:
        prune.l1_unstructured(layer, "bias", amount=0.5)
    if removed:
        prune.remove(layer, "weight")
        if also_bias:
            prune.remove(layer, "bias")
    count = len(layer.state_dict())
    what = ({"en": "its weight and its bias", "zh": "权重和偏置"} if also_bias else {"en": "its weight", "zh": "权重"})
    when = ({"en": "and then prune.remove on each", "zh": "并对它们调用 prune.remove 之后"} if removed
            else {"en": "and before prune.remove", "zh": "之后、prune.remove 之前"})
    return QuizItem("pruned-copies", {"en": f"A Linear({n}, {n}) after prune.l1_unstructured on {what['en']}, {when['en']}: "
                                            "how many tensors does its state_dict hold?",
                                      "zh": f"对 Linear({n}, {n}) 的{what['zh']}调用 prune.l1_unstructured {when['zh']}，"
                                            "它的 state_dict 里有几个张量？"},
                      float(count), {"en": "Each pruned tensor is stored as name_orig plus name_mask until prune.remove "
                                           "folds the mask in, so unstructured pruning alone makes the file larger, not "
                                           "smaller.",
                                     "zh": "每个被剪枝的张量在 prune.remove 之前都存成 name_orig 和 name_mask 两份，"
                                           "prune.remove 把掩码并入后才恢复一份；所以单靠非结构化剪枝文件反而更大。"},
                      bank.Link("06_pruning_and_compression", "2"), tolerance=0.0)


def q_ce_minus_kl(rng):
    z, v = _logits(rng), _logits(rng)
    p, log_q = soft_targets(v, 1.0), F.log_softmax(z, -1)
    ce = -(p * log_q).sum().item()
    kl = F.kl_div(log_q, p, reduction="batchmean").item()
    h_p, h_q = entropy(p, base=math.e).item(), entropy(log_q.exp(), base=math.e).item()
    values = {"H(p), the teacher's entropy": h_p, "H(q), the student's entropy": h_q, "KL(p ‖ q)": kl,
              "CE(p, q)": ce, "log C": math.log(z.shape[-1])}
    asks = {"CE(p, q) − KL(p ‖ q)": ce - kl, "CE(p, q) − H(p)": ce - h_p, "H(p) + KL(p ‖ q)": h_p + kl}
    ask = rng.choice(sorted(asks))
    options = list(values)
    rng.shuffle(options)
    answer = min(options, key=lambda k: abs(values[k] - asks[ask]))
    return QuizItem("ce-minus-kl", {"en": f"For a teacher distribution p and a student distribution q over C classes, "
                                          f"{ask} equals which quantity?",
                                    "zh": f"对 C 个类别上的教师分布 p 和学生分布 q，{ask} 等于什么？"},
                    answer, {"en": "CE(p, q) = H(p) + KL(p ‖ q), and H(p) does not depend on the student: the two losses "
                                   "have the same gradient and differ by a constant.",
                             "zh": "CE(p, q) = H(p) + KL(p ‖ q)，H(p) 与学生无关：两个损失梯度相同，只差一个常数。"},
                    bank.Link("04_distillation_losses", "3"), options)


def q_top2(rng):
    z, T = _logits(rng), rng.choice([2, 4, 10])
    top = soft_targets(z, T).topk(2).values[0]
    ratio = (top[0] / top[1]).item()
    return QuizItem("top2", {"en": f"Logits z = {_fmt(z)}. At T = {T}, the most likely class is how many times as likely as "
                                   "the runner-up?",
                             "zh": f"logits 为 z = {_fmt(z)}。T = {T} 时，概率最大的类别是第二名的多少倍？"},
                    ratio, {"en": "The ratio of two softmax probabilities is exp((z₁ − z₂) / T): T divides the logit gap.",
                            "zh": "两个 softmax 概率之比为 exp((z₁ − z₂) / T)：温度 T 缩小的是 logits 之间的差距。"},
                    bank.Link("03_temperature", "2"))


#: The question generators: each draws its inputs from ``rng`` and computes the answer.
GENERATORS = [q_entropy, q_t_squared, q_batchmean, q_seed_weights, q_l1_l2, q_closest_one_hot, q_alpha,
              q_pruned_copies, q_ce_minus_kl, q_top2]


def make_quiz(n: int = 10, seed: int = 0) -> list[QuizItem]:
    """``n`` computed questions (each generator at most once per round), drawn with ``seed``."""
    if n < 1:
        raise ValueError(f"a quiz has at least one question, got n={n}")
    rng = random.Random(seed)
    gens = []
    while len(gens) < n:
        block = GENERATORS[:]
        rng.shuffle(block)
        gens += block
    return [g(rng) for g in gens[:n]]


def quiz_table(items: list[QuizItem], lang: str = "en") -> pd.DataFrame:
    """The static twin of the quiz: each question, its kind and its computed answer."""
    return pd.DataFrame([{"question": it.prompt[lang], "kind": it.kind, "answer": it.shown_answer(),
                          "see": it.link.label} for it in items])


class Quiz:
    """One question at a time: choose or type an answer, check it, see why, go on."""

    def __init__(self, n: int = 8, seed: int = 0, lang: str = "both"):
        self.items, self.lang = make_quiz(n, seed), lang
        self.index, self.results = 0, []
        self.prompt = W.HTML()
        self.choice = W.RadioButtons(layout=W.Layout(width="auto"))
        self.number = W.Text(description="answer", placeholder="type a number", layout=W.Layout(width="220px"))
        self.check_button = button("check", "info")
        self.next_button = W.Button(description="next question →")
        self.feedback = W.HTML()
        self.score = W.HTML()
        self.input_box = W.Box()
        self.check_button.on_click(lambda _: self.answer(self._value()))
        self.next_button.on_click(lambda _: self.next())
        self.widget = W.VBox([self.score, self.prompt, self.input_box, W.HBox([self.check_button, self.next_button]),
                              self.feedback])
        self.render()

    @property
    def current(self) -> QuizItem | None:
        return self.items[self.index] if self.index < len(self.items) else None

    def _value(self):
        item = self.current
        return None if item is None else (self.choice.value if item.options is not None else self.number.value)

    def answer(self, value) -> bool:
        """Check ``value`` against the computed answer; a question counts once, at its first check."""
        item = self.current
        if item is None:
            return False
        if value is None and item.options is not None:
            self.feedback.value = "choose an option first"
            return False
        if item.options is None and (value is None or (isinstance(value, str) and not value.strip())):
            self.feedback.value = "type a number first: an empty box is no answer"
            return False
        right = item.is_right(value)
        if len(self.results) == self.index:
            self.results.append(right)
        langs = _langs(self.lang)
        verdict = "✓ right." if right else f"✗ not quite: the computed answer is {html.escape(item.shown_answer())}."
        self.feedback.value = (f"<p><b>{verdict}</b></p>" + "".join(f"<p>{html.escape(item.explain[g])}</p>" for g in langs)
                               + f"<p>{_UI['see'][langs[0]]}: {_link_html(item.link)}</p>")
        self._score()
        return right

    def next(self) -> None:
        if self.current is not None and len(self.results) == self.index:
            self.results.append(False)  # skipped
        self.index += 1
        self.render()

    def _score(self) -> None:
        self.score.value = f"<b>{sum(self.results)} of {len(self.results)} right</b> · question " \
                           f"{min(self.index + 1, len(self.items))} of {len(self.items)}"

    def render(self) -> None:
        item = self.current
        self.feedback.value = ""
        if item is None:
            self.prompt.value = f"<p style='font-size:1.2em'>Done: {sum(self.results)} of {len(self.items)} right.</p>"
            self.input_box.children = ()
            self.check_button.disabled = self.next_button.disabled = True
        else:
            self.prompt.value = "".join(f"<p style='font-size:1.15em'>{html.escape(item.prompt[g])}</p>"
                                        for g in _langs(self.lang))
            if item.options is not None:
                self.choice.options, self.choice.value = item.options, None
                self.input_box.children = (self.choice,)
            else:
                self.number.value = ""
                self.input_box.children = (self.number,)
        self._score()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


# ------------------------------------------------------------------------------- mock interview

SCORES = {"nailed it": 2, "partly": 1, "missed it": 0}


@dataclass
class _Asked:
    entry: bank.Entry
    seconds: float | None = None
    score: int | None = None


class MockInterview:
    """``n`` random questions, one topic after another, ``seconds`` each to answer aloud.

    *show the answer* stops the clock and reveals the model answer and the trap; the reader rates
    the attempt; after the last question :meth:`summary` lists the weak topics with their links.
    ``clock`` is injectable so tests (and the notebook's static twin) replay an interview.
    """

    def __init__(self, entries=None, n: int = 6, seconds: int = 90, seed: int | None = None, lang: str = "English",
                 clock: Callable[[], float] = time.monotonic):
        entries = bank.load() if entries is None else list(entries)
        if not 1 <= n <= len(entries):
            raise ValueError(f"n is between 1 and the {len(entries)} questions in the bank, got {n}")
        if seconds <= 0:
            raise ValueError(f"seconds is the time per question, a positive number; got {seconds}")
        self.n, self.seconds, self.lang, self.clock = n, seconds, lang, clock
        self.rng = random.Random(seed)
        self.entries = entries
        self.asked: list[_Asked] = []
        self.started = None
        self.revealed = False
        self.timer = W.HTML()
        self.card = W.HTMLMath(layout=W.Layout(min_height="120px", border="1px solid #ccc", padding="8px 14px"))
        self.start_button = button("start the interview", "primary", layout=W.Layout(width="180px"))
        self.show_button = button("show the answer", "info", layout=W.Layout(width="160px"))
        self.rate_buttons = [button(k, {2: "success", 1: "warning", 0: "danger"}[v], layout=W.Layout(width="110px"))
                             for k, v in SCORES.items()]
        self.report = W.HTML()
        self.start_button.on_click(lambda _: self.start())
        self.show_button.on_click(lambda _: self.reveal())
        for b in self.rate_buttons:
            b.on_click(lambda b: self.rate(SCORES[b.description]))
        self.widget = W.VBox([W.HBox([self.start_button, self.timer]), self.card,
                              W.HBox([self.show_button] + self.rate_buttons), self.report])
        self._task = None
        self._confirming = False
        self.render()

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
            self.report.value = (f"<p style='color:#c0392b'><b>An interview is running</b> (question {self.position + 1} "
                                 f"of {len(self.asked)}). Press <b>start</b> again to abandon it and start a new one; "
                                 "answer on to keep it.</p>")
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
        out["weak"] = out["score"] < 0.75
        return out.sort_values(["score", "topic"]).reset_index(drop=True)

    def summary_html(self) -> str:
        table = self.summary()
        if table.empty:
            return ""
        total = table["points"].sum() / (2 * table["questions"].sum())
        lines = [f"<p><b>Score {total:.0%}</b> over {int(table['questions'].sum())} questions.</p><ul>"]
        for _, r in table.iterrows():
            links = ", ".join(dict.fromkeys(_link_html(s) for s in r["sections"]))
            mark = "weak: revise " + links if r["weak"] else "solid"
            lines.append(f"<li><b>{html.escape(r['topic'])}</b>: {r['score']:.0%} · {mark}</li>")
        return "".join(lines) + "</ul>"

    def render(self) -> None:
        a = self.current
        if a is None:
            self.card.value = ("<p>Press <b>start</b>: questions from every topic, one at a time. Answer aloud "
                               f"within {self.seconds} s, then show the model answer and rate yourself honestly.</p>"
                               if not self.asked else "<p>Interview over: your summary is below.</p>")
            self.timer.value = ""
        else:
            k = self.position + 1
            head = f"<p style='color:#555'>question {k} of {len(self.asked)}</p>"
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
        self.timer.value = (f"<span style='font-size:1.3em;color:{colour}'>time {spent:.0f} s of {self.seconds} s"
                            + (" · over time" if over else "") + "</span>")

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


# ------------------------------------------------------------------------------- the trap gallery


def trap_table(entries=None, lang: str = "en") -> pd.DataFrame:
    """Every trap: where the claim comes from, the claim, the verdict, what holds, the section."""
    rows = [{"source": e.trap.source, "claim": e.trap.claim[lang], "verdict": "wrong" if lang == "en" else "错误",
             "what holds": e.trap.truth[lang], "disproved in": e.trap_link.label, "entry": e.id}
            for e in bank.traps(entries)]
    return pd.DataFrame(rows, columns=["source", "claim", "verdict", "what holds", "disproved in", "entry"])


def trap_gallery(entries=None, lang: str = "both", topic: str = "all") -> str:
    """The trap gallery as HTML: claim ✗, what holds ✓, and a link to the section that shows it."""
    langs = _langs(lang)
    rows = []
    for e in bank.traps(entries):
        if topic not in ("all", e.topic):
            continue
        claim = "<br>".join(f"✗ {_h(e.trap.claim[g])}" for g in langs)
        truth = "<br>".join(f"✓ {_h(e.trap.truth[g])}" for g in langs)
        rows.append(f"<tr>{_TD}{html.escape(e.trap.source)}</td>{_TD}{claim}</td>{_TD}{truth}</td>"
                    f"{_TD}{_link_html(e.trap_link)}</td></tr>")
    head = f"<tr>{_TH}source</th>{_TH}claim</th>{_TH}what holds</th>{_TH}shown in</th></tr>"
    return (f'<table style="text-align:left;border-collapse:collapse" class="kdnb-traps">{head}'
            + "".join(rows) + "</table>")


# ------------------------------------------------------------------------------------ the bank


def bank_summary(entries=None) -> pd.DataFrame:
    """Entries per topic and level, seed coverage and traps: the bank in one table."""
    entries = bank.load() if entries is None else entries
    rows = []
    for t, (name, zh) in bank.TOPICS.items():
        es = [e for e in entries if e.topic == t]
        rows.append({"topic": f"{name} · {zh}", "entries": len(es),
                     **{bank.DIFFICULTY[d][0]: sum(e.difficulty == d for e in es) for d in bank.DIFFICULTY},
                     "beyond the seeds": sum(not e.seeds for e in es), "traps": sum(e.trap is not None for e in es)})
    table = pd.DataFrame(rows)
    total = table.drop(columns="topic").sum()
    return pd.concat([table, pd.DataFrame([{"topic": "all", **total.to_dict()}])], ignore_index=True)


def formula_sheet(entries=None) -> str:
    """Every formula in the bank, as Markdown with display maths, under its question."""
    entries = bank.load() if entries is None else entries
    return "\n\n".join(f"**{e.question['en']}** ({e.link.markdown(prefix='')})\n$$\n{e.formula}\n$$"
                       for e in entries if e.formula)


def references(entries=None) -> list[str]:
    """The papers the bank's answers cite, each once, sorted."""
    entries = bank.load() if entries is None else entries
    return sorted({e.cite for e in entries if e.cite})


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
            return f"give the entropy as one finite number of bits, got {type(answer).__name__}"
        if abs(v - right) <= 5e-3:  # three significant figures are enough
            return None
        if abs(v - entropy(soft_targets(logits, 1.0)).item()) < 1e-3:
            return "that is the entropy at T = 1: divide the logits by T before the softmax"
        if abs(v - entropy(soft_targets(logits, T), base=math.e).item()) < 1e-3:
            return "that is in nats (natural log): use log base 2 for bits"
        if abs(v - entropy(torch.softmax(logits, -1) / T).item()) < 1e-3:
            return "you divided the probabilities by T: temperature divides the logits, inside the softmax"
        return "not the entropy of softmax(z / T): compute p = softmax(z / T), then −Σ p log₂ p"

    return check("Check yourself 3.1", value, diagnose, todo="set entropy_bits to a number, then rerun the cell",
                 praise=f"softening by T = {T:g} raised the entropy; the uniform limit over {len(z)} classes is "
                        f"log₂ {len(z)} = {math.log2(len(z)):.0f} bits")


def most_asked(entries=None, lang: str = "both") -> str:
    """The most-asked questions (:func:`kdnb.bank.most_asked`) with their 30-second answers, as HTML.

    The rule is computed from the seed IDs, not chosen by hand: every entry that answers two or more
    seed IDs, and in a topic without one, the entry that answers the most. The cheat sheet prints
    the same list.
    """
    entries = bank.load() if entries is None else entries
    langs = _langs(lang)
    rows = []
    for e in bank.most_asked(entries):
        q = "<br>".join(f"<b>{_h(e.question[g])}</b>" for g in langs)
        a = "<br>".join(_h(e.short[g]) for g in langs)
        rows.append(f"<tr>{_TD}{html.escape(bank.TOPICS[e.topic][0])}</td>{_TD}{q}<br><span style='color:#555'>"
                    f"{html.escape(', '.join(e.seeds))}</span></td>{_TD}{a}</td>"
                    f"{_TD}{_link_html(e.link)}</td></tr>")
    return (f"<table style='text-align:left'><tr>{_TH}topic</th>{_TH}question</th>{_TH}30-second answer</th>{_TH}section</th></tr>"
            + "".join(rows) + "</table>")
