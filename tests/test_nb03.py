"""Notebook 03's package: gradient scaling with T, the seed's loss, the high-T limit, the shipped sweep and its maker,
the explorer, the verdicts of the notebook's claims (each can fail), and the checkers of the notebook's exercises
(each accepts the notebook's solution and names a typical mistake)."""

import math

import numpy as np
import pytest
import torch

from kdnb import nb03_temperature as nb
from kdnb import recipe, results, temperature
from kdnb.shown import translated
from kdnb.nb03_temperature import experiments, explorer as explorer_module, sweep as sweep_module, tables


@pytest.fixture(scope="module")
def logits():
    g = torch.Generator().manual_seed(0)
    return 3 * torch.randn(64, 10, generator=g), 3 * torch.randn(64, 10, generator=g)


def test_without_T2_the_gradient_falls_as_one_over_T_squared(logits):
    z, v = logits
    table = nb.soft_gradient_norms(z, v, [1, 10, 100])
    assert np.allclose(table["with_T2"] / table["without_T2"], np.array([1, 100, 10000]), rtol=1e-4)
    # from T=10 to T=100 the bare KL gradient shrinks by about 100, the scaled one levels off
    assert 80 < table.loc[10.0, "without_T2"] / table.loc[100.0, "without_T2"] < 120
    assert 0.8 < table.loc[10.0, "with_T2"] / table.loc[100.0, "with_T2"] < 1.25


def test_distillation_tends_to_logit_matching(logits):
    z, v = logits
    gap = nb.logit_matching_gap(z, v, [2, 20, 200])["relative_difference"]
    assert gap.is_monotonic_decreasing and gap.iloc[-1] < 0.02
    assert 5 < gap.iloc[1] / gap.iloc[2] < 20  # about 1/T


def test_temperature_changes_the_gradient_direction(logits):
    z, v = logits
    cos = nb.gradient_cosines(z, v, [1, 4, 20])
    assert cos.loc[1.0] == pytest.approx(1.0)
    assert cos.loc[20.0] < 0.99  # not a rescaled copy: T is no learning rate


def test_sweep_students_are_hintons_two_shapes():
    assert nb.SWEEP["2x30"]["student"]["hidden"] == [30, 30] and nb.SWEEP["2x300"]["student"]["hidden"] == [300, 300]
    assert {k: v for k, v in nb.SWEEP["2x30"].items() if k not in ("student", "summary")} == \
           {k: v for k, v in nb.SWEEP["2x300"].items() if k not in ("student", "summary")}


def test_shipped_sweep_is_complete():
    df = results.read("nb03_sweep")
    assert set(df["T"]) == set(sweep_module.SWEEP_TEMPERATURES)
    assert set(df["seed"]) == set(sweep_module.SWEEP_SEEDS)
    assert df.groupby(["setting", "T"]).size().eq(len(sweep_module.SWEEP_SEEDS)).all()
    # the label-only student does not depend on T: identical for each T of a seed
    assert df.groupby(["setting", "seed"])["alone_test"].nunique().eq(1).all()
    summary = nb.sweep_summary(df)
    assert {"kd_mean", "kd_min", "kd_max", "alone_mean", "gain_mean", "kd_gap", "kd_agree"} <= set(summary.columns)


# ------------------------------------------------------------------ the explorer, driven as a reader drives it
@pytest.fixture(scope="module")
def inputs():
    return nb.synthetic_inputs(n_images=3, seed=1)


@pytest.fixture(scope="module")
def explorer(inputs):
    return nb.temperature_explorer(inputs, T=1.0)


def test_slider_updates_the_state_and_the_text(explorer, inputs):
    explorer.slider.value = 20
    key = explorer.dropdown.value
    for model in ("teacher", "student"):
        expected = temperature.soft_targets(inputs[key][model], 20)
        assert np.allclose(explorer.state["probs"][model], expected.numpy(), atol=1e-12)
        assert math.isclose(explorer.state["entropy"][model], temperature.entropy(expected).item(), rel_tol=1e-12)
        heights = [bar.get_height() for bar in explorer.artists["bars"][model].patches]
        assert np.allclose(heights, expected.numpy())
        assert f"{model}: entropy {explorer.state['entropy'][model]:.2f} bits" in explorer.readout.value
    assert "T = 20.00" in explorer.readout.value
    assert explorer.view.image.value[:8] == b"\x89PNG\r\n\x1a\n"  # a rendered image reached the view


def test_extremes():
    z = torch.tensor([5.0, 3.0, 1.0, 0.5, 0.0, -1.0, -1.0, -2.0, -3.0, -4.0], dtype=torch.float64)
    explorer = nb.temperature_explorer({"a": {"teacher": z}})
    explorer.slider.value = 0.1
    assert explorer.state["probs"]["teacher"].max() > 0.999 and explorer.state["entropy"]["teacher"] < 0.02
    explorer.slider.value = 50
    p = explorer.state["probs"]["teacher"]
    assert np.abs(p - 0.1).max() < 0.05 and explorer.state["entropy"]["teacher"] > 0.97 * math.log2(10)


def test_argmax_is_the_same_at_every_temperature(explorer):
    seen = set()
    for T in (0.1, 1.0, 4.0, 50.0):
        explorer.slider.value = T
        seen.add(explorer.state["argmax"]["teacher"])
    assert len(seen) == 1


def test_dropdown_switches_image(explorer, inputs):
    explorer.slider.value = 4
    keys = list(inputs)
    explorer.dropdown.value = keys[2]
    expected = temperature.soft_targets(inputs[keys[2]]["teacher"], 4)
    assert np.allclose(explorer.state["probs"]["teacher"], expected.numpy())
    explorer.dropdown.value = keys[0]


def test_state_at_is_pure(explorer):
    before = dict(explorer.state)
    s = explorer.state_at(3.0)
    assert s["T"] == 3.0 and explorer.state["T"] == before["T"]


def test_pick_images_finds_opening_confident_and_ambiguous():
    logits = torch.tensor([[9.0, 0, 0, 0], [1.0, 0.9, 0.8, 0], [2.0, 1.9, 0, 0], [5.0, 0, 0, 0]])
    labels = torch.tensor([0, 1, 0, 0])
    picks = nb.pick_images(logits, labels, n_ambiguous=2)
    assert list(picks.values()) == [3, 0, 1, 2]  # opening (the only right image left), confident, ambiguous
    assert "runner-up" in list(picks)[0] and "sure" in list(picks)[1] and "says 0" in list(picks)[2]


def test_the_opening_image_is_the_right_one_whose_runner_up_gets_a_tenth():
    gaps = [0.5, 2.2, 2.45, 6.0, 2.3]
    logits = torch.zeros(len(gaps) + 1, 10)
    for i, g in enumerate(gaps):
        logits[i, 3], logits[i, 5] = g, 0.0  # class 3 wins by g over class 5
        logits[i, [0, 1, 2, 4, 6, 7, 8, 9]] = -4.0
    logits[-1, 3] = 30.0  # the image the teacher is surest of
    labels = torch.full((len(gaps) + 1,), 3)
    labels[4] = 7  # the best gap (2.3 is nearest ln 10 = 2.303) is a mistake: not eligible
    picks = nb.pick_images(logits, labels, n_ambiguous=1)
    opening = next(iter(picks.values()))
    assert opening == 1, picks  # gap 2.2 beats 2.45 (distance 0.10 against 0.15)
    assert "runner-up (5)" in next(iter(picks))
    assert math.log(explorer_module.OPENING_RATIO) == pytest.approx(2.302585, abs=1e-6)


def test_bad_explorer_inputs():
    with pytest.raises(ValueError, match="empty"):
        nb.temperature_explorer({})
    with pytest.raises(ValueError, match="T_min < T_max"):
        nb.temperature_explorer(nb.synthetic_inputs(1), T_min=2.0, T_max=1.0)


# ------------------------------------------------------------------ seed 002-S3: t = 1/T and its loss
def test_seed_weights_are_negative_on_the_teacher_term_below_T_1():
    w = nb.seed_weights([0.25, 0.5, 1.0, 4.0])
    assert w.loc[0.5, "t = 1/T (student term)"] == 2.0 and w.loc[0.5, "1 - t (teacher term)"] == -1.0
    assert (w.loc[[0.25, 0.5], "1 - t (teacher term)"] < 0).all() and w.loc[1.0, "1 - t (teacher term)"] == 0


def test_seed_loss_is_t_times_cross_entropy_plus_a_constant(logits):
    z, v = logits
    y = torch.arange(len(z)) % 10
    T = 0.5
    loss = experiments.seed_loss(z, v, y, T)
    const = -(1 - 1 / T) * torch.log_softmax(v, -1)[torch.arange(len(z)), y].mean()
    assert torch.allclose(loss, torch.nn.functional.cross_entropy(z, y) / T + const)


def test_teacher_swap_test_separates_the_seed_loss_from_kd_loss(logits):
    z, v = logits
    other = torch.flip(v, dims=[1])
    y = torch.arange(len(z)) % 10
    table = nb.teacher_swap_test(z, v, other, y, seed_T=(0.5, 0.8), kd_T=4.0, alpha=0.9)
    seed_rows, kd_row = table.iloc[:2], table.iloc[2]
    assert seed_rows["gradient unchanged by the swap"].all() and seed_rows["loss value changes"].all()
    assert seed_rows["gradient = t x gradient of CE(labels)"].all()
    # the same test can fail: kd_loss's gradient depends on the teacher
    assert not kd_row["gradient unchanged by the swap"] and kd_row["relative change"] > 0.1
    assert not kd_row["gradient = t x gradient of CE(labels)"]


def test_targets_move_towards_the_labels_as_T_falls(logits):
    _, v = logits
    y = v.argmax(1)
    table = nb.targets_vs_labels(v, y, [0.5, 1, 4, 20])
    assert table.iloc[:, 0].is_monotonic_increasing and table.iloc[:, 1].is_monotonic_increasing
    assert table.iloc[0, 1] < table.iloc[-1, 1]


def test_gap_and_agreement_from_the_shipped_sweep():
    runs = results.read("nb03_sweep")
    table = nb.gap_and_agreement(runs)
    row = runs[(runs.setting == "2x30") & (runs["T"] == 1)]
    assert table.loc[("2x30", 1), "kd_gap_mean"] == pytest.approx(100 * (row.kd_train - row.kd_test).mean(), abs=0.01)
    assert table.loc[("2x30", 1), "kd_agree_mean"] == pytest.approx(100 * row.kd_agree.mean(), abs=0.01)
    assert (table["kd_gap_min"] <= table["kd_gap_mean"]).all() and (table["kd_gap_mean"] <= table["kd_gap_max"]).all()
    card = nb.sweep_card(runs)
    assert card["training images (labels and transfer set)"] == f"{int(runs['labels'].iloc[0]):,}"
    assert "2x30: MLP 2x30" in card["students (Hinton's two shapes)"] and "mlp-mnist" in card["teacher"]


# ------------------------------------------------------------------ the exercises: solution accepted, mistakes named
NOTEBOOK = "03_temperature.ipynb"


@pytest.fixture(scope="module")
def solutions():
    from conftest import solution_cells

    found = solution_cells(NOTEBOOK)
    assert set(found) == {"2.1", "2.2", "3.1", "4.1", "5.1", "6.1", "7.1", "8.1"}
    return found


def run_solution(source, **names):
    ns = {"nb": nb, **names}
    exec(source, ns)
    return ns


def test_ratio_e(solutions):
    ns = run_solution(solutions["2.1"])
    assert nb.check_ratio_e(ns["T_ratio_e"]).status == "correct"
    assert "multiplied the logits by T" in nb.check_ratio_e(0.5).message
    p = torch.softmax(torch.tensor(nb.RATIO_LOGITS, dtype=torch.float64), 0)
    assert "probabilities" in nb.check_ratio_e(float(p[0] - p[1])).message
    assert nb.check_ratio_e(...).status == "todo"


@pytest.fixture(scope="module")
def teacher_view(mnist):
    from kdnb import teachers, training

    teacher_test = training.predict_logits(teachers.load_teacher("cnn-mnist"), mnist.test.X)
    picks = nb.pick_images(teacher_test, mnist.test.y)
    return {"teacher_test": teacher_test, "picks": picks, "confident": list(picks)[1], "temperature": temperature}


def test_two_bits(solutions, teacher_view):
    ns = run_solution(solutions["2.2"], **teacher_view)
    z = teacher_view["teacher_test"][teacher_view["picks"][teacher_view["confident"]]]
    assert nb.check_two_bits(z, ns["T_two_bits"]).status == "correct"
    assert "lowest such T" in nb.check_two_bits(z, 3 * ns["T_two_bits"]).message
    assert "below 1, which sharpens" in nb.check_two_bits(z, 0.5).message
    assert "raise T" in nb.check_two_bits(z, 2.0).message


def test_learning_rate_like(solutions):
    ns = run_solution(solutions["3.1"])
    assert nb.check_learning_rate_like(ns["lr_like"]).status == "correct"
    assert nb.check_learning_rate_like("a, c").status == "correct"
    assert "(b) turns the gradient" in nb.check_learning_rate_like({"a", "b", "c"}).message
    assert "(d) doubling the teacher's logits" in nb.check_learning_rate_like("acd").message
    assert "(a) does act like a learning rate" in nb.check_learning_rate_like({"c"}).message


def test_shrink_factor(solutions):
    ns = run_solution(solutions["4.1"])
    assert nb.check_shrink_factor(ns["shrink_factor"]).status == "correct"
    assert "one more factor 1/T" in nb.check_shrink_factor(2).message
    assert "factor it is multiplied by" in nb.check_shrink_factor(0.25).message


@pytest.mark.filterwarnings("ignore:reduction")  # the 'mean' mistake warns, as it should
def test_kd_loss(solutions):
    import torch.nn.functional as F

    from kdnb import exercises

    ns = run_solution(solutions["5.1"], F=F)
    assert nb.check_kd_loss(ns["my_kd_loss"]).status == "correct"

    def kl(z, v, T, reduction="batchmean"):
        return F.kl_div(F.log_softmax(z / T, -1), F.log_softmax(v / T, -1), reduction=reduction, log_target=True)

    mistakes = {
        "T² factor is missing": lambda z, v, y, T, a: (1 - a) * F.cross_entropy(z, y) + a * kl(z, v, T),
        "you swapped them": lambda z, v, y, T, a: a * F.cross_entropy(z, y) + (1 - a) * T**2 * kl(z, v, T),
        "KL is not symmetric": lambda z, v, y, T, a: (1 - a) * F.cross_entropy(z, y) + a * T**2 * F.kl_div(
            F.log_softmax(v / T, -1), F.log_softmax(z / T, -1), reduction="batchmean", log_target=True),
        "reduction='batchmean'": lambda z, v, y, T, a: (1 - a) * F.cross_entropy(z, y) + a * T**2 * kl(z, v, T, "mean"),
        "soften the student too": lambda z, v, y, T, a: (1 - a) * F.cross_entropy(z, y) + a * T**2 * F.kl_div(
            F.log_softmax(z, -1), F.log_softmax(v / T, -1), reduction="batchmean", log_target=True),
        "the seed's loss": lambda z, v, y, T, a: experiments.seed_loss(z, v, y, T),
        "no gradient reaches the student": lambda z, v, y, T, a: ns["my_kd_loss"](z, v, y, T, a).detach(),
    }
    for message, fn in mistakes.items():
        verdict = nb.check_kd_loss(fn)
        assert verdict.status == "wrong" and message in verdict.message, (message, verdict.message)

    def stub(z, v, y, T, alpha):
        exercises.your_turn("write it")

    assert nb.check_kd_loss(stub).status == "todo"


def test_gap_shrink(solutions):
    ns = run_solution(solutions["6.1"])
    assert nb.check_gap_shrink(ns["gap_shrink"]).status == "correct"
    assert "1/T² rate of the bare KL gradient" in nb.check_gap_shrink(100).message


def test_accuracy_changes(solutions):
    ns = run_solution(solutions["7.1"])
    assert nb.check_accuracy_changes(ns["accuracy_changes"]).status == "correct"
    assert "keeps their order" in nb.check_accuracy_changes(True).message
    assert "True or False" in nb.check_accuracy_changes(0).message


def test_gain(solutions):
    summary = nb.sweep_summary(results.read("nb03_sweep"))
    ns = run_solution(solutions["8.1"], summary=summary)
    assert nb.check_gain(summary, ns["gain_small"]).status == "correct"
    row = summary.loc[("2x30", 4)]
    assert "accuracy (kd_mean)" in nb.check_gain(summary, row["kd_mean"]).message
    assert "fraction" in nb.check_gain(summary, row["gain_mean"] / 100).message
    other = summary.loc[("2x300", 4), "gain_mean"]
    if abs(other - row["gain_mean"]) > 0.051:
        assert "(2x300, T = 4)" in nb.check_gain(summary, other).message


# ------------------------------------------------------------------ the displayed explorer stands where its code says
def test_driving_and_restoring_the_explorer(inputs):
    explorer = nb.temperature_explorer(inputs, T=1.0)
    first = explorer.controls["key"].value
    for T in (0.1, 8.0, 40.0):
        explorer.controls["T"].value = T
        assert explorer.state["T"] == T
    explorer.controls["T"].value = 1.0
    assert explorer.state["T"] == 1.0 and explorer.state["key"] == first
    assert "T = 1.00" in explorer.readout.value


def test_values_set_from_code_are_on_the_sliders_grid(inputs):
    """The page shows exactly the value the kernel holds, so it has nothing to round and send back."""
    explorer = nb.temperature_explorer(inputs, T=1.0)
    slider = explorer.controls["T"]
    for T in (0.1, 0.5, 1.0, 2.0, 4.0, 8.0, 20.0, 40.0, 50.0):
        slider.value = T
        assert slider.value == T and slider.label == f"{T:g}" and explorer.state["T"] == T
        assert slider.options[slider.index] == (f"{T:g}", T)  # what the page shows is what the kernel has
    slider.value = 7.96  # not on the grid: snapped to the nearest grid value, everywhere at once
    assert slider.value == 8.0 and explorer.state["T"] == 8.0 and "T = 8.00" in explorer.readout.value
    import traitlets

    for bad in (0.0, -1.0, 100.0, float("nan"), "hot"):
        with pytest.raises(traitlets.TraitError):
            slider.value = bad
    assert slider.value == 8.0 and explorer.state["T"] == 8.0


@pytest.fixture(scope="module")
def cnn_explorer(mnist):
    from kdnb import teachers, training

    teacher_test = training.predict_logits(teachers.load_teacher("cnn-mnist"), mnist.test.X)
    picks = nb.pick_images(teacher_test, mnist.test.y)
    return nb.temperature_explorer(nb.explorer_inputs(picks, {"teacher": teacher_test}, mnist.test.X), T=1.0), picks


def _frames(explorer, temperatures) -> dict:
    frames = {}
    for T in temperatures:
        explorer.controls["T"].value = T
        frames[T] = explorer.view.image.value
    return frames


def test_the_explorer_opens_on_an_image_where_moderate_temperatures_show(cnn_explorer):
    explorer, picks = cnn_explorer
    assert explorer.controls["key"].value == list(picks)[0]
    frames = _frames(explorer, (0.5, 1.0, 3.0))
    assert len(set(frames.values())) == 3, "T = 0.5, 1 and 3 must draw three different frames"
    # and visibly so: the runner-up's bar moves by at least 4 pixels of a 250-pixel axis between each
    runner_up = [sorted(explorer.state_at(T)["probs"]["teacher"])[-2] for T in (0.5, 1.0, 3.0)]
    assert min(b - a for a, b in zip(runner_up, runner_up[1:])) > 4 / 250, runner_up
    # The confident image, by contrast, does not move below T of about 3: why it is not the opening image.
    explorer.controls["key"].value = list(picks)[1]
    assert len(set(_frames(explorer, (0.1, 0.5, 1.0)).values())) == 1
    explorer.controls["key"].value, explorer.controls["T"].value = list(picks)[0], 1.0


def test_every_verdict_mark_is_drawn_by_the_fonts_linux_has():
    """The "your turn" line is printed in every notebook: its mark must not be a box without an emoji font."""
    from pathlib import Path

    import matplotlib
    from fontTools.ttLib import TTFont

    from kdnb.exercises import Verdict

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    for status in ("correct", "wrong", "todo"):
        mark = str(Verdict("x", status, "")).split(": ", 1)[1][0]
        for name in ("DejaVuSansMono.ttf", "DejaVuSans.ttf"):
            assert ord(mark) in TTFont(fonts / name).getBestCmap(), f"{mark!r} ({status}) is missing from {name}"


# ------------------------------------------------------------------ the room: its shape
def test_the_room_exports_what_the_cells_call_and_nothing_is_missing():
    import json
    import re
    from pathlib import Path

    assert all(hasattr(nb, name) for name in nb.__all__)
    cells = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / NOTEBOOK).read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    called = set(re.findall(r"\bnb\.(\w+)", code))
    assert called <= set(nb.__all__), sorted(called - set(nb.__all__))
    # classroom.py and bench.py call these
    assert {"explorer_inputs", "pick_images", "temperature_explorer", "synthetic_inputs"} <= set(nb.__all__)


def test_the_room_files_are_short_and_their_functions_take_few_parameters():
    import ast
    import inspect
    from pathlib import Path

    folder = Path(nb.__file__).parent
    for path in folder.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 500, f"{path.name} has {len(text.splitlines())} lines"
        assert "argparse" not in text and "__main__" not in text, path.name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs if a.arg not in ("self", "cls")]
                assert len(args) <= 8, f"{path.name}: {node.name} takes {len(args)} parameters"
    assert not hasattr(nb, "main") and inspect.ismodule(tables)


def test_the_sweep_maker_is_registered_and_writes_its_table(tmp_path, monkeypatch):
    assert tables.MAKERS == (tables.make_sweep,)
    assert tables.make_sweep.maker.tables == ("nb03_sweep",)
    assert results.owner_module("nb03_sweep") == "kdnb.nb03_temperature.tables"
    # a tiny sweep: one small student, one T, one seed, one epoch, written to a temporary folder
    monkeypatch.setenv("KDNB_RESULTS", str(tmp_path))
    monkeypatch.setattr(tables, "SWEEP", {"2x8": dict(sweep_module.SWEEP["2x30"], epochs=1,
                                                      student={"kind": "mlp", "hidden": [8, 8]})})
    monkeypatch.setattr(tables, "SWEEP_TEMPERATURES", (4.0,))
    [path] = results.make("nb03_sweep", seeds=[0], progress=False)
    assert path == tmp_path / "nb03_sweep.csv"
    runs = results.read("nb03_sweep")
    assert len(runs) == 1 and runs.loc[0, "setting"] == "2x8" and runs.loc[0, "T"] == 4.0
    assert set(runs.columns) >= {"alone_test", "kd_test", "kd_train", "kd_agree", "kd_val"}


# ------------------------------------------------------------------ the verdicts: true on the shipped data, false when it changes
@pytest.fixture(scope="module")
def sweep_runs():
    return results.read("nb03_sweep")


@pytest.fixture(scope="module")
def summary(sweep_runs):
    return nb.sweep_summary(sweep_runs)


def test_sweep_reading_and_verdicts(sweep_runs, summary):
    chosen = recipe.select_T(sweep_runs)
    reading = nb.sweep_reading(summary, chosen)
    assert list(reading.columns) == ["2x30", "2x300"]
    assert reading.loc["label-only, test mean (%)", "2x30"] == pytest.approx(summary.loc[("2x30", 1), "alone_mean"], abs=0.05)
    assert reading.loc["distilled, best test mean (%)", "2x30"] == pytest.approx(summary.xs("2x30")["kd_mean"].max(), abs=0.05)
    assert reading.loc["T chosen on validation (ties: the lowest)", "2x30"] == f"{chosen['2x30']:g}"
    verdicts = nb.sweep_verdicts(summary, chosen)
    assert len(verdicts) == 10 and verdicts.require() is verdicts
    # move the 2x30 at T = 20 above T = 4 and 8: the claims about its shape must fail
    moved = summary.copy()
    moved.loc[("2x30", 20), ["kd_mean", "kd_min", "kd_max"]] = [95.0, 94.8, 95.2]
    failed = nb.sweep_verdicts(moved, chosen)
    assert any("best distilled mean" in c for c in failed.failed) and any("T = 20 is lower" in c for c in failed.failed)
    with pytest.raises(AssertionError, match="no longer bear out"):
        failed.require()


def test_gap_reading_and_verdicts(sweep_runs, summary):
    ga = nb.gap_and_agreement(sweep_runs)
    reading = nb.gap_reading(ga)
    part = ga.xs("2x30")
    assert reading.loc["distilled, gap at T = 1 (points)", "2x30"] == pytest.approx(part.loc[1, "kd_gap_mean"], abs=0.05)
    assert reading.loc["distilled, T of the smallest gap", "2x30"] == f"{part['kd_gap_mean'].idxmin():g}"
    assert reading.loc["training accuracy, T = 1 → 8 (points)", "2x30"] < 0
    nb.gap_verdicts(ga, summary).require()
    # a distilled 2x300 at T = 1 that agrees with the teacher most: "the lowest T agrees least" must fail
    worse = ga.copy()
    worse.loc[("2x300", 1), ["kd_agree_mean", "kd_agree_min", "kd_agree_max"]] = [99.0, 98.9, 99.1]
    failed = nb.gap_verdicts(worse, summary).failed
    assert any(c.startswith("2x300: the lowest T") for c in failed) and any("every T from 2 up" in c for c in failed)


def test_live_vs_stored(sweep_runs):
    stored = sweep_runs.iloc[0]
    live = {c: float(stored[c]) for c in ("alone_test", "kd_test", "kd_train", "kd_agree")}
    table = nb.live_vs_stored(live, stored)
    assert table["identical"].all() and (table["difference (points)"] == 0).all()
    live["kd_test"] += 0.012
    table = nb.live_vs_stored(live, stored)
    assert not table.loc["kd_test", "identical"] and table.loc["kd_test", "difference (points)"] == pytest.approx(1.2)


def test_scaling_table_and_verdicts(logits):
    z, v = logits
    norms = nb.soft_gradient_norms(z, v, np.geomspace(1, 100, 13))
    low = nb.soft_gradient_norms(z, v, [1, 10])
    table = nb.gradient_scaling(norms, low)
    assert len(table) == 4 and float(table.iloc[0]) == pytest.approx(-2, abs=0.1)
    verdicts = nb.scaling_verdicts(norms, low)
    assert len(verdicts) == 4
    # without the T² factor in "with_T2" the levelling-off claim must fail
    bare = norms.assign(with_T2=norms["without_T2"])
    assert any("levels off" in c for c in nb.scaling_verdicts(bare, low).failed)


def test_swap_verdicts(logits):
    z, v = logits
    y = torch.arange(len(z)) % 10
    swap = nb.teacher_swap_test(z, v, torch.flip(v, dims=[1]), y)
    nb.swap_verdicts(swap).require()
    same_teacher = nb.teacher_swap_test(z, v, v.clone(), y)  # kd_loss cannot tell two equal teachers apart
    failed = nb.swap_verdicts(same_teacher).failed
    assert any("kd_loss" in c for c in failed) and any("value moves" in c for c in failed)


def test_deployment_table_keeps_accuracy(logits):
    z, _ = logits
    y = z.argmax(1)
    table = nb.deployment_table(z, y, [1.0, 4.0, 20.0])
    assert (table["accuracy (%)"] == 100).all() and table["mean top probability (%)"].is_monotonic_decreasing


def _calibration_run(T_fit=1.9, T_teacher=1.1, acc_after=95.3, ece_after=2.0, conf_after=93.6):
    import pandas as pd

    report = pd.DataFrame({"T": [1.0, T_fit, 1.0, T_teacher, 1.0], "accuracy (%)": [95.3, acc_after, 98.0, 98.0, 94.2],
                           "mean confidence (%)": [97.4, conf_after, 98.5, 98.2, 96.3], "NLL": [0.22, 0.18, 0.06, 0.06, 0.23],
                           "ECE (%)": [2.4, ece_after, 0.9, 0.9, 2.4]},
                          index=["2x800 on labels, T = 1", "2x800 on labels, fitted T", "CNN teacher, T = 1",
                                 "CNN teacher, fitted T", "distilled student, T = 1"])
    return experiments.CalibrationRun(report, T_fit, T_teacher, torch.zeros(2, 10), torch.zeros(2, dtype=torch.long))


def test_calibration_verdicts_and_gaps():
    run = _calibration_run()
    nb.calibration_verdicts(run).require()
    gaps = nb.confidence_gaps(run)
    assert gaps["mean confidence − accuracy (points)"].tolist() == pytest.approx([2.1, -1.7])
    assert any("accuracy exactly" in c for c in nb.calibration_verdicts(_calibration_run(acc_after=95.2)).failed)
    assert any("close to calibrated" in c for c in nb.calibration_verdicts(_calibration_run(T_teacher=1.5)).failed)
    assert any("overshoots" in c for c in nb.calibration_verdicts(_calibration_run(conf_after=96.0)).failed)


def test_shape_and_tour_verdicts(inputs):
    inputs = {k: dict(v, student=0.8 * v["teacher"]) for k, v in inputs.items()}  # a student that agrees on the top class
    explorer = nb.temperature_explorer(inputs, T=1.0)
    keys = list(inputs)
    Ts = [0.1, 1, 4, 50]
    table = nb.shape_table(explorer, keys[1], keys[2], Ts)
    assert list(table.index) == Ts and table.iloc[:, 0].is_monotonic_increasing
    verdicts = nb.shape_verdicts(explorer, keys[1], keys[2], Ts)
    assert len(verdicts) == 4 and any("same" in c for c in verdicts)
    assert any("more than 95%" in c for c in nb.shape_verdicts(explorer, keys[1], keys[2], [0.1, 1]).failed)

    renders = explorer.view.renders
    seen, frames = {}, {}
    explorer.controls["key"].value = keys[1]
    for T in (0.1, 1.0, 8.0):
        explorer.controls["T"].value = T
        seen[T] = explorer.state
    explorer.controls["key"].value = keys[0]
    for T in (0.5, 3.0):
        explorer.controls["T"].value = T
        frames[T] = explorer.view.image.value
    assert list(nb.on_screen_table(seen).index) == [0.1, 1.0, 8.0]
    z = inputs[keys[1]]["teacher"]
    # left at T = 3: the "back where its cell set it" claim fails, and names the T it is at
    failed = nb.tour_verdicts(explorer, seen, frames, z, renders).failed
    assert failed == ["The explorer is back at T = 3 on the image it opens on, where its cell set it."]
    explorer.controls["T"].value = 1.0
    tour = nb.tour_verdicts(explorer, seen, frames, z, renders)
    assert "The explorer is back at T = 1 on the image it opens on, where its cell set it." in tour.require()
    # another image's logits: the bars are not softmax(z / T) of these
    assert any("softmax" in c for c in nb.tour_verdicts(explorer, seen, frames, inputs[keys[2]]["teacher"], renders).failed)


def test_picks_table(mnist):
    from kdnb import teachers, training

    teacher_test = training.predict_logits(teachers.load_teacher("cnn-mnist"), mnist.test.X)
    picks = nb.pick_images(teacher_test, mnist.test.y)
    table = nb.picks_table(picks, teacher_test, mnist.test.y)
    assert list(table.index) == list(picks.values())
    assert table["label"].tolist() == [int(mnist.test.y[i]) for i in picks.values()]
    assert table["entropy at T=1 (bits)"].iloc[1] == table["entropy at T=1 (bits)"].min()  # the confident image


# ------------------------------------------------------------------ the Chinese edition: what the room shows speaks zh
def test_the_explorer_and_the_checkers_speak_chinese(inputs, logits):
    import matplotlib

    from kdnb import i18n, plots

    i18n.set_language("zh")
    try:
        with matplotlib.rc_context():
            plots.use_style()  # as the notebook does: the Chinese font behind DejaVu Sans
            explorer = nb.temperature_explorer(inputs, T=1.0)
        explorer.controls["T"].value = 4.0
        readout = explorer.readout.value
        assert readout.startswith("<b>T = 4.00</b>") and "教师：熵" in readout and "比特" in readout, readout
        assert explorer.controls["key"].description == "图像"
        ax = explorer.artists["ax"]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["教师", "学生"]
        assert ax.get_xlabel() == "类别（数字）" and ax.get_ylabel() == "概率"
        verdict = nb.check_ratio_e(0.5)
        assert str(verdict).startswith("自测 2.1") and verdict.exercise == "Check yourself 2.1" and "温度" in verdict.message
        z, v = logits
        table = nb.deployment_table(z, v.argmax(1), [1.0, 4.0])
        assert list(translated(table, table.label).columns) == ["准确率（%）", "平均最高概率（%）"]
        assert "准确率（%）" in repr(table) and "平均最高概率（%）" in table._repr_html_()
        assert list(table.columns) == ["accuracy (%)", "mean top probability (%)"]  # code reads English
        card = nb.sweep_card(results.read("nb03_sweep"))
        assert "温度扫描" == translated(card.to_frame(), card.table.label).columns[0] and "温度扫描" in repr(card)
        assert card.name == "temperature sweep"
        y = torch.arange(len(z)) % 10
        swap = nb.teacher_swap_test(z, v, torch.flip(v, dims=[1]), y)
        nb.swap_verdicts(swap).require()  # reads the English columns in Chinese too
        assert swap.index[0] == "seed's loss, T = 0.5 (t = 2, 1 - t = -1)" and "gradient unchanged by the swap" in swap
        assert "种子答案的损失，T = 0.5（t = 2，1 - t = -1）" in repr(swap) and "换教师后梯度不变" in swap._repr_html_()
    finally:
        i18n.set_language(None)
    assert "teacher: entropy" in nb.temperature_explorer(inputs, T=1.0).readout.value  # English again
