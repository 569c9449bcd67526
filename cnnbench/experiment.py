"""The 2017 experiment's fixed facts, in one place: its settings and its published figures.

Everything else imports these; nothing re-declares them.

    >>> REFERENCE_2017[16].params, FULL_LENGTH
    (104250, Length(epochs=10, train_samples=55000, batch_size=50))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

EPOCHS = 10
BATCH_SIZE = 50  # 55000 / 50 = 1100 steps an epoch
LEARNING_RATE = 0.1  # the best of the report's four rates
TRAIN_SIZE = 55000
VALIDATION_SIZE = 5000  # the report's TF1 `input_data.read_data_sets` default
EVAL_BATCH_SIZE = 500  # only changes the speed of evaluation, never its numbers

WARMUP_SAMPLES = 1000  # images per epoch of an untimed warm-up (a sweep's, a tune's)
ROUNDS = 3  # timed runs per cell, seeds S..S+2: a median and a spread

FILTERS = (8, 16, 32, 64, 128, 256)  # experiment 2: runtime vs width
CPU_FILTERS = FILTERS[:4]  # the report timed no wider on its CPU; nor does a CPU sweep unasked
LEARNING_RATES = (0.1, 0.01, 0.001, 0.0001)  # experiment 1, at LR_FILTERS filters
LR_FILTERS = 16


class Length(NamedTuple):
    """How much training a run saw: what makes two runtimes comparable at all."""

    epochs: int
    train_samples: int
    batch_size: int


FULL_LENGTH = Length(EPOCHS, TRAIN_SIZE, BATCH_SIZE)


@dataclass(frozen=True)
class Reference:
    """One width in the 2017 report: its parameter count and runtimes (seconds)."""

    params: int
    cpu_s: float | None  # a 4-core laptop CPU, TensorFlow 1.x; not run above 64 filters
    gpu_s: float | None  # the same laptop's GPU

    def seconds(self, kind: str) -> float | None:
        return self.cpu_s if kind == "cpu" else self.gpu_s


def reference_label(kind: str) -> str:
    """How a table row or a figure's legend names the 2017 runtimes on a kind of device."""
    return f"2017 report · laptop {kind.upper()} · TF 1.x"


REFERENCE_2017 = {
    8: Reference(52258, 133.91, 48.83),
    16: Reference(104250, 160.65, 65.97),
    32: Reference(211690, 277.25, 78.77),
    64: Reference(440394, 697.42, 144.25),
    128: Reference(953098, None, 278.69),
    256: Reference(2199690, None, 623.43),
}
VAL_ACCURACY_2017 = (0.987, 0.990)  # the range the report's runs ended at, 8-256 filters
