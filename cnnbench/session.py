"""A benchmark session: the state every benchmark of one pytest session shares.

Built from the plan (`cnnbench.plan`): this session's runs, the ones already on file and
the ones to do, and an estimate, all said before the first warm-up. Then, before the
first timed run, each path's warm-up at each width it still has runs to do at and the
matmul peak; then each run built (untimed), timed by pytest-benchmark's pedantic (`fit`
alone), checked and recorded (untimed). The sweep's rules are `cnnbench.sweep`;
`benchmarks/conftest.py` hands this the pytest pieces, so the session runs in-process in
the unit tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cnnbench import energy, interrupt
from cnnbench.estimate import Estimator
from cnnbench.experiment import EPOCHS, TRAIN_SIZE
from cnnbench.plan import Planned, hours
from cnnbench.records import path_label, variant_id
from cnnbench.sweep import Sweep


def _median(values: Sequence[float]) -> float:
    return sorted(values)[len(values) // 2]


def _seconds(value: float) -> str:
    """Two significant figures under 10 s (a sub-second cell is never "0 s")."""
    return f"{value:.2g} s" if value < 10 else hours(value)


class Session:
    """What each benchmark calls: time one planned run (`measure`), with the session's
    state."""

    def __init__(
        self,
        sweep: Sweep,
        runs: Sequence[Planned],
        skip: Callable,
        data=None,
        estimator: Estimator | None = None,
    ) -> None:
        self.sweep = sweep
        self.runs = list(runs)  # this session's share of the plan, in order
        self.skip = skip  # pytest.skip: ends a benchmark with a reason
        self._data = data  # MNIST, loaded and verified when the session started
        self.estimator = estimator or Estimator.build(
            sweep.backend, sweep.kind, sweep.precision, sweep.like_records()
        )
        self.done = {run: sweep.on_file(run.name, self.config(run)) for run in self.runs}
        self.todo = [run for run in self.runs if self.done[run] is None]
        self.started = 0

    def planned(self, name: str) -> Planned:
        """The planned run a benchmark of this name times."""
        return next(run for run in self.runs if run.name == name)

    def results(self) -> list[tuple[Planned, dict]]:
        """(run, result) of every run of this session that has one: on file when it started,
        or timed since."""
        out = []
        for run in self.runs:
            key = (run.variant, run.filters, run.learning_rate, run.round)
            result = self.sweep.finished.get(key) or self.done.get(run)
            if result is not None:
                out.append((run, result))
        return out

    def beside_published(self) -> list[str]:
        """Each cell timed here beside the published machine's time for the same cell,
        scaled to this run's length (the published rates), and the ratio: where this
        machine stands, even after a --quick first look."""
        from cnnbench.estimate import published, published_machine

        sweep = self.sweep
        machine = published_machine(sweep.kind)
        table = Estimator(sweep.backend, sweep.kind, sweep.precision, {}, published())
        cells: dict[tuple, list[dict]] = {}
        for run, result in self.results():
            key = (run.test, run.variant, run.filters, run.learning_rate)
            cells.setdefault(key, []).append(result)
        lines = []
        full = None
        for (test, variant, filters, lr), found in cells.items():
            path = path_label(*variant)
            if machine is None or table.source(path) == "none":
                continue
            config = self.config(Planned(sweep.backend, test, variant, filters, lr, 0))
            full = (config.epochs, config.train_samples) == (EPOCHS, TRAIN_SIZE)
            if full:  # a whole run against a whole run
                here = _median([r["runtime_s"] for r in found])
                there = table.seconds(path, filters, config.epochs * config.train_samples)
            else:  # a short run's compilation weighs more: its steady epoch against theirs
                steady = [r["steady_epoch_s"] for r in found if r.get("steady_epoch_s")]
                if not steady:
                    continue
                here = _median(steady)
                there = table.seconds(path, filters, config.train_samples)
            lines.append(
                f"  {sweep.backend} {path} {filters}f lr {lr:g}: {_seconds(here)} here, "
                f"{_seconds(there)} there: {here / there:.2f}x"
            )
        if lines:
            what = "same cell, same length" if full else "a steady epoch of the same cell"
            lines.insert(0, f"cnnbench: beside the published {machine} ({what}):")
        return lines

    def config(self, run: Planned):
        return self.sweep.config(run.variant, run.filters, run.learning_rate, run.round)

    @property
    def data(self):
        if self._data is None:
            from cnnbench.data import load

            self._data = load()
        return self._data

    def seconds(self, runs: Sequence[Planned]) -> float:
        total = 0.0
        for run in runs:
            config = self.config(run)
            images = config.epochs * config.train_samples
            total += self.estimator.seconds(path_label(*run.variant), run.filters, images)
        return total

    def source(self) -> str:
        paths = {path_label(*run.variant) for run in self.todo}
        sources = {self.estimator.source(path) for path in paths}
        if "none" in sources:
            return "unknown until the warm-ups"
        return "from " + " and ".join(sorted(sources))

    def summary(self) -> str:
        """Planned, on file, to do, and about how long: the counts agree by construction."""
        on_file = len(self.runs) - len(self.todo)
        estimate = self.source()
        about = hours(self.seconds(self.todo))
        how = f"about {about} ({estimate})" if "unknown" not in estimate else estimate
        if not self.todo:
            how = "nothing to do"
        return (
            f"cnnbench: {len(self.runs)} runs planned, {on_file} on file, "
            f"{len(self.todo)} to do, {how}"
        )

    def _ready(self) -> None:
        """Warm every path up at every width it still has runs to do at, then measure the
        peak, once, before the first timed run; then say the estimate again, from the
        warm-ups' own rates where nothing better was known."""
        from cnnbench.peak import SIZES, matmul_peak_gflops
        from cnnbench.train import run as train

        sweep = self.sweep
        if sweep.warmed_up:
            return
        warmups = []
        for config in sweep.warmup_configs(self.todo):
            interrupt.check()
            result = train(config, self.data)
            sweep.record("warmup", 0, result, warmup=True)
            warmups.append({"warmup": True, "result": result.to_dict()})
            path = variant_id(config.impl, config.recorded_profile)
            sweep.write(
                f"cnnbench: warm-up {path} {config.filters}f: {result.runtime_s:.1f} s (untimed)"
            )
        sweep.peak_gflops = matmul_peak_gflops(SIZES[sweep.kind], precision=sweep.precision)
        sweep.write(f"cnnbench: {sweep.precision} matmul peak {sweep.peak_gflops:.1f} GFLOP/s")
        self.meter = energy.calibrated(sweep.kind)
        if self.meter.gpu is not None and self.meter.gpu.handle is not None:
            sweep.write(
                f"cnnbench: GPU idle {self.meter.idle_w or float('nan'):.1f} W, energy counter "
                f"every {self.meter.period_s * 1000:.0f} ms"
            )
        else:
            reason = self.meter.gpu.reason if self.meter.gpu else self.meter.cpu.reason
            sweep.write(f"cnnbench: energy: {reason or 'RAPL package counters'}")
        sweep.warmed_up = True
        if "unknown" in self.source():
            self.estimator.add(warmups)
            sweep.write(
                f"cnnbench: {len(self.todo)} runs to do, about {hours(self.seconds(self.todo))}"
                " (from the warm-ups' rates)"
            )

    def measure(self, benchmark, run: Planned, extra=None) -> None:
        """Time one run; it counts only once its checks pass."""
        from cnnbench.progress import EpochLog
        from cnnbench.train import prepare

        interrupt.check()
        sweep = self.sweep
        config = self.config(run)
        key = (run.variant, run.filters, run.learning_rate, run.round)
        if self.done.get(run) is not None:
            sweep.finished[key] = self.done[run]
            self.skip(f"--resume: on file in {sweep.results_path}")
        data = self.data  # loaded before the clock starts
        self._ready()
        self.started += 1
        label = f"[{self.started}/{len(self.todo)}] {sweep.backend} {sweep.device_name} {run.name}"

        def setup():
            prepared = prepare(config, data, callbacks=[EpochLog(label, sweep.write)])
            self.meter.start()  # the last thing before the timed region
            return (prepared,), {}

        def timed(prepared):
            prepared.measured = prepared.fit()

        def teardown(prepared):  # untimed; a failed check drops the time
            joules = self.meter.stop()  # the first thing after it
            result = prepared.finish(prepared.measured).with_peak(sweep.peak_gflops).to_dict()
            result["energy"] = joules
            found = sweep.problems(result, extra)
            if found:
                raise AssertionError(f"{run.name}: " + "; ".join(found))
            sweep.record(run.name, run.round, result)
            sweep.finished[key] = result
            benchmark.extra_info.update(
                round=run.round, runs=[result], sweep=sweep.sweep_id, shard=sweep.shard
            )
            sweep.write(
                f"{label} done: runtime {result['runtime_s']:.1f} s, "
                f"val_accuracy {result['val_accuracy']:.4f}, "
                f"test_error {result['test_error']:.4f} -> {sweep.results_path}"
            )

        benchmark.pedantic(timed, setup=setup, teardown=teardown, rounds=1, iterations=1)
