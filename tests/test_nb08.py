"""Notebook 08's room: how students are taught (token, sequence, on-policy, top-k), how they are scored, and the
reasoning-trace task. Runs on tiny random models, so it checks the machinery, not the shipped results."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from kdnb import charlm, results
from kdnb.losses import IGNORE_INDEX
from kdnb.nb08_distilling_language_models import scoring, students, tables, traces
from kdnb.nb08_distilling_language_models.divergence import generalized_jsd


@pytest.fixture(scope="module")
def tiny_teacher():
    torch.manual_seed(0)
    model = charlm.CharTransformer(width=32, layers=1, heads=2, context=256).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


TEXTS = ["def f(x):\n    return x", "def g(a, b):\n    return a + b", "def h():\n    pass"] * 12


def _random(shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * 3


def test_topk_with_every_class_is_the_forward_kl():
    z, v = _random((3, 5, 98), 1), _random((3, 5, 98), 2)
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[0, 3:] = False
    lp = F.log_softmax(v, -1)
    full = generalized_jsd(z, v, beta=0.0, mask=mask)
    assert torch.allclose(students.topk_loss(z, lp, 98, False, mask), full, atol=1e-5)
    # k = V - 1 with the rest as a bucket: the bucket is the one class left out, so nothing is lost
    assert torch.allclose(students.topk_loss(z, lp, 97, True, mask), full, atol=1e-4)


def test_top1_renormalized_is_cross_entropy_on_the_teachers_argmax():
    z, v = _random((4, 98), 3), _random((4, 98), 4)
    mask = torch.ones(4, dtype=torch.bool)
    loss = students.topk_loss(z, F.log_softmax(v, -1), 1, False, mask)
    assert torch.allclose(loss, F.cross_entropy(z, v.argmax(-1)), atol=1e-5)


def test_topk_bucket_keeps_the_teachers_uncertainty_where_renormalizing_does_not():
    v = torch.tensor([[3.0, 2.0] + [0.0] * 96])
    lp = F.log_softmax(v, -1)
    mask = torch.ones(1, dtype=torch.bool)
    # a student that puts the teacher's exact probabilities everywhere scores 0 with the bucket, not when renormalized
    assert students.topk_loss(v.clone(), lp, 2, True, mask).item() == pytest.approx(0.0, abs=1e-5)
    assert students.topk_loss(v.clone(), lp, 2, False, mask).item() > 0.1
    assert students.topk_bytes(5) == 15 and students.topk_bytes(None) == 2 * charlm.VOCAB_SIZE


def test_teaching_validates_and_labels():
    with pytest.raises(ValueError, match="unknown kind"):
        students.Teaching("magic")
    with pytest.raises(ValueError, match="beta"):
        students.Teaching("token", beta=1.5)
    with pytest.raises(ValueError, match="k >= 1"):
        students.Teaching("topk")
    assert students.Teaching("token", beta=1.0).label == "token KD, reverse KL"
    assert "lambda=0.5" in students.Teaching("onpolicy", lmbda=0.5).label
    assert students.first_line("def f(x):\n    return x") == "def f("


def test_teacher_log_probs_are_one_row_per_character_and_eos(tiny_teacher):
    lps = students.teacher_log_probs(tiny_teacher, TEXTS[:3], progress=False)
    assert [lp.shape[0] for lp in lps] == [len(t) + 1 for t in TEXTS[:3]]
    assert torch.allclose(lps[0].float().exp().sum(-1), torch.ones(len(TEXTS[0]) + 1), atol=1e-2)


@pytest.mark.parametrize("how", [
    students.Teaching("alone", steps=4, batch_size=4),
    students.Teaching("token", beta=0.5, steps=4, batch_size=4),
    students.Teaching("sequence", steps=4, batch_size=4),
    students.Teaching("onpolicy", beta=1.0, lmbda=1.0, steps=4, batch_size=4),
    students.Teaching("topk", k=5, bucket=True, steps=4, batch_size=4),
], ids=lambda h: h.label)
def test_every_way_of_teaching_trains_and_repeats_with_its_seed(tiny_teacher, how):
    cache = {"log_probs": students.teacher_log_probs(tiny_teacher, TEXTS, progress=False), "greedy": TEXTS[::-1]}
    a, _ = students.train_student(tiny_teacher, TEXTS, how, 0, cache, progress=False)
    b, _ = students.train_student(tiny_teacher, TEXTS, how, 0, cache, progress=False)
    c, _ = students.train_student(tiny_teacher, TEXTS, how, 1, cache, progress=False)
    wa, wb, wc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert not any(p.requires_grad for p in tiny_teacher.parameters())


def test_on_policy_steps_follow_lambda(tiny_teacher, monkeypatch):
    calls = []
    real = students._student_samples

    def counting(student, prompts, g):
        calls.append(len(prompts))
        return real(student, prompts, g)

    monkeypatch.setattr(students, "_student_samples", counting)
    cache = {"log_probs": students.teacher_log_probs(tiny_teacher, TEXTS, progress=False)}
    for lmbda, expected in ((0.0, 0), (0.5, 1), (1.0, 2)):
        calls.clear()
        students.train_student(tiny_teacher, TEXTS, students.Teaching("onpolicy", lmbda=lmbda, steps=8, batch_size=4), 0, cache,
                               progress=False)
        # one pool of 4 batches per 4 on-policy steps: lambda = 0.5 of 8 steps is 4 on-policy steps, one pool
        assert len(calls) == expected and all(n == 16 for n in calls)


def test_scores(tiny_teacher):
    assert scoring.agreement(tiny_teacher, tiny_teacher, TEXTS[:3]) == 1.0
    total, late = scoring.teacher_nll(tiny_teacher, TEXTS[:3])
    assert total > 0 and math.isnan(late)  # no text reaches position 100
    s = scoring.student_scores(tiny_teacher, tiny_teacher, TEXTS[:3], seed=0, samples=8)
    assert set(s) == {"perplexity", "agreement", "parses", "distinct_3", "teacher_nll", "teacher_nll_late", "mean_length"}
    assert 0 <= s["parses"] <= 1 and s["agreement"] == 1.0


def test_trace_arms_read_the_same_number_of_characters(monkeypatch):
    monkeypatch.setattr(traces, "TEST_PROBLEMS", 20)
    monkeypatch.setattr(traces, "TOKENS_PER_STEP", 256)
    pairs = charlm.addition_problems(64, 4, seed=9)
    transfer = {"traces": [charlm.addition_trace(a, b) for a, b in pairs],
                "answers only": [charlm.addition_answer(a, b) for a, b in pairs]}
    rows = {arm: traces.train_arm(transfer, arm, 0, steps=3, progress=False) for arm in traces.ARMS}
    ratio = rows["traces"]["tokens_read"] / rows["answers only"]["tokens_read"]
    assert 0.8 < ratio < 1.25
    assert rows["answers only"]["problems_read"] > 2.5 * rows["traces"]["problems_read"]
    assert traces.prompt(12, 34, "traces") == "0012+0034:" and traces.prompt(12, 34, "answers only") == "0012+0034="
    right = charlm.addition_trace(1, 2)
    assert traces.accuracy([right, "0001+0002=00004", "0001+0002: garbled"], [(1, 2)] * 3) == pytest.approx(1 / 3)


def test_tables_are_registered_under_the_rooms_names():
    names = {n for fn in tables.MAKERS for n in fn.maker.tables}
    assert names == {"nb08_students", "nb08_slice", "nb08_onpolicy", "nb08_topk", "nb08_traces"}
    assert all(results.owner_module(n) == "kdnb.nb08_distilling_language_models.tables" for n in names)


def test_padded_targets_mask_nothing_real():
    lps = [torch.log_softmax(torch.randn(3, 98), -1).half(), torch.log_softmax(torch.randn(5, 98), -1).half()]
    out = students._padded(lps, 5)
    assert out.shape == (2, 5, 98) and torch.allclose(out[0, :3], lps[0].float())
    x, y = charlm.pad_batch(["ab", "abcd"])
    assert (y != IGNORE_INDEX).sum(1).tolist() == [3, 5]


def test_the_notebooks_solutions_pass_their_checkers_and_the_stubs_do_not():
    """Check yourself 3.1 and 4.1 as the notebook has them: the stub cell gives "your turn", the hidden solution passes."""
    import json
    import math as math_
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import solution_cells

    from kdnb import exercises
    from kdnb import nb08_distilling_language_models as nb

    name = "08_distilling_language_models.ipynb"
    solutions = solution_cells(name)
    assert set(solutions) == {"3.1", "4.1"}
    cells = ["".join(c["source"]) for c in json.loads((Path(__file__).parents[1] / "notebooks" / name).read_text())["cells"]]
    for number, src in solutions.items():
        stub = cells[cells.index(src) - 1]
        ns = {"F": F, "torch": torch, "math": math_, "nb": nb, "exercises": exercises}
        exec(compile(stub.replace("nb.check_", "verdict = nb.check_").rstrip(";\n"), "<stub>", "exec"), ns)
        assert not ns["verdict"] and ns["verdict"].status == "todo", f"the stub of {number} passes its own check"
        exec(compile(src, "<solution>", "exec"), ns)  # each solution ends with `assert nb.check_...(...)`


def test_tables_and_printed_lines_speak_chinese_in_zh(capsys):
    from kdnb import i18n
    from kdnb import nb08_distilling_language_models as nb
    from kdnb.shown import translated

    scale = nb.batchmean_scale_error(B=4, S=12, V=50, seed=0)
    nb.print_scale_error(scale)
    english = capsys.readouterr().out
    students = nb.students_only(results.read("nb08_students"))
    words = ("agrees with teacher, %", "seeds", "student alone", "method")
    try:
        i18n.set_language("zh")
        nb.print_scale_error(scale)
        chinese = capsys.readouterr().out
        names = [nb.tr(m) for m in ("student alone", "token KD, JSD beta=0.5", "on-policy lambda=1, JSD beta=0.5")]
        table = nb.score_table(students, columns=("perplexity", "agreement"))
        zh_words = [i18n._(w) for w in words]
        text, page = repr(table), table._repr_html_()
        shown = translated(table, type(table).label)
    finally:
        i18n.set_language(None)
    assert english.startswith("no padding: 'batchmean'") and "填充" in chinese and chinese != english
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in n) for n in names), names
    assert nb.tr("token KD, JSD beta=0.5") == "token KD, JSD beta=0.5"
    # a table keeps its English labels for code in Chinese too; only what it shows is translated
    assert list(table.columns) == ["perplexity", "agrees with teacher, %", "seeds"]
    assert table.index.name == "method" and "student alone" in table.index
    assert list(shown.columns)[1:] == zh_words[:2] and shown.index.name == zh_words[3] and zh_words[2] in shown.index
    assert all(w in text and w in page for w in zh_words) and not any(w in text or w in page for w in words)
    assert repr(table) == repr(pd.DataFrame(table)) and table._repr_html_() == pd.DataFrame(table)._repr_html_()
