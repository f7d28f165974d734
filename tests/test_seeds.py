"""kdnb.seeds: the one way to say whether a result beats the seed-to-seed noise."""

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kdnb import seeds
from kdnb.seeds import Spread

values = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=8)


def test_spread_of_values_and_its_text():
    s = Spread.of([0.931, 0.930, 0.933], scale=100)
    assert (round(s.mean, 6), round(s.lo, 6), round(s.hi, 6), s.n) == (93.133333, 93.0, 93.3, 3)
    assert s.text() == "93.1 [93.0, 93.3]" and str(s) == s.text() and f"{s}" == s.text()
    assert Spread.of([1.8, 1.2, 2.4]).text(signed=True) == "+1.8 [+1.2, +2.4]"
    assert f"{Spread.of([-0.5, 0.25]):+.2f}" == "-0.12 [-0.50, +0.25]"


def test_apart_gap_and_beats():
    low, high, touching = Spread.of([1, 2, 3]), Spread.of([4, 5]), Spread.of([3, 6])
    assert high.apart(low) and low.apart(high) and high.gap(low) == 1.0
    assert high.beats(low) and not low.beats(high)
    assert not touching.apart(low) and touching.gap(low) == 0.0  # sharing an end point is an overlap
    assert not touching.beats(low)
    assert high - low == pytest.approx(2.5)
    assert seeds.ranges_apart([4, 5], [1, 2, 3]) and not seeds.ranges_apart([3, 6], [1, 2, 3])


@given(values, values)
def test_apart_is_symmetric_and_agrees_with_the_gap(a, b):
    sa, sb = Spread.of(a), Spread.of(b)
    assert sa.apart(sb) == sb.apart(sa) == (sa.gap(sb) > 0)
    assert not (sa.beats(sb) and sb.beats(sa))
    assert sa.lo <= sa.mean + 1e-6 * max(1.0, abs(sa.mean)) and sa.mean <= sa.hi + 1e-6 * max(1.0, abs(sa.mean))


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="at least one value"):
        Spread.of([])
    with pytest.raises(ValueError, match="NaN"):
        Spread.of([1.0, math.nan])
    with pytest.raises(KeyError, match="no column"):
        seeds.spread(pd.DataFrame({"setting": ["a"], "x": [1.0]}), "setting", ["y"])


def test_spread_table_spreads_and_span_table_agree():
    runs = pd.DataFrame({"setting": ["b", "b", "a", "a", "a"], "test": [0.9, 0.92, 0.8, 0.85, 0.81]})
    table = seeds.spread(runs, "setting", ["test"])
    assert list(table.index) == ["b", "a"]  # table order, not sorted
    assert table.loc["a", "seeds"] == 3 and table.loc["a", "test_max"] == pytest.approx(85.0)
    by = seeds.spreads(runs, "setting", "test")
    assert by["b"].beats(by["a"]) and by["a"] == Spread.from_row(table.loc["a"], "test")
    text = seeds.span_table(runs, "setting", {"test": "test accuracy (%)"})
    assert text.loc["a", "test accuracy (%)"] == "82.0 [80.0, 85.0]" and text.loc["b", "seeds"] == 2
    assert list(seeds.spread(runs, "setting", ["test"], sort=True).index) == ["a", "b"]
