"""Pruning mechanics with :mod:`torch.nn.utils.prune`: global and structured pruning, what a pruned
layer holds, the L1/L2 trap (004-2), and :func:`slim`, which rebuilds a smaller dense MLP from
structured masks (the only pruning here that makes a model faster)."""

from __future__ import annotations

import copy

import pandas as pd
import torch
from torch import nn
from torch.nn.utils import prune

from ..i18n import _
from ..verdicts import Verdicts
from .shown import Shown


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
            for name in [k[:-5] for k, _b in m.named_buffers(recurse=False) if k.endswith("_mask")]:
                setattr(m, name, getattr(m, name).detach())
    return copy.deepcopy(model)


def prunable(model: nn.Module) -> list[tuple[nn.Linear, str]]:
    """``(module, "weight")`` for every Linear layer: what the pruning calls take. Biases are kept."""
    return [(m, "weight") for _, m in linear_layers(model)]


def check_fraction(value, what: str) -> float:
    """``value`` as a float in [0, 1), or a ValueError that says what the fraction means."""
    value = float(value)
    if not 0.0 <= value < 1.0:  # NaN fails this too
        raise ValueError(f"{what} is a fraction in [0, 1), got {value!r}: 0.9 prunes 90% of the weights")
    return value


def zeros(model: nn.Module) -> tuple[int, int]:
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
    sparsity = check_fraction(sparsity, "sparsity")
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
    fraction = check_fraction(fraction, "fraction of neurons")
    for m, _name in prunable(model)[:-1]:
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
    return Shown(pd.DataFrame(rows).set_index("name"))


def sparsity_table(model: nn.Module) -> pd.DataFrame:
    """Per Linear layer: shape, weights, how many are zero, and the sparsity in %."""
    rows = {}
    for name, m in linear_layers(model):
        w = m.weight
        zero = int((w == 0).sum())
        rows[f"Linear {m.in_features}→{m.out_features}"] = {
            "weights": w.numel(), "zero": zero, "sparsity (%)": 100 * zero / w.numel()}
    out = pd.DataFrame(rows).T
    zero, total = zeros(model)
    out.loc["all Linear weights"] = {"weights": total, "zero": zero, "sparsity (%)": 100 * zero / total}
    return Shown(out.astype({"weights": int, "zero": int}))


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


def nonzero_params(model: nn.Module) -> int:
    """Parameters that are not zero (weights and biases; the int8 model's packed weights too)."""
    return sum(int((t != 0).sum()) for t in _weights_and_biases(model))


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
        self.amount = check_fraction(amount, "amount")

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
    pairs = {
        "single weights (unstructured)": (_mask(layer, prune.l1_unstructured, amount=amount),
                                          _mask(layer, L2Unstructured.apply, amount=amount)),
        "whole neurons (rows, ln_structured)": (_mask(layer, prune.ln_structured, amount=amount, n=1, dim=0),
                                                _mask(layer, prune.ln_structured, amount=amount, n=2, dim=0)),
    }
    out = {name: {"pruned by L1": int((~a).sum()), "pruned by L2": int((~b).sum()),
                  "weights where the masks differ": int((a != b).sum()), "identical masks": bool(torch.equal(a, b))}
           for name, (a, b) in pairs.items()}
    return Shown(pd.DataFrame(out).T)


def mask_verdicts(masks: pd.DataFrame) -> Verdicts:
    """Section 3's two claims, read off :func:`mask_comparison`'s table."""
    single, rows = masks.loc["single weights (unstructured)"], masks.loc["whole neurons (rows, ln_structured)"]
    return Verdicts({
        _("for single weights, L1 and L2 pruning give the same mask"): bool(single["identical masks"])
        and single["weights where the masks differ"] == 0,
        _("for whole neurons (rows), the L1 and L2 masks differ"): not bool(rows["identical masks"])
        and rows["weights where the masks differ"] > 0,
    })


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
