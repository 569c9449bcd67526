"""A benchmark sweep as a library: its runs and their order, what is on file, what is kept.

`benchmarks/conftest.py` is the pytest glue around a `Sweep`: pytest-benchmark times
`Prepared.fit` (pedantic `setup` builds the run, `teardown` checks and records it).

- **Rounds.** Every (benchmark, path, width, learning rate) is timed `rounds` times;
  round *i* trains with seed `seed + i`, so the spread covers timing noise and
  seed-to-seed accuracy. The session runs round by round (all of round 0, then all of
  round 1, ...), so a shared machine's slow drift hits every cell alike and a sweep cut
  short still has one round of everything it reached.
- **Nothing lost.** Each finished run is appended at once to the results file
  (`cnnbench.results`); with `resume`, a run already on file with the same settings,
  round, backend, device, precision and versions is never redone.
- **Warm-up.** Before the first timed run, each path trains briefly, untimed, at each
  width it has runs to do at, so the process's one-time costs (library loading, CUDA
  context, autotuning) land in no run's time; the warm-up is recorded
  (`"warmup": true`), never reported.

Which runs a session times, and in what order, is the plan's (`cnnbench.plan`).
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cnnbench import checks, profiles, results
from cnnbench.backend import kind_of, same_machine
from cnnbench.experiment import BATCH_SIZE, LEARNING_RATE, WARMUP_SAMPLES
from cnnbench.records import RunConfig, RunResult, Variant, asked, variant_id


def settings_match(wanted: Mapping, recorded: Mapping) -> bool:
    """Whether a recorded run ran with (at least) the settings a new run would use."""
    return all(recorded.get(key) == value for key, value in wanted.items())


def commit(root: Path) -> str | None:
    """The checkout's commit, `+dirty` when it has uncommitted changes; None outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


@dataclass
class Sweep:
    backend: str
    device: str  # as requested: auto, cpu or gpu
    device_name: str  # what the backend runs on: 'cpu' or the GPU's name
    machine: dict  # backend, device, CPU, GPU and driver, versions, commit
    results_path: Path
    precision: str  # as computed on this device (tf32 on a CPU is fp32)
    epochs: int
    train_subset: int | None
    seed: int
    rounds: int
    resume: bool
    variants: list[Variant]
    choices: dict = field(default_factory=dict)  # variant id -> settings, from `tune`
    write: Callable[[str], None] = print
    finished: dict[tuple, dict] = field(default_factory=dict)  # (variant, f, lr, round)
    sweep_id: str | None = None  # the plan's (`cnnbench.plan.sweep_id`), in every record
    shard: str = "1/1"
    peak_gflops: float | None = None
    warmed_up: bool = False
    _records: list[dict] | None = None

    @property
    def kind(self) -> str:
        return kind_of(self.device_name)

    def config(self, variant: Variant, filters: int, learning_rate: float, round_: int):
        impl, profile = variant
        return RunConfig(
            filters=filters,
            learning_rate=learning_rate,
            epochs=self.epochs,
            batch_size=BATCH_SIZE,
            seed=self.seed + round_,
            device=self.device,
            train_subset=self.train_subset,
            impl=impl,
            profile=profile or "default",
            precision=self.precision,
            settings=self.choices.get(variant_id(*variant)),
        )

    def records(self) -> list[dict]:
        """What the results file held when the session started."""
        if self._records is None:
            exists = self.results_path.exists()
            self._records = results.read(self.results_path, allow_torn_tail=True) if exists else []
        return self._records

    def counts(self, record: dict) -> bool:
        """Whether a record on file is a valid run of this machine: not a warm-up or a
        `tune` candidate, measured on this CPU model, core count and GPU, and passing
        the checks a new run must pass."""
        machine = record.get("machine")
        if record.get("warmup") or record.get("candidate") or not isinstance(machine, dict):
            return False
        if not same_machine(machine, self.machine):
            return False
        try:
            return not self.problems(record["result"])
        except (KeyError, TypeError, ValueError, OverflowError):
            return False  # a record the checks cannot even read is no run

    def on_file(self, name: str, config: RunConfig) -> dict | None:
        """The result of this very run (same round) if the results file holds it."""
        if not self.resume:
            return None
        key = results.settings_key(
            asked(config, self.backend, self.device_name, self.machine["versions"])
        )
        wanted = profiles.for_run(config, self.backend, self.kind)
        for record in self.records():
            result = record["result"]
            if (
                record.get("benchmark") == name
                and results.settings_key(result) == key
                and settings_match(wanted, result.get("settings") or {})
                and self.counts(record)
            ):
                return result
        return None

    def like_records(self) -> list[dict]:
        """The records on file of this machine: what the estimate's rates come from."""
        return [r for r in self.records() if same_machine(r.get("machine") or {}, self.machine)]

    def warmup_configs(self, todo: Iterable) -> list[RunConfig]:
        """Short, untimed runs (two epochs: the second gives a steady rate for the
        estimate), one per path at each width it still has runs to do at, widest first:
        the process's one-time costs, autotuning each width's kernels included, then land
        in no timed run."""
        samples = min(WARMUP_SAMPLES, self.train_subset or WARMUP_SAMPLES)
        pairs = {(run.filters, run.variant): None for run in todo}  # in plan order
        widths = sorted({filters for filters, _ in pairs}, reverse=True)
        return [
            dataclasses.replace(
                self.config(variant, filters, LEARNING_RATE, 0), epochs=2, train_subset=samples
            )
            for width in widths
            for filters, variant in pairs
            if filters == width
        ]

    def problems(self, result: dict, extra: Callable[[dict], list[str]] | None = None):
        """Everything wrong with a finished run; empty when its time may count."""
        found = checks.problems(result)
        if result.get("device") != self.device_name:
            found.append(f"ran on {result['device']!r}, labelled {self.device_name!r}")
        if result.get("precision") != self.precision:
            found.append(f"computed in {result.get('precision')}, asked for {self.precision}")
        if extra is not None:
            found += extra(result)
        return found

    def record(self, name: str, round_: int, result: RunResult | dict, warmup=False) -> None:
        data = result.to_dict() if isinstance(result, RunResult) else result
        record = {"benchmark": name, "round": round_, "machine": self.machine, "result": data}
        record["date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if self.sweep_id:
            record.update(sweep=self.sweep_id, shard=self.shard)
        if warmup:
            record["warmup"] = True
        else:
            record["floor"] = checks.floor_for(data).reason
        results.append(self.results_path, record)
