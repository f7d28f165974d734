"""How a language-model student is scored: on held-out real code (perplexity, agreement with the teacher), and on
what it writes itself (does it parse, how varied is it, how likely does the teacher find it, early and late)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import charlm
from ..losses import IGNORE_INDEX

#: How many functions each student writes to be scored, and where a "late" character starts.
SAMPLES = 256
LATE = 100


@torch.no_grad()
def agreement(student, teacher, texts, batch_size: int = 64) -> float:
    """How often the student's most likely next character is the teacher's, over the valid tokens of ``texts``."""
    same = count = 0
    for i in range(0, len(texts), batch_size):
        x, y = charlm.pad_batch(texts[i:i + batch_size])
        mask = y != IGNORE_INDEX
        same += int(((student(x).argmax(-1) == teacher(x).argmax(-1)) & mask).sum())
        count += int(mask.sum())
    return same / count


@torch.no_grad()
def teacher_nll(teacher, texts, late: int = LATE) -> tuple[float, float]:
    """The teacher's mean negative log-likelihood (nats per character) of ``texts``: over all their characters, and
    over characters at position ``late`` or later only (NaN when no text is that long). Lower: more like code the
    teacher would write. Errors that compound along a generation (exposure bias) show in the late figure."""
    x, y = charlm.pad_batch([t for t in texts])
    nll = F.cross_entropy(teacher(x).transpose(1, 2), y, ignore_index=IGNORE_INDEX, reduction="none")
    mask = y != IGNORE_INDEX
    late_mask = mask.clone()
    late_mask[:, : late + 1] = False
    total = float(nll[mask].mean())
    tail = float(nll[late_mask].mean()) if bool(late_mask.any()) else math.nan
    return total, tail


def student_scores(student, teacher, val_texts, seed: int = 0, samples: int = SAMPLES) -> dict:
    """Every score of one student. On the held-out functions ``val_texts``: perplexity per character and top-1
    agreement with the teacher. On ``samples`` functions it writes from nothing (sampled at T = 1 with a generator
    seeded by ``seed``): the fraction that parse, distinct 3-grams of code tokens, and the teacher's NLL per
    character, all and late."""
    g = torch.Generator().manual_seed(20_000 + seed)
    written = charlm.generate(student, [""] * samples, 200, 1.0, g)
    nll, late = teacher_nll(teacher, written)
    return {
        "perplexity": charlm.perplexity(student, val_texts),
        "agreement": agreement(student, teacher, val_texts),
        "parses": charlm.parse_rate(written),
        "distinct_3": charlm.distinct_ngrams(written, 3),
        "teacher_nll": nll,
        "teacher_nll_late": late,
        "mean_length": sum(len(t) for t in written) / len(written),
    }
