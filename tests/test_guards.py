"""Guards for the newest options: a job-array index that is not ASCII digits, an empty
--shard or --address, a plan cut to one shard, a repeated --price, an over-long value
echoed whole, a refused run taken for a rate."""

import math

import pytest

from cnnbench import estimate, options, plan, profiles, request
from cnnbench.errors import UsageError
from cnnbench.report.costs import parse_prices
from cnnbench.sweep_cli import plan_text, sweep


@pytest.mark.parametrize(
    "environ", [{"SLURM_ARRAY_TASK_ID": "²"}, {"JOB_COMPLETION_INDEX": "7" * 5000}]
)
def test_an_index_that_is_no_index_is_named_in_one_short_line(environ):
    with pytest.raises(plan.ShardError, match="is not an index") as err:
        plan.parse_shard("4", environ)
    assert len(str(err.value)) < 150


@pytest.mark.parametrize("text", ["", "  ", "²/4", "1/²", "1" * 3000 + "/2"])
def test_a_shard_text_that_names_no_shard_is_refused(text):
    with pytest.raises(plan.ShardError) as err:
        plan.parse_shard(text, {})
    assert len(str(err.value)) < 150


def test_an_empty_shard_option_is_not_the_whole_plan():
    values = request.resolve({"shard": ""}, "cpu")
    with pytest.raises(plan.ShardError):
        request.spec(values, "jax", "cpu", {})


def test_plan_with_a_shard_shows_that_shard_alone():
    whole = plan_text(["--plan-backends", "jax", "--list"])
    half = plan_text(["--plan-backends", "jax", "--shard", "1/2"])
    runs = [line for line in half.splitlines() if line.startswith("1/2 ")]
    assert "shard 1/2:" in half and 0 < len(runs)
    assert len(runs) < len([line for line in whole.splitlines() if line.startswith("1/1 ")])


def test_plan_help_says_it_cuts_every_backend(capsys):
    from cnnbench.cli import main

    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: all)" in out and "(default: this one)" not in out


def test_an_empty_address_is_refused_before_ray_starts():
    with pytest.raises(UsageError, match="--address '': empty"):
        sweep(["--engine", "ray", "--address", ""])


def test_a_price_given_twice_for_one_device_is_refused():
    import pandas as pd

    data = pd.DataFrame({"machine": ["H100"], "kind": ["gpu"]})
    with pytest.raises(ValueError, match="'gpu' given twice"):
        parse_prices(["gpu=2", "gpu=3"], data)
    assert parse_prices(["gpu=2", "H100=3"], data) == {"gpu": 2.0, "H100": 3.0}


def test_an_over_long_value_is_not_echoed_whole():
    with pytest.raises(options.OptionError) as err:
        options.parse_list("x" * 3000, int, (), "--filters")
    assert len(str(err.value)) < 120 and "…" in str(err.value)


@pytest.mark.parametrize("runtime", [math.inf, float("nan"), -1.0])
def test_a_run_the_report_refuses_is_no_rate(runtime):
    from test_block import ARMS, fake_result

    good = fake_result(ARMS[0], {"epochs": 10, "filters": 16, "train_subset": None,
                                 "batch_size": 50, "learning_rate": 0.1, "seed": 0}, 40.0)
    bad = {**good, "runtime_s": runtime}
    rates = estimate.rates_from([{"result": bad}])
    assert rates == {}
    assert estimate.rates_from([{"result": good}])  # the same run, counted


def _session(tmp_path, epochs, samples, seconds, first=None):
    from test_block import ARMS, fake_result

    from cnnbench import results
    from cnnbench.session import Session
    from cnnbench.sweep import Sweep

    versions = {"python": "3.11", "keras": "3.15.1", "numpy": "2"}  # as fake_result records
    machine = {"versions": versions, "cpu_model": "x", "cpu_count": 2, "gpu": None}
    sweep = Sweep(
        backend="torch", device="cpu", device_name="cpu", machine=machine,
        results_path=tmp_path / "r.jsonl", precision="fp32", epochs=epochs,
        train_subset=None if samples == 55000 else samples, seed=0, rounds=1, resume=True,
        variants=[("native", None)], write=lambda line: None,
    )  # fmt: skip
    runs = plan.plan(
        plan.Spec(("torch",), "cpu", (16,), (0.1,), (("native", None),), 1, tests=("test_filters",))
    )
    config = {"epochs": epochs, "filters": 16, "train_subset": sweep.train_subset,
              "batch_size": 50, "learning_rate": 0.1, "seed": 0}
    result = fake_result(ARMS[0], config, seconds)
    if first is not None:  # a first epoch that compiles: the run's time is mostly that
        steady = result["steady_epoch_s"]
        result["history"]["epoch_seconds"] = [first] + [steady] * (epochs - 1)
        result.update(first_epoch_s=first, runtime_s=first + steady * (epochs - 1))
    config_obj = sweep.config(("native", None), 16, 0.1, 0)
    result["settings"] = profiles.for_run(config_obj, "torch", "cpu")
    results.append(sweep.results_path, {"benchmark": runs[0].name, "machine": machine,
                                        "result": result})
    return Session(sweep, runs, skip=lambda reason: None)


def test_a_short_run_is_set_beside_the_published_by_its_steady_epoch(tmp_path):
    lines = _session(tmp_path, 2, 2000, 0.2, first=5.0).beside_published()
    assert "a steady epoch of the same cell" in lines[0]
    assert " 0 s there" not in lines[1] and "x" in lines[1]
    ratio = float(lines[1].rsplit(": ", 1)[1].rstrip("x"))
    assert ratio < 10  # a short run's compilation no longer makes it 57x the published


def test_a_full_run_is_set_beside_the_published_whole(tmp_path):
    lines = _session(tmp_path, 10, 55000, 40.0).beside_published()
    assert "same cell, same length" in lines[0] and "40 s here" in lines[1]


def _rate_record(filters, seconds, **extra):
    result = {"backend": "jax", "device": "cpu", "filters": filters, "epochs": 10,
              "train_samples": 55000, "runtime_s": seconds, "steady_epoch_s": seconds / 10,
              "impl": "native", "profile": None, "precision": "fp32"}
    return {"benchmark": "b", "result": result, **extra}


def test_a_tune_candidate_never_moves_the_estimate():
    on_file = [_rate_record(16, 55.0)]
    base = estimate.Estimator.build("jax", "cpu", "fp32", on_file)
    tuned = estimate.Estimator.build(
        "jax", "cpu", "fp32", [*on_file, _rate_record(16, 5.0, candidate=True)]
    )
    assert tuned.seconds("native", 16, 550000) == base.seconds("native", 16, 550000) == 55.0


def test_a_warm_up_adds_its_width_and_keeps_the_others_on_file():
    est = estimate.Estimator.build("jax", "cpu", "fp32", [_rate_record(64, 400.0)])
    warmup = _rate_record(8, 2.0, warmup=True)
    warmup["result"].update(epochs=2, train_samples=1000, steady_epoch_s=0.1)
    est.add([warmup])
    assert est.seconds("native", 64, 550000) == pytest.approx(400.0)  # still the file's
    assert est.seconds("native", 8, 1000) == pytest.approx(0.1)  # the warm-up's own width


def test_a_machines_price_beats_its_kinds_and_to_099_is_priced_at_its_own_time():
    import pandas as pd

    from cnnbench.report.costs import with_costs

    data = pd.DataFrame(
        {
            "machine": ["H100", "H200", "Xeon"],
            "kind": ["gpu", "gpu", "cpu"],
            "runtime_s": [3600.0, 3600.0, 7200.0],
            "time_to_0_99": [1800.0, 900.0, None],
        }
    )
    out = with_costs(data, {"gpu": 2.0, "H100": 3.6})
    assert out["dollars"].tolist()[:2] == [3.6, 2.0]  # H100's own price, H200 the kind's
    assert pd.isna(out["dollars"].tolist()[2])  # no price for the CPU: no dollars, never 0
    assert out["dollars_to_0_99"].tolist()[:2] == [1.8, 0.5]  # the time it took to get there
    assert pd.isna(out["dollars_to_0_99"].tolist()[2])


def test_two_runs_without_a_seed_are_two_rates_not_one():
    """Older records and frame rows carry no seed: each is still a run of its own."""
    runs = [_rate_record(16, 55.0), _rate_record(16, 55.0), _rate_record(16, 110.0)]
    est = estimate.Estimator.build("jax", "cpu", "fp32", runs)
    assert est.seconds("native", 16, 550000) == pytest.approx(55.0)  # median of 55, 55, 110
