"""The device's matrix-multiply peak at a precision, measured with the active Keras backend.

    python -m cnnbench peak [--backend B] [--device cpu|gpu|auto] [--precision fp32|tf32|bf16]

Times repeated N x N matmuls (2 N^3 FLOPs each) and keeps the best rate: the yardstick
for a run's achieved GFLOP/s and its distance to the limit. `fp32` and `tf32` multiply
float32 matrices under that precision's flags (`cnnbench.precision`); `bf16`
multiplies bfloat16 matrices.
"""

from __future__ import annotations

import time

import numpy as np

from cnnbench import precision as precisions

SIZES = {"cpu": 2048, "gpu": 8192}  # N per kind of device: big enough to reach its peak


def matmul_peak_gflops(size: int, repeats: int = 10, precision: str = "fp32") -> float:
    """Best GFLOP/s over `repeats` timed matmuls of two size x size matrices."""
    import keras

    precisions.apply(precision, keras.backend.backend())
    dtype = "bfloat16" if precision == "bf16" else "float32"
    rng = np.random.default_rng(0)
    a, b = (
        keras.ops.convert_to_tensor(rng.standard_normal((size, size), dtype=np.float32), dtype)
        for _ in range(2)
    )
    float(keras.ops.matmul(a, b)[0, 0])  # warm-up: kernels, threads
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        c = keras.ops.matmul(a, b)
        float(c[0, 0])  # waits for the product on every backend
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9
