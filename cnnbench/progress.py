"""Progress of a long training on the terminal: a rich bar for epochs and batches.

Batches are counted in `on_train_batch_begin`, whose logs are empty: unlike a
batch-end hook it never makes Keras wait for the device, so the display costs the
timed work nothing measurable. Each finished epoch also prints one line, which is
what a log file (or CI) keeps.
"""

from __future__ import annotations

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


class RichProgress(keras.callbacks.Callback):
    """Keras callback that drives a rich Progress; use it as a context manager."""

    def __init__(self, label: str, console: Console | None = None) -> None:
        super().__init__()
        self.label = label
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
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
        self.progress.reset(self._batches, description=f"epoch {epoch + 1} batches")

    def on_train_batch_begin(self, batch, logs=None):
        self.progress.update(self._batches, completed=batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.progress.advance(self._epochs)
        keys = ("loss", "accuracy", "val_loss", "val_accuracy")
        fields = "  ".join(f"{key} {logs[key]:.4f}" for key in keys if key in logs)
        self.progress.console.print(
            f"{self.label} epoch {epoch + 1}/{self.params.get('epochs')}  {fields}",
            highlight=False,
            soft_wrap=True,
        )
