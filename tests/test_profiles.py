"""Settings per path, backend and device: completed, checked, and what a run will use."""

import pytest

from cnnbench import profiles
from cnnbench.records import RunConfig


def test_check_completes_with_the_plain_values():
    assert profiles.check("native", "jax", {"loop": "scan"}) == {
        "loop": "scan",
        "pool": "window",
        "conv": "xla",
    }
    assert profiles.check("keras", "torch", {})["steps_per_execution"] == 1
    assert profiles.check("keras", "jax", {"steps_per_execution": 25})["steps_per_execution"] == 25


@pytest.mark.parametrize(
    "impl, backend, settings, message",
    [
        ("native", "torch", {"loop": "warp"}, "loop='warp': choose from eager, graph, compile"),
        ("native", "jax", {"speed": 9}, "unknown native jax setting"),
        ("keras", "jax", {"steps_per_execution": 0}, "steps_per_execution=0"),
        ("keras", "torch", {"input": "tf.data"}, "keras torch setting input='tf.data': tensorflow"),
        ("keras", "jax", {"input": "tf.data"}, "jax setting input='tf.data': tensorflow only"),
    ],
)
def test_check_refuses_what_no_trainer_knows(impl, backend, settings, message):
    with pytest.raises(ValueError, match=message):
        profiles.check(impl, backend, settings)


def test_a_tensorflow_pipeline_is_a_tensorflow_setting():
    assert profiles.check("keras", "tensorflow", {"input": "tf.data"})["input"] == "tf.data"


def test_every_choice_and_candidate_is_valid():
    for backend, kinds in profiles.NATIVE.items():
        for settings in kinds.values():
            profiles.check("native", backend, settings)
    for profile in profiles.KERAS.values():
        for backend, kinds in profile.items():
            for settings in kinds.values():
                profiles.check("keras", backend, settings)
    for (impl, backend, _), candidates in profiles.CANDIDATES.items():
        for settings in candidates:
            profiles.check(impl, backend, settings)


def test_a_cpu_tune_times_no_setting_that_only_a_gpu_has():
    """CUDA graphs (`compile-graphs`) on a CPU would be `compile` under another name."""
    timed = {
        (kind, backend, key, value)
        for (_, backend, kind), candidates in profiles.CANDIDATES.items()
        for settings in candidates
        for key, value in settings.items()
    }
    for backend, key, value in profiles.GPU_ONLY:
        assert ("gpu", backend, key, value) in timed
        assert ("cpu", backend, key, value) not in timed


def test_a_run_uses_its_own_settings_or_its_paths_chosen_ones():
    chosen = profiles.for_run(RunConfig(impl="native"), "jax", "gpu")
    assert chosen["loop"] == profiles.NATIVE["jax"]["gpu"]["loop"]
    own = profiles.for_run(RunConfig(impl="native", settings={"loop": "step"}), "jax", "gpu")
    assert own["loop"] == "step"


def test_tuned_equal_to_default_is_known():
    # the measured choice: on PyTorch CPU no public-API setting beat Keras's defaults
    assert profiles.same_as_default("torch", "cpu")
    assert not profiles.same_as_default("jax", "cpu")
    assert not profiles.same_as_default("torch", "gpu")  # jit_compile=True


@pytest.mark.any_backend  # imports Keras, tests none of its backends
def test_steps_per_execution_on_pytorch_needs_the_next_keras(monkeypatch):
    import keras

    epoch = {"steps_per_execution": "epoch"}
    monkeypatch.setattr(keras, "__version__", "3.15.1")
    assert "runs one step per call" in profiles.refused_here("keras", "torch", epoch)
    assert profiles.refused_here("keras", "torch", {}) is None
    assert profiles.refused_here("keras", "jax", epoch) is None
    monkeypatch.setattr(keras, "__version__", "3.16.0.dev2026102704")
    assert profiles.refused_here("keras", "torch", epoch) is None


@pytest.mark.any_backend  # imports Keras, tests none of its backends
def test_a_choice_the_installed_keras_refuses_is_one_line(monkeypatch):
    import keras

    from cnnbench import request

    monkeypatch.setattr(keras, "__version__", "3.15.1")
    with pytest.raises(ValueError, match=r"^--choices: keras-tuned: .*Keras 3.15.1's PyTorch"):
        request.check_choices({"keras-tuned": {"steps_per_execution": "epoch"}}, ["torch"])
    request.check_choices({"keras-tuned": {"steps_per_execution": "epoch"}}, ["jax"])


@pytest.mark.parametrize("version, timed", [("3.15.1", False), ("3.16.0.dev2026102704", True)])
@pytest.mark.any_backend  # imports Keras, tests none of its backends
def test_tune_times_steps_per_execution_on_pytorch_only_where_keras_runs_it(
    monkeypatch, version, timed
):
    import keras

    from cnnbench import train, tune

    def refuse(config, data):  # the warm-up passes; a timed candidate fails at once
        if config.profile == "tuned":
            raise RuntimeError("not trained in a unit test")

    monkeypatch.setattr(keras, "__version__", version)
    monkeypatch.setattr(train, "run", refuse)
    said = []
    trials = tune.tune(RunConfig(), "torch", "cpu", ["keras"], data=None, write=said.append)
    asked = [trial.asked for trial in trials]
    assert ({"steps_per_execution": "epoch"} in asked) is timed
    assert any("not timed" in line for line in said) is not timed
