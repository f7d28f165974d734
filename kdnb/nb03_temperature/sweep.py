"""The temperature sweep of notebook 03 (section 8, seed 003-28): what it trains and what it shows.

:data:`SWEEP` holds Hinton's two student shapes; ``tables.py`` trains them at every T of
:data:`SWEEP_TEMPERATURES` over :data:`SWEEP_SEEDS` into the table ``nb03_sweep``. The readers:
:func:`sweep_card` (what was trained), :func:`sweep_summary` (accuracy over seeds per student and
T), :func:`sweep_reading` and :func:`sweep_verdicts` (what the accuracy shows, and the choice of T
on validation), :func:`gap_and_agreement`, :func:`gap_reading` and :func:`gap_verdicts`
(overfitting and agreement with the teacher), :func:`live_vs_stored` (one run repeated live).
Every "beyond the seed noise" is :mod:`kdnb.seeds`' rule: seed ranges apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import models as kmodels
from .. import seeds
from ..i18n import N_, _
from ..recipe import SETTINGS, summarize
from ..seeds import Spread
from ..teachers import TEACHERS
from ..verdicts import Verdicts
from .shown import AGREEMENT_AT, GAP_AT, TEACHER_CARD, TEST_CHANGE, TRAIN_CHANGE, Shown, ShownSeries

#: Temperatures of the training sweep: Hinton et al. (2015) used T from about 2 to 20.
SWEEP_TEMPERATURES = (1.0, 2.0, 4.0, 8.0, 20.0)
#: Seeds of the training sweep (initial weights and batch order).
SWEEP_SEEDS = (0, 1, 2)
#: The sweep's students, both taught by the 2x1200 MLP teacher: Hinton et al. (2015) compared
#: students with two hidden layers of 30 and of 300 units. Same schedule as the recipe's
#: small-student settings (60 epochs, Adam 2e-3, batch 256, alpha 0.9).
SWEEP = {
    "2x30": dict(SETTINGS["tiny-student"], student={"kind": "mlp", "hidden": [30, 30]},
                 summary="2x1200 MLP teacher -> 2x30 MLP"),
    "2x300": dict(SETTINGS["tiny-student"], student={"kind": "mlp", "hidden": [300, 300]},
                  summary="2x1200 MLP teacher -> 2x300 MLP"),
}


def sweep_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per student and T: :func:`kdnb.recipe.summarize` (accuracy, mean and range over seeds), plus
    the train-test gap of the distilled student and its top-1 agreement with the teacher, and the
    distilled student's mean validation accuracy (the split on which T is chosen), in %."""
    out = summarize(runs, by=["setting", "T"])
    extra = seeds.spread(runs.assign(kd_gap=runs.kd_train - runs.kd_test, alone_gap=runs.alone_train - runs.alone_test),
                         ["setting", "T"], ["kd_gap", "alone_gap", "kd_agree", "alone_agree", "kd_val"])
    for col in ("kd_gap", "alone_gap", "kd_agree", "alone_agree", "kd_val"):
        out[col] = extra[f"{col}_mean"]
    return out.rename_axis(["student", "T"]).round(2)


def sweep_card(runs: pd.DataFrame) -> ShownSeries:
    """What the sweep trained, read from :data:`SWEEP`, the teacher's config and the table itself."""
    first = next(iter(SWEEP.values()))
    teacher = TEACHERS[first["teacher"]]
    t_model = teacher["model"]
    return ShownSeries({
        N_("teacher"): TEACHER_CARD.format(teacher=first["teacher"], model=kmodels.describe(dict(t_model, dropout=0)),
                                           dropout=t_model.get("dropout", 0), shift=teacher["train"]["augment"]),
        N_("students (Hinton's two shapes)"): ", ".join(f"{name}: {kmodels.describe(s['student'])}" for name, s in SWEEP.items()),
        N_("training images (labels and transfer set)"): f"{int(runs['labels'].iloc[0]):,}",
        N_("temperatures T"): ", ".join(f"{T:g}" for T in sorted(runs["T"].unique())),
        N_("alpha (weight of the soft term)"): ", ".join(f"{a:g}" for a in sorted(runs["alpha"].unique())),
        N_("epochs, batch, learning rate"): f"{first['epochs']}, {first['batch_size']}, {first['lr']:g}",
        N_("seeds per (student, T)"): f"{runs.groupby(['setting', 'T']).size().min()}",
        N_("baseline"): N_("the same student on the labels alone, from the same initial weights"),
    }, name=N_("temperature sweep"))


def _by_student(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {name: part.droplevel("student") for name, part in table.groupby(level="student", sort=False)}


def _ties(values: pd.Series, best: str = "max", within: float = 0.005) -> str:
    """The temperatures whose value ties the best (to the table's rounding), as text: ``"2, 8"``."""
    top = values.max() if best == "max" else values.min()
    return ", ".join(f"{T:g}" for T in values.index[(values - top).abs() <= within])


def sweep_reading(summary: pd.DataFrame, chosen: pd.Series) -> Shown:
    """What :func:`sweep_summary` shows per student (one column each): the label-only mean, the best and
    lowest distilled test means and their T, how far apart the distilled means are across T, the best
    validation mean and its T, and the T chosen on validation (``chosen``, :func:`kdnb.recipe.select_T`)
    with its test mean. Accuracies in %, differences in points."""
    out = {}
    for name, part in _by_student(summary).items():
        t = chosen[name]
        out[name] = {
            N_("label-only, test mean (%)"): round(part["alone_mean"].iloc[0], 1),
            N_("distilled, best test mean (%)"): round(part["kd_mean"].max(), 1),
            N_("distilled, T of the best test mean"): _ties(part["kd_mean"]),
            N_("distilled, lowest test mean (%)"): round(part["kd_mean"].min(), 1),
            N_("distilled, T of the lowest test mean"): _ties(part["kd_mean"], "min"),
            N_("distilled test means, max − min (points)"): round(float(np.ptp(part["kd_mean"])), 2),
            N_("distilled, best validation mean (%)"): round(part["kd_val"].max(), 1),
            N_("distilled, T of the best validation mean"): _ties(part["kd_val"]),
            N_("distilled validation means, max − min (points)"): round(float(np.ptp(part["kd_val"])), 2),
            N_("T chosen on validation (ties: the lowest)"): f"{t:g}",
            N_("test mean at the T chosen (%)"): round(part.loc[t, "kd_mean"], 1),
        }
    return Shown(out)


def _kd(part: pd.DataFrame, T: float, column: str = "kd") -> Spread:
    """The spread over seeds stored in ``part``'s row ``T`` (``<column>_mean``, ``_min``, ``_max``)."""
    return Spread.from_row(part.loc[T], column)


def sweep_verdicts(summary: pd.DataFrame, chosen: pd.Series, small: str = "2x30", large: str = "2x300") -> Verdicts:
    """Section 8's claims about the sweep's test and validation accuracy, for the ``small`` and ``large`` students."""
    by = _by_student(summary)
    s, w = by[small], by[large]
    Ts = list(w.index)
    wide = [_kd(w, T) for T in Ts]
    clear = [T for T in s.index if _kd(s, T).apart(Spread.from_row(s.loc[T], "alone"))]
    best_two = s.loc[[4, 8], "kd_mean"].min()
    return Verdicts({
        _("{large}: distillation beats the label-only twin at every T, with the seed ranges apart.").format(large=large):
            all(_kd(w, T).beats(Spread.from_row(w.loc[T], "alone")) for T in Ts),
        _("{large}: the distilled accuracy is flat in T: no two temperatures' seed ranges are apart "
          "(from T = {lo:g} to {hi:g} every range shares a value).").format(large=large, lo=Ts[0], hi=Ts[-1]):
            not any(a.apart(b) for i, a in enumerate(wide) for b in wide[i + 1:]),
        _("{small}: the gain is beyond the seed noise only from T = 4 up (at T = {temperatures}).").format(
            small=small, temperatures=", ".join(f"{T:g}" for T in clear)): clear == [4, 8, 20],
        _("{small}: the best distilled mean is at T = 4 or 8 (at T = {T:g}).").format(small=small, T=s["kd_mean"].idxmax()):
            s["kd_mean"].idxmax() in (4, 8),
        _("{small}: T = 1 and 2 lie below T = 4's whole seed range.").format(small=small):
            _kd(s, 4).beats(_kd(s, 1)) and _kd(s, 4).beats(_kd(s, 2)),
        _("{small}: T = 20 is lower on average than T = 4 and 8 (by {points:.2f} points) ...").format(
            small=small, points=best_two - s.loc[20, "kd_mean"]): s.loc[20, "kd_mean"] < best_two,
        _("{small}: ... but its seed range overlaps T = 4's.").format(small=small): not _kd(s, 20).apart(_kd(s, 4)),
        _("{large}: the validation split ranks T = 1 last.").format(large=large): w["kd_val"].idxmin() == 1,
        _("{small}: on validation, its means at every T lie within half a point ({points:.2f} points).").format(
            small=small, points=np.ptp(s["kd_val"])): np.ptp(s["kd_val"]) < 0.5,
        _("{small}: the T chosen on validation (T = {T:g}) is weak on test: its mean lies below every "
          "seed of T = 4.").format(small=small, T=chosen[small]): s.loc[chosen[small], "kd_mean"] < _kd(s, 4).lo,
    })


def gap_and_agreement(runs: pd.DataFrame) -> pd.DataFrame:
    """Per student and T, over seeds (mean, min, max, in %): the distilled student's accuracy on its
    training images and on the test images, their difference (the train-test gap, a measure of
    overfitting), and its top-1 agreement with the teacher on the test images; the label-only
    twin's gap and agreement for comparison (seed 003-28)."""
    df = runs.assign(kd_gap=runs.kd_train - runs.kd_test, alone_gap=runs.alone_train - runs.alone_test)
    out = seeds.spread(df, ["setting", "T"], ["kd_train", "kd_test", "kd_gap", "kd_agree", "alone_gap", "alone_agree"])
    keep = ["kd_train_mean", "kd_test_mean", "kd_gap_mean", "kd_gap_min", "kd_gap_max",
            "kd_agree_mean", "kd_agree_min", "kd_agree_max", "alone_gap_mean", "alone_agree_mean"]
    return out[keep].rename_axis(["student", "T"]).round(2)


def gap_reading(table: pd.DataFrame, low: float = 1.0, mid: float = 8.0) -> Shown:
    """What :func:`gap_and_agreement` shows per student (one column each): the train-test gap at T = ``low``,
    its smallest and the label-only twin's; agreement with the teacher at ``low``, its best and the twin's;
    how far apart the gap means are across T; and, from ``low`` to ``mid``, the change of training and of
    test accuracy. Gaps and changes in points, agreement in %."""
    out = {}
    for name, part in _by_student(table).items():
        gap, agree = part["kd_gap_mean"], part["kd_agree_mean"]
        out[name] = {
            GAP_AT.format(T=low): round(gap.loc[low], 1),
            N_("distilled, smallest gap (points)"): round(gap.min(), 1),
            N_("distilled, T of the smallest gap"): _ties(gap, "min"),
            N_("label-only gap (points)"): round(part["alone_gap_mean"].iloc[0], 1),
            N_("distilled gap means, max − min (points)"): round(float(np.ptp(gap)), 2),
            AGREEMENT_AT.format(T=low): round(agree.loc[low], 1),
            N_("distilled, best agreement (%)"): round(agree.max(), 1),
            N_("distilled, T of the best agreement"): _ties(agree),
            N_("label-only agreement (%)"): round(part["alone_agree_mean"].iloc[0], 1),
            TRAIN_CHANGE.format(low=low, mid=mid): round(part.loc[mid, "kd_train_mean"] - part.loc[low, "kd_train_mean"], 1),
            TEST_CHANGE.format(low=low, mid=mid): round(part.loc[mid, "kd_test_mean"] - part.loc[low, "kd_test_mean"], 1),
        }
    return Shown(out)


def gap_verdicts(table: pd.DataFrame, summary: pd.DataFrame, small: str = "2x30", large: str = "2x300") -> Verdicts:
    """Section 8's claims about overfitting and agreement with the teacher (seed 003-28), read from
    :func:`gap_and_agreement`'s ``table`` and, for the test accuracy's seed ranges, :func:`sweep_summary`."""
    by = _by_student(table)
    s, w = by[small], by[large]
    test = _by_student(summary)[small]
    claims = {}
    for name, part in by.items():
        claims[_("{student}: distillation narrows the train–test gap at every T.").format(student=name)] = bool(
            (part["kd_gap_mean"] < part["alone_gap_mean"]).all())
        claims[_("{student}: the lowest T, {T:g}, gives the least agreement with the teacher.").format(
            student=name, T=part.index.min())] = \
            part["kd_agree_mean"].idxmin() == part.index.min()
    train_drop = s.loc[1, "kd_train_mean"] - s.loc[8, "kd_train_mean"]
    test_rise = s.loc[8, "kd_test_mean"] - s.loc[1, "kd_test_mean"]
    claims.update({
        _("{small}: the gap falls steadily from T = 1 to 8, and T = 1's seed range lies above T = 8's.").format(small=small):
            s.loc[[1, 2, 4, 8], "kd_gap_mean"].is_monotonic_decreasing and _kd(s, 1, "kd_gap").beats(_kd(s, 8, "kd_gap")),
        _("{small}: from T = 1 to 8 the gap closes mostly from the training side: training accuracy falls by more "
          "than test accuracy rises.").format(small=small): train_drop > test_rise > 0,
        _("{small}: from T = 20 down to T = 8 the student agrees more with the teacher on average, with overlapping "
          "seed ranges.").format(small=small): s.loc[8, "kd_agree_mean"] > s.loc[20, "kd_agree_mean"]
        and not _kd(s, 8, "kd_agree").apart(_kd(s, 20, "kd_agree")),
        _("{small}: from T = 20 down to T = 8 it also scores higher on test on average, with overlapping seed "
          "ranges.").format(small=small):
            _kd(test, 8).mean > _kd(test, 20).mean and not _kd(test, 8).apart(_kd(test, 20)),
        _("{large}: every T from 2 up agrees with the teacher more than T = 1 across all seeds.").format(large=large):
            all(_kd(w, T, "kd_agree").beats(_kd(w, 1, "kd_agree")) for T in w.index if T >= 2),
        _("{large}: T barely moves the gap (its means lie within 1 point of each other), and T = 1 is no better: "
          "its gap is the largest.").format(large=large): np.ptp(w["kd_gap_mean"]) < 1 and w["kd_gap_mean"].idxmax() == 1,
    })
    return Verdicts(claims)


def live_vs_stored(live: dict, stored: pd.Series, columns=("alone_test", "kd_test", "kd_train", "kd_agree")) -> Shown:
    """One run of the sweep repeated live beside its stored row: each column in %, and whether the two are
    equal to four decimals of the fraction."""
    return Shown({N_("live (%)"): [round(100 * live[c], 1) for c in columns],
                  N_("stored (%)"): [round(100 * stored[c], 1) for c in columns],
                  N_("difference (points)"): [round(100 * (live[c] - stored[c]), 2) + 0.0 for c in columns],
                  N_("identical"): [round(live[c], 4) == round(stored[c], 4) for c in columns]},
                 index=pd.Index(list(columns), name=N_("column")))
