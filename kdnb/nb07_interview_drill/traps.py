"""The bank at a glance: the trap gallery, the bank's counts, the formula sheet, the most-asked questions, the papers."""

from __future__ import annotations

import html

import pandas as pd

from .. import bank
from .words import TD, TH, inline, langs_of, link_html


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
        rows.append(f"<tr>{TD}{html.escape(e.trap.source)}</td>{TD}{claim}</td>{TD}{truth}</td>"
                    f"{TD}{link_html(e.trap_link)}</td></tr>")
    head = f"<tr>{TH}source</th>{TH}claim</th>{TH}what holds</th>{TH}shown in</th></tr>"
    return (f'<table style="text-align:left;border-collapse:collapse" class="kdnb-traps">{head}'
            + "".join(rows) + "</table>")


def trap_sources(entries=None) -> pd.DataFrame:
    """Where the traps' claims come from: a seed question's own answer (named by its ID) or common folklore."""
    source = trap_table(entries)["source"]
    seeded = source[source != "common"]
    rows = [("a seed answer", len(seeded), seeded.nunique()), ("common folklore", len(source) - len(seeded), 0),
            ("all", len(source), seeded.nunique())]
    return pd.DataFrame(rows, columns=["where the claim comes from", "traps", "seed IDs named"]).set_index(
        "where the claim comes from")


# ------------------------------------------------------------------------------------ the bank


def bank_summary(entries=None) -> pd.DataFrame:
    """Entries per topic and level, seed coverage and traps: the bank in one table."""
    entries = bank.load() if entries is None else entries
    rows = []
    for t, (name, zh) in bank.TOPICS.items():
        es = [e for e in entries if e.topic == t]
        rows.append({"topic": f"{name} · {zh}", "entries": len(es),
                     **{bank.DIFFICULTY[d][0]: sum(e.difficulty == d for e in es) for d in bank.DIFFICULTY},
                     "beyond the seeds": sum(not e.seeds for e in es), "traps": sum(e.trap is not None for e in es)})
    table = pd.DataFrame(rows)
    total = table.drop(columns="topic").sum()
    return pd.concat([table, pd.DataFrame([{"topic": "all", **total.to_dict()}])], ignore_index=True)


def formula_sheet(entries=None) -> str:
    """Every formula in the bank, as Markdown with display maths, under its question."""
    entries = bank.load() if entries is None else entries
    return "\n\n".join(f"**{e.question['en']}** ({e.link.markdown(prefix='')})\n$$\n{e.formula}\n$$"
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
        rows.append(f"<tr>{TD}{html.escape(bank.TOPICS[e.topic][0])}</td>{TD}{q}<br><span style='color:#555'>"
                    f"{html.escape(', '.join(e.seeds))}</span></td>{TD}{a}</td>"
                    f"{TD}{link_html(e.link)}</td></tr>")
    return (f"<table style='text-align:left'><tr>{TH}topic</th>{TH}question</th>{TH}30-second answer</th>{TH}section</th></tr>"
            + "".join(rows) + "</table>")
