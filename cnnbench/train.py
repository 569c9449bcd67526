"""One training run of the report's CNN, timed and checked, as a `RunResult`.

    from cnnbench.train import run
    from cnnbench.records import RunConfig
    result = run(RunConfig(filters=16, epochs=10))
    print(result.to_dict())

A run has three parts, and only the middle one is timed:

1. `prepare(config, data)`: set the precision, build the model (or native trainer),
   compile its setup, put the data where it will be read (untimed);
2. `Prepared.fit()`: every epoch, each with its validation pass: `runtime_s`. Tracing,
   compilation and graph capture of the run's own functions happen here, in the first
   epoch, and are reported apart (`first_epoch_s` vs `steady_epoch_s`);
3. `Prepared.finish(measured)`: the test evaluation and everything derived (untimed).

The benchmark suite hands these to pytest-benchmark's pedantic `setup`, target and
`teardown`, so the seconds it records are exactly `runtime_s`.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import time
from collections.abc import Sequence

import keras
import numpy as np

from cnnbench import backend as backends
from cnnbench import native, precision, profiles
from cnnbench.analytic import run_bytes, train_flops_per_sample
from cnnbench.data import Mnist, load, tf_dataset
from cnnbench.epochclock import EpochClock
from cnnbench.experiment import EVAL_BATCH_SIZE
from cnnbench.model import build_model
from cnnbench.records import HISTORY_KEYS, Measured, RunConfig, RunResult


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch, its validation pass included; also put into the
    epoch's logs (`epoch_seconds`) for the callbacks after it, as the native loop does.

    Keras turns the epoch's logs into Python floats before `on_epoch_end`, which
    waits for the device, so the clock is read after the work is done.
    The epoch's CPU, steal and busy seconds go beside it (`cnnbench.epochclock`).
    """

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self.clock = EpochClock()
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.clock.start()
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        self.clock.stop()
        if logs is not None:
            logs["epoch_seconds"] = self.seconds[-1]


def memory_problem(config: RunConfig, backend: str, kind: str) -> str | None:
    """Why `config` cannot fit in this device's memory, or None (when it may, or the
    backend does not say how much is free)."""
    need = run_bytes(config.filters, config.batch_size, EVAL_BATCH_SIZE, config.train_samples)
    have = backends.available_bytes(backend, kind)
    if have is None or need <= have:
        return None
    gib = 2**30
    return (
        f"{config.filters} filters need at least {need / gib:,.1f} GiB; the {kind} has "
        f"{have / gib:,.1f} GiB free"
    )


class Prepared:
    """A run built and placed, ready for its timed `fit`; `finish` completes it."""

    def __init__(self, config: RunConfig, backend: str, data: Mnist, callbacks=()) -> None:
        start = time.perf_counter()
        self.config, self.backend, self.data = config, backend, data
        self.callbacks = list(callbacks)
        kind = backends.kind_of(backends.resolve_device(backend, config.device))
        problem = memory_problem(config, backend, kind)
        if problem:
            raise backends.DeviceError(problem)
        self.precision = precision.effective(config.precision, kind)
        precision.apply(self.precision, backend)
        backends.reset_process_settings(backend)
        backends.reset_peak_memory(backend)
        self.settings = profiles.for_run(config, backend, kind)
        self._build()
        backends.check_placement(config.device, self.device, backend)
        self.setup_s = time.perf_counter() - start

    def _build(self) -> None:
        raise NotImplementedError

    def fit(self) -> Measured:
        """The timed region."""
        raise NotImplementedError

    def _test_accuracy(self) -> float:
        raise NotImplementedError

    def finish(self, measured: Measured) -> RunResult:
        """Evaluate on the test split and derive the result (untimed)."""
        config = self.config
        seconds = measured.history["epoch_seconds"]
        steady = statistics.median(seconds[1:]) if len(seconds) > 1 else None
        samples = config.train_samples
        rate = samples / steady if steady else None
        flops = train_flops_per_sample(config.filters)
        test_accuracy = self._test_accuracy()
        return RunResult(
            backend=self.backend,
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
            test_accuracy=test_accuracy,
            test_error=1.0 - test_accuracy,
            runtime_s=measured.runtime_s,
            first_epoch_s=seconds[0],
            steady_epoch_s=steady,
            samples_per_s=rate,
            flops_per_sample=flops,
            versions=backends.library_versions(self.backend),
            data_source=self.data.source,
            impl=config.impl,
            profile=config.recorded_profile,
            settings=measured.settings,
            achieved_gflops=None if rate is None else flops * rate / 1e9,
            peak_host_mb=backends.peak_host_mb(),
            peak_gpu_mb=backends.peak_gpu_mb(self.backend),
            precision=self.precision,
            math=precision.describe(self.backend),
            setup_s=self.setup_s,
        )


def seed_shuffling(backend: str, seed: int) -> None:
    """Seed what `fit` shuffles with, and nothing more: Keras's own `set_random_seed`
    imports TensorFlow whenever it is installed, which a JAX or PyTorch run must not."""
    if backend == "tensorflow":  # fit shuffles in tf.data
        keras.utils.set_random_seed(seed)
        return
    random.seed(seed)
    np.random.seed(seed)  # JAX: fit shuffles NumPy arrays with NumPy's global generator
    if backend == "torch":  # PyTorch: with a torch DataLoader, on torch's generator
        import torch

        torch.manual_seed(seed)


def _placement(device: str, backend: str) -> contextlib.AbstractContextManager:
    if device == "gpu":
        return keras.device("gpu:0")
    if device == "cpu" and backends.gpu_names(backend):
        return keras.device("cpu:0")
    return contextlib.nullcontext()


class KerasRun(Prepared):
    def _build(self) -> None:
        config, data = self.config, self.data
        n = config.train_samples
        compile_args = {}
        if self.settings["jit_compile"] != "auto":
            compile_args["jit_compile"] = self.settings["jit_compile"]
        per_call = self.settings["steps_per_execution"]
        per_call = config.steps if per_call == "epoch" else per_call
        if per_call != 1:
            compile_args["steps_per_execution"] = per_call
        # A factory: keras.device is a one-shot context manager on some backends.
        self.scope = lambda: _placement(config.device, self.backend)
        with self.scope():
            seed_shuffling(self.backend, config.seed)
            policy = precision.keras_dtype_policy(self.precision)
            self.model = build_model(config.filters, policy, seed=config.seed)
            self.device = backends.device_of(self.model.weights[0].value)
            self.model.compile(
                optimizer=keras.optimizers.SGD(learning_rate=config.learning_rate),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
                **compile_args,
            )
            arrays = (data.x_train[:n], data.y_train[:n], data.x_val, data.y_val)
            if self.settings["input"] == "device":
                arrays = tuple(keras.ops.convert_to_tensor(a) for a in arrays)
            x, y, x_val, y_val = arrays
            if self.settings["input"] == "tf.data":
                dataset = tf_dataset(x, y, config.batch_size, config.seed)
                self.train = {"x": dataset, "shuffle": False}  # the pipeline shuffles
            else:
                self.train = {"x": x, "y": y, "batch_size": config.batch_size}
            self.validation = (x_val, y_val)

    def fit(self) -> Measured:
        timer = EpochTimer()
        with self.scope():
            start = time.perf_counter()
            fit = self.model.fit(
                **self.train,
                epochs=self.config.epochs,
                validation_data=self.validation,
                callbacks=[timer, *self.callbacks],
                verbose=0,
            )
            runtime = time.perf_counter() - start
        history = {key: [float(v) for v in fit.history[key]] for key in HISTORY_KEYS}
        history["epoch_seconds"] = timer.seconds
        history.update(timer.clock.history())
        settings = {
            **self.settings,
            "resolved": {  # what Keras made of them
                "jit_compile": self.model.jit_compile,
                "steps_per_execution": self.model.steps_per_execution,
                "dtype_policy": self.model.layers[0].dtype_policy.name,
            },
        }
        return Measured(history, runtime, self.model.count_params(), self.device, settings)

    def _test_accuracy(self) -> float:
        with self.scope():
            _, accuracy = self.model.evaluate(
                self.data.x_test, self.data.y_test, batch_size=EVAL_BATCH_SIZE, verbose=0
            )
        return float(accuracy)


class NativeRun(Prepared):
    def _build(self) -> None:
        config = self.config
        self.trainer = native.make_trainer(
            config, self.backend, self.data, self.settings, EVAL_BATCH_SIZE
        )
        self.device = self.trainer.device
        self.orders = native.epoch_orders(config.train_samples, config.epochs, config.seed)

    def fit(self) -> Measured:
        history, runtime = native.fit(
            self.trainer, self.orders, self.config.steps, EVAL_BATCH_SIZE, self.callbacks
        )
        trainer = self.trainer
        return Measured(history, runtime, trainer.params, trainer.device, trainer.settings)

    def _test_accuracy(self) -> float:
        return native.evaluate(self.trainer, "test", EVAL_BATCH_SIZE)[1]


def prepare(config: RunConfig, data: Mnist | None = None, callbacks: Sequence = ()) -> Prepared:
    """Everything before the timed region: model or trainer built, data placed."""
    data = load() if data is None else data
    backend = keras.backend.backend()
    kind = KerasRun if config.impl == "keras" else NativeRun  # the loop: native's machinery
    return kind(config, backend, data, callbacks)


def run(
    config: RunConfig,
    data: Mnist | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> RunResult:
    """Train a fresh model as `config` says and return what the report recorded, and more.

    `data` defaults to `cnnbench.data.load()`; `callbacks` (e.g. a progress display)
    see the epochs (and, for Keras, the batches) of the run.
    """
    prepared = prepare(config, data, callbacks)
    return prepared.finish(prepared.fit())
