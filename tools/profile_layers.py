"""Where a training step spends its time: the Keras model in its hand-written loop against
the native network, op by op, under `torch.profiler` (PyTorch backend, CPU).

    KERAS_BACKEND=torch python tools/profile_layers.py [--filters 16] [--steps 200] \\
        [--out reports/profiles/torch-cpu-16.md]

Both paths train the same batches with their published settings (`cnnbench.profiles`)
after a warm-up of the same length; the profile covers `--steps` steps of each. The
Markdown it writes holds the seconds per step of each path (outside the profiler, the
median of three passes) and each path's operators by self CPU time (the median of three
profiled passes), so what the Keras layers add over the framework's own (the loop ->
native step of the decomposition) is named op by op. A measurement, not a benchmark: run
it with nothing else running.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cnnbench.experiment import EVAL_BATCH_SIZE


def _trainer(impl: str, filters: int, data):
    from cnnbench import profiles
    from cnnbench.native import make_trainer
    from cnnbench.records import RunConfig

    config = RunConfig(filters=filters, impl=impl, device="cpu")
    settings = profiles.check(impl, "torch", profiles.chosen(impl, "default", "torch", "cpu"))
    return make_trainer(config, "torch", data, settings, EVAL_BATCH_SIZE), settings


def _steps(trainer, order: np.ndarray) -> float:
    start = time.perf_counter()
    trainer.train_epoch(order)
    return time.perf_counter() - start


def _table(passes: list, rows: int) -> list[str]:
    """Each operator's median self CPU time over the profiled passes (one pass alone can
    hold a stall that is not the operator's), its calls per pass and share of the total."""
    ms: dict[str, list[float]] = {}
    calls: dict[str, int] = {}
    for prof in passes:
        for e in prof.key_averages():
            ms.setdefault(e.key, []).append(e.self_cpu_time_total / 1e3)
            calls[e.key] = e.count
    median = {k: statistics.median(v + [0.0] * (len(passes) - len(v))) for k, v in ms.items()}
    total = sum(median.values()) or 1.0
    lines = ["| operator | calls | self CPU ms | share |", "|---|---:|---:|---:|"]
    for key in sorted(median, key=median.get, reverse=True)[:rows]:
        share = median[key] / total * 100
        lines.append(f"| `{key}` | {calls[key]} | {median[key]:.1f} | {share:.1f}% |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rows", type=int, default=12)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if os.environ.get("KERAS_BACKEND") != "torch":
        parser.error("set KERAS_BACKEND=torch")
    import keras
    import torch
    from torch.profiler import ProfilerActivity, profile

    from cnnbench.data import load

    data = load()
    rng = np.random.default_rng(0)
    order = rng.permutation(55000)[: args.steps * 50].astype(np.int32)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    out = [
        f"# Where a step's time goes on PyTorch, CPU, {args.filters} filters",
        "",
        f"`tools/profile_layers.py --filters {args.filters} --steps {args.steps}` at commit "
        f"{commit or 'unknown'}; torch {torch.__version__}, keras {keras.__version__}, "
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads. "
        f"{args.steps} steps of batch 50 per pass; seconds per step: median of three passes "
        "outside the profiler, after a warm-up pass; operators: self CPU time per pass, the "
        "median of three profiled passes.",
    ]
    for impl in ("keras-loop", "native"):
        trainer, settings = _trainer(impl, args.filters, data)
        _steps(trainer, order)  # warm-up
        seconds = statistics.median(_steps(trainer, order) for _ in range(3)) / args.steps
        passes = []
        for _ in range(3):
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                _steps(trainer, order)
            passes.append(prof)
        shown = ", ".join(f"{k}={v}" for k, v in settings.items())
        out += ["", f"## {impl} ({shown}): {seconds * 1e3:.2f} ms per step", ""]
        out += _table(passes, args.rows)
    text = "\n".join(out) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
