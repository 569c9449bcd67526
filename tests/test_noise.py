"""The hypervisor's steal beside a block's runs: how much it took, how closely the runs'
time follows it; a run without a usable reading left out."""

import math

import pandas as pd
import pytest

from cnnbench.report.noise import clock_columns, steal_lines, stolen


def _runs(steals, base=100.0, cpus=2):
    """One arm's runs, each slower than `base` by exactly what was stolen from it."""
    rows = []
    for i, steal in enumerate(steals):
        runtime = base + steal / cpus  # the stolen CPU-seconds, spread over its CPUs
        rows.append({"block": "b1", "cold": False, "arm": "torch:native", "twin": 0,
                     "filters": 16, "runtime_s": runtime, "steal_s": steal, "cpu_count": cpus,
                     "seed": i})  # fmt: skip
    return pd.DataFrame(rows)


def test_runs_that_lost_their_time_to_the_hypervisor_are_said_to():
    data = _runs([0.0, 2.0, 30.0, 4.0, 60.0, 1.0])
    (line,) = steal_lines(data)
    runs = stolen(data)
    share = runs["share"] * 100
    assert f"a median {share.median():.1f}%" in line and f"up to {share.max():.1f}%" in line
    r = float(line.split("r = ")[1])
    assert r > 0.95  # slower exactly where more was stolen


def test_a_block_whose_time_does_not_follow_the_steal_says_so():
    data = _runs([0.0] * 6)
    data["steal_s"] = [10.0, 0.0, 10.0, 0.0, 10.0, 0.0]
    data["runtime_s"] = [100.0, 100.0, 100.0, 130.0, 100.0, 70.0]
    (line,) = steal_lines(data)
    assert abs(float(line.split("r = ")[1])) < 0.5
    assert steal_lines(data.assign(steal_s=None)) == []  # recorded before the clock


@pytest.mark.parametrize(
    "values, expected",
    [([1.0, 2.5], 3.5), ([1.0], None), ([1.0, math.nan], None), ([1.0, -1.0], None),
     (["1", 2.0], None), ([True, 1.0], None), (None, None)],
)  # fmt: skip
def test_a_runs_clock_is_summed_only_when_it_is_one_number_an_epoch(values, expected):
    history = {} if values is None else {"epoch_steal_seconds": values}
    assert clock_columns({"epochs": 2, "history": history})["steal_s"] == expected
