"""The comparison of section 6: its settings, its students, the per-batch loss of each method, one run.

A run trains the comparison's small CNN student with one method in one regime from one seed, on the
frozen teacher's outputs cached once for every training image (:func:`load_cache`), and returns one row
of results. The tables of :mod:`.tables` are many such rows; the notebook retrains one of them live.
"""

from __future__ import annotations

import math
import statistics

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .. import data as kdata
from .. import losses, models, recipe, results, teachers, training
from .feature_losses import Distiller, attention_loss, cosine_loss, rkd_loss, teacher_features

#: The student of the comparison: the teacher's shape (two 3x3 conv blocks, a 128-unit hidden layer) with a
#: quarter of its channels, so feature maps have the teacher's spatial size and its hidden layer the teacher's
#: width (as DistilBERT keeps BERT's width). No dropout.
STUDENT = {"kind": "cnn", "channels": [8, 16], "hidden": 128, "dropout": 0.0}
TEACHER = "cnn-mnist"
#: Training of every student in the comparison (Adam, cosine decay, no augmentation: teacher outputs are cached).
TRAIN = training.Run(epochs=20, lr=2e-3, batch_size=128, progress=False)
#: The two regimes: the student sees all 3,500 training labels, or 300 of them (class-balanced, fixed), with
#: the other 3,200 images unlabelled. The teacher saw all 3,500 labels in both.
REGIMES = {"all labels": None, "300 labels": 300}
SEEDS = (0, 1, 2, 3, 4)
KD = {"T": 4.0, "alpha": 0.9}
#: The fair control of the 300-label regime: the same CNN trained on only the student's 300 labels
#: (:func:`fair_teacher_subset` checks that they are the same 300 images).
FAIR_TEACHER = "cnn-mnist-300"
#: The second control: the student trained with cross-entropy on the 300 labels plus the teacher's
#: *hard* top class for each of the 3,200 unlabelled images (:func:`pseudo_labelled`).
PSEUDO = "hard pseudo-labels"

#: Each method: its loss terms and the weight of the non-label term. ``weights`` lists the candidates tried on
#: the validation split (the middle one is the weight used in Tian et al. 2020's benchmark, or the paper's).
METHODS: dict[str, dict] = {
    "hard labels": {"family": "baseline", "cite": "cross-entropy with the labels only", "weights": None},
    "KD": {"family": "logits", "cite": "Hinton et al. 2015, T = 4, alpha = 0.9", "weights": None},
    "logit MSE": {"family": "logits", "cite": "after Ba & Caruana 2014 (they use no label term)", "weights": (0.1, 1.0, 10.0)},
    "FitNets hints": {"family": "features", "cite": "Romero et al. 2015, one stage: CE + hint (the paper adds a KD stage)", "weights": (10.0, 100.0, 1000.0)},
    "attention transfer": {"family": "features", "cite": "Zagoruyko & Komodakis 2017", "weights": (100.0, 1000.0, 10000.0)},
    "cosine of hidden states": {"family": "features", "cite": "as DistilBERT, Sanh et al. 2019", "weights": (0.1, 1.0, 10.0)},
    "RKD": {"family": "relations", "cite": "Park et al. 2019, distance + angle", "weights": (0.1, 1.0, 10.0)},
}
FEATURE_METHODS = [m for m, spec in METHODS.items() if spec["weights"] is not None]


def _known(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")


def make_student(method: str, seed: int, in_shape=(1, 28, 28)) -> Distiller:
    """The comparison's student for ``method``, from seed ``seed`` (the same initial weights for every method)."""
    _known(method)
    torch.manual_seed(seed)
    student = models.build(STUDENT, in_shape=in_shape)
    regressor = None
    if method == "FitNets hints":  # a 1x1 convolution from the student's 16 channels to the teacher's 64
        gen = torch.Generator().manual_seed(10_000 + seed)
        regressor = nn.Conv2d(STUDENT["channels"][-1], 64, 1)
        with torch.no_grad():
            bound = 1 / math.sqrt(STUDENT["channels"][-1])
            regressor.weight.uniform_(-bound, bound, generator=gen)
            regressor.bias.uniform_(-bound, bound, generator=gen)
    return Distiller(student, regressor)


def extra_params(method: str) -> int:
    """Parameters trained besides the student's own (the FitNets regressor), none kept after training."""
    r = make_student(method, 0).regressor
    return 0 if r is None else models.count_params(r)


def _teacher_term(method: str, cache: dict[str, torch.Tensor], model: Distiller):
    """``term(index, logits)``: the teacher's term of a feature or relation method, before its weight."""
    def term(idx, logits):
        f = model.features  # the student's features of this batch, kept by the forward pass
        if method == "logit MSE":  # after Ba & Caruana, who regress the logits with no label term; zero-mean, scaled like KD at high T
            return losses.logit_matching_loss(logits, cache["logits"][idx])
        if method == "FitNets hints":  # the regressor maps the student's block to the teacher's channels
            return F.mse_loss(model.regressor(f["block2"]), cache["block2"][idx])
        if method == "attention transfer":
            return attention_loss([f["block1"], f["block2"]], [cache["block1"][idx], cache["block2"][idx]])
        if method == "cosine of hidden states":
            return cosine_loss(f["hidden"], cache["hidden"][idx])
        return rkd_loss(f["hidden"], cache["hidden"][idx])

    return term


def method_loss(method: str, weight: float | None, y: torch.Tensor, cache: dict[str, torch.Tensor], model: Distiller):
    """The per-batch loss of ``method`` as ``step_loss(index, x, logits)`` for :func:`kdnb.training.train_with`.

    KD is :func:`kdnb.training.kd_step_loss` (``kd_loss`` on the cached logits, T and alpha of :data:`KD`).
    Feature and relation terms are added to the cross-entropy with the labels (weight 1); rows without a
    label (IGNORE_INDEX) get only the teacher's terms. ``weight`` multiplies the teacher's term.
    """
    _known(method)
    if method == "KD":
        return training.kd_step_loss(cache["logits"], y, **KD)
    hard = training.hard_step_loss(y)
    if method == "hard labels":
        return hard
    if weight is None:
        raise ValueError(f"{method} adds a teacher term: give its weight (one of {METHODS[method]['weights']} was tried)")
    term = _teacher_term(method, cache, model)

    def step(idx, xb, logits):
        return hard(idx, xb, logits) + weight * term(idx, logits)

    return step


def default_weight(method: str) -> float | None:
    """The weight of a method's teacher term, as chosen on validation (table ``nb04_weights``)."""
    if METHODS[method]["weights"] is None:
        return None
    return float(results.read("nb04_weights").set_index("method").loc[method, "weight"])


def pseudo_labelled(labels: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """The labels with every unlabelled row (IGNORE_INDEX) replaced by the teacher's top class: hard pseudo-labels.

    The control that tells "the teacher hands labels back" apart from "the teacher's targets are soft".
    """
    if teacher_logits.shape[0] != labels.shape[0]:
        raise ValueError(f"{teacher_logits.shape[0]} teacher rows for {labels.shape[0]} labels")
    out = labels.clone()
    unlabelled = labels == losses.IGNORE_INDEX
    out[unlabelled] = teacher_logits.argmax(1)[unlabelled]
    return out


def run_method(method: str, seed: int, dataset: kdata.Dataset, cache: dict[str, torch.Tensor], regime: str = "all labels",
               weight: float | None = None, run: training.Run | None = None, **run_fields) -> dict:
    """Train the comparison's student with ``method`` in ``regime`` from seed ``seed``; one row of results.

    ``cache`` holds the teacher's outputs for ``dataset.train`` (:func:`load_cache`). ``run`` (default
    :data:`TRAIN`, or any of its fields as keywords: ``epochs=1``, ``progress=True``) says how it trains; its
    seed is ``seed``, which also draws the student's initial weights. Returns test and validation accuracy
    (0..1), median seconds per epoch on this machine, and the extra parameters trained. ``method`` may also
    be :data:`PSEUDO`: cross-entropy on the labels plus the teacher's top class for every unlabelled image
    (the same student, the same initial weights as "hard labels").
    """
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; choose one of {list(REGIMES)}")
    y = recipe.labelled_subset(dataset.train.y, REGIMES[regime], 0)
    if method == PSEUDO:
        y, method, weight = pseudo_labelled(y, cache["logits"]), "hard labels", None
        shown = PSEUDO
    else:
        weight = default_weight(method) if weight is None else weight
        shown = method
    run = training.Run.of(run or TRAIN, seed=seed, **{"desc": method, **run_fields})
    model = make_student(method, seed, dataset.image_shape)
    step = method_loss(method, weight, y, cache, model)
    hist = training.train_with(model, kdata.Split(dataset.train.X, y), step, run=run)
    student = model.student
    return {"method": shown, "regime": regime, "seed": seed, "weight": weight,
            "test_acc": training.accuracy(student, dataset.test), "val_acc": training.accuracy(student, dataset.val),
            "epoch_seconds": float(statistics.median(hist["seconds"])), "epochs": run.epochs,
            "extra_params": extra_params(method)}


def load_cache(dataset: kdata.Dataset, teacher: str = TEACHER) -> dict[str, torch.Tensor]:
    """A shipped teacher's outputs on the training images (logits, both conv blocks, hidden layer)."""
    return teacher_features(teachers.load_teacher(teacher), dataset.train.X)


def fair_teacher_subset(dataset: kdata.Dataset) -> dict:
    """Were :data:`FAIR_TEACHER`'s labels exactly the 300 the comparison's student gets?

    Rebuilds the teacher's labelled rows from its recipe (:data:`kdnb.teachers.TEACHERS`: data set, split seed,
    label count and seed, as :func:`kdnb.teachers.train_teacher` draws them) and the student's from
    :func:`kdnb.recipe.labelled_subset`, and compares them.
    """
    spec = teachers.TEACHERS[FAIR_TEACHER]
    same_data = spec["dataset"] == {"name": dataset.name, "seed": 0} and dataset.name == "mnist-5k"
    teacher_rows = set(kdata.stratified_split(dataset.train.y.numpy(), (spec["labels"]["n"],), spec["labels"]["seed"])[0].tolist())
    student = recipe.labelled_subset(dataset.train.y, REGIMES["300 labels"], 0)
    student_rows = set(torch.nonzero(student != losses.IGNORE_INDEX).flatten().tolist())
    return {"same data set and split": bool(same_data), "teacher's labelled images": len(teacher_rows),
            "student's labelled images": len(student_rows), "same images": teacher_rows == student_rows}


def label_agreement(dataset: kdata.Dataset, teacher_logits: dict[str, torch.Tensor]) -> pd.DataFrame:
    """Per teacher: % of the 300-label regime's unlabelled training images whose teacher top class is their true label
    (what its hard pseudo-labels would hand back), and % of all training labels it agrees with."""
    y = dataset.train.y
    unlabelled = recipe.labelled_subset(y, REGIMES["300 labels"], 0) == losses.IGNORE_INDEX
    rows = []
    for name, logits in teacher_logits.items():
        right = logits.argmax(1) == y
        rows.append({"teacher": name, "unlabelled images": int(unlabelled.sum()),
                     "top class = true label on them (%)": 100 * right[unlabelled].float().mean().item(),
                     "agrees with all training labels (%)": 100 * right.float().mean().item()})
    return pd.DataFrame(rows).set_index("teacher")
