"""Results a sweep could lose: another machine's rounds taken for this one's, a shard
killed by a signal read as a success, a zero option dropped on its way to the shards,
two names of one file, a Keras version that would split a table."""

import json
import os

import pytest

from cnnbench import engine, request, results, sweep_cli
from cnnbench.driver import Driver
from cnnbench.errors import UsageError
from cnnbench.files import same_file
from cnnbench.report.frame import keras_of


def _record(cpu: str, runtime=10.0) -> dict:
    machine = {"cpu_model": cpu, "cpu_count": 2, "gpu": None}
    result = {"backend": "torch", "device": "cpu", "filters": 8, "seed": 0, "runtime_s": runtime}
    return {"benchmark": "test_filters[8-native-r0]", "round": 0, "machine": machine,
            "result": result}


def test_another_machines_round_is_not_this_machines(tmp_path):
    path = tmp_path / "sweep.jsonl"
    results.append(path, _record("Other CPU"))
    driver = Driver(path, write=lambda line: None)
    assert driver.take(_record("This CPU"))  # the same round elsewhere: appended
    assert not driver.take(_record("This CPU", runtime=11.0))  # this machine's, twice: not
    assert len(results.read(path)) == 2


@pytest.mark.parametrize("code, status", [(0, 0), (1, 1), (-9, 137), (-15, 143)])
def test_a_shard_killed_by_a_signal_is_a_failure(code, status):
    assert engine.exit_status(code) == status


def test_a_zero_option_reaches_the_shards_as_given():
    args = sweep_cli.sweep_parser().parse_args(
        ["--engine", "ray", "--epochs", "0", "--train-subset", "0"]
    )
    given = sweep_cli.forwarded(args, [])
    assert ["--epochs", "0"] == given[given.index("--epochs") : given.index("--epochs") + 2]
    assert "--train-subset" in given


@pytest.mark.parametrize(
    "argv, message",
    [(["--epochs", "0"], "epochs must be >= 1"), (["--train-subset", "0"], "train subset")],
)
def test_a_zero_option_is_refused_before_ray_starts(argv, message):
    with pytest.raises(UsageError, match=message):
        sweep_cli.sweep(["--engine", "ray", *argv])


def test_check_runs_names_the_problem():
    values = {"seed": 0, "rounds": 3, "epochs": 0, "train_subset": None, "precision": "fp32"}
    with pytest.raises(ValueError, match="epochs must be >= 1, got 0"):
        request.check_runs(values)
    request.check_runs({**values, "epochs": 1})


def test_two_names_of_one_file_are_one_file(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_text("")
    os.link(a, b)
    assert same_file(a, b) and same_file(a, tmp_path / "." / "a")
    assert not same_file(a, c)  # c does not exist yet: another file
    c.write_text("")
    assert not same_file(a, c)


def test_a_keras_version_with_control_characters_is_shown_plain():
    assert keras_of({"versions": {"keras": "3.15.1\n| x |\x1b[31m"}}) == "3.15.1 | x | [31m"
    assert keras_of({"versions": {}}) == "unrecorded"



def test_another_keras_or_device_is_another_round(tmp_path):
    path = tmp_path / "sweep.jsonl"
    driver = Driver(path, write=lambda line: None)
    first = _record("This CPU")
    first["result"]["versions"] = {"keras": "3.15.1"}
    newer = _record("This CPU")
    newer["result"]["versions"] = {"keras": "3.16.0"}
    gpu = _record("This CPU")
    gpu["result"]["device"] = "H100"
    assert driver.take(first) and driver.take(newer) and driver.take(gpu)
    assert len(results.read(path)) == 3


class _Cluster:
    """A fake Ray module: what `cluster_resources()` answers is all devices() reads."""

    def __init__(self, **resources):
        self.resources = resources

    def cluster_resources(self):
        return dict(self.resources)


def test_devices_counts_gpus_for_a_gpu_plan_and_hosts_for_a_cpu_one():
    cluster = _Cluster(GPU=4.0, CPU=64.0, **{engine.HOST_RESOURCE: 2.0})
    assert engine.devices(cluster, "gpu") == 4
    assert engine.devices(cluster, "cpu") == 2  # one shard a host, not one a core


@pytest.mark.parametrize(
    "kind, resources, message",
    [
        ("gpu", {"CPU": 64.0}, "the Ray cluster has no GPU"),
        ("cpu", {"CPU": 64.0}, f"no node offering the {engine.HOST_RESOURCE} resource"),
    ],
)
def test_a_cluster_without_the_devices_is_one_line(kind, resources, message):
    with pytest.raises(engine.EngineError, match=message) as err:
        engine.devices(_Cluster(**resources), kind)
    assert "\n" not in str(err.value)


def test_a_shards_half_written_last_line_waits_for_its_end(tmp_path):
    """The shard's file is read while its pytest writes: a line without its newline yet is
    left for the next read, never parsed half (or lost)."""
    from cnnbench.engine import _new_lines

    path = tmp_path / "shard.jsonl"
    whole, half = json.dumps({"round": 0}) + "\n", json.dumps({"round": 1})
    path.write_text(whole + half[:7])
    lines, offset = _new_lines(path, 0)
    assert lines == [{"round": 0}] and offset == len(whole)
    with open(path, "a") as f:
        f.write(half[7:] + "\n")
    lines, offset = _new_lines(path, offset)
    assert lines == [{"round": 1}] and offset == path.stat().st_size
    assert _new_lines(tmp_path / "not-yet.jsonl", 0) == ([], 0)


def test_a_sweep_whose_shard_was_killed_names_it_and_fails(monkeypatch, tmp_path):
    from pathlib import Path

    from rich.console import Console

    class FakeRay:
        def cluster_resources(self):
            return {engine.HOST_RESOURCE: 2}

    monkeypatch.setattr(engine, "connect", lambda address: FakeRay())
    monkeypatch.setattr(engine, "run", lambda ray, shards, driver, on_event: {1: 137, 2: 0})
    console = Console(record=True, width=200, color_system=None)
    suite = str(Path(__file__).resolve().parents[1] / "benchmarks")
    argv = ["--engine", "ray", "--filters", "8", "--epochs", "1", "--suite", suite,
            "--plan-backends", "jax", "--results", str(tmp_path / "r.jsonl")]
    assert sweep_cli.sweep(argv, console=console) == 1
    text = console.export_text()
    assert "shard 1/2 ended with exit status 137 (killed by signal 9)" in text
    assert "shard 2/2 ended" not in text
