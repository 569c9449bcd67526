"""pytest glue for the cnnbench benchmark suite; the sweep itself is `cnnbench.suite` (the
options checked, the sweep built), `cnnbench.plan` (which runs, in what order, in which
shard) and `cnnbench.sweep` (what is on file, what counts).

    KERAS_BACKEND=jax pytest benchmarks/ --benchmark-json out.json [--filters 8,16]
        [--lrs 0.1,0.01] [--epochs N] [--train-subset N] [--rounds R] [--seed S]
        [--device cpu|gpu|auto] [--precision fp32|tf32|bf16] [--impl keras,native]
        [--profile default,tuned] [--lr-paths keras-default] [--shard K/N]
        [--results PATH] [--resume] [--choices TUNE.json] [--quick]

The backend is `KERAS_BACKEND`. pytest-benchmark times exactly the run's `fit` (its
`runtime_s`): the model is built in pedantic's `setup`, checked and recorded in its
`teardown`. Each benchmark's parameters are scalars (filters, path, learning_rate,
round_), its name the plan's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cnnbench import cells, interrupt, options, request, results, suite
from cnnbench.backend import hide_gpus, quiet
from cnnbench.records import variant_id
from cnnbench.session import Session
from cnnbench.sweep import Sweep

SWEEP = pytest.StashKey[Sweep]()
PLAN = pytest.StashKey[list]()  # this session's share of the plan, in order
NOTES = pytest.StashKey[list]()
DATA = pytest.StashKey[object]()
BENCH = pytest.StashKey[Session]()  # set once collection is done
DESTS = [options.dest(flags, spec) for flags, spec in request.option_specs()]
PARAMS = ("filters", "path", "learning_rate", "round_")  # each benchmark's, as scalars


def pytest_addoption(parser):
    group = parser.getgroup("cnnbench", "cnnbench benchmark options")
    for flags, spec in request.option_specs():
        group.addoption(*flags, **spec)
    group.addoption(
        "--results",
        default=None,
        metavar="PATH",
        help="JSONL of finished runs, appended as each finishes "
        f"(default: {results.default_path('<backend>', '<cpu|gpu>')})",
    )
    group.addoption(
        "--resume", action="store_true", help="skip runs the results file already holds"
    )


def _path(value) -> Path | None:
    if value is None:
        return None
    return Path(value.name if hasattr(value, "write") else value)  # pytest-benchmark < 5.3


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's: its session is known
def pytest_configure(config):
    # The unit tests turn warnings into errors (pyproject); a benchmark reports them
    # instead: a library's deprecation notice (Keras on torch under numpy 2.5 gives
    # one every step) must not throw away minutes of measured training. Appended last,
    # this filter takes precedence over the ini's "error".
    config.addinivalue_line("filterwarnings", "default")
    values = {dest: getattr(config.option, dest) for dest in DESTS}
    if (values.get("device") or "auto") == "cpu":
        hide_gpus()  # before any backend is imported
    try:
        timing = getattr(config, "_benchmarksession", None)
        suite.check_timing(
            getattr(timing, "disabled", False), config.getoption("benchmark_cprofile", None)
        )
        backend = suite.backend_of(os.environ)
        suite.spec(values, backend, "cpu")  # every option's own check, before a backend loads
        quiet(backend)
        import keras  # noqa: F401  (imports the backend named by KERAS_BACKEND)

        interrupt.install()  # one Ctrl-C stops the session, even one a library swallowed
        started = suite.start(
            values,
            backend,
            results_opt=_path(config.getoption("--results")),
            json_opt=_path(config.getoption("benchmark_json")),
            resume=config.getoption("--resume"),
            root=config.rootpath,
            write=lambda line: _write(config, line),
            load=not config.option.collectonly,
        )
    except suite.SuiteError as err:
        raise pytest.UsageError(str(err)) from None
    for dest, value in started.values.items():
        setattr(config.option, dest, value)
    config.stash[PLAN], config.stash[NOTES] = started.runs, started.notes
    config.stash[SWEEP] = started.sweep
    if started.data is not None:
        config.stash[DATA] = started.data


def _write(config, line: str) -> None:
    """Print past pytest's capture, so a long sweep is never silent."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    if capture is None:
        reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


def pytest_report_header(config):
    return suite.header(config.stash[SWEEP], config.stash.get(DATA, None), config.stash[NOTES])


def pytest_generate_tests(metafunc):
    if set(PARAMS) <= set(metafunc.fixturenames):
        runs = [r for r in metafunc.config.stash[PLAN] if r.test == metafunc.function.__name__]
        values = [(r.filters, variant_id(*r.variant), r.learning_rate, r.round) for r in runs]
        metafunc.parametrize(PARAMS, values, ids=[r.param_id for r in runs])


def pytest_collection_modifyitems(config, items):
    """In plan order: round by round, as the plan lists them."""
    order = {run.name: i for i, run in enumerate(config.stash[PLAN])}
    items.sort(key=lambda item: order.get(item.name, -1))


def pytest_collection_finish(session):
    config = session.config
    names = {item.name for item in session.items}
    runs = [run for run in config.stash[PLAN] if run.name in names]  # after -k and the like
    bench = Session(config.stash[SWEEP], runs, pytest.skip, config.stash.get(DATA, None))
    config.stash[BENCH] = bench
    bench.sweep.write(bench.summary())


@pytest.fixture(scope="session")
def bench(request) -> Session:
    return request.config.stash[BENCH]


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["cnnbench"] = config.stash[SWEEP].machine


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    bench = config.stash.get(BENCH, None)
    for line in bench.beside_published() if bench is not None else ():
        terminalreporter.write_line(line)


@pytest.hookimpl(tryfirst=True)
def pytest_benchmark_group_stats(config, benchmarks, group_by):
    """pytest-benchmark's terminal table as its JSON: one row per cell, with its rounds
    (pytest-benchmark's own grouping when it compares against a saved run)."""
    timing = getattr(config, "_benchmarksession", None)
    bench = config.stash.get(BENCH, None)
    if bench is None or timing is None or timing.compared_mapping:
        return None
    timed = {b.name: b.stats.data[0] for b in timing.benchmarks if b.stats}
    groups: dict[str, list[dict]] = {}
    for entry in cells.entries(bench.results(), {}, {}, timed):
        row = {key: value for key, value in entry["stats"].items() if key != "data"}
        row.update({key: entry[key] for key in ("name", "fullname", "group", "param", "params")})
        groups.setdefault(entry["group"], []).append({**row, "path": None, "source": None})
    return sorted(groups.items())


def pytest_benchmark_update_json(config, benchmarks, output_json):
    """One entry per cell, every round (on file or timed now) its data (`cnnbench.cells`)."""
    bench = config.stash.get(BENCH, None)
    if bench is None:
        return
    old = output_json["benchmarks"]
    sweep = config.stash[SWEEP]
    timed = {b.name: b.stats.data[0] for b in benchmarks if b.stats}  # this session's rounds
    output_json["benchmarks"] = cells.entries(
        bench.results(),
        old[0]["options"] if old else {},
        {"sweep": sweep.sweep_id, "shard": sweep.shard},
        timed,
    )


@pytest.hookimpl(hookwrapper=True, tryfirst=True)  # around pytest-benchmark's JSON writing
def pytest_sessionfinish(session, exitstatus):
    """Before pytest-benchmark writes its JSON: a benchmark stopped before its time was
    taken (Ctrl-C) has no data and no entry, and with no round timed in this session the
    JSON (the runs on file) is written here, where pytest-benchmark would write none.
    After an interrupt, one line: what is on file and the command that finishes the sweep."""
    config = session.config
    timing = getattr(config, "_benchmarksession", None)
    if timing is not None:
        timing.benchmarks[:] = [b for b in timing.benchmarks if b.stats]
        if timing.json and not timing.benchmarks and BENCH in config.stash:
            _write_json(config, timing)
            timing.json = None  # written: nothing left for pytest-benchmark to save
    yield
    if exitstatus == pytest.ExitCode.INTERRUPTED and SWEEP in config.stash:
        bench = config.stash.get(BENCH, None)
        done = len(bench.results()) if bench is not None else 0
        args = list(config.invocation_params.args)
        _write(config, suite.interrupted(config.stash[SWEEP], done, args))


def _write_json(config, timing) -> None:
    """pytest-benchmark's JSON, as its own hooks build it, when no round was timed."""
    hook = config.hook
    commit_info = hook.pytest_benchmark_generate_commit_info(config=config)
    output = hook.pytest_benchmark_generate_json(
        config=config,
        benchmarks=[],
        include_data=True,
        machine_info=timing.get_machine_info(),
        commit_info=commit_info,
    )
    hook.pytest_benchmark_update_json(config=config, benchmarks=[], output_json=output)
    timing.save_json(output)
