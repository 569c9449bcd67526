"""The benchmark suite end to end, in a subprocess with the backend under test: a short real
sweep with a simulated kill and `--resume`; the timed region with a fake trainer; options
that must stop a session before anything trains."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnbench import profiles, results

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
    "precision",
    "math",
    "settings",
}

FAKE_TRAINER = '''
"""Stands in for training: building and evaluating take longer than the timed fit."""
import time

from cnnbench import peak, train
from cnnbench.analytic import param_count
from cnnbench.records import Measured, RunResult

BUILD_S, FIT_S, FINISH_S = 0.5, 0.25, 0.4


class FakePrepared:
    def __init__(self, config, data=None, callbacks=()):
        time.sleep(BUILD_S)
        self.config = config

    def fit(self):
        time.sleep(FIT_S)
        epochs = self.config.epochs
        history = {k: [0.99] * epochs for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
        history["epoch_seconds"] = [FIT_S / epochs] * epochs
        return Measured(history, FIT_S, param_count(self.config.filters), "cpu", {})

    def finish(self, measured):
        time.sleep(FINISH_S)
        c = self.config
        return RunResult(
            backend="jax", device="cpu", filters=c.filters, params=measured.params,
            epochs=c.epochs, batch_size=c.batch_size, learning_rate=c.learning_rate,
            seed=c.seed, train_samples=c.train_samples, history=measured.history,
            val_accuracy=0.99, val_loss=0.05, test_accuracy=0.99, test_error=0.01,
            runtime_s=measured.runtime_s, first_epoch_s=FIT_S, steady_epoch_s=None,
            samples_per_s=None, flops_per_sample=1, impl=c.impl,
            profile=c.recorded_profile, precision=c.precision,
        )


def fake_run(config, data=None, callbacks=()):
    prepared = FakePrepared.__new__(FakePrepared)
    prepared.config = config
    return prepared.finish(prepared.fit())


train.prepare = FakePrepared
train.run = fake_run
peak.matmul_peak_gflops = lambda *args, **kwargs: 100.0
'''


def _bench(backend, tmp_path, *args, env=None):
    env = {**os.environ, "KERAS_BACKEND": backend, **(env or {})}
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


def _short_sweep(backend, tmp_path):
    """A first session of a short sweep: one round of 4 runs, its JSON and results."""
    out, jsonl = tmp_path / "out.json", tmp_path / "results.jsonl"
    sweep = ("--filters", "4,8", "--lrs", "0.1,0.0001", "--results", str(jsonl))
    sweep += ("--impl", "keras", "--profile", "default")
    done = _bench(backend, tmp_path, *sweep, "--rounds", "1", "--benchmark-json", str(out))
    assert done.returncode == 0, done.stdout[-3000:]
    return done, sweep, out, jsonl


@pytest.mark.slow
def test_short_sweep_writes_json_on_this_backend(backend, tmp_path):
    done, _, out, _ = _short_sweep(backend, tmp_path)
    assert "[1/4]" in done.stdout and "epoch 1/1" in done.stdout  # progress past capture
    assert "cnnbench: 4 runs planned, 0 on file, 4 to do" in done.stdout
    assert "warm-up keras-default" in done.stdout
    assert "oneDNN" not in done.stdout + done.stderr  # the libraries' notices stay out

    report = json.loads(out.read_text())
    machine = report["machine_info"]["cnnbench"]
    assert (machine["backend"], machine["cpu_count"]) == (backend, os.cpu_count())
    names = sorted(b["name"] for b in report["benchmarks"])
    where = f"{backend}-cpu-fp32-1x5000"  # what makes two timings comparable, in the name
    assert names == [
        f"test_filters[{where}-4-keras-default]",
        f"test_filters[{where}-8-keras-default]",
        f"test_learning_rate[{where}-16-keras-default-lr0.0001]",
        f"test_learning_rate[{where}-16-keras-default-lr0.1]",
    ]
    for bench in report["benchmarks"]:
        (run,) = bench["extra_info"]["runs"]
        assert RUN_KEYS <= set(run)
        assert (run["device"], run["train_samples"], run["precision"]) == ("cpu", 5000, "fp32")
        assert bench["stats"]["rounds"] == 1
        assert bench["stats"]["median"] == pytest.approx(run["runtime_s"], rel=0.01)
        assert run["peak_gflops"] > 0 and run["peak_host_mb"] > 0
    compare = [sys.executable, "-c", "from pytest_benchmark.cli import main; main()"]
    compare += ["compare", str(out), "--group-by", "param:filters", "--columns", "median"]
    shown = subprocess.run(compare, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "KeyError" not in shown.stderr, shown.stderr[-2000:]
    assert "keras-default" in shown.stdout


@pytest.mark.slow
@pytest.mark.any_backend  # what is on file and what counts: no backend's own
def test_short_sweep_resumes_round_by_round(backend, tmp_path):
    _, sweep, out, jsonl = _short_sweep(backend, tmp_path)
    where = f"{backend}-cpu-fp32-1x5000"
    # Two more rounds, resumed: round 0 is on file and never redone.
    warmups = [r["result"]["filters"] for r in results.read(jsonl) if r.get("warmup")]
    assert warmups == [16, 8, 4]  # one per path and width (16: the learning-rate runs')
    assert len(jsonl.read_text().splitlines()) == 7  # and four runs
    again = _bench(
        backend, tmp_path, *sweep, "--rounds", "2", "--resume", "-rs", "--benchmark-json", str(out)
    )
    assert again.returncode == 0, again.stdout[-3000:]
    assert "4 passed, 4 skipped" in again.stdout and "--resume: on file" in again.stdout
    assert "cnnbench: 8 runs planned, 4 on file, 4 to do" in again.stdout
    # pytest-benchmark's terminal table as the JSON: a row per cell (two widths), both rounds
    assert "benchmark 'filters': 2 tests" in again.stdout, again.stdout[-3000:]
    table = again.stdout[again.stdout.index("benchmark 'filters'") :]
    assert f"test_filters[{where}-4-keras-default]" in table and "-r1]" not in table
    resumed = json.loads(out.read_text())  # the resumed session's JSON: the whole sweep
    assert all(len(b["stats"]["data"]) == 2 for b in resumed["benchmarks"])
    assert all(b["extra_info"]["timed_now"] == [False, True] for b in resumed["benchmarks"])
    records = [r for r in results.read(jsonl) if not r.get("warmup")]
    assert sorted(r["round"] for r in records) == [0, 0, 0, 0, 1, 1, 1, 1]
    seeds = {r["round"]: r["result"]["seed"] for r in records}
    assert seeds == {0: 0, 1: 1}

    # Killed while writing a round-1 run: resume redoes that run alone.
    kept = jsonl.read_text().splitlines()
    jsonl.write_text("\n".join(kept[:-1]) + "\n" + kept[-1][: len(kept[-1]) // 2])
    third = _bench(backend, tmp_path, *sweep, "--rounds", "2", "--resume")
    assert third.returncode == 0, third.stdout[-3000:]
    assert "1 passed, 7 skipped" in third.stdout
    finished = [r for r in results.read(jsonl) if not r.get("warmup")]
    assert len(finished) == 8  # nothing counted twice, nothing lost


@pytest.mark.any_backend
def test_the_timed_region_is_the_fit_alone(backend, tmp_path):
    (tmp_path / "fake_trainer.py").write_text(FAKE_TRAINER)
    out = tmp_path / "out.json"
    done = _bench(
        backend,
        tmp_path,
        *("-p", "fake_trainer", "--filters", "8", "--impl", "keras", "--profile", "default"),
        *("-k", "test_filters", "--rounds", "2"),
        *("--results", str(tmp_path / "r.jsonl"), "--benchmark-json", str(out)),
    )
    assert done.returncode == 0, done.stdout[-3000:]
    (cell,) = json.loads(out.read_text())["benchmarks"]  # one cell, its two rounds as data
    assert cell["name"] == "test_filters[jax-cpu-fp32-1x5000-8-keras-default]"
    assert cell["params"]["filters"] == 8 and cell["params"]["path"] == "keras-default"
    assert [run["runtime_s"] for run in cell["extra_info"]["runs"]] == [0.25, 0.25]
    assert cell["extra_info"]["timed_now"] == [True, True]
    # pytest-benchmark timed the fit (0.25 s), not the building (0.5) or checks (0.4).
    assert len(cell["stats"]["data"]) == cell["stats"]["rounds"] == 2
    assert cell["stats"]["data"] == pytest.approx([0.25, 0.25], rel=0.05)


@pytest.mark.any_backend
@pytest.mark.parametrize(
    "args, message",
    [
        (["--filters", "8,x"], "--filters '8,x': expected comma-separated numbers"),
        (["--filters", "8,16,8"], "--filters '8,16,8': 8 given twice"),
        (["--lrs", "0.01,1e-2"], "--lrs '0.01,1e-2': 0.01 given twice"),
        (["--impl", "keras,keras"], "--impl 'keras,keras': keras given twice"),
        (["--impl", "caffe"], "--impl 'caffe': choose from keras, keras-loop, native"),
        (["--seed", "-1"], "seed must be in 0..4294967295"),
        (["--rounds", "1000000000"], "--rounds must be in 1..100, got 1000000000"),
        (["--precision", "fp16"], "invalid choice: 'fp16'"),
        (["--results", "."], "--results .: is a folder"),
        (["--results", "{file}/r.jsonl"], "cannot write there"),
        (["--results", "{fifo}", "--resume"], "not a regular file"),
        (["--results", "/dev/zero", "--resume"], "--results /dev/zero: not a regular file"),
        (["--results", "/proc/version"], "--results /proc/version: cannot write there"),
        (["--results", "{json}"], "not a cnnbench results file"),
        (["--results", "{png}"], "not a cnnbench results file"),
        (["--results", "{garbage}", "--resume"], "not a cnnbench results file"),
        (["--results", "{same}", "--benchmark-json", "{same}"], "name one file"),
        (["--benchmark-disable"], "pytest-benchmark is disabled"),
        (["--benchmark-cprofile", "tottime"], "--benchmark-cprofile trains every run twice"),
        (["--benchmark-json", "{file}/out.json"], "cannot write there"),
        (["--lrs", "0.1,nan"], "every value must be a finite number > 0"),
        (["--filters", "1000000"], "--filters 1000000: 1000000 filters need at least"),
        (["--filters", "2000000"], "filters must be in 1..1048576, got 2000000"),
        (["--results", "{linked}", "--benchmark-json", "{link}"], "name one file"),
        (["--choices", "{choices}"], "--choices: native: unknown native"),
        (["--choices", "{typo}"], "unknown path id keras-tunde; known: keras-default"),
    ],
)
def test_bad_options_stop_the_session_before_it_trains(backend, tmp_path, args, message):
    regular = tmp_path / "a-file"
    regular.write_text("")
    paths = {name: tmp_path / name for name in ("choices", "typo", "fifo", "json", "png")}
    paths["choices"].write_text('{"native": {"warp": 9}}')
    paths["typo"].write_text('{"keras-tunde": {}}')
    os.mkfifo(paths["fifo"])
    paths["json"].write_text(json.dumps({"benchmarks": [], "version": "5.3.1"}, indent=4))
    paths["png"].write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    paths["garbage"] = tmp_path / "garbage.jsonl"
    paths["garbage"].write_bytes(bytes(range(1, 200)) * 3)
    paths["linked"] = tmp_path / "hl.jsonl"
    paths["linked"].write_text("")
    paths["link"] = tmp_path / "hl.json"
    os.link(paths["linked"], paths["link"])  # two names, one file
    before = {name: path.read_bytes() for name, path in paths.items() if name != "fifo"}
    args = [a.format(file=regular, same=tmp_path / "same.json", **paths) for a in args]
    done = _bench(backend, tmp_path, *args)
    assert done.returncode in (3, 4), done.stdout[-2000:]
    assert message in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "epoch" not in done.stdout
    assert before == {name: paths[name].read_bytes() for name in before}  # nothing cut


@pytest.mark.any_backend
def test_no_mnist_stops_the_session_once_in_one_line(backend, tmp_path):
    done = _bench(backend, tmp_path, env={"CNNBENCH_DATA": str(tmp_path / "none.npz")})
    assert done.returncode == 4, done.stdout[-2000:]
    assert (
        done.stderr.strip() == f"ERROR: MNIST: MNIST data path {tmp_path}/none.npz does not exist"
    )


@pytest.mark.any_backend
def test_an_unknown_backend_is_one_line(tmp_path):
    done = _bench("bogus", tmp_path)
    assert done.returncode == 4
    assert "KERAS_BACKEND='bogus': expected one of tensorflow, torch, jax" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def _paths(backend: str) -> int:
    """Paths a CPU sweep times: Keras default, Keras tuned unless it is the default, native."""
    return 2 if profiles.same_as_default(backend, "cpu") else 3


def test_quick_plans_a_small_first_look_at_keras_and_native(backend, tmp_path):
    done = _bench(backend, tmp_path, "--quick", "--collect-only", "-q")
    assert done.returncode == 0, done.stdout[-2000:]
    planned = 2 * _paths(backend) + 1  # 8 and 16 filters, and lr 0.01 at 16
    assert f"cnnbench: {planned} runs planned, 0 on file, {planned} to do, about " in done.stdout
    assert "test_filters[16-keras-default-r0]" in done.stdout
    assert "test_filters[16-native-r0]" in done.stdout
    assert "test_learning_rate[keras-default-0.01-r0]" in done.stdout


@pytest.mark.any_backend
def test_quick_never_overrides_an_explicit_option(backend, tmp_path):
    # --rounds 3 and --epochs 10 are the defaults: given, they still win over the preset.
    args = ("--quick", "--rounds", "3", "--epochs", "10", "--collect-only")
    done = _bench(backend, tmp_path, *args)
    assert done.returncode == 0, done.stdout[-2000:]
    planned = 3 * (2 * _paths(backend) + 1)
    assert f"cnnbench: {planned} runs planned" in done.stdout and "-r2]" in done.stdout
    assert "epochs 10, train subset 5000, rounds 3" in done.stdout  # SHORT: 5000


@pytest.mark.any_backend
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
        *("-p", "plant_warning", "--filters", "8", "-k", "test_filters", "--rounds", "1"),
        *("--impl", "keras", "--profile", "default"),
        *("--results", str(results_path)),
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 passed" in done.stdout and "planted deprecation" in done.stdout
    assert len([r for r in results.read(results_path) if not r.get("warmup")]) == 1


def _collected(done) -> list[str]:
    return [line.split("::")[-1] for line in done.stdout.splitlines() if "::test_" in line]


@pytest.mark.any_backend
def test_the_shards_together_collect_the_plan_exactly_once(backend, tmp_path):
    args = ("--filters", "8,16,32", "--rounds", "2", "--collect-only", "-q")
    whole = _collected(_bench(backend, tmp_path, *args))
    parts = [_collected(_bench(backend, tmp_path, *args, "--shard", f"{k}/3")) for k in (1, 2, 3)]
    assert whole and sorted(sum(parts, [])) == sorted(whole)
    assert all(parts) and len(set(sum(parts, []))) == len(whole)


@pytest.mark.any_backend
@pytest.mark.parametrize(
    "shard, env, message",
    [
        ("0/2", {}, "--shard 0/2: K must be in 1..2"),
        ("1/0", {}, "--shard 1/0: N must be in 1..10000"),
        ("a/b", {}, "expected K/N"),
        ("2", {"SLURM_ARRAY_TASK_ID": "", "JOB_COMPLETION_INDEX": ""}, "no job array index"),
        ("2", {"JOB_COMPLETION_INDEX": "x"}, "$JOB_COMPLETION_INDEX='x' is not an index"),
    ],
)
def test_a_shard_that_names_no_shard_stops_the_session(backend, tmp_path, shard, env, message):
    done = _bench(backend, tmp_path, "--shard", shard, env=env)
    assert done.returncode == 4 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.any_backend
@pytest.mark.slow
@pytest.mark.parametrize("when", ["a warm-up", "a timed run"])
def test_one_ctrl_c_stops_the_session_keeps_the_json_and_says_how_to_finish(
    backend, tmp_path, when
):
    out, jsonl = tmp_path / "out.json", tmp_path / "r.jsonl"
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "benchmarks"), "-p", "no:cacheprovider"]
    cmd += ["--rootdir", str(ROOT), *SHORT, "--filters", "8,16", "--impl", "keras"]
    cmd += ["--profile", "default", "--lrs", "0.1", "--epochs", "3", "--rounds", "2"]
    cmd += ["--results", str(jsonl), "--benchmark-json", str(out)]
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    trigger = "warm-up keras-default 16f" if when == "a warm-up" else "[2/4]"
    lines = []
    for line in process.stdout:
        lines.append(line)
        if trigger in line:
            break
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    rest, _ = process.communicate(timeout=120)
    waited = time.monotonic() - sent
    text = "".join(lines) + rest
    assert process.returncode == 2, text[-3000:]  # pytest's "interrupted"
    assert waited < 30, f"{waited:.0f} s after Ctrl-C"
    assert "Traceback (most recent call last)" not in text and "ValueError" not in text
    (said,) = [line for line in text.splitlines() if line.startswith("cnnbench: interrupted;")]
    assert f"on file in {jsonl}" in said and "--resume" in said
    doc = json.loads(out.read_text())  # the JSON of the runs that finished, whole
    timed = [run for cell in doc["benchmarks"] for run in cell["extra_info"]["runs"]]
    on_file = [r for r in results.read(jsonl, allow_torn_tail=True) if not r.get("warmup")]
    assert len(timed) == len(on_file) == (0 if when == "a warm-up" else 1)


@pytest.mark.slow
def test_a_user_s_runs_land_in_their_own_folder_never_the_published_one(backend, tmp_path):
    """... and the Keras loop times through the suite on every backend."""
    published = sorted(p.name for p in (ROOT / "reports" / "runs").iterdir())
    args = ("--filters", "8", "--impl", "keras-loop", "-k", "test_filters", "--rounds", "1")
    done = _bench(backend, tmp_path, *args)  # no --results: the default
    assert done.returncode == 0, done.stdout[-3000:]
    mine = tmp_path / "cnnbench-results" / f"{backend}-cpu.jsonl"
    assert [r["benchmark"] for r in results.read(mine) if not r.get("warmup")] == [
        "test_filters[8-keras-loop-r0]"
    ]
    assert sorted(p.name for p in (ROOT / "reports" / "runs").iterdir()) == published
    assert "/cnnbench-results/" in (ROOT / ".gitignore").read_text()
