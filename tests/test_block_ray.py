"""A block on Ray: replicates, one block each, streamed to one writer; what each replicate
is given and resumes from; their ratios combined, never their seconds; the engine's
options refused in one line before anything starts. One real replicated block on a local
Ray (slow)."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from cnnbench import block_ray, results
from cnnbench.driver import Driver
from cnnbench.plan import ShardError
from cnnbench.report.replicates import combined, lines


def test_a_replicate_gets_the_block_s_own_options_and_not_the_engine_s():
    argv = ["torch:native", "--engine", "ray", "--address=h:6379", "--replicates", "2",
            "--results", "x.jsonl", "--resume", "--rounds", "3", "--aa", "torch:native"]
    items = block_ray.replicates(2, argv, "cpu")
    assert [item.label for item in items] == ["replicate 1/2", "replicate 2/2"]
    ((what, command),) = items[1].commands("/tmp/r2.jsonl")
    assert what == "block" and command[1:4] == ["-m", "cnnbench", "block"]
    assert command[4:] == ["torch:native", "--rounds", "3", "--aa", "torch:native",
                           "--replicate", "2/2", "--results", "/tmp/r2.jsonl", "--resume"]


def test_a_replicate_resumes_from_its_own_runs_alone():
    on_file = [{"block": {"id": "a", "replicate": "1/2"}},
               {"block": {"id": "b", "replicate": "2/2"}},
               {"benchmark": "test_filters[8-native-r0]"}]
    first, second = block_ray.replicates(2, [], "cpu")
    assert first.seed(on_file) == on_file[:1] and second.seed(on_file) == on_file[1:2]


@pytest.mark.parametrize("text", ["", "0/2", "3/2", "a/b", "²/2", "1/100000", "1" * 3000])
def test_a_replicate_that_names_no_replicate_is_one_short_line(text):
    with pytest.raises(ShardError, match="--replicate") as err:
        block_ray.parse_replicate(text)
    assert len(str(err.value)) < 150


def test_the_writer_keeps_two_replicates_runs_of_one_name_apart(tmp_path):
    machine = {"cpu_model": "Fake CPU", "cpu_count": 2}
    run = {"benchmark": "block[8-torch:native-r0]", "machine": machine,
           "result": {"backend": "torch", "seed": 0}}
    driver = Driver(tmp_path / "b.jsonl", write=lambda line: None)
    one, two = ({**run, "block": {"id": name}} for name in ("d-1", "d-2"))
    assert driver.take(one) and driver.take(two)  # same cell, same machine class: two blocks
    assert not driver.take(json.loads(json.dumps(one)))  # the same block's round: once
    assert len(results.read(tmp_path / "b.jsonl")) == 2


def _frame(blocks, seconds, twin_factor=1.0, rng=None):
    """Blocks' warm runs: arm -> its base seconds; each block its machine's own speed."""
    rng = rng or np.random.default_rng(0)
    rows = []
    for block, speed in blocks.items():
        for seed in range(6):
            for (arm, twin), base in seconds.items():
                factor = speed * np.exp(rng.normal(0, 0.02)) * (twin_factor if twin else 1.0)
                rows.append({"block": block, "cold": False, "machine": "Fake CPU ×2",
                             "filters": 16, "arm": arm, "twin": twin, "seed": seed,
                             "runtime_s": base * factor})
    return pd.DataFrame(rows)


ARMS = {("torch:native", 0): 40.0, ("jax:native", 0): 44.0, ("torch:native", 1): 40.0}


def test_replicates_combine_their_ratios_never_their_seconds():
    data = _frame({"abc-1": 1.0, "abc-2": 1.6, "abc-3": 0.7, "other-1": 1.0}, ARMS)
    (c,) = combined(data)
    assert c.blocks == ["abc-1", "abc-2", "abc-3"] and c.reference == "torch:native"
    ((arm, r),) = c.arms
    assert arm == "jax:native" and r.replicates == 3
    assert r.ratio.low < 1.10 < r.ratio.high and r.ratio.high / r.ratio.low < 1.05
    assert c.aa is not None and c.aa.ratio.holds(1.0)
    text = "\n".join(lines(data))
    assert "on 3 Fake CPU ×2 blocks" in text and "jax:native: 1.10x" in text


def test_a_twin_that_disagrees_on_every_machine_is_disturbed():
    data = _frame({"abc-1": 1.0, "abc-2": 1.3}, ARMS, twin_factor=1.2)
    assert "DISTURBED" in "\n".join(lines(data))


def test_one_block_alone_is_no_replicate_set():
    assert combined(_frame({"abc-1": 1.0}, ARMS)) == []


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--replicates", "2"], "--replicates: only with --engine ray"),
        (["--address", "h:1"], "--address: only with --engine ray"),
        (["--engine", "ray", "--address", ""], "--address '': names no cluster"),
        (["--engine", "ray", "--replicates", "0"], "--replicates must be in 1..1000"),
        (["--engine", "ray", "--replicate", "1/2"], "--replicate is --engine ray's own"),
        (["--replicate", "3/2"], "--replicate '3/2': expected 1 <= K <= N"),
        (["--engine", "spark"], "invalid choice: 'spark'"),
    ],
)
def test_the_engine_s_options_are_refused_before_anything_starts(tmp_path, capsys, extra,
                                                                 message):
    from cnnbench.cli import main

    argv = ["block", "torch:native", "--results", str(tmp_path / "b.jsonl"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not list(tmp_path.iterdir())


def test_another_commit_s_arm_is_refused_on_ray(tmp_path, capsys):
    from cnnbench.cli import main

    argv = ["block", "torch:native", "torch:native#HEAD", "--engine", "ray",
            "--results", str(tmp_path / "b.jsonl")]
    assert main(argv) == 2 and "time it with the local engine" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.any_backend  # the block's arms name their backends; the driver imports none
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
def test_two_replicates_on_a_local_ray_are_two_blocks_combined(tmp_path, capsys):
    pytest.importorskip("ray") if not os.environ.get("CNNBENCH_EXPECT_INSTALLED") else None
    from cnnbench.cli import main

    path = tmp_path / "b.jsonl"
    argv = ["block", "jax:native", "--aa", "jax:native", "--filters", "8",
            "--rounds", "2", "--epochs", "1", "--train-subset", "1000", "--engine", "ray",
            "--replicates", "2", "--results", str(path)]
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    records = [r for r in results.read(path) if not r.get("warmup")]
    blocks = {r["block"]["replicate"]: r["block"]["id"] for r in records}
    assert sorted(blocks) == ["1/2", "2/2"] and len(set(blocks.values())) == 2
    assert len(records) == 8  # 2 replicates x 2 rounds x the arm and its twin, each once
    assert "replicates of" in out and "noise floor (A/A, jax:native)" in out


def test_the_report_has_a_table_of_the_combined_ratios():
    from cnnbench.report.replicates import replicate_tables

    (table,) = replicate_tables(_frame({"abc-1": 1.0, "abc-2": 1.6}, ARMS))
    assert table.name == "blocks" and "Replicates of abc · 2 Fake CPU ×2 blocks" in table.title
    assert [row.label for row in table.rows][0] == "torch:native"
    assert table.rows[1].cells[0].short.startswith("1.10x")
