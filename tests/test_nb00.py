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
