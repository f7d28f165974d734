"""Notebook 02's package: targets, class similarity, the missing-class bias, explorers, shipped tables and
their makers, the verdicts its cells require, and the exercises' checkers."""

import ast
import copy
import json
import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from conftest import solution_cells
from kdnb import exercises, models, recipe, results, seeds
from kdnb import nb02_soft_vs_hard_labels as nb
from kdnb.nb02_soft_vs_hard_labels import experiments, explorers, tables, targets
from kdnb.nb02_soft_vs_hard_labels import missing_class as mc
from kdnb.nb02_soft_vs_hard_labels.readouts import Shown
from kdnb.shown import translated
from kdnb.temperature import soft_targets
from kdnb.training import distill, fit, seed_everything

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kdnb" / "nb02_soft_vs_hard_labels"
NOTEBOOK = ROOT / "notebooks" / "02_soft_vs_hard_labels.ipynb"
TABLES = {"nb02_missing_class", "nb02_missing_class_logits", "nb02_missing_class_study", "nb02_few_examples",
          "nb02_few_examples_curves", "nb02_teachers"}


def _logits(n=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(10).repeat(n // 10)
    z = 0.3 * torch.randn(len(y), 10, generator=g)
    z[torch.arange(len(y)), y] += 5.0
    z[torch.arange(len(y)), (y + 1) % 10] += 3.0  # every class resembles the next one
    return z, y


# ------------------------------------------------------------------ the package's shape

def test_all_lists_exactly_what_the_notebooks_cells_call():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    called = set(re.findall(r"\bnb\.(\w+)", code))
    assert called == set(nb.__all__), (sorted(called - set(nb.__all__)), sorted(set(nb.__all__) - called))
    assert all(hasattr(nb, name) for name in nb.__all__)


def test_files_stay_small_and_functions_take_few_parameters():
    for path in sorted(PACKAGE.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 500, f"{path.name} has {len(text.splitlines())} lines"
        assert "argparse" not in text and "__main__" not in text and "def main(" not in text, path.name
        assert "read_csv" not in text, f"{path.name}: tables are read through kdnb.results.read"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs if p.arg not in ("self", "cls")]
                assert len(names) <= 8, f"{path.name}: {node.name} takes {len(names)} parameters"


def test_the_package_imports_no_other_notebook():
    for path in PACKAGE.glob("*.py"):
        others = set(re.findall(r"\bnb\d\d_\w+", path.read_text(encoding="utf-8"))) - {"nb02_soft_vs_hard_labels"}
        assert not {o for o in others if not o.startswith("nb02_")}, (path.name, others)


def test_every_table_has_its_maker_here():
    registered = {name for fn in tables.MAKERS for name in fn.maker.tables}
    assert registered == TABLES
    for name in TABLES:
        assert results.owner_module(name) == "kdnb.nb02_soft_vs_hard_labels.tables"


# ------------------------------------------------------------------ targets

def test_smoothed_labels_match_torch_label_smoothing():
    z, y = _logits()
    eps = 0.1
    manual = -(nb.smoothed_labels(y, eps) * F.log_softmax(z, -1)).sum(-1).mean()
    assert torch.isclose(manual, F.cross_entropy(z, y, label_smoothing=eps), atol=1e-6)
    t = nb.smoothed_labels(torch.tensor([2]), 0.2)[0]
    assert torch.isclose(t.sum(), torch.tensor(1.0)) and torch.isclose(t[0], torch.tensor(0.02))
    with pytest.raises(ValueError):
        nb.smoothed_labels(y, 1.5)


def test_class_similarity_finds_the_planted_pairs():
    z, y = _logits()
    M = nb.class_similarity(soft_targets(z, 4.0), y)
    assert M.shape == (10, 10) and np.allclose(M.sum(axis=1), 1.0)
    pairs = nb.similar_pairs(M, k=10)
    planted = {f"{min(a, (a + 1) % 10)}-{max(a, (a + 1) % 10)}" for a in range(10)}
    assert set(pairs.index) == planted


def test_most_ambiguous_is_sorted_by_entropy_and_reports_top2():
    z, y = _logits()
    z[7] = 0.0  # a perfectly uncertain row
    table = nb.most_ambiguous(soft_targets(z, 1.0), y, k=5)
    assert table["index"].iloc[0] == 7
    assert math.isclose(table["entropy (bits)"].iloc[0], math.log2(10), rel_tol=1e-5)
    assert table["entropy (bits)"].is_monotonic_decreasing
    assert (table["p_top1"] >= table["p_top2"]).all()


def test_uniformity_is_one_for_label_smoothing_and_low_for_structured_targets():
    z, y = _logits()
    assert torch.allclose(targets.wrong_class_uniformity(nb.smoothed_labels(y, 0.1), y), torch.ones(len(y)), atol=1e-5)
    assert targets.wrong_class_uniformity(soft_targets(z, 1.0), y).mean() < 0.8
    info = nb.information_table({"one-hot": nb.one_hot(y), "ls": nb.smoothed_labels(y, 0.1)}, y)
    assert info.loc["one-hot", "entropy (bits/example)"] == 0.0
    assert info.loc["ls", "wrong-class mass"] == pytest.approx(0.09)


def test_information_table_flags_one_vector_per_class():
    z, y = _logits()
    info = nb.information_table({"ls": nb.smoothed_labels(y, 0.1), "teacher": soft_targets(z, 4.0)}, y)
    assert info.loc["ls", "one vector per class"] and not info.loc["teacher", "one vector per class"]


def _information(z, y):
    return nb.information_table({"hard label (one-hot)": nb.one_hot(y), "label smoothing, eps=0.1": nb.smoothed_labels(y, 0.1),
                                 "teacher, T=1": soft_targets(z, 1.0), "teacher, T=4": soft_targets(z, 4.0)}, y)


def test_information_verdicts_hold_for_a_structured_teacher_and_fail_for_a_uniform_one():
    z, y = _logits()
    assert not nb.information_verdicts(_information(z, y)).require().failed
    flat = torch.zeros_like(z)
    flat[torch.arange(len(y)), y] = 5.0  # every wrong class equal: the teacher is label smoothing in disguise
    verdicts = nb.information_verdicts(_information(flat, y))
    assert any("own vector" in claim for claim in verdicts.failed)
    with pytest.raises(AssertionError, match="own vector"):
        verdicts.require()


def test_structure_stats_sees_a_flattened_teacher():
    z, y = _logits()
    flat = z / 4.0 + 0.3 * torch.randn(z.shape, generator=torch.Generator().manual_seed(1))
    flat[torch.arange(len(y)), (y + 1) % 10] -= 0.5  # remove the planted structure
    stats = nb.structure_stats(z, flat, y, T=1.0)
    assert stats["uniformity, label-smoothed teacher"] > stats["uniformity, plain teacher"]
    assert stats["spread, log10(max/min), plain"] > stats["spread, log10(max/min), label-smoothed"]


def test_structure_verdicts_hold_on_the_real_teachers_and_fail_when_swapped(mnist):
    plain = nb.teacher_logits("cnn-mnist", mnist, ("test",))["test"]
    smoothed = nb.teacher_logits("cnn-mnist-ls", mnist, ("test",))["test"]
    y = mnist.test.y
    stats = pd.DataFrame([nb.structure_stats(plain, smoothed, y, T) for T in (1.0, 4.0)]).set_index("T")
    assert not nb.structure_verdicts(stats).require().failed
    swapped = pd.DataFrame([nb.structure_stats(smoothed, plain, y, T) for T in (1.0, 4.0)]).set_index("T")
    with pytest.raises(AssertionError, match="more evenly"):
        nb.structure_verdicts(swapped).require()


# ------------------------------------------------------------------ the missing class

def test_bias_is_chosen_on_validation_and_recovers_the_class():
    y = torch.tensor([0, 1, 3, 3, 2, 3])
    z = torch.zeros(6, 4)
    z[torch.arange(6), torch.tensor([0, 1, 0, 1, 2, 2])] = 2.0  # every 3 is misread
    z[[0, 1, 4], [0, 1, 2]] = 4.0  # the other digits are read confidently
    z[:, 3] = 1.0
    assert mc.bias_effect(z, y, 3, 0.0)["class right"] == 0
    delta = mc.choose_bias(z, y, 3, grid=(0.0, 3.0, 0.5))
    assert delta == 1.5  # the smallest increase that wins the 3s without losing the others
    after = mc.bias_effect(z, y, 3, delta)
    assert after["class right"] == 3 and after["errors"] == 0
    assert torch.equal(mc.raise_bias(z, 3, 1.0)[:, 3], z[:, 3] + 1.0)
    curve = mc.bias_curve(z, y, 3, [0.0, 1.5])
    assert curve.loc[1.5, "class right"] == 3


def test_drop_class_and_few_examples_subset(mnist):
    kept, mask = nb.drop_class(mnist.train, 3)
    assert (kept.y != 3).all() and len(kept) == int(mask.sum()) == int((mnist.train.y != 3).sum())
    idx = experiments.few_examples_subset(mnist.train.y, 105, seed=0)
    counts = torch.bincount(mnist.train.y[idx], minlength=10)
    assert len(idx) == 105 and counts.max() - counts.min() <= 1
    assert not torch.equal(idx, experiments.few_examples_subset(mnist.train.y, 105, seed=1))


def test_twins_without_a_class_match_hand_built_copies(mnist):
    """train_without_class goes through recipe.train_twins: the same seeding and initial weights as two copies
    of one freshly built student, trained one distilled and one on the labels alone."""
    t = nb.teacher_logits("cnn-mnist", mnist, ("train",))["train"]
    spec = dict(nb.MISSING, epochs=1, student={"kind": "mlp", "hidden": [64]})  # a narrow student: the test is about the twins
    transfer, keep = nb.drop_class(mnist.train, spec["missing"])
    seed_everything(2, 1)
    init = models.build(spec["student"], in_shape=mnist.image_shape)
    by_hand = {"distilled": init, "hard labels only": copy.deepcopy(init)}
    common = {"epochs": 1, "lr": spec["lr"], "batch_size": spec["batch_size"], "seed": 2, "progress": False}
    distill(by_hand["distilled"], transfer, teacher=t[keep], T=spec["T"], alpha=spec["alpha"], **common)
    fit(by_hand["hard labels only"], transfer, **common)
    twins = mc.train_without_class(2, mnist, t, spec, threads=1)
    assert list(twins) == ["distilled", "hard labels only"]
    for name, model in twins.items():
        expected = by_hand[name].state_dict()
        assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items()), name
    assert list(mc.train_without_class(2, mnist, t, spec, hard_twin=False, threads=1)) == ["distilled"]


def test_bias_explorer_reports_lookups():
    y = torch.tensor([3, 3, 1, 0])
    z = torch.tensor([[0.0, 2.0, 0.0, 1.0], [2.0, 0.0, 0.0, 1.0], [0.0, 3.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0]])
    curves = {"distilled": mc.bias_curve(z, y, 3, np.arange(0, 2.01, 0.5))}
    box = nb.bias_explorer(curves, {"distilled": 1.0})
    assert isinstance(box, explorers.BiasExplorer)
    box.controls["delta"].value = 1.5
    assert box.state["delta"] == 1.5
    assert box.state["distilled"]["class right"] == 2
    assert "2 of 2 threes right" in box.label.value
    box.controls["delta"].value = 0.5
    assert not nb.bias_explorer_verdicts(box, delta=1.5).require().failed
    assert box.controls["delta"].value == 0.5 and box.state["delta"] == 0.5, "the verdicts put the slider back"
    off_grid = nb.bias_explorer_verdicts(box, delta=1.2)  # the slider snaps to 1.0: the markers are not where asked
    with pytest.raises(AssertionError, match="markers sit"):
        off_grid.require()


def test_missing_class_summary_and_curves():
    table = results.read("nb02_missing_class")
    summary = nb.missing_class_summary(table)
    row = summary.loc["missing class right after (%)"]
    assert row["paper"] == pytest.approx(98.6)
    assert row["min"] <= row["distilled mean"] <= row["max"]
    kd = table[table["student"] == "distilled"]
    assert row["distilled mean"] == pytest.approx(100 * (kd["class_right_after"] / kd["class_total"]).mean())
    assert summary.loc["missing class right before (%)", "labels only"] == 0
    stored = results.read("nb02_missing_class_logits")
    curves, chosen = nb.bias_curves(stored, table)
    assert set(curves) == {"distilled", "hard labels only"}
    assert curves["hard labels only"]["class right"].max() == 0
    seed0 = table[(table["seed"] == table["seed"].min()) & (table["student"] == "distilled")]
    assert curves["distilled"].loc[chosen["distilled"], "class right"] == seed0["class_right_after"].item()
    wrong = table.assign(delta_val=table["delta_val"] + 1.0)
    with pytest.raises(ValueError, match="kdnb.results make nb02_missing_class"):
        nb.bias_curves(stored, wrong)


def test_missing_class_verdicts_hold_and_fail_when_a_label_only_student_finds_a_three():
    table = results.read("nb02_missing_class")
    assert not nb.missing_class_verdicts(table).require().failed
    leaked = table.copy()
    leaked.loc[leaked["student"] == "hard labels only", "class_right_after"] = 1
    with pytest.raises(AssertionError, match="label-only student recognises no test 3"):
        nb.missing_class_verdicts(leaked).require()
    worse = table.copy()
    worse.loc[worse["student"] == "distilled", "errors_after"] = worse["errors_before"] + 1
    assert nb.missing_class_verdicts(worse).failed == ["Its test errors drop with the increase in every seed."]
    with pytest.raises(ValueError, match="both students"):
        nb.missing_class_verdicts(table[table["student"] == "distilled"])


def test_missing_class_gap_compares_sizes(mnist):
    gap = nb.missing_class_gap(results.read("nb02_missing_class"), mnist, 0.98)
    assert gap.loc["teacher's training images", "ours"] == f"{len(mnist.train):,}"
    assert gap.loc["test 3s", "Hinton et al. 2015"] == "1,010"
    assert gap.loc["validation 3s (to choose the bias)", "Hinton et al. 2015"] == "none: chosen on the test set"
    summary = nb.missing_class_summary(results.read("nb02_missing_class"))
    assert summary.loc["other digits' test error after (%)", "paper"] == pytest.approx(100 * (109 - 14.14) / 8990, rel=1e-3)


def test_spec_table_prints_the_configuration():
    table = nb.spec_table(nb.MISSING)
    assert table["temperature T"] == f"{nb.MISSING['T']:g}" and table["class left out"] == "3"
    assert "bias_grid" not in table.index


# ------------------------------------------------------------------ the study

def test_missing_class_study_is_shipped_and_summarized():
    study = results.read("nb02_missing_class_study")
    assert set(mc.STUDY_COLUMNS) <= set(study.columns) and mc.MAIN_RULE in set(study["rule"])
    configs = nb.study_configurations(study)
    key = (nb.MISSING["teacher"], nb.MISSING["epochs"], nb.MISSING["lr"], nb.MISSING["T"], nb.MISSING["alpha"])
    assert list(configs.index.names) == ["teacher", "epochs", "lr", "T", "alpha"]
    assert key in configs.index, "the notebook's configuration is one the study measured"
    main = study[(study["rule"] == mc.MAIN_RULE) & (study["epochs"] == 80) & (study["teacher"] == "cnn-mnist")
                 & (study["T"] == 8) & (study["alpha"] == 0.9) & (study["lr"] == 0.002)]
    after = seeds.Spread.of(main["threes_right_after"])
    assert configs.loc[key, "3s right after"] == after.text()
    assert configs.loc[key, "seeds"] == len(main) == 5
    rules = nb.study_rules(study)
    assert mc.MAIN_RULE in rules.index and (rules["seeds"] >= 3).all()
    assert rules.loc["paper's fixed 3.5", "bias raised by"] == "3.50 [3.50, 3.50]"


def test_study_verdicts_hold_and_fail_when_length_stops_helping():
    study = results.read("nb02_missing_class_study")
    assert not nb.study_verdicts(study).require().failed
    flat = study.copy()
    long = (flat["epochs"] == 80) & (flat["teacher"] == "cnn-mnist") & (flat["lr"] == 0.002) & (flat["T"] == 8)
    flat.loc[long, "threes_right_before"] = 11
    with pytest.raises(AssertionError, match="three-fold"):
        nb.study_verdicts(flat).require()
    with pytest.raises(ValueError, match="lacks the configurations"):
        nb.study_verdicts(study[study["teacher"] == "cnn-mnist"])


def test_shipped_study_has_every_configuration():
    study = results.read("nb02_missing_class_study")
    configs = study[mc.STUDY_COLUMNS[:5]].drop_duplicates()
    assert len(configs) == len(mc.STUDY_GRID)
    main = study[(study.rule == mc.MAIN_RULE) & (study.epochs == nb.MISSING["epochs"]) & (study.teacher == nb.MISSING["teacher"])
                 & (study["T"] == nb.MISSING["T"]) & (study.alpha == nb.MISSING["alpha"]) & (study.lr == nb.MISSING["lr"])]
    assert main["seed"].nunique() == 5 and main["threes_right_after"].mean() > 85


def test_bias_rules_choose_from_validation():
    y = torch.tensor([3, 3, 1, 0])
    z = torch.tensor([[0.0, 2.0, 0.0, 1.0], [2.0, 0.0, 0.0, 1.0], [0.0, 3.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0]])
    rules = mc.bias_rules(z, y, 3, (0.0, 2.0, 0.5))
    assert rules[mc.MAIN_RULE] == mc.choose_bias(z, y, 3, (0.0, 2.0, 0.5))
    assert rules["lowest validation cross-entropy"] > 1.0  # both 3s need a lift, the others do not mind a little


# ------------------------------------------------------------------ few examples, the label-smoothed teacher

@pytest.mark.parametrize("name,columns", [
    ("nb02_missing_class", {"seed", "student", "class_right_before", "class_right_after", "delta_val"}),
    ("nb02_few_examples", {"seed", "targets", "final_test", "early_stop_test"}),
    ("nb02_teachers", {"teacher", "T", "seed", "kd_val", "kd_test", "alone_test"}),
])
def test_shipped_results_are_complete(name, columns):
    df = results.read(name)
    assert columns <= set(df.columns)
    assert df["seed"].nunique() >= 3
    if name == "nb02_missing_class":
        hard = df[df["student"] == "hard labels only"]
        assert (hard["class_right_before"] == 0).all()  # a label-only student never saw a 3


def test_few_examples_gain_and_verdicts():
    few = results.read("nb02_few_examples")
    gain = nb.soft_minus_hard(few)
    per_seed = few.pivot(index="seed", columns="targets", values="final_test")
    assert gain.mean == pytest.approx(100 * (per_seed["soft targets"] - per_seed["hard labels"]).mean())
    assert gain.n == 5 and gain.lo <= gain.mean <= gain.hi
    assert not nb.few_examples_verdicts(few).require().failed
    swapped = few.assign(targets=few["targets"].map({"hard labels": "soft targets", "soft targets": "hard labels"}))
    with pytest.raises(AssertionError, match="ahead of its hard-label twin"):
        nb.few_examples_verdicts(swapped).require()
    assert nb.few_examples_verdicts(few, {"hard targets (%)": 50.0, "soft targets (%)": 52.0}).failed  # not a fraction of +2


def test_chosen_T_uses_validation_not_test():
    df = pd.DataFrame({"teacher": ["a"] * 4, "T": [1.0, 1.0, 4.0, 4.0], "seed": [0, 1, 0, 1],
                       "kd_val": [0.9, 0.9, 0.8, 0.8], "kd_test": [0.5, 0.5, 0.99, 0.99]})
    assert nb.chosen_T(df)["T"].unique().tolist() == [1.0]
    table = seeds.spread(df, "teacher", ["kd_test"])
    assert table.loc["a", "kd_test_max"] == pytest.approx(99.0) and table.loc["a", "seeds"] == 4


def test_teacher_comparison_reads_the_validation_choice():
    best = nb.chosen_T(results.read("nb02_teachers"))
    table = nb.teacher_comparison(best)
    assert set(table.index) == {"cnn-mnist", "cnn-mnist-ls"}
    assert list(table.columns) == ["T (chosen on validation)", "student alone (%)", "distilled (%)", "gain (points)", "seeds"]
    plain = best[best["teacher"] == "cnn-mnist"]
    assert table.loc["cnn-mnist", "distilled (%)"] == seeds.Spread.of(plain["kd_test"], 100).text()
    assert table.loc["cnn-mnist", "T (chosen on validation)"] == plain["T"].iloc[0]
    gap = nb.smoothing_gap(best)
    assert gap.n == best["seed"].nunique() and gap.lo <= gap.mean <= gap.hi


def test_teacher_verdicts_hold_and_fail_with_the_teachers_swapped():
    best = nb.chosen_T(results.read("nb02_teachers"))
    assert not nb.teacher_verdicts(best).require().failed
    with pytest.raises(AssertionError, match="ahead of the plain teacher's"):
        nb.teacher_verdicts(best, plain="cnn-mnist-ls", smoothed="cnn-mnist").require()


# ------------------------------------------------------------------ the target explorer

def test_target_explorer_updates_when_sliders_move():
    z, y = _logits()
    images = torch.rand(len(y), 1, 28, 28)
    box = nb.target_explorer(z, y, images, [0, 5], eps=0.1, T=1.0)
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


def test_target_explorer_verdicts_drive_and_restore_the_sliders():
    z, y = _logits()
    images = torch.rand(len(y), 1, 28, 28)
    box = nb.target_explorer(z, y, images, [0, 5], eps=0.1, T=4.0)
    verdicts = nb.target_explorer_verdicts(box, eps=0.3, T=20.0).require()
    assert len(verdicts) == 4
    assert (box.controls["eps"].value, box.controls["T"].value) == (0.1, 4.0) and box.state["eps"] == 0.1
    flat = torch.zeros_like(z)
    flat[torch.arange(len(y)), y] = 5.0  # a teacher whose wrong classes are all alike
    box = nb.target_explorer(flat, y, images, [0], eps=0.1, T=4.0)
    with pytest.raises(AssertionError, match="still differ"):
        nb.target_explorer_verdicts(box).require()


# ------------------------------------------------------------------ the table makers, on tiny inputs

@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """Every maker shrunk to one short run per table, writing into a temporary results folder."""
    monkeypatch.setenv("KDNB_RESULTS", str(tmp_path))
    monkeypatch.setitem(mc.MISSING, "epochs", 1)
    monkeypatch.setattr(tables, "STUDY_GRID", ({"epochs": 1},))
    monkeypatch.setitem(experiments.FEW, "epochs", 2)
    monkeypatch.setitem(experiments.FEW, "eval_every", 1)
    monkeypatch.setattr(tables, "TEACHER_TS", (4.0,))
    monkeypatch.setitem(recipe.SETTINGS["cnn-teacher"], "epochs", 1)
    return tmp_path


@pytest.fixture(scope="module")
def shipped():
    """The shipped tables, read before any test points KDNB_RESULTS elsewhere."""
    return {name: results.read(name) for name in TABLES}


@pytest.mark.parametrize("name", ["nb02_missing_class", "nb02_missing_class_study", "nb02_few_examples", "nb02_teachers"])
def test_each_maker_writes_its_tables_with_every_shipped_column(shipped, tiny, name):
    maker = next(fn.maker for fn in tables.MAKERS if name in fn.maker.tables)
    paths = results.make(name, seeds=(0,), threads=1, progress=False)
    assert {p.stem for p in paths} == set(maker.tables) and all(p.parent == tiny for p in paths)
    for table in maker.tables:
        made = results.read(table)
        if table == "nb02_teachers":  # the recipe's runs now record a few more columns (training accuracy, labels)
            assert set(shipped[table].columns) <= set(made.columns), set(shipped[table].columns) - set(made.columns)
        else:
            assert list(made.columns) == list(shipped[table].columns), table
        assert set(made["seed"]) == {0}
    if name == "nb02_missing_class_study":
        made = results.read(name)
        assert set(made["rule"]) == {mc.MAIN_RULE, "lowest validation cross-entropy", "paper's fixed 3.5"}
        assert made["epochs"].eq(1).all() and made["threes_right_before"].nunique() == 1  # one student, scored three ways
        assert made.loc[made["rule"] == "paper's fixed 3.5", "delta"].item() == 3.5
    if name == "nb02_missing_class":
        made = results.read("nb02_missing_class")
        assert list(made["student"]) == ["distilled", "hard labels only"]
        logits = results.read("nb02_missing_class_logits")
        assert set(logits["split"]) == {"val", "test"} and len(logits) == 2 * (500 + 1000)


# ------------------------------------------------------------------ the exercises' checkers




@pytest.fixture(scope="module")
def solutions():
    return solution_cells("02_soft_vs_hard_labels.ipynb")


@pytest.fixture(scope="module")
def teacher_test(mnist):
    return nb.teacher_logits("cnn-mnist", mnist, ("test",))["test"]


def test_every_exercise_has_a_solution(solutions):
    assert set(solutions) == {"2.1", "3.1", "4.1", "5.1", "6.1", "7.1"}


def test_runner_up_checker(solutions, mnist, teacher_test):
    y = mnist.test.y
    ns = {"nb": nb, "p4": soft_targets(teacher_test, 4.0), "first_seven": int((y == 7).nonzero()[0]),
          "logits": {"test": teacher_test}}
    exec(solutions["2.1"], ns)
    row = teacher_test[ns["first_seven"]]
    assert nb.check_runner_up(row, ns["runner_up"]).status == "correct"
    cls, prob = ns["runner_up"]
    assert cls != 7  # an honest answer, found independently below
    p4 = soft_targets(row, 4.0)
    assert cls == int(p4.argsort()[-2]) and prob == pytest.approx(float(p4.sort().values[-2]))
    top = nb.check_runner_up(row, (7, float(p4[7])))
    assert top.status == "wrong" and "top class" in top.message
    at_t1 = nb.check_runner_up(row, (cls, float(soft_targets(row, 1.0)[cls])))
    assert at_t1.status == "wrong" and "T = 1" in at_t1.message
    divided = nb.check_runner_up(row, (cls, float(torch.softmax(soft_targets(row, 1.0) / 4.0, -1)[cls])))
    assert "divided the probabilities" in divided.message
    assert nb.check_runner_up(row, ...).status == "todo"
    assert "pair" in nb.check_runner_up(row, cls).message


def test_alpha_for_quarter_checker(solutions):
    ns = {"nb": nb}
    exec(solutions["3.1"], ns)
    assert ns["alpha_for_quarter"] == pytest.approx(0.75)
    assert nb.check_alpha_for_quarter(ns["alpha_for_quarter"]).status == "correct"
    wrong = nb.check_alpha_for_quarter(0.25)
    assert wrong.status == "wrong" and "wrong term" in wrong.message
    assert "between 0 and 1" in nb.check_alpha_for_quarter(1.5).message
    assert "1 - alpha = 0.5" in nb.check_alpha_for_quarter(0.5).message
    assert nb.check_alpha_for_quarter(...).status == "todo"


def test_most_alike_checker(solutions, mnist, teacher_test):
    M4 = nb.class_similarity(soft_targets(teacher_test, 4.0), mnist.test.y)
    ns = {"nb": nb, "M4": M4}
    exec(solutions["4.1"], ns)
    assert nb.check_most_alike(M4, 0, ns["zero_looks_like"]).status == "correct"
    assert "diagonal" in nb.check_most_alike(M4, 0, 0).message
    # a matrix where the row's largest, the column's largest and the row's smallest all differ
    A = np.full((4, 4), 0.1)
    np.fill_diagonal(A, 0.7)
    A[0, 1], A[0, 2], A[2, 0], A[0, 3] = 0.2, 0.09, 0.5, 0.01
    M = pd.DataFrame(A)
    assert nb.check_most_alike(M, 0, 1).status == "correct"
    assert "column 0" in nb.check_most_alike(M, 0, 2).message
    assert "least" in nb.check_most_alike(M, 0, 3).message
    assert "digit" in nb.check_most_alike(M, 0, "nine").message


def test_wrong_class_target_checker(solutions):
    ns = {"nb": nb, "torch": torch}
    exec(solutions["5.1"], ns)
    assert nb.check_wrong_class_target(ns["wrong_class_target"]).status == "correct"
    assert math.isclose(ns["wrong_class_target"], float(nb.smoothed_labels(torch.tensor([4]), 0.2)[0, 0]), rel_tol=1e-6)
    assert "eps / (C - 1)" in nb.check_wrong_class_target(0.2 / 9).message
    assert "whole mass" in nb.check_wrong_class_target(0.2).message
    assert "true class" in nb.check_wrong_class_target(0.82).message


def test_raise_bias_checker(solutions):
    ns = {"nb": nb}
    exec(solutions["6.1"], ns)
    assert nb.check_raise_bias(ns["raise_class_bias"]).status == "correct"

    def every_class(z, cls, delta):
        return z + delta

    def on_probabilities(z, cls, delta):
        return mc.raise_bias(torch.softmax(z, -1), cls, delta)

    def in_place(z, cls, delta):
        z[:, cls] += delta
        return z

    def wrong_column(z, cls, delta):
        return mc.raise_bias(z, cls - 1, delta)

    def only_three(z, cls, delta):
        return mc.raise_bias(z, 3, 3.5)

    def stub(z, cls, delta):
        exercises.your_turn("return a copy of z")

    expected = {every_class: "every class", on_probabilities: "probabilities", in_place: "in place",
                wrong_column: "column 2", only_three: "class 3 only"}
    for fn, words in expected.items():
        verdict = nb.check_raise_bias(fn)
        assert verdict.status == "wrong" and words in verdict.message, (fn.__name__, verdict.message)
    assert nb.check_raise_bias(stub).status == "todo"


def test_early_stop_help_checker(solutions):
    few = results.read("nb02_few_examples")
    ns = {"nb": nb, "few": few}
    exec(solutions["7.1"], ns)
    answer = ns["early_stop_help"]
    assert nb.check_early_stop_help(few, answer).status == "correct"
    by_hand = {t: 100 * (d["early_stop_test"] - d["final_test"]).mean() for t, d in few.groupby("targets")}
    assert np.allclose([answer[t] for t in by_hand], list(by_hand.values()))
    assert "points" in nb.check_early_stop_help(few, answer / 100).message
    assert "other way" in nb.check_early_stop_help(few, -answer).message
    assert "group by" in nb.check_early_stop_help(few, float(answer.mean())).message



# ------------------------------------------------------------------ the Chinese edition

def test_readouts_and_checkers_speak_chinese_when_asked(capsys):
    from kdnb import i18n

    z, y = _logits()
    try:
        i18n.set_language("zh")
        nb.say("subset", train=3500, val=500, test=1000)
        assert nb.check_alpha_for_quarter(0.25).message.startswith("alpha 加权的是软项")
        info = nb.information_table({"hard label (one-hot)": nb.one_hot(y)}, y)
        on_screen = translated(nb.shown(info), Shown.label)  # what the reader sees
        assert "熵（比特/样本）" in on_screen.columns and "硬标签（one-hot）" in on_screen.index
        assert "熵（比特/样本）" in nb.shown(info)._repr_html_() and "熵（比特/样本）" in repr(nb.shown(info))
        assert "one vector per class" in info.columns  # the table the code reads keeps its English keys
        assert "one vector per class" in nb.shown(info).columns
        series = nb.shown(info["entropy (bits/example)"])
        assert series.name == "熵（比特/样本）" and list(series.index) == ["硬标签（one-hot）"] and series.index.name == "目标"
        assert any("教师" in claim for claim in nb.information_verdicts(_information(z, y)))
    finally:
        i18n.set_language(None)
    assert "MNIST 子集" in capsys.readouterr().out
    nb.say("subset", train=3500, val=500, test=1000)
    assert capsys.readouterr().out == "MNIST subset: 3,500 training, 500 validation and 1,000 test images\n"


def test_tables_keep_english_keys_and_show_chinese(mnist):
    """A table built in one language is read by its English keys in the other; only its display is translated."""
    from kdnb import i18n

    mc_table, study = results.read("nb02_missing_class"), results.read("nb02_missing_class_study")
    best = nb.chosen_T(results.read("nb02_teachers"))
    z = nb.teacher_logits("cnn-mnist", mnist, ("test",))["test"]
    try:
        i18n.set_language("zh")
        built_in_chinese = {"summary": nb.missing_class_summary(mc_table), "rules": nb.study_rules(study),
                            "targets": nb.targets_table(z, mnist.test.y, 0, Ts=(1.0, 2.0)),
                            "spec": nb.spec_table(nb.MISSING).to_frame()}
        i18n.set_language("en")
        built_in_english = {"gap": nb.missing_class_gap(mc_table, mnist, 0.98), "teachers": nb.teacher_comparison(best),
                            "configs": nb.study_configurations(study), "runs": nb.missing_class_runs(mc_table)}
        i18n.set_language("zh")
        summary, rules, targets_shown, spec = (built_in_chinese[k] for k in ("summary", "rules", "targets", "spec"))
        assert summary.loc["missing class right after (%)", "paper"] == pytest.approx(98.6)
        assert "调高后缺失类别的答对率（%）" in summary._repr_html_() and "论文" in repr(summary)
        assert rules.loc["paper's fixed 3.5", "bias raised by"] == "3.50 [3.50, 3.50]" and rules.index.name == "rule"
        assert "验证集准确率最高" in rules._repr_html_() and "规则" in rules._repr_html_()
        assert list(targets_shown.index) == ["hard label (one-hot)", "teacher, T=1", "teacher, T=2"]
        assert list(translated(targets_shown, Shown.label).index) == ["硬标签（one-hot）", "教师，T=1", "教师，T=2"]
        assert spec.loc["class left out", "setting"] == "3" and "被剔除的类别" in spec._repr_html_()
        gap, teachers, configs, runs = (built_in_english[k] for k in ("gap", "teachers", "configs", "runs"))
        assert gap.loc["validation 3s (to choose the bias)", "Hinton et al. 2015"] == "none: chosen on the test set"
        assert "无：在测试集上选择" in gap._repr_html_() and "我们的" in gap._repr_html_()
        assert "T（在验证集上选择）" in teachers._repr_html_() and "seeds" in teachers.columns
        assert "调高后答对的 3" in configs._repr_html_() and "3s right after" in configs.columns
        assert set(runs["student"]) == {"distilled", "hard labels only"} and "只用硬标签" in runs._repr_html_()
    finally:
        i18n.set_language(None)
    assert "调高后缺失类别的答对率（%）" not in summary._repr_html_() and repr(summary) == repr(pd.DataFrame(summary))
