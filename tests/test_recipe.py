"""The recipe module: labelled subsets, paired runs, summaries, and the shipped results."""

import pandas as pd
import pytest
import torch

from kdnb import recipe
from kdnb import results as kresults
from kdnb.losses import IGNORE_INDEX

TINY = {"summary": "tiny test setting", "teacher": "cnn-mnist", "student": {"kind": "mlp", "hidden": [16]},
        "labels": None, "T": 4.0, "alpha": 0.9, "epochs": 1, "lr": 2e-3, "batch_size": 256}


def test_labelled_subset_keeps_n_balanced_labels():
    y = torch.arange(10).repeat(50)
    kept = recipe.labelled_subset(y, 30, seed=0)
    mask = kept != IGNORE_INDEX
    assert mask.sum() == 30
    assert torch.equal(kept[mask], y[mask])
    assert torch.bincount(kept[mask], minlength=10).tolist() == [3] * 10
    assert torch.equal(recipe.labelled_subset(y, None), y)


def test_train_pair_starts_both_students_from_the_same_weights(mnist, monkeypatch):
    calls = []
    real_fit = recipe.fit

    def spy_fit(model, *args, **kwargs):
        calls.append({k: v.clone() for k, v in model.state_dict().items()})
        return real_fit(model, *args, **kwargs)

    real_distill = recipe.distill

    def spy_distill(model, *args, **kwargs):
        calls.append({k: v.clone() for k, v in model.state_dict().items()})
        return real_distill(model, *args, **kwargs)

    monkeypatch.setattr(recipe, "fit", spy_fit)
    monkeypatch.setattr(recipe, "distill", spy_distill)
    logits = torch.randn(len(mnist.train), 10)
    alone, distilled, spec = recipe.train_pair(TINY, 0, mnist, logits)
    assert len(calls) == 2
    assert all(torch.equal(calls[0][k], calls[1][k]) for k in calls[0])
    assert not torch.equal(alone[1].weight, distilled[1].weight)  # then they learn different things
    assert spec["epochs"] == 1


def test_run_setting_reports_accuracies_and_gain(mnist):
    logits = torch.randn(len(mnist.train), 10)
    row = recipe.run_setting(TINY, 0, mnist, logits, T=2.0)
    assert row["T"] == 2.0
    assert 0 <= row["alone_test"] <= 1 and 0 <= row["kd_test"] <= 1
    assert row["gain"] == pytest.approx(row["kd_test"] - row["alone_test"])


def test_few_labels_baseline_trains_only_on_labelled_rows(mnist, monkeypatch):
    seen = {}
    real_fit = recipe.fit

    def spy_fit(model, train, *args, **kwargs):
        seen["n"], seen["epochs"] = len(train), kwargs["epochs"]
        return real_fit(model, train, *args, **kwargs)

    monkeypatch.setattr(recipe, "fit", spy_fit)
    recipe.run_setting(dict(TINY, labels=350), 0, mnist, torch.randn(len(mnist.train), 10))
    assert seen["n"] == 350
    assert seen["epochs"] == round(1 * len(mnist.train) / 350)  # as many steps as the distilled run


def test_summarize_flags_overlapping_seed_ranges():
    results = pd.DataFrame({
        "setting": ["a"] * 3 + ["b"] * 3, "seed": [0, 1, 2] * 2,
        "alone_test": [0.90, 0.91, 0.92, 0.90, 0.91, 0.92],
        "kd_test": [0.93, 0.94, 0.95, 0.915, 0.92, 0.93],
    })
    results["gain"] = results.kd_test - results.alone_test
    s = recipe.summarize(results)
    assert not s.loc["a", "ranges_overlap"] and s.loc["b", "ranges_overlap"]
    assert s.loc["a", "gain_mean"] == pytest.approx(3.0)
    assert s.loc["a", "seeds"] == 3


def test_shipped_results_show_the_default_recipe_helping():
    results = kresults.read("recipe_settings")
    assert set(results.setting) == set(recipe.SETTINGS)
    s = recipe.summarize(results)
    assert (s.seeds >= 3).all()
    assert s.loc["default", "gain_mean"] >= 1.0
    assert not s.loc["default", "ranges_overlap"]
    default = results[results.setting == "default"]
    assert (default["T"] == recipe.DEFAULT["T"]).all() and (default["alpha"] == recipe.DEFAULT["alpha"]).all()


def test_every_setting_uses_the_temperature_chosen_on_validation():
    selection = kresults.read("recipe_temperature_selection")
    assert set(selection.setting) == set(recipe.SETTINGS)
    chosen = recipe.select_T(selection)
    settings = kresults.read("recipe_settings")
    for name, spec in recipe.SETTINGS.items():
        assert spec["T"] == chosen[name], f"{name}: SETTINGS says T={spec['T']}, validation chose {chosen[name]}"
        assert (settings[settings.setting == name]["T"] == chosen[name]).all()


def test_select_T_reads_validation_only_and_breaks_ties_low():
    df = pd.DataFrame({"setting": ["a"] * 6, "T": [2.0, 2.0, 4.0, 4.0, 8.0, 8.0], "seed": [0, 1] * 3,
                       "kd_val": [0.90, 0.92, 0.95, 0.95, 0.95, 0.95], "kd_test": [0.99, 0.99, 0.1, 0.1, 0.1, 0.1]})
    assert recipe.select_T(df)["a"] == 4.0


def test_grid_runs_settings_by_overrides_by_seeds(mnist):
    runs = recipe.grid({"tiny": TINY}, seeds=(0, 1), overrides=[{"T": 2.0}, {"T": 8.0}], dataset=mnist, progress=False)
    assert len(runs) == 4 and set(runs["T"]) == {2.0, 8.0} and set(runs["seed"]) == {0, 1}
    assert {"alone_train", "kd_train", "kd_agree", "alone_agree", "kd_val"} <= set(runs.columns)
    # the label-only student does not depend on T: the same for both temperatures of a seed
    assert runs.groupby("seed")["alone_test"].nunique().eq(1).all()


def test_fixed_labels_seed_keeps_the_same_labelled_images(mnist, monkeypatch):
    seen = []
    real_fit = recipe.fit

    def spy_fit(model, train, *args, **kwargs):
        seen.append(train.y.clone())
        return real_fit(model, train, *args, **kwargs)

    monkeypatch.setattr(recipe, "fit", spy_fit)
    logits = torch.randn(len(mnist.train), 10)
    for seed in (0, 1):
        recipe.run_setting(dict(TINY, labels=100, labels_seed=0), seed, mnist, logits)
    assert torch.equal(seen[0], seen[1])


def test_unknown_view_is_refused():
    with pytest.raises(ValueError, match="unknown input view"):
        recipe.view(torch.zeros(1, 1, 28, 28), "8x8")
