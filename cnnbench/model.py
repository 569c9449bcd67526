"""The 2017 lab report's MNIST CNN as one backend-neutral Keras 3 model.

Two blocks of Conv2D(filters, 3x3, stride 1, 'same') + ReLU + 2x2 max-pool, then
Dense(128, ReLU) and Dense(10, softmax). The backend is whatever `KERAS_BACKEND`
named when keras was first imported.

    >>> build_model(16).count_params()
    104250

Its sizes and analytic parameter and FLOP counts are in `cnnbench.analytic`, which
imports no backend.
"""

from __future__ import annotations

import keras

from cnnbench.analytic import DENSE_UNITS, IMAGE_SHAPE, KERNEL, NUM_CLASSES


def build_model(filters: int, dtype: str = "float32", seed: int | None = None) -> keras.Model:
    """Build (uncompiled) the report's CNN with `filters` feature maps per conv layer.

    `dtype` is a Keras dtype policy for the hidden layers (`mixed_bfloat16` computes in
    bfloat16 with float32 weights); the softmax layer stays float32, as Keras's mixed
    precision guide advises. `seed` makes the Glorot-uniform kernels reproducible
    (layer i draws with seed + i) without touching any global random state.
    """
    if filters < 1:
        raise ValueError(f"filters must be >= 1, got {filters}")

    def kernel(i: int) -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=None if seed is None else seed + i)

    conv = dict(kernel_size=KERNEL, strides=1, padding="same", activation="relu", dtype=dtype)
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            keras.layers.Conv2D(filters, name="conv1", kernel_initializer=kernel(0), **conv),
            keras.layers.MaxPooling2D(2, name="pool1", dtype=dtype),
            keras.layers.Conv2D(filters, name="conv2", kernel_initializer=kernel(1), **conv),
            keras.layers.MaxPooling2D(2, name="pool2", dtype=dtype),
            keras.layers.Flatten(name="flatten", dtype=dtype),
            keras.layers.Dense(
                DENSE_UNITS,
                activation="relu",
                name="dense",
                kernel_initializer=kernel(2),
                dtype=dtype,
            ),
            keras.layers.Dense(
                NUM_CLASSES,
                activation="softmax",
                name="logits",
                kernel_initializer=kernel(3),
                dtype="float32",
            ),
        ],
        name=f"cnn{filters}",
    )
