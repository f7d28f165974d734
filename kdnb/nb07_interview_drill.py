"""Notebook 07, the interview drill: flashcards, computed quizzes, a mock interview, the trap gallery.

Everything here reads the question bank (:mod:`kdnb.bank`); nothing is typed twice.

* :class:`Flashcards`: cards filtered by topic and difficulty, in English, Chinese or both.
  Reveal the answer, then mark *knew it* or *review again*. A missed card comes back a few cards
  later and again after a longer gap until it is known (spaced repetition within the session);
  progress saves to a JSON file and loads back.
* :class:`Quiz`: multiple-choice and numeric questions whose answers are **computed** by the
  workbook's own functions (:func:`kdnb.temperature.soft_targets`, :func:`kdnb.losses.soft_loss`,
  ``torch.nn.utils.prune`` …) from freshly drawn logits, so no answer is typed by hand.
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
from .exercises import Verdict, check
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
_UI = {  # the few interface words, in both languages
    "question": {"en": "Question", "zh": "问题"}, "answer": {"en": "30-second answer", "zh": "30 秒回答"},
    "trap": {"en": "Interview trap", "zh": "面试陷阱"}, "truth": {"en": "What holds", "zh": "正确说法"},
    "more": {"en": "The longer answer", "zh": "详细解答（英文）"}, "see": {"en": "See", "zh": "参见"},
}


def _langs(lang: str) -> tuple:
    if lang in bank.LANGUAGES:
        return (lang,)
    if lang not in LANG_CHOICES:
        raise ValueError(f"lang is one of {list(LANG_CHOICES)} (or 'en', 'zh'), got {lang!r}")
    return LANG_CHOICES[lang]


_h = bank.inline_html


def _link_html(link: bank.Link, prefix: str = "") -> str:
    return f'<a href="{html.escape(link.href(prefix=prefix))}" target="_blank">{html.escape(link.label)}</a>'


def _tag(entry: bank.Entry) -> str:
    topic = bank.TOPICS[entry.topic][0]
    level = bank.DIFFICULTY[entry.difficulty][0]
    seeds = f" · {', '.join(entry.seeds)}" if entry.seeds else " · beyond the seeds"
    return f'<span style="color:#555">{html.escape(topic)} · {level}{html.escape(seeds)}</span>'


def card_html(entry: bank.Entry, lang: str = "both", revealed: bool = True, long: bool = True, prefix: str = "") -> str:
    """One flashcard as HTML: the question, and once revealed the answer, the trap and the link."""
    langs = _langs(lang)
    parts = [_tag(entry)]
    parts += [f'<div style="font-size:1.2em;font-weight:600;margin:.3em 0">{_h(entry.question[g])}</div>'
              for g in langs]
    if revealed:
        for g in langs:
            parts.append(f"<p><b>{_UI['answer'][g]}.</b> {_h(entry.short[g])}</p>")
        if entry.trap:
            for g in langs:
                parts.append(f'<p style="border-left:4px solid #c0392b;padding-left:.5em"><b>{_UI["trap"][g]}'
                             f' ({html.escape(entry.trap.source)}).</b> ✗ {_h(entry.trap.claim[g])}<br>'
                             f'<b>{_UI["truth"][g]}:</b> ✓ {_h(entry.trap.truth[g])}</p>')
        if long:
            parts.append(f"<details><summary>{_UI['more'][langs[0]]}</summary>{bank.markdown_html(entry.long)}</details>")
        parts.append(f"<p>{_UI['see'][langs[0]]}: {_link_html(entry.link, prefix)}"
                     + (f" · {html.escape(entry.cite)}" if entry.cite else "") + "</p>")
    return '<div style="font-size:15px;line-height:1.45">' + "\n".join(parts) + "</div>"


# ------------------------------------------------------------------------------------- flashcards


class Flashcards:
    """Flashcards with an in-session review queue.

    A card known the first time it is shown leaves the queue. *Review again* puts it back ``gap``
    cards later; a card missed once must then be known twice in a row, the second time after a
    longer wait of ``2 * gap`` cards, before it leaves (spaced repetition within the session).
    """

    def __init__(self, entries=None, topic: str = "all", difficulty="all", lang: str = "both", seed: int = 0,
                 gap: int = 3, path: str = "flashcards_progress.json"):
        self.entries = {e.id: e for e in (bank.load() if entries is None else entries)}
        if gap < 1:
            raise ValueError(f"gap is the number of cards before a missed card returns, at least 1; got {gap}")
        self.gap, self.rng = gap, random.Random(seed)
        self.stats: dict[str, dict] = {}
        self.queue: list[str] = []
        self.revealed = False
        topics = [("all topics", "all")] + [(f"{v[0]} · {v[1]}", k) for k, v in bank.TOPICS.items()]
        levels = [("all levels", "all")] + [(f"{k} · {v[0]}", k) for k, v in bank.DIFFICULTY.items()]
        self.topic = W.Dropdown(options=topics, value=topic, description="topic", layout=W.Layout(width="330px"))
        self.difficulty = W.Dropdown(options=levels, value=difficulty, description="level", layout=W.Layout(width="220px"))
        self.lang = W.ToggleButtons(options=list(LANG_CHOICES), value=lang, style={"button_width": "80px"})
        self.card = W.HTMLMath(layout=W.Layout(min_height="160px", border="1px solid #ccc", padding="8px 14px"))
        self.status = W.HTML()
        self.message = W.HTML()
        self.reveal_button = button("reveal the answer", "info", layout=W.Layout(width="170px"))
        self.knew_button = button("knew it ✓", "success", layout=W.Layout(width="130px"))
        self.again_button = button("review again ↻", "warning", layout=W.Layout(width="150px"))
        self.path = W.Text(value=path, description="progress file", layout=W.Layout(width="420px"),
                           style={"description_width": "initial"})
        self.save_button = W.Button(description="save", layout=W.Layout(width="80px"))
        self.load_button = W.Button(description="load", layout=W.Layout(width="80px"))
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
        self.message.value = f"saved {len(self.stats)} card(s) of progress to {html.escape(str(path))}"
        return path

    def load(self, path) -> None:
        """Resume from a file written by :meth:`save`; cards no longer in the bank are dropped."""
        path = Path(path).expanduser()
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"no progress file at {path}: save one first, or check the path") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path.name} is not a flashcards progress file (not JSON: {err}); choose the file "
                             "that 'save' wrote") from None
        if not isinstance(state, dict) or state.get("format") != "kdnb-flashcards":
            raise ValueError(f"{path.name} is JSON but not a flashcards progress file; choose the file that 'save' wrote")
        topics, levels = [v for _, v in self.topic.options], [v for _, v in self.difficulty.options]
        if state.get("topic") not in topics or state.get("difficulty") not in levels:
            raise ValueError(f"{path.name} names a topic or level this bank does not have "
                             f"({state.get('topic')!r}, {state.get('difficulty')!r}); save the progress again")
        stats = {k: v for k, v in state.get("stats", {}).items() if k in self.entries}
        dropped = len(state.get("stats", {})) - len(stats)
        self._loading = True  # setting the filters must not reshuffle the saved queue
        try:
            self.topic.value, self.difficulty.value = state["topic"], state["difficulty"]
        finally:
            self._loading = False
        self.lang.value = state.get("lang", self.lang.value)
        self.stats = stats
        self.queue = [i for i in state.get("queue", []) if i in self.entries]
        self.revealed = False
        self.message.value = (f"loaded progress on {len(stats)} card(s) from {html.escape(str(path))}"
                              + (f"; {dropped} card(s) no longer in the bank were dropped" if dropped else ""))
        self.render()

    def _guard(self, action: Callable) -> None:
        try:
            action()
        except (OSError, ValueError) as err:
            self.message.value = f'<span style="color:#c0392b">✗ {html.escape(str(err))}</span>'

    # the view
    def render(self) -> None:
        e = self.current
        if e is None:
            p = self.progress()
            self.card.value = (f"<p style='font-size:1.2em'>All {p['cards']} card(s) of this selection are known. "
                               "Change the topic or level for more.</p>")
        else:
            self.card.value = card_html(e, self.lang.value, self.revealed)
        self.reveal_button.disabled = e is None or self.revealed
        self.knew_button.disabled = self.again_button.disabled = e is None or not self.revealed
        p = self.progress()
        self.status.value = (f"{p['known']} of {p['cards']} known · {p['left']} in the queue · "
                             f"{p['to review']} to review again")

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
        if self.options is not None:
            return str(value) == str(self.answer)
        try:
            v = float(value)
        except (TypeError, ValueError):
            return False
        return math.isfinite(v) and abs(v - self.answer) <= self.tolerance * max(abs(self.answer), 1.0)

    def shown_answer(self) -> str:
        return str(self.answer) if self.options is not None else f"{self.answer:.3g}"


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
    z, v, T = _logits(rng), _logits(rng), rng.choice([2, 4, 8])
    grads = []
    for scale in (True, False):
        s = z.clone().requires_grad_(True)
        soft_loss(s, v, T, scale=scale).backward()
        grads.append(s.grad.norm().item())
    ratio = grads[0] / grads[1]
    options = ["T", "T²", "1/T", "1/T²"]
    values = [T, T * T, 1 / T, 1 / T ** 2]
    answer = options[min(range(4), key=lambda i: abs(values[i] - ratio))]
    return QuizItem("t-squared", {"en": f"At T = {T}, how much larger is the student-logit gradient of T²·KL(p_T ‖ q_T) "
                                        "than that of KL(p_T ‖ q_T) alone?",
                                  "zh": f"T = {T} 时，T²·KL(p_T ‖ q_T) 对学生 logits 的梯度是单独 KL(p_T ‖ q_T) 的多少倍？"},
                    answer, {"en": "Autograd on kdnb.losses.soft_loss with and without the factor: the ratio is exactly T², "
                                   "the factor that undoes the 1/T² shrinkage of the softened gradients.",
                             "zh": "用 autograd 分别对带和不带 T² 的 soft_loss 求梯度：比值正好是 T²，抵消了软化带来的 1/T² 缩小。"},
                    bank.Link("03_temperature", "4"), options)


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
    T = rng.choice([0.25, 0.5, 0.8])
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
    w = torch.randn(64, 64, generator=g)
    amount = rng.choice([0.3, 0.5, 0.9])
    m1 = prune.L1Unstructured(amount).compute_mask(w.abs(), torch.ones_like(w))
    m2 = prune.L1Unstructured(amount).compute_mask(w.pow(2), torch.ones_like(w))
    differ = int((m1 != m2).sum())
    return QuizItem("l1-l2", {"en": f"Prune {amount:.0%} of a 64×64 weight matrix's single weights, once ranking by |w| (L1) "
                                    "and once by w² (L2). How many entries of the two masks differ?",
                              "zh": f"对一个 64×64 的权重矩阵做非结构化剪枝，剪掉 {amount:.0%}：一次按 |w|（L1）排序，"
                                    "一次按 w²（L2）排序。两个掩码有多少个位置不同？"},
                    float(differ), {"en": "|w| and w² rank single weights in the same order, so the masks are identical. "
                                          "The norms differ only for groups of weights (rows, channels).",
                                    "zh": "|w| 与 w² 对单个权重的排序完全相同，所以掩码一样；只有按组（行、通道）剪枝时两种范数才有区别。"},
                    bank.Link("06_pruning_and_compression", "3"), tolerance=0.0)


def q_closest_one_hot(rng):
    z = _logits(rng)
    options = ["0.25", "1", "4", "20"]
    tops = [soft_targets(z, float(T)).max().item() for T in options]
    answer = options[max(range(4), key=lambda i: tops[i])]
    return QuizItem("one-hot", {"en": f"Logits z = {_fmt(z)}. Which T makes softmax(z / T) closest to one-hot?",
                                "zh": f"logits 为 z = {_fmt(z)}。哪个温度 T 让 softmax(z / T) 最接近 one-hot？"},
                    answer, {"en": "Dividing by a small T stretches the gaps between logits: as T → 0 the softmax becomes "
                                   "the argmax. Distillation goes the other way, T ≥ 1.",
                             "zh": "除以较小的 T 会拉大 logits 之间的差距，T → 0 时 softmax 退化为 argmax；知识蒸馏则相反，用 T ≥ 1。"},
                    bank.Link("03_temperature", "2"), options)


def q_alpha(rng):
    z, v = _logits(rng), _logits(rng)
    y = torch.tensor([int(z.argmax())])
    T = rng.choice([2.0, 4.0])
    options = ["0", "0.5", "1"]
    hard = hard_loss(z, y).item()
    answer = next(a for a in options if math.isclose(kd_loss(z, v, y, T=T, alpha=float(a)).item(), hard, rel_tol=1e-6))
    return QuizItem("alpha", {"en": "kdnb's kd_loss is (1 − α)·CE(y, q) + α·T²·KL(p_T ‖ q_T). Which α leaves plain "
                                    "cross-entropy with the labels?",
                              "zh": "kdnb 的 kd_loss 为 (1 − α)·CE(y, q) + α·T²·KL(p_T ‖ q_T)。α 取多少时只剩与硬标签的交叉熵？"},
                    answer, {"en": "α weights the soft (teacher) term, so α = 0 removes it. Papers differ on which term α "
                                   "weights: always say which convention you use.",
                             "zh": "α 是软标签项（教师项）的权重，α = 0 时这一项消失。不同论文中 α 加在哪一项上并不统一，面试时要说明约定。"},
                    bank.Link("04_distillation_losses", "2"), options)


def q_pruned_copies(rng):
    n = rng.choice([300, 800, 1200])
    layer = torch.nn.Linear(n, n)
    prune.l1_unstructured(layer, "weight", amount=rng.choice([0.5, 0.9]))
    copies = sum(1 for t in layer.state_dict().values() if t.shape == (n, n))
    return QuizItem("pruned-copies", {"en": f"After prune.l1_unstructured on a Linear({n}, {n}) and before prune.remove, "
                                            f"how many {n}×{n} tensors does its state_dict hold?",
                                      "zh": f"对 Linear({n}, {n}) 调用 prune.l1_unstructured 之后、prune.remove 之前，"
                                            f"它的 state_dict 里有几个 {n}×{n} 的张量？"},
                      float(copies), {"en": "weight_orig and weight_mask: a masked layer is stored twice until prune.remove, "
                                            "so unstructured pruning alone makes the file larger, not smaller.",
                                      "zh": "weight_orig 和 weight_mask 各一个：在 prune.remove 之前，被剪枝的层要存两份，"
                                            "所以单靠非结构化剪枝文件反而更大。"},
                      bank.Link("06_pruning_and_compression", "2"), tolerance=0.0)


def q_ce_minus_kl(rng):
    z, v = _logits(rng), _logits(rng)
    p, log_q = soft_targets(v, 1.0), F.log_softmax(z, -1)
    ce = -(p * log_q).sum().item()
    kl = F.kl_div(log_q, p, reduction="batchmean").item()
    candidates = {"H(p), the teacher's entropy": entropy(p, base=math.e).item(),
                  "H(q), the student's entropy": entropy(log_q.exp(), base=math.e).item(),
                  "log C": math.log(z.shape[-1]), "0": 0.0}
    answer = min(candidates, key=lambda k: abs(candidates[k] - (ce - kl)))
    return QuizItem("ce-minus-kl", {"en": "For a teacher distribution p and a student distribution q, CE(p, q) − KL(p ‖ q) "
                                          "equals which quantity?",
                                    "zh": "对教师分布 p 和学生分布 q，交叉熵 CE(p, q) 减去 KL散度 KL(p ‖ q) 等于什么？"},
                    answer, {"en": "CE(p, q) = H(p) + KL(p ‖ q), and H(p) does not depend on the student: the two losses have "
                                   "the same gradient and differ by a constant.",
                             "zh": "CE(p, q) = H(p) + KL(p ‖ q)，H(p) 与学生无关：两个损失梯度相同，只差一个常数。"},
                    bank.Link("04_distillation_losses", "3"), list(candidates))


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
        self.number = W.FloatText(description="answer", layout=W.Layout(width="220px"))
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
                self.number.value = 0.0
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

    def start(self) -> None:
        self.asked = [_Asked(e) for e in self.pick()]
        self.report.value = ""
        self._begin()

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

    def reveal(self) -> None:
        a = self.current
        if a is None or self.revealed:
            return
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
    """Check yourself 3.1: the entropy, in bits, of softmax(z / T)."""
    logits = torch.tensor([list(z)])
    right = entropy(soft_targets(logits, T)).item()

    def diagnose(v):
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return f"give the entropy as a number of bits, got {type(v).__name__}"
        if abs(v - right) < 1e-3:
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
    """Per topic, the entry that answers the most seed IDs, with its 30-second answer (HTML)."""
    entries = bank.load() if entries is None else entries
    langs = _langs(lang)
    rows = []
    for t, es in bank.by_topic(entries).items():
        if not es:
            continue
        e = max(es, key=lambda e: len(e.seeds))  # the first of equals, in bank order
        q = "<br>".join(f"<b>{_h(e.question[g])}</b>" for g in langs)
        a = "<br>".join(_h(e.short[g]) for g in langs)
        rows.append(f"<tr>{_TD}{html.escape(bank.TOPICS[t][0])}</td>{_TD}{q}<br><span style='color:#555'>"
                    f"{html.escape(', '.join(e.seeds) or 'beyond the seeds')}</span></td>{_TD}{a}</td>"
                    f"{_TD}{_link_html(e.link)}</td></tr>")
    return (f"<table style='text-align:left'><tr>{_TH}topic</th>{_TH}question</th>{_TH}30-second answer</th>{_TH}section</th></tr>"
            + "".join(rows) + "</table>")
