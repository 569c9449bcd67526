"""The benchmark suite in its short form, so the benchmark path cannot rot.

Runs `pytest benchmarks/` in a subprocess with the backend under test (8 filters, one
epoch, a 5000-image subset), checks what the JSON and the results file carry, then
cuts the results file as a killed sweep leaves it and checks `--resume`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnbench import results

ROOT = Path(__file__).resolve().parents[1]
SHORT = ["--epochs", "1", "--train-subset", "5000", "--device", "cpu"]
RUN_KEYS = {
    "backend",
    "device",
    "filters",
    "params",
    "history",
    "val_accuracy",
    "test_error",
    "runtime_s",
    "first_epoch_s",
    "steady_epoch_s",
    "samples_per_s",
    "versions",
}


def _bench(backend, tmp_path, *args):
    env = {**os.environ, "KERAS_BACKEND": backend}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "benchmarks"),
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(ROOT),
        *SHORT,
        *args,
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path, timeout=900)


@pytest.mark.slow
def test_short_sweep_writes_json_and_resumes(backend, tmp_path):
    out, jsonl = tmp_path / "out.json", tmp_path / "results.jsonl"
    done = _bench(
        backend,
        tmp_path,
        "--filters",
        "4,8",
        "--lrs",
        "0.1,0.0001",
        "--benchmark-json",
        str(out),
        "--results",
        str(jsonl),
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "[1/4]" in done.stdout and "epoch 1/1" in done.stdout  # progress past capture

    report = json.loads(out.read_text())
    assert report["machine_info"]["cnnbench"]["backend"] == backend
    assert report["machine_info"]["cnnbench"]["cpu_count"] == os.cpu_count()
    names = sorted(b["name"] for b in report["benchmarks"])
    assert names == [
        "test_filters[4-keras-default]",
        "test_filters[8-keras-default]",
        "test_learning_rate[keras-default-0.0001]",
        "test_learning_rate[keras-default-0.1]",
    ]
    for bench in report["benchmarks"]:
        (run,) = bench["extra_info"]["runs"]
        assert RUN_KEYS <= set(run)
        assert run["device"] == "cpu" and run["train_samples"] == 5000
        assert bench["stats"]["rounds"] == 1 and bench["stats"]["median"] >= run["runtime_s"]
        assert bench["extra_info"]["floor"]
        assert run["peak_gflops"] > 0 and run["peak_host_mb"] > 0
    assert {b["extra_info"]["runs"][0]["params"] for b in report["benchmarks"]} == {
        26694,
        52258,
        104250,  # 4 filters: 40 + 148 + 25216 + 1290; 8 and 16: the report's
    }

    # A sweep killed while writing its third run: two whole lines and a torn one.
    lines = jsonl.read_text().splitlines()
    assert len(lines) == 4
    jsonl.write_text("\n".join(lines[:2]) + "\n" + lines[2][: len(lines[2]) // 2])
    finished = [r["benchmark"] for r in results.read(jsonl, allow_torn_tail=True)]

    again = _bench(
        backend,
        tmp_path,
        "--filters",
        "4,8",
        "--lrs",
        "0.1,0.0001",
        "--results",
        str(jsonl),
        "--resume",
        "-rs",
    )
    assert again.returncode == 0, again.stdout[-3000:]
    assert "2 passed, 2 skipped" in again.stdout and "--resume: 1 finished run(s)" in again.stdout
    redone = [r["benchmark"] for r in results.read(jsonl, allow_torn_tail=True)]
    assert redone[:2] == finished and len(redone) == 4  # nothing redone, nothing lost
    assert sorted(redone) == sorted(r["benchmark"] for r in map(json.loads, lines))


def test_bad_options_fail_at_start(backend, tmp_path):
    done = _bench(backend, tmp_path, "--filters", "8,x")
    assert done.returncode == 4
    assert "--filters '8,x': expected comma-separated numbers" in done.stderr


@pytest.mark.slow
def test_a_library_warning_does_not_discard_a_measurement(backend, tmp_path):
    # pyproject turns warnings into errors for the unit tests; on a newer stack a
    # library warns during training (Keras on torch under numpy 2.5, every step), and
    # that must be reported, not fail the run. The plugin plants one in every test.
    (tmp_path / "plant_warning.py").write_text(
        "import warnings\n"
        "import pytest\n\n"
        "@pytest.fixture(autouse=True)\n"
        "def plant():\n"
        "    warnings.warn('planted deprecation', DeprecationWarning)\n"
        "    yield\n"
    )
    results_path = tmp_path / "results.jsonl"  # never the default, the checkout's reports/
    done = _bench(
        backend,
        tmp_path,
        *("-p", "plant_warning", "--filters", "8", "-k", "test_filters"),
        *("--results", str(results_path)),
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 passed" in done.stdout and "planted deprecation" in done.stdout
    assert len(results_path.read_text().splitlines()) == 1  # the run was recorded
