"""Tests for kdnb.temperature: softened softmax, entropy, top-2 ratio and input checks.

Small float64 tensors only; the whole file runs in about a second.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kdnb.temperature import (
    check_logits,
    check_temperature,
    entropy,
    soft_targets,
    top2_ratio,
)

FAST = settings(max_examples=40, deadline=None)
DT = torch.float64


def rand_logits(*shape, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=DT) * scale


# Hypothesis strategy: one logit row of 2..10 finite values in [-20, 20].
logit_rows = st.integers(2, 10).flatmap(
    lambda c: st.lists(
        st.floats(-20, 20, allow_nan=False, allow_infinity=False), min_size=c, max_size=c
    )
)


# --------------------------------------------------------------------------- soft_targets


@pytest.mark.parametrize("T", [0.5, 1.0, 2.0, 4.0, 20.0])
def test_soft_targets_is_softmax_of_logits_over_T(T):
    z = rand_logits(4, 7)
    expected = torch.softmax(z / T, dim=-1)
    torch.testing.assert_close(soft_targets(z, T), expected, rtol=0, atol=1e-15)


def test_soft_targets_default_T_is_plain_softmax():
    z = rand_logits(3, 5)
    torch.testing.assert_close(soft_targets(z), torch.softmax(z, -1), rtol=0, atol=1e-15)


def test_soft_targets_hand_computed_values():
    # z = [log 4, log 2, 0] -> exp(z) = [4, 2, 1] -> softmax = [4, 2, 1] / 7 at T = 1;
    # at T = 2: exp(z / 2) = [2, sqrt 2, 1].
    z = torch.tensor([math.log(4), math.log(2), 0.0], dtype=DT)
    torch.testing.assert_close(soft_targets(z, 1.0), torch.tensor([4 / 7, 2 / 7, 1 / 7], dtype=DT))
    s = 2 + math.sqrt(2) + 1
    torch.testing.assert_close(soft_targets(z, 2.0), torch.tensor([2 / s, math.sqrt(2) / s, 1 / s], dtype=DT))


@pytest.mark.parametrize("T", [0.1, 1.0, 3.0, 100.0])
def test_soft_targets_rows_sum_to_one_and_are_positive(T):
    p = soft_targets(rand_logits(6, 9, seed=1), T)
    torch.testing.assert_close(p.sum(-1), torch.ones(6, dtype=DT), rtol=0, atol=1e-12)
    assert (p >= 0).all()


def test_soft_targets_keeps_batch_shape():
    z = rand_logits(2, 3, 5)
    assert soft_targets(z, 2.0).shape == (2, 3, 5)
    torch.testing.assert_close(soft_targets(z, 2.0).sum(-1), torch.ones(2, 3, dtype=DT))


def test_small_T_tends_to_one_hot_argmax():
    z = torch.tensor([[1.0, 3.0, 2.5, -1.0], [0.2, -0.3, 0.1, 0.0]], dtype=DT)
    p = soft_targets(z, 1e-3)
    one_hot = torch.nn.functional.one_hot(z.argmax(-1), 4).to(DT)
    torch.testing.assert_close(p, one_hot, rtol=0, atol=1e-12)


def test_large_T_tends_to_uniform():
    z = rand_logits(3, 6, scale=5.0)
    p = soft_targets(z, 1e5)
    torch.testing.assert_close(p, torch.full_like(p, 1 / 6), rtol=0, atol=1e-4)
    # ... and is closer to uniform than at a moderate temperature.
    dist = lambda q: (q - 1 / 6).abs().max().item()  # noqa: E731
    assert dist(p) < dist(soft_targets(z, 10.0)) < dist(soft_targets(z, 1.0))


def test_raising_T_lifts_the_smallest_probability_and_lowers_the_largest():
    z = torch.tensor([5.0, 2.0, 0.0, -3.0], dtype=DT)
    probs = [soft_targets(z, T) for T in (1.0, 2.0, 4.0, 8.0)]
    for a, b in zip(probs, probs[1:]):
        assert b[0] < a[0]  # top class loses mass
        assert b[-1] > a[-1]  # "dark knowledge": the least likely class gains mass


@FAST
@given(row=logit_rows, T=st.floats(0.05, 50))
def test_soft_targets_preserve_class_order(row, T):
    z = torch.tensor(row, dtype=DT)
    p = soft_targets(z, T)
    for i in range(len(row)):
        for j in range(len(row)):
            if row[i] > row[j]:
                assert p[i] >= p[j]  # monotone (may tie only after underflow to 0)
            elif row[i] == row[j]:
                assert p[i] == p[j]
    assert p[z.argmax()] == p.max()  # the top logit keeps the top probability


@FAST
@given(row=logit_rows, T=st.floats(0.5, 50))
def test_soft_targets_strict_order_at_moderate_T(row, T):
    z = torch.tensor(row, dtype=DT)
    p = soft_targets(z, T)
    for i in range(len(row)):
        for j in range(len(row)):
            if row[i] - row[j] > 1e-6 * T:
                assert p[i] > p[j]


# --------------------------------------------------------------------------- entropy


@pytest.mark.parametrize("C", [2, 3, 10])
def test_entropy_of_one_hot_is_zero(C):
    p = torch.nn.functional.one_hot(torch.tensor([0, C - 1]), C).to(DT)
    h = entropy(p)
    assert torch.isfinite(h).all()  # 0 * log 0 must count as 0, not NaN
    torch.testing.assert_close(h, torch.zeros(2, dtype=DT), rtol=0, atol=0)


@pytest.mark.parametrize("C", [2, 4, 7, 10])
def test_entropy_of_uniform_is_log2_C_bits(C):
    p = torch.full((C,), 1 / C, dtype=DT)
    assert entropy(p).item() == pytest.approx(math.log2(C), rel=1e-12)


@pytest.mark.parametrize("C", [2, 5])
def test_entropy_base_e_gives_nats(C):
    p = torch.full((3, C), 1 / C, dtype=DT)
    torch.testing.assert_close(entropy(p, base=math.e), torch.full((3,), math.log(C), dtype=DT))
    q = soft_targets(rand_logits(3, C), 2.0)
    torch.testing.assert_close(entropy(q, base=math.e), entropy(q) * math.log(2))


def test_entropy_hand_computed():
    p = torch.tensor([0.5, 0.25, 0.25, 0.0], dtype=DT)
    assert entropy(p).item() == pytest.approx(1.5, rel=1e-12)  # 0.5*1 + 2*0.25*2 bits


def test_entropy_rejects_logits_and_integers():
    with pytest.raises(ValueError, match="non-negative"):
        entropy(torch.tensor([1.0, -2.0], dtype=DT))
    with pytest.raises(ValueError):
        entropy(torch.tensor([float("nan"), 1.0], dtype=DT))
    with pytest.raises(TypeError):
        entropy(torch.tensor([1, 0]))


@FAST
@given(row=logit_rows, T1=st.floats(0.05, 50), T2=st.floats(0.05, 50))
def test_entropy_increases_with_T(row, T1, T2):
    # dH/d(1/T) = -(1/T) Var_p(z) <= 0, so H(softmax(z / T)) is non-decreasing in T.
    z = torch.tensor(row, dtype=DT)
    assume(z.max() - z.min() > 1e-3)  # a non-uniform logit vector
    lo, hi = sorted((T1, T2))
    assert entropy(soft_targets(z, lo)).item() <= entropy(soft_targets(z, hi)).item() + 1e-12


def test_entropy_strictly_increases_on_a_grid_and_is_bounded_by_log2_C():
    z = torch.tensor([3.0, 1.0, 0.5, -2.0, 0.0], dtype=DT)
    hs = [entropy(soft_targets(z, T)).item() for T in (0.5, 1, 2, 4, 8, 16, 32)]
    assert all(a < b for a, b in zip(hs, hs[1:]))
    assert 0 < hs[0] and hs[-1] < math.log2(5)


# --------------------------------------------------------------------------- top2_ratio


def test_top2_ratio_known_examples():
    p = torch.tensor([[0.2, 0.5, 0.3], [0.25, 0.25, 0.5]], dtype=DT)
    torch.testing.assert_close(top2_ratio(p), torch.tensor([5 / 3, 2.0], dtype=DT))
    # From logits the ratio is exp((z_1 - z_2) / T): z = [log 4, log 2, 0] -> 2 at T=1, sqrt 2 at T=2.
    z = torch.tensor([math.log(4), math.log(2), 0.0], dtype=DT)
    assert top2_ratio(soft_targets(z, 1.0)).item() == pytest.approx(2.0, rel=1e-12)
    assert top2_ratio(soft_targets(z, 2.0)).item() == pytest.approx(math.sqrt(2), rel=1e-12)


def test_top2_ratio_is_one_for_a_tie_and_falls_with_T():
    assert top2_ratio(torch.tensor([0.4, 0.4, 0.2], dtype=DT)).item() == 1.0
    z = rand_logits(6, seed=3)
    ratios = [top2_ratio(soft_targets(z, T)).item() for T in (1, 2, 4, 8)]
    assert all(a > b >= 1 for a, b in zip(ratios, ratios[1:]))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "T, exc",
    [
        (0, ValueError),
        (0.0, ValueError),
        (-1.0, ValueError),
        (-4, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (float("-inf"), ValueError),
        ("4", TypeError),
        (None, TypeError),
        (True, TypeError),
        (False, TypeError),
        (torch.tensor([1.0, 2.0]), ValueError),
        (torch.tensor(float("nan")), ValueError),
        (torch.tensor(0.0), ValueError),
    ],
    ids=repr,
)
def test_bad_temperature_is_rejected_with_a_clear_message(T, exc):
    z = rand_logits(2, 3)
    for fn in (check_temperature, lambda t: soft_targets(z, t)):
        with pytest.raises(exc, match="temperature"):
            fn(T)


@pytest.mark.parametrize("T, expected", [(4, 4.0), (0.5, 0.5), (torch.tensor(3.0), 3.0), (torch.tensor([2.0]), 2.0)])
def test_good_temperature_is_returned_as_float(T, expected):
    out = check_temperature(T)
    assert type(out) is float and out == expected


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_logits_are_rejected(bad):
    z = rand_logits(2, 4)
    z[1, 2] = bad
    for fn in (check_logits, soft_targets):
        with pytest.raises(ValueError, match="NaN"):
            fn(z)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool])
def test_integer_logits_are_a_type_error(dtype):
    z = torch.tensor([[1, 0, 1]], dtype=dtype)
    with pytest.raises(TypeError, match="floating"):
        soft_targets(z, 2.0)


def test_non_tensor_logits_are_a_type_error():
    with pytest.raises(TypeError, match="torch.Tensor"):
        soft_targets([1.0, 2.0], 2.0)


@pytest.mark.parametrize("shape", [(3, 1), (1,), (0,), ()])
def test_fewer_than_two_classes_is_rejected(shape):
    with pytest.raises(ValueError, match="at least 2 classes"):
        soft_targets(torch.zeros(shape, dtype=DT), 2.0)
