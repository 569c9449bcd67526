"""What a run must show before its time counts: exact parameters and a model that learned.

Floors for the learning-rate-0.1 runs (the report's configuration), by how much
training a run saw:

- full length (10 epochs, all 55000 images, batch 50): validation accuracy >= 0.98
  and test error <= 0.02. The report saw 0.987-0.990 and 0.011-0.013; 8 filters with
  Keras defaults end near 0.985 / 0.015 here, so the floor leaves room for seed noise
  while catching a model that does not learn.
- at least one full epoch's worth of images: validation accuracy >= 0.90;
- anything shorter (CI's smoke runs): validation accuracy >= 0.50 (chance is 0.10).

Other learning rates are the experiment's subject and may learn slowly: they must
only keep a finite loss. Every run must have the report's parameter count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cnnbench.analytic import param_count
from cnnbench.experiment import FULL_LENGTH, LEARNING_RATE, REFERENCE_2017

VAL_ACCURACY_FLOOR = 0.98  # a full-length run at lr 0.1 (the report saw 0.987-0.990)
TEST_ERROR_CEILING = 0.02  # likewise (the report saw 0.011-0.013)


@dataclass(frozen=True)
class Floor:
    val_accuracy: float | None
    test_error: float | None
    reason: str


def floor_for(result: dict) -> Floor:
    """The accuracy floor that applies to a run, with the reason in words."""
    if result["learning_rate"] != LEARNING_RATE:
        return Floor(None, None, f"lr {result['learning_rate']:g}: finite loss only")
    if all(result[key] == value for key, value in FULL_LENGTH._asdict().items()):
        return Floor(VAL_ACCURACY_FLOOR, TEST_ERROR_CEILING, "full length")
    if result["epochs"] * result["train_samples"] >= FULL_LENGTH.train_samples:
        return Floor(0.90, None, "shortened, at least one epoch of images")
    return Floor(0.50, None, "shortened, under one epoch of images")


def finite(value) -> bool:
    """A real number that is neither infinite nor NaN (an integer too large for a float
    is not one either)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def diverged_epoch(history: dict) -> int | None:
    """The first epoch (from 1) whose training or validation loss is not finite."""
    for epoch, pair in enumerate(zip(history["loss"], history["val_loss"], strict=False), 1):
        if not all(finite(v) for v in pair):
            return epoch
    return None


def problems(result: dict) -> list[str]:
    """Everything wrong with a finished run; empty when its time may count."""
    found = []
    filters = result["filters"]
    reference = REFERENCE_2017.get(filters)
    want = reference.params if reference else param_count(filters)
    if result["params"] != want:
        found.append(f"{filters} filters: {result['params']} parameters, expected {want}")
    if not (finite(result["runtime_s"]) and result["runtime_s"] > 0):
        found.append(f"runtime {result['runtime_s']!r} s is not a finite time > 0")
    epoch = diverged_epoch(result["history"])
    if epoch is not None:
        found.append(f"the loss is not finite from epoch {epoch}")
    floor = floor_for(result)
    if floor.val_accuracy is not None and not (
        finite(result["val_accuracy"]) and result["val_accuracy"] >= floor.val_accuracy
    ):
        found.append(
            f"validation accuracy {result['val_accuracy']:.4f} < {floor.val_accuracy} "
            f"({floor.reason})"
        )
    if floor.test_error is not None and not (
        finite(result["test_error"]) and result["test_error"] <= floor.test_error
    ):
        found.append(f"test error {result['test_error']:.4f} > {floor.test_error} ({floor.reason})")
    return found
