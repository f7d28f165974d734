"""Pretrained teachers (教师模型) that ship in ``data/teachers/``, and the script that makes them.

Build (or rebuild) them with::

    python -m kdnb.teachers build            # every teacher
    python -m kdnb.teachers build cnn-mnist  # one
    python -m kdnb.teachers list

Each teacher is trained on the *training* split only, with random shifts of up to 2 pixels
(Hinton et al. 2015 jittered their MNIST teacher the same way), and stored as a ``state_dict``
beside ``manifest.json``, which records its config, accuracies and SHA-256. Loading checks
the hash and uses ``torch.load(weights_only=True)``, which cannot run code from the file.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from . import data as kdata
from . import models
from ._io import atomic_write_bytes, atomic_write_text, sha256_bytes
from .i18n import _
from .training import DEFAULT_THREADS, accuracy, fit, seed_everything

__all__ = ["TEACHERS", "CheckpointError", "default_dir", "read_manifest", "train_teacher", "build", "load_teacher"]

#: What each teacher is and how it is trained. The keys of "train" are passed to :func:`kdnb.training.fit`;
#: "threads" is torch's thread count during training (the order of floating-point sums depends on it,
#: so the same count is needed to rebuild the same bytes).
TEACHERS: dict[str, dict] = {
    "cnn-mnist": {
        "description": "small CNN, the workbook's main teacher",
        "dataset": {"name": "mnist-5k", "seed": 0},
        "model": {"kind": "cnn", "channels": [32, 64], "hidden": 128, "dropout": 0.25},
        "train": {"epochs": 40, "lr": 2e-3, "batch_size": 128, "augment": 2, "seed": 0},
        "threads": 1,
    },
    "cnn-mnist-ls": {
        "description": "the same CNN trained with label smoothing 0.1 (for Mueller et al. 2019)",
        "dataset": {"name": "mnist-5k", "seed": 0},
        "model": {"kind": "cnn", "channels": [32, 64], "hidden": 128, "dropout": 0.25},
        "train": {"epochs": 40, "lr": 2e-3, "batch_size": 128, "augment": 2, "seed": 0, "label_smoothing": 0.1},
        "threads": 2,
    },
    "cnn-mnist-300": {
        "description": "the same CNN trained on only 300 labelled images (the few-labels setting's labels)",
        "dataset": {"name": "mnist-5k", "seed": 0},
        "labels": {"n": 300, "seed": 0},
        "model": {"kind": "cnn", "channels": [32, 64], "hidden": 128, "dropout": 0.25},
        "train": {"epochs": 150, "lr": 2e-3, "batch_size": 128, "augment": 2, "seed": 0},
        "threads": 1,
    },
    "mlp-mnist": {
        "description": "2x1200 MLP with dropout, Hinton's teacher architecture",
        "dataset": {"name": "mnist-5k", "seed": 0},
        "model": {"kind": "mlp", "hidden": [1200, 1200], "dropout": 0.5},
        "train": {"epochs": 40, "lr": 1e-3, "batch_size": 128, "augment": 2, "seed": 0},
        "threads": 1,
    },
    "charlm-code": {
        "description": "character-level transformer trained on the code corpus (notebook 08's language-model teacher)",
        "dataset": {"name": "code-corpus"},
        "model": {"kind": "charlm", "width": 128, "layers": 4, "heads": 4, "context": 256, "dropout": 0.1},
        "train": {"steps": 3000, "batch_size": 32, "lr": 2e-3, "seed": 0},
        "threads": 2,
    },
    "charlm-addition": {
        "description": "the same transformer trained to add numbers of up to 4 digits, writing its working first "
                       "(operands as 4 digits, the answer as 5, zeros in front)",
        "dataset": {"name": "addition-traces", "problems": 40000, "digits": 4, "seed": 1000},
        "model": {"kind": "charlm", "width": 128, "layers": 4, "heads": 4, "context": 256, "dropout": 0.0},
        "train": {"steps": 2000, "batch_size": 64, "lr": 2e-3, "seed": 0},
        "threads": 1,
    },
}

#: Language-model teachers (notebook 08): trained by :func:`kdnb.charlm.fit_lm` on text, scored by perplexity.
LM_TEACHERS = ("charlm-code", "charlm-addition")


class CheckpointError(RuntimeError):
    """A teacher file is missing from the manifest, does not match its recorded SHA-256, or holds weights for
    another architecture than its manifest entry describes."""


def default_dir() -> Path:
    """``data/teachers`` in the repository (``$KDNB_TEACHERS`` overrides it)."""
    import os

    env = os.environ.get("KDNB_TEACHERS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data" / "teachers"


def read_manifest(root=None) -> dict:
    """The manifest as a dict of teacher name -> entry (empty if there is none yet)."""
    path = Path(root or default_dir()) / "manifest.json"
    if not path.exists():
        return {}
    try:
        teachers = json.loads(path.read_text(encoding="utf-8"))["teachers"]
        if not isinstance(teachers, dict):
            raise TypeError("'teachers' is not an object")
        return teachers
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path} is not a valid manifest ({exc}); rebuild it with `python -m kdnb.teachers build`") from exc


def _write_manifest(entries: dict, root: Path) -> None:
    text = json.dumps({"format": 1, "teachers": dict(sorted(entries.items()))}, indent=2, sort_keys=False) + "\n"
    atomic_write_text(root / "manifest.json", text)


def train_teacher(name: str, seed: int | None = None, dataset: kdata.Dataset | None = None, progress: bool = True):
    """Train teacher ``name`` with its recipe in :data:`TEACHERS`; returns ``(model, dataset, seconds)``.

    ``seed`` replaces the recipe's seed: another draw of the same recipe (notebook 06 prunes
    three). ``dataset`` saves reloading the recipe's data when the caller has it already.
    """
    spec = TEACHERS[name]
    if name in LM_TEACHERS:
        return _train_lm_teacher(name, progress)
    ds = dataset or kdata.load(spec["dataset"]["name"], seed=spec["dataset"]["seed"])
    seed = spec["train"]["seed"] if seed is None else seed
    threads = torch.get_num_threads()
    seed_everything(seed, spec.get("threads", DEFAULT_THREADS))
    try:
        model = models.build(spec["model"], in_shape=ds.image_shape, num_classes=ds.num_classes)
        train = ds.train
        if "labels" in spec:  # a teacher that sees only some of the training labels
            keep = kdata.stratified_split(train.y.numpy(), (spec["labels"]["n"],), spec["labels"]["seed"])[0]
            train = train.subset(keep)
        start = time.perf_counter()
        desc = (_("teacher {name}").format(name=name) if seed == spec["train"]["seed"]
                else _("teacher {name}, seed {seed}").format(name=name, seed=seed))
        fit(model, train, None, progress=progress, desc=desc, **dict(spec["train"], seed=seed))
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    return model, ds, seconds


def lm_teacher_texts(name: str) -> tuple[list, list, str]:
    """``(train, test, digest)``: the texts language-model teacher ``name`` is trained and scored on, and the
    digest that names them (the code corpus's, or the addition problems')."""
    from . import charlm

    spec = TEACHERS[name]["dataset"]
    if spec["name"] == "code-corpus":
        corpus = charlm.code_corpus()
        return corpus.train, corpus.test, corpus.digest
    problems = charlm.addition_problems(spec["problems"], spec["digits"], spec["seed"])
    texts = [charlm.addition_trace(a, b, spec["digits"]) for a, b in problems]
    held_out = [charlm.addition_trace(a, b, spec["digits"]) for a, b in charlm.addition_problems(500, spec["digits"], spec["seed"] + 1)]
    return texts, held_out, sha256_bytes("\n".join(texts).encode())[:12]


def _train_lm_teacher(name: str, progress: bool):
    from . import charlm

    spec = TEACHERS[name]
    threads = torch.get_num_threads()
    seed_everything(spec["train"]["seed"], spec.get("threads", DEFAULT_THREADS))
    try:
        texts = lm_teacher_texts(name)
        model = models.build(spec["model"])
        start = time.perf_counter()
        charlm.fit_lm(model, texts[0], progress=progress, desc=_("teacher {name}").format(name=name), **spec["train"])
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    return model, texts, seconds


def _lm_entry(model, texts) -> dict:
    """The manifest's scores of a language-model teacher, from ``(train, test, digest)`` of :func:`lm_teacher_texts`."""
    from . import charlm

    _train, test, digest = texts
    return {"corpus_digest": digest, "test_perplexity": round(charlm.perplexity(model, test), 4)}


def build(names=None, root=None, progress: bool = True) -> dict:
    """Train the named teachers (default: all), write them atomically, update the manifest."""
    root = Path(root or default_dir())
    names = list(names or TEACHERS)
    unknown = [n for n in names if n not in TEACHERS]
    if unknown:
        raise ValueError(f"unknown teacher(s) {unknown}; known: {sorted(TEACHERS)}")
    manifest = read_manifest(root) if (root / "manifest.json").exists() else {}
    for name in names:
        spec = TEACHERS[name]
        model, ds, seconds = train_teacher(name, progress=progress)
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        blob = buffer.getvalue()
        filename = f"{name}.pt"
        atomic_write_bytes(root / filename, blob)
        manifest[name] = {
            "file": filename,
            "sha256": sha256_bytes(blob),
            "description": spec["description"],
            "dataset": spec["dataset"],
            **({"labels": spec["labels"]} if "labels" in spec else {}),
            "model": spec["model"],
            "train": spec["train"],
            "threads": spec.get("threads", DEFAULT_THREADS),
            **(_lm_entry(model, ds) if name in LM_TEACHERS else {
                "val_accuracy": round(accuracy(model, ds.val), 4),
                "test_accuracy": round(accuracy(model, ds.test), 4),
            }),
            "params": models.count_params(model),
            "train_seconds": round(seconds, 1),
            "torch": torch.__version__.split("+")[0],
        }
        _write_manifest(manifest, root)
    return {n: manifest[n] for n in names}


def load_teacher(name: str = "cnn-mnist", root=None, rebuild_missing: bool = True, progress: bool = True) -> nn.Module:
    """Load a frozen teacher (eval mode, no gradients) after checking its SHA-256.

    A missing file is rebuilt (with a progress bar) when ``rebuild_missing``; a file whose hash
    does not match the manifest raises :class:`CheckpointError` with the command that fixes it.
    """
    if name not in TEACHERS:
        raise ValueError(f"unknown teacher {name!r}; known: {sorted(TEACHERS)}")
    root = Path(root or default_dir())
    entry = read_manifest(root).get(name)
    path = root / entry["file"] if entry else root / f"{name}.pt"
    if entry is None or not path.exists():
        if not rebuild_missing:
            raise FileNotFoundError(f"teacher {name!r} is not in {root}; build it with `python -m kdnb.teachers build {name}`")
        minutes = _("about 20 minutes") if name in LM_TEACHERS else _("about a minute")
        warnings.warn(_("teacher {name} not found in {root}; training it now ({minutes})").format(
            name=repr(name), root=root, minutes=minutes), stacklevel=2)
        entry = build([name], root, progress=progress)[name]
        path = root / entry["file"]
    blob = path.read_bytes()
    actual = sha256_bytes(blob)
    if actual != entry["sha256"]:
        raise CheckpointError(
            f"{path} is corrupt or was changed: its SHA-256 is {actual[:12]}…, the manifest says {entry['sha256'][:12]}…. "
            f"Restore it with `git checkout -- {path}` or rebuild it with "
            f"`python -m kdnb.teachers build {name}`."
        )
    try:
        buffer = io.BytesIO(blob)
        state = torch.load(buffer, map_location="cpu", weights_only=True)
    except Exception as exc:  # unreadable despite a matching hash: the manifest itself is stale
        raise CheckpointError(f"{path} could not be read ({exc}); rebuild it with `python -m kdnb.teachers build {name}`") from exc
    ds_shape = (1, 8, 8) if entry["dataset"]["name"] == "digits" else (1, 28, 28)
    model = models.build(entry["model"], in_shape=ds_shape)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # the hash matches, but the weights are for another architecture than the manifest says
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(
            f"teacher {name!r}: {path} passed its SHA-256 check but does not fit the architecture its manifest entry "
            f"describes ({models.describe(entry['model'])}): {first} The file and the manifest entry come from different "
            f"builds; rebuild both with `python -m kdnb.teachers build {name}`."
        ) from exc
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdnb.teachers", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="train teachers and write data/teachers/")
    b.add_argument("names", nargs="*", help=f"teachers to build (default: all of {sorted(TEACHERS)})")
    b.add_argument("--root", default=None, help="output folder (default: data/teachers)")
    sub.add_parser("list", help="show the manifest")
    args = parser.parse_args(argv)
    if args.command == "build":
        for name, entry in build(args.names or None, args.root).items():
            score = (f"test perplexity {entry['test_perplexity']:.3g}" if "test_perplexity" in entry
                     else f"test accuracy {entry['test_accuracy']:.2%}")
            print(f"{name}: {score}, {entry['params']:,} parameters, {entry['train_seconds']:.0f} s, sha256 {entry['sha256'][:12]}")
    else:
        for name, entry in read_manifest().items():
            score = (f"test perplexity {entry['test_perplexity']:.3g}" if "test_perplexity" in entry
                     else f"test accuracy {entry['test_accuracy']:.2%}")
            print(f"{name}: {models.describe(entry['model'])}, {score}, sha256 {entry['sha256'][:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
