import dataclasses
import math

import pytest

from cnnbench import backend as backends
from cnnbench import epochclock, profiles
from cnnbench.data import tf_dataset
from cnnbench.records import RunConfig, RunResult
from cnnbench.train import prepare, run

# fmt: off
RESULT_KEYS = [
    # The core keys, in this order (the benchmark and report rely on them) ...
    "backend", "device", "filters", "params", "epochs", "batch_size", "learning_rate", "seed",
    "train_samples", "history", "val_accuracy", "val_loss", "test_accuracy", "test_error",
    "runtime_s", "first_epoch_s", "steady_epoch_s", "samples_per_s", "flops_per_sample",
    "versions", "data_source",
    # ... then implementation, profile, efficiency and memory.
    "impl", "profile", "settings", "achieved_gflops", "peak_gflops", "peak_fraction",
    "peak_host_mb", "peak_gpu_mb", "precision", "math", "setup_s", "energy",
]
# fmt: on


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("filters", 0, "filters must be in 1..1048576"),
        ("filters", 2**20 + 1, "filters must be in 1..1048576"),
        ("learning_rate", 0.0, r"learning rate must be in \(0, "),
        ("learning_rate", math.nan, r"learning rate must be in \(0, "),
        ("learning_rate", 1e39, r"learning rate must be in \(0, 3.403e\+38\]"),
        ("epochs", 0, "epochs must be >= 1"),
        ("batch_size", 0, "batch size must be >= 1"),
        ("device", "tpu", "device must be one of auto, cpu, gpu"),
        ("train_subset", 60000, "train subset must be in 1..55000"),
        ("impl", "caffe", "impl must be one of keras, keras-loop, native"),
        ("profile", "fast", "profile must be one of default, tuned"),
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
    assert set(d["history"]) == {
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "epoch_seconds",
        *epochclock.KEYS,
    }
    assert 0 < d["history"]["epoch_cpu_seconds"][0] <= 2.5 * d["history"]["epoch_seconds"][0]
    assert all(len(v) == 1 for v in d["history"].values())
    assert d["first_epoch_s"] == d["history"]["epoch_seconds"][0] <= d["runtime_s"]
    assert d["steady_epoch_s"] is None and d["samples_per_s"] is None  # one epoch: no steady state
    assert d["versions"]["keras"] and d["versions"][backend if backend != "jax" else "jaxlib"]
    assert d["data_source"] == mnist.source
    assert (d["impl"], d["profile"]) == ("keras", "default")
    assert d["settings"]["steps_per_execution"] == 1
    assert 50 < d["peak_host_mb"] < 3000 and d["peak_gpu_mb"] is None
    assert d["achieved_gflops"] is None and d["peak_fraction"] is None  # no steady state


@pytest.mark.slow
@pytest.mark.parametrize(
    "impl, profile", [("native", "default"), ("keras", "tuned"), ("keras-loop", "default")]
)
def test_native_tuned_and_the_keras_loop_learn_like_keras_default(mnist, backend, impl, profile):
    result = run(RunConfig(filters=8, epochs=1, impl=impl, profile=profile), mnist).to_dict()
    assert (result["backend"], result["impl"], result["device"]) == (backend, impl, "cpu")
    assert result["profile"] == ("tuned" if impl == "keras" else None)
    assert result["params"] == 52258
    assert result["val_accuracy"] >= 0.96  # the same floor as the Keras default path
    # training accuracy and loss over the epoch's batches, each counted once: an epoch that
    # starts from chance averages below its end (validation), far above chance
    train_accuracy, train_loss = result["history"]["accuracy"][0], result["history"]["loss"][0]
    assert 0.85 < train_accuracy < result["val_accuracy"] + 0.01
    assert 0.05 < train_loss < 0.5
    chosen = profiles.for_run(RunConfig(impl=impl, profile=profile), backend, "cpu")
    assert {key: result["settings"][key] for key in chosen} == chosen  # what ran is recorded
    if impl == "keras":  # ... and is what Keras made of it, not its defaults
        per_call = chosen["steps_per_execution"]
        resolved = result["settings"]["resolved"]["steps_per_execution"]
        assert resolved == (55000 // 50 if per_call == "epoch" else per_call)


def test_the_tuned_settings_reach_keras_compile(mnist):
    """What `tuned` asks of `compile` is what the model gets, checked without training (the
    slow test above sees it in a whole run's record)."""
    config = RunConfig(filters=4, epochs=1, train_subset=100, profile="tuned")
    prepared = prepare(config, mnist)
    per_call = prepared.settings["steps_per_execution"]
    assert prepared.model.steps_per_execution == (config.steps if per_call == "epoch" else per_call)
    jit = prepared.settings["jit_compile"]
    assert jit == "auto" or prepared.model.jit_compile == jit


def test_bf16_builds_the_keras_model_in_mixed_precision(mnist):
    prepared = prepare(RunConfig(filters=4, epochs=1, train_subset=100, precision="bf16"), mnist)
    policies = [layer.dtype_policy.name for layer in prepared.model.layers]
    assert prepared.precision == "bf16"
    assert policies == ["mixed_bfloat16"] * 6 + ["float32"]  # the softmax stays float32
    strict = prepare(RunConfig(filters=4, epochs=1, train_subset=100), mnist)
    assert {layer.dtype_policy.name for layer in strict.model.layers} == {"float32"}


def test_with_peak_places_achieved_against_peak():
    base = dict.fromkeys(RESULT_KEYS[:21], 0)
    result = RunResult(**{**base, "achieved_gflops": 30.0})
    placed = result.with_peak(120.0)
    assert (placed.peak_gflops, placed.peak_fraction) == (120.0, 0.25)
    assert RunResult(**base).with_peak(120.0).peak_fraction is None


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


def test_result_fields_are_the_documented_keys():
    assert [f.name for f in dataclasses.fields(RunResult)] == RESULT_KEYS


@pytest.mark.slow
def test_a_seed_makes_a_keras_run_repeatable(mnist):
    config = RunConfig(filters=8, epochs=1, train_subset=2000, seed=3)
    first, again = (run(config, mnist).history["loss"][0] for _ in range(2))
    other = run(dataclasses.replace(config, seed=4), mnist).history["loss"][0]
    # Multithreaded CPU kernels may sum in another order: equal to a few 1e-4.
    assert again == pytest.approx(first, rel=2e-3)
    assert abs(other - first) > 5 * abs(again - first)


@pytest.mark.slow
def test_a_jax_or_torch_run_imports_no_tensorflow(backend):
    """TensorFlow's start-up notices (and its memory) stay out of other backends' runs.
    (Keras 3.15 itself imports JAX whenever it is installed, in keras.callbacks.)"""
    import subprocess
    import sys

    if backend == "tensorflow":
        pytest.skip("TensorFlow is the backend here")
    code = (
        "import sys\n"
        "from cnnbench.records import RunConfig\n"
        "from cnnbench.train import run\n"
        "run(RunConfig(filters=4, epochs=1, train_subset=500))\n"
        "print('tensorflow' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.any_backend
def test_a_tf_data_input_reshuffles_each_epoch_seeded_with_autotuning_off():
    """Keras's own pipeline autotunes, and autotuning stalls whole epochs (targets.md)."""
    import numpy as np

    x, y = np.arange(40, dtype="float32"), np.arange(40)
    dataset = tf_dataset(x, y, batch_size=8, seed=0)
    assert dataset.options().autotune.enabled is False
    assert dataset.options().threading.private_threadpool_size == 1

    def epochs(d):
        return [np.concatenate([xb.numpy() for xb, _ in d]).tolist() for _ in range(2)]

    first, second = epochs(dataset)
    assert sorted(first) == sorted(second) == x.tolist()  # every image once an epoch
    assert first != x.tolist() and second != first  # shuffled, afresh each epoch
    assert epochs(tf_dataset(x, y, 8, seed=0)) == [first, second]  # and seeded
    assert [len(xb) for xb, _ in dataset] == [8] * 5


@pytest.mark.slow
@pytest.mark.any_backend
def test_keras_fit_learns_from_the_tf_data_input(mnist):
    settings = {"steps_per_execution": "epoch", "input": "tf.data"}
    config = RunConfig(filters=8, epochs=1, train_subset=5000, profile="tuned", settings=settings)
    result = run(config, mnist).to_dict()
    assert result["settings"]["input"] == "tf.data"
    assert result["settings"]["resolved"]["steps_per_execution"] == 100
    assert result["val_accuracy"] >= 0.85
