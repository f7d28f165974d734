"""A small character-level causal language model, and the offline corpus of code it reads.

Core because :mod:`kdnb.teachers` builds and loads its teachers; notebook 08's room runs the
experiments. Three parts:

* **the corpus** (:func:`code_corpus`): short Python functions cut from the pinned libraries'
  own source files (found with :mod:`ast`; docstrings, decorators and blank lines removed). Nothing is downloaded; the versions are pinned, so
  the corpus is the same on every install, and :attr:`Corpus.digest` names it;
* **the vocabulary**: one token per character (newline and printable ASCII), plus ``<bos>`` and
  ``<eos>``. A function is the sequence ``<bos> text <eos>``; a batch pads with
  :data:`~kdnb.losses.IGNORE_INDEX` in the targets, which losses and metrics skip;
* **the model** (:class:`CharTransformer`): a pre-norm GPT-style decoder (token and position
  embeddings, causal self-attention, MLP) with a key/value cache for fast sampling.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import math
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ._io import sha256_bytes
from .i18n import N_, _
from .losses import IGNORE_INDEX

__all__ = [
    "BOS", "EOS", "CHARS", "VOCAB_SIZE", "CODE_LIBRARIES", "Corpus", "code_corpus", "encode", "decode",
    "pad_batch", "CharTransformer", "generate", "sequence_nll", "perplexity", "parses", "parse_rate",
    "distinct_ngrams", "lm_step_loss", "cosine_lr", "batch_indices", "batches", "fit_lm", "addition_trace", "addition_answer",
    "addition_problems", "read_answer",
]

BOS, EOS = 0, 1
#: The characters the model reads and writes, after ``<bos>`` and ``<eos>``: newline and printable ASCII.
CHARS = "\n" + "".join(chr(c) for c in range(32, 127))
VOCAB_SIZE = 2 + len(CHARS)
_INDEX = {c: i + 2 for i, c in enumerate(CHARS)}

#: Pinned dependencies whose source the corpus is cut from.
CODE_LIBRARIES = ("torch", "pandas", "matplotlib", "sklearn", "numpy")
#: Source files larger than this are skipped: parsing them would cost most of the corpus's build time.
MAX_FILE_BYTES = 60_000


def encode(text: str) -> list[int]:
    """Token ids of ``text`` (no ``<bos>``/``<eos>``). A character outside :data:`CHARS` raises."""
    try:
        return [_INDEX[c] for c in text]
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the vocabulary (newline and printable ASCII only)") from None


def decode(ids) -> str:
    """Text of token ids: ``<bos>`` is skipped and the text ends at the first ``<eos>``."""
    out = []
    for i in (int(t) for t in ids):
        if i == EOS:
            break
        if i != BOS:
            out.append(CHARS[i - 2])
    return "".join(out)


@dataclass(frozen=True)
class Corpus:
    """Functions split by a hash of their text: ``train``, ``val`` and ``test`` (lists of str)."""

    train: list
    val: list
    test: list
    per_library: dict

    @property
    def digest(self) -> str:
        """First 12 hex digits of the SHA-256 of the three splits: names the corpus a model or table saw."""
        h = hashlib.sha256()
        for name in ("train", "val", "test"):
            for text in getattr(self, name):
                h.update(f"{name}\t{text}\x00".encode())
        return h.hexdigest()[:12]

    def __repr__(self) -> str:
        chars = sum(len(t) for t in self.train)
        return _("Corpus({train:,} train / {val:,} val / {test:,} test functions, {chars:,} training characters, "
                 "digest {digest})").format(train=len(self.train), val=len(self.val), test=len(self.test), chars=chars,
                                            digest=self.digest)


def _hash(text: str) -> str:
    return sha256_bytes(text.encode())


def _function_defs(body):
    """Every ``def`` among these statements and the statements nested in them (expressions are not entered)."""
    for node in body:
        if isinstance(node, ast.FunctionDef):
            yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            inner = getattr(node, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], (ast.stmt, ast.excepthandler, ast.AST)):
                yield from _function_defs(inner)


def _functions(library: str, files: int, min_chars: int, max_chars: int) -> list[str]:
    spec = importlib.util.find_spec(library)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"{library} is not installed; the code corpus is cut from its source. Run `make lab`.")
    root = Path(spec.origin).parent
    paths = [p for p in root.rglob("*.py") if not any("test" in part for part in p.relative_to(root).parts)
             and p.stat().st_size <= MAX_FILE_BYTES]
    paths = sorted(paths, key=lambda p: _hash(p.relative_to(root).as_posix()))[:files]
    found: dict[str, None] = {}
    allowed = set(CHARS)
    for path in paths:
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = source.splitlines()
        for node in _function_defs(tree.body):
            if node.end_lineno is None:
                continue
            drop = set()  # the docstring's lines, if it has lines of its own
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                if len(node.body) == 1 or first.lineno == node.lineno:
                    continue
                drop = set(range(first.lineno, first.end_lineno + 1))
            kept = [lines[i - 1].rstrip() for i in range(node.lineno, node.end_lineno + 1) if i not in drop]
            text = textwrap.dedent("\n".join(line for line in kept if line.strip()))
            if min_chars <= len(text) <= max_chars and set(text) <= allowed and text.startswith("def ") and parses(text):
                found.setdefault(text, None)
    return list(found)


def code_corpus(files_per_library: int = 1000, min_chars: int = 40, max_chars: int = 200,
                split=(0.9, 0.05, 0.05)) -> Corpus:
    """Short Python functions from the installed, pinned libraries' source: the language model's corpus.

    Process: for each library in :data:`CODE_LIBRARIES`, take ``files_per_library`` of its source
    files that are not tests (chosen by a hash of their path, so the choice is fixed for a given
    version) and are at most :data:`MAX_FILE_BYTES` long, parse them with :mod:`ast` to find every function definition (methods and nested
    functions too), and keep its source lines from ``def`` to its end, without decorators, its
    docstring and blank lines, dedented, if that text has ``min_chars``-``max_chars`` characters
    from :data:`CHARS` (no tabs, ASCII only) and parses on its own. Duplicates are dropped. Each
    function goes to train, val or test by a hash of its text. The text is the libraries' own,
    comments included: it depends on their pinned versions, not on the Python that reads it.
    """
    if abs(sum(split) - 1) > 1e-9 or min(split) <= 0:
        raise ValueError(f"split must be three positive fractions summing to 1, got {split}")
    texts: dict[str, None] = {}
    per_library = {}
    for library in CODE_LIBRARIES:
        found = [t for t in _functions(library, files_per_library, min_chars, max_chars) if t not in texts]
        per_library[library] = len(found)
        texts.update(dict.fromkeys(found))
    parts: tuple[list, list, list] = ([], [], [])
    for text in sorted(texts, key=_hash):
        u = int(_hash("split:" + text)[:8], 16) / 16 ** 8
        parts[0 if u < split[0] else 1 if u < split[0] + split[1] else 2].append(text)
    return Corpus(*parts, per_library=per_library)


def pad_batch(texts_or_ids, max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, targets)`` of shape (B, S) for next-token prediction on ``<bos> text <eos>``.

    Inputs are padded with ``<eos>``; targets with :data:`IGNORE_INDEX`, so padding counts
    nowhere. Items may be strings or lists of token ids (without ``<bos>``/``<eos>``).
    ``max_len`` truncates each sequence to that many input tokens.
    """
    seqs = [[BOS] + (encode(t) if isinstance(t, str) else list(t)) + [EOS] for t in texts_or_ids]
    if not seqs:
        raise ValueError("pad_batch got no sequence")
    if max_len is not None:
        seqs = [s[: max_len + 1] for s in seqs]
    S = max(len(s) for s in seqs) - 1
    inputs = torch.full((len(seqs), S), EOS, dtype=torch.long)
    targets = torch.full((len(seqs), S), IGNORE_INDEX, dtype=torch.long)
    for i, s in enumerate(seqs):
        n = len(s) - 1
        inputs[i, :n] = torch.tensor(s[:-1])
        targets[i, :n] = torch.tensor(s[1:])
    return inputs, targets


class _Block(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, cache=None):
        B, S, W = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, S, 3, self.heads, W // self.heads).permute(2, 0, 3, 1, 4)
        causal = S > 1
        if cache is not None:  # keys and values so far live in buffers of the full context, filled in place
            n = cache.get("n", 0)
            if S > 1 and n:
                raise ValueError("a cached forward pass takes one new token at a time")
            if "k" not in cache:
                cache["k"] = k.new_zeros(B, self.heads, cache["context"], W // self.heads)
                cache["v"] = torch.zeros_like(cache["k"])
            cache["k"][:, :, n:n + S] = k
            cache["v"][:, :, n:n + S] = v
            cache["n"] = n + S
            k, v = cache["k"][:, :, : n + S], cache["v"][:, :, : n + S]
        drop = self.drop.p if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, is_causal=causal, dropout_p=drop)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(B, S, W)))
        return x + self.drop(self.mlp(self.ln2(x)))


class CharTransformer(nn.Module):
    """A decoder-only transformer over :data:`VOCAB_SIZE` character tokens.

    ``forward(ids)`` maps (B, S) token ids to (B, S, V) next-token logits. With ``cache`` (a list
    made by :meth:`new_cache`) it reads one new token per call and remembers the keys and values,
    which makes sampling linear in the length instead of quadratic.
    """

    def __init__(self, width: int = 128, layers: int = 4, heads: int = 4, context: int = 256, dropout: float = 0.0):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by heads {heads}")
        self.context = context
        self.tok = nn.Embedding(VOCAB_SIZE, width)
        self.pos = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(_Block(width, heads, dropout) for _i in range(layers))
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, VOCAB_SIZE)
        self.drop = nn.Dropout(dropout)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def new_cache(self) -> list:
        return [{"context": self.context} for _block in self.blocks]

    def forward(self, ids: torch.Tensor, cache: list | None = None, start: int = 0) -> torch.Tensor:
        B, S = ids.shape
        if start + S > self.context:
            raise ValueError(f"sequence of {start + S} tokens is longer than the model's context of {self.context}")
        x = self.tok(ids) + self.pos(torch.arange(start, start + S))
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, None if cache is None else cache[i])
        return self.head(self.ln(x))


@torch.no_grad()
def generate(model: CharTransformer, prompts, max_len: int = 200, temperature: float = 1.0,
             generator: torch.Generator | None = None) -> list[str]:
    """Continue each prompt (a string, or ``""`` for none) until ``<eos>`` or ``max_len`` characters.

    ``temperature=0`` is greedy decoding; otherwise tokens are sampled from ``softmax(logits / T)``.
    Prompts of different lengths run in one batch: a row is fed its prompt's characters one at a
    time and starts sampling where its prompt ends. Returns the texts, prompts included.
    """
    if temperature < 0 or math.isnan(temperature):
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    was_training = model.training
    model.eval()
    enc = [encode(p) for p in prompts]
    B = len(enc)
    steps = min(max_len, model.context - 1)
    width = max([len(p) for p in enc] + [1])
    forced = torch.full((B, width), EOS, dtype=torch.long)  # row i's prompt, then filler
    for i, p in enumerate(enc):
        forced[i, :len(p)] = torch.tensor(p, dtype=torch.long)
    lengths = torch.tensor([len(p) for p in enc])
    out = torch.full((B, steps + 1), EOS, dtype=torch.long)
    out[:, 0] = BOS
    done = torch.zeros(B, dtype=torch.bool)
    cache = model.new_cache()
    try:
        for t in range(steps):
            logits = model(out[:, t:t + 1], cache=cache, start=t)[:, -1]
            if temperature == 0:
                nxt = logits.argmax(-1)
            else:
                nxt = torch.multinomial(F.softmax(logits / temperature, dim=-1), 1, generator=generator).squeeze(1)
            if t < width:
                nxt = torch.where(t < lengths, forced[:, t], nxt)
            nxt = torch.where(done, torch.full_like(nxt, EOS), nxt)
            out[:, t + 1] = nxt
            done |= nxt == EOS
            if bool(done.all()):
                break
    finally:
        model.train(was_training)
    return [decode(row) for row in out]


def sequence_nll(model: nn.Module, texts, batch_size: int = 64) -> tuple[float, int]:
    """Total negative log-likelihood (nats) of ``texts`` under ``model`` and the number of tokens scored
    (every character and the closing ``<eos>``)."""
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(texts), batch_size):
                x, y = pad_batch(texts[i:i + batch_size])
                logits = model(x)
                total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                               ignore_index=IGNORE_INDEX, reduction="sum"))
                count += int((y != IGNORE_INDEX).sum())
    finally:
        model.train(was_training)
    return total, count


def perplexity(model: nn.Module, texts, batch_size: int = 64) -> float:
    """Per-character perplexity ``exp(mean NLL)`` over the valid tokens of ``texts``."""
    total, count = sequence_nll(model, texts, batch_size)
    return math.exp(total / count)


def parses(text: str) -> bool:
    """Does ``text`` parse as Python (``ast.parse``)? An empty text does not count as code."""
    if not text.strip():
        return False
    try:
        ast.parse(text)
        return True
    except (SyntaxError, ValueError):
        return False


def parse_rate(texts) -> float:
    return sum(parses(t) for t in texts) / len(texts)


_CODE_TOKEN = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d+|\S")


def distinct_ngrams(texts, n: int = 3) -> float:
    """Distinct-n: unique n-grams of code tokens (names, numbers, single symbols) over all n-grams in the
    samples. 1 means no n-gram repeats; a model that says the same thing again and again scores low."""
    grams = []
    for t in texts:
        toks = _CODE_TOKEN.findall(t)
        grams += [tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def lm_step_loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy, averaged over valid (non-padding) tokens."""
    logits = model(inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX)


def cosine_lr(step: int, steps: int, lr: float, warmup: int = 50) -> float:
    """Linear warm-up for ``warmup`` steps, then a cosine decay to a tenth of ``lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    frac = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, frac))))



def batch_indices(lengths, batch_size: int, seed: int, bucket: int = 50):
    """An endless stream of batches of indices into a list of texts with these ``lengths``.

    The order is reshuffled each epoch by ``seed``. Each run of ``bucket`` batches' worth of
    shuffled indices is sorted by length before it is cut into batches (which are then shuffled),
    so a batch holds texts of similar length and little of it is padding.
    """
    if len(lengths) < batch_size:
        raise ValueError(f"{len(lengths)} texts cannot fill a batch of {batch_size}")
    g = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(lengths), generator=g).tolist()
        cut = []
        for i in range(0, len(order), batch_size * bucket):
            chunk = sorted(order[i:i + batch_size * bucket], key=lambda j: lengths[j])
            cut += [chunk[k:k + batch_size] for k in range(0, len(chunk) - batch_size + 1, batch_size)]
        for b in torch.randperm(len(cut), generator=g).tolist():
            yield cut[b]


def batches(texts, batch_size: int, seed: int):
    """An endless stream of ``(inputs, targets)`` batches of ``texts`` (see :func:`batch_indices`)."""
    for index in batch_indices([len(t) for t in texts], batch_size, seed):
        yield pad_batch([texts[j] for j in index])


def fit_lm(model: nn.Module, texts, steps: int, batch_size: int = 32, lr: float = 2e-3, seed: int = 0,
           progress: bool = True, desc: str = N_("language model")) -> dict:
    """Train ``model`` on ``texts`` by next-token cross-entropy for ``steps`` AdamW steps (cosine
    schedule, gradient clipping at 1). Returns ``{"losses": the loss of every step, "tokens": the
    number of (non-padding) tokens read}``."""
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    losses, tokens = [], 0
    stream = batches(texts, batch_size, seed)
    bar = tqdm(range(steps), desc=_(desc), disable=not progress, leave=False)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, steps, lr)
        inputs, targets = next(stream)
        tokens += int((targets != IGNORE_INDEX).sum())
        loss = lm_step_loss(model, inputs, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return {"losses": losses, "tokens": tokens}


# ---------------------------------------------------------------- a task with working: addition with carries
def addition_trace(a: int, b: int, digits: int = 4) -> str:
    """The working for ``a + b``, digit by digit from the right, then the answer.

    Operands are written with ``digits`` digits and the answer with ``digits + 1`` (zeros in front), so every
    problem has the same shape: ``addition_trace(4827, 3956)`` is
    ``'4827+3956: 7+6+0=13 2+5+1=08 8+9+0=17 4+3+1=08 => 08783'``. Each step adds two digits and the carry and
    writes the two-digit sum; its first digit is the next carry, its second a digit of the answer.
    """
    _check_operands(a, b, digits)
    da, db = f"{a:0{digits}d}"[::-1], f"{b:0{digits}d}"[::-1]
    steps, carry = [], 0
    for x, y in zip(map(int, da), map(int, db)):
        s = x + y + carry
        steps.append(f"{x}+{y}+{carry}={s:02d}")
        carry = s // 10
    return f"{a:0{digits}d}+{b:0{digits}d}: " + " ".join(steps) + f" => {a + b:0{digits + 1}d}"


def addition_answer(a: int, b: int, digits: int = 4) -> str:
    """The same problem without working: ``'4827+3956=08783'``."""
    _check_operands(a, b, digits)
    return f"{a:0{digits}d}+{b:0{digits}d}={a + b:0{digits + 1}d}"


def _check_operands(a: int, b: int, digits: int) -> None:
    if not (0 <= a < 10 ** digits and 0 <= b < 10 ** digits):
        raise ValueError(f"operands must be integers from 0 to {10 ** digits - 1}, got {a} and {b}")


def addition_problems(n: int, digits: int = 4, seed: int = 0) -> list[tuple[int, int]]:
    """``n`` problems ``(a, b)`` with operands of 1 to ``digits`` digits (uniform over the number of digits)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _i in range(n):
        pair = []
        for _j in range(2):
            d = int(torch.randint(1, digits + 1, (1,), generator=g))
            lo = 0 if d == 1 else 10 ** (d - 1)
            pair.append(int(torch.randint(lo, 10 ** d, (1,), generator=g)))
        out.append(tuple(pair))
    return out


def read_answer(text: str) -> int | None:
    """The answer a generated addition states (after ``=>`` in a trace, after ``=`` otherwise), or None."""
    tail = text.rsplit("=>", 1)[1] if "=>" in text else text.rsplit("=", 1)[1] if "=" in text else ""
    tail = tail.strip()
    return int(tail) if tail.isdigit() else None
