"""data/results: one way in and out, atomic writes, and errors that name the fix."""

import pandas as pd
import pytest

from kdnb import results


@pytest.fixture()
def tmp_results(tmp_path, monkeypatch):
    monkeypatch.setenv("KDNB_RESULTS", str(tmp_path))
    return tmp_path


def test_write_then_read(tmp_results):
    df = pd.DataFrame({"seed": [0, 1], "kd_test": [0.9512345678, 0.95]})
    path = results.write(df, "demo")
    assert path == tmp_results / "demo.csv"
    back = results.read("demo")
    assert back["kd_test"].iloc[0] == pytest.approx(0.951235)  # 6 significant digits are kept
    assert not list(tmp_results.glob(".*.tmp"))  # nothing half-written is left behind


def test_missing_table_names_the_command(tmp_results):
    with pytest.raises(FileNotFoundError, match="python -m kdnb.recipe settings"):
        results.read("settings")
    with pytest.raises(FileNotFoundError, match="nb02_soft_vs_hard_labels"):
        results.read("soft_labels_missing_class")


@pytest.mark.parametrize("bad", ["../etc", "Settings", "a b", "x.csv", ""])
def test_bad_names_are_refused(bad):
    with pytest.raises(ValueError, match="lower case"):
        results.path(bad)


def test_every_shipped_table_is_readable():
    shipped = sorted(p.stem for p in results.root().glob("*.csv"))
    assert "settings" in shipped
    for name in shipped:
        assert len(results.read(name)) > 0
