"""The network's sizes, and its parameter and FLOP counts worked out by hand.

Used by the checks (exact parameter counts), the native implementations (layer sizes)
and the report (achieved GFLOP/s, the roofline limit); imports no backend.

    >>> param_count(16), train_flops_per_sample(16)
    (104250, 3770880)
"""

from __future__ import annotations

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
DENSE_UNITS = 128
KERNEL = 3
POOLED_SIDE = IMAGE_SHAPE[0] // 4  # two 2x2 pools: 28 -> 14 -> 7


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


def run_bytes(filters: int, batch_size: int, eval_batch_size: int, images: int) -> int:
    """A lower bound of the memory one run needs: float32 parameters with their gradients,
    the activations of the larger of a training batch (kept for the backward pass) and
    an evaluation batch, and the images, all held at once."""
    side = IMAGE_SHAPE[0]
    per_image = (
        2 * side * side * filters  # conv1 output and its ReLU
        + (side // 2) ** 2 * filters * 3  # pool1, conv2 output and its ReLU
        + POOLED_SIDE * POOLED_SIDE * filters
        + DENSE_UNITS
        + NUM_CLASSES
    )
    activations = max(2 * batch_size, eval_batch_size) * per_image
    pixels = images * side * side * IMAGE_SHAPE[-1]
    return 4 * (2 * param_count(filters) + activations + pixels)
