"""Tests of kdnb.nb01_what_is_distillation: the families table, the teacher-cost timing, the
side-by-side trap, the few-labels comparison, the transfer demonstration and its explorer, and
the checkers of notebook 01's exercises (each accepts the notebook's solution and names a
typical mistake)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from conftest import solution_cells
from kdnb import exercises, losses, models, recipe, results, training
from kdnb import nb01_what_is_distillation as nb
from kdnb import data as kdata
from kdnb.shown import translated

NOTEBOOK = "01_what_is_distillation.ipynb"


@pytest.fixture(scope="module")
def small(mnist) -> kdata.Split:
    return mnist.train.subset(range(300))


@pytest.fixture(scope="module")
def solutions() -> dict[str, str]:
    return solution_cells(NOTEBOOK)


def test_families_table_puts_kd_among_the_families():
    fam = nb.families({"smaller": 30.0, "faster": 4.0, "points lost": 1.5})
    for family in ("knowledge distillation", "pruning", "quantization", "low-rank", "efficient architectures", "Deep Compression"):
        assert any(i.startswith(family) for i in fam.index), family
    kd = fam.loc["knowledge distillation (知识蒸馏)"]
    assert "30x" in kd["typical gain"] and "4.0x faster" in kd["typical gain"] and kd["needs retraining?"].startswith("yes")
    assert fam.loc["Deep Compression (a pipeline, not a family)", "needs retraining?"].startswith("yes")  # 000-7
    assert nb.families()["typical gain"].iloc[0] == "not measured"
    only_size = nb.families({"smaller": 30.1})["typical gain"].iloc[0]  # what the notebook passes: stable on any CPU
    assert only_size == "measured here: 30x fewer parameters"


def test_side_by_side_student_learns_nothing_from_the_teacher(small):
    out = nb.side_by_side(small, teacher_config={"kind": "mlp", "hidden": [32]}, epochs=1, batch_size=64)
    assert out["identical weights"] is True
    assert out["grad of student loss wrt teacher outputs"] is None
    # the teacher did train (so the equality is not because nothing happened)
    torch.manual_seed(0)
    fresh = models.build({"kind": "mlp", "hidden": [32]})
    assert not torch.equal(fresh[1].weight, out["teacher"][1].weight)


def test_epoch_seconds_reports_every_mode(small):
    torch.manual_seed(0)
    teacher = models.mlp((64,)).eval()
    t = nb.epoch_seconds({"s": {"kind": "mlp", "hidden": [16]}}, teacher, small, batch_size=100)
    assert list(t.index) == ["s"]
    for col in ("teacher pass, once", "plain", "cached", "teacher every step"):
        assert t.loc["s", col] > 0
    assert t.loc["s", "KD (cached) / plain"] == pytest.approx(t.loc["s", "cached"] / t.loc["s", "plain"])
    assert t.loc["s", "teacher's share of an epoch"] == pytest.approx(t.loc["s", "teacher every step"] - t.loc["s", "cached"])


def test_cached_and_recomputed_teacher_teach_the_same(small, mnist):
    torch.manual_seed(0)
    teacher = models.mlp((64,)).eval()
    out = nb.cached_vs_every_step(teacher, {"kind": "mlp", "hidden": [16]}, small, mnist.test.subset(range(200)),
                                  epochs=1, batch_size=100)
    assert out["largest logit difference, cached vs per batch"] < 1e-4
    assert abs(out["accuracy difference (points)"]) <= 1.0
    assert out["cached: seconds"] > 0 and out["every step: seconds"] > 0 and out["epochs"] == 1


def test_the_14x14_view_halves_each_side(small):
    X = recipe.view(small.X[:4], nb.TRANSFER["view"])
    assert X.shape == (4, 1, 14, 14)
    assert torch.allclose(X.mean(), small.X[:4].mean(), atol=1e-6)  # average pooling keeps the mean


def test_shipped_transfer_results_have_five_seeds_per_label_count():
    res = results.read("nb01_transfer")
    summary = nb.transfer_summary(res)
    assert (summary["seeds"] == 5).all()
    assert {"alone_test", "kd_test", "labels", "seed"} <= set(res.columns)
    assert summary.loc[300, "gain_mean"] > 0 and not summary.loc[300, "ranges_overlap"]


def _fake_summary():
    res = pd.DataFrame({"labels": [100, 100, 3500, 3500], "seed": [0, 1, 0, 1],
                        "alone_test": [0.70, 0.72, 0.93, 0.92], "kd_test": [0.85, 0.86, 0.93, 0.94]})
    res["gain"] = res.kd_test - res.alone_test
    return nb.transfer_summary(res)


def test_transfer_widget_moves_the_bars_when_the_slider_moves():
    import matplotlib.pyplot as plt

    w = nb.transfer_widget(_fake_summary())
    ax = w.fig.axes[0]
    before = w.view.image.value
    w.controls["labels"].value = 3500
    heights = [b.get_height() for b in ax.patches]
    assert heights == pytest.approx([92.5, 93.5])
    assert w.state["gain"] == pytest.approx(1.0) and w.view.image.value != before  # a new picture was sent
    w.controls["labels"].value = 100
    assert [b.get_height() for b in ax.patches] == pytest.approx([71.0, 85.5])
    fig = nb.plot_transfer(_fake_summary(), 3500)  # the static twin draws the same bars
    assert [b.get_height() for b in fig.axes[0].patches] == pytest.approx([92.5, 93.5])
    assert "all 3,500 labels" in fig.axes[0].get_xticklabels()[1].get_text()  # says what the teacher saw
    plt.close(fig)


# ------------------------------------------------------------------ the few-labels comparison
def _fake_runs() -> pd.DataFrame:
    """Two seeds of some settings: few-labels gains 9 points, its own-teacher twin 5; the most
    accurate distilled student (unregularized-2x800) gains 1."""
    rows = []
    settings = {"default": (0.93, 0.02), "unregularized-2x800": (0.95, 0.01), "few-labels": (0.86, 0.09),
                "few-labels-own-teacher": (0.86, 0.05), "tiny-student": (0.92, 0.001)}
    for name, (alone, gain) in settings.items():
        for seed, noise in ((0, 0.0), (1, 0.002)):
            rows.append({"setting": name, "seed": seed, "T": 4.0, "alone_test": alone + noise, "kd_test": alone + noise + gain})
    return pd.DataFrame(rows)


def test_few_labels_table_puts_the_two_teachers_side_by_side():
    few = nb.few_labels_table(_fake_runs())
    assert list(few.index) == ["few-labels", "few-labels-own-teacher"]
    assert few.loc["few-labels", "teacher trained on"] == "all 3,500 training labels"
    assert few.loc["few-labels-own-teacher", "teacher trained on"] == "the student's 300 labelled images"
    assert few.loc["few-labels", "gain (points)"] == pytest.approx(9.0)
    assert few.loc["few-labels-own-teacher", "gain (points)"] == pytest.approx(5.0)
    assert few.loc["few-labels", "teacher test accuracy (%)"] > few.loc["few-labels-own-teacher", "teacher test accuracy (%)"]


def test_shipped_settings_have_the_own_teacher_row():
    few = nb.few_labels_table(results.read("recipe_settings"))
    assert list(few.index) == list(nb.FEW_LABELS)
    assert few.loc["few-labels", "alone (%)"] == few.loc["few-labels-own-teacher", "alone (%)"]  # the same 300 labels


# ------------------------------------------------------------------ the exercises
def _solve(solutions, number, **names):
    ns = {"nb": nb, "F": F, "torch": torch, "models": models, "losses": losses, "exercises": exercises, **names}
    exec(solutions[number], ns)
    return ns


def test_every_exercise_has_a_solution(solutions):
    assert set(solutions) == {"2.1", "3.1", "4.1", "6.1", "7.1"}


def test_student_loss_check_accepts_the_solution_and_names_mistakes(solutions, capsys):
    ns = _solve(solutions, "2.1")
    assert nb.check_student_loss(ns["student_loss"])

    def labels_only(s, t, y):
        return F.cross_entropy(s, y)

    def not_detached(s, t, y, T=4.0, alpha=0.9):
        kl = F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean")
        return (1 - alpha) * F.cross_entropy(s, y) + alpha * T**2 * kl

    def no_t_squared(s, t, y, T=4.0, alpha=0.9):
        kl = F.kl_div(F.log_softmax(s / T, 1), F.softmax(t.detach() / T, 1), reduction="batchmean")
        return (1 - alpha) * F.cross_entropy(s, y) + alpha * kl

    def sign_flipped(s, t, y, T=4.0, alpha=0.9):
        p = F.softmax(t.detach() / T, 1)
        kl = (p * (F.log_softmax(s / T, 1) - torch.log(p))).sum(1).mean()
        return (1 - alpha) * F.cross_entropy(s, y) + alpha * T**2 * kl

    def stub(s, t, y):
        exercises.your_turn("write it")

    for fn, message in ((labels_only, "no teacher output reaches the student"), (not_detached, "gradients reach the teacher"),
                        (no_t_squared, "T² factor is missing"), (sign_flipped, "sign is flipped")):
        verdict = nb.check_student_loss(fn)
        assert not verdict and message in verdict.message, (fn.__name__, verdict.message)
    assert nb.check_student_loss(stub).status == "todo"
    assert nb.check_student_loss(lambda s, t, y: losses.kd_loss(s, t, y, T=4.0, alpha=0.9))  # the library agrees


def test_student_kb_check(solutions):
    student = models.build({"kind": "mlp", "hidden": [100]})
    ns = _solve(solutions, "3.1", distilled=student)
    assert nb.check_student_kb(ns["student_kb"], student)
    n = models.count_params(student)
    assert "4 bytes" in nb.check_student_kb(n / 1024, student).message           # parameters, not bytes
    assert "bits" in nb.check_student_kb(n * 32 / 1024, student).message         # bits
    assert "1,024" in nb.check_student_kb(n * 4, student).message                # bytes, not KB
    assert nb.check_student_kb(..., student).status == "todo"


def test_needs_data_check(solutions):
    ns = _solve(solutions, "4.1")
    assert nb.check_needs_data(ns["needs_data"])
    everything = {k: True for k in nb.NEEDS_DATA}
    assert "calibration" in nb.check_needs_data(everything).message  # post-training quantization needs no training set
    no_kd = dict(ns["needs_data"], **{"knowledge distillation": False})
    assert "transfer set" in nb.check_needs_data(no_kd).message
    assert nb.check_needs_data({k: ... for k in nb.NEEDS_DATA}).status == "todo"  # the stub
    # the committed stub must not already be the answer
    assert not nb.check_needs_data({k: ... for k in nb.NEEDS_DATA})


def test_leaked_points_check(solutions):
    runs = _fake_runs()
    ns = _solve(solutions, "6.1", few=nb.few_labels_table(runs), runs=runs)
    assert ns["leaked_points"] == pytest.approx(4.0)
    assert nb.check_leaked_points(ns["leaked_points"], runs)
    assert "whole gain" in nb.check_leaked_points(9.0, runs).message
    assert "what remains" in nb.check_leaked_points(5.0, runs).message
    assert "fraction" in nb.check_leaked_points(0.04, runs).message
    real = results.read("recipe_settings")
    ns = _solve(solutions, "6.1", few=nb.few_labels_table(real), runs=real)
    assert nb.check_leaked_points(ns["leaked_points"], real)


def test_best_setting_check(solutions):
    runs = _fake_runs()
    ns = _solve(solutions, "7.1", summary=recipe.summarize(runs), runs=runs)
    assert ns["best_setting"] == "few-labels" and nb.check_best_setting(ns["best_setting"], runs)
    assert "another setting gains more" in nb.check_best_setting("default", runs).message
    assert "most accurate distilled student, not the largest gain" in nb.check_best_setting("unregularized-2x800", runs).message
    assert "also saw the labels" in nb.check_best_setting("few-labels-own-teacher", runs).message
    assert "not a setting" in nb.check_best_setting("few labels", runs).message
    real = results.read("recipe_settings")
    assert nb.check_best_setting(recipe.summarize(real)["gain_mean"].idxmax(), real)


# ------------------------------------------------------------------ the verdicts the cells show
def test_twin_and_trap_verdicts_fail_when_the_numbers_turn():
    acc = pd.Series([96.8, 93.3, 95.0], index=["teacher", "alone", "distilled"])
    assert nb.twin_verdicts(acc).require()
    assert len(nb.twin_verdicts(pd.Series([93.0, 95.0, 93.3])).failed) == 2
    good = {"identical weights": True, "grad of student loss wrt teacher outputs": None}
    assert nb.trap_verdicts(good).require()
    with pytest.raises(AssertionError, match="bit for bit"):
        nb.trap_verdicts(dict(good, **{"identical weights": False})).require()
    with pytest.raises(AssertionError, match="no gradient"):
        nb.trap_verdicts(dict(good, **{"grad of student loss wrt teacher outputs": torch.ones(1)})).require()


def test_accuracies_are_in_percent(small):
    torch.manual_seed(0)
    model = models.build({"kind": "mlp", "hidden": [8]})
    acc = nb.accuracies({"m": model}, small)
    assert acc["m"] == pytest.approx(100 * training.accuracy(model, small))


def _evaluated(acc=(96.8, 93.3, 95.0), params=(2_395_210, 79_510, 79_510), latency=(0.3, 0.02, 0.02)):
    return pd.DataFrame({"test accuracy (%)": acc, "parameters": params, "bytes": [4 * p for p in params],
                         "latency, 1 image (ms)": latency},
                        index=["teacher (MLP)", "student alone (MLP)", "distilled student (MLP)"])


def test_evaluation_and_ranking_verdicts():
    assert nb.evaluation_verdicts(_evaluated()).require()
    assert nb.ranking_verdicts(_evaluated()).require()
    assert "gives up 1.8 points for 30x fewer parameters" in list(nb.ranking_verdicts(_evaluated()))[1]
    slow = nb.evaluation_verdicts(_evaluated(latency=(0.01, 0.02, 0.02)))
    assert slow.failed == ["the distilled student answers one image faster than the teacher"]
    with pytest.raises(AssertionError, match="winner is the teacher"):
        nb.ranking_verdicts(_evaluated(acc=(93.0, 93.3, 95.0))).require()


def test_families_verdicts():
    fam = nb.families()
    assert nb.families_verdicts(fam).require()
    fam.loc["knowledge distillation (知识蒸馏)", "needs retraining?"] = "no"
    with pytest.raises(AssertionError, match="knowledge distillation retrains"):
        nb.families_verdicts(fam).require()


def _times(small_every=1.0, small_cached=0.04, big_every=1.2, big_cached=0.35):
    t = pd.DataFrame({"teacher pass, once": [0.9, 0.9], "plain": [0.03, 0.35], "cached": [small_cached, big_cached],
                      "teacher every step": [small_every, big_every]}, index=["MLP 1x100 student", "MLP 2x800 student"])
    t["teacher's share of an epoch"] = t["teacher every step"] - t["cached"]
    t["KD (teacher every step) / KD (cached)"] = t["teacher every step"] / t["cached"]
    t["KD (cached) / plain"] = t["cached"] / t["plain"]
    return t


def test_timing_verdicts():
    assert nb.timing_verdicts(_times()).require()
    assert "MLP 1x100 student" in list(nb.timing_verdicts(_times()))[0]
    # a teacher that costs nothing extra per step: the cached and every-step epochs cost the same
    flat = nb.timing_verdicts(_times(small_every=0.05, small_cached=0.04))
    assert any("more than 2x" in claim for claim in flat.failed)
    with pytest.raises(AssertionError, match="less than 2x"):
        nb.timing_verdicts(_times(small_cached=0.1)).require()


def test_caching_verdicts():
    same = {"cached: test accuracy (%)": 83.8, "every step: test accuracy (%)": 83.8, "accuracy difference (points)": 0.0,
            "largest logit difference, cached vs per batch": 1e-6, "every step / cached (time)": 2.4,
            "every step: seconds": 2.7, "cached: seconds": 1.1, "epochs": 3}
    assert nb.caching_verdicts(same).require()
    off = dict(same, **{"every step: test accuracy (%)": 82.0, "accuracy difference (points)": 1.8})
    with pytest.raises(AssertionError, match="agree within 3"):
        nb.caching_verdicts(off).require()
    assert len(nb.caching_verdicts(dict(same, **{"every step / cached (time)": 1.1})).failed) == 1


def test_few_labels_verdicts_on_fake_and_shipped_runs():
    few = nb.few_labels_table(_fake_runs())
    verdicts = nb.few_labels_verdicts(few)
    assert verdicts.require() and "so 4.0 of the 9.0 points" in list(verdicts)[-1]
    assert nb.few_labels_verdicts(nb.few_labels_table(results.read("recipe_settings"))).require()
    swapped = few.copy()
    swapped.loc["few-labels-own-teacher", "gain (points)"] = 10.0
    with pytest.raises(AssertionError, match="gains"):
        nb.few_labels_verdicts(swapped).require()


def test_fit_gap(small):
    torch.manual_seed(0)
    model = models.build({"kind": "mlp", "hidden": [8]})
    ds = kdata.Dataset("tiny", small, small, small)
    gap = nb.fit_gap({"m": model}, ds)
    assert gap.loc["m", "train - test (points)"] == pytest.approx(0.0)  # the same split both ways


def test_teacher_choice_verdicts():
    summary = recipe.summarize(results.read("recipe_settings"))
    assert nb.teacher_choice_verdicts(summary).require()
    better_cnn = summary.copy()
    better_cnn.loc["cnn-teacher", "gain_mean"] = better_cnn.loc["default", "gain_mean"] + 1
    with pytest.raises(AssertionError, match="teaches the 1x100 student less"):
        nb.teacher_choice_verdicts(better_cnn).require()


def test_replay_verdicts():
    stored = pd.Series({"alone_test": 0.925, "kd_test": 0.924})
    assert nb.replay_verdicts({"alone_test": 0.925, "kd_test": 0.927}, stored).require()
    with pytest.raises(AssertionError, match="reproduces the stored"):
        nb.replay_verdicts({"alone_test": 0.925, "kd_test": 0.94}, stored).require()
    no_gain = nb.replay_verdicts({"alone_test": 0.925, "kd_test": 0.924}, stored, expect_gain=True)
    assert no_gain.failed == ["the distilled student beats the student alone in the live run"]


def test_explorer_and_transfer_verdicts():
    summary = _fake_summary().rename({100: 300})
    assert nb.explorer_verdicts(nb.transfer_widget(summary), summary).require()
    other = summary.copy()
    other.loc[3500, "gain_mean"] = 2.0  # not what the explorer reads
    assert nb.explorer_verdicts(nb.transfer_widget(summary), other).failed == ["at 3,500 labels the explorer shows the stored gain"]
    shipped = nb.transfer_summary(results.read("nb01_transfer"))
    explorer = nb.transfer_widget(shipped)
    assert nb.explorer_verdicts(explorer, shipped).require() and explorer.state["labels"] == 300
    assert nb.transfer_verdicts(shipped).require()
    flat = shipped.copy()
    flat.loc[3500, "ranges_overlap"] = False
    with pytest.raises(AssertionError, match="within the seed noise"):
        nb.transfer_verdicts(flat).require()


def test_same_network_verdicts():
    torch.manual_seed(0)
    a, b = models.build({"kind": "mlp", "hidden": [8]}), models.build({"kind": "mlp", "hidden": [8]})
    assert nb.same_network_verdicts(a, b, _evaluated()).require()
    wider = models.build({"kind": "mlp", "hidden": [9]})
    assert len(nb.same_network_verdicts(a, wider, _evaluated(latency=(0.3, 0.01, 0.05))).failed) == 2


def test_agreement_table_and_verdicts():
    table = nb.agreement_table(results.read("recipe_settings"))
    assert list(table.columns) == ["student alone agrees with its teacher (%)", "distilled student agrees (%)"]
    assert list(table.index) == list(recipe.SETTINGS)  # the table's own order
    assert nb.agreement_verdicts(table).require()
    perfect = table.copy()
    perfect.iloc[0, 1] = 100.0
    with pytest.raises(AssertionError, match="no student agrees"):
        nb.agreement_verdicts(perfect).require()


# ------------------------------------------------------------------ the table maker
def test_transfer_table_has_a_registered_maker(tmp_path, monkeypatch):
    from kdnb.nb01_what_is_distillation import tables

    assert results.owner_module("nb01_transfer") == "kdnb.nb01_what_is_distillation.tables"
    assert tables.MAKERS == (tables.make_transfer,) and tables.make_transfer.maker.tables == ("nb01_transfer",)
    monkeypatch.setenv("KDNB_RESULTS", str(tmp_path))
    monkeypatch.setitem(nb.TRANSFER, "epochs", 1)  # a tiny run: one epoch per student
    paths = results.make("nb01_transfer", seeds=[0], progress=False)
    assert paths == [tmp_path / "nb01_transfer.csv"]
    made = results.read("nb01_transfer")
    assert sorted(made["labels"]) == sorted(nb.TRANSFER_LABELS) and set(made["seed"]) == {0}
    assert (nb.transfer_summary(made)["seeds"] == 1).all()


def test_student_loss_check_names_swapped_weights_and_a_class_mean():
    def swapped(s, t, y, T=4.0, alpha=0.9):
        return losses.kd_loss(s, t.detach(), y, T=T, alpha=1 - alpha)

    def class_mean(s, t, y, T=4.0, alpha=0.9):
        p = F.softmax(t.detach() / T, 1)
        kl = (p * (torch.log(p) - F.log_softmax(s / T, 1))).mean()  # a mean over the classes too, not only the batch
        return losses.kd_loss(s, t.detach(), y, T=T, alpha=0.0) * (1 - alpha) + alpha * T**2 * kl

    assert "swapped" in nb.check_student_loss(swapped).message
    assert "averaged over classes" in nb.check_student_loss(class_mean).message


def test_room_speaks_chinese_when_asked():
    from kdnb import i18n

    try:
        i18n.set_language("zh")
        fam = nb.shown(nb.families({"smaller": 30.1}))
        seen = translated(fam, type(fam).label)  # what the reader sees; the table keeps its English names
        assert "知识蒸馏（knowledge distillation）" in seen.index and "典型收益" in seen.columns
        assert "参数量" in seen.iloc[0]["典型收益"] and "典型收益" in fam._repr_html_()
        assert "knowledge distillation (知识蒸馏)" in fam.index and "typical gain" in fam.columns
        claims = list(nb.families_verdicts(nb.families()))  # reads the English table, speaks Chinese
        assert all("重新训练" in c for c in claims)
        assert nb.model_label("teacher (MLP 2x1200 +dropout)") == "教师（MLP 2x1200 +dropout）"
        assert "自测 3.1" in str(nb.check_student_kb(..., models.build({"kind": "mlp", "hidden": [8]})))
    finally:
        i18n.set_language(None)
    assert nb.model_label("teacher (MLP 2x1200 +dropout)") == "teacher (MLP 2x1200 +dropout)"
