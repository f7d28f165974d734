"""Section 7: knowledge-transfer strategies (003-22). The 1x100 student on hard labels, born again from a
trained copy of itself (Furlanello et al. 2018), in mutual learning with a peer (Zhang et al. 2018),
and distilled from the 2x1200 teacher, over seeds."""

from __future__ import annotations

import time

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .. import data as kdata
from .. import seeds, training
from ..losses import hard_loss
from ..seeds import Spread
from ..teachers import load_teacher
from ..i18n import N_, _
from ..verdicts import Verdicts
from .common import RECIPE, SEEDS, Pair, accuracy_spans, distilled, quiet_run, student_for, trained_alone
from .shown import Shown

SELF_STUDENT = {"kind": "mlp", "hidden": [100]}
#: The born-again student's (T, alpha) grid, chosen on validation (the default recipe's T = 4 and
#: alpha = 0.9 were chosen for the 2x1200 teacher, not for a teacher of the student's own shape).
BORN_TEMPERATURES = (1.0, 2.0, 4.0, 8.0)
BORN_ALPHAS = (0.5, 0.9)
HARD, BORN, MUTUAL, TEACHER = (N_("hard labels only"), N_("self-distillation (born again)"), N_("mutual learning (two peers)"),
                               N_("distilled from the 2x1200 teacher"))
#: Labels of the tables below, translated when shown.
TABLE_LABELS = (N_("no change"), N_("better"), N_("worse"), N_("test − hard labels only (points)"), N_("reading"),
                N_("val (%)"), N_("test (%)"), N_("train accuracy (%)"), N_("train CE"), N_("test − hard labels (points)"))


def mutual_loss(logits: torch.Tensor, peer_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Deep mutual learning, one student's loss (Zhang et al. 2018): CE(y, q) + KL(p_peer || q), at T = 1.

    The peer's prediction is a target, so it is detached: each student's gradient comes only
    from its own loss.
    """
    target = F.softmax(peer_logits.detach(), dim=1)
    return hard_loss(logits, labels) + F.kl_div(F.log_softmax(logits, dim=1), target, reduction="batchmean")


def mutual_run(dataset: kdata.Dataset, seed: int, epochs: int = 60, lr: float = 2e-3, batch_size: int = 256) -> tuple[nn.Module, nn.Module]:
    """Two 1x100 students (different initial weights) teach each other while both learn the labels."""
    a = student_for(SELF_STUDENT, seed)
    b = student_for(SELF_STUDENT, 1000 + seed)
    pair = Pair(a, b)
    y = dataset.train.y

    def step(idx, xb, logits):
        return mutual_loss(logits, pair.b_logits, y[idx]) + mutual_loss(pair.b_logits, logits, y[idx])

    training.train_with(pair, dataset.train, step, None, quiet_run(seed, epochs=epochs, lr=lr, batch_size=batch_size))
    return a, b


def _scores(model: nn.Module, dataset: kdata.Dataset) -> dict:
    """Test and validation accuracy, and how well the model fits its own training labels (accuracy and CE)."""
    logits = training.predict_logits(model, dataset.train.X)
    return {"test": training.accuracy(model, dataset.test), "val": training.accuracy(model, dataset.val),
            "train_acc": (logits.argmax(1) == dataset.train.y).float().mean().item(),
            "train_ce": F.cross_entropy(logits, dataset.train.y).item()}


def self_mutual_runs(dataset: kdata.Dataset, seeds=SEEDS, progress: bool = True) -> pd.DataFrame:
    """Per seed, the 1x100 student (default recipe's lr, batch, 60 epochs) four ways: hard labels only;
    born-again (distilled from a trained copy of itself, Furlanello et al. 2018) at every (T, alpha)
    of :data:`BORN_TEMPERATURES` x :data:`BORN_ALPHAS`; mutual learning (two peers); and, for scale,
    distilled from the 2x1200 teacher (T = 4, alpha = 0.9). Each row also says how well the model
    fits its training labels (``train_acc``, ``train_ce``); born-again rows give their teacher's too."""
    from tqdm.auto import tqdm

    r = RECIPE
    kw = {k: r[k] for k in ("epochs", "lr", "batch_size")}
    teacher_logits = training.predict_logits(load_teacher("mlp-mnist"), dataset.train.X)
    rows = []
    for seed in tqdm(seeds, desc="seeds", disable=not progress):
        init = student_for(SELF_STUDENT, seed)
        run = quiet_run(seed, **kw)
        start = time.perf_counter()
        alone = trained_alone(init, dataset.train, run)
        rows.append({"method": HARD, "seed": seed, "seconds": time.perf_counter() - start} | _scores(alone, dataset))
        # Born again: the trained twin of another seed's initial weights teaches a fresh student.
        start = time.perf_counter()
        born_teacher = student_for(SELF_STUDENT, 2000 + seed)
        training.fit(born_teacher, dataset.train, None, run)
        teacher_seconds = time.perf_counter() - start
        fit_of_teacher = _scores(born_teacher, dataset)
        born_logits = training.predict_logits(born_teacher, dataset.train.X)
        for T in BORN_TEMPERATURES:
            for alpha in BORN_ALPHAS:
                start = time.perf_counter()
                born = distilled(init, dataset.train, born_logits, run, T=T, alpha=alpha)
                rows.append({"method": BORN, "seed": seed, "T": T, "alpha": alpha, "seconds": teacher_seconds + time.perf_counter() - start,
                             "teacher_train_acc": fit_of_teacher["train_acc"], "teacher_train_ce": fit_of_teacher["train_ce"]}
                            | _scores(born, dataset))
        start = time.perf_counter()
        a, b = mutual_run(dataset, seed, **kw)
        pair = [_scores(m, dataset) for m in (a, b)]
        rows.append({"method": MUTUAL, "seed": seed, "seconds": time.perf_counter() - start}
                    | {k: (pair[0][k] + pair[1][k]) / 2 for k in pair[0]})
        start = time.perf_counter()
        kd = distilled(init, dataset.train, teacher_logits, run, T=r["T"], alpha=r["alpha"])  # the twin of `alone`
        rows.append({"method": TEACHER, "seed": seed, "T": r["T"], "alpha": r["alpha"],
                     "seconds": time.perf_counter() - start} | _scores(kd, dataset))
    cols = ["method", "seed", "T", "alpha", "test", "val", "train_acc", "train_ce", "teacher_train_acc", "teacher_train_ce", "seconds"]
    return pd.DataFrame(rows).reindex(columns=cols)


def born_choice(runs: pd.DataFrame) -> tuple[float, float]:
    """The born-again (T, alpha) with the best mean validation accuracy over seeds (ties: lower T, then lower alpha)."""
    born = runs[runs.method == BORN]
    val = born.groupby(["T", "alpha"]).val.mean().reset_index()
    best = val.sort_values(["val", "T", "alpha"], ascending=[False, True, True], kind="stable").iloc[0]
    return float(best["T"]), float(best["alpha"])


def strategies_at(runs: pd.DataFrame, T: float, alpha: float) -> pd.DataFrame:
    """The strategies table with the born-again student at (T, alpha) only."""
    born = runs.method == BORN
    return runs[~born | ((runs["T"] == T) & (runs.alpha == alpha))].reset_index(drop=True)


def strategies_at_choice(runs: pd.DataFrame) -> pd.DataFrame:
    """The strategies table with the born-again student at its validation-chosen (T, alpha) only."""
    return strategies_at(runs, *born_choice(runs))


def strategies_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy (%) per method at the born-again choice, ``mean [min, max]`` over seeds, and the mean seconds."""
    return accuracy_spans(strategies_at_choice(runs), "method")


def _reading(s: Spread, hard: Spread) -> str:
    return "no change" if not s.apart(hard) else ("better" if s.mean > hard.mean else "worse")


def strategy_readings(runs: pd.DataFrame) -> pd.DataFrame:
    """Each method at the born-again choice against hard labels only: the change in mean test accuracy
    (points) and the reading from the seed ranges ("better" or "worse" when apart, else "no change")."""
    s = seeds.spreads(strategies_at_choice(runs), "method", "test")
    return Shown(pd.DataFrame([{"method": m, "test − hard labels only (points)": round(v - s[HARD], 2), "reading": _reading(v, s[HARD])}
                               for m, v in s.items() if m != HARD]).set_index("method"))


def strategies_verdicts(runs: pd.DataFrame) -> Verdicts:
    """Section 7's claims: only the real teacher helps the 1x100 student; a copy of itself (at its
    validation-chosen T and alpha) or a peer changes nothing measurable."""
    reading = strategy_readings(runs).reading
    return Verdicts({
        _("distilled from the 2x1200 teacher, the student beats hard labels only (ranges apart)"): reading[TEACHER] == "better",
        _("mutual learning changes nothing measurable (ranges overlap)"): reading[MUTUAL] == "no change",
        _("born again at its validation-chosen T and α changes nothing measurable (ranges overlap)"): reading[BORN] == "no change",
    })


def born_teacher_fit(runs: pd.DataFrame) -> Spread:
    """How well the born-again teacher fits its own training images: accuracy (%) over seeds."""
    return Spread.of(runs[runs.method == BORN].groupby("seed").teacher_train_acc.first(), scale=100)


def born_fit(runs: pd.DataFrame) -> pd.DataFrame:
    """Born again at every (T, alpha) of the grid beside the hard-label student: mean validation and test
    accuracy (%), how well each fits its own training labels (training accuracy in %, training CE), and
    its test accuracy against the hard-label student's (points, and the reading from the seed ranges)."""
    hard = Spread.of(runs[runs.method == HARD].test, scale=100)
    parts = pd.concat([runs[runs.method == HARD].assign(T=float("nan"), alpha=float("nan")), runs[runs.method == BORN]])
    rows = []
    for (method, T, alpha), part in parts.groupby(["method", "T", "alpha"], dropna=False, sort=False):
        test = Spread.of(part.test, scale=100)
        rows.append({"method": method, "T": T, "alpha": alpha, "val (%)": round(100 * part.val.mean(), 2), "test (%)": round(test.mean, 2),
                     "train accuracy (%)": round(100 * part.train_acc.mean(), 2), "train CE": round(part.train_ce.mean(), 3),
                     "test − hard labels (points)": round(test - hard, 2) if method == BORN else float("nan"),
                     "reading": _reading(test, hard) if method == BORN else ""})
    return Shown(pd.DataFrame(rows).set_index(["method", "T", "alpha"]))


def born_fits_less(runs: pd.DataFrame, T: float, alpha: float) -> bool:
    """True when, in every seed, the born-again student at (T, alpha) has a lower training accuracy and a
    higher training CE than the hard-label student of the same seed (the same initial weights)."""
    hard = runs[runs.method == HARD].set_index("seed")
    born = runs[(runs.method == BORN) & (runs["T"] == T) & (runs.alpha == alpha)].set_index("seed")
    return bool(((born.train_acc < hard.train_acc) & (born.train_ce > hard.train_ce)).all())


def born_verdicts(runs: pd.DataFrame, default=(4.0, 0.9)) -> Verdicts:
    """Why a copy of itself teaches so little here: its teacher fits the training images almost
    perfectly; at every (T, alpha) of the grid the born-again student fits its training labels less
    well than the hard-label student, in every seed; at the default recipe's (T, alpha) it tests worse."""
    at_default = Spread.of(runs[(runs.method == BORN) & (runs["T"] == default[0]) & (runs.alpha == default[1])].test, scale=100)
    hard = Spread.of(runs[runs.method == HARD].test, scale=100)
    return Verdicts({
        _("the born-again teacher is right on more than 99% of its training images, in every seed"): born_teacher_fit(runs).lo > 99.0,
        _("at every (T, α) of the grid, the born-again student fits its training labels less well than the hard-label student, in every seed"):
            all(born_fits_less(runs, T, a) for T in BORN_TEMPERATURES for a in BORN_ALPHAS),
        _("born again at the default T = {T:g}, α = {alpha:g} tests worse than hard labels only (ranges apart)").format(
            T=default[0], alpha=default[1]):
            _reading(at_default, hard) == "worse",
    })
