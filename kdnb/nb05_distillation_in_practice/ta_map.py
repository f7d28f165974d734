"""Section 4: the T x alpha map (003-29). The default recipe's student distilled at every (T, alpha) over
seeds, its plateau on validation, and notebook 03's temperature sweep read by the same tie rule."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from .. import data as kdata
from .. import plots, recipe, seeds, training
from ..i18n import N_, _
from ..seeds import Spread
from ..teachers import load_teacher
from ..verdicts import Verdicts
from .common import SEEDS, distilled, quiet_run, student_for
from .shown import Shown

#: Labels of the tables below, translated when shown.
TABLE_LABELS = (N_("worst"), N_("best"), N_("test accuracy (%)"), N_("best T (val)"), N_("noise (points)"),
                N_("T within the noise (val)"), N_("best T (test, for reading)"))

MAP_TEMPERATURES = (1.0, 2.0, 4.0, 8.0, 20.0)
MAP_ALPHAS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)
#: The map's setting: notebook 00's default recipe (2x1200 MLP teacher -> 1x100 MLP, all 3,500 labels).
MAP_SETTING = "default"


def map_cell(dataset: kdata.Dataset, teacher_logits: torch.Tensor, T: float, alpha: float, seed: int) -> dict:
    """One cell of the map for one seed: the default recipe's student distilled at (T, alpha)."""
    spec = recipe.SETTINGS[MAP_SETTING]
    start = time.perf_counter()
    init = student_for(spec["student"], seed)
    run = quiet_run(seed, epochs=spec["epochs"], lr=spec["lr"], batch_size=spec["batch_size"])
    model = distilled(init, dataset.train, teacher_logits, run, T=T, alpha=alpha)
    return {"seed": seed, "T": T, "alpha": alpha, "test": training.accuracy(model, dataset.test),
            "val": training.accuracy(model, dataset.val), "seconds": time.perf_counter() - start}


def ta_map_runs(dataset: kdata.Dataset, seeds=SEEDS[:3], progress: bool = True) -> pd.DataFrame:
    """Every (T, alpha) of the map for every seed. alpha = 0 ignores T (pure cross-entropy), so it
    is trained once per seed and stored with T = NaN."""
    from tqdm.auto import tqdm

    logits = training.predict_logits(load_teacher(recipe.SETTINGS[MAP_SETTING]["teacher"]), dataset.train.X)
    jobs = [(None if a == 0 else T, a, s) for s in seeds for a in MAP_ALPHAS for T in (MAP_TEMPERATURES if a else (None,))]
    rows = [map_cell(dataset, logits, T if T is not None else 1.0, a, s) | ({"T": float("nan")} if T is None else {})
            for T, a, s in tqdm(jobs, desc="T x alpha x seed", disable=not progress)]
    return pd.DataFrame(rows)


def map_table(runs: pd.DataFrame, column: str = "test") -> pd.DataFrame:
    """Mean, min and max (in %) per (T, alpha) over seeds (:func:`kdnb.seeds.spread`); alpha = 0
    repeated across every T (it ignores T)."""
    hard = runs[runs.alpha == 0]
    parts = [runs[runs.alpha > 0]] + [hard.assign(T=T) for T in MAP_TEMPERATURES]
    out = seeds.spread(pd.concat(parts, ignore_index=True), ["T", "alpha"], [column]).reset_index()
    return out.rename(columns=lambda c: c.replace(f"{column}_", ""))


def map_extremes(runs: pd.DataFrame, column: str = "test") -> pd.DataFrame:
    """The worst and the best cell of the map by mean ``column`` accuracy, each as ``mean [min, max]``
    over its seeds (for reading: the choice is made on validation)."""
    table = map_table(runs, column).sort_values("mean")
    rows = {}
    for name, c in (("worst", table.iloc[0]), ("best", table.iloc[-1])):
        rows[name] = {"T": c["T"], "α": c["alpha"],
                      f"{column} accuracy (%)": Spread(c["mean"], c["min"], c["max"], int(c["seeds"])).text(), "seeds": int(c["seeds"])}
    return Shown(pd.DataFrame.from_dict(rows, orient="index"))


def plot_map(runs: pd.DataFrame, ax=None, figsize=(8.5, 4.6), column: str = "test"):
    """Heatmap of mean accuracy over (alpha, T); each cell also shows the seed range (max - min)."""
    fig, ax = plots.subplots(ax, figsize)
    table = map_table(runs, column)
    mean = table.pivot(index="alpha", columns="T", values="mean")
    rng = table.pivot(index="alpha", columns="T", values="max") - table.pivot(index="alpha", columns="T", values="min")
    im = ax.imshow(mean.values, cmap="viridis", aspect="auto", origin="lower")
    ax.grid(False)
    for i in range(mean.shape[0]):
        for j in range(mean.shape[1]):
            v = mean.values[i, j]
            light = v < np.nanmean(mean.values)
            ax.text(j, i, f"{v:.1f}\n±{rng.values[i, j] / 2:.1f}", ha="center", va="center", fontsize=9,
                    color="white" if light else "black")
    ax.set_xticks(range(mean.shape[1]), [f"{t:g}" for t in mean.columns])
    ax.set_yticks(range(mean.shape[0]), [f"{a:g}" for a in mean.index])
    ax.set_xlabel(_("temperature T"))
    ax.set_ylabel(_("α (weight of the soft term)"))
    n = int(table.seeds.max())
    title = {"test": N_("test accuracy (%), mean over {n} seeds; ± half the seed range"),
             "val": N_("val accuracy (%), mean over {n} seeds; ± half the seed range")}.get(column)
    ax.set_title(_(title).format(n=n) if title else f"{column} accuracy (%), mean over {n} seeds; ± half the seed range")
    fig.colorbar(im, ax=ax, label=_("mean accuracy (%)"))
    return fig


def map_verdicts(runs: pd.DataFrame) -> Verdicts:
    """The map's claims (section 4's short answer), computed from the table (test accuracy, means over seeds)."""
    t = map_table(runs).set_index(["T", "alpha"])["mean"]
    hard = t.xs(0.0, level="alpha").mean()
    soft = t[t.index.get_level_values("alpha") > 0]
    at = lambda cond: soft[cond(soft.index.get_level_values("T"))]
    hot = at(lambda T: T >= 4)
    return Verdicts({
        _("at T = 1 no α gains more than half a point over labels alone"): (at(lambda T: T == 1) - hard).abs().max() < 0.5,
        _("every cell with T >= 4 and α > 0 beats labels alone by more than a point"): (hot - hard).min() > 1.0,
        _("the cells with T >= 4 and α > 0 lie within one point of each other"): hot.max() - hot.min() < 1.0,
    })


def map_noise(runs: pd.DataFrame, column: str = "val") -> float:
    """The map's noise, in accuracy points: the median over its cells of the seed range (max - min)
    of ``column``. Two cells whose means differ by less than this are not told apart by the seeds."""
    table = map_table(runs, column)
    return float((table["max"] - table["min"]).median())


def map_plateau(runs: pd.DataFrame, column: str = "val") -> pd.DataFrame:
    """The cells tied with the best: mean ``column`` accuracy within :func:`map_noise` of the best mean.

    The tie rule of Check yourself 4.1: every one of these cells is a right answer."""
    table = map_table(runs, column)
    best, noise = table["mean"].max(), map_noise(runs, column)
    tied = table[(table["mean"] >= best - noise - 1e-9) & (table.alpha > 0)]
    return tied.sort_values(["T", "alpha"]).reset_index(drop=True)


def choose_from_map(runs: pd.DataFrame) -> tuple[float, float]:
    """One (T, alpha) from the validation plateau (:func:`map_plateau`), by a fixed rule so it is
    reproducible: the lowest T on the plateau, then the lowest alpha there. Any plateau cell is as good."""
    best = map_plateau(runs).iloc[0]
    return float(best["T"]), float(best["alpha"])


def sweep_best_T(sweep: pd.DataFrame) -> pd.DataFrame:
    """Per student of notebook 03's temperature sweep: the T with the best mean validation accuracy
    of the distilled student, the noise (median seed range over its T, in points) and every T
    whose mean lies within that noise of the best (the same tie rule as the map's)."""
    rows = []
    for setting, part in sweep.groupby("setting", sort=False):
        val = seeds.spread(part, "T", ["kd_val"], sort=True)
        test = part.groupby("T").kd_test.mean()
        noise = float((val.kd_val_max - val.kd_val_min).median())
        best = val.kd_val_mean.max()
        tied = [float(T) for T in val.index if val.loc[T, "kd_val_mean"] >= best - noise - 1e-9]
        rows.append({"student": setting, "seeds": int(part.seed.nunique()), "best T (val)": float(val.kd_val_mean.idxmax()),
                     "noise (points)": round(noise, 2), "T within the noise (val)": tied, "best T (test, for reading)": float(test.idxmax())})
    return Shown(pd.DataFrame(rows).set_index("student"))


def sweep_verdicts(sweep: pd.DataFrame, teacher_right: float) -> Verdicts:
    """The claims of section 4's trap: ``teacher_right`` (the share of training images mlp-mnist gets
    right) is above 98%; notebook 03's sweep ties every T for its 2x30 student and starts the
    2x300 student's plateau at T = 4 (:func:`sweep_best_T`)."""
    best = sweep_best_T(sweep)
    every_T = sorted(float(T) for T in sweep["T"].unique())
    return Verdicts({
        _("mlp-mnist is right on more than 98% of its training images"): teacher_right > 0.98,
        _("the 2x30 student's sweep cannot tell any T apart (every T within its seed noise)"):
            best.loc["2x30", "T within the noise (val)"] == every_T,
        _("the 2x300 student's plateau starts at T = 4"): min(best.loc["2x300", "T within the noise (val)"]) == 4.0,
    })
