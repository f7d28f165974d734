"""Notebook 05's module: the playground, the map, the consistency step, teacher assistants, self and
mutual distillation, the text corpus, the seeds' code, the exercises' checkers, and the shipped tables."""

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
from kdnb import losses, results, training
from kdnb import nb05_distillation_in_practice as nb

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
    assert set(hist.model) == {nb.NO_TEACHER, "hard labels only"}   # not called "distilled"
    first = hist[hist.model == nb.NO_TEACHER].drop(columns="model").reset_index(drop=True)
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
    spec = read_manifest()[nb.FAIR_TEACHER]["labels"]
    keep = kdata.stratified_split(ds.train.y.numpy(), (spec["n"],), spec["seed"])[0]
    y = kdata.Split(ds.train.X, ds.train.y)
    mine = torch.nonzero(nb.recipe.labelled_subset(y.y, nb.PLAYGROUND_LABELS["300 labels"], nb.SCARCE_LABEL_SEED) != losses.IGNORE_INDEX)
    assert sorted(mine.flatten().tolist()) == sorted(keep.tolist())
    assert nb.teacher_saw(nb.FAIR_TEACHER) == 300 and nb.teacher_saw("mlp-mnist") is None


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
    pg.fixed["epochs"] = 0                               # even if changed behind its back
    pg.train(background=False)
    assert pg.runs == [] and isinstance(pg.error, ValueError) and "epochs" in pg.status.value


def test_playground_note_says_which_teacher_saw_what():
    note = lambda **kw: nb.playground_note(dict(nb.PLAYGROUND, **kw))
    assert "Fair teacher" in note() and "exactly the student's 300" in note()
    leaky = note(teacher="mlp-mnist")
    assert "all 3,500 labels" in leaky and "hands those labels back" in leaky and nb.FAIR_TEACHER in leaky
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
    pg.button.click()
    assert pg.button.disabled or pg.runs  # running (or already done on a fast machine)
    started_again = pg.train()
    pg.wait(60)
    assert pg.error is None, pg.error
    assert started_again is False or len(pg.runs) == 2
    settings, hist = pg.runs[0]
    assert settings["T"] == 8.0 and settings["alpha"] == 0.5 and settings["student"] == "MLP 1x30"
    assert teachers.asked[0] == "cnn-mnist"
    assert hist.epoch.max() == 3 and set(hist.model) == {"distilled", "hard labels only"}
    assert not pg.button.disabled and pg.progress.value == 3
    assert "Done" in pg.status.value
    # the curves are on the figure: one line per model and panel, each with three points
    lines = pg._lines[0]
    assert all(len(line.get_xdata()) == 3 for line in lines.values())
    # a second run fades the first
    pg.wait(60)
    pg.train(background=False)
    assert all(line.get_alpha() == 0.25 for line in pg._lines[-2].values())
    assert pg.view.renders > 4


def test_playground_reports_a_failed_run(small):
    def broken(name):
        raise FileNotFoundError("teacher file missing")

    pg = nb.Playground(small, broken, epochs=2)
    pg.train(background=False)
    assert isinstance(pg.error, FileNotFoundError)
    assert "failed" in pg.status.value and not pg.button.disabled


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
        for T in nb.MAP_TEMPERATURES:
            for a in nb.MAP_ALPHAS[1:]:
                rows.append({"seed": seed, "T": T, "alpha": a, "test": 0.92 + 0.001 * T + 0.001 * seed,
                             "val": 0.93 - 0.001 * abs(T - 4) - 0.01 * abs(a - 0.5) + (0.02 if (seed, T, a) == (1, 1.0, 1.0) else 0)})
    return pd.DataFrame(rows)


def test_map_table_repeats_alpha_zero_under_every_T():
    table = nb.map_table(fake_map())
    assert len(table) == len(nb.MAP_TEMPERATURES) * len(nb.MAP_ALPHAS)
    hard = table[table.alpha == 0]
    assert set(hard["T"]) == set(nb.MAP_TEMPERATURES) and hard["mean"].nunique() == 1
    assert (table.seeds == 3).all()


def test_map_plateau_uses_the_median_seed_range_as_noise():
    runs = fake_map()
    table = nb.map_table(runs, "val")
    assert nb.map_noise(runs) == pytest.approx(float((table["max"] - table["min"]).median()))
    plateau = nb.map_plateau(runs)
    best = table["mean"].max()
    assert (plateau["mean"] >= best - nb.map_noise(runs) - 1e-9).all() and (plateau.alpha > 0).all()
    outside = table[(table["mean"] < best - nb.map_noise(runs) - 1e-9) & (table.alpha > 0)]
    assert len(plateau) + len(outside) == (table.alpha > 0).sum()
    assert nb.choose_from_map(runs) == (float(plateau["T"].min()), float(plateau[plateau["T"] == plateau["T"].min()].alpha.min()))


def test_choose_from_map_named_mistakes():
    runs = fake_map()
    assert nb.check_map_choice((4.0, 0.5), runs)
    assert "test" in nb.diagnose_map_choice((20.0, 0.25), runs)           # best mean test accuracy
    assert "one seed" in nb.diagnose_map_choice((1.0, 1.0), runs)        # a lucky single run
    assert "swapped" in nb.diagnose_map_choice((0.5, 4.0), runs)
    assert "not on the map" in nb.diagnose_map_choice((3.0, 0.5), runs)
    assert "switches the teacher off" in nb.diagnose_map_choice((4.0, 0.0), runs)
    assert not nb.check_map_choice(..., runs) and nb.check_map_choice(..., runs).status == "todo"


@pytest.fixture(scope="module")
def shipped_map():
    return results.read("practice_map")


@pytest.mark.parametrize("choice", [
    (4, 0.9),                                   # the workbook's own default recipe
    [8.0, 0.5],
    (np.float32(20.0), torch.tensor(1.0)),      # NumPy and torch scalars
    np.array([4.0, 0.5]),
    torch.tensor([20.0, 0.25]),
    (np.int64(8), np.float64(0.75)),
])
def test_map_checker_accepts_every_cell_within_the_noise(shipped_map, choice):
    assert nb.diagnose_map_choice(choice, shipped_map) is None


def test_map_checker_accepts_the_whole_plateau_and_the_default(shipped_map):
    plateau = nb.map_plateau(shipped_map)
    assert len(plateau) >= 3
    for T, alpha in zip(plateau["T"], plateau.alpha):
        assert nb.diagnose_map_choice((T, alpha), shipped_map) is None
    default = (nb.recipe.DEFAULT["T"], nb.recipe.DEFAULT["alpha"])
    val = nb.map_table(shipped_map, "val").set_index(["T", "alpha"])["mean"]
    if val.max() - val[default] <= nb.map_noise(shipped_map):
        assert nb.diagnose_map_choice(default, shipped_map) is None
    assert nb.choose_from_map(shipped_map)[1] < 1.0      # the solution's rule does not land on the alpha = 1 corner


@pytest.mark.parametrize("choice", [
    (2.0, 0.5), (1.0, 0.9), (1.0, 1.0), (4.0, 0.25), (20.0, 0.0), (2.0, 1.0),   # off the plateau or no teacher
    (0.9, 4.0), (3.0, 0.5), (4.0,), (4.0, 0.9, 1.0), "4, 0.9", None, (True, 0.5), (float("nan"), 0.5),
    4.0, {"T": 4, "alpha": 0.9}, torch.tensor([[4.0, 0.9]]),
])
def test_map_checker_rejects_wrong_choices(shipped_map, choice):
    assert nb.diagnose_map_choice(choice, shipped_map) is not None


def test_solution_4_1_is_accepted():
    runs_map = results.read("practice_map")
    ns = {"nb": nb, "runs_map": runs_map}
    exec(solution("4.1"), ns)
    assert nb.diagnose_map_choice(ns["choice"], runs_map) is None
    assert tuple(map(float, ns["choice"])) == nb.choose_from_map(runs_map)


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
    assert nb.diagnose_consistent_step(make_step) is None


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
    assert words in nb.diagnose_consistent_step(NAMED_MISTAKES[words])


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
    assert nb.diagnose_consistent_step(WRONG[k]) is not None


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
    stale = nb.consistency_run("KD, shifts, teacher cached on un-shifted images", small, teacher, cached, 0, epochs=1)
    assert teacher.seen == []                      # the cache is used: the teacher never runs
    same = nb.consistency_run("KD, shifts, teacher sees the same view", small, teacher, cached, 0, epochs=1)
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
    for message, variant in nb._mutual_variants().items():
        assert nb.diagnose_mutual_loss(variant) == message
    z, v = torch.randn(4, 10, requires_grad=True), torch.randn(4, 10, requires_grad=True)
    nb.mutual_loss(z, v, torch.arange(4)).backward()
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
    docs = nb._docstrings("fakelib")
    assert sorted(d.split()[0] for d in docs) == ["A", "Compute", "Return"]


def test_docstring_corpus_names_a_missing_library(monkeypatch):
    monkeypatch.setattr(nb, "TEXT_LIBRARIES", ("no_such_library_here",))
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
    text = nb.TextData(corpus)
    assert [len(s) for s in (text.student.train, text.student.val, text.student.test)] == list(nb.TEXT_SPLIT)
    assert text.student.train.X.shape == (nb.TEXT_SPLIT[0], 128) and text.student.train.X.dtype == torch.long
    assert text.teacher.train.X.shape[0] == nb.TEXT_SPLIT[0]
    assert torch.allclose(text.teacher.train.X.norm(dim=1), torch.ones(nb.TEXT_SPLIT[0]), atol=1e-5)
    assert ("alpha", "beta") in text.features or ("beta", "alpha") in text.features  # word pairs for the teacher
    assert "alpha" in text.words and all(isinstance(w, str) for w in text.words)
    model = nb.BagOfWords(len(text.words))
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
    text = nb.TextData(tiny_corpus())
    teacher = nb.text_teacher(text)
    assert training.accuracy(teacher, text.teacher.test) > 0.95
    logits = training.predict_logits(teacher, text.teacher.train.X)
    rows = nb.text_pair(text, logits, 0, "150 labels", temperatures=(2.0,))
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
    assert torch.isnan(nb.seed_001_5_loss(z, v))
    student, teacher = nb.side_by_side(small, seed=0, epochs=2)
    plain = nb.student_for(nb.SELF_STUDENT, 0)
    training.fit(plain, small.train, epochs=2, lr=2e-3, batch_size=256, seed=0, progress=False)
    assert nb.same_weights(student, plain)
    assert not nb.same_weights(teacher, plain)


# ---------------------------------------------------------------------------------------------- shipped tables


@pytest.mark.parametrize("part,table", list(nb.TABLES.items()))
def test_shipped_tables_exist_and_are_named_by_their_maker(part, table):
    df = results.read(table)
    assert results.MAKERS[table] == f"python -m kdnb.nb05_distillation_in_practice {part}"
    assert df["seed"].nunique() >= 3
    assert df.select_dtypes("number").notna().any().all()


def test_shipped_map_is_complete():
    runs = results.read("practice_map")
    soft = runs[runs.alpha > 0]
    assert set(map(tuple, soft[["T", "alpha"]].drop_duplicates().to_numpy())) == {
        (T, a) for T in nb.MAP_TEMPERATURES for a in nb.MAP_ALPHAS[1:]}
    assert runs[runs.alpha == 0]["T"].isna().all()
    assert runs.groupby(["T", "alpha"], dropna=False).size().min() >= 3


def test_shipped_seed_code_table_says_000_4_changes_nothing():
    runs = results.read("practice_seed_code")
    same = runs.loc[runs.run.str.startswith("000-4"), "same weights as hard labels only"].astype(bool)
    assert same.all()
    nan = runs.loc[runs.run.str.startswith("001-5 as written"), "final loss is NaN"].astype(bool)
    assert nan.all()


# ---------------------------------------------------------------------------------------------- scarce labels


def test_pseudo_labels_keep_the_labels_and_fill_the_rest_with_the_argmax():
    y = torch.tensor([3, losses.IGNORE_INDEX, 1, losses.IGNORE_INDEX])
    logits = torch.eye(10)[[0, 7, 2, 5]]
    assert nb.pseudo_labels(y, logits).tolist() == [3, 7, 1, 5]
    assert y.tolist()[1] == losses.IGNORE_INDEX          # the input is left alone
    with pytest.raises(ValueError, match="teacher rows"):
        nb.pseudo_labels(y, logits[:3])


def test_scarce_rows_train_every_method_from_the_same_start(small):
    y = nb.recipe.labelled_subset(small.train.y, 100, 0)
    fair = fake_logits(small.train, scale=1.0, seed=1)          # often wrong
    full = fake_logits(small.train, scale=8.0, seed=2)          # right everywhere: saw every label
    evaluate = lambda m: {"test": training.accuracy(m, small.test), "val": training.accuracy(m, small.val)}
    init = nb.student_for({"kind": "mlp", "hidden": [16]}, 0)
    before = copy.deepcopy(init)
    rows = nb.scarce_rows(init, small.train, evaluate, y, {"fair teacher": fair, "teacher saw all labels": full},
                          T=(2.0, 4.0), alpha=0.9, epochs=1, lr=2e-3, batch_size=128, seed=0)
    assert nb.same_weights(init, before)                         # every method trains a copy
    assert [r["method"] for r in rows] == [nb.SCARCE_METHODS[0], nb.SCARCE_METHODS[1], nb.SCARCE_METHODS[2], nb.SCARCE_METHODS[2],
                                           nb.SCARCE_METHODS[3], nb.SCARCE_METHODS[4], nb.SCARCE_METHODS[4]]
    unlabelled = y == losses.IGNORE_INDEX
    assert rows[4]["pseudo_right"] == pytest.approx(1.0)
    assert rows[1]["pseudo_right"] == pytest.approx((fair.argmax(1) == small.train.y)[unlabelled].float().mean().item())


@pytest.fixture(scope="module")
def scarce():
    return results.read("practice_scarce")


def test_shipped_scarce_table_is_complete(scarce):
    for (experiment, student), part in scarce.groupby(["experiment", "student"]):
        if "assistant" in student or "itself" in student:
            continue
        assert set(nb.SCARCE_METHODS) <= set(part.method), (experiment, student)
        assert part.groupby("method").seed.nunique().min() == len(nb.SEEDS)
    # the leaky teacher's argmax is right more often on the unlabelled images than the fair one's
    right = scarce.groupby("method").pseudo_right.mean()
    assert right["hard pseudo-labels, teacher saw all labels"] > right["hard pseudo-labels, fair teacher"]


@pytest.mark.parametrize("experiment,student", [("3 · playground", "MLP 1x100"), ("6 · tiny students", "MLP 1x10"),
                                                ("6 · tiny students", "MLP 1x30"), ("8 · text", "bag of words")])
def test_scarce_split_parts_add_up_to_the_total(scarce, experiment, student):
    split = nb.scarce_split(scarce, experiment, student)
    parts, total = split["points"].iloc[:-1], split["points"].iloc[-1]
    assert parts.sum() == pytest.approx(total, abs=0.05)
    assert set(split.verdict) <= {"gain", "loss", "within the seed ranges"}


def test_scarce_chosen_picks_one_T_per_method_on_validation(scarce):
    text = nb.scarce_chosen(scarce[scarce.experiment == "8 · text"])
    assert text.groupby("method")["T"].nunique(dropna=False).max() == 1
    soft = scarce[(scarce.experiment == "8 · text") & (scarce.method == "soft targets, fair teacher")]
    val = soft.groupby("T").val.mean()
    assert text[text.method == "soft targets, fair teacher"]["T"].iloc[0] == val.idxmax()


def test_text_teacher_on_few_labels_sees_only_those():
    text = nb.TextData(tiny_corpus())
    y = nb.recipe.labelled_subset(text.teacher.train.y, 50, 0)
    scrambled = y.clone()
    unlabelled = y == losses.IGNORE_INDEX
    a = nb.text_teacher(text, labels=y)
    # the unlabelled docstrings' labels cannot matter: change them all, the teacher is the same
    text.teacher.train.y[unlabelled] = (text.teacher.train.y[unlabelled] + 1) % 5
    b = nb.text_teacher(text, labels=scrambled)
    assert nb.same_weights(a, b)


# ---------------------------------------------------------------------------------------------- strategies and consistency tables


def test_shipped_strategies_table_tunes_born_again_on_validation():
    runs = results.read("practice_strategies")
    born = runs[runs.method == "self-distillation (born again)"]
    assert set(map(tuple, born[["T", "alpha"]].drop_duplicates().to_numpy())) == {
        (T, a) for T in nb.BORN_TEMPERATURES for a in nb.BORN_ALPHAS}
    T, alpha = nb.born_choice(runs)
    chosen = nb.strategies_at_choice(runs)
    assert chosen.groupby("method").seed.nunique().eq(len(nb.SEEDS)).all() and len(chosen) == 4 * len(nb.SEEDS)
    val = born.groupby(["T", "alpha"]).val.mean()
    assert val[(T, alpha)] == val.max()
    assert runs[["train_acc", "train_ce"]].notna().all().all()


def test_shipped_consistency_table_has_the_no_shift_controls():
    runs = results.read("practice_consistency")
    assert list(dict.fromkeys(runs.variant)) == list(nb.CONSISTENCY_VARIANTS)
    table = nb.spread_table(runs, "variant")
    verdicts = nb.consistency_verdicts(table)
    assert len(verdicts) == 9 and all(isinstance(v, bool) for v in verdicts.values())
