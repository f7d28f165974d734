"""The interface words of every drill widget, in English and Chinese, and the small HTML pieces they share."""

from __future__ import annotations

import html

from .. import bank
from ..i18n import N_, _, language
from ..shown import ShownTable, template_label

#: Table cells of the HTML tables, left-aligned and top-aligned (JupyterLab right-aligns cells by default).
TD, TH = '<td style="text-align:left;vertical-align:top">', '<th style="text-align:left">'
#: The language toggle: label -> languages shown.
LANG_CHOICES = {"English": ("en",), "中文": ("zh",), "both": ("en", "zh")}
#: The interface words, in both languages. A widget picks one language with :func:`ui_lang`.
UI = {
    # flashcards and cards
    "answer": {"en": "30-second answer", "zh": "30 秒回答"},
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
    # the quiz
    "check": {"en": "check", "zh": "检查"}, "next": {"en": "next question →", "zh": "下一题 →"},
    "your answer": {"en": "answer", "zh": "答案"}, "type": {"en": "type a number", "zh": "输入一个数"},
    "choose first": {"en": "choose an option first", "zh": "请先选择一个选项"},
    "type first": {"en": "type a number first: an empty box is no answer", "zh": "请先输入一个数：空白不算作答"},
    "right": {"en": "✓ right.", "zh": "✓ 正确。"},
    "not quite": {"en": "✗ not quite: the computed answer is {answer}.", "zh": "✗ 不对：计算出的答案是 {answer}。"},
    "quiz score": {"en": "<b>{right} of {done} right</b> · question {k} of {n}",
                   "zh": "<b>答对 {right}/{done} 题</b> · 第 {k}/{n} 题"},
    "quiz done": {"en": "Done: {right} of {n} right.", "zh": "完成：{n} 题中答对 {right} 题。"},
    # the mock interview
    "start": {"en": "start the interview", "zh": "开始面试"}, "show": {"en": "show the answer", "zh": "显示答案"},
    "nailed it": {"en": "nailed it", "zh": "答得好"}, "partly": {"en": "partly", "zh": "答对一部分"},
    "missed it": {"en": "missed it", "zh": "没答上"},
    "press start": {"en": "<p>Press <b>start</b>: questions from every topic, one at a time. Answer aloud within "
                          "{seconds} s, then show the model answer and rate yourself honestly.</p>",
                    "zh": "<p>按 <b>开始面试</b>：各个主题的问题逐一出现。请在 {seconds} 秒内大声作答，然后显示参考答案，"
                          "诚实地给自己打分。</p>"},
    "over": {"en": "<p>Interview over: your summary is below.</p>", "zh": "<p>面试结束：总结在下方。</p>"},
    "question k": {"en": "question {k} of {n}", "zh": "第 {k}/{n} 题"},
    "clock": {"en": "time {spent:.0f} s of {seconds} s", "zh": "用时 {spent:.0f} 秒 / {seconds} 秒"},
    "over time": {"en": " · over time", "zh": " · 超时"},
    "running": {"en": "<b>An interview is running</b> (question {k} of {n}). Press <b>start</b> again to abandon it "
                      "and start a new one; answer on to keep it.",
                "zh": "<b>面试正在进行</b>（第 {k}/{n} 题）。再按一次 <b>开始面试</b> 会放弃它并重新开始；继续作答则保留。"},
    "score": {"en": "<b>Score {total:.0%}</b> over {n} questions.", "zh": "<b>得分 {total:.0%}</b>，共 {n} 题。"},
    "weak": {"en": "weak: revise {links}", "zh": "薄弱：复习 {links}"}, "solid": {"en": "solid", "zh": "扎实"},
    # the interview's summary table, column by column
    "col topic": {"en": "topic", "zh": "主题"}, "col questions": {"en": "questions", "zh": "题数"},
    "col points": {"en": "points", "zh": "得分"}, "col seconds": {"en": "seconds", "zh": "用时（秒）"},
    "col over time": {"en": "over time", "zh": "超时题数"}, "col score": {"en": "score", "zh": "得分率"},
    "col weak": {"en": "weak", "zh": "薄弱"},
}


def langs_of(lang: str) -> tuple:
    """The languages a setting shows: 'en', 'zh', or one of :data:`LANG_CHOICES`' labels.

    In the Chinese edition (:func:`kdnb.i18n.language` is "zh"), "both" puts Chinese first.
    """
    if lang in bank.LANGUAGES:
        return (lang,)
    if lang not in LANG_CHOICES:
        raise ValueError(f"lang is one of {list(LANG_CHOICES)} (or 'en', 'zh'), got {lang!r}")
    return ("zh", "en") if lang == "both" and language() == "zh" else LANG_CHOICES[lang]


def ui_lang(lang: str) -> str:
    """The language of the interface words: the first language shown (Chinese when only Chinese is shown)."""
    return langs_of(lang)[0]


def pick_lang(lang: str | None, english: str) -> str:
    """A widget's language setting: ``lang`` if given, else "中文" in the Chinese edition and ``english`` otherwise."""
    if lang is not None:
        return lang
    return "中文" if language() == "zh" else english


def lang_options() -> list:
    """The language toggle's options, (label shown, value): the value stays one of :data:`LANG_CHOICES`."""
    return [(_("both") if k == "both" else k, k) for k in LANG_CHOICES]


def say(key: str, lang: str, **values) -> str:
    """The interface words ``key`` in ``lang`` ('en' or 'zh'), with ``values`` filled in."""
    return UI[key][lang].format(**values)


inline = bank.inline_html

#: A level's English name -> its Chinese name (:data:`kdnb.bank.DIFFICULTY`).
_LEVELS = dict(bank.DIFFICULTY.values())
#: Labels with a number in them ("card 4").
NUMBERED = (N_("card {k}"), N_("different answers over {n} draws"))


def _word(label):
    if isinstance(label, str) and label in _LEVELS:
        return _LEVELS[label] if language() == "zh" else label
    return ShownTable.label(label)


#: One label or cell of a drill table in the reader's language: a level's name, a numbered label
#: ("card 4") or the catalog's words; anything not a string unchanged.
tr = template_label(NUMBERED, fallback=_word)


class Shown(ShownTable):
    """A table of the drill: English labels for code, shown through :func:`tr`."""

    label = staticmethod(tr)


def link_html(link: bank.Link, prefix: str = "") -> str:
    """A link to a notebook section, opening in a new tab."""
    return f'<a href="{html.escape(link.href(prefix=prefix))}" target="_blank">{html.escape(link.label)}</a>'
