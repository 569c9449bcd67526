"""pytest glue for the cnnbench benchmark suite; the sweep itself is `cnnbench.plan` (which
runs, in what order, in which shard) and `cnnbench.sweep` (what is on file, what counts).

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
import shlex
from pathlib import Path

import pytest

from cnnbench import cells, estimate, experiment, interrupt, options, plan, request, results
from cnnbench.backend import (
    BACKENDS,
    DeviceError,
    hide_gpus,
    kind_of,
    machine_info,
    quiet,
    resolve_device,
)
from cnnbench.errors import DataError, PathError
from cnnbench.files import check_writable, same_file
from cnnbench.precision import effective
from cnnbench.records import RunConfig, variant_id
from cnnbench.session import Session
from cnnbench.sweep import Sweep, commit

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


def _usage(check, *args, **kwargs):
    """`check(...)`, its complaint turned into pytest's one-line usage error."""
    try:
        return check(*args, **kwargs)
    except (ValueError, PathError, results.ResultsError) as err:
        raise pytest.UsageError(str(err)) from None


def _fits(backend: str, kind: str, device: str, filters, subset) -> None:
    """The widest run must fit in the device's memory: refuse the sweep, not each run."""
    from cnnbench.train import memory_problem

    widest = _usage(RunConfig, filters=max(filters), train_subset=subset, device=device)
    problem = memory_problem(widest, backend, kind)
    if problem:
        raise pytest.UsageError(f"--filters {max(filters)}: {problem}; nothing was run")


def _path(value) -> Path | None:
    if value is None:
        return None
    return Path(value.name if hasattr(value, "write") else value)  # pytest-benchmark < 5.3


def _timing_on(config) -> None:
    """pytest-benchmark must time and call `teardown` (where a run is checked and
    recorded): disabled (--benchmark-disable, xdist) it trains and records nothing;
    --benchmark-cprofile would train every run a second time."""
    session = getattr(config, "_benchmarksession", None)
    if getattr(session, "disabled", False):
        raise pytest.UsageError(
            "pytest-benchmark is disabled (--benchmark-disable, or xdist's -n): a run "
            "would train and never be recorded; nothing was run"
        )
    if config.getoption("benchmark_cprofile", None):
        raise pytest.UsageError(
            "--benchmark-cprofile trains every run twice; profile one run with "
            "`python -m cProfile -m cnnbench run` instead"
        )


def _outputs(config, backend: str, kind: str) -> Path:
    """The results file (created by the first append) and the JSON, checked up front: both
    writable, neither the other, the results file holding only results."""
    path = _path(config.getoption("--results")) or results.default_path(backend, kind)
    _usage(check_writable, path, "--results")
    _usage(results.check_file, path, "--results")
    out = _path(config.getoption("benchmark_json"))
    if out is not None:
        _usage(check_writable, out, "--benchmark-json")
        if same_file(out, path):
            raise pytest.UsageError(
                f"--results and --benchmark-json name one file ({path}): pytest-benchmark "
                "would overwrite the runs"
            )
    return path


def _spec(config, backend: str, kind: str) -> plan.Spec:
    """The options resolved for this kind of device, into the plan's Spec; the run's own
    checks at the first and last round's seed."""
    values = request.resolve({dest: getattr(config.option, dest) for dest in DESTS}, kind)
    for dest, value in values.items():
        setattr(config.option, dest, value)
    _usage(request.check_runs, values)
    choices = _usage(request.read_choices, values["choices"])
    spec = _usage(request.spec, values, backend, kind, choices)
    if backend not in spec.backends:
        raise pytest.UsageError(
            f"--plan-backends {values['plan_backends']}: must hold this session's "
            f"KERAS_BACKEND={backend}"
        )
    _usage(request.check_choices, choices, spec.backends)
    return spec


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's: its session is known
def pytest_configure(config):
    # The unit tests turn warnings into errors (pyproject); a benchmark reports them
    # instead: a library's deprecation notice (Keras on torch under numpy 2.5 gives
    # one every step) must not throw away minutes of measured training. Appended last,
    # this filter takes precedence over the ini's "error".
    config.addinivalue_line("filterwarnings", "default")
    _timing_on(config)
    device = config.getoption("device") or "auto"
    if device == "cpu":
        hide_gpus()  # before any backend is imported
    backend = os.environ.get("KERAS_BACKEND") or "tensorflow"
    if backend not in BACKENDS:
        raise pytest.UsageError(f"KERAS_BACKEND={backend!r}: expected one of {', '.join(BACKENDS)}")
    _spec(config, backend, "cpu")  # every option's own check, before a backend loads
    quiet(backend)
    import keras  # noqa: F401  (imports the backend named by KERAS_BACKEND)

    interrupt.install()  # one Ctrl-C stops the session, even one a library swallowed

    try:
        device_name = resolve_device(backend, device)
    except DeviceError:
        raise pytest.UsageError(
            f"--device gpu: the {backend} backend sees no GPU; nothing was run"
        ) from None
    kind = kind_of(device_name)
    spec = _spec(config, backend, kind)
    results_path = _outputs(config, backend, kind)
    subset = config.getoption("train_subset")
    _fits(backend, kind, device, spec.filters, subset)
    machine = machine_info(backend, device_name)
    # CNNBENCH_COMMIT, when set, names the commit of a copied tree whose .git may be stale
    machine["commit"] = os.environ.get("CNNBENCH_COMMIT") or commit(config.rootpath)
    sweep = Sweep(
        backend=backend,
        device=device,
        device_name=device_name,
        machine=machine,
        results_path=results_path,
        precision=effective(config.getoption("precision"), kind),
        epochs=config.getoption("epochs"),
        train_subset=subset,
        seed=config.getoption("seed"),
        rounds=spec.rounds,
        resume=config.getoption("--resume"),
        variants=list(spec.variants),
        choices=dict(spec.choices),
        write=lambda line: _write(config, line),
    )
    sweep.sweep_id = plan.sweep_id(
        spec,
        epochs=sweep.epochs,
        train_subset=subset,
        precision=sweep.precision,
        seed=sweep.seed,
    )
    sweep.shard = "{}/{}".format(*spec.shard)
    images = sweep.epochs * (subset or experiment.TRAIN_SIZE)
    cost = estimate.balancing(kind, sweep.precision, images)
    whole = plan.plan(spec)
    config.stash[PLAN] = [r for r in plan.shard(whole, *spec.shard, cost) if r.backend == backend]
    config.stash[NOTES] = plan.notes(spec)
    if spec.shard != (1, 1):
        share = plan.hours(plan.makespan(whole, spec.shard[1], cost))
        config.stash[NOTES].append(
            f"shard {spec.shard[0]}/{spec.shard[1]} of a {len(whole)}-run plan "
            f"(longest shard about {share} by the published rates)"
        )
    config.stash[SWEEP] = sweep
    if not config.option.collectonly:  # MNIST, once, before anything trains
        from cnnbench.data import load

        try:
            config.stash[DATA] = load()
        except DataError as err:
            raise pytest.UsageError(f"MNIST: {err}") from None


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
    s = config.stash[SWEEP]
    data = config.stash.get(DATA, None)
    return [
        f"cnnbench: backend {s.backend} on {s.device_name} (--device {s.device}), "
        f"precision {s.precision}, epochs {s.epochs}, train subset {s.train_subset or 'all'}, "
        f"rounds {s.rounds}, results {s.results_path}{' (resume)' if s.resume else ''}",
        *([f"cnnbench: MNIST from {data.source}"] if data is not None else []),
        *(f"cnnbench: {note}" for note in config.stash[NOTES]),
    ]


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
        sweep = config.stash[SWEEP]
        bench = config.stash.get(BENCH, None)
        done = len(bench.results()) if bench is not None else 0
        args = list(config.invocation_params.args)
        again = shlex.join(["pytest", *args, *([] if "--resume" in args else ["--resume"])])
        _write(
            config,
            f"cnnbench: interrupted; {done} of this session's runs are on file in "
            f"{sweep.results_path}; to finish: KERAS_BACKEND={sweep.backend} {again}",
        )


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
