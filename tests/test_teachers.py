"""Tests for kdnb.teachers (building, verifying and loading checkpoints) and kdnb._io.

Teachers are built into temporary folders from a tiny monkeypatched spec (an MLP with one hidden
layer of 16 units, one epoch), so a build takes about a second. One test checks the shipped files.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from kdnb import _io
from kdnb import models as kdnb_models
from kdnb import teachers as kt
from kdnb.teachers import CheckpointError, build, load_teacher, read_manifest
from kdnb.training import predict_logits

TINY = {
    "description": "tiny test teacher",
    "dataset": {"name": "mnist-5k", "seed": 0},
    "model": {"kind": "mlp", "hidden": [16]},
    "train": {"epochs": 1, "lr": 1e-2, "batch_size": 128, "augment": 0, "seed": 0},
}
NAME = "tiny-mnist"
REAL_TEACHERS = copy.deepcopy(kt.TEACHERS)  # taken before any test monkeypatches TEACHERS
REPO_TEACHERS = Path(__file__).resolve().parents[1] / "data" / "teachers"


@pytest.fixture(autouse=True)
def tiny_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kt, "TEACHERS", {NAME: TINY})
    monkeypatch.delenv("KDNB_TEACHERS", raising=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Build the tiny teacher once; tests get their own copy of the folder (see ``folder``)."""
    root = tmp_path_factory.mktemp("teachers-built")
    mp = pytest.MonkeyPatch()
    mp.setattr(kt, "TEACHERS", {NAME: TINY})
    threads = torch.get_num_threads()
    try:
        entries = build([NAME], root, progress=False)
    finally:
        mp.undo()
        torch.set_num_threads(threads)  # build() seeds with threads=1; leave the session as it was
    return {"root": root, "entries": entries}


@pytest.fixture
def folder(built: dict, tmp_path: Path) -> Path:
    dest = tmp_path / "teachers"
    shutil.copytree(built["root"], dest)
    return dest


def probe() -> torch.Tensor:
    return torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))


# ---------------------------------------------------------------- build


def test_build_writes_checkpoint_and_manifest(built: dict) -> None:
    root = built["root"]
    path = root / f"{NAME}.pt"
    assert path.is_file()
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == 1
    entry = manifest["teachers"][NAME]
    assert entry == built["entries"][NAME]
    assert entry["file"] == f"{NAME}.pt"
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert 0.0 <= entry["test_accuracy"] <= 1.0 and 0.0 <= entry["val_accuracy"] <= 1.0
    assert entry["test_accuracy"] > 0.5  # even one epoch of a tiny MLP beats chance by far
    assert entry["params"] == (784 * 16 + 16) + (16 * 10 + 10)
    assert entry["model"] == TINY["model"] and entry["train"] == TINY["train"] and entry["dataset"] == TINY["dataset"]
    assert entry["torch"] == torch.__version__.split("+")[0]
    assert read_manifest(root) == {NAME: entry}


def test_build_leaves_no_temp_files(built: dict) -> None:
    names = sorted(p.name for p in built["root"].iterdir())
    assert names == sorted(["manifest.json", f"{NAME}.pt"])
    assert not list(built["root"].glob(".*.tmp"))


def test_build_is_reproducible_and_keeps_other_entries(folder: Path, built: dict, monkeypatch) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["teachers"]["other"] = {"file": "other.pt", "sha256": "0" * 64}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    entries = build([NAME], folder, progress=False)
    assert entries[NAME]["sha256"] == built["entries"][NAME]["sha256"]  # same seed, same bytes
    assert set(read_manifest(folder)) == {NAME, "other"}
    assert not list(folder.glob(".*.tmp"))


def test_build_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nope"):
        build(["nope"], tmp_path, progress=False)
    assert not list(tmp_path.iterdir())


def test_default_dir_env_override(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KDNB_TEACHERS", str(tmp_path))
    assert kt.default_dir() == tmp_path
    monkeypatch.delenv("KDNB_TEACHERS")
    assert kt.default_dir() == REPO_TEACHERS


def test_read_manifest_missing_is_empty(tmp_path: Path) -> None:
    assert read_manifest(tmp_path) == {}


# ---------------------------------------------------------------- load_teacher


def test_load_teacher_frozen_and_equal_to_the_trained_model(folder: Path) -> None:
    # Train the same teacher in memory, as build() does, and compare outputs.
    from kdnb import data as kdata
    from kdnb import models
    from kdnb.training import fit, seed_everything

    threads = torch.get_num_threads()
    try:
        ds = kdata.load("mnist-5k", seed=0)
        seed_everything(0)
        reference = models.build(TINY["model"], in_shape=ds.image_shape)
        fit(reference, ds.train, None, progress=False, **TINY["train"])
    finally:
        torch.set_num_threads(threads)

    model = load_teacher(NAME, root=folder, rebuild_missing=False)
    assert not model.training
    assert all(not m.training for m in model.modules())
    assert all(not p.requires_grad for p in model.parameters())
    x = probe()
    assert torch.equal(model(x), predict_logits(reference, x))
    state, ref_state = model.state_dict(), reference.state_dict()
    assert state.keys() == ref_state.keys() and all(torch.equal(state[k], ref_state[k]) for k in state)


def test_load_teacher_corrupt_byte_raises_checkpoint_error(folder: Path) -> None:
    path = folder / f"{NAME}.pt"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError) as info:
        load_teacher(NAME, root=folder, rebuild_missing=True)
    message = str(info.value)
    assert f"python -m kdnb.teachers build {NAME}" in message
    assert "SHA-256" in message
    assert path.read_bytes() == bytes(blob)  # a corrupt file is reported, not silently rebuilt


def test_load_teacher_missing_file_without_rebuild(folder: Path) -> None:
    (folder / f"{NAME}.pt").unlink()
    with pytest.raises(FileNotFoundError, match=f"python -m kdnb.teachers build {NAME}"):
        load_teacher(NAME, root=folder, rebuild_missing=False)


def test_load_teacher_missing_manifest_entry_without_rebuild(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="python -m kdnb.teachers build"):
        load_teacher(NAME, root=tmp_path, rebuild_missing=False)


def test_load_teacher_rebuilds_a_missing_file(folder: Path, built: dict) -> None:
    (folder / f"{NAME}.pt").unlink()
    threads = torch.get_num_threads()
    try:
        with pytest.warns(UserWarning, match=NAME):
            model = load_teacher(NAME, root=folder, rebuild_missing=True, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert (folder / f"{NAME}.pt").is_file()
    assert read_manifest(folder)[NAME]["sha256"] == built["entries"][NAME]["sha256"]
    assert all(not p.requires_grad for p in model.parameters()) and not model.training
    original = load_teacher(NAME, root=built["root"], rebuild_missing=False)
    x = probe()
    assert torch.equal(model(x), original(x))
    assert not list(folder.glob(".*.tmp"))


def test_load_teacher_rebuilds_into_an_empty_folder(tmp_path: Path) -> None:
    root = tmp_path / "new" / "teachers"  # does not exist yet
    threads = torch.get_num_threads()
    try:
        with pytest.warns(UserWarning):
            model = load_teacher(NAME, root=root, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert (root / "manifest.json").is_file() and (root / f"{NAME}.pt").is_file()
    assert model(probe()).shape == (16, 10)


def test_load_teacher_unknown_name(folder: Path) -> None:
    with pytest.raises(ValueError, match="nope"):
        load_teacher("nope", root=folder)
    with pytest.raises(ValueError):
        build(["cnn-mnist"], folder, progress=False)  # the real names are not in the patched TEACHERS


@pytest.mark.parametrize("text", ["{not json", '{"format": 1}', "", '{"teachers": '])
def test_malformed_manifest_raises_checkpoint_error(folder: Path, text: str) -> None:
    (folder / "manifest.json").write_text(text)
    with pytest.raises(CheckpointError, match="python -m kdnb.teachers build"):
        read_manifest(folder)
    with pytest.raises(CheckpointError):
        load_teacher(NAME, root=folder, rebuild_missing=False)


@pytest.mark.parametrize("text", ["[]", '"teachers"', '{"teachers": []}'])
def test_manifest_that_is_not_an_object_raises_checkpoint_error(folder: Path, text: str) -> None:
    (folder / "manifest.json").write_text(text)
    with pytest.raises(CheckpointError):
        load_teacher(NAME, root=folder, rebuild_missing=False)


def test_unreadable_file_with_matching_hash_raises_checkpoint_error(folder: Path) -> None:
    junk = b"this is not a torch checkpoint"
    (folder / f"{NAME}.pt").write_bytes(junk)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["teachers"][NAME]["sha256"] = hashlib.sha256(junk).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=f"python -m kdnb.teachers build {NAME}"):
        load_teacher(NAME, root=folder, rebuild_missing=False)


def test_verified_checkpoint_of_another_architecture_raises_checkpoint_error(folder: Path) -> None:
    """A file whose hash the manifest vouches for, holding weights of another shape: the teacher and the fix are named."""
    import io

    other = kt.models.build({"kind": "mlp", "hidden": [24]})
    buffer = io.BytesIO()
    torch.save(other.state_dict(), buffer)
    blob = buffer.getvalue()
    (folder / f"{NAME}.pt").write_bytes(blob)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["teachers"][NAME]["sha256"] = hashlib.sha256(blob).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError) as info:
        load_teacher(NAME, root=folder, rebuild_missing=False)
    message = str(info.value)
    assert repr(NAME) in message and f"python -m kdnb.teachers build {NAME}" in message
    assert "architecture" in message and "MLP 1x16" in message
    assert isinstance(info.value.__cause__, RuntimeError)


def test_torch_load_is_only_called_with_weights_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_load = torch.load
    calls = []

    def recording_load(*args, **kwargs):
        # Record rather than assert here: load_teacher turns exceptions from torch.load into CheckpointError.
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    load_teacher(NAME, root=folder, rebuild_missing=False)
    # The rebuild path loads too.
    (folder / f"{NAME}.pt").unlink()
    threads = torch.get_num_threads()
    try:
        with pytest.warns(UserWarning):
            load_teacher(NAME, root=folder, rebuild_missing=True, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert len(calls) == 2
    assert all(kwargs.get("weights_only") is True for kwargs in calls), calls


def test_weights_only_refuses_a_pickled_payload(folder: Path) -> None:
    """A checkpoint that would run code when unpickled is refused even if the manifest hash matches."""

    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())

    import io

    buffer = io.BytesIO()
    torch.save({"payload": Evil()}, buffer)
    blob = buffer.getvalue()
    (folder / f"{NAME}.pt").write_bytes(blob)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["teachers"][NAME]["sha256"] = hashlib.sha256(blob).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError):
        load_teacher(NAME, root=folder, rebuild_missing=False)


def test_main_list_prints_the_manifest(folder: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("KDNB_TEACHERS", str(folder))
    assert kt.main(["list"]) == 0
    out = capsys.readouterr().out
    assert NAME in out and "MLP 1x16" in out and read_manifest(folder)[NAME]["sha256"][:12] in out


# ---------------------------------------------------------------- the shipped teachers


def test_shipped_manifest_verifies() -> None:
    path = REPO_TEACHERS / "manifest.json"
    if not path.exists():
        pytest.skip("no shipped data/teachers/manifest.json")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    assert manifest.get("format") == 1
    entries = manifest["teachers"]
    assert entries, "the shipped manifest lists no teachers"
    for name, entry in entries.items():
        file = REPO_TEACHERS / entry["file"]
        assert file.is_file(), f"{name}: {file} is missing"
        assert hashlib.sha256(file.read_bytes()).hexdigest() == entry["sha256"], f"{name}: SHA-256 mismatch"
        if name in kt.LM_TEACHERS:  # language models are scored by perplexity per character (at least 1)
            assert 1.0 <= entry["test_perplexity"] < 10 and len(entry["corpus_digest"]) == 12
        else:
            assert 0.0 <= entry["test_accuracy"] <= 1.0


def test_shipped_teachers_match_their_specs() -> None:
    """The shipped manifest was built from the current TEACHERS specs (not a stale config)."""
    path = REPO_TEACHERS / "manifest.json"
    if not path.exists():
        pytest.skip("no shipped data/teachers/manifest.json")
    from kdnb import models

    entries = json.loads(path.read_text(encoding="utf-8"))["teachers"]
    assert set(entries) <= set(REAL_TEACHERS)
    for name, entry in entries.items():
        spec = REAL_TEACHERS[name]
        assert entry["model"] == spec["model"], name
        assert entry["train"] == spec["train"], name
        assert entry["dataset"] == spec["dataset"], name
        assert entry["params"] == models.count_params(models.build(spec["model"])), name


def test_a_language_model_teacher_loads_frozen_and_refuses_a_changed_byte(tmp_path: Path, monkeypatch) -> None:
    """The character-level teachers of notebook 08 go through the same SHA-256 check and weights_only load."""
    monkeypatch.setattr(kt, "TEACHERS", REAL_TEACHERS)
    name = "charlm-addition"
    entry = read_manifest(REPO_TEACHERS)[name]
    model = load_teacher(name, root=REPO_TEACHERS, rebuild_missing=False)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert kdnb_models.count_params(model) == entry["params"]
    blob = bytearray((REPO_TEACHERS / entry["file"]).read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (tmp_path / entry["file"]).write_bytes(bytes(blob))
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 1, "teachers": {name: entry}}))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_teacher(name, root=tmp_path, rebuild_missing=False)


# ---------------------------------------------------------------- kdnb._io


def test_atomic_write_bytes_writes_and_creates_parents(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "file.bin"
    result = _io.atomic_write_bytes(path, b"\x00hello\xff")
    assert result == path
    assert path.read_bytes() == b"\x00hello\xff"
    _io.atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["file.bin"]


def test_atomic_write_text_is_utf8(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    _io.atomic_write_text(path, "教师模型\n")
    assert path.read_bytes() == "教师模型\n".encode("utf-8")


def test_atomic_write_failure_leaves_original_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(b"original")

    def broken_replace(src, dst):
        assert Path(src).exists() and Path(src).read_bytes() == b"new content"  # fully written before the rename
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        _io.atomic_write_bytes(path, b"new content")
    assert path.read_bytes() == b"original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]


def test_atomic_write_interrupted_write_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "file.bin"

    def broken_fsync(fd):
        raise KeyboardInterrupt  # BaseException: cleanup must still run

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(KeyboardInterrupt):
        _io.atomic_write_bytes(path, b"data")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_respects_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = _io.atomic_write_bytes(tmp_path / "f.bin", b"x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_sha256_bytes() -> None:
    assert _io.sha256_bytes(b"abc") == hashlib.sha256(b"abc").hexdigest()


def test_shipped_manifest_records_the_thread_count_of_each_build() -> None:
    """The same bytes can only be rebuilt with the same thread count (sums are reordered)."""
    manifest = read_manifest()
    for name, spec in REAL_TEACHERS.items():
        assert manifest[name]["threads"] == spec["threads"]
