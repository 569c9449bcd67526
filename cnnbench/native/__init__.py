"""The report's network without Keras, one small module per framework, for Keras/native ratios.

Each module (`torch_impl`, `jax_impl`, `tensorflow_impl`) defines a `Trainer` that
follows the `Trainer` protocol below, written as an expert in that framework would write
it for speed; how it runs on each kind of device was chosen by measurement
(`cnnbench.profiles.NATIVE`, docs/tuning.md). They share everything else here: the same
initialisation (Glorot-uniform kernels, zero biases, as Keras), shuffling, the
evaluation loop and the timed epoch loop, so the only difference a ratio measures is
the framework path.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from cnnbench.epochclock import EpochClock
from cnnbench.records import HISTORY_KEYS


class Trainer(Protocol):
    """What a native implementation provides; built (seeded, data on the device) untimed."""

    device: str  # 'cpu' or the GPU's name, read from where the parameters live
    params: int  # parameter count
    settings: dict  # what it runs with (cnnbench.profiles.NATIVE_OPTIONS), as recorded
    sizes: dict[str, int]  # images per split: 'train', 'val', 'test'

    def train_epoch(self, order: np.ndarray) -> tuple[Any, Any]:
        """One epoch in `order`: (summed loss, correct count), left on the device."""

    def eval_batch(self, split: str, start: int, stop: int) -> tuple[Any, Any]:
        """(summed loss, correct count) of images start:stop of a split, on the device."""


def epoch_orders(n: int, epochs: int, seed: int) -> list[np.ndarray]:
    """A fresh shuffle of the training indices for every epoch (int32)."""
    rng = np.random.default_rng(seed + 1)
    return [rng.permutation(n).astype(np.int32) for _ in range(epochs)]


def make_trainer(config, backend: str, data, settings: dict, eval_batch_size: int) -> Trainer:
    """The backend's Trainer for the run's path (`native`, or `keras-loop`: the Keras model
    in a hand-written loop, `cnnbench.kerasloop`), built with `settings` (complete, checked)."""
    if config.impl == "keras-loop":
        module = importlib.import_module(f"cnnbench.kerasloop.{backend}_loop")
    else:
        module = importlib.import_module(f"cnnbench.native.{backend}_impl")
    return module.Trainer(config, data, settings, eval_batch_size)


def evaluate(trainer: Trainer, split: str, batch_size: int) -> tuple[float, float]:
    """(mean loss, accuracy) over a split; one wait for the device, at the end."""
    n = trainer.sizes[split]
    parts = [trainer.eval_batch(split, s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    return float(sum(p[0] for p in parts)) / n, float(sum(p[1] for p in parts)) / n


def fit(
    trainer: Trainer, orders: Sequence[np.ndarray], steps: int, eval_batch_size: int, callbacks=()
) -> tuple[dict[str, list[float]], float]:
    """The timed region: every epoch with its validation pass. (history, seconds).

    `steps` (optimizer steps an epoch) is what a progress display counts.
    """
    for callback in callbacks:
        callback.set_params({"epochs": len(orders), "steps": steps, "verbose": 0})
        callback.on_train_begin()
    history: dict[str, list[float]] = {key: [] for key in (*HISTORY_KEYS, "epoch_seconds")}
    clock = EpochClock()
    start = time.perf_counter()
    for epoch, order in enumerate(orders):
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        clock.start()
        epoch_start = time.perf_counter()
        loss, correct = trainer.train_epoch(order)
        val_loss, val_accuracy = evaluate(trainer, "val", eval_batch_size)  # waits
        history["epoch_seconds"].append(time.perf_counter() - epoch_start)
        clock.stop()
        logs = {
            "loss": float(loss) / len(order),
            "accuracy": float(correct) / len(order),
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "epoch_seconds": history["epoch_seconds"][-1],
        }
        for key in HISTORY_KEYS:
            history[key].append(logs[key])
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
    runtime = time.perf_counter() - start
    history.update(clock.history())
    for callback in callbacks:
        callback.on_train_end()
    return history, runtime
