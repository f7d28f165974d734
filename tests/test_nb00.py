"""Notebook 00's module: the question map, the recipe card, and the checkers of its exercises."""

import pandas as pd

from conftest import solution_cells
from kdnb import nb00_start_here as nb
from kdnb import results


def test_seed_ids_follow_the_guide():
    assert len(nb.SEED_IDS) == len(set(nb.SEED_IDS)) == 7 + 7 + 5 + 6 + 30 + 6
    assert {"000-1", "002-Q5", "002-S2", "002-S7", "003-30", "004-6"} <= set(nb.SEED_IDS)


def test_question_map_reads_headings(tmp_path):
    import json

    cells = [{"cell_type": "markdown", "source": ["## 2 · What is T? (003-12, 002-S2)\n", "text 003-99\n"]},
             {"cell_type": "markdown", "source": ["## 3 · No IDs here\n"]},
             {"cell_type": "code", "source": ["# 003-1 in code does not count"]}]
    (tmp_path / "09_demo.ipynb").write_text(json.dumps({"cells": cells}))
    qmap = nb.question_map(tmp_path)
    assert qmap.to_dict("records") == [{"notebook": "09_demo", "section": "2 · What is T?", "seed IDs": "003-12, 002-S2"}]
    assert "003-12" not in nb.unanswered(tmp_path) and "003-1" in nb.unanswered(tmp_path)


def test_the_shipped_notebooks_answer_most_seed_ids():
    answered = set(nb.SEED_IDS) - set(nb.unanswered())
    assert {"003-3", "003-11", "003-12", "003-28"} <= answered


def test_recipe_card_is_read_from_the_code():
    card = nb.recipe_card("default")
    assert "30x fewer" in card["parameters, teacher / student"]
    assert card["T (chosen on the validation split)"] == f"{nb.SETTINGS['default']['T']:g}"


def test_alpha_checker():
    ns = {"nb": nb}
    exec(solution_cells("00_start_here.ipynb")["4.1"], ns)
    assert nb.check_alpha_for_labels_only(ns["alpha_for_labels_only"]).status == "correct"
    wrong = nb.check_alpha_for_labels_only(1.0)
    assert wrong.status == "wrong" and "soft (teacher) term" in wrong.message
    assert nb.check_alpha_for_labels_only(0.5).status == "wrong"
    assert nb.check_alpha_for_labels_only(...).status == "todo"
    assert "between 0 and 1" in nb.check_alpha_for_labels_only(2).message


def test_which_setting_checker():
    runs = pd.DataFrame({"setting": ["big"] * 3 + ["none"] * 3, "seed": [0, 1, 2] * 2,
                         "alone_test": [0.90, 0.91, 0.92] * 2, "kd_test": [0.95, 0.96, 0.97, 0.91, 0.92, 0.93]})
    assert nb.check_which_setting(runs, "none").status == "correct"
    wrong = nb.check_which_setting(runs, "big")
    assert wrong.status == "wrong" and "gains the most" in wrong.message
    assert "not a setting" in nb.check_which_setting(runs, "nope").message


def test_which_setting_solution_on_the_shipped_table():
    runs = results.read("recipe_settings")
    from kdnb import recipe

    summary = recipe.summarize(runs)
    ns = {"nb": nb, "summary": summary, "runs": runs}
    exec(solution_cells("00_start_here.ipynb")["5.1"], ns)
    assert nb.check_which_setting(runs, ns["no_clear_gain"])


def _write_notebook(folder, stem, cells):
    import json

    (folder / f"{stem}.ipynb").write_text(json.dumps({"cells": cells}), encoding="utf-8")


def test_sections_count_prose_and_outputs_and_read_the_mark(tmp_path):
    md = lambda s: {"cell_type": "markdown", "source": [s]}  # noqa: E731
    png = {"cell_type": "code", "source": ["plot()"], "outputs": [{"data": {"image/png": "x", "text/plain": "<Figure>"}}]}
    _write_notebook(tmp_path, "01_demo", [
        md("## 1 · Set-up\nimport things"),
        md(f"## 2 · What is T? (003-12)\n\n{nb.DEEP_DIVE}\n\nTemperature divides the logits $z/T$ `code` here."),
        png, png,
        md("## 3 · Next\nfour words of prose"),
        md("## Summary: the 30-second answers\nlots of words that belong to no numbered section"),
        png])
    table = nb.sections(tmp_path).set_index("section")
    assert list(table.index) == ["1", "2", "3"]
    assert table.loc["2", "deep dive"] and not table.loc["3", "deep dive"]
    assert table.loc["2", "outputs"] == 2 and table.loc["3", "outputs"] == 0
    # the maths and the inline code are not prose; the deep-dive line itself is counted
    assert table.loc["3", "words"] == 5  # "Next" and "four words of prose"
    assert abs(table.loc["2", "minutes"] - (table.loc["2", "words"] / 200 + 0.5)) < 1e-12


def test_route_problems_name_both_kinds_of_mismatch(tmp_path, monkeypatch):
    md = lambda s: {"cell_type": "markdown", "source": [s]}  # noqa: E731
    _write_notebook(tmp_path, "01_demo", [md("## 1 · Set-up"), md(f"## 2 · On the route\n\n{nb.DEEP_DIVE}"),
                                          md("## 3 · Off the route, unmarked"), md(f"## 4 · Off, marked\n\n{nb.DEEP_DIVE}")])
    monkeypatch.setattr(nb, "ROUTE", (("01_demo", "2"),))
    problems = nb.route_problems(tmp_path)
    assert len(problems) == 2
    assert "§2 is on the route but marked" in problems[0] and "§3 is off the route" in problems[1]
    monkeypatch.setattr(nb, "ROUTE", (("01_demo", "9"),))
    import pytest

    with pytest.raises(KeyError, match="01_demo"):
        nb.route_table(tmp_path)


def test_the_shipped_route_fits_its_budget_and_every_section_is_marked():
    route = nb.route_table()
    assert route["total minutes"].iloc[-1] <= nb.ROUTE_MINUTES
    assert route["notebook"].nunique() == 7, "the route visits every notebook 01-07"
    assert nb.route_problems() == []


def test_alpha_checker_accepts_any_numeric_type():
    import numpy as np
    import torch

    for right in (0, 0.0, np.float32(0), np.int64(0), torch.tensor(0.0)):
        assert nb.check_alpha_for_labels_only(right).status == "correct", right
    for wrong in (True, "0", float("nan"), torch.zeros(2), 0.1, 1):
        assert nb.check_alpha_for_labels_only(wrong).status == "wrong", wrong


# ------------------------------------------------------------------ the verdicts and tables the cells show
def test_setup_verdicts_name_what_is_missing():
    from kdnb import env

    assert nb.setup_verdicts(env.report()).require()
    broken = pd.DataFrame({"value": {"offline MNIST subset": "missing", "shipped teachers": "cnn-mnist"}})
    verdicts = nb.setup_verdicts(broken)
    assert len(verdicts.failed) == 2 and any("make lab" in claim for claim in verdicts.failed)
    import pytest

    with pytest.raises(AssertionError, match="offline MNIST subset"):
        verdicts.require()


def test_images_per_class_shows_balanced_splits(mnist):
    table = nb.images_per_class(mnist)
    assert table["images per class"].to_dict() == {"train": "350", "val": "50", "test": "100"}


def test_map_verdicts_fail_when_a_seed_id_loses_its_entry():
    import pytest
    from kdnb import bank

    entries = bank.load()
    verdicts = nb.map_verdicts(entries)
    assert verdicts.require() and f"all {len(nb.SEED_IDS)} seed IDs" in next(iter(verdicts))
    without = [e for e in entries if "000-1" not in e.seeds]
    with pytest.raises(AssertionError, match="question bank"):
        nb.map_verdicts(without).require()


def test_route_verdicts_hold_the_budget_and_the_marks(tmp_path, monkeypatch):
    import pytest

    md = lambda s: {"cell_type": "markdown", "source": [s]}  # noqa: E731
    _write_notebook(tmp_path, "01_demo", [md("## 1 · Set-up"), md("## 2 · On the route\n" + "word " * 400),
                                          md(f"## 3 · Off the route\n\n{nb.DEEP_DIVE}")])
    monkeypatch.setattr(nb, "ROUTE", (("01_demo", "2"),))
    assert nb.route_verdicts(tmp_path).require()
    monkeypatch.setattr(nb, "ROUTE_MINUTES", 1)  # 400 words take 2 minutes
    with pytest.raises(AssertionError, match="budget"):
        nb.route_verdicts(tmp_path).require()
    monkeypatch.setattr(nb, "ROUTE_MINUTES", 30)
    monkeypatch.setattr(nb, "ROUTE", (("01_demo", "3"),))  # on the route, yet marked; §2 off it, unmarked
    failed = nb.route_verdicts(tmp_path).failed
    assert len(failed) == 1 and "§2 is off the route" in failed[0] and "§3 is on the route" in failed[0]


def test_a_verdict_list_is_not_counted_as_a_figure(tmp_path):
    from kdnb.verdicts import Verdicts

    v = Verdicts({"a claim the prose makes": True})
    verdict_out = {"output_type": "execute_result", "data": {"text/html": v._repr_html_(), "text/plain": str(v)}}
    table_out = {"output_type": "display_data", "data": {"text/html": "<table></table>", "text/plain": "table"}}
    md = lambda s: {"cell_type": "markdown", "source": [s]}  # noqa: E731
    _write_notebook(tmp_path, "01_demo", [md("## 1 · Set-up"), md("## 2 · Two outputs, one a table"),
                                          {"cell_type": "code", "source": ["x"], "outputs": [verdict_out, table_out]}])
    table = nb.sections(tmp_path).set_index("section")
    assert table.loc["2", "outputs"] == 1 and table.loc["2", "words"] == 5


def _teaser_table(acc=(96.8, 93.3, 95.0), params=(2_395_210, 79_510, 79_510), latency=(0.3, 0.02, 0.02)):
    return pd.DataFrame({"test accuracy (%)": acc, "parameters": params, "latency, 1 image (ms)": latency},
                        index=["teacher", "alone", "distilled"])


def test_teaser_verdicts_fail_on_a_table_that_contradicts_them():
    import pytest

    assert nb.teaser_verdicts(_teaser_table()).require()
    assert nb.teaser_verdicts(_teaser_table(acc=(96.8, 95.0, 93.3))).failed == [
        "the distilled student beats the same student trained on labels alone"]
    assert len(nb.teaser_verdicts(_teaser_table(params=(100_000, 79_510, 79_000))).failed) == 2
    with pytest.raises(AssertionError, match="faster than the teacher"):
        nb.teaser_verdicts(_teaser_table(latency=(0.01, 0.02, 0.02))).require()


def test_temperature_table_reads_validation_means():
    selection = pd.DataFrame({"setting": ["a"] * 4 + ["b"] * 4, "T": [2, 2, 4, 4] * 2,
                              "kd_val": [0.90, 0.92, 0.95, 0.95, 0.80, 0.80, 0.70, 0.72]})
    from kdnb import recipe

    table = nb.temperature_table(selection, recipe.select_T(selection))
    assert table.loc["a", 2] == 91.0 and table.loc["b", 4] == 71.0
    assert table["T chosen"].to_dict() == {"a": 4, "b": 2}


def test_gain_table_and_settings_verdicts_on_the_shipped_runs():
    import pytest
    from kdnb import recipe

    summary = recipe.summarize(results.read("recipe_settings"))
    gains = nb.gain_table(summary)
    assert gains.loc["tiny-student", "against the seed noise"] == "within the seed noise"
    assert gains.loc["default", "against the seed noise"] == "larger than the seed noise"
    assert nb.settings_verdicts(summary).require()
    flipped = summary.copy()
    flipped.loc["few-labels-own-teacher", "gain_mean"] = flipped.loc["few-labels", "gain_mean"] + 1
    with pytest.raises(AssertionError, match="few-labels gains more"):
        nb.settings_verdicts(flipped).require()


def test_the_chinese_edition_links_back_to_the_english_one():
    from kdnb import bank, i18n

    link = bank.Link("03_temperature", "2")
    assert nb.twin_link(link) == "<a href='zh/03_temperature.ipynb'>中文</a>"
    i18n.set_language("zh")
    try:
        back = nb.twin_link(link)
        assert back.startswith("<a href='../03_temperature.ipynb#2-·-") and back.endswith(">English</a>")
        from kdnb import data

        assert "每类图像数" in nb.images_per_class(data.load_mnist_subset()).columns
    finally:
        i18n.set_language(None)


def test_section_5_tables_keep_english_keys_and_show_chinese():
    from kdnb import i18n, recipe

    selection = results.read("recipe_temperature_selection")
    summary = recipe.summarize(results.read("recipe_settings"))
    temperatures = nb.temperature_table(selection, recipe.select_T(selection))  # built in English, read in Chinese
    try:
        i18n.set_language("zh")
        gains = nb.gain_table(summary)
        assert gains.loc["tiny-student", "against the seed noise"] == "within the seed noise"
        assert "在随机种子噪声之内" in gains._repr_html_() and "与随机种子噪声相比" in repr(gains)
        assert temperatures["T chosen"].to_dict() == recipe.select_T(selection).to_dict()
        assert "选定的 T" in temperatures._repr_html_() and "各 T 下的平均验证准确率（%）" in repr(temperatures)
    finally:
        i18n.set_language(None)
    assert "选定的 T" not in temperatures._repr_html_() and repr(gains) == repr(pd.DataFrame(gains))
