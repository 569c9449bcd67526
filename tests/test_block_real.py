"""A tiny real block on the backend under test: two arms in their own worker processes,
trained on real MNIST (a few seconds each), recorded and summarised."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_a_tiny_block_trains_in_workers_and_records_its_rounds(tmp_path):
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    path = tmp_path / "b.jsonl"
    argv = [sys.executable, "-m", "cnnbench", "block", f"{backend}:native",
            f"{backend}:keras-default", "--aa", f"{backend}:native", "--filters", "8",
            "--rounds", "2", "--epochs", "1", "--train-subset", "3000", "--results", str(path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 6
    assert {(r["block"]["arm"], r["block"]["twin"]) for r in records} == {
        (f"{backend}:native", 0), (f"{backend}:keras-default", 0), (f"{backend}:native", 1)}
    assert all(r["result"]["backend"] == backend and r["machine"]["backend"] == backend
               for r in records)
    assert "noise floor (A/A)" in done.stdout and f"{backend}:keras-default" in done.stdout
    again = subprocess.run([*argv, "--resume"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "0 runs to do, 6 on file" in again.stdout
    assert len(path.read_text().splitlines()) == 6
