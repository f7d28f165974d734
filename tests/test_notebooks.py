"""Hygiene of the committed notebooks (nbval then re-runs them and compares outputs)."""

from pathlib import Path

import pytest

from kdnb.nbtools import NOTEBOOKS, problems

#: Both editions: the English notebooks and their Chinese twins in notebooks/zh/.
PATHS = sorted(NOTEBOOKS.glob("*.ipynb")) + sorted((NOTEBOOKS / "zh").glob("*.ipynb"))


def test_there_are_notebooks():
    assert any(p.name == "00_start_here.ipynb" for p in PATHS)


@pytest.mark.parametrize("path", PATHS, ids=[str(p.relative_to(NOTEBOOKS)) for p in PATHS])
def test_notebook_is_executed_and_clean(path: Path):
    assert problems(path) == []


def test_problems_are_detected(tmp_path):
    import json

    bad = {
        "cells": [
            {"cell_type": "code", "execution_count": 2, "metadata": {}, "source": "# NBVAL_IGNORE_OUTPUT\nx = 1",
             "outputs": [{"output_type": "error", "ename": "ValueError", "evalue": "", "traceback": []},
                         {"output_type": "stream", "name": "stdout", "text": "/home/alice/x.py"}]},
            {"cell_type": "code", "execution_count": 3, "metadata": {"tags": ["solution"]},
             "source": "# Solution 1.1 (click to reveal)\nx = 2", "outputs": []},
            {"cell_type": "code", "execution_count": 4, "metadata": {}, "source": "# Solution 1.2\nx = 3", "outputs": []},
        ],
        "metadata": {"kernelspec": {"name": "kdnb-venv"}, "widgets": {}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path = tmp_path / "bad.ipynb"
    path.write_text(json.dumps(bad))
    found = " | ".join(problems(path))
    for expected in ("execution counts", "kernelspec", "language_info", "volatile", "error", "machine path", "asserts nothing",
                     "cell 2 is a solution but is not collapsed", "cell 3 looks like a solution but is not tagged"):
        assert expected in found


def test_clean_collapses_solutions_and_keeps_only_tags():
    from kdnb.nbtools import KERNELSPEC, clean

    nb = {"metadata": {"kernelspec": {"name": "x"}, "widgets": {}, "language_info": {"name": "python"}},
          "cells": [{"cell_type": "code", "metadata": {"tags": ["solution"], "collapsed": True, "execution": {}},
                     "outputs": [], "source": ""},
                    {"cell_type": "markdown", "metadata": {"jupyter": {"source_hidden": True}}, "source": ""}]}
    out = clean(nb)
    assert out["metadata"] == {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    assert out["cells"][0]["metadata"] == {"tags": ["solution"], "jupyter": {"source_hidden": True}}
    assert out["cells"][1]["metadata"] == {}


def test_the_other_kernels_pass_really_changes_the_bits():
    """CI's second nbval pass is only a stand-in for another CPU if its settings change the shipped
    teachers' logits in the last bits; otherwise it would compare a notebook with itself."""
    import os
    import subprocess
    import sys

    code = ("import hashlib; from kdnb import data, teachers, training; ds = data.load_mnist_subset(); "
            "training.seed_everything(0); z = training.predict_logits(teachers.load_teacher('cnn-mnist'), ds.test.X[:200]); "
            "print(hashlib.sha256(z.numpy().tobytes()).hexdigest())")
    other = {"MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default"}
    makefile = (NOTEBOOKS.parent / "Makefile").read_text(encoding="utf-8")
    assert all(f"{k}={v}" in makefile for k, v in other.items()), "the Makefile's second pass uses other settings"
    native = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    changed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, **other}).stdout
    assert native != changed, "these settings no longer change the float kernels: pick others for the second pass"
