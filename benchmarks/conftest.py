"""pytest glue for the benchmark suite (`KERAS_BACKEND=jax pytest benchmarks/ --benchmark-json
out.json`; `--help` lists the options). The sweep is `cnnbench.suite` (options checked, sweep
built), `cnnbench.plan` (runs, order, shards), `cnnbench.sweep` (what is on file, what counts),
`cnnbench.cells` (the JSON, an entry per cell). pytest-benchmark times exactly the run's `fit`
(its `runtime_s`): the model is built in pedantic's `setup`, checked in its `teardown`.
"""

from __future__ import annotations

import contextlib
import os

import pytest

from cnnbench import cells, interrupt, options, request, suite
from cnnbench.backend import hide_gpus, quiet
from cnnbench.records import variant_id
from cnnbench.session import Session

STARTED = pytest.StashKey[suite.Started]()  # the sweep, this session's share of the plan
BENCH = pytest.StashKey[Session]()  # set once collection is done
DESTS = [options.dest(flags, spec) for flags, spec in request.option_specs()]
PARAMS = ("filters", "path", "learning_rate", "round_")  # each benchmark's, as scalars


def pytest_addoption(parser):
    group = parser.getgroup("cnnbench", "cnnbench benchmark options")
    for flags, spec in request.option_specs() + suite.output_options():
        group.addoption(*flags, **spec)


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's: its session is known
def pytest_configure(config):
    # The unit tests turn warnings into errors (pyproject); a benchmark reports them: a
    # library's notice (Keras on torch under numpy 2.5, every step) must not throw away
    # minutes of training. Appended last, this wins over the ini's "error".
    config.addinivalue_line("filterwarnings", "default")
    values = {dest: getattr(config.option, dest) for dest in DESTS}
    if (values.get("device") or "auto") == "cpu":
        hide_gpus()  # before any backend is imported
    try:
        timing = getattr(config, "_benchmarksession", None)
        suite.check_timing(getattr(timing, "disabled", False),
                           config.getoption("benchmark_cprofile", None))
        backend = suite.backend_of(os.environ)
        suite.spec(values, backend, "cpu")  # every option's own check, before a backend loads
        quiet(backend)
        import keras  # noqa: F401  (imports the backend named by KERAS_BACKEND)

        interrupt.install()  # one Ctrl-C stops the session, even one a library swallowed
        started = suite.start(
            values, backend, results_opt=suite.path_of(config.getoption("--results")),
            json_opt=suite.path_of(config.getoption("benchmark_json")),
            resume=config.getoption("--resume"), root=config.rootpath,
            write=lambda line: _write(config, line), load=not config.option.collectonly)
    except suite.SuiteError as err:
        raise pytest.UsageError(str(err)) from None
    for dest, value in started.values.items():
        setattr(config.option, dest, value)
    config.stash[STARTED] = started


def _write(config, line: str) -> None:
    """Print past pytest's capture, so a long sweep is never silent."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(line)


def pytest_report_header(config):
    started = config.stash[STARTED]
    return suite.header(started.sweep, started.data, started.notes)


def pytest_generate_tests(metafunc):
    if set(PARAMS) <= set(metafunc.fixturenames):
        test = metafunc.function.__name__
        runs = [r for r in metafunc.config.stash[STARTED].runs if r.test == test]
        values = [(r.filters, variant_id(*r.variant), r.learning_rate, r.round) for r in runs]
        metafunc.parametrize(PARAMS, values, ids=[r.param_id for r in runs])


def pytest_collection_modifyitems(config, items):  # in plan order: round by round
    order = {run.name: i for i, run in enumerate(config.stash[STARTED].runs)}
    items.sort(key=lambda item: order.get(item.name, -1))


def pytest_collection_finish(session):
    started, names = session.config.stash[STARTED], {item.name for item in session.items}
    runs = [run for run in started.runs if run.name in names]  # after -k and the like
    bench = Session(started.sweep, runs, pytest.skip, started.data)
    session.config.stash[BENCH] = bench
    bench.sweep.write(bench.summary())


@pytest.fixture(scope="session")
def bench(request) -> Session:
    return request.config.stash[BENCH]


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["cnnbench"] = config.stash[STARTED].sweep.machine


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for line in config.stash[BENCH].beside_published() if BENCH in config.stash else ():
        terminalreporter.write_line(line)


@pytest.hookimpl(tryfirst=True)
def pytest_benchmark_group_stats(config, benchmarks, group_by):
    """The terminal table as the JSON, a row per cell (its own when comparing to a save)."""
    timing = getattr(config, "_benchmarksession", None)
    bench = config.stash.get(BENCH, None)
    if bench is None or timing is None or timing.compared_mapping:
        return None
    return cells.table(cells.entries(bench.results(), {}, {}, cells.timed_now(timing.benchmarks)))


def pytest_benchmark_update_json(config, benchmarks, output_json):
    """One entry per cell, every round (on file or timed now) its data (`cnnbench.cells`)."""
    bench = config.stash.get(BENCH, None)
    if bench is None:
        return
    old, sweep = output_json["benchmarks"], config.stash[STARTED].sweep
    output_json["benchmarks"] = cells.entries(
        bench.results(), old[0]["options"] if old else {},
        {"sweep": sweep.sweep_id, "shard": sweep.shard}, cells.timed_now(benchmarks))


@pytest.hookimpl(hookwrapper=True, tryfirst=True)  # around pytest-benchmark's JSON writing
def pytest_sessionfinish(session, exitstatus):
    """Before pytest-benchmark's JSON: a benchmark stopped untimed (Ctrl-C) gets no entry;
    with no round timed, the JSON of the runs on file is written here (it would write none).
    After an interrupt, one line: what is on file, and the command that finishes."""
    config = session.config
    timing = getattr(config, "_benchmarksession", None)
    if timing is not None:
        timing.benchmarks[:] = [b for b in timing.benchmarks if b.stats]
        if timing.json and not timing.benchmarks and BENCH in config.stash:
            _write_json(config, timing)
            timing.json = None  # written: nothing left for pytest-benchmark to save
    yield
    if exitstatus == pytest.ExitCode.INTERRUPTED and STARTED in config.stash:
        done = len(config.stash[BENCH].results()) if BENCH in config.stash else 0
        args = list(config.invocation_params.args)
        _write(config, suite.interrupted(config.stash[STARTED].sweep, done, args))


def _write_json(config, timing) -> None:
    """pytest-benchmark's JSON, as its own hooks build it, when no round was timed."""
    hook = config.hook
    commit_info = hook.pytest_benchmark_generate_commit_info(config=config)
    output = hook.pytest_benchmark_generate_json(
        config=config, benchmarks=[], include_data=True,
        machine_info=timing.get_machine_info(), commit_info=commit_info)
    hook.pytest_benchmark_update_json(config=config, benchmarks=[], output_json=output)
    timing.save_json(output)
