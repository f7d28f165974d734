"""Notebook 08's checkers: each accepts differently written right answers (every run: the checkers draw two random
problems per call), names each mistake it knows, rejects a battery of other wrong answers, and sees the stub."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kdnb import exercises, losses
from kdnb.nb08_distilling_language_models import checks
from kdnb.nb08_distilling_language_models.divergence import generalized_jsd

# ------------------------------------------------------------------------------------------------ sequence_kd_loss


def seq_solution(student_logits, teacher_logits, labels, T):
    """The notebook's solution."""
    valid = labels != -100                                                  # (B, S): the tokens that count
    log_q = F.log_softmax(student_logits[valid] / T, dim=-1)                # (tokens, V): the student, softened
    log_p = F.log_softmax(teacher_logits[valid].detach() / T, dim=-1)       # the frozen teacher, softened
    kl = F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)     # KL(p || q), mean over the valid tokens
    return T * T * kl


def seq_by_hand(z, v, y, T):
    with torch.no_grad():
        log_p = F.log_softmax(v / T, -1)
    per_token = (log_p.exp() * (log_p - F.log_softmax(z / T, -1))).sum(-1)
    weights = (y != -100).float()
    return T ** 2 * (per_token * weights).sum() / weights.sum()


def seq_ce_minus_entropy(z, v, y, T):
    V = z.shape[-1]
    keep = (y != -100).reshape(-1)
    zs, vs = z.reshape(-1, V)[keep] / T, v.detach().reshape(-1, V)[keep] / T
    p = vs.softmax(-1)
    entropy = -(p * vs.log_softmax(-1)).sum(-1).mean()
    return T * T * (F.cross_entropy(zs, p) - entropy)


def seq_masked_select(z, v, y, T):
    V = z.shape[-1]
    where = (y != -100).unsqueeze(-1).expand_as(z)
    zs, vs = torch.masked_select(z, where).view(-1, V), torch.masked_select(v.detach(), where).view(-1, V)
    return nn.KLDivLoss(reduction="batchmean")(F.log_softmax(zs / T, -1), F.softmax(vs / T, -1)) * T * T


def seq_float64_kdnb(z, v, y, T):
    return losses.soft_loss(z.double(), v.detach().double(), T, mask=y != losses.IGNORE_INDEX).float()


SEQ_RIGHT = [seq_solution, seq_by_hand, seq_ce_minus_entropy, seq_masked_select, seq_float64_kdnb]


@pytest.mark.parametrize("fn", SEQ_RIGHT)
def test_sequence_checker_accepts_every_right_formulation(fn):
    for _ in range(3):
        assert checks.diagnose_sequence_kd(fn) is None


def test_sequence_checker_prints_a_correct_verdict(capsys):
    verdict = checks.check_sequence_kd(seq_solution)
    assert verdict and "correct" in capsys.readouterr().out


@pytest.mark.parametrize("sentence", list(checks._sequence_mistakes()))
def test_sequence_checker_names_each_mistake(sentence):
    verdict = exercises.check("x", checks._sequence_mistakes()[sentence], checks.diagnose_sequence_kd, "todo", quiet=True)
    assert verdict.status == "wrong" and verdict.message == sentence


def _seq_in_place(z, v, y, T):
    v = v.detach()
    v /= T
    return T * T * F.kl_div(F.log_softmax(z[y != -100] / T, -1), F.softmax(v[y != -100], -1), reduction="batchmean")


def _seq_log_of_softmax(z, v, y, T):
    valid = y != -100
    p, q = F.softmax(v[valid].detach() / T, -1), F.softmax(z[valid] / T, -1)
    return T * T * (p * (torch.log(p) - torch.log(q))).sum(-1).mean()


def _seq_t1_special(z, v, y, T):
    if T == 1:
        return F.cross_entropy(z[y != -100], y[y != -100])
    return seq_solution(z, v, y, T)


def _seq_squeeze(z, v, y, T):
    z, v, y = z.squeeze(), v.squeeze(), y.squeeze()
    valid = y != -100
    if z.dim() < 3 and z.shape[0] == valid.numel():  # squeezed away the batch: the rows are read as one sequence's tokens
        return T * T * F.kl_div(F.log_softmax(z / T, -1), F.log_softmax(v.detach() / T, -1), reduction="sum",
                                log_target=True) / z.shape[0] * 2
    return seq_solution(z, v, y, T)


def _seq_calls_backward(z, v, y, T):
    loss = seq_solution(z, v, y, T)
    loss.backward()
    return loss


SEQ_WRONG_NAMED = {  # a mistake the checker names though it is not in its list of variants, with the words it must say
    "in place": _seq_in_place, "large ones": _seq_log_of_softmax, "T = 1": _seq_t1_special,
    "batch of one": _seq_squeeze, "backward() itself": _seq_calls_backward,
    "reach the teacher": lambda z, v, y, T: T * T * F.kl_div(F.log_softmax(z[y != -100] / T, -1),
                                                              F.softmax(v[y != -100] / T, -1), reduction="batchmean"),
    "as a tensor": lambda z, v, y, T: seq_solution(z, v, y, T).item(),
    "no gradient": lambda z, v, y, T: seq_solution(z.detach(), v, y, T),
    "off": lambda z, v, y, T: T * T * F.cross_entropy(z[y != -100] / T, F.softmax(v[y != -100].detach() / T, -1)),
    "one number": lambda z, v, y, T: T * T * F.kl_div(F.log_softmax(z / T, -1), F.log_softmax(v.detach() / T, -1),
                                                       reduction="none", log_target=True).sum(-1),
}

SEQ_WRONG_MORE = [
    lambda z, v, y, T: z.sum() * 0 + 1.0,                                                     # a constant
    lambda z, v, y, T: seq_solution(z, v, y, T) + 0.5,                                        # off by a constant
    lambda z, v, y, T: T * T * F.kl_div(F.log_softmax(z[y != -100] / T, -1), F.log_softmax(v[y != -100].detach() / T, -1),
                                        reduction="sum", log_target=True),                    # a sum over tokens
    lambda z, v, y, T: T * seq_solution(z, v, y, T) / T / T,                                  # T instead of T²
    lambda z, v, y, T: T ** 4 * seq_solution(z, v, y, T) / T ** 2,                            # T⁴
    lambda z, v, y, T: F.cross_entropy(z[y != -100], y[y != -100]),                           # hard labels only
    lambda z, v, y, T: T * T * F.mse_loss(F.softmax(z[y != -100] / T, -1), F.softmax(v[y != -100].detach() / T, -1)),
    lambda z, v, y, T: seq_solution(z, v, y, T) * (y != -100).float().mean(),                 # times the valid fraction
    lambda z, v, y, T: torch.tensor(float(seq_solution(z, v, y, T)), requires_grad=True),     # a new leaf: no graph
    lambda z, v, y, T: seq_solution(z, v, torch.where(y == -100, 0, y), T),                   # padding relabelled as 0
]


@pytest.mark.parametrize("words", list(SEQ_WRONG_NAMED))
def test_sequence_checker_says_why_other_answers_are_wrong(words):
    message = checks.diagnose_sequence_kd(SEQ_WRONG_NAMED[words])
    assert message is not None and words in message, message


@pytest.mark.parametrize("i", range(len(SEQ_WRONG_MORE)))
def test_sequence_checker_rejects_more_wrong_answers(i):
    verdict = exercises.check("x", SEQ_WRONG_MORE[i], checks.diagnose_sequence_kd, "todo", quiet=True)
    assert verdict.status == "wrong", verdict


def test_sequence_checker_sees_the_stub_and_shows_no_number(capsys):
    def sequence_kd_loss(student_logits, teacher_logits, labels, T):
        exercises.your_turn("return T * T * KL(p_T || q_T) averaged over the tokens with labels != -100")

    verdict = checks.check_sequence_kd(sequence_kd_loss)
    out = capsys.readouterr().out
    assert verdict.status == "todo" and "your turn" in out and not any(ch.isdigit() for ch in out.split("your turn")[1])
    assert checks.check_sequence_kd(..., exercise="Check yourself 3.2").status == "todo"


def test_sequence_cases_cover_the_edges_and_stay_unchanged():
    whats = [what for _, what in checks._sequence_cases(seed=1)]
    assert {"T = 1", "a batch of one", "a row with one valid token", "sequences of length 1", "no padding"} <= set(whats)
    assert any(w.startswith("large logits") for w in whats) and whats.count("a random problem") == 2
    for (z, v, y, T), what in checks._sequence_cases(seed=2):
        assert (y[:, 0] != -100).all() and (y == 0).any()        # every sequence has a token; a real token has id 0
        assert what != "a random problem" or (T != 1 and z.shape[0] > 1 and z.shape[1] > 1)
    cases = checks._sequence_cases(seed=3)
    copies = [tuple(a.clone() for a in args[:3]) for args, _ in cases]
    assert checks._diagnose(seq_solution, checks._SEQUENCE, cases) is None
    assert all(torch.equal(a, b) for (args, _), c in zip(cases, copies) for a, b in zip(args[:3], c))


# --------------------------------------------------------------------------------------------------- generalized_jsd


def jsd_solution(student_logits, teacher_logits, beta, T=1.0):
    """The notebook's solution."""
    log_q = F.log_softmax(student_logits / T, dim=-1)                              # Q, the student
    log_p = F.log_softmax(teacher_logits.detach() / T, dim=-1)                     # P, the frozen teacher
    if beta == 0:
        return F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)      # forward KL(P || Q)
    if beta == 1:
        return F.kl_div(log_p, log_q, reduction="batchmean", log_target=True)      # reverse KL(Q || P)
    log_m = torch.logaddexp(log_p + math.log(beta), log_q + math.log(1 - beta))    # log(beta P + (1 - beta) Q)
    kl_p = F.kl_div(log_m, log_p, reduction="batchmean", log_target=True)          # KL(P || M)
    kl_q = F.kl_div(log_m, log_q, reduction="batchmean", log_target=True)          # KL(Q || M)
    return beta * kl_p + (1 - beta) * kl_q


def jsd_stacked(z, v, beta, T=1.0):
    """TRL's way, in other words: a logsumexp over the stacked weighted log-probabilities, elementwise KLs, one sum."""
    lq, lp = torch.log_softmax(z / T, 1), torch.log_softmax(v / T, 1).detach()
    if beta in (0, 1):
        a, b = (lp, lq) if beta == 0 else (lq, lp)
        return (a.exp() * (a - b)).sum() / z.shape[0]
    b = torch.tensor(beta)
    lm = torch.logsumexp(torch.stack([lq + torch.log1p(-b), lp + torch.log(b)]), 0)
    return (b * lp.exp() * (lp - lm) + (1 - b) * lq.exp() * (lq - lm)).sum() / z.shape[0]


def jsd_entropies(z, v, beta, T=1.0):
    """JSD(beta) = H(M) - beta H(P) - (1 - beta) H(Q), in log space."""
    lq, lp = F.log_softmax(z / T, -1), F.log_softmax(v.detach() / T, -1)
    if beta == 0:
        return (lp.exp() * (lp - lq)).sum(-1).mean()
    if beta == 1:
        return (lq.exp() * (lq - lp)).sum(-1).mean()
    lm = torch.logaddexp(lp + torch.log(torch.tensor(beta)), lq + torch.log(torch.tensor(1 - beta)))

    def entropy(log_x):
        return -(log_x.exp() * log_x).sum(-1)
    return (entropy(lm) - beta * entropy(lp) - (1 - beta) * entropy(lq)).mean()


def jsd_float64_kdnb(z, v, beta, T=1.0):
    return generalized_jsd(z.double(), v.detach().double(), beta, T).float()


JSD_RIGHT = [jsd_solution, jsd_stacked, jsd_entropies, jsd_float64_kdnb]


@pytest.mark.parametrize("fn", JSD_RIGHT)
def test_jsd_checker_accepts_every_right_formulation(fn):
    for _ in range(3):
        assert checks.diagnose_generalized_jsd(fn) is None


@pytest.mark.parametrize("sentence", list(checks._jsd_mistakes()))
def test_jsd_checker_names_each_mistake(sentence):
    verdict = exercises.check("x", checks._jsd_mistakes()[sentence], checks.diagnose_generalized_jsd, "todo", quiet=True)
    assert verdict.status == "wrong" and verdict.message == sentence


def _jsd_in_place(z, v, beta, T=1.0):
    z /= T
    return jsd_solution(z, v, beta, 1.0)


def _jsd_naive_probs(z, v, beta, T=1.0):
    """Right, but the mixture's log is taken of probabilities: log 0 where both round to 0."""
    p, q = F.softmax(v.detach() / T, -1), F.softmax(z / T, -1)
    if beta == 0:
        return (p * (torch.log(p) - torch.log(q))).sum(-1).mean()
    if beta == 1:
        return (q * (torch.log(q) - torch.log(p))).sum(-1).mean()
    m = beta * p + (1 - beta) * q
    return (beta * (p * (torch.log(p) - torch.log(m))).sum(-1) + (1 - beta) * (q * (torch.log(q) - torch.log(m))).sum(-1)).mean()


def _jsd_rounded_ends(z, v, beta, T=1.0):
    """Treats beta < 0.05 as 0 and beta > 0.95 as 1."""
    return jsd_solution(z, v, 0 if beta < 0.05 else 1 if beta > 0.95 else beta, T)


def _jsd_ends_only_mixture(z, v, beta, T=1.0):
    """The ends through the mixture with beta clamped: nearly 0 at beta = 0 and 1, not the KLs."""
    return jsd_solution(z, v, min(max(beta, 1e-4), 1 - 1e-4), T)


JSD_WRONG_NAMED = {
    "in place": _jsd_in_place, "large ones": _jsd_naive_probs, "close to them": _jsd_rounded_ends,
    "beta = 0 or beta = 1": _jsd_ends_only_mixture,
    "T = 1": lambda z, v, b, T=1.0: jsd_solution(z, v, b, T) if T != 1 else jsd_solution(z, v, b, 2.0),
    "reach the teacher": lambda z, v, b, T=1.0: _jsd_leaky(z, v, b, T),
    "no gradient": lambda z, v, b, T=1.0: jsd_solution(z.detach(), v, b, T),
    "as a tensor": lambda z, v, b, T=1.0: jsd_solution(z, v, b, T).detach().numpy(),
    "one number": lambda z, v, b, T=1.0: (F.log_softmax(v.detach() / T, -1).exp() * (F.log_softmax(v.detach() / T, -1)
                                                                                      - F.log_softmax(z / T, -1))).sum(-1),
}


def _jsd_leaky(z, v, beta, T=1.0):
    """Right, but the teacher is not detached."""
    lq, lp = F.log_softmax(z / T, -1), F.log_softmax(v / T, -1)
    if beta in (0, 1):
        a, b = (lp, lq) if beta == 0 else (lq, lp)
        return (a.exp() * (a - b)).sum(-1).mean()
    lm = torch.logaddexp(lp + np.log(beta), lq + np.log1p(-beta))
    return (beta * (lp.exp() * (lp - lm)).sum(-1) + (1 - beta) * (lq.exp() * (lq - lm)).sum(-1)).mean()


JSD_WRONG_MORE = [
    lambda z, v, b, T=1.0: z.sum() * 0 + 0.3,                                      # a constant
    lambda z, v, b, T=1.0: jsd_solution(z, v, b, T) + 1.0,                          # off by a constant
    lambda z, v, b, T=1.0: jsd_solution(z, v, b, T) * z.shape[0],                   # a sum over rows
    lambda z, v, b, T=1.0: jsd_solution(z, v, b, T) / T,                            # divided by T
    lambda z, v, b, T=1.0: jsd_solution(z, v, 0.5, T),                              # beta ignored
    lambda z, v, b, T=1.0: jsd_solution(z, v, 1 - b, T),                            # beta read as 1 - beta
    lambda z, v, b, T=1.0: jsd_solution(v, z, b, T),                                # student and teacher swapped
    lambda z, v, b, T=1.0: F.kl_div(F.log_softmax(z / T, -1), F.softmax(v.detach() / T, -1), reduction="batchmean"),
    lambda z, v, b, T=1.0: jsd_solution(z, v, b, T) ** 2,                           # squared
    lambda z, v, b, T=1.0: jsd_solution(z, v, b, T) if b in (0, 1) else jsd_solution(z, v, 0.5, T),  # always M = (P + Q) / 2
    lambda z, v, b, T=1.0: b * F.kl_div(torch.logaddexp(F.log_softmax(v.detach() / T, -1) + np.log(max(b, 1e-9)),
                                                        F.log_softmax(z / T, -1) + np.log(max(1 - b, 1e-9))),
                                        F.softmax(v.detach() / T, -1), reduction="batchmean"),  # the teacher's term only
    lambda z, v, b, T=1.0: jsd_solution(z, v, 0 if b < 1e-3 else 1 if b > 1 - 1e-3 else b, T),  # ends widened to a band
]


@pytest.mark.parametrize("words", list(JSD_WRONG_NAMED))
def test_jsd_checker_says_why_other_answers_are_wrong(words):
    message = checks.diagnose_generalized_jsd(JSD_WRONG_NAMED[words])
    assert message is not None and words in message, message


@pytest.mark.parametrize("i", range(len(JSD_WRONG_MORE)))
def test_jsd_checker_rejects_more_wrong_answers(i):
    verdict = exercises.check("x", JSD_WRONG_MORE[i], checks.diagnose_generalized_jsd, "todo", quiet=True)
    assert verdict.status == "wrong", verdict


def test_jsd_checker_sees_the_stub_and_shows_no_number(capsys):
    def generalized_jsd(student_logits, teacher_logits, beta, T=1.0):
        exercises.your_turn("return beta * KL(P || M) + (1 - beta) * KL(Q || M), with the two KLs at the ends")

    verdict = checks.check_generalized_jsd(generalized_jsd)
    out = capsys.readouterr().out
    assert verdict.status == "todo" and not any(ch.isdigit() for ch in out.split("your turn")[1])
    assert checks.check_generalized_jsd(jsd_solution, exercise="Check yourself 4.2").status == "correct"


def test_jsd_cases_cover_the_edges():
    cases = checks._jsd_cases(seed=1)
    whats = [what for _, what in cases]
    assert {"beta = 0", "beta = 1", "beta = 0.01", "beta = 0.99", "beta = 0.0001", "beta = 0.9999", "T = 1",
            "a batch of one"} <= set(whats)
    assert any(w.startswith("large logits") for w in whats)
    assert all(0 < args[2] < 1 and args[3] != 1 for args, what in cases if what == "a random problem")


def test_checkers_speak_chinese_in_zh_and_english_otherwise(capsys):
    from kdnb import i18n

    def no_t2(student_logits, teacher_logits, labels, T):
        return seq_solution(student_logits, teacher_logits, labels, T) / (T * T)

    english = checks.diagnose_sequence_kd(no_t2)
    assert english.startswith("the T² factor is missing")
    try:
        i18n.set_language("zh")
        chinese = checks.diagnose_sequence_kd(no_t2)
        jsd = checks.diagnose_generalized_jsd(lambda z, v, beta, T=1.0: 2 * jsd_solution(z, v, beta, T))
        checks.check_generalized_jsd(jsd_solution)
        printed = capsys.readouterr().out
    finally:
        i18n.set_language(None)
    assert chinese != english and "缺少" in chinese, chinese
    assert any("\u4e00" <= ch <= "\u9fff" for ch in jsd), jsd
    assert "自测 4.1" in printed and "T = 1" in printed, printed
    assert checks.diagnose_sequence_kd(no_t2) == english
