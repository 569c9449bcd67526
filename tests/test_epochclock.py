"""The epoch clock tells an epoch that waited from one that worked."""

import math
import time

import pytest

from cnnbench import epochclock
from cnnbench.epochclock import EpochClock


def test_machine_seconds_reads_steal_and_busy_from_the_kernels_counters(tmp_path, monkeypatch):
    monkeypatch.setattr(epochclock.os, "sysconf", lambda name: 100)
    stat = tmp_path / "stat"
    # cpu  user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  1000 10 200 5000 40 3 7 250 0 0\ncpu0 500 5 100 2500 20 1 3 125 0 0\n")
    steal, busy = epochclock.machine_seconds(str(stat))
    assert steal == 2.5  # 250 ticks at 100 a second
    assert busy == pytest.approx(12.2)  # user nice system irq softirq: idle and iowait are not busy


def test_without_the_kernels_counters_the_machines_seconds_are_null(tmp_path):
    steal, busy = epochclock.machine_seconds(str(tmp_path / "missing"))
    assert math.isnan(steal) and math.isnan(busy)
    clock = EpochClock()
    clock.values.append((1.0, steal, busy))
    assert clock.history() == {
        "epoch_cpu_seconds": [1.0],
        "epoch_steal_seconds": [None],
        "epoch_busy_seconds": [None],
    }


def test_an_epoch_that_waits_spends_no_cpu_and_one_that_works_spends_its_wall_time():
    clock = EpochClock()
    clock.start()
    time.sleep(0.3)
    clock.stop()
    clock.start()
    began, used = time.perf_counter(), time.process_time()
    while time.perf_counter() - began < 0.3:
        pass
    used = time.process_time() - used
    clock.stop()
    cpu = clock.history()["epoch_cpu_seconds"]
    assert cpu[0] < 0.05
    # a busy loop spends what the process spent, however much a busy machine let it have
    # (under contention that is less than its wall time)
    assert used > 0.05 and abs(cpu[1] - used) < 0.03, (cpu, used)
