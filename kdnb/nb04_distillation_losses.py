"""Notebook 04, distillation losses: the formulas, the PyTorch pitfalls, losses beyond logits, exercises.

* :func:`three_losses`: cross-entropy with soft targets, KL divergence and a hand-written
  "soft CE" differ by the teacher's entropy only, so autograd gives them one gradient.
* :func:`term_gradients`: how much each term of ``kd_loss`` pushes the student, for a few alpha.
* :func:`seed_formulas`, :func:`flipped_sign_run`: the seeds' formulas (003-4, 003-5, 003-27,
  002-S3), each computed and tested: does it see the teacher, is it smallest when the student
  equals the teacher, is it bounded below.
* ``pitfall_*``: one function per PyTorch trap (001-5, 004-1, 002-S4, a teacher left in
  ``train()`` mode).
* Losses beyond logits, for a small CNN student taught by the CNN teacher ``cnn-mnist``:
  logit matching (Ba & Caruana 2014), FitNets hints (Romero et al. 2015), attention transfer
  (Zagoruyko & Komodakis 2017), cosine of hidden states (as DistilBERT, Sanh et al. 2019),
  and relational KD (Park et al. 2019). :data:`METHODS` defines them; the comparison over
  seeds is precomputed by::

      python -m kdnb.nb04_distillation_losses weights   # each feature loss's weight, on validation
      python -m kdnb.nb04_distillation_losses compare   # the table: methods x regimes x seeds

  which write ``data/results/loss_weights.csv`` and ``data/results/loss_comparison.csv``.
* ``check_*``: the checkers of the notebook's exercises, and the four "spot the bug" snippets.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import data as kdata
from . import losses, models, plots, recipe, results, teachers, training
from .exercises import Verdict, as_number, check, close

# ---------------------------------------------------------------------------------------------------------------------
# The loss, its three spellings, and what alpha weights
# ---------------------------------------------------------------------------------------------------------------------


def _grad(fn, z: torch.Tensor) -> tuple[float, torch.Tensor]:
    z = z.detach().clone().requires_grad_(True)
    value = fn(z)
    (g,) = torch.autograd.grad(value, z)
    return value.item(), g


def three_losses(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float = 4.0) -> pd.DataFrame:
    """Three ways to write the soft loss, their values and their gradients with respect to the student's logits.

    * ``F.cross_entropy(z / T, p_T)``: PyTorch's cross-entropy with probability targets (torch >= 1.10);
    * ``-sum p_T log q_T``: the same "soft CE" written by hand;
    * ``F.kl_div(log q_T, p_T, reduction="batchmean")``: KL(p_T || q_T).

    CE = KL + H(p_T), and the teacher's entropy H(p_T) does not depend on the student: same gradient.
    """
    p = F.softmax(teacher_logits / T, dim=1)
    spellings = {
        "F.cross_entropy(z/T, p_T)": lambda z: F.cross_entropy(z / T, p),
        "-sum p_T log q_T (by hand)": lambda z: -(p * F.log_softmax(z / T, dim=1)).sum(1).mean(),
        "F.kl_div(log q_T, p_T, 'batchmean')": lambda z: F.kl_div(F.log_softmax(z / T, dim=1), p, reduction="batchmean"),
    }
    entropy = -(p * p.clamp_min(1e-30).log()).sum(1).mean().item()
    kl_value, kl_grad = _grad(spellings["F.kl_div(log q_T, p_T, 'batchmean')"], student_logits)
    rows = []
    for name, fn in spellings.items():
        value, g = _grad(fn, student_logits)
        rows.append({"loss": name, "value": value, "value - KL": value - kl_value,
                     "same gradient as KL": bool(torch.allclose(g, kl_grad, rtol=1e-4, atol=1e-7))})
    table = pd.DataFrame(rows).set_index("loss")
    table.attrs["teacher_entropy"] = entropy
    return table


def term_gradients(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, T: float = 4.0,
                   alphas=(0.0, 0.5, 0.9, 1.0)) -> pd.DataFrame:
    """Norm of each term's gradient in ``kd_loss`` with respect to the student's logits, for several alpha.

    ``(1 - alpha)`` multiplies the hard term and ``alpha`` the soft one, so the share of the push that comes
    from the teacher grows with alpha.
    """
    _, g_hard = _grad(lambda z: losses.hard_loss(z, labels), student_logits)
    _, g_soft = _grad(lambda z: losses.soft_loss(z, teacher_logits, T), student_logits)
    rows = []
    for a in alphas:
        h, s = (1 - a) * g_hard.norm().item(), a * g_soft.norm().item()
        rows.append({"alpha": a, "hard term (1 - alpha) CE": h, "soft term alpha T^2 KL": s,
                     "teacher's share of the push": s / (h + s) if h + s > 0 else float("nan")})
    return pd.DataFrame(rows).set_index("alpha")


# ---------------------------------------------------------------------------------------------------------------------
# The seeds' formulas, computed
# ---------------------------------------------------------------------------------------------------------------------


def _log_one_minus_softmax(z: torch.Tensor) -> torch.Tensor:
    """``log(1 - softmax(z))`` without rounding 1 - q to 0: the log-sum-exp of the *other* logits minus that of all."""
    C = z.shape[1]
    others = z.unsqueeze(1).expand(-1, C, C).masked_fill(torch.eye(C, dtype=torch.bool), float("-inf"))
    return torch.logsumexp(others, dim=2) - torch.logsumexp(z, dim=1, keepdim=True)


def seed_formulas() -> dict[str, callable]:
    """The loss formulas of seeds 003-5, 003-27 and 002-S3 as functions ``L(z, v, y)`` (student logits z, teacher v).

    ``y`` is one-hot where a seed writes a hard label. Each is summed over classes and averaged over the batch. The
    seeds put no temperature in these formulas, so neither does this; 002-S3's t = 1/T is taken at its T = 0.5.
    """
    t = 2.0

    def q(z):
        return F.softmax(z, dim=1)

    def p(v):
        return F.softmax(v, dim=1)

    def onehot(y, z):
        return F.one_hot(y, z.shape[1]).float()

    return {
        "squared error with the label, sum (y - q)^2 (003-5 hard)": lambda z, v, y: ((onehot(y, z) - q(z)) ** 2).sum(1).mean(),
        "seed's soft loss, sum p (log q - log p) (003-5, 003-27)": lambda z, v, y: (p(v) * (F.log_softmax(z, 1) - F.log_softmax(v, 1))).sum(1).mean(),
        "squared error with the teacher, sum (p - q)^2 (003-27)": lambda z, v, y: ((p(v) - q(z)) ** 2).sum(1).mean(),
        "seed's 'adversarial' loss, sum log q - log(1 - q) (003-27)": lambda z, v, y: (F.log_softmax(z, 1) - _log_one_minus_softmax(z)).sum(1).mean(),
        "seed's t-weighted loss, t = 1/T = 2 (002-S3)": lambda z, v, y: -(t * (onehot(y, z) * F.log_softmax(z, 1)).sum(1)
                                                                      + (1 - t) * (onehot(y, z) * F.log_softmax(v, 1)).sum(1)).mean(),
        "KL(p || q), the soft loss as it should be": lambda z, v, y: F.kl_div(F.log_softmax(z, 1), F.log_softmax(v, 1), reduction="batchmean", log_target=True),
    }


def confident_mistake(margins=(0.0, 2.0, 5.0, 10.0), C: int = 10) -> pd.DataFrame:
    """Gradient norms of cross-entropy and of squared error ``sum (y - q)^2`` for a student that is wrong by ``margin``.

    The student's logit for a wrong class exceeds the others by ``margin``; the label is another class. Cross-entropy
    pushes with norm near ``sqrt(2)`` however wrong the student is; squared error's push fades as the softmax saturates.
    """
    rows = []
    y = torch.tensor([1])
    for m in margins:
        z = torch.zeros(1, C)
        z[0, 0] = m
        _, g_ce = _grad(lambda zz: F.cross_entropy(zz, y), z)
        _, g_se = _grad(lambda zz: ((F.one_hot(y, C).float() - F.softmax(zz, 1)) ** 2).sum(), z)
        rows.append({"wrong class ahead by (logits)": m, "p of the true class": F.softmax(z, 1)[0, 1].item(),
                     "cross-entropy gradient norm": g_ce.norm().item(), "squared-error gradient norm": g_se.norm().item()})
    return pd.DataFrame(rows).set_index("wrong class ahead by (logits)")


def audit_formulas(student_logits: torch.Tensor, teacher_logits: torch.Tensor, other_teacher: torch.Tensor, labels: torch.Tensor,
                   steps: int = 300, lr: float = 0.1) -> pd.DataFrame:
    """Test each seed formula as a loss for the student: does it see the teacher, and where does descending it lead?

    ``uses the teacher``: the gradient changes when ``teacher_logits`` is swapped for ``other_teacher``.
    Then ``steps`` of Adam on the student's logits themselves (a student with unlimited capacity) from
    ``student_logits``: the loss at the end, and KL(teacher || student) at T = 1 before and after.
    """
    rows = []
    for name, fn in seed_formulas().items():
        _, g1 = _grad(lambda z: fn(z, teacher_logits, labels), student_logits)
        _, g2 = _grad(lambda z: fn(z, other_teacher, labels), student_logits)
        z = student_logits.detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            fn(z, teacher_logits, labels).backward()
            opt.step()
        with torch.no_grad():
            kl = lambda zz: losses.soft_loss(zz, teacher_logits, 1.0, scale=False).item()  # noqa: E731
            agree = (z.argmax(1) == teacher_logits.argmax(1)).float().mean().item()
            rows.append({"formula": name, "uses the teacher": not torch.allclose(g1, g2, rtol=1e-5, atol=1e-8),
                         "loss after descent": fn(z, teacher_logits, labels).item(),
                         "KL to teacher before": kl(student_logits), "KL to teacher after": kl(z),
                         "agrees with teacher after": agree})
    return pd.DataFrame(rows).set_index("formula")


def flipped_sign_run(student: nn.Module, X: torch.Tensor, teacher_logits: torch.Tensor, X_test: torch.Tensor,
                     teacher_test: torch.Tensor, T: float = 4.0, steps: int = 60, lr: float = 1e-3, seed: int = 0) -> pd.DataFrame:
    """Train two copies of ``student`` for ``steps`` Adam steps, one on ``T^2 KL(p_T || q_T)`` and one on the seed's
    sign-flipped soft loss ``T^2 sum p (log q - log p) = -T^2 KL``; track KL and agreement with the teacher on test images."""
    import copy

    gen = torch.Generator().manual_seed(seed)
    batches = [torch.randint(0, len(X), (128,), generator=gen) for _ in range(steps)]
    rows = []
    for sign, name in ((1.0, "KL(p || q): right sign"), (-1.0, "seed's soft loss: sign flipped")):
        model = copy.deepcopy(student).train()
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        for step in range(steps + 1):
            if step % 5 == 0:
                with torch.no_grad():
                    model.eval()
                    z = model(X_test)
                    model.train()
                    rows.append({"loss": name, "step": step, "KL to teacher (T = 1)": losses.soft_loss(z, teacher_test, 1.0, scale=False).item(),
                                 "agrees with teacher": (z.argmax(1) == teacher_test.argmax(1)).float().mean().item()})
            if step == steps:
                break
            idx = batches[step]
            loss = sign * losses.soft_loss(model(X[idx]), teacher_logits[idx], T)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return pd.DataFrame(rows)


def plot_flipped_sign(run: pd.DataFrame, axes=None, figsize=(11, 3.6)):
    """KL to the teacher and agreement with it, step by step, for the right and the flipped sign."""
    fig, axes = plots.subplots(axes, figsize=figsize, nrows=1, ncols=2)
    colours = {"KL(p || q): right sign": plots.DISTILLED, "seed's soft loss: sign flipped": plots.HARD}
    for name, g in run.groupby("loss", sort=False):
        axes[0].plot(g["step"], g["KL to teacher (T = 1)"], marker="o", ms=3, color=colours.get(name), label=name)
        axes[1].plot(g["step"], 100 * g["agrees with teacher"], marker="o", ms=3, color=colours.get(name), label=name)
    axes[0].set(xlabel="training step", ylabel="KL(teacher || student), nats", title="distance to the teacher (test images)")
    axes[0].set_yscale("log")
    axes[1].set(xlabel="training step", ylabel="same top class as teacher (%)", title="agreement with the teacher", ylim=(0, 100))
    axes[0].legend(loc="best")
    fig.tight_layout()
    return fig


def _push_losses() -> dict[str, callable]:
    """Soft losses ``L(z, v, T)`` for one example, compared in the gradient explorer."""
    def sq(z, v, T):
        return T * T * ((F.softmax(v / T, -1) - F.softmax(z / T, -1)) ** 2).sum()

    def adv(z, v, T):
        zz = (z / T).unsqueeze(0)
        return (F.log_softmax(zz, 1) - _log_one_minus_softmax(zz)).sum()

    return {
        "T² KL(p_T || q_T): right": lambda z, v, T: losses.soft_loss(z, v, T),
        "seed's soft loss: sign flipped": lambda z, v, T: -losses.soft_loss(z, v, T),
        "T² sum (p_T - q_T)²": sq,
        "seed's 'adversarial' loss": adv,
    }


PUSH_TEMPERATURES = (1, 1.5, 2, 3, 4, 6, 8, 12, 20)


def push_state(student_logits: torch.Tensor, teacher_logits: torch.Tensor, loss: str, T: float) -> dict:
    """For one example: the softened teacher and student, and the push ``-dL/dz`` on each student logit."""
    fn = _push_losses()[loss]
    _, g = _grad(lambda z: fn(z, teacher_logits, T), student_logits)
    return {"loss": loss, "T": float(T), "p": F.softmax(teacher_logits / T, -1).numpy(), "q": F.softmax(student_logits / T, -1).numpy(),
            "push": (-g).numpy(), "toward_teacher": float(torch.dot(-g, F.softmax(teacher_logits / T, -1) - F.softmax(student_logits / T, -1)))}


def _push_limits(student_logits, teacher_logits, loss) -> float:
    return 1.15 * max(float(abs(push_state(student_logits, teacher_logits, loss, T)["push"]).max()) for T in PUSH_TEMPERATURES)


def _draw_push(axes, state, limit):
    C = len(state["p"])
    x = torch.arange(C).numpy()
    ax0, ax1 = axes
    b_p = ax0.bar(x - 0.2, state["p"], 0.4, color=plots.TEACHER, label="teacher p_T")
    b_q = ax0.bar(x + 0.2, state["q"], 0.4, color=plots.ALONE, label="student q_T")
    ax0.set(xticks=x, xlabel="class", ylabel="probability", ylim=(0, 1.05), title="softened outputs")
    ax0.legend(loc="upper right")
    colours = [plots.DISTILLED if v >= 0 else plots.HARD for v in state["push"]]
    b_g = ax1.bar(x, state["push"], 0.6, color=colours)
    ax1.axhline(0, color="black", lw=0.8)
    ax1.set(xticks=x, xlabel="class", ylabel="-dL/dz (up: raise that logit)", ylim=(-limit, limit))
    title = ax1.set_title(" ", fontsize=12)  # the push's verdict, updated with the bars
    return {"p": b_p, "q": b_q, "push": b_g, "title": title}


def _update_push(artists, state):
    for bar, h in zip(artists["p"], state["p"]):
        bar.set_height(h)
    for bar, h in zip(artists["q"], state["q"]):
        bar.set_height(h)
    for bar, h in zip(artists["push"], state["push"]):
        bar.set_height(h)
        bar.set_color(plots.DISTILLED if h >= 0 else plots.HARD)
    verdict = "toward the teacher" if state["toward_teacher"] > 0 else "away from the teacher"
    artists["title"].set_text(f"{state['loss']}, T = {state['T']:g}:\npushes the student {verdict}")


def plot_push(student_logits, teacher_logits, loss: str, T: float, axes=None, figsize=(11, 3.6)):
    """The explorer's static twin: the two distributions and the push of one loss at one temperature."""
    fig, axes = plots.subplots(axes, figsize=figsize, nrows=1, ncols=2)
    state = push_state(student_logits, teacher_logits, loss, T)
    artists = _draw_push(axes, state, _push_limits(student_logits, teacher_logits, loss))
    _update_push(artists, state)
    fig.tight_layout()
    return fig


def push_explorer(student_logits: torch.Tensor, teacher_logits: torch.Tensor, loss: str = "T² KL(p_T || q_T): right",
                  T: float = 4.0, figsize=(10, 3.4)):
    """Try it: pick a loss and slide T; the bars show which student logits the loss raises or lowers (one example)."""
    import ipywidgets as w

    from .widgets import Explorer, new_figure, slider_layout

    fig = new_figure(figsize)
    axes = fig.subplots(1, 2)
    limits = {name: _push_limits(student_logits, teacher_logits, name) for name in _push_losses()}
    artists = _draw_push(axes, push_state(student_logits, teacher_logits, loss, T), limits[loss])
    fig.tight_layout()
    controls = {"loss": w.Dropdown(options=list(_push_losses()), value=loss, description="loss", layout=w.Layout(width="360px")),
                "T": w.SelectionSlider(options=list(PUSH_TEMPERATURES), value=T, description="T", continuous_update=True,
                                       layout=slider_layout())}

    def update(loss, T):
        if axes[1].get_ylim() != (-limits[loss], limits[loss]):  # a new loss: new scale (and a full redraw)
            axes[1].set_ylim(-limits[loss], limits[loss])
        state = push_state(student_logits, teacher_logits, loss, T)
        _update_push(artists, state)
        return state

    def dynamic():
        return [*artists["p"], *artists["q"], *artists["push"], artists["title"]]

    return Explorer(fig, controls, update, dynamic, full_redraw={"loss"})


def plot_comparison(df: pd.DataFrame, axes=None, figsize=(12, 4.2)):
    """Test accuracy of every method, one dot per seed and the mean as a bar, one panel per regime."""
    regimes = list(dict.fromkeys(df["regime"]))
    fig, axes = plots.subplots(axes, figsize=figsize, nrows=1, ncols=len(regimes), squeeze=False)
    axes = list(axes.ravel())
    methods = list(dict.fromkeys(m for m in METHODS if m in set(df["method"])))
    colour = {"baseline": plots.ALONE, "logits": plots.DISTILLED, "features": plots.SMOOTHED, "relations": plots.TEACHER}
    for ax, regime in zip(axes, regimes):
        sub = df[df["regime"] == regime]
        base = 100 * sub[sub["method"] == "hard labels"]["test_acc"].mean()
        for i, m in enumerate(methods):
            acc = 100 * sub[sub["method"] == m]["test_acc"].to_numpy()
            c = colour[METHODS[m]["family"]]
            ax.barh(i, acc.mean() - base, left=base, color=c, alpha=0.35, height=0.6)
            ax.plot(acc, [i] * len(acc), "o", color=c, ms=5)
        ax.axvline(base, color=plots.ALONE, lw=1, ls="--")
        ax.set_yticks(range(len(methods)), methods if ax is axes[0] else [""] * len(methods))
        ax.invert_yaxis()
        ax.set(xlabel="test accuracy (%)", title=f"student sees {regime}")
    from matplotlib.patches import Patch

    handles = [Patch(color=c, alpha=0.5, label=f) for f, c in colour.items() if f != "baseline"]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles) + 1, fontsize=10, frameon=False,
               title="bars: mean gain over the hard-label mean (dashed line); dots: one per seed", title_fontsize=10)
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    return fig


# ---------------------------------------------------------------------------------------------------------------------
# PyTorch pitfalls, one function each
# ---------------------------------------------------------------------------------------------------------------------


def pitfall_kldiv(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float = 4.0) -> pd.DataFrame:
    """``nn.KLDivLoss`` called five ways, against KL(p_T || q_T) computed by hand (001-5)."""
    log_q, log_p = F.log_softmax(student_logits / T, 1), F.log_softmax(teacher_logits / T, 1)
    true_kl = (log_p.exp() * (log_p - log_q)).sum(1).mean().item()
    calls = {
        "seed 001-5: KLDivLoss()(log q, log p)": lambda: nn.KLDivLoss()(log_q, log_p),
        "KLDivLoss()(log q, p): default 'mean'": lambda: nn.KLDivLoss()(log_q, log_p.exp()),
        "KLDivLoss('batchmean')(q, p): probabilities as input": lambda: nn.KLDivLoss(reduction="batchmean")(log_q.exp(), log_p.exp()),
        "KLDivLoss('batchmean')(log p, q): arguments swapped": lambda: nn.KLDivLoss(reduction="batchmean")(log_p, log_q.exp()),
        "KLDivLoss('batchmean')(log q, p): right": lambda: nn.KLDivLoss(reduction="batchmean")(log_q, log_p.exp()),
        "KLDivLoss('batchmean', log_target=True)(log q, log p): right": lambda: nn.KLDivLoss(reduction="batchmean", log_target=True)(log_q, log_p),
    }
    rows = []
    for name, call in calls.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 'mean' warns that it divides by the number of classes too
            value = call().item()
        ratio = value / true_kl
        rows.append({"call": name, "value / true KL": ratio, "right": math.isfinite(value) and abs(ratio - 1) < 1e-4})
    table = pd.DataFrame(rows).set_index("call")
    table.attrs["true_kl"] = true_kl
    return table


def pitfall_train_mode(teacher: nn.Module, X: torch.Tensor, y: torch.Tensor, T: float = 4.0) -> pd.DataFrame:
    """Soft targets from a teacher with dropout, called twice in ``train()`` mode and twice in ``eval()`` mode."""
    was = teacher.training
    rows = []
    try:
        for mode in ("train", "eval"):
            teacher.train(mode == "train")
            with torch.no_grad():
                a, b = (F.softmax(teacher(X) / T, 1) for _ in range(2))
            rows.append({"mode": f"teacher.{mode}()", "largest change of a target between two calls": (a - b).abs().max().item(),
                         "accuracy (%)": 100 * (a.argmax(1) == y).float().mean().item()})
    finally:
        teacher.train(was)
    return pd.DataFrame(rows).set_index("mode")


def pitfall_no_grad(teacher: nn.Module, student: nn.Module, X: torch.Tensor, y: torch.Tensor, T: float = 4.0) -> pd.DataFrame:
    """One distillation step with the teacher's forward pass inside and outside ``torch.no_grad()``.

    Outside it, autograd records the teacher's graph and ``backward`` fills the teacher's ``.grad``: memory and
    time spent on a model that must not change (and an optimizer over all parameters would move it).
    """
    import copy

    teacher = copy.deepcopy(teacher).requires_grad_(True)  # as a model fresh from training: its weights require grad
    rows = []
    for guarded in (False, True):
        teacher.zero_grad(set_to_none=True)
        student.zero_grad(set_to_none=True)
        teacher.eval()
        if guarded:
            with torch.no_grad():
                v = teacher(X)
        else:
            v = teacher(X)
        z = student(X)
        # the naive soft loss, written without .detach(), as a reader would: the teacher's graph is still attached
        p, log_q = F.softmax(v / T, 1), F.log_softmax(z / T, 1)
        loss = T * T * (p * (p.clamp_min(1e-30).log() - log_q)).sum(1).mean()
        loss.backward()
        grads = [q.grad for q in teacher.parameters() if q.grad is not None]
        rows.append({"teacher forward": "inside torch.no_grad()" if guarded else "no guard",
                     "teacher output has a graph": v.grad_fn is not None,
                     "teacher tensors given a gradient": len(grads),
                     "gradient bytes on the teacher": sum(g.numel() * g.element_size() for g in grads)})
    teacher.zero_grad(set_to_none=True)
    student.zero_grad(set_to_none=True)
    return pd.DataFrame(rows).set_index("teacher forward")


def pitfall_three_args(outputs: torch.Tensor, labels: torch.Tensor, teacher_logits: torch.Tensor, T: float = 4.0) -> dict:
    """Seed 004-1's ``nn.CrossEntropyLoss()(outputs, labels, soft_labels)``, and the call that works.

    Returns the error the seed's call raises and the soft loss written with a probability target.
    """
    try:
        nn.CrossEntropyLoss()(outputs, labels, F.softmax(teacher_logits, 1))
        error = None
    except TypeError as exc:
        error = f"TypeError: {exc}"
    p_T = F.softmax(teacher_logits / T, 1)
    soft_ce = nn.CrossEntropyLoss()(outputs / T, p_T)  # probability targets: PyTorch >= 1.10
    by_hand = -(p_T * F.log_softmax(outputs / T, 1)).sum(1).mean()
    return {"error": error, "soft_ce": soft_ce.item(), "by_hand": by_hand.item()}


class Indexed(torch.utils.data.Dataset):
    """A dataset of ``(x, y, i)``: each example carries its row number, so a cache can be indexed by example."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.X[i], self.y[i], i


@torch.no_grad()
def pitfall_shuffled_cache(teacher: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 64, seed: int = 0) -> pd.DataFrame:
    """Seed 002-S4: teacher outputs cached in the order of a *shuffled* DataLoader, read back in the next epoch.

    For each way of caching, how often the cached teacher's top class equals the label of the example it is paired
    with in epoch 2 (chance is one in ten).
    """
    teacher.eval()
    loader = torch.utils.data.DataLoader(Indexed(X, y), batch_size=batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    by_batch = [teacher(xb) for xb, _, _ in loader]              # the seed's cache: one entry per batch, loader order
    by_example = torch.empty(len(y), by_batch[0].shape[1])
    for xb, _, i in loader:                                       # the fix: store each row at its example's index
        by_example[i] = teacher(xb)
    hits = {"cache in loader order, read by batch number": 0, "cache indexed by example": 0}
    for b, (xb, yb, i) in enumerate(loader):                      # epoch 2: a new shuffle
        hits["cache in loader order, read by batch number"] += (by_batch[b].argmax(1) == yb).sum().item()
        hits["cache indexed by example"] += (by_example[i].argmax(1) == yb).sum().item()
    return pd.DataFrame({"cached top class = label of the paired example (%)": {k: 100 * v / len(y) for k, v in hits.items()}})


def pitfall_sequence_batchmean(B: int = 4, S: int = 12, V: int = 50, T: float = 2.0, seed: int = 0) -> pd.DataFrame:
    """``F.kl_div(..., reduction="batchmean")`` on (B, S, V) sequence logits divides by B, not by the tokens.

    Random student and teacher logits for B sequences of S tokens over a vocabulary of V; the second half of the
    rows carries padding at the end. Each call's value is divided by the per-token KL (mean over the valid tokens):
    without padding, "batchmean" is S times too large; summing the masked KL and dividing by B, it is the number of
    valid tokens per sequence too large. ``attrs`` holds S and the valid tokens per sequence.
    """
    gen = torch.Generator().manual_seed(seed)
    z, v = 2 * torch.randn(B, S, V, generator=gen), 2 * torch.randn(B, S, V, generator=gen)
    lengths = torch.tensor([S if b < (B + 1) // 2 else S // 2 + b for b in range(B)]).clamp(max=S)
    valid = torch.arange(S).unsqueeze(0) < lengths.unsqueeze(1)
    log_q, log_p = F.log_softmax(z / T, -1), F.log_softmax(v / T, -1)
    kl_tok = (log_p.exp() * (log_p - log_q)).sum(-1)                         # (B, S): the KL of each token
    all_tokens, valid_tokens = kl_tok.mean(), kl_tok[valid].mean()
    calls = {
        "F.kl_div(..., 'batchmean') on (B, S, V), no padding": (F.kl_div(log_q, log_p, reduction="batchmean", log_target=True), all_tokens),
        "the same, flattened to (B*S, V) first": (F.kl_div(log_q.reshape(-1, V), log_p.reshape(-1, V), reduction="batchmean", log_target=True), all_tokens),
        "kdnb.losses.soft_loss(z, v, T, scale=False), no padding": (losses.soft_loss(z, v, T, scale=False), all_tokens),
        "with padding: KL summed over valid tokens, divided by B": ((kl_tok * valid).sum() / B, valid_tokens),
        "with padding: kdnb.losses.soft_loss(..., mask=valid)": (losses.soft_loss(z, v, T, scale=False, mask=valid), valid_tokens),
    }
    rows = [{"call": k, "value / per-token KL": (value / ref).item()} for k, (value, ref) in calls.items()]
    table = pd.DataFrame(rows).set_index("call")
    table.attrs.update(S=S, valid_per_sequence=valid.sum().item() / B)
    return table


def pitfall_batchnorm_teacher(train: kdata.Split, X_other: torch.Tensor, epochs: int = 2, batch_size: int = 128,
                              shift: int = 2, seed: int = 0) -> pd.DataFrame:
    """A teacher with BatchNorm, trained briefly, then run under ``torch.no_grad()`` over the batches of a distillation
    epoch (``X_other``, shifted by up to ``shift`` pixels as augmentation does) in ``train()`` and in ``eval()`` mode:
    ``no_grad`` stops gradients, not the update of BatchNorm's running statistics.

    Returns, per mode, the largest change of the BatchNorm layer's ``running_mean``, the batches it counted, and how
    many images of ``X_other`` get another top class from the eval-mode teacher afterwards (the teacher has changed).
    """
    import copy

    threads = torch.get_num_threads()
    training.seed_everything(seed, threads=1)  # a tiny model: one thread is fastest, and the caller's count comes back
    try:
        teacher = nn.Sequential(nn.Flatten(), nn.Linear(int(train.X[0].numel()), 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 10))
        training.fit(teacher, train, epochs=epochs, progress=False)
    finally:
        torch.set_num_threads(threads)
    teacher.requires_grad_(False)
    before_logits = training.predict_logits(teacher, X_other)
    gen = torch.Generator().manual_seed(seed)
    batches = [training.jitter(X_other[i:i + batch_size], shift, gen) for i in range(0, len(X_other), batch_size)]
    rows = []
    for mode in ("train", "eval"):
        t = copy.deepcopy(teacher)
        bn = t[2]
        mean_before, count_before = bn.running_mean.clone(), int(bn.num_batches_tracked)
        t.train(mode == "train")
        with torch.no_grad():
            for xb in batches:
                t(xb)
        after_logits = training.predict_logits(t, X_other)
        rows.append({"teacher forward": f"teacher.{mode}(), inside torch.no_grad()",
                     "largest change of running_mean": (bn.running_mean - mean_before).abs().max().item(),
                     "batches counted by BatchNorm": int(bn.num_batches_tracked) - count_before,
                     "images whose top class changed": int((after_logits.argmax(1) != before_logits.argmax(1)).sum())})
    return pd.DataFrame(rows).set_index("teacher forward")


def label_agreement(dataset: kdata.Dataset, teacher_logits: dict[str, torch.Tensor]) -> pd.DataFrame:
    """Per teacher: % of the 300-label regime's unlabelled training images whose teacher top class is their true label
    (what its hard pseudo-labels would hand back), and % of all training labels it agrees with."""
    y = dataset.train.y
    unlabelled = recipe.labelled_subset(y, REGIMES["300 labels"], 0) == losses.IGNORE_INDEX
    rows = []
    for name, logits in teacher_logits.items():
        right = logits.argmax(1) == y
        rows.append({"teacher": name, "unlabelled images": int(unlabelled.sum()),
                     "top class = true label on them (%)": 100 * right[unlabelled].float().mean().item(),
                     "agrees with all training labels (%)": 100 * right.float().mean().item()})
    return pd.DataFrame(rows).set_index("teacher")


# ---------------------------------------------------------------------------------------------------------------------
# Losses beyond logits: the methods compared in the notebook's last section
# ---------------------------------------------------------------------------------------------------------------------

#: The student of the comparison: the teacher's shape (two 3x3 conv blocks, a 128-unit hidden layer) with a
#: quarter of its channels, so feature maps have the teacher's spatial size and its hidden layer the teacher's
#: width (as DistilBERT keeps BERT's width). No dropout.
STUDENT = {"kind": "cnn", "channels": [8, 16], "hidden": 128, "dropout": 0.0}
TEACHER = "cnn-mnist"
#: Training of every student in the comparison (Adam, cosine decay, no augmentation: teacher outputs are cached).
TRAIN = {"epochs": 20, "lr": 2e-3, "batch_size": 128}
#: The two regimes: the student sees all 3,500 training labels, or 300 of them (class-balanced, fixed), with
#: the other 3,200 images unlabelled. The teacher saw all 3,500 labels in both.
REGIMES = {"all labels": None, "300 labels": 300}
SEEDS = (0, 1, 2, 3, 4)
KD = {"T": 4.0, "alpha": 0.9}
#: The fair control of the 300-label regime: the same CNN trained on only the student's 300 labels
#: (:func:`fair_teacher_subset` checks that they are the same 300 images).
FAIR_TEACHER = "cnn-mnist-300"
#: The second control: the student trained with cross-entropy on the 300 labels plus the teacher's
#: *hard* top class for each of the 3,200 unlabelled images (:func:`pseudo_labelled`).
PSEUDO = "hard pseudo-labels"

#: Each method: its loss terms and the weight of the non-label term. ``weights`` lists the candidates tried on
#: the validation split (the middle one is the weight used in Tian et al. 2020's benchmark, or the paper's).
METHODS: dict[str, dict] = {
    "hard labels": {"family": "baseline", "cite": "cross-entropy with the labels only", "weights": None},
    "KD": {"family": "logits", "cite": "Hinton et al. 2015, T = 4, alpha = 0.9", "weights": None},
    "logit MSE": {"family": "logits", "cite": "after Ba & Caruana 2014 (they use no label term)", "weights": (0.1, 1.0, 10.0)},
    "FitNets hints": {"family": "features", "cite": "Romero et al. 2015, one stage: CE + hint (the paper adds a KD stage)", "weights": (10.0, 100.0, 1000.0)},
    "attention transfer": {"family": "features", "cite": "Zagoruyko & Komodakis 2017", "weights": (100.0, 1000.0, 10000.0)},
    "cosine of hidden states": {"family": "features", "cite": "as DistilBERT, Sanh et al. 2019", "weights": (0.1, 1.0, 10.0)},
    "RKD": {"family": "relations", "cite": "Park et al. 2019, distance + angle", "weights": (0.1, 1.0, 10.0)},
}
FEATURE_METHODS = [m for m, spec in METHODS.items() if spec["weights"] is not None]


def tap_points(model: nn.Sequential) -> dict[str, int]:
    """Where to read features in a :func:`kdnb.models.small_cnn`: after each conv block, and the hidden layer."""
    pools = [i for i, m in enumerate(model) if isinstance(m, nn.MaxPool2d)]
    linears = [i for i, m in enumerate(model) if isinstance(m, nn.Linear)]
    if len(pools) < 2 or len(linears) < 2:
        raise ValueError("tap_points expects a small_cnn: two conv blocks with max-pooling and two linear layers")
    hidden = max(i for i, m in enumerate(model) if isinstance(m, nn.ReLU) and i < linears[-1])  # before any dropout
    return {"block1": pools[0], "block2": pools[1], "hidden": hidden}


def forward_features(model: nn.Sequential, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run ``model`` layer by layer and return its logits and the features at :func:`tap_points`."""
    where = {i: name for name, i in tap_points(model).items()}
    out = {}
    for i, layer in enumerate(model):
        x = layer(x)
        if i in where:
            out[where[i]] = x
    out["logits"] = x
    return out


@torch.no_grad()
def teacher_features(teacher: nn.Sequential, X: torch.Tensor, batch_size: int = 500) -> dict[str, torch.Tensor]:
    """The frozen teacher's logits and features for every image of ``X``, in eval mode (computed once, cached).

    Its ``"logits"`` are those of :func:`kdnb.training.predict_logits`, so plain KD needs only those.
    """
    teacher.eval()
    parts = [forward_features(teacher, X[i:i + batch_size]) for i in range(0, len(X), batch_size)]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def attention_map(features: torch.Tensor, p: int = 2) -> torch.Tensor:
    """Zagoruyko & Komodakis 2017: ``Q = mean_c |A_c|^p`` over channels, flattened and L2-normalized, (B, H*W).

    Normalizing makes the map a direction: a student with 8 channels and a teacher with 32 are compared by
    *where* they respond, not how strongly.
    """
    if features.dim() != 4:
        raise ValueError(f"attention_map needs conv features (batch, channels, height, width), got shape {tuple(features.shape)}")
    return F.normalize(features.abs().pow(p).mean(1).flatten(1), dim=1)


def attention_loss(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> torch.Tensor:
    """Sum over layer pairs of ``mean((Q_s - Q_t)^2) / 2``, as in the authors' code (times beta outside)."""
    total = 0.0
    for s, t in zip(student, teacher):
        if s.shape[-2:] != t.shape[-2:]:
            raise ValueError(f"attention maps need the same spatial size: student {tuple(s.shape[-2:])}, teacher {tuple(t.shape[-2:])}")
        total = total + (attention_map(s) - attention_map(t.detach())).pow(2).mean() / 2
    return total


def cosine_loss(student_hidden: torch.Tensor, teacher_hidden: torch.Tensor) -> torch.Tensor:
    """``mean(1 - cos(h_s, h_t))``: DistilBERT's cosine embedding loss on hidden states of the same width."""
    if student_hidden.shape != teacher_hidden.shape:
        raise ValueError(f"cosine loss needs hidden states of the same shape: {tuple(student_hidden.shape)} vs "
                         f"{tuple(teacher_hidden.shape)}; give the student the teacher's width or add a projection")
    return (1 - F.cosine_similarity(student_hidden, teacher_hidden.detach(), dim=1)).mean()


def _pair_distances(e: torch.Tensor) -> torch.Tensor:
    d = torch.cdist(e, e)
    mean = d[d > 0].mean()
    return d / mean


def _angles(e: torch.Tensor) -> torch.Tensor:
    diff = F.normalize(e.unsqueeze(0) - e.unsqueeze(1), dim=2)  # diff[i, j] = unit vector from e_i to e_j
    return torch.bmm(diff, diff.transpose(1, 2)).flatten()  # cos of the angle at e_i between e_j and e_k


def rkd_loss(student: torch.Tensor, teacher: torch.Tensor, w_distance: float = 25.0, w_angle: float = 50.0) -> torch.Tensor:
    """Relational KD (Park et al. 2019): match the *relations* among a batch's embeddings, not the embeddings.

    Distance term: pairwise distances, each divided by the batch's mean distance; angle term: the cosine of
    every angle formed by three examples. Both compared with the Huber loss, weights 25 and 50 as in the paper.
    Embeddings may differ in width between student and teacher.
    """
    if student.shape[0] != teacher.shape[0] or student.shape[0] < 3:
        raise ValueError("RKD needs the same batch of at least 3 examples for student and teacher")
    teacher = teacher.detach()
    with torch.no_grad():
        d_t, a_t = _pair_distances(teacher), _angles(teacher)
    d_s, a_s = _pair_distances(student), _angles(student)
    return w_distance * F.smooth_l1_loss(d_s, d_t) + w_angle * F.smooth_l1_loss(a_s, a_t)


class Distiller(nn.Module):
    """A student, plus the FitNets regressor when the method needs one: training it trains both.

    ``forward`` returns the student's logits and keeps its features in ``self.features`` for the loss.
    """

    def __init__(self, student: nn.Sequential, regressor: nn.Module | None = None):
        super().__init__()
        self.student, self.regressor = student, regressor
        self.features: dict[str, torch.Tensor] = {}

    def forward(self, x):
        self.features = forward_features(self.student, x)
        return self.features["logits"]


def make_student(method: str, seed: int, in_shape=(1, 28, 28)) -> Distiller:
    """The comparison's student for ``method``, from seed ``seed`` (the same initial weights for every method)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    torch.manual_seed(seed)
    student = models.build(STUDENT, in_shape=in_shape)
    regressor = None
    if method == "FitNets hints":  # a 1x1 convolution from the student's 16 channels to the teacher's 64
        gen = torch.Generator().manual_seed(10_000 + seed)
        regressor = nn.Conv2d(STUDENT["channels"][-1], 64, 1)
        with torch.no_grad():
            bound = 1 / math.sqrt(STUDENT["channels"][-1])
            regressor.weight.uniform_(-bound, bound, generator=gen)
            regressor.bias.uniform_(-bound, bound, generator=gen)
    return Distiller(student, regressor)


def extra_params(method: str) -> int:
    """Parameters trained besides the student's own (the FitNets regressor), none kept after training."""
    r = make_student(method, 0).regressor
    return 0 if r is None else models.count_params(r)


def method_loss(method: str, weight: float | None, y: torch.Tensor, cache: dict[str, torch.Tensor], model: Distiller):
    """The per-batch loss of ``method`` as ``step_loss(index, x, logits)`` for :func:`kdnb.training.train_with`.

    Feature and relation terms are added to the cross-entropy with the labels (weight 1); rows without a
    label (IGNORE_INDEX) get only the teacher's terms. ``weight`` multiplies the teacher's term.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")

    def step(idx, xb, logits):
        ce = losses.hard_loss(logits, y[idx])
        f = model.features
        if method == "hard labels":
            return ce
        if method == "KD":
            return losses.kd_loss(logits, cache["logits"][idx], y[idx], **KD)
        if method == "logit MSE":  # after Ba & Caruana, who regress the logits with no label term; zero-mean, scaled like KD at high T
            return ce + weight * losses.logit_matching_loss(logits, cache["logits"][idx])
        if method == "FitNets hints":
            mse = F.mse_loss(model.regressor(f["block2"]), cache["block2"][idx])
            return ce + weight * mse
        if method == "attention transfer":
            at = attention_loss([f["block1"], f["block2"]], [cache["block1"][idx], cache["block2"][idx]])
            return ce + weight * at
        if method == "cosine of hidden states":
            return ce + weight * cosine_loss(f["hidden"], cache["hidden"][idx])
        if method == "RKD":
            return ce + weight * rkd_loss(f["hidden"], cache["hidden"][idx])
        raise AssertionError(method)

    return step


def default_weight(method: str) -> float | None:
    """The weight of a method's teacher term, as chosen on validation by :func:`choose_weights` (``loss_weights``)."""
    if METHODS[method]["weights"] is None:
        return None
    return float(results.read("loss_weights").set_index("method").loc[method, "weight"])


def pseudo_labelled(labels: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """The labels with every unlabelled row (IGNORE_INDEX) replaced by the teacher's top class: hard pseudo-labels.

    The control that tells "the teacher hands labels back" apart from "the teacher's targets are soft".
    """
    if teacher_logits.shape[0] != labels.shape[0]:
        raise ValueError(f"{teacher_logits.shape[0]} teacher rows for {labels.shape[0]} labels")
    out = labels.clone()
    unlabelled = labels == losses.IGNORE_INDEX
    out[unlabelled] = teacher_logits.argmax(1)[unlabelled]
    return out


def run_method(method: str, seed: int, dataset: kdata.Dataset, cache: dict[str, torch.Tensor], regime: str = "all labels",
               weight: float | None = None, epochs: int | None = None, progress: bool = False, threads: int | None = None,
               callback=None) -> dict:
    """Train the comparison's student with ``method`` in ``regime`` from seed ``seed``; one row of results.

    ``cache`` holds the teacher's outputs for ``dataset.train`` (:func:`teacher_features`). Returns test and
    validation accuracy (0..1), median seconds per epoch on this machine, and the extra parameters trained.
    ``method`` may also be :data:`PSEUDO`: cross-entropy on the labels plus the teacher's top class for every
    unlabelled image (the same student, the same initial weights as "hard labels").
    """
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; choose one of {list(REGIMES)}")
    if threads is not None:
        torch.set_num_threads(threads)
    y = recipe.labelled_subset(dataset.train.y, REGIMES[regime], 0)
    if method == PSEUDO:
        y, method, weight = pseudo_labelled(y, cache["logits"]), "hard labels", None
        shown = PSEUDO
    else:
        weight = default_weight(method) if weight is None else weight
        shown = method
    model = make_student(method, seed, dataset.image_shape)
    step = method_loss(method, weight, y, cache, model)
    train = kdata.Split(dataset.train.X, y)
    cfg = dict(TRAIN, epochs=epochs or TRAIN["epochs"])
    hist = training.train_with(model, train, step, seed=seed, progress=progress, desc=method, callback=callback, **cfg)
    student = model.student
    return {"method": shown, "regime": regime, "seed": seed, "weight": weight,
            "test_acc": training.accuracy(student, dataset.test), "val_acc": training.accuracy(student, dataset.val),
            "epoch_seconds": float(statistics.median(hist["seconds"])), "epochs": cfg["epochs"],
            "extra_params": extra_params(method)}


def load_cache(dataset: kdata.Dataset) -> dict[str, torch.Tensor]:
    """The shipped teacher ``cnn-mnist``'s outputs on the training images (logits, both conv blocks, hidden layer)."""
    return teacher_features(teachers.load_teacher(TEACHER), dataset.train.X)


def choose_weights(dataset: kdata.Dataset | None = None, cache=None, seed: int = 0, progress: bool = True, threads: int = 1) -> pd.DataFrame:
    """Try each feature method's candidate weights in both regimes (seed 0); keep the best mean validation accuracy."""
    ds = dataset or kdata.load_mnist_subset()
    cache = cache if cache is not None else load_cache(ds)
    rows = []
    for method in FEATURE_METHODS:
        for w in METHODS[method]["weights"]:
            for regime in REGIMES:
                rows.append(run_method(method, seed, ds, cache, regime, weight=w, threads=threads))
                if progress:
                    r = rows[-1]
                    print(f"{method:24s} w={w:<8g} {regime:10s} val {100 * r['val_acc']:.1f}  test {100 * r['test_acc']:.1f}", flush=True)
    return pd.DataFrame(rows)


def weights_from_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """The weight with the best validation accuracy averaged over the regimes (ties: the paper's weight)."""
    mean = trials.groupby(["method", "weight"])["val_acc"].mean().reset_index()
    out = []
    for method, group in mean.groupby("method", sort=False):
        paper = METHODS[method]["weights"][1]
        group = group.assign(paper=(group["weight"] == paper).astype(int)).sort_values(["val_acc", "paper"], ascending=False)
        out.append({"method": method, "weight": group["weight"].iloc[0], "val_acc": group["val_acc"].iloc[0]})
    return pd.DataFrame(out)


def weight_trials_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Validation accuracy (%) of each candidate weight, per regime and averaged; the chosen one, and whether it is
    at the edge of the candidates (then a weight beyond them might do better still)."""
    table = trials.pivot_table(index=["method", "weight"], columns="regime", values="val_acc") * 100
    table = table[[r for r in REGIMES if r in table.columns]]
    table["mean"] = table.mean(axis=1)
    chosen = weights_from_trials(trials).set_index("method")["weight"]
    table["chosen"] = [chosen[m] == w for m, w in table.index]
    table["at the edge"] = [table.loc[(m, w), "chosen"] and w in (min(METHODS[m]["weights"]), max(METHODS[m]["weights"]))
                            for m, w in table.index]
    order = {m: i for i, m in enumerate(METHODS)}
    return table.sort_index(level=0, key=lambda s: s.map(order))


def compare(dataset: kdata.Dataset | None = None, cache=None, seeds=SEEDS, methods=None, regimes=None,
            progress: bool = True, threads: int = 1) -> pd.DataFrame:
    """Every method x regime x seed: the table behind the notebook's comparison."""
    ds = dataset or kdata.load_mnist_subset()
    cache = cache if cache is not None else load_cache(ds)
    rows = []
    for regime in regimes or REGIMES:
        for seed in seeds:
            for method in methods or METHODS:
                rows.append(run_method(method, seed, ds, cache, regime, threads=threads))
                if progress:
                    r = rows[-1]
                    print(f"{regime:10s} seed {seed} {method:24s} test {100 * r['test_acc']:.1f}  {r['epoch_seconds']:.2f} s/epoch", flush=True)
    return pd.DataFrame(rows)


def comparison_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and [min, max] test accuracy (%) per method and regime, the gain over hard labels, time per epoch."""
    out = []
    for (regime, method), g in df.groupby(["regime", "method"], sort=False):
        base = df[(df["regime"] == regime) & (df["method"] == "hard labels")].set_index("seed")["test_acc"]
        gain = 100 * (g.set_index("seed")["test_acc"] - base.reindex(g["seed"]).to_numpy())
        out.append({"regime": regime, "method": method, "test_mean": 100 * g["test_acc"].mean(),
                    "test_min": 100 * g["test_acc"].min(), "test_max": 100 * g["test_acc"].max(),
                    "gain_mean": gain.mean(), "gain_min": gain.min(), "gain_max": gain.max(),
                    "seeds_better": int((gain > 0).sum()), "seeds": len(g),
                    "epoch_seconds": g["epoch_seconds"].median(), "extra_params": int(g["extra_params"].iloc[0]),
                    "weight": g["weight"].iloc[0]})
    table = pd.DataFrame(out)
    base_time = table[table["method"] == "hard labels"].set_index("regime")["epoch_seconds"]
    table["time_vs_hard"] = table["epoch_seconds"] / table["regime"].map(base_time)
    order = {m: i for i, m in enumerate(METHODS)}
    return table.sort_values(["regime", "method"], key=lambda s: s.map(order) if s.name == "method" else s.map(list(REGIMES).index)).reset_index(drop=True)


def verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """Per regime and method: does it beat the hard-label twin (same initial weights) in every seed, in none, or neither?"""
    rows = []
    for r in table[table["method"] != "hard labels"].itertuples():
        if r.gain_min > 0:
            verdict = "helps: better in every seed"
        elif r.gain_max < 0:
            verdict = "hurts: worse in every seed"
        else:
            verdict = "no clear effect: the seeds disagree"
        rows.append({"regime": r.regime, "method": r.method, "mean gain (points)": f"{r.gain_mean:+.1f}", "verdict": verdict})
    return pd.DataFrame(rows).set_index(["regime", "method"])


def fair_teacher_subset(dataset: kdata.Dataset) -> dict:
    """Were :data:`FAIR_TEACHER`'s labels exactly the 300 the comparison's student gets?

    Rebuilds the teacher's labelled rows from its recipe (:data:`kdnb.teachers.TEACHERS`: data set, split seed,
    label count and seed, as :func:`kdnb.teachers.train_teacher` draws them) and the student's from
    :func:`kdnb.recipe.labelled_subset`, and compares them.
    """
    spec = teachers.TEACHERS[FAIR_TEACHER]
    same_data = spec["dataset"] == {"name": dataset.name, "seed": 0} and dataset.name == "mnist-5k"
    teacher_rows = set(kdata.stratified_split(dataset.train.y.numpy(), (spec["labels"]["n"],), spec["labels"]["seed"])[0].tolist())
    student = recipe.labelled_subset(dataset.train.y, REGIMES["300 labels"], 0)
    student_rows = set(torch.nonzero(student != losses.IGNORE_INDEX).flatten().tolist())
    return {"same data set and split": bool(same_data), "teacher's labelled images": len(teacher_rows),
            "student's labelled images": len(student_rows), "same images": teacher_rows == student_rows}


def fair_comparison(dataset: kdata.Dataset | None = None, seeds=SEEDS, methods=None, progress: bool = True,
                    threads: int = 1) -> pd.DataFrame:
    """The 300-label regime's controls, over seeds: every teacher-reading method again with :data:`FAIR_TEACHER`,
    and :data:`PSEUDO` with both teachers. The hard-label rows and the all-label teacher's methods are in
    ``loss_comparison`` (the same students, seeds and weights); the weights stay those chosen with ``cnn-mnist``."""
    ds = dataset or kdata.load_mnist_subset()
    if not fair_teacher_subset(ds)["same images"]:
        raise RuntimeError(f"{FAIR_TEACHER} did not see the student's 300 labelled images; rebuild it")
    caches = {TEACHER: load_cache(ds), FAIR_TEACHER: teacher_features(teachers.load_teacher(FAIR_TEACHER), ds.train.X)}
    plan = {TEACHER: [PSEUDO], FAIR_TEACHER: [PSEUDO] + [m for m in METHODS if m != "hard labels"]}
    rows = []
    for seed in seeds:
        for teacher, todo in plan.items():
            for method in todo:
                if methods is not None and method not in methods:
                    continue
                row = run_method(method, seed, ds, caches[teacher], "300 labels", threads=threads)
                rows.append({"teacher": teacher, **row})
                if progress:
                    print(f"{teacher:14s} seed {seed} {method:24s} test {100 * row['test_acc']:.1f}  {row['epoch_seconds']:.2f} s/epoch", flush=True)
    return pd.DataFrame(rows)


def _fair_accuracies(runs: pd.DataFrame, fair: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy (%) of the 300-label students, one row per seed, one column per (teacher, method)."""
    few = runs[runs["regime"] == "300 labels"]
    parts = [few[few["method"] == "hard labels"].assign(teacher="none"),
             few[few["method"] != "hard labels"].assign(teacher=TEACHER),
             fair[fair["regime"] == "300 labels"]]
    both = pd.concat(parts, ignore_index=True)
    return 100 * both.pivot_table(index="seed", columns=["teacher", "method"], values="test_acc")


def fair_table(runs: pd.DataFrame, fair: pd.DataFrame) -> pd.DataFrame:
    """The 300-label regime with both teachers: per teacher and method, test accuracy and the gain over the hard-label
    student (the same seed, the same initial weights), mean [min, max] over seeds."""
    acc = _fair_accuracies(runs, fair)
    base = acc[("none", "hard labels")]
    order = [PSEUDO] + [m for m in METHODS if m != "hard labels"]
    rows = [{"teacher": "none", "method": "hard labels (300 labels only)", "test_mean": base.mean(), "test_min": base.min(),
             "test_max": base.max(), "gain_mean": 0.0, "gain_min": 0.0, "gain_max": 0.0, "seeds_better": 0, "seeds": len(base),
             "verdict": ""}]
    for teacher in (TEACHER, FAIR_TEACHER):
        for method in order:
            if (teacher, method) not in acc.columns:
                continue
            a = acc[(teacher, method)].dropna()
            g = a - base.reindex(a.index)
            row = {"teacher": teacher, "method": method, "test_mean": a.mean(), "test_min": a.min(), "test_max": a.max(),
                   "gain_mean": g.mean(), "gain_min": g.min(), "gain_max": g.max(), "seeds_better": int((g >= 0.05).sum()),
                   "seeds": len(a), "verdict": sign_verdict(g)}
            if method != PSEUDO and (teacher, PSEUDO) in acc.columns:  # what the loss adds beyond the same teacher's argmax
                d = a - acc[(teacher, PSEUDO)].reindex(a.index)
                row.update(vs_pseudo_mean=d.mean(), vs_pseudo_min=d.min(), vs_pseudo_max=d.max(), vs_pseudo=sign_verdict(d))
            rows.append(row)
    return pd.DataFrame(rows)


def gain_split(runs: pd.DataFrame, fair: pd.DataFrame, method: str = "KD") -> pd.DataFrame:
    """Where the gain of ``method`` with the all-label teacher comes from, per seed, in points of test accuracy.

    ``method(all-label teacher) - hard`` = ``[method(all) - method(fair)]`` (what the teacher's extra labels are worth:
    the labels handed back) + ``[pseudo(fair) - hard]`` (the fair teacher's hard top class on the unlabelled images)
    + ``[method(fair) - pseudo(fair)]`` (what the soft targets add beyond those hard pseudo-labels). The all-label
    teacher's own hard/soft split is shown too. Mean, min and max over seeds.
    """
    acc = _fair_accuracies(runs, fair)
    hard = acc[("none", "hard labels")]
    m_all, m_fair = acc[(TEACHER, method)], acc[(FAIR_TEACHER, method)]
    pl_all, pl_fair = acc[(TEACHER, PSEUDO)], acc[(FAIR_TEACHER, PSEUDO)]
    parts = {
        f"total: {method} with {TEACHER} - hard labels": m_all - hard,
        f"labels handed back: {method} with {TEACHER} - {method} with {FAIR_TEACHER}": m_all - m_fair,
        f"hard pseudo-labels of {FAIR_TEACHER} - hard labels": pl_fair - hard,
        f"softness: {method} with {FAIR_TEACHER} - its hard pseudo-labels": m_fair - pl_fair,
        f"(for comparison) hard pseudo-labels of {TEACHER} - hard labels": pl_all - hard,
        f"(for comparison) softness: {method} with {TEACHER} - its hard pseudo-labels": m_all - pl_all,
    }
    rows = [{"part": k, "mean": v.mean(), "min": v.min(), "max": v.max(), "verdict": sign_verdict(v)} for k, v in parts.items()]
    return pd.DataFrame(rows).set_index("part")


def sign_verdict(diffs) -> str:
    """Words for per-seed differences (points): above zero in every seed, below in every seed, or how they split.

    Accuracies on 1,000 test images move in steps of 0.1 point, so a difference under 0.05 counts as equal.
    """
    diffs = [float(d) for d in diffs]
    up, down = sum(d >= 0.05 for d in diffs), sum(d <= -0.05 for d in diffs)
    n, same = len(diffs), len(diffs) - up - down
    if up == n:
        return "better in every seed"
    if down == n:
        return "worse in every seed"
    parts = [f"better in {up}" if up else "", f"worse in {down}" if down else "", f"equal in {same}" if same else ""]
    return ", ".join(p for p in parts if p) + f" of {n} seeds"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.nb04_distillation_losses", description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=["weights", "compare", "fair"], help="weights: choose each feature loss's weight on "
                        "validation; compare: the comparison table over seeds; fair: the 300-label controls (a teacher "
                        "that saw only those labels, and hard pseudo-labels)")
    args = parser.parse_args(argv)
    training.seed_everything(0, threads=1)
    ds = kdata.load_mnist_subset()
    start = time.perf_counter()
    if args.part == "fair":
        path = results.write(fair_comparison(ds), "loss_fair_teacher")
        print(f"wrote {path} in {time.perf_counter() - start:.0f} s")
        return 0
    cache = load_cache(ds)
    if args.part == "weights":
        trials = choose_weights(ds, cache)
        results.write(trials, "loss_weight_trials")
        path = results.write(weights_from_trials(trials), "loss_weights")
    else:
        path = results.write(compare(ds, cache), "loss_comparison")
    print(f"wrote {path} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())


# ---------------------------------------------------------------------------------------------------------------------
# Exercises: write kd_loss, the attention map, spot the bug
# ---------------------------------------------------------------------------------------------------------------------



# The rule every checker below follows: (a) run the reader's code on randomized problems that include the edges
# (T = 1, alpha in {0, 1}, large logits, a batch of one); (b) compare values and gradients with respect to the
# student; (c) check that the inputs are unchanged afterwards; (d) check that no gradient reaches the teacher;
# (e) accept every correct formulation and any numeric type; (f) never print the solution's result under the stub.


def _close_tensors(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-4) -> bool:
    """Equal up to float32 rounding, relative to the size of ``b`` (so a large-logit case is judged fairly)."""
    a, b = a.detach().double(), b.detach().double()
    if a.shape != b.shape or not torch.isfinite(a).all():
        return False
    scale = float(b.abs().max()) if b.numel() else 0.0
    return bool(torch.allclose(a, b, rtol=rtol, atol=1e-6 * max(scale, 1.0)))


def _reference_kd(z, v, y, T, alpha):
    return losses.kd_loss(z, v, y, T=T, alpha=alpha)


def _kd_variants() -> dict[str, callable]:
    """The usual ways to get ``kd_loss`` wrong, each as a function, with the sentence that names it."""
    def soft(z, v, T, reduction="batchmean", scale=True, swap=False, both_log=False, teacher_T=True):
        log_q = F.log_softmax(z / T, 1)
        log_p = F.log_softmax(v / (T if teacher_T else 1.0), 1)
        if both_log:
            kl = F.kl_div(log_q, log_p, reduction=reduction)
        elif swap:
            kl = F.kl_div(log_p, log_q.exp(), reduction=reduction)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # 'mean' warns that it divides by the classes too: that is the mistake named
                kl = F.kl_div(log_q, log_p.exp(), reduction=reduction)
        return kl * T * T if scale else kl

    def ce(z, y):
        return F.cross_entropy(z, y)

    return {
        "the T² factor is missing: without it the soft term's gradient shrinks as 1/T² (multiply the KL by T * T)":
            lambda z, v, y, T, a: (1 - a) * ce(z, y) + a * soft(z, v, T, scale=False),
        "reduction='mean' divides by the number of classes as well as the batch: use reduction='batchmean'":
            lambda z, v, y, T, a: (1 - a) * ce(z, y) + a * soft(z, v, T, reduction="mean"),
        "the KL is reversed: you computed KL(q || p); F.kl_div(input, target) is KL(target || input), so pass the "
        "student's log-probabilities as input and the teacher's probabilities as target":
            lambda z, v, y, T, a: (1 - a) * ce(z, y) + a * soft(z, v, T, swap=True),
        "the target is log-probabilities but log_target is False: F.kl_div takes the target as probabilities unless "
        "log_target=True":
            lambda z, v, y, T, a: (1 - a) * ce(z, y) + a * soft(z, v, T, both_log=True),
        "the teacher's logits are not divided by T: soften teacher and student with the same temperature":
            lambda z, v, y, T, a: (1 - a) * ce(z, y) + a * soft(z, v, T, teacher_T=False),
        "alpha weights the wrong term: alpha multiplies the soft (teacher) term and 1 - alpha the hard one":
            lambda z, v, y, T, a: a * ce(z, y) + (1 - a) * soft(z, v, T),
        "the hard term uses the softened student logits: cross-entropy with the labels is taken at T = 1":
            lambda z, v, y, T, a: (1 - a) * ce(z / T, y) + a * soft(z, v, T),
        "the hard term is missing: (1 - alpha) * cross_entropy(student_logits, labels)":
            lambda z, v, y, T, a: a * soft(z, v, T),
        "the soft term is missing: alpha * T² * KL(p_T || q_T)":
            lambda z, v, y, T, a: (1 - a) * ce(z, y),
    }


#: The fixed problems every loss checker runs, (B, C, T, alpha, logit scale, what the case tests). Two more are drawn
#: at random on every call (:func:`_kd_cases`).
KD_EDGES = [
    (8, 10, 4.0, 0.7, 3.0, "an ordinary batch"),
    (5, 3, 2.0, 0.3, 3.0, "three classes"),
    (16, 10, 8.0, 0.9, 3.0, "a high T"),
    (6, 5, 1.0, 0.5, 3.0, "T = 1"),
    (1, 4, 1.5, 0.5, 3.0, "a batch of one"),
    (6, 5, 2.0, 0.0, 3.0, "alpha = 0"),
    (6, 5, 3.0, 1.0, 3.0, "alpha = 1"),
    (6, 10, 1.0, 0.5, 150.0, "large logits (T = 1)"),
    (4, 10, 4.0, 0.9, 600.0, "large logits (T = 4)"),
]


def _kd_cases(seed: int | None = None):
    """``[(z, v, y, T, alpha, what)]``: the edges of :data:`KD_EDGES` and two random problems (fresh unless ``seed``)."""
    gen = torch.Generator().manual_seed(1234)
    specs = list(KD_EDGES)
    rnd = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=torch.Generator().manual_seed(
        seed if seed is not None else int.from_bytes(__import__("os").urandom(4), "little")))))
    for _ in range(2):
        B, C = int(torch.randint(1, 13, (1,), generator=rnd)), int(torch.randint(2, 13, (1,), generator=rnd))
        T = round(float(1 + 9 * torch.rand(1, generator=rnd)), 2)
        alpha = round(float(torch.rand(1, generator=rnd)), 2)
        specs.append((B, C, T, alpha, 3.0, "a random problem"))
    cases = []
    for B, C, T, alpha, scale, what in specs:
        g = gen if what != "a random problem" else rnd
        z, v = scale * torch.randn(B, C, generator=g), scale * torch.randn(B, C, generator=g)
        y = torch.randint(0, C, (B,), generator=g)
        cases.append((z, v, y, T, alpha, what))
    return cases


def _call_unchanged(fn, args: tuple, names: tuple) -> tuple[object, str | None]:
    """Call ``fn(*args)`` on copies; return its output and, if it changed an input in place, the sentence that says so."""
    copies = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*copies)
    for name, before, after in zip(names, args, copies):
        if isinstance(before, torch.Tensor) and not torch.equal(before, after.detach()):
            return out, (f"your function changed its input {name} in place (an in-place op such as {name} /= T or .div_()): "
                         "the caller's tensor is now different; compute a new tensor (x = x / T) instead")
    return out, None


def _loss_and_grads(fn, args: tuple, student: int = 0, teacher: int | None = 1):
    """Value of ``fn(*args)`` and its gradients with respect to the student's argument and (if any) the teacher's.

    Returns ``(value, grad_student, grad_teacher, problem)``; ``problem`` names a result that is no differentiable
    scalar.
    """
    args = list(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
    args[student] = args[student].requires_grad_(True)
    if teacher is not None:
        args[teacher] = args[teacher].requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*args)
    if not isinstance(out, torch.Tensor):
        kind = "a Python number: .item() or float() cut the graph" if as_number(out) is not None else type(out).__name__
        return None, None, None, f"return the loss as a tensor that autograd can differentiate, not {kind}"
    if out.numel() != 1:
        return None, None, None, f"return one number for the batch (averaged over examples), not a tensor of shape {tuple(out.shape)}"
    if not out.requires_grad:
        return out.detach(), None, None, ("the loss has no gradient with respect to the student's logits: did you detach the "
                                          "student (.detach(), .data, torch.no_grad() around it) or go through .item() or NumPy?")
    wrt = [args[student]] + ([args[teacher]] if teacher is not None else [])
    grads = torch.autograd.grad(out.reshape(()), wrt, allow_unused=True)
    gz = grads[0] if grads[0] is not None else torch.zeros_like(args[student])
    gv = grads[1] if teacher is not None else None
    return out.detach().reshape(()), gz, gv, None


def _agrees(fn, other, case, with_value: bool = True) -> bool:
    """``fn`` and ``other`` give the same gradient on ``case`` (and the same value, if ``with_value``)."""
    z, v, y, T, a = case[:5]
    try:
        value, gz, _, problem = _loss_and_grads(fn, (z, v, y, T, a), teacher=None)
        o_value, o_gz, _, _ = _loss_and_grads(other, (z, v, y, T, a), teacher=None)
    except Exception:
        return False
    if problem or value is None or o_value is None or not torch.isfinite(o_value):
        return False
    return _close_tensors(gz, o_gz) and (not with_value or _close_tensors(value, o_value))


def _named_mistake(fn, cases, with_value: bool = True) -> str | None:
    """The sentence of the first known ``kd_loss`` mistake that ``fn`` reproduces on every case, if any."""
    for name, bug in _kd_variants().items():
        if all(_agrees(fn, bug, case, with_value) for case in cases):
            return name
    return None


def _where_wrong(failed: list[str], total: list[str]) -> str:
    """A sentence for a function that is right on some problems and wrong on others."""
    kinds = sorted(set(failed))
    if all("T = 1" in k for k in kinds):
        return "right in general but wrong at T = 1: the same formula holds at every T, so no special case for T == 1"
    if set(kinds) <= {"alpha = 0", "alpha = 1"}:
        return ("right in general but wrong at alpha = 0 or alpha = 1: the same formula covers the ends (alpha = 0 is "
                "plain cross-entropy, alpha = 1 the soft term alone), so no special case that changes it")
    if set(kinds) <= {"a batch of one"}:
        return "right in general but wrong for a batch of one example: keep the batch dimension (no .squeeze())"
    if all(k.startswith("large logits") for k in kinds):
        return ("right on ordinary logits, wrong on large ones: take logs with F.log_softmax, not torch.log(softmax(...)), "
                "which rounds small probabilities to 0 and their log to -inf")
    return f"wrong on {len(failed)} of {len(total)} problems ({', '.join(kinds)})"


def diagnose_kd_loss(fn) -> str | None:
    """``None`` if ``fn(student_logits, teacher_logits, labels, T, alpha)`` is the distillation loss, else the mistake.

    Runs :data:`KD_EDGES` and two random problems; compares values and gradients with :func:`kdnb.losses.kd_loss`,
    then with each known mistake; checks that the inputs are unchanged and that no gradient reaches the teacher.
    """
    cases = _kd_cases()
    names = ("student_logits", "teacher_logits", "labels")
    failed, nonfinite, leaks = [], [], False
    for z, v, y, T, a, what in cases:
        _, changed = _call_unchanged(fn, (z, v, y, T, a), names)
        if changed:
            return changed
        value, gz, gv, problem = _loss_and_grads(fn, (z, v, y, T, a))
        if problem:
            return problem
        if not torch.isfinite(value) or not torch.isfinite(gz).all():
            nonfinite.append(what)
            continue
        leaks = leaks or (gv is not None and bool(gv.abs().max() > 0))
        ref_value, ref_gz, _, _ = _loss_and_grads(_reference_kd, (z, v, y, T, a), teacher=None)
        if not (_close_tensors(value, ref_value) and _close_tensors(gz, ref_gz)):
            failed.append(what)
    if nonfinite:
        if all(w.startswith("large logits") for w in nonfinite):
            named = _named_mistake(fn, [c for c in cases if not c[5].startswith("large logits")]) if failed else None
            if named:
                return named
            return ("the loss is NaN or infinite at large logits: torch.log(softmax(...)) rounds small probabilities to 0 "
                    "and takes log 0; use F.log_softmax (and F.kl_div or a sum over log-probabilities)")
        return ("the target is log-probabilities but log_target is False: F.kl_div takes the target as probabilities unless "
                "log_target=True (your loss is NaN or infinite on ordinary logits: the log of a non-positive number; "
                "use F.log_softmax for every log)")
    if not failed:
        if leaks:
            return ("gradients reach the teacher's logits: the teacher is frozen, so detach them "
                    "(teacher_logits.detach(), or compute them under torch.no_grad())")
        return None
    named = _named_mistake(fn, cases)
    if named:
        return named
    if all(_agrees(fn, _reference_kd, case, with_value=False) for case in cases):
        z, v, y, T, a, _ = next(c for c in cases if c[5] in failed)
        value, _, _, _ = _loss_and_grads(fn, (z, v, y, T, a), teacher=None)
        ref_value, _, _, _ = _loss_and_grads(_reference_kd, (z, v, y, T, a), teacher=None)
        return (f"the gradient is right but the value is off by a constant ({value.item() - ref_value.item():.3g} on one "
                "problem): cross-entropy with soft targets equals KL plus the teacher's entropy; use the KL")
    if len(failed) < len(cases):
        return _where_wrong(failed, [c[5] for c in cases])
    return ("your loss differs from (1 - alpha) * CE(labels, z) + alpha * T² * KL(softmax(v/T) || softmax(z/T)) in value "
            "and gradient on every problem; compare your terms with the formula above")


def check_kd_loss(fn) -> Verdict:
    """Check yourself 2.1: the reader's ``kd_loss(student_logits, teacher_logits, labels, T, alpha)``."""
    return check("Check yourself 2.1", fn, diagnose_kd_loss,
                 todo="write kd_loss in the cell above (replace the your_turn line), then rerun it",
                 praise=f"values and gradients match kdnb.losses.kd_loss on {len(KD_EDGES) + 2} problems (T = 1, alpha = 0 "
                        "and 1, large logits, a batch of one, two random ones), the inputs are untouched, and no gradient "
                        "reaches the teacher")


# ------------------------------------------------------------------------------------------------ Check yourself 3.1


#: Library calls that compute a KL divergence: the gap must not be computed as CE - KL.
_KL_CALLS = ((F, "kl_div"), (losses, "kl_divergence"), (losses, "soft_loss"), (losses, "kd_loss"))


def _entropy(v: torch.Tensor, T: float) -> float:
    log_p = F.log_softmax(v.double() / T, 1)
    return float(-(log_p.exp() * log_p).sum(1).mean())


def diagnose_entropy_gap(fn) -> str | None:
    """Check yourself 3.1: ``fn(teacher_logits, T)`` returns CE(p_T, q_T) - KL(p_T || q_T), i.e. the teacher's mean
    entropy, from the teacher's logits and T alone (any numeric type; rounding to 3 significant figures is fine)."""
    import numpy as np

    calls = []
    saved = [(mod, name, getattr(mod, name)) for mod, name in _KL_CALLS]

    def spy(original, name):
        def wrapper(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)
        return wrapper

    for z, v, y, T, a, what in _kd_cases():
        try:
            for mod, name, original in saved:
                setattr(mod, name, spy(original, name))
            out, changed = _call_unchanged(fn, (v, T), ("teacher_logits",))
        finally:
            for mod, name, original in saved:
                setattr(mod, name, original)
        if changed:
            return changed
        if calls:
            return (f"computed as CE - KL from the two losses ({calls[0]} was called): the exercise asks for the gap from "
                    "the teacher's logits and T alone, which shows what it is; write -sum p_T log p_T, averaged over the batch")
        if isinstance(out, torch.Tensor) and out.numel() > 1 or isinstance(out, np.ndarray) and out.size > 1:
            return f"give one number for the batch (a mean over examples), not an array of shape {tuple(out.shape)}"
        a_ = as_number(out)
        if a_ is None:
            raw = out.item() if isinstance(out, torch.Tensor) and out.numel() == 1 else out
            if isinstance(raw, float) and not math.isfinite(raw):
                return ("the result is NaN or infinite on large logits: p * log(p) is 0 * log 0 where a probability rounds to 0; "
                        "use F.log_softmax for log p_T (or torch.special.entr)")
            return f"return a number (a float, a NumPy number or a one-element tensor), got {type(out).__name__}"
        h = _entropy(v, T)
        if close(a_, h, rel=5e-3, abs_=5e-4):  # rounded to 3 significant figures is right too
            continue
        log_p = F.log_softmax(v.double() / T, 1)
        if close(a_, h / math.log(2), rel=2e-3, abs_=5e-4):
            return "that is the entropy in bits; the losses use natural logarithms (nats)"
        if close(a_, h * len(v), rel=2e-3, abs_=5e-4) and len(v) > 1:
            return "that is the sum over the batch; the losses average over the batch (mean over examples)"
        if close(a_, -h, rel=2e-3, abs_=5e-4) and h > 1e-3:
            return "the sign is flipped: entropy is -sum p log p, which is never negative"
        if close(a_, _entropy(v, 1.0), rel=2e-3, abs_=5e-4) and T != 1.0:
            return "that is the teacher's entropy at T = 1: divide the teacher's logits by T first"
        if close(a_, float(-(log_p.exp() * log_p).sum(1).mean() / v.shape[1]), rel=2e-3, abs_=5e-4):
            return "averaged over the classes as well as the batch: sum over the classes, then average over the batch"
        where = f"on a batch of {len(v)} with {v.shape[1]} classes at T = {T:g}" + (" (large logits)" if what.startswith("large") else "")
        return (f"{where} your value is off; the gap is the teacher's mean entropy H(p_T) = mean over the batch of "
                "-sum_i p_T,i log p_T,i")
    return None


def check_entropy_gap(fn) -> Verdict:
    """Check yourself 3.1: the reader's ``entropy_gap(teacher_logits, T)``, CE - KL from the teacher alone."""
    return check("Check yourself 3.1", fn, diagnose_entropy_gap,
                 todo="write entropy_gap(teacher_logits, T) in the cell above, from the teacher's logits and T only",
                 praise=f"CE - KL is the teacher's mean entropy on {len(KD_EDGES) + 2} batches (T = 1, large logits and a "
                        "batch of one among them): a constant for the student")


# ------------------------------------------------------------------------------------------------ Check yourself 6.1


def _attention_cases():
    gen = torch.Generator().manual_seed(7)
    shapes = [((6, 5, 4, 3), 1.0), ((1, 8, 7, 7), 1.0), ((3, 1, 5, 5), 1.0), ((4, 16, 6, 6), 30.0), ((2, 3, 1, 9), 1.0)]
    return [scale * torch.randn(*shape, generator=gen) for shape, scale in shapes]


def diagnose_attention_map(fn) -> str | None:
    for A in _attention_cases():
        out, changed = _call_unchanged(fn, (A,), ("features",))
        if changed:
            return changed
        if not isinstance(out, torch.Tensor):
            return f"return a tensor, got {type(out).__name__}"
        ref = attention_map(A)
        B, C, H, W = A.shape
        if tuple(out.shape) != tuple(ref.shape):
            if tuple(out.shape) == (B, H, W):
                return "flatten the map: one row of H*W values per example, shape (batch, H*W)"
            if tuple(out.shape) == (B, C):
                return "you reduced over the spatial positions; reduce over the channels (dim=1) and keep H*W positions"
            return f"expected shape (batch, H*W) = {tuple(ref.shape)}, got {tuple(out.shape)}"
        if not _close_tensors(out, ref, rtol=1e-5):
            if torch.allclose(out, F.normalize(A.abs().mean(1).flatten(1), dim=1), atol=1e-6):
                return "square the activations (p = 2) before averaging over channels: the paper's |A|^2"
            if torch.allclose(out, F.normalize(A.pow(2).mean(1), dim=2).flatten(1), atol=1e-6) or torch.allclose(out, F.normalize(A.pow(2).mean(1), dim=1).flatten(1), atol=1e-6):
                return "normalize the whole flattened map (all H*W values together), not one row or column of it"
            if torch.allclose(out, A.pow(2).mean(1).flatten(1), atol=1e-5) or torch.allclose(out, A.pow(2).sum(1).flatten(1), atol=1e-5):
                return "the map is not normalized: divide by its L2 norm (F.normalize(..., dim=1)) so student and teacher compare directions"
            if torch.allclose(out, F.normalize(A.mean(1).flatten(1), dim=1), atol=1e-6):
                return "averaging signed activations lets positive and negative cancel: use |A|^2"
            if torch.allclose(out, F.normalize(A.pow(2).flatten(1), dim=1)[:, : ref.shape[1]], atol=1e-6):
                return "reduce over the channels first (mean over dim=1), then flatten"
            return f"on features of shape {tuple(A.shape)}: Q = normalize(mean over channels of A², flattened over H*W); compare your steps with that"
        # the map is used inside a loss: it must pass gradients back to the student's features
        w = torch.randn(ref.shape, generator=torch.Generator().manual_seed(11))
        a1 = A.clone().requires_grad_(True)
        out1 = fn(a1)
        if not isinstance(out1, torch.Tensor) or not out1.requires_grad:
            return "the map has no gradient: the student learns through it, so no .detach(), .data, NumPy or torch.no_grad()"
        (g,) = torch.autograd.grad((out1 * w).sum(), a1, allow_unused=True)
        a2 = A.clone().requires_grad_(True)
        (g_ref,) = torch.autograd.grad((attention_map(a2) * w).sum(), a2)
        if g is None or not _close_tensors(g, g_ref, rtol=1e-4):
            return "the values are right but the gradient is not: compute the map from the features with differentiable ops"
    return None


def check_attention_map(fn) -> Verdict:
    """Check yourself 6.1: the reader's ``attention_map(features)``."""
    return check("Check yourself 6.1", fn, diagnose_attention_map, todo="write attention_map in the cell above, then rerun it",
                 praise="it matches the paper's map on five shapes (a batch of one and a single channel among them), values "
                        "and gradients: mean of A² over channels, flattened, L2-normalized (a sum over channels works too)")


# ----------------------------------------------------------------------------------------------- spot the bug (7.1-7.4)


def _toy_problem(seed: int = 0, n: int = 32):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 6, generator=gen)
    y = torch.randint(0, 4, (n,), generator=gen)

    def net(hidden=16, dropout=0.0, s=0):
        torch.manual_seed(s)
        layers = [nn.Linear(6, hidden), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else []) + [nn.Linear(hidden, 4)]
        return nn.Sequential(*layers)
    return X, y, net


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def diagnose_train_step(train_step) -> str | None:
    """Spot the bug 7.1 (000-4): one distillation step must move the student toward a frozen teacher only.

    The teacher arrives as it leaves training: in ``train()`` mode (with dropout) and with weights that require
    gradients. The step must leave its weights and their ``.grad`` alone, use it in eval mode, and equal one SGD
    step on ``kd_loss`` for several (T, alpha), batch sizes and problems; ``x`` and ``y`` must be unchanged.
    """
    import copy

    lr = 0.1
    seed = int.from_bytes(__import__("os").urandom(2), "little")
    for n, T, alpha, data_seed in ((32, 4.0, 0.9, 0), (32, 1.0, 0.5, seed), (1, 2.0, 1.0, seed + 1), (9, 3.0, 0.0, seed + 2)):
        X, y, net = _toy_problem(data_seed, n)
        results_ = {}
        for name, teacher_seed in (("A", 1), ("A again", 1), ("B", 2)):
            teacher = net(32, dropout=0.5, s=teacher_seed)  # a teacher with dropout, as trained (left in train mode)
            before = copy.deepcopy(teacher.state_dict())
            student = net(8, s=0)
            opt_s = torch.optim.SGD(student.parameters(), lr=lr)
            opt_t = torch.optim.SGD(teacher.parameters(), lr=lr)
            torch.manual_seed(99 if name != "A again" else 100)  # different dropout masks, if the teacher still drops
            x_in, y_in = X.clone(), y.clone()
            train_step(student, teacher, x_in, y_in, opt_s, opt_t, T, alpha)
            if not (torch.equal(x_in, X) and torch.equal(y_in, y)):
                return "train_step changed x or y in place: the batch belongs to the caller; compute new tensors instead"
            if any(not torch.equal(before[k], teacher.state_dict()[k]) for k in before):
                return "the teacher's weights changed: a teacher is trained first and then frozen; do not step its optimizer"
            if any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in teacher.parameters()):
                return ("gradients reached the teacher's weights (their .grad filled): run the teacher under torch.no_grad() "
                        "or detach its logits, so backward() does not go through it")
            results_[name] = student
        flat = {k: _flat(s) for k, s in results_.items()}
        if alpha > 0 and torch.allclose(flat["A"], flat["B"]):
            return "the student's update is the same whatever the teacher: no teacher output reaches the student's loss"
        if alpha > 0 and not torch.allclose(flat["A"], flat["A again"]):
            return "the same teacher gives different updates: it is still in train() mode, so dropout changes its targets; call teacher.eval()"
        teacher = net(32, dropout=0.5, s=1).eval()
        student = net(8, s=0)
        if torch.allclose(flat["A"], _flat(student)):
            return "the student did not move: step its optimizer on the loss (zero_grad, backward, step)"
        with torch.no_grad():
            v = teacher(X)
        loss = losses.kd_loss(student(X), v, y, T=T, alpha=alpha)
        opt = torch.optim.SGD(student.parameters(), lr=lr)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if not torch.allclose(flat["A"], _flat(student), rtol=1e-4, atol=1e-6):
            return (f"at T = {T:g}, alpha = {alpha:g}, a batch of {n}: the student's step differs from one step on "
                    "kd_loss(student(x), teacher(x), y, T, alpha)")
    return None


def check_train_step(fn) -> Verdict:
    """Spot the bug 7.1: the seed's side-by-side training (000-4), fixed."""
    return check("Spot the bug 7.1", fn, diagnose_train_step, todo="fix train_step above, then rerun the cell",
                 praise="the teacher is frozen in eval mode, gets no gradient, and its softened outputs drive the student's "
                        "kd_loss step (four settings of T and alpha, a batch of one among them)")


def diagnose_soft_term(fn) -> str | None:
    """Spot the bug 7.2 (001-5): ``soft_term(student_logits, teacher_logits, T)`` must be T² KL(p_T || q_T), batchmean."""
    for z, v, y, T, _, what in _kd_cases():
        _, changed = _call_unchanged(fn, (z, v, T), ("student_logits", "teacher_logits"))
        if changed:
            return changed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = fn(z, v, T)
        if isinstance(raw, torch.Tensor) and raw.numel() == 1 and not torch.isfinite(raw):
            if what.startswith("large logits"):
                return ("NaN or infinite at large logits: take logs with log_softmax, not torch.log(softmax(...)), which "
                        "gives log 0 where a probability rounds to 0")
            return "the loss is NaN: KLDivLoss takes the target as probabilities; pass softmax(v / T), or set log_target=True"
        if isinstance(raw, torch.Tensor) and raw.numel() != 1:
            return f"return one number (the batch's loss), got shape {tuple(raw.shape)}"
        value, gz, gv, problem = _loss_and_grads(fn, (z, v, T))
        if problem:
            return problem
        ref_value, ref_g, _, _ = _loss_and_grads(lambda s, t, TT: losses.soft_loss(s, t, TT), (z, v, T), teacher=None)
        if _close_tensors(value, ref_value) and _close_tensors(gz, ref_g):
            if gv is not None and gv.abs().max() > 0:
                return ("right value and gradient, but gradients reach the teacher's logits: detach them "
                        "(teacher_logits.detach()); the teacher is frozen")
            continue
        C = z.shape[1]
        ref = ref_value.item()
        kl = losses.soft_loss(z, v, T, scale=False).item()
        value = value.item()
        if close(value, ref / C, rel=1e-4) or close(value, kl / C, rel=1e-4):
            return "the default reduction 'mean' also divides by the number of classes: use reduction='batchmean'"
        if close(value, kl, rel=1e-4) and T != 1:
            return "the T² factor is missing"
        if close(value, losses.soft_loss(z, v, 1.0).item() / C, rel=1e-4):
            return ("two mistakes: no temperature (divide both logits by T, multiply the KL by T²), and the default "
                    "reduction 'mean', which also divides by the number of classes (use reduction='batchmean')")
        if close(value, losses.soft_loss(z, v, 1.0).item(), rel=1e-4) and T != 1:
            return "no temperature: divide both logits by T before the softmax, and multiply the KL by T²"
        rev = F.kl_div(F.log_softmax(v / T, 1), F.softmax(z / T, 1), reduction="batchmean").item()
        if close(value, rev * T * T, rel=1e-4) or close(value, rev, rel=1e-4):
            return "the KL is reversed: the student's log-probabilities are the input, the teacher's probabilities the target"
        if close(value, ref, rel=1e-4):
            return "the value is right but the gradient is not: compute the loss from the student's logits with differentiable ops"
        return f"on {what} (T = {T:g}, a batch of {len(z)}) your value differs from T² KL(p_T || q_T)"
    return None


def check_soft_term(fn) -> Verdict:
    """Spot the bug 7.2: seed 001-5's KLDivLoss call, fixed."""
    return check("Spot the bug 7.2", fn, diagnose_soft_term, todo="fix soft_term above, then rerun the cell",
                 praise="T² KL(p_T || q_T), averaged over the batch: values and gradients right at T = 1, at large logits "
                        "and for a batch of one")


def diagnose_soft_label_loss(fn) -> str | None:
    """Spot the bug 7.3 (004-1): ``loss(outputs, labels, teacher_logits, T, alpha)``: kd_loss's gradient, and its value
    either kd_loss's or, written with cross-entropy and soft targets, kd_loss's plus alpha T² H(p_T)."""
    as_kd = lambda z, v, y, T, a: fn(z, y, v, T, a)  # noqa: E731 (the snippet's argument order)
    cases = _kd_cases()
    for z, v, y, T, a, what in cases:
        _, changed = _call_unchanged(fn, (z, y, v, T, a), ("outputs", "labels", "teacher_logits"))
        if changed:
            return changed
        value, gz, gv, problem = _loss_and_grads(fn, (z, y, v, T, a), student=0, teacher=2)
        if problem:
            return problem
        if not torch.isfinite(value) or not torch.isfinite(gz).all():
            return f"the loss is NaN or infinite on {what}: use log_softmax (or F.cross_entropy), never torch.log(softmax(...))"
        ref_value, ref_g, _, _ = _loss_and_grads(_reference_kd, (z, v, y, T, a), teacher=None)
        entropy_term = torch.tensor(a * T * T * _entropy(v, T))
        same_value = _close_tensors(value, ref_value) or _close_tensors(value, ref_value + entropy_term)
        if same_value and _close_tensors(gz, ref_g):
            if gv is not None and gv.abs().max() > 0:
                return ("right value and gradient, but gradients reach the teacher's logits: detach them "
                        "(teacher_logits.detach()); the teacher is frozen")
            continue
        named = _named_mistake(as_kd, cases, with_value=False)
        if named:
            return named
        if _close_tensors(gz, ref_g):
            return (f"the gradient is right but the value is off by {value.item() - ref_value.item():.3g} on {what}: the loss is "
                    "(1 - alpha) * CE(outputs, labels) + alpha * T² * CE(outputs / T, softmax(teacher_logits / T)), nothing added")
        return (f"on {what} (T = {T:g}, alpha = {a:g}) the gradient differs from kd_loss's: (1 - alpha) * CE(outputs, labels) "
                "+ alpha * T² * CE(outputs / T, softmax(teacher_logits / T)), the second with a probability target")
    return None


def check_soft_label_loss(fn) -> Verdict:
    """Spot the bug 7.3: seed 004-1's three-argument CrossEntropyLoss, fixed."""
    return check("Spot the bug 7.3", fn, diagnose_soft_label_loss, todo="fix loss_with_soft_labels above, then rerun the cell",
                 praise="kd_loss's gradient, and its value up to the teacher's entropy (cross-entropy with soft targets is "
                        "the KL plus that constant), at T = 1, alpha = 0 and 1, large logits and a batch of one")


class _CountingTeacher(nn.Module):
    """Counts the examples that pass through the teacher: a cache runs it once per example."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner, self.rows = inner, 0

    def forward(self, x):
        self.rows += len(x)
        return self.inner(x)


def diagnose_cache(fn) -> str | None:
    """Spot the bug 7.4 (002-S4): ``fn(teacher, dataset, epochs, batch_size, seed)`` -> [(x, y, teacher_logits)], aligned,
    with the teacher run once per example (a cache), and the dataset unchanged."""
    for n, epochs, batch_size, data_seed in ((200, 2, 32, 3), (37, 3, 8, 5), (5, 2, 1, 6)):
        gen = torch.Generator().manual_seed(data_seed)
        X = torch.randn(n, 6, generator=gen)
        y = torch.randint(0, 4, (n,), generator=gen)
        torch.manual_seed(4)
        inner = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
        teacher = _CountingTeacher(inner)
        X0, y0 = X.clone(), y.clone()
        pairs = list(fn(teacher, Indexed(X, y), epochs, batch_size, 0))
        if not (torch.equal(X, X0) and torch.equal(y, y0)):
            return "the dataset's tensors changed: the cache must not write into the data"
        expected = epochs * math.ceil(n / batch_size)
        if len(pairs) != expected:
            return f"expected one (x, y, teacher_logits) triple per batch for {epochs} epochs ({expected}), got {len(pairs)}"
        aligned = 0
        for xb, yb, t in pairs:
            t = torch.as_tensor(t)
            if t.requires_grad:
                return "the cached outputs carry an autograd graph: compute the cache under torch.no_grad()"
            with torch.no_grad():
                aligned += int(t.shape == (len(xb), 4) and torch.allclose(t, inner(xb), atol=1e-5))
        if aligned < len(pairs):
            return (f"{len(pairs) - aligned} of {len(pairs)} batches get teacher outputs computed for other examples: "
                    "the loader reshuffles every epoch; store the cache by example index and read cache[i]")
        if teacher.rows > n:
            return (f"the teacher ran on {teacher.rows} examples for a data set of {n}: that is no cache; run it once per "
                    "example, keep the outputs by example index, and read them back in every epoch")
        first, second = pairs[: len(pairs) // epochs], pairs[len(pairs) // epochs: 2 * len(pairs) // epochs]
        if n > 1 and all(torch.equal(a[1], b[1]) for a, b in zip(first, second)) and all(torch.equal(a[0], b[0]) for a, b in zip(first, second)):
            return "aligned, but only because the order never changes: keep shuffle=True and index the cache by example"
    return None


def check_cache(fn) -> Verdict:
    """Spot the bug 7.4: seed 002-S4's cache in loader order, fixed."""
    return check("Spot the bug 7.4", fn, diagnose_cache, todo="fix cached_teacher_batches above, then rerun the cell",
                 praise="every batch, in every shuffled epoch, gets the teacher's outputs for its own examples, and the "
                        "teacher ran once per example")
