"""Notebook 05's package: the playground, the map, the consistency step, teacher assistants, self and
mutual distillation, the text corpus, the seeds' code, the exercises' checkers, the verdicts, the
table makers and the shipped tables."""

from __future__ import annotations

import copy
import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from kdnb import data as kdata
from kdnb import losses, recipe, results, seeds, training
from kdnb import nb05_distillation_in_practice as nb
from kdnb.nb05_distillation_in_practice import (checks, common, consistency, scarce, seed_code, strategies, ta_map,
                                                tables, text)
from kdnb.nb05_distillation_in_practice import playground as pg_module
from kdnb.verdicts import Verdicts
from kdnb.widgets import Explorer

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "05_distillation_in_practice.ipynb"


@pytest.fixture(scope="module")
def ds():
    return kdata.load_mnist_subset()


@pytest.fixture(scope="module")
def small(ds):
    """A small slice of the real data, so a run takes well under a second."""
    return kdata.Dataset("small", ds.train.subset(torch.arange(600)), ds.val.subset(torch.arange(200)),
                         ds.test.subset(torch.arange(300)))


def fake_logits(split, scale=6.0, seed=0):
    """A teacher that is right on every image, with some spread in its other logits."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(len(split), 10, generator=gen) + scale * F.one_hot(split.y, 10)


def solution(number: str) -> str:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        src = "".join(cell["source"])
        if "solution" in cell["metadata"].get("tags", []) and src.startswith(f"# Solution {number}"):
            return src
    raise AssertionError(f"no solution {number} in {NOTEBOOK.name}")


# ---------------------------------------------------------------------------------------------- the training loop


def test_iter_train_matches_train_with(small):
    a = nb.student_for({"kind": "mlp", "hidden": [16]}, 0)
    b = copy.deepcopy(a)
    step = lambda idx, xb, logits: losses.hard_loss(logits, small.train.y[idx])
    training.train_with(a, small.train, step, epochs=2, progress=False)
    rows = list(training.iter_train(b, small.train, step, epochs=2))
    assert [r["epoch"] for r in rows] == [1, 2] and not b.training
    assert nb.same_weights(a, b)


# ---------------------------------------------------------------------------------------------- the playground


@pytest.mark.parametrize("labels", ["300 labels", "all 3,500 labels"])
def test_playground_alpha_zero_is_the_twins_run_exactly(small, labels):
    asked = []
    teachers = lambda name: asked.append(name) or fake_logits(small.train)
    hist = nb.playground_run(small, teachers, T=4.0, alpha=0.0, labels=labels, epochs=3)
    assert asked == []                                  # no teacher is needed at alpha = 0
    assert set(hist.model) == {pg_module.NO_TEACHER, "hard labels only"}   # not called "distilled"
    first = hist[hist.model == pg_module.NO_TEACHER].drop(columns="model").reset_index(drop=True)
    twin = hist[hist.model == "hard labels only"].drop(columns="model").reset_index(drop=True)
    pd.testing.assert_frame_equal(first, twin, check_exact=True)   # same weights, same batches: the same run
    assert list(hist.columns) == ["epoch", "model", "train_acc", "test_acc", "test_loss"] and len(hist) == 6


def test_playground_with_a_teacher_differs_from_its_twin(small):
    hist = nb.playground_run(small, lambda name: fake_logits(small.train), alpha=0.9, epochs=2)
    assert set(hist.model) == {"distilled", "hard labels only"}
    last = hist[hist.epoch == 2].set_index("model")
    assert last.test_loss["distilled"] != last.test_loss["hard labels only"]


def test_playground_labels_are_the_fair_teachers_labels():
    """The playground's 300 labels are exactly the ones cnn-mnist-300 was trained on."""
    from kdnb.teachers import read_manifest

    ds = kdata.load_mnist_subset()
    spec = read_manifest()[common.FAIR_TEACHER]["labels"]
    keep = kdata.stratified_split(ds.train.y.numpy(), (spec["n"],), spec["seed"])[0]
    y = kdata.Split(ds.train.X, ds.train.y)
    mine = torch.nonzero(recipe.labelled_subset(y.y, pg_module.PLAYGROUND_LABELS["300 labels"], common.SCARCE_LABEL_SEED) != losses.IGNORE_INDEX)
    assert sorted(mine.flatten().tolist()) == sorted(keep.tolist())
    assert common.teacher_saw(common.FAIR_TEACHER) == 300 and common.teacher_saw("mlp-mnist") is None


@pytest.mark.parametrize("bad,match", [
    ({"T": 0.0}, "temperature"), ({"alpha": 1.5}, "alpha"), ({"student": "MLP 9x9"}, "unknown student"),
    ({"labels": "all of them"}, "unknown labels"), ({"teacher": "resnet"}, "unknown teacher"), ({"epochs": 0}, "epochs"),
    ({"epochs": 2.5}, "epochs"), ({"epochs": True}, "epochs"), ({"batch_size": 0}, "batch_size"), ({"lr": 0.0}, "lr"),
    ({"lr": float("nan")}, "lr"), ({"seed": -1}, "seed"),
])
def test_playground_refuses_bad_settings_before_training(small, bad, match):
    asked = []
    teachers = lambda name: asked.append(name) or fake_logits(small.train)
    with pytest.raises((ValueError, TypeError), match=match):
        nb.playground_run(small, teachers, **bad)
    assert asked == []                                  # refused before any teacher or training


def test_playground_rejects_logits_of_another_dataset(small):
    with pytest.raises(ValueError, match="this dataset's training images"):
        nb.playground_run(small, lambda name: torch.zeros(5, 10))


def test_playground_widget_refuses_zero_epochs_before_recording_anything(small):
    with pytest.raises(ValueError, match="epochs"):
        nb.Playground(small, FakeTeachers(small), epochs=0)
    pg = nb.Playground(small, FakeTeachers(small), epochs=2)
    with pytest.raises(TypeError):
        pg.fixed["epochs"] = 0                           # its fixed settings are read-only from outside
    assert pg.settings()["epochs"] == 2 and pg.runs == []


def test_playground_note_says_which_teacher_saw_what():
    note = lambda **kw: nb.playground_note(dict(nb.PLAYGROUND, **kw))
    assert "Fair teacher" in note() and "exactly the student's 300" in note()
    leaky = note(teacher="mlp-mnist")
    assert "all 3,500 labels" in leaky and "hands those labels back" in leaky and common.FAIR_TEACHER in leaky
    assert "coincide" in note(alpha=0.0)
    assert "300 of the 3,500" in note(labels="all 3,500 labels")
    assert "soft targets alone" in note(labels="all 3,500 labels", teacher="cnn-mnist")


def test_playground_widget_note_follows_the_menus(small):
    pg = nb.Playground(small, FakeTeachers(small), epochs=2)
    assert "Fair teacher" in pg.note.value
    pg.controls["teacher"].value = "mlp-mnist"
    assert "hands those labels back" in pg.note.value
    pg.controls["alpha"].value = 0.0
    assert "coincide" in pg.note.value


class FakeTeachers:
    def __init__(self, ds):
        self.ds, self.asked = ds, []

    def __call__(self, name):
        self.asked.append(name)
        return fake_logits(self.ds.train, seed=len(name))


def test_playground_widget_trains_on_click_and_ignores_a_second_press(small):
    teachers = FakeTeachers(small)
    pg = nb.Playground(small, teachers, epochs=3)
    pg.controls["T"].value = 8.0
    pg.controls["alpha"].value = 0.5
    pg.controls["student"].value = "MLP 1x30"
    pg.controls["teacher"].value = "cnn-mnist"
    pg.buttons["Train"].click()
    assert pg.buttons["Train"].disabled or pg.runs  # running (or already done on a fast machine)
    started_again = pg.train()
    pg.wait(60)
    assert pg.error is None, pg.error
    assert started_again is False or len(pg.runs) == 2
    settings, hist = pg.runs[0]
    assert settings["T"] == 8.0 and settings["alpha"] == 0.5 and settings["student"] == "MLP 1x30"
    assert teachers.asked[0] == "cnn-mnist"
    assert hist.epoch.max() == 3 and set(hist.model) == {"distilled", "hard labels only"}
    assert not pg.buttons["Train"].disabled and pg.progress.value == 3
    assert "Done" in pg.status.value
    # the curves are on the figure: one line per model and panel, each with three points
    lines = pg._lines[0]
    assert all(len(line.get_xdata()) == 3 for line in lines.values())
    # a second run fades the first
    pg.wait(60)
    assert pg.act("Train") is True                       # what a click does
    pg.wait(60)
    assert all(line.get_alpha() == 0.25 for line in pg._lines[-2].values())
    assert pg.view.renders > 4


def test_playground_reports_a_failed_run(small):
    def broken(name):
        raise FileNotFoundError("teacher file missing")

    pg = nb.Playground(small, broken, epochs=2)
    pg.train(background=False)
    assert isinstance(pg.error, FileNotFoundError)
    assert "failed" in pg.status.value and not pg.buttons["Train"].disabled


def test_plot_playground_fades_earlier_runs(small):
    logits = fake_logits(small.train)
    runs = [(dict(nb.PLAYGROUND, alpha=a), nb.playground_run(small, lambda name: logits, alpha=a, epochs=2)) for a in (0.0, 0.9)]
    fig = nb.plot_playground(runs)
    alphas = [line.get_alpha() for line in fig.axes[1].lines]
    assert alphas.count(0.25) == 2 and alphas.count(None) == 2


# ---------------------------------------------------------------------------------------------- the map


def fake_map():
    rows = []
    for seed in range(3):
        rows.append({"seed": seed, "T": float("nan"), "alpha": 0.0, "test": 0.90 + 0.001 * seed, "val": 0.90})
        for T in ta_map.MAP_TEMPERATURES:
            for a in ta_map.MAP_ALPHAS[1:]:
                rows.append({"seed": seed, "T": T, "alpha": a, "test": 0.92 + 0.001 * T + 0.001 * seed,
                             "val": 0.93 - 0.001 * abs(T - 4) - 0.01 * abs(a - 0.5) + (0.02 if (seed, T, a) == (1, 1.0, 1.0) else 0)})
    return pd.DataFrame(rows)


def test_map_table_repeats_alpha_zero_under_every_T():
    table = ta_map.map_table(fake_map())
    assert len(table) == len(ta_map.MAP_TEMPERATURES) * len(ta_map.MAP_ALPHAS)
    hard = table[table.alpha == 0]
    assert set(hard["T"]) == set(ta_map.MAP_TEMPERATURES) and hard["mean"].nunique() == 1
    assert (table.seeds == 3).all()


def test_map_plateau_uses_the_median_seed_range_as_noise():
    runs = fake_map()
    table = ta_map.map_table(runs, "val")
    assert nb.map_noise(runs) == pytest.approx(float((table["max"] - table["min"]).median()))
    plateau = nb.map_plateau(runs)
    best = table["mean"].max()
    assert (plateau["mean"] >= best - nb.map_noise(runs) - 1e-9).all() and (plateau.alpha > 0).all()
    outside = table[(table["mean"] < best - nb.map_noise(runs) - 1e-9) & (table.alpha > 0)]
    assert len(plateau) + len(outside) == (table.alpha > 0).sum()
    assert ta_map.choose_from_map(runs) == (float(plateau["T"].min()), float(plateau[plateau["T"] == plateau["T"].min()].alpha.min()))


def test_choose_from_map_named_mistakes():
    runs = fake_map()
    assert nb.check_map_choice((4.0, 0.5), runs)
    assert "test" in checks.diagnose_map_choice((20.0, 0.25), runs)           # best mean test accuracy
    assert "one seed" in checks.diagnose_map_choice((1.0, 1.0), runs)        # a lucky single run
    assert "swapped" in checks.diagnose_map_choice((0.5, 4.0), runs)
    assert "not on the map" in checks.diagnose_map_choice((3.0, 0.5), runs)
    assert "switches the teacher off" in checks.diagnose_map_choice((4.0, 0.0), runs)
    assert not nb.check_map_choice(..., runs) and nb.check_map_choice(..., runs).status == "todo"


@pytest.fixture(scope="module")
def shipped_map():
    return results.read("nb05_map")


@pytest.mark.parametrize("choice", [
    (4, 0.9),                                   # the workbook's own default recipe
    [8.0, 0.5],
    (np.float32(20.0), torch.tensor(1.0)),      # NumPy and torch scalars
    np.array([4.0, 0.5]),
    torch.tensor([20.0, 0.25]),
    (np.int64(8), np.float64(0.75)),
])
def test_map_checker_accepts_every_cell_within_the_noise(shipped_map, choice):
    assert checks.diagnose_map_choice(choice, shipped_map) is None


def test_map_checker_accepts_the_whole_plateau_and_the_default(shipped_map):
    plateau = nb.map_plateau(shipped_map)
    assert len(plateau) >= 3
    for T, alpha in zip(plateau["T"], plateau.alpha):
        assert checks.diagnose_map_choice((T, alpha), shipped_map) is None
    default = (recipe.DEFAULT["T"], recipe.DEFAULT["alpha"])
    val = ta_map.map_table(shipped_map, "val").set_index(["T", "alpha"])["mean"]
    if val.max() - val[default] <= nb.map_noise(shipped_map):
        assert checks.diagnose_map_choice(default, shipped_map) is None
    assert ta_map.choose_from_map(shipped_map)[1] < 1.0      # the solution's rule does not land on the alpha = 1 corner


@pytest.mark.parametrize("choice", [
    (2.0, 0.5), (1.0, 0.9), (1.0, 1.0), (4.0, 0.25), (20.0, 0.0), (2.0, 1.0),   # off the plateau or no teacher
    (0.9, 4.0), (3.0, 0.5), (4.0,), (4.0, 0.9, 1.0), "4, 0.9", None, (True, 0.5), (float("nan"), 0.5),
    4.0, {"T": 4, "alpha": 0.9}, torch.tensor([[4.0, 0.9]]),
])
def test_map_checker_rejects_wrong_choices(shipped_map, choice):
    assert checks.diagnose_map_choice(choice, shipped_map) is not None


def test_solution_4_1_is_accepted():
    runs_map = results.read("nb05_map")
    ns = {"nb": nb, "runs_map": runs_map}
    exec(solution("4.1"), ns)
    assert checks.diagnose_map_choice(ns["choice"], runs_map) is None
    assert tuple(map(float, ns["choice"])) == ta_map.choose_from_map(runs_map)


# ---------------------------------------------------------------------------------------------- consistency


def _step(loss_of):
    """make_step from ``loss_of(teacher, cached, y, T, alpha, idx, xb, logits)``, with the teacher put in eval mode."""
    def make_step(teacher, cached, y, T, alpha):
        teacher.eval()
        return lambda idx, xb, logits: loss_of(teacher, cached, y, T, alpha, idx, xb, logits)
    return make_step


def _view(teacher, xb):
    with torch.no_grad():
        return teacher(xb)


def test_consistent_step_solution_is_accepted():
    ns = {"nb": nb, "torch": torch, "losses": losses}
    exec(solution("5.1"), ns)
    assert nb.check_consistent_step(ns["make_consistent_step"])


def _by_hand(teacher, cached, y, T, alpha, idx, xb, logits):
    p = F.softmax(_view(teacher, xb) / T, dim=1)
    kl = F.kl_div(F.log_softmax(logits / T, dim=1), p, reduction="batchmean")
    return (1 - alpha) * F.cross_entropy(logits, y[idx]) + alpha * T**2 * kl


def _grad_disabled(teacher, cached, y, T, alpha, idx, xb, logits):
    with torch.set_grad_enabled(False):
        targets = teacher(xb)
    return losses.kd_loss(logits, targets, y[idx], T=T, alpha=alpha)


def _eval_in_step(teacher, cached, y, T, alpha):
    @torch.no_grad()
    def targets(xb):
        return teacher.eval()(xb)

    return lambda idx, xb, logits: losses.kd_loss(logits, targets(xb), y[idx], T=torch.tensor(T), alpha=np.float64(alpha))


def _explicit_sum(teacher, cached, y, T, alpha, idx, xb, logits):
    p = F.softmax(_view(teacher, xb) / T, dim=1)
    log_q = F.log_softmax(logits / T, dim=1)
    kl = (p * (torch.log(p.clamp_min(1e-30)) - log_q)).sum(1).mean()
    return (1 - alpha) * F.cross_entropy(logits, y[idx]) + alpha * T * T * kl


def _log_probs(teacher, cached, y, T, alpha, idx, xb, logits):
    return losses.kd_loss(logits, F.log_softmax(_view(teacher, xb), 1), y[idx], T=T, alpha=alpha)  # shifted logits: same softmax


@pytest.mark.parametrize("make_step", [_step(_by_hand), _step(_grad_disabled), _eval_in_step, _step(_explicit_sum), _step(_log_probs)])
def test_consistent_step_checker_accepts_other_right_answers(make_step):
    assert checks.diagnose_consistent_step(make_step) is None


def _no_eval(loss_of):
    def make_step(teacher, cached, y, T, alpha):
        return lambda idx, xb, logits: loss_of(teacher, cached, y, T, alpha, idx, xb, logits)
    return make_step


NAMED_MISTAKES = {
    "un-shifted": _step(lambda t, c, y, T, a, i, xb, z: losses.kd_loss(z, c[i], y[i], T=T, alpha=a)),
    "no_grad": _step(lambda t, c, y, T, a, i, xb, z: losses.kd_loss(z, t(xb), y[i], T=T, alpha=a)),
    "builds a graph": _step(lambda t, c, y, T, a, i, xb, z: losses.kd_loss(z, t(xb).detach(), y[i], T=T, alpha=a)),
    "no teacher signal": _step(lambda t, c, y, T, a, i, xb, z: losses.hard_loss(z, y[i])),
    "temperature is missing": _step(lambda t, c, y, T, a, i, xb, z: losses.kd_loss(z, _view(t, xb), y[i], T=1.0, alpha=a)),
    "do not detach": _step(lambda t, c, y, T, a, i, xb, z: losses.kd_loss(z.detach(), _view(t, xb), y[i], T=T, alpha=a)),
    "train() mode": _no_eval(lambda t, c, y, T, a, i, xb, z: losses.kd_loss(z, _view(t, xb), y[i], T=T, alpha=a)),
}


@pytest.mark.parametrize("words", list(NAMED_MISTAKES))
def test_consistent_step_checker_names_the_usual_mistakes(words):
    assert words in checks.diagnose_consistent_step(NAMED_MISTAKES[words])


def _special_T1(t, c, y, T, a, i, xb, z):
    return losses.hard_loss(z, y[i]) if T == 1 else losses.kd_loss(z, _view(t, xb), y[i], T=T, alpha=a)


def _special_alpha(t, c, y, T, a, i, xb, z):
    return losses.kd_loss(z, _view(t, xb), y[i], T=T, alpha=0.5) if a in (0.0, 1.0) else losses.kd_loss(z, _view(t, xb), y[i], T=T, alpha=a)


def _in_place_labels(t, c, y, T, a, i, xb, z):
    y[i] = y[i].flip(0)
    return losses.kd_loss(z, _view(t, xb), y[i], T=T, alpha=a)


def _in_place_view(t, c, y, T, a, i, xb, z):
    xb.mul_(1.0001)
    return losses.kd_loss(z, _view(t, xb), y[i], T=T, alpha=a)


WRONG = [
    _step(lambda t, c, y, T, a, i, xb, z: losses.kd_loss(z, _view(t, xb), y[i], T=T, alpha=1 - a)),          # weights swapped
    _step(lambda t, c, y, T, a, i, xb, z: (1 - a) * F.cross_entropy(z, y[i])
          + a * F.kl_div(F.log_softmax(z / T, 1), F.softmax(_view(t, xb) / T, 1), reduction="batchmean")),   # no T²
    _step(lambda t, c, y, T, a, i, xb, z: losses.kd_loss(z, _view(t, xb).roll(1, 0), y[i], T=T, alpha=a)),  # another image's targets
    _step(lambda t, c, y, T, a, i, xb, z: (1 - a) * F.cross_entropy(z, y[i])
          + a * T**2 * F.kl_div(F.log_softmax(z / T, 1), F.softmax(_view(t, xb) / T, 1), reduction="mean")),  # 'mean' reduction
    _step(lambda t, c, y, T, a, i, xb, z: losses.kd_loss(z, _view(t, xb), y[i], T=T, alpha=a) + 123),      # a constant added
    _step(lambda t, c, y, T, a, i, xb, z: 2 * losses.kd_loss(z, _view(t, xb), y[i], T=T, alpha=a)),       # scaled
    _step(_special_T1),
    _step(_special_alpha),
    _step(_in_place_labels),
    _step(_in_place_view),
    _step(lambda t, c, y, T, a, i, xb, z: losses.kd_loss(z, _view(t, xb), y[i], T=T, alpha=a).item()),    # a float
    _step(lambda t, c, y, T, a, i, xb, z: losses.kd_loss(z, F.softmax(_view(t, xb), 1), y[i], T=T, alpha=a)),  # probabilities as logits
    _step(lambda t, c, y, T, a, i, xb, z: losses.kd_loss(z, _view(t, xb), y[i], T=T, alpha=a) if len(i) > 1
          else losses.hard_loss(z, y[i])),                                                                   # a batch of one
    _step(lambda t, c, y, T, a, i, xb, z: losses.kd_loss(z, _view(t, xb.flip(-1)), y[i], T=T, alpha=a)),  # another view again
]


@pytest.mark.parametrize("k", range(len(WRONG)))
def test_consistent_step_checker_rejects_a_battery_of_wrong_steps(k):
    assert checks.diagnose_consistent_step(WRONG[k]) is not None


def test_consistent_step_checker_reports_a_crash():
    broken = _step(lambda t, c, y, T, a, i, xb, z: losses.kd_loss(z, _view(t, xb), y, T=T, alpha=a))  # y not indexed
    verdict = nb.check_consistent_step(broken)
    assert not verdict and "raised" in verdict.message


class Recording(torch.nn.Module):
    """A teacher that remembers every batch it is shown, and whether gradients were on."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
        self.seen, self.grad_mode = [], []

    def forward(self, x):
        self.seen.append(x.clone())
        self.grad_mode.append(torch.is_grad_enabled())
        return self.net(x)


def test_consistency_run_feeds_the_teacher_the_shifted_view_only_when_asked(small):
    teacher = Recording()
    cached = training.predict_logits(teacher, small.train.X)
    teacher.seen.clear()
    stale = consistency.consistency_run("KD, shifts, teacher cached on un-shifted images", small, teacher, cached, 0, epochs=1)
    assert teacher.seen == []                      # the cache is used: the teacher never runs
    same = consistency.consistency_run("KD, shifts, teacher sees the same view", small, teacher, cached, 0, epochs=1)
    assert len(teacher.seen) == math.ceil(len(small.train) / 256) and not any(teacher.grad_mode)
    originals = {x.numpy().tobytes() for x in small.train.X}
    shifted = sum(x.numpy().tobytes() not in originals for batch in teacher.seen for x in batch)
    assert shifted > 0.5 * len(small.train)        # most images the teacher saw were shifted copies
    assert same["epochs"] == stale["epochs"] == 1 and 0 <= same["test"] <= 1


# ---------------------------------------------------------------------------------------------- mutual learning


def test_mutual_loss_and_its_checker():
    ns = {"nb": nb, "F": F}
    exec(solution("7.1"), ns)
    assert nb.check_mutual_loss(ns["my_mutual_loss"])
    for message, variant in checks._mutual_variants().items():
        assert checks.diagnose_mutual_loss(variant) == message
    z, v = torch.randn(4, 10, requires_grad=True), torch.randn(4, 10, requires_grad=True)
    strategies.mutual_loss(z, v, torch.arange(4)).backward()
    assert v.grad is None and z.grad.abs().sum() > 0


def test_mutual_run_trains_both_peers(small):
    a, b = nb.mutual_run(small, seed=0, epochs=1)
    fresh_a = nb.student_for(nb.SELF_STUDENT, 0)
    fresh_b = nb.student_for(nb.SELF_STUDENT, 1000)
    assert not nb.same_weights(a, fresh_a) and not nb.same_weights(b, fresh_b)


# ---------------------------------------------------------------------------------------------- text


def test_docstrings_are_read_from_source_without_importing(tmp_path, monkeypatch):
    pkg = tmp_path / "fakelib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise RuntimeError('importing is not allowed')\n")
    (pkg / "core.py").write_text(textwrap.dedent('''
        def public(x):
            """Return the sum of the numbers in x, one by one, as a float."""
        def _private(x):
            """This private helper has a long enough docstring to count."""
        def short():
            """Too short."""
        class Thing:
            """A thing that holds several values for later use by callers."""
            def method(self):
                """Compute a value from the held values and return it to the caller."""
    '''))
    (pkg / "tests").mkdir()
    (pkg / "tests" / "test_core.py").write_text('def test_x():\n    """A test docstring that is long enough to be counted here."""\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    docs = text._docstrings("fakelib")
    assert sorted(d.split()[0] for d in docs) == ["A", "Compute", "Return"]


def test_docstring_corpus_names_a_missing_library(monkeypatch):
    monkeypatch.setattr(text, "TEXT_LIBRARIES", ("no_such_library_here",))
    with pytest.raises(ModuleNotFoundError, match="make lab"):
        nb.docstring_corpus()


def tiny_corpus():
    words = [["alpha", "beta", "gamma"], ["delta", "epsilon", "zeta"], ["eta", "theta", "iota"],
             ["kappa", "lambda", "mu"], ["nu", "xi", "omicron"]]
    rows = []
    gen = torch.Generator().manual_seed(0)
    for label, vocab in enumerate(words):
        for i in range(520):
            picks = torch.randint(0, 3, (6,), generator=gen).tolist()
            rows.append({"text": " ".join(vocab[p] for p in picks) + " common words", "library": str(label), "label": label})
    return pd.DataFrame(rows)


def test_text_data_shapes_and_vocabulary_from_training_split():
    corpus = tiny_corpus()
    data = nb.TextData(corpus)
    assert [len(s) for s in (data.student.train, data.student.val, data.student.test)] == list(text.TEXT_SPLIT)
    assert data.student.train.X.shape == (text.TEXT_SPLIT[0], 128) and data.student.train.X.dtype == torch.long
    assert data.teacher.train.X.shape[0] == text.TEXT_SPLIT[0]
    assert torch.allclose(data.teacher.train.X.norm(dim=1), torch.ones(text.TEXT_SPLIT[0]), atol=1e-5)
    assert ("alpha", "beta") in data.features or ("beta", "alpha") in data.features  # word pairs for the teacher
    assert "alpha" in data.words and all(isinstance(w, str) for w in data.words)
    model = text.BagOfWords(len(data.words))
    padded = torch.zeros(2, 128, dtype=torch.long)
    padded[0, :2] = torch.tensor([1, 2])
    padded[1, :2] = torch.tensor([1, 2])
    padded[1, 5] = 0  # padding is ignored: the same bag gives the same output
    out = model(padded)
    assert out.shape == (2, 5) and torch.allclose(out[0], out[1])


def test_text_vocabulary_does_not_depend_on_the_hash_seed():
    import subprocess
    import sys

    # Every document the same: every word and word pair ties, so only the tie-break decides the order.
    code = ("import pandas as pd; from kdnb import nb05_distillation_in_practice as nb; "
            "c = pd.DataFrame({'text': ['one two three four five six seven eight'] * 2500, 'library': 'x', "
            "'label': [i % 5 for i in range(2500)]}); t = nb.TextData(c); print(list(t.words), list(t.features))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                           env={**__import__("os").environ, "PYTHONHASHSEED": str(h)}).stdout for h in (1, 2, 3)}
    assert len(outs) == 1


def test_text_pair_and_summary_on_a_tiny_corpus():
    data = nb.TextData(tiny_corpus())
    teacher = nb.text_teacher(data)
    assert training.accuracy(teacher, data.teacher.test) > 0.95
    logits = training.predict_logits(teacher, data.teacher.train.X)
    rows = text.text_pair(data, logits, 0, "150 labels", temperatures=(2.0,))
    assert len(rows) == 1 and rows[0]["T"] == 2.0 and 0 <= rows[0]["kd_test"] <= 1
    runs = pd.DataFrame(rows * 2).assign(seed=[0, 1])
    summary = nb.text_summary(runs)
    assert summary.loc["150 labels", "T (chosen on val)"] == 2.0


def test_soft_confusion_rows_are_distributions():
    logits = torch.randn(50, 5)
    labels = torch.arange(50) % 5
    table = nb.soft_confusion(logits, labels, T=4.0)
    assert table.shape == (5, 5) and ((table.sum(axis=1) - 1).abs() < 1e-5).all()


# ---------------------------------------------------------------------------------------------- the seeds' code


def test_seed_001_5_loss_is_nan_and_000_4_student_is_the_hard_label_student(small):
    z, v = torch.randn(8, 10), torch.randn(8, 10)
    assert torch.isnan(seed_code.seed_001_5_loss(z, v))
    student, teacher = nb.side_by_side(small, seed=0, epochs=2)
    plain = nb.student_for(nb.SELF_STUDENT, 0)
    training.fit(plain, small.train, epochs=2, lr=2e-3, batch_size=256, seed=0, progress=False)
    assert nb.same_weights(student, plain)
    assert not nb.same_weights(teacher, plain)


# ---------------------------------------------------------------------------------------------- shipped tables


TABLES = [name for maker in tables.MAKERS for name in maker.maker.tables]


def test_every_nb05_table_has_one_maker_here():
    assert sorted(TABLES) == ["nb05_assistants", "nb05_consistency", "nb05_map", "nb05_scarce", "nb05_seed_code",
                              "nb05_strategies", "nb05_text"]
    assert len(set(TABLES)) == len(TABLES)


@pytest.mark.parametrize("table", TABLES)
def test_shipped_tables_exist_and_are_named_by_their_maker(table):
    df = results.read(table)
    assert results.owner_module(table) == "kdnb.nb05_distillation_in_practice.tables"
    assert [m.maker.command for m in tables.MAKERS if table in m.maker.tables] == [f"python -m kdnb.results make {table}"]
    assert df["seed"].nunique() >= 3
    assert df.select_dtypes("number").notna().any().all()


def test_shipped_map_is_complete():
    runs = results.read("nb05_map")
    soft = runs[runs.alpha > 0]
    assert set(map(tuple, soft[["T", "alpha"]].drop_duplicates().to_numpy())) == {
        (T, a) for T in ta_map.MAP_TEMPERATURES for a in ta_map.MAP_ALPHAS[1:]}
    assert runs[runs.alpha == 0]["T"].isna().all()
    assert runs.groupby(["T", "alpha"], dropna=False).size().min() >= 3


def test_shipped_seed_code_table_says_000_4_changes_nothing():
    runs = results.read("nb05_seed_code")
    same = runs.loc[runs.run.str.startswith("000-4"), "same weights as hard labels only"].astype(bool)
    assert same.all()
    nan = runs.loc[runs.run.str.startswith("001-5 as written"), "final loss is NaN"].astype(bool)
    assert nan.all()


# ---------------------------------------------------------------------------------------------- scarce labels


def test_pseudo_labels_keep_the_labels_and_fill_the_rest_with_the_argmax():
    y = torch.tensor([3, losses.IGNORE_INDEX, 1, losses.IGNORE_INDEX])
    logits = torch.eye(10)[[0, 7, 2, 5]]
    assert scarce.pseudo_labels(y, logits).tolist() == [3, 7, 1, 5]
    assert y.tolist()[1] == losses.IGNORE_INDEX          # the input is left alone
    with pytest.raises(ValueError, match="teacher rows"):
        scarce.pseudo_labels(y, logits[:3])


def test_scarce_rows_train_every_method_from_the_same_start(small):
    y = recipe.labelled_subset(small.train.y, 100, 0)
    fair = fake_logits(small.train, scale=1.0, seed=1)          # often wrong
    full = fake_logits(small.train, scale=8.0, seed=2)          # right everywhere: saw every label
    evaluate = lambda m: {"test": training.accuracy(m, small.test), "val": training.accuracy(m, small.val)}
    init = nb.student_for({"kind": "mlp", "hidden": [16]}, 0)
    before = copy.deepcopy(init)
    run = training.Run(epochs=1, lr=2e-3, batch_size=128, seed=0, progress=False)
    rows = scarce.scarce_rows(init, small.train, y, {"fair teacher": fair, "teacher saw all labels": full}, evaluate, run,
                              T=(2.0, 4.0), alpha=0.9)
    assert nb.same_weights(init, before)                         # every method trains a copy
    m = scarce.SCARCE_METHODS
    assert [r["method"] for r in rows] == [m[0], m[1], m[2], m[2], m[3], m[4], m[4]]
    assert all(r["seed"] == 0 for r in rows)
    unlabelled = y == losses.IGNORE_INDEX
    assert rows[4]["pseudo_right"] == pytest.approx(1.0)
    assert rows[1]["pseudo_right"] == pytest.approx((fair.argmax(1) == small.train.y)[unlabelled].float().mean().item())


@pytest.fixture(scope="module")
def shipped_scarce():
    return results.read("nb05_scarce")


def test_shipped_scarce_table_is_complete(shipped_scarce):
    for (experiment, student), part in shipped_scarce.groupby(["experiment", "student"]):
        if "assistant" in student or "itself" in student:
            continue
        assert set(scarce.SCARCE_METHODS) <= set(part.method), (experiment, student)
        assert part.groupby("method").seed.nunique().min() == len(common.SEEDS)
    # the leaky teacher's argmax is right more often on the unlabelled images than the fair one's
    right = shipped_scarce.groupby("method").pseudo_right.mean()
    assert right["hard pseudo-labels, teacher saw all labels"] > right["hard pseudo-labels, fair teacher"]


@pytest.mark.parametrize("experiment,student", [("3 · playground", "MLP 1x100"), ("6 · tiny students", "MLP 1x10"),
                                                ("6 · tiny students", "MLP 1x30"), ("8 · text", "bag of words")])
def test_scarce_split_parts_add_up_to_the_total(shipped_scarce, experiment, student):
    split = nb.scarce_split(shipped_scarce, experiment, student)
    parts, total = split["points"].iloc[:-1], split["points"].iloc[-1]
    assert parts.sum() == pytest.approx(total, abs=0.05)
    assert set(split.verdict) <= {"gain", "loss", "within the seed ranges"}


def test_scarce_chosen_picks_one_T_per_method_on_validation(shipped_scarce):
    chosen = scarce.scarce_chosen(shipped_scarce[shipped_scarce.experiment == "8 · text"])
    assert chosen.groupby("method")["T"].nunique(dropna=False).max() == 1
    soft = shipped_scarce[(shipped_scarce.experiment == "8 · text") & (shipped_scarce.method == "soft targets, fair teacher")]
    val = soft.groupby("T").val.mean()
    assert chosen[chosen.method == "soft targets, fair teacher"]["T"].iloc[0] == val.idxmax()


def test_text_teacher_on_few_labels_sees_only_those():
    data = nb.TextData(tiny_corpus())
    y = recipe.labelled_subset(data.teacher.train.y, 50, 0)
    scrambled = y.clone()
    unlabelled = y == losses.IGNORE_INDEX
    a = nb.text_teacher(data, labels=y)
    # the unlabelled docstrings' labels cannot matter: change them all, the teacher is the same
    data.teacher.train.y[unlabelled] = (data.teacher.train.y[unlabelled] + 1) % 5
    b = nb.text_teacher(data, labels=scrambled)
    assert nb.same_weights(a, b)


# ---------------------------------------------------------------------------------------------- strategies and consistency tables


def test_shipped_strategies_table_tunes_born_again_on_validation():
    runs = results.read("nb05_strategies")
    born = runs[runs.method == "self-distillation (born again)"]
    assert set(map(tuple, born[["T", "alpha"]].drop_duplicates().to_numpy())) == {
        (T, a) for T in strategies.BORN_TEMPERATURES for a in strategies.BORN_ALPHAS}
    T, alpha = nb.born_choice(runs)
    chosen = nb.strategies_at_choice(runs)
    assert chosen.groupby("method").seed.nunique().eq(len(common.SEEDS)).all() and len(chosen) == 4 * len(common.SEEDS)
    val = born.groupby(["T", "alpha"]).val.mean()
    assert val[(T, alpha)] == val.max()
    assert runs[["train_acc", "train_ce"]].notna().all().all()


def test_shipped_consistency_table_has_the_no_shift_controls():
    runs = results.read("nb05_consistency")
    assert list(dict.fromkeys(runs.variant)) == list(consistency.CONSISTENCY_VARIANTS)
    verdicts = nb.consistency_verdicts(runs).require()
    assert isinstance(verdicts, Verdicts) and len(verdicts) == 9


# ---------------------------------------------------------------------------------------------- the playground as an explorer


def test_playground_is_an_explorer_whose_controls_never_train(small):
    teachers = FakeTeachers(small)
    pg = nb.Playground(small, teachers, epochs=2)
    assert isinstance(pg, Explorer) and list(pg.actions) == ["Train"] and pg.buttons["Train"].description == "Train"
    renders = pg.view.renders
    for name, value in (("T", 8.0), ("alpha", 0.5), ("student", "MLP 1x30"), ("teacher", "mlp-mnist"), ("labels", "all 3,500 labels")):
        pg.controls[name].value = value
        assert pg.state["settings"][name] == value            # the state follows the control
    assert teachers.asked == [] and pg.runs == [] and not pg.running   # nothing trained, no teacher asked
    assert pg.view.renders == renders + 5                      # each move redraws once, from the saved background
    assert pg.state["note"] == pg.note.value and "mlp-mnist and the student both saw all 3,500 labels" in pg.note.value


def test_playground_distils_with_kd_loss_at_its_T(small):
    """The distilled student of the playground is the one training.distill trains, bit for bit, so its
    T and alpha reach kd_loss; another T gives another run."""
    logits = fake_logits(small.train, scale=3.0)
    settings = {"T": 8.0, "alpha": 0.7, "epochs": 2, "labels": "all 3,500 labels", "student": "MLP 1x30"}
    hist = nb.playground_run(small, lambda name: logits, **settings)
    model = nb.student_for(pg_module.PLAYGROUND_STUDENTS["MLP 1x30"], 0)
    run = training.Run(epochs=2, lr=nb.PLAYGROUND["lr"], batch_size=nb.PLAYGROUND["batch_size"], seed=0, progress=False)
    want = training.distill(model, small.train, None, run, teacher=logits, T=8.0, alpha=0.7)
    got = hist[hist.model == "distilled"].set_index("epoch")
    assert got.train_acc.tolist() == want.train_acc.tolist()
    assert got.test_acc.iloc[-1] == training.accuracy(model, small.test)
    other = nb.playground_run(small, lambda name: logits, **dict(settings, T=1.0))
    assert other[other.model == "distilled"].test_loss.tolist() != got.test_loss.tolist()


def _history(first_name, acc, loss, train=0.9, twin_acc=0.85, twin_loss=0.5):
    rows = []
    for epoch in (1, 2):
        rows.append({"epoch": epoch, "model": first_name, "train_acc": train, "test_acc": acc, "test_loss": loss})
        rows.append({"epoch": epoch, "model": "hard labels only", "train_acc": 1.0, "test_acc": twin_acc, "test_loss": twin_loss})
    return pd.DataFrame(rows)


def test_playground_verdicts_and_finals():
    fair = dict(nb.PLAYGROUND)
    leaky = dict(nb.PLAYGROUND, teacher="mlp-mnist")
    off = _history(pg_module.NO_TEACHER, 0.85, 0.5, train=1.0)   # the same run as its twin
    good = [(leaky, _history("distilled", 0.92, 0.4)), (fair, _history("distilled", 0.91, 0.38))]
    verdicts = nb.playground_verdicts(good, off).require()
    assert len(verdicts) == 3
    finals = nb.playground_finals(good)
    assert finals.loc["cnn-mnist-300", "distilled (%)"] == 91.0 and finals.loc["mlp-mnist", "hard labels only (%)"] == 85.0
    with pytest.raises(AssertionError, match="2 points"):
        nb.playground_verdicts([(fair, _history("distilled", 0.86, 0.38))], off).require()
    with pytest.raises(AssertionError, match="lower test loss"):
        nb.playground_verdicts([(fair, _history("distilled", 0.91, 0.6))], off).require()
    with pytest.raises(AssertionError, match="curves equal"):
        nb.playground_verdicts(good, _history(pg_module.NO_TEACHER, 0.86, 0.5, train=1.0)).require()
    with pytest.raises(ValueError, match="fair teacher"):
        nb.playground_verdicts([(leaky, _history("distilled", 0.92, 0.4))], off)


# ---------------------------------------------------------------------------------------------- verdicts on the shipped tables


def test_map_verdicts_hold_on_the_shipped_map_and_fail_when_T1_gains(shipped_map):
    assert isinstance(nb.map_verdicts(shipped_map).require(), Verdicts)
    runs = shipped_map.copy()
    runs.loc[runs["T"] == 1.0, "test"] += 0.02                # T = 1 now gains two points
    with pytest.raises(AssertionError, match="at T = 1"):
        nb.map_verdicts(runs).require()


def test_map_extremes_are_the_worst_and_best_cells(shipped_map):
    ext = nb.map_extremes(shipped_map)
    table = ta_map.map_table(shipped_map)
    best = table.loc[table["mean"].idxmax()]
    assert list(ext.index) == ["worst", "best"] and (ext.loc["best", "T"], ext.loc["best", "α"]) == (best["T"], best["alpha"])
    assert ext.loc["best", "test accuracy (%)"] == seeds.Spread(best["mean"], best["min"], best["max"], 3).text()


def test_sweep_verdicts():
    sweep = results.read("nb03_sweep")
    assert len(nb.sweep_verdicts(sweep, 0.99).require()) == 3
    with pytest.raises(AssertionError, match="98%"):
        nb.sweep_verdicts(sweep, 0.95).require()
    moved = sweep.copy()
    moved.loc[(moved.setting == "2x30") & (moved["T"] == 20.0), "kd_val"] -= 0.2   # T = 20 far below the rest
    with pytest.raises(AssertionError, match="2x30"):
        nb.sweep_verdicts(moved, 0.99).require()


def test_consistency_verdicts_fail_when_the_same_view_loses_its_lead():
    runs = results.read("nb05_consistency")
    gaps = nb.consistency_gaps(runs)
    s = seeds.spreads(runs, "variant", "test")
    a, b = consistency.CONSISTENCY_GAPS[0]
    assert gaps.iloc[0]["gap between the seed ranges (points)"] == pytest.approx(s[a].gap(s[b]), abs=0.005)
    assert 2 < nb.consistency_cost(runs) < 10
    worse = runs.copy()
    worse.loc[worse.variant == "KD, shifts, same view, 4x longer", "test"] -= 0.01
    with pytest.raises(AssertionError, match="the same view beats the cached teacher"):
        nb.consistency_verdicts(worse).require()


def test_assistant_verdicts_and_readings():
    runs = results.read("nb05_assistants")
    assert len(nb.assistant_verdicts(runs).require()) == 3
    readings = nb.assistant_readings(runs)
    assert readings.loc[("300 labels", "MLP 1x10"), "direct vs hard labels"] == "outside the seed ranges"
    assert (readings["assistant path's time (x direct)"] > 1).all()
    table = nb.assistant_table(runs)
    assert len(table) == runs.groupby(["regime", "student", "path"]).ngroups and (table.seeds == 5).all()
    helped = runs.copy()
    helped.loc[helped.path == "teacher → assistant → student", "test"] += 0.05
    with pytest.raises(AssertionError, match="assistant path stays within"):
        nb.assistant_verdicts(helped).require()


@pytest.mark.parametrize("experiment", list(scarce.SCARCE_STUDENTS))
def test_scarce_verdicts_hold_on_the_shipped_table(shipped_scarce, experiment):
    verdicts = nb.scarce_verdicts(shipped_scarce, experiment).require()
    assert all(claim.split(":")[0] in scarce.SCARCE_STUDENTS[experiment] for claim in verdicts)


def test_scarce_verdicts_fail_when_soft_targets_beat_pseudo_labels(shipped_scarce):
    runs = shipped_scarce.copy()
    runs.loc[(runs.experiment == "3 · playground") & (runs.method == "soft targets, fair teacher"), "test"] += 0.03
    with pytest.raises(AssertionError, match="add nothing"):
        nb.scarce_verdicts(runs, "3 · playground").require()


def test_scarce_table_shows_spreads(shipped_scarce):
    table = nb.scarce_table(shipped_scarce, "3 · playground", "MLP 1x100")
    s = scarce.scarce_spreads(shipped_scarce, "3 · playground", "MLP 1x100")
    assert table.loc["hard labels only", "test accuracy (%)"] == s["hard labels only"].text()
    assert list(table.index) == list(scarce.SCARCE_METHODS)


def test_strategies_and_born_verdicts():
    runs = results.read("nb05_strategies")
    assert len(nb.strategies_verdicts(runs).require()) == 3
    assert len(nb.born_verdicts(runs).require()) == 3
    assert nb.born_teacher_fit(runs).n == len(common.SEEDS)
    readings = nb.strategy_readings(runs)
    assert readings.loc["distilled from the 2x1200 teacher", "reading"] == "better"
    fit = nb.born_fit(runs)
    assert fit.loc[("self-distillation (born again)", 4.0, 0.9), "reading"] == "worse"
    peers = runs.copy()
    peers.loc[peers.method == "mutual learning (two peers)", "test"] += 0.02
    with pytest.raises(AssertionError, match="mutual learning"):
        nb.strategies_verdicts(peers).require()
    loose = runs.copy()
    loose.loc[loose.method == "self-distillation (born again)", "train_acc"] = 1.0
    with pytest.raises(AssertionError, match="fits its training labels less well"):
        nb.born_verdicts(loose).require()


def test_seed_code_verdicts():
    runs = results.read("nb05_seed_code")
    assert len(nb.seed_code_verdicts(runs).require()) == 4
    table = nb.seed_code_table(runs)
    assert table["final loss NaN (seeds)"].tolist() == [0, 0, 5, 0, 0]
    changed = runs.copy()
    changed.loc[changed.run.str.startswith("000-4"), "same weights as hard labels only"] = [True, True, False, True, True]
    with pytest.raises(AssertionError, match="000-4"):
        nb.seed_code_verdicts(changed).require()


def test_text_teacher_verdicts():
    labels = torch.arange(50) % 5
    sure = 8.0 * F.one_hot(labels, 5).float()
    assert len(nb.text_teacher_verdicts(sure, labels, 1.0).require()) == 2
    with pytest.raises(AssertionError, match="less than 0.1"):
        nb.text_teacher_verdicts(sure, labels, 8.0).require()       # hot: mass spreads over the other libraries
    wrong = sure.roll(1, dims=1)
    with pytest.raises(AssertionError, match="97%"):
        nb.text_teacher_verdicts(wrong, labels, 1.0).require()


# ---------------------------------------------------------------------------------------------- twin runs and the makers


def test_twin_helpers_are_recipe_train_twins(small):
    init = nb.student_for({"kind": "mlp", "hidden": [16]}, 0)
    split = common.with_labels(small.train, 100, 1)
    run = common.quiet_run(1, epochs=1, lr=2e-3, batch_size=128)
    logits = fake_logits(small.train)
    twins = recipe.train_twins(init, split, logits, run, T=2.0, alpha=0.5)
    assert nb.same_weights(common.trained_alone(init, split, run), twins["alone"])
    assert nb.same_weights(common.distilled(init, split, logits, run, T=2.0, alpha=0.5), twins["distilled"])
    assert int((split.y != losses.IGNORE_INDEX).sum()) == 100


def test_the_map_maker_writes_its_table(small, tmp_path, monkeypatch):
    """`python -m kdnb.results make nb05_map` on a tiny map: two cells, one seed, two epochs, 600 images."""
    monkeypatch.setenv("KDNB_RESULTS", str(tmp_path))
    monkeypatch.setattr(ta_map, "MAP_TEMPERATURES", (4.0,))
    monkeypatch.setattr(ta_map, "MAP_ALPHAS", (0.0, 0.9))
    monkeypatch.setitem(recipe.SETTINGS, "default", dict(recipe.SETTINGS["default"], epochs=2))
    monkeypatch.setattr(tables.kdata, "load_mnist_subset", lambda: small)
    threads = torch.get_num_threads()
    try:
        paths = results.make("nb05_map", seeds=[0], progress=False)
    finally:
        torch.set_num_threads(threads)
    assert paths == [tmp_path / "nb05_map.csv"]
    table = results.read("nb05_map")
    assert len(table) == 2 and table["T"].isna().tolist() == [True, False] and table.alpha.tolist() == [0.0, 0.9]
    assert ((table.test > 0) & (table.test <= 1)).all()


def test_the_package_keeps_its_shape():
    """Every file under 600 lines, no function over 8 parameters, no script entry point, and ``__all__``
    exactly what the notebook's cells call."""
    import ast
    import re

    folder = ROOT / "kdnb" / "nb05_distillation_in_practice"
    for path in folder.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert len(source.splitlines()) <= 600, path.name
        assert "argparse" not in source and "__main__" not in source and "def main(" not in source, path.name
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs if a.arg not in ("self", "cls")]
                assert len(names) <= 8, f"{path.name}: {node.name} takes {len(names)} parameters"
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert set(re.findall(r"\bnb\.(\w+)", code)) == set(nb.__all__)
