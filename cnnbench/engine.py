"""The plan on Ray: a task per shard, each holding a whole device, running the benchmark
suite for its shard in a subprocess; every finished run streams back as it lands and the
driver alone appends it to the results file.

    python -m cnnbench sweep --engine ray [--address ADDR] [--shards N] [suite options]

Ray places, isolates and streams; cnnbench contributes the cut (`cnnbench.plan`) and the
merge. What each task asks for:

- a GPU shard `num_gpus=1`: one whole GPU, one timed run on it at a time;
- a CPU shard one unit of the custom resource `cnnbench_host`, which each node offers
  once (`ray start --resources '{"cnnbench_host": 1}'`; the embedded local instance does
  so itself), so two timed runs never share a machine's cores.

Inside a task nothing of Ray runs in the timed process: the task starts
`python -m pytest benchmarks/ --shard K/N --resume --results <its own file>` (once per
backend in its shard), tails that file and yields each new line. The driver appends a
line unless the file already holds that round of that cell. A task lost with its worker
or node is started again by the driver with every run already on file (Ray's own retry
replays a generator from its start and needs it to yield the same again, which a resumed
shard does not), so nothing is lost and nothing is counted twice.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cnnbench import results
from cnnbench.driver import Driver
from cnnbench.interrupt import die_with_parent

HOST_RESOURCE = "cnnbench_host"  # one per node: a CPU shard takes a whole machine
# Ray sets OMP_NUM_THREADS=1 in its workers (to the task's num_cpus); the timed process
# must get the driver's own settings instead, or PyTorch and oneDNN train on one core.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
ATTEMPTS = 3  # a shard lost this many times stops the sweep
POLL_S = 0.5  # how often a task looks for new lines in its shard's file


class EngineError(Exception):
    """The engine cannot run the sweep (no cluster there, no device to place a shard)."""


@dataclass(frozen=True)
class Shard:
    """One task's work: shard k of n, run by one pytest session per backend."""

    k: int
    n: int
    backends: tuple[str, ...]
    args: tuple[str, ...]  # the suite's options, forwarded as given (no --shard/--results)
    suite: str  # the benchmarks/ folder
    kind: str  # cpu or gpu
    threads: tuple[tuple[str, str | None], ...] = ()  # the driver's THREAD_VARIABLES

    @property
    def label(self) -> str:
        return f"shard {self.k}/{self.n}"

    def seed(self, on_file: Sequence[dict]) -> list[dict]:
        """The runs on file its task starts from: all of them (its `--resume` sorts)."""
        return list(on_file)

    def environment(self, backend: str) -> dict[str, str]:
        """The timed process's environment: the worker's, with the driver's thread
        settings (none: the libraries' own defaults) and the backend."""
        return with_threads({**os.environ, "KERAS_BACKEND": backend, "PYTHONUNBUFFERED": "1"},
                            self.threads)

    def commands(self, results_path: Path) -> list[tuple[str, list[str]]]:
        """(backend, command) for each pytest session of this shard."""
        plan_backends = ",".join(self.backends)
        return [
            (
                backend,
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    self.suite,
                    "-p",
                    "no:cacheprovider",
                    *self.args,
                    "--device",
                    self.kind,
                    "--plan-backends",
                    plan_backends,
                    "--shard",
                    f"{self.k}/{self.n}",
                    "--resume",
                    "--results",
                    str(results_path),
                ],
            )
            for backend in self.backends
        ]


def _new_lines(path: Path, offset: int) -> tuple[list[dict], int]:
    """Complete lines appended since `offset`, and the new offset."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    lines = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
    return lines, offset + end


def shard_events(shard, on_file: Sequence[dict]) -> Iterator[dict]:
    """What a task does, as a plain generator (Ray wraps it): seed the shard's own results
    file with the runs on file, start each of its commands (a `Shard`'s pytest session per
    backend, a `block_ray.Replicate`'s block), and yield
    `{"event": "started", "pid": ...}`, then every new record, then
    `{"event": "end", "returncode": ..., "backend": ...}` per session."""
    with tempfile.TemporaryDirectory(prefix="cnnbench-shard-") as tmp:
        path = Path(tmp) / f"{shard.label.replace(' ', '-').replace('/', '-of-')}.jsonl"
        for record in on_file:
            results.append(path, record)
        offset = path.stat().st_size if path.exists() else 0
        yield {"event": "started", "pid": os.getpid(), "host": socket.gethostname()}
        for backend, command in shard.commands(path):
            process = subprocess.Popen(
                command, env=shard.environment(backend), preexec_fn=die_with_parent
            )
            while True:
                finished = process.poll() is not None
                lines, offset = _new_lines(path, offset)
                yield from ({"event": "record", "record": line} for line in lines)
                if finished:
                    break
                time.sleep(POLL_S)
            yield {"event": "end", "backend": backend, "returncode": process.returncode}


def exit_status(returncode: int) -> int:
    """A return code as a shell's exit status: killed by signal N (Popen's -N), 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def with_threads(env: dict[str, str], threads) -> dict[str, str]:
    """`env` with the driver's thread settings (`driver_threads`; None: unset)."""
    for name, value in threads:
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def ended(label: str, status: int) -> str:
    """One line for a shard or replicate that did not end well, with the signal that
    killed it (a shell's 128 + N) if one did."""
    killed = f" (killed by signal {status - 128})" if status > 128 else ""
    return f"cnnbench: {label} ended with exit status {status}{killed}; its runs on file stay"


def driver_threads() -> tuple[tuple[str, str | None], ...]:
    """The driver's thread settings, for each shard's timed processes."""
    return tuple((name, os.environ.get(name)) for name in THREAD_VARIABLES)


def check_address(address: str, timeout: float = 10.0) -> None:
    """EngineError unless something answers at a Ray address (`host:port`, `ray://...`)
    within `timeout` seconds; `auto` and `local` are Ray's own to resolve."""
    if address in ("auto", "local"):
        return
    hostport = address.removeprefix("ray://").rsplit("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise EngineError(f"--address {address}: expected HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as err:
        raise EngineError(f"--address {address}: no Ray cluster answers ({err})") from None


def connect(address: str | None):
    """Ray, started locally (this machine's GPUs, or its CPU as one device) or joined."""
    try:
        import ray
    except ImportError:
        raise EngineError("Ray is not installed: pip install 'cnnbench[ray]'") from None

    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        check_address(address)
        try:
            ray.init(address=address, log_to_driver=True)
        except (ConnectionError, RuntimeError) as err:
            raise EngineError(f"--address {address}: {err}".splitlines()[0]) from None
    else:
        ray.init(resources={HOST_RESOURCE: 1}, include_dashboard=False, log_to_driver=True)
    return ray


def devices(ray, kind: str) -> int:
    """How many shards the cluster can run at once: its GPUs, or its hosts for a CPU."""
    resources = ray.cluster_resources()
    count = int(resources.get("GPU", 0) if kind == "gpu" else resources.get(HOST_RESOURCE, 0))
    if count < 1:
        what = "no GPU" if kind == "gpu" else f"no node offering the {HOST_RESOURCE} resource"
        raise EngineError(
            f"the Ray cluster has {what}; start CPU nodes with "
            f"`ray start --resources '{{\"{HOST_RESOURCE}\": 1}}'`"
        )
    return count


def shutdown() -> None:
    """Leave the cluster (or stop the local instance) if this process joined one."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def run(
    ray,
    shards: Sequence,  # Shard, or block_ray.Replicate: the same interface
    driver: Driver,
    on_event: Callable[[Shard, dict], None] = lambda shard, event: None,
) -> dict[int, int]:
    """Every shard to its end; a shard lost with its worker is started again (ATTEMPTS).
    Returns each shard's worst pytest exit status (0: every run passed its checks)."""
    task = ray.remote(shard_events)
    placement = (
        {"num_gpus": 1, "num_cpus": 0}
        if shards and shards[0].kind == "gpu"
        else {"resources": {HOST_RESOURCE: 1}, "num_cpus": 0}
    )
    placement["max_retries"] = 0  # the driver starts a lost shard again, resumed
    attempts = {shard.k: 1 for shard in shards}
    status = {shard.k: 0 for shard in shards}
    running = {task.options(**placement).remote(s, s.seed(driver.on_file())): s for s in shards}
    while running:
        ready, _ = ray.wait(list(running), num_returns=1)
        generator = ready[0]
        shard = running[generator]
        try:
            event = ray.get(next(generator))
        except StopIteration:
            del running[generator]
            continue
        except ray.exceptions.RayError as err:
            del running[generator]
            if attempts[shard.k] >= ATTEMPTS:
                raise EngineError(
                    f"{shard.label} lost {ATTEMPTS} times: {type(err).__name__}"
                ) from None
            attempts[shard.k] += 1
            driver.write(
                f"cnnbench: {shard.label} lost ({type(err).__name__}); "
                f"starting it again (attempt {attempts[shard.k]}) from the runs on file"
            )
            running[task.options(**placement).remote(shard, shard.seed(driver.on_file()))] = shard
            continue
        if event["event"] == "record":
            record = event["record"]
            if driver.take(record) and not record.get("warmup"):
                result = record["result"]
                driver.write(
                    f"cnnbench: {shard.label}: {record['benchmark']} "
                    f"{result['runtime_s']:.1f} s -> {driver.results_path}"
                )
        elif event["event"] == "end":
            status[shard.k] = max(status[shard.k], exit_status(event["returncode"]))
        on_event(shard, event)
    return status
