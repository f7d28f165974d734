"""Section 8: distillation for text classification, offline (000-5). A corpus of the installed libraries'
own docstrings ("which library wrote this?"), a TF-IDF logistic-regression teacher and a bag-of-words
student, trained alone and distilled over seeds."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import re
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .. import data as kdata
from .. import models, recipe, training
from ..losses import IGNORE_INDEX
from ..i18n import N_, _
from ..verdicts import Verdicts
from .common import SEEDS, distilled, quiet_run, trained_alone, with_labels
from .shown import Shown

#: The text task: which library wrote this docstring? Five pinned dependencies of the workbook.
TEXT_LIBRARIES = ("numpy", "torch", "pandas", "matplotlib", "sklearn")
#: Words that name a library (or its usual alias or home-grown type) are removed from the text,
#: so the task is about how each library's documentation reads, not about its name.
_GIVEAWAYS = re.compile(r"\b(numpy|np|torch|pandas|pd|matplotlib|mpl|plt|pyplot|sklearn|scikit|tensors?|ndarrays?|"
                        r"dataframes?|series|axes|estimators?)\b")
_WORD = re.compile(r"[a-z]{2,}")
TEXT_DOCS_PER_LIBRARY = 500
TEXT_SPLIT = (1500, 250, 750)
TEXT_STUDENT_WORDS = 2000
TEXT_STUDENT_DIM = 8
TEXT_TEACHER_FEATURES = 8000
TEXT_REGIMES = {N_("all 1,500 labels"): None, N_("150 labels"): 150}
TEXT_RECIPE = {"alpha": 0.9, "epochs": 40, "lr": 1e-2, "batch_size": 64}


def _docstrings(library: str, files: int = 150) -> list[str]:
    """Docstrings of public functions, classes and methods in ``files`` source files of an installed
    library (chosen by a hash of their path, so the choice is fixed for a given version)."""
    spec = importlib.util.find_spec(library)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"{library} is not installed; the text corpus is built from its source. Run `make lab`.")
    root = Path(spec.origin).parent
    paths = [p for p in root.rglob("*.py") if not any("test" in part for part in p.relative_to(root).parts)]
    paths = sorted(paths, key=lambda p: hashlib.sha256(p.relative_to(root).as_posix().encode()).hexdigest())[:files]
    found: dict[str, None] = {}
    for path in paths:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in tree.body:
            nodes = [node]
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                nodes += [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            for n in nodes:
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not n.name.startswith("_"):
                    doc = ast.get_docstring(n)
                    if doc and len(doc.split()) >= 8:
                        found.setdefault(doc, None)
    return list(found)


def docstring_corpus(per_library: int = TEXT_DOCS_PER_LIBRARY) -> pd.DataFrame:
    """A labelled text corpus built from the installed libraries' own source, offline.

    Process: for each library in :data:`TEXT_LIBRARIES`, parse 150 of its source files (chosen by
    a hash of the path) with :mod:`ast`, keep the docstrings of public functions, classes and
    methods with at least 8 words, lower-case them, remove the words that name a library
    (:data:`_GIVEAWAYS`), and keep ``per_library`` of them, chosen by a hash of the text. The
    label is the library. Nothing is imported from the libraries and nothing is downloaded; the
    versions are pinned, so the corpus is the same on every install (``corpus_digest``).
    """
    rows = []
    for label, library in enumerate(TEXT_LIBRARIES):
        docs = sorted(_docstrings(library), key=lambda d: hashlib.sha256(d.encode()).hexdigest())
        if len(docs) < per_library:
            raise ValueError(f"only {len(docs)} docstrings found in {library}; need {per_library}")
        rows += [{"text": _GIVEAWAYS.sub(" ", d.lower()), "library": library, "label": label} for d in docs[:per_library]]
    return pd.DataFrame(rows)


def corpus_digest(corpus: pd.DataFrame) -> str:
    """First 12 hex digits of the SHA-256 of the corpus (texts and labels): names the corpus a table was made on."""
    h = hashlib.sha256()
    for text, label in zip(corpus.text, corpus.label):
        h.update(f"{label}\t{text}\n".encode())
    return h.hexdigest()[:12]


def tokens(text: str) -> list[str]:
    return _WORD.findall(text)


def _most_frequent(counts, n: int) -> list:
    """The ``n`` most frequent keys, ties broken by the text itself: the same on every run (a Counter
    breaks ties by insertion order, which here follows set order and so Python's hash seed)."""
    text = lambda g: g if isinstance(g, str) else " ".join(g)
    return [g for g, _ in sorted(counts.items(), key=lambda kv: (-kv[1], text(kv[0]), isinstance(kv[0], tuple)))[:n]]


class TextData:
    """The corpus split (stratified), as the student and the teacher read it.

    * ``student``: a :class:`kdnb.data.Dataset` of word ids (N, 128), 0-padded, over the
      :data:`TEXT_STUDENT_WORDS` most frequent training words (other words are dropped);
    * ``teacher``: the same split as dense TF-IDF vectors over the :data:`TEXT_TEACHER_FEATURES`
      most frequent training words *and word pairs* (bigrams).
    Vocabularies and IDF weights come from the training split only.
    """

    def __init__(self, corpus: pd.DataFrame, seed: int = 0, max_len: int = 128):
        parts = kdata.stratified_split(corpus.label.to_numpy(), TEXT_SPLIT, seed)
        docs = [[tokens(t) for t in corpus.text.iloc[p]] for p in parts]
        labels = [torch.tensor(corpus.label.iloc[p].to_numpy(), dtype=torch.long) for p in parts]
        words = Counter(w for doc in docs[0] for w in set(doc))
        self.words = {w: i + 1 for i, w in enumerate(_most_frequent(words, TEXT_STUDENT_WORDS))}
        grams = Counter(g for doc in docs[0] for g in set(doc) | set(zip(doc, doc[1:])))
        self.features = {g: i for i, g in enumerate(_most_frequent(grams, TEXT_TEACHER_FEATURES))}
        df = torch.zeros(len(self.features))
        for doc in docs[0]:
            ids = [self.features[g] for g in set(doc) | set(zip(doc, doc[1:])) if g in self.features]
            df[ids] += 1
        self.idf = torch.log((1 + len(docs[0])) / (1 + df)) + 1
        self.max_len = max_len
        student = [kdata.Split(self._ids(d), y) for d, y in zip(docs, labels)]
        teacher = [kdata.Split(self._tfidf(d), y) for d, y in zip(docs, labels)]
        self.student = kdata.Dataset("docstrings (word ids)", *student, num_classes=len(TEXT_LIBRARIES))
        self.teacher = kdata.Dataset("docstrings (TF-IDF)", *teacher, num_classes=len(TEXT_LIBRARIES))

    def _ids(self, docs) -> torch.Tensor:
        out = torch.zeros(len(docs), self.max_len, dtype=torch.long)
        for i, doc in enumerate(docs):
            ids = [self.words[w] for w in doc if w in self.words][: self.max_len]
            out[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out

    def _tfidf(self, docs) -> torch.Tensor:
        rows, cols = [], []
        for i, doc in enumerate(docs):
            found = [self.features[g] for g in (*doc, *zip(doc, doc[1:])) if g in self.features]
            rows += [i] * len(found)
            cols += found
        out = torch.zeros(len(docs), len(self.features))
        out.index_put_((torch.tensor(rows, dtype=torch.long), torch.tensor(cols, dtype=torch.long)), torch.ones(len(rows)), accumulate=True)
        out = out * self.idf
        return out / out.norm(dim=1, keepdim=True).clamp_min(1e-12)


class BagOfWords(nn.Module):
    """The text student: the mean of its words' embeddings (an ``EmbeddingBag``), then a linear layer."""

    def __init__(self, words: int = TEXT_STUDENT_WORDS, dim: int = TEXT_STUDENT_DIM, classes: int = len(TEXT_LIBRARIES)):
        super().__init__()
        self.bag = nn.EmbeddingBag(words + 1, dim, mode="mean", padding_idx=0)
        self.out = nn.Linear(dim, classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.bag(ids))


def text_teacher(data: TextData, seed: int = 0, labels: torch.Tensor | None = None) -> nn.Module:
    """The text teacher: logistic regression on TF-IDF of words and word pairs.

    ``labels=None`` trains it on every training label. Otherwise ``labels`` is the training
    labels with IGNORE_INDEX on the docstrings it may not see (from :func:`kdnb.recipe.labelled_subset`):
    it then trains on the labelled ones only, for as many gradient steps as on all of them.
    """
    training.seed_everything(seed, threads=None)
    teacher = nn.Linear(len(data.features), len(TEXT_LIBRARIES))
    r = TEXT_RECIPE
    train, epochs = data.teacher.train, r["epochs"]
    if labels is not None:
        keep = labels != IGNORE_INDEX
        train, epochs = kdata.Split(train.X[keep], labels[keep]), recipe.twin_epochs(labels, r["epochs"])
    training.fit(teacher, train, None, quiet_run(seed, epochs=epochs, lr=r["lr"], batch_size=r["batch_size"]))
    return teacher


TEXT_TEMPERATURES = (1.0, 2.0, 4.0)


def text_pair(data: TextData, teacher_logits: torch.Tensor, seed: int, regime: str = "all 1,500 labels",
              temperatures=TEXT_TEMPERATURES) -> list[dict]:
    """The bag-of-words student alone and distilled at each T, from the same initial weights, in one regime.

    One row per T; the label-only twin does not depend on T, so it is trained once and repeated.
    """
    r = TEXT_RECIPE
    train = with_labels(data.student.train, TEXT_REGIMES[regime], seed)
    training.seed_everything(seed, threads=None)
    init = BagOfWords(len(data.words))
    run = quiet_run(seed, epochs=r["epochs"], lr=r["lr"], batch_size=r["batch_size"])
    start = time.perf_counter()
    alone = trained_alone(init, train, run)
    alone_row = {"regime": regime, "seed": seed, "alone_test": training.accuracy(alone, data.student.test),
                 "alone_val": training.accuracy(alone, data.student.val), "alone_seconds": time.perf_counter() - start}
    rows = []
    for T in temperatures:
        start = time.perf_counter()
        kd = distilled(init, train, teacher_logits, run, T=T, alpha=r["alpha"])
        rows.append(alone_row | {"T": T, "kd_test": training.accuracy(kd, data.student.test), "kd_val": training.accuracy(kd, data.student.val),
                                 "kd_seconds": time.perf_counter() - start})
    return rows


def text_runs(corpus: pd.DataFrame | None = None, seeds=SEEDS, progress: bool = True) -> pd.DataFrame:
    """Both regimes over seeds, at every T of :data:`TEXT_TEMPERATURES`. One teacher (seed 0) for all
    runs; it saw every training label."""
    from tqdm.auto import tqdm

    corpus = docstring_corpus() if corpus is None else corpus
    data = TextData(corpus)
    teacher = text_teacher(data)
    logits = training.predict_logits(teacher, data.teacher.train.X)
    teacher_test = training.accuracy(teacher, data.teacher.test)
    jobs = [(regime, s) for regime in TEXT_REGIMES for s in seeds]
    rows = [row for regime, s in tqdm(jobs, desc="regime x seed", disable=not progress) for row in text_pair(data, logits, s, regime)]
    return pd.DataFrame(rows).assign(teacher_test=teacher_test, corpus=corpus_digest(corpus))


def text_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per regime: T chosen on validation, then test accuracy (%) alone and distilled at that T over seeds."""
    chosen = recipe.select_T(runs, by="regime")
    at = pd.concat([runs[(runs.regime == r) & (runs["T"] == chosen[r])] for r in chosen.index])
    out = recipe.summarize(at, by="regime")
    out.insert(0, N_("T (chosen on val)"), chosen)
    return Shown(out)


def text_sizes(data: TextData) -> pd.DataFrame:
    teacher = nn.Linear(len(data.features), len(TEXT_LIBRARIES))
    return Shown(pd.DataFrame([
        {"model": _("teacher: logistic regression on TF-IDF of words and word pairs"),
         N_("inputs"): _("{n:,} features").format(n=len(data.features)), N_("parameters"): models.count_params(teacher)},
        {"model": _("student: mean of {dim}-d word embeddings, then linear").format(dim=TEXT_STUDENT_DIM),
         "inputs": _("{n:,} words").format(n=len(data.words)), "parameters": models.count_params(BagOfWords(len(data.words)))},
    ]).set_index(N_("model")))


def soft_confusion(teacher_logits: torch.Tensor, labels: torch.Tensor, T: float = 4.0) -> pd.DataFrame:
    """Mean soft target per true library (rows) at temperature T: where the teacher's dark knowledge points."""
    p = F.softmax(teacher_logits / T, dim=1)
    rows = [p[labels == c].mean(0).tolist() for c in range(len(TEXT_LIBRARIES))]
    return pd.DataFrame(rows, index=list(TEXT_LIBRARIES), columns=list(TEXT_LIBRARIES))


def text_teacher_verdicts(train_logits: torch.Tensor, labels: torch.Tensor, T: float) -> Verdicts:
    """Why the text teacher has little dark knowledge to pass on: it is right on nearly all of its own
    training docstrings, and its mean soft label per library (:func:`soft_confusion` at T) leaves
    little mass on any other library."""
    right = (train_logits.argmax(1) == labels).float().mean().item()
    confusion = soft_confusion(train_logits, labels, T).to_numpy()
    off = confusion[~torch.eye(len(TEXT_LIBRARIES), dtype=torch.bool).numpy()]
    return Verdicts({
        _("the text teacher is right on more than 97% of its own training docstrings"): right > 0.97,
        _("at T = {T:g} its mean soft label puts less than 0.1 on any other library").format(T=T): float(off.max()) < 0.1,
    })
