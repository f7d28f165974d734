"""Tests for kdnb.training: seeding, fit, jitter, predict_logits and distill.

Everything trains tiny models for a few epochs on a few hundred images, so the file runs in seconds.
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from kdnb.data import Dataset, Split
from kdnb.losses import IGNORE_INDEX
from kdnb.models import mlp
from kdnb.training import accuracy, distill, fit, get_device, jitter, predict_logits, seed_everything

SMALL = dict(epochs=2, batch_size=64, progress=False)


@pytest.fixture(scope="module")
def small(mnist: Dataset) -> dict[str, Split]:
    """300 training and 100 validation images, balanced (the splits are interleaved by class)."""
    return {"train": mnist.train.subset(torch.arange(300)), "val": mnist.val.subset(torch.arange(100))}


@pytest.fixture(scope="module")
def easy(mnist: Dataset) -> Split:
    """An easy two-class problem: 200 zeros and ones."""
    keep = torch.nonzero((mnist.train.y == 0) | (mnist.train.y == 1)).flatten()[:200]
    return mnist.train.subset(keep)


def new_student(seed: int = 0, hidden=(16,), dropout: float = 0.0, num_classes: int = 10) -> nn.Module:
    seed_everything(seed)
    return mlp(hidden=hidden, num_classes=num_classes, dropout=dropout)


def state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class CountingTeacher(nn.Module):
    """Wraps a model and counts its forward calls and the rows it sees."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls = 0
        self.rows = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.rows += len(x)
        return self.inner(x)


@pytest.fixture(scope="module")
def teacher_net(small) -> nn.Module:
    """A small teacher, trained briefly once per module; tests must not change it (they copy it)."""
    model = new_student(seed=123, hidden=(32,))
    fit(model, small["train"], epochs=2, batch_size=64, progress=False)
    return model


# ---------------------------------------------------------------- seeding and devices


def test_seed_everything_makes_fits_bitwise_identical(small) -> None:
    runs = []
    for _ in range(2):
        model = new_student(seed=5, dropout=0.3)  # dropout draws from the global RNG too
        hist = fit(model, small["train"], small["val"], seed=5, augment=1, **SMALL)
        runs.append((hist.drop(columns="seconds"), copy.deepcopy(model.state_dict())))
    pd.testing.assert_frame_equal(runs[0][0], runs[1][0], check_exact=True)
    assert state_equal(runs[0][1], runs[1][1])
    # ... and the check can fail: another seed gives other weights.
    other = new_student(seed=6, dropout=0.3)
    fit(other, small["train"], small["val"], seed=6, augment=1, **SMALL)
    assert not state_equal(runs[0][1], other.state_dict())


def test_fit_seed_controls_the_shuffle(small) -> None:
    states = []
    for seed in (0, 0, 1):
        model = new_student(seed=3)  # same initial weights every time
        fit(model, small["train"], seed=seed, **SMALL)
        states.append(model.state_dict())
    assert state_equal(states[0], states[1])
    assert not state_equal(states[0], states[2])


def test_seed_everything_seeds_python_numpy_and_torch() -> None:
    import random

    import numpy as np

    seed_everything(11, threads=None)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(11, threads=None)
    b = (random.random(), np.random.rand(), torch.rand(1).item())
    assert a == b


def test_seed_everything_sets_threads() -> None:
    before = torch.get_num_threads()
    try:
        seed_everything(0, threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_get_device() -> None:
    assert get_device("cpu") == torch.device("cpu")
    assert isinstance(get_device("cpu"), torch.device)
    assert get_device().type in {"cpu", "cuda", "mps"}


# ---------------------------------------------------------------- fit


def test_fit_history_frame_and_loss_decreases(easy) -> None:
    model = new_student()
    hist = fit(model, easy, easy, epochs=4, batch_size=32, lr=3e-3, progress=False)
    assert isinstance(hist, pd.DataFrame)
    assert hist.index.name == "epoch"
    assert hist.index.tolist() == [1, 2, 3, 4]
    assert list(hist.columns) == ["loss", "train_acc", "val_acc", "seconds"]
    assert hist["loss"].is_monotonic_decreasing
    assert hist["loss"].iloc[-1] < 0.5 * hist["loss"].iloc[0]
    assert hist["train_acc"].between(0, 1).all() and hist["val_acc"].between(0, 1).all()
    assert hist["val_acc"].iloc[-1] > 0.95
    assert (hist["seconds"] > 0).all()
    assert not model.training  # fit leaves the model in eval mode
    assert accuracy(model, easy) == pytest.approx(hist["val_acc"].iloc[-1])


def test_fit_without_val_has_no_val_column(easy) -> None:
    hist = fit(new_student(), easy, None, epochs=1, progress=False)
    assert list(hist.columns) == ["loss", "train_acc", "seconds"]


def test_fit_callback_once_per_epoch_with_the_row(small) -> None:
    rows = []
    hist = fit(new_student(), small["train"], small["val"], epochs=3, batch_size=64, progress=False, callback=rows.append)
    assert len(rows) == 3
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert pd.DataFrame(rows).set_index("epoch").equals(hist)


@pytest.mark.parametrize("bad", [dict(epochs=0), dict(batch_size=0), dict(lr=0.0), dict(lr=-1e-3)])
def test_fit_rejects_bad_settings(easy, bad) -> None:
    model = new_student()
    before = copy.deepcopy(model.state_dict())
    settings_ = dict(epochs=1, batch_size=32, lr=1e-3, progress=False) | bad
    with pytest.raises(ValueError):
        fit(model, easy, **settings_)
    assert state_equal(before, model.state_dict())


def test_fit_restore_best_restores_best_val_weights(easy) -> None:
    # Validation labels are the training labels swapped: the better the model learns, the worse it
    # does on "val", so the best validation epoch is an early one, not the last.
    flipped = Split(easy.X, 1 - easy.y)
    snapshots = {}

    def run(restore_best: bool):
        model = new_student(num_classes=2)

        def snap(row):
            snapshots[(restore_best, row["epoch"])] = copy.deepcopy(model.state_dict())

        hist = fit(model, easy, flipped, epochs=4, batch_size=100, lr=1e-4, progress=False,
                   callback=snap, restore_best=restore_best)
        return model, hist

    model, hist = run(True)
    best_epoch = int(hist["val_acc"].idxmax())
    assert best_epoch < 4 and hist["val_acc"].iloc[-1] < hist["val_acc"].max()  # the test is meaningful
    assert accuracy(model, flipped) == pytest.approx(hist["val_acc"].max())
    assert state_equal(model.state_dict(), snapshots[(True, best_epoch)])
    assert not state_equal(model.state_dict(), snapshots[(True, 4)])
    # Without restore_best the final weights are the last epoch's.
    model, hist = run(False)
    assert state_equal(model.state_dict(), snapshots[(False, 4)])
    assert accuracy(model, flipped) == pytest.approx(hist["val_acc"].iloc[-1])


def test_fit_accepts_unlabelled_rows_in_a_mixed_batch(easy) -> None:
    y = easy.y.clone()
    y[::2] = IGNORE_INDEX
    hist = fit(new_student(), Split(easy.X, y), epochs=1, batch_size=50, progress=False)
    assert torch.isfinite(torch.tensor(hist["loss"].to_numpy())).all()


def test_fit_loss_is_finite_when_a_batch_has_no_labels(easy) -> None:
    y = easy.y.clone()
    y[:] = IGNORE_INDEX
    y[0] = easy.y[0]  # one labelled row: most batches of 10 have none
    hist = fit(new_student(), Split(easy.X, y), epochs=1, batch_size=10, progress=False)
    assert torch.isfinite(torch.tensor(hist["loss"].to_numpy())).all()


# ---------------------------------------------------------------- jitter


def test_jitter_keeps_shape_and_dtype() -> None:
    x = torch.rand(7, 3, 10, 13)
    out = jitter(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype


def test_jitter_zero_is_identity() -> None:
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(jitter(x, 0), x)
    assert torch.equal(jitter(x, -1), x)


@pytest.mark.parametrize("max_shift", [1, 2, 3])
def test_jitter_moves_a_bright_pixel_by_at_most_max_shift(max_shift: int) -> None:
    n, h, w, r, c = 400, 11, 9, 5, 4
    x = torch.zeros(n, 1, h, w)
    x[:, 0, r, c] = 1.0
    out = jitter(x, max_shift, torch.Generator().manual_seed(max_shift))
    flat = out.view(n, -1)
    assert torch.equal(flat.sum(1), torch.ones(n))  # the pixel is moved, not lost or copied
    assert torch.equal(flat.max(1).values, torch.ones(n))
    pos = flat.argmax(1)
    dr, dc = pos // w - r, pos % w - c
    assert dr.abs().max().item() <= max_shift and dc.abs().max().item() <= max_shift
    # Every shift in the square occurs (400 draws over at most 49 cells), both axes independently.
    seen = set(zip(dr.tolist(), dc.tolist()))
    assert seen == {(i, j) for i in range(-max_shift, max_shift + 1) for j in range(-max_shift, max_shift + 1)}


def test_jitter_shifts_all_channels_together() -> None:
    base = torch.rand(20, 1, 6, 6)
    x = base.repeat(1, 3, 1, 1)
    out = jitter(x, 2, torch.Generator().manual_seed(0))
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 0], out[:, 2])


def test_jitter_is_reproducible_with_a_generator() -> None:
    x = torch.rand(10, 1, 8, 8)
    a = jitter(x, 2, torch.Generator().manual_seed(3))
    b = jitter(x, 2, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, x)


@settings(max_examples=25, deadline=None, database=None)
@given(max_shift=st.integers(1, 4), h=st.integers(1, 12), w=st.integers(1, 12), n=st.integers(1, 6),
       seed=st.integers(0, 2**16))
def test_jitter_preserves_mass_with_a_zero_border(max_shift, h, w, n, seed) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 2, h + 2 * max_shift, w + 2 * max_shift)
    x[:, :, max_shift:max_shift + h, max_shift:max_shift + w] = torch.rand(n, 2, h, w, generator=g)
    out = jitter(x, max_shift, g)
    assert out.shape == x.shape
    assert torch.allclose(out.sum(dim=(2, 3)), x.sum(dim=(2, 3)))
    # A shift is a permutation of pixels: the multiset of values is unchanged.
    assert torch.equal(out.flatten(1).sort(1).values, x.flatten(1).sort(1).values)


# ---------------------------------------------------------------- predict_logits


@pytest.mark.parametrize("training", [True, False])
def test_predict_logits_eval_mode_no_grad_and_restores_mode(training: bool) -> None:
    model = new_student(dropout=0.5)
    model.train(training)
    X = torch.rand(25, 1, 28, 28)
    a = predict_logits(model, X)
    b = predict_logits(model, X, batch_size=7)  # batched the same, and dropout is off (eval mode)
    assert a.shape == (25, 10) and a.dtype == torch.float32
    assert not a.requires_grad and a.grad_fn is None
    assert torch.allclose(a, b, atol=1e-6)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(a, model(X), atol=1e-6)
    model.train(training)
    predict_logits(model, X)
    assert model.training is training
    assert all(m.training is training for m in model.modules())


def test_accuracy_matches_argmax(small) -> None:
    model = new_student()
    split = small["val"]
    expected = (predict_logits(model, split.X).argmax(1) == split.y).float().mean().item()
    assert accuracy(model, split) == expected
    assert 0.0 <= expected <= 1.0


# ---------------------------------------------------------------- distill


def test_distill_needs_a_teacher_model_or_its_logits(small, teacher_net) -> None:
    with pytest.raises(TypeError, match="teacher"):
        distill(new_student(), small["train"], **SMALL)
    with pytest.raises(TypeError, match="model .nn.Module. or its logits"):
        distill(new_student(), small["train"], teacher=small["train"].X.numpy(), **SMALL)


def test_run_refuses_unknown_and_bad_options() -> None:
    from kdnb.training import Run

    with pytest.raises(TypeError, match=r"unknown training option\(s\) \['epoch'\]"):
        Run.of(epoch=3)
    for bad in ({"epochs": 0}, {"epochs": 2.5}, {"batch_size": 0}, {"lr": 0.0}, {"weight_decay": -1.0}, {"augment": -1}):
        with pytest.raises(ValueError):
            Run.of(**bad)
    assert Run.of(Run(epochs=3), lr=0.5) == Run(epochs=3, lr=0.5)


def test_distill_rejects_wrong_length_teacher_logits(small) -> None:
    with pytest.raises(ValueError, match="rows"):
        distill(new_student(), small["train"], teacher=torch.zeros(len(small["train"]) - 1, 10), **SMALL)


def test_distill_rejects_cached_logits_with_augmentation(small) -> None:
    with pytest.raises(ValueError, match="augment"):
        distill(new_student(), small["train"], teacher=torch.zeros(len(small["train"]), 10), augment=1, **SMALL)


@pytest.mark.parametrize("bad", [dict(T=0.0), dict(T=-2.0), dict(T=float("nan")), dict(alpha=1.5), dict(alpha=-0.1)])
def test_distill_bad_T_or_alpha_raise_before_training(small, teacher_net, bad) -> None:
    teacher = CountingTeacher(copy.deepcopy(teacher_net))
    student = new_student()
    before = copy.deepcopy(student.state_dict())
    calls = []
    with pytest.raises(ValueError):
        distill(student, small["train"], teacher=teacher, callback=calls.append, **SMALL, **bad)
    assert teacher.calls == 0 and calls == []
    assert state_equal(before, student.state_dict())


@pytest.mark.parametrize("bad", [dict(T="4"), dict(alpha=None)])
def test_distill_wrong_type_T_or_alpha(small, teacher_net, bad) -> None:
    with pytest.raises(TypeError):
        distill(new_student(), small["train"], teacher=copy.deepcopy(teacher_net), **SMALL, **bad)


def test_distill_caches_teacher_logits_without_augmentation(small, teacher_net) -> None:
    teacher = CountingTeacher(copy.deepcopy(teacher_net))
    hist = distill(new_student(), small["train"], small["val"], teacher=teacher, epochs=3, batch_size=64, progress=False)
    assert len(hist) == 3
    assert teacher.rows == len(small["train"])  # one predict_logits pass, before the first epoch
    assert teacher.calls == 1  # 300 rows fit in predict_logits' batch of 1000


def test_distill_runs_the_teacher_on_every_augmented_batch(small, teacher_net) -> None:
    teacher = CountingTeacher(copy.deepcopy(teacher_net))
    epochs, batch_size = 2, 64
    distill(new_student(), small["train"], teacher=teacher, augment=2, epochs=epochs, batch_size=batch_size, progress=False)
    assert teacher.rows == epochs * len(small["train"])
    assert teacher.calls == epochs * -(-len(small["train"]) // batch_size)


@pytest.mark.parametrize("augment", [0, 2])
def test_distill_freezes_and_does_not_change_the_teacher(small, teacher_net, augment: int) -> None:
    teacher = copy.deepcopy(teacher_net)
    teacher.train()
    assert all(p.requires_grad for p in teacher.parameters())
    before = copy.deepcopy(teacher.state_dict())
    student = new_student()
    student_before = copy.deepcopy(student.state_dict())
    distill(student, small["train"], teacher=teacher, augment=augment, **SMALL)
    assert state_equal(before, teacher.state_dict())
    assert all(not p.requires_grad and p.grad is None for p in teacher.parameters())
    assert not teacher.training
    assert not state_equal(student_before, student.state_dict())  # the student did learn


def test_distill_from_logits_equals_distill_from_teacher(small, teacher_net) -> None:
    teacher = copy.deepcopy(teacher_net)
    logits = predict_logits(teacher, small["train"].X)
    a, b = new_student(seed=9), new_student(seed=9)
    assert state_equal(a.state_dict(), b.state_dict())
    ha = distill(a, small["train"], small["val"], teacher=teacher, T=3.0, alpha=0.7, **SMALL)
    hb = distill(b, small["train"], small["val"], teacher=logits, T=3.0, alpha=0.7, **SMALL)
    assert state_equal(a.state_dict(), b.state_dict())
    pd.testing.assert_frame_equal(ha.drop(columns="seconds"), hb.drop(columns="seconds"), check_exact=True)


def test_distill_history_and_callback(small, teacher_net) -> None:
    rows = []
    hist = distill(new_student(), small["train"], small["val"], teacher=copy.deepcopy(teacher_net),
                   callback=rows.append, **SMALL)
    assert list(hist.columns) == ["loss", "train_acc", "val_acc", "seconds"]
    assert hist.index.name == "epoch" and hist.index.tolist() == [1, 2]
    assert len(rows) == 2


def test_distill_accepts_unlabelled_rows(small, teacher_net) -> None:
    train = small["train"]
    logits = predict_logits(teacher_net, train.X)
    y = train.y.clone()
    y[1::2] = IGNORE_INDEX  # half the rows have no label
    student = new_student()
    hist = distill(student, Split(train.X, y), teacher=logits, alpha=0.5, **SMALL)
    assert torch.isfinite(torch.tensor(hist["loss"].to_numpy())).all()
    assert hist["train_acc"].between(0, 1).all()
    # No label at all: the student learns from the teacher alone, and follows it.
    y_none = torch.full_like(train.y, IGNORE_INDEX)
    student = new_student()
    hist = distill(student, Split(train.X, y_none), teacher=logits, T=2.0, alpha=0.5,
                   epochs=5, batch_size=32, lr=3e-3, progress=False)
    assert torch.isfinite(torch.tensor(hist["loss"].to_numpy())).all()
    assert (hist["train_acc"] == 0).all()  # no labelled row to score
    agree = (predict_logits(student, train.X).argmax(1) == logits.argmax(1)).float().mean().item()
    assert agree > 0.6


def reference_loop(model, train: Split, loss_of, *, epochs, batch_size, lr=1e-3, seed=0, fused=False):
    """The loop as written before the fast path: X[idx], the full checked loss, .item() every step."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, fused=fused)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * -(-len(train) // batch_size))
    losses = []
    for _ in range(epochs):
        model.train()
        total = 0.0
        for idx in torch.randperm(len(train), generator=gen).split(batch_size):
            logits = model(train.X[idx])
            loss = loss_of(idx, logits)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        losses.append(total / len(train))
    return losses


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("unlabelled", [False, True])
def test_distill_fast_path_is_bitwise_the_checked_kd_loss(small, teacher_net, unlabelled, fused, monkeypatch) -> None:
    from kdnb.losses import kd_loss

    monkeypatch.setattr("kdnb.training.FUSED_ADAM", fused)
    train = small["train"]
    y = train.y.clone()
    if unlabelled:
        y[::3] = IGNORE_INDEX
    train = Split(train.X, y)
    t_logits = predict_logits(teacher_net, train.X)
    ours, ref = new_student(3), new_student(3)
    hist = distill(ours, train, teacher=t_logits, T=4.0, alpha=0.7, epochs=3, batch_size=64, progress=False, seed=5)
    losses = reference_loop(ref, train, lambda idx, z: kd_loss(z, t_logits[idx], y[idx], T=4.0, alpha=0.7),
                            epochs=3, batch_size=64, seed=5, fused=fused)
    assert state_equal(ours.state_dict(), ref.state_dict())
    assert hist["loss"].tolist() == losses


@pytest.mark.parametrize("fused", [False, True])
def test_fit_fast_path_is_bitwise_the_checked_hard_loss(small, fused, monkeypatch) -> None:
    from kdnb.losses import hard_loss

    monkeypatch.setattr("kdnb.training.FUSED_ADAM", fused)
    train = small["train"]
    ours, ref = new_student(4), new_student(4)
    hist = fit(ours, train, epochs=2, batch_size=50, progress=False, seed=2)
    losses = reference_loop(ref, train, lambda idx, z: hard_loss(z, train.y[idx]), epochs=2, batch_size=50, seed=2, fused=fused)
    assert state_equal(ours.state_dict(), ref.state_dict())
    assert hist["loss"].tolist() == losses


def test_fit_train_acc_counts_labelled_rows_only(easy) -> None:
    y = easy.y.clone()
    y[::2] = IGNORE_INDEX
    n_labelled = int((y != IGNORE_INDEX).sum())
    hist = fit(new_student(0, num_classes=2), Split(easy.X, y), epochs=3, batch_size=32, progress=False)
    hits = hist["train_acc"] * n_labelled  # a whole number of labelled rows predicted right, out of n_labelled
    assert ((hits - hits.round()).abs() < 1e-9).all() and (hist["train_acc"] <= 1).all()
    assert hist["train_acc"].iloc[-1] > 0.9  # zeros against ones: learnt within three epochs


def test_distill_stops_with_a_clear_error_when_the_loss_diverges(small) -> None:
    train = small["train"]
    bad = Split(train.X.clone(), train.y)
    bad.X[5, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="diverged"):
        distill(new_student(), bad, teacher=torch.randn(len(bad), 10), epochs=1, batch_size=64, progress=False)


def test_kd_step_loss_checks_once_and_names_the_problem(small) -> None:
    from kdnb.training import kd_step_loss

    y = small["train"].y
    with pytest.raises(ValueError, match="NaN"):
        kd_step_loss(torch.full((len(y), 10), float("nan")), y)
    with pytest.raises(ValueError, match="out of range"):
        kd_step_loss(torch.randn(len(y), 10), y + 10)
    step = kd_step_loss(torch.randn(len(y), 10), y)
    with pytest.raises(ValueError, match="differ in shape"):
        step(torch.arange(4), None, torch.randn(4, 3))


def test_fused_adam_differs_from_the_for_loop_only_in_the_last_bits(small, monkeypatch) -> None:
    models = {}
    for fused in (False, True):
        monkeypatch.setattr("kdnb.training.FUSED_ADAM", fused)
        models[fused] = new_student(6)
        fit(models[fused], small["train"], epochs=3, batch_size=64, progress=False)
    for a, b in zip(models[False].parameters(), models[True].parameters()):
        assert torch.allclose(a, b, rtol=0, atol=1e-5)


@pytest.mark.parametrize("how", ["fit", "distill-logits", "distill-teacher", "distill-augment"])
def test_empty_training_split_is_a_clear_error(small, teacher_net, how) -> None:
    empty = Split(small["train"].X[:0], small["train"].y[:0])
    student = new_student()
    before = copy.deepcopy(student.state_dict())
    calls = {
        "fit": lambda: fit(student, empty, epochs=1, progress=False),
        "distill-logits": lambda: distill(student, empty, teacher=torch.zeros(0, 10), epochs=1, progress=False),
        "distill-teacher": lambda: distill(student, empty, teacher=teacher_net, epochs=1, progress=False),
        "distill-augment": lambda: distill(student, empty, teacher=teacher_net, augment=2, epochs=1, progress=False),
    }
    with pytest.raises(ValueError, match="empty training split"):
        calls[how]()
    assert state_equal(before, student.state_dict())
