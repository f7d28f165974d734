"""The precomputed tables read over seeds (through :mod:`kdnb.seeds`), and their figures.

Every score is a mean over the seeds with the lowest and highest seed beside it, ``mean [min, max]``; two results
are told apart only when their seed ranges do not overlap."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..seeds import Spread, span_table, spreads
from ..verdicts import Verdicts

#: Scores as they are read: column -> (label, scale, digits). Fractions are shown in percent.
SCORES = {
    "perplexity": ("perplexity", 1.0, 2),
    "agreement": ("agrees with teacher, %", 100.0, 1),
    "parses": ("parses, %", 100.0, 1),
    "distinct_3": ("distinct 3-grams, %", 100.0, 1),
    "teacher_nll": ("teacher NLL", 1.0, 3),
    "teacher_nll_late": ("teacher NLL, chars 100+", 1.0, 3),
}


def score_table(runs: pd.DataFrame, by="method", columns=tuple(SCORES)) -> pd.DataFrame:
    """``mean [min, max]`` over seeds of each score, one row per group of ``by`` (table order kept)."""
    parts = [span_table(runs, by, {c: SCORES[c][0]}, scale=SCORES[c][1], digits=SCORES[c][2]).drop(columns="seeds")
             for c in columns]
    out = pd.concat(parts, axis=1)
    out["seeds"] = runs.groupby(by, sort=False).size()
    return out


def score(runs: pd.DataFrame, column: str, by="method") -> dict:
    """``{group: Spread}`` of one score, in the unit it is shown in (percent for fractions)."""
    return spreads(runs, by, column, scale=SCORES[column][1])


def students_only(runs: pd.DataFrame) -> pd.DataFrame:
    """The trained students and the teacher (not the rows that describe the teacher's transfer sets)."""
    return runs[runs["kind"] != "transfer set"]


def plot_scores(runs: pd.DataFrame, columns=("perplexity", "parses", "distinct_3"), by="method", axes=None, figsize=(11, 3.6)):
    """One panel per score: each seed a dot, each method a row, its mean a bar. ``axes``: one per column."""
    if axes is None:
        _, axes = plt.subplots(1, len(columns), figsize=figsize, sharey=True, constrained_layout=True)
    groups = list(dict.fromkeys(runs[by]))
    y = np.arange(len(groups))[::-1]
    for ax, column in zip(np.atleast_1d(axes), columns):
        label, scale, _ = SCORES[column]
        for yi, group in zip(y, groups):
            values = runs.loc[runs[by] == group, column].to_numpy(dtype=float) * scale
            ax.plot(values, np.full(len(values), yi), "o", color="C0" if group != "teacher" else "0.4", alpha=0.8, ms=5)
            ax.plot([values.mean()] * 2, [yi - 0.3, yi + 0.3], color="C3", lw=2)
        ax.set_yticks(y, groups)
        ax.set_title(label)
        ax.grid(axis="x", alpha=0.3)
    return axes


def topk_table(topk: pd.DataFrame) -> pd.DataFrame:
    """The top-k runs read over seeds: bytes per token, perplexity and agreement."""
    out = score_table(topk, ["k", "rest"], ("perplexity", "agreement"))
    out.insert(0, "bytes per token", topk.groupby(["k", "rest"], sort=False)["bytes_per_token"].first())
    return out


def plot_topk(topk: pd.DataFrame, full: Spread, alone: Spread, ax=None, figsize=(7, 3.8)):
    """Perplexity against the bytes stored per token, for both ways of handling the rest of the mass; the full
    distribution (``full``) and the student alone (``alone``) as references, each with its seed range."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    for i, (rest, group) in enumerate(topk.groupby("rest", sort=False)):
        s = group.groupby("k")["perplexity"]
        bytes_ = group.groupby("k")["bytes_per_token"].first()
        ax.errorbar(bytes_, s.mean(), yerr=[s.mean() - s.min(), s.max() - s.mean()], marker="o", capsize=3,
                    label=f"top-k, {rest}", color=f"C{i}")
        for k, b in bytes_.items():
            ax.annotate(f"k={k}", (b, s.mean()[k]), textcoords="offset points", xytext=(6, 4 - 12 * i), fontsize=9, color=f"C{i}")
    full_bytes = 2 * 98
    ax.errorbar([full_bytes], [full.mean], yerr=[[full.mean - full.lo], [full.hi - full.mean]], marker="s", color="k",
                capsize=3, label="all 98 log-probabilities")
    ax.axhspan(alone.lo, alone.hi, color="0.85", label="student alone (seed range)")
    ax.set_xscale("log")
    ax.set_xlabel("bytes stored per token (log scale)")
    ax.set_ylabel("validation perplexity (lower is better)")
    ax.legend(fontsize=9, loc="upper right")
    ax.grid(alpha=0.3)
    return ax


def traces_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Accuracy over seeds of each arm, with what each student read."""
    students = runs[runs["arm"] != "teacher"]
    out = span_table(students, "arm", {"accuracy": "exact answers, %"}, scale=100.0, digits=1)
    g = students.groupby("arm", sort=False)
    out.insert(1, "problems read", g["problems_read"].first().map(lambda n: f"{int(n):,}"))
    out.insert(2, "characters read", g["tokens_read"].mean().map(lambda n: f"{n:,.0f}"))
    return out


def plot_traces(runs: pd.DataFrame, ax=None, figsize=(6.5, 2.6)):
    """Exact-answer accuracy of each arm beside the teacher's: each seed a dot, the mean a bar across it."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    arms = list(dict.fromkeys(runs["arm"]))
    for i, arm in enumerate(arms):
        v = runs.loc[runs["arm"] == arm, "accuracy"].to_numpy(dtype=float) * 100
        ax.plot(v, np.full(len(v), i), "o", color="0.4" if arm == "teacher" else "C0", ms=6, alpha=0.8)
        ax.plot([v.mean()] * 2, [i - 0.3, i + 0.3], color="C3", lw=2)
    ax.set_yticks(range(len(arms)), arms)
    ax.set_ylim(len(arms) - 0.5, -0.5)
    lo = float(runs["accuracy"].min()) * 100
    ax.set_xlim(max(0.0, lo - 3), 100.5)
    ax.set_xlabel(f"held-out sums answered exactly, % (the axis starts at {max(0, int(lo - 3))})")
    ax.grid(axis="x", alpha=0.3)
    return ax


def transfer_sets_table(runs: pd.DataFrame) -> pd.DataFrame:
    """What the teacher wrote for sequence-level KD: parse rate, distinct 3-grams (both %) and mean length."""
    sets = runs[runs["kind"] == "transfer set"].set_index("method")
    return pd.DataFrame({"parses, %": (100 * sets["parses"]).map(lambda v: f"{v:.1f}"),
                         "distinct 3-grams, %": (100 * sets["distinct_3"]).map(lambda v: f"{v:.1f}"),
                         "mean characters": sets["mean_length"].map(lambda v: f"{v:.0f}")})


# ------------------------------------------------------------------ the verdicts (each claim computed from the tables)
def _below(a: Spread, b: Spread) -> bool:
    """``a`` is lower than ``b`` beyond the seed noise (for perplexity and NLL, lower is better)."""
    return a.mean < b.mean and a.apart(b)


def _is(apart: bool) -> str:
    return "seed ranges apart" if apart else "seed ranges overlap"


def _size_ratio() -> float:
    """How many times the code teacher's parameters the student's are."""
    from .. import models, teachers
    from .students import STUDENT

    return models.count_params(models.build(teachers.TEACHERS["charlm-code"]["model"])) / models.count_params(models.build(STUDENT))


def token_verdicts(students: pd.DataFrame) -> Verdicts:
    """Section 2: token-level KD (forward KL) against the student alone, and the teacher's lead."""
    ppl, agree, parse = (score(students, c) for c in ("perplexity", "agreement", "parses"))
    kd, alone, teacher = "token KD, forward KL", "student alone", "teacher"
    return Verdicts({
        f"Token-level KD (forward KL) gives a lower validation perplexity than the student alone: {ppl[kd]:.2f} against "
        f"{ppl[alone]:.2f}, {_is(ppl[kd].apart(ppl[alone]))}.": _below(ppl[kd], ppl[alone]),
        f"It agrees with the teacher's next character more often: {agree[kd]:.1f}% against {agree[alone]:.1f}%.":
            agree[kd].beats(agree[alone]),
        f"Its samples parse {parse[kd]:.1f}% of the time, the alone student's {parse[alone]:.1f}%: not told apart "
        f"({_is(parse[kd].apart(parse[alone]))}).": not parse[kd].apart(parse[alone]),
        f"The teacher, with {_size_ratio():.1f}x the student's parameters, stays far ahead: perplexity {ppl[teacher].mean:.2f}, and "
        f"{parse[teacher].mean:.0f}% of its samples parse.": ppl[teacher].hi < ppl[kd].lo and parse[teacher].lo > parse[kd].hi,
    })


def divergence_verdicts(students: pd.DataFrame) -> Verdicts:
    """Section 4: beta = 0, 0.5 and 1 on the language model."""
    ppl, parse, distinct, nll = (score(students, c) for c in ("perplexity", "parses", "distinct_3", "teacher_nll"))
    length = students.groupby("method")["mean_length"].mean()
    fwd, jsd, rev = "token KD, forward KL", "token KD, JSD beta=0.5", "token KD, reverse KL"
    return Verdicts({
        f"Moving from forward KL to the JSD (beta = 0.5) raises the perplexity on real code, {ppl[fwd]:.2f} to "
        f"{ppl[jsd]:.2f}: the student no longer spreads its mass over everything the teacher might write.":
            _below(ppl[fwd], ppl[jsd]),
        f"In exchange its own functions parse more often, {parse[fwd]:.1f}% to {parse[jsd]:.1f}%, and the teacher finds "
        f"them more likely (NLL per character {nll[fwd]:.2f} to {nll[jsd]:.2f}): the mode-seeking trade.":
            parse[jsd].beats(parse[fwd]) and _below(nll[jsd], nll[fwd]),
        f"They are also less varied: distinct 3-grams {distinct[fwd]:.1f}% to {distinct[jsd]:.1f}%.":
            distinct[fwd].beats(distinct[jsd]),
        f"Reverse KL (beta = 1), trained on the teacher's text, fails here: perplexity {ppl[rev]:.2f}, "
        f"{parse[rev].mean:.1f}% of its samples parse, and they run to {length[rev]:.0f} characters on average against "
        f"the teacher's {length['teacher']:.0f} (the cap is 200): it often fails to end a function.":
            ppl[rev].lo > ppl[jsd].hi and parse[rev].hi < 1.0 and length[rev] > 1.3 * length["teacher"],
    })


def sequence_verdicts(students: pd.DataFrame) -> Verdicts:
    """Section 5: sequence-level KD, greedy and sampled, against token-level KD and the student alone."""
    ppl, parse, distinct = (score(students, c) for c in ("perplexity", "parses", "distinct_3"))
    greedy, sampled, token, alone = "sequence KD, greedy", "sequence KD, sampled", "token KD, forward KL", "student alone"
    students_ = [m for m in ppl if m != "teacher"]
    best_parse = max(students_, key=lambda m: parse[m].mean)
    return Verdicts({
        f"Trained on the teacher's greedy texts, the student writes the most parseable functions of all students "
        f"({parse[greedy]:.1f}%, token-level KD {parse[token]:.1f}%) and the least varied (distinct 3-grams "
        f"{distinct[greedy]:.1f}%): it learned the teacher's single most likely continuation.":
            best_parse == greedy and parse[greedy].beats(parse[token]) and min(students_, key=lambda m: distinct[m].mean) == greedy,
        f"The same student has the worst perplexity on real code ({ppl[greedy]:.2f}): greedy text shows one answer "
        "per prompt, never the alternatives.": max(students_, key=lambda m: ppl[m].mean) == greedy,
        f"On the teacher's sampled texts the student parses more often than alone ({parse[sampled]:.1f}% against "
        f"{parse[alone]:.1f}%) but its perplexity is no better ({ppl[sampled]:.2f} against {ppl[alone]:.2f}).":
            parse[sampled].beats(parse[alone]) and not _below(ppl[sampled], ppl[alone]),
        f"Neither beats token-level KD on perplexity ({ppl[token]:.2f}): one sampled text per function carries less "
        "than the teacher's whole distribution at every character.":
            _below(ppl[token], ppl[sampled]) and _below(ppl[token], ppl[greedy]),
    })


def topk_verdicts(topk: pd.DataFrame, students: pd.DataFrame) -> Verdicts:
    """Section 7: what the top-k log-probabilities keep."""
    ppl = score(topk, "perplexity", by=["k", "rest"])
    full, alone = score(students, "perplexity")["token KD, forward KL"], score(students, "perplexity")["student alone"]
    k_max = int(topk["k"].max())
    bytes_k = int(topk.loc[topk["k"] == k_max, "bytes_per_token"].iloc[0])
    r1, b1 = ppl[(1, "renormalized")], ppl[(1, "bucket")]
    return Verdicts({
        f"The top {k_max} log-probabilities ({bytes_k} bytes per token, {196 / bytes_k:.1f}x fewer than all 98) keep the full "
        f"distribution's perplexity: {ppl[(k_max, 'bucket')]:.2f} with the bucket, {full:.2f} with everything "
        f"({_is(ppl[(k_max, 'bucket')].apart(full))}).": not ppl[(k_max, "bucket")].apart(full),
        f"Each k below that costs perplexity: k = 5 gives {ppl[(5, 'bucket')].mean:.2f}, k = 1 gives {b1.mean:.2f} "
        "(means, with the bucket).": b1.mean > ppl[(5, "bucket")].mean > ppl[(k_max, "bucket")].mean,
        f"At k = 1 (the teacher's most likely character, renormalized: a hard pseudo-label) the student does worse than "
        f"on the real text alone: {r1:.2f} against {alone:.2f}.": _below(alone, r1),
        f"At k = 1 keeping the missing mass as a bucket beats renormalizing ({b1:.2f} against {r1:.2f}); at k = {k_max} "
        "the two are not told apart.": _below(b1, r1) and not ppl[(k_max, "bucket")].apart(ppl[(k_max, "renormalized")]),
    })


def traces_verdicts(runs: pd.DataFrame) -> Verdicts:
    """Section 8: answers alone against the whole traces, for the same characters read."""
    acc = score_accuracy(runs)
    teacher = runs[runs["arm"] == "teacher"].iloc[0]
    students = runs[runs["arm"] != "teacher"]
    chars = students.groupby("arm")["tokens_read"].mean()
    problems = students.groupby("arm")["problems_read"].first()
    return Verdicts({
        f"The teacher answers {100 * teacher['accuracy']:.1f}% of the held-out sums and {100 * teacher['teacher_train_accuracy']:.1f}% of "
        "the student's training problems right (its traces are used unfiltered).": teacher["accuracy"] >= 0.99,
        f"Taught by the traces, the student answers {acc['traces']:.1f}% of the held-out sums exactly; taught by the "
        f"answers alone, {acc['answers only']:.1f}%.": acc["traces"].beats(acc["answers only"]),
        f"Both read the same number of characters (within {100 * abs(chars['traces'] / chars['answers only'] - 1):.0f}%), so "
        f"the answers-only student saw {problems['answers only'] / problems['traces']:.1f}x as many problems.":
            abs(chars["traces"] / chars["answers only"] - 1) < 0.05 and problems["answers only"] > problems["traces"],
    })


def score_accuracy(runs: pd.DataFrame) -> dict:
    """``{arm: Spread}`` of exact-answer accuracy in percent (the teacher excluded)."""
    return spreads(runs[runs["arm"] != "teacher"], "arm", "accuracy", scale=100.0)


def onpolicy_verdicts(students: pd.DataFrame, onpolicy: pd.DataFrame) -> Verdicts:
    """Section 6: lambda = 0 (the JSD row of section 4), 0.5 and 1, everything else equal."""
    runs = pd.concat([students[students["method"] == "token KD, JSD beta=0.5"], students_only(onpolicy)])
    late, ppl, parse, distinct = (score(runs, c) for c in ("teacher_nll_late", "perplexity", "parses", "distinct_3"))
    seconds = runs.groupby("method", sort=False)["train_seconds"].mean()
    off, half, full = "token KD, JSD beta=0.5", "on-policy lambda=0.5, JSD beta=0.5", "on-policy lambda=1, JSD beta=0.5"
    same = lambda d: not d[half].apart(d[off]) and not d[full].apart(d[off])
    return Verdicts({
        f"On-policy batches did not improve long generations beyond the noise: the teacher's NLL per character from "
        f"character 100 on is {late[off]:.2f} off-policy, {late[half]:.2f} at lambda = 0.5 and {late[full]:.2f} at "
        "lambda = 1 (lower is better; seed ranges overlap).": same(late),
        f"Nor perplexity ({ppl[off].mean:.2f}, {ppl[half].mean:.2f}, {ppl[full].mean:.2f}) or the parse rate "
        f"({parse[off].mean:.0f}%, {parse[half].mean:.0f}%, {parse[full].mean:.0f}%): no difference beyond the noise.":
            same(ppl) and same(parse),
        f"With every batch on-policy the samples are more varied: distinct 3-grams {distinct[full]:.1f}% against "
        f"{distinct[off]:.1f}%.": distinct[full].beats(distinct[off]),
        f"It cost {seconds[half] / seconds[off]:.1f}x (lambda = 0.5) and {seconds[full] / seconds[off]:.1f}x (lambda = 1) "
        "the training time: the student writes its own batches.": seconds[half] > 3 * seconds[off] and seconds[full] > 3 * seconds[off],
    })
