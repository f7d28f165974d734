"""Retraining a pruned network (004-4): one pruning schedule inside one fine-tuning run, measured over seeds.

:func:`prune_and_train` prunes one-shot, in rounds (Han et al. 2015) or on the gradual cubic
schedule (Zhu & Gupta 2017), every method on the same budget (:data:`FINE_TUNE`);
:func:`retrain_runs` runs them all over seeds (table ``nb06_retrain``), and the rest of this file
reads that table: :func:`retrain_table`, :func:`retrain_summary`, :func:`retrain_comparison`,
:func:`retrain_verdicts` and :func:`plot_retraining`.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import data as kdata
from .. import models, seeds
from ..i18n import N_, _
from ..plots import ALONE, DISTILLED, HARD, SMOOTHED, TEACHER, subplots
from ..recipe import DEFAULT
from ..seeds import Spread
from ..teachers import TEACHERS, load_teacher, train_teacher
from ..training import Run, accuracy, distill, fit, seed_everything
from ..verdicts import Verdicts
from .pruning import adjust_dropout, check_fraction, clone, dropout_rates, prune_global, zeros
from .shown import Shown

#: The model every pruning experiment starts from: the shipped 2x1200 MLP teacher.
BASE = DEFAULT["teacher"]
#: Target sparsities of the retraining comparison (fraction of the Linear weights set to zero).
SPARSITIES = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
#: The retraining methods, in the order the figures show them.
METHODS = (N_("one-shot, no retraining"), N_("one-shot + fine-tune"), N_("iterative (Han et al. 2015)"),
           N_("gradual (Zhu & Gupta 2017)"))
#: One fine-tuning budget for every method: the teacher's own recipe (Adam at its learning rate,
#: cosine decay, random shifts of up to 2 px, its dropout lowered by Han et al.'s rule), 10 epochs
#: instead of 40. The learning rate was chosen on validation accuracy between 3e-4 and 1e-3, seed 0.
FINE_TUNE = Run(epochs=10, lr=1e-3, batch_size=128, augment=2, progress=False, desc="fine-tune")
#: Rounds of the iterative schedule; the fraction of the steps over which the gradual one prunes,
#: and how many steps apart its pruning steps are (Zhu & Gupta's Δt).
ROUNDS, GRADUAL_END, GRADUAL_EVERY = 5, 0.75, 10
SEEDS = (0, 1, 2)

_DENSE: dict[int, dict] = {}


def dense_teacher(seed: int = 0, dataset: kdata.Dataset | None = None, progress: bool = False) -> nn.Sequential:
    """The dense 2x1200 model that seed ``seed`` prunes.

    Seed 0 is the shipped teacher itself (SHA-256 checked); other seeds train the same
    architecture with the same recipe (:data:`kdnb.teachers.TEACHERS`) and that seed, on the
    same 3,500 training images. Returned trainable, in eval mode.
    """
    if seed == 0:
        model = load_teacher(BASE)
    elif seed in _DENSE:  # trained once per process: the tables prune each seed's model many times
        model = models.build(TEACHERS[BASE]["model"])
        model.load_state_dict(_DENSE[seed])
    else:
        model, _hist, _spec = train_teacher(BASE, seed=seed, dataset=dataset, progress=progress)
        _DENSE[seed] = {k: v.clone() for k, v in model.state_dict().items()}
    model = clone(model)
    for p in model.parameters():
        p.requires_grad_(True)
    return model.eval()


def schedule(method: str, sparsity: float, steps: int, rounds: int = ROUNDS, end: float = GRADUAL_END,
             every: int = GRADUAL_EVERY):
    """The target sparsity after each of ``steps`` optimizer steps, for one pruning ``method``.

    * ``"one-shot + fine-tune"``: the final sparsity from the first step on.
    * ``"iterative (Han et al. 2015)"``: ``rounds`` rounds, each starting with a pruning step
      so that the share of weights kept falls geometrically to ``1 - sparsity``; the rounds
      start evenly over the first ``end`` of the steps, as the gradual schedule prunes.
    * ``"gradual (Zhu & Gupta 2017)"``: ``s_t = s_f (1 - (1 - t / n)^3)`` for ``t`` up to
      ``n = end * steps``, updated every ``every`` steps, then held at ``s_f`` while the
      network recovers. Pruning is fast at first, while many weights are redundant, and slow
      near the end.

    Returns a function ``step -> target`` for step 0 (before training) to ``steps``.
    """
    sparsity = check_fraction(sparsity, "sparsity")
    if method == METHODS[1]:
        return lambda t: sparsity
    if method == METHODS[2]:
        per_round = max(1, int(end * steps) // rounds)
        return lambda t: 1 - (1 - sparsity) ** (min(rounds, t // per_round + 1) / rounds)
    if method == METHODS[3]:
        n = max(1, int(end * steps))
        return lambda t: sparsity * (1 - (1 - min(t - t % every, n) / n) ** 3)
    raise ValueError(f"unknown pruning method {method!r}; use one of {list(METHODS[1:])}")


def round_epochs(run: Run = FINE_TUNE, rounds: int = ROUNDS, end: float = GRADUAL_END) -> tuple[float, float]:
    """Epochs each iterative round fine-tunes before the next cut, and the last round's (it also
    gets the recovery after ``end`` of the steps)."""
    per_round = end * run.epochs / rounds
    return per_round, (1 - end) * run.epochs + per_round


def prune_and_train(model: nn.Module, train: kdata.Split, method: str, sparsity: float, run: Run | None = None, *,
                    teacher: nn.Module | torch.Tensor | None = None, T: float = 4.0, alpha: float = 0.9,
                    **changes) -> pd.DataFrame:
    """Prune ``model`` (in place) on a schedule while fine-tuning it, masks kept.

    ``method`` is one of :data:`METHODS` (the first, no retraining, just prunes). Every method
    gets the same optimizer, learning-rate decay and number of steps, ``run`` (default
    :data:`FINE_TUNE`; its fields as keywords change it, e.g. ``seed=1``); only *when* the
    weights go differs. The loss is cross-entropy with the labels, or with ``teacher`` the
    distillation loss against the frozen ``teacher``: a model run on each (shifted) batch, or
    its logits on ``train.X`` computed once (then ``augment`` must be 0). Returns the per-epoch
    history with the sparsity reached; the model ends with its masks in place.
    """
    run = Run.of(run or FINE_TUNE, **changes)
    if isinstance(teacher, torch.Tensor) and (run.augment or len(teacher) != len(train)):  # before any weight is pruned
        raise ValueError(f"cached teacher logits ({len(teacher)} rows for {len(train)} images) must match the "
                         f"un-shifted training images: pass augment=0 and one row per image, or the teacher model")
    seed_everything(run.seed, threads=None)  # dropout draws from the global generator: same seed, same run
    if method == METHODS[0]:
        prune_global(model, sparsity)
        zero, total = zeros(model)
        return pd.DataFrame([{"epoch": 0, "sparsity": zero / total}]).set_index("epoch")
    steps = run.epochs * -(-len(train) // run.batch_size)
    target = schedule(method, sparsity, steps)
    dropout = dropout_rates(model)
    prune_global(model, target(0))
    adjust_dropout(model, dropout)

    def after_step(t):
        prune_global(model, target(t))
        adjust_dropout(model, dropout)

    run = Run.of(run, desc=_("{method} to {sparsity:.0%}").format(method=_(method), sparsity=sparsity), after_step=after_step)
    if teacher is None:
        history = fit(model, train, None, run)
    else:
        history = distill(model, train, None, run, teacher=teacher, T=T, alpha=alpha)
    prune_global(model, sparsity)  # a rounding step short of the target at most; now exact
    for i, p in dropout.items():  # the rates go back: the model is used in eval mode, or pruned further
        model[i].p = p
    zero, total = zeros(model)
    return history.assign(sparsity=zero / total)


def retrain_runs(seeds=SEEDS, sparsities=SPARSITIES, dataset: kdata.Dataset | None = None, progress: bool = True) -> pd.DataFrame:
    """Every method of :data:`METHODS` at every sparsity, for each seed's dense 2x1200 model.

    One row per (seed, method, sparsity): validation and test accuracy, fine-tuning epochs and
    seconds. Each seed has its own dense model (:func:`dense_teacher`); fine-tuning uses that
    seed too.
    """
    from tqdm.auto import tqdm

    ds = dataset or kdata.load_mnist_subset()
    rows = []
    bar = tqdm(total=len(seeds) * len(METHODS) * len(sparsities), desc="seeds x methods x sparsities", disable=not progress)
    for seed in seeds:
        dense = dense_teacher(seed, ds, progress=progress)
        rows.append({"seed": seed, "method": "dense", "sparsity": 0.0, "val": accuracy(dense, ds.val),
                     "test": accuracy(dense, ds.test), "epochs": 0, "seconds": 0.0})
        for method in METHODS:
            for s in sparsities:
                model = clone(dense)
                seed_everything(seed, threads=None)
                start = time.perf_counter()
                prune_and_train(model, ds.train, method, s, seed=seed)
                rows.append({"seed": seed, "method": method, "sparsity": s, "val": accuracy(model, ds.val),
                             "test": accuracy(model, ds.test), "epochs": 0 if method == METHODS[0] else FINE_TUNE.epochs,
                             "seconds": time.perf_counter() - start})
                bar.update(1)
    bar.close()
    return pd.DataFrame(rows)


def retrain_table(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Accuracy in % per method and sparsity: ``mean``, ``min``, ``max`` over the seeds (:func:`kdnb.seeds.spread`)."""
    table = seeds.spread(runs[runs.method != "dense"], ["method", "sparsity"], [split])
    return table.rename(columns=lambda c: c.removeprefix(f"{split}_")).reset_index()


def retrain_summary(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """The retraining table for reading: ``mean [min, max]`` per method (rows) and sparsity (columns)."""
    part = runs[runs.method != "dense"]
    text = seeds.span_table(part, ["method", "sparsity"], [split])[split].rename_axis(["method", "sparsity"])
    n = part.seed.nunique()
    name = (_("test accuracy, % ({n} seeds, [min, max])").format(n=n) if split == "test"
            else f"{split} accuracy, % ({n} seeds, [min, max])")
    return Shown(text.unstack("sparsity", sort=False).rename(columns=lambda s: f"{100 * s:g}%").rename_axis(columns=name))


def _by_method(runs: pd.DataFrame) -> dict[tuple[str, float], Spread]:
    """``{(method, sparsity): Spread}`` of test accuracy in %, sparsities rounded to 2 decimals."""
    part = runs[runs.method != "dense"].assign(sparsity=lambda d: np.round(d.sparsity, 2))
    return seeds.spreads(part, ["method", "sparsity"], "test")


METHOD_COLOURS = dict(zip(METHODS, (ALONE, SMOOTHED, TEACHER, DISTILLED)))


def plot_retraining(runs: pd.DataFrame, ax=None, figsize=(11, 4.8)):
    """Test accuracy against sparsity, one line per method: the mean over seeds, and a band from
    the worst to the best seed. The dense models' mean is the dotted line."""
    fig, ax = subplots(ax, figsize)
    table = retrain_table(runs)
    positions = {s: i for i, s in enumerate(sorted(table.sparsity.unique()))}
    for method in METHODS:
        part = table[table.method == method].sort_values("sparsity")
        x = part.sparsity.map(positions)
        ax.plot(x, part["mean"], marker="o", color=METHOD_COLOURS[method], lw=2, label=_(method))
        ax.fill_between(x, part["min"], part["max"], color=METHOD_COLOURS[method], alpha=0.18, lw=0)
    dense = 100 * runs[runs.method == "dense"].test.mean()
    ax.axhline(dense, color=HARD, ls=":", lw=1.5, label=_("dense 2x1200 ({acc:.1f}%)").format(acc=dense))
    ax.set_xticks(list(positions.values()), [f"{100 * s:g}%" for s in positions])
    ax.set(xlabel=_("sparsity (share of the Linear weights set to zero)"), ylabel=_("test accuracy (%)"))
    ax.set_title(_("Pruning the 2x1200 MLP: mean of {n} seeds (line), worst to best seed (band)").format(n=runs.seed.nunique()),
                 loc="left")
    ax.legend(loc="lower left", fontsize=10)
    fig.tight_layout()
    return fig


def compare_words(a: Spread, b: Spread) -> str:
    """``a`` against ``b`` over seeds in words: ahead or behind beyond the seed ranges, or on the mean only."""
    if a.beats(b):
        return "ahead, seed ranges apart"
    if b.beats(a):
        return "behind, seed ranges apart"
    return "ahead on the mean, ranges overlap" if a.mean > b.mean else "behind on the mean, ranges overlap"


def retrain_comparison(runs: pd.DataFrame, baseline: str = METHODS[1]) -> pd.DataFrame:
    """Each schedule that prunes in steps against pruning at once and fine-tuning, per sparsity and
    method (the index): the mean difference in points and the computed verdict (:func:`compare_words`)."""
    sp = _by_method(runs)
    rows = []
    for s in sorted({s for _, s in sp}):
        b = sp[(baseline, s)]
        for m in METHODS[2:]:
            a = sp[(m, s)]
            rows.append({"sparsity": f"{100 * s:g}%", "method": m, "points against one-shot + fine-tune": a - b,
                         "verdict": compare_words(a, b)})
    return Shown(pd.DataFrame(rows).set_index(["sparsity", "method"]))


def retrain_verdicts(runs: pd.DataFrame) -> Verdicts:
    """The claims section 4 makes, each computed from the seed ranges of the table."""
    sp = _by_method(runs)
    one, ft, it, gr = METHODS
    dense = 100 * runs[runs.method == "dense"].test.mean()
    cmp = retrain_comparison(runs)
    verdict = lambda m: cmp.xs(m, level="method").verdict  # noqa: E731
    high = [f"{100 * s:g}%" for s in SPARSITIES if s >= 0.9]
    return Verdicts({
        _("at 80% sparsity, pruning once without retraining costs less than a point"): dense - sp[(one, 0.8)].mean < 1.0,
        _("at 95%, pruning once without retraining costs more than 10 points"): dense - sp[(one, 0.95)].mean > 10,
        _("at 90%, fine-tuning recovers: every seed beats every seed of one-shot without retraining"):
            sp[(ft, 0.9)].beats(sp[(one, 0.9)]),
        _("at 99%, every schedule that retrains beats no retraining, seed ranges apart"):
            all(sp[(m, 0.99)].beats(sp[(one, 0.99)]) for m in (ft, it, gr)),
        _("five rounds of iterative pruning are behind one-shot + fine-tune on the mean at every sparsity from 90% up"):
            verdict(it)[high].str.startswith("behind").all(),
        _("... and ahead of it at no sparsity, not even on the mean"): not verdict(it).str.startswith("ahead").any(),
        _("gradual pruning is ahead of one-shot + fine-tune beyond the seed ranges at 98% only"):
            verdict(gr)[verdict(gr) == "ahead, seed ranges apart"].index.tolist() == ["98%"],
        _("... ahead on the mean at 95% and 99%, behind at 90% (seed ranges apart)"):
            verdict(gr)[["95%", "99%"]].str.startswith("ahead").all() and verdict(gr)["90%"] == "behind, seed ranges apart",
    })


def best_method(runs: pd.DataFrame, sparsity: float = 0.9) -> str:
    """The retraining method with the best mean **validation** accuracy at ``sparsity`` (ties: the simpler one)."""
    part = runs[(runs.method.isin(METHODS[1:])) & (np.isclose(runs.sparsity, sparsity))]
    if part.empty:
        raise ValueError(f"no retraining runs at sparsity {sparsity}")
    means = part.groupby("method").val.mean().reindex([m for m in METHODS[1:] if m in set(part.method)])
    return str(means.idxmax())
