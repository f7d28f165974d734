"""data/results: one way in and out, one way to make a table, atomic writes, and errors that name the fix."""

import pandas as pd
import pytest

from kdnb import results


@pytest.fixture()
def tmp_results(tmp_path, monkeypatch):
    monkeypatch.setenv("KDNB_RESULTS", str(tmp_path))
    return tmp_path


def test_write_then_read(tmp_results):
    df = pd.DataFrame({"seed": [0, 1], "kd_test": [0.9512345678, 0.95]})
    path = results.write(df, "nb99_demo")
    assert path == tmp_results / "nb99_demo.csv"
    back = results.read("nb99_demo")
    assert back["kd_test"].iloc[0] == pytest.approx(0.951235)  # 6 significant digits are kept
    assert not list(tmp_results.glob(".*.tmp"))  # nothing half-written is left behind


def test_missing_table_names_the_command(tmp_results):
    with pytest.raises(FileNotFoundError, match="python -m kdnb.results make recipe_settings"):
        results.read("recipe_settings")
    with pytest.raises(FileNotFoundError, match="python -m kdnb.results make nb02_missing_class"):
        results.read("nb02_missing_class")


@pytest.mark.parametrize("bad", ["../etc", "Settings", "a b", "x.csv", "", "settings", "loss_weights", "nb4_x", "nb04"])
def test_names_outside_the_pattern_are_refused(bad):
    with pytest.raises(ValueError, match="<owner>_<what>"):
        results.path(bad)


def test_every_shipped_table_has_exactly_one_maker_and_every_maker_table_ships():
    registry = results.makers()
    shipped = {p.stem for p in results.root().glob("*.csv")}
    assert shipped, "no shipped tables found"
    assert shipped - set(registry) == set(), f"tables nobody makes: {sorted(shipped - set(registry))}"
    assert set(registry) - shipped == set(), f"registered tables that are not shipped: {sorted(set(registry) - shipped)}"
    for name in shipped:
        assert len(results.read(name)) > 0, name
        assert results.owner_module(name) == registry[name].fn.__module__, name


def test_each_owner_registers_only_its_own_tables():
    for name, maker in results.makers().items():
        owner = name.split("_")[0]
        module = maker.fn.__module__
        assert module.startswith(f"kdnb.{owner}"), f"{name} is made in {module}, not by its owner {owner}"
        assert maker.minutes > 0 and maker.command == f"python -m kdnb.results make {maker.tables[0]}"


def test_a_maker_must_take_the_common_options():
    with pytest.raises(TypeError, match="seeds=, threads= and progress="):
        @results.maker("nb99_demo", minutes=1)
        def bad(seeds=(0,)):
            return {}
    with pytest.raises(ValueError, match="<owner>_<what>"):
        results.maker("demo", minutes=1)


def test_make_writes_what_the_maker_returns_and_refuses_a_mismatch(tmp_results, monkeypatch):
    import sys
    import types

    calls = []

    @results.maker("recipe_demo_a", "recipe_demo_b", minutes=0.1)
    def fake(seeds=(0, 1), threads=1, progress=True):
        calls.append((seeds, threads, progress))
        return {"recipe_demo_a": pd.DataFrame({"x": [1]}), "recipe_demo_b": pd.DataFrame({"y": list(seeds)})}

    @results.maker("recipe_demo_c", minutes=0.1)
    def wrong(seeds=(0,), threads=1, progress=True):
        return {"recipe_demo_z": pd.DataFrame({"x": [1]})}

    module = types.ModuleType("kdnb.recipe")
    module.MAKERS = (fake, wrong)
    monkeypatch.setitem(sys.modules, "kdnb.recipe", module)
    paths = results.make("recipe_demo_b", seeds=[3, 4], threads=2, progress=False)
    assert sorted(p.name for p in paths) == ["recipe_demo_a.csv", "recipe_demo_b.csv"]
    assert calls == [((3, 4), 2, False)]
    assert results.read("recipe_demo_b")["y"].tolist() == [3, 4]
    with pytest.raises(RuntimeError, match="registered for"):
        results.make("recipe_demo_c", progress=False)
    assert not (tmp_results / "recipe_demo_z.csv").exists()
    with pytest.raises(LookupError, match="no maker"):
        results.make("recipe_nothing", progress=False)


def test_command_line_lists_every_table(capsys):
    assert results.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in results.makers():
        assert name in out


def test_command_line_refuses_an_unknown_table(capsys):
    with pytest.raises(SystemExit):
        results.main(["make", "nb04_no_such_table"])
    assert "unknown table" in capsys.readouterr().err
