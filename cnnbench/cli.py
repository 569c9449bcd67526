"""Command line: `python -m cnnbench {run,data,peak} ...`. Parses, calls the library, prints.

    python -m cnnbench data
    python -m cnnbench run --backend jax --filters 16 --epochs 10 --json result.json

Bad input ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from cnnbench.backend import BACKENDS, DEVICES, DeviceError, hide_gpus
from cnnbench.data import DataError

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input from the command line: reported in one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage + message; we want one line
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m cnnbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    data = sub.add_parser("data", help="fetch and verify MNIST; print its source and path")
    data.add_argument("--data", metavar="PATH", help="a Keras-format mnist.npz to verify")

    run = sub.add_parser("run", help="train the report's CNN once and print its summary")
    run.add_argument(
        "--backend",
        choices=BACKENDS,
        help="Keras backend (default: $KERAS_BACKEND, else tensorflow)",
    )
    run.add_argument("--filters", type=int, default=16, help="filters per conv layer")
    run.add_argument("--epochs", type=int, default=10)
    run.add_argument("--lr", type=float, default=0.1, help="SGD learning rate")
    run.add_argument("--batch-size", type=int, default=50)
    run.add_argument("--device", choices=DEVICES, default="auto")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--train-subset",
        type=int,
        metavar="N",
        help="train on the first N of the 55000 training images",
    )
    run.add_argument(
        "--impl",
        choices=("keras", "native"),
        default="keras",
        help="keras, or the same network written without Keras",
    )
    run.add_argument(
        "--profile",
        choices=("default", "tuned"),
        default="default",
        help="Keras execution profile (README: Execution profiles)",
    )
    run.add_argument("--json", metavar="PATH", help="write the full result here as JSON")
    run.add_argument("--data", metavar="PATH", help="a Keras-format mnist.npz")

    peak = sub.add_parser("peak", help="measure the device's fp32 matmul peak (GFLOP/s)")
    peak.add_argument("--backend", choices=BACKENDS, help="default: $KERAS_BACKEND")
    peak.add_argument("--device", choices=DEVICES, default="auto")
    peak.add_argument("--size", type=int, default=2048, help="matrix size N (default 2048)")
    return parser


def _backend(requested: str | None) -> str:
    name = requested or os.environ.get("KERAS_BACKEND") or "tensorflow"
    if name not in BACKENDS:
        raise UsageError(
            f"unknown backend {name!r} (KERAS_BACKEND); expected one of {', '.join(BACKENDS)}"
        )
    return name


def _keras_backend_in_process() -> str | None:
    keras = sys.modules.get("keras")
    return keras.backend.backend() if keras is not None else None


def summary_block(result) -> str:
    """The report's closing block, with the backend and device it ran on."""
    lines = [
        "Training has been completed",
        "",
        f"Backend: {result.backend} on {result.device}",
        f"Total number of Epochs trained: {result.epochs}",
        f"Batch size: {result.batch_size}",
        f"Learning rate: {result.learning_rate:g}",
        "Number of units: 128",
        f"Number of filters: {result.filters}",
        "",
        f"Validation accuracy: {result.val_accuracy:.3f}",
        f"Loss: {result.history['loss'][-1]:.3f}",
        f"Test Error: {result.test_error:.4f}",
        f"Runtime: {result.runtime_s:.2f} seconds",
        f"Total number of parameters: {result.params}",
    ]
    return "\n".join(lines)


def write_json(payload: dict, path: Path) -> None:
    """Write JSON atomically, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def _cmd_data(args) -> int:
    from cnnbench import data

    path, source = data.fetch(args.data)
    print(f"MNIST verified (SHA-256 of all four arrays) from {source}\npath: {path}")
    return 0


def _select_backend(args, argv: list[str]) -> int | None:
    """Fix the backend (and hide GPUs for --device cpu) before keras is imported.

    Returns the exit status of a fresh process when this one already imported keras
    with another backend; None when the command may go on here.
    """
    backend = _backend(args.backend)
    imported = _keras_backend_in_process()
    if imported is not None and imported != backend:
        # The backend is fixed when keras is first imported: run in a fresh process.
        env = {**os.environ, "KERAS_BACKEND": backend}
        return subprocess.run([sys.executable, "-m", "cnnbench", *argv], env=env).returncode
    os.environ["KERAS_BACKEND"] = backend
    if args.device == "cpu":
        hide_gpus()
    return None


def _cmd_peak(args, argv: list[str]) -> int:
    if args.size < 64:
        raise UsageError(f"--size must be >= 64, got {args.size}")
    code = _select_backend(args, argv)
    if code is not None:
        return code
    import keras

    from cnnbench.backend import gpu_names, require_gpu
    from cnnbench.peak import matmul_peak_gflops

    backend = keras.backend.backend()
    gpus = require_gpu(backend) if args.device == "gpu" else gpu_names(backend)
    where = gpus[0] if gpus and args.device != "cpu" else "cpu"
    peak = matmul_peak_gflops(args.size)
    print(f"fp32 matmul peak ({backend} on {where}, {args.size}x{args.size}): {peak:.1f} GFLOP/s")
    return 0


def _cmd_run(args, argv: list[str]) -> int:
    if args.data is not None and not Path(args.data).is_file():
        raise UsageError(f"data path {args.data} does not exist")
    if args.json is not None and Path(args.json).is_dir():
        raise UsageError(f"--json {args.json} is a directory")
    code = _select_backend(args, argv)
    if code is not None:
        return code
    backend = os.environ["KERAS_BACKEND"]

    from cnnbench.data import load
    from cnnbench.train import RunConfig

    try:
        config = RunConfig(
            filters=args.filters,
            learning_rate=args.lr,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            device=args.device,
            train_subset=args.train_subset,
            impl=args.impl,
            profile=args.profile,
        )
    except ValueError as err:
        raise UsageError(str(err)) from None
    mnist = load(args.data)

    from cnnbench.progress import RichProgress
    from cnnbench.train import run

    how = "native" if config.impl == "native" else config.profile
    label = f"{backend} {how} f={config.filters} lr={config.learning_rate:g}"
    with RichProgress(label) as progress:
        result = run(config, mnist, callbacks=[progress])
    print(summary_block(result))
    if args.json:
        write_json(result.to_dict(), Path(args.json))
        print(f"result written to {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(format="cnnbench: %(message)s", level=logging.INFO)
    try:
        args = _parser().parse_args(argv)
        if args.command == "data":
            return _cmd_data(args)
        if args.command == "peak":
            return _cmd_peak(args, argv)
        return _cmd_run(args, argv)
    except (UsageError, DataError, DeviceError) as err:
        print(f"cnnbench: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cnnbench: interrupted", file=sys.stderr)
        return 130
