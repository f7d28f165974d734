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
    assert "differs" in nb.diagnose_kd_loss(lambda z, v, y, T, a: z.sum() * 0 + 1.0)


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


# ------------------------------------------------------------------------------- checker batteries (the rule (a)-(f))
#
# Each checker gets the wrong answers the issue names, at least five more, and at least three differently written
# right answers. A right answer must pass on every run (the checkers draw two random problems each time), so the
# right ones run three times.


def _sol_kd(z, v, y, T, a):
    hard = F.cross_entropy(z, y)
    soft = F.kl_div(F.log_softmax(z / T, dim=1), F.softmax(v.detach() / T, dim=1), reduction="batchmean")
    return (1 - a) * hard + a * T * T * soft


def _kd_log_target(z, v, y, T, a):
    return (1 - a) * F.cross_entropy(z, y) + a * T * T * nn.KLDivLoss(reduction="batchmean", log_target=True)(
        (z / T).log_softmax(1), (v / T).log_softmax(1).detach())


def _kd_by_hand(z, v, y, T, a):
    with torch.no_grad():
        log_p = F.log_softmax(v / T, 1)
    log_q = F.log_softmax(z / T, 1)
    hard = -log_q.new_tensor(0) - F.log_softmax(z, 1).gather(1, y[:, None]).mean()
    return (1 - a) * hard + a * T ** 2 * (log_p.exp() * (log_p - log_q)).sum(1).mean()


def _kd_ce_minus_entropy(z, v, y, T, a):
    p = F.softmax(v.detach() / T, 1)
    entropy = -(p * F.log_softmax(v.detach() / T, 1)).sum(1).mean()
    return (1 - a) * F.cross_entropy(z, y) + a * T * T * (F.cross_entropy(z / T, p) - entropy)


def _kd_float64(z, v, y, T, a):
    return losses.kd_loss(z.double(), v.detach().double(), y, T, a).float()


KD_RIGHT = [_sol_kd, _kd_log_target, _kd_by_hand, _kd_ce_minus_entropy, _kd_float64,
            lambda z, v, y, T, a: losses.kd_loss(z, v.detach(), y, T=T, alpha=a)]


def _kd_t1_special(z, v, y, T, a):
    if T == 1:
        return F.cross_entropy(z, y)
    return _sol_kd(z, v, y, T, a)


def _kd_alpha_special(z, v, y, T, a):
    if a == 1:
        return F.kl_div(F.log_softmax(z / T, 1), F.softmax(v.detach() / T, 1), reduction="batchmean")
    if a == 0:
        return F.cross_entropy(z / T, y)
    return _sol_kd(z, v, y, T, a)


def _kd_in_place(z, v, y, T, a):
    v = v.detach()
    v /= T
    return (1 - a) * F.cross_entropy(z, y) + a * T * T * F.kl_div(F.log_softmax(z / T, 1), F.softmax(v, 1), reduction="batchmean")


def _kd_log_of_softmax(z, v, y, T, a):
    p, q = F.softmax(v.detach() / T, 1), F.softmax(z / T, 1)
    hard = F.nll_loss(torch.log(F.softmax(z, 1)), y)
    return (1 - a) * hard + a * T * T * (p * (torch.log(p) - torch.log(q))).sum(1).mean()


KD_WRONG_NAMED = {  # the issue's four, with the words the verdict must contain
    "T = 1": _kd_t1_special, "alpha = 0 or alpha = 1": _kd_alpha_special, "in place": _kd_in_place,
    "large logits": _kd_log_of_softmax,
}
KD_WRONG_MORE = [
    lambda z, v, y, T, a: _sol_kd(z, v, y, T, a).item(),                                   # .item(): no graph
    lambda z, v, y, T, a: _sol_kd(z.detach(), v, y, T, a),                                  # detached student
    lambda z, v, y, T, a: _sol_kd(z, v, y, T, a) + 123,                                     # a constant added
    lambda z, v, y, T, a: (1 - a) * F.cross_entropy(z, y) + a * T * T * F.kl_div(            # 'sum' reduction
        F.log_softmax(z / T, 1), F.softmax(v.detach() / T, 1), reduction="sum"),
    lambda z, v, y, T, a: (1 - a) * F.cross_entropy(z, y, label_smoothing=0.1) + a * T * T * F.kl_div(
        F.log_softmax(z / T, 1), F.softmax(v.detach() / T, 1), reduction="batchmean"),      # smoothed labels
    lambda z, v, y, T, a: T * T * _sol_kd(z, v, y, T, a) / T,                               # T instead of T² overall
    lambda z, v, y, T, a: _sol_kd(z.squeeze(), v.squeeze(), y.squeeze(), T, a) if len(y) > 1 else _sol_kd(z, v, y, T, a) * 2,
    lambda z, v, y, T, a: torch.stack([_sol_kd(z[i:i + 1], v[i:i + 1], y[i:i + 1], T, a) for i in range(len(y))]).sum(),
]


@pytest.mark.parametrize("fn", KD_RIGHT)
def test_kd_checker_accepts_every_right_formulation(fn):
    for _ in range(3):
        assert nb.diagnose_kd_loss(fn) is None


@pytest.mark.parametrize("words", list(KD_WRONG_NAMED))
def test_kd_checker_rejects_the_issues_wrong_answers_and_says_why(words):
    message = nb.diagnose_kd_loss(KD_WRONG_NAMED[words])
    assert message is not None and words in message, message


@pytest.mark.parametrize("i", range(len(KD_WRONG_MORE)))
def test_kd_checker_rejects_more_wrong_answers(i):
    verdict = exercises.check("2.1", KD_WRONG_MORE[i], nb.diagnose_kd_loss, "todo", quiet=True)
    assert verdict.status == "wrong", verdict


def test_kd_checker_reports_in_place_edit_before_anything_else_and_leaves_inputs_alone():
    cases = nb._kd_cases(seed=1)
    copies = [(z.clone(), v.clone(), y.clone()) for z, v, y, *_ in cases]
    nb.diagnose_kd_loss(_sol_kd)
    assert all(torch.equal(a, b) for (z, v, y, *_), c in zip(cases, copies) for a, b in zip((z, v, y), c))
    whats = [c[5] for c in nb._kd_cases()]
    assert {"T = 1", "alpha = 0", "alpha = 1", "a batch of one"} <= set(whats) and any(w.startswith("large logits") for w in whats)


# Check yourself 3.1: a function of the teacher's logits and T


def _gap_sol(v, T):
    log_p = F.log_softmax(v / T, dim=1)
    return -(log_p.exp() * log_p).sum(dim=1).mean()


GAP_RIGHT = [
    _gap_sol,
    lambda v, T: torch.special.entr(F.softmax(v / T, 1)).sum(1).mean(),
    lambda v, T: float(_gap_sol(v, T)),                                   # a float
    lambda v, T: _gap_sol(v, T).numpy(),                                  # a NumPy number
    lambda v, T: float(f"{_gap_sol(v, T).item():.3g}"),                   # rounded to 3 significant figures
    lambda v, T: F.cross_entropy(v / T, F.softmax(v / T, 1)),             # CE(p, p) is H(p): from the teacher alone
    lambda v, T: _gap_sol(v.double(), T).reshape(1),                      # a one-element tensor
]
_Z_OUTSIDE = 3 * torch.randn(64, 10)
GAP_WRONG_NAMED = {
    "from the two losses": lambda v, T: F.cross_entropy(torch.zeros_like(v), F.softmax(v / T, 1)) - F.kl_div(
        F.log_softmax(torch.zeros_like(v), 1), F.softmax(v / T, 1), reduction="batchmean"),
    "bits": lambda v, T: _gap_sol(v, T) / math.log(2),
    "sum over the batch": lambda v, T: _gap_sol(v, T) * len(v),
}
GAP_WRONG_MORE = [
    lambda v, T: -(F.softmax(v / T, 1) * F.softmax(v / T, 1).log()).sum(1).mean(),   # NaN at large logits
    lambda v, T: _gap_sol(v, 1.0),                                                      # T forgotten
    lambda v, T: -_gap_sol(v, T),                                                       # sign
    lambda v, T: _gap_sol(v, T) / v.shape[1],                                           # mean over classes too
    lambda v, T: -(F.log_softmax(v / T, 1).exp() * F.log_softmax(v / T, 1)).sum(1),     # no mean over the batch
    lambda v, T: (lambda s: -(F.softmax(s, 1) * F.log_softmax(s, 1)).sum(1).mean())(v.div_(T)),  # in place
    lambda v, T: F.cross_entropy(_Z_OUTSIDE / T, F.softmax(v / T, 1)) - 0.0,            # a student from outside
    lambda v, T: str(_gap_sol(v, T).item()),                                            # a string
    lambda v, T: _gap_sol(v, T) + 0.05,                                                 # off
]


@pytest.mark.parametrize("fn", GAP_RIGHT)
def test_entropy_gap_checker_accepts_right_answers_of_any_type(fn):
    for _ in range(2):
        assert nb.check_entropy_gap(fn)


@pytest.mark.parametrize("words", list(GAP_WRONG_NAMED))
def test_entropy_gap_checker_rejects_the_named_mistakes(words):
    verdict = nb.check_entropy_gap(GAP_WRONG_NAMED[words])
    assert verdict.status == "wrong" and words in verdict.message, verdict


@pytest.mark.parametrize("i", range(len(GAP_WRONG_MORE)))
def test_entropy_gap_checker_rejects_more_wrong_answers(i):
    assert nb.check_entropy_gap(GAP_WRONG_MORE[i]).status == "wrong"


def test_entropy_gap_checker_restores_the_library_after_spying():
    kl = F.kl_div
    nb.check_entropy_gap(GAP_WRONG_NAMED["from the two losses"])
    assert F.kl_div is kl and losses.soft_loss.__name__ == "soft_loss"


# Check yourself 6.1


ATT_RIGHT = [
    lambda A: F.normalize(A.pow(2).mean(dim=1).flatten(1), dim=1),
    lambda A: F.normalize((A * A).sum(1).reshape(len(A), -1), dim=1),
    lambda A: (lambda q: q / q.norm(dim=1, keepdim=True))(A.abs().pow(2).mean(1).view(A.shape[0], -1)),
    lambda A: nb.attention_map(A),
]
ATT_WRONG = [
    lambda A: F.normalize(A.abs().mean(1).flatten(1), dim=1),                    # named: |A|
    lambda A: A.pow(2).mean(1).flatten(1),                                       # named: not normalized
    lambda A: F.normalize(A.pow(2).mean(1), dim=1).flatten(1),                   # named: normalized per column
    lambda A: F.normalize(A.pow_(2).mean(1).flatten(1), dim=1),                  # in place on the features
    lambda A: F.normalize(A.pow(2).mean(1).flatten(1), dim=1).detach(),          # no gradient
    lambda A: F.normalize(A.pow(4).mean(1).flatten(1), dim=1),                   # p = 4
    lambda A: F.normalize(A.pow(2).mean(1).flatten(1), p=1, dim=1),              # L1 norm
    lambda A: F.normalize(A.pow(2).amax(1).flatten(1), dim=1),                   # max over channels
    lambda A: F.normalize(A.pow(2).mean(1).transpose(1, 2).flatten(1), dim=1),   # W before H
    lambda A: torch.from_numpy(nb.attention_map(A).detach().numpy()),            # through NumPy
]


@pytest.mark.parametrize("fn", ATT_RIGHT)
def test_attention_checker_accepts_right_answers(fn):
    assert nb.check_attention_map(fn)


@pytest.mark.parametrize("i", range(len(ATT_WRONG)))
def test_attention_checker_rejects_wrong_answers(i):
    assert nb.check_attention_map(ATT_WRONG[i]).status == "wrong"


def test_attention_checker_names_mistakes():
    assert "square" in nb.check_attention_map(ATT_WRONG[0]).message
    assert "not normalized" in nb.check_attention_map(ATT_WRONG[1]).message
    assert "normalize the whole" in nb.check_attention_map(ATT_WRONG[2]).message
    assert "in place" in nb.check_attention_map(ATT_WRONG[3]).message
    assert "gradient" in nb.check_attention_map(ATT_WRONG[4]).message


# Spot the bug 7.1


def _step_sol(student, teacher, x, y, opt_student, opt_teacher, T=4.0, alpha=0.9):
    teacher.eval()
    with torch.no_grad():
        v = teacher(x)
    loss = losses.kd_loss(student(x), v, y, T=T, alpha=alpha)
    opt_student.zero_grad()
    loss.backward()
    opt_student.step()


def _step_by_hand(student, teacher, x, y, opt_student, opt_teacher, T=4.0, alpha=0.9):
    teacher.train(False)
    v = teacher(x).detach()
    z = student(x)
    soft = F.kl_div(F.log_softmax(z / T, 1), F.softmax(v / T, 1), reduction="batchmean")
    loss = (1 - alpha) * F.cross_entropy(z, y) + alpha * T * T * soft
    opt_student.zero_grad(set_to_none=True)
    loss.backward()
    opt_student.step()


def _step_frozen_copy(student, teacher, x, y, opt_student, opt_teacher, T=4.0, alpha=0.9):
    import copy
    frozen = copy.deepcopy(teacher).eval().requires_grad_(False)
    loss = losses.kd_loss(student(x), frozen(x), y, T, alpha)
    opt_student.zero_grad()
    loss.backward()
    opt_student.step()


def _step_leaky_kl(student, teacher, x, y, opt_student, opt_teacher, T=4.0, alpha=0.9):
    teacher.eval()
    v, z = teacher(x), student(x)                       # no no_grad, no detach: backward fills teacher .grad
    p, log_q = F.softmax(v / T, 1), F.log_softmax(z / T, 1)
    soft = (p * (F.log_softmax(v / T, 1) - log_q)).sum(1).mean()
    loss = (1 - alpha) * F.cross_entropy(z, y) + alpha * T * T * soft
    opt_student.zero_grad()
    loss.backward()
    opt_student.step()


def _step_variant(**change):
    def step(student, teacher, x, y, opt_student, opt_teacher, T=4.0, alpha=0.9):
        T_, a_ = change.get("T", T), change.get("alpha", alpha)
        if change.get("mutate"):
            x.clamp_(min=-1.0)
        teacher.eval()
        with torch.no_grad():
            v = teacher(x)
        for _ in range(change.get("steps", 1)):
            z = student(x)
            if change.get("hard_targets"):
                loss = F.cross_entropy(z, v.argmax(1))
            else:
                loss = losses.kd_loss(z, v, y, T=T_, alpha=a_)
            opt_student.zero_grad()
            loss.backward()
            opt_student.step()
    return step


STEP_RIGHT = [_step_sol, _step_by_hand, _step_frozen_copy]
STEP_WRONG = [_step_leaky_kl, _step_variant(T=4.0), _step_variant(alpha=0.9), _step_variant(steps=2),
              _step_variant(mutate=True), _step_variant(hard_targets=True), _step_variant(alpha=0.1, T=1.0)]


@pytest.mark.parametrize("fn", STEP_RIGHT)
def test_train_step_checker_accepts_right_answers(fn):
    assert nb.diagnose_train_step(fn) is None


@pytest.mark.parametrize("i", range(len(STEP_WRONG)))
def test_train_step_checker_rejects_wrong_answers(i):
    assert nb.diagnose_train_step(STEP_WRONG[i]) is not None


def test_train_step_checker_names_the_leaky_teacher():
    assert ".grad" in nb.diagnose_train_step(_step_leaky_kl)
    assert "in place" in nb.diagnose_train_step(_step_variant(mutate=True))


# Spot the bug 7.2


SOFT_RIGHT = [
    lambda z, v, T=4.0: T * T * nn.KLDivLoss(reduction="batchmean", log_target=True)((z / T).log_softmax(1), (v.detach() / T).log_softmax(1)),
    lambda z, v, T=4.0: T * T * F.kl_div(F.log_softmax(z / T, 1), F.softmax(v / T, 1).detach(), reduction="batchmean"),
    lambda z, v, T=4.0: losses.soft_loss(z, v, T),
    lambda z, v, T=4.0: T ** 2 * (F.softmax(v.detach() / T, 1) * (F.log_softmax(v.detach() / T, 1) - F.log_softmax(z / T, 1))).sum(1).mean(),
]
SOFT_WRONG_NAMED = {
    ".item()": lambda z, v, T=4.0: losses.soft_loss(z, v, T).item(),
    "detach": lambda z, v, T=4.0: losses.soft_loss(z.detach(), v, T),
    "'mean'": lambda z, v, T=4.0: T * T * nn.KLDivLoss()((z / T).log_softmax(1), (v / T).softmax(1)),
    "T² factor": lambda z, v, T=4.0: nn.KLDivLoss(reduction="batchmean")((z / T).log_softmax(1), (v / T).softmax(1)),
}
SOFT_WRONG_MORE = [
    lambda z, v, T=4.0: T * T * (F.softmax(v / T, 1) * (torch.log(F.softmax(v / T, 1)) - torch.log(F.softmax(z / T, 1)))).sum(1).mean(),
    lambda z, v, T=4.0: T * T * F.kl_div(F.log_softmax(z / T, 1), F.softmax(v, 1), reduction="batchmean"),   # teacher at T = 1
    lambda z, v, T=4.0: T * F.kl_div(F.log_softmax(z / T, 1), F.softmax(v / T, 1), reduction="batchmean"),   # T, not T²
    lambda z, v, T=4.0: T * T * F.kl_div(F.log_softmax(z / T, 1), F.softmax(v / T, 1), reduction="sum"),     # sum
    lambda z, v, T=4.0: (lambda zz: T * T * F.kl_div(F.log_softmax(zz, 1), F.softmax(v / T, 1), reduction="batchmean"))(z.detach().div_(T)),
    lambda z, v, T=4.0: T * T * F.kl_div(F.log_softmax(z / T, 1), F.softmax(v / T, 1), reduction="batchmean"),  # teacher not detached
    lambda z, v, T=4.0: 0.5 * losses.soft_loss(z, v, T),
]


@pytest.mark.parametrize("fn", SOFT_RIGHT)
def test_soft_term_checker_accepts_right_answers(fn):
    assert nb.diagnose_soft_term(fn) is None


@pytest.mark.parametrize("words", list(SOFT_WRONG_NAMED))
def test_soft_term_checker_rejects_the_named_mistakes(words):
    message = nb.diagnose_soft_term(SOFT_WRONG_NAMED[words])
    assert message is not None and words in message, message


@pytest.mark.parametrize("i", range(len(SOFT_WRONG_MORE)))
def test_soft_term_checker_rejects_more_wrong_answers(i):
    assert nb.diagnose_soft_term(SOFT_WRONG_MORE[i]) is not None


# Spot the bug 7.3


def _ce_sol(o, y, v, T=4.0, a=0.9):
    ce = nn.CrossEntropyLoss()
    return (1 - a) * ce(o, y) + a * T * T * ce(o / T, (v.detach() / T).softmax(1))


CE_RIGHT = [
    _ce_sol,
    lambda o, y, v, T=4.0, a=0.9: losses.kd_loss(o, v.detach(), y, T, a),                   # the KL form: kd_loss's value
    lambda o, y, v, T=4.0, a=0.9: (1 - a) * F.cross_entropy(o, y) + a * T ** 2 * F.cross_entropy(o / T, F.softmax(v / T, 1).detach()),
    lambda o, y, v, T=4.0, a=0.9: (1 - a) * F.nll_loss(F.log_softmax(o, 1), y)
    - a * T * T * (F.softmax(v.detach() / T, 1) * F.log_softmax(o / T, 1)).sum(1).mean(),
]
CE_WRONG = [
    lambda o, y, v, T=4.0, a=0.9: _ce_sol(o, y, v, T, a) + 123,                             # the issue's constant
    lambda o, y, v, T=4.0, a=0.9: a * F.cross_entropy(o, y) + (1 - a) * T * T * F.cross_entropy(o / T, (v.detach() / T).softmax(1)),
    lambda o, y, v, T=4.0, a=0.9: (1 - a) * F.cross_entropy(o, y) + a * F.cross_entropy(o / T, (v.detach() / T).softmax(1)),  # no T²
    lambda o, y, v, T=4.0, a=0.9: (1 - a) * F.cross_entropy(o / T, y) + a * T * T * F.cross_entropy(o / T, (v.detach() / T).softmax(1)),
    lambda o, y, v, T=4.0, a=0.9: (1 - a) * F.cross_entropy(o, y) + a * T * T * F.cross_entropy(o / T, v.detach().softmax(1)),
    lambda o, y, v, T=4.0, a=0.9: _ce_sol(o, y, v, T, a).item(),
    lambda o, y, v, T=4.0, a=0.9: (1 - a) * F.cross_entropy(o, y) + a * T * T * F.cross_entropy(o / T, (v / T).softmax(1)),  # teacher not detached
    lambda o, y, v, T=4.0, a=0.9: _ce_sol(o, y, v.detach().div_(T), 1.0, a),                # in place, and T lost
    lambda o, y, v, T=4.0, a=0.9: 0.5 * _ce_sol(o, y, v, T, a),
]


@pytest.mark.parametrize("fn", CE_RIGHT)
def test_soft_label_checker_accepts_right_answers(fn):
    assert nb.diagnose_soft_label_loss(fn) is None


@pytest.mark.parametrize("i", range(len(CE_WRONG)))
def test_soft_label_checker_rejects_wrong_answers(i):
    assert nb.diagnose_soft_label_loss(CE_WRONG[i]) is not None


def test_soft_label_checker_rejects_a_constant_by_value():
    assert "value is off" in nb.diagnose_soft_label_loss(CE_WRONG[0])


# Spot the bug 7.4


def _cache_sol(teacher, dataset, epochs=2, batch_size=64, seed=0):
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    cache = None
    with torch.no_grad():
        for x, _, index in loader:
            out = teacher(x)
            if cache is None:
                cache = torch.empty(len(dataset), out.shape[1])
            cache[index] = out
    return [(x, y, cache[index]) for _ in range(epochs) for x, y, index in loader]


def _cache_once(teacher, dataset, epochs=2, batch_size=64, seed=0):
    with torch.no_grad():
        cache = teacher(dataset.X)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    return [(x, y, cache[i]) for _ in range(epochs) for x, y, i in loader]


def _cache_dict(teacher, dataset, epochs=2, batch_size=64, seed=0):
    ordered = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    cache = {}
    with torch.no_grad():
        for x, _, index in ordered:
            for i, row in zip(index.tolist(), teacher(x)):
                cache[i] = row
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    return [(x, y, torch.stack([cache[i] for i in index.tolist()])) for _ in range(epochs) for x, y, index in loader]


def _no_cache(teacher, dataset, epochs=2, batch_size=64, seed=0):
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    out = []
    for _ in range(epochs):
        for x, y, _ in loader:
            with torch.no_grad():
                out.append((x, y, teacher(x)))
    return out


def _cache_per_epoch(teacher, dataset, epochs=2, batch_size=64, seed=0):
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    out = []
    for _ in range(epochs):
        with torch.no_grad():
            cache = teacher(dataset.X)
        out += [(x, y, cache[i]) for x, y, i in loader]
    return out


def _cache_with_graph(teacher, dataset, epochs=2, batch_size=64, seed=0):
    cache = teacher(dataset.X)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    return [(x, y, cache[i]) for _ in range(epochs) for x, y, i in loader]


def _cache_off_by_one(teacher, dataset, epochs=2, batch_size=64, seed=0):
    with torch.no_grad():
        cache = teacher(dataset.X)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    return [(x, y, cache[(i + 1) % len(dataset)]) for _ in range(epochs) for x, y, i in loader]


def _cache_mutates(teacher, dataset, epochs=2, batch_size=64, seed=0):
    dataset.X.mul_(1.0001)
    return _cache_once(teacher, dataset, epochs, batch_size, seed)


def _cache_one_epoch(teacher, dataset, epochs=2, batch_size=64, seed=0):
    return _cache_once(teacher, dataset, 1, batch_size, seed)


def _cache_reseeded(teacher, dataset, epochs=2, batch_size=64, seed=0):
    with torch.no_grad():
        cache = teacher(dataset.X)
    out = []
    for _ in range(epochs):  # a fresh generator every epoch: the same order each time
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
        out += [(x, y, cache[i]) for x, y, i in loader]
    return out


CACHE_RIGHT = [_cache_sol, _cache_once, _cache_dict]
CACHE_WRONG = [_no_cache, _cache_per_epoch, _cache_with_graph, _cache_off_by_one, _cache_mutates, _cache_one_epoch, _cache_reseeded]


@pytest.mark.parametrize("fn", CACHE_RIGHT)
def test_cache_checker_accepts_right_answers(fn):
    assert nb.diagnose_cache(fn) is None


@pytest.mark.parametrize("fn", CACHE_WRONG)
def test_cache_checker_rejects_wrong_answers(fn):
    assert nb.diagnose_cache(fn) is not None


def test_cache_checker_names_no_cache():
    assert "no cache" in nb.diagnose_cache(_no_cache) and "no cache" in nb.diagnose_cache(_cache_per_epoch)


# ------------------------------------------------------------------------------------ the 300-label controls, new traps


def test_pseudo_labels_fill_only_the_unlabelled_rows():
    y = torch.tensor([3, losses.IGNORE_INDEX, 1, losses.IGNORE_INDEX])
    logits = torch.eye(5)[[0, 2, 4, 4]]
    assert nb.pseudo_labelled(y, logits).tolist() == [3, 2, 1, 4]
    assert y.tolist()[1] == losses.IGNORE_INDEX  # the caller's labels are untouched
    with pytest.raises(ValueError):
        nb.pseudo_labelled(y, logits[:3])


def test_fair_teacher_saw_exactly_the_students_300_labels(mnist):
    check = nb.fair_teacher_subset(mnist)
    assert check == {"same data set and split": True, "teacher's labelled images": 300, "student's labelled images": 300,
                     "same images": True}


def test_pseudo_label_run_uses_the_hard_label_student(mnist):
    small = type(mnist)(mnist.name, mnist.train.subset(range(300)), mnist.val.subset(range(50)), mnist.test.subset(range(50)))
    cache = {"logits": torch.randn(300, 10, generator=torch.Generator().manual_seed(0))}
    row = nb.run_method(nb.PSEUDO, 0, small, cache, "300 labels", epochs=1)
    assert row["method"] == nb.PSEUDO and row["weight"] is None and row["extra_params"] == 0


def _made_up_fair():
    runs, fair = [], []
    for seed in range(3):
        for m, acc in (("hard labels", 0.90), ("KD", 0.95), ("cosine of hidden states", 0.94)):
            runs.append({"method": m, "regime": "300 labels", "seed": seed, "test_acc": acc + 0.001 * seed})
        for teacher, m, acc in ((nb.TEACHER, nb.PSEUDO, 0.948), (nb.FAIR_TEACHER, nb.PSEUDO, 0.93),
                                (nb.FAIR_TEACHER, "KD", 0.925), (nb.FAIR_TEACHER, "cosine of hidden states", 0.91)):
            fair.append({"teacher": teacher, "method": m, "regime": "300 labels", "seed": seed, "test_acc": acc})
    return pd.DataFrame(runs), pd.DataFrame(fair)


def test_gain_split_adds_up_and_the_table_has_both_teachers():
    runs, fair = _made_up_fair()
    split = nb.gain_split(runs, fair)["mean"]
    total, back, pseudo, soft = split.iloc[:4]
    assert total == pytest.approx(back + pseudo + soft) and back > 0 and soft < 0
    table = nb.fair_table(runs, fair)
    assert list(table["teacher"].unique()) == ["none", nb.TEACHER, nb.FAIR_TEACHER]
    kd_fair = table[(table["teacher"] == nb.FAIR_TEACHER) & (table["method"] == "KD")].iloc[0]
    assert kd_fair["gain_mean"] == pytest.approx(2.4, abs=0.11)
    assert nb.sign_verdict([0.1, 1]) == "better in every seed" and nb.sign_verdict([-1, -0.1]) == "worse in every seed"
    assert nb.sign_verdict([-1, 1, 0.0]) == "better in 1, worse in 1, equal in 1 of 3 seeds"
    assert nb.sign_verdict([-0.9, -0.4, 0.0]) == "worse in 2, equal in 1 of 3 seeds"


def test_shipped_fair_comparison_is_complete():
    fair = results.read("loss_fair_teacher")
    plan = {(nb.TEACHER, nb.PSEUDO)} | {(nb.FAIR_TEACHER, m) for m in [nb.PSEUDO] + [m for m in nb.METHODS if m != "hard labels"]}
    assert set(zip(fair["teacher"], fair["method"])) == plan
    assert fair.groupby(["teacher", "method"]).size().eq(len(nb.SEEDS)).all() and (fair["regime"] == "300 labels").all()
    weights = results.read("loss_weights").set_index("method")["weight"]
    for m in nb.FEATURE_METHODS:  # the same weights as the all-label teacher's runs
        assert (fair[fair["method"] == m]["weight"] == weights[m]).all()


def test_sequence_batchmean_trap_measures_S_and_valid_tokens():
    t = nb.pitfall_sequence_batchmean(B=4, S=10, V=7)
    r = t["value / per-token KL"]
    assert r.iloc[0] == pytest.approx(10, rel=1e-5) and r.iloc[3] == pytest.approx(t.attrs["valid_per_sequence"], rel=1e-5)
    assert t.attrs["valid_per_sequence"] < 10 and r.iloc[[1, 2, 4]].tolist() == pytest.approx([1, 1, 1], rel=1e-5)


def test_batchnorm_teacher_in_train_mode_moves_its_statistics_under_no_grad(mnist):
    threads = torch.get_num_threads()
    t = nb.pitfall_batchnorm_teacher(mnist.train.subset(range(300)), mnist.test.X[:256], epochs=1)
    assert torch.get_num_threads() == threads  # the caller's thread count comes back
    moved, kept = t.iloc[0], t.iloc[1]
    assert moved["largest change of running_mean"] > 0 and moved["batches counted by BatchNorm"] == 2
    assert kept["largest change of running_mean"] == 0 and kept["batches counted by BatchNorm"] == 0
    assert kept["images whose top class changed"] == 0


def test_label_agreement(mnist):
    y = mnist.train.y
    perfect = torch.nn.functional.one_hot(y, 10).float()
    t = nb.label_agreement(mnist, {"oracle": perfect, "uniform": torch.zeros_like(perfect)})
    assert t.loc["oracle"].tolist() == [3200, 100.0, 100.0]
    assert t.loc["uniform", "top class = true label on them (%)"] < 20
