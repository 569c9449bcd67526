"""A benchmark session: the state every benchmark of one pytest session shares.

MNIST loaded once; before the first timed run, each path's warm-up at each width, the
matmul peak and an estimate of the time the plan will take; then each run built
(untimed), timed by pytest-benchmark's pedantic (`fit` alone), checked and recorded
(untimed). The sweep's rules are `cnnbench.sweep`; `benchmarks/conftest.py` hands this
the pytest pieces.
"""

from __future__ import annotations

from collections.abc import Callable

from cnnbench.experiment import LEARNING_RATE, LR_FILTERS
from cnnbench.records import Variant, variant_id
from cnnbench.sweep import Sweep, estimate_seconds


class Session:
    """What each benchmark calls: time one run (`measure`), with the session's state."""

    def __init__(
        self,
        sweep: Sweep,
        total: int,
        planned: list[tuple[str, dict]],
        skip: Callable,
        data=None,
    ) -> None:
        self.sweep, self.total, self.started = sweep, total, 0
        self.planned = planned  # (test name, its parameters) in the order they will run
        self.skip = skip  # pytest.skip: ends a benchmark with a reason
        self._data = data  # MNIST, loaded and verified when the session started

    @property
    def data(self):
        if self._data is None:
            from cnnbench.data import load

            self._data = load()
        return self._data

    def _ready(self, filters: int) -> None:
        """Warm every path up at every width, then measure the peak, once, before the first
        timed run."""
        from cnnbench.peak import SIZES, matmul_peak_gflops
        from cnnbench.train import run

        sweep = self.sweep
        if sweep.warmed_up:
            return
        warmups = {}  # each path's widest warm-up: the rate of the estimate
        widths = {filters, *(c.filters for _, c in self._configs())}
        for config in sweep.warmup_configs(widths):
            result = run(config, self.data)
            sweep.record("warmup", 0, result, warmup=True)
            path = variant_id(config.impl, config.recorded_profile)
            warmups.setdefault(path, result.to_dict())
            sweep.write(
                f"cnnbench: warm-up {path} {config.filters}f: {result.runtime_s:.1f} s (untimed)"
            )
        sweep.peak_gflops = matmul_peak_gflops(SIZES[sweep.kind], precision=sweep.precision)
        sweep.write(f"cnnbench: {sweep.precision} matmul peak {sweep.peak_gflops:.1f} GFLOP/s")
        sweep.warmed_up = True
        todo = [c for name, c in self._configs() if sweep.on_file(name, c) is None]
        records = sweep.records()
        hours = estimate_seconds(todo, records, warmups) / 3600
        sweep.write(
            f"cnnbench: {len(todo)} runs to do, about {hours:.1f} h "
            f"(from {'like runs on file, else ' if records else ''}the warm-up's rate)"
        )

    def twin(self, variant: Variant, learning_rate: float, round_: int) -> str | None:
        """The filter-sweep run that a learning-rate run at lr 0.1 would repeat, if planned."""
        name = f"test_filters[{LR_FILTERS}-{variant_id(*variant)}-r{round_}]"
        planned = any(planned == name for planned, _ in self.planned)
        return name if learning_rate == LEARNING_RATE and planned else None

    def _configs(self):
        for name, params in self.planned:
            variant, lr = params["variant"], params.get("learning_rate", LEARNING_RATE)
            if self.sweep.redundant(variant):
                continue
            if "filters" not in params and self.twin(variant, lr, params["round_"]):
                continue
            filters = params.get("filters", LR_FILTERS)
            yield name, self.sweep.config(params["variant"], filters, lr, params["round_"])

    def measure(self, benchmark, name, variant, filters, learning_rate, round_, extra=None):
        """Time one run; it counts only once its checks pass."""
        from cnnbench.progress import EpochLog
        from cnnbench.train import prepare

        sweep = self.sweep
        self.started += 1
        config = sweep.config(variant, filters, learning_rate, round_)
        key = (variant, filters, learning_rate, round_)
        if sweep.redundant(variant):
            self.skip(sweep.redundant(variant))
        done = sweep.on_file(name, config)
        if done is not None:
            sweep.finished[key] = done
            self.skip(f"--resume: on file in {sweep.results_path}")
        data = self.data  # loaded before the clock starts
        self._ready(filters)
        label = f"[{self.started}/{self.total}] {sweep.backend} {sweep.device_name} {name}"

        def setup():
            return (prepare(config, data, callbacks=[EpochLog(label, sweep.write)]),), {}

        def timed(prepared):
            prepared.measured = prepared.fit()

        def teardown(prepared):  # untimed; a failed check drops the time
            result = prepared.finish(prepared.measured).with_peak(sweep.peak_gflops).to_dict()
            found = sweep.problems(result, extra)
            if found:
                raise AssertionError(f"{name}: " + "; ".join(found))
            sweep.record(name, round_, result)
            sweep.finished[key] = result
            benchmark.extra_info.update(round=round_, runs=[result])
            sweep.write(
                f"{label} done: runtime {result['runtime_s']:.1f} s, "
                f"val_accuracy {result['val_accuracy']:.4f}, "
                f"test_error {result['test_error']:.4f} -> {sweep.results_path}"
            )

        benchmark.pedantic(timed, setup=setup, teardown=teardown, rounds=1, iterations=1)
