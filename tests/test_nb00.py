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
    runs = results.read("settings")
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
