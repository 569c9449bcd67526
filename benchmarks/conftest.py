"""pytest glue for the cnnbench benchmark suite; the sweep itself is `cnnbench.sweep`.

    KERAS_BACKEND=jax pytest benchmarks/ --benchmark-json out.json [--filters 8,16]
        [--lrs 0.1,0.01] [--epochs N] [--train-subset N] [--rounds R] [--seed S]
        [--device cpu|gpu|auto] [--precision fp32|tf32|bf16] [--impl keras,native]
        [--profile default,tuned] [--results PATH] [--resume] [--choices TUNE.json]

The backend is `KERAS_BACKEND`. pytest-benchmark times exactly the run's `fit` (its
`runtime_s`): the model is built in pedantic's `setup`, checked and recorded in its
`teardown`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cnnbench import experiment, options, profiles, results
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
from cnnbench.files import check_writable
from cnnbench.precision import effective
from cnnbench.records import VARIANTS, RunConfig, variant_id, variants
from cnnbench.session import Session
from cnnbench.sweep import Sweep, commit

SWEEP = pytest.StashKey[Sweep]()
LISTS_KEY = pytest.StashKey[dict]()
DATA_KEY = pytest.StashKey[object]()
NAMES = ("filters", "learning_rate", "epochs", "train_subset", "seed", "device")
NAMES += ("impl", "profile", "precision")
LISTS = {
    "filters": ",".join(map(str, experiment.FILTERS)),
    "learning_rate": ",".join(map(str, experiment.LEARNING_RATES)),
    "impl": "keras",
    "profile": "default",
}
DEFAULTS = {**options.defaults(NAMES, LISTS), "rounds": experiment.ROUNDS}
# A first look; each preset stands only where the option was not given.
QUICK = {"filters": "8,16", "lrs": "0.1,0.01", "epochs": 1, "train_subset": 5500, "rounds": 1}
MAX_ROUNDS = 100  # a median needs 3; a hundred is already a study


def pytest_addoption(parser):
    group = parser.getgroup("cnnbench", "cnnbench benchmark options")
    options.add_config_options(group.addoption, NAMES, LISTS, unset=True)
    group.addoption(
        "--rounds",
        type=int,
        default=None,
        help=f"timed runs per benchmark, seeds S..S+R-1 (default: {experiment.ROUNDS})",
    )
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
    quick = ", ".join(f"{k} {v}" for k, v in QUICK.items())
    group.addoption(
        "--quick",
        action="store_true",
        help=f"a first look ({quick}); options given explicitly win",
    )
    group.addoption(
        "--choices",
        default=None,
        metavar="PATH",
        help="settings per path chosen by `python -m cnnbench tune --write-choices`",
    )


def _resolve(config) -> None:
    """Fill every option not given: the --quick preset, else its default."""
    quick = config.getoption("--quick")
    for dest, default in DEFAULTS.items():
        if getattr(config.option, dest) is None:
            setattr(config.option, dest, QUICK.get(dest, default) if quick else default)


def _lists(config) -> dict[str, list]:
    values = {}
    for name in LISTS:
        flag = options.LIST_FLAGS.get(name, "--" + name)
        kind, choices = options.list_kind(name)
        values[name] = _usage(options.parse_list, config.getoption(flag), kind, choices, flag)
    return values


def _usage(check, *args, **kwargs):
    """`check(...)`, its complaint turned into pytest's one-line usage error."""
    try:
        return check(*args, **kwargs)
    except (ValueError, PathError, results.ResultsError) as err:
        raise pytest.UsageError(str(err)) from None


def _fits(backend: str, kind: str, device: str, filters: list[int], subset) -> None:
    """The widest run must fit in the device's memory: refuse the sweep, not each run."""
    from cnnbench.train import memory_problem

    widest = RunConfig(filters=max(filters), train_subset=subset, device=device)
    problem = memory_problem(widest, backend, kind)
    if problem:
        raise pytest.UsageError(f"--filters {max(filters)}: {problem}; nothing was run")


def _path(value) -> Path | None:
    if value is None:
        return None
    return Path(value.name if hasattr(value, "write") else value)  # pytest-benchmark < 5.3


def _choices(path: str | None) -> dict:
    if path is None:
        return {}
    try:
        choices = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise pytest.UsageError(f"--choices {path}: unreadable ({err})") from None
    if not isinstance(choices, dict) or not all(isinstance(v, dict) for v in choices.values()):
        raise pytest.UsageError(f"--choices {path}: expected {{path id: settings}}")
    known = [variant_id(*v) for v in VARIANTS]
    unknown = sorted(set(choices) - set(known))
    if unknown:
        raise pytest.UsageError(
            f"--choices {path}: unknown path id {', '.join(unknown)}; known: {', '.join(known)}"
        )
    return choices


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
        if out.resolve() == path.resolve():
            raise pytest.UsageError(
                f"--results and --benchmark-json name one file ({path}): pytest-benchmark "
                "would overwrite the runs"
            )
    return path


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's: its session is known
def pytest_configure(config):
    # The unit tests turn warnings into errors (pyproject); a benchmark reports them
    # instead: a library's deprecation notice (Keras on torch under numpy 2.5 gives
    # one every step) must not throw away minutes of measured training. Appended last,
    # this filter takes precedence over the ini's "error".
    config.addinivalue_line("filterwarnings", "default")
    _resolve(config)
    _timing_on(config)
    device = config.getoption("device")
    if device == "cpu":
        hide_gpus()  # before any backend is imported
    backend = os.environ.get("KERAS_BACKEND") or "tensorflow"
    if backend not in BACKENDS:
        raise pytest.UsageError(f"KERAS_BACKEND={backend!r}: expected one of {', '.join(BACKENDS)}")
    rounds = config.getoption("--rounds")
    if not 1 <= rounds <= MAX_ROUNDS:
        raise pytest.UsageError(f"--rounds must be in 1..{MAX_ROUNDS}, got {rounds}")
    seed = config.getoption("seed")
    for first_or_last in (seed, seed + rounds - 1):  # the run's own checks, before it trains
        _usage(
            RunConfig,
            epochs=config.getoption("epochs"),
            train_subset=config.getoption("train_subset"),
            seed=first_or_last,
            precision=config.getoption("precision"),
        )
    lists = _lists(config)
    choices = _choices(config.getoption("--choices"))
    quiet(backend)
    import keras  # noqa: F401  (imports the backend named by KERAS_BACKEND)

    try:
        device_name = resolve_device(backend, device)
    except DeviceError:
        raise pytest.UsageError(
            f"--device gpu: the {backend} backend sees no GPU; nothing was run"
        ) from None
    kind = kind_of(device_name)
    results_path = _outputs(config, backend, kind)
    _fits(backend, kind, device, lists["filters"], config.getoption("train_subset"))
    for path, settings in choices.items():
        impl = "native" if path == "native" else "keras"
        try:
            profiles.check(impl, backend, settings)
        except ValueError as err:
            raise pytest.UsageError(f"--choices: {path}: {err}") from None
    machine = machine_info(backend, device_name)
    # CNNBENCH_COMMIT, when set, names the commit of a copied tree whose .git may be stale
    machine["commit"] = os.environ.get("CNNBENCH_COMMIT") or commit(config.rootpath)
    config.stash[SWEEP] = Sweep(
        backend=backend,
        device=device,
        device_name=device_name,
        machine=machine,
        results_path=results_path,
        precision=effective(config.getoption("precision"), kind),
        epochs=config.getoption("epochs"),
        train_subset=config.getoption("train_subset"),
        seed=seed,
        rounds=rounds,
        resume=config.getoption("--resume"),
        variants=variants(lists["impl"], lists["profile"]),
        choices=choices,
        write=lambda line: _write(config, line),
    )
    config.stash[LISTS_KEY] = lists
    if not config.option.collectonly:  # MNIST, once, before anything trains
        from cnnbench.data import load

        try:
            config.stash[DATA_KEY] = load()
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
    data = config.stash.get(DATA_KEY, None)
    return [
        f"cnnbench: backend {s.backend} on {s.device_name} (--device {s.device}), "
        f"precision {s.precision}, epochs {s.epochs}, train subset {s.train_subset or 'all'}, "
        f"rounds {s.rounds}, results {s.results_path}{' (resume)' if s.resume else ''}",
        *([f"cnnbench: MNIST from {data.source}"] if data is not None else []),
    ]


def pytest_generate_tests(metafunc):
    s, lists = metafunc.config.stash[SWEEP], metafunc.config.stash[LISTS_KEY]
    if "filters" in metafunc.fixturenames:
        metafunc.parametrize("filters", lists["filters"], ids=str)
    if "variant" in metafunc.fixturenames:
        ids = [variant_id(*v) for v in s.variants]
        metafunc.parametrize("variant", s.variants, ids=ids)
    if "learning_rate" in metafunc.fixturenames:
        metafunc.parametrize("learning_rate", lists["learning_rate"], ids=lambda lr: f"{lr:g}")
    if "round_" in metafunc.fixturenames:
        metafunc.parametrize("round_", range(s.rounds), ids=lambda r: f"r{r}")


def pytest_collection_modifyitems(config, items):
    """Round by round: every benchmark's round 0, then every round 1, ... (stable)."""
    items.sort(key=lambda item: getattr(item, "callspec", None) and item.callspec.params["round_"])


def pytest_collection_finish(session):
    planned = [
        (item.name, item.callspec.params)
        for item in session.items
        if hasattr(item, "callspec") and "round_" in item.callspec.params
    ]
    sweep, data = session.config.stash[SWEEP], session.config.stash.get(DATA_KEY, None)
    session.config.stash[BENCH_KEY] = Session(sweep, len(session.items), planned, pytest.skip, data)
    sweep.write(f"cnnbench: {len(session.items)} runs planned, round by round")


BENCH_KEY = pytest.StashKey[Session]()  # set once collection knows how many runs there are


@pytest.fixture(scope="session")
def bench(request) -> Session:
    return request.config.stash[BENCH_KEY]


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["cnnbench"] = config.stash[SWEEP].machine
