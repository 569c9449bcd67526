"""Progress of a long training: one line per epoch, and on a terminal a rich bar.

Batches are counted in `on_train_batch_begin`, whose logs are empty: unlike a
batch-end hook it never makes Keras wait for the device, so the display costs the
timed work nothing measurable. The epoch lines are what a log file (or CI) keeps.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from cnnbench import interrupt
from cnnbench.records import HISTORY_KEYS


class EpochLog(keras.callbacks.Callback):
    """Writes `<label> epoch 3/10  loss ...  val_accuracy ...  5.1 s` after each epoch,
    the seconds as the run's own epoch timer measured them (`logs["epoch_seconds"]`)."""

    def __init__(self, label: str, write: Callable[[str], None]) -> None:
        super().__init__()
        self.label = label
        self.write = write

    def on_train_batch_begin(self, batch, logs=None):
        interrupt.check()  # a Ctrl-C that a library swallowed stops the run here

    def on_epoch_begin(self, epoch, logs=None):
        interrupt.check()

    def on_epoch_end(self, epoch, logs=None):
        interrupt.check()
        logs = logs or {}
        fields = "  ".join(f"{key} {logs[key]:.4f}" for key in HISTORY_KEYS if key in logs)
        seconds = f"  {logs['epoch_seconds']:.1f} s" if "epoch_seconds" in logs else ""
        total = self.params.get("epochs")
        self.write(f"{self.label} epoch {epoch + 1}/{total}  {fields}{seconds}")


class RichProgress(EpochLog):
    """EpochLog plus a rich bar for epochs and batches; use it as a context manager."""

    def __init__(self, label: str, console: Console | None = None) -> None:
        console = console or Console(stderr=True)
        super().__init__(label, lambda line: console.print(line, highlight=False, soft_wrap=True))
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._epochs = self._batches = None

    def __enter__(self) -> RichProgress:
        return self  # the display starts with training, so early errors print alone

    def __exit__(self, *exc) -> None:
        if self.progress.live.is_started:
            self.progress.stop()

    def on_train_begin(self, logs=None):
        self.progress.start()
        epochs, steps = self.params.get("epochs"), self.params.get("steps")
        self._epochs = self.progress.add_task(f"{self.label} epochs", total=epochs)
        self._batches = self.progress.add_task("batches", total=steps)

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self.progress.reset(self._batches, description=f"epoch {epoch + 1} batches")

    def on_train_batch_begin(self, batch, logs=None):
        super().on_train_batch_begin(batch, logs)
        self.progress.update(self._batches, completed=batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self.progress.advance(self._epochs)
        super().on_epoch_end(epoch, logs)
