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
from ..evaluation import evaluate
from ..recipe import DEFAULT, SETTINGS, train_pair
from ..teachers import TEACHERS, load_teacher
from ..training import predict_logits
from ..verdicts import Verdicts
from .checks import check_alpha_for_labels_only, check_which_setting

__all__ = ["SEED_IDS", "question_map", "unanswered", "seed_index_html", "map_verdicts", "ROUTE", "ROUTE_MINUTES",
           "DEEP_DIVE", "sections", "route_table", "route_html", "route_problems", "route_verdicts", "setup_verdicts",
           "images_per_class", "recipe_card", "teaser", "teaser_verdicts", "temperature_table", "gain_table",
           "settings_verdicts", "check_alpha_for_labels_only", "check_which_setting"]

#: Table cells of the HTML tables, left-aligned and top-aligned (JupyterLab right-aligns cells by default).
_TD, _TH = '<td style="text-align:left;vertical-align:top">', '<th style="text-align:left">'

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

#: Every seed question ID (seed file, dash, question number as printed in that file; file 002
#: numbers its FAQ Q1-Q5 and its question-posing sections S2-S7).
SEED_IDS = bank.SEED_IDS


# ------------------------------------------------------------------------ set-up and data (section 1, 2)
def setup_verdicts(report: pd.DataFrame) -> Verdicts:
    """What the workbook needs before anything runs, read from :func:`kdnb.env.report`."""
    value = report["value"]
    return Verdicts({
        "the offline MNIST subset is installed (if not: run `make lab`)": value.get("offline MNIST subset") == "found",
        "the default teacher mlp-mnist ships with the workbook (if not: `python -m kdnb.teachers build`)":
            "mlp-mnist" in str(value.get("shipped teachers", "")).split(", "),
    })


def images_per_class(ds: kdata.Dataset) -> pd.DataFrame:
    """How many images of each class every split holds (one number when the classes are balanced)."""
    counts = {name: ", ".join(str(n) for n in sorted(set(torch.bincount(split.y).tolist())))
              for name, split in (("train", ds.train), ("val", ds.val), ("test", ds.test))}
    return pd.Series(counts, name="images per class").to_frame()


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
    rows = [f"<tr>{_TD}<b>{r['seed ID']}</b></td>{_TD}{bank.inline_html(r['question'])}<br>"
            f"<span style='color:#444'>{bank.inline_html(r['问题'])}</span></td>"
            f"{_TD}<a href='{html.escape(r['href'])}'>{html.escape(r['answered in'])}</a></td></tr>"
            for _, r in bank.seed_index(entries).iterrows()]
    return (f"<table style='text-align:left'><tr>{_TH}seed ID</th>{_TH}question · 问题</th>{_TH}answered in</th></tr>"
            + "".join(rows) + "</table>")


def map_verdicts(entries, folder=None) -> Verdicts:
    """The index against the bank and the headings: every seed ID is answered by an entry and named by a heading."""
    index = bank.seed_index(entries, folder)
    answering = index["entry"].nunique()
    missing = unanswered(folder)
    return Verdicts({
        f"all {len(SEED_IDS)} seed IDs are in the question bank, answered by {answering} of its {len(entries)} entries "
        f"(the other {sum(not e.seeds for e in entries)} go beyond the seeds)": set(index["seed ID"]) == set(SEED_IDS),
        "every seed ID is named in a notebook's section heading"
        + (f" (not yet: {', '.join(missing)})" if missing else ""): not missing,
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
    for _, r in route_table(folder).iterrows():
        href = bank.Link(r["notebook"], r["section"]).href(folder)
        rows.append(f"<tr>{_TD}{r['stop']}</td>{_TD}{r['notebook'][:2]}</td>{_TD}<a href='{html.escape(href)}'>"
                    f"{bank.inline_html(r['heading'])}</a></td>{_TD}{r['minutes']:.1f}</td></tr>")
    return (f"<table style='text-align:left'><tr>{_TH}stop</th>{_TH}notebook</th>{_TH}section</th>"
            f"{_TH}minutes</th></tr>" + "".join(rows) + "</table>")


def route_problems(folder=None) -> list[str]:
    """Sections whose deep-dive mark disagrees with the route (an empty list when all agree)."""
    on_route = set(ROUTE)
    out = []
    for _, r in sections(folder).iterrows():
        stop, set_up = (r["notebook"], r["section"]), r["section"] == "1"
        if stop in on_route and r["deep dive"]:
            out.append(f"{r['notebook']} §{r['section']} is on the route but marked as a deep dive")
        elif stop not in on_route and not set_up and not r["deep dive"]:
            out.append(f"{r['notebook']} §{r['section']} is off the route: put {DEEP_DIVE!r} under its heading")
    return out


def route_verdicts(folder=None) -> Verdicts:
    """The route keeps its budget, and every section's deep-dive mark agrees with it."""
    route, table, problems = route_table(folder), sections(folder), route_problems(folder)
    total = float(route["total minutes"].iloc[-1])
    return Verdicts({
        f"the route reads {len(route)} sections of {route['notebook'].nunique()} notebooks within its "
        f"{ROUTE_MINUTES}-minute budget": total <= ROUTE_MINUTES,
        f"the other {int(table['deep dive'].sum())} numbered sections (set-ups aside) are marked as deep dives, "
        "and no section on the route is" + (f" (not yet: {'; '.join(problems)})" if problems else ""): not problems,
    })


# ------------------------------------------------------------------------ the teaser (section 4)
def recipe_card(name: str = "default") -> pd.Series:
    """The default recipe as a table: teacher, student, sizes, T, alpha, schedule."""
    spec = SETTINGS[name]
    teacher = TEACHERS[spec["teacher"]]
    t_model, s_model = models.build(teacher["model"]), models.build(spec["student"])
    return pd.Series({
        "teacher": f"{spec['teacher']}: {models.describe(teacher['model'])}, random shifts of up to "
                   f"{teacher['train']['augment']} px",
        "student": models.describe(spec["student"]),
        "parameters, teacher / student": f"{models.count_params(t_model):,} / {models.count_params(s_model):,} "
                                         f"({models.count_params(t_model) / models.count_params(s_model):.0f}x fewer)",
        "T (chosen on the validation split)": f"{spec['T']:g}", "alpha (weight of the soft term)": f"{spec['alpha']:g}",
        "epochs, batch, learning rate": f"{spec['epochs']}, {spec['batch_size']}, {spec['lr']:g}",
    }, name=f"recipe '{name}'")


def teaser(seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """The first notebook's table: the shipped teacher, the student alone, the distilled student.

    The columns of :func:`kdnb.evaluation.evaluate`: test accuracy, parameters, bytes, and the
    latency of one image and of a batch, measured on this CPU. Row order: teacher, alone, distilled.
    """
    ds = kdata.load_mnist_subset()
    teacher = load_teacher(DEFAULT["teacher"])
    alone, distilled, spec = train_pair("default", seed, ds, predict_logits(teacher, ds.train.X), progress)
    return evaluate({f"teacher ({models.describe(TEACHERS[DEFAULT['teacher']]['model'])})": teacher,
                     f"student alone ({models.describe(spec['student'])})": alone,
                     f"distilled student (T={spec['T']:g}, alpha={spec['alpha']:g})": distilled}, ds.test)


def teaser_verdicts(table: pd.DataFrame) -> Verdicts:
    """What the teaser's table shows (rows: teacher, student alone, distilled student)."""
    acc, params, latency = table["test accuracy (%)"], table["parameters"], table["latency, 1 image (ms)"]
    return Verdicts({
        "the distilled student beats the same student trained on labels alone": acc.iloc[2] > acc.iloc[1],
        "the two students have the same architecture (the same parameter count)": params.iloc[1] == params.iloc[2],
        f"the student has {params.iloc[0] / params.iloc[2]:.0f}x fewer parameters than the teacher (more than 20x)":
            params.iloc[0] > 20 * params.iloc[2],
        "the distilled student answers one image faster than the teacher": latency.iloc[2] < latency.iloc[0],
    })


# ------------------------------------------------------------------------ several seeds, several settings (section 5)
def temperature_table(selection: pd.DataFrame, chosen: pd.Series) -> pd.DataFrame:
    """Mean validation accuracy (%) of the distilled student per setting and T, and the T chosen on it."""
    by_T = (100 * selection.groupby(["setting", "T"], sort=False)["kd_val"].mean()).unstack("T").round(1)
    by_T["T chosen"] = chosen
    return by_T.rename_axis(columns="mean validation accuracy (%) at T")


def gain_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Each setting's mean gain (points) and whether it is larger than the seed noise (:func:`kdnb.recipe.summarize`)."""
    verdict = summary["ranges_overlap"].map({True: "within the seed noise", False: "larger than the seed noise"})
    return pd.DataFrame({"gain (points)": summary["gain_mean"].round(1), "against the seed noise": verdict})


def settings_verdicts(summary: pd.DataFrame) -> Verdicts:
    """The claims section 5's prose makes about the stored settings (:func:`kdnb.recipe.summarize` of the runs)."""
    gain, overlap = summary["gain_mean"], summary["ranges_overlap"]
    return Verdicts({
        "the default setting gains at least a point, more than the seed noise": gain["default"] >= 1.0 and not overlap["default"],
        "few-labels gains more than few-labels-own-teacher, whose teacher saw only the student's labels":
            gain["few-labels"] > gain["few-labels-own-teacher"],
        "with a teacher that saw only the student's labels, distillation still gains": gain["few-labels-own-teacher"] > 0,
        "the CNN teacher teaches the 1x100 student less than the MLP teacher does": gain["cnn-teacher"] < gain["default"],
        "the tiny student's gain is within the seed noise": bool(overlap["tiny-student"]),
    })
