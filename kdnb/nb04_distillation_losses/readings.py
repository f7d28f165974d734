"""Reading the comparison's tables: spreads over seeds, the gains over hard labels, and the claims of section 6.

Every mean, lowest and highest seed goes through :mod:`kdnb.seeds`. A gain is per seed: a student minus
the hard-label student of the same seed (the same initial weights), so it is a paired difference;
:func:`sign_verdict` says in words in how many seeds it is above or below zero.
"""

from __future__ import annotations

import pandas as pd

from .. import seeds
from ..seeds import Spread
from ..i18n import N_, _
from ..verdicts import Verdicts
from .comparison import FAIR_TEACHER, METHODS, PSEUDO, REGIMES, TEACHER
from ..shown import template_label
from .shown import Shown, shown

_BY = ["regime", "method"]


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


def comparison_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per regime and method: test accuracy (%) and the gain over hard labels (points), mean [min, max] over seeds
    (``test_*``, ``gain_*``), the seeds with a gain, the median time per epoch, absolute and relative to hard labels."""
    hard = df[df["method"] == "hard labels"].set_index(["regime", "seed"])["test_acc"]
    paired = hard.reindex(pd.MultiIndex.from_frame(df[["regime", "seed"]])).to_numpy()
    per_seed = df.assign(gain=100 * (df["test_acc"] - paired))
    test = seeds.spread(df, _BY, ["test_acc"], scale=100.0).rename(columns=lambda c: c.replace("test_acc", "test"))
    gain = seeds.spread(per_seed, _BY, ["gain"], scale=1.0).drop(columns="seeds")
    g = per_seed.groupby(_BY, sort=False)
    table = test.join(gain).assign(seeds_better=g["gain"].apply(lambda s: int((s > 0).sum())),
                                   epoch_seconds=g["epoch_seconds"].median(), extra_params=g["extra_params"].first().astype(int),
                                   weight=g["weight"].first()).reset_index()
    columns = ["regime", "method", "test_mean", "test_min", "test_max", "gain_mean", "gain_min", "gain_max", "seeds_better",
               "seeds", "epoch_seconds", "extra_params", "weight"]
    table = table[columns]
    base_time = table[table["method"] == "hard labels"].set_index("regime")["epoch_seconds"]
    table["time_vs_hard"] = table["epoch_seconds"] / table["regime"].map(base_time)
    order = {m: i for i, m in enumerate(METHODS)}
    return table.sort_values(_BY, key=lambda s: s.map(order) if s.name == "method" else s.map(list(REGIMES).index)).reset_index(drop=True)


def comparison_shown(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`comparison_table` for reading, one row per regime and method."""
    return shown(pd.DataFrame({
        "regime": table["regime"], "method": table["method"],
        "test accuracy (%)": [Spread.from_row(r, "test").text(1) for _k, r in table.iterrows()],
        "gain over hard labels": [Spread.from_row(r, "gain").text(1, signed=True) for _k, r in table.iterrows()],
        "seeds better": [_("{k} of {n}").format(k=r.seeds_better, n=r.seeds) for r in table.itertuples()],
        "time / epoch vs hard": table["time_vs_hard"].map(lambda v: f"{v:.1f}x"),
        "extra_params": table["extra_params"],
        "weight w": table["weight"].map(lambda v: "" if pd.isna(v) else f"{v:g}"),
    }).set_index(_BY))


def _effect(gain: Spread) -> str:
    if gain.lo > 0:
        return N_("helps: better in every seed")
    if gain.hi < 0:
        return N_("hurts: worse in every seed")
    return N_("no clear effect: the seeds disagree")


def method_effects(table: pd.DataFrame) -> pd.DataFrame:
    """Per regime and method: does it beat the hard-label twin (same initial weights) in every seed, in none, or neither?"""
    rows = []
    for _k, r in table[table["method"] != "hard labels"].iterrows():
        gain = Spread.from_row(r, "gain")
        rows.append({"regime": r["regime"], "method": r["method"], "mean gain (points)": f"{gain.mean:+.1f}", "verdict": _effect(gain)})
    return shown(pd.DataFrame(rows).set_index(_BY))


def comparison_verdicts(table: pd.DataFrame) -> Verdicts:
    """What section 6 says of the comparison (:func:`comparison_table`), each claim computed from the table."""
    gain = {key: Spread.from_row(r, "gain") for key, r in table.set_index(_BY).iterrows()}
    time = table.set_index(_BY)["time_vs_hard"]
    few, full = "300 labels", "all labels"
    near_outputs = ("KD", "logit MSE", "cosine of hidden states", "RKD")
    return Verdicts({
        _("With 300 labels, KD, logit MSE, the cosine of hidden states and RKD each beat the hard-label twin in every seed, "
          "by more than 2 points on average."): all(gain[few, m].lo > 0 and gain[few, m].mean > 2 for m in near_outputs),
        _("With 300 labels, FitNets hints and attention transfer gain less than 1.5 points on average."):
            all(gain[few, m].mean < 1.5 for m in ("FitNets hints", "attention transfer")),
        _("With all labels, plain KD does not beat the hard-label twin in every seed."): not gain[full, "KD"].lo > 0,
        _("With all labels, RKD and FitNets hints beat the hard-label twin in every seed."):
            gain[full, "RKD"].lo > 0 and gain[full, "FitNets hints"].lo > 0,
        _("With all labels, RKD gains more than FitNets hints."): gain[full, "RKD"].mean > gain[full, "FitNets hints"].mean,
        _("An RKD epoch costs more than twice a hard-label epoch, an attention-transfer epoch less than twice."):
            time[full, "RKD"] > 2 > time[full, "attention transfer"],
    })


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


def _fair_accuracies(runs: pd.DataFrame, fair: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy (%) of the 300-label students, one row per seed, one column per (teacher, method)."""
    few = runs[runs["regime"] == "300 labels"]
    parts = [few[few["method"] == "hard labels"].assign(teacher="none"),
             few[few["method"] != "hard labels"].assign(teacher=TEACHER),
             fair[fair["regime"] == "300 labels"]]
    both = pd.concat(parts, ignore_index=True)
    return 100 * both.pivot_table(index="seed", columns=["teacher", "method"], values="test_acc")


def _columns(name: str, s: Spread) -> dict:
    return {f"{name}_mean": s.mean, f"{name}_min": s.lo, f"{name}_max": s.hi}


def fair_table(runs: pd.DataFrame, fair: pd.DataFrame) -> pd.DataFrame:
    """The 300-label regime with both teachers: per teacher and method, test accuracy and the gain over the hard-label
    student (the same seed, the same initial weights), mean [min, max] over seeds; and, for a loss, what it adds
    beyond the same teacher's hard pseudo-labels (``vs_pseudo_*``)."""
    acc = _fair_accuracies(runs, fair)
    base = acc[("none", "hard labels")]
    order = [PSEUDO] + [m for m in METHODS if m != "hard labels"]
    rows = [{"teacher": "none", "method": "hard labels (300 labels only)", **_columns("test", Spread.of(base)),
             **_columns("gain", Spread.of([0.0] * len(base))), "seeds_better": 0, "seeds": len(base), "verdict": ""}]
    for teacher in (TEACHER, FAIR_TEACHER):
        for method in order:
            if (teacher, method) not in acc.columns:
                continue
            a = acc[(teacher, method)].dropna()
            g = a - base.reindex(a.index)
            row = {"teacher": teacher, "method": method, **_columns("test", Spread.of(a)), **_columns("gain", Spread.of(g)),
                   "seeds_better": int((g >= 0.05).sum()), "seeds": len(a), "verdict": sign_verdict(g)}
            if method != PSEUDO and (teacher, PSEUDO) in acc.columns:  # what the loss adds beyond the same teacher's argmax
                d = a - acc[(teacher, PSEUDO)].reindex(a.index)
                row.update(**_columns("vs_pseudo", Spread.of(d)), vs_pseudo=sign_verdict(d))
            rows.append(row)
    return pd.DataFrame(rows)


def fair_shown(controls: pd.DataFrame) -> pd.DataFrame:
    """:func:`fair_table` for reading: accuracies and gains as mean [min, max] over seeds, and their words."""
    def signed(r, name):
        return "" if pd.isna(r.get(f"{name}_mean")) else Spread.from_row(r, name).text(1, signed=True)

    rows = list(controls.iterrows())
    return shown(pd.DataFrame({
        "teacher": controls["teacher"], "student's loss": controls["method"],
        "test accuracy (%)": [Spread.from_row(r, "test").text(1) for _k, r in rows],
        "gain over hard labels": [signed(r, "gain") for _k, r in rows],
        "gain, by seed": controls["verdict"],
        "minus the same teacher's hard pseudo-labels": [signed(r, "vs_pseudo") for _k, r in rows],
        "vs pseudo-labels, by seed": controls.get("vs_pseudo", pd.Series("", index=controls.index)).fillna(""),
    }).set_index(["teacher", "student's loss"]))


def fair_verdicts(controls: pd.DataFrame) -> Verdicts:
    """What section 6 says of the controls (:func:`fair_table`): over every loss run with both teachers (at least one)."""
    c = controls.set_index(["teacher", "method"])
    reading = [m for m in METHODS if m != "hard labels" and (TEACHER, m) in c.index and (FAIR_TEACHER, m) in c.index]
    return Verdicts({
        _("With {fair}, every loss that reads the teacher gains less than with {teacher}.").format(fair=FAIR_TEACHER, teacher=TEACHER):
            bool(reading) and all(c.loc[(FAIR_TEACHER, m), "gain_mean"] < c.loc[(TEACHER, m), "gain_mean"] for m in reading),
        _("No loss with {fair} beats that teacher's hard pseudo-labels in every seed.").format(fair=FAIR_TEACHER):
            bool(reading) and not any(c.loc[(FAIR_TEACHER, m), "vs_pseudo"] == "better in every seed" for m in reading),
        _("The hard pseudo-labels of {fair} beat the hard-label student in every seed.").format(fair=FAIR_TEACHER):
            c.loc[(FAIR_TEACHER, PSEUDO), "verdict"] == "better in every seed",
    })


#: The rows of :func:`gain_split`, with {m}ethod, {t}eacher and {f}air teacher to fill in (translated at display).
_PARTS = (
    N_("total: {m} with {t} - hard labels"),
    N_("labels handed back: {m} with {t} - {m} with {f}"),
    N_("hard pseudo-labels of {f} - hard labels"),
    N_("softness: {m} with {f} - its hard pseudo-labels"),
    N_("(for comparison) hard pseudo-labels of {t} - hard labels"),
    N_("(for comparison) softness: {m} with {t} - its hard pseudo-labels"),
)


def _filled(method: str) -> dict:
    return {"m": method, "t": TEACHER, "f": FAIR_TEACHER}


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
    diffs = (m_all - hard, m_all - m_fair, pl_fair - hard, m_fair - pl_fair, pl_all - hard, m_all - pl_all)
    rows = []
    for part, d in zip(_PARTS, diffs):
        s = Spread.of(d)
        rows.append({"part": part.format(**_filled(method)), "mean": s.mean, "min": s.lo, "max": s.hi, "seeds": s.n,
                     "verdict": sign_verdict(d)})
    return pd.DataFrame(rows).set_index("part")


class _SplitShown(Shown):
    """:func:`split_shown`'s table: its rows, the parts of the gain, shown with their templates translated."""

    label = staticmethod(template_label(_PARTS, fallback=Shown.label))


def split_shown(split: pd.DataFrame) -> pd.DataFrame:
    """:func:`gain_split` for reading: each part in points, mean [min, max] over seeds, and its words."""
    points = [Spread(r["mean"], r["min"], r["max"], int(r["seeds"])).text(1, signed=True) for _k, r in split.iterrows()]
    return _SplitShown(shown(pd.DataFrame({"points": points, "verdict": split["verdict"]}, index=split.index)))


def split_verdicts(split: pd.DataFrame) -> Verdicts:
    """What section 6 says of :func:`gain_split`'s rows (in its order)."""
    total, handed_back, pseudo, softness = split["mean"].iloc[:4]
    words = split["verdict"]
    return Verdicts({
        _("The total is the sum of its three parts."): abs(total - (handed_back + pseudo + softness)) < 1e-9,
        _("The all-label teacher's student beats {fair}'s in every seed: labels handed back.").format(fair=FAIR_TEACHER):
            words.iloc[1] == "better in every seed",
        _("The hard pseudo-labels of {fair} beat the hard-label student in every seed.").format(fair=FAIR_TEACHER): words.iloc[2] == "better in every seed",
        _("The soft targets of {fair} do worse than its hard pseudo-labels in some seeds and better in none.").format(
            fair=FAIR_TEACHER):
            words.iloc[3].startswith("worse in") and "better" not in words.iloc[3],
        _("With {teacher}, the seeds disagree on what the softness adds.").format(teacher=TEACHER):
            words.iloc[5] not in ("better in every seed", "worse in every seed"),
    })
