"""A block run: its workers started and warmed, then its rounds, each run recorded the
moment it finishes (`cnnbench.block` is the block as a value, `cnnbench.worker` a worker).

    runner = Runner(block, Path("b.jsonl"), make_worker=ProcessWorker-factory, resume=True)
    outcome = runner.run()        # the runs timed, the arms lost, the runs that failed

Workers are started one after another, each only when the machine has room for it;
then, per worker, its cold run (with `cold`) and its warm-up; then the rounds in the
block's order. A worker that dies is named with its arm and round and the block goes on
without it; a run that fails its checks is named and not recorded; `--resume` redoes
exactly those.
"""

from __future__ import annotations

import dataclasses
import secrets
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cnnbench import checks, results
from cnnbench.backend import same_machine
from cnnbench.block import Arm, Block, BlockError, Unit, blocks_on_file, done_in, record_of
from cnnbench.plan import hours
from cnnbench.precision import effective
from cnnbench.records import RunConfig
from cnnbench.worker import WorkerError

MIN_FREE_GIB = 2.0  # left free after the workers start: the runs' own peak needs room


class Worker:
    """What the block needs of a worker (`cnnbench.worker.ProcessWorker` is the real one;
    the tests give a fake): `start` -> ready message, `request` -> reply, `close`."""

    def start(self, cache: Path) -> dict:  # pragma: no cover - an interface
        raise NotImplementedError

    def request(self, message: Mapping) -> dict:  # pragma: no cover
        raise NotImplementedError

    def close(self, kill: bool = False) -> None:  # pragma: no cover
        raise NotImplementedError


def free_gib() -> float | None:
    """MemAvailable, in GiB; None where the kernel does not say."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass
class Outcome:
    timed: int = 0
    failed: list[str] = dataclasses.field(default_factory=list)  # arm, round: why
    dead: dict[str, str] = dataclasses.field(default_factory=dict)  # arm -> why


def problems(result: Mapping, worker_ready: Mapping, unit: Unit) -> list[str]:
    """Everything wrong with a finished run of this arm: the suite's checks, and the
    Keras version and precision it was asked for."""
    found = checks.problems(result)
    keras = (result.get("versions") or {}).get("keras")
    if unit.arm.keras and keras != unit.arm.keras:
        found.append(f"ran Keras {keras}, asked for {unit.arm.keras}")
    wanted = effective(unit.arm.precision, worker_ready["machine"]["device_kind"])
    if result.get("precision") != wanted:
        found.append(f"computed in {result.get('precision')}, asked for {wanted}")
    return found


def _machine(machine: Mapping) -> str:
    return f"{machine.get('cpu_model')} x{machine.get('cpu_count')}, GPU {machine.get('gpu')}"


class Runner:
    """Runs one block into one results file: workers started, warmed, then the rounds."""

    def __init__(
        self,
        block: Block,
        results_path: Path,
        make_worker: Callable[[Arm], Worker],
        write: Callable[[str], None] = print,
        resume: bool = False,
        free: Callable[[], float | None] = free_gib,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        commit: str | None = None,  # the code's, recorded with every run
        replicate: str | None = None,  # "K/N": this block's place among replicates (Ray)
    ) -> None:
        self.block, self.path, self.make_worker = block, results_path, make_worker
        self.commit, self.replicate = commit, replicate
        self.write, self.free, self.now = write, free, now
        records = results.read(results_path, allow_torn_tail=True) if results_path.exists() else []
        ids = blocks_on_file(records, block.digest)
        if ids and not resume:
            raise BlockError(
                f"--results {results_path}: holds block {ids[-1]} of these arms already; "
                "--resume continues it, or name another file"
            )
        stamp = self.now().strftime("%Y%m%dT%H%M%SZ")  # and a nonce: two blocks, two ids
        self.block_id = ids[-1] if ids else f"{block.digest}-{stamp}-{secrets.token_hex(2)}"
        self.done = done_in(records, self.block_id)
        mine = [r for r in records if (r.get("block") or {}).get("id") == self.block_id]
        self.machine = mine[0].get("machine") if mine else None  # where it was timed
        self.seconds: dict[str, list[float]] = {}  # arm -> this invocation's runtimes
        self.workers: dict[Arm, Worker] = {}
        self.ready: dict[Arm, dict] = {}
        self.peak: dict[Arm, float | None] = {}
        self.outcome = Outcome()

    def todo(self) -> list[tuple[int, int, Unit]]:
        """(round, place, unit) of every warm run still to do, in the block's order."""
        out = []
        for round_ in range(self.block.rounds):
            for place, unit in enumerate(self.block.order(round_)):
                if unit.arm.key(unit.filters, round_) not in self.done:
                    out.append((round_, place, unit))
        return out

    def _append(self, record: dict, result: dict, ready: Mapping) -> None:
        record.update(
            machine={**ready["machine"], "commit": self.commit},
            date=self.now().isoformat(timespec="seconds"),
            floor=checks.floor_for(result).reason,
            result=result,
        )
        if self.replicate:
            record["block"]["replicate"] = self.replicate
        results.append(self.path, record)

    def _run(self, arm: Arm, config: RunConfig) -> dict:
        reply = self.workers[arm].request({"op": "run", "config": dataclasses.asdict(config)})
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def _start(self, arms: Sequence[Arm], caches: Path) -> None:
        for arm in arms:
            free = self.free()
            if free is not None and free < MIN_FREE_GIB:
                raise BlockError(
                    f"arm {arm.name}: {free:.1f} GiB of memory free before its worker starts "
                    f"(under {MIN_FREE_GIB:g}); time fewer arms a block"
                )
            worker = self.make_worker(arm)
            self.workers[arm] = worker
            try:
                ready = worker.start(caches / f"{len(self.workers)}")
            except WorkerError as err:
                raise BlockError(f"arm {arm.name}: its worker did not start: {err}") from None
            self.ready[arm] = ready
            if self.machine is not None and not same_machine(self.machine, ready["machine"]):
                raise BlockError(
                    f"--resume: block {self.block_id} was timed on {_machine(self.machine)}, "
                    f"this is {_machine(ready['machine'])}: a block never spans two machines; "
                    "name another --results for a new block"
                )
            versions = ready["machine"]["versions"]
            if arm.keras and versions.get("keras") != arm.keras:
                raise BlockError(
                    f"arm {arm.name}: its worker has Keras {versions.get('keras')}, "
                    f"not {arm.keras}"
                )
            self.write(
                f"cnnbench: arm {arm.name}: worker ready in {ready['startup_s']:.1f} s "
                f"(keras {versions.get('keras')}, {ready['machine']['device']})"
            )

    def _cold(self, arm: Arm) -> None:
        """The worker's first run, before any warm-up: a cold start, recorded apart."""
        unit = Unit(arm, min(self.block.filters))
        if arm.key(unit.filters, 0, cold=True) in self.done:
            return
        result = self._run(arm, self.block.config(unit, 0))
        ready = self.ready[arm]
        found = problems(result, ready, unit)
        if found:
            self.outcome.failed.append(f"{arm.name} cold: {'; '.join(found)}")
            return
        to_first = ready["startup_s"] + (result.get("setup_s") or 0) + result["first_epoch_s"]
        record = record_of(self.block_id, self.block, unit, 0, -1, cold=True)
        record["block"].update(startup_s=ready["startup_s"], to_first_epoch_s=to_first)
        self._append(record, result, ready)
        self.write(
            f"cnnbench: cold {arm.name} {unit.filters}f: first epoch {to_first:.1f} s after "
            f"its process started, the whole run {result['runtime_s']:.1f} s (recorded apart)"
        )

    def _warm(self, arm: Arm, widths: Iterable[int]) -> None:
        for filters in sorted(set(widths), reverse=True):
            result = self._run(arm, self.block.config(Unit(arm, filters), 0, warmup=True))
            self.write(
                f"cnnbench: warm-up {arm.name} {filters}f: one epoch, "
                f"{result['runtime_s']:.1f} s (untimed)"
            )
        reply = self.workers[arm].request({"op": "peak", "precision": arm.precision})
        self.peak[arm] = reply.get("peak")

    def _lose(self, arm: Arm, round_: int | None, err: Exception) -> None:
        where = f"round {round_}" if round_ is not None else "its warm-up"
        self.outcome.dead[arm.name] = f"{where}: {err}"
        self.write(f"cnnbench: arm {arm.name} lost in {where}: {err}; the block goes on without it")
        worker = self.workers.pop(arm, None)
        if worker is not None:
            worker.close()

    def run(self) -> Outcome:
        todo = self.todo()
        arms = [arm for arm in self.block.arms if any(u.arm == arm for _, _, u in todo)]
        if self.block.cold:
            width = min(self.block.filters)
            cold = [arm for arm in self.block.arms if arm.key(width, 0, True) not in self.done]
            arms += [arm for arm in cold if arm not in arms]
        self.write(
            f"cnnbench: block {self.block_id}: {len(self.block.arms)} arms x "
            f"{len(self.block.filters)} widths x {self.block.rounds} rounds; "
            f"{len(todo)} runs to do, {len(self.done)} on file in {self.path}"
        )
        with tempfile.TemporaryDirectory(prefix="cnnbench-caches-") as caches:
            try:
                self._start(arms, Path(caches))
                for arm in arms:
                    try:
                        if self.block.cold:
                            self._cold(arm)
                        self._warm(arm, [u.filters for _, _, u in todo if u.arm == arm])
                    except (WorkerError, RuntimeError) as err:
                        self._lose(arm, None, err)
                self._rounds(todo)
            except BaseException:  # Ctrl-C, or an arm that cannot start: no waiting
                for worker in self.workers.values():
                    worker.close(kill=True)
                raise
            for worker in self.workers.values():
                worker.close()
        return self.outcome

    def _rounds(self, todo: Sequence[tuple[int, int, Unit]]) -> None:
        total = len(todo)
        for count, (round_, place, unit) in enumerate(todo, start=1):
            arm = unit.arm
            if arm not in self.workers:
                continue
            label = f"[{count}/{total}] round {round_} place {place} {arm.name} {unit.filters}f"
            try:
                result = self._run(arm, self.block.config(unit, round_))
            except WorkerError as err:
                self._lose(arm, round_, err)
                continue
            except RuntimeError as err:
                self.outcome.failed.append(f"{arm.name} round {round_}: {err}")
                self.write(f"{label}: failed: {err}")
                continue
            result = {**result, "peak_gflops": self.peak.get(arm)}
            achieved = result.get("achieved_gflops")
            if achieved is not None and result["peak_gflops"]:
                result["peak_fraction"] = achieved / result["peak_gflops"]
            found = problems(result, self.ready[arm], unit)
            if found:
                self.outcome.failed.append(f"{arm.name} round {round_}: {'; '.join(found)}")
                self.write(f"{label}: does not count: {'; '.join(found)}")
                continue
            record = record_of(self.block_id, self.block, unit, round_, place)
            self._append(record, result, self.ready[arm])
            self.outcome.timed += 1
            self.seconds.setdefault(arm.name, []).append(result["runtime_s"])
            left = self._left(todo[count:])
            self.write(
                f"{label}: {result['runtime_s']:.1f} s, val_accuracy "
                f"{result['val_accuracy']:.4f} -> {self.path}"
                + (f" (about {hours(left)} left)" if left else "")
            )

    def _left(self, todo: Sequence[tuple[int, int, Unit]]) -> float | None:
        """The rest's seconds at each arm's median so far (None until every arm has one)."""
        total = 0.0
        for _, _, unit in todo:
            if unit.arm not in self.workers:
                continue
            times = self.seconds.get(unit.arm.name)
            if not times:
                return None
            total += sorted(times)[len(times) // 2]
        return total
