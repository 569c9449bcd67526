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
    ],
)
def test_check_refuses_what_no_trainer_knows(impl, backend, settings, message):
    with pytest.raises(ValueError, match=message):
        profiles.check(impl, backend, settings)


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
