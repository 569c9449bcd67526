"""The plan on a real local Ray: two shards of tiny runs, one worker killed mid-shard, and
the results file holding each planned run exactly once; the report reads it as one sweep.
Also what the engine refuses, in one line, before anything trains."""

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest
from rich.console import Console

from cnnbench import engine, results
from cnnbench.driver import Driver
from cnnbench.sweep_cli import sweep

if os.environ.get("CNNBENCH_EXPECT_INSTALLED"):  # CI installs the ray extra: never skip
    import ray  # noqa: F401
else:
    pytest.importorskip("ray")

SUITE = ["--suite", str(Path(__file__).resolve().parents[1] / "benchmarks")]
TINY = ["--filters", "8", "--epochs", "1", "--train-subset", "5000", "--rounds", "1"]  # every floor
TINY += ["--impl", "keras,native", "--profile", "default", "--lrs", "0.1,0.01", "--device", "cpu"]


@pytest.mark.slow
# Earlier tests of this process imported JAX, which warns when Ray forks its daemons; the
# sweep command's own driver never imports a backend.
@pytest.mark.any_backend
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
def test_a_killed_worker_s_shard_is_resumed_and_every_run_is_on_file_once(backend, tmp_path):
    path = tmp_path / "sweep.jsonl"
    killed, workers = [], {}

    def kill_once(shard, event):
        if event["event"] == "started":
            workers[shard.k] = event["pid"]
        if event["event"] == "record" and not event["record"].get("warmup"):
            if shard.k == 1 and not killed:  # its first timed run is on file: kill its worker
                killed.append(event["record"]["benchmark"])
                os.kill(workers[1], signal.SIGKILL)

    console = Console(record=True, width=200, color_system=None)
    argv = ["--engine", "ray", "--shards", "2", "--plan-backends", backend, *TINY, *SUITE]
    code = sweep([*argv, "--results", str(path)], console=console, on_event=kill_once)
    text = console.export_text()
    assert code == 0, text[-3000:]
    assert killed and "shard 1/2 lost" in text and "starting it again" in text
    runs = [r for r in results.read(path) if not r.get("warmup")]
    names = sorted(r["benchmark"] for r in runs)
    assert names == sorted(
        [
            "test_filters[8-keras-default-r0]",
            "test_filters[8-native-r0]",
            "test_learning_rate[keras-default-0.1-r0]",  # no 16-filter twin in this sweep
            "test_learning_rate[keras-default-0.01-r0]",
        ]
    )
    assert {r["sweep"] for r in runs} == {runs[0]["sweep"]}  # one plan
    assert {r["shard"] for r in runs} == {"1/2", "2/2"}

    from cnnbench.report.frame import frame
    from cnnbench.report.headline import timed_apart
    from cnnbench.report.read import load

    data = frame(load([str(tmp_path)]).runs)
    assert len(data) == 4 and data["sweep"].nunique() == 1 and not timed_apart(data)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_that_does_not_answer_is_one_line_within_a_minute(tmp_path, capsys):
    from cnnbench.cli import main

    start = time.monotonic()
    address = f"127.0.0.1:{_closed_port()}"
    code = main(["sweep", "--engine", "ray", "--address", address, *TINY, *SUITE])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no Ray cluster answers" in err, err
    assert time.monotonic() - start < 60


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--engine", "spark"], "invalid choice: 'spark'"),
        (["--engine", "ray", "--shards", "0"], "--shards must be in 1..10000"),
        (["--engine", "ray", "--filters", "8,8"], "8 given twice"),
        (["--engine", "ray", "--address", "nowhere", *SUITE], "expected HOST:PORT"),
        (["--engine", "ray", "--suite", "/tmp"], "--suite /tmp: not the benchmark suite"),
    ],
)
def test_bad_engine_options_are_one_line(argv, message, capsys):
    from cnnbench.cli import main

    assert main(["sweep", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_the_driver_keeps_each_round_once(tmp_path):
    driver = Driver(tmp_path / "r.jsonl", write=lambda line: None)
    record = {"benchmark": "test_filters[8-native-r0]", "result": {"backend": "jax", "seed": 0}}
    assert driver.take(record) and not driver.take(json.loads(json.dumps(record)))
    assert driver.take({**record, "warmup": True}) and driver.take({**record, "warmup": True})
    again = Driver(tmp_path / "r.jsonl", write=lambda line: None)  # a new driver
    assert not again.take(record)
    assert len(results.read(tmp_path / "r.jsonl")) == 3


def test_the_timed_process_gets_the_driver_s_threads_not_ray_s(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what Ray puts in its workers
    shard = engine.Shard(1, 1, ("jax",), (), "benchmarks", "cpu", (("OMP_NUM_THREADS", None),))
    assert "OMP_NUM_THREADS" not in shard.environment("jax")
    mine = engine.Shard(1, 1, ("jax",), (), "benchmarks", "cpu", (("OMP_NUM_THREADS", "2"),))
    assert mine.environment("torch")["OMP_NUM_THREADS"] == "2"
    assert mine.environment("torch")["KERAS_BACKEND"] == "torch"

