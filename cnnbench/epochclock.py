"""What else happened during an epoch, read beside its wall clock: a slow epoch tells why.

    clock = EpochClock(); clock.start(); ...; clock.stop()   # one epoch
    clock.history()  # {"epoch_cpu_seconds": [...], "epoch_steal_seconds": [...], ...}

Three counters, each a difference over the epoch: this process's CPU seconds (all its
threads; `time.process_time`), and from the kernel's `/proc/stat`, summed over the
machine's CPUs, the seconds the hypervisor gave to another guest (`steal`) and the
seconds any CPU was busy (`busy`: user, nice, system, irq, softirq). An epoch at half
speed whose CPU seconds stay put waited (stolen, or a sibling busy: see steal and what
`busy` holds beyond this process); one whose CPU seconds doubled did more work (spinning
threads). Where `/proc/stat` is missing (not Linux) the machine's two are null.
"""

from __future__ import annotations

import math
import os
import time

KEYS = ("epoch_cpu_seconds", "epoch_steal_seconds", "epoch_busy_seconds")
_STAT = "/proc/stat"
_BUSY = (0, 1, 2, 5, 6)  # user nice system [idle iowait] irq softirq
_STEAL = 7


def machine_seconds(path: str = _STAT) -> tuple[float, float]:
    """(steal, busy) seconds since boot over every CPU, or NaNs where the kernel says none."""
    try:
        with open(path) as stat:
            fields = stat.readline().split()
        ticks = [int(v) for v in fields[1:]]
        hz = os.sysconf("SC_CLK_TCK")
        steal = ticks[_STEAL] if len(ticks) > _STEAL else 0
        return steal / hz, sum(ticks[i] for i in _BUSY) / hz
    except (OSError, ValueError, IndexError):
        return math.nan, math.nan


def _now() -> tuple[float, float, float]:
    return (time.process_time(), *machine_seconds())


class EpochClock:
    """Counts per epoch, one value per `stop`, in the order of `KEYS`."""

    def __init__(self) -> None:
        self.values: list[tuple[float, float, float]] = []
        self._start = (0.0, 0.0, 0.0)

    def start(self) -> None:
        self._start = _now()

    def stop(self) -> None:
        self.values.append(tuple(b - a for a, b in zip(self._start, _now(), strict=True)))

    def history(self) -> dict[str, list[float]]:
        def value(v: float) -> float | None:
            return None if math.isnan(v) else v

        return {key: [value(v[i]) for v in self.values] for i, key in enumerate(KEYS)}
