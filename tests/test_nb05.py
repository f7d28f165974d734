"""Notebook 05's module: the playground, the map, the consistency step, teacher assistants, self and
mutual distillation, the text corpus, the seeds' code, the exercises' checkers, and the shipped tables."""

from __future__ import annotations

import copy
import json
import math
import textwrap
from pathlib import Path

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


def test_playground_run_twin_starts_from_same_weights_and_alpha_zero_matches(small):
    logits = fake_logits(small.train)
    hist = nb.playground_run(small, lambda name: logits, T=4.0, alpha=0.0, labels="all 3,500 labels", epochs=3)
    last = hist[hist.epoch == 3].set_index("model")
    # alpha = 0 with every label: the same loss, the same batches, the same start -> the same model
    assert last.test_acc["distilled"] == pytest.approx(last.test_acc["hard labels only"], abs=1e-6)
    assert list(hist.columns) == ["epoch", "model", "train_acc", "test_acc", "test_loss"]
    assert len(hist) == 6


def test_playground_run_rejects_bad_settings(small):
    teachers = lambda name: fake_logits(small.train)
    with pytest.raises(ValueError, match="temperature"):
        nb.playground_run(small, teachers, T=0.0)
    with pytest.raises(ValueError, match="unknown student"):
        nb.playground_run(small, teachers, student="MLP 9x9")
    with pytest.raises(ValueError, match="unknown labels"):
        nb.playground_run(small, teachers, labels="all of them")
    with pytest.raises(ValueError, match="this dataset's training images"):
        nb.playground_run(small, lambda name: torch.zeros(5, 10))


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


def test_choose_from_map_and_its_checker():
    runs = fake_map()
    assert nb.choose_from_map(runs) == (4.0, 0.5)
    assert nb.check_map_choice((4.0, 0.5), runs, )
    assert "test" in nb.diagnose_map_choice((20.0, 0.25), runs)           # best mean test accuracy
    assert "one seed" in nb.diagnose_map_choice((1.0, 1.0), runs)        # a lucky single run
    assert "swapped" in nb.diagnose_map_choice((0.5, 4.0), runs)
    assert "not on the map" in nb.diagnose_map_choice((3.0, 0.5), runs)
    assert not nb.check_map_choice(..., runs) and nb.check_map_choice(..., runs).status == "todo"


def test_solution_4_1_is_accepted():
    runs_map = results.read("practice_map")
    ns = {"nb": nb, "runs_map": runs_map}
    exec(solution("4.1"), ns)
    assert ns["choice"] == nb.choose_from_map(runs_map)


# ---------------------------------------------------------------------------------------------- consistency


def test_consistent_step_checker():
    ns = {"nb": nb, "torch": torch, "losses": losses}
    exec(solution("5.1"), ns)
    assert nb.check_consistent_step(ns["make_consistent_step"])

    def cached_step(teacher, cached, y, T, alpha):
        return lambda idx, xb, logits: losses.kd_loss(logits, cached[idx], y[idx], T=T, alpha=alpha)

    def graph_step(teacher, cached, y, T, alpha):
        return lambda idx, xb, logits: losses.kd_loss(logits, teacher(xb), y[idx], T=T, alpha=alpha)

    def hard_step(teacher, cached, y, T, alpha):
        return lambda idx, xb, logits: losses.hard_loss(logits, y[idx])

    assert "un-shifted" in nb.diagnose_consistent_step(cached_step)
    assert "no_grad" in nb.diagnose_consistent_step(graph_step)
    assert "no teacher signal" in nb.diagnose_consistent_step(hard_step)


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
