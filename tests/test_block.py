"""A block with fake workers (no training): the order, the records' ids, resume, a dead
worker, the A/A arm and the intervals; the arms' parsing and the command's bad input."""

import dataclasses
import math
from collections import Counter

import numpy as np
import pytest

from cnnbench import results
from cnnbench.analytic import param_count, train_flops_per_sample
from cnnbench.block import Arm, Block, BlockError, aa_arms, parse_arm
from cnnbench.records import RunResult
from cnnbench.report.blocks import summaries
from cnnbench.report.frame import frame
from cnnbench.report.read import load
from cnnbench.runner import Runner
from cnnbench.worker import WorkerError

MACHINE = {"backend": "torch", "device": "cpu", "device_kind": "cpu", "cpu_model": "Fake CPU"}
MACHINE |= {"cpu_count": 2, "gpu": None, "gpu_driver": None, "host": "test"}
BASE = {"torch:native": 40.0, "torch:keras-default": 52.0, "jax:native": 60.0}  # seconds
BASE["torch:keras-default@3.16.0"] = 36.0  # a newer Keras, faster
BASE |= {"torch:keras-tuned": 48.0, "torch:keras-loop": 45.0}


class Machine:
    """What every worker shares: a drift per round (the session slowing), a clock."""

    def __init__(self, drift=0.25, cv=0.02, seed=0, slower=None):
        self.rng = np.random.default_rng(seed)
        self.factor = {r: math.exp(self.rng.normal(0, drift)) for r in range(100)}
        self.cv, self.slower = cv, slower or {}
        self.calls: list[tuple[str, int, bool]] = []  # (arm, seed, warm-up)


class FakeWorker:
    def __init__(self, arm: Arm, machine: Machine, die_at=None, interrupt_after=None):
        self.arm, self.machine = arm, machine
        self.die_at, self.interrupt_after = die_at, interrupt_after

    def start(self, cache):
        versions = {"python": "3.11", "keras": self.arm.keras or "3.15.1", "numpy": "2"}
        return {"ready": True, "machine": {**MACHINE, "versions": versions}, "startup_s": 3.0}

    def request(self, message):
        if message["op"] == "peak":
            return {"peak": 100.0}
        config = message["config"]
        warmup = config["epochs"] == 1
        m = self.machine
        if not warmup and self.die_at == config["seed"]:
            raise WorkerError("its process ended (exit status -9)")
        m.calls.append((self.arm.name, config["seed"], warmup))
        timed = [c for c in m.calls if not c[2]]
        if self.interrupt_after is not None and len(timed) > self.interrupt_after:
            raise KeyboardInterrupt
        seconds = BASE[self.arm.base] * m.factor[config["seed"]] * m.slower.get(self.arm.name, 1)
        seconds *= math.exp(m.rng.normal(0, m.cv))
        return {"result": fake_result(self.arm, config, seconds)}

    def close(self, kill=False):
        pass


def fake_result(arm: Arm, config: dict, seconds: float) -> dict:
    epochs, filters = config["epochs"], config["filters"]
    samples = config["train_subset"] or 55000
    history = {
        "loss": [0.3] * epochs,
        "accuracy": [0.95] * epochs,
        "val_loss": [0.05] * epochs,
        "val_accuracy": [0.99] * epochs,
        "epoch_seconds": [seconds / epochs] * epochs,
    }
    impl, profile = arm.variant
    return RunResult(
        backend=arm.backend,
        device="cpu",
        filters=filters,
        params=param_count(filters),
        epochs=epochs,
        batch_size=config["batch_size"],
        learning_rate=config["learning_rate"],
        seed=config["seed"],
        train_samples=samples,
        history=history,
        val_accuracy=0.99,
        val_loss=0.05,
        test_accuracy=0.99,
        test_error=0.01,
        runtime_s=seconds,
        first_epoch_s=seconds / epochs,
        steady_epoch_s=seconds / epochs,
        samples_per_s=samples * epochs / seconds,
        flops_per_sample=train_flops_per_sample(filters),
        versions={"python": "3.11", "keras": arm.keras or "3.15.1", "numpy": "2"},
        impl=impl,
        profile=None if impl != "keras" else profile,
        precision="fp32",
    ).to_dict()


ARMS = (parse_arm("torch:native"), parse_arm("torch:keras-default"), parse_arm("jax:native"))


def _block(rounds=6, **kw):
    return Block(arms=aa_arms(ARMS, ARMS[0]), filters=(16,), rounds=rounds, **kw)


def _run(block, path, machine, resume=False, **worker):
    lines = []
    runner = Runner(
        block,
        path,
        lambda arm: FakeWorker(arm, machine, **worker.get(arm.name, {})),
        write=lines.append,
        resume=resume,
        commit="abc123",
    )
    return runner, runner.run(), lines


def test_every_unit_takes_every_place_once_a_cycle(tmp_path):
    block = Block(arms=ARMS, filters=(8, 16), rounds=12)
    orders = [block.order(r) for r in range(12)]
    units = set(block.units())
    assert all(set(order) == units and len(order) == len(units) for order in orders)
    cycle = orders[:6]  # 6 units: every place once per unit in rounds 0-5
    for place in range(6):
        assert {order[place] for order in cycle} == units
    first_pairs = Counter((o[0], o[1]) for o in orders[:6])
    second_pairs = Counter((o[0], o[1]) for o in orders[6:])
    assert first_pairs != second_pairs  # the next cycle reshuffles the neighbours
    assert block.order(3) == Block(arms=ARMS, filters=(8, 16), rounds=4).order(3)


def test_records_carry_block_arm_round_and_place(tmp_path):
    path = tmp_path / "b.jsonl"
    block = _block(rounds=3)
    runner, outcome, _ = _run(block, path, Machine())
    records = results.read(path)
    assert outcome.timed == len(records) == 12 and not outcome.dead
    for record in records:
        info = record["block"]
        assert info["id"] == runner.block_id and info["id"].startswith(block.digest)
        order = block.order(record["round"])
        unit = order[info["place"]]
        assert (unit.arm.base, unit.arm.twin) == (info["arm"], info["twin"])
        assert record["result"]["seed"] == record["round"]
        assert record["machine"]["commit"] == "abc123"


def test_a_killed_block_resumes_as_one_block_redoing_nothing(tmp_path):
    path = tmp_path / "b.jsonl"
    machine = Machine()
    with pytest.raises(KeyboardInterrupt):
        _run(_block(), path, machine, **{"jax:native": {"interrupt_after": 9}})
    first = results.read(path)
    assert 0 < len(first) < 24
    with pytest.raises(BlockError, match="--resume continues it"):
        Runner(_block(), path, lambda arm: None)
    runner, outcome, _ = _run(_block(), path, machine, resume=True)
    records = results.read(path)
    assert len(records) == 24 and outcome.timed == 24 - len(first)
    assert {r["block"]["id"] for r in records} == {first[0]["block"]["id"]}
    keys = [(r["block"]["arm"], r["block"]["twin"], r["round"]) for r in records]
    assert len(set(keys)) == 24  # every run once
    more, outcome, _ = _run(dataclasses.replace(_block(), rounds=8), path, machine, resume=True)
    assert outcome.timed == 8 and more.block_id == runner.block_id  # rounds may grow


def test_a_dead_worker_is_named_and_the_block_goes_on(tmp_path):
    path = tmp_path / "b.jsonl"
    _, outcome, lines = _run(_block(), path, Machine(), **{"jax:native": {"die_at": 2}})
    assert list(outcome.dead) == ["jax:native"] and "round 2" in outcome.dead["jax:native"]
    assert any("jax:native lost in round 2" in line for line in lines)
    records = results.read(path)
    assert len(records) == 24 - 4  # rounds 2-5 of the lost arm
    _, again, _ = _run(_block(), path, Machine(), resume=True)
    assert again.timed == 4 and len(results.read(path)) == 24


def test_intervals_and_the_aa_floor_from_a_drifting_machine(tmp_path):
    path = tmp_path / "b.jsonl"
    _run(_block(), path, Machine(drift=0.3))
    (summary,) = summaries(frame(load([str(path)]).runs))
    assert summary.fastest == "torch:native" and summary.aa_arm == "torch:native"
    assert summary.aa.holds(1.0) and not summary.disturbed
    keras = next(a for a in summary.arms if a.arm == "torch:keras-default")
    assert keras.to_native.holds(1.3) and keras.to_native.low > 1.2  # 52/40, despite drift
    assert keras.to_native.high - keras.to_native.low < 0.1
    jax = next(a for a in summary.arms if a.arm == "jax:native")
    assert jax.to_native is None and jax.to_fastest.holds(1.5)


def test_a_twin_that_disagrees_marks_the_block_disturbed(tmp_path):
    path = tmp_path / "b.jsonl"
    _run(_block(), path, Machine(slower={"torch:native (A/A twin)": 1.2}))
    (summary,) = summaries(frame(load([str(path)]).runs))
    assert summary.disturbed and summary.aa.low > 1.1


def test_cold_runs_come_first_and_stay_apart(tmp_path):
    path = tmp_path / "b.jsonl"
    machine = Machine()
    _run(_block(rounds=2, cold=True), path, machine)
    first = {}
    for name, seed, warmup in machine.calls:
        first.setdefault(name, (seed, warmup))
    assert all(call == (0, False) for call in first.values())  # the cold run, before warm-up
    data = frame(load([str(path)]).runs)
    assert data["cold"].sum() == 4 and (data.loc[data["cold"], "to_first_epoch_s"] > 3.0).all()
    (summary,) = summaries(data)
    assert all(a.spread.rounds == 2 for a in summary.arms)  # no cold run in a warm median


@pytest.mark.parametrize(
    "text, message",
    [
        ("tensorflw:native", "unknown backend"),
        ("torch:fit", "unknown path"),
        ("torch:native/fp16", "unknown precision"),
        ("torch:keras-default@", "none follows"),
        ("torch:keras-default@banana", "not a version"),
        ("torch:keras-default@2.15.0", "only Keras 3"),
        ("x" * 5000, "unknown backend"),
    ],
)
def test_bad_arms_are_named_in_one_short_line(text, message):
    with pytest.raises(BlockError, match=message) as err:
        parse_arm(text)
    assert len(str(err.value)) < 200 and "\n" not in str(err.value)


def test_an_arm_named_twice_is_refused():
    with pytest.raises(BlockError, match="named twice"):
        Block(arms=(ARMS[0], ARMS[0]), filters=(16,), rounds=2)


def test_arm_names_round_trip():
    for text in ("torch:native", "jax:keras-tuned@3.10.0/bf16", "tensorflow:keras-loop"):
        assert parse_arm(text).name == text


def test_the_command_refuses_bad_input_before_anything_starts(tmp_path, capsys):
    from cnnbench.cli import main

    cases = [
        ["block", "torch:nativ"],
        ["block", "torch:native", "--rounds", "0"],
        ["block", "torch:native", "--filters", "16,x"],
        ["block", "torch:native", "--epochs", "0"],
        ["block", "torch:native", "--detect", "five"],
        ["block", "torch:native", "--results", str(tmp_path)],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("cnnbench: error: ") and err.count("\n") == 1, (argv, err)
    assert not list(tmp_path.iterdir())


def test_the_plan_prints_the_order_and_runs_nothing(tmp_path, capsys):
    from cnnbench.cli import main

    path = tmp_path / "b.jsonl"
    argv = ["block", "torch:native", "jax:native", "--aa", "jax:native", "--rounds", "2"]
    assert main([*argv, "--plan", "--results", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("round ") == 2 and "6 runs to do, 0 on file" in out
    assert not path.exists()


def test_an_arm_whose_worker_has_no_room_stops_the_block_naming_it(tmp_path):
    runner = Runner(_block(), tmp_path / "b.jsonl", lambda arm: FakeWorker(arm, Machine()),
                    write=lambda line: None, free=lambda: 1.5)
    with pytest.raises(BlockError, match="arm torch:native: 1.5 GiB of memory free"):
        runner.run()
    assert not (tmp_path / "b.jsonl").exists()


def test_an_arm_whose_worker_has_another_keras_stops_the_block(tmp_path):
    class Older(FakeWorker):
        def start(self, cache):
            ready = super().start(cache)
            ready["machine"]["versions"]["keras"] = "3.15.1"
            return ready

    arms = (parse_arm("torch:native"), parse_arm("torch:keras-default@3.10.0"))
    block = Block(arms=arms, filters=(16,), rounds=2)
    runner = Runner(block, tmp_path / "b.jsonl", lambda arm: Older(arm, Machine()),
                    write=lambda line: None)
    with pytest.raises(BlockError, match="torch:keras-default@3.10.0: its worker has Keras 3.15.1"):
        runner.run()


def test_a_block_never_resumes_on_another_machine(tmp_path):
    path = tmp_path / "b.jsonl"
    _run(_block(rounds=1), path, Machine())

    class Elsewhere(FakeWorker):
        def start(self, cache):
            ready = super().start(cache)
            ready["machine"]["cpu_model"] = "Other CPU"
            return ready

    runner = Runner(dataclasses.replace(_block(), rounds=2), path,
                    lambda arm: Elsewhere(arm, Machine()), write=lambda line: None, resume=True)
    with pytest.raises(BlockError, match="timed on Fake CPU x2.*this is Other CPU x2"):
        runner.run()
    assert len(results.read(path)) == 4


def test_progress_says_how_long_is_left_once_every_arm_has_a_time(tmp_path):
    _, _, lines = _run(_block(rounds=2), tmp_path / "b.jsonl", Machine(drift=0, cv=0))
    runs = [line for line in lines if line.startswith("[")]
    assert "left" not in runs[0] and "left)" in runs[4]
    assert runs[4].endswith("(about 3 min left)")  # 40 + 52 + 60 + 40 s to go


def test_a_tunes_choices_reach_this_environments_arms_and_define_the_block():
    from cnnbench.block import Unit

    loop, older = parse_arm("torch:keras-loop"), parse_arm("torch:keras-loop@3.10.0")
    plain = Block(arms=(loop, older), filters=(16,), rounds=2)
    chosen = dataclasses.replace(plain, choices={"torch": {"keras-loop": {"loop": "compile"}}})
    assert chosen.config(Unit(loop, 16), 0).settings == {"loop": "compile"}
    assert chosen.config(Unit(older, 16), 0).settings is None  # another Keras: its own
    assert plain.config(Unit(loop, 16), 0).settings is None
    assert chosen.digest != plain.digest  # other settings, another experiment


@pytest.mark.parametrize(
    "value, message",
    [("torch", "expected BACKEND=TUNE.json"), ("caffe={good}", "expected BACKEND=TUNE.json"),
     ("torch={bad}", "--choices: keras-loop"), ("torch={missing}", "no such file")],
)
def test_bad_choices_stop_the_block_in_one_line(tmp_path, capsys, value, message):
    from cnnbench.cli import main

    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text('{"keras-loop": {"loop": "eager"}}')
    bad.write_text('{"keras-loop": {"loop": "warp"}}')
    value = value.format(good=good, bad=bad, missing=tmp_path / "none.json")
    argv = ["block", "torch:keras-loop", "--choices", value, "--results", str(tmp_path / "b.jsonl")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_gpu_session_times_its_block_first_with_the_loops_tune(tmp_path, monkeypatch):
    import importlib.util
    import sys
    from pathlib import Path

    where = Path(__file__).parent.parent / "benchmarks" / "gpu_session.py"
    spec = importlib.util.spec_from_file_location("gpu_session", where)
    gpu = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_session", gpu)  # its dataclasses look it up
    spec.loader.exec_module(gpu)
    names = [s.name for s in gpu.STAGES]
    assert names[:2] == ["tune-torch-loop", "block-16"]  # the block before any sweep stage
    session = gpu.Session(tmp_path, tmp_path, 100, "gpu", "full")
    stage = gpu.STAGES[1]
    command = session.command(stage)
    assert command[2:4] == ["cnnbench", "block"] and "--choices" not in command
    assert {"--aa", "--cold", "--resume"} <= set(command)
    session.choices("torch").write_text('{"keras-loop": {"loop": "compile-graphs"}}')
    assert f"torch={tmp_path / 'torch-choices.json'}" in session.command(stage)
    arms = [parse_arm(a) for a in command[4:] if ":" in a and not a.startswith("-")]
    assert {a.backend for a in arms} == {"jax", "torch"} and len(arms) == 6
