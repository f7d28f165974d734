"""What every section of notebook 05 shares: the seeds, the students' initial weights, how a run
trains, the fair teacher, and the dot-and-bar figure of a result over seeds."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from .. import data as kdata
from .. import models, plots, recipe, seeds, training
from ..i18n import N_, _
from ..teachers import read_manifest
from .shown import Shown, tr

SEEDS = (0, 1, 2, 3, 4)
#: The default recipe's T, alpha, epochs, learning rate and batch, used by sections 6, 7 and 9.
RECIPE = {k: recipe.DEFAULT[k] for k in ("T", "alpha", "epochs", "lr", "batch_size")}

#: The seed of the 300-label subset that the fair teacher ``cnn-mnist-300`` saw (its manifest's
#: ``labels.seed``). Every scarce-label image run uses this subset, so the fair teacher saw exactly
#: the student's labels; the seeds vary the student's initial weights and batch order.
SCARCE_LABEL_SEED = 0
#: The teacher that saw only the student's 300 image labels.
FAIR_TEACHER = "cnn-mnist-300"
SCARCE_LABELS = 300


def student_for(config: dict, seed: int, in_shape=(1, 28, 28), num_classes: int = 10) -> nn.Module:
    """A fresh student built after seeding with ``seed``: the same seed gives the same initial weights."""
    training.seed_everything(seed, threads=None)
    return models.build(config, in_shape=in_shape, num_classes=num_classes)


def quiet_run(seed: int, *, epochs: int, lr: float, batch_size: int, augment: int = 0) -> training.Run:
    """How one of this notebook's runs trains (Adam, cosine decay), without a progress bar."""
    return training.Run(epochs=epochs, lr=lr, batch_size=batch_size, augment=augment, seed=seed, progress=False)


def trained_alone(init: nn.Module, train: kdata.Split, run: training.Run) -> nn.Module:
    """A copy of ``init`` trained on the labelled images of ``train`` only (the twin of :func:`distilled`)."""
    return recipe.train_twins(init, train, None, run)["alone"]


def distilled(init: nn.Module, train: kdata.Split, teacher_logits: torch.Tensor, run: training.Run, *, T: float,
              alpha: float) -> nn.Module:
    """A copy of ``init`` distilled on every image of ``train`` from the frozen teacher's ``teacher_logits``."""
    return recipe.train_twins(init, train, teacher_logits, run, T=T, alpha=alpha, alone=False)["distilled"]


def with_labels(train: kdata.Split, labels: int | None, seed: int) -> kdata.Split:
    """``train`` with only ``labels`` class-balanced labels kept (the subset of ``seed``); None keeps all."""
    return kdata.Split(train.X, recipe.labelled_subset(train.y, labels, seed))


def teacher_saw(name: str) -> int | None:
    """How many training labels a shipped teacher was trained on (None: all of them), from its manifest."""
    entry = read_manifest().get(name)
    if entry is None:
        raise ValueError(f"unknown teacher {name!r}; the shipped ones are {list(read_manifest())}")
    return entry.get("labels", {}).get("n")


class Pair(nn.Module):
    """Two students trained in one loop: ``forward`` returns the first one's logits and keeps the second's."""

    def __init__(self, a: nn.Module, b: nn.Module):
        super().__init__()
        self.a, self.b = a, b
        self.b_logits: torch.Tensor | None = None

    def forward(self, x):
        self.b_logits = self.b(x)
        return self.a(x)


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    """True when two models of the same shape hold bit-for-bit equal parameters and buffers."""
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def accuracy_spans(runs: pd.DataFrame, by: str, extra=("seconds",)) -> pd.DataFrame:
    """Test accuracy (%) per group as ``mean [min, max]`` over seeds (:func:`kdnb.seeds.span_table`),
    the seed count, and the mean of each ``extra`` column; groups in table order."""
    out = seeds.span_table(runs, by, {"test": N_("test accuracy (%)")}).rename_axis(by)
    for col in extra:
        out[f"{col} (mean)"] = runs.groupby(by, sort=False)[col].mean().round(2)
    return Shown(out)


#: Labels of the tables above, translated when shown.
TABLE_LABELS = (N_("seeds"), N_("seconds (mean)"), N_("method"), N_("variant"), N_("group"), N_("run"), N_("regime"),
                N_("student"), N_("teacher"))


def _colour(group: str, colours: dict | None) -> str:
    for key, colour in (colours or {}).items():  # the first key found in the group's name
        if key in group:
            return colour
    return plots.DISTILLED if "KD" in group or "distil" in group.lower() else plots.ALONE


def plot_spread(runs: pd.DataFrame, by: str, ax=None, figsize=(9, 4.2), colours=None, title: str = ""):
    """One row per group: each seed's test accuracy as a dot, the mean as a bar.

    ``colours`` maps a part of a group's name to a colour (the first match wins); otherwise
    distilled groups are orange and the others grey."""
    fig, ax = plots.subplots(ax, figsize)
    groups = list(dict.fromkeys(runs[by]))
    for i, g in enumerate(groups):
        acc = 100 * runs.loc[runs[by] == g, "test"]
        colour = _colour(g, colours)
        ax.barh(i, acc.mean(), color=colour, alpha=0.35)
        ax.plot(acc, [i] * len(acc), "o", color=colour, ms=5)
        ax.text(acc.max() + 0.05, i, f"{acc.mean():.1f}", va="center", fontsize=9)
    ax.set_yticks(range(len(groups)), [tr(g) for g in groups])
    ax.invert_yaxis()
    lo = 100 * runs.test.min()
    ax.set_xlim(lo - 1.0, 100 * runs.test.max() + 0.8)
    ax.set_xlabel(_("test accuracy (%): dots are seeds, bars the mean"))
    if title:
        ax.set_title(tr(title))
    ax.grid(axis="x", alpha=0.3)
    return fig
