import math

import pytest

from cnnbench import checks


def _result(**changes):
    result = {
        "filters": 16,
        "params": 104250,
        "learning_rate": 0.1,
        "epochs": 10,
        "train_samples": 55000,
        "batch_size": 50,
        "val_accuracy": 0.989,
        "test_error": 0.012,
        "runtime_s": 30.0,
        "history": {"loss": [0.2, 0.05], "val_loss": [0.1, 0.04]},
    }
    result.update(changes)
    return result


def test_full_length_run_passes():
    assert checks.problems(_result()) == []
    assert checks.floor_for(_result()).reason == "full length"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"params": 104251}, "16 filters: 104251 parameters, expected 104250"),
        ({"val_accuracy": 0.979}, "validation accuracy 0.9790 < 0.98 (full length)"),
        ({"test_error": 0.021}, "test error 0.0210 > 0.02 (full length)"),
        ({"history": {"loss": [0.2, math.nan], "val_loss": [0.1, 0.1]}}, "not finite from epoch 2"),
        ({"history": {"loss": [0.2, 0.1], "val_loss": [math.inf, 0.1]}}, "not finite from epoch 1"),
        ({"runtime_s": math.nan}, "runtime nan s is not a finite time > 0"),
        ({"runtime_s": 0.0}, "runtime 0.0 s is not a finite time > 0"),
        ({"runtime_s": 10**400}, "is not a finite time > 0"),
        ({"epochs": 1, "val_accuracy": 0.89}, "0.8900 < 0.9 (shortened, at least one epoch"),
        ({"epochs": 1, "train_samples": 5000, "val_accuracy": 0.4}, "< 0.5 (shortened, under"),
    ],
)
def test_each_problem_is_named(changes, message):
    found = checks.problems(_result(**changes))
    assert len(found) == 1 and message in found[0]


def test_nan_accuracy_never_passes_a_floor():
    assert checks.problems(_result(val_accuracy=math.nan))


def test_other_learning_rates_need_only_finite_loss():
    slow = _result(learning_rate=0.0001, val_accuracy=0.3, test_error=0.7)
    assert checks.problems(slow) == []
    assert checks.floor_for(slow).reason == "lr 0.0001: finite loss only"


def test_unreported_width_uses_analytic_count():
    assert checks.problems(_result(filters=4, params=26694)) == []
    (wrong,) = checks.problems(_result(filters=4, params=26695))
    assert wrong == "4 filters: 26695 parameters, expected 26694"


def test_a_run_exactly_at_the_floor_passes():
    at = _result(val_accuracy=checks.VAL_ACCURACY_FLOOR, test_error=checks.TEST_ERROR_CEILING)
    assert checks.problems(at) == []
    assert checks.floor_for(at).val_accuracy == 0.98 and checks.floor_for(at).test_error == 0.02


def test_diverged_epoch_is_the_first_bad_one():
    assert checks.diverged_epoch({"loss": [1.0, 2.0], "val_loss": [1.0, 2.0]}) is None
    assert checks.diverged_epoch({"loss": [1.0, 2.0, math.nan], "val_loss": [1.0] * 3}) == 3
