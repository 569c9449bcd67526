"""The statistics module on simulated blocks whose truth is known: the false-alarm rate
of an A/A comparison, the power of a planted effect at the recommended rounds, the
coverage of the interval, and what pairing buys against a drifting machine."""

import math

import numpy as np
import pytest

from cnnbench import stats

TRIALS = 4000
CV = 0.05  # each arm's round-to-round noise, about what one session shows on this CPU


def _block(rng, rounds, effect=1.0, cv=CV, drift=0.0):
    """Two arms' times by round: a shared factor per round (the machine's drift) times
    each arm's own noise; the first arm takes `effect` times the second's time."""
    machine = np.exp(rng.normal(0, drift, rounds))
    first = 40.0 * effect * machine * np.exp(rng.normal(0, cv, rounds))
    second = 40.0 * machine * np.exp(rng.normal(0, cv, rounds))
    return first, second


def test_aa_false_alarms_at_most_five_percent():
    rng = np.random.default_rng(1)
    alarms = sum(not stats.paired(*_block(rng, 6)).holds(1.0) for _ in range(TRIALS))
    assert alarms / TRIALS <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / TRIALS)


def test_interval_covers_the_truth_near_95_percent():
    rng = np.random.default_rng(2)
    truth = 1.1
    covered = sum(stats.paired(*_block(rng, 5, effect=truth)).holds(truth) for _ in range(TRIALS))
    assert 0.93 <= covered / TRIALS <= 0.97


def test_a_planted_effect_is_found_at_the_recommended_rounds():
    spread = CV * math.sqrt(2)  # the log ratio of two arms with 5% noise each
    rounds = stats.rounds_for(0.10, spread)
    assert rounds == 7  # exact power of a t test for 10% at this spread
    rng = np.random.default_rng(3)
    found = sum(
        not stats.paired(*_block(rng, rounds, effect=1.10)).holds(1.0) for _ in range(TRIALS)
    )
    assert found / TRIALS >= 0.80
    fewer = sum(
        not stats.paired(*_block(rng, rounds - 2, effect=1.10)).holds(1.0) for _ in range(TRIALS)
    )
    assert fewer / TRIALS < 0.80  # and the recommendation is not padded


def test_pairing_cancels_the_machines_drift():
    """A 30% drift between rounds makes unpaired ratios useless; paired, it cancels."""
    rng = np.random.default_rng(4)
    first, second = _block(rng, 6, effect=1.10, drift=0.30)
    ratio = stats.paired(first, second)
    assert ratio.low > 1.0 and ratio.holds(1.10)
    unpaired = stats.paired(rng.permutation(first), second)
    assert unpaired.high - unpaired.low > 4 * (ratio.high - ratio.low)


def test_detectable_and_rounds_for_agree():
    spread = 0.04
    for rounds in (3, 6, 12):
        effect = stats.detectable(rounds, spread)
        assert stats.rounds_for(effect * 1.001, spread) == rounds
    assert stats.detectable(6, spread) < stats.detectable(3, spread)
    assert stats.detectable(1, spread) is None and stats.detectable(5, None) is None


def test_one_round_has_no_interval_and_says_so():
    ratio = stats.paired([41.0], [40.0])
    assert not ratio.known and ratio.holds(5.0)
    assert "no interval" in ratio.text()
    assert ratio.detectable is None


def test_verdict_names_the_interval_or_its_width():
    assert stats.paired([40, 41, 40.5], [40.2, 40.8, 40.4]).verdict().startswith(
        "no difference found (±"
    )
    clear = stats.paired([44, 45, 44.5, 44.2], [40, 41, 40.2, 40.1])
    assert clear.verdict() == clear.text() and clear.low > 1.0


def test_spread_of_one_arm_is_its_median_with_an_interval():
    s = stats.spread_of([10.0, 11.0, 30.0])  # a skewed round: median, not mean
    assert s.median == 11.0 and s.low < 11.0 < s.high
    assert stats.spread_of([10.0]).low is None


def test_apart_carries_the_drift_rounds_cannot_remove():
    many = [40.0 + 0.1 * i for i in range(30)]
    within = stats.apart(many, many, 0.0)
    across = stats.apart(many, many, 0.10)
    assert within.high < 1.02
    assert across.low < 0.90 and across.high > 1.10  # at least the drift on each side


def test_drift_is_the_widest_log_change():
    assert stats.drift([1.1]) is None
    assert stats.drift([1.1, 1 / 1.3, 1.05]) == pytest.approx(math.log(1.3))


@pytest.mark.parametrize(
    "values", [[], [1.0, 0.0], [1.0, -2.0], [1.0, float("nan")], [float("inf"), 1.0]]
)
def test_bad_values_are_refused_in_one_line(values):
    with pytest.raises(ValueError, match="value"):
        stats.spread_of(values)


def test_rounds_must_pair():
    with pytest.raises(ValueError, match="3 rounds against 2"):
        stats.paired([1, 2, 3], [1, 2])


def _replicates(rng, blocks, rounds, effect=1.0, machines=0.0):
    """Blocks on machines of one class: each machine its own ratio (log sd `machines`)
    and its own speed (which the ratios cancel)."""
    out = []
    for _ in range(blocks):
        own = effect * math.exp(rng.normal(0, machines))
        first, second = _block(rng, rounds, effect=own)
        speed = math.exp(rng.normal(0, 0.3))
        out.append((first * speed, second * speed))
    return out


def test_replicate_blocks_pool_their_ratios_and_keep_the_coverage():
    rng = np.random.default_rng(5)
    trials = 2000
    runs = [stats.replicated(_replicates(rng, 3, 6, effect=1.10)) for _ in range(trials)]
    covered = sum(r.ratio.holds(1.10) for r in runs) / trials
    assert 0.92 <= covered <= 0.97
    assert all(r.replicates == 3 for r in runs)
    aa = [stats.replicated(_replicates(rng, 3, 6)) for _ in range(trials)]
    assert sum(not r.ratio.holds(1.0) for r in aa) / trials <= 0.06  # an A/A arm, 3 machines
    one = stats.paired(*_block(rng, 18))  # three blocks of six: as narrow as 18 rounds
    assert np.median([r.ratio.high / r.ratio.low for r in aa]) < 1.2 * one.high / one.low


def test_machines_that_differ_widen_the_interval_to_the_machines():
    rng = np.random.default_rng(6)
    trials = 1000
    runs = [stats.replicated(_replicates(rng, 4, 6, effect=1.10, machines=0.10))
            for _ in range(trials)]
    pooled = [stats.paired(np.concatenate([a for a, _ in r]), np.concatenate([b for _, b in r]))
              for r in [_replicates(rng, 4, 6, effect=1.10, machines=0.10) for _ in range(trials)]]
    assert sum(r.ratio.holds(1.10) for r in runs) / trials >= 0.88
    assert sum(p.holds(1.10) for p in pooled) / trials < 0.80  # what pooling alone would say
    assert np.mean([r.apart for r in runs]) > 0.5


def test_one_replicate_is_its_block_and_bad_blocks_are_refused():
    first, second = [40.0, 41.0, 39.0], [38.0, 40.0, 37.0]
    only = stats.replicated([(first, second)])
    assert only.ratio == stats.paired(first, second) and only.agree is None
    with pytest.raises(ValueError, match="no block"):
        stats.replicated([])
    with pytest.raises(ValueError, match="different rounds"):
        stats.replicated([(first, second[:2]), (first, second)])
