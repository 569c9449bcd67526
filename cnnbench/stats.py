"""The statistics every comparison reads: one cell key, intervals, and what a comparison
could not have seen.

    from cnnbench import stats
    ratio = stats.paired(new_seconds, base_seconds)   # two arms of one block, by round
    print(ratio.text())                               # "1.06x [1.02, 1.10]"
    stats.rounds_for(0.05, ratio.spread)              # rounds a 5% change needs

- **Two arms of one block** (`paired`): each round's ratio of the two arms' times, which
  cancels whatever the machine did in that round (both arms ran minutes apart); the
  interval is Student's t on the mean log ratio, exponentiated: a ratio is
  multiplicative, the log makes it additive and symmetric, and with the 4-12 rounds a
  block affords the t interval keeps its coverage where a percentile bootstrap's falls
  short (the bootstrap needs tens of rounds before its tails mean anything).
- **One arm** (`spread_of`): the median of its rounds, with the t interval of its mean
  log time: for log-normal noise the two estimate the same centre.
- **The smallest effect a comparison could see** (`detectable`): the change that a
  two-sided test at 5% finds four times in five at these rounds and this spread, from
  the noncentral t (exact for normal log ratios); `rounds_for` inverts it.
- **Separate sessions** (`apart`): nothing pairs them, so the interval carries the
  between-session drift (`drift`: the widest log change of one cell between two sessions
  of the same code on file), which more rounds never shrink.

`CELL_KEYS` is what one cell is; every table, verdict and compare groups by it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy import stats as sp

# one table row; `keras`: the Keras version the run's environment had (two never pool)
ROW_KEYS = ("kind", "machine", "backend", "path", "precision", "keras")
LENGTH_KEYS = ("epochs", "train_samples", "batch_size")
CELL_KEYS = (*ROW_KEYS, *LENGTH_KEYS, "learning_rate", "filters")  # one cell
LEVEL = 0.95  # every interval's confidence
POWER = 0.80  # what "detectable" means: found four times in five
MIN_ROUNDS = 2  # an interval needs two rounds


@dataclass(frozen=True)
class Ratio:
    """A ratio (first over second) with its 95% interval; `low`/`high` None below two
    rounds. `spread`: the standard deviation of the log ratios (None below two)."""

    value: float
    low: float | None
    high: float | None
    rounds: int
    spread: float | None

    @property
    def known(self) -> bool:
        return self.low is not None

    def holds(self, x: float = 1.0) -> bool:
        """Whether the interval holds `x` (an unknown interval holds everything)."""
        return not self.known or self.low <= x <= self.high

    def above(self, bound: float) -> bool:
        """A gate's rule: the whole interval lies above `bound`; with no interval (one
        round: nothing shows the growth is noise) the point does."""
        return (self.low if self.known else self.value) > bound

    @property
    def detectable(self) -> float | None:
        """The smallest change (a fraction: 0.05 is 5%) these rounds could see."""
        return detectable(self.rounds, self.spread) if self.known else None

    def text(self, digits: int = 2) -> str:
        if not self.known:
            return f"{self.value:.{digits}f}x (one round, no interval)"
        return f"{self.value:.{digits}f}x [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    @property
    def half_pct(self) -> float | None:
        """How far the interval reaches from 1, in %: what a "no difference" could hide."""
        return max(1 - self.low, self.high - 1) * 100 if self.known else None

    def verdict(self) -> str:
        """'no difference found (±N%)' where the interval holds 1, else the ratio."""
        if self.known and self.holds(1.0):
            return f"no difference found (±{self.half_pct:.0f}%)"
        return self.text()


def gate(fail_above: float) -> float:
    """The bound a gate sets on a ratio from `--fail-above PCT` (1 + PCT/100); ValueError,
    naming the option, unless PCT is finite and >= 0. Both gates read it (compare, block)."""
    if not (math.isfinite(fail_above) and fail_above >= 0):
        raise ValueError(f"--fail-above {fail_above}: expected a finite PCT >= 0")
    return 1 + fail_above / 100


def _t(rounds: int) -> float:
    return float(sp.t.ppf(0.5 + LEVEL / 2, rounds - 1))


def _interval(logs: np.ndarray) -> Ratio:
    n = len(logs)
    centre = float(np.mean(logs))
    if n < MIN_ROUNDS:
        return Ratio(math.exp(centre), None, None, n, None)
    spread = float(np.std(logs, ddof=1))
    half = _t(n) * spread / math.sqrt(n)
    return Ratio(math.exp(centre), math.exp(centre - half), math.exp(centre + half), n, spread)


def _logs(values: Sequence[float], what: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        raise ValueError(f"{what}: no values")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(f"{what}: every value must be a finite time > 0")
    return np.log(array)


def paired(first: Sequence[float], second: Sequence[float]) -> Ratio:
    """first / second, round by round (same length, same order): the geometric mean of the
    per-round ratios and its t interval."""
    if len(first) != len(second):
        raise ValueError(f"paired: {len(first)} rounds against {len(second)}")
    return _interval(_logs(first, "paired") - _logs(second, "paired"))


@dataclass(frozen=True)
class Spread:
    """One arm's rounds: the median and the interval of its centre."""

    median: float
    low: float | None
    high: float | None
    rounds: int

    def text(self, digits: int = 1) -> str:
        if self.low is None:
            return f"{self.median:.{digits}f}"
        return f"{self.median:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def spread_of(values: Sequence[float]) -> Spread:
    logs = _logs(values, "spread_of")
    centre = _interval(logs)
    return Spread(float(np.median(values)), centre.low, centre.high, len(logs))


def _power(rounds: int, effect: float, spread: float) -> float:
    """Probability that a two-sided t test at 1 - LEVEL finds a log effect `effect`."""
    df = rounds - 1
    crit = _t(rounds)
    shift = math.sqrt(rounds) * effect / spread
    wrong_way = sp.nct.cdf(-crit, df, shift)  # scipy gives NaN where it underflows
    return float(sp.nct.sf(crit, df, shift) + np.nan_to_num(wrong_way, nan=0.0))


def detectable(rounds: int, spread: float | None) -> float | None:
    """The smallest change (fraction) found with POWER at `rounds` rounds whose log
    ratios have standard deviation `spread`; None below two rounds or without a spread."""
    if spread is None or rounds < MIN_ROUNDS or not math.isfinite(spread):
        return None
    if spread == 0:
        return 0.0
    # twice the shift a test needs to pass its critical value with room for POWER
    top = 2 * (_t(rounds) + 4) * spread / math.sqrt(rounds)
    log_effect = optimize.brentq(lambda e: _power(rounds, e, spread) - POWER, 0.0, top)
    return math.expm1(log_effect)


MAX_ROUNDS = 1000  # past this, a wanted effect is below the machine's noise in practice


def rounds_for(effect: float, spread: float) -> int | None:
    """The fewest rounds at which a change of `effect` (fraction) is found with POWER,
    given a spread of log ratios; None if more than MAX_ROUNDS would be needed."""
    if not effect > 0:
        raise ValueError(f"the effect to detect must be > 0, got {effect}")
    target = math.log1p(effect)
    for rounds in range(MIN_ROUNDS, MAX_ROUNDS + 1):
        if _power(rounds, target, spread) >= POWER:
            return rounds
    return None


def drift(changes: Sequence[float]) -> float | None:
    """The between-session drift: the widest log change of one cell between two sessions
    of the same code (each a ratio of the cell's two session medians), None under two.
    The widest, not a standard deviation: a whole session runs slower or faster, so the
    cells of two sessions move together and are no sample of independent draws."""
    if len(changes) < MIN_ROUNDS:
        return None
    return float(np.max(np.abs(_logs(changes, "drift"))))


def apart(new: Sequence[float], base: Sequence[float], drift_spread: float) -> Ratio:
    """new / base for runs of separate sessions: the ratio of geometric means, with an
    interval as wide as the between-session drift (`drift`, on the log scale) on each side,
    plus the rounds' own 95% interval (normal on the log scale)."""
    logs_new, logs_base = _logs(new, "apart"), _logs(base, "apart")
    centre = float(np.mean(logs_new) - np.mean(logs_base))
    spreads = [float(np.var(x, ddof=1)) for x in (logs_new, logs_base) if len(x) >= MIN_ROUNDS]
    if not spreads and not drift_spread:
        return Ratio(math.exp(centre), None, None, 1, None)  # nothing shows the noise
    # a one-round side borrows the other side's round-to-round variance
    per_round = max(spreads) if spreads else 0.0
    half = drift_spread + normal_half(math.sqrt(per_round / len(logs_new)
                                                + per_round / len(logs_base)))
    rounds = min(len(logs_new), len(logs_base))
    return Ratio(math.exp(centre), math.exp(centre - half), math.exp(centre + half), rounds, None)


def mean_interval(values: Sequence[float]) -> tuple[float, float | None, float | None]:
    """An additive quantity's mean over rounds (a share in %, say) and its 95% t interval;
    no interval below two rounds."""
    array = np.asarray(values, dtype=float)
    mean = float(np.mean(array))
    if len(array) < MIN_ROUNDS:
        return mean, None, None
    half = _t(len(array)) * float(np.std(array, ddof=1)) / math.sqrt(len(array))
    return mean, mean - half, mean + half


def normal_half(spread: float) -> float:
    """The half-width of a normal 95% interval of this standard deviation (log scale)."""
    return float(sp.norm.ppf(0.5 + LEVEL / 2)) * spread


@dataclass(frozen=True)
class Replicated:
    """A ratio over replicate blocks (one per machine of one class): `ratio` with its
    interval, `replicates` blocks, and `agree`: the p-value that the machines share one
    ratio (None for one block)."""

    ratio: Ratio
    replicates: int
    agree: float | None

    @property
    def apart(self) -> bool:
        """Whether the machines' ratios differ (the interval is then between machines)."""
        return self.agree is not None and self.agree < 1 - LEVEL


def replicated(blocks: Sequence[tuple[Sequence[float], Sequence[float]]]) -> Replicated:
    """first / second over replicate blocks, each (first's rounds, second's rounds) paired
    by round. Ratios pool, seconds never do: each block's per-round log ratios, which
    cancel its own machine's speed. Where a one-way analysis of variance finds no
    difference between the blocks (p >= 0.05), their log ratios are one sample (the
    paired t interval over every round); where it finds one, the interval is Student's t
    over the blocks' mean log ratios, one value a machine, so it is as wide as the
    machines differ (a random-effects mean, exact for equal rounds)."""
    if not blocks:
        raise ValueError("replicated: no block")
    if any(len(a) != len(b) for a, b in blocks):
        raise ValueError("replicated: a block's two arms have different rounds")
    logs = [_logs(a, "replicated") - _logs(b, "replicated") for a, b in blocks]
    if len(logs) == 1:
        return Replicated(_interval(logs[0]), 1, None)
    pooled = np.concatenate(logs)
    if any(len(x) < MIN_ROUNDS for x in logs) or np.all(pooled == pooled[0]):
        agree = None  # no within-block spread to set the blocks' differences against
    else:
        agree = float(sp.f_oneway(*logs).pvalue)
    if agree is None or agree >= 1 - LEVEL:
        return Replicated(_interval(pooled), len(logs), agree)
    between = _interval(np.array([float(np.mean(x)) for x in logs]))  # a value a machine
    return Replicated(between, len(logs), agree)
