"""A block's long-lived worker: one process per arm, warm, training one run when asked.

    python -m cnnbench.worker        # started by `cnnbench.block`, never by hand

The backend is the process's (`KERAS_BACKEND`, set by whoever starts it, before Keras is
imported), and so is the Keras version: an arm of another Keras runs this module from
that version's environment (`cnnbench.envs`). Requests and replies are JSON lines on
the process's own stdout, kept apart from whatever the libraries print (which goes to
stderr): the first reply says the worker is ready, with its machine and how long it
took to get there (`startup_s`: imports and MNIST, what a cold start adds), then each
request `{"op": "run", "config": {...}, "warmup": bool}` trains one run and replies
`{"result": {...}}` or `{"error": "one line"}`; `{"op": "peak"}` measures the matmul
peak once; end of input ends it. Energy is metered around each timed `fit`, as in the
suite. `ProcessWorker` is the side that starts one and talks to it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from cnnbench.interrupt import die_with_parent

SPAWNED = "CNNBENCH_SPAWNED"  # the wall-clock time the parent started this process


class WorkerError(Exception):
    """A worker that did not start, or stopped answering (it died)."""


def _serve(channel) -> None:
    from cnnbench.backend import machine_info, quiet, resolve_device

    backend = os.environ["KERAS_BACKEND"]
    device = os.environ.get("CNNBENCH_DEVICE", "auto")
    quiet(backend)
    import keras  # noqa: F401  (the backend named by KERAS_BACKEND)

    from cnnbench import energy
    from cnnbench.data import load
    from cnnbench.records import RunConfig
    from cnnbench.train import prepare

    data = load(os.environ.get("CNNBENCH_DATA") or None)
    where = resolve_device(backend, device)
    spawned = float(os.environ.get(SPAWNED, time.time()))

    def reply(message: Mapping) -> None:
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    import cnnbench

    machine = machine_info(backend, where)
    package = str(Path(cnnbench.__file__).resolve().parent)  # whose code this worker runs
    reply({"ready": True, "machine": machine, "startup_s": time.time() - spawned,
           "package": package})
    meter = energy.calibrated(machine["device_kind"])
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "peak":
                from cnnbench.peak import SIZES, matmul_peak_gflops

                size = SIZES[machine["device_kind"]]
                reply({"peak": matmul_peak_gflops(size, precision=request["precision"])})
                continue
            prepared = prepare(RunConfig(**request["config"]), data)
            meter.start()
            measured = prepared.fit()
            joules = meter.stop()
            result = prepared.finish(measured).to_dict()
            result["energy"] = joules
            reply({"result": result})
        except Exception as err:  # reported to the block, which names the arm and round
            text = " ".join(str(err).split()) or type(err).__name__
            reply({"error": f"{type(err).__name__}: {text[:300]}"})


def main() -> None:
    # The protocol keeps the real stdout; fd 1 becomes stderr, so a library's print (or a
    # C library writing to fd 1) never lands inside a reply.
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _serve(channel)


class ProcessWorker:
    """One worker process: `start` waits for it to be ready; `request` sends one request
    and waits for its reply; a dead worker is a WorkerError with its exit status."""

    def __init__(
        self,
        python: str,
        backend: str,
        device: str,
        log: Path,
        environ: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.python, self.backend, self.device, self.log = python, backend, device, log
        self.cwd = cwd  # another commit's code (`cnnbench.commits`): `-m` imports it first
        self.environ = dict(environ or {})
        self.process: subprocess.Popen | None = None
        self.ready: dict = {}

    def start(self, cache: Path) -> dict:
        """Start it with empty compile caches of its own (`cache`), and wait until ready."""
        from cnnbench.backend import hide_gpus

        env = {**os.environ, **self.environ, "KERAS_BACKEND": self.backend}
        env.update(CNNBENCH_DEVICE=self.device, PYTHONUNBUFFERED="1")
        env.update(_caches(cache))
        if self.device == "cpu":
            hide_gpus(env)
        env[SPAWNED] = repr(time.time())
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [self.python, "-m", "cnnbench.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                cwd=self.cwd,
                text=True,
                start_new_session=True,  # Ctrl-C goes to the block, which ends its workers
                preexec_fn=die_with_parent,  # and a block killed outright takes them along
            )
        self.ready = self._read()
        package = self.ready.get("package")  # a worker of an older commit may not say
        if self.cwd is not None and package and not Path(package).is_relative_to(
            Path(self.cwd).resolve()
        ):
            self.close(kill=True)
            raise WorkerError(f"it imported cnnbench from {package}, not from {self.cwd}")
        return self.ready

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            raise WorkerError(f"its process ended (exit status {code}; its log: {self.log})")
        return json.loads(line)

    def request(self, message: Mapping) -> dict:
        if self.process is None or self.process.poll() is not None:
            raise WorkerError(f"its process is not running (its log: {self.log})")
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise WorkerError(f"its process ended (its log: {self.log})") from None
        return self._read()

    def close(self, kill: bool = False) -> None:
        """End of input ends an idle worker; `kill` ends one mid-run (after a Ctrl-C)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                if kill:
                    self.process.kill()
                else:
                    self.process.stdin.close()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()
        self.process = None


def _caches(folder: Path) -> dict[str, str]:
    """Compile caches in a folder of the worker's own: its first run is cold, whatever ran
    before on this machine (torch.compile's and JAX's on-disk caches)."""
    return {
        "TORCHINDUCTOR_CACHE_DIR": str(folder / "inductor"),
        "TRITON_CACHE_DIR": str(folder / "triton"),
        "JAX_COMPILATION_CACHE_DIR": str(folder / "jax"),
    }


if __name__ == "__main__":
    main()
