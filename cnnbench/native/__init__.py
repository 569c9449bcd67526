"""The report's network without Keras, one small module per framework, for Keras/native ratios.

Each module (`torch_impl`, `jax_impl`, `tensorflow_impl`) defines a `Trainer` written as
an expert in that framework would write it for speed: data resident on the device,
batches gathered on the device from a host-side permutation, one compiled step (or
epoch), no per-step host work beyond what the framework needs. They share everything
else here: the same initialisation (Glorot-uniform kernels, zero biases, as Keras),
SGD, batch size, shuffling, epochs, validation pass and timing, so the only difference
a ratio measures is the framework path.

A Trainer provides:
    Trainer(config, data)          build parameters (seeded) and put the data on the device
    .device, .params, .settings    where it runs, parameter count, what it chose
    .train_epoch(order) -> (mean loss, accuracy) over the epoch, in the order given
    .evaluate("val" | "test") -> (loss, accuracy)
"""

from __future__ import annotations

import importlib
import math
import time

import numpy as np

from cnnbench.model import DENSE_UNITS, KERNEL, NUM_CLASSES


def glorot_shapes(filters: int) -> list[tuple[tuple[int, ...], int, int]]:
    """(kernel shape, fan_in, fan_out) per layer, in Keras's layouts (HWIO, in x out)."""
    flat = 7 * 7 * filters  # two 2x2 pools of 28x28
    k2 = KERNEL * KERNEL
    return [
        ((KERNEL, KERNEL, 1, filters), k2 * 1, k2 * filters),
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


def epoch_orders(n: int, epochs: int, seed: int) -> list[np.ndarray]:
    """A fresh shuffle of the training indices for every epoch (int32)."""
    rng = np.random.default_rng(seed + 1)
    return [rng.permutation(n).astype(np.int32) for _ in range(epochs)]


def train_native(config, backend: str, data, callbacks=()):
    """Train with the backend's native Trainer; the same bookkeeping as the Keras path."""
    from cnnbench import backend as backends
    from cnnbench.train import EVAL_BATCH_SIZE, TRAIN_SIZE, Measured

    module = importlib.import_module(f"cnnbench.native.{backend}_impl")
    n = config.train_subset or TRAIN_SIZE
    if config.device == "gpu":
        backends.require_gpu(backend)
    trainer = module.Trainer(config, data, eval_batch_size=EVAL_BATCH_SIZE)
    backends.check_placement(config.device, trainer.device, backend)
    orders = epoch_orders(n, config.epochs, config.seed)
    steps = math.ceil(n / config.batch_size)
    for callback in callbacks:
        callback.set_params({"epochs": config.epochs, "steps": steps, "verbose": 0})
        callback.on_train_begin()

    history = {key: [] for key in ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds")}
    start = time.perf_counter()
    for epoch, order in enumerate(orders):
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        epoch_start = time.perf_counter()
        loss, accuracy = trainer.train_epoch(order)
        val_loss, val_accuracy = trainer.evaluate("val")  # floats: the device has finished
        history["epoch_seconds"].append(time.perf_counter() - epoch_start)
        logs = {
            "loss": loss,
            "accuracy": accuracy,
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
        }
        for key, value in logs.items():
            history[key].append(float(value))
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
    runtime = time.perf_counter() - start
    for callback in callbacks:
        callback.on_train_end()
    _, test_accuracy = trainer.evaluate("test")
    return Measured(
        history, runtime, float(test_accuracy), trainer.params, trainer.device, trainer.settings
    )
