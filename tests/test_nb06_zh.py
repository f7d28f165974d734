"""Notebook 06 in Chinese: its tables, verdicts, checkers and explorer speak the reader's language,
while code keeps reading the English labels."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from kdnb import i18n
from kdnb import nb06_pruning_and_compression as nb


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))


def test_tables_show_chinese_and_keep_english_keys(zh):
    table = nb.sparsity_table(nb.prune_global(_mlp(), 0.5))
    assert "sparsity (%)" in table.columns and "all Linear weights" in table.index
    shown = repr(table.round(1)) + table._repr_html_()
    assert "稀疏度" in shown and "全部 Linear 权重" in shown and "sparsity (%)" not in shown
    words = nb.backend_comparison(pd.DataFrame({"speed-up, batch 1": [1.0, 0.5], "speed-up, batch 256": [1.0, 2.0]},
                                               index=pd.Index(["float32", "int8, dynamic"], name="model")))
    assert words.loc["int8, dynamic", "batch 1"].startswith("slower")   # code reads English
    assert "更慢（0.5x）" in repr(words) and "更快（2x）" in repr(words)


def test_english_display_is_unchanged():
    i18n.set_language("en")
    try:
        table = nb.sparsity_table(nb.prune_global(_mlp(), 0.5))
        assert repr(table) == repr(pd.DataFrame(table)) and "sparsity (%)" in table._repr_html_()
    finally:
        i18n.set_language(None)


def test_verdicts_checkers_and_sentences_speak_chinese(zh, capsys):
    masks = nb.mask_comparison(_mlp()[1], amount=0.5)
    assert any("掩码" in claim for claim in nb.mask_verdicts(masks))
    verdict = nb.check_cubic_schedule(lambda t, s, n: s * min(t, n) / n)
    assert "直线" in verdict.message and "自测 4.1" in capsys.readouterr().out
    assert nb.said("live method", method="one-shot + fine-tune", live=95.0, table=95.1).startswith("一次剪枝 + 微调")


def test_phone_choice_accepts_the_row_name_the_reader_sees(zh):
    comp = pd.DataFrame({"accuracy (%)": [96.7, 96.5], "non-zero": [10, 5], "bytes on disk": [100, 40]},
                        index=["teacher (MLP 2x1200)", "teacher, int8"])
    assert nb.check_phone_choice("教师模型，int8", comp) and nb.check_phone_choice("teacher, int8", comp)


def test_explorer_labels_are_chinese(zh):
    pytest.importorskip("ipywidgets")
    curve = pd.DataFrame({"sparsity": [0.0, 0.5, 0.9], "global_test": [0.9, 0.8, 0.5], "layerwise_test": [0.9, 0.7, 0.3]})
    ex = nb.pruning_explorer(_mlp(), curve, percent=50)
    fig = nb.plot_pruning(_mlp(), curve, 50)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert "保留下来的权重" in titles and ex.controls["sparsity"].description == "稀疏度 %"
    assert "剪掉 50%" in ex.artists["label"].get_text()
