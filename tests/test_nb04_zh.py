"""Notebook 04 in Chinese: the checkers name the mistake, the tables and the figures speak the reader's language, and
English stays what it was."""

import re

import matplotlib
import pandas as pd
import torch
import torch.nn.functional as F

from kdnb import i18n, results
from kdnb import nb04_distillation_losses as nb
from kdnb.nb04_distillation_losses import checks, readings
from kdnb.nb04_distillation_losses.shown import sign_words
from kdnb.shown import translated

matplotlib.use("Agg")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _no_t2(z, v, y, T, a):
    return (1 - a) * F.cross_entropy(z, y) + a * F.kl_div(F.log_softmax(z / T, 1), F.softmax(v / T, 1), reduction="batchmean")


def test_checkers_name_the_mistake_in_chinese(zh):
    verdict = nb.check_kd_loss(_no_t2)
    assert not verdict and "T²" in verdict.message and HAN.search(verdict.message)
    assert HAN.search(checks.diagnose_attention_map(lambda A: A.pow(2).mean(1).flatten(1)))


def test_checkers_stay_english_by_default():
    i18n.set_language("en")
    try:
        assert nb.check_kd_loss(_no_t2).message.startswith("the T² factor is missing")
    finally:
        i18n.set_language(None)


def test_tables_and_verdicts_in_chinese_keep_their_english_keys(zh):
    runs, fair = results.read("nb04_comparison"), results.read("nb04_fair_teacher")
    table = nb.comparison_table(runs)
    effects = nb.method_effects(table)
    seen = translated(effects, type(effects).label)  # what the reader sees; the table keeps its English names
    assert all(HAN.search(v) for v in seen.iloc[:, -1]) and HAN.search(seen.columns[-1])
    assert effects.columns[-1] == "verdict" and HAN.search(effects._repr_html_())
    assert all(HAN.search(claim) for claim in nb.comparison_verdicts(table).require())
    split = nb.gain_split(runs, fair)
    assert split["verdict"].iloc[1] == "better in every seed"  # the data stay English: code compares them
    parts = nb.split_shown(split)
    assert HAN.search(translated(parts, type(parts).label).index[0]) and HAN.search(repr(parts).splitlines()[2])
    assert parts.index[0] == split.index[0]
    formatted = nb.formatted(pd.DataFrame({"x": [1.5], "ok": [True]}, index=pd.Index(["KD"], name="method")))
    seen = translated(formatted, type(formatted).label)
    assert list(seen.columns) == ["x", "ok"] and "是" in repr(formatted) and "是" in formatted._repr_html_()
    assert seen.index.name == "方法" and formatted.index.name == "method" and formatted["ok"].iloc[0] == True  # noqa: E712


def test_sign_words(zh):
    assert sign_words(readings.sign_verdict([-1, 1, 0.0])) == "3 个随机种子中：1 个更好，1 个更差，1 个持平"
    assert sign_words("better in every seed") == "每个随机种子上都更好"


def test_figures_in_chinese(zh):
    g = torch.Generator().manual_seed(0)
    z, v = 3 * torch.randn(10, generator=g), 3 * torch.randn(10, generator=g)
    fig = nb.plot_push(z, v, "T² KL(p_T || q_T): right", T=4)
    texts = [fig.axes[0].get_title(), fig.axes[0].get_xlabel(), fig.axes[1].get_title()]
    assert all(HAN.search(t) for t in texts), texts
    fig2 = nb.plot_comparison(results.read("nb04_comparison"))
    assert HAN.search(fig2.axes[0].get_title()) and HAN.search(fig2.axes[0].get_yticklabels()[0].get_text())
    matplotlib.pyplot.close("all")
