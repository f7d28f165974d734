"""Sweeps over the temperature T: of gradients (cheap, exact) and of training runs (a script).

Three questions of notebook 03 are answered by varying T and measuring something:

* :func:`soft_gradient_norms`: why the soft loss is multiplied by T². Its gradient with
  respect to the student's logits is ``T (q_T - p_T) / B`` with the factor and
  ``(q_T - p_T) / (T B)`` without it; ``q_T - p_T`` itself shrinks as ``1/T`` at high T, so
  without the factor the gradient falls as ``1/T²`` (Hinton, Vinyals & Dean 2015, section 2).
* :func:`logit_matching_gap`: at high T, distillation becomes matching zero-mean logits with
  a squared error (same paper, section 2.1; Ba & Caruana 2014 did that directly). The relative
  difference between the two gradients falls as about ``1/T``.
* :func:`temperature_sweep`: how T changes what the student learns (seed question 003-28), for
  a small and a larger student, several seeds, with the label-only baseline. Hinton et al.
  (2015) found every T above 8 about equally good for students with 300 or more hidden units
  per layer, and T from 2.5 to 4 best for 30 units. Run it with::

      python -m kdnb.sweeps temperature          # 30 runs; a few minutes on 2 idle CPU cores

  which writes ``data/results/temperature_sweep.csv`` atomically. On a machine shared with
  other jobs, set ``OMP_WAIT_POLICY=PASSIVE`` in the environment: torch's waiting threads then
  sleep instead of spinning (the results are the same; on a loaded 2-core machine a small
  student's run went from about 100 s to about 10 s).
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import pandas as pd
import torch

from . import data as kdata
from . import losses
from ._io import atomic_write_text

__all__ = [
    "SWEEP_TEMPERATURES",
    "SWEEP_SEEDS",
    "sweep_settings",
    "soft_gradient_norms",
    "gradient_cosines",
    "logit_matching_gap",
    "temperature_sweep",
    "summarize_sweep",
    "default_csv",
]

#: Temperatures of the training sweep: Hinton et al. (2015) used T from about 2 to 20.
SWEEP_TEMPERATURES = (1.0, 2.0, 4.0, 8.0, 20.0)
#: Seeds of the training sweep (initial weights and batch order).
SWEEP_SEEDS = (0, 1, 2)


def sweep_settings() -> dict[str, dict]:
    """The two students of the sweep, both taught by the 2x1200 MLP teacher (``mlp-mnist``).

    ``small`` is the recipe's ``tiny-student`` (MLP 1x30, 60 epochs); ``large`` is the same
    setting with 300 hidden units: the two widths Hinton et al. (2015) compare.
    """
    from .recipe import SETTINGS

    small = copy.deepcopy(SETTINGS["tiny-student"])
    large = copy.deepcopy(SETTINGS["tiny-student"])
    large["student"] = {"kind": "mlp", "hidden": [300]}
    large["summary"] = "2x1200 MLP teacher -> 1x300 MLP"
    return {"small": small, "large": large}


def _grad(loss_fn, student_logits: torch.Tensor) -> torch.Tensor:
    z = student_logits.detach().clone().requires_grad_(True)
    loss_fn(z).backward()
    return z.grad


def soft_gradient_norms(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperatures) -> pd.DataFrame:
    """Norm of d(soft loss)/d(student logits), computed by autograd, with and without T².

    One row per T: ``with_T2`` uses :func:`kdnb.losses.soft_loss` as trained
    (``T² KL(p_T || q_T)``), ``without_T2`` the bare KL (``scale=False``). The ratio of the two
    is exactly T²; the point is how each behaves as T grows (seed questions 002-S2, 003-13).
    """
    rows = []
    for T in temperatures:
        g_with = _grad(lambda z: losses.soft_loss(z, teacher_logits, T, scale=True), student_logits)
        g_without = _grad(lambda z: losses.soft_loss(z, teacher_logits, T, scale=False), student_logits)
        rows.append({"T": float(T), "with_T2": g_with.norm().item(), "without_T2": g_without.norm().item()})
    return pd.DataFrame(rows).set_index("T")


def gradient_cosines(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperatures, reference: float = 1.0) -> pd.Series:
    """Cosine similarity between the soft-loss gradient at each T and at ``reference``.

    A learning-rate knob (the seed 002-S2 claim) would rescale the gradient and leave its
    direction alone: every cosine would be 1. Temperature changes *which way* the student's
    logits are pushed, because it changes the targets.
    """
    ref = _grad(lambda z: losses.soft_loss(z, teacher_logits, reference), student_logits).flatten()
    out = {}
    for T in temperatures:
        g = _grad(lambda z: losses.soft_loss(z, teacher_logits, T), student_logits).flatten()
        out[float(T)] = torch.nn.functional.cosine_similarity(g, ref, dim=0).item()
    return pd.Series(out, name=f"cosine with the gradient at T={reference:g}").rename_axis("T")


def logit_matching_gap(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperatures) -> pd.DataFrame:
    """How far the distillation gradient is from the logit-matching gradient, per T.

    ``relative_difference = ||g_KD(T) - g_LM|| / ||g_LM||`` where ``g_KD`` is the gradient of
    ``T² KL(p_T || q_T)`` and ``g_LM`` that of :func:`kdnb.losses.logit_matching_loss` (squared
    error between zero-mean logits, scaled so that the two agree in the limit). Hinton et al.
    (2015), section 2.1: at high temperature distillation *is* logit matching.
    """
    g_lm = _grad(lambda z: losses.logit_matching_loss(z, teacher_logits), student_logits)
    rows = []
    for T in temperatures:
        g_kd = _grad(lambda z: losses.soft_loss(z, teacher_logits, T), student_logits)
        rows.append({"T": float(T), "relative_difference": ((g_kd - g_lm).norm() / g_lm.norm()).item(),
                     "cosine": torch.nn.functional.cosine_similarity(g_kd.flatten(), g_lm.flatten(), dim=0).item()})
    return pd.DataFrame(rows).set_index("T")


def default_csv() -> Path:
    """``data/results/temperature_sweep.csv`` in the repository."""
    return Path(__file__).resolve().parents[1] / "data" / "results" / "temperature_sweep.csv"


def temperature_sweep(temperatures=SWEEP_TEMPERATURES, seeds=SWEEP_SEEDS, students=("small", "large"),
                      dataset: kdata.Dataset | None = None, progress: bool = True) -> pd.DataFrame:
    """Train each student alone and distilled at each T and seed; one row per run (seed question 003-28).

    Every run is :func:`kdnb.recipe.run_setting`: the same initial weights for the label-only
    and the distilled student, test and validation accuracy of both. The label-only student
    does not depend on T, so its rows repeat for each T of a seed: a free check that runs
    are repeatable. The teacher's logits on the training split are computed once.
    """
    from tqdm.auto import tqdm

    from .recipe import run_setting
    from .teachers import load_teacher
    from .training import predict_logits

    ds = dataset or kdata.load_mnist_subset()
    settings = sweep_settings()
    logits = {}
    jobs = [(name, seed, T) for name in students for seed in seeds for T in temperatures]
    rows = []
    for name, seed, T in tqdm(jobs, desc="students x seeds x T", disable=not progress):
        spec = settings[name]
        if spec["teacher"] not in logits:
            logits[spec["teacher"]] = predict_logits(load_teacher(spec["teacher"], progress=progress), ds.train.X)
        row = run_setting(spec, seed, ds, logits[spec["teacher"]], T=float(T))
        rows.append({"size": name, "hidden": spec["student"]["hidden"][0], **row})
    return pd.DataFrame(rows)


def summarize_sweep(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, min and max distilled test accuracy (%) per student and T, beside the label-only mean."""
    g = results.groupby(["student", "T"], sort=False)
    out = pd.DataFrame({"seeds": g.size(), "kd_mean": 100 * g.kd_test.mean(), "kd_min": 100 * g.kd_test.min(),
                        "kd_max": 100 * g.kd_test.max(), "alone_mean": 100 * g.alone_test.mean()})
    out["gain"] = out.kd_mean - out.alone_mean
    return out.round(2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.sweeps", description="temperature sweeps of notebook 03")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("temperature", help="accuracy against T for a small and a larger student")
    t.add_argument("--T", type=float, nargs="+", default=list(SWEEP_TEMPERATURES))
    t.add_argument("--seeds", type=int, nargs="+", default=list(SWEEP_SEEDS))
    t.add_argument("--students", nargs="+", default=["small", "large"], choices=["small", "large"])
    t.add_argument("--out", type=Path, default=None, help="CSV to write (default: data/results/temperature_sweep.csv)")
    args = parser.parse_args(argv)
    results = temperature_sweep(args.T, args.seeds, args.students)
    out = args.out or default_csv()
    atomic_write_text(out, results.round(4).to_csv(index=False))
    print(summarize_sweep(results).to_string())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
