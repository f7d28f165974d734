"""Notebook 02's module: targets, class similarity, the missing-class bias, explorers, shipped results, checkers."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from kdnb import nb02_soft_vs_hard_labels as sl
from kdnb import recipe
from kdnb.temperature import soft_targets


def _logits(n=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(10).repeat(n // 10)
    z = 0.3 * torch.randn(len(y), 10, generator=g)
    z[torch.arange(len(y)), y] += 5.0
    z[torch.arange(len(y)), (y + 1) % 10] += 3.0  # every class resembles the next one
    return z, y


def test_smoothed_labels_match_torch_label_smoothing():
    z, y = _logits()
    eps = 0.1
    manual = -(sl.smoothed_labels(y, eps) * F.log_softmax(z, -1)).sum(-1).mean()
    assert torch.isclose(manual, F.cross_entropy(z, y, label_smoothing=eps), atol=1e-6)
    t = sl.smoothed_labels(torch.tensor([2]), 0.2)[0]
    assert torch.isclose(t.sum(), torch.tensor(1.0)) and torch.isclose(t[0], torch.tensor(0.02))
    with pytest.raises(ValueError):
        sl.smoothed_labels(y, 1.5)


def test_class_similarity_finds_the_planted_pairs():
    z, y = _logits()
    M = sl.class_similarity(soft_targets(z, 4.0), y)
    assert M.shape == (10, 10) and np.allclose(M.sum(axis=1), 1.0)
    pairs = sl.similar_pairs(M, k=10)
    planted = {f"{min(a, (a + 1) % 10)}-{max(a, (a + 1) % 10)}" for a in range(10)}
    assert set(pairs.index) == planted


def test_most_ambiguous_is_sorted_by_entropy_and_reports_top2():
    z, y = _logits()
    z[7] = 0.0  # a perfectly uncertain row
    table = sl.most_ambiguous(soft_targets(z, 1.0), y, k=5)
    assert table["index"].iloc[0] == 7
    assert math.isclose(table["entropy (bits)"].iloc[0], math.log2(10), rel_tol=1e-5)
    assert table["entropy (bits)"].is_monotonic_decreasing
    assert (table["p_top1"] >= table["p_top2"]).all()


def test_uniformity_is_one_for_label_smoothing_and_low_for_structured_targets():
    z, y = _logits()
    assert torch.allclose(sl.wrong_class_uniformity(sl.smoothed_labels(y, 0.1), y), torch.ones(len(y)), atol=1e-5)
    assert sl.wrong_class_uniformity(soft_targets(z, 1.0), y).mean() < 0.8
    info = sl.information_table({"one-hot": sl.one_hot(y), "ls": sl.smoothed_labels(y, 0.1)}, y)
    assert info.loc["one-hot", "entropy (bits/example)"] == 0.0
    assert info.loc["ls", "wrong-class mass"] == pytest.approx(0.09)


def test_structure_stats_sees_a_flattened_teacher():
    z, y = _logits()
    flat = z / 4.0 + 0.3 * torch.randn(z.shape, generator=torch.Generator().manual_seed(1))
    flat[torch.arange(len(y)), (y + 1) % 10] -= 0.5  # remove the planted structure
    stats = sl.structure_stats(z, flat, y, T=1.0)
    assert stats["uniformity, label-smoothed teacher"] > stats["uniformity, plain teacher"]
    assert stats["spread, log10(max/min), plain"] > stats["spread, log10(max/min), label-smoothed"]


def test_bias_is_chosen_on_validation_and_recovers_the_class():
    y = torch.tensor([0, 1, 3, 3, 2, 3])
    z = torch.zeros(6, 4)
    z[torch.arange(6), torch.tensor([0, 1, 0, 1, 2, 2])] = 2.0  # every 3 is misread
    z[[0, 1, 4], [0, 1, 2]] = 4.0  # the other digits are read confidently
    z[:, 3] = 1.0
    assert sl.bias_effect(z, y, 3, 0.0)["class right"] == 0
    delta = sl.choose_bias(z, y, 3, grid=(0.0, 3.0, 0.5))
    assert delta == 1.5  # the smallest increase that wins the 3s without losing the others
    after = sl.bias_effect(z, y, 3, delta)
    assert after["class right"] == 3 and after["errors"] == 0
    assert torch.equal(sl.raise_bias(z, 3, 1.0)[:, 3], z[:, 3] + 1.0)
    curve = sl.bias_curve(z, y, 3, [0.0, 1.5])
    assert curve.loc[1.5, "class right"] == 3


def test_drop_class_and_few_examples_subset(mnist):
    kept, mask = sl.drop_class(mnist.train, 3)
    assert (kept.y != 3).all() and len(kept) == int(mask.sum()) == int((mnist.train.y != 3).sum())
    idx = sl.few_examples_subset(mnist.train.y, 105, seed=0)
    counts = torch.bincount(mnist.train.y[idx], minlength=10)
    assert len(idx) == 105 and counts.max() - counts.min() <= 1
    assert not torch.equal(idx, sl.few_examples_subset(mnist.train.y, 105, seed=1))


def test_chosen_T_uses_validation_not_test():
    df = pd.DataFrame({"teacher": ["a"] * 4, "T": [1.0, 1.0, 4.0, 4.0], "seed": [0, 1, 0, 1],
                       "kd_val": [0.9, 0.9, 0.8, 0.8], "kd_test": [0.5, 0.5, 0.99, 0.99]})
    assert sl.chosen_T(df)["T"].unique().tolist() == [1.0]
    table = recipe.spread(df, "teacher", ["kd_test"])
    assert table.loc["a", "kd_test_max"] == pytest.approx(99.0) and table.loc["a", "seeds"] == 4


def test_target_explorer_updates_when_sliders_move():
    z, y = _logits()
    images = torch.rand(len(y), 1, 28, 28)
    box = sl.target_explorer(z, y, images, [0, 5], eps=0.1, T=1.0)
    assert np.isclose(box.state["smoothed"].max(), 0.91)
    box.controls["eps"].value = 0.4
    assert np.isclose(box.state["smoothed"].min(), 0.04)
    h1 = box.state["H_teacher"]
    box.controls["T"].value = 10.0
    assert box.state["H_teacher"] > h1
    heights = [b.get_height() for b in box.fig.axes[1].containers[2]]
    assert np.allclose(heights, box.state["teacher"])
    box.controls["index"].value = 5
    assert box.state["hard"].argmax() == int(y[5])


def test_bias_explorer_reports_lookups():
    y = torch.tensor([3, 3, 1, 0])
    z = torch.tensor([[0.0, 2.0, 0.0, 1.0], [2.0, 0.0, 0.0, 1.0], [0.0, 3.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0]])
    curves = {"distilled": sl.bias_curve(z, y, 3, np.arange(0, 2.01, 0.5))}
    box = sl.bias_explorer(curves, {"distilled": 1.0})
    box.controls["delta"].value = 1.5
    assert box.state["delta"] == 1.5
    assert box.state["distilled"]["class right"] == 2
    assert "2 of 2 threes right" in box.label.value


def test_main_rejects_unknown_parts():
    with pytest.raises(SystemExit):
        sl.main(["nonsense"])


@pytest.mark.parametrize("name,columns", [
    ("missing_class", {"seed", "student", "class_right_before", "class_right_after", "delta_val"}),
    ("few_examples", {"seed", "targets", "final_test", "early_stop_test"}),
    ("teachers", {"teacher", "T", "seed", "kd_val", "kd_test", "alone_test"}),
])
def test_shipped_results_are_complete(name, columns):
    df = sl.read_results(name)
    assert columns <= set(df.columns)
    assert df["seed"].nunique() >= 3
    if name == "missing_class":
        hard = df[df["student"] == "hard labels only"]
        assert (hard["class_right_before"] == 0).all()  # a label-only student never saw a 3


# ------------------------------------------------------------------ the exercises' checkers

from conftest import solution_cells  # noqa: E402

from kdnb import exercises  # noqa: E402


@pytest.fixture(scope="module")
def solutions():
    return solution_cells("02_soft_vs_hard_labels.ipynb")


@pytest.fixture(scope="module")
def teacher_test(mnist):
    return sl.teacher_logits("cnn-mnist", mnist, ("test",))["test"]


def test_every_exercise_has_a_solution(solutions):
    assert set(solutions) == {"2.1", "3.1", "4.1", "5.1", "6.1", "7.1"}


def test_runner_up_checker(solutions, mnist, teacher_test):
    y = mnist.test.y
    ns = {"nb": sl, "p4": soft_targets(teacher_test, 4.0), "first_seven": int((y == 7).nonzero()[0]),
          "logits": {"test": teacher_test}}
    exec(solutions["2.1"], ns)
    row = teacher_test[ns["first_seven"]]
    assert sl.check_runner_up(row, ns["runner_up"]).status == "correct"
    cls, prob = ns["runner_up"]
    assert cls != 7  # an honest answer, found independently below
    p4 = soft_targets(row, 4.0)
    assert cls == int(p4.argsort()[-2]) and prob == pytest.approx(float(p4.sort().values[-2]))
    top = sl.check_runner_up(row, (7, float(p4[7])))
    assert top.status == "wrong" and "top class" in top.message
    at_t1 = sl.check_runner_up(row, (cls, float(soft_targets(row, 1.0)[cls])))
    assert at_t1.status == "wrong" and "T = 1" in at_t1.message
    divided = sl.check_runner_up(row, (cls, float(torch.softmax(soft_targets(row, 1.0) / 4.0, -1)[cls])))
    assert "divided the probabilities" in divided.message
    assert sl.check_runner_up(row, ...).status == "todo"
    assert "pair" in sl.check_runner_up(row, cls).message


def test_alpha_for_quarter_checker(solutions):
    ns = {"nb": sl}
    exec(solutions["3.1"], ns)
    assert ns["alpha_for_quarter"] == pytest.approx(0.75)
    assert sl.check_alpha_for_quarter(ns["alpha_for_quarter"]).status == "correct"
    wrong = sl.check_alpha_for_quarter(0.25)
    assert wrong.status == "wrong" and "wrong term" in wrong.message
    assert "between 0 and 1" in sl.check_alpha_for_quarter(1.5).message
    assert "1 - alpha = 0.5" in sl.check_alpha_for_quarter(0.5).message
    assert sl.check_alpha_for_quarter(...).status == "todo"


def test_most_alike_checker(solutions, mnist, teacher_test):
    M4 = sl.class_similarity(soft_targets(teacher_test, 4.0), mnist.test.y)
    ns = {"nb": sl, "M4": M4}
    exec(solutions["4.1"], ns)
    assert sl.check_most_alike(M4, 0, ns["zero_looks_like"]).status == "correct"
    assert "diagonal" in sl.check_most_alike(M4, 0, 0).message
    # a matrix where the row's largest, the column's largest and the row's smallest all differ
    A = np.full((4, 4), 0.1)
    np.fill_diagonal(A, 0.7)
    A[0, 1], A[0, 2], A[2, 0], A[0, 3] = 0.2, 0.09, 0.5, 0.01
    M = pd.DataFrame(A)
    assert sl.check_most_alike(M, 0, 1).status == "correct"
    assert "column 0" in sl.check_most_alike(M, 0, 2).message
    assert "least" in sl.check_most_alike(M, 0, 3).message
    assert "digit" in sl.check_most_alike(M, 0, "nine").message


def test_wrong_class_target_checker(solutions):
    ns = {"nb": sl, "torch": torch}
    exec(solutions["5.1"], ns)
    assert sl.check_wrong_class_target(ns["wrong_class_target"]).status == "correct"
    assert math.isclose(ns["wrong_class_target"], float(sl.smoothed_labels(torch.tensor([4]), 0.2)[0, 0]), rel_tol=1e-6)
    assert "eps / (C - 1)" in sl.check_wrong_class_target(0.2 / 9).message
    assert "whole mass" in sl.check_wrong_class_target(0.2).message
    assert "true class" in sl.check_wrong_class_target(0.82).message


def test_raise_bias_checker(solutions):
    ns = {"nb": sl}
    exec(solutions["6.1"], ns)
    assert sl.check_raise_bias(ns["raise_class_bias"]).status == "correct"

    def every_class(z, cls, delta):
        return z + delta

    def on_probabilities(z, cls, delta):
        return sl.raise_bias(torch.softmax(z, -1), cls, delta)

    def in_place(z, cls, delta):
        z[:, cls] += delta
        return z

    def wrong_column(z, cls, delta):
        return sl.raise_bias(z, cls - 1, delta)

    def only_three(z, cls, delta):
        return sl.raise_bias(z, 3, 3.5)

    def stub(z, cls, delta):
        exercises.your_turn("return a copy of z")

    expected = {every_class: "every class", on_probabilities: "probabilities", in_place: "in place",
                wrong_column: "column 2", only_three: "class 3 only"}
    for fn, words in expected.items():
        verdict = sl.check_raise_bias(fn)
        assert verdict.status == "wrong" and words in verdict.message, (fn.__name__, verdict.message)
    assert sl.check_raise_bias(stub).status == "todo"


def test_early_stop_help_checker(solutions):
    few = sl.read_results("few_examples")
    ns = {"nb": sl, "few": few}
    exec(solutions["7.1"], ns)
    answer = ns["early_stop_help"]
    assert sl.check_early_stop_help(few, answer).status == "correct"
    by_hand = {t: 100 * (d["early_stop_test"] - d["final_test"]).mean() for t, d in few.groupby("targets")}
    assert np.allclose([answer[t] for t in by_hand], list(by_hand.values()))
    assert "points" in sl.check_early_stop_help(few, answer / 100).message
    assert "other way" in sl.check_early_stop_help(few, -answer).message
    assert "group by" in sl.check_early_stop_help(few, float(answer.mean())).message


def test_missing_class_summary_and_curves():
    mc = sl.read_results("missing_class")
    table = sl.missing_class_summary(mc)
    assert table.loc["missing class right after (%)", "paper"] == pytest.approx(98.6)
    assert (table.loc["missing class right after (%)", "min"] <= table.loc["missing class right after (%)", "distilled mean"]
            <= table.loc["missing class right after (%)", "max"])
    assert table.loc["missing class right before (%)", "labels only"] == 0
    curves, chosen = sl.bias_curves(sl.read_results("missing_class_logits"), mc)
    assert set(curves) == {"distilled", "hard labels only"}
    assert curves["hard labels only"]["class right"].max() == 0
    seed0 = mc[(mc["seed"] == mc["seed"].min()) & (mc["student"] == "distilled")]
    assert curves["distilled"].loc[chosen["distilled"], "class right"] == seed0["class_right_after"].item()
    wrong = mc.assign(delta_val=mc["delta_val"] + 1.0)
    with pytest.raises(ValueError, match="rerun"):
        sl.bias_curves(sl.read_results("missing_class_logits"), wrong)


def test_teacher_comparison_reads_the_validation_choice():
    best = sl.chosen_T(sl.read_results("teachers"))
    table, summary = sl.teacher_comparison(best)
    assert set(table.index) == {"cnn-mnist", "cnn-mnist-ls"}
    assert summary["seeds"] == best["seed"].nunique() and 0 <= summary["ahead"] <= summary["seeds"]
    assert summary["gap_min"] <= summary["gap_mean"] <= summary["gap_max"]
    assert "verdict" in summary["text"]


def test_spec_table_prints_the_configuration():
    table = sl.spec_table(sl.MISSING)
    assert table["temperature T"] == f"{sl.MISSING['T']:g}" and table["class left out"] == "3"
    assert "bias_grid" not in table.index


def test_information_table_flags_one_vector_per_class():
    z, y = _logits()
    info = sl.information_table({"ls": sl.smoothed_labels(y, 0.1), "teacher": soft_targets(z, 4.0)}, y)
    assert info.loc["ls", "one vector per class"] and not info.loc["teacher", "one vector per class"]


def test_missing_class_study_is_shipped_and_summarized():
    study = sl.read_results("missing_class_study")
    assert set(sl.STUDY_COLUMNS) <= set(study.columns) and sl.MAIN_RULE in set(study["rule"])
    configs = sl.study_configurations(study)
    key = (sl.MISSING["teacher"], sl.MISSING["epochs"], sl.MISSING["lr"], sl.MISSING["T"], sl.MISSING["alpha"])
    assert key in configs.index, "the notebook's configuration is one the study measured"
    row = configs.loc[key]
    assert row[("3s right after", "min")] <= row[("3s right after", "mean")] <= row[("3s right after", "max")]
    text = sl.study_configurations(study, as_text=True)
    assert text.loc[key, "3s right after"].startswith(f"{row[('3s right after', 'mean')]:.1f} [")
    rules = sl.study_rules(study)
    assert sl.MAIN_RULE in rules.index and (rules[("seeds", "")] >= 3).all()


def test_import_study_checks_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"teacher": ["cnn-mnist"], "seed": [0]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="lacks the columns"):
        sl.import_study(bad)
    with pytest.raises(SystemExit):
        sl.main(["study", "nonsense"])


def test_missing_class_gap_compares_sizes(mnist):
    gap = sl.missing_class_gap(sl.read_results("missing_class"), mnist, 0.98)
    assert gap.loc["teacher's training images", "ours"] == f"{len(mnist.train):,}"
    assert gap.loc["test 3s", "Hinton et al. 2015"] == "1,010"
    assert gap.loc["validation 3s (to choose the bias)", "Hinton et al. 2015"] == "none: chosen on the test set"
    summary = sl.missing_class_summary(sl.read_results("missing_class"))
    assert summary.loc["other digits' test error after (%)", "paper"] == pytest.approx(100 * (109 - 14.14) / 8990, rel=1e-3)


def test_the_study_runner_scores_every_rule(mnist):
    rows = sl.run_study(grid=({"epochs": 1},), seeds=(0,), dataset=mnist, progress=False)
    assert list(rows.columns) == sl.STUDY_COLUMNS
    assert set(rows["rule"]) == {sl.MAIN_RULE, "lowest validation cross-entropy", "paper's fixed 3.5"}
    assert rows["epochs"].eq(1).all() and rows["T"].eq(sl.STUDY_BASE["T"]).all()
    assert rows["threes_right_before"].nunique() == 1  # one student, scored three ways
    assert rows.loc[rows.rule == "paper's fixed 3.5", "delta"].item() == 3.5


def test_bias_rules_choose_from_validation():
    y = torch.tensor([3, 3, 1, 0])
    z = torch.tensor([[0.0, 2.0, 0.0, 1.0], [2.0, 0.0, 0.0, 1.0], [0.0, 3.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0]])
    rules = sl.bias_rules(z, y, 3, (0.0, 2.0, 0.5))
    assert rules[sl.MAIN_RULE] == sl.choose_bias(z, y, 3, (0.0, 2.0, 0.5))
    assert rules["lowest validation cross-entropy"] > 1.0  # both 3s need a lift, the others do not mind a little


def test_shipped_study_has_every_configuration():
    study = sl.read_results("missing_class_study")
    configs = study[sl.STUDY_COLUMNS[:5]].drop_duplicates()
    assert len(configs) == len(sl.STUDY_GRID)
    main = study[(study.rule == sl.MAIN_RULE) & (study.epochs == sl.MISSING["epochs"]) & (study.teacher == sl.MISSING["teacher"])
                 & (study["T"] == sl.MISSING["T"]) & (study.alpha == sl.MISSING["alpha"]) & (study.lr == sl.MISSING["lr"])]
    assert main["seed"].nunique() == 5 and main["threes_right_after"].mean() > 85
