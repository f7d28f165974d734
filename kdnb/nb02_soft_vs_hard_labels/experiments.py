"""Two experiments of notebook 02: few examples (section 7) and a label-smoothed teacher (section 5).

* Few examples: a class-balanced 3% of the training split, one student on the hard labels and its
  twin on the teacher's soft targets alone, scored every few epochs (Hinton et al. 2015, section 4).
* The label-smoothed teacher: the recipe's ``cnn-teacher`` setting distilled from the plain and the
  label-smoothed CNN, each at its T chosen on the validation split (Müller, Kornblith & Hinton 2019).

With the verdicts the two sections' prose draws, and :func:`spec_table`, which prints a run's
configuration so the notebook never types it.
"""

from __future__ import annotations

import copy

import pandas as pd
import torch
import torch.nn.functional as F

from .. import data as kdata
from .. import models, seeds
from ..seeds import Spread
from ..training import DEFAULT_THREADS, Run, distill, fit, predict_logits, seed_everything
from ..i18n import N_, _
from ..verdicts import Verdicts
from .readouts import Shown, ShownSeries

__all__ = ["FEW", "PAPER_FEW_DATA", "TEACHER_TS", "spec_table", "few_examples_subset", "few_examples_run", "soft_minus_hard",
           "few_examples_verdicts", "chosen_T", "teacher_comparison", "smoothing_gap", "teacher_verdicts"]

#: The few-examples run: 105 training images (3% of 3,500, class-balanced), the same 2x800
#: student, hard labels (alpha = 0) or the teacher's soft targets alone (alpha = 1).
FEW = {"teacher": "cnn-mnist", "student": {"kind": "mlp", "hidden": [800, 800]}, "n": 105,
       "T": 4.0, "epochs": 100, "lr": 1e-3, "batch_size": 32, "eval_every": 5}

#: Hinton, Vinyals & Dean 2015, section 4 (speech, frame accuracy on the test set with 3% of the training data).
PAPER_FEW_DATA = {"hard targets (%)": 44.5, "soft targets (%)": 57.0, "baseline on 100% (%)": 58.9}

#: Temperatures tried for each teacher. The label-smoothed teacher's logits are about 4.6 times
#: smaller than the plain teacher's, so the plain teacher needs a higher T for equally soft targets.
TEACHER_TS = (1.0, 2.0, 4.0, 8.0, 20.0)

#: The two teachers of section 5 (both CNNs trained on the same images; the second with label smoothing).
PLAIN, SMOOTHED = "cnn-mnist", "cnn-mnist-ls"


#: The rows of :func:`spec_table`, by key of a run's configuration.
_SPEC_NAMES = {"teacher": N_("teacher"), "student": N_("student"), "missing": N_("class left out"), "n": N_("training images"),
               "T": N_("temperature T"), "alpha": N_("alpha (weight of the soft term)"), "epochs": N_("epochs"),
               "lr": N_("learning rate"), "batch_size": N_("batch size")}


def spec_table(spec: dict, **extra) -> ShownSeries:
    """A run's configuration as a readable column (so the notebook prints it instead of typing it); its
    :meth:`~pandas.Series.to_frame` is shown in the reader's language."""
    rows = {}
    for key, value in spec.items():
        if key not in _SPEC_NAMES:
            continue
        rows[_SPEC_NAMES[key]] = models.describe(value) if key == "student" else (f"{value:g}" if isinstance(value, float) else str(value))
    rows.update({k: str(v) for k, v in extra.items()})
    return ShownSeries(rows, name=N_("setting"), dtype=object)


# ---------------------------------------------------------------------- few examples

def few_examples_subset(y: torch.Tensor, n: int = 105, seed: int = 0) -> torch.Tensor:
    """Indices of ``n`` class-balanced training images (3% of 3,500 is 105)."""
    return torch.from_numpy(kdata.stratified_split(y.numpy(), (n,), seed)[0])


def few_examples_run(seed: int, dataset: kdata.Dataset, t_logits: torch.Tensor, spec: dict | None = None,
                     progress: bool = False, threads: int | None = DEFAULT_THREADS) -> tuple[list[dict], pd.DataFrame]:
    """Hard labels vs the teacher's soft targets on a class-balanced ~3% of the training split.

    Both copies of the student start from the same weights and see the same ``n`` images (the
    subset depends on the seed); the teacher was trained on the whole training split. Records,
    every ``eval_every`` epochs, validation accuracy, validation cross-entropy and test accuracy;
    reports the test accuracy after the fixed budget and at the checkpoint with the best
    validation accuracy (early stopping). Hinton et al. 2015 report 44.5% (hard) vs 57.0% (soft) on speech.

    The twins are made here rather than by :func:`kdnb.recipe.train_twins` because each one is
    scored during its own training (a callback that needs the model being trained).
    """
    spec = dict(FEW, **(spec or {}))
    idx = few_examples_subset(dataset.train.y, spec["n"], seed)
    small = dataset.train.subset(idx)
    seed_everything(seed, threads)
    hard = models.build(spec["student"], in_shape=dataset.image_shape)
    soft = copy.deepcopy(hard)  # the same initial weights
    run = Run(epochs=spec["epochs"], lr=spec["lr"], batch_size=spec["batch_size"], seed=seed, progress=progress)
    rows, curves = [], []
    for name, model in (("hard labels", hard), ("soft targets", soft)):
        log = []
        score = _scorer(model, dataset, spec, log)
        if name == "hard labels":
            fit(model, small, None, run, callback=score, desc=name)
        else:
            distill(model, small, None, run, teacher=t_logits[idx], T=spec["T"], alpha=1.0, callback=score, desc=name)
        hist = pd.DataFrame(log)
        best = hist.loc[hist["val_acc"].idxmax()]
        rows.append({"seed": seed, "targets": name, "n_train": len(small), "T": spec["T"] if name == "soft targets" else float("nan"),
                     "final_test": hist["test_acc"].iloc[-1], "final_val_ce": hist["val_ce"].iloc[-1],
                     "best_epoch": int(best["epoch"]), "early_stop_test": best["test_acc"], "min_val_ce": hist["val_ce"].min()})
        curves.append(hist.assign(seed=seed, targets=name))
    return rows, pd.concat(curves, ignore_index=True)


def _scorer(model, dataset: kdata.Dataset, spec: dict, log: list):
    """A per-epoch callback that scores ``model`` every ``eval_every`` epochs (and at the last) into ``log``."""
    epoch = [0]

    def callback(row):
        epoch[0] += 1
        if epoch[0] % spec["eval_every"] and epoch[0] != spec["epochs"]:
            return  # scoring 1,500 images costs more than an epoch on 105: score every few epochs
        with torch.no_grad():
            val = predict_logits(model, dataset.val.X)
            test = predict_logits(model, dataset.test.X)
        log.append({"epoch": epoch[0], "val_acc": (val.argmax(1) == dataset.val.y).float().mean().item(),
                    "val_ce": F.cross_entropy(val, dataset.val.y).item(),
                    "test_acc": (test.argmax(1) == dataset.test.y).float().mean().item()})

    return callback


def soft_minus_hard(few: pd.DataFrame, column: str = "final_test") -> Spread:
    """Per seed, the soft-target student's test accuracy minus the hard-label student's, in points, over seeds."""
    pivot = few.pivot(index="seed", columns="targets", values=column)
    return Spread.of(pivot["soft targets"] - pivot["hard labels"], scale=100.0)


def few_examples_verdicts(few: pd.DataFrame, paper: dict | None = None) -> Verdicts:
    """Section 7's claims about ``results.read("nb02_few_examples")``: a gain in every seed, a fraction of the paper's."""
    paper = paper or PAPER_FEW_DATA
    gain = soft_minus_hard(few)
    paper_gain = paper["soft targets (%)"] - paper["hard targets (%)"]
    return Verdicts({
        _("At the fixed budget the soft-target student is ahead of its hard-label twin in all {n} seeds.").format(n=gain.n):
            gain.n >= 3 and gain.lo > 0,
        _("Its mean gain is a fraction of the paper's {gain:+.1f} points (under a quarter of it).").format(gain=paper_gain):
            0 < gain.mean < paper_gain / 4,
    })


# ------------------------------------------------------------- label-smoothed teacher

def chosen_T(results: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``nb02_teachers`` at each teacher's best T by mean **validation** accuracy."""
    best = results.groupby(["teacher", "T"])["kd_val"].mean().groupby("teacher").idxmax()
    keep = results.set_index(["teacher", "T"]).index.isin(best.tolist())
    return results[keep].reset_index(drop=True)


def teacher_comparison(best: pd.DataFrame) -> Shown:
    """Plain vs label-smoothed teacher, each at its T chosen on validation (the rows of :func:`chosen_T`).

    Per teacher: the chosen T, then the student alone, the distilled student and the gain, as
    "mean [min, max]" over seeds in % (:func:`kdnb.seeds.span_table`).
    """
    chosen = best.groupby("teacher", sort=False)["T"].first().rename(N_("T (chosen on validation)"))
    accuracy = seeds.span_table(best, "teacher", {"alone_test": N_("student alone (%)"), "kd_test": N_("distilled (%)")})
    gain = seeds.span_table(best, "teacher", {"gain": N_("gain (points)")}, signed=True)
    return Shown(pd.concat([chosen, accuracy.drop(columns="seeds"), gain], axis=1))


def smoothing_gap(best: pd.DataFrame, plain: str = PLAIN, smoothed: str = SMOOTHED) -> Spread:
    """Per seed, the label-smoothed teacher's distilled student minus the plain teacher's, in points, over seeds."""
    per_seed = best.pivot(index="seed", columns="teacher", values="kd_test")
    return Spread.of(per_seed[smoothed] - per_seed[plain], scale=100.0)


def teacher_verdicts(best: pd.DataFrame, plain: str = PLAIN, smoothed: str = SMOOTHED) -> Verdicts:
    """Section 5's claims about the two teachers, each at its T chosen on validation (the rows of :func:`chosen_T`)."""
    gap = smoothing_gap(best, plain, smoothed)
    kd = seeds.spreads(best, "teacher", "kd_test")
    gain = seeds.spreads(best, "teacher", "gain")
    return Verdicts({
        _("The label-smoothed teacher's student is ahead of the plain teacher's in all {n} seeds: "
          "Müller et al.'s 'distils worse' is not reproduced here.").format(n=gap.n): gap.n >= 3 and gap.lo > 0,
        _("Its distilled students beat the plain teacher's beyond the seed ranges."): kd[smoothed].beats(kd[plain]),
        _("The plain teacher's student gains less than one point over the student alone (mean over seeds)."): gain[plain].mean < 1.0,
    })


def plot_teacher_results(best: pd.DataFrame, manifest: dict, plain: str = PLAIN, smoothed: str = SMOOTHED, ax=None,
                         figsize=(10, 3.8)):
    """The two teachers' distilled students against the student alone, per seed (:func:`kdnb.plots.plot_seed_results`),
    each row described by its teacher's test accuracy and the T chosen on validation (the rows of :func:`chosen_T`)."""
    from ..plots import plot_seed_results

    names = {plain: _("plain teacher"), smoothed: _("label-smoothed teacher")}
    acc = {name: 100 * manifest[name]["test_accuracy"] for name in names}
    T_of = best.groupby("teacher", sort=False)["T"].first()
    summaries = {names[plain]: _("CNN ({acc:.1f}%) -> MLP 1x100, T={T:g}").format(acc=acc[plain], T=T_of[plain]),
                 names[smoothed]: _("CNN + label smoothing ({acc:.1f}%) -> MLP 1x100, T={T:g}").format(acc=acc[smoothed],
                                                                                                      T=T_of[smoothed])}
    return plot_seed_results(best.assign(setting=best["teacher"].map(names)), summaries, ax=ax, figsize=figsize)
