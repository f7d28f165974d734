"""Tests for kdnb.download. They build small IDX files under tmp_path and never use the network."""

from __future__ import annotations

import gzip
import hashlib
import re
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from kdnb import download as dl
from kdnb.download import (
    MNIST_FILES,
    MNIST_MIRRORS,
    ChecksumError,
    DownloadError,
    default_cache_dir,
    fetch_mnist,
    read_idx,
    sha256_file,
)

IDX_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` in the IDX format (big-endian), uncompressed."""
    array = np.asarray(array)
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool = True) -> str:
    """Write ``array`` as an IDX file (gzipped if ``gz``) and return its SHA-256."""
    data = idx_bytes(array)
    if gz:
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def make_split(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels


@pytest.fixture
def mirror(tmp_path: Path) -> dict:
    """A folder holding a tiny MNIST-like data set, plus a matching ``files`` mapping."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "mirror"
    folder.mkdir()
    arrays = {}
    arrays["train_images"], arrays["train_labels"] = make_split(rng, 6)
    arrays["test_images"], arrays["test_labels"] = make_split(rng, 4)
    files = {}
    for key, array in arrays.items():
        filename = MNIST_FILES[key][0]
        files[key] = (filename, write_idx(folder / filename, array))
    return {"folder": folder, "arrays": arrays, "files": files}


# ---------------------------------------------------------------- read_idx


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trip_images_and_labels(tmp_path: Path, gz: bool) -> None:
    rng = np.random.default_rng(1)
    images, labels = make_split(rng, 5)
    write_idx(tmp_path / "images", images, gz=gz)
    write_idx(tmp_path / "labels", labels, gz=gz)

    got_images = read_idx(tmp_path / "images")
    got_labels = read_idx(tmp_path / "labels")

    assert got_images.dtype == np.uint8 and got_images.shape == (5, 28, 28)
    assert got_labels.dtype == np.uint8 and got_labels.shape == (5,)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_read_idx_detects_gzip_by_content_not_name(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_idx(tmp_path / "gzipped.idx", array, gz=True)
    write_idx(tmp_path / "raw.gz", array, gz=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "gzipped.idx"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "raw.gz"), array)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_other_dtypes_are_big_endian_decoded(tmp_path: Path, dtype) -> None:
    array = (np.arange(-6, 6).reshape(2, 3, 2) * 3).astype(dtype)
    write_idx(tmp_path / "x.gz", array)
    got = read_idx(tmp_path / "x.gz")
    assert got.dtype == np.dtype(dtype)  # native byte order, e.g. <i4 on x86
    assert got.shape == (2, 3, 2)
    np.testing.assert_array_equal(got, array)
    got[0, 0, 0] = 1  # the result is a writable copy


def test_read_idx_float32_values(tmp_path: Path) -> None:
    array = np.array([0.5, -1.25, 3e7], dtype=np.float32)
    write_idx(tmp_path / "f", array, gz=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "f"), array)


def good_idx() -> bytes:
    return idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        pytest.param(name, data, problem, id=name)
        for name, data, problem in [
            ("bad_magic", b"\x01\x02" + good_idx()[2:], "magic"),
            ("bad_type", b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc", "type code"),
            ("truncated", good_idx()[:-1], "truncated"),
            ("trailing", good_idx() + b"\x00", "extra bytes"),
            ("short_header", good_idx()[:9], "header"),
            ("tiny", b"\x00\x00", "too few"),
            # mtime=0: the bytes, and so the collected tests, are the same in every worker
            ("broken_gzip", gzip.compress(good_idx(), mtime=0)[:-10], "gzip"),
        ]
    ],
)
def test_read_idx_rejects_malformed_files(tmp_path: Path, name: str, data: bytes, problem: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    assert problem in message
    assert "delete" in message and "download" in message


def test_read_idx_rejects_truncated_gzipped_data(tmp_path: Path) -> None:
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(good_idx()[:-5], mtime=0))  # valid gzip, short payload
    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)


# ------------------------------------------------------------- sha256_file


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    data = np.random.default_rng(2).bytes(200_000)  # several chunks
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert sha256_file(str(path)) == hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- download


def test_download_from_file_url(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello mnist" * 1000)
    out_dir = tmp_path / "out" / "nested"
    dest = out_dir / "copy.bin"

    result = dl.download(src.as_uri(), dest, sha256_file(src), progress=False)

    assert result == dest
    assert dest.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in out_dir.iterdir()) == ["copy.bin"]  # no temp file left


def test_download_with_progress_bar(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 300_000)
    dest = tmp_path / "dest.bin"
    dl.download(src.as_uri(), dest, sha256_file(src), progress=True)
    assert dest.read_bytes() == src.read_bytes()


def test_download_wrong_hash_leaves_nothing(tmp_path: Path) -> None:
    src = tmp_path / "src" / "file.gz"
    src.parent.mkdir()
    src.write_bytes(b"not what you expected")
    out = tmp_path / "out"
    out.mkdir()
    wrong = "0" * 64

    with pytest.raises(ChecksumError) as info:
        dl.download(src.as_uri(), out / "file.gz", wrong, progress=False)

    message = str(info.value)
    assert src.as_uri() in message
    assert wrong in message and sha256_file(src) in message
    assert list(out.iterdir()) == []


def test_download_passes_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_urlopen(url, timeout=None):
        seen["timeout"] = timeout
        raise urllib.error.URLError("stop here")

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(DownloadError):
        dl.download("https://example.invalid/x", tmp_path / "x", "0" * 64, progress=False, timeout=2.5)
    assert seen["timeout"] == 2.5


@pytest.mark.parametrize(
    "error",
    [
        urllib.error.URLError("[Errno -3] Temporary failure in name resolution"),
        TimeoutError("timed out"),
        ConnectionResetError("reset by peer"),
    ],
)
def test_download_network_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error) -> None:
    def fake_urlopen(url, timeout=None):
        raise error

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(DownloadError) as info:
        dl.download("https://example.invalid/train.gz", tmp_path / "train.gz", "0" * 64, progress=False)

    message = str(info.value)
    assert "no network" in message
    assert "kdnb.data.load_mnist_subset()" in message
    assert str(tmp_path) in message  # where to copy the files by hand
    assert info.value.__cause__ is error
    assert list(tmp_path.iterdir()) == []


class FailingResponse:
    """A response that yields one chunk, then fails as a dropped connection would."""

    def __init__(self) -> None:
        self.headers = {"Content-Length": "1000000"}
        self.calls = 0
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        self.calls += 1
        if self.calls == 1:
            return b"\xab" * size
        raise OSError("connection dropped")

    def __enter__(self) -> "FailingResponse":
        return self

    def __exit__(self, *exc_info) -> None:
        self.closed = True


def test_download_failure_mid_stream_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    response = FailingResponse()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: response)

    with pytest.raises(DownloadError, match="no network"):
        dl.download("https://example.invalid/big.gz", tmp_path / "big.gz", "0" * 64, progress=False)

    assert response.calls == 2 and response.closed
    assert list(tmp_path.iterdir()) == []


def test_download_unexpected_error_removes_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Boom(Exception):
        pass

    response = FailingResponse()
    response.read = lambda size=-1: (_ for _ in ()).throw(Boom())
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: response)

    with pytest.raises(Boom):
        dl.download("https://example.invalid/x.gz", tmp_path / "x.gz", "0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_error_classes() -> None:
    assert issubclass(DownloadError, RuntimeError)
    assert issubclass(ChecksumError, ValueError)


# ------------------------------------------------------------- fetch_mnist


def test_fetch_mnist_downloads_from_file_mirror(tmp_path: Path, mirror: dict) -> None:
    root = tmp_path / "cache" / "mnist"  # does not exist yet
    mirrors = [mirror["folder"].as_uri()]
    got = fetch_mnist(root, download=True, files=mirror["files"], mirrors=mirrors, progress=False)

    assert set(got) == {"train_images", "train_labels", "test_images", "test_labels"}
    assert got["train_images"].shape == (6, 28, 28) and got["train_images"].dtype == np.uint8
    assert got["train_labels"].shape == (6,) and got["train_labels"].dtype == np.uint8
    assert got["test_images"].shape == (4, 28, 28)
    assert got["test_labels"].shape == (4,)
    for key, array in mirror["arrays"].items():
        np.testing.assert_array_equal(got[key], array)
    assert sorted(p.name for p in root.iterdir()) == sorted(name for name, _ in mirror["files"].values())


def test_fetch_mnist_uses_existing_files_offline(
    tmp_path: Path, mirror: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args, **kwargs):
        raise AssertionError("fetch_mnist must not open a URL when the files are present")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    got = fetch_mnist(mirror["folder"], files=mirror["files"], mirrors=[], progress=False)
    np.testing.assert_array_equal(got["test_labels"], mirror["arrays"]["test_labels"])


def test_fetch_mnist_skips_a_dead_mirror(tmp_path: Path, mirror: dict) -> None:
    dead = (tmp_path / "no-such-folder").as_uri()
    root = tmp_path / "root"
    mirrors = [dead, mirror["folder"].as_uri() + "/"]  # a trailing slash works too
    got = fetch_mnist(root, download=True, files=mirror["files"], mirrors=mirrors, progress=False)
    np.testing.assert_array_equal(got["train_images"], mirror["arrays"]["train_images"])
    assert sorted(p.name for p in root.iterdir()) == sorted(name for name, _ in mirror["files"].values())


def test_fetch_mnist_all_mirrors_dead(tmp_path: Path, mirror: dict) -> None:
    dead = [(tmp_path / "gone1").as_uri(), (tmp_path / "gone2").as_uri()]
    root = tmp_path / "root"
    with pytest.raises(DownloadError) as info:
        fetch_mnist(root, download=True, files=mirror["files"], mirrors=dead, progress=False)
    message = str(info.value)
    assert "gone1" in message and "gone2" in message
    assert "kdnb.data.load_mnist_subset()" in message
    assert list(root.iterdir()) == []


def test_fetch_mnist_checksum_error_on_mirror_stops(tmp_path: Path, mirror: dict) -> None:
    bad = tmp_path / "bad-mirror"
    bad.mkdir()
    for name, _ in mirror["files"].values():
        (bad / name).write_bytes(b"tampered")
    root = tmp_path / "root"
    with pytest.raises(ChecksumError):
        # The good mirror comes second and must not be tried after a hash mismatch.
        mirrors = [bad.as_uri(), mirror["folder"].as_uri()]
        fetch_mnist(root, download=True, files=mirror["files"], mirrors=mirrors, progress=False)
    assert list(root.iterdir()) == []


def test_fetch_mnist_missing_files_without_download(tmp_path: Path, mirror: dict) -> None:
    root = tmp_path / "empty"
    with pytest.raises(FileNotFoundError) as info:
        fetch_mnist(root, files=mirror["files"], mirrors=[mirror["folder"].as_uri()])
    message = str(info.value)
    for name, _ in mirror["files"].values():
        assert name in message
    assert str(root) in message
    assert "download=True" in message
    assert not root.exists()  # nothing was created or downloaded


def test_fetch_mnist_corrupted_existing_file(tmp_path: Path, mirror: dict) -> None:
    root = mirror["folder"]
    victim = root / mirror["files"]["test_images"][0]
    victim.write_bytes(victim.read_bytes()[:-3])
    with pytest.raises(ChecksumError) as info:
        fetch_mnist(root, download=True, files=mirror["files"], mirrors=[], progress=False)
    message = str(info.value)
    assert str(victim) in message
    assert "delete" in message
    assert victim.exists()  # reported, not silently overwritten


def test_fetch_mnist_count_mismatch(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    images, _ = make_split(rng, 5)
    _, labels = make_split(rng, 4)
    files = {
        "train_images": ("imgs.gz", write_idx(tmp_path / "imgs.gz", images)),
        "train_labels": ("labs.gz", write_idx(tmp_path / "labs.gz", labels)),
    }
    with pytest.raises(ValueError, match=r"5 images.*4 labels"):
        fetch_mnist(tmp_path, files=files)


# ------------------------------------------------------------------- constants


def test_mnist_files_constants() -> None:
    assert set(MNIST_FILES) == {"train_images", "train_labels", "test_images", "test_labels"}
    assert {key: name for key, (name, _) in MNIST_FILES.items()} == {
        "train_images": "train-images-idx3-ubyte.gz",
        "train_labels": "train-labels-idx1-ubyte.gz",
        "test_images": "t10k-images-idx3-ubyte.gz",
        "test_labels": "t10k-labels-idx1-ubyte.gz",
    }
    hashes = [digest for _, digest in MNIST_FILES.values()]
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in hashes)
    assert len(set(hashes)) == 4


def test_mnist_mirrors_are_https_base_urls() -> None:
    assert len(MNIST_MIRRORS) >= 2
    assert all(m.startswith("https://") and m.endswith("/") for m in MNIST_MIRRORS)


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KDNB_CACHE", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("KDNB_CACHE")
    repo = Path(dl.__file__).resolve().parents[1]
    assert default_cache_dir() == repo / "data" / "cache" / "mnist"
