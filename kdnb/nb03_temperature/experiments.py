"""Notebook 03's measurements on logits (sections 3 to 8): gradients against T, the seed's loss, calibration.

* :func:`gradient_cosines`: temperature is no learning-rate knob (002-S2): it turns the
  soft-loss gradient, a learning rate only rescales it.
* :func:`soft_gradient_norms`, :func:`gradient_scaling`, :func:`scaling_verdicts`: why the soft
  loss is multiplied by T². Its gradient with respect to the student's logits is
  ``T (q_T - p_T) / B`` with the factor and ``(q_T - p_T) / (T B)`` without it; ``q_T - p_T``
  itself shrinks as ``1/T`` at high T, so without the factor the gradient falls as ``1/T²``
  (Hinton, Vinyals & Dean 2015, section 2).
* :func:`seed_loss`, :func:`seed_weights`, :func:`teacher_swap_test`, :func:`swap_verdicts`:
  seed 002-S3's loss ``-(1/N) sum [t y log q + (1 - t) y log p]`` with ``t = 1/T``, tested by
  autograd: its teacher term has no gradient, so swapping the teacher changes nothing the student learns.
* :func:`logit_matching_gap`: at high T, distillation becomes matching zero-mean logits with a
  squared error (same paper, section 2.1; Ba & Caruana 2014 did that directly).
* :func:`deployment_table`, :func:`calibration_experiment`, :func:`confidence_gaps`,
  :func:`calibration_verdicts`: the temperature at inference, and temperature scaling for
  calibration (Guo et al. 2017), a different use of the word (003-12).
* :func:`targets_vs_labels`: how far the soft targets are from the labels per T (003-28).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .. import calibration, losses
from .. import models as kmodels
from ..i18n import N_, _
from ..recipe import SETTINGS
from ..temperature import check_temperature, entropy, soft_targets
from ..training import Run, fit, predict_logits, seed_everything
from ..verdicts import Verdicts
from .shown import (AT_FITTED, AT_ONE, BARE_FALL, COSINE, FITTED_T, KD_LOSS, SCALED_RISE, SEED_LOSS, SLOPE_WITH,
                    SLOPE_WITHOUT, Shown, ShownSeries)


# ------------------------------------------------------------------ gradients against T
def student_grad(loss_fn, student_logits: torch.Tensor) -> torch.Tensor:
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
        g_with = student_grad(lambda z: losses.soft_loss(z, teacher_logits, T, scale=True), student_logits)
        g_without = student_grad(lambda z: losses.soft_loss(z, teacher_logits, T, scale=False), student_logits)
        rows.append({"T": float(T), "with_T2": g_with.norm().item(), "without_T2": g_without.norm().item()})
    return pd.DataFrame(rows).set_index("T")


def _scaling(norms: pd.DataFrame, low: pd.DataFrame, tail: int = 5) -> dict:
    """The numbers of :func:`gradient_scaling`: log-log slopes over the ``tail`` highest T, and two ratios."""
    T = norms.index.to_numpy(dtype=float)

    def slope(col):
        return float(np.polyfit(np.log(T[-tail:]), np.log(norms[col].to_numpy()[-tail:]), 1)[0])

    return {"T_from": T[-tail], "T_low": T[0], "T_high": T[-1], "slope_without": slope("without_T2"),
            "slope_with": slope("with_T2"), "bare_fall": float(norms["without_T2"].iloc[0] / norms["without_T2"].iloc[-1]),
            "low": tuple(low.index), "scaled_rise": float(low["with_T2"].iloc[-1] / low["with_T2"].iloc[0])}


def gradient_scaling(norms: pd.DataFrame, low: pd.DataFrame) -> ShownSeries:
    """What :func:`soft_gradient_norms` shows, in four numbers (3 significant figures).

    ``norms`` spans T from low to high; ``low`` holds two temperatures near 1 (e.g. T = 1 and 10).
    The log-log slopes over the five highest T, without and with T²; how many times the bare
    gradient at the lowest T is the one at the highest; how many times the scaled gradient at the
    second ``low`` temperature is the one at the first.
    """
    s = _scaling(norms, low)
    (a, b) = s["low"]
    span = {"lo": s["T_from"], "hi": s["T_high"]}
    rows = {SLOPE_WITHOUT.format(**span): s["slope_without"], SLOPE_WITH.format(**span): s["slope_with"],
            BARE_FALL.format(low=s["T_low"], high=s["T_high"]): s["bare_fall"],
            SCALED_RISE.format(a=a, b=b): s["scaled_rise"]}
    return ShownSeries({k: f"{v:.3g}" for k, v in rows.items()}, name=N_("measured"))


def scaling_verdicts(norms: pd.DataFrame, low: pd.DataFrame) -> Verdicts:
    """Section 4's claims about the soft term's gradient with and without T²."""
    s = _scaling(norms, low)
    (a, b) = s["low"]
    return Verdicts({
        _("Without T², the gradient falls as 1/T² at high T (log-log slope within 0.1 of −2)."): abs(s["slope_without"] + 2) < 0.1,
        _("With T², it levels off at high T (slope within 0.1 of 0)."): abs(s["slope_with"]) < 0.1,
        _("Without T², the gradient at T = {low:g} is over 1,000 times the one at T = {high:g}: the hard-label "
          "term would take over.").format(low=s["T_low"], high=s["T_high"]): s["bare_fall"] > 1000,
        _("With T², the gradient still grows between 2 and 20 times from T = {a:g} to T = {b:g}: T² makes it "
          "independent of T only at high T.").format(a=a, b=b): 2 < s["scaled_rise"] < 20,
    })


def gradient_cosines(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperatures, reference: float = 1.0) -> ShownSeries:
    """Cosine similarity between the soft-loss gradient at each T and at ``reference``.

    A learning-rate knob (the seed 002-S2 claim) would rescale the gradient and leave its
    direction alone: every cosine would be 1. Temperature changes *which way* the student's
    logits are pushed, because it changes the targets.
    """
    ref = student_grad(lambda z: losses.soft_loss(z, teacher_logits, reference), student_logits).flatten()
    out = {}
    for T in temperatures:
        g = student_grad(lambda z: losses.soft_loss(z, teacher_logits, T), student_logits).flatten()
        out[float(T)] = F.cosine_similarity(g, ref, dim=0).item()
    return ShownSeries(out, name=COSINE.format(reference=reference)).rename_axis("T")


def logit_matching_gap(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperatures) -> pd.DataFrame:
    """How far the distillation gradient is from the logit-matching gradient, per T.

    ``relative_difference = ||g_KD(T) - g_LM|| / ||g_LM||`` where ``g_KD`` is the gradient of
    ``T² KL(p_T || q_T)`` and ``g_LM`` that of :func:`kdnb.losses.logit_matching_loss` (squared
    error between zero-mean logits, scaled so that the two agree in the limit). Hinton et al.
    (2015), section 2.1: at high temperature distillation *is* logit matching.
    """
    g_lm = student_grad(lambda z: losses.logit_matching_loss(z, teacher_logits), student_logits)
    rows = []
    for T in temperatures:
        g_kd = student_grad(lambda z: losses.soft_loss(z, teacher_logits, T), student_logits)
        rows.append({"T": float(T), "relative_difference": ((g_kd - g_lm).norm() / g_lm.norm()).item(),
                     "cosine": F.cosine_similarity(g_kd.flatten(), g_lm.flatten(), dim=0).item()})
    return pd.DataFrame(rows).set_index("T")


# ------------------------------------------------------------------ seed 002-S3: t = 1/T and its loss
def seed_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, T: float) -> torch.Tensor:
    """Seed 002-S3's loss exactly as it is written: ``-(1/N) sum_i [t y_i log q_i + (1 - t) y_i log p_i]``.

    ``t = 1 / T``, ``q = softmax(student logits)``, ``p = softmax(teacher logits)`` and ``y`` the
    one-hot labels: the seed never divides a logit by T. Written out to be *tested*, not used:
    the teacher term ``(1 - t) y log p`` holds nothing of the student, so it has no gradient
    with respect to the student's logits (see :func:`teacher_swap_test`).
    """
    t = 1.0 / check_temperature(T)
    y = F.one_hot(labels, student_logits.shape[-1]).to(student_logits.dtype)
    log_q = F.log_softmax(student_logits, dim=-1)
    log_p = F.log_softmax(teacher_logits, dim=-1)
    return -(t * (y * log_q).sum(-1) + (1 - t) * (y * log_p).sum(-1)).mean()


def seed_weights(temperatures) -> Shown:
    """The seed's two weights per T: ``t = 1/T`` on the student term and ``1 - t`` on the teacher term.

    For the seed's range, 0 < T < 1, ``t > 1`` and ``1 - t < 0``: a negative weight.
    """
    rows = [{"T": float(T), N_("t = 1/T (student term)"): 1 / check_temperature(T),
             N_("1 - t (teacher term)"): 1 - 1 / float(T)} for T in temperatures]
    return Shown(pd.DataFrame(rows).set_index("T"))


#: The columns of :func:`teacher_swap_test` that the reader sees.
SWAP_CHANGES = N_("loss value changes")
SWAP_UNCHANGED = N_("gradient unchanged by the swap")
SWAP_IS_CE = N_("gradient = t x gradient of CE(labels)")


def teacher_swap_test(student_logits: torch.Tensor, teacher_a: torch.Tensor, teacher_b: torch.Tensor,
                      labels: torch.Tensor, seed_T=(0.5, 0.8), kd_T: float = 4.0, alpha: float = 0.9) -> Shown:
    """Does the student's gradient change when the teacher is swapped? The test that can fail.

    For each loss (the seed's at each T of ``seed_T``, and :func:`kdnb.losses.kd_loss` at
    ``kd_T``, ``alpha``), autograd computes the gradient with respect to ``student_logits``
    twice, once with ``teacher_a`` and once with ``teacher_b``. A loss that teaches anything
    about the teacher must give two different gradients. Columns:

    * ``loss value changes``: the two losses differ (for the seed's loss, by a constant);
    * ``gradient unchanged by the swap``: the relative change ``||g_a - g_b|| / ||g_a||`` is
      below 1e-6 (equal up to float error);
    * ``gradient = t x gradient of CE(labels)``: the loss is, for the student, the
      cross-entropy with the labels scaled by ``t`` (for kd_loss ``t`` is taken as 1).
    """
    def grad(loss):
        z = student_logits.detach().double().clone().requires_grad_(True)
        loss(z).backward()
        return z.grad

    ce = grad(lambda z: F.cross_entropy(z, labels))
    rows = {}
    cases = [(SEED_LOSS.format(T=T, t=1 / T, rest=1 - 1 / T), 1 / T,
              lambda v, T=T: (lambda z: seed_loss(z, v, labels, T))) for T in seed_T]
    cases.append((KD_LOSS.format(T=kd_T, alpha=alpha), 1.0,
                  lambda v: (lambda z: losses.kd_loss(z, v, labels, kd_T, alpha))))
    for name, t, make in cases:
        g_a, g_b = grad(make(teacher_a.double())), grad(make(teacher_b.double()))
        z = student_logits.detach().double()
        loss_a, loss_b = make(teacher_a.double())(z).item(), make(teacher_b.double())(z).item()
        change = ((g_a - g_b).norm() / g_a.norm()).item()
        rows[name] = {SWAP_CHANGES: abs(loss_a - loss_b) > 1e-6 * abs(loss_a),
                      SWAP_UNCHANGED: change < 1e-6,
                      SWAP_IS_CE: bool(torch.allclose(g_a, t * ce, rtol=1e-6, atol=1e-12)),
                      "relative change": change}  # read by the notebook's cell, which drops it before showing the table
    return Shown(pd.DataFrame(rows).T.astype({SWAP_CHANGES: bool, SWAP_UNCHANGED: bool, SWAP_IS_CE: bool,
                                              "relative change": float}))


def swap_verdicts(swap: pd.DataFrame) -> Verdicts:
    """Section 5's claims, read from :func:`teacher_swap_test`'s table (the seed's rows, then kd_loss's)."""
    seed_rows, kd_row = swap.iloc[:-1], swap.iloc[-1]
    return Verdicts({
        _("The seed's loss value moves when the teacher is swapped (its teacher term is another constant)."):
            bool(seed_rows[SWAP_CHANGES].all()),
        _("The seed's gradient does not move at all: the student learns the same from any teacher."):
            bool(seed_rows[SWAP_UNCHANGED].all()),
        _("The seed's gradient is t times the gradient of the cross-entropy with the labels."):
            bool(seed_rows[SWAP_IS_CE].all()),
        _("kd_loss's gradient moves by more than 10% when the teacher is swapped: the test can fail."):
            not kd_row[SWAP_UNCHANGED] and kd_row["relative change"] > 0.1,
    })


def targets_vs_labels(teacher_logits: torch.Tensor, labels: torch.Tensor, temperatures) -> Shown:
    """How far the teacher's soft targets are from the hard labels, per T (seed 003-28).

    Mean entropy in bits, and mean total-variation distance ``0.5 sum |p_T - y|`` to the one-hot
    label: 0 when the targets are the labels, towards 0.9 when they are uniform over 10 classes.
    """
    onehot = F.one_hot(labels, teacher_logits.shape[-1]).double()
    rows = {}
    for T in temperatures:
        p = soft_targets(teacher_logits.double(), T)
        rows[float(T)] = {N_("mean entropy (bits)"): entropy(p).mean().item(),
                          N_("mean distance to the hard label (total variation)"): 0.5 * (p - onehot).abs().sum(1).mean().item()}
    return Shown(pd.DataFrame(rows).T.rename_axis("T"))


# ------------------------------------------------------------------ inference temperature and calibration (003-12)
def deployment_table(student_logits: torch.Tensor, labels: torch.Tensor, temperatures) -> Shown:
    """A deployed model's test accuracy and mean top probability (%) if it predicted at each T."""
    rows = {}
    for T in temperatures:
        q = F.softmax(student_logits / check_temperature(T), -1)
        rows[f"T = {T:g}"] = {ACCURACY: 100 * (q.argmax(1) == labels).float().mean().item(),
                              N_("mean top probability (%)"): 100 * q.max(1).values.mean().item()}
    return Shown(pd.DataFrame(rows).T)


#: Row labels that the notebook's cell passes to :func:`calibration_experiment` (``extra``), marked for translation.
EXTRA_LABELS = (N_("distilled 1x100 student, T = 1"), N_("distilled 1x100 student"))
#: The report's columns as :func:`calibration_experiment` names them (also :func:`deployment_table`'s accuracy).
ACCURACY, CONFIDENCE, ECE = N_("accuracy (%)"), N_("mean confidence (%)"), N_("ECE (%)")


@dataclass
class CalibrationRun:
    """What :func:`calibration_experiment` measured: the report, the fitted temperatures and the logits.

    ``report`` is a :class:`~.shown.Shown` table: its columns (:data:`ACCURACY` names the accuracy
    column) and rows are English, shown in the reader's language; ``extra`` holds the labels of the
    extra rows, as given.
    """

    report: pd.DataFrame
    T_fit: float
    T_teacher: float
    test_logits: torch.Tensor
    labels: torch.Tensor
    name: str = N_("2x800 on labels")
    extra: tuple = ()

    def probabilities(self) -> dict[str, torch.Tensor]:
        """Test probabilities of the 2x800 before (T = 1) and after scaling (fitted T)."""
        return {_("{name}, T = 1").format(name=_(self.name)): F.softmax(self.test_logits.double(), -1),
                _("{name}, T = {T:.2f} (fitted)").format(name=_(self.name), T=self.T_fit):
                    F.softmax(self.test_logits.double() / self.T_fit, -1)}


def calibration_experiment(dataset, teacher, extra: dict[str, torch.Tensor] | None = None, seed: int = 0,
                           setting: str = "unregularized-2x800", teacher_name: str = N_("CNN teacher")) -> CalibrationRun:
    """Guo et al. (2017) temperature scaling on Hinton's unregularized 2x800 net, trained here.

    Trains ``SETTINGS[setting]``'s student on the hard labels alone (no dropout, no
    distillation), fits one T on the **validation** split for it and for ``teacher``
    (:func:`kdnb.calibration.fit_temperature`), and reports accuracy, mean confidence, NLL and
    ECE on the **test** split before and after scaling. ``extra`` adds rows (test logits) at T = 1.
    """
    s = SETTINGS[setting]
    seed_everything(seed)
    big = kmodels.build(s["student"])
    fit(big, dataset.train, None, Run(epochs=s["epochs"], lr=s["lr"], batch_size=s["batch_size"], seed=seed, progress=False))
    big_val, big_test = predict_logits(big, dataset.val.X), predict_logits(big, dataset.test.X)
    teacher_val, teacher_test = predict_logits(teacher, dataset.val.X), predict_logits(teacher, dataset.test.X)
    T_fit = calibration.fit_temperature(big_val, dataset.val.y)
    T_teacher = calibration.fit_temperature(teacher_val, dataset.val.y)
    model = CalibrationRun.name
    rows = {AT_ONE.format(name=model): (big_test, 1.0), AT_FITTED.format(name=model): (big_test, T_fit),
            AT_ONE.format(name=teacher_name): (teacher_test, 1.0), AT_FITTED.format(name=teacher_name): (teacher_test, T_teacher)}
    rows.update({name: (z, 1.0) for name, z in (extra or {}).items()})
    report = calibration.calibration_report({name: z / T for name, (z, T) in rows.items()}, dataset.test.y)
    report.columns = [ACCURACY, CONFIDENCE, "NLL", ECE]  # accuracy, mean confidence, NLL, ECE
    report.insert(0, "T", [T for _z, T in rows.values()])
    return CalibrationRun(Shown(report), T_fit, T_teacher, big_test, dataset.test.y, extra=tuple(extra or ()))


def confidence_gaps(run: CalibrationRun) -> Shown:
    """The 2x800's mean confidence minus accuracy (points) and ECE (%) on the test split, before and after scaling."""
    r = run.report.iloc[:2]
    out = Shown({N_("mean confidence − accuracy (points)"): (r[CONFIDENCE] - r[ACCURACY]).to_numpy(),
                 ECE: r[ECE].to_numpy()},
                index=pd.Index(["T = 1", FITTED_T.format(T=run.T_fit)], name=run.name))
    return out.round(2)


def calibration_verdicts(run: CalibrationRun) -> Verdicts:
    """Section 7's claims, read from :func:`calibration_experiment`'s report (2x800 before and after
    scaling, the teacher, then the extra rows at T = 1)."""
    r = run.report
    acc, conf, ece = ACCURACY, CONFIDENCE, ECE
    before, after = r.iloc[0], r.iloc[1]
    gap_before, gap_after = (row[conf] - row[acc] for row in (before, after))
    claims = {
        _("The 2x800 trained on labels is over-confident: the T fitted on validation is above 1 (T = {T:.2f}).").format(
            T=run.T_fit): run.T_fit > 1,
        _("Scaling leaves its test accuracy exactly where it was."): before[acc] == after[acc],
        _("Scaling lowers its test NLL."): after["NLL"] < before["NLL"],
        _("Scaling lowers its ECE."): after[ece] < before[ece],
        _("Before scaling its mean confidence is more than 1 point above its accuracy; after, it is below: the T "
          "fitted on validation overshoots on the test split."): gap_before > 1 and gap_after < 0,
        _("The CNN teacher is close to calibrated already: its fitted T ({T:.2f}) is within 0.3 of 1.").format(
            T=run.T_teacher): abs(run.T_teacher - 1) < 0.3,
    }
    for name, (_label, row) in zip(run.extra, r.iloc[4:].iterrows()):
        claims[_("The {model} is over-confident too: at T = 1 its mean confidence is above its accuracy.").format(
            model=_(name.rsplit(", T =", 1)[0]))] = row[conf] > row[acc]
    return Verdicts(claims)


# ------------------------------------------------------------------ what the notebook's cells print
def setup_report(dataset, teachers: dict[str, torch.Tensor]) -> str:
    """Section 1's lines: the split sizes, and each teacher's test accuracy (``teachers``: name to test logits)."""
    lines = [_("images: {train:,} training, {val:,} validation, {test:,} test").format(
        train=len(dataset.train), val=len(dataset.val), test=len(dataset.test))]
    for name, z in teachers.items():
        lines.append(_("teacher {name}: {acc:.1f}% on the test images").format(
            name=name, acc=100 * (z.argmax(1) == dataset.test.y).float().mean()))
    return "\n".join(lines)


def pair_accuracies(student_logits: torch.Tensor, alone_logits: torch.Tensor, labels: torch.Tensor, T: float) -> dict[str, float]:
    """Test accuracy (%) of the student distilled at ``T`` and of its twin trained on the labels alone, by label shown."""
    return {name: 100 * (z.argmax(1) == labels).float().mean().item()
            for name, z in ((_("distilled at T = {T:g}").format(T=T), student_logits), (_("on labels alone"), alone_logits))}


def division_report(p: torch.Tensor, renormalized: torch.Tensor, logits: torch.Tensor, T: float) -> str:
    """Section 7's three lines: probabilities divided by T are no distribution, renormalized they are ``p`` again,
    and only ``softmax(logits / T)`` changes the entropy (bits)."""
    return "\n".join([
        _("sum of p / T: {total:.3f}  (not a distribution)").format(total=(p / T).sum()),
        _("renormalized p / T equals p up to float error: {same}").format(
            same=torch.allclose(renormalized, p, rtol=1e-5, atol=1e-7)),
        _("entropy: p {p:.3f} bits, renormalized p / T {renormalized:.3f} bits, softmax(z / T) {softened:.3f} bits").format(
            p=entropy(p), renormalized=entropy(renormalized), softened=entropy(F.softmax(logits / T, -1))),
    ])
