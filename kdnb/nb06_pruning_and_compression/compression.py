"""The compression table (section 8): the teacher, a student, pruned and quantized models side by side.

:func:`compression_models` builds one seed's models (:data:`ROWS`); :func:`compression_runs`
measures their accuracy over seeds (table ``nb06_compression``) and :func:`latency_runs` times the
seed-0 models once (table ``nb06_latency``). :func:`compression_table` adds sizes and timings,
:func:`compression_summary` is the table for reading, and the ``*_verdicts`` functions state the
section's claims.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from .. import data as kdata
from .. import seeds
from ..i18n import N_, _
from ..recipe import train_pair
from ..seeds import Spread
from ..teachers import load_teacher
from ..training import Run, accuracy, distill, fit, predict_logits, seed_everything
from ..verdicts import Verdicts
from .pruning import adjust_dropout, clone, dropout_rates, finalize, nonzero_params, prune_neurons, slim, weight_count, zeros
from .retraining import BASE, FINE_TUNE, METHODS, SEEDS, best_method, dense_teacher, prune_and_train
from .shown import Shown
from .size_and_speed import latency_table, quantize_int8, saved_bytes, zipped_bytes

ROWS = {
    "teacher": N_("teacher (MLP 2x1200)"),
    "alone": N_("student alone (MLP 1x100)"),
    "distilled": N_("student distilled (MLP 1x100)"),
    "unstructured": N_("teacher, 90% of weights pruned"),
    "structured": N_("teacher, 75% of neurons pruned (2x300)"),
    "int8": N_("teacher, int8"),
    "all three": N_("student distilled, pruned to 1x50, int8"),
}
#: The compression rows' settings: how much each pruning removes.
COMPRESSION = {"unstructured": 0.9, "structured": 0.75, "student_neurons": 0.5}
#: Fine-tuning of the slimmed student on cached soft targets: the default recipe's batch, a sixth of its epochs.
STUDENT_TUNE = Run(epochs=10, lr=1e-3, batch_size=256, progress=False, desc=N_("student, pruned, fine-tune"))


def compression_models(seed: int = 0, dataset: kdata.Dataset | None = None, method: str = METHODS[3],
                       teacher_logits: torch.Tensor | None = None, unstructured: nn.Module | None = None,
                       progress: bool = False, fine_tune: Run = FINE_TUNE, student_tune: Run = STUDENT_TUNE) -> dict[str, nn.Module]:
    """The models of the compression table for one seed, keyed like :data:`ROWS`.

    * the dense 2x1200 (:func:`dense_teacher`); the default recipe's 1x100 student, alone and
      distilled from the shipped teacher (:func:`kdnb.recipe.train_pair`);
    * the 2x1200 pruned to 90% sparsity with ``method`` while fine-tuning (``fine_tune``,
      :data:`FINE_TUNE`), then ``prune.remove``;
    * the 2x1200 with 75% of its hidden neurons removed (L2 norm), rebuilt slim by :func:`slim`
      and fine-tuned with the same budget;
    * the 2x1200 in int8 (:func:`quantize_int8`);
    * the distilled student with half its neurons removed, slimmed, fine-tuned on the teacher's
      soft targets (``student_tune``, :data:`STUDENT_TUNE`), then int8.

    Pass ``unstructured`` (the 2x1200 already pruned to 90% with ``method`` for this seed) to
    reuse it instead of fine-tuning it again.
    """
    if unstructured is not None:
        unstructured = clone(unstructured)
        zero, total = zeros(unstructured)
        if abs(zero / total - COMPRESSION["unstructured"]) > 1e-3:
            raise ValueError(f"the unstructured model passed is {zero / total:.1%} sparse, not {COMPRESSION['unstructured']:.0%}")
    ds = dataset or kdata.load_mnist_subset()
    logits = predict_logits(load_teacher(BASE), ds.train.X) if teacher_logits is None else teacher_logits
    dense = dense_teacher(seed, ds, progress=progress)
    alone, distilled, spec = train_pair("default", seed, ds, logits, progress=progress)
    if unstructured is None:
        unstructured = clone(dense)
        prune_and_train(unstructured, ds.train, method, COMPRESSION["unstructured"], fine_tune, seed=seed, progress=progress)
    finalize(unstructured).eval()
    structured = slim(prune_neurons(clone(dense), COMPRESSION["structured"]))
    adjust_dropout(structured, dropout_rates(dense), dense)
    seed_everything(seed, threads=None)
    fit(structured, ds.train, None, Run.of(fine_tune, seed=seed, progress=progress, desc=N_("structured, fine-tune")))
    small = slim(prune_neurons(clone(distilled), COMPRESSION["student_neurons"]))
    seed_everything(seed, threads=None)
    distill(small, ds.train, None, Run.of(student_tune, seed=seed, progress=progress), teacher=logits, T=spec["T"],
            alpha=spec["alpha"])
    out = {"teacher": dense.eval(), "alone": alone.eval(), "distilled": distilled.eval(), "unstructured": unstructured,
           "structured": structured.eval(), "int8": quantize_int8(dense), "all three": quantize_int8(small.eval())}
    return {ROWS[k]: m for k, m in out.items()}


def compression_runs(seeds=SEEDS, dataset: kdata.Dataset | None = None, method: str | None = None,
                     progress: bool = True) -> pd.DataFrame:
    """Test and validation accuracy of every row of the compression table, one row per (seed, model).

    ``method`` (default: the best on validation in table ``nb06_retrain``) prunes the unstructured row."""
    from tqdm.auto import tqdm

    from .. import results

    ds = dataset or kdata.load_mnist_subset()
    method = method or best_method(results.read("nb06_retrain"))
    logits = predict_logits(load_teacher(BASE), ds.train.X)
    rows = []
    for seed in tqdm(seeds, desc="seeds", disable=not progress):
        for name, model in compression_models(seed, ds, method, logits).items():
            rows.append({"seed": seed, "model": name, "method": method, "val": accuracy(model, ds.val),
                         "test": accuracy(model, ds.test)})
    return pd.DataFrame(rows)


def compression_table(runs: pd.DataFrame, live: dict[str, nn.Module], timing: bool = True) -> pd.DataFrame:
    """The compression table: accuracy over seeds (from ``runs``: ``accuracy (%)``, ``min``, ``max``),
    and, measured on the ``live`` models (one seed), parameters, non-zero parameters, bytes on
    disk and every ratio against the first row (the teacher); with ``timing``, also zipped bytes
    and latency at batch 1 and 256."""
    acc = seeds.spread(runs, "model", ["test"]).reindex(list(live))
    out = pd.DataFrame({"accuracy (%)": acc.test_mean, "min": acc.test_min, "max": acc.test_max})
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
    return Shown(out.rename_axis("model"))


def latency_runs(dataset: kdata.Dataset | None = None, progress: bool = True) -> pd.DataFrame:
    """Zipped bytes and latency (one thread, batch 1 and 256) of the compression table's seed-0
    models, rebuilt as :func:`compression_models` makes them: the one measurement that the
    README quotes and notebook 06 shows beside the sizes (its own live timings vary by run)."""
    from .. import results

    ds = dataset or kdata.load_mnist_subset()
    runs = results.read("nb06_compression")
    live = compression_models(0, ds, str(runs.method.iloc[0]), progress=progress)
    table = compression_table(runs, live)
    cols = ["zipped bytes", "ms, batch 1", "ms, batch 256", "speed-up, batch 1", "speed-up, batch 256"]
    return table[cols].reset_index().assign(threads=1, torch=torch.__version__.split("+")[0])


def rebuilt_accuracy(live: dict[str, nn.Module], runs: pd.DataFrame, split: kdata.Split) -> pd.DataFrame:
    """Each ``live`` model's accuracy on ``split`` against its seed-0 row of ``runs`` (the table), in %."""
    table = runs[runs.seed == 0].set_index("model").test
    return Shown({"built here (%)": [100 * accuracy(m, split) for m in live.values()],
                  "table, seed 0 (%)": [100 * table[name] for name in live]},
                 index=pd.Index(list(live), name="model"))


def rebuild_verdicts(rebuilt: pd.DataFrame, points: float = 1.0) -> Verdicts:
    """The one claim :func:`rebuilt_accuracy` is shown for: the models built here are the table's."""
    gap = (rebuilt["built here (%)"] - rebuilt["table, seed 0 (%)"]).abs()
    claim = _("every seed-0 model built here is within {points:g} point of its accuracy in the table").format(points=points)
    return Verdicts({claim: bool((gap <= points).all())})


def compression_summary(comp: pd.DataFrame, runs: pd.DataFrame, latency: pd.DataFrame) -> pd.DataFrame:
    """The compression table for reading: accuracy over seeds as ``mean [min, max]`` (from ``runs``),
    the sizes of :func:`compression_table` ``comp``, and the one-thread latencies of table
    ``nb06_latency`` (``latency``), rounded to what a reader compares."""
    acc = seeds.span_table(runs, "model", {"test": "test accuracy, % [min, max]"}).reindex(comp.index)
    times = latency.set_index("model").reindex(comp.index)
    return Shown({
        "test accuracy, % [min, max]": acc["test accuracy, % [min, max]"],
        "parameters": comp["parameters"].map("{:,}".format),
        "non-zero": comp["non-zero"].map(lambda n: f"{n / 1e6:.3g} M" if n >= 1e6 else f"{n / 1e3:.3g} k"),
        "KB on disk": (comp["bytes on disk"] / 1e3).map("{:,.1f}".format),
        "times smaller": comp["times smaller"].map("{:.3g}".format),
        "ms, batch 1": times["ms, batch 1"].map("{:.3g}".format),
        "ms, batch 256": times["ms, batch 256"].map("{:.3g}".format),
    }, index=comp.index)


def _students(runs: pd.DataFrame) -> tuple[Spread, Spread]:
    """Test accuracy in % of the 1x100 trained alone and distilled, over seeds."""
    sp = seeds.spreads(runs, "model", "test")
    return sp[ROWS["alone"]], sp[ROWS["distilled"]]


def distillation_gap(runs: pd.DataFrame) -> float:
    """Points of mean test accuracy the distilled 1x100 has over the same 1x100 trained alone."""
    alone, distilled = _students(runs)
    return distilled - alone


def compression_verdicts(runs: pd.DataFrame, comp: pd.DataFrame) -> Verdicts:
    """Section 8's claims about accuracy in the table (``runs`` over seeds, ``comp`` its rows)."""
    alone, distilled = _students(runs)
    mean = seeds.spreads(runs, "model", "test")
    pruned = [mean[ROWS[k]].mean for k in ("unstructured", "structured")]
    students = [s.mean for name, s in mean.items() if name.startswith("student")]
    return Verdicts({
        _("the distilled 1x100 beats the same 1x100 trained alone, seed ranges apart"): distilled.beats(alone),
        _("every pruned teacher is ahead of every student on the mean"): min(pruned) > max(students),
        _("only one row has its own architecture trained alone beside it"): sum(n.startswith("student alone") for n in comp.index) == 1,
    })


def compression_speed_verdicts(timed: pd.DataFrame) -> Verdicts:
    """Section 8's claims about speed and zipped size, read off :func:`compression_table` with timing."""
    R, s1, s256 = ROWS, timed["speed-up, batch 1"], timed["speed-up, batch 256"]
    return Verdicts({
        _("90% unstructured is under 3x faster at both batch sizes (10x fewer non-zeros: zeros are not skipped)"):
            s256[R["unstructured"]] < 3 and s1[R["unstructured"]] < 3,
        _("the structured 2x300 is more than 2x faster at batch 256"): s256[R["structured"]] > 2,
        _("the distilled student, and it pruned and in int8, are each more than 5x faster at batch 256"):
            s256[R["all three"]] > 5 and s256[R["distilled"]] > 5,
        _("the int8 teacher is faster than float32 at batch 256 (over 1.1x)"): s256[R["int8"]] > 1.1,
        _("at batch 1 the int8 student is slower than the float 1x100 (int8's fixed cost)"):
            timed.loc[R["all three"], "ms, batch 1"] > timed.loc[R["distilled"], "ms, batch 1"],
        _("zipped, the 90% unstructured model is under half the teacher's zipped bytes"):
            timed.loc[R["unstructured"], "zipped bytes"] < 0.5 * timed.loc[R["teacher"], "zipped bytes"],
    })
