"""The checkers of notebook 05's exercises: Check yourself 4.1 (choose T and alpha on the map's
validation plateau), 5.1 (the consistent-teaching step) and 7.1 (the mutual-learning loss).

Each ``diagnose_*`` returns None for a right answer and a sentence naming the mistake otherwise;
each ``check_*`` prints the verdict (:func:`kdnb.exercises.check`)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .. import training
from ..exercises import Verdict, as_number, check, close
from ..i18n import _
from ..losses import hard_loss, kd_loss
from .strategies import mutual_loss
from .ta_map import MAP_ALPHAS, MAP_TEMPERATURES, map_noise, map_plateau, map_table


def _near(a: float, b: float, rel: float) -> bool:
    """``a`` and ``b`` agree to ``rel`` of the larger of 1 and their size (an absolute tolerance below 1)."""
    return close(a, b, rel=rel, abs_=rel)


def _value_and_grad(loss: torch.Tensor, z: torch.Tensor) -> tuple[float, torch.Tensor]:
    """A loss's value and its gradient for the student's logits ``z``."""
    (grad,) = torch.autograd.grad(loss, z)
    return loss.item(), grad


# ----------------------------------------------------------------------------------------------- Check yourself 4.1


def _pair(choice) -> tuple[float, float] | None:
    """``choice`` as (T, alpha) floats, for any numeric type (float, NumPy, tensor), or None."""
    if isinstance(choice, (str, bytes, dict)) or choice is None:
        return None
    if isinstance(choice, (torch.Tensor, np.ndarray)):
        if choice.ndim != 1:
            return None
        choice = list(choice)
    try:
        items = list(choice)
    except TypeError:
        return None
    if len(items) != 2:
        return None
    T, alpha = (as_number(v) for v in items)
    return None if T is None or alpha is None else (T, alpha)


def diagnose_map_choice(choice, runs: pd.DataFrame) -> str | None:
    """Check yourself 4.1: ``choice`` is a (T, alpha) cell tied with the best mean validation
    accuracy, where tied means within :func:`map_noise` (the tie rule stated in the prompt)."""
    pair = _pair(choice)
    if pair is None:
        return _("give a pair of numbers: (T, alpha), e.g. (4, 0.5)")
    T, alpha = pair
    val = map_table(runs, "val")
    at = lambda t, a: val[np.isclose(val["T"], t) & np.isclose(val.alpha, a)]
    found = at(T, alpha)
    plateau = map_plateau(runs)
    if not found.empty and alpha > 0 and ((np.isclose(plateau["T"], T) & np.isclose(plateau.alpha, alpha)).any()):
        return None
    if found.empty:
        if not at(alpha, T).empty:
            return _("the numbers are swapped: give (T, alpha), temperature first")
        return _("(T={T:g}, α={alpha:g}) is not on the map; T is one of {temperatures} and α one of {alphas}").format(
            T=T, alpha=alpha, temperatures=list(MAP_TEMPERATURES), alphas=list(MAP_ALPHAS))
    if alpha == 0:
        return _("α = 0 switches the teacher off (plain cross-entropy): that row is the baseline the map is compared with")
    mean = float(found["mean"].iloc[0])
    test = map_table(runs, "test")
    by_test = test.sort_values(["mean", "T", "alpha"], ascending=[False, True, True], kind="stable").iloc[0]
    if np.isclose(T, by_test["T"]) and np.isclose(alpha, by_test["alpha"]):
        return _("that is the best mean *test* accuracy: choosing on the test split spends it; choose on the 'val' column")
    soft = runs[runs.alpha > 0]
    single = soft.sort_values(["val", "T", "alpha"], ascending=[False, True, True], kind="stable").iloc[0]
    if np.isclose(T, single["T"]) and np.isclose(alpha, single["alpha"]):
        return _("that is one seed's best run: average each cell over the seeds first, then compare the means")
    best, noise = float(val["mean"].max()), map_noise(runs)
    return _("that cell's mean validation accuracy is {gap:.2f} points below the best, more than the noise "
             "({noise:.2f} points, the median seed range): choose a cell within the noise of the best").format(gap=best - mean, noise=noise)


def check_map_choice(choice, runs: pd.DataFrame) -> Verdict:
    return check("Check yourself 4.1", choice, lambda c: diagnose_map_choice(c, runs),
                 todo=_("set choice = (T, alpha) from the map's validation accuracy, then rerun the cell"),
                 praise=_("on the validation plateau, averaged over seeds: any cell within the noise of the best is as good, "
                          "and the test split is still untouched"))


# ----------------------------------------------------------------------------------------------- Check yourself 5.1


class _CheckTeacher(nn.Module):
    """The checker's teacher: dropout and BatchNorm, so train() mode shows in its outputs and buffers."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(144, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))

    def forward(self, x):
        return self.net(x)


#: Check yourself 5.1's problems: (T, alpha, batch size, logit scale). The edges: T = 1, alpha in {0, 1},
#: a batch of one, large logits; then random ones.
def _consistency_cases(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    cases = [(1.0, 0.5, 16, 1.0), (4.0, 0.0, 16, 1.0), (4.0, 1.0, 16, 1.0), (2.5, 0.9, 1, 1.0), (8.0, 0.7, 12, 40.0)]
    for _i in range(3):
        T = float(1 + 9 * torch.rand(1, generator=gen))
        alpha = float(torch.rand(1, generator=gen))
        cases.append((T, alpha, int(torch.randint(2, 20, (1,), generator=gen)), float(1 + 4 * torch.rand(1, generator=gen))))
    return cases


def _consistency_problem(seed: int = 0, batch: int = 16, scale: float = 1.0):
    """A teacher handed over as it left training (train() mode), 40 images, their cached logits (of the
    un-shifted images, in eval mode), a batch's row numbers, the shifted view, and student logits."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(40, 1, 12, 12, generator=gen)
    y = torch.randint(0, 10, (40,), generator=gen)
    torch.manual_seed(seed)
    teacher = _CheckTeacher()
    with torch.no_grad():  # some training, so the BatchNorm statistics and weights are not at their defaults
        teacher.train()(torch.rand(64, 1, 12, 12, generator=gen) * 2)
        cached = teacher.eval()(X)
    teacher.train()
    idx = torch.randperm(40, generator=gen)[:batch]
    xb = training.jitter(X[idx], 2, gen)
    logits = (scale * torch.randn(batch, 10, generator=gen)).requires_grad_()
    return teacher, X, y, cached, idx, xb, logits


def _consistent_mistakes(teacher_eval, cached, y, idx, xb, logits, T, alpha) -> dict:
    """Values of the usual wrong steps, for naming the mistake."""
    z = logits.detach()
    with torch.no_grad():
        view = teacher_eval(xb)
    return {
        _("these are the cached targets of the un-shifted images: the teacher must see the shifted batch xb the student sees"):
            kd_loss(z, cached[idx], y[idx], T=T, alpha=alpha),
        _("that is the hard-label loss alone: no teacher signal reaches the student"): hard_loss(z, y[idx]),
        _("the temperature is missing: pass T to kd_loss"): kd_loss(z, view, y[idx], T=1.0, alpha=alpha),
    }


def diagnose_consistent_step(make_step) -> str | None:
    """Check yourself 5.1: ``make_step(teacher, cached, y, T, alpha)`` returns ``step(idx, xb, logits)``.

    On each problem of :func:`_consistency_cases` (edges and random ones) the checker compares the
    loss and its gradient for the student's logits with ``kd_loss(logits, teacher.eval()(xb), y[idx])``;
    checks that no input was changed, that the teacher ran in eval mode (its BatchNorm statistics
    unchanged) and that no gradient reaches it. It never prints the expected values."""
    for case, (T, alpha, batch, scale) in enumerate(_consistency_cases()):
        teacher, X, y, cached, idx, xb, logits = _consistency_problem(case, batch, scale)
        reference = copy.deepcopy(teacher).eval()
        state = {k: v.clone() for k, v in teacher.state_dict().items()}
        inputs = {"cached": cached.clone(), "y": y.clone(), "idx": idx.clone(), "xb": xb.clone(), "logits": logits.detach().clone()}
        modes = []
        hook = teacher.register_forward_hook(lambda m, *_: modes.append((m.training, torch.is_grad_enabled())))
        try:
            loss = make_step(teacher, cached, y, T, alpha)(idx, xb, logits)
        finally:
            hook.remove()
        now = {"cached": cached, "y": y, "idx": idx, "xb": xb, "logits": logits.detach()}
        changed = [k for k in inputs if not torch.equal(inputs[k], now[k])]
        if changed:
            return _("the step changed its inputs in place ({names}): compute new tensors instead").format(names=", ".join(changed))
        if any(training_mode for training_mode, _ in modes) or any(not torch.equal(state[k], v) for k, v in teacher.state_dict().items()):
            return _("the teacher ran in train() mode: dropout was on and BatchNorm updated its statistics. "
                     "A frozen teacher runs in eval mode: call teacher.eval() before using it")
        if any(grad_on for _mode, grad_on in modes):
            return _("the teacher's forward pass builds a graph for gradients it never uses (autograd was on): "
                     "run it under torch.no_grad(); it is frozen, and this saves memory and time")
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            return _("step should return the loss as one number (a 0-d tensor), not a Python float or a vector")
        if not torch.isfinite(loss):
            return _("the loss is not finite: build the soft targets with softmax(teacher_logits / T), not log-probabilities")
        params = [q for q in teacher.parameters()]
        grads = torch.autograd.grad(loss, [logits] + params, allow_unused=True, retain_graph=True) if loss.requires_grad else [None]
        if any(g is not None and g.abs().max() > 0 for g in grads[1:]):
            return _("a gradient reaches the teacher: its forward pass builds a graph into its weights. "
                     "Run it under torch.no_grad() (it is frozen; this saves memory and time)")
        if grads[0] is None:
            return _("the loss has no gradient for the student's logits: do not detach them (or call .item()); only the teacher is frozen")
        with torch.no_grad():
            view = reference(xb)
        want_logits = logits.detach().clone().requires_grad_()
        want, want_grad = _value_and_grad(kd_loss(want_logits, view, y[idx], T=T, alpha=alpha), want_logits)
        if _near(loss.item(), want, 1e-5) and torch.allclose(grads[0], want_grad, rtol=1e-4, atol=1e-7):
            continue
        for message, value in _consistent_mistakes(reference, cached, y, idx, xb, logits, T, alpha).items():
            if _near(loss.item(), value.item(), 1e-5):
                return message
        where = _("T = {T:g}, α = {alpha:g}, a batch of {batch}").format(T=T, alpha=alpha, batch=batch) + (
            _(", large logits") if scale > 10 else "")
        if _near(loss.item(), want, 1e-5):
            return _("the value is right but its gradient for the student's logits is not ({where})").format(where=where)
        return _("the loss differs from kd_loss(logits, teacher(xb), y[idx], T, alpha) at {where}").format(where=where)
    return None


def check_consistent_step(make_step) -> Verdict:
    return check("Check yourself 5.1", make_step, diagnose_consistent_step,
                 todo=_("write the step inside make_consistent_step, then rerun the cell"),
                 praise=_("the frozen teacher (eval mode, no gradients) sees the same shifted view as the student"))


# ----------------------------------------------------------------------------------------------- Check yourself 7.1


def _mutual_variants() -> dict[str, callable]:
    def kl(log_q, p, reduction="batchmean"):
        import warnings

        with warnings.catch_warnings():  # 'mean' warns that it will change; the mistake is the point here
            warnings.simplefilter("ignore", UserWarning)
            return F.kl_div(log_q, p, reduction=reduction)

    return {
        _("the peer's prediction is not detached: its gradient flows into the peer; wrap it in .detach()"):
            lambda z, v, y: hard_loss(z, y) + kl(F.log_softmax(z, 1), F.softmax(v, 1)),
        _("the KL is the wrong way round: the peer's probabilities are the target, KL(p_peer || q)"):
            lambda z, v, y: hard_loss(z, y) + kl(F.log_softmax(v.detach(), 1), F.softmax(z, 1)),
        _("the cross-entropy with the labels is missing: each peer also learns the labels"):
            lambda z, v, y: kl(F.log_softmax(z, 1), F.softmax(v.detach(), 1)),
        _("reduction='mean' divides by the number of classes too: use 'batchmean'"):
            lambda z, v, y: hard_loss(z, y) + kl(F.log_softmax(z, 1), F.softmax(v.detach(), 1), "mean"),
    }


def diagnose_mutual_loss(fn) -> str | None:
    """Check yourself 7.1: ``fn(logits, peer_logits, labels)``, compared with :func:`mutual_loss` and typical mistakes."""
    gen = torch.Generator().manual_seed(5)
    for _i in range(3):
        z = (2 * torch.randn(6, 10, generator=gen)).requires_grad_()
        v = (2 * torch.randn(6, 10, generator=gen)).requires_grad_()
        y = torch.randint(0, 10, (6,), generator=gen)
        value = fn(z, v, y)
        if not isinstance(value, torch.Tensor) or value.dim() != 0:
            return _("return the loss as one number (a 0-d tensor)")
        if not torch.isfinite(value):
            return _("the loss is not finite: the target is softmax(peer_logits), probabilities, not log-probabilities")
        if not value.requires_grad:
            return _("the loss has no gradient for the student's logits")
        gz, gv = torch.autograd.grad(value, (z, v), allow_unused=True)
        want, want_gz = _value_and_grad(mutual_loss(z, v, y), z)
        if gv is not None and gv.abs().max() > 0:
            return next(iter(_mutual_variants()))
        if not (_near(value.item(), want, 1e-4) and torch.allclose(gz, want_gz, atol=1e-5)):
            for message, variant in _mutual_variants().items():
                if _near(value.item(), variant(z, v, y).item(), 1e-4):
                    return message
            return _("the value differs from CE(y, q) + KL(softmax(peer) || softmax(logits)) with 'batchmean'")
    return None


def check_mutual_loss(fn) -> Verdict:
    return check("Check yourself 7.1", fn, diagnose_mutual_loss, todo=_("fill in my_mutual_loss, then rerun the cell"),
                 praise=_("each peer learns the labels and its partner's predictions, and only its own weights move"))
