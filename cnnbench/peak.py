"""The device's fp32 matrix-multiply peak, measured with the active Keras backend.

    python -m cnnbench peak [--backend B] [--device cpu|gpu|auto]

Times repeated N x N float32 matmuls (2 N^3 FLOPs each) and keeps the best rate: the
yardstick for a run's achieved GFLOP/s. Measured at the backend's default matmul
precision (on CPU that is full fp32).
"""

from __future__ import annotations

import time

import keras
import numpy as np


def matmul_peak_gflops(size: int = 2048, repeats: int = 10) -> float:
    """Best GFLOP/s over `repeats` timed matmuls of two size x size fp32 matrices."""
    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.standard_normal((size, size), dtype=np.float32))
    b = keras.ops.convert_to_tensor(rng.standard_normal((size, size), dtype=np.float32))
    float(keras.ops.matmul(a, b)[0, 0])  # warm-up: kernels, threads
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        c = keras.ops.matmul(a, b)
        float(c[0, 0])  # waits for the product on every backend
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9
