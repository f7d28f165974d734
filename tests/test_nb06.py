"""Notebook 06's module: pruning mechanics, the L1/L2 trap, slimming, schedules, size and speed,
int8, the explorer, the exercises' checkers, and the shipped tables."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from conftest import solution_cells
from kdnb import data as kdata
from kdnb import evaluation, exercises, results, training, widgets
from kdnb import nb06_pruning_and_compression as nb
from kdnb.nb06_pruning_and_compression import checks, compression, explorer, pruning, recovery, retraining, size_and_speed
from kdnb.seeds import Spread
from kdnb.training import Run
from kdnb.verdicts import Verdicts


def mlp(seed=0, hidden=(40, 30), dropout=0.0):
    torch.manual_seed(seed)
    layers = [nn.Flatten()]
    width = 784
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
        width = h
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


@pytest.fixture(scope="module")
def small(mnist):
    return kdata.Dataset("small", mnist.train.subset(torch.arange(400)), mnist.val.subset(torch.arange(100)),
                         mnist.test.subset(torch.arange(200)))


def solved(number, **names):
    namespace = {"torch": torch, "nb": nb, **names}
    exec(solution_cells("06_pruning_and_compression.ipynb")[number], namespace)
    return namespace


# ------------------------------------------------------------------------------------------- mechanics


def test_prune_global_reaches_the_exact_sparsity_and_only_adds_to_existing_masks():
    model = mlp()
    nb.prune_global(model, 0.6)
    zero, total = pruning.zeros(model)
    assert zero == round(0.6 * total)
    first = [m.weight_mask.clone() for m, _ in nb.prunable(model)]
    nb.prune_global(model, 0.8)
    zero, total = pruning.zeros(model)
    assert zero == round(0.8 * total)
    for old, (m, _) in zip(first, nb.prunable(model)):
        assert bool((m.weight_mask <= old).all())  # nothing pruned comes back
    # global ranking: every weight kept is at least as large as every weight pruned
    kept = torch.cat([m.weight_orig[m.weight_mask.bool()].abs() for m, _ in nb.prunable(model)])
    gone = torch.cat([m.weight_orig[~m.weight_mask.bool()].abs() for m, _ in nb.prunable(model)])
    assert kept.min() >= gone.max()


@pytest.mark.parametrize("bad", [1.0, -0.1, float("nan"), 1.5])
def test_prune_global_rejects_bad_sparsities(bad):
    with pytest.raises(ValueError, match="fraction in \\[0, 1\\)"):
        nb.prune_global(mlp(), bad)


def test_anatomy_and_finalize():
    layer = nn.Linear(6, 4)
    assert set(nb.anatomy(layer).index) == {"weight", "bias"}
    prune.l1_unstructured(layer, "weight", amount=0.5)
    table = nb.anatomy(layer)
    assert {"weight_orig", "weight_mask", "weight"} <= set(table.index)
    assert any("pre-hook" in k for k in table.kind)
    model = nn.Sequential(layer)
    pruning.finalize(model)
    assert set(nb.anatomy(layer).index) == {"weight", "bias"} and (layer.weight == 0).sum() == 12


def test_clone_copies_a_pruned_model_that_deepcopy_refuses():
    model = nb.prune_global(mlp(), 0.5)
    for p in model.parameters():
        p.requires_grad_(True)
    model(torch.zeros(1, 1, 28, 28))
    twin = nb.clone(model)
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(twin(x), model(x))


def test_sparsity_table_and_counts():
    model = nb.prune_global(mlp(), 0.9)
    table = nb.sparsity_table(model)
    assert table.loc["all Linear weights", "sparsity (%)"] == pytest.approx(90, abs=0.01)
    weights = sum(m.weight.numel() for _, m in nb.linear_layers(model))
    biases = sum(m.bias.numel() for _, m in nb.linear_layers(model))
    assert pruning.weight_count(model) == weights + biases
    assert nb.nonzero_params(model) == weights - round(0.9 * weights) + biases


# ------------------------------------------------------------------------------------------- the 004-2 trap


def test_l2_of_single_weights_gives_the_l1_mask_and_rows_differ():
    layer = nn.Linear(50, 30)
    torch.manual_seed(1)
    with torch.no_grad():
        layer.weight.copy_(0.01 * torch.rand(30, 50))     # flat rows: L1 about 0.25 + 50 * 0.1, L2 about 0.7
        layer.weight[:15] += 0.1
        layer.weight[15:, 0] = 1.0                          # spiky rows: L1 about 1.25, L2 about 1.0
    table = nb.mask_comparison(layer, amount=0.5)
    assert table.loc["single weights (unstructured)", "identical masks"]
    assert table.loc["single weights (unstructured)", "weights where the masks differ"] == 0
    assert not table.loc["whole neurons (rows, ln_structured)", "identical masks"]
    assert table.loc["whole neurons (rows, ln_structured)", "weights where the masks differ"] > 0


def test_l2_unstructured_rejects_bad_amounts():
    with pytest.raises(ValueError):
        nb.L2Unstructured(1.2)


# ------------------------------------------------------------------------------------------- slim


def test_slim_is_exact_and_smaller(small):
    model = mlp(dropout=0.3)
    with torch.no_grad():
        for _, m in nb.linear_layers(model):
            m.bias.uniform_(-0.5, 0.5)   # removed neurons then output a non-zero constant
    nb.prune_neurons(model, 0.5)
    thin = nb.slim(model)
    assert [m.out_features for _, m in nb.linear_layers(thin)] == [20, 15, 10]
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(small.test.X), thin(small.test.X), atol=1e-5)
    assert pruning.weight_count(thin) < 0.55 * pruning.weight_count(model)


def test_slim_needs_whole_neurons_and_an_mlp():
    with pytest.raises(ValueError, match="prune_neurons"):
        nb.slim(nb.prune_global(mlp(), 0.3))
    with pytest.raises(TypeError):
        nb.slim(nn.Linear(3, 2))
    with pytest.raises(ValueError, match="ReLU"):
        nb.slim(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)))


# ------------------------------------------------------------------------------------------- schedules


def test_schedules():
    steps = 200
    one = retraining.schedule(retraining.METHODS[1], 0.9, steps)
    it = retraining.schedule(retraining.METHODS[2], 0.9, steps)
    gr = retraining.schedule(retraining.METHODS[3], 0.9, steps)
    assert one(0) == one(steps) == 0.9
    kept = sorted({round(1 - it(t), 6) for t in range(steps + 1)}, reverse=True)
    assert len(kept) == retraining.ROUNDS and kept[-1] == pytest.approx(0.1)
    ratios = [b / a for a, b in zip(kept, kept[1:])]
    assert np.allclose(ratios, ratios[0])  # geometric
    values = [gr(t) for t in range(steps + 1)]
    assert values[0] == 0 and values[int(retraining.GRADUAL_END * steps)] == pytest.approx(0.9) and values[-1] == pytest.approx(0.9)
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert len(set(values[:retraining.GRADUAL_EVERY])) == 1  # updated every GRADUAL_EVERY steps
    with pytest.raises(ValueError, match="unknown pruning method"):
        retraining.schedule("random", 0.5, 10)


@pytest.mark.parametrize("method", retraining.METHODS[1:])
def test_prune_and_train_keeps_masks_and_restores_dropout(small, method):
    model = mlp(dropout=0.5)
    hist = nb.prune_and_train(model, small.train, method, 0.8, epochs=2, batch_size=64, augment=1)
    assert hist.sparsity.iloc[-1] == pytest.approx(0.8, abs=1e-6)
    for m, _ in nb.prunable(model):
        assert bool((m.weight[m.weight_mask == 0] == 0).all())
    assert all(m.p == 0.5 for m in model if isinstance(m, nn.Dropout))


def test_prune_and_train_with_cached_teacher_logits(small):
    model = mlp()
    logits = torch.randn(len(small.train), 10)
    nb.prune_and_train(model, small.train, retraining.METHODS[1], 0.5, epochs=1, augment=0, teacher=logits)
    with pytest.raises(ValueError, match="un-shifted"):
        nb.prune_and_train(mlp(), small.train, retraining.METHODS[1], 0.5, epochs=1, augment=2, teacher=logits)
    with pytest.raises(ValueError, match="rows"):
        nb.prune_and_train(mlp(), small.train, retraining.METHODS[1], 0.5, epochs=1, augment=0, teacher=logits[:5])


def test_adjust_dropout_follows_han():
    model = mlp(dropout=0.5)
    rates = {i: m.p for i, m in enumerate(model) if isinstance(m, nn.Dropout)}
    nb.prune_global(model, 0.75)
    pruning.adjust_dropout(model, rates)
    for i, m in enumerate(model):
        if isinstance(m, nn.Dropout):
            nxt = next(x for x in list(model)[i + 1:] if isinstance(x, nn.Linear))
            assert m.p == pytest.approx(0.5 * float((nxt.weight != 0).float().mean()) ** 0.5)


def test_after_step_runs_once_per_optimizer_step(small):
    seen = []
    model = mlp()
    training.train_with(model, small.train, lambda idx, xb, logits: logits.logsumexp(1).mean(), epochs=2,
                        batch_size=100, progress=False, after_step=seen.append)
    assert seen == list(range(1, 9))


# ------------------------------------------------------------------------------------------- size, speed, int8


def test_disk_table_tells_the_truth_about_bytes():
    table = nb.disk_table(mlp(hidden=(200, 200)), 0.9)
    b = table["bytes"]
    assert 1.9 < b.iloc[1] / b.iloc[0] < 2.1
    assert abs(b.iloc[2] / b.iloc[0] - 1) < 0.01
    assert b.iloc[3] < 0.35 * b.iloc[0] and b.iloc[4] < 0.35 * b.iloc[0]
    assert 3.5 < b.iloc[0] / b.iloc[5] < 4.1
    assert b.iloc[6] < b.iloc[5]


def test_sparse_state_and_sparse_model_match_the_dense_weights(small):
    model = nb.prune_global(mlp(), 0.8)
    state = size_and_speed.sparse_state(model)
    dense = pruning.finalize(nb.clone(model)).state_dict()
    for key, value in dense.items():
        assert torch.equal(state[key].to_dense() if state[key].layout == torch.sparse_csr else state[key], value)
    fast = size_and_speed.sparse_model(model)
    with torch.no_grad():
        assert torch.allclose(fast(small.test.X), model.eval()(small.test.X), atol=1e-5)


def test_quantize_int8_is_quiet_and_leaves_the_warning_filters_alone(small):
    model = mlp()
    before = list(warnings.filters)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q = nb.quantize_int8(nb.prune_global(model, 0.5))
        out = q(small.test.X)
    assert warnings.filters == before
    assert out.shape == (len(small.test), 10)
    assert training.accuracy(q, small.test) >= 0  # a model with no parameters still evaluates
    assert pruning.weight_count(q) == pruning.weight_count(model)
    assert nb.saved_bytes(q) < nb.saved_bytes(pruning.finalize(nb.clone(model))) / 3


def test_latencies_and_latency_table():
    models = {"a": mlp(), "b": mlp(hidden=(10,))}
    t = nb.latency_table(models, batch_sizes=(1, 8), rounds=1)
    assert list(t.index) == ["a", "b"] and t["speed-up, batch 1"].iloc[0] == 1.0
    assert (t.filter(like="latency").to_numpy() > 0).all()
    with pytest.raises(ValueError):
        evaluation.latencies({}, (1, 28, 28))


# ------------------------------------------------------------------------------------------- the explorer


@pytest.fixture(scope="module")
def curve(small):
    return explorer.one_shot_curve(mlp(), small, sparsities=[0.0, 0.5, 0.9])


def test_explorer_driven_like_a_mouse(curve):
    model = mlp()
    ex = nb.pruning_explorer(model, curve, percent=0)
    assert isinstance(ex, widgets.Explorer) and list(ex.controls) == ["sparsity"]
    renders = ex.view.renders
    ex.controls["sparsity"].value = 90
    state = ex.state
    assert ex.view.renders == renders + 1
    assert state["test_acc"] == pytest.approx(curve.set_index("sparsity").loc[0.9, "global_test"])
    expected = nb.sparsity_table(nb.prune_global(nb.clone(model), 0.9))["sparsity (%)"].iloc[:-1].to_numpy()
    assert np.allclose(state["layer_sparsity"], expected, atol=0.05)
    assert state["kept"] == round(0.1 * sum(m.weight.numel() for _, m in nb.linear_layers(model)))
    assert state["surviving"].sum() == state["kept"]   # every weight that survives is in a bin
    heights = [b.get_height() for b in ex.artists["layer_bars"].patches]
    assert np.allclose(heights, state["layer_sparsity"])


def test_explorer_state_at_looks_without_moving(curve):
    ex = nb.pruning_explorer(mlp(), curve, percent=50)
    renders, shown = ex.view.renders, ex.state
    look = ex.state_at(90)
    assert look["percent"] == 90 and ex.state is shown and ex.state["percent"] == 50
    assert ex.view.renders == renders and ex.controls["sparsity"].value == 50
    ex.controls["sparsity"].value = 90
    assert np.allclose(ex.state["layer_sparsity"], look["layer_sparsity"])
    assert ex.view.image.value and ex.view.image.value != b""


@pytest.mark.parametrize("bad", [150, 100, 99.5, -1, float("nan"), "50", True, None])
def test_explorer_and_its_static_twin_refuse_the_same_bad_percentages(curve, bad):
    import matplotlib.pyplot as plt

    view = explorer.PruningPanels(mlp(), curve)
    for make in (view.state_at, lambda p: nb.pruning_explorer(mlp(), curve, percent=p), lambda p: nb.plot_pruning(mlp(), curve, p)):
        figures = plt.get_fignums()
        with pytest.raises(ValueError, match="percentage from 0 to 99"):
            make(bad)
        assert plt.get_fignums() == figures              # refused before anything was drawn


def test_explorer_takes_whole_percents_and_the_static_twin_any(curve):
    import matplotlib.pyplot as plt

    with pytest.raises(ValueError, match="whole percents"):
        nb.pruning_explorer(mlp(), curve, percent=37.5)
    assert nb.pruning_explorer(mlp(), curve, percent=np.int64(99)).state["percent"] == 99
    plt.close(nb.plot_pruning(mlp(), curve, 37.5))


def test_explorer_rejects_bad_input(curve):
    with pytest.raises(ValueError, match="one_shot_curve"):
        explorer.PruningPanels(mlp(), curve.drop(columns="global_test"))
    with pytest.raises(ValueError, match="one_shot_curve"):
        nb.pruning_explorer(mlp(), curve.drop(columns="global_test"))


def test_static_twin_draws_the_same_state(curve):
    import matplotlib.pyplot as plt

    fig = nb.plot_pruning(mlp(), curve, 50)
    expected = explorer.PruningPanels(mlp(), curve).state_at(50)
    assert np.allclose([b.get_height() for b in fig.axes[2].patches], expected["layer_sparsity"])
    marker = [line for line in fig.axes[0].lines if line.get_marker() == "o"][0]
    assert np.allclose(np.ravel(marker.get_data()), [50, 100 * expected["test_acc"]])
    kept = [a for a in fig.axes[1].patches if a.get_label() == "kept"][0]
    assert np.allclose(kept.get_data().values, np.maximum(expected["surviving"], 0.8))
    plt.close(fig)


# ------------------------------------------------------------------------------------------- exercises


def _keep_rows(w, drop):
    keep = torch.ones(w.shape[0], dtype=torch.bool)
    keep[drop] = False
    return keep[:, None].expand_as(w)


def _by_score(score, rounding=round, largest=False):
    """A row mask that drops the rows with the smallest (or largest) score(w) (a function of each row)."""
    return lambda w, a: _keep_rows(w, torch.topk(score(w), int(rounding(a * w.shape[0])), largest=largest).indices)


def test_row_mask_checker_names_the_usual_mistakes():
    ns = solved("3.1")
    assert nb.check_row_mask(ns["row_mask"])

    def cols(w, amount):
        keep = torch.ones(w.shape[1], dtype=torch.bool)
        keep[torch.topk(w.norm(dim=0), int(round(amount * w.shape[1])), largest=False).indices] = False
        return keep[None, :].expand_as(w)

    assert "L1 norm" in nb.check_row_mask(_by_score(lambda w: w.abs().sum(1))).message
    assert "columns" in nb.check_row_mask(cols).message
    assert "kept the rows to remove" in nb.check_row_mask(lambda w, a: ~ns["row_mask"](w, a)).message
    assert "one flag per row" in nb.check_row_mask(lambda w, a: ns["row_mask"](w, a)[:, 0]).message
    assert nb.check_row_mask(lambda w, a: exercises.your_turn("stub")).status == "todo"


def test_row_mask_checker_rejects_a_battery_of_wrong_answers():
    ns = solved("3.1")
    first_w, first_a = checks._row_mask_cases()[0]
    memorised = ns["row_mask"](first_w, first_a)

    def in_place(w, a):                   # the right mask, but the caller's weight squared in place
        w.pow_(2)
        return _by_score(lambda v: v.sum(1))(w, a)

    def elementwise(w, a):                # unstructured: the smallest single weights, not rows
        k = int(round(a * w.numel()))
        keep = torch.ones(w.numel(), dtype=torch.bool)
        keep[torch.topk(w.abs().flatten(), k, largest=False).indices] = False
        return keep.view_as(w)

    wrong = {
        "largest |w| (L-inf)": (_by_score(lambda w: w.abs().amax(1)), "L∞"),
        "int() instead of round()": (_by_score(lambda w: w.norm(dim=1), rounding=int), "int() rounds down"),
        "largest rows removed": (_by_score(lambda w: w.norm(dim=1), largest=True), "largest L2"),
        "signed sum of the row": (_by_score(lambda w: w.sum(1)), "not the ones with the smallest L2"),
        "changes the weight in place": (in_place, "changed the weight"),
        "amount ignored (always a quarter)": (lambda w, a: _by_score(lambda v: v.norm(dim=1))(w, 0.25), "rows; round"),
        "single weights, not rows": (elementwise, "partly masked"),
        "memorised for the first problem": (lambda w, a: memorised if w.shape == first_w.shape else torch.ones_like(w, dtype=torch.bool), ""),
        "mask of norms, not of 0/1": (lambda w, a: ns["row_mask"](w, a) * w.norm(dim=1, keepdim=True), "only True/False"),
        "a list, not a tensor": (lambda w, a: ns["row_mask"](w, a).tolist(), "return a tensor"),
    }
    for name, (fn, words) in wrong.items():
        verdict = nb.check_row_mask(fn)
        assert verdict.status == "wrong", name
        assert words in verdict.message, (name, verdict.message)


def test_row_mask_checker_accepts_every_right_formulation():
    def numpy_sum_of_squares(w, a):           # the same order as the L2 norm, in NumPy, a NumPy bool array back
        score = (w.numpy() ** 2).sum(axis=1)
        drop = np.argsort(score)[:int(round(a * w.shape[0]))]
        keep = np.ones(w.shape, dtype=bool)
        keep[drop] = False
        return keep

    def with_the_library(w, a):               # let prune do it, and return its float 0/1 mask
        layer = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            layer.weight.copy_(w)
        prune.ln_structured(layer, "weight", amount=a, n=2, dim=0)
        return layer.weight_mask

    def by_sorting(w, a):                     # sort the norms, keep the top rows, int 0/1 mask
        order = torch.linalg.vector_norm(w, 2, dim=1).argsort(descending=True)
        keep = torch.zeros(w.shape, dtype=torch.int64)
        keep[order[:w.shape[0] - int(round(a * w.shape[0]))]] = 1
        return keep

    for fn in (solved("3.1")["row_mask"], numpy_sum_of_squares, with_the_library, by_sorting):
        assert nb.check_row_mask(fn), fn.__name__


def test_row_mask_problems_separate_the_norms():
    cases = checks._row_mask_cases()
    w, a = cases[0]
    masks = [checks._library_row_mask(w, a, n=n) for n in (1, 2, float("inf"))]
    assert not torch.equal(masks[0], masks[1]) and not torch.equal(masks[2], masks[1]) and not torch.equal(masks[0], masks[2])
    pruned = [int(round(a * w.shape[0])) for w, a in cases]
    assert 0 in pruned and any(k == w.shape[0] for k, (w, _) in zip(pruned, cases))               # nothing, and everything
    assert any(round(a * w.shape[0]) != int(a * w.shape[0]) for w, a in cases)                   # round and int differ


def _cubic(t, s, n):
    return s * (1 - (1 - min(t, n) / n) ** 3)


def test_cubic_schedule_checker_names_the_usual_mistakes():
    ns = solved("4.1")
    assert nb.check_cubic_schedule(ns["zhu_gupta"])
    assert "straight line" in nb.check_cubic_schedule(lambda t, s, n: s * min(t, n) / n).message
    assert "more slowly early" in nb.check_cubic_schedule(lambda t, s, n: s * (min(t, n) / n) ** 3).message
    assert "clamp" in nb.check_cubic_schedule(lambda t, s, n: s * (1 - (1 - t / n) ** 3)).message
    assert nb.check_cubic_schedule(...).status == "todo"


def test_cubic_schedule_checker_rejects_a_battery_of_wrong_answers():
    wrong = {
        "hard-coded to s_final=0.9, n=100": (lambda t, s, n: _cubic(t, 0.9, 100), "use the arguments"),
        "hard-coded n": (lambda t, s, n: _cubic(t, s, 100), "use the arguments"),
        "a square, not a cube": (lambda t, s, n: s * (1 - (1 - min(t, n) / n) ** 2), "more slowly early"),
        "a fifth power": (lambda t, s, n: s * (1 - (1 - min(t, n) / n) ** 5), "check the formula"),
        "in percent": (lambda t, s, n: 100 * _cubic(t, s, n), "percentage"),
        "off by one step": (lambda t, s, n: _cubic(t + 1, s, n), "step 0"),
        "integer division": (lambda t, s, n: s * (1 - (1 - min(t, n) // n) ** 3), ""),
        "never reaches s_final": (lambda t, s, n: 0.99 * _cubic(t, s, n), "reaches s_final"),
        "a string": (lambda t, s, n: f"{_cubic(t, s, n):.3f}", "return a number"),
        "None": (lambda t, s, n: None, "return a number"),
    }
    for name, (fn, words) in wrong.items():
        verdict = nb.check_cubic_schedule(fn)
        assert verdict.status == "wrong", name
        assert words in verdict.message, (name, verdict.message)


def test_cubic_schedule_checker_accepts_every_right_formulation_and_type():
    def piecewise(t, s_final, n):
        if t >= n:
            return s_final
        return s_final - s_final * (1 - t / n) ** 3

    def expanded(t, s_final, n):              # 1 - (1 - x)^3 = 3x - 3x^2 + x^3
        x = min(t, n) / n
        return s_final * (3 * x - 3 * x ** 2 + x ** 3)

    right = [solved("4.1")["zhu_gupta"], piecewise, expanded,
             lambda t, s, n: np.float32(_cubic(t, s, n)),                 # a NumPy scalar
             lambda t, s, n: torch.tensor(_cubic(t, s, n), dtype=torch.float64),  # a 0-d tensor
             lambda t, s, n: np.clip(s * (1 - (1 - np.float64(t) / n) ** 3), 0, s)]
    for fn in right:
        assert nb.check_cubic_schedule(fn), fn


def _phone_table():
    # within a 1-point budget: teacher, unstructured (fewest non-zero) and structured (fewest bytes)
    return pd.DataFrame({"accuracy (%)": [97.0, 96.5, 96.2, 97.0, 95.0, 94.0],
                         "non-zero": [1000, 100, 300, 1000, 80, 40],
                         "bytes on disk": [4000, 4000, 1200, 1000, 320, 40]},
                        index=["teacher", "unstructured", "structured", "int8", "distilled", "all three"])


def test_phone_checker_names_the_usual_mistakes():
    table = _phone_table()
    assert nb.phone_rows(table) == {"fewest bytes": "int8", "fewest non-zero": "unstructured"}
    assert nb.check_phone_choice("int8", table)
    assert "more than the 1 allowed" in nb.check_phone_choice("distilled", table).message
    assert "not fewest bytes" in nb.check_phone_choice("unstructured", table).message
    assert "not a row" in nb.check_phone_choice("phone", table).message
    assert nb.check_phone_choice(..., table).status == "todo"


def test_phone_checker_battery():
    table = _phone_table()
    wrong = {"teacher": "another row", "structured": "not fewest bytes", "all three": "more than the 1 allowed",
             "distilled": "more than", 3: "a string", None: "a string", "int 8": "not a row", "": "not a row",
             "Teacher ": "another row", ("int8",): "a string", 1000: "a string"}
    for choice, words in wrong.items():
        verdict = nb.check_phone_choice(choice, table)
        assert verdict.status == "wrong" and words in verdict.message, (choice, verdict.message)
    lost = table["accuracy (%)"].iloc[0] - table["accuracy (%)"]
    right = [table[lost <= 1]["bytes on disk"].idxmin(),
             table.assign(lost=lost).query("lost <= 1").sort_values("bytes on disk").index[0],
             " INT8 ", table.index[3]]
    for choice in right:
        assert nb.check_phone_choice(choice, table), choice
    # with a looser budget the answer moves, and the checker follows the budget it is given
    assert nb.check_phone_choice("distilled", table, max_loss=2.5)


def test_phone_trap_fires_on_the_shipped_table():
    runs = results.read("nb06_compression")
    g = runs.groupby("model").test
    table = pd.DataFrame({"accuracy (%)": 100 * g.mean()}).reindex(list(compression.ROWS.values()))
    table["non-zero"] = [2395210, 79510, 79510, 241690, 328810, 2395210, 39760]   # the notebook's seed-0 models
    table["bytes on disk"] = [9583613, 320277, 320277, 9583613, 1317957, 2407065, 43578]
    rows = nb.phone_rows(table)
    assert rows["fewest bytes"] != rows["fewest non-zero"]


# ------------------------------------------------------------------------------------------- the shipped tables


def test_shipped_curve():
    curve = results.read("nb06_curve")
    assert np.allclose(curve.sparsity, np.round(np.arange(0, 1, 0.01), 2))
    assert curve.global_test.iloc[0] > 0.95 and curve.global_test.iloc[-1] < 0.5


def test_shipped_retraining_runs_and_their_verdicts():
    runs = results.read("nb06_retrain")
    assert runs.seed.nunique() >= 3
    assert set(runs.method) == {"dense", *retraining.METHODS}
    assert set(np.round(runs[runs.method != "dense"].sparsity, 2)) == set(retraining.SPARSITIES)
    verdicts = nb.retrain_verdicts(runs)
    assert isinstance(verdicts, Verdicts) and len(verdicts) == 8 and verdicts.require() is verdicts
    assert nb.best_method(runs) in retraining.METHODS[1:]
    comparison = nb.retrain_comparison(runs)
    assert len(comparison) == 2 * len(retraining.SPARSITIES) and comparison.index.names == ["sparsity", "method"]
    assert comparison.loc[("98%", retraining.METHODS[3]), "verdict"] == "ahead, seed ranges apart"
    assert set(comparison.verdict) <= {"ahead, seed ranges apart", "behind, seed ranges apart",
                                      "ahead on the mean, ranges overlap", "behind on the mean, ranges overlap"}


def test_retrain_verdicts_can_come_out_false():
    runs = results.read("nb06_retrain").copy()
    boost = (runs.method == retraining.METHODS[2]) & np.isclose(runs.sparsity, 0.98)
    runs.loc[boost, "test"] = 0.99                      # iterative far ahead at 98%
    verdicts = nb.retrain_verdicts(runs)
    assert not verdicts["five rounds of iterative pruning are behind one-shot + fine-tune on the mean at every sparsity from 90% up"]
    assert not verdicts["... and ahead of it at no sparsity, not even on the mean"]
    with pytest.raises(AssertionError, match="five rounds of iterative pruning"):
        verdicts.require()


def test_recovery_verdicts_can_come_out_false():
    rec = results.read("nb06_recovery").copy()
    soft_all = (rec.regime == recovery.ALL_LABELS) & (rec.fine_tune == recovery.SOFT_TARGETS)
    rec.loc[soft_all, "test"] = 0.999                   # soft targets far ahead with every label
    verdicts = nb.recovery_verdicts(rec)
    assert not verdicts["all 3,500 labels: soft targets are worse than hard labels at every width, seed ranges apart"]
    assert sum(verdicts.values()) == len(verdicts) - 1
    with pytest.raises(AssertionError, match="all 3,500 labels"):
        verdicts.require()


def test_compare_words():
    words = retraining.compare_words
    assert words(Spread(2.5, 2, 3, 3), Spread(0.5, 0, 1, 3)) == "ahead, seed ranges apart"
    assert words(Spread(0.5, 0, 1, 3), Spread(2.5, 2, 3, 3)) == "behind, seed ranges apart"
    assert words(Spread(2, 0, 3, 3), Spread(1.5, 1, 2, 3)) == "ahead on the mean, ranges overlap"
    assert words(Spread(1.5, 1, 2, 3), Spread(1.5, 1, 2, 3)) == "behind on the mean, ranges overlap"   # a tie is no lead
    assert words(Spread(2.5, 2, 3, 3), Spread(1.5, 1, 2, 3)) == "ahead on the mean, ranges overlap"   # touching ranges overlap


def test_backend_verdicts_say_what_the_shipped_table_says():
    v = nb.backend_comparison(results.read("nb06_backends"))
    assert v.loc["torchao int8 weight-only", "batch 256"].startswith("as fast")
    assert v.loc["torchao int8 weight-only", "batch 1"].startswith("slower")
    assert v.loc["torchao int8 dynamic activations + int8 weights"].str.startswith("slower").all()
    assert v.loc["torch.ao quantize_dynamic (int8)", "batch 256"].startswith("faster")


def test_shipped_recovery_and_compression_tables():
    rec = results.read("nb06_recovery")
    assert rec.seed.nunique() >= 3 and set(rec.fine_tune) == set(recovery.FINE_TUNINGS)
    assert set(rec.regime) == set(recovery.RECOVERY_REGIMES)
    gains = recovery.recovery_gains(rec)
    assert len(gains) == len(recovery.RECOVERY_REGIMES) * len(recovery.RECOVERY_FRACTIONS)
    assert nb.recovery_verdicts(rec).require()
    # the fair teacher saw fewer labels: a weaker teacher whose argmax is wrong more often
    teachers = rec.drop_duplicates(["regime", "seed"]).set_index(["regime", "seed"])
    for seed in rec.seed.unique():
        fair, full = teachers.loc[(recovery.SCARCE_FAIR, seed)], teachers.loc[(recovery.SCARCE, seed)]
        assert fair.dense < full.dense and fair.pseudo_right < full.pseudo_right
    split = nb.recovery_split(rec)
    assert list(split.columns) == ["2x300", "2x120", "2x60"] and len(split) == 7
    comp = results.read("nb06_compression")
    assert comp.seed.nunique() >= 3 and set(comp.model) == set(compression.ROWS.values())
    assert comp.method.nunique() == 1 and comp.method.iloc[0] == nb.best_method(results.read("nb06_retrain"))


def test_backends_need_torchao(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_torchao(name, *args, **kwargs):
        if name.startswith("torchao"):
            raise ImportError("No module named 'torchao'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchao)
    with pytest.raises(SystemExit, match="pip install torchao"):
        size_and_speed.backend_runs()
    table = results.read("nb06_backends")
    assert len(table) == 4 and table["versions"].str.contains("torchao").all()


def test_compression_models_rejects_a_wrong_unstructured_model(small):
    with pytest.raises(ValueError, match="sparse, not 90%"):
        nb.compression_models(0, small, unstructured=nb.prune_global(nb.dense_teacher(0), 0.5))


def test_recovery_runs_on_a_small_slice(small, monkeypatch):
    from kdnb.teachers import TEACHERS

    monkeypatch.setattr(recovery, "fair_teacher_train", lambda n: dict(TEACHERS[nb.BASE]["train"], epochs=2))
    regimes = {"all": {"labels": None, "teacher": "all"}, "40, all": {"labels": 40, "teacher": "all"},
               "40, fair": {"labels": 40, "teacher": "same"}}
    runs = recovery.recovery_runs(seeds=(0,), fractions=(0.9,), regimes=regimes, dataset=small, progress=False,
                                  run=Run.of(nb.FINE_TUNE, epochs=1))
    assert runs.fine_tune.tolist() == [recovery.HARD_LABELS, recovery.SOFT_TARGETS] + 2 * list(recovery.FINE_TUNINGS)
    assert (runs.hidden == 120).all()
    assert runs.groupby("regime").pruned.nunique().eq(1).all()      # every fine-tuning starts from the same slim weights
    fair, full = runs[runs.regime == "40, fair"].iloc[0], runs[runs.regime == "40, all"].iloc[0]
    assert fair.dense < full.dense and fair.pseudo_right < full.pseudo_right   # 40 labels make a weaker teacher
    assert np.isnan(runs[runs.regime == "all"].pseudo_right).all()
    table = recovery.recovery_gains(runs)
    assert table["slim model"].tolist() == ["2x120"] * 3


def test_pseudo_labels_keep_the_true_labels_and_fill_the_rest(small):
    y = small.train.y.clone()
    y[10:] = -100
    teacher = nb.dense_teacher(0)
    got = recovery.pseudo_labels(teacher, kdata.Split(small.train.X, y))
    assert torch.equal(got[:10], small.train.y[:10])
    assert torch.equal(got[10:], training.predict_logits(teacher, small.train.X[10:]).argmax(1))
    assert nb.fair_teacher_train(300)["epochs"] * 3 == 40 * 28 - 1   # as many steps as the full teacher, to one batch


def test_compression_models_and_table_on_a_small_slice(small):
    live = nb.compression_models(0, small, method=retraining.METHODS[1], fine_tune=Run.of(nb.FINE_TUNE, epochs=1),
                                 student_tune=Run.of(compression.STUDENT_TUNE, epochs=1))
    assert list(live) == list(compression.ROWS.values())
    runs = pd.DataFrame([{"seed": 0, "model": k, "test": training.accuracy(m, small.test)} for k, m in live.items()])
    table = nb.compression_table(runs, live, timing=False)
    R = compression.ROWS
    assert table.loc[R["unstructured"], "non-zero"] < 0.11 * table.loc[R["teacher"], "non-zero"]
    assert abs(table.loc[R["unstructured"], "bytes on disk"] / table.loc[R["teacher"], "bytes on disk"] - 1) < 0.01
    assert table.loc[R["structured"], "parameters"] < 0.2 * table.loc[R["teacher"], "parameters"]
    assert 3.5 < table.loc[R["int8"], "times smaller"] < 4.1
    assert table.loc[R["all three"], "bytes on disk"] == table["bytes on disk"].min()


# ------------------------------------------------------------------------------------------- verdicts and tables for reading


def test_mask_verdicts_follow_the_table():
    layer = nn.Linear(50, 30)
    torch.manual_seed(1)
    with torch.no_grad():
        layer.weight.copy_(0.01 * torch.rand(30, 50))
        layer.weight[:15] += 0.1
        layer.weight[15:, 0] = 1.0
    table = nb.mask_comparison(layer, amount=0.5)
    assert nb.mask_verdicts(table).require()
    same_rows = table.copy()
    same_rows.loc["whole neurons (rows, ln_structured)", ["identical masks", "weights where the masks differ"]] = [True, 0]
    with pytest.raises(AssertionError, match="for whole neurons"):
        nb.mask_verdicts(same_rows).require()


def test_disk_verdicts_hold_for_a_small_mlp_and_can_fail():
    table = nb.disk_table(mlp(hidden=(200, 200)), 0.9)
    assert list(table.index) == list(size_and_speed.DISK_ROWS)
    assert nb.disk_verdicts(table).require()
    doubled = table.copy()
    doubled.loc[size_and_speed.DISK_ROWS[2], "bytes"] *= 2          # as if prune.remove kept the masks
    verdicts = nb.disk_verdicts(doubled)
    assert verdicts.failed == ["after prune.remove it is the dense size, within 1% (the zeros are stored)"]
    with pytest.raises(AssertionError):
        verdicts.require()


def test_pruned_variants_and_their_speed_verdicts(small):
    dense = mlp(hidden=(60, 60))
    thin = nb.slim(nb.prune_neurons(nb.clone(dense), 0.5))
    variants = nb.pruned_variants(dense, thin)
    assert list(variants) == list(size_and_speed.PRUNED_VARIANTS) and variants[size_and_speed.PRUNED_VARIANTS[0]] is dense
    with torch.no_grad():
        outs = [m.eval()(small.test.X) for m in list(variants.values())[1:4]]
    assert all(torch.allclose(outs[0], o, atol=1e-5) for o in outs[1:])     # three forms of the same 90% model
    fast = pd.DataFrame({"speed-up, batch 1": [1, 0.2, 1.0, 0.8, 3.0], "speed-up, batch 256": [1, 0.9, 1.0, 1.6, 6.0]},
                        index=list(size_and_speed.PRUNED_VARIANTS))
    assert nb.pruning_speed_verdicts(fast).require()
    skipping = fast.assign(**{"speed-up, batch 256": [1, 0.9, 9.0, 1.6, 6.0]})  # hardware that skipped zeros
    with pytest.raises(AssertionError, match="nowhere near 10x"):
        nb.pruning_speed_verdicts(skipping).require()


def test_int8_verdicts(small):
    teacher = nb.dense_teacher(0)
    assert nb.int8_verdicts(teacher, nb.quantize_int8(teacher), small.test).require()
    with pytest.raises(AssertionError, match="top class"):
        nb.int8_verdicts(teacher, nb.quantize_int8(mlp()), small.test).require()   # another model entirely


def test_backend_verdicts_hold_on_the_shipped_table_and_can_fail():
    table = results.read("nb06_backends")
    assert len(nb.backend_verdicts(table).require()) == 4
    faster = table.copy()
    faster.loc[faster.model == "torchao int8 weight-only", "speed-up, batch 256"] = 1.6
    verdicts = nb.backend_verdicts(faster)
    assert len(verdicts.failed) == 2
    with pytest.raises(AssertionError, match="weight-only"):
        verdicts.require()


def test_retrain_summary_reads_through_seeds():
    runs = results.read("nb06_retrain")
    spans = nb.retrain_summary(runs)
    assert list(spans.index) == list(retraining.METHODS) and list(spans.columns) == ["50%", "80%", "90%", "95%", "98%", "99%"]
    assert spans.columns.name == "test accuracy, % (3 seeds, [min, max])"
    part = runs[(runs.method == retraining.METHODS[3]) & np.isclose(runs.sparsity, 0.98)].test
    assert spans.loc[retraining.METHODS[3], "98%"] == Spread.of(part, 100).text(1)
    assert nb.round_epochs() == pytest.approx((1.5, 4.0))
    assert nb.round_epochs(Run(epochs=20), rounds=4, end=0.5) == pytest.approx((2.5, 12.5))


def test_recovery_summary_and_teachers_read_through_seeds():
    rec = results.read("nb06_recovery")
    spans = nb.recovery_summary(rec)
    assert list(spans.columns) == list(recovery.FINE_TUNINGS) and len(spans) == 9
    assert (spans.loc[recovery.ALL_LABELS, recovery.PSEUDO_LABELS] == "").all()
    part = rec[(rec.regime == recovery.SCARCE) & (rec.hidden == 60) & (rec.fine_tune == recovery.SOFT_TARGETS)].test
    assert spans.loc[(recovery.SCARCE, "2x60"), recovery.SOFT_TARGETS] == Spread.of(part, 100).text(1)
    teachers = nb.recovery_teachers(rec)
    assert teachers.loc[recovery.ALL_LABELS, "its argmax right on the unlabelled images (%)"] == "no unlabelled images"
    assert teachers.loc[recovery.SCARCE_FAIR].str.match(r"^\d+\.\d \[\d+\.\d, \d+\.\d\]$").all()
    split = nb.recovery_split(rec)
    assert split.index.name == "points, paired by seed: mean [min, max]"
    assert split.stack().str.match(r"^[+-]\d+\.\d \[[+-]\d+\.\d, [+-]\d+\.\d\]$").all()


def _comparison_index():
    return pd.Index(list(compression.ROWS.values()), name="model")


def test_compression_verdicts_on_the_shipped_table_and_when_they_fail():
    runs = results.read("nb06_compression")
    comp = pd.DataFrame(index=_comparison_index())
    assert nb.compression_verdicts(runs, comp).require()
    assert 1.0 < nb.distillation_gap(runs) < 3.0
    worse = runs.copy()
    worse.loc[worse.model == compression.ROWS["alone"], "test"] = 0.99       # the student alone far ahead
    verdicts = nb.compression_verdicts(worse, comp)
    assert nb.distillation_gap(worse) < 0
    assert set(verdicts.failed) == {"the distilled 1x100 beats the same 1x100 trained alone, seed ranges apart",
                                    "every pruned teacher is ahead of every student on the mean"}
    with pytest.raises(AssertionError):
        verdicts.require()


def test_compression_speed_and_rebuild_verdicts():
    R = compression.ROWS
    timed = pd.DataFrame({"speed-up, batch 1": [1, 10, 10, 1.0, 3.3, 1.8, 4.7], "speed-up, batch 256": [1, 26, 26, 1.0, 6.8, 3.9, 76],
                          "ms, batch 1": [0.22, 0.02, 0.02, 0.22, 0.07, 0.12, 0.05],
                          "zipped bytes": [8.9e6, 3e5, 3e5, 1.8e6, 1.2e6, 2e6, 3.6e4]}, index=_comparison_index())
    assert len(nb.compression_speed_verdicts(timed).require()) == 6
    timed.loc[R["all three"], "ms, batch 1"] = 0.01                            # int8 without its fixed cost
    with pytest.raises(AssertionError, match="fixed cost"):
        nb.compression_speed_verdicts(timed).require()
    rebuilt = pd.DataFrame({"built here (%)": [96.8, 93.3], "table, seed 0 (%)": [96.8, 93.1]})
    assert nb.rebuild_verdicts(rebuilt).require()
    with pytest.raises(AssertionError, match="within 1 point"):
        nb.rebuild_verdicts(rebuilt.assign(**{"built here (%)": [96.8, 91.0]})).require()


def test_compression_summary_formats_what_the_table_holds():
    runs = results.read("nb06_compression")
    comp = pd.DataFrame({"parameters": [2395210, 79510, 79510, 2395210, 328810, 2395210, 39760],
                         "non-zero": [2395210, 79510, 79510, 241690, 328810, 2350000, 38900],
                         "bytes on disk": [9583613, 320277, 320277, 9583613, 1317957, 2407065, 43578]}, index=_comparison_index())
    comp["times smaller"] = comp["bytes on disk"].iloc[0] / comp["bytes on disk"]
    shown = nb.compression_summary(comp, runs, results.read("nb06_latency"))
    assert list(shown.index) == list(comp.index)
    teacher = runs[runs.model == compression.ROWS["teacher"]].test
    assert shown.iloc[0, 0] == Spread.of(teacher, 100).text(1)
    assert shown.loc[compression.ROWS["teacher"], "non-zero"] == "2.4 M" and shown.iloc[-1]["non-zero"] == "38.9 k"
    assert shown.loc[compression.ROWS["teacher"], "KB on disk"] == "9,583.6" and shown.iloc[-1]["times smaller"] == "220"
    assert not shown.isna().any().any()


def test_prune_and_train_takes_a_run(small):
    model = mlp()
    hist = nb.prune_and_train(model, small.train, retraining.METHODS[3], 0.7, Run.of(nb.FINE_TUNE, epochs=2, augment=0),
                              seed=3)
    assert list(hist.index) == [1, 2] and hist.sparsity.iloc[-1] == pytest.approx(0.7, abs=1e-6)
    with pytest.raises(TypeError, match="unknown training option"):
        nb.prune_and_train(mlp(), small.train, retraining.METHODS[1], 0.5, epoch=1)


# ------------------------------------------------------------------------------------------- the package


def test_the_tables_are_registered_and_made_through_kdnb_results(small, tmp_path, monkeypatch):
    from kdnb.nb06_pruning_and_compression import tables

    names = {name for fn in tables.MAKERS for name in fn.maker.tables}
    assert names == {"nb06_curve", "nb06_retrain", "nb06_recovery", "nb06_compression", "nb06_latency", "nb06_backends"}
    assert {fn.maker.tables[0]: fn.maker.requires for fn in tables.MAKERS}["nb06_backends"] == "torchao"
    assert all(results.owner_module(n) == "kdnb.nb06_pruning_and_compression.tables" for n in names)
    real = explorer.one_shot_curve
    monkeypatch.setattr(tables, "one_shot_curve", lambda model, ds, progress=False: real(model, small, [0.0, 0.5], False))
    monkeypatch.setenv("KDNB_RESULTS", str(tmp_path))
    threads = torch.get_num_threads()
    try:
        written = results.make("nb06_curve", progress=False)
    finally:
        torch.set_num_threads(threads)
    assert written == [tmp_path / "nb06_curve.csv"]
    curve = results.read("nb06_curve")
    assert list(curve.sparsity) == [0.0, 0.5] and curve.global_test.iloc[0] > 0.8


def test_the_public_api_is_what_the_notebook_calls():
    import json
    import re
    from pathlib import Path

    book = Path(__file__).resolve().parents[1] / "notebooks" / "06_pruning_and_compression.ipynb"
    cells = json.loads(book.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    prose = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    called = set(re.findall(r"\bnb\.(\w+)", code))
    named = set(re.findall(r"`nb\.(\w+)", prose)) | set(re.findall(r"help\(nb\.(\w+)\)", prose))
    assert called | named == set(nb.__all__), (sorted((called | named) - set(nb.__all__)), sorted(set(nb.__all__) - called - named))
    assert {"pruning_explorer", "dense_teacher", "BASE"} <= called           # what the classroom page and the bench use too
    assert all(hasattr(nb, name) for name in nb.__all__)
    assert not hasattr(nb, "main")
    folder = Path(nb.__file__).parent
    for path in folder.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 500, path.name
