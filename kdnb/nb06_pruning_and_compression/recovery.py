"""Pruning plus distillation (section 7): a student cut out of its teacher, fine-tuned three ways.

:func:`recovery_runs` removes a share of a dense 2x1200's hidden neurons (:func:`prune_neurons`,
then :func:`slim`) and fine-tunes the slim network on hard labels, on the teacher's hard
pseudo-labels or on its soft targets, in three label regimes (table ``nb06_recovery``); with 300
labels also from a fair teacher that saw only those (:func:`fair_dense`). The rest reads the
table: :func:`recovery_table`, :func:`recovery_summary`, :func:`recovery_gains`,
:func:`recovery_split` (where the gain comes from), :func:`recovery_teachers`,
:func:`recovery_verdicts` and :func:`plot_recovery`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import data as kdata
from .. import models, seeds
from ..i18n import N_, _
from ..losses import IGNORE_INDEX
from ..plots import ALONE, DISTILLED, HARD, SMOOTHED, TEACHER, subplots
from ..recipe import DEFAULT, labelled_subset
from ..seeds import Spread
from ..teachers import TEACHERS
from ..training import Run, accuracy, distill, fit, predict_logits, seed_everything
from ..verdicts import Verdicts
from .pruning import adjust_dropout, clone, dropout_rates, linear_layers, prune_neurons, slim
from .retraining import BASE, FINE_TUNE, SEEDS, dense_teacher
from .shown import Shown

#: Recovery of a pruned network: the share of the 2x1200's hidden neurons removed (2x300, 2x120,
#: 2x60 remain). Each label regime names how many training images keep their label and what the
#: teacher (the dense network the student is cut from) was trained on: all 3,500 labels, or only the
#: student's labels (the fair control: it cannot hand back labels it never saw).
RECOVERY_FRACTIONS = (0.75, 0.9, 0.95)
ALL_LABELS, SCARCE, SCARCE_FAIR = (N_("all 3,500 labels"), N_("300 labels, teacher saw all 3,500"),
                                   N_("300 labels, teacher saw only those 300"))
RECOVERY_REGIMES = {ALL_LABELS: {"labels": None, "teacher": "all"},
                    SCARCE: {"labels": 300, "teacher": "all"},
                    SCARCE_FAIR: {"labels": 300, "teacher": "same"}}
#: How the slim network is fine-tuned: cross-entropy on the labels it has; cross-entropy on those
#: labels plus the teacher's argmax for every unlabelled image (hard pseudo-labels); or kd_loss with
#: the teacher's soft targets (T and alpha of the default recipe). With every label there is nothing
#: to pseudo-label, so that regime has the first and the last only.
FINE_TUNINGS = (N_("hard labels"), N_("teacher's hard pseudo-labels"), N_("teacher's soft targets"))
HARD_LABELS, PSEUDO_LABELS, SOFT_TARGETS = FINE_TUNINGS


def fair_teacher_train(n_labelled: int) -> dict:
    """The dense 2x1200's recipe for a teacher that sees only ``n_labelled`` images: the shipped
    teacher's (:data:`kdnb.teachers.TEACHERS`), with the epochs raised so that it takes as many
    optimizer steps as the teacher trained on all 3,500 (40 epochs of 28 batches)."""
    spec = dict(TEACHERS[BASE]["train"])
    full_steps = spec["epochs"] * -(-3500 // spec["batch_size"])
    spec["epochs"] = max(1, round(full_steps / -(-n_labelled // spec["batch_size"])))
    return spec


def fair_dense(seed: int, dataset: kdata.Dataset, labels: torch.Tensor, progress: bool = False) -> nn.Sequential:
    """The dense 2x1200 trained on the labelled images of ``labels`` only (``IGNORE_INDEX`` marks
    the others), with :func:`fair_teacher_train`'s recipe and ``seed``: a teacher that cannot hand
    back labels it never saw. Returned trainable, in eval mode."""
    keep = torch.nonzero(labels != IGNORE_INDEX).flatten().numpy()
    run = Run.of(None, **{**fair_teacher_train(len(keep)), "seed": seed, "progress": progress,
                          "desc": f"dense 2x1200 on {len(keep)} labels, seed {seed}"})
    threads = torch.get_num_threads()
    seed_everything(seed, TEACHERS[BASE].get("threads"))
    try:
        model = models.build(TEACHERS[BASE]["model"], in_shape=dataset.image_shape, num_classes=dataset.num_classes)
        fit(model, dataset.train.subset(keep), None, run)
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def pseudo_labels(teacher: nn.Module, train: kdata.Split) -> torch.Tensor:
    """The labels ``train`` has, and the teacher's argmax (on the un-shifted image) wherever it has none."""
    guess = predict_logits(teacher, train.X).argmax(1)
    return torch.where(train.y == IGNORE_INDEX, guess, train.y)


def _fine_tune(model: nn.Module, how: str, train: kdata.Split, pseudo: torch.Tensor, teacher: nn.Module, run: Run) -> None:
    """Fine-tune the slim ``model`` in place one way of :data:`FINE_TUNINGS`."""
    seed_everything(run.seed, threads=None)
    if how == HARD_LABELS:
        fit(model, train, None, run)
    elif how == PSEUDO_LABELS:
        fit(model, kdata.Split(train.X, pseudo), None, run)
    else:
        distill(model, train, None, run, teacher=teacher, T=DEFAULT["T"], alpha=DEFAULT["alpha"])


def recovery_runs(seeds=SEEDS, fractions=RECOVERY_FRACTIONS, regimes=None, dataset: kdata.Dataset | None = None,
                  progress: bool = True, run: Run = FINE_TUNE) -> pd.DataFrame:
    """A student carved out of the teacher: a dense 2x1200 with a share of its hidden neurons
    removed (:func:`prune_neurons`, then :func:`slim`), fine-tuned from the same weights with the
    same budget ``run`` (:data:`FINE_TUNE`, with the seed) in each way of :data:`FINE_TUNINGS`.
    The soft targets come from the dense network it was cut from, run on each shifted batch (T
    and alpha of the default recipe); the pseudo-labels are that network's argmax.

    ``regimes`` maps a name to ``{"labels": n or None, "teacher": "all" or "same"}``: ``n``
    training images keep their label (class-balanced, drawn with the seed); the teacher is the
    seed's dense network trained on all labels (:func:`dense_teacher`) or, with ``"same"``, one
    trained on those ``n`` labels only (:func:`fair_dense`). One row per (regime, seed, fraction,
    fine-tuning), with the teacher's test accuracy and how often its argmax is right on the
    unlabelled training images.
    """
    from tqdm.auto import tqdm

    regimes = RECOVERY_REGIMES if regimes is None else regimes
    ds = dataset or kdata.load_mnist_subset()
    rows = []
    bar = tqdm(total=len(seeds) * len(regimes) * len(fractions), desc="seeds x regimes x fractions", disable=not progress)
    for seed in seeds:
        full = dense_teacher(seed, ds, progress=progress)
        for regime, spec in regimes.items():
            y = labelled_subset(ds.train.y, spec["labels"], seed)
            train = kdata.Split(ds.train.X, y)
            dense = full if spec["teacher"] == "all" else fair_dense(seed, ds, y, progress=progress)
            unlabelled = y == IGNORE_INDEX
            hows = FINE_TUNINGS if bool(unlabelled.any()) else (HARD_LABELS, SOFT_TARGETS)
            pseudo = pseudo_labels(dense, train)
            right = float((pseudo[unlabelled] == ds.train.y[unlabelled]).float().mean()) if bool(unlabelled.any()) else float("nan")
            dense_acc = accuracy(dense, ds.test)
            for f in fractions:
                base = slim(prune_neurons(clone(dense), f))
                adjust_dropout(base, dropout_rates(dense), dense)
                before = accuracy(base, ds.test)
                for how in hows:
                    model = clone(base)
                    _fine_tune(model, how, train, pseudo, dense, Run.of(run, seed=seed, progress=False))
                    rows.append({"regime": regime, "seed": seed, "fraction": f, "hidden": linear_layers(base)[0][1].out_features,
                                 "fine_tune": how, "dense": dense_acc, "pseudo_right": right, "pruned": before,
                                 "val": accuracy(model, ds.val), "test": accuracy(model, ds.test)})
                bar.update(1)
    bar.close()
    return pd.DataFrame(rows)


_KEYS = ["regime", "hidden", "fine_tune"]


def recovery_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy in % per regime, width and fine-tuning: ``mean``, ``min``, ``max`` over seeds
    (:func:`kdnb.seeds.spread`), with the mean of the slimmed network before fine-tuning and of the
    dense one (the teacher) for reference."""
    table = seeds.spread(runs, _KEYS, ["test", "dense", "pruned"])
    out = pd.DataFrame({"dense": table.dense_mean, "pruned, no fine-tuning": table.pruned_mean, "mean": table.test_mean,
                        "min": table.test_min, "max": table.test_max, "seeds": table.seeds})
    return out.reset_index()


def recovery_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """The recovery table for reading: ``mean [min, max]`` per regime and width (rows) and fine-tuning (columns)."""
    text = seeds.span_table(runs, _KEYS, ["test"])["test"].rename_axis(_KEYS)
    return Shown(text.unstack("fine_tune", sort=False).reindex(columns=list(FINE_TUNINGS)).fillna("")
                 .rename(index=lambda h: f"2x{h}", level=1)
                 .rename_axis(columns=_("test accuracy, % ({n} seeds, [min, max])").format(n=runs.seed.nunique())))


def recovery_gains(runs: pd.DataFrame, against: str = HARD_LABELS, of: str = SOFT_TARGETS) -> pd.DataFrame:
    """``of`` against ``against`` (default: soft targets against hard labels), per regime and
    width: both means, the mean gain in points and whether the two seed ranges are apart."""
    rows = []
    for (regime, h), part in runs.groupby(["regime", "hidden"], sort=False):
        a, b = part[part.fine_tune == against].test, part[part.fine_tune == of].test
        if a.empty or b.empty:
            continue
        a, b = Spread.of(a, 100), Spread.of(b, 100)
        rows.append({"regime": regime, "slim model": f"2x{h}", f"{against} (%)": a.mean, f"{of} (%)": b.mean,
                     "gain (points)": b - a, "seed ranges apart": a.apart(b)})
    return pd.DataFrame(rows)


def _paired(runs: pd.DataFrame) -> pd.Series:
    """Test accuracy in %, indexed by (regime, hidden, fine-tuning, seed): differences pair by seed."""
    return (runs.set_index([*_KEYS, "seed"]).test * 100).sort_index()


def recovery_split(runs: pd.DataFrame) -> pd.DataFrame:
    """Where the scarce-label gain of soft targets over hard labels comes from, per width, as
    paired differences in points (same seed, same labelled images, same starting weights):
    mean [min, max] over seeds.

    * **the unlabelled images, with the teacher's hard labels**: pseudo-labels minus hard labels;
    * **softness on top**: soft targets minus pseudo-labels;
    * **total**: soft targets minus hard labels;

    for each teacher, and **the teacher's labels**: soft targets from the teacher that saw all
    3,500 labels minus those from the one that saw only the student's 300 (its weights, the
    student's starting point, came from 300 labels too).
    """
    t = _paired(runs)
    span = lambda d: Spread.of(d).text(1, signed=True)  # noqa: E731
    rows = []
    for h in sorted(runs.hidden.unique(), reverse=True):
        row = {"slim model": f"2x{h}"}
        for regime, short in ((SCARCE, "teacher saw all labels"), (SCARCE_FAIR, "teacher saw 300")):
            hard, pseudo, soft = (t.loc[(regime, h, how)] for how in FINE_TUNINGS)
            row[f"{short}: unlabelled images, hard pseudo-labels"] = span(pseudo - hard)
            row[f"{short}: softness on top"] = span(soft - pseudo)
            row[f"{short}: total"] = span(soft - hard)
        row["the teacher's extra labels (soft targets)"] = span(t.loc[(SCARCE, h, SOFT_TARGETS)] - t.loc[(SCARCE_FAIR, h, SOFT_TARGETS)])
        rows.append(row)
    return Shown(pd.DataFrame(rows).set_index("slim model").T.rename_axis("points, paired by seed: mean [min, max]"))


def recovery_verdicts(runs: pd.DataFrame) -> Verdicts:
    """The claims section 7 makes, each computed from the seed ranges of the table (and, for the
    teacher's labels, from the paired differences seed by seed)."""
    def gains(of, against, regime):
        g = recovery_gains(runs, against=against, of=of)
        return g[g.regime == regime]

    every = lambda g, sign: bool(len(g) and (sign * g["gain (points)"] > 0).all())  # noqa: E731
    soft_all = gains(SOFT_TARGETS, HARD_LABELS, ALL_LABELS)
    pseudo_full = gains(PSEUDO_LABELS, HARD_LABELS, SCARCE)
    soft_vs_pseudo_full = gains(SOFT_TARGETS, PSEUDO_LABELS, SCARCE)
    soft_fair = gains(SOFT_TARGETS, HARD_LABELS, SCARCE_FAIR)
    pseudo_vs_soft_fair = gains(PSEUDO_LABELS, SOFT_TARGETS, SCARCE_FAIR)
    t = _paired(runs)
    extra = [t.loc[(SCARCE, h, SOFT_TARGETS)] - t.loc[(SCARCE_FAIR, h, SOFT_TARGETS)] for h in runs.hidden.unique()]
    smaller = lambda a, b: bool((a["gain (points)"].to_numpy() < b["gain (points)"].to_numpy()).all())  # noqa: E731
    return Verdicts({
        _("all 3,500 labels: soft targets are worse than hard labels at every width, seed ranges apart"):
            every(soft_all, -1) and soft_all["seed ranges apart"].all(),
        _("300 labels, teacher saw all: its hard pseudo-labels beat the 300 hard labels at every width, seed ranges apart"):
            every(pseudo_full, 1) and pseudo_full["seed ranges apart"].all(),
        _("... and soft targets are behind those pseudo-labels at every width (seed ranges apart at the two narrower)"):
            every(soft_vs_pseudo_full, -1) and soft_vs_pseudo_full["seed ranges apart"].tolist() == [False, True, True],
        _("300 labels, teacher saw only those 300: soft targets ahead of hard labels on the mean at every width, ranges apart at none"):
            every(soft_fair, 1) and not soft_fair["seed ranges apart"].any(),
        _("... and its hard pseudo-labels ahead of its soft targets at the two narrower widths, seed ranges apart"):
            pseudo_vs_soft_fair["seed ranges apart"].tolist() == [False, True, True] and every(pseudo_vs_soft_fair.iloc[1:], 1),
        _("soft targets from the teacher that saw all the labels beat those from the fair one in every seed at every width"):
            all(bool((d > 0).all()) for d in extra),
        _("with the fair teacher, the gains of pseudo-labels and of soft targets over hard labels are both smaller (mean) at every width"):
            smaller(gains(PSEUDO_LABELS, HARD_LABELS, SCARCE_FAIR), pseudo_full)
            and smaller(soft_fair, gains(SOFT_TARGETS, HARD_LABELS, SCARCE)),
    })


def recovery_teachers(runs: pd.DataFrame) -> pd.DataFrame:
    """Per regime, the teacher's test accuracy and how often its argmax is right on the
    training images that have no label (the pseudo-labels), in %: mean [min, max] over seeds."""
    per_seed = runs.drop_duplicates(["regime", "seed"])
    out = {}
    for regime, part in per_seed.groupby("regime", sort=False):
        right = part.pseudo_right.dropna()
        out[regime] = {"teacher's test accuracy (%)": Spread.of(part.dense, 100).text(1),
                       "its argmax right on the unlabelled images (%)":
                           Spread.of(right, 100).text(1) if len(right) else "no unlabelled images"}
    return Shown(pd.DataFrame(out).T)


def plot_recovery(runs: pd.DataFrame, axes=None, figsize=(10.8, 4.8)):
    """One panel per label regime: the slimmed network's test accuracy at each width, before
    fine-tuning and after each fine-tuning (mean line, worst-to-best-seed band). The legend sits
    below the panels, clear of every curve."""
    regimes = list(dict.fromkeys(runs.regime))
    fig, axes = subplots(axes, figsize, 1, len(regimes), sharey=True)
    axes = np.atleast_1d(axes)
    table = recovery_table(runs)
    colours = dict(zip(FINE_TUNINGS, (ALONE, SMOOTHED, DISTILLED)))
    for ax, regime in zip(axes, regimes):
        part = table[table.regime == regime]
        widths = sorted(part.hidden.unique(), reverse=True)
        pos = {h: i for i, h in enumerate(widths)}
        before = part.drop_duplicates("hidden").sort_values("hidden", ascending=False)
        ax.plot([pos[h] for h in before.hidden], before["pruned, no fine-tuning"], marker="o", color=HARD, ls=":",
                label=_("cut out, no fine-tuning"))
        for how in FINE_TUNINGS:
            p = part[part.fine_tune == how].sort_values("hidden", ascending=False)
            if p.empty:
                continue
            x = [pos[h] for h in p.hidden]
            ax.plot(x, p["mean"], marker="o", color=colours[how], lw=2, label=_("fine-tuned on {how}").format(how=_(how)))
            ax.fill_between(x, p["min"], p["max"], color=colours[how], alpha=0.2, lw=0)
        ax.axhline(before.dense.mean(), color=TEACHER, lw=1, ls="--", label=_("the dense 2x1200 it was cut from (the teacher)"))
        ax.set_xticks(range(len(widths)), [f"2x{h}" for h in widths])
        ax.set_xlabel(_("hidden neurons kept (slim model)"))
        ax.set_title(_(regime).replace(", ", ",\n").replace("，", "，\n"), loc="left", fontsize=11)
    axes[0].set_ylabel(_("test accuracy (%)"))
    handles = {}
    for ax in axes:
        for hnd, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, hnd)
    fig.suptitle(_("Recovering a structurally pruned 2x1200: {n} seeds (line: mean, band: worst to best)").format(n=runs.seed.nunique()),
                 x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=3, fontsize=10, frameon=False)
    return fig
