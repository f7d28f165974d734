"""Section 8: reasoning traces at toy scale ("distilling step-by-step", and how the R1-Distill models were made).

The teacher (``charlm-addition``, the same 4-layer transformer as the code teacher) was trained on 40,000 sums of
numbers with up to 4 digits, each written with its working: ``4827+3956: 7+6+0=13 2+5+1=08 ... => 08783``. Here it
writes its working for problems it has not seen, greedily, and a student 6.6x smaller learns from what it wrote:

* **answers only**: ``4827+3956=08783``, with the teacher's answer (right or wrong);
* **traces**: the teacher's whole text, working and answer.

Both students get the same compute: the same number of AdamW steps, each on batches of about the same number of
characters (:data:`TOKENS_PER_STEP`), so the answers-only student reads about 4x more problems. Neither is filtered
for correctness (DeepSeek-R1's distillation data was; here the teacher's own accuracy is reported beside them).
A student is scored on held-out problems by greedy decoding: exact match of the stated answer.
"""

from __future__ import annotations

import time

from .. import charlm, models, teachers
from ..i18n import _
from ..training import seed_everything
from .readings import tr
from .students import STUDENT

TEACHER = "charlm-addition"
TRAIN_PROBLEMS, TEST_PROBLEMS = 8000, 500
TRAIN_SEED, TEST_SEED = 2000, 3000
TOKENS_PER_STEP = 2048
STEPS = 600
ARMS = ("answers only", "traces")


def problems(split: str) -> list[tuple[int, int]]:
    """The student's training problems or the held-out test problems (numbers of 1-4 digits; none is in the
    teacher's training draw's seed)."""
    n, seed = (TRAIN_PROBLEMS, TRAIN_SEED) if split == "train" else (TEST_PROBLEMS, TEST_SEED)
    spec = teachers.TEACHERS[TEACHER]["dataset"]
    return charlm.addition_problems(n, spec["digits"], seed)


def prompt(a: int, b: int, arm: str) -> str:
    """What a student is given: the problem, then ``:`` (write the working) or ``=`` (write the answer)."""
    return charlm.addition_answer(a, b).split("=")[0] + (":" if arm == "traces" else "=")


def solve(model, pairs, arm: str, batch_size: int = 500) -> list[str]:
    """The model's greedy texts for ``pairs`` (with working for ``"traces"``, the answer alone otherwise)."""
    out = []
    for i in range(0, len(pairs), batch_size):
        out += charlm.generate(model, [prompt(a, b, arm) for a, b in pairs[i:i + batch_size]], 80, 0.0)
    return out


def accuracy(texts, pairs) -> float:
    """Fraction of texts whose stated answer (:func:`kdnb.charlm.read_answer`) is the true sum."""
    return sum(charlm.read_answer(t) == a + b for t, (a, b) in zip(texts, pairs)) / len(pairs)


def teacher_transfer_set(teacher) -> dict:
    """What the teacher writes for the student's training problems, both ways a student reads it, and how often
    the teacher is right (on those problems and on the held-out ones)."""
    train = problems("train")
    traces = solve(teacher, train, "traces")
    answers = [prompt(a, b, "answers only") + t.rsplit("=> ", 1)[-1] for t, (a, b) in zip(traces, train)]
    test = problems("test")
    return {"traces": traces, "answers only": answers, "teacher_train_accuracy": accuracy(traces, train),
            "teacher_test_accuracy": accuracy(solve(teacher, test, "traces"), test)}


def train_arm(transfer: dict, arm: str, seed: int, steps: int = STEPS, progress: bool = True) -> dict:
    """Train one student on one arm of the transfer set; returns its scores and what it read."""
    texts = transfer[arm]
    mean_len = sum(len(t) + 1 for t in texts) / len(texts)
    batch_size = max(1, round(TOKENS_PER_STEP / mean_len))
    seed_everything(seed, 1)
    student = models.build(STUDENT)
    start = time.perf_counter()
    fit = charlm.fit_lm(student, texts, steps, batch_size, lr=3e-3, seed=seed, progress=progress, desc=_("student, {arm}").format(arm=tr(arm)))
    seconds = time.perf_counter() - start
    test = problems("test")
    return {"arm": arm, "seed": seed, "accuracy": accuracy(solve(student, test, arm), test),
            "problems_read": steps * batch_size, "tokens_read": fit["tokens"], "train_seconds": seconds}
