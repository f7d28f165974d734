"""Every notebook has the same frame, so a reader who knows one knows where to look in the next.

* cell 0: ``# NN · Title``, the Colab/Binder links, ``**Objectives.** After this notebook you can``
  with a numbered list, and a ``**Time:**`` line;
* cell 1: the Colab install cell, collapsed;
* ``## 1 · Set-up…``, then numbered sections ``## N · Title (seed IDs)`` in order; from section 2 on each
  heading names the seed questions it answers (or says ``(beyond the seeds)``), except in 00 (the map)
  and 07 (the drill), which answer every question;
* exercises are headings, ``### Try it N.M: …``, ``### Check yourself N.M: …`` and ``### Spot the bug N.M: …``,
  numbered by their section and counted from 1 per kind; no bold-paragraph variants;
* the end: ``## Summary: the 30-second answers`` with its table, then ``## References``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SEED_ID = re.compile(r"\b\d{3}-[A-Z]?\d+\b")
NO_ID_RULE = {"00", "07"}  # the map and the drill answer every question
EXERCISE = re.compile(r"^### (Try it|Check yourself|Spot the bug) (\d+)\.(\d+): \S")
EXERCISE_WORDS = re.compile(r"(Try it|Check yourself|Spot the bug) \d+\.\d+")
SECTION = re.compile(r"^## (\d+) · (.+)$")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def markdown_lines(path: Path) -> list[str]:
    return [line for c in cells(path) if c["cell_type"] == "markdown" for line in source(c).split("\n")]


ids = [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_title_cell_states_objectives_and_time(path):
    first = source(cells(path)[0])
    number = path.stem[:2]
    assert re.match(rf"# {number} · \S", first), f"{path.name}: cell 0 must start with '# {number} · Title'"
    assert "Open in Colab" in first and "Launch on Binder" in first, f"{path.name}: the Colab/Binder links are missing"
    m = re.search(r"\*\*Objectives\.\*\* After this notebook you can\n((?:\d+\. .+\n?)+)", first)
    assert m, f"{path.name}: cell 0 needs '**Objectives.** After this notebook you can' and a numbered list"
    items = re.findall(r"^(\d+)\. ", m.group(1), flags=re.M)
    assert items == [str(i) for i in range(1, len(items) + 1)] and len(items) >= 2, f"{path.name}: objectives numbered 1..n"
    assert re.search(r"^\*\*Time:\*\* \S", first, flags=re.M), f"{path.name}: cell 0 needs a '**Time:** …' line"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_second_cell_is_the_collapsed_colab_cell(path):
    from kdnb.cloud import INSTALL_MARK

    cell = cells(path)[1]
    assert cell["cell_type"] == "code" and source(cell).startswith(INSTALL_MARK), f"{path.name}: cell 1 is the Colab cell"
    assert cell.get("metadata", {}).get("jupyter", {}).get("source_hidden") is True, f"{path.name}: collapse the Colab cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_sections_are_numbered_in_order_and_name_their_seed_questions(path):
    sections = [SECTION.match(line) for line in markdown_lines(path)]
    sections = [m for m in sections if m]
    numbers = [int(m.group(1)) for m in sections]
    assert numbers == list(range(1, len(numbers) + 1)), f"{path.name}: sections must run 1, 2, 3 …; found {numbers}"
    assert sections[0].group(2).startswith("Set-up"), f"{path.name}: section 1 is the set-up"
    if path.stem[:2] in NO_ID_RULE:
        return
    missing = [m.group(0) for m in sections[1:] if not SEED_ID.search(m.group(2)) and "(beyond the seeds)" not in m.group(2)]
    assert not missing, f"{path.name}: these headings name no seed question (add its ID, or '(beyond the seeds)'): {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_exercises_are_headings_numbered_by_their_section(path):
    section, counts, problems = 0, {}, []
    for line in markdown_lines(path):
        m = SECTION.match(line)
        if m:
            section, counts = int(m.group(1)), {}
            continue
        if line.startswith("## "):
            section, counts = None, {}
            continue
        e = EXERCISE.match(line)
        if e:
            kind, n, k = e.group(1), int(e.group(2)), int(e.group(3))
            counts[kind] = counts.get(kind, 0) + 1
            if n != section or k != counts[kind]:
                problems.append(f"{line!r}: expected {kind} {section}.{counts[kind]}")
        elif EXERCISE_WORDS.search(line) and re.match(r"^\s*(\*\*|#+ )", line):
            problems.append(f"{line[:70]!r}: an exercise is a heading '### {EXERCISE_WORDS.search(line).group(0)}: short title'")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_ends_with_the_summary_table_and_references(path):
    lines = markdown_lines(path)
    tops = [line for line in lines if line.startswith("## ") and not SECTION.match(line)]
    assert tops[-2:] == ["## Summary: the 30-second answers", "## References"], \
        f"{path.name}: after the numbered sections come '## Summary: the 30-second answers' and '## References'; found {tops}"
    after = "\n".join(lines[lines.index("## Summary: the 30-second answers"):lines.index("## References")])
    assert re.search(r"^\|.+\|\n\|[-| :]+\|\n\|", after, flags=re.M), f"{path.name}: the summary is a table of 30-second answers"
    last_section = max(i for i, line in enumerate(lines) if SECTION.match(line))
    assert lines.index("## Summary: the 30-second answers") > last_section, f"{path.name}: the summary comes after the sections"
