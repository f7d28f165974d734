"""Forward KL, reverse KL and the generalized Jensen-Shannon divergence between them, per token.

GKD (Agarwal et al. 2024, *On-Policy Distillation of Language Models*, eq. 1) interpolates between the two KLs a
language-model student can be trained on. With P the teacher's next-token distribution and Q the student's:

* ``beta = 0``: forward KL(P || Q) (正向 KL), Hinton's soft loss. Q pays wherever P has mass and Q has little, so it
  spreads over every mode of P (mode covering, 模式覆盖).
* ``beta = 1``: reverse KL(Q || P) (反向 KL), MiniLLM's (Gu et al. 2024). Q pays wherever Q has mass and P has little,
  so it settles on one mode of P and leaves the others (mode seeking, 模式寻求).
* ``0 < beta < 1``: ``JSD(beta) = beta KL(P || M) + (1 - beta) KL(Q || M)`` with the mixture
  ``M = beta P + (1 - beta) Q``. It is bounded (at most ``-beta log beta - (1 - beta) log(1 - beta)``, log 2 at
  ``beta = 0.5``), where either KL can grow without limit.

:func:`generalized_jsd` computes it per token and averages over the tokens that count. :func:`batchmean_scale_error`
shows what ``F.kl_div(..., reduction="batchmean")`` does to (B, S, V) logits. The beta explorer fits a one-Gaussian
student to a two-mode target on a grid (the grid points play the vocabulary): :func:`fit_one_mode`,
:func:`one_mode_fits`, :func:`one_mode_verdicts`, :func:`plot_one_mode` and :func:`divergence_explorer`.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..i18n import N_, _
from ..losses import _check_mask, _check_pair, check_temperature
from ..plots import DISTILLED, TEACHER, subplots
from ..verdicts import Verdicts
from ..widgets import Explorer, new_figure, slider_layout

__all__ = ["check_beta", "generalized_jsd", "batchmean_scale_error", "GRID", "MODES", "MODE_WEIGHTS", "MODE_STD", "BETAS",
           "bimodal_target", "mode_mass", "fit_one_mode", "one_mode_fits", "one_mode_verdicts", "plot_one_mode",
           "DivergenceExplorer", "divergence_explorer"]


def check_beta(beta) -> float:
    """Return ``beta`` as a float, or raise unless it is a number in [0, 1]."""
    if isinstance(beta, torch.Tensor) and beta.numel() == 1:
        beta = beta.item()
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
        raise TypeError(f"beta must be a number in [0, 1], got {type(beta).__name__}")
    beta = float(beta)
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}: 0 is forward KL(P || Q), 1 is reverse KL(Q || P), "
                         "and values between mix the two distributions (generalized JSD)")
    return beta


def _kl_rows(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """KL(a || b) of each row (last dimension) from log-probabilities; ``F.kl_div(input, target)`` is KL(target || input)."""
    return F.kl_div(log_b, log_a, reduction="none", log_target=True).sum(-1)


def _jsd_rows(log_q: torch.Tensor, log_p: torch.Tensor, beta) -> torch.Tensor:
    """JSD(beta) of each row, from the student's ``log_q`` and the teacher's ``log_p``; no checks.

    ``beta`` is a float, or a tensor of shape ``log_q.shape[:-1]`` (one beta per row: the explorer fits every beta of
    its slider at once). The ends are the two KLs, not the mixture formula, which tends to 0 there.
    """
    per_row = torch.is_tensor(beta)
    if not per_row and beta == 0.0:
        return _kl_rows(log_p, log_q)
    if not per_row and beta == 1.0:
        return _kl_rows(log_q, log_p)
    b = torch.as_tensor(beta, dtype=log_q.dtype).clamp(1e-12, 1 - 1e-12)  # inside (0, 1): the logs stay finite
    log_m = torch.logaddexp(log_p + b.log().unsqueeze(-1), log_q + torch.log1p(-b).unsqueeze(-1))  # log of the mixture
    mixed = b * _kl_rows(log_p, log_m) + (1 - b) * _kl_rows(log_q, log_m)
    if not per_row:
        return mixed
    return torch.where(beta == 0, _kl_rows(log_p, log_q), torch.where(beta == 1, _kl_rows(log_q, log_p), mixed))


def generalized_jsd(student_logits: torch.Tensor, teacher_logits: torch.Tensor, beta: float = 0.5, T: float = 1.0,
                    mask: torch.Tensor | None = None, scale: bool = False) -> torch.Tensor:
    r"""GKD's generalized Jensen-Shannon divergence JSD(beta) per token, averaged over the tokens that count.

    .. math::  \mathrm{JSD}(\beta) = \beta\,\mathrm{KL}(P \| M) + (1-\beta)\,\mathrm{KL}(Q \| M),
               \quad M = \beta P + (1 - \beta) Q

    with ``P = softmax(teacher_logits / T)`` and ``Q = softmax(student_logits / T)`` over the last dimension (the
    vocabulary). ``beta = 0`` is forward KL(P || Q) (Hinton's soft loss, mode covering), ``beta = 1`` reverse
    KL(Q || P) (MiniLLM's, mode seeking); between, the student and teacher are compared through their mixture, and the
    value is bounded. As ``beta -> 0`` the mixture formula tends to 0, not to forward KL: M tends to Q, both terms
    vanish, and it is ``JSD(beta) / beta`` that tends to KL(P || Q), as the GKD paper notes; likewise ``JSD(beta) / (1 - beta)``
    tends to KL(Q || P) as ``beta -> 1``. So the ends are computed as the plain KLs, and the value jumps there.

    Logits are (C,), (B, C) or (B, S, C); ``mask`` (bool, ``logits.shape[:-1]``, True = a token that counts, e.g.
    ``labels != -100``) selects tokens, and the mean is over the selected tokens, not over B. ``scale=True``
    multiplies by ``T**2`` (Hinton's correction, which keeps the gradient's size as T grows). The teacher's logits
    are detached. The mixture is formed in log space, ``log M = logaddexp(log P + log beta, log Q + log1p(-beta))``, so
    no probability is rounded to 0 before its log is taken.

    **TRL.** ``trl.experimental.gkd.GKDTrainer.generalized_jsd_loss`` (TRL 1.16) computes the same per-token value: it
    divides both logits by the temperature, takes ``log_softmax``, forms ``log M`` with ``torch.logsumexp`` over
    ``[log Q + log1p(-beta), log P + log(beta)]`` (M = beta teacher + (1 - beta) student), and takes the two KLs with
    ``F.kl_div(log M, ..., log_target=True)``; ``beta == 0`` and ``beta == 1`` are special cases computed as plain
    forward and reverse KL, for the reason above. It masks with ``labels != -100`` and, with
    ``reduction="batchmean"``, divides the sum by the number of valid tokens (``mask.sum().clamp_min(1)``), or by
    ``num_items_in_batch`` when the trainer passes it. It does **not** multiply by ``T**2``: its value is this
    function's with ``scale=False``. Without labels, its ``"batchmean"`` divides by ``jsd.size(0)``, the batch size B
    of (B, S, V) logits: the sum over all B*S tokens (padding included) divided by B, S times a per-token mean (see
    :func:`batchmean_scale_error`). And ``GKDTrainer.compute_loss`` calls it without a temperature, so the loss it
    trains on is at T = 1; ``GKDConfig.temperature`` sets only the sampling temperature of the generated sequences.
    """
    T = check_temperature(T)
    beta = check_beta(beta)
    _check_pair(student_logits, teacher_logits)
    if not isinstance(scale, bool):
        raise TypeError(f"scale must be True or False, got {type(scale).__name__}")
    log_q = F.log_softmax(student_logits / T, dim=-1)
    log_p = F.log_softmax(teacher_logits.detach() / T, dim=-1)  # the teacher is frozen: no gradient flows to it
    per_token = _jsd_rows(log_q, log_p, beta)
    if mask is not None:
        per_token = per_token[_check_mask(mask, student_logits)]
    value = per_token.mean()
    return value * T * T if scale else value


def batchmean_scale_error(B: int = 4, S: int = 12, V: int = 50, seed: int = 0) -> dict:
    """What ``F.kl_div(..., reduction="batchmean")`` gives on (B, S, V) logits, against the per-token mean.

    Random student and teacher logits; without padding, and then with the second half of the sequences padded at
    their ends (at least one valid token each). "batchmean" divides the sum over every token by B, the first
    dimension, so without padding it is S times the per-token KL; with padding (the KL of a padded token set to 0) it
    is (valid tokens / B) times the mean over the valid tokens. Returns those numbers as floats.
    """
    gen = torch.Generator().manual_seed(seed)
    z, v = 2 * torch.randn(B, S, V, generator=gen), 2 * torch.randn(B, S, V, generator=gen)
    log_q, log_p = F.log_softmax(z, -1), F.log_softmax(v, -1)
    lengths = torch.tensor([S if b < (B + 1) // 2 else max(1, S // 2 - b) for b in range(B)])
    valid = torch.arange(S) < lengths[:, None]
    per_token = _kl_rows(log_p, log_q)
    no_pad = F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)
    padded = F.kl_div(torch.where(valid[..., None], log_q, log_p), log_p, reduction="batchmean", log_target=True)
    return {"B": B, "S": S, "V": V, "valid tokens": int(valid.sum()),
            "batchmean, no padding": float(no_pad), "per-token mean, no padding": float(per_token.mean()),
            "ratio, no padding": float(no_pad / per_token.mean()),
            "batchmean, padding": float(padded), "per-valid-token mean": float(per_token[valid].mean()),
            "ratio, padding": float(padded / per_token[valid].mean()),
            "generalized_jsd(beta=0, mask=valid)": float(generalized_jsd(z, v, beta=0.0, mask=valid))}


# ------------------------------------------------------------------------------------------------ the beta explorer

#: The explorer's "vocabulary": 201 points from -6 to 6 (a class per point).
GRID = np.linspace(-6.0, 6.0, 201)
#: The target's two modes, their weights and their common standard deviation: far enough apart that a single
#: Gaussian must either cover both or sit on one.
MODES, MODE_WEIGHTS, MODE_STD = (-2.5, 2.5), (0.6, 0.4), 0.7
#: The slider's positions.
BETAS = tuple(round(0.05 * k, 2) for k in range(21))
#: A student "covers both modes" when each mode holds at least this much of its mass, and "picks one mode" when one
#: mode holds at least ``1 - COVERS`` of it and the other less than a hundredth.
COVERS = 0.1


def bimodal_target() -> torch.Tensor:
    """The teacher's "logits" on :data:`GRID`: the log density of the mixture of two Gaussians (float64)."""
    x = torch.as_tensor(GRID)
    parts = [math.log(w) - (x - m) ** 2 / (2 * MODE_STD ** 2) for m, w in zip(MODES, MODE_WEIGHTS)]
    return torch.logsumexp(torch.stack(parts), 0)


def _target_probs() -> np.ndarray:
    """P on :data:`GRID`, as NumPy."""
    return torch.softmax(bimodal_target(), -1).numpy()


def _one_gaussian_logits(mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """The student's logits on :data:`GRID`: a discretized Gaussian per (mean, log_std), shape ``mean.shape + (201,)``."""
    x = torch.as_tensor(GRID)
    return -(x - mean.unsqueeze(-1)) ** 2 / (2 * torch.exp(2 * log_std).unsqueeze(-1))


def mode_mass(q) -> dict[str, float]:
    """The fraction of ``q``'s mass (a distribution on :data:`GRID`) within two mode-widths of each mode."""
    q = np.asarray(q, dtype=float)
    near = [np.abs(GRID - m) < 2 * MODE_STD for m in MODES]
    return {"left": float(q[near[0]].sum()), "right": float(q[near[1]].sum())}


def _behaviour(mass: dict[str, float], say=N_) -> str:
    """What the student does, in English (the fits' data); ``say=_`` gives the sentence shown to the reader."""
    small, large = sorted(mass.values())
    if small >= COVERS:
        return say(N_("covers both modes"))
    if large >= 1 - COVERS and small < 0.01:
        side = max(mass, key=mass.get)
        share = MODE_WEIGHTS[0 if side == "left" else 1]
        one = N_("picks one mode (the left one, {share:.0%} of P)") if side == "left" else \
            N_("picks one mode (the right one, {share:.0%} of P)")
        return say(one).format(share=share)
    return say(N_("leans to one mode"))


@functools.lru_cache(maxsize=8)
def _fit(betas: tuple[float, ...], steps: int = 200) -> dict[str, np.ndarray]:
    """The one-Gaussian fits for ``betas``, one row each: ``q`` (K, 201), ``divergence``, ``forward_kl``, ``reverse_kl``.

    Two deterministic stages, every beta at once (Adam is elementwise and each row's loss reads only its own row, so
    this is the same as fitting them one by one). First the best of a coarse grid of starts (means -5 to 5, standard
    deviations 0.2 to 4), then ``steps`` Adam steps on JSD(beta) (:func:`_jsd_rows`, the code of
    :func:`generalized_jsd`) with a cosine-decayed step size. The grid matters: from one fixed start between the modes,
    gradient descent stays in the wide, covering solution for beta up to about 0.95, a local minimum, and the figure
    would show the start rather than what each divergence prefers. The arrays are cached and read-only.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tensors this small: one thread is fastest, far faster than two on a busy machine
    try:
        out = _fit_two_stages(torch.tensor(betas, dtype=torch.float64), steps)
    finally:
        torch.set_num_threads(threads)
    for a in out.values():
        a.flags.writeable = False
    return out


def _fit_two_stages(beta: torch.Tensor, steps: int) -> dict[str, np.ndarray]:
    log_p = F.log_softmax(bimodal_target(), -1)
    means = torch.linspace(-5, 5, 21, dtype=torch.float64)
    log_stds = torch.linspace(math.log(0.2), math.log(4.0), 12, dtype=torch.float64)
    m, s = (g.reshape(-1, 1).expand(-1, len(beta)) for g in torch.meshgrid(means, log_stds, indexing="ij"))
    start = _jsd_rows(F.log_softmax(_one_gaussian_logits(m, s), -1), log_p, beta.expand_as(m)).argmin(0)
    cols = torch.arange(len(beta))
    params = torch.stack([m[start, cols], s[start, cols]], 1)

    def student(x):
        return F.log_softmax(_one_gaussian_logits(x[:, 0], x[:, 1]), -1)

    # Adam's update (the defaults of torch.optim.Adam, step size 0.05 decayed on a cosine to 0), written out: the first
    # torch.optim optimizer of a process imports torch._dynamo, about 2 s on these machines, more than the whole fit.
    first, second = torch.zeros_like(params), torch.zeros_like(params)
    for t in range(1, steps + 1):
        x = params.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(_jsd_rows(student(x), log_p, beta).sum(), x)
        first, second = 0.9 * first + 0.1 * grad, 0.999 * second + 0.001 * grad * grad
        size = 0.025 * (1 + math.cos(math.pi * (t - 1) / steps))
        params = params - size * (first / (1 - 0.9 ** t)) / ((second / (1 - 0.999 ** t)).sqrt() + 1e-8)
    with torch.no_grad():
        log_q = student(params)
        return {"q": log_q.exp().numpy(), "divergence": _jsd_rows(log_q, log_p, beta).numpy(),
                "forward_kl": _kl_rows(log_p, log_q).numpy(), "reverse_kl": _kl_rows(log_q, log_p).numpy()}


def _fits(betas) -> list[dict]:
    """:func:`fit_one_mode`'s dict for each of ``betas``, fitted together."""
    betas = tuple(check_beta(b) for b in betas)
    fit = _fit(betas)
    out = []
    for k, beta in enumerate(betas):
        q = fit["q"][k].copy()
        mean = float((q * GRID).sum())
        mass = mode_mass(q)
        out.append({"beta": beta, "mean": mean, "std": float(np.sqrt((q * (GRID - mean) ** 2).sum())), "q": q,
                    "divergence": float(fit["divergence"][k]), "forward_kl": float(fit["forward_kl"][k]),
                    "reverse_kl": float(fit["reverse_kl"][k]), "mass": mass, "behaviour": _behaviour(mass)})
    return out


def fit_one_mode(beta: float) -> dict:
    """The one-Gaussian student that minimizes JSD(beta) against the two-mode target (:func:`bimodal_target`).

    Returns ``beta``, the student's ``mean`` and ``std`` (of Q on the grid), ``q`` (its 201 probabilities),
    ``divergence`` (JSD(beta) at the fit), ``forward_kl`` KL(P || Q), ``reverse_kl`` KL(Q || P), ``mass``
    (:func:`mode_mass`) and ``behaviour`` ("covers both modes", "picks one mode (...)" or "leans to one mode").
    Deterministic: the same numbers every call (see :func:`_fit`).
    """
    return _fits([beta])[0]


def one_mode_fits(betas=BETAS) -> pd.DataFrame:
    """One row per beta: the fitted student's mean, std, mass on each mode, the divergences, and what it does.

    ``attrs`` holds the target's mean and std (``target_mean``, ``target_std``), which forward KL matches.
    """
    rows = [{"beta": f["beta"], "mean": f["mean"], "std": f["std"], "mass on left mode": f["mass"]["left"],
             "mass on right mode": f["mass"]["right"], "JSD(beta)": f["divergence"], "KL(P||Q)": f["forward_kl"],
             "KL(Q||P)": f["reverse_kl"], "student": f["behaviour"]} for f in _fits(betas)]
    table = pd.DataFrame(rows).set_index("beta")
    p = _target_probs()
    mean = float((p * GRID).sum())
    table.attrs.update(target_mean=mean, target_std=float(np.sqrt((p * (GRID - mean) ** 2).sum())))
    return table


def one_mode_verdicts(fits: pd.DataFrame | None = None) -> Verdicts:
    """The claims the beta explorer illustrates, each computed from :func:`one_mode_fits` (which must hold 0 and 1)."""
    fits = one_mode_fits() if fits is None else fits
    if not {0.0, 1.0} <= set(fits.index):
        raise ValueError("one_mode_verdicts needs the fits at beta = 0 and beta = 1")
    fwd, rev = fits.loc[0.0], fits.loc[1.0]
    mode = min(MODES, key=lambda m: abs(m - rev["mean"]))
    rev_mass = max(rev["mass on left mode"], rev["mass on right mode"])
    stds = fits.sort_index()["std"].to_numpy()
    covering = [b for b, s in fits["student"].items() if s == "covers both modes"]
    one = [b for b, s in fits["student"].items() if s.startswith("picks one mode")]
    between = [b for b in fits.index if b not in covering + one]
    return Verdicts({
        _("At beta = 0 (forward KL) the student covers both modes: its std ({std:.2f}) is more than twice a "
          "mode's ({mode_std}), its mean ({mean:+.2f}) lies between the modes, and each mode holds at least "
          "{covers:.0%} of its mass.").format(std=fwd['std'], mode_std=MODE_STD, mean=fwd['mean'], covers=COVERS):
            fwd["std"] > 2 * MODE_STD and MODES[0] + MODE_STD < fwd["mean"] < MODES[1] - MODE_STD
            and fwd["student"] == "covers both modes",
        _("At beta = 0 the student has the target's mean ({mean:+.2f}) and std "
          "({std:.2f}): forward KL to a Gaussian matches moments.").format(mean=fits.attrs['target_mean'],
                                                                          std=fits.attrs['target_std']):
            abs(fwd["mean"] - fits.attrs["target_mean"]) < 0.01 and abs(fwd["std"] - fits.attrs["target_std"]) < 0.01,
        _("At beta = 1 (reverse KL) the student picks one mode: its mean ({mean:+.2f}) is within one mode-width of "
          "the mode at {mode:+g}, its std ({std:.2f}) within 10% of that mode's, and {mass:.0%} of its mass "
          "is on it.").format(mean=rev['mean'], mode=mode, std=rev['std'], mass=rev_mass):
            abs(rev["mean"] - mode) < MODE_STD and abs(rev["std"] / MODE_STD - 1) < 0.1 and rev_mass >= 1 - COVERS,
        _("The student's std shrinks as beta grows, from {first:.2f} to {last:.2f}, never growing by more than 1% "
          "from one beta to the next.").format(first=stds[0], last=stds[-1]):
            bool(np.all(stds[1:] <= stds[:-1] * 1.01)) and stds[-1] < stds[0],
        _("It switches once, from covering both modes (beta up to {covering:.2f}) to one mode (beta from "
          "{one:.2f}).").format(covering=max(covering, default=float('nan')), one=min(one, default=float('nan'))):
            bool(covering) and bool(one) and max(covering) < min(one) and not between,
    })


def _panel(ax, ymax: float) -> dict:
    """Draw the explorer's panel once, student empty: the target shaded, the student's line, a title; return the artists."""
    p = _target_probs()
    ax.fill_between(GRID, p, color=TEACHER, alpha=0.35, lw=0, label=_("teacher P: two modes"))
    (line,) = ax.plot(GRID, np.zeros_like(GRID), color=DISTILLED, lw=2.5, label=_("student Q: one Gaussian"))
    mean = ax.axvline(0.0, color=DISTILLED, lw=1, ls="--", label=_("student's mean"))
    ax.set_xlim(GRID[0], GRID[-1])
    ax.set_ylim(0, ymax)
    ax.set_xlabel(_("token (the {n} grid points are the vocabulary)").format(n=len(GRID)))
    ax.set_ylabel(_("probability"))
    ax.legend(loc="upper right")
    return {"line": line, "mean": mean, "title": ax.set_title("", loc="left")}


def _move(artists: dict, fit: dict, numbers: bool = False) -> None:
    """Show ``fit`` on the panel's artists; ``numbers`` adds a second title line with its mean, std and mass per mode
    (the static twin's readout; the live explorer shows them as page text above the figure)."""
    artists["line"].set_ydata(fit["q"])
    artists["mean"].set_xdata([fit["mean"], fit["mean"]])
    name = {0.0: _("forward KL"), 1.0: _("reverse KL")}.get(fit["beta"]) or "JSD(beta = {beta:.2f})".format(beta=fit["beta"])
    title = _("{name}: {behaviour}").format(name=name, behaviour=_behaviour(fit["mass"], _))
    if numbers:
        title += "\n" + _("student mean {mean:+.2f}, std {std:.2f}; mass on the left mode {left:.0%}, on the right "
                          "{right:.0%}").format(mean=fit["mean"], std=fit["std"], left=fit["mass"]["left"],
                                               right=fit["mass"]["right"])
    artists["title"].set_text(title)


def _ymax(fits) -> float:
    return 1.15 * max(float(_target_probs().max()), *(float(f["q"].max()) for f in fits))


def plot_one_mode(beta: float, ax=None, figsize=(8, 3.6)):
    """The explorer's static twin: the one-Gaussian student fitted with JSD(``beta``) over the two-mode target."""
    fit = fit_one_mode(beta)
    new = ax is None
    fig, ax = subplots(ax, figsize)
    artists = _panel(ax, _ymax([fit]))
    _move(artists, fit, numbers=True)
    if new:
        fig.tight_layout()
    return fig


def _readout(fit: dict) -> str:
    return (f"<b>beta = {fit['beta']:.2f}</b> &nbsp;·&nbsp; "
            + _("student mean {mean:+.2f}, std {std:.2f}").format(mean=fit["mean"], std=fit["std"])
            + " &nbsp;·&nbsp; "
            + _("mass on the left mode {left:.0%}, on the right {right:.0%}").format(left=fit["mass"]["left"],
                                                                                     right=fit["mass"]["right"])
            + f" &nbsp;·&nbsp; KL(P||Q) {fit['forward_kl']:.2f}, KL(Q||P) {fit['reverse_kl']:.2f}")


class DivergenceExplorer(Explorer):
    """Try it: a beta slider (control ``"beta"``, 0 to 1 in steps of 0.05) over one-Gaussian students of a two-mode target.

    Every slider position is fitted once when the explorer is built (well under a second); a move looks its fit up and
    moves the student's line, its mean and the title. ``explorer.state`` is the fit on screen (:func:`fit_one_mode`'s
    dict) and :meth:`state_at` any position's, without moving anything.
    """

    def __init__(self, beta: float = 0.0, figsize=(9, 3.6)):
        import ipywidgets as w

        beta = check_beta(beta)
        if beta not in BETAS:
            raise ValueError(f"the slider moves in steps of 0.05 from 0 to 1, got {beta!r}: plot_one_mode draws any beta")
        self.fits = {f["beta"]: f for f in _fits(BETAS)}
        fig = new_figure(figsize)
        self.artists = _panel(fig.add_subplot(), _ymax(self.fits.values()))
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.16, top=0.9)
        slider = w.SelectionSlider(options=[(f"{b:.2f}", b) for b in BETAS], value=beta, description="beta",
                                   continuous_update=True, layout=slider_layout())
        self.readout = w.HTML(layout=w.Layout(margin="2px 0 0 8px"))
        self.readout.add_class("kdnb-readout")
        dynamic = [self.artists["line"], self.artists["mean"], self.artists["title"]]
        super().__init__(fig, {"beta": slider}, self._show, lambda: dynamic, header=self.readout)

    def state_at(self, beta: float) -> dict:
        """The fit shown at slider position ``beta`` (one of :data:`BETAS`)."""
        return self.fits[check_beta(beta)]

    def _show(self, beta: float) -> dict:
        fit = self.state_at(beta)
        _move(self.artists, fit)
        self.readout.value = _readout(fit)
        return fit


def divergence_explorer(beta: float = 0.0, figsize=(9, 3.6)) -> DivergenceExplorer:
    """Build the beta explorer: ``explorer.controls["beta"].value = 1`` moves it as a reader would."""
    return DivergenceExplorer(beta, figsize)
