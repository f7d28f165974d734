"""Sections 3-6: one small student, taught in each of the ways a language model is distilled, on the same budget.

Every student is the same 2-layer, width-64 :class:`kdnb.charlm.CharTransformer` (about 6.6x fewer parameters than
the 4-layer, width-128 teacher), trained for the same number of AdamW steps on batches of the same number of
sequences. What differs is the text it reads and the target of each token:

* ``alone``: the training functions, with their next characters as targets (cross-entropy);
* ``token``: the training functions, with the teacher's next-character distribution as the target, through the
  generalized JSD of GKD (``beta`` 0 = forward KL, Hinton's; 1 = reverse KL, MiniLLM's);
* ``sequence``: the teacher's own continuations of the training functions' first line (greedy or sampled at T = 1),
  with their next characters as targets: sequence-level KD (Kim & Rush 2016), i.e. "fine-tune on the teacher's
  outputs";
* ``onpolicy``: a fraction ``lmbda`` of the batches are the student's own samples, scored token by token by the
  teacher (GKD, Agarwal et al. 2024); the rest are the training functions as in ``token``;
* ``topk``: as ``token`` at beta = 0, from only the teacher's ``k`` largest log-probabilities per token.

T = 1 throughout: an API returns log-probabilities at T = 1, and GKD and MiniLLM distil at T = 1.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import charlm, models
from ..i18n import _
from ..losses import IGNORE_INDEX
from ..training import seed_everything
from .divergence import generalized_jsd
from .readings import tr

#: The student: a :class:`kdnb.charlm.CharTransformer` config.
STUDENT = {"kind": "charlm", "width": 64, "layers": 2, "heads": 4, "context": 256, "dropout": 0.0}
SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class Teaching:
    """How a student is taught (see the module's notes), and its budget."""

    kind: str = "token"
    beta: float = 0.0          # generalized JSD: 0 forward KL, 1 reverse KL
    lmbda: float = 0.0         # on-policy: the fraction of batches that are the student's own samples
    k: int | None = None       # top-k: how many of the teacher's log-probabilities per token
    bucket: bool = False       # top-k: keep the rest of the mass as one extra class (else renormalize the k)
    decoding: str = "greedy"   # sequence-level: how the teacher wrote its texts ("greedy" or "sampled")
    steps: int = 400
    batch_size: int = 32
    lr: float = 3e-3

    def __post_init__(self):
        if self.kind not in ("alone", "token", "sequence", "onpolicy", "topk"):
            raise ValueError(f"unknown kind {self.kind!r}: alone, token, sequence, onpolicy or topk")
        if not 0.0 <= self.beta <= 1.0 or not 0.0 <= self.lmbda <= 1.0:
            raise ValueError(f"beta and lmbda must lie in [0, 1], got beta={self.beta}, lmbda={self.lmbda}")
        if self.kind == "topk" and (self.k is None or self.k < 1):
            raise ValueError(f"top-k distillation needs k >= 1, got {self.k}")

    @property
    def label(self) -> str:
        if self.kind == "alone":
            return "student alone"
        if self.kind == "token":
            return {0.0: "token KD, forward KL", 1.0: "token KD, reverse KL"}.get(self.beta, f"token KD, JSD beta={self.beta:g}")
        if self.kind == "sequence":
            return f"sequence KD, {self.decoding}"
        if self.kind == "onpolicy":
            return f"on-policy lambda={self.lmbda:g}, JSD beta={self.beta:g}"
        return f"top-{self.k}, " + ("rest as a bucket" if self.bucket else "renormalized")


def teacher_log_probs(teacher, texts, batch_size: int = 64, progress: bool = True) -> list[torch.Tensor]:
    """The frozen teacher's next-character log-probabilities for each text: one (len + 1, V) float16 tensor per text
    (its characters and the closing ``<eos>``), computed once and reused by every student."""
    out = []
    with torch.no_grad():
        for i in tqdm(range(0, len(texts), batch_size), desc=_("teacher log-probs"), disable=not progress, leave=False):
            chunk = texts[i:i + batch_size]
            x, y = charlm.pad_batch(chunk)
            lp = F.log_softmax(teacher(x), dim=-1).half()
            out += [lp[j, : len(t) + 1].clone() for j, t in enumerate(chunk)]
    return out


def first_line(text: str) -> str:
    """A function's signature up to its first ``(``: the prompt the teacher continues for sequence-level KD."""
    return text[: text.index("(") + 1] if "(" in text else text[:8]


def teacher_texts(teacher, texts, decoding: str, seed: int = 0, batch_size: int = 256, progress: bool = True) -> list[str]:
    """The teacher's continuation of each text's first line, greedy or sampled at T = 1: a sequence-level transfer set."""
    if decoding not in ("greedy", "sampled"):
        raise ValueError(f"decoding is 'greedy' or 'sampled', got {decoding!r}")
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in tqdm(range(0, len(texts), batch_size), desc=_("teacher writes ({decoding})").format(decoding=tr(decoding)), disable=not progress, leave=False):
        prompts = [first_line(t) for t in texts[i:i + batch_size]]
        out += charlm.generate(teacher, prompts, 200, 0.0 if decoding == "greedy" else 1.0, g)
    return out


def _padded(targets: list[torch.Tensor], S: int) -> torch.Tensor:
    """Stack per-text (L, V) log-probabilities into (B, S, V), padding with uniform rows (masked out anyway)."""
    V = targets[0].shape[-1]
    out = torch.full((len(targets), S, V), -math.log(V))
    for i, t in enumerate(targets):
        out[i, : t.shape[0]] = t[:S].float()
    return out


def topk_loss(student_logits, teacher_log_probs, k: int, bucket: bool, mask) -> torch.Tensor:
    """Forward KL from only the teacher's ``k`` largest log-probabilities per token, averaged over valid tokens.

    * ``bucket=False`` (renormalized): the target is the teacher's top-k probabilities divided by their sum, and
      zero elsewhere; the student's full distribution is scored on it, so the student is pushed to put all its
      mass on those k characters. At k = 1 this is cross-entropy on the teacher's argmax.
    * ``bucket=True``: the k probabilities as they are, plus one extra class "everything else" with the remaining
      mass ``1 - sum(top-k)``; the student's probabilities are grouped the same way. The student keeps the
      teacher's uncertainty about the rest, without learning how it splits.
    """
    lp, idx = teacher_log_probs.topk(k, dim=-1)
    log_q = F.log_softmax(student_logits, dim=-1)
    log_q_k = log_q.gather(-1, idx)
    if bucket:
        rest_p = (1 - lp.exp().sum(-1, keepdim=True)).clamp_min(1e-8)
        rest_q = (1 - log_q_k.exp().sum(-1, keepdim=True)).clamp_min(1e-8)
        lp = torch.cat([lp, rest_p.log()], -1)
        log_q_k = torch.cat([log_q_k, rest_q.log()], -1)
    else:
        lp = lp - torch.logsumexp(lp, -1, keepdim=True)
    kl = (lp.exp() * (lp - log_q_k)).sum(-1)
    return kl[mask].mean()


def topk_bytes(k: int | None, vocab: int = charlm.VOCAB_SIZE) -> int:
    """Bytes stored per token: k (index, float16 log-prob) pairs, 1 + 2 bytes each; all V log-probabilities need 2V."""
    return 2 * vocab if k is None or k >= vocab else 3 * k


def _student_samples(student, prompts, g) -> list[str]:
    return charlm.generate(student, prompts, 200, 1.0, g)


def train_student(teacher, corpus_train, how: Teaching, seed: int, cache: dict, progress: bool = True):
    """Train one student; returns ``(student, seconds)``.

    ``cache`` holds what the teacher computed once for every student: ``"log_probs"`` (from
    :func:`teacher_log_probs` on ``corpus_train``) and, for sequence-level KD, ``"greedy"``/``"sampled"`` texts (from
    :func:`teacher_texts`).
    """
    seed_everything(seed, 1)
    student = models.build(STUDENT)
    texts = cache[how.decoding] if how.kind == "sequence" else corpus_train
    opt = torch.optim.AdamW(student.parameters(), lr=how.lr, weight_decay=0.01)
    stream = charlm.batch_indices([len(t) for t in texts], how.batch_size, seed)
    g = torch.Generator().manual_seed(10_000 + seed)
    pool: list[str] = []
    start = time.perf_counter()
    student.train()
    for step in tqdm(range(how.steps), desc=tr(how.label), disable=not progress, leave=False):
        for group in opt.param_groups:
            group["lr"] = charlm.cosine_lr(step, how.steps, how.lr)
        index = next(stream)
        on_policy = how.kind == "onpolicy" and math.floor((step + 1) * how.lmbda) > math.floor(step * how.lmbda)
        if on_policy:
            if not pool:  # the student writes 4 batches at a time: its samples are at most 3 steps old
                student.eval()
                pool = _student_samples(student, [first_line(texts[j]) for j in _more(index, stream, 3)], g)
                student.train()
            batch, pool = pool[: how.batch_size], pool[how.batch_size:]
            x, y = charlm.pad_batch(batch)
            with torch.no_grad():
                target = F.log_softmax(teacher(x), dim=-1)
        else:
            x, y = charlm.pad_batch([texts[j] for j in index])
            target = None if how.kind in ("alone", "sequence") else _padded([cache["log_probs"][j] for j in index], x.shape[1])
        logits = student(x)
        mask = y != IGNORE_INDEX
        if target is None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE_INDEX)
        elif how.kind == "topk":
            loss = topk_loss(logits, target, how.k, how.bucket, mask)
        else:
            loss = generalized_jsd(logits, target, beta=how.beta, T=1.0, mask=mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
    student.eval()
    return student, time.perf_counter() - start


def _more(index, stream, n: int) -> list[int]:
    out = list(index)
    for _i in range(n):
        out += next(stream)
    return out
