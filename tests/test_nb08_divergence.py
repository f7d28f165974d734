"""Notebook 08's divergences: generalized_jsd against TRL's GKD loss and by hand, the 'batchmean' pitfall on (B, S, V)
logits, the beta explorer and its verdicts, and (slow) TRL's GKDTrainer on two tiny GPT-2s, offline."""

import ast
import math
import socket
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kdnb import losses
from kdnb.nb08_distilling_language_models import divergence as dv

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread is fastest (two fight over a busy machine's cores); the count comes back afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trl_jsd():
    """``GKDTrainer.generalized_jsd_loss`` as the installed TRL writes it, compiled on its own from TRL's source file.

    Importing ``trl.experimental.gkd`` pulls in transformers' Trainer (seconds); the function needs only torch and F, so
    it is taken from the source, unchanged. The slow trainer test checks that it is the trainer's own method.
    """
    trl = pytest.importorskip("trl")
    path = Path(trl.__file__).parent / "experimental" / "gkd" / "gkd_trainer.py"
    if not path.exists():
        pytest.skip(f"TRL {trl.__version__} has no {path.name} where TRL 1.16 keeps GKDTrainer")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "GKDTrainer")
    fn = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "generalized_jsd_loss")
    fn.decorator_list = []  # @staticmethod
    namespace = {"torch": torch, "F": F}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), str(path), "exec"), namespace)
    return namespace["generalized_jsd_loss"]


def padded_batch(B=3, S=7, V=11, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    z, v = scale * torch.randn(B, S, V, generator=g), scale * torch.randn(B, S, V, generator=g)
    labels = torch.randint(0, V, (B, S), generator=g)
    labels[1, 4:] = -100
    labels[2, 1:] = -100  # a sequence with one valid token
    return z, v, labels


# ------------------------------------------------------------------------------------------- generalized_jsd vs TRL


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("T", [1.0, 2.0, 4.0])
def test_generalized_jsd_is_trls_gkd_loss(trl_jsd, beta, T):
    z, v, labels = padded_batch(seed=int(10 * beta + T))
    grads = {}
    for name, loss_fn in {"trl": lambda zz: trl_jsd(zz, v, labels, beta=beta, temperature=T),
                          "ours": lambda zz: dv.generalized_jsd(zz, v, beta, T, mask=labels != -100),
                          "ours, scaled": lambda zz: dv.generalized_jsd(zz, v, beta, T, mask=labels != -100, scale=True)}.items():
        zz = z.clone().requires_grad_(True)
        value = loss_fn(zz)
        value.backward()
        grads[name] = (value.detach(), zz.grad)
    trl_value, trl_grad = grads["trl"]
    assert grads["ours"][0] == pytest.approx(trl_value.item(), rel=1e-5)
    assert torch.allclose(grads["ours"][1], trl_grad, rtol=1e-5, atol=1e-8)
    assert grads["ours, scaled"][0] == pytest.approx(T * T * trl_value.item(), rel=1e-5)  # TRL has no T²
    assert torch.allclose(grads["ours, scaled"][1], T * T * trl_grad, rtol=1e-5, atol=1e-8)


def test_trls_batchmean_without_labels_divides_by_the_batch_size(trl_jsd):
    z, v, _ = padded_batch(B=4, S=6)
    for beta in (0.0, 0.5, 1.0):
        per_token = dv.generalized_jsd(z, v, beta)
        assert trl_jsd(z, v, None, beta=beta).item() == pytest.approx(6 * per_token.item(), rel=1e-5)


def test_the_mixture_formula_tends_to_zero_at_the_ends_which_is_why_they_are_special(trl_jsd):
    z, v, labels = padded_batch(scale=1.0)
    z, v, mask = z.double(), v.double(), labels != -100
    forward, reverse = dv.generalized_jsd(z, v, 0.0, mask=mask).item(), dv.generalized_jsd(z, v, 1.0, mask=mask).item()
    for eps in (1e-4, 1e-6):
        near0, near1 = dv.generalized_jsd(z, v, eps, mask=mask).item(), dv.generalized_jsd(z, v, 1 - eps, mask=mask).item()
        assert near0 < 2 * eps * forward and near1 < 2 * eps * reverse             # the value tends to 0 ...
        assert near0 / eps == pytest.approx(forward, rel=100 * eps)                # ... JSD(beta) / beta to KL(P || Q)
        assert near1 / eps == pytest.approx(reverse, rel=100 * eps)                # ... JSD(beta) / (1 - beta) to KL(Q || P)
        assert trl_jsd(z, v, labels, beta=eps).item() == pytest.approx(near0, rel=1e-6)
        assert trl_jsd(z, v, labels, beta=1 - eps).item() == pytest.approx(near1, rel=1e-6)


# --------------------------------------------------------------------------------------- generalized_jsd by itself


def test_beta_0_is_forward_kl_and_beta_1_is_reverse_kl():
    z, v, labels = padded_batch()
    mask = labels != -100
    for T in (1.0, 3.0):
        assert dv.generalized_jsd(z, v, 0.0, T, mask=mask).item() == pytest.approx(
            losses.soft_loss(z, v, T, scale=False, mask=mask).item(), rel=1e-6)
        log_q, log_p = F.log_softmax(z[mask] / T, -1), F.log_softmax(v[mask] / T, -1)
        reverse = (log_q.exp() * (log_q - log_p)).sum(-1).mean()
        assert dv.generalized_jsd(z, v, 1.0, T, mask=mask).item() == pytest.approx(reverse.item(), rel=1e-6)


def test_jsd_at_one_half_is_symmetric_and_bounded():
    z, v, _ = padded_batch()
    assert dv.generalized_jsd(z, v, 0.5).item() == pytest.approx(dv.generalized_jsd(v, z, 0.5).item(), rel=1e-6)
    far = torch.tensor([[100.0, 0.0, 0.0], [0.0, 0.0, 100.0]])      # nearly disjoint: the bound is nearly reached
    for beta in (0.1, 0.5, 0.8):
        bound = -beta * math.log(beta) - (1 - beta) * math.log(1 - beta)
        for a, b in ((z, v), (far, far.flip(1)), (20 * z, -20 * z)):
            assert 0 <= dv.generalized_jsd(a, b, beta).item() <= bound + 1e-6
    assert dv.generalized_jsd(far, far.flip(1), 0.5).item() == pytest.approx(math.log(2), rel=1e-6)
    assert dv.generalized_jsd(z, z.clone(), 0.5).item() == pytest.approx(0.0, abs=1e-6)


def test_shapes_mask_scale_and_a_frozen_teacher():
    z, v, labels = padded_batch()
    mask = labels != -100
    flat = dv.generalized_jsd(z[mask], v[mask], 0.3, 2.0)
    assert dv.generalized_jsd(z, v, 0.3, 2.0, mask=mask).item() == pytest.approx(flat.item(), rel=1e-6)  # per token, not per B
    assert dv.generalized_jsd(z[0, 0], v[0, 0], 0.3).item() == pytest.approx(dv.generalized_jsd(z[0, :1], v[0, :1], 0.3).item())
    assert dv.generalized_jsd(z, v, 0.3, 2.0, scale=True).item() == pytest.approx(4 * dv.generalized_jsd(z, v, 0.3, 2.0).item())
    zz, vv = z.clone().requires_grad_(True), v.clone().requires_grad_(True)
    dv.generalized_jsd(zz, vv, 0.5, 2.0, mask=mask).backward()
    assert vv.grad is None and zz.grad is not None and (zz.grad[~mask] == 0).all()
    z64 = z[:2, :3, :5].double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: dv.generalized_jsd(x, v[:2, :3, :5].double(), 0.4, 1.5, mask=mask[:2, :3]), (z64,))


@pytest.mark.parametrize("kwargs, error, words", [
    ({"T": 0.0}, ValueError, "> 0"),
    ({"T": -1.0}, ValueError, "> 0"),
    ({"beta": 1.5}, ValueError, "[0, 1]"),
    ({"beta": -0.1}, ValueError, "[0, 1]"),
    ({"beta": True}, TypeError, "number"),
    ({"beta": "half"}, TypeError, "number"),
    ({"nan": True}, ValueError, "NaN"),
    ({"teacher": torch.zeros(3, 7, 10)}, ValueError, "differ in shape"),
    ({"mask": torch.ones(3, 7)}, TypeError, "torch.bool"),
    ({"mask": torch.ones(3, 6, dtype=torch.bool)}, ValueError, "does not match"),
    ({"mask": torch.zeros(3, 7, dtype=torch.bool)}, ValueError, "no token"),
    ({"scale": 1}, TypeError, "scale"),
    ({"int": True}, TypeError, "floating point"),
])
def test_bad_input_is_refused_with_a_clear_message(kwargs, error, words):
    z, v, _ = padded_batch()
    kwargs = dict(kwargs)
    if kwargs.pop("nan", False):
        z[0, 0, 0] = float("nan")
    if kwargs.pop("int", False):
        z = z.long()
    v = kwargs.pop("teacher", v)
    with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]")):
        dv.generalized_jsd(z, v, **kwargs)


def test_batchmean_on_sequences_is_off_by_the_tokens_per_sequence():
    out = dv.batchmean_scale_error(B=4, S=12, V=50, seed=0)
    assert out["ratio, no padding"] == pytest.approx(12, rel=1e-5)
    assert out["ratio, padding"] == pytest.approx(out["valid tokens"] / 4, rel=1e-5) and out["valid tokens"] < 4 * 12
    assert out["generalized_jsd(beta=0, mask=valid)"] == pytest.approx(out["per-valid-token mean"], rel=1e-6)
    one = dv.batchmean_scale_error(B=1, S=5, V=7, seed=1)
    assert one["ratio, no padding"] == pytest.approx(5, rel=1e-5) and one["valid tokens"] == 5


# ------------------------------------------------------------------------------------------------ the beta explorer


def test_one_mode_fits_and_their_verdicts():
    fits = dv.one_mode_fits()
    assert list(fits.index) == list(dv.BETAS)
    dv.one_mode_verdicts(fits).require()
    assert fits.loc[0.0, "student"] == "covers both modes" and fits.loc[1.0, "student"].startswith("picks one mode")
    assert fits.loc[1.0, "KL(P||Q)"] > 5 * fits.loc[0.0, "KL(P||Q)"]       # reverse KL's fit pays forward KL dearly
    assert fits.loc[0.0, "KL(Q||P)"] > 2 * fits.loc[1.0, "KL(Q||P)"]       # and the other way round
    broken = fits.copy()
    broken.loc[1.0, "std"] = 3.0
    assert broken.loc[1.0, "std"] > fits.loc[0.0, "std"] and dv.one_mode_verdicts(broken).failed


def test_a_single_fit_is_deterministic_and_matches_the_batch():
    one, again = dv.fit_one_mode(0.7), dv.fit_one_mode(0.7)
    assert one["mean"] == again["mean"] and np.array_equal(one["q"], again["q"])
    one["q"][:] = 0  # a caller's copy: the cache is untouched
    row = dv.one_mode_fits().loc[0.7]
    assert dv.fit_one_mode(0.7)["std"] == pytest.approx(row["std"], abs=1e-6) and dv.fit_one_mode(0.7)["q"].sum() == pytest.approx(1)
    fit = dv.fit_one_mode(0.3)
    q = torch.tensor(fit["q"])
    assert dv.generalized_jsd(q.log(), dv.bimodal_target(), 0.3).item() == pytest.approx(fit["divergence"], rel=1e-9)
    assert sum(dv.mode_mass(fit["q"]).values()) <= 1
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dv.fit_one_mode(2)


def test_the_explorer_moves_like_a_reader_and_never_trains():
    dv._fit((0.5,))  # the first optimizer step of a process is slow once (torch's lazy imports): not the explorer's cost
    dv._fit.cache_clear()
    explorer = dv.divergence_explorer()
    assert explorer.state["beta"] == 0 and explorer.artists["title"].get_text() == "forward KL: covers both modes"
    frame0, std0 = explorer.view.png(), explorer.state["std"]
    explorer.controls["beta"].value = 1
    assert explorer.artists["title"].get_text().startswith("reverse KL: picks one mode")
    assert explorer.state["std"] < std0 / 2 and explorer.view.png() != frame0
    assert "beta = 1.00" in explorer.readout.value and explorer.view.renders == 2
    calls = dv._fit.cache_info()
    explorer.controls["beta"].value = 0.5
    explorer.controls["beta"].value = 0
    assert dv._fit.cache_info().misses == calls.misses  # moves look fits up; nothing is fitted
    assert explorer.state is explorer.state_at(0.0) and explorer.artists["title"].get_text() == "forward KL: covers both modes"
    with pytest.raises(ValueError, match="steps of 0.05"):
        dv.divergence_explorer(beta=0.33)


def test_the_static_twin_says_what_it_shows():
    fig = dv.plot_one_mode(1.0)
    assert fig.axes[0].get_title(loc="left").startswith("reverse KL: picks one mode")
    first, numbers = dv.plot_one_mode(0.0).axes[0].get_title(loc="left").split("\n")
    assert first == "forward KL: covers both modes" and numbers.startswith("student mean -0.50, std 2.55")
    assert dv.plot_one_mode(0.33).axes[0].get_title(loc="left").startswith("JSD(beta = 0.33)")


# ------------------------------------------------------------------------------------ TRL's trainer, offline (slow)


@pytest.mark.slow
def test_gkd_trainer_trains_a_tiny_gpt2_offline(tmp_path, monkeypatch, trl_jsd):
    for name, value in {"TRL_EXPERIMENTAL_SILENCE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                        "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
        monkeypatch.setenv(name, value)

    def no_network(*args, **kwargs):
        raise AssertionError(f"the trainer tried to open a connection: {args}")
    monkeypatch.setattr(socket.socket, "connect", no_network)
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    datasets = pytest.importorskip("datasets")
    gkd = pytest.importorskip("trl.experimental.gkd")

    chars = "abcdefghijklmnopqrstuvwxyz ():=,.+"
    vocab = {"<pad>": 0, "<eos>": 1, **{c: i + 2 for i, c in enumerate(chars)}}
    word_level = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="<pad>"))
    word_level.pre_tokenizer = tokenizers.pre_tokenizers.Split("", "isolated")  # one token per character
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=word_level, pad_token="<pad>", eos_token="<eos>")

    def gpt2(seed, spread):
        torch.manual_seed(seed)
        return transformers.GPT2LMHeadModel(transformers.GPT2Config(
            vocab_size=len(vocab), n_positions=32, n_layer=1, n_head=2, n_embd=32, initializer_range=spread,
            bos_token_id=1, eos_token_id=1, pad_token_id=0))

    student, teacher = gpt2(0, 0.02), gpt2(1, 0.3)  # a teacher with sharper, different next-token distributions

    def collate(rows):
        enc = tok([r["text"] for r in rows], padding=True, return_tensors="pt")
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels}

    data = datasets.Dataset.from_dict({"text": ["def f(x): return x", "def g(a, b): return a + b", "def h(): return 1",
                                                "def k(y): return y, y"]})
    args = gkd.GKDConfig(output_dir=str(tmp_path), report_to=[], max_steps=3, per_device_train_batch_size=2,
                         learning_rate=1e-2, lmbda=0.0, seq_kd=False, beta=0.5, temperature=2.0, logging_steps=1,
                         save_strategy="no", use_cpu=True, disable_tqdm=True, dataloader_num_workers=0, seed=0)
    trainer = gkd.GKDTrainer(model=student, teacher_model=teacher, args=args, train_dataset=data, processing_class=tok,
                             data_collator=collate)

    # the trainer's loss on one batch: generalized_jsd of the shifted logits at T = 1 (GKDConfig.temperature is for sampling)
    batch = collate([data[0], data[1]])
    student.eval()
    with torch.no_grad():
        loss = trainer.compute_loss(student, dict(batch))
        z, v = student(**{k: batch[k] for k in ("input_ids", "attention_mask")}).logits, teacher(
            **{k: batch[k] for k in ("input_ids", "attention_mask")}).logits
    mask = batch["labels"][:, 1:] != -100
    ours = dv.generalized_jsd(z[:, :-1], v[:, :-1], 0.5, T=1.0, mask=mask)
    assert loss.item() == pytest.approx(ours.item(), rel=1e-5)
    assert loss.item() != pytest.approx(dv.generalized_jsd(z[:, :-1], v[:, :-1], 0.5, T=2.0, mask=mask).item(), rel=1e-2)
    labels = batch["labels"][:, 1:]
    assert gkd.GKDTrainer.generalized_jsd_loss(z[:, :-1], v[:, :-1], labels, beta=0.3, temperature=2.0).item() == \
        pytest.approx(trl_jsd(z[:, :-1], v[:, :-1], labels, beta=0.3, temperature=2.0).item(), rel=1e-6)

    before = {k: p.detach().clone() for k, p in student.named_parameters()}
    teacher_before = {k: p.detach().clone() for k, p in teacher.named_parameters()}
    student.train()
    out = trainer.train()
    losses_logged = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses_logged) == 3 and all(math.isfinite(x) and x > 0 for x in losses_logged) and math.isfinite(out.training_loss)
    assert any(not torch.equal(before[k], p.detach()) for k, p in student.named_parameters())
    assert all(torch.equal(teacher_before[k], p.detach()) for k, p in teacher.named_parameters())


def test_explorer_readouts_and_verdicts_speak_chinese_in_zh():
    from kdnb import i18n

    fits = dv.one_mode_fits()
    english = str(dv.one_mode_verdicts(fits))
    try:
        i18n.set_language("zh")
        chinese = str(dv.one_mode_verdicts(fits))
        readout = dv._readout(dv.fit_one_mode(1.0))
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        artists = dv._panel(ax, 0.05)  # not drawn: the test's figures have no Chinese font
        dv._move(artists, dv.fit_one_mode(0.0), numbers=True)
        title = artists["title"].get_text()
        plt.close(fig)
    finally:
        i18n.set_language(None)
    assert "正向KL" in chinese and "模式" in readout and title.startswith("正向KL")
    assert str(dv.one_mode_verdicts(fits)) == english and "forward KL" in english
    assert dv.fit_one_mode(1.0)["behaviour"].startswith("picks one mode")  # the data stays English
