"""Section 9: the seeds' own "distillation" code, run (000-4, 001-5). Seed 000-4's side-by-side loop
and seed 001-5's loss line, trained on this data beside a hard-label student and a correct one."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .. import data as kdata
from .. import recipe, seeds, training
from ..teachers import load_teacher
from ..i18n import N_, _
from ..verdicts import Verdicts
from .common import RECIPE, SEEDS, Pair, accuracy_spans, distilled, quiet_run, same_weights, student_for
from .strategies import SELF_STUDENT

#: The rows of the table, in order.
SEED_RUNS = (N_("hard labels only"), N_("000-4 as written: teacher and student side by side on hard labels"),
             N_("001-5 as written: KLDivLoss(log q, log p), teacher never trained"),
             N_("001-5, loss fixed (T, T², batchmean, probabilities), teacher still untrained"),
             N_("correct: trained 2x1200 teacher, frozen, cached, kd_loss(T=4, α=0.9)"))


def seed_001_5_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Seed 001-5's loss line, as written: ``nn.KLDivLoss()(student.log_softmax(1), teacher.log_softmax(1))``.

    (Torch warns that the default ``'mean'`` will change meaning; that one warning is silenced here,
    the call itself is unchanged. Notebook 04, section 5.1, takes the call apart.)
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="reduction: 'mean' divides the total loss", category=UserWarning)
        return nn.KLDivLoss()(student_logits.log_softmax(1), teacher_logits.log_softmax(1))


def side_by_side(dataset: kdata.Dataset, seed: int, epochs: int = 60, lr: float = 2e-3, batch_size: int = 256):
    """Seed 000-4 as written, on this data: a teacher and a student of the same shape trained in one
    loop, each on cross-entropy with the labels. Returns ``(student, teacher)``."""
    student = student_for(SELF_STUDENT, seed)
    teacher = student_for(SELF_STUDENT, 1000 + seed)
    pair = Pair(student, teacher)
    y = dataset.train.y

    def step(idx, xb, logits):
        return F.cross_entropy(logits, y[idx]) + F.cross_entropy(pair.b_logits, y[idx])

    training.train_with(pair, dataset.train, step, None, quiet_run(seed, epochs=epochs, lr=lr, batch_size=batch_size))
    return student, teacher


def seed_code_runs(dataset: kdata.Dataset, seeds=SEEDS, epochs: int = 60, progress: bool = True) -> pd.DataFrame:
    """Per seed, the 1x100 student from the same initial weights, five ways (see the notebook's section 9).

    ``final loss is NaN`` is read from the history only for 001-5 as written: every other run trains
    with :func:`kdnb.training.fit` or :func:`kdnb.training.distill`, which stop with an error on a
    loss that is not finite."""
    from tqdm.auto import tqdm

    r = RECIPE
    trained_logits = training.predict_logits(load_teacher("mlp-mnist"), dataset.train.X)
    test = lambda model: training.accuracy(model, dataset.test)
    rows = []
    for seed in tqdm(seeds, desc="seeds", disable=not progress):
        init = student_for(SELF_STUDENT, seed)
        run = quiet_run(seed, epochs=epochs, lr=r["lr"], batch_size=r["batch_size"])
        twins = recipe.train_twins(init, dataset.train, trained_logits, run, T=4.0, alpha=0.9)
        rows.append({"run": SEED_RUNS[0], "seed": seed, "test": test(twins["alone"]), "final loss is NaN": False})
        student, _teacher = side_by_side(dataset, seed, epochs=epochs, lr=r["lr"], batch_size=r["batch_size"])
        rows.append({"run": SEED_RUNS[1], "seed": seed, "test": test(student), "final loss is NaN": False,
                     "same weights as hard labels only": same_weights(student, twins["alone"])})
        untrained = student_for({"kind": "mlp", "hidden": [500]}, 3000 + seed).eval()  # 001-5 never trains its teacher
        untrained_logits = training.predict_logits(untrained, dataset.train.X)
        model = copy.deepcopy(init)
        hist = training.train_with(model, dataset.train, lambda idx, xb, logits: seed_001_5_loss(logits, untrained_logits[idx]), None, run)
        rows.append({"run": SEED_RUNS[2], "seed": seed, "test": test(model), "final loss is NaN": bool(np.isnan(hist.loss.iloc[-1]))})
        model = distilled(init, dataset.train, untrained_logits, run, T=4.0, alpha=1.0)
        rows.append({"run": SEED_RUNS[3], "seed": seed, "test": test(model), "final loss is NaN": False})
        rows.append({"run": SEED_RUNS[4], "seed": seed, "test": test(twins["distilled"]), "final loss is NaN": False})
    return pd.DataFrame(rows)


def seed_code_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy (%) per run, ``mean [min, max]`` over seeds, and in how many seeds the final loss was NaN."""
    out = accuracy_spans(runs, "run", extra=())
    out[N_("final loss NaN (seeds)")] = runs.groupby("run", sort=False)["final loss is NaN"].sum()
    return out


def seed_code_verdicts(runs: pd.DataFrame) -> Verdicts:
    """Section 9's claims: 000-4's student is the hard-label student weight for weight; 001-5's loss is
    NaN; with the loss fixed, an untrained teacher teaches nothing (chance is 10%); a trained one helps."""
    s = seeds.spreads(runs, "run", "test")
    flag = lambda run, col: runs.loc[runs.run == run, col].astype(bool)
    return Verdicts({
        _("000-4's student has exactly the weights of the hard-label student, in every seed"): flag(SEED_RUNS[1], "same weights as hard labels only").all(),
        _("001-5 as written ends with a NaN loss, in every seed"): flag(SEED_RUNS[2], "final loss is NaN").all(),
        _("with the loss fixed, the student of an untrained teacher stays near chance (below 15% in every seed)"): s[SEED_RUNS[3]].hi < 15.0,
        _("the correct recipe, with a trained teacher, beats hard labels only (ranges apart)"): s[SEED_RUNS[4]].beats(s[SEED_RUNS[0]]),
    })
