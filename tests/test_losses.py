"""Tests for kdnb.losses, checked against torch.nn.functional, hand arithmetic and autograd.

Notation as in the module: student logits z, teacher logits v, q_T = softmax(z / T),
p_T = softmax(v / T), B rows, C classes. Small float64 tensors; the file runs in a few seconds.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kdnb.losses import (
    IGNORE_INDEX,
    check_alpha,
    check_labels,
    hard_loss,
    kd_loss,
    kl_divergence,
    logit_matching_loss,
    soft_loss,
)

DT = torch.float64
FAST = settings(max_examples=25, deadline=None)


def rand(*shape, seed=0, scale=2.0, grad=False):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(*shape, generator=g, dtype=DT) * scale
    return t.requires_grad_(grad)


def labels_for(B, C, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, C, (B,), generator=g)


def grad_of(loss_fn, z):
    """d loss_fn(z) / d z, for a fresh leaf copy of z."""
    z = z.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss_fn(z), z)
    return g


def kl_reference(z, v, T):
    """KL(p_T || q_T), batchmean, straight from F.kl_div with a log target."""
    return F.kl_div(F.log_softmax(z / T, -1), F.log_softmax(v / T, -1), reduction="batchmean", log_target=True)


@st.composite
def logit_batches(draw, lo=-20.0, hi=20.0):
    """(B, C) float64 logits with B in 1..8, C in 2..10, values in [lo, hi]."""
    B = draw(st.integers(1, 8))
    C = draw(st.integers(2, 10))
    vals = draw(st.lists(st.floats(lo, hi, allow_nan=False, allow_infinity=False), min_size=B * C, max_size=B * C))
    return torch.tensor(vals, dtype=DT).reshape(B, C)


@st.composite
def logit_pairs(draw):
    z = draw(logit_batches())
    vals = draw(st.lists(st.floats(-20, 20, allow_nan=False, allow_infinity=False), min_size=z.numel(), max_size=z.numel()))
    return z, torch.tensor(vals, dtype=DT).reshape(z.shape)


# --------------------------------------------------------------------------- soft loss vs F.kl_div


@pytest.mark.parametrize("T", [1.0, 2.0, 4.0, 10.0])
def test_soft_loss_unscaled_equals_F_kl_div_batchmean_log_target(T):
    z, v = rand(5, 7, seed=1), rand(5, 7, seed=2)
    torch.testing.assert_close(soft_loss(z, v, T, scale=False), kl_reference(z, v, T), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("T", [1.0, 2.0, 4.0, 10.0])
def test_soft_loss_scaled_is_T_squared_times_kl(T):
    z, v = rand(5, 7, seed=1), rand(5, 7, seed=2)
    torch.testing.assert_close(soft_loss(z, v, T), T * T * kl_reference(z, v, T), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(soft_loss(z, v, T, scale=True), soft_loss(z, v, T))  # default is scale=True


@pytest.mark.parametrize("T", [1.0, 3.0])
def test_soft_loss_equals_F_kl_div_with_probability_target(T):
    z, v = rand(4, 6, seed=3), rand(4, 6, seed=4)
    p = F.softmax(v / T, -1)
    expected = F.kl_div(F.log_softmax(z / T, -1), p, reduction="batchmean")
    torch.testing.assert_close(soft_loss(z, v, T, scale=False), expected, rtol=1e-12, atol=1e-14)


def test_kl_divergence_by_hand_sum():
    p = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]], dtype=DT)
    q = torch.tensor([[0.25, 0.25, 0.5], [0.2, 0.3, 0.5]], dtype=DT)
    # Row 0: 0.5 log 2 + 0.5 log 2 + 0 (the p = 0 term contributes nothing) = log 2; row 1: 0.
    out = kl_divergence(p, p.clamp_min(1e-300).log(), q.log())
    assert out.item() == pytest.approx(math.log(2) / 2, rel=1e-12)


@pytest.mark.filterwarnings("ignore:reduction.*mean:UserWarning")
@pytest.mark.parametrize("C", [3, 10])
def test_reduction_mean_is_the_common_mistake_off_by_factor_C(C):
    # reduction="mean" averages over all B * C elements, not over the B examples: it is KL / C.
    z, v = rand(4, C, seed=5), rand(4, C, seed=6)
    T = 4.0
    wrong = F.kl_div(F.log_softmax(z / T, -1), F.log_softmax(v / T, -1), reduction="mean", log_target=True)
    right = soft_loss(z, v, T, scale=False)
    torch.testing.assert_close(right, C * wrong, rtol=1e-12, atol=1e-14)
    assert not torch.isclose(right, wrong, rtol=0.1)


def test_single_unbatched_row_counts_as_a_batch_of_one():
    # For a 1-D (C,) row kdnb divides by 1 (one example), like F.cross_entropy's unbatched input.
    # Note: F.kl_div(..., "batchmean") would divide a 1-D input by C instead.
    z, v = rand(5, seed=7), rand(5, seed=8)
    torch.testing.assert_close(soft_loss(z, v, 2.0), soft_loss(z[None], v[None], 2.0))
    torch.testing.assert_close(logit_matching_loss(z, v), logit_matching_loss(z[None], v[None]))


# --------------------------------------------------------------------------- hard loss


def test_hard_loss_equals_F_cross_entropy():
    z, y = rand(6, 5, seed=9), labels_for(6, 5)
    torch.testing.assert_close(hard_loss(z, y), F.cross_entropy(z, y), rtol=1e-12, atol=0)


def test_hard_loss_skips_ignore_index_rows():
    z = rand(6, 5, seed=10)
    y = torch.tensor([0, IGNORE_INDEX, 4, IGNORE_INDEX, 2, 1])
    keep = y != IGNORE_INDEX
    torch.testing.assert_close(hard_loss(z, y), F.cross_entropy(z[keep], y[keep]), rtol=1e-12, atol=0)
    # The ignored rows' logits do not matter ...
    z2 = z.clone()
    z2[~keep] = 100.0 * rand(2, 5, seed=11)
    torch.testing.assert_close(hard_loss(z2, y), hard_loss(z, y))
    # ... and get no gradient.
    g = grad_of(lambda t: hard_loss(t, y), z)
    assert (g[~keep] == 0).all() and (g[keep] != 0).any()


def test_hard_loss_all_ignored_is_zero_and_backpropagates():
    z = rand(3, 4, seed=12, grad=True)
    y = torch.full((3,), IGNORE_INDEX)
    loss = hard_loss(z, y)
    assert loss.item() == 0.0 and not torch.isnan(loss)  # F.cross_entropy itself would give NaN here
    loss.backward()
    assert z.grad is not None and (z.grad == 0).all()


# --------------------------------------------------------------------------- kd_loss


@pytest.mark.parametrize("T, alpha", [(1.0, 0.5), (4.0, 0.9), (2.0, 0.3), (10.0, 0.7)])
def test_kd_loss_is_weighted_sum_of_hard_and_T2_kl(T, alpha):
    z, v, y = rand(5, 6, seed=13), rand(5, 6, seed=14), labels_for(5, 6, seed=1)
    expected = (1 - alpha) * F.cross_entropy(z, y) + alpha * T * T * kl_reference(z, v, T)
    torch.testing.assert_close(kd_loss(z, v, y, T=T, alpha=alpha), expected, rtol=1e-12, atol=1e-14)


def test_kd_loss_defaults_are_T4_alpha09():
    z, v, y = rand(3, 4, seed=15), rand(3, 4, seed=16), labels_for(3, 4)
    torch.testing.assert_close(kd_loss(z, v, y), kd_loss(z, v, y, T=4.0, alpha=0.9))


def test_kd_loss_alpha_zero_is_plain_cross_entropy():
    z, v, y = rand(5, 6, seed=17), rand(5, 6, seed=18), labels_for(5, 6)
    torch.testing.assert_close(kd_loss(z, v, y, T=4.0, alpha=0.0), F.cross_entropy(z, y), rtol=1e-12, atol=0)
    # The teacher is irrelevant at alpha = 0.
    torch.testing.assert_close(kd_loss(z, rand(5, 6, seed=99), y, T=4.0, alpha=0.0), kd_loss(z, v, y, T=4.0, alpha=0.0))


def test_kd_loss_alpha_one_ignores_labels():
    z, v = rand(5, 6, seed=19), rand(5, 6, seed=20)
    y1, y2 = labels_for(5, 6, seed=1), labels_for(5, 6, seed=2)
    assert not torch.equal(y1, y2)
    a = kd_loss(z, v, y1, T=3.0, alpha=1.0)
    assert a.item() == kd_loss(z, v, y2, T=3.0, alpha=1.0).item()
    assert a.item() == kd_loss(z, v, torch.full((5,), IGNORE_INDEX), T=3.0, alpha=1.0).item()
    torch.testing.assert_close(a, soft_loss(z, v, 3.0))
    # Same gradient too, whatever the labels.
    torch.testing.assert_close(
        grad_of(lambda t: kd_loss(t, v, y1, T=3.0, alpha=1.0), z), grad_of(lambda t: kd_loss(t, v, y2, T=3.0, alpha=1.0), z)
    )


def test_kd_loss_with_unlabelled_rows():
    # Unlabelled rows learn from the teacher only; CE averages over the labelled rows.
    z, v = rand(4, 5, seed=21), rand(4, 5, seed=22)
    y = torch.tensor([1, IGNORE_INDEX, 3, IGNORE_INDEX])
    keep = y != IGNORE_INDEX
    expected = 0.4 * F.cross_entropy(z[keep], y[keep]) + 0.6 * 9.0 * kl_reference(z, v, 3.0)
    torch.testing.assert_close(kd_loss(z, v, y, T=3.0, alpha=0.6), expected, rtol=1e-12, atol=1e-14)


def test_kd_loss_hand_worked_example():
    # Student z = [1, 0, 0], teacher v = [2, 1, 0], label 0, T = 2, alpha = 0.5.
    T, alpha = 2.0, 0.5
    zs, vs = [1.0, 0.0, 0.0], [2.0, 1.0, 0.0]
    # Hard term at T = 1: -log q_1[0] = -log(e / (e + 2)) = log(e + 2) - 1.
    hard = -math.log(math.exp(1) / (math.exp(1) + math.exp(0) + math.exp(0)))
    assert hard == pytest.approx(math.log(math.e + 2) - 1, rel=1e-14)
    # Softened distributions at T = 2: q = softmax([0.5, 0, 0]), p = softmax([1, 0.5, 0]).
    zq = sum(math.exp(x / T) for x in zs)
    zp = sum(math.exp(x / T) for x in vs)
    q = [math.exp(x / T) / zq for x in zs]
    p = [math.exp(x / T) / zp for x in vs]
    kl = sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q))
    expected = (1 - alpha) * hard + alpha * T**2 * kl
    # Spot-check the intermediate numbers so the arithmetic above is itself pinned down.
    assert hard == pytest.approx(0.551444713932051, rel=1e-12)
    assert q[0] == pytest.approx(math.exp(0.5) / (math.exp(0.5) + 2), rel=1e-14)  # 0.4519
    assert p[0] == pytest.approx(math.e / (math.e + math.exp(0.5) + 1), rel=1e-14)  # 0.5065
    assert kl == pytest.approx(0.020945237162985, rel=1e-10)
    assert expected == pytest.approx(0.317612831291995, rel=1e-10)  # 0.5 * 0.5514 + 0.5 * 4 * 0.02095
    z = torch.tensor([zs], dtype=DT)
    v = torch.tensor([vs], dtype=DT)
    y = torch.tensor([0])
    assert kd_loss(z, v, y, T=T, alpha=alpha).item() == pytest.approx(expected, rel=1e-12)
    assert hard_loss(z, y).item() == pytest.approx(hard, rel=1e-12)
    assert soft_loss(z, v, T).item() == pytest.approx(T**2 * kl, rel=1e-12)


# --------------------------------------------------------------------------- KL properties


@FAST
@given(pair=logit_pairs(), T=st.floats(0.5, 10))
def test_kl_is_non_negative(pair, T):
    z, v = pair
    assert soft_loss(z, v, T, scale=False).item() >= -1e-12
    assert soft_loss(z, v, T).item() >= -1e-10


@FAST
@given(
    v=logit_batches(),
    shifts=st.lists(st.floats(-20, 20, allow_nan=False), min_size=8, max_size=8),
    T=st.floats(0.5, 10),
)
def test_kl_is_zero_when_student_is_teacher_plus_row_constant(v, shifts, T):
    c = torch.tensor(shifts[: v.shape[0]], dtype=DT)[:, None]
    z = v + c  # softmax is shift invariant, so q_T == p_T
    assert abs(soft_loss(z, v, T, scale=False).item()) < 1e-6
    assert abs(soft_loss(z, v, T).item()) < 1e-6
    g = grad_of(lambda t: soft_loss(t, v, T), z)
    assert g.abs().max().item() < 1e-6  # and at a minimum: zero gradient


@FAST
@given(pair=logit_pairs(), T=st.floats(0.5, 10))
def test_kl_is_positive_when_softened_distributions_differ(pair, T):
    z, v = pair
    p, q = F.softmax(v / T, -1), F.softmax(z / T, -1)
    tv = 0.5 * (p - q).abs().sum(-1)  # total variation distance per row
    assume(tv.max().item() > 0.01)
    kl = soft_loss(z, v, T, scale=False).item()
    assert kl > 0
    # Pinsker: KL(p || q) >= 2 TV(p, q)^2 per row, so also for the batch mean.
    assert kl >= (2 * tv**2).mean().item() * (1 - 1e-9)


# --------------------------------------------------------------------------- gradients and T^2


@pytest.mark.parametrize("T", [1.0, 2.0, 5.0, 20.0])
def test_soft_loss_gradient_is_T_times_q_minus_p_over_B(T):
    B, C = 4, 6
    z, v = rand(B, C, seed=23), rand(B, C, seed=24)
    g = grad_of(lambda t: soft_loss(t, v, T), z)
    expected = T * (F.softmax(z / T, -1) - F.softmax(v / T, -1)) / B
    torch.testing.assert_close(g, expected, rtol=1e-10, atol=1e-14)
    # Without the T^2 factor the gradient is (q - p) / (T B).
    g0 = grad_of(lambda t: soft_loss(t, v, T, scale=False), z)
    torch.testing.assert_close(g0, expected / T**2, rtol=1e-10, atol=1e-16)


def test_gradient_norm_scaling_with_and_without_T2():
    # Large T: q_T - p_T ~ (z~ - v~) / (C T), so the unscaled gradient (q - p) / (T B) falls as 1/T^2,
    # while the scaled one T (q - p) / B tends to the constant (z~ - v~) / (C B).
    z, v = rand(4, 10, seed=25, scale=1.0), rand(4, 10, seed=26, scale=1.0)

    def norm(T, scale):
        return grad_of(lambda t: soft_loss(t, v, T, scale=scale), z).norm().item()

    assert norm(20, False) / norm(40, False) == pytest.approx(4.0, rel=0.10)
    assert norm(50, False) / norm(100, False) == pytest.approx(4.0, rel=0.02)
    # ||grad|| T^2 approaches a constant for the unscaled loss ...
    unscaled = [norm(T, False) * T**2 for T in (20, 40, 80, 160)]
    assert max(unscaled) / min(unscaled) < 1.05
    # ... and ||grad|| itself (not ||grad|| * T) is roughly constant with the T^2 factor.
    assert norm(20, True) / norm(40, True) == pytest.approx(1.0, rel=0.10)
    assert norm(40, True) * 40 / (norm(20, True) * 20) == pytest.approx(2.0, rel=0.10)


def test_high_T_soft_loss_gradient_tends_to_logit_matching_gradient():
    B, C = 4, 10
    z, v = rand(B, C, seed=27, scale=1.0), rand(B, C, seed=28, scale=1.0)
    z, v = z - z.mean(-1, keepdim=True), v - v.mean(-1, keepdim=True)
    g_match = grad_of(lambda t: logit_matching_loss(t, v), z)
    torch.testing.assert_close(g_match, (z - v) / (C * B), rtol=1e-12, atol=1e-15)

    Ts = [2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
    rel = []
    for T in Ts:
        g_soft = grad_of(lambda t: soft_loss(t, v, T), z)
        rel.append(((g_soft - g_match).norm() / g_match.norm()).item())
    assert all(a > b for a, b in zip(rel, rel[1:]))
    # Next term of the expansion is O(1/T): T (q - p) = (z - v)/C + (z^2 - v^2 - mean(z^2) + mean(v^2)) / (2 C T) + O(1/T^2).
    # Here (seed logits of unit scale) the relative difference is ~0.93 / T, so 0.93 % at T = 100.
    assert rel[-1] < 0.01
    assert rel[-2] / rel[-1] == pytest.approx(2.0, rel=0.05)
    # Subtracting that first-order term leaves an O(1/T^2) remainder.
    T = 100.0
    corr = ((z**2 - v**2) - (z**2 - v**2).mean(-1, keepdim=True)) / (2 * C * T * B)
    g_soft = grad_of(lambda t: soft_loss(t, v, T), z)
    assert ((g_soft - g_match - corr).norm() / g_match.norm()).item() < 1e-3


def test_logit_matching_loss_value_and_shift_invariance():
    B, C = 3, 5
    z, v = rand(B, C, seed=29), rand(B, C, seed=30)
    zc, vc = z - z.mean(-1, keepdim=True), v - v.mean(-1, keepdim=True)
    expected = ((zc - vc) ** 2).sum() / (2 * C * B)
    torch.testing.assert_close(logit_matching_loss(z, v), expected, rtol=1e-12, atol=0)
    a = rand(B, 1, seed=31, scale=10.0)
    b = rand(B, 1, seed=32, scale=10.0)
    base = logit_matching_loss(z, v)
    torch.testing.assert_close(logit_matching_loss(z + a, v), base, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(logit_matching_loss(z, v + b), base, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(logit_matching_loss(z + 7.0, v - 3.0), base, rtol=1e-10, atol=1e-12)
    assert logit_matching_loss(z + a, z).item() == pytest.approx(0.0, abs=1e-12)
    assert base.item() > 0


# --------------------------------------------------------------------------- teacher terms


def test_teacher_receives_no_gradient_from_kd_loss():
    z, v, y = rand(4, 5, seed=33, grad=True), rand(4, 5, seed=34, grad=True), labels_for(4, 5)
    kd_loss(z, v, y, T=4.0, alpha=0.7).backward()
    assert v.grad is None or (v.grad == 0).all()
    assert z.grad is not None and (z.grad != 0).any()
    for loss in (soft_loss(z, v, 2.0), logit_matching_loss(z, v)):
        v.grad = None
        loss.backward()
        assert v.grad is None or (v.grad == 0).all()


def test_seed_answer_trap_teacher_only_term_gives_the_student_no_gradient():
    # A "teacher term" built only from teacher quantities, -sum t * y * log p (t, p: teacher probs,
    # y: one-hot labels), is a constant for the student: autograd finds no path to z.
    B, C, T = 4, 5, 2.0
    z, v, y = rand(B, C, seed=35, grad=True), rand(B, C, seed=36, grad=True), labels_for(B, C)
    log_p = F.log_softmax(v / T, -1)
    t = log_p.exp()
    term = -(t * F.one_hot(y, C).to(DT) * log_p).sum() / B
    (g,) = torch.autograd.grad(term, z, allow_unused=True)
    assert g is None or (g == 0).all()
    # Adding it to the hard loss leaves the student's gradient unchanged.
    g_hard = grad_of(lambda s: hard_loss(s, y), z)
    g_both = grad_of(lambda s: hard_loss(s, y) + (-(t * F.one_hot(y, C).to(DT) * log_p).sum() / B), z)
    torch.testing.assert_close(g_both, g_hard, rtol=0, atol=0)
    # Likewise KL's teacher-entropy part sum p log p is constant: the KL gradient equals the
    # gradient of the cross-entropy -sum p log q alone.
    p = F.softmax(v.detach() / T, -1)
    g_kl = grad_of(lambda s: soft_loss(s, v, T, scale=False), z)
    g_ce = grad_of(lambda s: -(p * F.log_softmax(s / T, -1)).sum() / B, z)
    torch.testing.assert_close(g_kl, g_ce, rtol=1e-10, atol=1e-15)


def test_flipped_sign_soft_loss_is_minus_kl_and_non_positive():
    B, C, T = 5, 6, 3.0
    z, v = rand(B, C, seed=37), rand(B, C, seed=38)
    log_p, log_q = F.log_softmax(v / T, -1), F.log_softmax(z / T, -1)
    flipped = (log_p.exp() * (log_q - log_p)).sum() / B
    kl = soft_loss(z, v, T, scale=False)
    assert flipped.item() < 0
    torch.testing.assert_close(flipped, -kl, rtol=1e-12, atol=1e-14)
    # Minimising the flipped loss moves the student away: its gradient is the KL gradient reversed.
    g_flip = grad_of(lambda s: (log_p.exp() * (F.log_softmax(s / T, -1) - log_p)).sum() / B, z)
    torch.testing.assert_close(g_flip, -grad_of(lambda s: soft_loss(s, v, T, scale=False), z))




def test_mismatched_student_teacher_shapes_name_both_shapes():
    z, v, y = rand(2, 3), rand(2, 4), labels_for(2, 3)
    for call in (
        lambda: soft_loss(z, v, 2.0),
        lambda: kd_loss(z, v, y, T=2.0, alpha=0.5),
        lambda: logit_matching_loss(z, v),
    ):
        with pytest.raises(ValueError) as info:
            call()
        assert "(2, 3)" in str(info.value) and "(2, 4)" in str(info.value)
    with pytest.raises(ValueError, match=r"\(3, 3\).*\(2, 3\)"):
        soft_loss(rand(3, 3), rand(2, 3), 2.0)


@pytest.mark.parametrize(
    "alpha, exc", [(-0.1, ValueError), (1.5, ValueError), (float("nan"), ValueError), ("0.5", TypeError), (True, TypeError), (None, TypeError)]
)
def test_bad_alpha_is_rejected(alpha, exc):
    z, v, y = rand(2, 3), rand(2, 3, seed=1), labels_for(2, 3)
    with pytest.raises(exc, match="alpha"):
        check_alpha(alpha)
    with pytest.raises(exc, match="alpha"):
        kd_loss(z, v, y, T=2.0, alpha=alpha)


@pytest.mark.parametrize("alpha", [0, 0.0, 0.25, 1, 1.0])
def test_good_alpha_is_returned_as_float(alpha):
    out = check_alpha(alpha)
    assert type(out) is float and out == alpha


def test_float_labels_are_a_type_error_mentioning_long():
    z, v = rand(2, 3), rand(2, 3, seed=1)
    one_hot = F.one_hot(torch.tensor([0, 2]), 3).to(DT)
    for call in (lambda: hard_loss(z, one_hot), lambda: kd_loss(z, v, torch.tensor([0.0, 2.0]), T=2.0, alpha=0.5)):
        with pytest.raises(TypeError, match="long"):
            call()
    with pytest.raises(TypeError, match="long"):
        hard_loss(z, torch.tensor([0, 2], dtype=torch.int32))


@pytest.mark.parametrize("bad", [10, -1, 11, -99])
def test_out_of_range_labels(bad):
    z, v = rand(3, 10), rand(3, 10, seed=1)
    y = torch.tensor([0, bad, 9])
    for call in (lambda: hard_loss(z, y), lambda: kd_loss(z, v, y, T=2.0, alpha=0.5), lambda: check_labels(y, z)):
        with pytest.raises(ValueError, match="out of range"):
            call()
    # IGNORE_INDEX (-100) is the one negative value that is allowed.
    check_labels(torch.tensor([0, IGNORE_INDEX, 9]), z)


@pytest.mark.parametrize("n", [2, 4])
def test_labels_of_wrong_length(n):
    z, v = rand(3, 5), rand(3, 5, seed=1)
    y = labels_for(n, 5)
    for call in (lambda: hard_loss(z, y), lambda: kd_loss(z, v, y, T=2.0, alpha=0.5)):
        with pytest.raises(ValueError, match="do not match"):
            call()


def test_non_tensor_labels():
    with pytest.raises(TypeError, match="labels"):
        hard_loss(rand(2, 3), [0, 1])


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_teacher_or_student_logits(bad):
    z, v, y = rand(2, 3), rand(2, 3, seed=1), labels_for(2, 3)
    v_bad = v.clone()
    v_bad[1, 0] = bad
    for call in (lambda: kd_loss(z, v_bad, y, T=2.0, alpha=0.5), lambda: soft_loss(z, v_bad, 2.0)):
        with pytest.raises(ValueError, match="teacher_logits.*NaN"):
            call()
    with pytest.raises(ValueError, match="student_logits.*NaN"):
        kd_loss(v_bad, z, y, T=2.0, alpha=0.5)


@pytest.mark.parametrize("T", [0, 0.0, -2.0, float("nan"), float("inf")])
def test_bad_temperature_in_losses(T):
    z, v, y = rand(2, 3), rand(2, 3, seed=1), labels_for(2, 3)
    with pytest.raises(ValueError, match="temperature"):
        kd_loss(z, v, y, T=T, alpha=0.5)
    with pytest.raises(ValueError, match="temperature"):
        soft_loss(z, v, T)


def test_integer_logits_in_losses():
    z = torch.tensor([[1, 0, 0]])
    with pytest.raises(TypeError, match="floating"):
        hard_loss(z, torch.tensor([0]))
    with pytest.raises(TypeError, match="floating"):
        soft_loss(z, z, 2.0)


# --------------------------------------------------------------------------- 3-D logits


def test_hard_loss_on_3d_logits_matches_flattened_cross_entropy():
    z = rand(2, 4, 4, seed=45)  # S == C, so the wrong layout silently runs instead of raising
    y = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0]])
    torch.testing.assert_close(hard_loss(z, y), F.cross_entropy(z.reshape(-1, 4), y.reshape(-1)))


def test_kd_loss_on_sequence_logits_is_the_flattened_per_token_call():
    """(B, S, C) logits: both terms are means over tokens, the same as the (B*S, C) call."""
    B, S, C = 3, 5, 7
    z, v = rand(B, S, C, seed=50), rand(B, S, C, seed=51)
    y = torch.randint(0, C, (B, S), generator=torch.Generator().manual_seed(52))
    y[0, 2] = IGNORE_INDEX  # an unlabelled token: it keeps its soft term, as an unlabelled row does
    for T, alpha in ((1.0, 0.0), (4.0, 0.9), (2.0, 1.0)):
        seq = kd_loss(z, v, y, T, alpha)
        flat = kd_loss(z.reshape(-1, C), v.reshape(-1, C), y.reshape(-1), T, alpha)
        torch.testing.assert_close(seq, flat)
        torch.testing.assert_close(grad_of(lambda s: kd_loss(s, v, y, T, alpha), z),
                                   grad_of(lambda s: kd_loss(s.reshape(-1, C), v.reshape(-1, C), y.reshape(-1), T, alpha), z.reshape(-1, C)).reshape(B, S, C))
    # the soft term per token, and what F.kl_div's 'batchmean' does with the same tensor: S times more
    per_token = soft_loss(z, v, 2.0, scale=False)
    batchmean = F.kl_div(F.log_softmax(z / 2, -1), F.log_softmax(v / 2, -1), reduction="batchmean", log_target=True)
    torch.testing.assert_close(batchmean / per_token, torch.tensor(float(S), dtype=DT))


def test_kd_loss_mask_drops_padding_from_both_terms():
    B, S, C = 2, 6, 5
    z, v = rand(B, S, C, seed=53), rand(B, S, C, seed=54)
    y = torch.randint(0, C, (B, S), generator=torch.Generator().manual_seed(55))
    mask = torch.tensor([[True] * 6, [True, True, True, False, False, False]])
    masked = kd_loss(z, v, y, 3.0, 0.6, mask=mask)
    torch.testing.assert_close(masked, kd_loss(z[mask], v[mask], y[mask], 3.0, 0.6))
    torch.testing.assert_close(soft_loss(z, v, 3.0, mask=mask), soft_loss(z[mask], v[mask], 3.0))
    # padding positions get no gradient, whatever garbage their logits hold
    g = grad_of(lambda s: kd_loss(s, v, y, 3.0, 0.6, mask=mask), z)
    assert torch.all(g[~mask] == 0) and torch.all(g[mask].abs().sum(-1) > 0)
    # without the mask the padded tokens count: a different value
    assert not torch.allclose(masked, kd_loss(z, v, y, 3.0, 0.6))
    # a 2-D batch with an all-True mask is the unmasked call
    z2, v2, y2 = z[0], v[0], y[0]
    torch.testing.assert_close(kd_loss(z2, v2, y2, mask=torch.ones(S, dtype=torch.bool)), kd_loss(z2, v2, y2))


@pytest.mark.parametrize("mask, exc, match", [
    (torch.zeros(2, 3, dtype=torch.bool), ValueError, "no position"),
    (torch.ones(2, 3), TypeError, "torch.bool"),
    (torch.ones(3, 2, dtype=torch.bool), ValueError, "does not match"),
    ([[True] * 3] * 2, TypeError, "torch.bool"),
])
def test_kd_loss_bad_mask(mask, exc, match):
    z = rand(2, 3, 4, seed=56)
    y = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(exc, match=match):
        kd_loss(z, z, y, 2.0, 0.5, mask=mask)


@pytest.mark.parametrize("shape", [(0, 4), (0, 3, 4), (2, 0, 4)])
def test_empty_batch_is_a_clear_error(shape):
    z = torch.zeros(*shape, dtype=DT)
    y = torch.zeros(shape[:-1], dtype=torch.long)
    for call in (lambda: kd_loss(z, z, y), lambda: soft_loss(z, z), lambda: hard_loss(z, y), lambda: logit_matching_loss(z, z)):
        with pytest.raises(ValueError, match="empty"):
            call()


def test_kd_loss_keeps_its_positional_signature():
    z, v = rand(4, 3, seed=57), rand(4, 3, seed=58)
    y = labels_for(4, 3, seed=59)
    torch.testing.assert_close(kd_loss(z, v, y, 2.0, 0.25), kd_loss(student_logits=z, teacher_logits=v, labels=y, T=2.0, alpha=0.25))
