"""Notebook 04's module: the three spellings of the soft loss, the seeds' formulas, the PyTorch traps, the losses
beyond logits, the shipped comparison, and every checker (each accepts the notebook's solution and names the
typical mistakes, including the buggy snippets the notebook starts from)."""

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import solution_cells
from kdnb import exercises, losses, models, results
from kdnb import nb04_distillation_losses as nb

NOTEBOOK = "04_distillation_losses.ipynb"


@pytest.fixture(scope="module")
def logits():
    g = torch.Generator().manual_seed(0)
    return 3 * torch.randn(64, 10, generator=g), 3 * torch.randn(64, 10, generator=g), 3 * torch.randn(64, 10, generator=g), \
        torch.randint(0, 10, (64,), generator=g)


def notebook_namespace():
    return {"F": F, "nn": nn, "torch": torch, "nb": nb, "losses": losses, "exercises": exercises}


def stub_before(number: str) -> str:
    """The code cell just before solution ``number``: the stub (or buggy snippet) the reader starts from."""
    cells = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / NOTEBOOK).read_text(encoding="utf-8"))["cells"]
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code" and "".join(cell["source"]).startswith(f"# Solution {number}"):
            return "".join(cells[i - 1]["source"])
    raise AssertionError(f"no solution {number}")


def run_cell(src: str, extra=None) -> dict:
    ns = notebook_namespace()
    ns.update(extra or {})
    exec(compile(src, "<cell>", "exec"), ns)
    return ns


# ------------------------------------------------------------------------------------------- the loss and its spellings


def test_three_spellings_share_one_gradient(logits):
    z, v, _, _ = logits
    table = nb.three_losses(z, v, T=3.0)
    assert table["same gradient as KL"].all()
    assert table["value - KL"].iloc[0] == pytest.approx(table.attrs["teacher_entropy"], rel=1e-4)
    assert table["value - KL"].iloc[2] == 0


def test_alpha_weights_the_soft_term(logits):
    z, v, _, y = logits
    t = nb.term_gradients(z, v, y, T=4.0, alphas=(0.0, 0.5, 1.0))
    assert t.loc[0.0, "soft term alpha T^2 KL"] == 0 and t.loc[1.0, "hard term (1 - alpha) CE"] == 0
    assert t["teacher's share of the push"].is_monotonic_increasing


def test_seed_formulas_audit(logits):
    z, v, other, y = logits
    audit = nb.audit_formulas(z, v, other, y, steps=150)
    names = list(audit.index)
    flipped, adversarial, kl = names[1], names[3], names[5]
    assert audit.loc[flipped, "KL to teacher after"] > 5 * audit.loc[flipped, "KL to teacher before"]
    assert audit.loc[flipped, "loss after descent"] < -1 and audit.loc[adversarial, "loss after descent"] < -100
    assert audit.loc[kl, "KL to teacher after"] < 0.05 * audit.loc[kl, "KL to teacher before"]
    assert list(audit["uses the teacher"]) == [False, True, True, False, False, True]


def test_adversarial_formula_is_finite_where_one_minus_q_rounds_to_zero():
    z = torch.tensor([[40.0, 0.0, 0.0]], requires_grad=True)
    value = nb.seed_formulas()["seed's 'adversarial' loss, sum log q - log(1 - q) (003-27)"](z, z, torch.tensor([0]))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(z.grad).all()


def test_flipped_sign_moves_away_from_the_teacher(mnist):
    torch.manual_seed(0)
    teacher = models.mlp((64,))
    student = models.mlp((16,))
    X = mnist.train.X[:512]
    v = teacher(X).detach()
    run = nb.flipped_sign_run(student, X, v, mnist.test.X[:256], teacher(mnist.test.X[:256]).detach(), steps=20, lr=3e-3)
    end = run.groupby("loss", sort=False).last()["KL to teacher (T = 1)"]
    start = run.groupby("loss", sort=False).first()["KL to teacher (T = 1)"]
    assert end.iloc[0] < start.iloc[0] and end.iloc[1] > 3 * start.iloc[1]


# ------------------------------------------------------------------------------------------------------------ pitfalls


def test_kldiv_calls(logits):
    z, v, _, _ = logits
    t = nb.pitfall_kldiv(z, v, T=2.0)
    assert math.isnan(t["value / true KL"].iloc[0])
    assert t["value / true KL"].iloc[1] == pytest.approx(0.1, rel=1e-4)
    assert list(t["right"]) == [False, False, False, False, True, True]


def test_train_mode_and_no_grad():
    torch.manual_seed(0)
    teacher = models.mlp((64,), in_shape=(1, 8, 8), dropout=0.5)
    X, y = torch.rand(128, 1, 8, 8), torch.randint(0, 10, (128,))
    modes = nb.pitfall_train_mode(teacher, X, y)
    assert modes.iloc[0, 0] > 0 and modes.iloc[1, 0] == 0
    assert teacher.training  # the mode it had is restored
    student = models.mlp((8,), in_shape=(1, 8, 8))
    guard = nb.pitfall_no_grad(teacher.requires_grad_(False), student, X, y)
    assert guard.iloc[0]["teacher tensors given a gradient"] == len(list(teacher.parameters()))
    assert guard.iloc[1]["teacher tensors given a gradient"] == 0 and not guard.iloc[1]["teacher output has a graph"]


def test_three_argument_cross_entropy(logits):
    z, v, _, y = logits
    out = nb.pitfall_three_args(z, y, v)
    assert out["error"].startswith("TypeError") and out["soft_ce"] == pytest.approx(out["by_hand"], rel=1e-5)


def test_shuffled_cache_misaligns():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(640, 1, 4, 4, generator=g)
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Flatten(), nn.Linear(16, 10))
    y = teacher(X).argmax(1).detach()  # a teacher that is right on every example
    table = nb.pitfall_shuffled_cache(teacher, X, y, batch_size=64)
    assert table.iloc[1, 0] == 100 and table.iloc[0, 0] < 30


# ----------------------------------------------------------------------------------------------- losses beyond logits


def test_attention_map_properties():
    A = torch.randn(3, 5, 4, 4)
    Q = nb.attention_map(A)
    assert Q.shape == (3, 16) and torch.allclose(Q.norm(dim=1), torch.ones(3))
    assert torch.allclose(nb.attention_map(7 * A), Q, atol=1e-6)  # a direction: scale does not matter
    with pytest.raises(ValueError, match="conv features"):
        nb.attention_map(torch.randn(3, 5))
    with pytest.raises(ValueError, match="spatial size"):
        nb.attention_loss([torch.randn(2, 3, 4, 4)], [torch.randn(2, 3, 5, 5)])


def test_rkd_is_invariant_to_scale_and_rotation():
    g = torch.Generator().manual_seed(1)
    e = torch.randn(12, 6, generator=g)
    rot, _ = torch.linalg.qr(torch.randn(6, 6, generator=g))
    assert nb.rkd_loss(3 * e @ rot + 1.0, e).item() < 1e-6  # same relations, other coordinates and scale
    assert nb.rkd_loss(torch.randn(12, 6, generator=g), e).item() > 0.1
    assert nb.rkd_loss(torch.randn(12, 3, generator=g), e).item() > 0  # widths may differ


def test_cosine_loss():
    h = torch.randn(5, 8)
    assert nb.cosine_loss(2 * h, h).item() == pytest.approx(0, abs=1e-6)
    assert nb.cosine_loss(-h, h).item() == pytest.approx(2, abs=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        nb.cosine_loss(torch.randn(5, 4), h)


def test_students_start_from_the_same_weights_and_only_fitnets_adds_parameters():
    a, b = nb.make_student("KD", 3), nb.make_student("FitNets hints", 3)
    assert all(torch.equal(p, q) for p, q in zip(a.student.parameters(), b.student.parameters()))
    assert nb.extra_params("FitNets hints") == 16 * 64 + 64
    assert all(nb.extra_params(m) == 0 for m in nb.METHODS if m != "FitNets hints")
    feats = nb.forward_features(a.student, torch.zeros(2, 1, 28, 28))
    assert feats["block1"].shape == (2, 8, 14, 14) and feats["block2"].shape == (2, 16, 7, 7) and feats["hidden"].shape == (2, 128)


@pytest.mark.parametrize("method", list(nb.METHODS))
def test_every_method_trains_one_epoch(method, mnist):
    small = type(mnist)(mnist.name, mnist.train.subset(range(300)), mnist.val.subset(range(100)), mnist.test.subset(range(100)))
    torch.manual_seed(0)
    teacher = models.build({"kind": "cnn", "channels": [32, 64], "hidden": 128})
    cache = nb.teacher_features(teacher, small.train.X)
    row = nb.run_method(method, 0, small, cache, "300 labels", epochs=1, weight=1.0 if nb.METHODS[method]["weights"] else None)
    assert 0 <= row["test_acc"] <= 1 and row["epoch_seconds"] > 0 and row["method"] == method
    with pytest.raises(ValueError, match="unknown regime"):
        nb.run_method(method, 0, small, cache, "all the labels")


def test_table_and_verdicts_on_made_up_runs():
    rows = []
    for seed in range(3):
        for m, acc in (("hard labels", 0.90), ("KD", 0.93), ("RKD", 0.89), ("logit MSE", 0.90)):
            jitter = 0.004 * (seed - 1) if m == "logit MSE" else 0.0
            rows.append({"method": m, "regime": "300 labels", "seed": seed, "weight": None, "test_acc": acc + jitter,
                         "val_acc": acc, "epoch_seconds": 1.0, "epochs": 1, "extra_params": 0})
    table = nb.comparison_table(pd.DataFrame(rows))
    assert table.set_index("method").loc["KD", "gain_mean"] == pytest.approx(3.0)
    v = nb.verdicts(table)["verdict"].droplevel(0)
    assert v["KD"].startswith("helps") and v["RKD"].startswith("hurts") and v["logit MSE"].startswith("no clear")


def test_shipped_comparison_is_complete():
    runs = results.read("loss_comparison")
    assert set(runs["method"]) == set(nb.METHODS) and set(runs["regime"]) == set(nb.REGIMES)
    assert runs.groupby(["regime", "method"]).size().eq(len(nb.SEEDS)).all()
    weights = results.read("loss_weights").set_index("method")["weight"]
    for m in nb.FEATURE_METHODS:
        assert weights[m] in nb.METHODS[m]["weights"]
        assert (runs[runs["method"] == m]["weight"] == weights[m]).all()  # the table used the chosen weights
    # the weights were chosen from the trials, as documented
    trials = results.read("loss_weight_trials")
    assert nb.weights_from_trials(trials).set_index("method")["weight"].to_dict() == weights.to_dict()


# ----------------------------------------------------------------------------------------------------------- checkers


@pytest.mark.parametrize("mistake", list(nb._kd_variants()))
def test_kd_checker_names_each_mistake(mistake):
    verdict = exercises.check("Check yourself 2.1", nb._kd_variants()[mistake], nb.diagnose_kd_loss, "todo", quiet=True)
    assert verdict.status == "wrong" and verdict.message.startswith(mistake)


def test_kd_checker_other_mistakes():
    def leaks(z, v, y, T, a):
        return (1 - a) * F.cross_entropy(z, y) + a * T * T * F.kl_div(F.log_softmax(z / T, 1), F.softmax(v / T, 1), reduction="batchmean")

    def soft_ce(z, v, y, T, a):
        return (1 - a) * F.cross_entropy(z, y) + a * T * T * F.cross_entropy(z / T, F.softmax(v.detach() / T, 1))

    assert "reach the teacher" in nb.diagnose_kd_loss(leaks)
    assert "off by a constant" in nb.diagnose_kd_loss(soft_ce)
    assert "reference" in nb.diagnose_kd_loss(lambda z, v, y, T, a: z.sum() * 0 + 1.0)


def test_notebook_solutions_pass_and_stubs_do_not():
    solutions = solution_cells(NOTEBOOK)
    assert set(solutions) == {"2.1", "3.1", "6.1", "7.1", "7.2", "7.3", "7.4"}
    g = torch.Generator().manual_seed(0)
    extra = {"student_test": 3 * torch.randn(100, 10, generator=g), "teacher_test": 3 * torch.randn(100, 10, generator=g)}
    for number, src in solutions.items():
        stub_src = stub_before(number)
        checks = [line for line in stub_src.splitlines() if line.startswith("nb.check_")]
        assert len(checks) == 1, number
        ns = run_cell(stub_src.replace(checks[0], ""), extra)
        verdict = eval(checks[0].rstrip(";"), ns)
        assert not verdict, f"the stub of {number} passes its own check"
        exec(compile(src, "<solution>", "exec"), ns)  # each solution ends with `assert nb.check_...(...)`
        assert eval(checks[0].rstrip(";"), ns), f"the solution of {number} fails its check"


@pytest.mark.parametrize("number, expected", [
    ("2.1", "todo"), ("3.1", "todo"), ("6.1", "todo"),
    ("7.1", "the teacher's weights changed"), ("7.2", "NaN"), ("7.3", "TypeError"), ("7.4", "other examples"),
])
def test_stub_verdicts_name_the_problem(number, expected):
    g = torch.Generator().manual_seed(0)
    extra = {"student_test": 3 * torch.randn(100, 10, generator=g), "teacher_test": 3 * torch.randn(100, 10, generator=g)}
    src = stub_before(number)
    check_line = [line for line in src.splitlines() if line.startswith("nb.check_")][0]
    ns = run_cell(src.replace(check_line, ""), extra)
    verdict = eval(check_line.rstrip(";"), ns)
    assert (verdict.status == "todo") if expected == "todo" else (expected in verdict.message), verdict


def test_spot_the_bug_half_fixes_are_named():
    def side_by_side_but_no_teacher_update(student, teacher, x, y, opt_student, opt_teacher, T=4.0, alpha=0.9):
        loss = F.cross_entropy(student(x), y)
        opt_student.zero_grad()
        loss.backward()
        opt_student.step()

    def kd_but_train_mode(student, teacher, x, y, opt_student, opt_teacher, T=4.0, alpha=0.9):
        with torch.no_grad():
            v = teacher(x)
        loss = losses.kd_loss(student(x), v, y, T=T, alpha=alpha)
        opt_student.zero_grad()
        loss.backward()
        opt_student.step()

    assert "no teacher output reaches" in nb.diagnose_train_step(side_by_side_but_no_teacher_update)
    assert "train() mode" in nb.diagnose_train_step(kd_but_train_mode)
    assert "'mean'" in nb.diagnose_soft_term(lambda z, v, T=4.0: T * T * nn.KLDivLoss()((z / T).log_softmax(1), (v / T).softmax(1)))
    assert "T² factor" in nb.diagnose_soft_term(lambda z, v, T=4.0: nn.KLDivLoss(reduction="batchmean")((z / T).log_softmax(1), (v / T).softmax(1)))
    assert "alpha weights the wrong term" in nb.diagnose_soft_label_loss(
        lambda o, y, v, T=4.0, a=0.9: a * F.cross_entropy(o, y) + (1 - a) * T * T * F.cross_entropy(o / T, (v / T).softmax(1)))

    def no_shuffle(teacher, dataset, epochs=2, batch_size=64, seed=0):
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
        with torch.no_grad():
            cache = [teacher(x) for x, _, _ in loader]
        return [(x, y, cache[b]) for _ in range(epochs) for b, (x, y, _) in enumerate(loader)]

    assert "order never changes" in nb.diagnose_cache(no_shuffle)


def test_entropy_gap_checker_names_mistakes(logits):
    z, v, _, _ = logits
    p = F.softmax(v / 2, 1)
    h = -(p * F.log_softmax(v / 2, 1)).sum(1)
    assert nb.check_entropy_gap(h.mean(), z, v, 2.0)
    assert "bits" in nb.check_entropy_gap(h.mean() / math.log(2), z, v, 2.0).message
    assert "sum over the batch" in nb.check_entropy_gap(h.sum(), z, v, 2.0).message
    q = F.softmax(z / 2, 1)
    assert "student's entropy" in nb.check_entropy_gap(-(q * q.log()).sum(1).mean(), z, v, 2.0).message


def test_attention_checker_names_mistakes():
    assert nb.check_attention_map(lambda A: F.normalize(A.pow(2).sum(1).flatten(1), dim=1))  # a sum is as good as a mean
    assert "square" in nb.check_attention_map(lambda A: F.normalize(A.abs().mean(1).flatten(1), dim=1)).message
    assert "not normalized" in nb.check_attention_map(lambda A: A.pow(2).mean(1).flatten(1)).message
    assert "flatten" in nb.check_attention_map(lambda A: F.normalize(A.pow(2).mean(1), dim=1)).message or \
        "normalize the whole" in nb.check_attention_map(lambda A: F.normalize(A.pow(2).mean(1), dim=1)).message


def test_push_explorer_driven_like_a_reader(logits):
    z, v, _, _ = logits
    explorer = nb.push_explorer(z[0], v[0], T=4)
    assert explorer.state["toward_teacher"] > 0
    explorer.controls["loss"].value = "seed's soft loss: sign flipped"
    assert explorer.state["toward_teacher"] < 0
    assert explorer.state["push"] == pytest.approx(-nb.push_state(z[0], v[0], "T² KL(p_T || q_T): right", 4)["push"])
    explorer.controls["T"].value = 20
    assert explorer.state["T"] == 20 and explorer.view.renders == 3
    adv = nb.push_state(z[0], v[0], "seed's 'adversarial' loss", 4)["push"]
    assert adv == pytest.approx(nb.push_state(z[0], 5 * v[0], "seed's 'adversarial' loss", 4)["push"])  # blind to the teacher


def test_squared_error_push_fades_on_a_confident_mistake():
    t = nb.confident_mistake((0.0, 5.0, 10.0, 15.0))
    ce, se = t["cross-entropy gradient norm"], t["squared-error gradient norm"]
    assert (ce > 0.9).all() and ce.iloc[-1] == pytest.approx(math.sqrt(2), rel=1e-3)
    assert se.is_monotonic_decreasing and se.iloc[-1] < 1e-4
