"""The 2017 lab report's MNIST CNN as one backend-neutral Keras 3 model.

Two blocks of Conv2D(filters, 3x3, stride 1, 'same') + ReLU + 2x2 max-pool, then
Dense(128, ReLU) and Dense(10, softmax). The backend is whatever `KERAS_BACKEND`
named when keras was first imported.

    >>> build_model(16).count_params()
    104250

`param_count` and `train_flops_per_sample` are the analytic counterparts, used for
checks and for efficiency figures (achieved GFLOP/s).
"""

from __future__ import annotations

import keras

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
DENSE_UNITS = 128
KERNEL = 3
POOLED_SIDE = IMAGE_SHAPE[0] // 4  # two 2x2 pools: 28 -> 14 -> 7


def build_model(filters: int, dtype: str = "float32") -> keras.Model:
    """Build (uncompiled) the report's CNN with `filters` feature maps per conv layer.

    `dtype` is a Keras dtype policy for the hidden layers (`mixed_bfloat16` computes in
    bfloat16 with float32 weights); the softmax layer stays float32, as Keras's mixed
    precision guide advises.
    """
    if filters < 1:
        raise ValueError(f"filters must be >= 1, got {filters}")
    conv = dict(kernel_size=KERNEL, strides=1, padding="same", activation="relu", dtype=dtype)
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            keras.layers.Conv2D(filters, name="conv1", **conv),
            keras.layers.MaxPooling2D(2, name="pool1", dtype=dtype),
            keras.layers.Conv2D(filters, name="conv2", **conv),
            keras.layers.MaxPooling2D(2, name="pool2", dtype=dtype),
            keras.layers.Flatten(name="flatten", dtype=dtype),
            keras.layers.Dense(DENSE_UNITS, activation="relu", name="dense", dtype=dtype),
            keras.layers.Dense(NUM_CLASSES, activation="softmax", name="logits", dtype="float32"),
        ],
        name=f"cnn{filters}",
    )


def _layer_shapes(filters: int) -> dict[str, int]:
    height, width, channels = IMAGE_SHAPE
    pooled = POOLED_SIDE * POOLED_SIDE
    return {
        "conv1_out": height * width,  # 'same' padding, stride 1
        "conv2_out": (height // 2) * (width // 2),
        "flat": pooled * filters,
        "in_channels": channels,
    }


def param_count(filters: int) -> int:
    """Trainable parameters (weights + biases) of `build_model(filters)`."""
    s = _layer_shapes(filters)
    k2 = KERNEL * KERNEL
    conv1 = k2 * s["in_channels"] * filters + filters
    conv2 = k2 * filters * filters + filters
    dense = s["flat"] * DENSE_UNITS + DENSE_UNITS
    logits = DENSE_UNITS * NUM_CLASSES + NUM_CLASSES
    return conv1 + conv2 + dense + logits


def forward_flops_per_sample(filters: int) -> int:
    """Forward-pass FLOPs of one image: 2 per multiply-accumulate in convs and denses.

    Bias adds, ReLU, pooling and softmax are elementwise and left out (under 1% here).
    """
    s = _layer_shapes(filters)
    k2 = KERNEL * KERNEL
    conv1 = 2 * s["conv1_out"] * filters * k2 * s["in_channels"]
    conv2 = 2 * s["conv2_out"] * filters * k2 * filters
    dense = 2 * s["flat"] * DENSE_UNITS
    logits = 2 * DENSE_UNITS * NUM_CLASSES
    return conv1 + conv2 + dense + logits


def train_flops_per_sample(filters: int) -> int:
    """FLOPs of one training step per image: forward, weight gradients, input gradients.

    Each backward product costs as much as its forward one, so training is 3x forward,
    less the input gradient of the first layer, which nothing needs.
    """
    s = _layer_shapes(filters)
    conv1_forward = 2 * s["conv1_out"] * filters * KERNEL * KERNEL * s["in_channels"]
    return 3 * forward_flops_per_sample(filters) - conv1_forward
