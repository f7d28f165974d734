"""Tests for kdnb.data: the offline loaders and the stratified split. No network."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from kdnb import data as kdata
from kdnb.data import DATASETS, Dataset, Split, load, load_mnist_subset, stratified_split


def row_hashes(split: Split) -> list[str]:
    """One SHA-1 per image, so that splits can be compared by content rather than by index."""
    X = split.X.numpy()
    return [hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest() for x in X]


def assert_well_formed(split: Split, hw: tuple[int, int]) -> None:
    assert split.X.dtype == torch.float32
    assert split.y.dtype == torch.int64
    assert split.X.dim() == 4 and tuple(split.X.shape[1:]) == (1, *hw)
    assert len(split.X) == len(split.y) == len(split)
    assert split.X.min().item() >= 0.0 and split.X.max().item() <= 1.0
    assert split.X.is_contiguous()


# ---------------------------------------------------------------- MNIST subset


def test_mnist_subset_sizes_dtypes_and_range(mnist: Dataset) -> None:
    assert mnist.name == "mnist-5k"
    assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (3500, 500, 1000)
    for split in (mnist.train, mnist.val, mnist.test):
        assert_well_formed(split, (28, 28))
    assert mnist.image_shape == (1, 28, 28)
    assert mnist.num_classes == 10
    # The images are real digits scaled from 0..255: both ends of the range occur.
    assert mnist.train.X.min().item() == 0.0 and mnist.train.X.max().item() == 1.0
    # Values are k / 255 for integer k.
    k = mnist.test.X * 255.0
    assert torch.allclose(k, k.round(), atol=1e-4)


def test_mnist_subset_summary(mnist: Dataset) -> None:
    assert mnist.summary() == {"dataset": "mnist-5k", "train": 3500, "val": 500, "test": 1000,
                               "image": "28x28", "classes": 10}


def test_mnist_subset_every_class_balanced_in_every_split(mnist: Dataset) -> None:
    # The subset holds 500 of each digit; a stratified split keeps exactly 10% of each per 500 images.
    expected = {"train": 350, "val": 50, "test": 100}
    for name, per_class in expected.items():
        counts = torch.bincount(getattr(mnist, name).y, minlength=10)
        assert len(counts) == 10, name
        assert counts.tolist() == [per_class] * 10, name


def test_mnist_subset_splits_are_disjoint(mnist: Dataset) -> None:
    hashes = {name: row_hashes(getattr(mnist, name)) for name in ("train", "val", "test")}
    sets = {name: set(h) for name, h in hashes.items()}
    # No image is repeated inside a split, and none is shared between splits.
    for name in hashes:
        assert len(sets[name]) == len(hashes[name]), name
    assert not sets["train"] & sets["val"]
    assert not sets["train"] & sets["test"]
    assert not sets["val"] & sets["test"]
    assert len(sets["train"] | sets["val"] | sets["test"]) == 5000


def test_mnist_subset_same_seed_same_split(mnist: Dataset) -> None:
    again = load_mnist_subset(seed=0)
    for name in ("train", "val", "test"):
        assert torch.equal(getattr(again, name).X, getattr(mnist, name).X), name
        assert torch.equal(getattr(again, name).y, getattr(mnist, name).y), name


def test_mnist_subset_different_seed_different_split(mnist: Dataset) -> None:
    other = load_mnist_subset(seed=1)
    assert set(row_hashes(other.test)) != set(row_hashes(mnist.test))
    assert set(row_hashes(other.train)) != set(row_hashes(mnist.train))
    # ... while still a partition of the same 5,000 images, balanced per class.
    union = lambda ds: set(row_hashes(ds.train)) | set(row_hashes(ds.val)) | set(row_hashes(ds.test))  # noqa: E731
    assert union(other) == union(mnist)
    assert torch.bincount(other.test.y, minlength=10).tolist() == [100] * 10


def test_mnist_subset_custom_sizes() -> None:
    ds = load_mnist_subset(seed=0, sizes=(1000, 200, -1))
    assert (len(ds.train), len(ds.val), len(ds.test)) == (1000, 200, 3800)
    assert torch.bincount(ds.train.y, minlength=10).tolist() == [100] * 10


# ---------------------------------------------------------------- digits


def test_load_digits_shapes_and_range(digits: Dataset) -> None:
    assert digits.name == "digits"
    assert (len(digits.train), len(digits.val), len(digits.test)) == (1000, 297, 500)
    for split in (digits.train, digits.val, digits.test):
        assert_well_formed(split, (8, 8))
    assert digits.image_shape == (1, 8, 8)
    # Raw values are 0..16, scaled to [0, 1]: 1.0 must be reached.
    assert digits.train.X.max().item() == 1.0
    all_y = torch.cat([digits.train.y, digits.val.y, digits.test.y])
    assert sorted(all_y.unique().tolist()) == list(range(10))
    for split in (digits.train, digits.val, digits.test):
        counts = torch.bincount(split.y, minlength=10)
        assert (counts > 0).all()
    hashes = [set(row_hashes(s)) for s in (digits.train, digits.val, digits.test)]
    assert not (hashes[0] & hashes[1]) and not (hashes[0] & hashes[2]) and not (hashes[1] & hashes[2])


# ---------------------------------------------------------------- stratified_split


def test_stratified_split_sizes_and_partition() -> None:
    y = np.repeat(np.arange(4), 25)  # 100 examples, 4 classes
    parts = stratified_split(y, (40, 20, -1), seed=3)
    assert [len(p) for p in parts] == [40, 20, 40]
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(100))  # a partition: no index lost or repeated
    for p in parts:
        assert np.all(np.diff(p) > 0)  # sorted, unique
        assert np.bincount(y[p], minlength=4).tolist() == [len(p) // 4] * 4


def test_stratified_split_minus_one_in_the_middle_and_leftovers() -> None:
    y = np.repeat(np.arange(5), 20)
    parts = stratified_split(y, (10, -1, 30), seed=0)
    assert [len(p) for p in parts] == [10, 60, 30]
    parts = stratified_split(y, (10, 20), seed=0)  # sizes may leave examples unused
    assert [len(p) for p in parts] == [10, 20]
    assert not set(parts[0]) & set(parts[1])


def test_stratified_split_is_deterministic_and_seed_dependent() -> None:
    y = np.repeat(np.arange(3), 30)
    a = stratified_split(y, (30, -1), seed=7)
    b = stratified_split(y, (30, -1), seed=7)
    c = stratified_split(y, (30, -1), seed=8)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_stratified_split_prefix_is_nearly_balanced_for_unequal_classes() -> None:
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    (part,) = stratified_split(y, (50,), seed=0)
    counts = np.bincount(y[part], minlength=3)
    assert np.all(np.abs(counts - np.array([30, 15, 5])) <= 1), counts


@pytest.mark.parametrize("sizes", [(60, 50), (101,), (50, 60, -1), (-1, -1), (10, -2)])
def test_stratified_split_rejects_sizes_that_do_not_fit(sizes) -> None:
    y = np.repeat(np.arange(10), 10)
    with pytest.raises(ValueError):
        stratified_split(y, sizes)


def test_stratified_split_exact_fit_is_allowed() -> None:
    y = np.repeat(np.arange(10), 10)
    parts = stratified_split(y, (60, 40))
    assert [len(p) for p in parts] == [60, 40]
    parts = stratified_split(y, (100, -1))
    assert [len(p) for p in parts] == [100, 0]


# ---------------------------------------------------------------- load() and Split


def test_load_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ValueError) as info:
        load("nope")
    message = str(info.value)
    assert "nope" in message
    for name in DATASETS:
        assert name in message


def test_load_by_name_passes_kwargs(digits: Dataset) -> None:
    ds = load("digits", seed=0)
    assert ds.name == "digits"
    assert torch.equal(ds.test.X, digits.test.X)
    assert set(DATASETS) >= {"mnist-5k", "digits", "mnist-full"}
    assert DATASETS["mnist-5k"] is kdata.load_mnist_subset


def test_split_subset_by_indices_and_mask(digits: Dataset) -> None:
    split = digits.test
    sub = split.subset([4, 0, 2])
    assert isinstance(sub, Split)
    assert len(sub) == 3
    assert torch.equal(sub.X[0], split.X[4]) and torch.equal(sub.X[1], split.X[0]) and torch.equal(sub.X[2], split.X[2])
    assert sub.y.tolist() == [split.y[4].item(), split.y[0].item(), split.y[2].item()]
    sub = split.subset(np.arange(10, 20))  # a NumPy index works too
    assert torch.equal(sub.X, split.X[10:20]) and torch.equal(sub.y, split.y[10:20])
    mask = split.y == 3
    sub = split.subset(mask)
    assert len(sub) == int(mask.sum()) > 0
    assert (sub.y == 3).all()


def test_split_is_frozen(digits: Dataset) -> None:
    with pytest.raises(Exception):
        digits.test.X = torch.zeros(1)  # type: ignore[misc]


def test_load_mnist_full_splits_what_fetch_mnist_returns(monkeypatch):
    import numpy as np

    from kdnb import download

    rng = np.random.default_rng(0)
    fake = {
        "train_images": rng.integers(0, 256, (200, 28, 28), dtype=np.uint8),
        "train_labels": np.repeat(np.arange(10, dtype=np.uint8), 20),
        "test_images": rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
        "test_labels": np.repeat(np.arange(10, dtype=np.uint8), 5),
    }
    calls = {}

    def fake_fetch(root=None, *, download=False, **kwargs):
        calls["download"] = download
        return fake

    monkeypatch.setattr(download, "fetch_mnist", fake_fetch)
    ds = kdata.load_mnist_full(download=True, val_size=40)
    assert calls["download"] is True
    assert (len(ds.train), len(ds.val), len(ds.test)) == (160, 40, 50)
    assert ds.train.X.shape[1:] == (1, 28, 28) and ds.train.X.dtype == torch.float32
    assert float(ds.test.X.max()) <= 1.0
    assert torch.bincount(ds.val.y, minlength=10).tolist() == [4] * 10
    assert torch.equal(ds.test.y, torch.from_numpy(fake["test_labels"].astype("int64")))


def test_load_mnist_full_offline_without_files_says_how_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        kdata.load_mnist_full(root=tmp_path)
