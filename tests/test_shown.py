"""kdnb.shown: tables keep English labels for code and show them in the reader's language."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kdnb.i18n import N_
from kdnb.shown import ShownSeries, ShownTable, template_label, translated

WORDS = {"teacher": "教师", "student": "学生", "yes": "是", "no": "否",
         "{m} with {t} - {m} alone": "{m}（{t} 教）减去单独的 {m}", "kd_loss, T = {T:g}": "蒸馏损失，T = {T:g}"}


def fake(text):
    """A stand-in for the catalog: the Chinese of WORDS, anything else unchanged."""
    return WORDS.get(text, text) if isinstance(text, str) else text


def test_template_label_fills_the_translated_template_with_the_shown_values(monkeypatch):
    monkeypatch.setattr("kdnb.shown._", fake)
    label = template_label((N_("{m} with {t} - {m} alone"), N_("kd_loss, T = {T:g}")), fallback=fake,
                           label_fields=("t",))
    assert label("kd_loss, T = 4") == "蒸馏损失，T = 4"          # the value as shown, no reformatting
    assert label("KD with teacher - KD alone") == "KD（教师 教）减去单独的 KD"  # a repeated field, a label field
    assert label("KD with teacher - PKD alone") == "KD with teacher - PKD alone"  # {m} must be the same both times
    assert label("teacher") == "教师"                             # the fallback first
    assert label("something else") == "something else"
    array = np.array([1.0, 2.0])
    assert label(array) is array and label(3) == 3 and label("") == ""


def test_a_shown_table_is_english_for_code_and_translated_on_display(monkeypatch):
    monkeypatch.setattr("kdnb.shown._", fake)
    monkeypatch.setattr("kdnb.shown.language", lambda: "zh")

    class Shown(ShownTable):
        label = staticmethod(lambda v: fake(("yes" if v else "no") if isinstance(v, (bool, np.bool_)) else v))

    class Column(ShownSeries):
        table = Shown

    table = Shown({"teacher": [1.5, 2.5], "student": ["teacher", "x"], "agrees": [True, False]})
    assert list(table.columns) == ["teacher", "student", "agrees"] and table.loc[0, "student"] == "teacher"
    shown = translated(table, Shown.label)
    assert list(shown.columns) == ["教师", "学生", "agrees"]
    assert shown["学生"].tolist() == ["教师", "x"] and shown["agrees"].tolist() == ["是", "否"]
    assert "教师" in repr(table) and "是" in table._repr_html_() and "teacher" not in repr(table)
    assert type(table[["teacher"]]) is Shown                     # pandas operations keep the class
    column = Column({"teacher": 1, "student": 2}, name="student")
    assert type(column.to_frame()) is Shown and "教师" in repr(column) and repr(column).rstrip().endswith("int64")
    monkeypatch.setattr("kdnb.shown.language", lambda: "en")
    assert repr(table) == repr(pd.DataFrame(table)) and table._repr_html_() == pd.DataFrame(table)._repr_html_()
    assert repr(column) == repr(pd.Series(column))


def test_a_truth_column_is_left_alone_when_the_label_has_no_words_for_it():
    frame = pd.DataFrame({"a": [True, False]})
    assert translated(frame, lambda v: v)["a"].dtype == bool
