"""The precomputed tables read over seeds (through :mod:`kdnb.seeds`), and their figures.

Every score is a mean over the seeds with the lowest and highest seed beside it, ``mean [min, max]``; two results
are told apart only when their seed ranges do not overlap."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..i18n import N_, _
from ..seeds import Spread, span_table, spreads
from ..shown import ShownTable, template_label
from ..verdicts import Verdicts

#: Scores as they are read: column -> (label, scale, digits). Fractions are shown in percent.
SCORES = {
    "perplexity": (N_("perplexity"), 1.0, 2),
    "agreement": (N_("agrees with teacher, %"), 100.0, 1),
    "parses": (N_("parses, %"), 100.0, 1),
    "distinct_3": (N_("distinct 3-grams, %"), 100.0, 1),
    "teacher_nll": (N_("teacher NLL"), 1.0, 3),
    "teacher_nll_late": (N_("teacher NLL, chars 100+"), 1.0, 3),
}
#: The names of the rows (methods, transfer sets, arms, ways to treat the rest of the mass) as the reader sees them.
NAMES = (N_("teacher"), N_("student alone"), N_("token KD, forward KL"), N_("token KD, reverse KL"),
         N_("sequence KD, greedy"), N_("sequence KD, sampled"), N_("the teacher's greedy texts"),
         N_("the teacher's sampled texts"), N_("answers only"), N_("traces"), N_("renormalized"), N_("bucket"), N_("greedy"), N_("sampled"),
         N_("method"), N_("arm"), N_("rest"), N_("seeds"))
#: The tables' column labels besides the scores' (:data:`SCORES`).
COLUMNS = (N_("bytes per token"), N_("exact answers, %"), N_("problems read"), N_("characters read"),
           N_("mean characters"))
_WORDS = frozenset(NAMES + COLUMNS + tuple(label for label, _scale, _digits in SCORES.values()))


#: Row names built from a template (a method with its settings filled in).
TEMPLATES = (N_("token KD, JSD beta={beta}"), N_("on-policy lambda={lmbda}, JSD beta={beta}"))


def _word(name):
    return _(name) if isinstance(name, str) and name in _WORDS else name


#: A label of a table or figure (a method, an arm, a column, ...) in the reader's language; others unchanged.
tr = template_label(TEMPLATES, fallback=_word)


class Shown(ShownTable):
    """A table of this notebook: English labels for code, shown through :func:`tr`."""

    label = staticmethod(tr)


def score_table(runs: pd.DataFrame, by="method", columns=tuple(SCORES)) -> Shown:
    """``mean [min, max]`` over seeds of each score, one row per group of ``by`` (table order kept)."""
    parts = [span_table(runs, by, {c: SCORES[c][0]}, scale=SCORES[c][1], digits=SCORES[c][2]).iloc[:, :1]
             for c in columns]
    out = pd.concat(parts, axis=1)
    out["seeds"] = runs.groupby(by, sort=False).size()
    return Shown(out)


def score(runs: pd.DataFrame, column: str, by="method") -> dict:
    """``{group: Spread}`` of one score, in the unit it is shown in (percent for fractions)."""
    return spreads(runs, by, column, scale=SCORES[column][1])


def students_only(runs: pd.DataFrame) -> pd.DataFrame:
    """The trained students and the teacher (not the rows that describe the teacher's transfer sets)."""
    return runs[runs["kind"] != "transfer set"]


def plot_scores(runs: pd.DataFrame, columns=("perplexity", "parses", "distinct_3"), by="method", axes=None, figsize=(11, 3.6)):
    """One panel per score: each seed a dot, each method a row, its mean a bar. ``axes``: one per column."""
    if axes is None:
        _fig, axes = plt.subplots(1, len(columns), figsize=figsize, sharey=True, constrained_layout=True)
    groups = list(dict.fromkeys(runs[by]))
    y = np.arange(len(groups))[::-1]
    for ax, column in zip(np.atleast_1d(axes), columns):
        label, scale, _digits = SCORES[column]
        for yi, group in zip(y, groups):
            values = runs.loc[runs[by] == group, column].to_numpy(dtype=float) * scale
            ax.plot(values, np.full(len(values), yi), "o", color="C0" if group != "teacher" else "0.4", alpha=0.8, ms=5)
            ax.plot([values.mean()] * 2, [yi - 0.3, yi + 0.3], color="C3", lw=2)
        ax.set_yticks(y, [tr(g) for g in groups])
        ax.set_title(_(label))
        ax.grid(axis="x", alpha=0.3)
    return axes


def topk_table(topk: pd.DataFrame) -> Shown:
    """The top-k runs read over seeds: bytes per token, perplexity and agreement."""
    out = score_table(topk, ["k", "rest"], ("perplexity", "agreement"))
    out.insert(0, "bytes per token", topk.groupby(["k", "rest"], sort=False)["bytes_per_token"].first().to_numpy())
    return out


def plot_topk(topk: pd.DataFrame, full: Spread, alone: Spread, ax=None, figsize=(7, 3.8)):
    """Perplexity against the bytes stored per token, for both ways of handling the rest of the mass; the full
    distribution (``full``) and the student alone (``alone``) as references, each with its seed range."""
    if ax is None:
        _fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    for i, (rest, group) in enumerate(topk.groupby("rest", sort=False)):
        s = group.groupby("k")["perplexity"]
        bytes_ = group.groupby("k")["bytes_per_token"].first()
        ax.errorbar(bytes_, s.mean(), yerr=[s.mean() - s.min(), s.max() - s.mean()], marker="o", capsize=3,
                    label=_("top-k, {rest}").format(rest=tr(rest)), color=f"C{i}")
        for k, b in bytes_.items():
            ax.annotate(f"k={k}", (b, s.mean()[k]), textcoords="offset points", xytext=(6, 4 - 12 * i), fontsize=9, color=f"C{i}")
    full_bytes = 2 * 98
    ax.errorbar([full_bytes], [full.mean], yerr=[[full.mean - full.lo], [full.hi - full.mean]], marker="s", color="k",
                capsize=3, label=_("all 98 log-probabilities"))
    ax.axhspan(alone.lo, alone.hi, color="0.85", label=_("student alone (seed range)"))
    ax.set_xscale("log")
    ax.set_xlabel(_("bytes stored per token (log scale)"))
    ax.set_ylabel(_("validation perplexity (lower is better)"))
    ax.legend(fontsize=9, loc="upper right")
    ax.grid(alpha=0.3)
    return ax


def traces_table(runs: pd.DataFrame) -> Shown:
    """Accuracy over seeds of each arm, with what each student read."""
    students = runs[runs["arm"] != "teacher"]
    out = span_table(students, "arm", {"accuracy": "exact answers, %"}, scale=100.0, digits=1)
    g = students.groupby("arm", sort=False)
    out.insert(1, "problems read", g["problems_read"].first().map(lambda n: f"{int(n):,}"))
    out.insert(2, "characters read", g["tokens_read"].mean().map(lambda n: f"{n:,.0f}"))
    return Shown(out)


def plot_traces(runs: pd.DataFrame, ax=None, figsize=(6.5, 2.6)):
    """Exact-answer accuracy of each arm beside the teacher's: each seed a dot, the mean a bar across it."""
    if ax is None:
        _fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    arms = list(dict.fromkeys(runs["arm"]))
    for i, arm in enumerate(arms):
        v = runs.loc[runs["arm"] == arm, "accuracy"].to_numpy(dtype=float) * 100
        ax.plot(v, np.full(len(v), i), "o", color="0.4" if arm == "teacher" else "C0", ms=6, alpha=0.8)
        ax.plot([v.mean()] * 2, [i - 0.3, i + 0.3], color="C3", lw=2)
    ax.set_yticks(range(len(arms)), [tr(a) for a in arms])
    ax.set_ylim(len(arms) - 0.5, -0.5)
    lo = float(runs["accuracy"].min()) * 100
    ax.set_xlim(max(0.0, lo - 3), 100.5)
    ax.set_xlabel(_("held-out sums answered exactly, % (the axis starts at {start})").format(start=max(0, int(lo - 3))))
    ax.grid(axis="x", alpha=0.3)
    return ax


def transfer_sets_table(runs: pd.DataFrame) -> Shown:
    """What the teacher wrote for sequence-level KD: parse rate, distinct 3-grams (both %) and mean length."""
    sets = runs[runs["kind"] == "transfer set"].set_index("method")
    return Shown({"parses, %": (100 * sets["parses"]).map(lambda v: f"{v:.1f}"),
                  "distinct 3-grams, %": (100 * sets["distinct_3"]).map(lambda v: f"{v:.1f}"),
                  "mean characters": sets["mean_length"].map(lambda v: f"{v:.0f}")})


# ------------------------------------------------------------------ what the notebook's cells print
def print_setup(entry: dict, corpus, n_teacher: int, n_student: int) -> None:
    """Section 1: which corpus the teacher was trained on, and the two models' sizes (``entry``: its manifest entry)."""
    from .. import models
    from .students import STUDENT

    same = entry["corpus_digest"] == corpus.digest
    print(_("the teacher was trained on corpus {digest}: ").format(digest=entry["corpus_digest"])
          + (_("the same functions") if same else
             _("NOT this one (the installed libraries differ from the pinned ones): numbers below will differ")))
    print(_("teacher: {model}, {n:,} parameters, {steps:,} steps of {batch} functions").format(
        model=models.describe(entry["model"]), n=n_teacher, steps=entry["train"]["steps"], batch=entry["train"]["batch_size"]))
    print(_("student: {model}, {n:,} parameters ({fewer:.1f}x fewer)").format(
        model=models.describe(STUDENT), n=n_student, fewer=n_teacher / n_student))
    print(_("teacher's perplexity on the test functions: {ppl:.2f} per character").format(ppl=entry["test_perplexity"]))


def print_samples(written: list[str], shown_: int = 3) -> None:
    """The first ``shown_`` texts, each with whether it parses, and the parse rate of them all."""
    from .. import charlm

    for text in written[:shown_]:
        print(text, "\n" + "-" * 40, _("parses") if charlm.parses(text) else _("does NOT parse"), "\n")
    print(_("{rate:.0%} of these {n} samples parse (section 2's table scores 256 per seed)").format(
        rate=charlm.parse_rate(written), n=len(written)))


def print_scale_error(scale: dict) -> None:
    """Section 3: :func:`.divergence.batchmean_scale_error`'s two ratios, as sentences."""
    print(_("no padding: 'batchmean' / per-token mean = {ratio:.3g} (S = {S})").format(
        ratio=scale["ratio, no padding"], S=scale["S"]))
    print(_("with padding: 'batchmean' / per-valid-token mean = {ratio:.3g} ({valid} valid tokens / B = {per:.3g})").format(
        ratio=scale["ratio, padding"], valid=scale["valid tokens"], per=scale["valid tokens"] / scale["B"]))


def print_slice(stored, live: dict) -> None:
    """Section 5: the live re-run of the stored slice (``stored``: the row of ``nb08_slice``) beside the stored one."""
    print(_("{method}, {steps} steps on {texts:,} functions: live perplexity {live:.3f}, stored {stored:.3f}").format(
        method=tr(stored.method), steps=stored.steps, texts=stored.texts, live=live["perplexity"],
        stored=stored.perplexity))


def print_trl_difference(worst: float | None) -> None:
    """Section 9: the largest gap to TRL's loss (``None``: TRL is not installed)."""
    if worst is None:
        print(_("TRL is not installed here: pip install trl==1.16.0 to run this check"))
        return
    print(_("largest difference from TRL's loss over 15 (beta, T) pairs: {worst}").format(
        worst=_("below 1e-5") if worst < 1e-5 else worst))


# ------------------------------------------------------------------ the verdicts (each claim computed from the tables)
def _below(a: Spread, b: Spread) -> bool:
    """``a`` is lower than ``b`` beyond the seed noise (for perplexity and NLL, lower is better)."""
    return a.mean < b.mean and a.apart(b)


def _is(apart: bool) -> str:
    return _("seed ranges apart") if apart else _("seed ranges overlap")


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
        _("Token-level KD (forward KL) gives a lower validation perplexity than the student alone: {kd:.2f} against "
          "{alone:.2f}, {apart}.").format(kd=ppl[kd], alone=ppl[alone], apart=_is(ppl[kd].apart(ppl[alone]))):
            _below(ppl[kd], ppl[alone]),
        _("It agrees with the teacher's next character more often: {kd:.1f}% against {alone:.1f}%.").format(
            kd=agree[kd], alone=agree[alone]): agree[kd].beats(agree[alone]),
        _("Its samples parse {kd:.1f}% of the time, the alone student's {alone:.1f}%: not told apart "
          "({apart}).").format(kd=parse[kd], alone=parse[alone], apart=_is(parse[kd].apart(parse[alone]))):
            not parse[kd].apart(parse[alone]),
        _("The teacher, with {ratio:.1f}x the student's parameters, stays far ahead: perplexity {ppl:.2f}, and "
          "{parse:.0f}% of its samples parse.").format(ratio=_size_ratio(), ppl=ppl[teacher].mean, parse=parse[teacher].mean):
            ppl[teacher].hi < ppl[kd].lo and parse[teacher].lo > parse[kd].hi,
    })


def divergence_verdicts(students: pd.DataFrame) -> Verdicts:
    """Section 4: beta = 0, 0.5 and 1 on the language model."""
    ppl, parse, distinct, nll = (score(students, c) for c in ("perplexity", "parses", "distinct_3", "teacher_nll"))
    length = students.groupby("method")["mean_length"].mean()
    fwd, jsd, rev = "token KD, forward KL", "token KD, JSD beta=0.5", "token KD, reverse KL"
    return Verdicts({
        _("Moving from forward KL to the JSD (beta = 0.5) raises the perplexity on real code, {fwd:.2f} to "
          "{jsd:.2f}: the student no longer spreads its mass over everything the teacher might write.").format(
              fwd=ppl[fwd], jsd=ppl[jsd]):
            _below(ppl[fwd], ppl[jsd]),
        _("In exchange its own functions parse more often, {parse_fwd:.1f}% to {parse_jsd:.1f}%, and the teacher finds "
          "them more likely (NLL per character {nll_fwd:.2f} to {nll_jsd:.2f}): the mode-seeking trade.").format(
              parse_fwd=parse[fwd], parse_jsd=parse[jsd], nll_fwd=nll[fwd], nll_jsd=nll[jsd]):
            parse[jsd].beats(parse[fwd]) and _below(nll[jsd], nll[fwd]),
        _("They are also less varied: distinct 3-grams {fwd:.1f}% to {jsd:.1f}%.").format(fwd=distinct[fwd],
                                                                                          jsd=distinct[jsd]):
            distinct[fwd].beats(distinct[jsd]),
        _("Reverse KL (beta = 1), trained on the teacher's text, fails here: perplexity {ppl:.2f}, "
          "{parse:.1f}% of its samples parse, and they run to {length:.0f} characters on average against "
          "the teacher's {teacher:.0f} (the cap is 200): it often fails to end a function.").format(
              ppl=ppl[rev], parse=parse[rev].mean, length=length[rev], teacher=length["teacher"]):
            ppl[rev].lo > ppl[jsd].hi and parse[rev].hi < 1.0 and length[rev] > 1.3 * length["teacher"],
    })


def sequence_verdicts(students: pd.DataFrame) -> Verdicts:
    """Section 5: sequence-level KD, greedy and sampled, against token-level KD and the student alone."""
    ppl, parse, distinct = (score(students, c) for c in ("perplexity", "parses", "distinct_3"))
    greedy, sampled, token, alone = "sequence KD, greedy", "sequence KD, sampled", "token KD, forward KL", "student alone"
    students_ = [m for m in ppl if m != "teacher"]
    best_parse = max(students_, key=lambda m: parse[m].mean)
    return Verdicts({
        _("Trained on the teacher's greedy texts, the student writes the most parseable functions of all students "
          "({greedy:.1f}%, token-level KD {token:.1f}%) and the least varied (distinct 3-grams "
          "{distinct:.1f}%): it learned the teacher's single most likely continuation.").format(
              greedy=parse[greedy], token=parse[token], distinct=distinct[greedy]):
            best_parse == greedy and parse[greedy].beats(parse[token]) and min(students_, key=lambda m: distinct[m].mean) == greedy,
        _("The same student has the worst perplexity on real code ({ppl:.2f}): greedy text shows one answer "
          "per prompt, never the alternatives.").format(ppl=ppl[greedy]): max(students_, key=lambda m: ppl[m].mean) == greedy,
        _("On the teacher's sampled texts the student parses more often than alone ({parse_sampled:.1f}% against "
          "{parse_alone:.1f}%) but its perplexity is no better ({ppl_sampled:.2f} against {ppl_alone:.2f}).").format(
              parse_sampled=parse[sampled], parse_alone=parse[alone], ppl_sampled=ppl[sampled], ppl_alone=ppl[alone]):
            parse[sampled].beats(parse[alone]) and not _below(ppl[sampled], ppl[alone]),
        _("Neither beats token-level KD on perplexity ({ppl:.2f}): one sampled text per function carries less "
          "than the teacher's whole distribution at every character.").format(ppl=ppl[token]):
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
        _("The top {k} log-probabilities ({bytes} bytes per token, {fewer:.1f}x fewer than all 98) keep the full "
          "distribution's perplexity: {bucket:.2f} with the bucket, {full:.2f} with everything "
          "({apart}).").format(k=k_max, bytes=bytes_k, fewer=196 / bytes_k, bucket=ppl[(k_max, "bucket")], full=full,
                               apart=_is(ppl[(k_max, "bucket")].apart(full))): not ppl[(k_max, "bucket")].apart(full),
        _("Each k below that costs perplexity: k = 5 gives {k5:.2f}, k = 1 gives {k1:.2f} "
          "(means, with the bucket).").format(k5=ppl[(5, "bucket")].mean, k1=b1.mean): b1.mean > ppl[(5, "bucket")].mean > ppl[(k_max, "bucket")].mean,
        _("At k = 1 (the teacher's most likely character, renormalized: a hard pseudo-label) the student does worse than "
          "on the real text alone: {r1:.2f} against {alone:.2f}.").format(r1=r1, alone=alone): _below(alone, r1),
        _("At k = 1 keeping the missing mass as a bucket beats renormalizing ({b1:.2f} against {r1:.2f}); at k = {k} "
          "the two are not told apart.").format(b1=b1, r1=r1, k=k_max): _below(b1, r1) and not ppl[(k_max, "bucket")].apart(ppl[(k_max, "renormalized")]),
    })


def traces_verdicts(runs: pd.DataFrame) -> Verdicts:
    """Section 8: answers alone against the whole traces, for the same characters read."""
    acc = score_accuracy(runs)
    teacher = runs[runs["arm"] == "teacher"].iloc[0]
    students = runs[runs["arm"] != "teacher"]
    chars = students.groupby("arm")["tokens_read"].mean()
    problems = students.groupby("arm")["problems_read"].first()
    return Verdicts({
        _("The teacher answers {test:.1f}% of the held-out sums and {train:.1f}% of "
          "the student's training problems right (its traces are used unfiltered).").format(
              test=100 * teacher["accuracy"], train=100 * teacher["teacher_train_accuracy"]): teacher["accuracy"] >= 0.99,
        _("Taught by the traces, the student answers {traces:.1f}% of the held-out sums exactly; taught by the "
          "answers alone, {answers:.1f}%.").format(traces=acc["traces"], answers=acc["answers only"]): acc["traces"].beats(acc["answers only"]),
        _("Both read the same number of characters (within {within:.0f}%), so "
          "the answers-only student saw {ratio:.1f}x as many problems.").format(
              within=100 * abs(chars["traces"] / chars["answers only"] - 1),
              ratio=problems["answers only"] / problems["traces"]):
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
        _("On-policy batches did not improve long generations beyond the noise: the teacher's NLL per character from "
          "character 100 on is {off:.2f} off-policy, {half:.2f} at lambda = 0.5 and {full:.2f} at "
          "lambda = 1 (lower is better; seed ranges overlap).").format(off=late[off], half=late[half], full=late[full]):
            same(late),
        _("Nor perplexity ({ppl_off:.2f}, {ppl_half:.2f}, {ppl_full:.2f}) or the parse rate "
          "({parse_off:.0f}%, {parse_half:.0f}%, {parse_full:.0f}%): no difference beyond the noise.").format(
              ppl_off=ppl[off].mean, ppl_half=ppl[half].mean, ppl_full=ppl[full].mean,
              parse_off=parse[off].mean, parse_half=parse[half].mean, parse_full=parse[full].mean):
            same(ppl) and same(parse),
        _("With every batch on-policy the samples are more varied: distinct 3-grams {full:.1f}% against "
          "{off:.1f}%.").format(full=distinct[full], off=distinct[off]): distinct[full].beats(distinct[off]),
        _("It cost {half:.1f}x (lambda = 0.5) and {full:.1f}x (lambda = 1) "
          "the training time: the student writes its own batches.").format(half=seconds[half] / seconds[off],
                                                                          full=seconds[full] / seconds[off]): seconds[half] > 3 * seconds[off] and seconds[full] > 3 * seconds[off],
    })
