"""Notebook 05 in Chinese: its tables, notes, printed lines and checkers speak the reader's language,
while the labels that code and tests read stay English."""

import importlib
import re

import pandas as pd

from kdnb import i18n, results
from kdnb import nb05_distillation_in_practice as nb
shown = importlib.import_module("kdnb.nb05_distillation_in_practice.shown")   # the module (the package exports the function)

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_every_printed_line_has_chinese_and_the_same_placeholders(zh):
    for key, msg in shown.MESSAGES.items():
        text = i18n._(msg)
        assert HAN.search(text), key
        assert i18n.placeholders(text) == i18n.placeholders(msg), key


def test_tables_translate_when_shown_and_keep_english_labels(zh):
    runs = results.read("nb05_scarce")
    split = nb.scarce_split(runs, "3 · playground", "MLP 1x100")
    assert "points" in split.columns and "verdict" in split.columns          # code reads English
    html, text = split._repr_html_(), repr(split)
    assert "迁移集" in html and "每个种子都上升" in html and "up in every seed" not in html
    assert HAN.search(text)
    renamed = nb.accuracy_spans(runs[runs.student == "MLP 1x100 (assistant)"], "method", extra=()).rename_axis(
        "the 1x100 assistants, 300 labels")
    assert "助教模型" in renamed._repr_html_()


def test_english_tables_are_pandas_own(monkeypatch):
    i18n.set_language("en")
    try:
        table = nb.map_extremes(results.read("nb05_map"))
        assert table._repr_html_() == pd.DataFrame(table)._repr_html_() and repr(table) == repr(pd.DataFrame(table))
    finally:
        i18n.set_language(None)


def test_note_checker_and_labels_in_chinese(zh, capsys):
    note = nb.playground_note(dict(nb.PLAYGROUND))
    assert note.startswith("公平教师") and "cnn-mnist-300" in note
    nb.check_map_choice((0.9, 4), results.read("nb05_map"))
    assert "自测 4.1" in capsys.readouterr().out
    assert shown.tr("all 3,500 labels · MLP 1x10: teacher → student") == "全部 3,500 个标签 · MLP 1x10：教师 → 学生"
    nb.say("chosen", T=4.0, alpha=0.5)
    assert capsys.readouterr().out == "选定：T = 4，α = 0.5\n"
