"""The bank at a glance: the trap gallery, the bank's counts, the formula sheet, the most-asked questions, the papers."""

from __future__ import annotations

import html

import pandas as pd

from .. import bank
from ..i18n import N_, _, language
from .cards import _source
from .words import TD, TH, Shown, inline, langs_of, link_html


def bank_counts(entries) -> str:
    """The set-up's one line about the bank: entries, seed coverage, entries beyond the seeds, traps."""
    covered = {s for e in entries for s in e.seeds}
    return _("{n} entries: {seeded} answer seed questions and cover {covered} of {seeds} seed IDs; {beyond} go beyond "
             "the seeds; {traps} carry a trap.").format(
        n=len(entries), seeded=sum(bool(e.seeds) for e in entries), covered=len(covered), seeds=len(bank.SEED_IDS),
        beyond=sum(not e.seeds for e in entries), traps=len(bank.traps(entries)))


def terms_table() -> pd.DataFrame:
    """The bank's terms, English and Chinese."""
    return pd.DataFrame({"English": list(bank.TERMS), "中文": list(bank.TERMS.values())})


def variants_table() -> Shown:
    """The Chinese variants the bank avoids, and the term it writes instead."""
    return Shown({N_("avoid"): list(bank.NONSTANDARD), N_("write"): list(bank.NONSTANDARD.values())})


def sheet_line(entries) -> str:
    """Section 6's one line: what the cheat sheet and the booklet hold."""
    from .. import cheatsheet

    return _("cheat sheet: {formulas} distinct formulas (of {of}), {answers} answers, {traps} traps; "
             "booklet: {questions} questions, {all_traps} traps").format(
        formulas=len(cheatsheet.sheet_formulas(entries)), of=sum(bool(e.formula) for e in entries),
        answers=len(bank.most_asked(entries)), traps=len(cheatsheet.sheet_traps(entries)), questions=len(entries),
        all_traps=len(bank.traps(entries)))


def trap_table(entries=None, lang: str = "en") -> pd.DataFrame:
    """Every trap: where the claim comes from, the claim, the verdict, what holds, the section."""
    rows = [{"source": e.trap.source, "claim": e.trap.claim[lang], "verdict": "wrong" if lang == "en" else "错误",
             "what holds": e.trap.truth[lang], "disproved in": e.trap_link.label, "entry": e.id}
            for e in bank.traps(entries)]
    return pd.DataFrame(rows, columns=["source", "claim", "verdict", "what holds", "disproved in", "entry"])


def trap_gallery(entries=None, lang: str = "both", topic: str = "all") -> str:
    """The trap gallery as HTML: claim ✗, what holds ✓, and a link to the section that shows it."""
    langs = langs_of(lang)
    rows = []
    for e in bank.traps(entries):
        if topic not in ("all", e.topic):
            continue
        claim = "<br>".join(f"✗ {inline(e.trap.claim[g])}" for g in langs)
        truth = "<br>".join(f"✓ {inline(e.trap.truth[g])}" for g in langs)
        source = _source(e.trap, language())
        rows.append(f"<tr>{TD}{html.escape(source)}</td>{TD}{claim}</td>{TD}{truth}</td>"
                    f"{TD}{link_html(e.trap_link)}</td></tr>")
    head = "<tr>" + "".join(f"{TH}{h}</th>" for h in (_("source"), _("claim"), _("what holds"), _("shown in"))) + "</tr>"
    return (f'<table style="text-align:left;border-collapse:collapse" class="kdnb-traps">{head}'
            + "".join(rows) + "</table>")


def trap_sources(entries=None) -> Shown:
    """Where the traps' claims come from: a seed question's own answer (named by its ID) or common folklore."""
    source = trap_table(entries)["source"]
    seeded = source[source != "common"]
    rows = [(N_("a seed answer"), len(seeded), seeded.nunique()), (N_("common folklore"), len(source) - len(seeded), 0),
            (N_("all"), len(source), seeded.nunique())]
    where = N_("where the claim comes from")
    return Shown(rows, columns=[where, N_("traps"), N_("seed IDs named")]).set_index(where)


# ------------------------------------------------------------------------------------ the bank


def bank_summary(entries=None) -> Shown:
    """Entries per topic and level, seed coverage and traps: the bank in one table."""
    entries = bank.load() if entries is None else entries
    topic = N_("topic")
    rows = []
    for t, (name, zh) in bank.TOPICS.items():
        es = [e for e in entries if e.topic == t]
        rows.append({topic: f"{name} · {zh}", N_("entries"): len(es),
                     **{level: sum(e.difficulty == d for e in es) for d, (level, _zh) in bank.DIFFICULTY.items()},
                     N_("beyond the seeds"): sum(not e.seeds for e in es), N_("traps"): sum(e.trap is not None for e in es)})
    table = pd.DataFrame(rows)
    total = table.drop(columns=topic).sum()
    return Shown(pd.concat([table, pd.DataFrame([{topic: N_("all"), **total.to_dict()}])], ignore_index=True))


def formula_sheet(entries=None) -> str:
    """Every formula in the bank, as Markdown with display maths, under its question."""
    entries = bank.load() if entries is None else entries
    lang = language()
    return "\n\n".join(f"**{e.question[lang]}** ({e.link.markdown(prefix='')})\n$$\n{e.formula}\n$$"
                       for e in entries if e.formula)


def references(entries=None) -> list[str]:
    """The papers the bank's answers cite, each once, sorted."""
    entries = bank.load() if entries is None else entries
    return sorted({e.cite for e in entries if e.cite})


def most_asked(entries=None, lang: str = "both") -> str:
    """The most-asked questions (:func:`kdnb.bank.most_asked`) with their 30-second answers, as HTML.

    The rule is computed from the seed IDs, not chosen by hand: every entry that answers two or more
    seed IDs, and in a topic without one, the entry that answers the most. The cheat sheet prints
    the same list.
    """
    entries = bank.load() if entries is None else entries
    langs = langs_of(lang)
    rows = []
    for e in bank.most_asked(entries):
        q = "<br>".join(f"<b>{inline(e.question[g])}</b>" for g in langs)
        a = "<br>".join(inline(e.short[g]) for g in langs)
        rows.append(f"<tr>{TD}{html.escape(bank.TOPICS[e.topic][1 if language() == 'zh' else 0])}</td>{TD}{q}<br><span style='color:#555'>"
                    f"{html.escape(', '.join(e.seeds))}</span></td>{TD}{a}</td>"
                    f"{TD}{link_html(e.link)}</td></tr>")
    head = "".join(f"{TH}{h}</th>" for h in (_("topic"), _("question"), _("30-second answer"), _("section")))
    return (f"<table style='text-align:left'><tr>{head}</tr>"
            + "".join(rows) + "</table>")
