"""Guards for the newest options: a job-array index that is not ASCII digits, an empty
--shard or --address, a plan cut to one shard, a repeated --price, an over-long value
echoed whole, a refused run taken for a rate."""

import math

import pytest

from cnnbench import estimate, options, plan, request
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
