"""The regression gate on the statistics module: intervals, paired within a block, the
drift between sessions otherwise; an A/A comparison of the project's own records calls
nothing, a real slowdown fails the gate."""

import json
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from cnnbench import stats
from cnnbench.report import cli
from cnnbench.report.compare import Change

FIXTURES = Path(__file__).parent / "fixtures"
JAX = FIXTURES / "jax-cpu.json"


def _scaled(tmp_path: Path, factor: float, rounds=None, name="new.json") -> Path:
    """The fixture with every runtime multiplied by factor (and only some rounds kept)."""
    doc = json.loads(JAX.read_text())
    if rounds is not None:
        doc["benchmarks"] = [
            b for b in doc["benchmarks"] if any(b["name"].endswith(f"-r{r}]") for r in rounds)
        ]
    for bench in doc["benchmarks"]:
        for run in bench["extra_info"]["runs"]:
            run["runtime_s"] *= factor
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _compare(new, base, *extra, tmp_path):
    console = Console(record=True, width=200, color_system=None)
    argv = [str(new), "--out", str(tmp_path / "out"), "--compare", str(base), *map(str, extra)]
    return cli.main(argv, console=console), console.export_text()


def test_identical_runs_find_no_change(tmp_path):
    code, text = _compare(JAX, JAX, "--fail-above", "5", tmp_path=tmp_path)
    assert code == 0 and "no change found" in text and "slower" not in text
    assert "separate sessions" in text


def test_a_clear_slowdown_is_slower_and_fails_the_gate(tmp_path):
    code, text = _compare(_scaled(tmp_path, 2.0), JAX, "--fail-above", "10", tmp_path=tmp_path)
    assert code == 1 and "slower" in text and "regression:" in text


def test_a_wide_interval_is_no_change_even_when_the_median_grew(tmp_path):
    doc = json.loads(JAX.read_text())
    for bench in doc["benchmarks"]:
        if bench["name"].endswith("-r1]"):
            for run in bench["extra_info"]["runs"]:
                run["runtime_s"] *= 3.0
    new = tmp_path / "new.json"
    new.write_text(json.dumps(doc))
    code, text = _compare(new, JAX, "--fail-above", "1", tmp_path=tmp_path)
    assert "no change found" in text and code == 0


def test_one_round_each_says_the_noise_is_unknown_and_gates_the_point(tmp_path):
    new = _scaled(tmp_path, 1.5, rounds=[0])
    base = _scaled(tmp_path, 1.0, rounds=[0], name="base.json")
    code, text = _compare(new, base, "--fail-above", "10", "--drift", "0", tmp_path=tmp_path)
    assert "noise unknown (one round)" in text
    assert code == 1  # nothing shows the growth is noise: the gate stays shut


def test_a_one_round_side_borrows_the_other_sides_spread():
    ratio = stats.apart([50.0], [40.0, 41.0, 39.0], 0.0)
    assert ratio.known and ratio.low > 1.1  # not the point alone, not a zero spread
    wide = stats.apart([50.0], [30.0, 41.0, 52.0], 0.0)
    assert wide.holds(1.0)


@pytest.mark.parametrize("pct", ["nan", "-5", "inf"])
def test_fail_above_must_be_a_finite_pct(tmp_path, pct, capsys):
    code, _ = _compare(JAX, JAX, "--fail-above", pct, tmp_path=tmp_path)
    assert code == 2 and "expected a finite PCT >= 0" in capsys.readouterr().err


@pytest.mark.parametrize("pct", ["nan", "-1", "inf"])
def test_drift_must_be_a_finite_pct(tmp_path, pct, capsys):
    code, _ = _compare(JAX, JAX, "--drift", pct, tmp_path=tmp_path)
    assert code == 2 and "--drift" in capsys.readouterr().err


def test_the_gate_reads_the_interval_not_the_point():
    base = pd.DataFrame({"runtime_s": [10.0]})

    def gate(low, value, high, threshold=5.0):
        change = Change("cell", base, base, stats.Ratio(value, low, high, 4, 0.01), False)
        return change.regressed(threshold), change.judge()

    assert gate(1.06, 1.10, 1.14) == (True, "slower")  # surely above 5%
    assert gate(1.04, 1.10, 1.16) == (False, "slower")  # grew, but maybe by under 5%
    assert gate(0.97, 1.10, 1.24) == (False, "no change found (±24%)")
    assert gate(0.80, 0.85, 0.90) == (False, "faster")


def test_a_clear_speed_up_is_faster_and_passes_the_gate(tmp_path):
    code, text = _compare(_scaled(tmp_path, 0.5), JAX, "--fail-above", "10", tmp_path=tmp_path)
    assert code == 0 and "faster" in text and "regression:" not in text


ROOT = Path(__file__).parent.parent
SIDE = ROOT / "reports" / "side-by-side"
RUNS = ROOT / "reports" / "runs"


def test_an_aa_of_the_projects_own_records_calls_nothing(tmp_path):
    """The side-by-side sweeps re-timed published cells with the same code in a later,
    slower session: against the published drift, no cell is a regression."""
    code, text = _compare(SIDE, RUNS, "--fail-above", "10", tmp_path=tmp_path)
    assert code == 0 and "regression:" not in text, text
    assert "cannot be told from the drift between sessions" in text


def test_a_one_cell_slowdown_of_half_is_called_against_the_drift(tmp_path):
    slowed = tmp_path / "slowed.jsonl"
    lines = (SIDE / "cpu-side-torch.jsonl").read_text().splitlines()
    out = []
    for line in lines:
        record = json.loads(line)
        result = record["result"]
        if result.get("impl") == "native" and not record.get("warmup"):
            result["runtime_s"] *= 1.5
            result["history"]["epoch_seconds"] = [
                s * 1.5 for s in result["history"]["epoch_seconds"]
            ]
        out.append(json.dumps(record))
    slowed.write_text("\n".join(out) + "\n")
    code, text = _compare(slowed, RUNS, "--fail-above", "10", tmp_path=tmp_path)
    assert code == 1 and text.count("regression:") == 1 and "native" in text


def test_blocks_of_other_widths_are_refused_in_one_line(tmp_path, capsys):
    code, _ = _compare(_scaled(tmp_path, 1.0), SIDE / "cpu-side-torch.jsonl", tmp_path=tmp_path)
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no cell is on both sides" in err


def test_two_sides_of_one_block_are_compared_paired(tmp_path):
    from test_block import Machine as FakeMachine
    from test_block import _block, _run

    path = tmp_path / "block.jsonl"
    _run(_block(), path, FakeMachine(drift=0.3))
    code, text = _compare(path, path, "--fail-above", "5", tmp_path=tmp_path)
    assert code == 0 and "paired (one block)" in text and "separate sessions" not in text
