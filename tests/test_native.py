"""The native baselines compute the same training: the same network from the same
initial weights in the same data order, whatever the framework and its settings."""

import pytest

from cnnbench import native, profiles
from cnnbench.backend import BACKENDS
from cnnbench.experiment import EVAL_BATCH_SIZE
from cnnbench.records import RunConfig

SAMPLES = 2000


def _first_epoch(framework, mnist, **settings):
    config = RunConfig(filters=8, epochs=1, train_subset=SAMPLES, impl="native", device="cpu")
    chosen = {**profiles.chosen("native", "default", framework, "cpu"), **settings}
    trainer = native.make_trainer(
        config, framework, mnist, profiles.check("native", framework, chosen), EVAL_BATCH_SIZE
    )
    orders = native.epoch_orders(SAMPLES, 1, config.seed)
    history, _ = native.fit(trainer, orders, config.steps, EVAL_BATCH_SIZE)
    assert trainer.device == "cpu" and trainer.params == 52258
    return history["loss"][0], history["val_accuracy"][0]


@pytest.mark.slow
@pytest.mark.any_backend  # trains all three frameworks at once: one pass is enough
def test_three_frameworks_trace_the_same_first_epoch(mnist):
    results = {framework: _first_epoch(framework, mnist) for framework in BACKENDS}
    losses = [loss for loss, _ in results.values()]
    accuracies = [accuracy for _, accuracy in results.values()]
    assert max(losses) - min(losses) < 2e-3, results
    assert max(accuracies) - min(accuracies) < 0.02, results


@pytest.mark.slow
@pytest.mark.any_backend  # native trainers need no Keras backend
@pytest.mark.parametrize(
    "framework, settings",
    [
        ("jax", {"pool": "window"}),
        ("jax", {"conv": "im2col"}),
        ("jax", {"loop": "scan"}),
        ("torch", {"layout": "nchw"}),
    ],
)
def test_settings_change_the_speed_not_the_result(mnist, framework, settings):
    plain_loss, plain_accuracy = _first_epoch(framework, mnist)
    loss, accuracy = _first_epoch(framework, mnist, **settings)
    assert loss == pytest.approx(plain_loss, abs=3e-3)  # other kernels, other roundings
    assert accuracy == pytest.approx(plain_accuracy, abs=0.01)
