"""The makers of notebook 08's precomputed tables (``python -m kdnb.results make nb08_students``).

Each maker fixes torch's thread count, runs one experiment over its seeds and returns its table;
:mod:`kdnb.results` writes it to ``data/results/``. Minutes are for 2 idle cores."""

from __future__ import annotations

import pandas as pd

from .. import charlm, results, teachers, training
from . import scoring, traces
from .students import SEEDS, Teaching, teacher_log_probs, teacher_texts, topk_bytes, train_student

#: Sections 3-6: every way of teaching the student, on one budget (see :mod:`.students`).
STUDENT_METHODS = (
    Teaching("alone"),
    Teaching("token", beta=0.0),
    Teaching("token", beta=0.5),
    Teaching("token", beta=1.0),
    Teaching("sequence", decoding="greedy"),
    Teaching("sequence", decoding="sampled"),
)
#: Section 6: a fraction lambda of the batches on-policy (lambda = 0 is STUDENT_METHODS' JSD row).
ONPOLICY_METHODS = (Teaching("onpolicy", beta=0.5, lmbda=0.5), Teaching("onpolicy", beta=0.5, lmbda=1.0))
#: Section 7: the teacher's top-k log-probabilities only.
TOPK = (1, 5, 20)
#: The slice the notebook re-runs live: a short token-KD run on the first functions of the corpus.
SLICE = Teaching("token", beta=0.0, steps=60)
SLICE_TEXTS = 1000


def _row(how: Teaching, seed: int, scores: dict, seconds: float) -> dict:
    return {"method": how.label, "kind": how.kind, "beta": how.beta, "lmbda": how.lmbda, "seed": seed,
            **scores, "train_seconds": seconds}


def _setup():
    """The code teacher and its corpus, loaded once per maker."""
    return teachers.load_teacher("charlm-code"), charlm.code_corpus()


def student_runs(teacher, corpus, methods=STUDENT_METHODS, seeds=SEEDS, progress: bool = True,
                 with_teacher: bool = True) -> pd.DataFrame:
    """One row per (method, seed), plus the teacher's own scores (seed = the sampling seed)."""
    cache = {"log_probs": teacher_log_probs(teacher, corpus.train, progress=progress)}
    for decoding in sorted({m.decoding for m in methods if m.kind == "sequence"}):
        cache[decoding] = teacher_texts(teacher, corpus.train, decoding, progress=progress)
    rows = [{"method": "teacher", "kind": "teacher", "beta": float("nan"), "lmbda": float("nan"), "seed": seed,
             **scoring.student_scores(teacher, teacher, corpus.val, seed), "train_seconds": float("nan")}
            for seed in (seeds if with_teacher else ())]
    for how in methods:
        for seed in seeds:
            student, seconds = train_student(teacher, corpus.train, how, seed, cache, progress)
            rows.append(_row(how, seed, scoring.student_scores(student, teacher, corpus.val, seed), seconds))
    for decoding in sorted({m.decoding for m in methods if m.kind == "sequence"}):
        rows.append({"method": f"the teacher's {decoding} texts", "kind": "transfer set", "seed": 0,
                     "parses": charlm.parse_rate(cache[decoding]), "distinct_3": charlm.distinct_ngrams(cache[decoding], 3),
                     "mean_length": sum(len(t) for t in cache[decoding]) / len(cache[decoding])})
    return pd.DataFrame(rows).assign(corpus=corpus.digest)


def topk_runs(ks=TOPK, seeds=SEEDS, progress: bool = True) -> pd.DataFrame:
    """One row per (k, renormalized or bucket, seed), with the bytes each way stores per token."""
    teacher, corpus = _setup()
    cache = {"log_probs": teacher_log_probs(teacher, corpus.train, progress=progress)}
    rows = []
    for k in ks:
        for bucket in (False, True):
            how = Teaching("topk", k=k, bucket=bucket)
            for seed in seeds:
                student, seconds = train_student(teacher, corpus.train, how, seed, cache, progress)
                scores = scoring.student_scores(student, teacher, corpus.val, seed)
                rows.append({"k": k, "rest": "bucket" if bucket else "renormalized", "seed": seed,
                             "bytes_per_token": topk_bytes(k), **scores, "train_seconds": seconds})
    return pd.DataFrame(rows).assign(corpus=corpus.digest)


def slice_run(teacher, corpus, seed: int = 0, progress: bool = True) -> dict:
    """The short run the notebook repeats live (:data:`SLICE` on the first :data:`SLICE_TEXTS` functions of ``corpus``,
    taught by ``teacher``, the ``charlm-code`` teacher the caller has loaded)."""
    texts = corpus.train[:SLICE_TEXTS]
    cache = {"log_probs": teacher_log_probs(teacher, texts, progress=progress)}
    student, _seconds = train_student(teacher, texts, SLICE, seed, cache, progress)
    return {"method": SLICE.label, "steps": SLICE.steps, "texts": SLICE_TEXTS, "seed": seed,
            "perplexity": charlm.perplexity(student, corpus.val), "corpus": corpus.digest}


@results.maker("nb08_students", "nb08_slice", minutes=20)
def make_students(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Sections 4-5: the student alone, token-level KD at three beta and sequence-level KD; and the slice."""
    training.seed_everything(0, threads=threads)
    teacher, corpus = _setup()
    return {"nb08_students": student_runs(teacher, corpus, seeds=seeds, progress=progress),
            "nb08_slice": pd.DataFrame([slice_run(teacher, corpus, progress=progress)])}


@results.maker("nb08_onpolicy", minutes=25)
def make_onpolicy(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Section 6: on-policy distillation (GKD) with half and all of the batches written by the student."""
    training.seed_everything(0, threads=threads)
    return {"nb08_onpolicy": student_runs(*_setup(), ONPOLICY_METHODS, seeds, progress, with_teacher=False)}


@results.maker("nb08_topk", minutes=10)
def make_topk(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Section 7: distilling from the teacher's top-k log-probabilities only."""
    training.seed_everything(0, threads=threads)
    return {"nb08_topk": topk_runs(seeds=seeds, progress=progress)}


@results.maker("nb08_traces", minutes=8)
def make_traces(seeds=SEEDS, threads: int = 1, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Section 8: a student taught by the teacher's answers alone, or by its working and answers."""
    training.seed_everything(0, threads=threads)
    teacher = teachers.load_teacher(traces.TEACHER)
    transfer = traces.teacher_transfer_set(teacher)
    rows = [traces.train_arm(transfer, arm, seed, progress=progress) for arm in traces.ARMS for seed in seeds]
    rows.append({"arm": "teacher", "seed": 0, "accuracy": transfer["teacher_test_accuracy"],
                 "teacher_train_accuracy": transfer["teacher_train_accuracy"]})
    return {"nb08_traces": pd.DataFrame(rows)}


MAKERS = (make_students, make_onpolicy, make_topk, make_traces)
