"""The placement's arithmetic on the published rates: a probe's steady epoch scaled to a full
one, its ratio to the published machine, each published cell predicted with an interval."""

import pytest

from cnnbench import place
from cnnbench.analytic import forward_flops_per_sample, train_flops_per_sample
from cnnbench.estimate import published


def test_a_probe_epoch_scales_to_a_full_one_by_flops():
    train, forward = train_flops_per_sample(8), forward_flops_per_sample(8)
    full = 55000 * train + 5000 * forward
    probe = 11000 * train + 5000 * forward
    assert place.full_epoch(2.0, 8, 11000) == pytest.approx(2.0 * full / probe)
    assert place.full_epoch(3.0, 8, 55000) == pytest.approx(3.0)  # a full epoch is itself


def _probe_like_published(backend, path, filters, factor):
    """A probe whose full epoch is `factor` times the published machine's."""
    rate = published()[(backend, "cpu", path, "fp32")][filters]
    return place.Probe(backend, path, filters, rate * 55000 * factor)


def test_a_machine_twice_as_slow_is_predicted_twice_as_slow_within_its_interval():
    probes = [
        _probe_like_published("tensorflow", path, f, 2.0)
        for path in ("keras default", "native")
        for f in place.PROBE_WIDTHS
    ]
    measured = place.ratios(probes, "cpu")
    assert list(measured.values()) == pytest.approx([2.0] * 4)
    cells = {("tensorflow", "native", 64): 140.0, ("tensorflow", "keras tuned", 16): 40.0}
    cells[("jax", "native", 8)] = 52.0  # no jax probe: no prediction
    predictions = {(p.backend, p.path, p.filters): p for p in place.predict(measured, cells)}
    assert set(predictions) == {("tensorflow", "native", 64), ("tensorflow", "keras tuned", 16)}
    native = predictions[("tensorflow", "native", 64)]
    assert native.predicted_s == pytest.approx(280.0)  # from the nearest probe (32 filters)
    assert native.low_s == pytest.approx(280.0 * 0.9) and native.high_s == pytest.approx(308.0)
    assert predictions[("tensorflow", "keras tuned", 16)].ratio == pytest.approx(2.0)
    assert place.standing(predictions.values()) == {"tensorflow": pytest.approx(2.0)}


def test_the_error_is_measured_against_full_length_runs():
    prediction = place.Prediction("torch", "native", 8, 27.0, 30.0, 25.0, 35.0, 1.1)
    assert place.error([prediction], {("torch", "native", 8): 25.0}) == [pytest.approx(0.2)]
    assert place.error([prediction], {}) == []
