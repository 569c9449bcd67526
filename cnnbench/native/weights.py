"""The native networks' initial weights, the same on every framework and as Keras's:
Glorot-uniform kernels and zero biases, in Keras's layouts, from one seed.

Each `*_impl` module imports this, never `cnnbench.native` itself (which loads them).
"""

from __future__ import annotations

import math

import numpy as np

from cnnbench.analytic import DENSE_UNITS, IMAGE_SHAPE, KERNEL, NUM_CLASSES, POOLED_SIDE


def glorot_shapes(filters: int) -> list[tuple[tuple[int, ...], int, int]]:
    """(kernel shape, fan_in, fan_out) per layer, in Keras's layouts (HWIO, in x out)."""
    flat = POOLED_SIDE * POOLED_SIDE * filters
    k2 = KERNEL * KERNEL
    channels = IMAGE_SHAPE[-1]
    return [
        ((KERNEL, KERNEL, channels, filters), k2 * channels, k2 * filters),
        ((KERNEL, KERNEL, filters, filters), k2 * filters, k2 * filters),
        ((flat, DENSE_UNITS), flat, DENSE_UNITS),
        ((DENSE_UNITS, NUM_CLASSES), DENSE_UNITS, NUM_CLASSES),
    ]


def initial_weights(filters: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel, bias) per layer as float32 numpy arrays: Glorot-uniform and zeros."""
    rng = np.random.default_rng(seed)
    weights = []
    for shape, fan_in, fan_out in glorot_shapes(filters):
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        kernel = rng.uniform(-limit, limit, size=shape).astype(np.float32)
        weights.append((kernel, np.zeros(shape[-1], dtype=np.float32)))
    return weights
