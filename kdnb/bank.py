"""The question bank: every seed interview question, and the ones a strong interviewer adds.

``data/questions.yaml`` holds one entry per distinct question. Each entry has

* ``id``: a short stable slug; ``seeds``: the seed question IDs it answers (GUIDE §2), often
  several, because the seeds ask the same thing more than once; an entry beyond the seeds has none;
* ``topic`` (one of :data:`TOPICS`) and ``difficulty`` (1 warm-up, 2 core, 3 deep);
* ``question`` and ``short`` (the 30-second answer) in English and Chinese, ``long`` in English;
* ``trap`` where a common or seeded claim is wrong: the claim and the correct statement in both
  languages, where the claim comes from, and optionally the section that disproves it;
* ``link``: the notebook section that demonstrates the answer (``{notebook, section}``, where
  ``section`` is the heading's number such as ``"4"`` or ``"5.1"``, or its start such as
  ``"Try it 2.1"``);
* ``formula`` (LaTeX that matplotlib's mathtext can draw) and ``cite`` (author, year, title)
  where the answer rests on a formula or a paper.

:func:`load` reads and validates the bank; :func:`problems` lists everything the schema test
checks, so ``python -m kdnb.bank`` reports a broken bank in one go. The cheat sheet
(:mod:`kdnb.cheatsheet`), notebook 00's index and notebook 07 all read the bank through here.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .exercises import exercise_name
from .i18n import language

ROOT = Path(__file__).resolve().parents[1]
BANK = ROOT / "data" / "questions.yaml"
NOTEBOOKS = ROOT / "notebooks"

__all__ = ["BANK", "TOPICS", "DIFFICULTY", "LANGUAGES", "TERMS", "NONSTANDARD", "SEED_IDS", "BankError",
           "Link", "Trap", "Entry", "load", "problems", "headings", "markdown_html", "inline_html", "seed_index", "traps",
           "by_topic", "most_asked"]

#: topic key -> (English, Chinese) name, in the order the workbook teaches them.
TOPICS = {
    "basics": ("Basics", "基础概念"),
    "labels": ("Soft and hard labels", "软标签与硬标签"),
    "temperature": ("Temperature", "温度"),
    "losses": ("Distillation losses", "蒸馏损失"),
    "practice": ("Distillation in practice", "蒸馏实践"),
    "applications": ("Applications", "应用场景"),
    "compression": ("Pruning, quantization, compression", "剪枝、量化与模型压缩"),
    "code": ("Code and PyTorch traps", "代码与 PyTorch 陷阱"),
}
DIFFICULTY = {1: ("warm-up", "热身"), 2: ("core", "核心"), 3: ("deep", "深入")}
LANGUAGES = ("en", "zh")

#: The workbook's one glossary: each standard Chinese term and the variants not to use.
GLOSSARY = ROOT / "data" / "zh" / "glossary.yaml"


def nonstandard_in(text: str) -> list[tuple[str, str]]:
    """(variant, term to write) for each rejected variant in ``text``; a variant inside an accepted
    term (超参 in 超参数) does not count."""
    masked = text
    for term in _accepted():
        masked = masked.replace(term, "\0" * len(term))
    return [(bad, good) for bad, good in _rejected() if bad in masked]


@functools.lru_cache(maxsize=1)
def glossary() -> tuple[dict, ...]:
    """The terms of ``data/zh/glossary.yaml``, in its order (en, zh, reject, drill)."""
    import yaml

    terms = yaml.safe_load(GLOSSARY.read_text(encoding="utf-8"))["terms"]
    return tuple({"en": t["en"], "zh": t["zh"], "reject": list(t.get("reject") or []), "drill": bool(t.get("drill"))}
                 for t in terms)


@functools.lru_cache(maxsize=1)
def _accepted() -> tuple[str, ...]:
    """The glossary's Chinese terms, longest first (a term is masked before any term inside it)."""
    return tuple(sorted({t["zh"] for t in glossary()}, key=len, reverse=True))


@functools.lru_cache(maxsize=1)
def _rejected() -> tuple[tuple[str, str], ...]:
    """(variant, term to write) for every rejected variant, in the glossary's order."""
    return tuple((bad, t["zh"]) for t in glossary() for bad in t["reject"])


@functools.lru_cache(maxsize=1)
def _lookups() -> dict[str, dict[str, str]]:
    # TERMS: the core terms notebook 07 lists (English -> 中文); NONSTANDARD: each rejected variant -> the term
    # to write. Both come from the glossary, built once on first use.
    return {"TERMS": {t["en"]: t["zh"] for t in glossary() if t["drill"]}, "NONSTANDARD": dict(_rejected())}


def __getattr__(name: str):
    if name in ("TERMS", "NONSTANDARD"):
        return _lookups()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Every seed question ID (GUIDE §2).
SEED_IDS = ([f"000-{i}" for i in range(1, 8)] + [f"001-{i}" for i in range(1, 8)] + [f"002-Q{i}" for i in range(1, 6)]
            + [f"002-S{i}" for i in range(2, 8)] + [f"003-{i}" for i in range(1, 31)] + [f"004-{i}" for i in range(1, 7)])
#: A seed ID where it is cited (a heading, a trap's source).
SEED_ID = re.compile(r"\b00[0-4]-(?:Q[1-5]|S[2-7]|[1-9]\d?)\b")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_HEADING = re.compile(r"^(#{2,3})\s+(.*?)\s*$", re.MULTILINE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WIDE = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"  # CJK characters and full-width punctuation
_CJK_OR_PUNCT = re.compile(f"[{_WIDE}]")
_WIDE_GAP = re.compile(f"(?<=[{_WIDE}])\\s+(?=[{_WIDE}])")
_ABBREVIATIONS = re.compile(r"\b(?:et al|e\.g|i\.e|vs|cf)\.")
#: A 30-second answer, said aloud: at most this many English words and sentences, Chinese characters.
SHORT_WORDS, SHORT_SENTENCES, SHORT_ZH_CHARS = 80, 3, 170


class BankError(ValueError):
    """The bank file is malformed: the message names the entry, the field and the fix."""


@dataclass(frozen=True)
class Link:
    """A notebook section: ``notebook`` is the file's stem, ``section`` the heading's number or start."""

    notebook: str
    section: str

    @property
    def label(self) -> str:
        """Short form for tables: ``03 §4``, ``04 §5.1``, ``05 Check yourself 4.1``."""
        n = self.notebook[:2]
        return f"{n} §{self.section}" if re.fullmatch(r"\d+(?:\.\d+)?", self.section) else f"{n} {exercise_name(self.section)}"

    def heading(self, folder=None) -> str:
        """The full heading text this link points at; :class:`BankError` if there is none."""
        found = headings(folder).get(self.notebook)
        if found is None:
            raise BankError(f"no notebook {self.notebook}.ipynb: link to one of {sorted(headings(folder))}")
        for text in found:
            if _matches(text, self.section):
                return text
        raise BankError(f"{self.notebook} has no section {self.section!r}: its headings are {found}")

    def parent(self, folder=None) -> str | None:
        """The numbered section (``N · …``) the heading is, or sits in; None above the first one."""
        heads = headings(folder)[self.notebook]
        heading = self.heading(folder)
        return next((h for h in reversed(heads[:heads.index(heading) + 1]) if re.match(r"\d+ · ", h)), None)

    def href(self, folder=None, prefix: str = "", lang: str | None = None) -> str:
        """A relative link JupyterLab follows: the file, then the heading's id (spaces become '-'); in Chinese
        (``lang``, by default the current language) the id of the Chinese twin's heading."""
        heading = self.heading(folder)
        if folder is None and (lang or language()) == "zh":  # the Chinese twin's heading at the same place
            heading = zh_heading(self.notebook, heading)
        return f"{prefix}{self.notebook}.ipynb#{anchor(heading)}"

    def markdown(self, folder=None, prefix: str = "") -> str:
        return f"[{self.label}]({self.href(folder, prefix)})"


@dataclass(frozen=True)
class Trap:
    """A wrong claim and the correct statement, in both languages."""

    source: str          # the seed ID that makes the claim, or "common"
    claim: dict          # {"en": ..., "zh": ...}
    truth: dict
    link: Link | None    # the section that disproves it, when it is not the entry's own


@dataclass(frozen=True)
class Entry:
    id: str
    seeds: tuple
    topic: str
    difficulty: int
    question: dict
    short: dict
    long: str
    link: Link
    trap: Trap | None = None
    formula: str | None = None
    cite: str | None = None

    def text(self, field: str, lang: str = "en") -> str:
        """``question``/``short`` in one language; ``long`` is English only."""
        if field == "long":
            return self.long
        return getattr(self, field)[lang]

    @property
    def trap_link(self) -> Link:
        return (self.trap.link if self.trap and self.trap.link else self.link)


def _matches(heading: str, section: str) -> bool:
    if re.fullmatch(r"\d+", section):
        return heading.startswith(f"{section} · ")
    if re.fullmatch(r"\d+\.\d+", section):
        return heading.startswith(f"{section} ")
    return heading.startswith(section)


def anchor(heading: str) -> str:
    """JupyterLab's id for a rendered heading: its text (inline code marks dropped), spaces as '-'."""
    text = re.sub(r"[`*]", "", heading)
    return text.replace(" ", "-")


@functools.lru_cache(maxsize=4)
def _headings(folder: str) -> dict:
    out = {}
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        out[path.stem] = [m.group(2) for c in cells if c["cell_type"] == "markdown"
                          for m in _HEADING.finditer("".join(c["source"]))]
    return out


@functools.lru_cache(maxsize=32)
def _zh_headings(notebook: str, stamp: float) -> list[str]:
    from . import zh

    english = NOTEBOOKS / f"{notebook}.ipynb"
    found = zh.load(english)
    cells = json.loads(english.read_text(encoding="utf-8"))["cells"]
    texts = [found.get(c["id"], {}).get("zh") or "".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    return [m.group(2) for t in texts for m in _HEADING.finditer(t)]


def zh_heading(notebook: str, heading: str) -> str:
    """The heading of ``notebook``'s Chinese edition (notebooks/zh/) at the place of the English ``heading``.

    Read from the translations (``data/zh/<notebook>.yaml``), not from the built Chinese notebook, so it
    does not depend on which notebooks were built first. The Chinese edition has the same cells in the
    same order, so the n-th heading of one is the n-th of the other; without a translation of the same
    shape, the English heading is kept.
    """
    path = ROOT / "data" / "zh" / f"{notebook}.yaml"
    if not path.exists():
        return heading
    english, chinese = headings().get(notebook, []), _zh_headings(notebook, path.stat().st_mtime)
    return chinese[english.index(heading)] if len(chinese) == len(english) and heading in english else heading


def headings(folder=None) -> dict[str, list[str]]:
    """Every notebook's level-2 and level-3 headings, by notebook stem."""
    return _headings(str(folder or NOTEBOOKS))


# --------------------------------------------------------------------------------------- reading


def _bilingual(raw, where: str, field: str) -> dict:
    if not isinstance(raw, dict) or set(raw) != set(LANGUAGES):
        raise BankError(f"{where}: '{field}' needs exactly the keys en and zh, got {raw!r:.80}")
    out = {}
    for lang in LANGUAGES:
        text = raw[lang]
        if not isinstance(text, str) or not text.strip():
            raise BankError(f"{where}: '{field}.{lang}' is empty; write it in {'English' if lang == 'en' else 'Chinese'}")
        out[lang] = _join_lines(text) if field != "long" else text.strip()
    return out


def _join_lines(text: str) -> str:
    """Collapse a folded field's whitespace; a line break between two Chinese characters leaves no space."""
    return " ".join(_WIDE_GAP.sub("", text.strip()).split())


def sentences(text: str) -> int:
    """How many sentences an English answer has ("et al.", "e.g." do not end one)."""
    text = _ABBREVIATIONS.sub("ABBR", text)
    return len([s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(\"'`])", text) if s.strip()])


def _link(raw, where: str) -> Link:
    if not isinstance(raw, dict) or set(raw) != {"notebook", "section"}:
        raise BankError(f"{where}: a link is {{notebook: 03_temperature, section: '4'}}, got {raw!r:.80}")
    return Link(str(raw["notebook"]), str(raw["section"]))


_FIELDS = {"id", "seeds", "topic", "difficulty", "question", "short", "long", "link", "trap", "formula", "cite"}
_REQUIRED = {"id", "seeds", "topic", "difficulty", "question", "short", "long", "link"}


def _entry(raw, index: int) -> Entry:
    where = f"entry {index + 1}"
    if not isinstance(raw, dict):
        raise BankError(f"{where}: an entry is a mapping of fields, got {type(raw).__name__}")
    where = f"entry {index + 1} ({raw.get('id', 'no id')})"
    if missing := _REQUIRED - set(raw):
        raise BankError(f"{where}: missing field(s) {sorted(missing)}")
    if unknown := set(raw) - _FIELDS:
        raise BankError(f"{where}: unknown field(s) {sorted(unknown)}; the fields are {sorted(_FIELDS)}")
    if not isinstance(raw["id"], str) or not _SLUG.match(raw["id"]):
        raise BankError(f"{where}: id is a lower-case slug like 'why-t-squared'")
    seeds = raw["seeds"]
    if not isinstance(seeds, list) or any(s not in SEED_IDS for s in seeds):
        bad = [s for s in seeds if s not in SEED_IDS] if isinstance(seeds, list) else seeds
        raise BankError(f"{where}: seeds is a list of seed IDs (GUIDE §2), not {bad!r}")
    if raw["topic"] not in TOPICS:
        raise BankError(f"{where}: topic {raw['topic']!r} is not one of {list(TOPICS)}")
    if raw["difficulty"] not in DIFFICULTY:
        raise BankError(f"{where}: difficulty is 1, 2 or 3, not {raw['difficulty']!r}")
    if not isinstance(raw["long"], str) or len(raw["long"].split()) < 25:
        raise BankError(f"{where}: 'long' is the English long answer, at least a paragraph")
    trap = None
    if raw.get("trap") is not None:
        t = raw["trap"]
        if not isinstance(t, dict) or not {"source", "claim", "truth"} <= set(t) <= {"source", "claim", "truth", "link"}:
            raise BankError(f"{where}: a trap has source, claim, truth and optionally link")
        if t["source"] != "common" and not SEED_ID.fullmatch(str(t["source"])):
            raise BankError(f"{where}: trap.source is the seed ID that makes the claim, or 'common'")
        trap = Trap(str(t["source"]), _bilingual(t["claim"], where, "trap.claim"), _bilingual(t["truth"], where, "trap.truth"),
                    _link(t["link"], where) if t.get("link") else None)
    for key in ("formula", "cite"):
        if raw.get(key) is not None and (not isinstance(raw[key], str) or not raw[key].strip()):
            raise BankError(f"{where}: {key} is a non-empty string when present")
    if raw.get("cite") and not re.search(r"\b(19|20)\d\d\b", raw["cite"]):
        raise BankError(f"{where}: cite names the year, e.g. 'Hinton, Vinyals & Dean 2015, Distilling the Knowledge…'")
    return Entry(raw["id"], tuple(seeds), raw["topic"], raw["difficulty"], _bilingual(raw["question"], where, "question"),
                 _bilingual(raw["short"], where, "short"), raw["long"].strip(), _link(raw["link"], where), trap,
                 raw.get("formula"), raw.get("cite"))


def read(path) -> list[Entry]:
    """Parse one bank file (no cross-entry checks; see :func:`problems`)."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BankError(f"no question bank at {path}: the workbook ships it as data/questions.yaml") from None
    except yaml.YAMLError as err:
        raise BankError(f"{path.name} is not valid YAML: {err}") from None
    if not isinstance(raw, list):
        raise BankError(f"{path.name} holds a list of entries at its top level")
    return [_entry(r, i) for i, r in enumerate(raw)]


@functools.lru_cache(maxsize=4)
def _load(path: str, stamp: tuple) -> tuple:
    entries = read(path)
    found = problems(entries)
    if found:
        raise BankError(f"{Path(path).name} has {len(found)} problem(s):\n  " + "\n  ".join(found))
    return tuple(entries)


def load(path=None) -> list[Entry]:
    """The validated bank, in file order (read again when the file has changed since the last call)."""
    path = Path(path or BANK)
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except FileNotFoundError:
        raise BankError(f"no question bank at {path}: the workbook ships it as data/questions.yaml") from None
    return list(_load(str(path), stamp))


# ------------------------------------------------------------------------------------ validation


_STOP = {"a", "an", "the", "is", "are", "of", "in", "on", "to", "and", "or", "for", "with", "by", "it", "its", "do",
         "does", "what", "how", "why", "which", "when", "you", "your", "this", "that", "knowledge", "distillation",
         "kd", "model", "models"}


def _words(text: str) -> set[str]:
    """The content words of a question (small words and the subject itself left out)."""
    return set(re.findall(r"[a-z0-9²]+", text.lower())) - _STOP


def _mathtext_error(formula: str) -> str | None:
    from matplotlib.mathtext import MathTextParser

    try:
        MathTextParser("path").parse(f"${formula}$")
    except ValueError as err:
        return " ".join(line.strip() for line in str(err).splitlines() if line.strip()) or "cannot be parsed"
    return None


def problems(entries: list[Entry], folder=None, require_coverage: bool = True) -> list[str]:
    """Every schema problem in ``entries``: empty when the bank is sound.

    Checks: unique ids; no two questions that say the same thing; every seed ID covered; each
    link (and trap link) resolves to a heading; a seed entry links to a section whose heading names
    one of its seeds or sits in a notebook that answers them; the Chinese fields are Chinese and use
    the standard terms; formulas parse.
    """
    out = []
    ids = [e.id for e in entries]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        out.append(f"id {dup!r} is used {ids.count(dup)} times")
    for lang in LANGUAGES:
        seen = {}
        for e in entries:
            key = " ".join(_words(e.question[lang])) if lang == "en" else re.sub(r"\W", "", e.question[lang])
            if key in seen:
                out.append(f"{e.id} and {seen[key]} ask the same question ({lang})")
            seen[key] = e.id
    words = [(e.id, _words(e.question["en"])) for e in entries]
    for i, (a, wa) in enumerate(words):
        for b, wb in words[i + 1:]:
            if len(wa) >= 3 and len(wa & wb) / len(wa | wb) >= 0.75:
                out.append(f"{a} and {b} are near-duplicate questions")
    if require_coverage:
        covered = {s for e in entries for s in e.seeds}
        if missing := [s for s in SEED_IDS if s not in covered]:
            out.append(f"seed IDs no entry covers: {missing}")
    heads = headings(folder)
    for e in entries:
        for link, what in ((e.link, "link"), (e.trap.link if e.trap else None, "trap.link")):
            if link is None:
                continue
            try:
                link.heading(folder)
            except BankError as err:
                out.append(f"{e.id}: {what}: {err}")
        for lang_field in ("question", "short"):
            if not _CJK.search(e.text(lang_field, "zh")):
                out.append(f"{e.id}: {lang_field}.zh has no Chinese")
            if _CJK_OR_PUNCT.search(e.text(lang_field, "en")):
                out.append(f"{e.id}: {lang_field}.en contains Chinese characters or full-width punctuation")
        words, said = len(e.short["en"].split()), sentences(e.short["en"])
        if words > SHORT_WORDS or said > SHORT_SENTENCES:
            out.append(f"{e.id}: short.en has {words} words in {said} sentences; a 30-second answer has at most "
                       f"{SHORT_WORDS} words in {SHORT_SENTENCES} sentences: move the rest to 'long'")
        if (chars := len(re.sub(r"\s", "", e.short["zh"]))) > SHORT_ZH_CHARS:
            out.append(f"{e.id}: short.zh has {chars} characters; a 30-second answer has at most {SHORT_ZH_CHARS}")
        zh_texts = [e.question["zh"], e.short["zh"]] + ([e.trap.claim["zh"], e.trap.truth["zh"]] if e.trap else [])
        for text in zh_texts:
            for bad, good in nonstandard_in(text):
                    out.append(f"{e.id}: write {good} instead of {bad}")
        if e.formula and (err := _mathtext_error(e.formula)):
            out.append(f"{e.id}: formula does not parse in mathtext: {err}")
        if e.seeds and e.link.notebook in heads:
            try:
                heading = e.link.heading(folder)
            except BankError:
                continue
            named = set(SEED_ID.findall(f"{heading} {e.link.parent(folder) or ''}"))
            if not named & set(e.seeds):
                out.append(f"{e.id}: links to {e.link.label} ({heading!r}), whose heading names none of {list(e.seeds)}")
    return out


# ---------------------------------------------------------------------------------------- views


def markdown_html(text: str) -> str:
    """Markdown (with ``$…$`` maths kept for MathJax) to HTML."""
    return _markdown()(text)


@functools.lru_cache(maxsize=1)
def _markdown():
    import mistune

    return mistune.create_markdown(escape=True, plugins=["math", "table", "strikethrough"])


def inline_html(text: str) -> str:
    """Plain text for an HTML text node: ``<``, ``>``, ``&`` escaped, `code` spans set as <code>.

    Quotes stay as they are: this is for element content, never for an attribute value.
    """
    import html

    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


def by_topic(entries: list[Entry]) -> dict[str, list[Entry]]:
    out = {t: [] for t in TOPICS}
    for e in entries:
        out[e.topic].append(e)
    return out


def seed_index(entries: list[Entry] | None = None, folder=None) -> pd.DataFrame:
    """One row per seed ID and entry answering it: the question in both languages and the section."""
    entries = load() if entries is None else entries
    rows = [{"seed ID": sid, "question": e.question["en"], "问题": e.question["zh"], "answered in": e.link.label,
             "section": e.link.heading(folder), "href": e.link.href(folder), "entry": e.id}
            for sid in SEED_IDS for e in entries if sid in e.seeds]
    return pd.DataFrame(rows, columns=["seed ID", "question", "问题", "answered in", "section", "href", "entry"])


def most_asked(entries: list[Entry] | None = None) -> list[Entry]:
    """The most-asked questions, chosen by a rule on the seed IDs, never by hand; in bank order.

    Every entry that answers two or more seed IDs (the seeds ask its question more than once), and,
    in a topic without such an entry, the entry that answers the most seed IDs (the first in bank
    order among equals; none if no entry of the topic answers a seed). The cheat sheet prints their
    30-second answers, and notebook 07's summary shows the same list.
    """
    entries = load() if entries is None else list(entries)
    chosen = {e.id for e in entries if len(e.seeds) >= 2}
    for group in by_topic(entries).values():
        if group and not any(e.id in chosen for e in group):
            top = max(group, key=lambda e: len(e.seeds))  # max keeps the first of equals
            if top.seeds:
                chosen.add(top.id)
    return [e for e in entries if e.id in chosen]


def traps(entries: list[Entry] | None = None) -> list[Entry]:
    """The entries that carry a trap, in bank order."""
    return [e for e in (load() if entries is None else entries) if e.trap]


def main(argv=None) -> int:
    """``python -m kdnb.bank [file …]``: check bank files (a part without full coverage: --part)."""
    args = list(sys.argv[1:] if argv is None else argv)
    part = "--part" in args
    paths = [a for a in args if a != "--part"] or [str(BANK)]
    entries = [e for p in paths for e in read(p)]
    found = problems(entries, require_coverage=not part)
    for line in found:
        print(line)
    seeds = {s for e in entries for s in e.seeds}
    print(f"{len(entries)} entries, {len(seeds)} of {len(SEED_IDS)} seed IDs, {len(traps(entries))} traps: "
          f"{'OK' if not found else f'{len(found)} problem(s)'}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
