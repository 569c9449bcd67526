"""The plan as a value: its rules, its shards (properties, with hypothesis), the job-array
index, the estimate, and the session's counts, all in-process."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnbench import estimate, plan, profiles, results
from cnnbench.analytic import train_flops_per_sample
from cnnbench.plan import Planned, Spec

ROOT = Path(__file__).resolve().parents[1]
PATHS = (("keras", "default"), ("keras", "tuned"), ("native", None))


def _spec(**changes) -> Spec:
    fields = dict(
        backends=("jax",),
        kind="cpu",
        filters=(8, 16, 32),
        learning_rates=(0.1, 0.01),
        variants=PATHS,
        lr_variants=PATHS[:1],
        rounds=2,
    )
    return Spec(**{**fields, **changes})


def test_the_plan_is_round_by_round_with_the_twin_timed_once():
    runs = plan.plan(_spec())
    assert [r.round for r in runs] == sorted(r.round for r in runs)
    names = [r.name for r in runs if r.round == 0]
    assert names[:3] == [
        "test_filters[8-keras-default-r0]",
        "test_filters[8-keras-tuned-r0]",
        "test_filters[8-native-r0]",
    ]
    # lr 0.1 at 16 filters is test_filters[16-keras-default-r0]: not planned again
    assert names[-1] == "test_learning_rate[keras-default-0.01-r0]"
    assert "test_learning_rate[keras-default-0.1-r0]" not in names
    assert len(runs) == 2 * (3 * 3 + 1)
    without = plan.plan(_spec(filters=(8,)))  # no 16-filter run: lr 0.1 is its own
    assert "test_learning_rate[keras-default-0.1-r0]" in [r.name for r in without]


def test_a_tuned_path_that_is_the_default_is_planned_once(monkeypatch):
    monkeypatch.setitem(profiles.KERAS["tuned"]["jax"], "cpu", {})
    runs = plan.plan(_spec())
    assert not [r for r in runs if r.variant == ("keras", "tuned")]
    assert "keras tuned is keras default on jax cpu" in " ".join(plan.notes(_spec()))
    chosen = _spec(choices={"keras-tuned": {"steps_per_execution": "epoch"}})
    assert [r for r in plan.plan(chosen) if r.variant == ("keras", "tuned")]  # its own choice
    default = _spec(choices={"keras-tuned": {"jit_compile": "auto"}})  # the defaults, spelt
    assert not [r for r in plan.plan(default) if r.variant == ("keras", "tuned")]
    assert "keras tuned is keras default on jax cpu (--choices)" in " ".join(plan.notes(default))


def _cost(run: Planned) -> float:
    return float(train_flops_per_sample(run.filters)) * (1 + run.round % 2)


@settings(max_examples=60, deadline=None)
@given(
    filters=st.lists(st.sampled_from([4, 8, 16, 32, 64, 128]), min_size=1, max_size=5, unique=True),
    rounds=st.integers(1, 4),
    backends=st.lists(st.sampled_from(["jax", "torch", "tensorflow"]), min_size=1, unique=True),
    n=st.integers(1, 12),
)
def test_shards_cover_the_plan_once_balanced_and_in_order(filters, rounds, backends, n):
    runs = plan.plan(_spec(filters=tuple(filters), rounds=rounds, backends=tuple(backends)))
    shards = [plan.shard(runs, k, n, _cost) for k in range(1, n + 1)]
    every = [run for part in shards for run in part]
    assert sorted(every, key=runs.index) == runs  # each planned run in exactly one shard
    assert len(every) == len(set(every))
    for part in shards:  # plan order, hence round by round, inside each shard
        assert [runs.index(r) for r in part] == sorted(runs.index(r) for r in part)
    loads = [sum(map(_cost, part)) for part in shards]
    assert max(loads) - min(loads) <= max(map(_cost, runs)) + 1e-6


@pytest.mark.parametrize(
    "text, environ, shard",
    [
        ("2/4", {}, (2, 4)),
        ("4", {"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "0"}, (1, 4)),
        ("4", {"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "1"}, (4, 4)),
        ("3", {"JOB_COMPLETION_INDEX": "2"}, (3, 3)),
    ],
)
def test_the_shard_comes_from_the_option_or_the_job_array(text, environ, shard):
    assert plan.parse_shard(text, environ) == shard


@pytest.mark.parametrize(
    "text, environ, message",
    [
        ("0/2", {}, "K must be in 1..2"),
        ("3/2", {}, "K must be in 1..2"),
        ("1/0", {}, "N must be in 1..10000"),
        ("a/b", {}, "expected K/N"),
        ("4", {}, "no job array index"),
        ("4", {"JOB_COMPLETION_INDEX": "x"}, "$JOB_COMPLETION_INDEX='x' is not an index"),
        ("4", {"JOB_COMPLETION_INDEX": "4"}, "K must be in 1..4"),
    ],
)
def test_a_shard_that_names_no_shard_is_one_line(text, environ, message):
    with pytest.raises(plan.ShardError) as err:
        plan.parse_shard(text, environ)
    assert message in str(err.value) and "\n" not in str(err.value)


def _record(filters, runtime, epochs=10, samples=55000, path="native", machine=None):
    impl, profile = ("native", None) if path == "native" else ("keras", "default")
    result = {
        "backend": "jax",
        "device": "cpu",
        "filters": filters,
        "epochs": epochs,
        "train_samples": samples,
        "runtime_s": runtime,
        "impl": impl,
        "profile": profile,
        "precision": "fp32",
    }
    return {"benchmark": "b", "machine": machine or {}, "result": result}


def test_the_estimate_scales_like_runs_by_images_and_flops():
    est = estimate.Estimator.build("jax", "cpu", "fp32", [_record(8, 100.0)])
    assert est.source("native") == "like runs on file"
    assert est.seconds("native", 8, 5 * 55000) == pytest.approx(50.0)
    lacking = (train_flops_per_sample(16) - train_flops_per_sample(8)) * 10 * 55000
    nominal = lacking / (estimate.NOMINAL_GFLOPS["cpu"] * 1e9)  # one width: the rest nominal
    assert est.seconds("native", 16, 10 * 55000) == pytest.approx(100.0 + nominal)


def test_a_host_bound_rate_is_not_scaled_by_flops():
    """A narrow net's time can be mostly per step (on a GPU, the host's): 10 s at 8 filters
    and 12 s at 64 make 256 filters a line through them in FLOPs, not 64's rate x 4."""
    est = estimate.Estimator.build("jax", "cpu", "fp32", [_record(8, 10.0), _record(64, 12.0)])
    f8, f64, f256 = (train_flops_per_sample(f) for f in (8, 64, 256))
    line = 12.0 + (12.0 - 10.0) / (f64 - f8) * (f256 - f64)
    assert est.seconds("native", 256, 10 * 55000) == pytest.approx(line)
    assert est.seconds("native", 32, 10 * 55000) < 12.0  # between the two: on the line


def test_the_estimate_falls_back_to_the_published_runs_then_to_flops():
    est = estimate.Estimator.build("jax", "cpu", "fp32", [])
    assert est.source("native") == "the published runs"
    assert est.seconds("native", 8, 10 * 55000) > 0
    gpu = estimate.Estimator.build("tensorflow", "gpu", "fp32", [])
    assert gpu.source("native") == "none"  # no TensorFlow GPU run was ever published
    assert gpu.seconds("native", 8, 1000) == pytest.approx(
        train_flops_per_sample(8) * 1000 / (estimate.NOMINAL_GFLOPS["gpu"] * 1e9)
    )


def test_the_packaged_rates_are_the_published_runs_rendered():
    from cnnbench.report.cli import _read, estimates

    data, _ = _read([str(ROOT / "reports" / "runs")], (0.98, 0.99))
    data = data[~data["cold"]]
    others, _ = _read([str(ROOT / "reports" / "side-by-side")], (0.98, 0.99))
    packaged = (ROOT / "cnnbench" / "published.json").read_text()
    assert estimates(data, others) == packaged  # rendered by `tox -e report`, never typed


def test_the_session_counts_planned_on_file_and_to_do_alike(tmp_path):
    from cnnbench.session import Session
    from cnnbench.sweep import Sweep

    machine = {"versions": {"keras": "3"}, "cpu_model": "x", "cpu_count": 2, "gpu": None}
    sweep = Sweep(
        backend="jax",
        device="cpu",
        device_name="cpu",
        machine=machine,
        results_path=tmp_path / "r.jsonl",
        precision="fp32",
        epochs=1,
        train_subset=1000,
        seed=0,
        rounds=2,
        resume=True,
        variants=[("native", None)],
        write=lambda line: None,
    )
    runs = plan.plan(_spec(filters=(8,), variants=(("native", None),), lr_variants=()))
    done = runs[0]
    config = sweep.config(done.variant, done.filters, done.learning_rate, done.round)
    result = {
        "backend": "jax",
        "device": "cpu",
        "filters": 8,
        "params": 52258,
        "epochs": 1,
        "batch_size": 50,
        "learning_rate": 0.1,
        "seed": 0,
        "train_samples": 1000,
        "history": {"loss": [0.3], "val_loss": [0.2]},
        "val_accuracy": 0.9,
        "test_error": 0.1,
        "runtime_s": 2.0,
        "impl": "native",
        "profile": None,
        "precision": "fp32",
        "versions": machine["versions"],
        "settings": profiles.for_run(config, "jax", "cpu"),
    }
    results.append(
        sweep.results_path, {"benchmark": done.name, "machine": machine, "result": result}
    )
    session = Session(sweep, runs, skip=lambda reason: None)
    assert session.summary().startswith("cnnbench: 2 runs planned, 1 on file, 1 to do, about ")
    assert "(from like runs on file)" in session.summary()
    assert session.todo == runs[1:]
    empty = Session(sweep, [], skip=lambda reason: None)  # a backend with nothing in a shard
    assert empty.summary() == "cnnbench: 0 runs planned, 0 on file, 0 to do, nothing to do"


def test_the_makespan_in_the_docs_is_the_plan_command_s_output():
    from cnnbench.report.headline import block
    from cnnbench.sweep_cli import plan_text

    doc = ROOT / "docs" / "distributed.md"
    for name, argv in (("plan-cpu", []), ("plan-gpu", ["--device", "gpu"])):
        text, start, end = block(doc, name)
        assert text[start:end].strip() == "```text\n" + plan_text(argv) + "\n```", name


def test_the_job_array_files_cut_as_many_shards_as_they_run():
    import re

    import yaml

    sbatch = (ROOT / "docs" / "slurm" / "cnnbench-array.sbatch").read_text()
    first, last = map(int, re.search(r"#SBATCH --array=(\d+)-(\d+)", sbatch).groups())
    assert int(re.search(r"^SHARDS=(\d+)", sbatch, re.M)[1]) == last - first + 1
    assert '--shard "$SHARDS" --resume' in sbatch
    job = yaml.safe_load((ROOT / "docs" / "kubernetes" / "cnnbench-indexed-job.yaml").read_text())
    spec = job["spec"]
    env = {e["name"]: e["value"] for e in spec["template"]["spec"]["containers"][0]["env"]}
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == int(env["SHARDS"])
    assert '--shard "$SHARDS" --resume' in spec["template"]["spec"]["containers"][0]["args"][0]


def test_a_learning_rate_path_the_filter_sweep_skips_keeps_its_lr_01_run():
    runs = plan.plan(_spec(variants=PATHS[2:], lr_variants=PATHS[:1], rounds=1))
    names = [r.name for r in runs]
    assert "test_learning_rate[keras-default-0.1-r0]" in names  # no 16-filter twin of it
    assert "test_learning_rate[keras-default-0.01-r0]" in names


def test_a_tuned_path_that_is_the_default_gets_no_learning_rate_runs(monkeypatch):
    monkeypatch.setitem(profiles.KERAS["tuned"]["jax"], "cpu", {})
    runs = plan.plan(_spec(lr_variants=PATHS[:2], rounds=1))
    assert [r for r in runs if r.test == "test_learning_rate"]  # the default's are there
    assert not [r for r in runs if r.variant == ("keras", "tuned")]


def test_the_makespan_is_the_longest_shard_even_when_it_is_not_the_first():
    costs = {8: 5.0, 16: 4.0, 32: 4.0}
    runs = [Planned("jax", "test_filters", PATHS[2], f, 0.1, 0) for f in costs]
    seconds = lambda run: costs[run.filters]  # noqa: E731
    assert plan.loads(runs, 2, seconds) == [5.0, 8.0]  # the 5 s run first, then two of 4 s
    assert plan.makespan(runs, 2, seconds) == 8.0
