"""One training run of the report's CNN, timed and checked, as a `RunResult`.

    from cnnbench.train import RunConfig, run
    result = run(RunConfig(filters=16, epochs=10))
    print(result.to_dict())

The backend is the one keras was imported with (`KERAS_BACKEND`). Timing follows
the report: `runtime_s` is the whole `fit` (all epochs, each with its validation
pass); `first_epoch_s` carries tracing/compilation and is reported apart from
`steady_epoch_s`, the median of the later epochs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras

from cnnbench import backend as backends
from cnnbench.data import Mnist, load
from cnnbench.model import build_model, train_flops_per_sample

TRAIN_SIZE = 55000
IMPLS = ("keras", "native")
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
EVAL_BATCH_SIZE = 500  # evaluation batch size only changes speed, not the numbers

# Keras execution profiles: extra `compile` arguments per backend. 'default' is what a
# user gets from `model.fit` with Keras's defaults; 'tuned' is the fastest setting found
# by measurement on the CI machine class (README, "Execution profiles", has the numbers).
# "epoch" stands for the number of steps in one epoch: one call into the compiled
# function per epoch, so Python is entered once per epoch instead of once per step.
PROFILES: dict[str, dict[str, dict]] = {
    "default": {"tensorflow": {}, "torch": {}, "jax": {}},
    "tuned": {
        # XLA (jit_compile=True) measured slower on CPU; one execution per epoch faster.
        "tensorflow": {"steps_per_execution": "epoch"},
        # torch refuses steps_per_execution > 1; torch.compile and DataLoader input
        # measured no faster on CPU: the default is the best found.
        "torch": {},
        "jax": {"steps_per_execution": "epoch"},
    },
}


@dataclass(frozen=True)
class RunConfig:
    filters: int = 16
    learning_rate: float = 0.1  # the report's best of 0.1 .. 0.0001
    epochs: int = 10
    batch_size: int = 50  # 55000 / 50 = 1100 steps an epoch, as in the report
    seed: int = 0
    device: str = "auto"  # 'cpu', 'gpu' or 'auto' (the backend's default placement)
    train_subset: int | None = None  # train on the first N images, for quick runs
    impl: str = "keras"  # 'keras', or 'native': the same network without Keras
    profile: str = "default"  # Keras execution profile: 'default' or 'tuned' (see PROFILES)

    def __post_init__(self) -> None:
        problems = []
        if self.filters < 1:
            problems.append(f"filters must be >= 1, got {self.filters}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            problems.append(f"learning rate must be > 0, got {self.learning_rate}")
        if self.epochs < 1:
            problems.append(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            problems.append(f"batch size must be >= 1, got {self.batch_size}")
        if self.device not in backends.DEVICES:
            problems.append(
                f"device must be one of {', '.join(backends.DEVICES)}, got {self.device!r}"
            )
        if self.train_subset is not None and not 1 <= self.train_subset <= TRAIN_SIZE:
            problems.append(f"train subset must be in 1..{TRAIN_SIZE}, got {self.train_subset}")
        if self.impl not in IMPLS:
            problems.append(f"impl must be one of {', '.join(IMPLS)}, got {self.impl!r}")
        if self.profile not in PROFILES:
            problems.append(f"profile must be one of {', '.join(PROFILES)}, got {self.profile!r}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class RunResult:
    backend: str
    device: str  # 'cpu' or the GPU's name, read from where the weights live
    filters: int
    params: int
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    train_samples: int
    history: dict[str, list[float]]  # loss, accuracy, val_loss, val_accuracy, epoch_seconds
    val_accuracy: float
    val_loss: float
    test_accuracy: float
    test_error: float
    runtime_s: float
    first_epoch_s: float
    steady_epoch_s: float | None  # None when there is only one epoch
    samples_per_s: float | None  # train_samples / steady_epoch_s
    flops_per_sample: int
    versions: dict[str, str] = field(default_factory=dict)
    data_source: str = ""
    impl: str = "keras"
    profile: str | None = "default"  # None for native implementations
    settings: dict = field(default_factory=dict)  # what the profile (or native code) chose
    achieved_gflops: float | None = None  # flops_per_sample * samples_per_s, steady state
    peak_gflops: float | None = None  # the device's measured fp32 matmul peak, when known
    peak_fraction: float | None = None  # achieved_gflops / peak_gflops
    peak_host_mb: float | None = None  # peak resident memory during the run
    peak_gpu_mb: float | None = None  # peak GPU allocator memory during the run, on GPU

    def with_peak(self, peak_gflops: float) -> RunResult:
        """This result, placed against a measured peak (`python -m cnnbench peak`)."""
        fraction = None if self.achieved_gflops is None else self.achieved_gflops / peak_gflops
        return dataclasses.replace(self, peak_gflops=peak_gflops, peak_fraction=fraction)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch, its validation pass included.

    Keras turns the epoch's logs into Python floats before `on_epoch_end`, which
    waits for the device, so the clock is read after the work is done.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def _placement(device: str, backend: str) -> contextlib.AbstractContextManager:
    if device == "gpu":
        backends.require_gpu(backend)
        return keras.device("gpu:0")
    if device == "cpu" and backends.gpu_names(backend):
        return keras.device("cpu:0")
    return contextlib.nullcontext()


@dataclass(frozen=True)
class Measured:
    """What one implementation measured; `result()` turns it into a RunResult."""

    history: dict[str, list[float]]  # loss, accuracy, val_loss, val_accuracy, epoch_seconds
    runtime_s: float
    test_accuracy: float
    params: int
    device: str
    settings: dict


def result(config: RunConfig, backend: str, data: Mnist, measured: Measured) -> RunResult:
    """The RunResult of a finished run, with everything derived from what was measured."""
    seconds = measured.history["epoch_seconds"]
    steady = statistics.median(seconds[1:]) if len(seconds) > 1 else None
    samples = config.train_subset or TRAIN_SIZE
    rate = samples / steady if steady else None
    flops = train_flops_per_sample(config.filters)
    return RunResult(
        backend=backend,
        device=measured.device,
        filters=config.filters,
        params=measured.params,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        seed=config.seed,
        train_samples=samples,
        history=measured.history,
        val_accuracy=measured.history["val_accuracy"][-1],
        val_loss=measured.history["val_loss"][-1],
        test_accuracy=measured.test_accuracy,
        test_error=1.0 - measured.test_accuracy,
        runtime_s=measured.runtime_s,
        first_epoch_s=seconds[0],
        steady_epoch_s=steady,
        samples_per_s=rate,
        flops_per_sample=flops,
        versions=backends.library_versions(backend),
        data_source=data.source,
        impl=config.impl,
        profile=config.profile if config.impl == "keras" else None,
        settings=measured.settings,
        achieved_gflops=None if rate is None else flops * rate / 1e9,
        peak_host_mb=backends.peak_host_mb(),
        peak_gpu_mb=backends.peak_gpu_mb(backend),
    )


def run(
    config: RunConfig,
    data: Mnist | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> RunResult:
    """Train a fresh model as `config` says and return what the report recorded, and more.

    `data` defaults to `cnnbench.data.load()`; `callbacks` (e.g. a progress display)
    see the epochs (and, for Keras, the batches) of the run.
    """
    data = load() if data is None else data
    backend = keras.backend.backend()
    backends.reset_peak_memory(backend)
    if config.impl == "native":
        from cnnbench.native import train_native

        measured = train_native(config, backend, data, callbacks)
    else:
        measured = _train_keras(config, backend, data, callbacks)
    return result(config, backend, data, measured)


def _train_keras(config: RunConfig, backend: str, data: Mnist, callbacks) -> Measured:
    n = config.train_subset or TRAIN_SIZE
    profile = dict(PROFILES[config.profile][backend])
    if profile.get("steps_per_execution") == "epoch":
        profile["steps_per_execution"] = math.ceil(n / config.batch_size)
    with _placement(config.device, backend):
        keras.utils.set_random_seed(config.seed)
        model = build_model(config.filters)
        device = backends.device_of(model.weights[0].value)
        backends.check_placement(config.device, device, backend)
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=config.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            **profile,
        )
        timer = EpochTimer()
        start = time.perf_counter()
        fit = model.fit(
            data.x_train[:n],
            data.y_train[:n],
            batch_size=config.batch_size,
            epochs=config.epochs,
            validation_data=(data.x_val, data.y_val),
            callbacks=[timer, *callbacks],
            verbose=0,
        )
        runtime = time.perf_counter() - start
        _, test_accuracy = model.evaluate(
            data.x_test, data.y_test, batch_size=EVAL_BATCH_SIZE, verbose=0
        )
    history = {key: [float(v) for v in fit.history[key]] for key in HISTORY_KEYS}
    history["epoch_seconds"] = timer.seconds
    settings = {"jit_compile": model.jit_compile, "steps_per_execution": model.steps_per_execution}
    return Measured(history, runtime, float(test_accuracy), model.count_params(), device, settings)
