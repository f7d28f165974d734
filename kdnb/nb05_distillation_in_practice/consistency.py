"""Section 5: patient and consistent teaching (003-29; Beyer et al. 2022). The default recipe's student
with and without random shifts, a cached or a same-view teacher, at 60 and 240 epochs, over seeds."""

from __future__ import annotations

import time

import pandas as pd
import torch
from torch import nn

from .. import data as kdata
from .. import recipe, seeds, training
from ..teachers import load_teacher
from ..i18n import N_, _
from ..verdicts import Verdicts
from .common import SEEDS, quiet_run, student_for
from .shown import Shown

#: The variants compared. "teacher": None (hard labels only), "cached" (logits of the un-shifted
#: images, computed once) or "same view" (the teacher runs on each shifted batch the student sees).
CONSISTENCY_VARIANTS = {
    N_("hard labels, no shifts"): {"teacher": None, "augment": 0, "epochs": 60},
    N_("hard labels, shifts"): {"teacher": None, "augment": 2, "epochs": 60},
    N_("KD, no shifts (cached)"): {"teacher": "cached", "augment": 0, "epochs": 60},
    N_("KD, shifts, teacher cached on un-shifted images"): {"teacher": "cached", "augment": 2, "epochs": 60},
    N_("KD, shifts, teacher sees the same view"): {"teacher": "same view", "augment": 2, "epochs": 60},
    N_("hard labels, no shifts, 4x longer"): {"teacher": None, "augment": 0, "epochs": 240},
    N_("KD, no shifts (cached), 4x longer"): {"teacher": "cached", "augment": 0, "epochs": 240},
    N_("hard labels, shifts, 4x longer"): {"teacher": None, "augment": 2, "epochs": 240},
    N_("KD, shifts, teacher cached, 4x longer"): {"teacher": "cached", "augment": 2, "epochs": 240},
    N_("KD, shifts, same view, 4x longer"): {"teacher": "same view", "augment": 2, "epochs": 240},
}
#: The pairs whose seed-range gaps section 5 prints: (variant, the variant it is compared with).
CONSISTENCY_GAPS = (("KD, shifts, same view, 4x longer", "KD, shifts, teacher cached, 4x longer"),
                    ("KD, shifts, same view, 4x longer", "KD, no shifts (cached), 4x longer"),
                    ("KD, no shifts (cached), 4x longer", "KD, no shifts (cached)"))


def consistency_run(variant: str, dataset: kdata.Dataset, teacher: nn.Module, cached: torch.Tensor, seed: int,
                    epochs: int | None = None) -> dict:
    """One variant for one seed (the default recipe's teacher, student, T, alpha, lr and batch)."""
    spec = dict(CONSISTENCY_VARIANTS[variant])
    if epochs is not None:
        spec["epochs"] = epochs
    rs = recipe.SETTINGS["default"]
    model = student_for(rs["student"], seed)
    run = quiet_run(seed, epochs=spec["epochs"], lr=rs["lr"], batch_size=rs["batch_size"], augment=spec["augment"])
    start = time.perf_counter()
    if spec["teacher"] is None:
        training.fit(model, dataset.train, None, run)
    elif spec["teacher"] == "same view" or not spec["augment"]:
        # distill: the cached logits without shifts; with shifts, the teacher on each shifted batch
        training.distill(model, dataset.train, None, run, teacher=teacher if spec["augment"] else cached, T=rs["T"], alpha=rs["alpha"])
    else:
        # The inconsistent choice, which distill refuses: targets of the un-shifted images for shifted inputs.
        stale = training.kd_step_loss(cached, dataset.train.y, T=rs["T"], alpha=rs["alpha"])
        training.train_with(model, dataset.train, stale, None, run)
    return {"variant": variant, "seed": seed, "epochs": spec["epochs"], "test": training.accuracy(model, dataset.test),
            "val": training.accuracy(model, dataset.val), "seconds": time.perf_counter() - start}


def consistency_runs(dataset: kdata.Dataset, seeds=SEEDS[:3], variants=None, progress: bool = True) -> pd.DataFrame:
    from tqdm.auto import tqdm

    teacher = load_teacher(recipe.SETTINGS["default"]["teacher"])
    cached = training.predict_logits(teacher, dataset.train.X)
    jobs = [(v, s) for v in (variants or CONSISTENCY_VARIANTS) for s in seeds]
    return pd.DataFrame([consistency_run(v, dataset, teacher, cached, s)
                         for v, s in tqdm(jobs, desc="variant x seed", disable=not progress)])


def consistency_verdicts(runs: pd.DataFrame) -> Verdicts:
    """Section 5's claims, computed from the seed ranges of the consistency runs (:mod:`kdnb.seeds`).

    The 240-epoch runs without shifts are the controls that separate "shifts need a longer
    schedule" from "a longer schedule helps anyway"."""
    s = seeds.spreads(runs, "variant", "test")
    hard, hard_shift = s["hard labels, no shifts"], s["hard labels, shifts"]
    kd, cached, same = s["KD, no shifts (cached)"], s["KD, shifts, teacher cached on un-shifted images"], s["KD, shifts, teacher sees the same view"]
    hard_long_plain, kd_long_plain = s["hard labels, no shifts, 4x longer"], s["KD, no shifts (cached), 4x longer"]
    hard_long, cached_long, same_long = s["hard labels, shifts, 4x longer"], s["KD, shifts, teacher cached, 4x longer"], s["KD, shifts, same view, 4x longer"]
    short = [v for name, v in s.items() if "longer" not in name]
    return Verdicts({
        _("at 60 epochs, shifts help the hard-label student (ranges apart)"): hard_shift.beats(hard),
        _("at 60 epochs, shifts do not help the distilled student, cached or not (means not above KD without shifts)"):
            max(cached.mean, same.mean) <= kd.mean,
        _("at 60 epochs, the same view and the cached teacher are not told apart (ranges overlap)"): not same.apart(cached),
        _("4x longer without shifts, the hard-label student does not change measurably (ranges overlap)"): not hard_long_plain.apart(hard),
        _("4x longer without shifts helps the distilled student (ranges apart)"): kd_long_plain.beats(kd),
        _("at 240 epochs, shifts with the same view beat no shifts for the distilled student (ranges apart)"): same_long.beats(kd_long_plain),
        _("at 240 epochs, the same view beats the cached teacher (ranges apart)"): same_long.beats(cached_long),
        _("4x longer with the same view beats every 60-epoch variant (ranges apart)"): all(same_long.beats(v) for v in short),
        _("at 240 epochs, the hard-label student with shifts does as well as the same view (ranges overlap or better)"):
            hard_long.mean >= same_long.mean or not hard_long.apart(same_long),
    })


def consistency_gaps(runs: pd.DataFrame) -> pd.DataFrame:
    """How far apart the seed ranges of the pairs in :data:`CONSISTENCY_GAPS` are (points of test
    accuracy; > 0: apart by that much, <= 0: they overlap)."""
    s = seeds.spreads(runs, "variant", "test")
    return Shown(pd.DataFrame([{"variant": a, N_("compared with"): b, N_("gap between the seed ranges (points)"): round(s[a].gap(s[b]), 2)}
                               for a, b in CONSISTENCY_GAPS]).set_index("variant"))


def consistency_cost(runs: pd.DataFrame) -> float:
    """How many times as long a 60-epoch run with the same-view teacher takes as one with the cached teacher (mean seconds)."""
    seconds = runs.groupby("variant").seconds.mean()
    return float(seconds["KD, shifts, teacher sees the same view"] / seconds["KD, shifts, teacher cached on un-shifted images"])
