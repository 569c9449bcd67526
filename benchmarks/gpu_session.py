"""One call on a lent GPU machine: what the published GPU tables miss most, first, each
stage under a deadline, cut at the call's time budget; every finished run streamed to
$OUT as it lands and kept in $STATE, so nothing done is ever redone.

    OUT=/out STATE=/tmp/cnnbench-state BUDGET=540 python benchmarks/gpu_session.py
    DEVICE=cpu SIZE=quick BUDGET=300 python benchmarks/gpu_session.py   # a dry run anywhere

`benchmarks/gpu-session.sh` installs keras from the carried wheels and starts this. A
stage is one `cnnbench tune` or one pytest session of the suite (its own sub-plan, run
with --resume against the results on file); the stages are listed in priority order.
A stage whose runs are all on file ends in seconds; a stage that would start with less
than MIN_STAGE_S left is skipped and said to be.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEXT_SITE = Path("/tmp/site-next")  # gpu-session.sh installs .whl/next/*.whl here
MIN_STAGE_S = 30  # a stage needs a warm-up and at least one run
SIZES = {  # "full": the published length; "quick": a dry run's
    "full": {"tune": ["--filters", "64", "--epochs", "3", "--train-subset", "11000"], "run": []},
    "quick": {
        "tune": ["--filters", "8", "--epochs", "2", "--train-subset", "1000"],
        "run": ["--epochs", "1", "--train-subset", "2000"],
    },
}


@dataclass(frozen=True)
class Stage:
    name: str
    backend: str
    args: tuple[str, ...]
    cap_s: int  # its deadline when the budget allows it
    tune: bool = False  # a `cnnbench tune` that writes the backend's choices
    block: bool = False  # `cnnbench block`: args are its arms and options
    keras: str = "tested"  # or "next": keras-nightly from .whl/next/ (requirements/next.txt)


# What the GPU tables miss most, first (docs/gpu.md): the Keras model in a hand-written
# loop on JAX and PyTorch, each beside native in the same session (a ratio between two
# sessions is no ratio), PyTorch's loop after its own tune (eager it is bound by the host:
# 7.5 ms a step on the H200), and Keras on PyTorch with the tested and the next Keras;
# then Keras on PyTorch tuned (its tune; jit_compile compiles for about 34 s in the warm-up
# and again in the timed run), Keras default on JAX, the widths never timed, the remaining
# rounds.
LOOP = ("--impl", "keras-loop,native", "--rounds", "1")
KERAS_16 = ("--filters", "16", "--impl", "keras", "--profile", "default", "--rounds", "1")
BLOCK_16 = (  # the GPU's questions in one block: natives, Keras-JAX, both loops, A/A, cold
    "jax:native", "torch:native", "jax:keras-tuned", "jax:keras-loop", "torch:keras-loop",
    "--aa", "jax:native", "--cold", "--filters", "16", "--rounds", "10",
)  # fmt: skip
STAGES = (
    Stage("tune-torch-loop", "torch", ("--impl", "keras-loop"), 150, tune=True),
    Stage("block-16", "torch", BLOCK_16, 420, block=True),
    Stage("jax-loop", "jax", ("--filters", "8,64,256", *LOOP), 150),
    Stage("torch-loop", "torch", ("--filters", "8,16,64,256", *LOOP), 200),  # 16: its target
    Stage("torch-keras-16", "torch", KERAS_16, 150),  # a run took 106 s on the H200
    Stage("torch-keras-16-next", "torch", KERAS_16, 150, keras="next"),
    Stage("tune-torch", "torch", ("--impl", "keras,native"), 150, tune=True),
    Stage("torch-keras", "torch", ("--filters", "16", "--impl", "keras", "--rounds", "1"), 240),
    Stage("tune-jax", "jax", ("--impl", "keras,native"), 110, tune=True),
    Stage(
        "jax-keras-default",
        "jax",
        ("--filters", "8,64,256", "--impl", "keras", "--profile", "default", "--rounds", "1"),
        150,
    ),
    Stage("jax-widths", "jax", ("--filters", "16,32,128", "--rounds", "1"), 240),
    Stage("torch-widths", "torch", ("--filters", "16,32,128", "--impl", "native"), 240),
    Stage("jax-rounds", "jax", ("--filters", "8,64,256", "--rounds", "3"), 600),
)


class Session:
    def __init__(self, out: Path, state: Path, budget_s: float, device: str, size: str):
        self.out, self.state, self.device, self.size = out, state, device, SIZES[size]
        self.deadline = time.monotonic() + budget_s
        self.log = out / "gpu-session.log"

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def say(self, line: str) -> None:
        print(line, flush=True)
        with open(self.log, "a") as f:
            f.write(line + "\n")

    def choices(self, backend: str) -> Path:
        """The backend's chosen settings: every tune stage's winners, merged per path."""
        return self.state / f"{backend}-choices.json"

    def tuned(self, stage: Stage) -> Path:
        """A tune stage's own winners, apart from what is streamed (`merge` folds them in)."""
        folder = self.state / "tuned"
        folder.mkdir(exist_ok=True)
        return folder / f"{stage.name}.json"

    def merge(self, stage: Stage) -> None:
        if self.tuned(stage).exists():
            merged = self.choices(stage.backend)
            paths = json.loads(merged.read_text()) if merged.exists() else {}
            merged.write_text(json.dumps({**paths, **json.loads(self.tuned(stage).read_text())}))

    def command(self, stage: Stage) -> list[str] | None:
        python = [sys.executable, "-m"]
        if stage.tune:
            if self.tuned(stage).exists():
                return None  # chosen in an earlier call: never redone
            return [
                *python,
                *("cnnbench", "tune", "--device", self.device, "--precision", "fp32"),
                *self.size["tune"],
                *stage.args,
                *("--results", str(self.out / f"tune-{stage.backend}.jsonl")),
                *("--write-choices", str(self.tuned(stage))),
            ]
        if stage.block:  # every arm in its worker; the torch loop with its tune's choice
            command = [
                *python, "cnnbench", "block", *stage.args, "--device", self.device,
                *self.size["run"], "--resume",
                "--results", str(self.state / f"{stage.name}-{self.device}.jsonl"),
            ]  # fmt: skip
            if self.choices("torch").exists():
                command += ["--choices", f"torch={self.choices('torch')}"]
            return command
        results = self.state / f"{stage.backend}-{self.device}.jsonl"
        command = [
            *python,
            *("pytest", str(ROOT / "benchmarks"), "-p", "no:cacheprovider", "-k", "test_filters"),
            *("--device", self.device, "--precision", "fp32", "--resume"),
            *("--results", str(results)),
            *("--benchmark-json", str(self.state / f"{stage.name}.json")),
            *self.size["run"],
            *stage.args,
        ]
        if self.choices(stage.backend).exists():
            command += ["--choices", str(self.choices(stage.backend))]
        return command

    def run(self, stage: Stage) -> None:
        command = self.command(stage)
        if command is None:
            self.say(f"=== {stage.name}: on file from an earlier call")
            return
        seconds = min(stage.cap_s, self.left())
        if seconds < MIN_STAGE_S:
            self.say(f"=== skip {stage.name}: {self.left():.0f} s left")
            return
        self.say(f"=== {stage.name} (cap {seconds:.0f} s of {self.left():.0f} s left)")
        env = {**os.environ, "KERAS_BACKEND": stage.backend, "PYTHONUNBUFFERED": "1"}
        if stage.keras == "next":  # the same run with Keras's development line
            if not NEXT_SITE.is_dir():
                self.say(f"=== skip {stage.name}: no keras-nightly wheel carried (.whl/next/)")
                return
            env["PYTHONPATH"] = f"{NEXT_SITE}:{env.get('PYTHONPATH', '')}"
        with open(self.log, "a") as log:
            try:
                done = subprocess.run(
                    command, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=seconds
                )
                code = done.returncode
            except subprocess.TimeoutExpired:
                code = "deadline"
        if stage.tune:
            self.merge(stage)
        self.stream()
        self.say(f"=== {stage.name} ended: {code}, {self.left():.0f} s left")

    def stream(self) -> None:
        """The state's results files to $OUT (what comes back even if the call dies)."""
        for path in [*self.state.glob("*.jsonl"), *self.state.glob("*-choices.json")]:
            shutil.copy(path, self.out / path.name)


def main() -> int:
    out = Path(os.environ.get("OUT", "gpu-out"))
    state = Path(os.environ.get("STATE", "/tmp/cnnbench-state"))
    out.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    carried = ROOT / ".gpu" / "state"  # an earlier call's runs, carried to a fresh machine
    for path in carried.glob("*") if carried.is_dir() else ():
        if not (state / path.name).exists():
            shutil.copy(path, state / path.name)
    session = Session(
        out,
        state,
        float(os.environ.get("BUDGET", "540")),
        os.environ.get("DEVICE", "gpu"),
        os.environ.get("SIZE", "full"),
    )
    session.say(f"gpu session: budget {session.left():.0f} s, stages {[s.name for s in STAGES]}")
    for stage in STAGES:
        session.run(stage)
    files = sorted(str(p) for p in out.glob("*.jsonl") if not p.name.startswith("tune-"))
    if files:  # the tables of what is on file, as the report renders them
        subprocess.run(
            [sys.executable, "-m", "cnnbench.report", *files, "--out", str(state / "report")],
            timeout=max(session.left(), 60),
        )
    session.say(json.dumps({"end": True, "left_s": round(session.left())}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
