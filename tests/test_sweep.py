"""The sweep's bookkeeping in-process: rounds and seeds, resume at round granularity, what
counts as a failed run, the estimate; and the results file under two writers."""

import json
import multiprocessing
from pathlib import Path

import pytest

from cnnbench import profiles, results
from cnnbench.plan import Planned
from cnnbench.records import KEY_FIELDS, RunConfig, variants
from cnnbench.sweep import Sweep, settings_match

VERSIONS = {"python": "3.11", "keras": "3.15.1", "jax": "0.10.2"}
MACHINE = {"versions": VERSIONS, "cpu_model": "test cpu", "cpu_count": 2, "gpu": None}


def _sweep(tmp_path, **overrides) -> Sweep:
    fields = dict(
        backend="jax",
        device="cpu",
        device_name="cpu",
        machine=MACHINE,
        results_path=tmp_path / "r.jsonl",
        precision="fp32",
        epochs=10,
        train_subset=None,
        seed=7,
        rounds=3,
        resume=True,
        variants=variants(["keras", "native"], ["default", "tuned"]),
        write=lambda line: None,
    )
    return Sweep(**{**fields, **overrides})


def _result(config: RunConfig, **overrides) -> dict:
    """A finished run of `config` as the results file keeps it."""
    history = {
        "loss": [0.1] * config.epochs,
        "accuracy": [0.99] * config.epochs,
        "val_loss": [0.05] * config.epochs,
        "val_accuracy": [0.99] * config.epochs,
        "epoch_seconds": [1.0] * config.epochs,
    }
    chosen = profiles.chosen(config.impl, config.profile, "jax", "cpu")
    settings = profiles.check(config.impl, "jax", chosen)
    result = {
        "backend": "jax",
        "device": "cpu",
        "filters": config.filters,
        "params": {8: 52258, 16: 104250}[config.filters],
        "epochs": config.epochs,
        "batch_size": 50,
        "learning_rate": config.learning_rate,
        "seed": config.seed,
        "train_samples": config.train_samples,
        "history": history,
        "val_accuracy": 0.99,
        "test_error": 0.01,
        "runtime_s": 10.0 * config.epochs,
        "impl": config.impl,
        "profile": config.recorded_profile,
        "precision": "fp32",
        "settings": settings,
        "versions": VERSIONS,
    }
    return {**result, **overrides}


def test_variants_give_native_once():
    assert variants(["keras", "native"], ["default", "tuned"]) == [
        ("keras", "default"),
        ("keras", "tuned"),
        ("native", None),
    ]


def test_round_i_trains_with_seed_plus_i(tmp_path):
    sweep = _sweep(tmp_path)
    seeds = [sweep.config(("native", None), 8, 0.1, r).seed for r in range(3)]
    assert seeds == [7, 8, 9]
    assert sweep.config(("keras", "tuned"), 8, 0.1, 0).profile == "tuned"


def test_resume_finds_exactly_the_round_on_file(tmp_path):
    sweep = _sweep(tmp_path)
    name = "test_filters[8-native-r0]"
    config = sweep.config(("native", None), 8, 0.1, 0)
    sweep.record(name, 0, _result(config))
    sweep.record("warmup", 0, _result(config), warmup=True)
    fresh = _sweep(tmp_path)  # a new session reads the file
    assert fresh.on_file(name, config)["seed"] == 7
    assert (
        fresh.on_file("test_filters[8-native-r1]", fresh.config(("native", None), 8, 0.1, 1))
        is None
    )
    assert _sweep(tmp_path, resume=False).on_file(name, config) is None
    # A round run under other settings (an earlier native choice) is not this run.
    other = tmp_path / "other.jsonl"
    results.append(
        other,
        {
            "benchmark": name,
            "round": 0,
            "machine": MACHINE,
            "result": _result(config, settings={"loop": "scan", "pool": "window", "conv": "xla"}),
        },
    )
    assert _sweep(tmp_path, results_path=other).on_file(name, config) is None


# A value of each key field that differs from what the session asks for.
OTHER = {
    "backend": "torch",
    "device": "NVIDIA H100",
    "filters": 16,
    "epochs": 3,
    "batch_size": 100,
    "learning_rate": 0.01,
    "seed": 99,
    "train_samples": 5000,
    "versions": {**VERSIONS, "keras": "3.16.0.dev"},
    "impl": "keras",
    "profile": "tuned",
    "precision": "bf16",
}


@pytest.mark.parametrize("key", KEY_FIELDS)
def test_resume_never_takes_a_run_that_differs_in_any_key_field(tmp_path, key):
    assert set(OTHER) == set(KEY_FIELDS)  # a new key field needs its value here
    sweep = _sweep(tmp_path)
    name = "test_filters[8-native-r0]"
    config = sweep.config(("native", None), 8, 0.1, 0)
    record = {"benchmark": name, "round": 0, "machine": MACHINE, "result": _result(config)}
    results.append(sweep.results_path, record)
    assert _sweep(tmp_path).on_file(name, config) is not None
    record["result"] = _result(config, **{key: OTHER[key]})
    other = tmp_path / "other.jsonl"
    results.append(other, record)
    assert _sweep(tmp_path, results_path=other).on_file(name, config) is None


@pytest.mark.parametrize(
    "change",
    [
        {"machine": {**MACHINE, "cpu_model": "another cpu"}},
        {"machine": {**MACHINE, "cpu_count": 64}},
        {"machine": {**MACHINE, "gpu": "NVIDIA H100"}},
        {"machine": None},
        {"candidate": True},
        {"warmup": True},
        {"result": {"runtime_s": float("nan")}},
        {"result": {"runtime_s": 10**400}},
        {"result": {"params": 1}},
        {"result": {"val_accuracy": 0.5}},
        {"result": {"filters": None}},
    ],
)
def test_resume_counts_only_a_valid_run_of_this_machine(tmp_path, change):
    sweep = _sweep(tmp_path)
    name = "test_filters[8-native-r0]"
    config = sweep.config(("native", None), 8, 0.1, 0)
    record = {"benchmark": name, "round": 0, "machine": MACHINE, "result": _result(config)}
    results.append(sweep.results_path, record)
    assert _sweep(tmp_path).on_file(name, config) is not None
    changed = {**record, **change}
    if "result" in change:
        changed["result"] = _result(config, **change["result"])
    other = tmp_path / "other.jsonl"
    results.append(other, changed)
    assert _sweep(tmp_path, results_path=other).on_file(name, config) is None


def test_a_warmup_on_file_is_never_a_finished_run(tmp_path):
    sweep = _sweep(tmp_path)
    config = sweep.config(("native", None), 8, 0.1, 0)
    sweep.record("test_filters[8-native-r0]", 0, _result(config), warmup=True)
    assert _sweep(tmp_path).on_file("test_filters[8-native-r0]", config) is None


def test_settings_match_is_a_subset_test():
    assert settings_match({"loop": "scan"}, {"loop": "scan", "threads": 2})
    assert not settings_match({"loop": "scan"}, {"loop": "step"})
    assert not settings_match({"loop": "scan"}, {})


@pytest.mark.parametrize(
    "overrides, problem",
    [
        ({"device": "NVIDIA H100"}, "ran on 'NVIDIA H100', labelled 'cpu'"),
        ({"precision": "bf16"}, "computed in bf16, asked for fp32"),
        ({"params": 1}, "8 filters: 1 parameters, expected 52258"),
        ({"val_accuracy": 0.5}, "validation accuracy 0.5000 < 0.98"),
    ],
)
def test_problems_name_what_is_wrong(tmp_path, overrides, problem):
    sweep = _sweep(tmp_path)
    config = sweep.config(("native", None), 8, 0.1, 0)
    assert sweep.problems(_result(config)) == []
    found = sweep.problems(_result(config, **overrides))
    assert any(problem in p for p in found), found


def test_warmups_are_short_one_per_path_and_width_to_do_widest_first(tmp_path):
    sweep = _sweep(tmp_path)
    todo = [
        Planned("jax", "test_filters", ("keras", "default"), 16, 0.1, 0),
        Planned("jax", "test_filters", ("native", None), 64, 0.1, 0),
        Planned("jax", "test_filters", ("keras", "default"), 64, 0.1, 0),
        Planned("jax", "test_filters", ("keras", "default"), 16, 0.1, 1),
    ]
    configs = sweep.warmup_configs(todo)
    assert [(c.filters, c.impl, c.profile) for c in configs] == [
        (64, "native", "default"),
        (64, "keras", "default"),
        (16, "keras", "default"),  # native has nothing left to do at 16
    ]
    assert all(c.epochs == 2 and c.train_subset == 1000 for c in configs)


def _write_lines(path: str, tag: str, count: int) -> None:
    for i in range(count):
        results.append(Path(path), {"benchmark": f"{tag}{i}", "result": {"pad": "x" * 500}})


def test_two_writers_lose_no_line(tmp_path):
    path = tmp_path / "shared.jsonl"
    writers = [
        multiprocessing.get_context("spawn").Process(target=_write_lines, args=(str(path), t, 300))
        for t in ("a", "b")
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    names = [json.loads(line)["benchmark"] for line in path.read_text().splitlines()]
    assert sorted(names) == sorted([f"a{i}" for i in range(300)] + [f"b{i}" for i in range(300)])
