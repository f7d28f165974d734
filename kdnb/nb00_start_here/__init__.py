"""Notebook 00, start here: the map of the workbook, the 30-minute route, the teaser and its first exercises.

This file holds what the notebook's cells call. The question map: :func:`seed_index_html` is the
index of every seed question ID, generated from the question bank (``data/questions.yaml``), with
the question in English and Chinese and a link to the section that answers it; :func:`question_map`
reads the notebooks' own section headings and :func:`unanswered` lists the IDs no heading names, so
the two are checked against each other (:func:`map_verdicts`). The 30-minute route: :data:`ROUTE`
lists the sections to read, :func:`sections` estimates every numbered section's reading time,
:func:`route_table` and :func:`route_html` show the route, and :func:`route_problems` names every
section whose deep-dive mark (:data:`DEEP_DIVE`) disagrees with it (the tests check every notebook
with it). The teaser: :func:`teaser` loads the shipped 2x1200 teacher, trains the default recipe's
student twice from the same initial weights (labels alone, and distilled) and measures all three
with :func:`kdnb.evaluation.evaluate`; :func:`recipe_card` says what the default recipe is, read
from the code. The tables and verdicts of the set-up and of section 5 (:func:`images_per_class`,
:func:`temperature_table`, :func:`gain_table` and the ``*_verdicts`` functions) turn the stored
runs into what the cells show.

``checks.py`` holds the checkers of the notebook's exercises (Check yourself 4.1 and 5.1), each
naming the usual mistake; they are exported here.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import torch

from .. import bank
from .. import data as kdata
from .. import models
from ..evaluation import evaluate, readable
from ..i18n import N_, _, language
from ..recipe import DEFAULT, SETTINGS, train_pair
from ..shown import ShownTable
from ..teachers import TEACHERS, load_teacher
from ..training import predict_logits
from ..verdicts import Verdicts
from .checks import check_alpha_for_labels_only, check_which_setting

__all__ = ["SEED_IDS", "question_map", "unanswered", "seed_index_html", "map_verdicts", "ROUTE", "ROUTE_MINUTES",
           "DEEP_DIVE", "sections", "route_table", "route_html", "route_problems", "route_verdicts", "setup_verdicts",
           "images_per_class", "data_summary", "recipe_card", "teaser_table", "teaser", "teaser_verdicts", "temperature_table", "gain_table",
           "settings_verdicts", "Shown", "check_alpha_for_labels_only", "check_which_setting"]

#: Table cells of the HTML tables, left-aligned and top-aligned (JupyterLab right-aligns cells by default).
_TD, _TH = '<td style="text-align:left;vertical-align:top">', '<th style="text-align:left">'

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

#: Every seed question ID (seed file, dash, question number as printed in that file; file 002
#: numbers its FAQ Q1-Q5 and its question-posing sections S2-S7).
SEED_IDS = bank.SEED_IDS


class Shown(ShownTable):
    """A table of this notebook: code reads its English labels and cells, the reader sees them in their language."""


# ------------------------------------------------------------------------ set-up and data (section 1, 2)
def setup_verdicts(report: pd.DataFrame) -> Verdicts:
    """What the workbook needs before anything runs, read from :func:`kdnb.env.report`."""
    value = report["value"]
    return Verdicts({
        _("the offline MNIST subset is installed (if not: run `make lab`)"): value.get("offline MNIST subset") == "found",
        _("the default teacher mlp-mnist ships with the workbook (if not: `python -m kdnb.teachers build`)"):
            "mlp-mnist" in str(value.get("shipped teachers", "")).split(", "),
    })


def images_per_class(ds: kdata.Dataset) -> pd.DataFrame:
    """How many images of each class every split holds (one number when the classes are balanced)."""
    counts = {_(name): ", ".join(str(n) for n in sorted(set(torch.bincount(split.y).tolist())))
              for name, split in ((N_("train"), ds.train), (N_("val"), ds.val), (N_("test"), ds.test))}
    return pd.Series(counts, name=_("images per class")).to_frame()


#: The rows of :meth:`kdnb.data.Dataset.summary`, marked for translation.
_SUMMARY_ROWS = (N_("dataset"), N_("train"), N_("val"), N_("test"), N_("image"), N_("classes"))


def data_summary(ds: kdata.Dataset) -> pd.DataFrame:
    """The data set's summary (name, split sizes, image shape, classes) as a one-column table."""
    rows = {_(k): v for k, v in ds.summary().items()}
    return pd.Series(rows).to_frame(_("mnist subset"))


# ------------------------------------------------------------------------ the question map (section 3)
def question_map(folder=None) -> pd.DataFrame:
    """One row per numbered section (``N · …``) of every notebook that names seed IDs in its heading."""
    rows = []
    for stem, heads in bank.headings(folder or NOTEBOOKS).items():
        for heading in heads:
            ids = [i for i in bank.SEED_ID.findall(heading) if i in SEED_IDS]
            if ids and re.match(r"\d+ · ", heading):
                title = re.sub(r"\s*\([^)]*\)\s*$", "", heading).strip()
                rows.append({"notebook": stem, "section": title, "seed IDs": ", ".join(dict.fromkeys(ids))})
    return pd.DataFrame(rows, columns=["notebook", "section", "seed IDs"])


def unanswered(folder=None) -> list[str]:
    """Seed IDs that no notebook heading names yet (their notebooks are still to come)."""
    seen = {i for ids in question_map(folder)["seed IDs"] for i in ids.split(", ")}
    return [i for i in SEED_IDS if i not in seen]


def seed_index_html(entries=None) -> str:
    """The index of seed question IDs as an HTML table: ID, the question in both languages, the section.

    Generated from the question bank (:func:`kdnb.bank.seed_index`); an ID that several entries
    answer gets a row per entry.
    """
    entries = bank.load() if entries is None else entries
    links = {e.id: e.link for e in entries}
    zh = language() == "zh"
    first, second = ("问题", "question") if zh else ("question", "问题")
    rows = [f"<tr>{_TD}<b>{r['seed ID']}</b></td>{_TD}{bank.inline_html(r[first])}<br>"
            f"<span style='color:#444'>{bank.inline_html(r[second])}</span></td>"
            f"{_TD}<a href='{html.escape(r['href'])}'>{html.escape(r['answered in'])}</a> · {twin_link(links[r['entry']])}</td></tr>"
            for _i, r in bank.seed_index(entries).iterrows()]
    question = "问题 · question" if zh else "question · 问题"
    head = "".join(f"{_TH}{h}</th>" for h in (_("seed ID"), question, _("answered in")))
    return (f"<table style='text-align:left'><tr>{head}</tr>"
            + "".join(rows) + "</table>")


def twin_link(link: bank.Link) -> str:
    """A link to the other edition: "English" from the Chinese notebook back to the section in notebooks/,
    "中文" from the English one to the Chinese notebook in notebooks/zh/ (to the notebook, not the section:
    the Chinese headings change with the translation, and the English notebook's output must not)."""
    if language() == "zh":
        return f"<a href='{html.escape(f'../{link.notebook}.ipynb#{bank.anchor(link.heading())}')}'>English</a>"
    return f"<a href='{html.escape(f'zh/{link.notebook}.ipynb')}'>中文</a>"


def map_verdicts(entries, folder=None) -> Verdicts:
    """The index against the bank and the headings: every seed ID is answered by an entry and named by a heading."""
    index = bank.seed_index(entries, folder)
    answering = index["entry"].nunique()
    missing = unanswered(folder)
    return Verdicts({
        _("all {n} seed IDs are in the question bank, answered by {answering} of its {entries} entries "
          "(the other {beyond} go beyond the seeds)").format(n=len(SEED_IDS), answering=answering, entries=len(entries),
                                                            beyond=sum(not e.seeds for e in entries)):
            set(index["seed ID"]) == set(SEED_IDS),
        _("every seed ID is named in a notebook's section heading")
        + (_(" (not yet: {missing})").format(missing=", ".join(missing)) if missing else ""): not missing,
    })


# ------------------------------------------------------------------------ the 30-minute route (section 3)
#: The 30-minute interview route: the sections to read, in this order, as (notebook, section number).
#: Everything else in notebooks 01-08 is a deep dive and says so under its heading.
ROUTE = (
    ("01_what_is_distillation", "2"), ("02_soft_vs_hard_labels", "2"),
    ("03_temperature", "2"), ("03_temperature", "4"),
    ("04_distillation_losses", "2"), ("04_distillation_losses", "3"), ("04_distillation_losses", "5"),
    ("05_distillation_in_practice", "4"),
    ("06_pruning_and_compression", "2"), ("06_pruning_and_compression", "5"),
    ("07_interview_drill", "5"),
)
#: The route's reading budget, in minutes.
ROUTE_MINUTES = 30
#: The line under a heading that marks a section outside the route (its Chinese gloss: 深入阅读).
DEEP_DIVE = "*Deep dive (深入阅读): not on the 30-minute interview route in notebook 00, §3.*"
#: Reading speed for the estimate: words of prose per minute, plus a fixed time per output to look at.
WORDS_PER_MINUTE, MINUTES_PER_OUTPUT = 200, 0.25
_SECTION = re.compile(r"^## (\d+) · (.*?)\s*$", re.MULTILINE)
_DISPLAYS = ("image/png", "text/html")
#: The mark of a list of verdicts (:class:`kdnb.verdicts.Verdicts`): like printed text, not a figure or table to look at.
_VERDICTS = 'class="kdnb-verdicts"'


def _words(text: str) -> int:
    return len(re.findall(r"[A-Za-z][A-Za-z'-]*", text))


def _shown(output: dict) -> bool:
    """Whether a cell output is a figure or table to look at (printed text and verdict lists are not)."""
    data = output.get("data", {})
    return any(k in data for k in _DISPLAYS) and _VERDICTS not in "".join(data.get("text/html", ""))


def sections(folder=None) -> pd.DataFrame:
    """Every numbered section of notebooks 01-08: its heading, prose words, shown outputs and deep-dive mark.

    A section runs from its ``## N · …`` heading to the next level-2 heading. ``words`` counts the
    words of its Markdown (formulas and code excluded), ``outputs`` the figures and tables its cells
    show (printed text and lists of verdicts are not counted); ``minutes`` is the reading estimate ``words / 200 + 0.25 · outputs``.
    """
    rows, folder = [], Path(folder or NOTEBOOKS)
    for path in sorted(folder.glob("0[1-8]_*.ipynb")):
        current = None
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                for block in re.split(r"(?m)^(?=## )", text):
                    m = _SECTION.match(block)
                    if m:
                        current = {"notebook": path.stem, "section": m.group(1), "heading": f"{m.group(1)} · {m.group(2)}",
                                   "deep dive": DEEP_DIVE in block.splitlines()[1:3], "words": 0, "outputs": 0}
                        rows.append(current)
                    elif block.startswith("## "):
                        current = None
                    if current is not None:
                        prose = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|```.*?```|`[^`]*`|<[^>]+>", " ", block, flags=re.DOTALL)
                        current["words"] += _words(prose)
            elif current is not None:
                current["outputs"] += sum(_shown(o) for o in cell.get("outputs", []))
    table = pd.DataFrame(rows, columns=["notebook", "section", "heading", "deep dive", "words", "outputs"])
    table["minutes"] = table["words"] / WORDS_PER_MINUTE + MINUTES_PER_OUTPUT * table["outputs"]
    return table


def route_table(folder=None) -> pd.DataFrame:
    """The route in reading order, with each stop's heading, reading estimate and running total."""
    table = sections(folder).set_index(["notebook", "section"])
    missing = [stop for stop in ROUTE if stop not in table.index]
    if missing:
        raise KeyError(f"route stops with no such section: {missing}; update nb00_start_here.ROUTE")
    route = table.loc[list(ROUTE)].reset_index()
    route.insert(0, "stop", range(1, len(route) + 1))
    route["total minutes"] = route["minutes"].cumsum()
    return route


def route_html(folder=None) -> str:
    """The route as an HTML table whose headings link to the sections."""
    rows = []
    for _i, r in route_table(folder).iterrows():
        link = bank.Link(r["notebook"], r["section"])
        target, heading, twin = link.heading(folder), r["heading"], ""
        if folder is None:
            twin = f" · {twin_link(link)}"
            if language() == "zh":  # the Chinese twin's heading, shown and linked to
                target = heading = bank.zh_heading(r["notebook"], target)
        href = f"{r['notebook']}.ipynb#{bank.anchor(target)}"
        rows.append(f"<tr>{_TD}{r['stop']}</td>{_TD}{r['notebook'][:2]}</td>{_TD}<a href='{html.escape(href)}'>"
                    f"{bank.inline_html(heading)}</a>{twin}</td>{_TD}{r['minutes']:.1f}</td></tr>")
    head = "".join(f"{_TH}{h}</th>" for h in (_("stop"), _("notebook"), _("section"), _("minutes")))
    return f"<table style='text-align:left'><tr>{head}</tr>" + "".join(rows) + "</table>"


def route_problems(folder=None) -> list[str]:
    """Sections whose deep-dive mark disagrees with the route (an empty list when all agree)."""
    on_route = set(ROUTE)
    out = []
    for _i, r in sections(folder).iterrows():
        stop, set_up = (r["notebook"], r["section"]), r["section"] == "1"
        if stop in on_route and r["deep dive"]:
            out.append(_("{notebook} §{section} is on the route but marked as a deep dive").format(
                notebook=r["notebook"], section=r["section"]))
        elif stop not in on_route and not set_up and not r["deep dive"]:
            out.append(_("{notebook} §{section} is off the route: put {mark} under its heading").format(
                notebook=r["notebook"], section=r["section"], mark=repr(DEEP_DIVE)))
    return out


def route_verdicts(folder=None) -> Verdicts:
    """The route keeps its budget, and every section's deep-dive mark agrees with it."""
    route, table, problems = route_table(folder), sections(folder), route_problems(folder)
    total = float(route["total minutes"].iloc[-1])
    return Verdicts({
        _("the route reads {sections} sections of {notebooks} notebooks within its {minutes}-minute budget").format(
            sections=len(route), notebooks=route["notebook"].nunique(), minutes=ROUTE_MINUTES): total <= ROUTE_MINUTES,
        _("the other {n} numbered sections (set-ups aside) are marked as deep dives, and no section on the route is").format(
            n=int(table["deep dive"].sum()))
        + (_(" (not yet: {missing})").format(missing="; ".join(problems)) if problems else ""): not problems,
    })


# ------------------------------------------------------------------------ the teaser (section 4)
def recipe_card(name: str = "default") -> pd.Series:
    """The default recipe as a table: teacher, student, sizes, T, alpha, schedule."""
    spec = SETTINGS[name]
    teacher = TEACHERS[spec["teacher"]]
    t_model, s_model = models.build(teacher["model"]), models.build(spec["student"])
    t_params, s_params = models.count_params(t_model), models.count_params(s_model)
    return pd.Series({
        _("teacher"): _("{name}: {model}, random shifts of up to {px} px").format(
            name=spec["teacher"], model=models.describe(teacher["model"]), px=teacher["train"]["augment"]),
        _("student"): models.describe(spec["student"]),
        _("parameters, teacher / student"): _("{teacher} / {student} ({ratio:.0f}x fewer)").format(
            teacher=f"{t_params:,}", student=f"{s_params:,}", ratio=t_params / s_params),
        _("T (chosen on the validation split)"): f"{spec['T']:g}", _("alpha (weight of the soft term)"): f"{spec['alpha']:g}",
        _("epochs, batch, learning rate"): f"{spec['epochs']}, {spec['batch_size']}, {spec['lr']:g}",
    }, name=_("recipe '{name}'").format(name=name))


def teaser(seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """The first notebook's table: the shipped teacher, the student alone, the distilled student.

    The columns of :func:`kdnb.evaluation.evaluate`: test accuracy, parameters, bytes, and the
    latency of one image and of a batch, measured on this CPU. Row order: teacher, alone, distilled.
    """
    ds = kdata.load_mnist_subset()
    teacher = load_teacher(DEFAULT["teacher"])
    alone, distilled, spec = train_pair("default", seed, ds, predict_logits(teacher, ds.train.X), progress)
    return evaluate({_("teacher ({model})").format(model=models.describe(TEACHERS[DEFAULT["teacher"]]["model"])): teacher,
                     _("student alone ({model})").format(model=models.describe(spec["student"])): alone,
                     _("distilled student (T={T:g}, alpha={alpha:g})").format(T=spec["T"], alpha=spec["alpha"]): distilled},
                    ds.test)


def teaser_table(table: pd.DataFrame) -> pd.DataFrame:
    """The teaser's table as shown: accuracy to one decimal, the rest to three, headers in the edition's language."""
    return readable(table.round({"test accuracy (%)": 1}).round(3))


def teaser_verdicts(table: pd.DataFrame) -> Verdicts:
    """What the teaser's table shows (rows: teacher, student alone, distilled student)."""
    acc, params, latency = table["test accuracy (%)"], table["parameters"], table["latency, 1 image (ms)"]
    return Verdicts({
        _("the distilled student beats the same student trained on labels alone"): acc.iloc[2] > acc.iloc[1],
        _("the two students have the same architecture (the same parameter count)"): params.iloc[1] == params.iloc[2],
        _("the student has {ratio:.0f}x fewer parameters than the teacher (more than 20x)").format(
            ratio=params.iloc[0] / params.iloc[2]): params.iloc[0] > 20 * params.iloc[2],
        _("the distilled student answers one image faster than the teacher"): latency.iloc[2] < latency.iloc[0],
    })


# ------------------------------------------------------------------------ several seeds, several settings (section 5)
def temperature_table(selection: pd.DataFrame, chosen: pd.Series) -> Shown:
    """Mean validation accuracy (%) of the distilled student per setting and T, and the T chosen on it."""
    by_T = (100 * selection.groupby(["setting", "T"], sort=False)["kd_val"].mean()).unstack("T").round(1)
    by_T[N_("T chosen")] = chosen
    return Shown(by_T.rename_axis(columns=N_("mean validation accuracy (%) at T")))


def gain_table(summary: pd.DataFrame) -> Shown:
    """Each setting's mean gain (points) and whether it is larger than the seed noise (:func:`kdnb.recipe.summarize`)."""
    verdict = summary["ranges_overlap"].map({True: N_("within the seed noise"), False: N_("larger than the seed noise")})
    return Shown({N_("gain (points)"): summary["gain_mean"].round(1), N_("against the seed noise"): verdict})


def settings_verdicts(summary: pd.DataFrame) -> Verdicts:
    """The claims section 5's prose makes about the stored settings (:func:`kdnb.recipe.summarize` of the runs)."""
    gain, overlap = summary["gain_mean"], summary["ranges_overlap"]
    return Verdicts({
        _("the default setting gains at least a point, more than the seed noise"):
            gain["default"] >= 1.0 and not overlap["default"],
        _("few-labels gains more than few-labels-own-teacher, whose teacher saw only the student's labels"):
            gain["few-labels"] > gain["few-labels-own-teacher"],
        _("with a teacher that saw only the student's labels, distillation still gains"): gain["few-labels-own-teacher"] > 0,
        _("the CNN teacher teaches the 1x100 student less than the MLP teacher does"): gain["cnn-teacher"] < gain["default"],
        _("the tiny student's gain is within the seed noise"): bool(overlap["tiny-student"]),
    })
