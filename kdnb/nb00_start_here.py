"""Notebook 00, start here: the map of the workbook, the teaser, and the first exercise.

* :func:`seed_index_html` is the index of every seed question ID, generated from the question
  bank (``data/questions.yaml``): the question in English and Chinese, and a link to the section
  that answers it. :func:`question_map` reads the notebooks' own section headings, and
  :func:`unanswered` lists the IDs no heading names, so the two can be checked against each other.
* :func:`teaser` loads the shipped 2x1200 teacher, trains the default recipe's student twice
  from the same initial weights (labels alone, and distilled), and measures all three with
  :func:`kdnb.evaluation.evaluate`.
* :func:`recipe_card` and :func:`teacher_card`: what the default recipe and a shipped teacher
  are, read from the code and the manifest rather than typed into the prose.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import torch

from . import bank
from . import data as kdata
from . import models
from .evaluation import evaluate
from .exercises import Verdict, as_number, check, close
from .losses import hard_loss, kd_loss
from .recipe import DEFAULT, SETTINGS, summarize, train_pair
from .teachers import TEACHERS, load_teacher, read_manifest
from .training import predict_logits

__all__ = ["SEED_IDS", "question_map", "unanswered", "seed_index_html", "ROUTE", "ROUTE_MINUTES", "DEEP_DIVE",
           "sections", "route_table", "route_html", "route_problems", "recipe_card", "teacher_card", "teaser",
           "check_alpha_for_labels_only", "check_which_setting"]

#: Table cells of the HTML tables, left-aligned and top-aligned (JupyterLab right-aligns cells by default).
_TD, _TH = '<td style="text-align:left;vertical-align:top">', '<th style="text-align:left">'

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

#: Every seed question ID (seed file, dash, question number as printed in that file; file 002
#: numbers its FAQ Q1-Q5 and its question-posing sections S2-S7).
SEED_IDS = bank.SEED_IDS


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


# ------------------------------------------------------------------------ the 30-minute route

#: The 30-minute interview route: the sections to read, in this order, as (notebook, section number).
#: Everything else in notebooks 01-07 is a deep dive and says so under its heading.
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


def sections(folder=None) -> pd.DataFrame:
    """Every numbered section of notebooks 01-07: its heading, prose words, shown outputs and deep-dive mark.

    A section runs from its ``## N · …`` heading to the next level-2 heading. ``words`` counts the
    words of its Markdown (formulas and code excluded), ``outputs`` the figures and tables its
    cells show; ``minutes`` is the reading estimate ``words / 200 + 0.25 · outputs``.
    """
    rows, folder = [], Path(folder or NOTEBOOKS)
    for path in sorted(folder.glob("0[1-7]_*.ipynb")):
        current = None
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                for block in re.split(r"(?m)^(?=## )", text):
                    m = _SECTION.match(block)
                    if m:
                        current = {"notebook": path.stem, "section": m.group(1), "heading": f"{m.group(1)} · {m.group(2)}",
                                   "deep dive": block.splitlines()[1:3] != [] and DEEP_DIVE in block.splitlines()[1:3],
                                   "words": 0, "outputs": 0}
                        rows.append(current)
                    elif block.startswith("## "):
                        current = None
                    if current is not None:
                        prose = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|```.*?```|`[^`]*`|<[^>]+>", " ", block, flags=re.DOTALL)
                        current["words"] += len(re.findall(r"[A-Za-z][A-Za-z'-]*", prose))
            elif current is not None:
                current["outputs"] += sum(any(k in o.get("data", {}) for k in _DISPLAYS) for o in cell.get("outputs", []))
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


def teacher_card() -> pd.DataFrame:
    """The shipped teachers: architecture, which labels they were trained on, test accuracy (from the manifest)."""
    rows = {}
    for name, entry in read_manifest().items():
        labels = entry.get("labels")
        rows[name] = {"model": models.describe(entry["model"]),
                      "trained on": f"{labels['n']} labelled training images" if labels else "all 3,500 training images",
                      "label smoothing": entry["train"].get("label_smoothing", 0.0),
                      "test accuracy (%)": round(100 * entry["test_accuracy"], 1)}
    return pd.DataFrame(rows).T


def teaser(seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """The first notebook's table: the shipped teacher, the student alone, the distilled student.

    The columns of :func:`kdnb.evaluation.evaluate`: test accuracy, parameters, bytes, and the
    latency of one image and of a batch, measured on this CPU.
    """
    ds = kdata.load_mnist_subset()
    teacher = load_teacher(DEFAULT["teacher"])
    alone, distilled, spec = train_pair("default", seed, ds, predict_logits(teacher, ds.train.X), progress)
    return evaluate({f"teacher ({models.describe(TEACHERS[DEFAULT['teacher']]['model'])})": teacher,
                     f"student alone ({models.describe(spec['student'])})": alone,
                     f"distilled student (T={spec['T']:g}, alpha={spec['alpha']:g})": distilled}, ds.test)


def check_alpha_for_labels_only(alpha) -> Verdict:
    """Check yourself 4.1: the ``alpha`` that makes ``kd_loss`` the plain cross-entropy with the labels."""
    z, v, y = torch.tensor([[2.0, 0.5, -1.0]]), torch.tensor([[1.0, 1.5, -2.0]]), torch.tensor([0])

    def diagnose(a):
        a = as_number(a)
        if a is None or not 0 <= a <= 1:
            return "alpha is a number between 0 and 1"
        if close(kd_loss(z, v, y, T=4.0, alpha=a).item(), hard_loss(z, y).item()):
            return None
        if a == 1:
            return "alpha = 1 keeps only the soft (teacher) term: alpha weights the soft term, 1 - alpha the labels"
        return f"with alpha = {a:g} the teacher's term still has weight {a:g}; which alpha removes it?"

    return check("Check yourself 4.1", alpha, diagnose, todo="set alpha_for_labels_only to a number, then rerun the cell",
                 praise="alpha weights the soft (teacher) term, so alpha = 0 leaves only the cross-entropy with the labels")


def check_which_setting(results: pd.DataFrame, name) -> Verdict:
    """Check yourself 5.1: the setting whose gain is within the seed noise (the two seed ranges overlap)."""
    table = summarize(results)
    within_noise = list(table.index[table["ranges_overlap"]])

    def diagnose(n):
        if n not in table.index:
            return f"{n!r} is not a setting; choose one of {list(table.index)}"
        if n in within_noise:
            return None
        if n == table["gain_mean"].idxmax():
            return "that setting gains the most; look for the one whose distilled and label-only dots overlap"
        return (f"{n} gains {table.loc[n, 'gain_mean']:+.1f} points and its seed ranges do not overlap: "
                "look at the ranges_overlap column")

    return check("Check yourself 5.1", name, diagnose, todo="set no_clear_gain to a setting's name, then rerun the cell",
                 praise="its distilled and label-only seed ranges overlap: the gain is within the seed noise")
