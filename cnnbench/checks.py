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
        return Floor(0.98, 0.02, "full length")
    if result["epochs"] * result["train_samples"] >= FULL_LENGTH.train_samples:
        return Floor(0.90, None, "shortened, at least one epoch of images")
    return Floor(0.50, None, "shortened, under one epoch of images")


def problems(result: dict) -> list[str]:
    """Everything wrong with a finished run; empty when its time may count."""
    found = []
    filters = result["filters"]
    reference = REFERENCE_2017.get(filters)
    want = reference.params if reference else param_count(filters)
    if result["params"] != want:
        found.append(f"{filters} filters: {result['params']} parameters, expected {want}")
    losses = result["history"]["loss"] + result["history"]["val_loss"]
    if not all(math.isfinite(v) for v in losses):
        found.append(f"non-finite loss in history {losses}")
    floor = floor_for(result)
    if floor.val_accuracy is not None and not result["val_accuracy"] >= floor.val_accuracy:
        found.append(
            f"validation accuracy {result['val_accuracy']:.4f} < {floor.val_accuracy} "
            f"({floor.reason})"
        )
    if floor.test_error is not None and not result["test_error"] <= floor.test_error:
        found.append(f"test error {result['test_error']:.4f} > {floor.test_error} ({floor.reason})")
    return found
