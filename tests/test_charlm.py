"""The character-level language model core: vocabulary, batches, the cached forward pass, sampling, the corpus,
the scores, and the addition task with its working."""

from __future__ import annotations

import ast
import math

import pytest
import torch
import torch.nn.functional as F

from kdnb import charlm
from kdnb.losses import IGNORE_INDEX


def test_encode_decode_round_trip_and_bad_characters():
    text = "def f(x):\n    return x ** 2  # ~"
    assert charlm.decode([charlm.BOS] + charlm.encode(text) + [charlm.EOS] + charlm.encode("junk")) == text
    with pytest.raises(ValueError, match="not in the vocabulary"):
        charlm.encode("déf")
    assert charlm.VOCAB_SIZE == 98 and len(set(charlm.CHARS)) == len(charlm.CHARS)


def test_pad_batch_shifts_by_one_and_masks_padding():
    x, y = charlm.pad_batch(["ab", "abcd"])
    assert x.shape == y.shape == (2, 5)
    assert x[0, 0] == charlm.BOS and y[0, 2] == charlm.EOS and (y[0, 3:] == IGNORE_INDEX).all()
    assert x[1, 1:].tolist() == charlm.encode("abcd") and y[1, :4].tolist() == charlm.encode("abcd")
    assert int((y != IGNORE_INDEX).sum()) == 3 + 5
    with pytest.raises(ValueError, match="no sequence"):
        charlm.pad_batch([])


def test_cached_forward_equals_the_full_pass_and_refuses_a_second_block():
    torch.manual_seed(0)
    model = charlm.CharTransformer(width=32, layers=2, heads=2, context=64).eval()
    x = torch.randint(2, charlm.VOCAB_SIZE, (3, 17))
    full = model(x)
    cache = model.new_cache()
    steps = torch.cat([model(x[:, t:t + 1], cache=cache, start=t) for t in range(17)], dim=1)
    assert torch.allclose(full, steps, atol=1e-5)
    with pytest.raises(ValueError, match="one new token"):
        model(x[:, :2], cache=cache, start=17)
    with pytest.raises(ValueError, match="longer than the model's context"):
        model(torch.zeros(1, 65, dtype=torch.long))


def test_causality_a_later_token_does_not_change_earlier_logits():
    torch.manual_seed(1)
    model = charlm.CharTransformer(width=32, layers=2, heads=2, context=32).eval()
    x = torch.randint(2, charlm.VOCAB_SIZE, (1, 10))
    y = x.clone()
    y[0, 7] = (y[0, 7] + 1 - 2) % (charlm.VOCAB_SIZE - 2) + 2
    assert torch.allclose(model(x)[:, :7], model(y)[:, :7], atol=1e-6)
    assert not torch.allclose(model(x)[:, 7:], model(y)[:, 7:])


def test_generate_keeps_prompts_stops_at_eos_and_greedy_is_deterministic():
    torch.manual_seed(2)
    model = charlm.CharTransformer(width=32, layers=1, heads=2, context=64)
    texts = charlm.generate(model, ["def f(", "", "x"], max_len=20, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert texts[0].startswith("def f(") and texts[2].startswith("x") and all(len(t) <= 20 for t in texts)
    assert charlm.generate(model, ["ab"], 15, 0.0) == charlm.generate(model, ["ab"], 15, 0.0)
    assert model.training, "generate() restores the training mode it found"
    with pytest.raises(ValueError, match="temperature"):
        charlm.generate(model, [""], 5, -1.0)


def test_a_trained_model_learns_a_pattern_and_greedy_decoding_writes_it():
    torch.manual_seed(3)
    model = charlm.CharTransformer(width=32, layers=1, heads=2, context=32)
    losses = charlm.fit_lm(model, ["abcabc"] * 64, steps=120, batch_size=16, lr=1e-2, progress=False)["losses"]
    assert losses[-1] < 0.2 * losses[0]
    assert charlm.generate(model, [""], 20, 0.0) == ["abcabc"]
    assert charlm.perplexity(model, ["abcabc"]) < 1.5


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    class Uniform(torch.nn.Module):
        def forward(self, ids):
            return torch.zeros(*ids.shape, charlm.VOCAB_SIZE)

    assert math.isclose(charlm.perplexity(Uniform(), ["some text", "x"]), charlm.VOCAB_SIZE, rel_tol=1e-5)


def test_scores_of_written_code():
    assert charlm.parses("def f(x):\n    return x") and not charlm.parses("def f(x:\n") and not charlm.parses("  ")
    assert charlm.parse_rate(["x = 1", "def (", "y"]) == pytest.approx(2 / 3)
    assert charlm.distinct_ngrams(["a b c d"], 3) == 1.0
    assert charlm.distinct_ngrams(["a b a b a b"], 3) == pytest.approx(2 / 4)


@pytest.fixture(scope="module")
def corpus():
    return charlm.code_corpus(files_per_library=30)


def test_corpus_is_functions_that_parse_split_without_overlap(corpus):
    assert corpus.train and corpus.val and corpus.test
    assert not set(corpus.train) & set(corpus.val) and not set(corpus.train) & set(corpus.test)
    for text in corpus.train[:200] + corpus.val:
        assert text.startswith("def ") and 40 <= len(text) <= 200
        assert isinstance(ast.parse(text).body[0], ast.FunctionDef)
        charlm.encode(text)
    assert corpus.digest == charlm.code_corpus(files_per_library=30).digest
    assert "train" in repr(corpus) and corpus.digest in repr(corpus)
    with pytest.raises(ValueError, match="split"):
        charlm.code_corpus(split=(0.5, 0.5, 0.5))


def test_docstrings_and_decorators_are_removed(corpus):
    text = '@decorator\ndef f(x):\n    """Doc."""\n    return x\n'
    tree = ast.parse(text)
    kept = list(charlm._function_defs(tree.body))
    assert [n.name for n in kept] == ["f"]
    assert not any(t.lstrip().startswith("@") or '"""' in "".join(t.split("\n")[1:2]) for t in corpus.train[:300])


def test_addition_traces_are_right_and_answers_read_back():
    for a, b in [(4827, 3956), (999, 1), (0, 0), (5, 9999)]:
        trace = charlm.addition_trace(a, b)
        assert charlm.read_answer(trace) == a + b
        assert charlm.read_answer(charlm.addition_answer(a, b)) == a + b
        steps = trace.split(": ")[1].split(" => ")[0].split()
        assert len(steps) == 4 and all(len(s) == len("7+6+0=13") for s in steps)  # every problem has one shape
    assert charlm.addition_trace(4827, 3956) == "4827+3956: 7+6+0=13 2+5+1=08 8+9+0=17 4+3+1=08 => 08783"
    assert charlm.addition_answer(3, 7) == "0003+0007=00010"
    with pytest.raises(ValueError, match="operands"):
        charlm.addition_trace(5, 12345)
    assert charlm.read_answer("12+3=") is None and charlm.read_answer("nonsense") is None
    pairs = charlm.addition_problems(200, 4, seed=5)
    assert pairs == charlm.addition_problems(200, 4, seed=5)
    assert all(0 <= a < 10_000 and 0 <= b < 10_000 for a, b in pairs)
    assert {len(str(a)) for a, _ in pairs} == {1, 2, 3, 4}


def test_lm_step_loss_ignores_padding():
    torch.manual_seed(4)
    model = charlm.CharTransformer(width=32, layers=1, heads=2, context=32)
    x, y = charlm.pad_batch(["abc", "abcdefgh"])
    loss = charlm.lm_step_loss(model, x, y)
    logits = model(x)
    mask = y != IGNORE_INDEX
    assert torch.allclose(loss, F.cross_entropy(logits[mask], y[mask]))


def test_cosine_schedule_warms_up_and_ends_at_a_tenth():
    assert charlm.cosine_lr(0, 100, 1.0, warmup=10) == pytest.approx(0.1)
    assert charlm.cosine_lr(9, 100, 1.0, warmup=10) == pytest.approx(1.0)
    assert charlm.cosine_lr(100, 100, 1.0, warmup=10) == pytest.approx(0.1)
