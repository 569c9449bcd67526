"""The regression gate: three verdicts, and thresholds that cannot pass by accident."""

import json
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from cnnbench.report import cli
from cnnbench.report.compare import Verdict

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


def test_identical_runs_are_within_noise(tmp_path):
    code, text = _compare(JAX, JAX, "--fail-above", "5", tmp_path=tmp_path)
    assert code == 0 and "within noise" in text and "slower" not in text


def test_a_clear_slowdown_is_slower_and_fails_the_gate(tmp_path):
    code, text = _compare(_scaled(tmp_path, 2.0), JAX, "--fail-above", "10", tmp_path=tmp_path)
    assert code == 1 and "slower" in text and "regression:" in text


def test_overlapping_rounds_are_noise_even_when_the_median_grew(tmp_path):
    # Two rounds scaled by 1.0 and 1.5 against the original two: ranges overlap.
    doc = json.loads(JAX.read_text())
    for bench in doc["benchmarks"]:
        if bench["name"].endswith("-r1]"):
            for run in bench["extra_info"]["runs"]:
                run["runtime_s"] *= 3.0
    new = tmp_path / "new.json"
    new.write_text(json.dumps(doc))
    code, text = _compare(new, JAX, "--fail-above", "1", tmp_path=tmp_path)
    assert "within noise" in text and code == 0


def test_one_round_says_the_noise_is_unknown(tmp_path):
    new = _scaled(tmp_path, 1.5, rounds=[0])
    code, text = _compare(new, JAX, "--fail-above", "10", tmp_path=tmp_path)
    assert "noise unknown (one round)" in text
    assert code == 1  # nothing shows the growth is noise: the gate stays shut


@pytest.mark.parametrize("pct", ["nan", "-5", "inf"])
def test_fail_above_must_be_a_finite_pct(tmp_path, pct, capsys):
    code, _ = _compare(JAX, JAX, "--fail-above", pct, tmp_path=tmp_path)
    assert code == 2 and "expected a finite PCT >= 0" in capsys.readouterr().err


def test_the_noise_rule_at_its_edges():
    base = pd.Series([10.0, 10.5, 11.0])

    def judge(new, threshold=5.0):
        return Verdict("cell", base, pd.Series(new)).judge(threshold)

    assert judge([11.1, 11.2, 11.3]) == "slower"  # +6.7%, every new round above every base
    assert judge([11.0, 11.2, 11.3]) == "within noise"  # one round touches the base's max
    assert judge([11.1, 11.2, 11.3], threshold=10.0) == "within noise"  # +6.7% < 10%
    assert judge([9.0, 9.4, 9.9]) == "faster"  # -10.5%, every new round below every base
    assert judge([9.0, 9.4, 10.0]) == "within noise"  # one round touches the base's min
    assert judge([9.0, 10.3, 10.4], threshold=5.0) == "within noise"  # -1.9%: overlap aside


def test_a_clear_speed_up_is_faster_and_passes_the_gate(tmp_path):
    code, text = _compare(_scaled(tmp_path, 0.5), JAX, "--fail-above", "10", tmp_path=tmp_path)
    assert code == 0 and "faster" in text and "regression:" not in text
