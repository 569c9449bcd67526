"""Options, device guard, results file and progress for the cnnbench benchmark suite.

    KERAS_BACKEND=jax pytest benchmarks/ --benchmark-json out.json [--filters 8,16]
        [--lrs 0.1,0.01] [--epochs N] [--train-subset N] [--rounds R] [--seed S]
        [--device cpu|gpu|auto] [--results PATH] [--resume]

The backend is `KERAS_BACKEND`. Each finished run is appended at once to the results
file (default `reports/results-<backend>-<cpu|gpu>.jsonl`); `--resume` skips the
runs that file already holds with the same settings, backend, device and versions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cnnbench import checks, results
from cnnbench.backend import BACKENDS, DEVICES, gpu_names, hide_gpus, machine_info

SESSION = pytest.StashKey["BenchSession"]()


def _csv(kind, name):
    def parse(text: str) -> list:
        try:
            values = [kind(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise pytest.UsageError(
                f"--{name} {text!r}: expected comma-separated numbers"
            ) from None
        if not values or any(v <= 0 for v in values):
            raise pytest.UsageError(f"--{name} {text!r}: every value must be > 0")
        return values

    return parse


def _choices(text: str, allowed: tuple[str, ...], name: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in values if v not in allowed]
    if not values or unknown:
        raise pytest.UsageError(f"--{name} {text!r}: choose from {', '.join(allowed)}")
    return values


def variants(impls: list[str], profiles: list[str]) -> list[tuple[str, str | None]]:
    """(impl, profile) pairs: each Keras profile, and native once (it has no profile)."""
    pairs: list[tuple[str, str | None]] = []
    for impl in impls:
        pairs += [(impl, p) for p in profiles] if impl == "keras" else [(impl, None)]
    return pairs


def pytest_addoption(parser):
    group = parser.getgroup("cnnbench", "cnnbench benchmark options")
    group.addoption(
        "--filters",
        default="8,16,32,64,128,256",
        help="filter counts for test_filters (default: %(default)s)",
    )
    group.addoption(
        "--lrs",
        default="0.1,0.01,0.001,0.0001",
        help="learning rates for test_learning_rate (default: %(default)s)",
    )
    group.addoption("--epochs", type=int, default=10, help="epochs per run (default: 10)")
    group.addoption(
        "--train-subset",
        type=int,
        default=None,
        metavar="N",
        help="train on the first N of the 55000 images (default: all)",
    )
    group.addoption("--rounds", type=int, default=1, help="timed trainings per benchmark")
    group.addoption("--seed", type=int, default=0)
    group.addoption(
        "--device",
        choices=DEVICES,
        default="auto",
        help="cpu hides GPUs; gpu fails at start without one (default: auto)",
    )
    group.addoption("--impl", default="keras", help="keras,native (default: keras)")
    group.addoption(
        "--profile", default="default", help="Keras profiles: default,tuned (default: default)"
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


@dataclass
class BenchSession:
    """Everything the benchmarks share: what runs where, the data, the results file."""

    config: pytest.Config
    backend: str
    device: str  # as requested: auto, cpu or gpu
    device_name: str  # what the backend will run on: 'cpu' or the GPU's name
    machine: dict  # backend, device, CPU, GPU and driver, library versions
    results_path: Path
    filters: list[int]
    learning_rates: list[float]
    variants: list[tuple[str, str | None]]
    epochs: int
    train_subset: int | None
    rounds: int
    seed: int
    resume: bool
    total_runs: int = 0
    started_runs: int = 0
    finished: dict[tuple, list[dict]] = field(default_factory=dict)  # (variant, filters, lr)
    peak_gflops: float | None = None  # measured once, before the first timed run
    _data: object = None

    @property
    def kind(self) -> str:
        return "cpu" if self.device_name == "cpu" else "gpu"

    @property
    def data(self):
        if self._data is None:
            from cnnbench.data import load

            self._data = load()
            self.write(f"cnnbench: MNIST from {self._data.source}")
        return self._data

    def write(self, line: str) -> None:
        """Print past pytest's capture, so a long sweep is never silent."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        if capture is None:
            reporter.write_line(line)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)

    def expected(self, name: str, variant, filters: int, learning_rate: float) -> dict:
        return {
            "benchmark": name,
            "impl": variant[0],
            "profile": variant[1],
            "backend": self.backend,
            "device": self.device_name,
            "filters": filters,
            "learning_rate": learning_rate,
            "epochs": self.epochs,
            "batch_size": 50,
            "train_samples": self.train_subset or 55000,
            "seed": self.seed,
            "versions": self.machine["versions"],
        }

    def already_done(self, expected: dict) -> list[dict]:
        if not (self.resume and self.results_path.exists()):
            return []
        key = results.settings_key(expected)
        return [
            r["result"]
            for r in results.read(self.results_path, allow_torn_tail=True)
            if r.get("benchmark") == expected["benchmark"]
            and results.settings_key(r["result"]) == key
        ]

    def measure(self, benchmark, name, variant, filters, learning_rate, extra_check=None):
        """Time `rounds` full trainings; a run counts only once its checks pass."""
        from cnnbench.peak import matmul_peak_gflops
        from cnnbench.progress import EpochLog
        from cnnbench.train import RunConfig, run

        self.started_runs += 1
        expected = self.expected(name, variant, filters, learning_rate)
        done = self.already_done(expected)
        if len(done) >= self.rounds:
            self.finished[(variant, filters, learning_rate)] = done
            pytest.skip(f"--resume: {len(done)} finished run(s) in {self.results_path}")

        config = RunConfig(
            filters=filters,
            learning_rate=learning_rate,
            epochs=self.epochs,
            batch_size=50,
            seed=self.seed,
            device=self.device,
            train_subset=self.train_subset,
            impl=variant[0],
            profile=variant[1] or "default",
        )
        data = self.data  # loaded before the clock starts
        if self.peak_gflops is None:
            self.peak_gflops = matmul_peak_gflops(2048 if self.device_name == "cpu" else 8192)
            self.write(f"cnnbench: fp32 matmul peak {self.peak_gflops:.1f} GFLOP/s")
        label = f"[{self.started_runs}/{self.total_runs}] {self.backend} {self.device_name} {name}"
        runs: list[dict] = []

        def train():
            result = run(config, data, callbacks=[EpochLog(label, self.write)])
            runs.append(result.with_peak(self.peak_gflops).to_dict())

        def check():  # pedantic's teardown: untimed, and a failure drops the time
            result = runs[-1]
            found = checks.problems(result)
            if result["device"] != self.device_name:
                found.append(f"ran on {result['device']!r}, labelled {self.device_name!r}")
            if extra_check is not None:
                found += extra_check(result)
            if found:
                raise AssertionError(f"{name}: " + "; ".join(found))
            floor = checks.floor_for(result).reason
            results.append(
                self.results_path,
                {
                    "benchmark": name,
                    "round": len(runs) - 1,
                    "floor": floor,
                    "machine": self.machine,
                    "result": result,
                },
            )
            self.write(
                f"{label} done: runtime {result['runtime_s']:.1f} s, "
                f"val_accuracy {result['val_accuracy']:.4f}, "
                f"test_error {result['test_error']:.4f} -> {self.results_path}"
            )

        benchmark.pedantic(train, teardown=check, rounds=self.rounds, iterations=1)
        benchmark.extra_info["floor"] = checks.floor_for(runs[-1]).reason
        benchmark.extra_info["runs"] = runs
        self.finished[(variant, filters, learning_rate)] = runs
        return runs


def pytest_configure(config):
    # The unit tests turn warnings into errors (pyproject); a benchmark reports them
    # instead: a library's deprecation notice (Keras on torch under numpy 2.5 gives
    # one every step) must not throw away minutes of measured training. Appended last,
    # this filter takes precedence over the ini's "error".
    config.addinivalue_line("filterwarnings", "default")
    device = config.getoption("--device")
    if device == "cpu":
        hide_gpus()  # before any backend is imported
    backend = os.environ.get("KERAS_BACKEND") or "tensorflow"
    if backend not in BACKENDS:
        raise pytest.UsageError(f"KERAS_BACKEND={backend!r}: expected one of {', '.join(BACKENDS)}")
    for name in ("epochs", "rounds"):
        if config.getoption(f"--{name}") < 1:
            raise pytest.UsageError(f"--{name} must be >= 1")
    subset = config.getoption("--train-subset")
    if subset is not None and not 1 <= subset <= 55000:
        raise pytest.UsageError("--train-subset must be in 1..55000")

    import keras  # noqa: F401  (imports the backend named by KERAS_BACKEND)

    gpus = gpu_names(backend)
    if device == "gpu" and not gpus:
        raise pytest.UsageError(f"--device gpu: the {backend} backend sees no GPU; nothing was run")
    device_name = gpus[0] if gpus and device != "cpu" else "cpu"
    kind = "cpu" if device_name == "cpu" else "gpu"
    results_path = Path(
        config.getoption("--results")
        or config.rootpath / "reports" / f"results-{backend}-{kind}.jsonl"
    )
    config.stash[SESSION] = BenchSession(
        config=config,
        backend=backend,
        device=device,
        device_name=device_name,
        machine=machine_info(backend, device_name),
        results_path=results_path,
        filters=_csv(int, "filters")(config.getoption("--filters")),
        learning_rates=_csv(float, "lrs")(config.getoption("--lrs")),
        variants=variants(
            _choices(config.getoption("--impl"), ("keras", "native"), "impl"),
            _choices(config.getoption("--profile"), ("default", "tuned"), "profile"),
        ),
        epochs=config.getoption("--epochs"),
        train_subset=subset,
        rounds=config.getoption("--rounds"),
        seed=config.getoption("--seed"),
        resume=config.getoption("--resume"),
    )


def pytest_report_header(config):
    s = config.stash[SESSION]
    return (
        f"cnnbench: backend {s.backend} on {s.device_name} (--device {s.device}), "
        f"epochs {s.epochs}, train subset {s.train_subset or 'all'}, rounds {s.rounds}, "
        f"results {s.results_path}{' (resume)' if s.resume else ''}"
    )


def pytest_generate_tests(metafunc):
    s = metafunc.config.stash[SESSION]
    if "filters" in metafunc.fixturenames:
        metafunc.parametrize("filters", s.filters, ids=str)
    if "variant" in metafunc.fixturenames:
        metafunc.parametrize(
            "variant", s.variants, ids=lambda v: v[0] if v[1] is None else f"{v[0]}-{v[1]}"
        )
    if "learning_rate" in metafunc.fixturenames:
        metafunc.parametrize("learning_rate", s.learning_rates, ids=lambda lr: f"{lr:g}")


def pytest_collection_finish(session):
    session.config.stash[SESSION].total_runs = len(session.items)  # after -k/-m deselection


@pytest.fixture(scope="session")
def bench(request) -> BenchSession:
    return request.config.stash[SESSION]


def pytest_benchmark_update_machine_info(config, machine_info):
    s = config.stash[SESSION]
    machine_info["cnnbench"] = s.machine
