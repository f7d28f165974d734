"""Notebook 06: pruning (剪枝), quantization (量化), and what really gets smaller and faster.

Everything here prunes with the library that exists, :mod:`torch.nn.utils.prune`, and measures
the claims people make about it.

* **Mechanics**: :func:`prune_global` (``global_unstructured`` to an exact overall sparsity,
  also on a model that is already pruned), :func:`prune_neurons` (``ln_structured`` over the
  hidden neurons), :func:`anatomy` (``weight_orig``, ``weight_mask``, the forward pre-hook),
  :func:`sparsity_table`, :func:`nonzero_params`, and :func:`slim`, which rebuilds a smaller
  dense MLP from structured masks (the only pruning here that makes a model faster).
* **The 004-2 trap**: :class:`L2Unstructured` and :func:`mask_comparison`: for single weights
  the L1 and L2 norms rank alike; they differ only for groups of weights.
* **The pruning explorer**: :func:`pruning_explorer`, a sparsity slider over the shipped
  2x1200 teacher; accuracy is read from a precomputed one-shot curve (:func:`one_shot_curve`),
  the histogram and per-layer bars are arithmetic on the sorted weights. :func:`plot_pruning`
  is its static twin.
* **Retraining (004-4)**: :func:`prune_and_train` runs one pruning schedule inside one
  fine-tuning run: one-shot, iterative rounds (Han et al. 2015) or the gradual cubic schedule
  (Zhu & Gupta 2017), all on the same budget; :func:`retrain_runs` measures them over seeds.
* **Size and speed**: :func:`disk_table` (dense, masked, removed, sparse CSR, zipped),
  :func:`latency_table`, :func:`quantize_int8` (``torch.ao.quantization.quantize_dynamic``).
* **Pruning plus distillation**: :func:`recovery_runs`: a student cut out of the teacher by
  structured pruning, fine-tuned on hard labels, on the teacher's hard pseudo-labels or on its
  soft targets; with 300 labels also from a fair teacher that saw only those (:func:`fair_dense`).
  :func:`recovery_split` splits the gain into its sources, :func:`recovery_verdicts` states it.
* **The compression table**: :func:`compression_models`, :func:`compression_runs` and
  :func:`compression_table`.

The sweeps over seeds are precomputed by ``python -m kdnb.nb06_pruning_and_compression curve``
(and ``retrain``, ``recovery``, ``compression``, ``latency``, ``backends``) into ``data/results/``.
"""

from __future__ import annotations

import argparse
import copy
import io
import sys
import time
import warnings
import zlib

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.utils import prune

from . import data as kdata
from . import models
from .exercises import Verdict, check
from .plots import ALONE, DISTILLED, HARD, SMOOTHED, TEACHER, subplots
from .recipe import DEFAULT, train_pair
from .teachers import TEACHERS, load_teacher, train_teacher
from .training import accuracy, distill, fit, predict_logits, seed_everything

__all__ = [
    "BASE", "SPARSITIES", "METHODS", "FINE_TUNE", "SEEDS",
    "linear_layers", "clone", "prunable", "prune_global", "prune_neurons", "adjust_dropout", "dropout_rates", "anatomy", "sparsity_table", "nonzero_params",
    "L2Unstructured", "mask_comparison", "slim", "finalize",
    "one_shot_curve", "pruning_explorer", "plot_pruning",
    "dense_teacher", "schedule", "prune_and_train", "retrain_runs", "retrain_table", "plot_retraining",
    "retrain_verdicts", "retrain_comparison",
    "saved_bytes", "zipped_bytes", "sparse_state", "disk_table", "quantize_int8", "latency_table",
    "recovery_runs", "recovery_table", "recovery_gains", "recovery_split", "recovery_verdicts", "recovery_teachers",
    "plot_recovery",
    "fair_dense", "fair_teacher_train", "pseudo_labels", "latency_runs", "backend_verdicts",
    "compression_models", "compression_runs", "compression_table", "backend_runs",
    "check_row_mask", "check_cubic_schedule", "check_phone_choice", "phone_rows", "PHONE_BUDGET", "main",
]

#: The model every pruning experiment starts from: the shipped 2x1200 MLP teacher.
BASE = DEFAULT["teacher"]
#: Target sparsities of the retraining comparison (fraction of the Linear weights set to zero).
SPARSITIES = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
#: The retraining methods, in the order the figures show them.
METHODS = ("one-shot, no retraining", "one-shot + fine-tune", "iterative (Han et al. 2015)",
           "gradual (Zhu & Gupta 2017)")
#: One fine-tuning budget for every method: the teacher's own recipe (Adam at its learning rate,
#: cosine decay, random shifts of up to 2 px, its dropout lowered by Han et al.'s rule), 10 epochs
#: instead of 40. The learning rate was chosen on validation accuracy between 3e-4 and 1e-3, seed 0.
FINE_TUNE = {"epochs": 10, "lr": 1e-3, "batch_size": 128, "augment": 2}
#: Rounds of the iterative schedule; the fraction of the steps over which the gradual one prunes,
#: and how many steps apart its pruning steps are (Zhu & Gupta's Δt).
ROUNDS, GRADUAL_END, GRADUAL_EVERY = 5, 0.75, 10
SEEDS = (0, 1, 2)


# --------------------------------------------------------------------------- mechanics

def linear_layers(model: nn.Module) -> list[tuple[str, nn.Linear]]:
    """The model's Linear layers, named as ``state_dict`` names them (``"1"``, ``"4"``, …)."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]


def clone(model):
    """A deep copy of a model, pruned or not.

    A pruned layer's ``weight`` is computed from ``weight_orig * weight_mask`` and so is not a
    leaf tensor, which ``copy.deepcopy`` refuses; the forward pre-hook recomputes it on every
    call anyway, so it is detached first.
    """
    if isinstance(model, nn.Module):
        for m in model.modules():
            for name in [k[:-5] for k, _ in m.named_buffers(recurse=False) if k.endswith("_mask")]:
                setattr(m, name, getattr(m, name).detach())
    return copy.deepcopy(model)


def prunable(model: nn.Module) -> list[tuple[nn.Linear, str]]:
    """``(module, "weight")`` for every Linear layer: what the pruning calls take. Biases are kept."""
    return [(m, "weight") for _, m in linear_layers(model)]


def _check_fraction(value, what: str) -> float:
    value = float(value)
    if not 0.0 <= value < 1.0:  # NaN fails this too
        raise ValueError(f"{what} is a fraction in [0, 1), got {value!r}: 0.9 prunes 90% of the weights")
    return value


def _zeros(model: nn.Module) -> tuple[int, int]:
    """(weights set to zero, all weights) over the Linear layers."""
    zero = total = 0
    for m, name in prunable(model):
        w = getattr(m, name)
        zero += int((w == 0).sum())
        total += w.numel()
    return zero, total


def prune_global(model: nn.Module, sparsity: float) -> nn.Module:
    """Global magnitude pruning (``prune.global_unstructured`` with L1) to an exact overall sparsity.

    Ranks every Linear weight of the model by ``|w|`` together, so layers end up with different
    sparsities. On a model that is already pruned it prunes only what is missing (``prune``
    then ranks the weights that survive), so calling it with a rising target gives the
    iterative and gradual schedules. Returns ``model``, changed in place.
    """
    sparsity = _check_fraction(sparsity, "sparsity")
    pruned, total = 0, 0
    for m, name in prunable(model):
        mask = getattr(m, name + "_mask", None)
        pruned += 0 if mask is None else int((mask == 0).sum())
        total += getattr(m, name).numel()
    need = int(round(sparsity * total)) - pruned
    if need > 0:
        prune.global_unstructured(prunable(model), pruning_method=prune.L1Unstructured, amount=need)
    return model


def prune_neurons(model: nn.Module, fraction: float, n: float = 2) -> nn.Module:
    """Structured pruning: ``prune.ln_structured`` removes the ``fraction`` of each hidden
    layer's neurons (rows of its weight) with the smallest L``n`` norm. The output layer keeps
    its 10 classes. Returns ``model``, changed in place; :func:`slim` then makes it smaller."""
    fraction = _check_fraction(fraction, "fraction of neurons")
    for m, _ in prunable(model)[:-1]:
        prune.ln_structured(m, "weight", amount=fraction, n=n, dim=0)
    return model


def adjust_dropout(model: nn.Sequential, original: dict[int, float], dense: nn.Sequential | None = None) -> None:
    """Han et al. (2015, section 3.5): after pruning, lower each dropout rate to
    ``D_r = D_o * sqrt(C_r / C_o)``, with ``C`` the connections of the Linear layer it feeds.

    A sparse layer has fewer weights to co-adapt, and dropping half of the few inputs it still
    uses would starve it. ``original`` maps a Dropout's index in ``model`` to its rate before
    pruning (:func:`dropout_rates`). ``C_r`` counts the non-zero weights; ``C_o`` is the layer's
    size, or the same layer's size in ``dense`` for a model rebuilt smaller by :func:`slim`
    (which keeps every layer at its index).
    """
    layers, before = list(model), list(dense if dense is not None else model)
    for i, p in original.items():
        nxt = next((j for j in range(i + 1, len(layers)) if isinstance(layers[j], nn.Linear)), None)
        if nxt is not None:
            kept = int((layers[nxt].weight != 0).sum()) / before[nxt].weight.numel()
            layers[i].p = p * kept ** 0.5


def dropout_rates(model: nn.Module) -> dict[int, float]:
    """Each Dropout's rate, by its index in an ``nn.Sequential`` (empty for other models)."""
    return {i: m.p for i, m in enumerate(model) if isinstance(m, nn.Dropout)} if isinstance(model, nn.Sequential) else {}


def finalize(model: nn.Module) -> nn.Module:
    """``prune.remove`` on every pruned layer: the zeros move into ``weight`` for good and
    ``weight_orig``, ``weight_mask`` and the hook go. Returns ``model``."""
    for m, name in prunable(model):
        if prune.is_pruned(m) and hasattr(m, name + "_mask"):
            prune.remove(m, name)
    return model


def anatomy(layer: nn.Module) -> pd.DataFrame:
    """What a Linear layer holds: its parameters, buffers, ``weight`` attribute and hooks."""
    rows = []
    for name, p in layer.named_parameters(recurse=False):
        rows.append({"name": name, "kind": "parameter (trained)", "shape": tuple(p.shape)})
    for name, b in layer.named_buffers(recurse=False):
        rows.append({"name": name, "kind": "buffer (saved, not trained)", "shape": tuple(b.shape)})
    if "weight" not in layer._parameters:
        rows.append({"name": "weight", "kind": "plain attribute: weight_orig * weight_mask", "shape": tuple(layer.weight.shape)})
    for hook in layer._forward_pre_hooks.values():
        rows.append({"name": type(hook).__name__, "kind": "forward pre-hook (recomputes weight)", "shape": ""})
    return pd.DataFrame(rows).set_index("name")


def sparsity_table(model: nn.Module) -> pd.DataFrame:
    """Per Linear layer: shape, weights, how many are zero, and the sparsity in %."""
    rows = {}
    for name, m in linear_layers(model):
        w = m.weight
        zero = int((w == 0).sum())
        rows[f"Linear {m.in_features}→{m.out_features}"] = {
            "weights": w.numel(), "zero": zero, "sparsity (%)": 100 * zero / w.numel()}
    out = pd.DataFrame(rows).T
    zero, total = _zeros(model)
    out.loc["all Linear weights"] = {"weights": total, "zero": zero, "sparsity (%)": 100 * zero / total}
    return out.astype({"weights": int, "zero": int})


def nonzero_params(model: nn.Module) -> int:
    """Parameters that are not zero (weights and biases; the int8 model's packed weights too)."""
    count = 0
    for t in _weights_and_biases(model):
        count += int((t != 0).sum())
    return count


def _weights_and_biases(model: nn.Module):
    """The effective weight and bias tensors of every layer (masked, or unpacked from int8)."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            yield m.weight
            if m.bias is not None:
                yield m.bias
        elif type(m).__name__ == "Linear" and hasattr(m, "_packed_params"):  # int8 dynamic
            w, b = m._packed_params._weight_bias()
            yield w.dequantize()
            if b is not None:
                yield b


def weight_count(model: nn.Module) -> int:
    """Parameters as stored (weights and biases), for float and int8 models alike."""
    return sum(t.numel() for t in _weights_and_biases(model))


# --------------------------------------------------------------------------- the 004-2 trap

class L2Unstructured(prune.BasePruningMethod):
    """Unstructured pruning by the L2 norm of each single weight, ``sqrt(w²)``.

    Written to show that it is the same as :class:`torch.nn.utils.prune.L1Unstructured`: the
    norm of one number is its absolute value, whichever norm you take.
    """

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount: float):
        self.amount = _check_fraction(amount, "amount")

    def compute_mask(self, t, default_mask):
        k = int(round(self.amount * t.numel()))
        mask = default_mask.clone()
        if k:
            norms = t.pow(2).sqrt().flatten()
            mask.view(-1)[torch.topk(norms, k, largest=False).indices] = 0
        return mask


def _mask(layer: nn.Linear, method, **kwargs) -> torch.Tensor:
    probe = clone(layer)
    method(probe, "weight", **kwargs)
    return probe.weight_mask.bool()


def mask_comparison(layer: nn.Linear, amount: float = 0.5) -> pd.DataFrame:
    """L1 against L2 on one layer: for single weights (unstructured) and for rows (structured).

    Returns one row per granularity: how many weights each norm prunes, and on how many
    weights the two masks disagree.
    """
    rows = {}
    l1 = _mask(layer, prune.l1_unstructured, amount=amount)
    l2 = _mask(layer, L2Unstructured.apply, amount=amount)
    rows["single weights (unstructured)"] = (l1, l2)
    r1 = _mask(layer, prune.ln_structured, amount=amount, n=1, dim=0)
    r2 = _mask(layer, prune.ln_structured, amount=amount, n=2, dim=0)
    rows["whole neurons (rows, ln_structured)"] = (r1, r2)
    out = {}
    for name, (a, b) in rows.items():
        out[name] = {"pruned by L1": int((~a).sum()), "pruned by L2": int((~b).sum()),
                     "weights where the masks differ": int((a != b).sum()), "identical masks": bool(torch.equal(a, b))}
    return pd.DataFrame(out).T


# --------------------------------------------------------------------------- structured -> slim

def slim(model: nn.Sequential) -> nn.Sequential:
    """A smaller dense copy of an MLP whose hidden neurons were pruned (:func:`prune_neurons`).

    Every hidden neuron whose whole weight row is zero is cut out, with the matching column
    of the next layer. Such a neuron still outputs ``relu(bias)``, a constant: its share
    ``W_next[:, j] * relu(b_j)`` is folded into the next layer's bias, so the slim model
    computes exactly what the masked one does (in eval mode). Raises ``ValueError`` when no
    neuron can go (unstructured masks leave no all-zero row).
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"slim() rebuilds an nn.Sequential MLP, got {type(model).__name__}")
    layers = list(model)
    idx = [i for i, m in enumerate(layers) if isinstance(m, nn.Linear)]
    for a, b in zip(idx, idx[1:]):
        between = layers[a + 1:b]
        if not all(isinstance(m, (nn.ReLU, nn.Dropout)) for m in between) or not any(isinstance(m, nn.ReLU) for m in between):
            raise ValueError("slim() needs a ReLU (and at most Dropout) between consecutive Linear layers")
    with torch.no_grad():
        W = [layers[i].weight.detach().clone() for i in idx]
        B = [layers[i].bias.detach().clone() for i in idx]
        removed = 0
        for k in range(len(idx) - 1):
            keep = W[k].ne(0).any(dim=1)
            if bool(keep.all()):
                continue
            removed += int((~keep).sum())
            B[k + 1] = B[k + 1] + W[k + 1][:, ~keep] @ torch.relu(B[k][~keep])
            W[k + 1], W[k], B[k] = W[k + 1][:, keep], W[k][keep], B[k][keep]
        if not removed:
            raise ValueError("no hidden neuron has an all-zero weight row, so nothing can be cut out: "
                             "prune whole neurons first with prune_neurons(model, fraction)")
        out = []
        for i, m in enumerate(layers):
            if i in idx:
                k = idx.index(i)
                new = nn.Linear(W[k].shape[1], W[k].shape[0])
                new.weight.copy_(W[k])
                new.bias.copy_(B[k])
                out.append(new)
            else:
                out.append(clone(m))
    return nn.Sequential(*out).eval()


# --------------------------------------------------------------------------- schedules, fine-tuning

_DENSE: dict[int, dict] = {}


def dense_teacher(seed: int = 0, dataset: kdata.Dataset | None = None, progress: bool = False) -> nn.Sequential:
    """The dense 2x1200 model that seed ``seed`` prunes.

    Seed 0 is the shipped teacher itself (SHA-256 checked); other seeds train the same
    architecture with the same recipe (:data:`kdnb.teachers.TEACHERS`) and that seed, on the
    same 3,500 training images. Returned trainable, in eval mode.
    """
    if seed == 0:
        model = load_teacher(BASE)
    elif seed in _DENSE:  # trained once per process: the scripts prune each seed's model many times
        model = models.build(TEACHERS[BASE]["model"])
        model.load_state_dict(_DENSE[seed])
    else:
        model, _, _ = train_teacher(BASE, seed=seed, dataset=dataset, progress=progress)
        _DENSE[seed] = copy.deepcopy(model.state_dict())
    model = clone(model)
    for p in model.parameters():
        p.requires_grad_(True)
    return model.eval()


def schedule(method: str, sparsity: float, steps: int, rounds: int = ROUNDS, end: float = GRADUAL_END,
             every: int = GRADUAL_EVERY):
    """The target sparsity after each of ``steps`` optimizer steps, for one pruning ``method``.

    * ``"one-shot + fine-tune"``: the final sparsity from the first step on.
    * ``"iterative (Han et al. 2015)"``: ``rounds`` rounds, each starting with a pruning step
      so that the share of weights kept falls geometrically to ``1 - sparsity``; the rounds
      start evenly over the first ``end`` of the steps, as the gradual schedule prunes.
    * ``"gradual (Zhu & Gupta 2017)"``: ``s_t = s_f (1 - (1 - t / n)^3)`` for ``t`` up to
      ``n = end * steps``, updated every ``every`` steps, then held at ``s_f`` while the
      network recovers. Pruning is fast at first, while many weights are redundant, and slow
      near the end.

    Returns a function ``step -> target`` for step 0 (before training) to ``steps``.
    """
    sparsity = _check_fraction(sparsity, "sparsity")
    if method == METHODS[1]:
        return lambda t: sparsity
    if method == METHODS[2]:
        per_round = max(1, int(end * steps) // rounds)
        return lambda t: 1 - (1 - sparsity) ** (min(rounds, t // per_round + 1) / rounds)
    if method == METHODS[3]:
        n = max(1, int(end * steps))
        return lambda t: sparsity * (1 - (1 - min(t - t % every, n) / n) ** 3)
    raise ValueError(f"unknown pruning method {method!r}; use one of {list(METHODS[1:])}")


def prune_and_train(model: nn.Module, train: kdata.Split, method: str, sparsity: float, *, epochs: int = FINE_TUNE["epochs"],
                    lr: float = FINE_TUNE["lr"], batch_size: int = FINE_TUNE["batch_size"], augment: int = FINE_TUNE["augment"],
                    seed: int = 0, teacher: nn.Module | torch.Tensor | None = None, T: float = 4.0, alpha: float = 0.9,
                    progress: bool = False) -> pd.DataFrame:
    """Prune ``model`` (in place) on a schedule while fine-tuning it, masks kept.

    ``method`` is one of :data:`METHODS` (the first, no retraining, just prunes). Every method
    gets the same optimizer, learning-rate decay and number of steps; only *when* the weights
    go differs. The loss is cross-entropy with the labels, or with ``teacher`` the
    distillation loss against the frozen ``teacher``: a model run on each (shifted) batch, or
    its logits on ``train.X`` computed once (then ``augment`` must be 0). Returns the per-epoch
    history with the sparsity reached; the model ends with its masks in place.
    """
    if isinstance(teacher, torch.Tensor) and (augment or len(teacher) != len(train)):  # before any weight is pruned
        raise ValueError(f"cached teacher logits ({len(teacher)} rows for {len(train)} images) must match the "
                         f"un-shifted training images: pass augment=0 and one row per image, or the teacher model")
    seed_everything(seed, threads=None)  # dropout draws from the global generator: same seed, same run
    if method == METHODS[0]:
        prune_global(model, sparsity)
        zero, total = _zeros(model)
        return pd.DataFrame([{"epoch": 0, "sparsity": zero / total}]).set_index("epoch")
    steps = epochs * -(-len(train) // batch_size)
    target = schedule(method, sparsity, steps)
    dropout = dropout_rates(model)
    prune_global(model, target(0))
    adjust_dropout(model, dropout)

    def after_step(t):
        prune_global(model, target(t))
        adjust_dropout(model, dropout)

    common = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "augment": augment, "seed": seed, "progress": progress,
              "desc": f"{method} to {sparsity:.0%}", "after_step": after_step}
    if teacher is None:
        history = fit(model, train, **common)
    elif isinstance(teacher, torch.Tensor):
        history = distill(model, train, teacher_logits=teacher, T=T, alpha=alpha, **common)
    else:
        history = distill(model, train, teacher=teacher, T=T, alpha=alpha, **common)
    prune_global(model, sparsity)  # a rounding step short of the target at most; now exact
    for i, p in dropout.items():  # the rates go back: the model is used in eval mode, or pruned further
        model[i].p = p
    zero, total = _zeros(model)
    return history.assign(sparsity=zero / total)


# --------------------------------------------------------------------------- the one-shot curve and the explorer

def one_shot_curve(model: nn.Module, dataset: kdata.Dataset, sparsities=None, progress: bool = False) -> pd.DataFrame:
    """Accuracy of ``model`` pruned once, with no retraining, at each sparsity: global L1
    (:func:`prune_global`) and layer by layer (``l1_unstructured`` at the same sparsity in
    each Linear layer). One row per sparsity; validation and test accuracy (0..1)."""
    from tqdm.auto import tqdm

    sparsities = np.round(np.arange(0, 1.0, 0.01), 2) if sparsities is None else sparsities
    rows = []
    for s in tqdm(sparsities, desc="one-shot pruning curve", disable=not progress):
        g = prune_global(clone(model), float(s))
        lw = clone(model)
        for m, name in prunable(lw):
            prune.l1_unstructured(m, name, amount=float(s))
        rows.append({"sparsity": float(s), "global_val": accuracy(g, dataset.val), "global_test": accuracy(g, dataset.test),
                     "layerwise_val": accuracy(lw, dataset.val), "layerwise_test": accuracy(lw, dataset.test)})
    return pd.DataFrame(rows)


#: The sparsities, in %, that the explorer and its static twin show: the one-shot curve's range.
PERCENT_RANGE = (0, 99)


def _check_percent(percent) -> float:
    """``percent`` as a float, or a ValueError saying the range: the explorer, its slider's
    starting value and the static twin all refuse the same values (nothing is clamped)."""
    lo, hi = PERCENT_RANGE
    if isinstance(percent, bool) or not isinstance(percent, (int, float, np.integer, np.floating)) or not lo <= percent <= hi:
        raise ValueError(f"sparsity is a percentage from {lo} to {hi}, got {percent!r}: 90 prunes 90% of the weights")
    return float(percent)


def _fit_layout(fig) -> None:
    """Margins that leave room for every label of the three panels (the y label at the left edge
    and the last x label at the right edge were cut off with tighter ones)."""
    fig.subplots_adjust(left=0.065, right=0.985, bottom=0.17, top=0.9, wspace=0.36)


class PruningExplorer:
    """A sparsity slider over a trained model's weights (global magnitude pruning, no retraining).

    Three panels, drawn once and moved in place: test accuracy against sparsity (read from a
    precomputed :func:`one_shot_curve`, so a move trains and evaluates nothing), the histogram
    of the weights that survive, and each layer's sparsity. :meth:`state_at` is the arithmetic
    both the live widget and :func:`plot_pruning` use: a global threshold on the sorted
    ``|w|``, then counts by binary search.
    """

    def __init__(self, model: nn.Module, curve: pd.DataFrame, bins: int = 81):
        need = {"sparsity", "global_test"}
        if not need <= set(curve.columns):
            raise ValueError(f"the curve needs columns {sorted(need)}: make it with one_shot_curve()")
        self.curve = curve.sort_values("sparsity").reset_index(drop=True)
        self.layers = [f"{m.in_features}→{m.out_features}" for _, m in linear_layers(model)]
        weights = [m.weight.detach().flatten().numpy().astype(np.float64) for _, m in linear_layers(model)]
        if not weights:
            raise ValueError("the model has no Linear layer to prune")
        self.abs_sorted = np.sort(np.abs(np.concatenate(weights)))
        self.layer_abs = [np.sort(np.abs(w)) for w in weights]
        self.signed = np.sort(np.concatenate(weights))
        lim = float(self.abs_sorted[-1]) * 1.001  # every weight falls in a bin (the log scale shows the tails)
        self.edges = np.linspace(-lim, lim, bins + 1)
        self.counts = np.diff(np.searchsorted(self.signed, self.edges))

    def state_at(self, percent: float) -> dict:
        """What the explorer shows at ``percent`` % sparsity (0 to 99)."""
        percent = _check_percent(percent)
        n = len(self.abs_sorted)
        k = int(round(percent / 100 * n))
        threshold = float(self.abs_sorted[k - 1]) if k else 0.0
        lo, hi = self.edges[:-1], self.edges[1:]
        # weights in [lo, hi) that are also in [-threshold, threshold]: the pruned ones (up to ties in |w|)
        start = np.searchsorted(self.signed, np.maximum(lo, -threshold), side="left")
        stop = np.where(hi <= threshold, np.searchsorted(self.signed, hi, side="left"),
                        np.searchsorted(self.signed, threshold, side="right"))
        pruned_in_bin = np.maximum(stop - start, 0) if k else 0
        surviving = self.counts - pruned_in_bin
        per_layer = [100 * np.searchsorted(a, threshold, side="right") / len(a) if k else 0.0 for a in self.layer_abs]
        idx = int(np.abs(self.curve.sparsity.to_numpy() - percent / 100).argmin())
        return {"percent": float(percent), "threshold": threshold, "kept": n - k, "surviving": surviving,
                "layer_sparsity": per_layer, "test_acc": float(self.curve.global_test.iloc[idx]),
                "curve_sparsity": float(self.curve.sparsity.iloc[idx])}

    def draw(self, axes) -> dict:
        """Draw the three panels once on ``axes`` (three Axes); return the artists that move."""
        ax_acc, ax_hist, ax_layer = axes
        c = self.curve
        ax_acc.plot(100 * c.sparsity, 100 * c.global_test, color=TEACHER, lw=2, label="global (all layers ranked together)")
        if "layerwise_test" in c:
            ax_acc.plot(100 * c.sparsity, 100 * c.layerwise_test, color=SMOOTHED, lw=1.5, ls="--",
                        label="layer by layer (same sparsity in each)")
        ax_acc.set(xlabel="sparsity: weights set to zero (%)", ylabel="test accuracy (%)", ylim=(0, 100), xlim=(0, 100))
        ax_acc.set_title("accuracy, pruned once, no retraining", loc="left")
        ax_acc.legend(loc="lower left", fontsize=10)
        marker, = ax_acc.plot([], [], "o", color=DISTILLED, ms=10, zorder=5)
        vline = ax_acc.axvline(0, color=DISTILLED, lw=1, ls=":")
        label = ax_acc.text(0.03, 0.5, "", transform=ax_acc.transAxes, fontsize=12, fontweight="bold", color=DISTILLED,
                            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none"})
        # One filled step outline per histogram (a single artist to move, not one bar per bin).
        ax_hist.set_yscale("log")
        floor = 0.8
        ax_hist.stairs(np.maximum(self.counts, floor), self.edges, baseline=floor, fill=True, color="#dddddd",
                       label="pruned")
        kept = ax_hist.stairs(np.maximum(self.counts, floor), self.edges, baseline=floor, fill=True, color=TEACHER,
                              label="kept")
        ax_hist.set_ylim(floor, 100 * max(self.counts.max(), 1))  # headroom above the peak for the text and legend
        ax_hist.xaxis.set_major_locator(plt.MaxNLocator(5))
        ax_hist.set(xlabel="weight value", ylabel="weights per bin (log scale)")
        ax_hist.set_title("the weights that survive", loc="left")
        ax_hist.legend(loc="upper right", fontsize=10, handlelength=1.2)
        hist_text = ax_hist.text(0.02, 0.97, "", transform=ax_hist.transAxes, fontsize=10.5, va="top")
        x = np.arange(len(self.layers))
        layer_bars = ax_layer.bar(x, np.zeros(len(x)), color=HARD, width=0.6)
        ax_layer.set_xticks(x, [name.replace("→", "→\n") for name in self.layers])
        ax_layer.set(xlabel="Linear layer (inputs→outputs)", ylabel="sparsity (%)", ylim=(0, 125))
        ax_layer.xaxis.label.set_fontsize(11)
        ax_layer.set_yticks(range(0, 101, 20))
        ax_layer.set_title("each layer's share pruned", loc="left")
        target = ax_layer.axhline(0, color=DISTILLED, lw=1.5, ls="--", label="overall")
        ax_layer.legend(loc="upper left", fontsize=10)
        layer_text = [ax_layer.text(i, 0, "", ha="center", va="bottom", fontsize=11) for i in x]
        return {"marker": marker, "vline": vline, "label": label, "kept": kept, "hist_text": hist_text,
                "layer_bars": layer_bars, "target": target, "layer_text": layer_text}

    @staticmethod
    def move(artists: dict, state: dict) -> None:
        """Move the artists of :meth:`draw` to ``state``, in place."""
        s, acc = state["percent"], 100 * state["test_acc"]
        artists["marker"].set_data([s], [acc])
        artists["vline"].set_xdata([s, s])
        artists["label"].set_text(f"{s:.0f}% pruned\ntest accuracy {acc:.1f}%")
        artists["kept"].set_data(np.maximum(state["surviving"], 0.8))
        artists["hist_text"].set_text(f"kept {state['kept']:,}\nzeroed: |w| ≤ {state['threshold']:.3g}")
        for bar, txt, v in zip(artists["layer_bars"].patches, artists["layer_text"], state["layer_sparsity"]):
            bar.set_height(v)
            inside = v > 15  # inside the bar, clear of the dashed overall line
            txt.set_position((bar.get_x() + bar.get_width() / 2, v - 3 if inside else v + 1))
            txt.set_verticalalignment("top" if inside else "bottom")
            txt.set_color("white" if inside else "black")
            txt.set_text(f"{v:.0f}%")
        artists["target"].set_ydata([s, s])

    def dynamic(self, artists: dict) -> list:
        return ([artists[k] for k in ("marker", "vline", "label", "hist_text", "target", "kept")]
                + list(artists["layer_bars"].patches) + list(artists["layer_text"]))


def pruning_explorer(model: nn.Module, curve: pd.DataFrame, percent: int = 50, figsize=(10.8, 4.4)):
    """Try it: a sparsity slider (0–99%) over ``model``; ``explorer.controls["sparsity"].value = 90``
    moves it like a mouse and ``explorer.state`` holds what it shows."""
    import ipywidgets as w

    from .widgets import Explorer, new_figure

    percent = _check_percent(percent)
    if percent != int(percent):
        raise ValueError(f"the slider moves in whole percents, got {percent!r}: plot_pruning draws any value in [0, 99]")
    view = PruningExplorer(model, curve)
    fig = new_figure(figsize)
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": (1.15, 1.15, 0.85)})
    artists = view.draw(axes)
    _fit_layout(fig)
    slider = w.IntSlider(value=int(percent), min=0, max=int(PERCENT_RANGE[1]), step=1, description="sparsity %",
                         continuous_update=True, layout=w.Layout(width="520px"))

    def update(sparsity):
        state = view.state_at(sparsity)
        view.move(artists, state)
        return state

    explorer = Explorer(fig, {"sparsity": slider}, update, lambda: view.dynamic(artists))
    explorer.pruning, explorer.artists = view, artists
    return explorer


def plot_pruning(model: nn.Module, curve: pd.DataFrame, percent: float = 90, axes=None, figsize=(10.8, 4.4)):
    """The explorer's static twin: the same panels and the same arithmetic at ``percent`` % sparsity."""
    percent = _check_percent(percent)  # before anything is drawn
    fig, axes = subplots(axes, figsize, 1, 3, gridspec_kw={"width_ratios": (1.15, 1.15, 0.85)})
    view = PruningExplorer(model, curve)
    artists = view.draw(axes)
    state = view.state_at(percent)
    view.move(artists, state)
    _fit_layout(fig)
    fig.state = state
    return fig


# --------------------------------------------------------------------------- retraining over seeds

def retrain_runs(seeds=SEEDS, sparsities=SPARSITIES, dataset: kdata.Dataset | None = None, progress: bool = True) -> pd.DataFrame:
    """Every method of :data:`METHODS` at every sparsity, for each seed's dense 2x1200 model.

    One row per (seed, method, sparsity): validation and test accuracy, fine-tuning epochs and
    seconds. Each seed has its own dense model (:func:`dense_teacher`); fine-tuning uses that
    seed too.
    """
    from tqdm.auto import tqdm

    ds = dataset or kdata.load_mnist_subset()
    rows = []
    jobs = [(seed, m, s) for seed in seeds for m in METHODS for s in sparsities]
    bar = tqdm(total=len(jobs), desc="seeds x methods x sparsities", disable=not progress)
    for seed in seeds:
        dense = dense_teacher(seed, ds, progress=progress)
        rows.append({"seed": seed, "method": "dense", "sparsity": 0.0, "val": accuracy(dense, ds.val),
                     "test": accuracy(dense, ds.test), "epochs": 0, "seconds": 0.0})
        for method in METHODS:
            for s in sparsities:
                model = clone(dense)
                seed_everything(seed)
                start = time.perf_counter()
                prune_and_train(model, ds.train, method, s, seed=seed)
                rows.append({"seed": seed, "method": method, "sparsity": s, "val": accuracy(model, ds.val),
                             "test": accuracy(model, ds.test), "epochs": 0 if method == METHODS[0] else FINE_TUNE["epochs"],
                             "seconds": time.perf_counter() - start})
                bar.update(1)
    bar.close()
    return pd.DataFrame(rows)


def retrain_table(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Accuracy in % per method and sparsity: mean, min, max over the seeds."""
    part = runs[runs.method != "dense"]
    g = part.groupby(["method", "sparsity"], sort=False)[split]
    out = pd.DataFrame({"mean": 100 * g.mean(), "min": 100 * g.min(), "max": 100 * g.max(), "seeds": g.size()})
    return out.reset_index()


METHOD_COLOURS = dict(zip(METHODS, (ALONE, SMOOTHED, TEACHER, DISTILLED)))


def plot_retraining(runs: pd.DataFrame, ax=None, figsize=(11, 4.8)):
    """Test accuracy against sparsity, one line per method: the mean over seeds, and a band from
    the worst to the best seed. The dense models' mean is the dotted line."""
    fig, ax = subplots(ax, figsize)
    table = retrain_table(runs)
    positions = {s: i for i, s in enumerate(sorted(table.sparsity.unique()))}
    for method in METHODS:
        part = table[table.method == method].sort_values("sparsity")
        x = part.sparsity.map(positions)
        ax.plot(x, part["mean"], marker="o", color=METHOD_COLOURS[method], lw=2, label=method)
        ax.fill_between(x, part["min"], part["max"], color=METHOD_COLOURS[method], alpha=0.18, lw=0)
    dense = 100 * runs[runs.method == "dense"].test.mean()
    ax.axhline(dense, color=HARD, ls=":", lw=1.5, label=f"dense 2x1200 ({dense:.1f}%)")
    ax.set_xticks(list(positions.values()), [f"{100 * s:g}%" for s in positions])
    ax.set(xlabel="sparsity (share of the Linear weights set to zero)", ylabel="test accuracy (%)")
    ax.set_title(f"Pruning the 2x1200 MLP: mean of {runs.seed.nunique()} seeds (line), worst to best seed (band)", loc="left")
    ax.legend(loc="lower left", fontsize=10)
    fig.tight_layout()
    return fig


def _compare(a_min, a_max, a_mean, b_min, b_max, b_mean) -> str:
    """One word for a against b over seeds: ahead or behind beyond the seed ranges, or on the mean only."""
    if a_min > b_max:
        return "ahead, seed ranges apart"
    if a_max < b_min:
        return "behind, seed ranges apart"
    return "ahead on the mean, ranges overlap" if a_mean > b_mean else "behind on the mean, ranges overlap"


def retrain_comparison(runs: pd.DataFrame, baseline: str = METHODS[1]) -> pd.DataFrame:
    """Each schedule that prunes in steps against pruning at once and fine-tuning, per sparsity:
    the mean difference in points and the computed verdict (:func:`_compare`)."""
    t = retrain_table(runs).set_index(["method", "sparsity"])
    rows = []
    for s in sorted(t.index.levels[1]):
        b = t.loc[(baseline, s)]
        for m in METHODS[2:]:
            a = t.loc[(m, s)]
            rows.append({"sparsity": f"{100 * s:g}%", "method": m, "points against one-shot + fine-tune": a["mean"] - b["mean"],
                         "verdict": _compare(a["min"], a["max"], a["mean"], b["min"], b["max"], b["mean"])})
    return pd.DataFrame(rows)


def retrain_verdicts(runs: pd.DataFrame) -> dict[str, bool]:
    """The claims section 4 makes, each computed from the seed ranges of the table."""
    t = retrain_table(runs).set_index(["method", "sparsity"])
    t.index = t.index.set_levels(np.round(t.index.levels[1], 2), level=1)
    one, ft, it, gr = METHODS
    dense = 100 * runs[runs.method == "dense"].test.mean()
    apart = lambda a, b, s: t.loc[(a, s), "min"] > t.loc[(b, s), "max"]  # noqa: E731
    cmp = retrain_comparison(runs)
    verdict = lambda m: cmp[cmp.method == m].set_index("sparsity").verdict  # noqa: E731
    high = [f"{100 * s:g}%" for s in SPARSITIES if s >= 0.9]
    return {
        "at 80% sparsity, pruning once without retraining costs less than a point": bool(dense - t.loc[(one, 0.8), "mean"] < 1.0),
        "at 95%, pruning once without retraining costs more than 10 points": bool(dense - t.loc[(one, 0.95), "mean"] > 10),
        "at 90%, fine-tuning recovers: every seed beats every seed of one-shot without retraining": bool(apart(ft, one, 0.9)),
        "at 99%, every schedule that retrains beats no retraining, seed ranges apart": bool(
            all(apart(m, one, 0.99) for m in (ft, it, gr))),
        "five rounds of iterative pruning are behind one-shot + fine-tune on the mean at every sparsity from 90% up": bool(
            verdict(it)[high].str.startswith("behind").all()),
        "... and ahead of it at no sparsity, not even on the mean": bool(not verdict(it).str.startswith("ahead").any()),
        "gradual pruning is ahead of one-shot + fine-tune beyond the seed ranges at 98% only": bool(
            verdict(gr)[verdict(gr) == "ahead, seed ranges apart"].index.tolist() == ["98%"]),
        "... ahead on the mean at 95% and 99%, behind at 90% (seed ranges apart)": bool(
            verdict(gr)[["95%", "99%"]].str.startswith("ahead").all() and verdict(gr)["90%"] == "behind, seed ranges apart"),
    }


# --------------------------------------------------------------------------- size on disk, latency, int8

def _checkpoint(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj.state_dict() if isinstance(obj, nn.Module) else obj, buf)
    return buf.getvalue()


def saved_bytes(obj) -> int:
    """Bytes of ``torch.save(obj)``: what a checkpoint file of a model's state_dict (or a dict of tensors) takes."""
    return len(_checkpoint(obj))


def zipped_bytes(obj) -> int:
    """Bytes of the same checkpoint compressed with zlib at its default level (6), as zip and gzip store it."""
    return len(zlib.compress(_checkpoint(obj), 6))


def sparse_state(model: nn.Module) -> dict:
    """The model's state with every Linear weight in compressed sparse row form (values in
    float32, column indices and row pointers in int32): only the non-zero weights are stored.
    (Torch calls its CSR tensors beta and warns so; that one warning is silenced here.)"""
    state = {}
    with _Quiet(_SPARSE_WARNING):
        for key, value in finalize(clone(model)).state_dict().items():
            if key.endswith("weight") and value.dim() == 2:
                csr = value.to_sparse_csr()
                state[key] = torch.sparse_csr_tensor(csr.crow_indices().int(), csr.col_indices().int(), csr.values(),
                                                     size=value.shape, check_invariants=True)
            else:
                state[key] = value
    return state


_QUANT_WARNINGS = ((DeprecationWarning, r"torch\.ao\.quantization is deprecated"),
                   (UserWarning, r"torch\.quantize_per_tensor, torch\.quantize_per_channel and other quantized tensor"))
_SPARSE_WARNING = ((UserWarning, r"Sparse CSR tensor support is in beta state"),)


class _Quiet(warnings.catch_warnings):
    """Silence exactly the warnings named by (category, message regex), inside a ``with`` block."""

    def __init__(self, named):
        super().__init__()
        self.named = named

    def __enter__(self):
        out = super().__enter__()
        for category, message in self.named:
            warnings.filterwarnings("ignore", message=message, category=category)
        return out


def quantize_int8(model: nn.Module) -> nn.Module:
    """Dynamic int8 quantization of every Linear layer (``torch.ao.quantization.quantize_dynamic``).

    Weights are stored as int8 with one scale per tensor; activations are quantized on the
    fly, batch by batch, and the matrix products run in integers. Works on a copy; pruning
    masks are made permanent first. In torch 2.13 the call warns that ``torch.ao.quantization``
    is deprecated (its successor is the separate ``torchao`` package) and that quantized tensor
    types are; exactly those two warnings are silenced here, inside this call only.
    """
    work = finalize(clone(model)).eval()
    with _Quiet(_QUANT_WARNINGS):
        return torch.ao.quantization.quantize_dynamic(work, {nn.Linear}, dtype=torch.qint8)


def disk_table(model: nn.Module, sparsity: float = 0.9) -> pd.DataFrame:
    """Bytes of one model saved six ways: dense; pruned with masks in place; after ``prune.remove``;
    in sparse CSR form; zipped; and int8 (dense and pruned-then-zipped, as Deep Compression does)."""
    dense = clone(model)
    masked = prune_global(clone(model), sparsity)
    removed = finalize(clone(masked))
    q_pruned = quantize_int8(removed)
    rows = {
        "dense, float32": saved_bytes(dense),
        "pruned, masks in place (weight_orig + weight_mask)": saved_bytes(masked),
        "pruned, after prune.remove (zeros stored)": saved_bytes(removed),
        "pruned, sparse CSR (non-zeros + int32 indices)": saved_bytes(sparse_state(removed)),
        "pruned, zipped": zipped_bytes(removed),
        "int8 (dynamic quantization), dense": saved_bytes(quantize_int8(dense)),
        "pruned + int8 + zipped (Deep Compression's order)": zipped_bytes(q_pruned),
    }
    out = pd.DataFrame({"bytes": pd.Series(rows)})
    out["times smaller than dense"] = out.bytes.iloc[0] / out.bytes
    return out.rename_axis(f"the 2x1200 MLP, {100 * sparsity:g}% sparse where pruned")


class SparseLinear(nn.Module):
    """A Linear layer that keeps its weight in CSR form and multiplies with a sparse kernel."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        with _Quiet(_SPARSE_WARNING):
            self.weight = linear.weight.detach().to_sparse_csr()
        self.bias = linear.bias.detach().clone()

    def forward(self, x):
        with _Quiet(_SPARSE_WARNING):
            return (self.weight @ x.t()).t() + self.bias


def sparse_model(model: nn.Sequential) -> nn.Sequential:
    """A copy of a pruned MLP whose Linear layers run as :class:`SparseLinear`."""
    work = finalize(clone(model)).eval()
    return nn.Sequential(*[SparseLinear(m) if isinstance(m, nn.Linear) else m for m in work]).eval()


def latency_table(named_models: dict, in_shape=(1, 28, 28), batch_sizes=(1, 256), rounds: int = 3,
                  repeats: int = 200, threads: int = 1) -> pd.DataFrame:
    """Milliseconds per forward pass of each model at each batch size (:func:`kdnb.evaluation.latencies`:
    the best of ``rounds`` medians, models in turn), and the speed-up against the first model.

    On one thread by default, as an app's inference thread runs: sub-millisecond passes on
    two threads mostly measure how fast the second thread wakes up, which varies from call to
    call on a shared machine. A single image gets ``repeats`` passes per round, a batch 30.
    """
    from .evaluation import latencies

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:  # many repeats of the sub-millisecond single image, fewer of the large batch
        table = pd.concat([latencies(named_models, in_shape, (b,), repeats=repeats if b == 1 else 30, rounds=rounds)
                           for b in batch_sizes], axis=1)
    finally:
        torch.set_num_threads(before)
    for b in batch_sizes:
        col = f"latency, batch {b} (ms)"
        table[f"speed-up, batch {b}"] = table[col].iloc[0] / table[col]
    return table


# --------------------------------------------------------------------------- pruning plus distillation

#: Recovery of a pruned network: the share of the 2x1200's hidden neurons removed (2x300, 2x120,
#: 2x60 remain). Each label regime names how many training images keep their label and what the
#: teacher (the dense network the student is cut from) was trained on: all 3,500 labels, or only the
#: student's labels (the fair control: it cannot hand back labels it never saw).
RECOVERY_FRACTIONS = (0.75, 0.9, 0.95)
ALL_LABELS, SCARCE, SCARCE_FAIR = "all 3,500 labels", "300 labels, teacher saw all 3,500", "300 labels, teacher saw only those 300"
RECOVERY_REGIMES = {ALL_LABELS: {"labels": None, "teacher": "all"},
                    SCARCE: {"labels": 300, "teacher": "all"},
                    SCARCE_FAIR: {"labels": 300, "teacher": "same"}}
#: How the slim network is fine-tuned: cross-entropy on the labels it has; cross-entropy on those
#: labels plus the teacher's argmax for every unlabelled image (hard pseudo-labels); or kd_loss with
#: the teacher's soft targets (T and alpha of the default recipe). With every label there is nothing
#: to pseudo-label, so that regime has the first and the last only.
FINE_TUNINGS = ("hard labels", "teacher's hard pseudo-labels", "teacher's soft targets")
HARD_LABELS, PSEUDO_LABELS, SOFT_TARGETS = FINE_TUNINGS


def fair_teacher_train(n_labelled: int) -> dict:
    """The dense 2x1200's recipe for a teacher that sees only ``n_labelled`` images: the shipped
    teacher's (:data:`kdnb.teachers.TEACHERS`), with the epochs raised so that it takes as many
    optimizer steps as the teacher trained on all 3,500 (40 epochs of 28 batches)."""
    spec = dict(TEACHERS[BASE]["train"])
    full_steps = spec["epochs"] * -(-3500 // spec["batch_size"])
    spec["epochs"] = max(1, round(full_steps / -(-n_labelled // spec["batch_size"])))
    return spec


def fair_dense(seed: int, dataset: kdata.Dataset, labels: torch.Tensor, progress: bool = False) -> nn.Sequential:
    """The dense 2x1200 trained on the labelled images of ``labels`` only (``IGNORE_INDEX`` marks
    the others), with :func:`fair_teacher_train`'s recipe and ``seed``: a teacher that cannot hand
    back labels it never saw. Returned trainable, in eval mode."""
    from .losses import IGNORE_INDEX

    keep = torch.nonzero(labels != IGNORE_INDEX).flatten().numpy()
    spec = dict(fair_teacher_train(len(keep)), seed=seed)
    threads = torch.get_num_threads()
    seed_everything(seed, TEACHERS[BASE].get("threads"))
    try:
        model = models.build(TEACHERS[BASE]["model"], in_shape=dataset.image_shape, num_classes=dataset.num_classes)
        fit(model, dataset.train.subset(keep), None, progress=progress, desc=f"dense 2x1200 on {len(keep)} labels, seed {seed}", **spec)
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def pseudo_labels(teacher: nn.Module, train: kdata.Split) -> torch.Tensor:
    """The labels ``train`` has, and the teacher's argmax (on the un-shifted image) wherever it has none."""
    from .losses import IGNORE_INDEX

    guess = predict_logits(teacher, train.X).argmax(1)
    return torch.where(train.y == IGNORE_INDEX, guess, train.y)


def recovery_runs(seeds=SEEDS, fractions=RECOVERY_FRACTIONS, regimes=None, dataset: kdata.Dataset | None = None,
                  progress: bool = True) -> pd.DataFrame:
    """A student carved out of the teacher: a dense 2x1200 with a share of its hidden neurons
    removed (:func:`prune_neurons`, then :func:`slim`), fine-tuned from the same weights with the
    same budget (:data:`FINE_TUNE`) in each way of :data:`FINE_TUNINGS`. The soft targets come
    from the dense network it was cut from, run on each shifted batch (T and alpha of the default
    recipe); the pseudo-labels are that network's argmax.

    ``regimes`` maps a name to ``{"labels": n or None, "teacher": "all" or "same"}``: ``n``
    training images keep their label (class-balanced, drawn with the seed); the teacher is the
    seed's dense network trained on all labels (:func:`dense_teacher`) or, with ``"same"``, one
    trained on those ``n`` labels only (:func:`fair_dense`). One row per (regime, seed, fraction,
    fine-tuning), with the teacher's test accuracy and how often its argmax is right on the
    unlabelled training images.
    """
    from tqdm.auto import tqdm

    from .losses import IGNORE_INDEX
    from .recipe import labelled_subset

    regimes = RECOVERY_REGIMES if regimes is None else regimes
    ds = dataset or kdata.load_mnist_subset()
    rows = []
    bar = tqdm(total=len(seeds) * len(regimes) * len(fractions), desc="seeds x regimes x fractions", disable=not progress)
    for seed in seeds:
        full = dense_teacher(seed, ds, progress=progress)
        for regime, spec in regimes.items():
            y = labelled_subset(ds.train.y, spec["labels"], seed)
            train = kdata.Split(ds.train.X, y)
            dense = full if spec["teacher"] == "all" else fair_dense(seed, ds, y, progress=progress)
            unlabelled = y == IGNORE_INDEX
            hows = FINE_TUNINGS if bool(unlabelled.any()) else (HARD_LABELS, SOFT_TARGETS)
            pseudo = pseudo_labels(dense, train)
            right = float((pseudo[unlabelled] == ds.train.y[unlabelled]).float().mean()) if bool(unlabelled.any()) else float("nan")
            dense_acc = accuracy(dense, ds.test)
            for f in fractions:
                base = slim(prune_neurons(clone(dense), f))
                adjust_dropout(base, dropout_rates(dense), dense)
                before = accuracy(base, ds.test)
                for how in hows:
                    model = clone(base)
                    seed_everything(seed, threads=None)
                    if how == HARD_LABELS:
                        fit(model, train, seed=seed, progress=False, **FINE_TUNE)
                    elif how == PSEUDO_LABELS:
                        fit(model, kdata.Split(ds.train.X, pseudo), seed=seed, progress=False, **FINE_TUNE)
                    else:
                        distill(model, train, teacher=dense, T=DEFAULT["T"], alpha=DEFAULT["alpha"], seed=seed,
                                progress=False, **FINE_TUNE)
                    rows.append({"regime": regime, "seed": seed, "fraction": f, "hidden": linear_layers(base)[0][1].out_features,
                                 "fine_tune": how, "dense": dense_acc, "pseudo_right": right, "pruned": before,
                                 "val": accuracy(model, ds.val), "test": accuracy(model, ds.test)})
                bar.update(1)
    bar.close()
    return pd.DataFrame(rows)


def recovery_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy in % per regime, width and fine-tuning: mean, min, max over seeds, with the
    slimmed network before fine-tuning and the dense one (the teacher) for reference."""
    g = runs.groupby(["regime", "hidden", "fine_tune"], sort=False)
    out = pd.DataFrame({"dense": 100 * g.dense.mean(), "pruned, no fine-tuning": 100 * g.pruned.mean(),
                        "mean": 100 * g.test.mean(), "min": 100 * g.test.min(), "max": 100 * g.test.max(),
                        "seeds": g.size()})
    return out.reset_index()


def _apart(a: pd.Series, b: pd.Series) -> bool:
    return bool(a.min() > b.max() or b.min() > a.max())


def recovery_gains(runs: pd.DataFrame, against: str = HARD_LABELS, of: str = SOFT_TARGETS) -> pd.DataFrame:
    """``of`` against ``against`` (default: soft targets against hard labels), per regime and
    width: both means, the mean gain in points and whether the two seed ranges are apart."""
    rows = []
    for (regime, h), part in runs.groupby(["regime", "hidden"], sort=False):
        a, b = part[part.fine_tune == against].test * 100, part[part.fine_tune == of].test * 100
        if a.empty or b.empty:
            continue
        rows.append({"regime": regime, "slim model": f"2x{h}", f"{against} (%)": a.mean(), f"{of} (%)": b.mean(),
                     "gain (points)": b.mean() - a.mean(), "seed ranges apart": _apart(a, b)})
    return pd.DataFrame(rows)


def _span(values) -> str:
    v = pd.Series(values, dtype=float)
    return f"{v.mean():+.1f} [{v.min():+.1f}, {v.max():+.1f}]"


def recovery_split(runs: pd.DataFrame) -> pd.DataFrame:
    """Where the scarce-label gain of soft targets over hard labels comes from, per width, as
    paired differences in points (same seed, same labelled images, same starting weights):
    mean [min, max] over seeds.

    * **the unlabelled images, with the teacher's hard labels**: pseudo-labels minus hard labels;
    * **softness on top**: soft targets minus pseudo-labels;
    * **total**: soft targets minus hard labels;

    for each teacher, and **the teacher's labels**: soft targets from the teacher that saw all
    3,500 labels minus those from the one that saw only the student's 300 (its weights, the
    student's starting point, came from 300 labels too).
    """
    t = (runs.set_index(["regime", "hidden", "fine_tune", "seed"]).test * 100).sort_index()
    rows = []
    for h in sorted(runs.hidden.unique(), reverse=True):
        row = {"slim model": f"2x{h}"}
        for regime, short in ((SCARCE, "teacher saw all labels"), (SCARCE_FAIR, "teacher saw 300")):
            hard, pseudo, soft = (t.loc[(regime, h, how)] for how in FINE_TUNINGS)
            row[f"{short}: unlabelled images, hard pseudo-labels"] = _span(pseudo - hard)
            row[f"{short}: softness on top"] = _span(soft - pseudo)
            row[f"{short}: total"] = _span(soft - hard)
        row["the teacher's extra labels (soft targets)"] = _span(t.loc[(SCARCE, h, SOFT_TARGETS)] - t.loc[(SCARCE_FAIR, h, SOFT_TARGETS)])
        rows.append(row)
    return pd.DataFrame(rows).set_index("slim model").T


def recovery_verdicts(runs: pd.DataFrame) -> dict[str, bool]:
    """The claims section 7 makes, each computed from the seed ranges of the table (and, for the
    teacher's labels, from the paired differences seed by seed)."""
    def gains(of, against, regime):
        g = recovery_gains(runs, against=against, of=of)
        return g[g.regime == regime]

    every = lambda g, sign: bool(len(g) and (sign * g["gain (points)"] > 0).all())  # noqa: E731
    soft_all = gains(SOFT_TARGETS, HARD_LABELS, ALL_LABELS)
    pseudo_full = gains(PSEUDO_LABELS, HARD_LABELS, SCARCE)
    soft_vs_pseudo_full = gains(SOFT_TARGETS, PSEUDO_LABELS, SCARCE)
    soft_fair = gains(SOFT_TARGETS, HARD_LABELS, SCARCE_FAIR)
    pseudo_vs_soft_fair = gains(PSEUDO_LABELS, SOFT_TARGETS, SCARCE_FAIR)
    t = (runs.set_index(["regime", "hidden", "fine_tune", "seed"]).test).sort_index()
    extra = [t.loc[(SCARCE, h, SOFT_TARGETS)] - t.loc[(SCARCE_FAIR, h, SOFT_TARGETS)] for h in runs.hidden.unique()]
    return {
        "all 3,500 labels: soft targets are worse than hard labels at every width, seed ranges apart":
            every(soft_all, -1) and bool(soft_all["seed ranges apart"].all()),
        "300 labels, teacher saw all: its hard pseudo-labels beat the 300 hard labels at every width, seed ranges apart":
            every(pseudo_full, 1) and bool(pseudo_full["seed ranges apart"].all()),
        "... and soft targets are behind those pseudo-labels at every width (seed ranges apart at the two narrower)":
            every(soft_vs_pseudo_full, -1) and soft_vs_pseudo_full["seed ranges apart"].tolist() == [False, True, True],
        "300 labels, teacher saw only those 300: soft targets ahead of hard labels on the mean at every width, ranges apart at none":
            every(soft_fair, 1) and not bool(soft_fair["seed ranges apart"].any()),
        "... and its hard pseudo-labels ahead of its soft targets at the two narrower widths, seed ranges apart":
            pseudo_vs_soft_fair["seed ranges apart"].tolist() == [False, True, True] and every(pseudo_vs_soft_fair.iloc[1:], 1),
        "soft targets from the teacher that saw all the labels beat those from the fair one in every seed at every width":
            all(bool((d > 0).all()) for d in extra),
        "with the fair teacher, the gains of pseudo-labels and of soft targets over hard labels are both smaller (mean) at every width":
            bool((gains(PSEUDO_LABELS, HARD_LABELS, SCARCE_FAIR)["gain (points)"].to_numpy() < pseudo_full["gain (points)"].to_numpy()).all()
                 and (soft_fair["gain (points)"].to_numpy() < gains(SOFT_TARGETS, HARD_LABELS, SCARCE)["gain (points)"].to_numpy()).all()),
    }


def recovery_teachers(runs: pd.DataFrame) -> pd.DataFrame:
    """Per regime, the teacher's test accuracy and how often its argmax is right on the
    training images that have no label (the pseudo-labels), in %: mean [min, max] over seeds."""
    per_seed = runs.drop_duplicates(["regime", "seed"])
    out = {}
    for regime, part in per_seed.groupby("regime", sort=False):
        out[regime] = {"teacher's test accuracy (%)": _range(100 * part.dense),
                       "its argmax right on the unlabelled images (%)": _range(100 * part.pseudo_right)}
    return pd.DataFrame(out).T


def _range(values) -> str:
    v = pd.Series(values, dtype=float).dropna()
    return "no unlabelled images" if v.empty else f"{v.mean():.1f} [{v.min():.1f}, {v.max():.1f}]"


def plot_recovery(runs: pd.DataFrame, axes=None, figsize=(10.8, 4.8)):
    """One panel per label regime: the slimmed network's test accuracy at each width, before
    fine-tuning and after each fine-tuning (mean line, worst-to-best-seed band). The legend sits
    below the panels, clear of every curve."""
    regimes = list(dict.fromkeys(runs.regime))
    fig, axes = subplots(axes, figsize, 1, len(regimes), sharey=True)
    axes = np.atleast_1d(axes)
    table = recovery_table(runs)
    colours = dict(zip(FINE_TUNINGS, (ALONE, SMOOTHED, DISTILLED)))
    for ax, regime in zip(axes, regimes):
        part = table[table.regime == regime]
        widths = sorted(part.hidden.unique(), reverse=True)
        pos = {h: i for i, h in enumerate(widths)}
        before = part.drop_duplicates("hidden").sort_values("hidden", ascending=False)
        ax.plot([pos[h] for h in before.hidden], before["pruned, no fine-tuning"], marker="o", color=HARD, ls=":",
                label="cut out, no fine-tuning")
        for how in FINE_TUNINGS:
            p = part[part.fine_tune == how].sort_values("hidden", ascending=False)
            if p.empty:
                continue
            x = [pos[h] for h in p.hidden]
            ax.plot(x, p["mean"], marker="o", color=colours[how], lw=2, label=f"fine-tuned on {how}")
            ax.fill_between(x, p["min"], p["max"], color=colours[how], alpha=0.2, lw=0)
        ax.axhline(before.dense.mean(), color=TEACHER, lw=1, ls="--", label="the dense 2x1200 it was cut from (the teacher)")
        ax.set_xticks(range(len(widths)), [f"2x{h}" for h in widths])
        ax.set_xlabel("hidden neurons kept (slim model)")
        ax.set_title(regime.replace(", ", ",\n"), loc="left", fontsize=11)
    axes[0].set_ylabel("test accuracy (%)")
    handles = {}
    for ax in axes:
        for hnd, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, hnd)
    fig.suptitle(f"Recovering a structurally pruned 2x1200: {runs.seed.nunique()} seeds (line: mean, band: worst to best)",
                 x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=3, fontsize=10, frameon=False)
    return fig


# --------------------------------------------------------------------------- the compression table

ROWS = {
    "teacher": "teacher (MLP 2x1200)",
    "alone": "student alone (MLP 1x100)",
    "distilled": "student distilled (MLP 1x100)",
    "unstructured": "teacher, 90% of weights pruned",
    "structured": "teacher, 75% of neurons pruned (2x300)",
    "int8": "teacher, int8",
    "all three": "student distilled, pruned to 1x50, int8",
}
#: The compression rows' settings: how much each pruning removes.
COMPRESSION = {"unstructured": 0.9, "structured": 0.75, "student_neurons": 0.5}
#: Fine-tuning of the slimmed student on cached soft targets: the default recipe's batch, a sixth of its epochs.
STUDENT_TUNE = {"epochs": 10, "lr": 1e-3, "batch_size": 256}


def best_method(runs: pd.DataFrame, sparsity: float = COMPRESSION["unstructured"]) -> str:
    """The retraining method with the best mean **validation** accuracy at ``sparsity`` (ties: the simpler one)."""
    part = runs[(runs.method.isin(METHODS[1:])) & (np.isclose(runs.sparsity, sparsity))]
    if part.empty:
        raise ValueError(f"no retraining runs at sparsity {sparsity}")
    means = part.groupby("method").val.mean().reindex([m for m in METHODS[1:] if m in set(part.method)])
    return str(means.idxmax())


def compression_models(seed: int = 0, dataset: kdata.Dataset | None = None, method: str = METHODS[3],
                       teacher_logits: torch.Tensor | None = None, unstructured: nn.Module | None = None,
                       progress: bool = False) -> dict[str, nn.Module]:
    """The models of the compression table for one seed, keyed like :data:`ROWS`.

    * the dense 2x1200 (:func:`dense_teacher`); the default recipe's 1x100 student, alone and
      distilled from the shipped teacher (:func:`kdnb.recipe.train_pair`);
    * the 2x1200 pruned to 90% sparsity with ``method`` while fine-tuning (:data:`FINE_TUNE`),
      then ``prune.remove``;
    * the 2x1200 with 75% of its hidden neurons removed (L2 norm), rebuilt slim by :func:`slim`
      and fine-tuned with the same budget;
    * the 2x1200 in int8 (:func:`quantize_int8`);
    * the distilled student with half its neurons removed, slimmed, fine-tuned on the teacher's
      soft targets (:data:`STUDENT_TUNE`), then int8.

    Pass ``unstructured`` (the 2x1200 already pruned to 90% with ``method`` for this seed) to
    reuse it instead of fine-tuning it again.
    """
    if unstructured is not None:
        unstructured = clone(unstructured)
        zero, total = _zeros(unstructured)
        if abs(zero / total - COMPRESSION["unstructured"]) > 1e-3:
            raise ValueError(f"the unstructured model passed is {zero / total:.1%} sparse, not {COMPRESSION['unstructured']:.0%}")
    ds = dataset or kdata.load_mnist_subset()
    logits = predict_logits(load_teacher(BASE), ds.train.X) if teacher_logits is None else teacher_logits
    dense = dense_teacher(seed, ds, progress=progress)
    alone, distilled, spec = train_pair("default", seed, ds, logits, progress=progress)
    if unstructured is None:
        unstructured = clone(dense)
        prune_and_train(unstructured, ds.train, method, COMPRESSION["unstructured"], seed=seed, progress=progress)
    finalize(unstructured).eval()
    structured = slim(prune_neurons(clone(dense), COMPRESSION["structured"]))
    adjust_dropout(structured, dropout_rates(dense), dense)
    seed_everything(seed, threads=None)
    fit(structured, ds.train, seed=seed, progress=progress, desc="structured, fine-tune", **FINE_TUNE)
    small = slim(prune_neurons(clone(distilled), COMPRESSION["student_neurons"]))
    seed_everything(seed, threads=None)
    distill(small, ds.train, teacher_logits=logits, T=spec["T"], alpha=spec["alpha"], seed=seed, progress=progress,
            desc="student, pruned, fine-tune", **STUDENT_TUNE)
    out = {"teacher": dense.eval(), "alone": alone.eval(), "distilled": distilled.eval(), "unstructured": unstructured,
           "structured": structured.eval(), "int8": quantize_int8(dense), "all three": quantize_int8(small.eval())}
    return {ROWS[k]: m for k, m in out.items()}


def compression_runs(seeds=SEEDS, dataset: kdata.Dataset | None = None, method: str | None = None,
                     progress: bool = True) -> pd.DataFrame:
    """Test and validation accuracy of every row of the compression table, one row per (seed, model)."""
    from tqdm.auto import tqdm

    from . import results

    ds = dataset or kdata.load_mnist_subset()
    method = method or best_method(results.read("pruning_retrain"))
    logits = predict_logits(load_teacher(BASE), ds.train.X)
    rows = []
    for seed in tqdm(seeds, desc="seeds", disable=not progress):
        for name, model in compression_models(seed, ds, method, logits).items():
            rows.append({"seed": seed, "model": name, "method": method, "val": accuracy(model, ds.val),
                         "test": accuracy(model, ds.test)})
    return pd.DataFrame(rows)


def compression_table(runs: pd.DataFrame, live: dict[str, nn.Module], timing: bool = True) -> pd.DataFrame:
    """The compression table: accuracy over seeds (from ``runs``), and, measured on the ``live``
    models (one seed), parameters, non-zero parameters, bytes on disk, zipped bytes, latency at
    batch 1 and 256, and every ratio against the first row (the teacher)."""
    order = list(live)
    g = runs.groupby("model").test
    out = pd.DataFrame({"accuracy (%)": 100 * g.mean(), "min": 100 * g.min(), "max": 100 * g.max()}).reindex(order)
    out["parameters"] = [weight_count(m) for m in live.values()]
    out["non-zero"] = [nonzero_params(m) for m in live.values()]
    out["bytes on disk"] = [saved_bytes(m) for m in live.values()]
    out["times smaller"] = out["bytes on disk"].iloc[0] / out["bytes on disk"]
    if timing:
        out["zipped bytes"] = [zipped_bytes(m) for m in live.values()]
        times = latency_table(live)
        for b in (1, 256):
            out[f"ms, batch {b}"] = times[f"latency, batch {b} (ms)"].to_numpy()
            out[f"speed-up, batch {b}"] = times[f"speed-up, batch {b}"].to_numpy()
    return out.rename_axis("model")


def backend_runs(rounds: int = 3) -> pd.DataFrame:
    """int8 on this CPU, two ways: ``torch.ao.quantization.quantize_dynamic`` and the ``torchao``
    package (int8 weight-only, and int8 dynamic activations with int8 weights), against float32,
    on the shipped 2x1200 teacher with one thread. Needs ``pip install torchao``; not a
    dependency of the workbook (see notebook 06, section 6)."""
    try:
        import torchao  # noqa: F401
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, Int8WeightOnlyConfig, quantize_
    except ImportError as exc:
        raise SystemExit(f"this measurement needs torchao ({exc}); `pip install torchao`, run it, uninstall it") from exc
    ds = kdata.load_mnist_subset()
    teacher = load_teacher(BASE)
    named = {"float32": teacher, "torch.ao quantize_dynamic (int8)": quantize_int8(teacher)}
    for label, config in (("torchao int8 weight-only", Int8WeightOnlyConfig()),
                          ("torchao int8 dynamic activations + int8 weights", Int8DynamicActivationInt8WeightConfig())):
        m = clone(teacher)
        quantize_(m, config)
        named[label] = m
    table = latency_table(named, rounds=rounds)  # one thread
    ref = predict_logits(teacher, ds.test.X)
    table["bytes on disk"] = [saved_bytes(m) for m in named.values()]
    table["max |logit difference|"] = [float((predict_logits(m, ds.test.X) - ref).abs().max()) for m in named.values()]
    table["test accuracy (%)"] = [100 * accuracy(m, ds.test) for m in named.values()]
    table["versions"] = f"torch {torch.__version__.split('+')[0]}, torchao {torchao.__version__}"
    return table.reset_index()


def backend_verdicts(table: pd.DataFrame, tolerance: float = 0.1) -> pd.DataFrame:
    """Each int8 backend of :func:`backend_runs`'s table against float32 (its first row), per batch
    size: the speed-up and one word, "faster", "slower" or "as fast" (within ``tolerance``)."""
    t = table.set_index("model") if "model" in table.columns else table
    rows = {}
    for name in t.index[1:]:
        row = {}
        for b in (1, 256):
            r = float(t.loc[name, f"speed-up, batch {b}"])
            word = "as fast" if abs(r - 1) <= tolerance else ("faster" if r > 1 else "slower")
            row[f"batch {b}"] = f"{word} ({r:.2g}x)"
        rows[name] = row
    return pd.DataFrame(rows).T.rename_axis("against float32, one thread")


# --------------------------------------------------------------------------- exercises

def _row_mask_cases() -> list[tuple[torch.Tensor, float]]:
    """The problems Check yourself 3.1 runs: (weight, amount) pairs.

    The first is built so that the L1, L2 and largest-weight (L∞) rankings of its rows all pick
    different rows: four flat rows (nine weights near ±0.3: L1 ≈ 2.7, L2 ≈ 0.9, L∞ ≈ 0.3), four
    spiky ones (one weight near ±1: L1 ≈ L2 ≈ L∞ ≈ 1) and four with two weights near ±0.6
    (L1 ≈ 1.2, L2 ≈ 0.85, L∞ ≈ 0.6), signs mixed and rows shuffled. The others are random rows of
    different scales and sparsities, with the edges: nothing pruned (amount 0, or one row and a
    small amount), every row pruned (amount 1), and amounts where ``round`` and ``int`` differ.
    """
    g = torch.Generator().manual_seed(6)
    sign = lambda *shape: torch.where(torch.rand(*shape, generator=g) < 0.5, -1.0, 1.0)  # noqa: E731
    w = torch.zeros(12, 9)
    for i in range(4):
        w[i] = (0.3 + 0.01 * i + 0.001 * torch.arange(9)) * sign(9)
        w[4 + i, (2 * i) % 9] = (1.0 + 0.03 * i) * sign(1)
        w[8 + i, i % 9], w[8 + i, (i + 4) % 9] = (0.6 + 0.01 * i) * sign(1), (0.6 - 0.01 * i) * sign(1)
    cases = [(w[torch.randperm(12, generator=g)], 1 / 3)]

    def random_rows(rows, cols):
        scale = torch.exp(torch.randn(rows, 1, generator=g))
        keep = torch.rand(rows, cols, generator=g) < torch.rand(rows, 1, generator=g).clamp(0.15, 1)
        keep[torch.arange(rows), torch.randint(cols, (rows,), generator=g)] = True  # no all-zero row (no ties)
        return torch.randn(rows, cols, generator=g) * scale * keep

    for rows, cols, amount in ((12, 7, 0.3), (20, 16, 0.9), (7, 5, 0.5), (10, 3, 0.0), (1, 6, 0.3), (6, 4, 1.0), (30, 12, 0.62)):
        cases.append((random_rows(rows, cols), amount))
    return cases


def _library_row_mask(w: torch.Tensor, amount: float, n: float = 2, largest_out: bool = False) -> torch.Tensor:
    """The mask ``prune.ln_structured(layer, "weight", amount, n=n, dim=0)`` makes for weight ``w``
    (with ``largest_out``, the opposite choice: the largest rows removed)."""
    if largest_out:
        keep = torch.ones(w.shape[0], dtype=torch.bool)
        keep[torch.topk(torch.linalg.vector_norm(w, n, dim=1), int(round(amount * w.shape[0])), largest=True).indices] = False
        return keep[:, None].expand_as(w)
    layer = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        layer.weight.copy_(w)
    prune.ln_structured(layer, "weight", amount=amount, n=n, dim=0)
    return layer.weight_mask.bool()


def _as_mask(got, shape) -> tuple[torch.Tensor | None, str | None]:
    """The reader's mask as a bool tensor, or a sentence saying why it is not one."""
    if isinstance(got, np.ndarray):
        got = torch.from_numpy(got)
    if not isinstance(got, torch.Tensor):
        return None, f"return a tensor (a mask), got {type(got).__name__}"
    if tuple(got.shape) != tuple(shape):
        if tuple(got.shape) == (shape[0],):
            return None, "that is one flag per row: expand it to the weight's shape, e.g. keep[:, None].expand_as(weight)"
        return None, f"the mask must have the weight's shape {tuple(shape)}, got {tuple(got.shape)}"
    if got.dtype != torch.bool:
        if got.is_complex() or not bool(((got == 0) | (got == 1)).all()):
            return None, "a mask holds only True/False (or 1/0): True where a weight stays"
        got = got != 0
    return got, None


def check_row_mask(row_mask) -> Verdict:
    """Check yourself 3.1: ``row_mask(weight, amount)`` keeps the rows (neurons) with the largest L2 norm.

    Runs the reader's function on every problem of :func:`_row_mask_cases` and compares its mask
    with ``prune.ln_structured``'s; the first difference is named (L1 or L∞ ranking, the mask
    inverted, columns instead of rows, partial rows, how many rows, the weight changed in place).
    A bool mask or a 0/1 tensor or NumPy array of the weight's shape is accepted.
    """

    def diagnose(fn):
        for w, amount in _row_mask_cases():
            given = w.clone()
            got, problem = _as_mask(fn(given, amount), w.shape)
            if not torch.equal(given, w):
                return "your function changed the weight it was given (an in-place operation): compute the norms on it, don't modify it"
            if problem:
                return problem
            right = _library_row_mask(w, amount)
            if torch.equal(got, right):
                continue
            rows, k = w.shape[0], int(round(amount * w.shape[0]))
            where = f"on a {rows}x{w.shape[1]} weight with amount={amount:.3g}"
            if torch.equal(got, _library_row_mask(w, amount, n=1)):
                return f"{where}: you ranked the rows by their L1 norm (sum of |w|); the question asks for L2 (sqrt of the sum of squares)"
            if torch.equal(got, _library_row_mask(w, amount, n=float("inf"))):
                return (f"{where}: you ranked the rows by their largest |w| (the L∞ norm); the question asks for L2, "
                        "which counts every weight of the row")
            if torch.equal(got, ~right):
                return f"{where}: you kept the rows to remove: the mask is True where a weight stays, so the smallest rows get False"
            if torch.equal(got, _library_row_mask(w, amount, largest_out=True)):
                return f"{where}: you removed the rows with the largest L2 norm; pruning removes the smallest"
            col_keep = torch.ones(w.shape[1], dtype=torch.bool)
            col_keep[torch.topk(w.norm(p=2, dim=0), int(round(amount * w.shape[1])), largest=False).indices] = False
            if torch.equal(got, col_keep[None, :].expand_as(w)):
                return f"{where}: you removed columns (inputs); a neuron is a row of the weight (dim=0)"
            if not bool(((~got).all(dim=1) | got.all(dim=1)).all()):
                return f"{where}: some rows are only partly masked: structured pruning removes whole rows"
            off = int((~got).all(dim=1).sum())
            if off != k:
                hint = " (int() rounds down; use round(), as prune does)" if off == int(amount * rows) else ""
                return f"{where}: your mask removes {off} rows; round(amount * rows) = {k}{hint}"
            return f"{where}: the right number of whole rows, but not the ones with the smallest L2 norm"
        return None

    return check("Check yourself 3.1", row_mask, diagnose,
                 todo="write row_mask(weight, amount): a boolean mask of weight's shape, False on the rows to remove",
                 praise="the same mask as prune.ln_structured(layer, 'weight', amount, n=2, dim=0) on every test weight")


def _schedule_cases() -> list[tuple[float, int, list[int]]]:
    """The problems Check yourself 4.1 runs: (s_final, n, steps). The first is the prompt's
    (0.9, 100); the others vary both arguments, with the edges n = 1, s_final = 0 and an n
    that does not divide evenly, and each has steps 0, 1, n - 1, n, n + 1, 2n and random ones."""
    rng = np.random.default_rng(41)
    cases = []
    for s_f, n in ((0.9, 100), (0.5, 7), (0.97, 1000), (0.3, 1), (0.0, 10), (0.8, 33)):
        steps = sorted({0, 1, max(n - 1, 0), n, n + 1, 2 * n, n // 2, *rng.integers(0, 2 * n + 1, 6).tolist()})
        cases.append((s_f, n, steps))
    return cases


def check_cubic_schedule(zhu_gupta) -> Verdict:
    """Check yourself 4.1: the gradual schedule ``s_t = s_f (1 - (1 - t/n)^3)`` for ``t <= n``, then ``s_f``.

    Runs the reader's function on several ``(s_final, n)`` (:func:`_schedule_cases`), so a
    function written for one of them fails; any numeric type is accepted (int, float, NumPy
    scalar, one-element tensor).
    """
    from .exercises import as_number, close

    def cubic(t, s_f, n):
        return s_f * (1 - (1 - min(t, n) / n) ** 3)

    def diagnose(fn):
        for case, (s_f, n, steps) in enumerate(_schedule_cases()):
            got = []
            for t in steps:
                value = as_number(fn(t, s_f, n))
                if value is None:
                    return f"return a number (the target sparsity after step {t}), got {type(fn(t, s_f, n)).__name__}"
                got.append(value)
            right = [cubic(t, s_f, n) for t in steps]
            if all(close(a, b) for a, b in zip(got, right)):
                continue
            where = f"with s_final={s_f}, n={n}"
            if case and _fits_first(fn, cubic):
                return f"right for s_final=0.9, n=100 but not {where}: use the arguments s_final and n, not fixed numbers"
            if not close(got[0], 0):
                return f"{where}: at step 0 nothing is pruned yet (s_i = 0); yours gives {got[0]:.3g}"
            at_n = got[steps.index(n)]
            if not close(at_n, s_f):
                if close(at_n, 100 * s_f):
                    return f"{where}: a sparsity is a fraction like s_final, not a percentage"
                return f"{where}: at step n the sparsity reaches s_final = {s_f}; yours gives {at_n:.3g}"
            if any(not close(g_, s_f) for t, g_ in zip(steps, got) if t > n):
                return f"{where}: after step n the sparsity stays at s_final: clamp t to n"
            inside = [(t, g_, r) for t, g_, r in zip(steps, got, right) if 0 < t < n]
            if inside and all(close(g_, s_f * t / n) for t, g_, _ in inside):
                return "that is a straight line; Zhu & Gupta prune fast early and slowly near the end (a cubic)"
            if inside and all(g_ < r for _, g_, r in inside):
                return ("your schedule prunes more slowly early on than Zhu & Gupta's; theirs cuts fast first: "
                        "s_f * (1 - (1 - t/n)**3)")
            return f"{where}: close, but not s_f * (1 - (1 - t/n)**3) at every step; check the formula"
        return None

    return check("Check yourself 4.1", zhu_gupta, diagnose,
                 todo="write zhu_gupta(t, s_final, n): the target sparsity after step t",
                 praise="fast while many weights are redundant, slow as the network gets thin, then held")


def _fits_first(fn, cubic) -> bool:
    from .exercises import as_number, close

    s_f, n, steps = _schedule_cases()[0]
    return all(close(as_number(fn(t, s_f, n)) or 0.0, cubic(t, s_f, n)) for t in steps)


#: Check yourself 8.1's budget: the most test accuracy (points, mean over seeds) the app may lose
#: against the teacher. On the shipped table it leaves the distilled student out, and within it
#: the fewest non-zero weights and the fewest bytes are different rows, so the trap can fire.
PHONE_BUDGET = 1.0


def phone_rows(table: pd.DataFrame, max_loss: float = PHONE_BUDGET) -> dict[str, str]:
    """The rows of the compression table within ``max_loss`` points of the teacher (the first
    row), and among them the one with the fewest bytes on disk and the one with the fewest
    non-zero weights: ``{"fewest bytes": row, "fewest non-zero": row}``."""
    ok = table[table["accuracy (%)"].iloc[0] - table["accuracy (%)"] <= max_loss]
    return {"fewest bytes": str(ok["bytes on disk"].idxmin()), "fewest non-zero": str(ok["non-zero"].idxmin())}


def check_phone_choice(choice, table: pd.DataFrame, max_loss: float = PHONE_BUDGET) -> Verdict:
    """Check yourself 8.1: the smallest file (bytes on disk) that loses at most ``max_loss``
    points of mean test accuracy against the teacher (the table's first row). The row's name
    may differ from the index in case and surrounding spaces."""
    ref = table["accuracy (%)"].iloc[0]
    answer = phone_rows(table, max_loss)["fewest bytes"]
    names = {str(n).strip().lower(): n for n in table.index}

    def diagnose(name):
        if not isinstance(name, str):
            return f"set phone_row to a row's name (a string), got {type(name).__name__}"
        name = names.get(name.strip().lower())
        if name is None:
            return f"{choice!r} is not a row of the table; copy a name from its index"
        if name == answer:
            return None
        lost = ref - table.loc[name, "accuracy (%)"]
        if lost > max_loss:
            return f"that row loses {lost:.1f} points against the teacher, more than the {max_loss:g} allowed"
        if table.loc[name, "non-zero"] < table.loc[answer, "non-zero"] and table.loc[name, "bytes on disk"] > table.loc[answer, "bytes on disk"]:
            return ("fewest non-zero weights is not fewest bytes: after prune.remove the zeros are still stored, "
                    "so compare the 'bytes on disk' column")
        return "within the accuracy budget, but another row within it takes fewer bytes on disk"

    return check("Check yourself 8.1", choice, diagnose, todo="set phone_row to the name of one row of the table",
                 praise="the smallest file within the accuracy budget")


# --------------------------------------------------------------------------- the script

PARTS = {"curve": "pruning_curve", "retrain": "pruning_retrain", "recovery": "pruning_recovery",
         "compression": "pruning_compression", "latency": "pruning_latency", "backends": "pruning_backends"}


def latency_runs(dataset: kdata.Dataset | None = None, progress: bool = True) -> pd.DataFrame:
    """Zipped bytes and latency (one thread, batch 1 and 256) of the compression table's seed-0
    models, rebuilt as :func:`compression_models` makes them: the one measurement that the
    README quotes and notebook 06 shows beside the sizes (its own live timings vary by run)."""
    from . import results

    ds = dataset or kdata.load_mnist_subset()
    runs = results.read("pruning_compression")
    live = compression_models(0, ds, str(runs.method.iloc[0]), progress=progress)
    table = compression_table(runs, live)
    cols = ["zipped bytes", "ms, batch 1", "ms, batch 256", "speed-up, batch 1", "speed-up, batch 256"]
    return table[cols].reset_index().assign(threads=1, torch=torch.__version__.split("+")[0])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.nb06_pruning_and_compression",
                                     description="precompute notebook 06's tables into data/results/")
    parser.add_argument("parts", nargs="+", choices=list(PARTS),
                        help="curve: the one-shot pruning curve; retrain: the four retraining methods over seeds; "
                             "recovery: a pruned student fine-tuned on labels or soft targets; compression: the "
                             "compression table's accuracies (after retrain); latency: its seed-0 models' latency "
                             "(after compression); backends: int8 with torchao (needs it)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    from . import results

    seed_everything(0, args.threads)
    ds = kdata.load_mnist_subset()
    for part in args.parts:
        start = time.perf_counter()
        if part == "curve":
            table = one_shot_curve(load_teacher(BASE), ds, progress=True)
        elif part == "retrain":
            table = retrain_runs(args.seeds, dataset=ds)
        elif part == "recovery":
            table = recovery_runs(args.seeds, dataset=ds)
        elif part == "compression":
            table = compression_runs(args.seeds, dataset=ds)
        elif part == "latency":
            table = latency_runs(ds)
        else:
            table = backend_runs()
        results.write(table, PARTS[part])
        print(f"{part}: {len(table)} rows -> data/results/{PARTS[part]}.csv ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
