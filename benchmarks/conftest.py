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

from cnnbench import experiment, options, profiles
from cnnbench.backend import (
    BACKENDS,
    DeviceError,
    hide_gpus,
    kind_of,
    machine_info,
    resolve_device,
)
from cnnbench.errors import UsageError
from cnnbench.files import check_writable
from cnnbench.precision import effective
from cnnbench.records import RunConfig
from cnnbench.session import Session
from cnnbench.sweep import Sweep, commit, variants

SWEEP = pytest.StashKey[Sweep]()
LISTS_KEY = pytest.StashKey[dict]()
LISTS = {
    "filters": ",".join(map(str, experiment.FILTERS)),
    "learning_rate": ",".join(map(str, experiment.LEARNING_RATES)),
    "impl": "keras",
    "profile": "default",
}


def pytest_addoption(parser):
    group = parser.getgroup("cnnbench", "cnnbench benchmark options")
    names = ("filters", "learning_rate", "epochs", "train_subset", "seed", "device")
    options.add_config_options(group.addoption, (*names, "impl", "profile", "precision"), LISTS)
    group.addoption(
        "--rounds", type=int, default=ROUNDS, help="timed runs per benchmark, seeds S..S+R-1"
    )
    group.addoption(
        "--results",
        default=None,
        metavar="PATH",
        help="JSONL of finished runs (default: reports/results-<backend>-<cpu|gpu>.jsonl)",
    )
    group.addoption(
        "--resume", action="store_true", help="skip runs the results file already holds"
    )
    group.addoption(
        "--quick",
        action="store_true",
        help="a first look: 8 and 16 filters, lr 0.1 and 0.01, 1 epoch of 5500 images, 1 round",
    )
    group.addoption(
        "--choices",
        default=None,
        metavar="PATH",
        help="settings per path chosen by `python -m cnnbench tune --write-choices`",
    )


def _lists(config) -> dict[str, list]:
    values = {}
    for name in LISTS:
        flag = options.LIST_FLAGS.get(name, "--" + name)
        kind, choices = options.list_kind(name)
        try:
            values[name] = options.parse_list(config.getoption(flag), kind, choices, flag)
        except options.OptionError as err:
            raise pytest.UsageError(str(err)) from None
    return values


def _fits(backend: str, kind: str, device: str, filters: list[int], subset) -> None:
    """The widest run must fit in the device's memory: refuse the sweep, not each run."""
    from cnnbench.train import memory_problem

    widest = RunConfig(filters=max(filters), train_subset=subset, device=device)
    problem = memory_problem(widest, backend, kind)
    if problem:
        raise pytest.UsageError(f"--filters {max(filters)}: {problem}; nothing was run")


def _writable(path, flag: str) -> None:
    if hasattr(path, "write"):  # pytest-benchmark < 5.3 hands an open file
        path = path.name
    try:
        check_writable(path, flag)
    except UsageError as err:
        raise pytest.UsageError(str(err)) from None


def _choices(path: str | None) -> dict:
    if path is None:
        return {}
    try:
        choices = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise pytest.UsageError(f"--choices {path}: unreadable ({err})") from None
    if not isinstance(choices, dict) or not all(isinstance(v, dict) for v in choices.values()):
        raise pytest.UsageError(f"--choices {path}: expected {{path id: settings}}")
    return choices


ROUNDS = 3
# dest -> (the preset's value, the option's default): the preset replaces defaults only.
QUICK = {
    "filters": ("8,16", LISTS["filters"]),
    "lrs": ("0.1,0.01", LISTS["learning_rate"]),
    "epochs": (1, experiment.EPOCHS),
    "train_subset": (5500, None),
    "rounds": (1, ROUNDS),
}


def pytest_configure(config):
    # The unit tests turn warnings into errors (pyproject); a benchmark reports them
    # instead: a library's deprecation notice (Keras on torch under numpy 2.5 gives
    # one every step) must not throw away minutes of measured training. Appended last,
    # this filter takes precedence over the ini's "error".
    config.addinivalue_line("filterwarnings", "default")
    if config.getoption("--quick"):
        for dest, (value, default) in QUICK.items():
            if getattr(config.option, dest) == default:
                setattr(config.option, dest, value)
    device = config.getoption("device")
    if device == "cpu":
        hide_gpus()  # before any backend is imported
    backend = os.environ.get("KERAS_BACKEND") or "tensorflow"
    if backend not in BACKENDS:
        raise pytest.UsageError(f"KERAS_BACKEND={backend!r}: expected one of {', '.join(BACKENDS)}")
    if config.getoption("--rounds") < 1:
        raise pytest.UsageError("--rounds must be >= 1")
    try:  # the run's own checks, before anything trains; seeds of the first and last round
        for seed in (
            config.getoption("seed"),
            config.getoption("seed") + config.getoption("--rounds") - 1,
        ):
            RunConfig(
                epochs=config.getoption("epochs"),
                train_subset=config.getoption("train_subset"),
                seed=seed,
                precision=config.getoption("precision"),
            )
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    lists = _lists(config)
    choices = _choices(config.getoption("--choices"))
    for flag in ("--results", "--benchmark-json"):
        if config.getoption(flag) is not None:
            _writable(config.getoption(flag), flag)

    import keras  # noqa: F401  (imports the backend named by KERAS_BACKEND)

    try:
        device_name = resolve_device(backend, device)
    except DeviceError:
        raise pytest.UsageError(
            f"--device gpu: the {backend} backend sees no GPU; nothing was run"
        ) from None
    kind = kind_of(device_name)
    _fits(backend, kind, device, lists["filters"], config.getoption("train_subset"))
    for path, settings in choices.items():
        impl = "native" if path == "native" else "keras"
        try:
            profiles.check(impl, backend, settings)
        except ValueError as err:
            raise pytest.UsageError(f"--choices: {path}: {err}") from None
    results_path = Path(
        config.getoption("--results")
        or config.rootpath / "reports" / "runs" / f"results-{backend}-{kind}.jsonl"
    )
    _writable(results_path, "--results")
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
        seed=config.getoption("seed"),
        rounds=config.getoption("--rounds"),
        resume=config.getoption("--resume"),
        variants=variants(lists["impl"], lists["profile"]),
        choices=choices,
        write=lambda line: _write(config, line),
    )
    config.stash[LISTS_KEY] = lists


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
    return (
        f"cnnbench: backend {s.backend} on {s.device_name} (--device {s.device}), "
        f"precision {s.precision}, epochs {s.epochs}, train subset {s.train_subset or 'all'}, "
        f"rounds {s.rounds}, results {s.results_path}{' (resume)' if s.resume else ''}"
    )


def pytest_generate_tests(metafunc):
    s, lists = metafunc.config.stash[SWEEP], metafunc.config.stash[LISTS_KEY]
    if "filters" in metafunc.fixturenames:
        metafunc.parametrize("filters", lists["filters"], ids=str)
    if "variant" in metafunc.fixturenames:
        ids = [v[0] if v[1] is None else f"{v[0]}-{v[1]}" for v in s.variants]
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
    sweep = session.config.stash[SWEEP]
    session.config.stash[BENCH_KEY] = Session(sweep, len(session.items), planned, pytest.skip)
    sweep.write(f"cnnbench: {len(session.items)} runs planned, round by round")


BENCH_KEY = pytest.StashKey[Session]()  # set once collection knows how many runs there are


@pytest.fixture(scope="session")
def bench(request) -> Session:
    return request.config.stash[BENCH_KEY]


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["cnnbench"] = config.stash[SWEEP].machine
