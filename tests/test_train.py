import dataclasses
import math

import pytest

from cnnbench import backend as backends
from cnnbench.train import RunConfig, RunResult, run

RESULT_KEYS = [
    "backend",
    "device",
    "filters",
    "params",
    "epochs",
    "batch_size",
    "learning_rate",
    "seed",
    "train_samples",
    "history",
    "val_accuracy",
    "val_loss",
    "test_accuracy",
    "test_error",
    "runtime_s",
    "first_epoch_s",
    "steady_epoch_s",
    "samples_per_s",
    "flops_per_sample",
    "versions",
    "data_source",
]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("filters", 0, "filters must be >= 1"),
        ("learning_rate", 0.0, "learning rate must be > 0"),
        ("learning_rate", math.nan, "learning rate must be > 0"),
        ("epochs", 0, "epochs must be >= 1"),
        ("batch_size", 0, "batch size must be >= 1"),
        ("device", "tpu", "device must be one of auto, cpu, gpu"),
        ("train_subset", 60000, "train subset must be in 1..55000"),
    ],
)
def test_config_rejects_bad_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**{field: value})


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunConfig().filters = 32


@pytest.mark.slow
def test_one_epoch_on_real_mnist_learns(mnist, backend):
    result = run(RunConfig(filters=8, epochs=1), mnist)

    d = result.to_dict()
    assert list(d) == RESULT_KEYS
    assert (d["backend"], d["device"], d["params"]) == (backend, "cpu", 52258)
    assert d["train_samples"] == 55000
    assert d["val_accuracy"] >= 0.96  # one epoch lands near 0.97 on this model
    assert d["test_error"] == pytest.approx(1 - d["test_accuracy"])
    assert d["test_error"] <= 0.05
    assert set(d["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"}
    assert all(len(v) == 1 for v in d["history"].values())
    assert d["first_epoch_s"] == d["history"]["epoch_seconds"][0] <= d["runtime_s"]
    assert d["steady_epoch_s"] is None and d["samples_per_s"] is None  # one epoch: no steady state
    assert d["versions"]["keras"] and d["versions"][backend if backend != "jax" else "jaxlib"]
    assert d["data_source"] == mnist.source


@pytest.mark.slow
def test_steady_state_is_median_of_later_epochs(mnist):
    result = run(RunConfig(filters=4, epochs=3, train_subset=2000, seed=1), mnist)
    seconds = result.history["epoch_seconds"]
    assert len(seconds) == 3
    assert result.steady_epoch_s == pytest.approx((seconds[1] + seconds[2]) / 2)  # median of 2
    assert result.samples_per_s == pytest.approx(2000 / result.steady_epoch_s)
    assert result.runtime_s >= sum(seconds)


def test_gpu_request_without_gpu_fails_clearly(mnist, backend):
    if backends.gpu_names(backend):
        pytest.skip(f"this machine has a GPU visible to {backend}")
    with pytest.raises(backends.DeviceError, match=f"the {backend} backend sees no GPU"):
        run(RunConfig(filters=8, epochs=1, device="gpu"), mnist)


def test_result_round_trips_through_dict():
    fields = [f.name for f in dataclasses.fields(RunResult)]
    assert fields == RESULT_KEYS
