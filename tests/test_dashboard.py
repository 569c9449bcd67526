"""The published pytest-benchmark JSONs as a dashboard reads them (github-action-benchmark
and bencher read `fullname`, `stats.ops`, `stats.stddev`, `stats.mean`, `stats.rounds`):
one series per cell, its rounds with their real spread."""

import json
import re
import statistics
from pathlib import Path

import pytest

RUNS = Path(__file__).parent.parent / "reports" / "runs"
JSONS = sorted(p for p in RUNS.glob("*.json") if p.stat().st_size)


@pytest.mark.parametrize("path", JSONS, ids=[p.name for p in JSONS])
def test_one_series_per_cell_with_its_rounds_and_spread(path):
    benchmarks = json.loads(path.read_text())["benchmarks"]
    names = [b["fullname"] for b in benchmarks]
    assert len(names) == len(set(names)), f"{path.name}: a cell charted twice"
    for b in benchmarks:
        s, runs = b["stats"], b["extra_info"]["runs"]
        times = [r["runtime_s"] for r in runs]
        assert not re.search(r"-r\d+\]$", b["name"]), f"{b['name']}: a round's own entry"
        assert s["rounds"] == len(s["data"]) == len(times)
        assert s["mean"] == pytest.approx(statistics.mean(times))
        assert s["ops"] == pytest.approx(1 / s["mean"])
        if len(times) > 1:
            assert s["stddev"] == pytest.approx(statistics.stdev(times)) and s["stddev"] > 0
        seeds = [r["seed"] for r in runs]
        assert len(seeds) == len(set(seeds)), f"{b['name']}: a round twice in one series"


def test_every_published_json_is_checked():
    assert len(JSONS) >= 10
