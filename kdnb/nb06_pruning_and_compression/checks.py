"""The exercises' checkers: Check yourself 3.1 (an L2 row mask), 4.1 (Zhu & Gupta's gradual
schedule) and 8.1 (the app's budget), each with the problems it runs and the mistakes it names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.utils import prune

from ..exercises import Verdict, as_number, check, close
from ..i18n import _
from .shown import tr


def _row_mask_cases() -> list[tuple[torch.Tensor, float]]:
    """The problems Check yourself 3.1 runs: (weight, amount) pairs.

    The first is built so that the L1, L2 and largest-weight (L∞) rankings of its rows all pick
    different rows: four flat rows (nine weights near ±0.3: L1 ≈ 2.7, L2 ≈ 0.9, L∞ ≈ 0.3), four
    spiky ones (one weight near ±1: L1 ≈ L2 ≈ L∞ ≈ 1) and four with two weights near ±0.6
    (L1 ≈ 1.2, L2 ≈ 0.85, L∞ ≈ 0.6), signs mixed and rows shuffled. The others are random rows of
    different scales and sparsities, with the edges: nothing pruned (amount 0, or one row and a
    small amount), every row pruned (amount 1), and amounts where ``round`` and ``int`` differ.
    """
    g = torch.Generator().manual_seed(6)
    sign = lambda *shape: torch.where(torch.rand(*shape, generator=g) < 0.5, -1.0, 1.0)  # noqa: E731
    w = torch.zeros(12, 9)
    for i in range(4):
        w[i] = (0.3 + 0.01 * i + 0.001 * torch.arange(9)) * sign(9)
        w[4 + i, (2 * i) % 9] = (1.0 + 0.03 * i) * sign(1)
        w[8 + i, i % 9], w[8 + i, (i + 4) % 9] = (0.6 + 0.01 * i) * sign(1), (0.6 - 0.01 * i) * sign(1)
    cases = [(w[torch.randperm(12, generator=g)], 1 / 3)]

    def random_rows(rows, cols):
        scale = torch.exp(torch.randn(rows, 1, generator=g))
        keep = torch.rand(rows, cols, generator=g) < torch.rand(rows, 1, generator=g).clamp(0.15, 1)
        keep[torch.arange(rows), torch.randint(cols, (rows,), generator=g)] = True  # no all-zero row (no ties)
        return torch.randn(rows, cols, generator=g) * scale * keep

    for rows, cols, amount in ((12, 7, 0.3), (20, 16, 0.9), (7, 5, 0.5), (10, 3, 0.0), (1, 6, 0.3), (6, 4, 1.0), (30, 12, 0.62)):
        cases.append((random_rows(rows, cols), amount))
    return cases


def _library_row_mask(w: torch.Tensor, amount: float, n: float = 2, largest_out: bool = False) -> torch.Tensor:
    """The mask ``prune.ln_structured(layer, "weight", amount, n=n, dim=0)`` makes for weight ``w``
    (with ``largest_out``, the opposite choice: the largest rows removed)."""
    if largest_out:
        keep = torch.ones(w.shape[0], dtype=torch.bool)
        keep[torch.topk(torch.linalg.vector_norm(w, n, dim=1), int(round(amount * w.shape[0])), largest=True).indices] = False
        return keep[:, None].expand_as(w)
    layer = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        layer.weight.copy_(w)
    prune.ln_structured(layer, "weight", amount=amount, n=n, dim=0)
    return layer.weight_mask.bool()


def _as_mask(got, shape) -> tuple[torch.Tensor | None, str | None]:
    """The reader's mask as a bool tensor, or a sentence saying why it is not one."""
    if isinstance(got, np.ndarray):
        got = torch.from_numpy(got)
    if not isinstance(got, torch.Tensor):
        return None, _("return a tensor (a mask), got {kind}").format(kind=type(got).__name__)
    if tuple(got.shape) != tuple(shape):
        if tuple(got.shape) == (shape[0],):
            return None, _("that is one flag per row: expand it to the weight's shape, e.g. keep[:, None].expand_as(weight)")
        return None, _("the mask must have the weight's shape {shape}, got {got}").format(shape=tuple(shape), got=tuple(got.shape))
    if got.dtype != torch.bool:
        if got.is_complex() or not bool(((got == 0) | (got == 1)).all()):
            return None, _("a mask holds only True/False (or 1/0): True where a weight stays")
        got = got != 0
    return got, None


def check_row_mask(row_mask) -> Verdict:
    """Check yourself 3.1: ``row_mask(weight, amount)`` keeps the rows (neurons) with the largest L2 norm.

    Runs the reader's function on every problem of :func:`_row_mask_cases` and compares its mask
    with ``prune.ln_structured``'s; the first difference is named (L1 or L∞ ranking, the mask
    inverted, columns instead of rows, partial rows, how many rows, the weight changed in place).
    A bool mask or a 0/1 tensor or NumPy array of the weight's shape is accepted.
    """

    def diagnose(fn):
        for w, amount in _row_mask_cases():
            given = w.clone()
            got, problem = _as_mask(fn(given, amount), w.shape)
            if not torch.equal(given, w):
                return _("your function changed the weight it was given (an in-place operation): compute the norms on it, "
                         "don't modify it")
            if problem:
                return problem
            right = _library_row_mask(w, amount)
            if torch.equal(got, right):
                continue
            rows, k = w.shape[0], int(round(amount * w.shape[0]))
            where = _("on a {rows}x{cols} weight with amount={amount:.3g}").format(rows=rows, cols=w.shape[1], amount=amount)
            if torch.equal(got, _library_row_mask(w, amount, n=1)):
                return _("{where}: you ranked the rows by their L1 norm (sum of |w|); the question asks for L2 (sqrt of the sum "
                         "of squares)").format(where=where)
            if torch.equal(got, _library_row_mask(w, amount, n=float("inf"))):
                return _("{where}: you ranked the rows by their largest |w| (the L∞ norm); the question asks for L2, "
                         "which counts every weight of the row").format(where=where)
            if torch.equal(got, ~right):
                return _("{where}: you kept the rows to remove: the mask is True where a weight stays, so the smallest rows "
                         "get False").format(where=where)
            if torch.equal(got, _library_row_mask(w, amount, largest_out=True)):
                return _("{where}: you removed the rows with the largest L2 norm; pruning removes the smallest").format(where=where)
            col_keep = torch.ones(w.shape[1], dtype=torch.bool)
            col_keep[torch.topk(w.norm(p=2, dim=0), int(round(amount * w.shape[1])), largest=False).indices] = False
            if torch.equal(got, col_keep[None, :].expand_as(w)):
                return _("{where}: you removed columns (inputs); a neuron is a row of the weight (dim=0)").format(where=where)
            if not bool(((~got).all(dim=1) | got.all(dim=1)).all()):
                return _("{where}: some rows are only partly masked: structured pruning removes whole rows").format(where=where)
            off = int((~got).all(dim=1).sum())
            if off != k:
                hint = _(" (int() rounds down; use round(), as prune does)") if off == int(amount * rows) else ""
                return _("{where}: your mask removes {off} rows; round(amount * rows) = {k}{hint}").format(
                    where=where, off=off, k=k, hint=hint)
            return _("{where}: the right number of whole rows, but not the ones with the smallest L2 norm").format(where=where)
        return None

    return check("Check yourself 3.1", row_mask, diagnose,
                 todo=_("write row_mask(weight, amount): a boolean mask of weight's shape, False on the rows to remove"),
                 praise=_("the same mask as prune.ln_structured(layer, 'weight', amount, n=2, dim=0) on every test weight"))


def _schedule_cases() -> list[tuple[float, int, list[int]]]:
    """The problems Check yourself 4.1 runs: (s_final, n, steps). The first is the prompt's
    (0.9, 100); the others vary both arguments, with the edges n = 1, s_final = 0 and an n
    that does not divide evenly, and each has steps 0, 1, n - 1, n, n + 1, 2n and random ones."""
    rng = np.random.default_rng(41)
    cases = []
    for s_f, n in ((0.9, 100), (0.5, 7), (0.97, 1000), (0.3, 1), (0.0, 10), (0.8, 33)):
        steps = sorted({0, 1, max(n - 1, 0), n, n + 1, 2 * n, n // 2, *rng.integers(0, 2 * n + 1, 6).tolist()})
        cases.append((s_f, n, steps))
    return cases


def check_cubic_schedule(zhu_gupta) -> Verdict:
    """Check yourself 4.1: the gradual schedule ``s_t = s_f (1 - (1 - t/n)^3)`` for ``t <= n``, then ``s_f``.

    Runs the reader's function on several ``(s_final, n)`` (:func:`_schedule_cases`), so a
    function written for one of them fails; any numeric type is accepted (int, float, NumPy
    scalar, one-element tensor).
    """

    def cubic(t, s_f, n):
        return s_f * (1 - (1 - min(t, n) / n) ** 3)

    def diagnose(fn):
        for case, (s_f, n, steps) in enumerate(_schedule_cases()):
            got = []
            for t in steps:
                value = as_number(fn(t, s_f, n))
                if value is None:
                    return _("return a number (the target sparsity after step {t}), got {kind}").format(
                        t=t, kind=type(fn(t, s_f, n)).__name__)
                got.append(value)
            right = [cubic(t, s_f, n) for t in steps]
            if all(close(a, b) for a, b in zip(got, right)):
                continue
            where = _("with s_final={s_f}, n={n}").format(s_f=s_f, n=n)
            if case and _fits_first(fn, cubic):
                return _("right for s_final=0.9, n=100 but not {where}: use the arguments s_final and n, not fixed "
                         "numbers").format(where=where)
            if not close(got[0], 0):
                return _("{where}: at step 0 nothing is pruned yet (s_i = 0); yours gives {got:.3g}").format(where=where, got=got[0])
            at_n = got[steps.index(n)]
            if not close(at_n, s_f):
                if close(at_n, 100 * s_f):
                    return _("{where}: a sparsity is a fraction like s_final, not a percentage").format(where=where)
                return _("{where}: at step n the sparsity reaches s_final = {s_f}; yours gives {got:.3g}").format(
                    where=where, s_f=s_f, got=at_n)
            if any(not close(g_, s_f) for t, g_ in zip(steps, got) if t > n):
                return _("{where}: after step n the sparsity stays at s_final: clamp t to n").format(where=where)
            inside = [(t, g_, r) for t, g_, r in zip(steps, got, right) if 0 < t < n]
            if inside and all(close(g_, s_f * t / n) for t, g_, _r in inside):
                return _("that is a straight line; Zhu & Gupta prune fast early and slowly near the end (a cubic)")
            if inside and all(g_ < r for _, g_, r in inside):
                return _("your schedule prunes more slowly early on than Zhu & Gupta's; theirs cuts fast first: "
                         "s_f * (1 - (1 - t/n)**3)")
            return _("{where}: close, but not s_f * (1 - (1 - t/n)**3) at every step; check the formula").format(where=where)
        return None

    return check("Check yourself 4.1", zhu_gupta, diagnose,
                 todo=_("write zhu_gupta(t, s_final, n): the target sparsity after step t"),
                 praise=_("fast while many weights are redundant, slow as the network gets thin, then held"))


def _fits_first(fn, cubic) -> bool:
    s_f, n, steps = _schedule_cases()[0]
    return all(close(as_number(fn(t, s_f, n)) or 0.0, cubic(t, s_f, n)) for t in steps)


#: Check yourself 8.1's budget: the most test accuracy (points, mean over seeds) the app may lose
#: against the teacher. On the shipped table it leaves the distilled student out, and within it
#: the fewest non-zero weights and the fewest bytes are different rows, so the trap can fire.
PHONE_BUDGET = 1.0


def phone_rows(table: pd.DataFrame, max_loss: float = PHONE_BUDGET) -> dict[str, str]:
    """The rows of the compression table within ``max_loss`` points of the teacher (the first
    row), and among them the one with the fewest bytes on disk and the one with the fewest
    non-zero weights: ``{"fewest bytes": row, "fewest non-zero": row}``."""
    ok = table[table["accuracy (%)"].iloc[0] - table["accuracy (%)"] <= max_loss]
    return {"fewest bytes": str(ok["bytes on disk"].idxmin()), "fewest non-zero": str(ok["non-zero"].idxmin())}


def check_phone_choice(choice, table: pd.DataFrame, max_loss: float = PHONE_BUDGET) -> Verdict:
    """Check yourself 8.1: the smallest file (bytes on disk) that loses at most ``max_loss``
    points of mean test accuracy against the teacher (the table's first row). The row's name
    may differ from the index in case and surrounding spaces."""
    ref = table["accuracy (%)"].iloc[0]
    answer = phone_rows(table, max_loss)["fewest bytes"]
    names = {str(n).strip().lower(): n for n in table.index}
    names.update({str(tr(n)).strip().lower(): n for n in table.index})  # the row's name as the table shows it

    def diagnose(name):
        if not isinstance(name, str):
            return _("set phone_row to a row's name (a string), got {kind}").format(kind=type(name).__name__)
        name = names.get(name.strip().lower())
        if name is None:
            return _("{choice} is not a row of the table; copy a name from its index").format(choice=repr(choice))
        if name == answer:
            return None
        lost = ref - table.loc[name, "accuracy (%)"]
        if lost > max_loss:
            return _("that row loses {lost:.1f} points against the teacher, more than the {max_loss:g} allowed").format(
                lost=lost, max_loss=max_loss)
        if table.loc[name, "non-zero"] < table.loc[answer, "non-zero"] and table.loc[name, "bytes on disk"] > table.loc[answer, "bytes on disk"]:
            return _("fewest non-zero weights is not fewest bytes: after prune.remove the zeros are still stored, "
                     "so compare the 'bytes on disk' column")
        return _("within the accuracy budget, but another row within it takes fewer bytes on disk")

    return check("Check yourself 8.1", choice, diagnose, todo=_("set phone_row to the name of one row of the table"),
                 praise=_("the smallest file within the accuracy budget"))
