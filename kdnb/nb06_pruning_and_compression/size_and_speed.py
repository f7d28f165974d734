"""What gets smaller and faster (004-3, 004-5): bytes on disk, latency, int8 quantization and its backends.

:func:`disk_table` saves one model seven ways; :func:`latency_table` times models on one thread;
:func:`quantize_int8` is ``torch.ao.quantization.quantize_dynamic`` with its deprecation warnings
silenced; :func:`backend_runs` measures the ``torchao`` package against it (table
``nb06_backends``). The ``*_verdicts`` functions state sections 5 and 6's claims from the numbers.
"""

from __future__ import annotations

import io
import warnings
import zlib

import pandas as pd
import torch
from torch import nn

from .. import data as kdata
from ..i18n import N_, _
from ..teachers import load_teacher
from ..training import accuracy, predict_logits
from ..verdicts import Verdicts
from .pruning import clone, finalize, prune_global
from .retraining import BASE
from .shown import SPEED_WORDS, Shown


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


#: The rows of :func:`disk_table`, in order.
DISK_ROWS = (N_("dense, float32"), N_("pruned, masks in place (weight_orig + weight_mask)"),
             N_("pruned, after prune.remove (zeros stored)"), N_("pruned, sparse CSR (non-zeros + int32 indices)"),
             N_("pruned, zipped"), N_("int8 (dynamic quantization), dense"),
             N_("pruned + int8 + zipped (Deep Compression's order)"))


def disk_table(model: nn.Module, sparsity: float = 0.9) -> pd.DataFrame:
    """Bytes of one model saved seven ways (:data:`DISK_ROWS`): dense; pruned with masks in place;
    after ``prune.remove``; in sparse CSR form; zipped; and int8 (dense, and pruned then zipped,
    as Deep Compression does)."""
    dense = clone(model)
    masked = prune_global(clone(model), sparsity)
    removed = finalize(clone(masked))
    sizes = (saved_bytes(dense), saved_bytes(masked), saved_bytes(removed), saved_bytes(sparse_state(removed)),
             zipped_bytes(removed), saved_bytes(quantize_int8(dense)), zipped_bytes(quantize_int8(removed)))
    out = pd.DataFrame({"bytes": pd.Series(dict(zip(DISK_ROWS, sizes)))})
    out["times smaller than dense"] = out.bytes.iloc[0] / out.bytes
    return Shown(out.rename_axis(_("the 2x1200 MLP, {pct:g}% sparse where pruned").format(pct=100 * sparsity)))


def disk_verdicts(disk: pd.DataFrame) -> Verdicts:
    """Section 5's claims about bytes, read off :func:`disk_table`."""
    ratio = disk["bytes"] / disk["bytes"].iloc[0]
    dense, masked, removed, csr, zipped, int8, _deep = DISK_ROWS
    return Verdicts({
        _("with the masks attached the checkpoint is stored twice (1.9 to 2.1 times the dense bytes)"): 1.9 < ratio[masked] < 2.1,
        _("after prune.remove it is the dense size, within 1% (the zeros are stored)"): abs(ratio[removed] - 1) < 0.01,
        _("a sparse layout and a compressor each make it smaller than a third of the dense bytes"):
            ratio[csr] < 1 / 3 and ratio[zipped] < 1 / 3,
        _("int8 makes it 3.5 to 4.1 times smaller without any zero"): 3.5 < 1 / ratio[int8] < 4.1,
    })


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
    from ..evaluation import latencies

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
    return Shown(table)


#: The models section 5 times, in order: the dense teacher, three forms of it 90% unstructured, and a slim one.
PRUNED_VARIANTS = (N_("dense 2x1200"), N_("90% unstructured, masks attached"), N_("90% unstructured, after prune.remove"),
                   N_("90% unstructured, sparse CSR kernel"), N_("75% of neurons removed, slim 2x300"))


def pruned_variants(dense: nn.Module, slim_model: nn.Module, sparsity: float = 0.9) -> dict[str, nn.Module]:
    """``{name: model}`` of :data:`PRUNED_VARIANTS`: ``dense``, pruned to ``sparsity`` with its masks
    attached, after ``prune.remove``, and run by a sparse kernel (:func:`sparse_model`); and the
    structurally pruned ``slim_model``."""
    masked = prune_global(clone(dense), sparsity)
    return dict(zip(PRUNED_VARIANTS, (dense, masked, finalize(clone(masked)), sparse_model(masked), slim_model)))


def pruning_speed_verdicts(speed: pd.DataFrame) -> Verdicts:
    """Section 5's claims about time, read off :func:`latency_table` of :func:`pruned_variants`."""
    dense, masked, removed, _csr, slim_name = PRUNED_VARIANTS
    s1, s256 = speed["speed-up, batch 1"], speed["speed-up, batch 256"]
    return Verdicts({
        _("90% zeros after prune.remove are nowhere near 10x faster at batch 256 (under 3x): the zeros are multiplied"):
            s256[removed] < 3,
        _("the slim 2x300 (structured) is more than 2x faster at batch 256"): s256[slim_name] > 2,
        _("with the masks attached a single image is slower than dense (the hook recomputes weight every call)"): s1[masked] < 1,
    })


def int8_verdicts(dense: nn.Module, int8: nn.Module, split: kdata.Split) -> Verdicts:
    """Section 6's claims about int8's accuracy: its logits against ``dense``'s on ``split``."""
    reference, quantized = predict_logits(dense, split.X), predict_logits(int8, split.X)
    diff = (quantized - reference).abs().max().item()
    span = (reference.max() - reference.min()).item()
    agree = (quantized.argmax(1) == reference.argmax(1)).float().mean().item()
    return Verdicts({
        _("the largest change of any logit is under 1% of the logits' range"): diff < 0.01 * span,
        _("int8 picks float32's top class on more than 99% of the test images"): agree > 0.99,
    })


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
    named = {N_("float32"): teacher, N_("torch.ao quantize_dynamic (int8)"): quantize_int8(teacher)}
    for label, config in ((N_("torchao int8 weight-only"), Int8WeightOnlyConfig()),
                          (N_("torchao int8 dynamic activations + int8 weights"), Int8DynamicActivationInt8WeightConfig())):
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


def backend_comparison(table: pd.DataFrame, tolerance: float = 0.1) -> pd.DataFrame:
    """Each int8 backend of :func:`backend_runs`'s table against float32 (its first row), per batch
    size: the speed-up and one word, "faster", "slower" or "as fast" (within ``tolerance``)."""
    t = table.set_index("model") if "model" in table.columns else table
    rows = {}
    for name in t.index[1:]:
        row = {}
        for b in (1, 256):
            r = float(t.loc[name, f"speed-up, batch {b}"])
            as_fast, faster, slower = SPEED_WORDS
            word = as_fast if abs(r - 1) <= tolerance else (faster if r > 1 else slower)
            row[f"batch {b}"] = word.format(ratio=f"{r:.2g}x")
        rows[name] = row
    return Shown(pd.DataFrame(rows).T.rename_axis("against float32, one thread"))


def backend_verdicts(table: pd.DataFrame) -> Verdicts:
    """Section 6's claims about ``torchao`` against ``quantize_dynamic``, from the ``nb06_backends`` table."""
    words = backend_comparison(table)
    t = table.set_index("model") if "model" in table.columns else table
    dynamic, weight_only, activations = "torch.ao quantize_dynamic (int8)", "torchao int8 weight-only", \
        "torchao int8 dynamic activations + int8 weights"
    size = t["bytes on disk"]
    return Verdicts({
        _("torchao's int8 layouts are as small on disk as quantize_dynamic's (within 2%)"):
            all(abs(size[m] / size[dynamic] - 1) < 0.02 for m in (weight_only, activations)),
        _("torchao's weight-only int8 is as fast as float32 at batch 256 and slower at batch 1"):
            words.loc[weight_only, "batch 256"].startswith("as fast") and words.loc[weight_only, "batch 1"].startswith("slower"),
        _("torchao's dynamic int8 activations are slower than float32 at both batch sizes"):
            words.loc[activations].str.startswith("slower").all(),
        _("quantize_dynamic is the one that is faster than float32 at batch 256"):
            words["batch 256"].str.startswith("faster").tolist() == [True, False, False],
    })
