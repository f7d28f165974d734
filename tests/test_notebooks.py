"""Hygiene of the committed notebooks (nbval then re-runs them and compares outputs)."""

from pathlib import Path

import pytest

from kdnb.nbtools import NOTEBOOKS, problems

PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks():
    assert any(p.name == "00_start_here.ipynb" for p in PATHS)


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_is_executed_and_clean(path: Path):
    assert problems(path) == []


def test_problems_are_detected(tmp_path):
    import json

    bad = {
        "cells": [
            {"cell_type": "code", "execution_count": 2, "metadata": {}, "source": "# NBVAL_IGNORE_OUTPUT\nx = 1",
             "outputs": [{"output_type": "error", "ename": "ValueError", "evalue": "", "traceback": []},
                         {"output_type": "stream", "name": "stdout", "text": "/home/alice/x.py"}]},
        ],
        "metadata": {"kernelspec": {"name": "kdnb-venv"}, "widgets": {}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path = tmp_path / "bad.ipynb"
    path.write_text(json.dumps(bad))
    found = " | ".join(problems(path))
    for expected in ("execution counts", "kernelspec", "volatile", "error", "machine path", "asserts nothing"):
        assert expected in found
