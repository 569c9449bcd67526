"""One precision policy for every backend and device: what `--precision` means.

- `fp32`: strict float32 for matmuls and convolutions (no TensorFloat-32 anywhere:
  XLA's default matmul precision `float32`, PyTorch's TF32 off for matmuls and cuDNN,
  TensorFlow's TF32 execution off). The default: the same computation everywhere.
- `tf32`: TensorFloat-32 allowed for float32 matmuls and convolutions on every backend.
  A CPU has no TF32, so there `tf32` computes exactly `fp32` and is recorded as `fp32`.
- `bf16`: bfloat16 compute with float32 master weights: Keras's `mixed_bfloat16` dtype
  policy, and the native equivalents (autocast on PyTorch, bf16 casts in the forward
  pass on JAX and TensorFlow). What stays in float32 follows the `fp32` rules.

The flags are process-wide; `apply` sets them for each run before anything is built,
and `describe` reads them back from the backend for the record.
"""

from __future__ import annotations

PRECISIONS = ("fp32", "tf32", "bf16")


def effective(precision: str, device_kind: str) -> str:
    """The precision a run really computes in: `tf32` on a CPU is `fp32`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return "fp32" if precision == "tf32" and device_kind == "cpu" else precision


def keras_dtype_policy(precision: str) -> str:
    return "mixed_bfloat16" if precision == "bf16" else "float32"


def apply(precision: str, backend: str) -> None:
    """Set the backend's float32 matmul/convolution math: TF32 only for `tf32`."""
    tf32 = precision == "tf32"
    if backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "tensorfloat32" if tf32 else "float32")
    elif backend == "torch":
        import torch

        # The legacy flags, read back the same way: mixing them with the newer
        # `fp32_precision` API makes PyTorch refuse to read either.
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    elif backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(tf32)
    else:
        raise ValueError(f"unknown backend {backend!r}")


def describe(backend: str) -> str:
    """The backend's float32 math flags as it reports them now."""
    if backend == "torch":
        import torch

        return (
            f"torch cuda.matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32}, "
            f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}"
        )
    if backend == "jax":
        import jax

        return f"jax_default_matmul_precision={jax.config.jax_default_matmul_precision}"
    import tensorflow as tf

    enabled = tf.config.experimental.tensor_float_32_execution_enabled()
    return f"tensorflow tensor_float_32_execution={enabled}"
