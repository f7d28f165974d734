"""The quiz: computed questions (each answer comes out of the workbook's functions), drawn at random, and its widget."""

from __future__ import annotations

import html
import math
import random
import warnings
from dataclasses import dataclass

import ipywidgets as W
import torch
import torch.nn.functional as F
from torch.nn.utils import prune

from .. import bank
from ..exercises import as_number
from ..i18n import N_, _, language
from ..losses import hard_loss, kd_loss, soft_loss
from ..temperature import entropy, soft_targets
from ..widgets import button
from .words import Shown, langs_of, link_html, pick_lang, say, ui_lang


@dataclass
class QuizItem:
    """One computed question: ``answer`` came out of a function, never out of the prose."""

    id: str
    prompt: dict                   # {"en": ..., "zh": ...}
    answer: object                 # the option's label (choice) or a float (number)
    explain: dict
    link: bank.Link
    options: list | None = None    # None for a numeric question
    tolerance: float = 0.02        # relative, for numbers

    @property
    def kind(self) -> str:
        return "number" if self.options is None else "choice"

    def is_right(self, value) -> bool:
        """Whether ``value`` is the computed answer: an option's label, or a number of any numeric type.

        A number may come as ``int``, ``float``, a NumPy scalar, a 0-d tensor or the text of a number
        (what a text box holds); an empty box, ``None``, a bool, NaN or infinity is never right.
        """
        if self.options is not None:
            if isinstance(value, str) and value.strip() == str(self.answer):
                return True
            # a numeric option may also be given as a number: 0.5 or "0.50" for the option "0.5"
            label, v = _number(str(self.answer)), _number(value)
            return label is not None and v is not None and math.isclose(v, label, rel_tol=1e-9, abs_tol=1e-12)
        v = _number(value)
        return v is not None and abs(v - self.answer) <= self.tolerance * max(abs(self.answer), 1.0)

    def shown_answer(self) -> str:
        return str(self.answer) if self.options is not None else f"{self.answer:.3g}"


def _number(value) -> float | None:
    """A quiz answer as a finite float: any numeric type, or the text of a number; None otherwise."""
    if isinstance(value, str):
        text = value.strip().replace("−", "-")
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            return None
    return as_number(value)


def _logits(rng: random.Random, n: int = 5) -> torch.Tensor:
    return torch.tensor([[round(rng.uniform(-3, 5), 1) for _i in range(n)]])


def _fmt(z: torch.Tensor) -> str:
    return "[" + ", ".join(f"{v:g}" for v in z.flatten().tolist()) + "]"


def q_entropy(rng):
    z, T = _logits(rng), rng.choice([2, 4, 8])
    h = entropy(soft_targets(z, T)).item()
    return QuizItem("entropy", {"en": f"Logits z = {_fmt(z)}. What is the entropy, in bits, of softmax(z / T) at T = {T}?",
                                "zh": f"logits 为 z = {_fmt(z)}。温度 T = {T} 时，softmax(z / T) 的熵是多少比特？"},
                    h, {"en": "Soften first, then H = −Σ p log₂ p. A higher T spreads the mass, so the entropy rises "
                              "towards log₂ 5 ≈ 2.32 bits.",
                        "zh": "先用温度软化，再算 H = −Σ p log₂ p。T 越高分布越平，熵趋近 log₂ 5 ≈ 2.32 比特。"},
                    bank.Link("03_temperature", "2"))


def q_t_squared(rng):
    z, v, T = _logits(rng), _logits(rng), rng.choice([2, 3, 4, 5, 8, 10])
    grads = []
    for scale in (True, False):
        s = z.clone().requires_grad_(True)
        soft_loss(s, v, T, scale=scale).backward()
        grads.append(s.grad.norm().item())
    ratio = grads[0] / grads[1]
    return QuizItem("t-squared", {"en": f"At T = {T}, how many times larger is the student-logit gradient of "
                                        "T²·KL(p_T ‖ q_T) than that of KL(p_T ‖ q_T) alone?",
                                  "zh": f"T = {T} 时，T²·KL(p_T ‖ q_T) 对学生 logits 的梯度是单独 KL(p_T ‖ q_T) 的多少倍？"},
                    ratio, {"en": "Autograd on kdnb.losses.soft_loss with and without the factor: the ratio is T², the "
                                  "factor that undoes the 1/T² shrinkage of the softened gradients.",
                            "zh": "用 autograd 分别对带和不带 T² 的 soft_loss 求梯度：比值正好是 T²，抵消了软化带来的 1/T² 缩小。"},
                    bank.Link("03_temperature", "4"), tolerance=1e-3)


def q_batchmean(rng):
    n, c = rng.choice([16, 32, 64]), rng.choice([5, 10, 100])
    g = torch.Generator().manual_seed(rng.randrange(10 ** 6))
    log_q = F.log_softmax(torch.randn(n, c, generator=g), -1)
    p = F.softmax(torch.randn(n, c, generator=g), -1)
    with warnings.catch_warnings():  # torch warns that 'mean' is not the KL divergence: that is the point
        warnings.filterwarnings("ignore", message="reduction: 'mean' divides", category=UserWarning)
        ratio = (F.kl_div(log_q, p, reduction="batchmean") / F.kl_div(log_q, p, reduction="mean")).item()
    return QuizItem("batchmean", {"en": f"A batch of {n} examples over {c} classes. By what factor is "
                                        "F.kl_div(..., reduction='batchmean') larger than with reduction='mean'?",
                                  "zh": f"一个批次有 {n} 个样本、{c} 个类别。F.kl_div 用 reduction='batchmean' "
                                        "比用 reduction='mean' 大多少倍？"},
                    ratio, {"en": "'mean' divides the summed KL by N·C, 'batchmean' by N: the ratio is the number of "
                                  "classes, which is why only 'batchmean' is the KL divergence per example.",
                            "zh": "'mean' 除以 N·C，'batchmean' 只除以 N，二者相差类别数 C；只有 'batchmean' 才是每个样本的 KL散度。"},
                    bank.Link("04_distillation_losses", "5.1"), tolerance=1e-3)


def q_seed_weights(rng):
    T = rng.choice([0.25, 0.4, 0.5, 0.8])
    t = 1 / T
    return QuizItem("seed-weights", {"en": f"Seed 002-S3 sets t = 1/T and weights its teacher term by (1 − t). "
                                           f"With its 'usual' T = {T:g}, what is that weight?",
                                     "zh": f"种子题 002-S3 令 t = 1/T，教师项的权重为 (1 − t)。按它所说的 T = {T:g}，"
                                           "这个权重是多少？"},
                    1 - t, {"en": "T below 1 makes t above 1 and the teacher's weight negative, on a term whose gradient is "
                                  "zero anyway: distillation uses T ≥ 1 inside the softmax.",
                            "zh": "T 小于 1 时 t 大于 1，教师项权重为负，而这一项对学生本来就没有梯度；知识蒸馏在 softmax 里用 T ≥ 1。"},
                    bank.Link("03_temperature", "5"), tolerance=1e-6)


def q_l1_l2(rng):
    g = torch.Generator().manual_seed(rng.randrange(10 ** 6))
    rows, cols = rng.choice([16, 32, 64]), rng.choice([16, 32, 64])
    w = torch.randn(rows, cols, generator=g)
    amount = rng.choice([0.25, 0.5, 0.75])
    if rng.random() < 0.5:  # single weights: |w| and w² rank them alike
        what = {"en": "single weights", "zh": "单个权重（非结构化剪枝）"}
        ranks = {"en": "once ranking by |w| (L1) and once by w² (L2)", "zh": "一次按 |w|（L1）排序，一次按 w²（L2）排序"}
        m1 = prune.L1Unstructured(amount).compute_mask(w.abs(), torch.ones_like(w))
        m2 = prune.L1Unstructured(amount).compute_mask(w.pow(2), torch.ones_like(w))
    else:  # whole rows: the L1 and the L2 norm of a row rank the rows differently
        what = {"en": "rows (structured, dim=0)", "zh": "整行（结构化剪枝，dim=0）"}
        ranks = {"en": "once ranking rows by their L1 norm (n=1) and once by their L2 norm (n=2)",
                 "zh": "一次按行的 L1 范数（n=1）排序，一次按 L2 范数（n=2）排序"}
        m1 = prune.LnStructured(amount, n=1, dim=0).compute_mask(w, torch.ones_like(w))
        m2 = prune.LnStructured(amount, n=2, dim=0).compute_mask(w, torch.ones_like(w))
    differ = int((m1 != m2).sum())
    return QuizItem("l1-l2", {"en": f"Prune {amount:.0%} of the {what['en']} of a {rows}×{cols} weight matrix (seeded "
                                    f"random normal), {ranks['en']}. How many entries of the two masks differ?",
                              "zh": f"对一个 {rows}×{cols} 的随机正态权重矩阵剪掉 {amount:.0%} 的{what['zh']}：{ranks['zh']}。"
                                    "两个掩码有多少个位置不同？"},
                    float(differ), {"en": "|w| and w² rank single weights in the same order, so their masks are "
                                          "identical; the L1 and L2 norms of a group (a row, a channel) can rank the "
                                          "groups differently, so structured masks can differ.",
                                    "zh": "|w| 与 w² 对单个权重的排序完全相同，所以非结构化掩码一样；按组（行、通道）剪枝时，"
                                          "L1 和 L2 范数对各组的排序可能不同，掩码就可能不同。"},
                    bank.Link("06_pruning_and_compression", "3"), tolerance=0.0)


def q_closest_one_hot(rng):
    z = _logits(rng)
    options = sorted(rng.sample(["0.25", "0.5", "1", "2", "4", "8", "20"], 4), key=float)
    rng.shuffle(options)
    sharp = rng.random() < 0.5
    tops = [soft_targets(z, float(T)).max().item() for T in options]
    pick = max if sharp else min
    answer = options[pick(range(4), key=lambda i: tops[i])]
    goal = ({"en": "closest to one-hot (the largest top probability)", "zh": "最接近 one-hot（最大概率最高）"} if sharp
            else {"en": "closest to uniform (the smallest top probability)", "zh": "最接近均匀分布（最大概率最低）"})
    return QuizItem("one-hot", {"en": f"Logits z = {_fmt(z)}. Which T makes softmax(z / T) {goal['en']}?",
                                "zh": f"logits 为 z = {_fmt(z)}。哪个温度 T 让 softmax(z / T) {goal['zh']}？"},
                    answer, {"en": "Dividing by a small T stretches the gaps between logits (T → 0 gives the argmax); a "
                                   "large T shrinks them (T → ∞ gives the uniform distribution). Distillation uses T ≥ 1.",
                             "zh": "除以较小的 T 会拉大 logits 之间的差距（T → 0 时退化为 argmax）；较大的 T 缩小差距"
                                   "（T → ∞ 时趋于均匀分布）。知识蒸馏用 T ≥ 1。"},
                    bank.Link("03_temperature", "2"), options)


_ALPHA_GOALS = {
    "hard": ({"en": "plain cross-entropy with the labels", "zh": "只剩与硬标签的交叉熵"}, lambda ce, soft: ce),
    "soft": ({"en": "only the soft term T²·KL(p_T ‖ q_T)", "zh": "只剩软标签项 T²·KL(p_T ‖ q_T)"}, lambda ce, soft: soft),
    "even": ({"en": "the two terms weighted equally", "zh": "两项权重相等"}, lambda ce, soft: 0.5 * (ce + soft)),
}


def q_alpha(rng):
    z, v = _logits(rng), _logits(rng)
    y = torch.tensor([rng.randrange(z.shape[-1])])
    T = rng.choice([2.0, 4.0, 8.0])
    goal = rng.choice(sorted(_ALPHA_GOALS))
    words, target = _ALPHA_GOALS[goal]
    value = target(hard_loss(z, y).item(), soft_loss(z, v, T).item())
    options = ["0", "0.25", "0.5", "1"]
    answer = next(a for a in options if math.isclose(kd_loss(z, v, y, T=T, alpha=float(a)).item(), value, rel_tol=1e-6))
    return QuizItem("alpha", {"en": f"kdnb's kd_loss is (1 − α)·CE(y, q) + α·T²·KL(p_T ‖ q_T). Which α leaves "
                                    f"{words['en']}?",
                              "zh": f"kdnb 的 kd_loss 为 (1 − α)·CE(y, q) + α·T²·KL(p_T ‖ q_T)。α 取多少时{words['zh']}？"},
                    answer, {"en": "α weights the soft (teacher) term and 1 − α the hard one: α = 0 keeps the labels only, "
                                   "α = 1 the teacher only. Papers differ on which term α weights: say which convention "
                                   "you use.",
                             "zh": "α 是软标签项（教师项）的权重，1 − α 是硬标签项的权重：α = 0 只剩标签，α = 1 只剩教师。"
                                   "不同论文中 α 加在哪一项上并不统一，面试时要说明约定。"},
                    bank.Link("04_distillation_losses", "2"), options)


def q_pruned_copies(rng):
    n = rng.choice([32, 64, 128, 256])
    layer = torch.nn.Linear(n, n)
    also_bias, removed = rng.random() < 0.5, rng.random() < 0.5
    prune.l1_unstructured(layer, "weight", amount=rng.choice([0.5, 0.9]))
    if also_bias:
        prune.l1_unstructured(layer, "bias", amount=0.5)
    if removed:
        prune.remove(layer, "weight")
        if also_bias:
            prune.remove(layer, "bias")
    count = len(layer.state_dict())
    what = ({"en": "its weight and its bias", "zh": "权重和偏置"} if also_bias else {"en": "its weight", "zh": "权重"})
    when = ({"en": "and then prune.remove on each", "zh": "并对它们调用 prune.remove 之后"} if removed
            else {"en": "and before prune.remove", "zh": "之后、prune.remove 之前"})
    return QuizItem("pruned-copies", {"en": f"A Linear({n}, {n}) after prune.l1_unstructured on {what['en']}, {when['en']}: "
                                            "how many tensors does its state_dict hold?",
                                      "zh": f"对 Linear({n}, {n}) 的{what['zh']}调用 prune.l1_unstructured {when['zh']}，"
                                            "它的 state_dict 里有几个张量？"},
                      float(count), {"en": "Each pruned tensor is stored as name_orig plus name_mask until prune.remove "
                                           "folds the mask in, so unstructured pruning alone makes the file larger, not "
                                           "smaller.",
                                     "zh": "每个被剪枝的张量在 prune.remove 之前都存成 name_orig 和 name_mask 两份，"
                                           "prune.remove 把掩码并入后才恢复一份；所以单靠非结构化剪枝文件反而更大。"},
                      bank.Link("06_pruning_and_compression", "2"), tolerance=0.0)


def q_ce_minus_kl(rng):
    z, v = _logits(rng), _logits(rng)
    p, log_q = soft_targets(v, 1.0), F.log_softmax(z, -1)
    ce = -(p * log_q).sum().item()
    kl = F.kl_div(log_q, p, reduction="batchmean").item()
    h_p, h_q = entropy(p, base=math.e).item(), entropy(log_q.exp(), base=math.e).item()
    values = {N_("H(p), the teacher's entropy"): h_p, N_("H(q), the student's entropy"): h_q, "KL(p ‖ q)": kl,
              "CE(p, q)": ce, "log C": math.log(z.shape[-1])}
    asks = {"CE(p, q) − KL(p ‖ q)": ce - kl, "CE(p, q) − H(p)": ce - h_p, "H(p) + KL(p ‖ q)": h_p + kl}
    ask = rng.choice(sorted(asks))
    options = list(values)
    rng.shuffle(options)
    answer = min(options, key=lambda k: abs(values[k] - asks[ask]))
    return QuizItem("ce-minus-kl", {"en": f"For a teacher distribution p and a student distribution q over C classes, "
                                          f"{ask} equals which quantity?",
                                    "zh": f"对 C 个类别上的教师分布 p 和学生分布 q，{ask} 等于什么？"},
                    answer, {"en": "CE(p, q) = H(p) + KL(p ‖ q), and H(p) does not depend on the student: the two losses "
                                   "have the same gradient and differ by a constant.",
                             "zh": "CE(p, q) = H(p) + KL(p ‖ q)，H(p) 与学生无关：两个损失梯度相同，只差一个常数。"},
                    bank.Link("04_distillation_losses", "3"), options)


def q_top2(rng):
    z, T = _logits(rng), rng.choice([2, 4, 10])
    top = soft_targets(z, T).topk(2).values[0]
    ratio = (top[0] / top[1]).item()
    return QuizItem("top2", {"en": f"Logits z = {_fmt(z)}. At T = {T}, the most likely class is how many times as likely as "
                                   "the runner-up?",
                             "zh": f"logits 为 z = {_fmt(z)}。T = {T} 时，概率最大的类别是第二名的多少倍？"},
                    ratio, {"en": "The ratio of two softmax probabilities is exp((z₁ − z₂) / T): T divides the logit gap.",
                            "zh": "两个 softmax 概率之比为 exp((z₁ − z₂) / T)：温度 T 缩小的是 logits 之间的差距。"},
                    bank.Link("03_temperature", "2"))


#: The question generators: each draws its inputs from ``rng`` and computes the answer.
GENERATORS = [q_entropy, q_t_squared, q_batchmean, q_seed_weights, q_l1_l2, q_closest_one_hot, q_alpha,
              q_pruned_copies, q_ce_minus_kl, q_top2]


def make_quiz(n: int = 10, seed: int = 0) -> list[QuizItem]:
    """``n`` computed questions (each generator at most once per round), drawn with ``seed``."""
    if n < 1:
        raise ValueError(f"a quiz has at least one question, got n={n}")
    rng = random.Random(seed)
    gens = []
    while len(gens) < n:
        block = GENERATORS[:]
        rng.shuffle(block)
        gens += block
    return [g(rng) for g in gens[:n]]


_KINDS = {"number": N_("number"), "choice": N_("choice")}


def _shown(item: QuizItem) -> str:
    """The computed answer as the reader sees it (a worded option in the edition's language)."""
    return _(item.shown_answer()) if item.options else item.shown_answer()


def quiz_table(items: list[QuizItem], lang: str | None = None) -> Shown:
    """The static twin of the quiz: each question, its kind and its computed answer (``lang``: "en" or "zh";
    by default the edition's language)."""
    lang = lang or language()
    return Shown([{N_("question"): it.prompt[lang], N_("kind"): _KINDS[it.kind], N_("answer"): it.shown_answer(),
                   N_("see"): it.link.label} for it in items])


def draw_each(seeds: int = 12) -> dict[str, list[QuizItem]]:
    """Every generator's question drawn with ``random.Random(s)`` for ``s`` in ``range(seeds)``, by generator name."""
    return {g.__name__.removeprefix("q_"): [g(random.Random(s)) for s in range(seeds)] for g in GENERATORS}


def distinct_answers(drawn: dict[str, list[QuizItem]]) -> Shown:
    """How many different answers each generator gave over its draws (as shown to three significant figures)."""
    counts = {name: len({it.shown_answer() for it in items}) for name, items in drawn.items()}
    draws = {len(items) for items in drawn.values()}
    label = (N_("different answers over {n} draws").format(n=draws.pop()) if len(draws) == 1
             else N_("different answers"))
    return Shown([counts], index=[label])


class Quiz:
    """One question at a time: choose or type an answer, check it, see why, go on.

    The interface words are in Chinese when only Chinese is shown (``lang="中文"``), in English otherwise.
    """

    def __init__(self, n: int = 8, seed: int = 0, lang: str | None = None):
        self.items, self.lang = make_quiz(n, seed), pick_lang(lang, "both")
        self.ui = ui_lang(self.lang)
        self.index, self.results = 0, []
        self.prompt = W.HTML()
        self.choice = W.RadioButtons(layout=W.Layout(width="auto"))
        self.number = W.Text(description=say("your answer", self.ui), placeholder=say("type", self.ui),
                             layout=W.Layout(width="220px"))
        self.check_button = button(say("check", self.ui), "info")
        self.next_button = W.Button(description=say("next", self.ui))
        self.feedback = W.HTML()
        self.score = W.HTML()
        self.input_box = W.Box()
        self.check_button.on_click(lambda _b: self.answer(self._value()))
        self.next_button.on_click(lambda _b: self.next())
        self.widget = W.VBox([self.score, self.prompt, self.input_box, W.HBox([self.check_button, self.next_button]),
                              self.feedback])
        self.render()

    @property
    def current(self) -> QuizItem | None:
        return self.items[self.index] if self.index < len(self.items) else None

    def _value(self):
        item = self.current
        return None if item is None else (self.choice.value if item.options is not None else self.number.value)

    def answer(self, value) -> bool:
        """Check ``value`` against the computed answer; a question counts once, at its first check."""
        item = self.current
        if item is None:
            return False
        if value is None and item.options is not None:
            self.feedback.value = say("choose first", self.ui)
            return False
        if item.options is None and (value is None or (isinstance(value, str) and not value.strip())):
            self.feedback.value = say("type first", self.ui)
            return False
        right = item.is_right(value)
        if len(self.results) == self.index:
            self.results.append(right)
        langs = langs_of(self.lang)
        verdict = say("right", self.ui) if right else say("not quite", self.ui, answer=html.escape(_shown(item)))
        self.feedback.value = (f"<p><b>{verdict}</b></p>" + "".join(f"<p>{html.escape(item.explain[g])}</p>" for g in langs)
                               + f"<p>{say('see', self.ui)}{'：' if self.ui == 'zh' else ': '}{link_html(item.link)}</p>")
        self._score()
        return right

    def next(self) -> None:
        if self.current is not None and len(self.results) == self.index:
            self.results.append(False)  # skipped
        self.index += 1
        self.render()

    def _score(self) -> None:
        self.score.value = say("quiz score", self.ui, right=sum(self.results), done=len(self.results),
                               k=min(self.index + 1, len(self.items)), n=len(self.items))

    def render(self) -> None:
        item = self.current
        self.feedback.value = ""
        if item is None:
            done = say("quiz done", self.ui, right=sum(self.results), n=len(self.items))
            self.prompt.value = f"<p style='font-size:1.2em'>{done}</p>"
            self.input_box.children = ()
            self.check_button.disabled = self.next_button.disabled = True
        else:
            self.prompt.value = "".join(f"<p style='font-size:1.15em'>{html.escape(item.prompt[g])}</p>"
                                        for g in langs_of(self.lang))
            if item.options is not None:
                self.choice.options, self.choice.value = [(_(o), o) for o in item.options], None
                self.input_box.children = (self.choice,)
            else:
                self.number.value = ""
                self.input_box.children = (self.number,)
        self._score()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
