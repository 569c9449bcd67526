"""`--choices` settings are checked against the options of the path they name."""

import pytest

from cnnbench.request import check_choices


def test_choices_are_checked_against_their_own_path():
    check_choices(
        {"keras-loop": {"loop": "epoch"}, "native": {"jit_compile": True}}, ["tensorflow"]
    )
    check_choices({"keras-tuned": {"steps_per_execution": "epoch"}}, ["jax"])


@pytest.mark.parametrize(
    "choices, message",
    [
        ({"keras-loop": {"loop": "warp"}}, "keras-loop: keras-loop tensorflow setting loop='warp'"),
        (
            {"keras-tuned": {"loop": "epoch"}},
            "keras-tuned: unknown keras tensorflow setting(s) loop",
        ),
        ({"keras-loop": {"jit_compile": True}}, "unknown keras-loop tensorflow setting(s) jit"),
    ],
)
def test_a_setting_of_another_path_is_refused(choices, message):
    with pytest.raises(ValueError) as err:
        check_choices(choices, ["tensorflow"])
    assert message in str(err.value)
