"""A tiny real block on the backend under test: two arms in their own worker processes,
trained on real MNIST (a few seconds each), recorded and summarised."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.per_backend]


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


@pytest.mark.any_backend
def test_a_tiny_block_times_this_checkouts_last_commit_beside_its_code(tmp_path):
    """asv's `continuous` here: HEAD's code, exported, in its own worker, against the
    checkout's; the two arms' ratio paired and gated."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    head = subprocess.run(["git", "-C", checkout, "rev-parse", "HEAD"], capture_output=True,
                          text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    path = tmp_path / "b.jsonl"
    env = {**os.environ, "CNNBENCH_COMMITS": str(tmp_path / "commits")}
    argv = [sys.executable, "-m", "cnnbench", "block", f"{backend}:native",
            f"{backend}:native#HEAD", "--filters", "8", "--rounds", "2", "--epochs", "1",
            "--train-subset", "2000", "--results", str(path), "--fail-above", "1000"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=checkout,
                          env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    short = head.stdout.strip()[:12]
    assert (tmp_path / "commits" / short / "cnnbench" / "worker.py").exists()
    arms = {json.loads(line)["block"]["arm"] for line in path.read_text().splitlines()}
    assert arms == {f"{backend}:native", f"{backend}:native#{short}"}
    (line,) = [x for x in done.stdout.splitlines() if x.startswith(f"  {backend}:native#")]
    assert line.endswith(f"] {backend}:native")  # its paired ratio to this code's arm


@pytest.mark.any_backend
def test_a_tiny_block_times_another_keras_release_from_its_own_environment(tmp_path):
    """Issue #32's small block, for real: this environment's Keras and one other release,
    the other built once into its own cached environment (the package index is needed the
    first time), each arm's records saying which Keras trained it."""
    from cnnbench.envs import installed

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    other = "3.14.0" if installed() != "3.14.0" else "3.13.2"
    path = tmp_path / "b.jsonl"
    argv = [sys.executable, "-m", "cnnbench", "block", f"{backend}:keras-default", "--keras",
            other, "--filters", "8", "--rounds", "2", "--epochs", "1", "--train-subset", "5000",
            "--results", str(path), "--fail-above", "1000"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    records = [json.loads(line) for line in path.read_text().splitlines()]
    keras = {r["block"]["arm"]: {r["machine"]["versions"]["keras"]} for r in records}
    assert keras == {f"{backend}:keras-default": {installed()},
                     f"{backend}:keras-default@{other}": {other}}  # fmt: skip
    (line,) = [x for x in done.stdout.splitlines() if x.startswith(f"  {backend}:keras-default@")]
    assert line.endswith(f"] {backend}:keras-default")  # paired with this environment's Keras
