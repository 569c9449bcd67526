"""Command line: `python -m cnnbench {run,tune,peak,data,report} ...`. Parses, calls the
library, prints.

    python -m cnnbench data
    python -m cnnbench run --backend jax --filters 16 --epochs 10 --json result.json
    python -m cnnbench tune --backend torch --device gpu --impl native --filters 64
    python -m cnnbench block torch:native jax:native --filters 16 --rounds 6 --aa torch:native
    python -m cnnbench report reports/

Bad input ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from cnnbench import block_cli, options, place_cli, sweep_cli
from cnnbench.backend import BACKENDS, DEVICES, DeviceError, hide_gpus, quiet
from cnnbench.errors import EXIT_USAGE, DataError, OneLineParser, PathError, UsageError
from cnnbench.files import check_writable, regular_file, write_atomic
from cnnbench.peak import SIZES
from cnnbench.precision import PRECISIONS
from cnnbench.records import IMPLS

EXIT_FAILED = 1  # a run that ran but failed (a diverged loss)
DESCRIPTION = (
    "Train the 2017 lab report's MNIST CNN once on a Keras backend (run), choose how a "
    "path runs by measurement (tune), measure the device's matmul peak (peak), fetch and "
    "verify MNIST (data), render tables and figures from results (report). Benchmark "
    "sweeps: pytest benchmarks/."
)
RUN_FIELDS = ("filters", "epochs", "learning_rate", "batch_size", "device", "seed")
RUN_FIELDS += ("train_subset", "impl", "profile", "precision")
TUNE_FIELDS = ("filters", "epochs", "device", "seed", "train_subset", "precision", "impl")


def parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m cnnbench", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    training = OneLineParser(add_help=False)  # what run and tune share
    training.add_argument(
        "--backend",
        choices=BACKENDS,
        help="Keras backend (default: $KERAS_BACKEND, else tensorflow)",
    )
    training.add_argument("--data", metavar="PATH", help="a Keras-format mnist.npz")
    training.add_argument("--verbose", action="store_true", help="show the libraries' notices")

    data = sub.add_parser("data", help="fetch and verify MNIST; print its source and path")
    data.add_argument("--data", metavar="PATH", help="a Keras-format mnist.npz to verify")

    run = sub.add_parser("run", parents=[training], help="train the report's CNN once")
    options.add_config_options(run.add_argument, RUN_FIELDS)
    run.add_argument("--json", metavar="PATH", help="write the full result here as JSON")

    tune = sub.add_parser("tune", parents=[training], help="time each candidate setting of a path")
    options.add_config_options(tune.add_argument, TUNE_FIELDS, lists={"impl": "keras,native"})
    tune.add_argument("--rounds", type=int, default=1, help="timed runs per candidate")
    tune.add_argument("--results", metavar="PATH", help="append every timed run here (JSONL)")
    tune.add_argument("--write-choices", metavar="PATH", help="the winners, for --choices")

    peak = sub.add_parser("peak", help="measure the device's matmul peak (GFLOP/s)")
    peak.add_argument("--backend", choices=BACKENDS, help="default: $KERAS_BACKEND")
    peak.add_argument("--device", choices=DEVICES, default="auto")
    peak.add_argument("--precision", choices=PRECISIONS, default="fp32")
    sizes = ", ".join(f"{n} on a {kind.upper()}" for kind, n in SIZES.items())
    peak.add_argument("--size", type=int, help=f"matrix size N (default: {sizes})")

    sweep_cli.add_parser(sub)
    place_cli.add_parser(sub)
    block_cli.add_parser(sub)
    sub.add_parser("sweep", help=f"the plan on Ray, a shard per device: {sweep_cli.SWEEP_USAGE}")
    sub.add_parser("report", help="tables, figures, summary.md: python -m cnnbench.report --help")
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


def write_json(payload: dict, path: Path) -> None:
    write_atomic(path, json.dumps(payload, indent=2) + "\n")


def _cmd_data(args) -> int:
    from cnnbench import data

    path, source = data.fetch(args.data)
    where = path or "not cached (the cache folder cannot be written)"
    print(f"MNIST verified (shape, dtype, SHA-256 of all four arrays) from {source}\npath: {where}")
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
    quiet(backend, getattr(args, "verbose", False))
    return None


def _where(args) -> str:
    import keras

    from cnnbench.backend import resolve_device

    return resolve_device(keras.backend.backend(), args.device)


def _cmd_peak(args, argv: list[str]) -> int:
    if args.size is not None and args.size < 64:
        raise UsageError(f"--size must be >= 64, got {args.size}")
    code = _select_backend(args, argv)
    if code is not None:
        return code
    from cnnbench.backend import available_bytes, kind_of
    from cnnbench.peak import matmul_peak_gflops
    from cnnbench.precision import effective

    where = _where(args)
    kind = kind_of(where)
    args.size = args.size or SIZES[kind]
    precision = effective(args.precision, kind)
    need = 3 * args.size**2 * (2 if precision == "bf16" else 4)
    have = available_bytes(os.environ["KERAS_BACKEND"], kind)
    if have is not None and need > have:
        raise UsageError(
            f"--size {args.size}: three {args.size}x{args.size} matrices need "
            f"{need / 2**30:,.1f} GiB; the {kind} has {have / 2**30:,.1f} GiB free"
        )
    peak = matmul_peak_gflops(args.size, precision=precision)
    backend = os.environ["KERAS_BACKEND"]
    print(
        f"{precision} matmul peak ({backend} on {where}, {args.size}x{args.size}): "
        f"{peak:.1f} GFLOP/s"
    )
    return 0


def _config(args, **fields):
    from cnnbench.records import RunConfig

    try:
        return RunConfig(**fields)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _check_paths(args) -> None:
    """Inputs exist and outputs can be written, before anything trains or is created."""
    if args.data is not None and not regular_file(args.data, "--data"):
        raise UsageError(f"--data {args.data}: does not exist")
    for flag in ("json", "results", "write_choices"):
        target = getattr(args, flag, None)
        if target is not None:
            # --json and --write-choices are replaced whole; --results is appended to
            check_writable(target, f"--{flag.replace('_', '-')}", replace=flag != "results")
    if getattr(args, "results", None) is not None:
        from cnnbench import results

        results.check_file(Path(args.results), "--results")


def _cmd_run(args, argv: list[str]) -> int:
    _check_paths(args)
    code = _select_backend(args, argv)
    if code is not None:
        return code
    backend = os.environ["KERAS_BACKEND"]
    config = _config(args, **{name: getattr(args, name) for name in RUN_FIELDS})

    from cnnbench import checks
    from cnnbench.data import load
    from cnnbench.progress import RichProgress
    from cnnbench.train import run

    mnist = load(args.data)
    how = "native" if config.impl == "native" else config.profile
    label = f"{backend} {how} f={config.filters} lr={config.learning_rate:g}"
    with RichProgress(label) as progress:
        result = run(config, mnist, callbacks=[progress])
    epoch = checks.diverged_epoch(result.history)
    if epoch is not None:
        print(
            f"cnnbench: error: training diverged: the loss is not finite from epoch {epoch} "
            f"(learning rate {config.learning_rate:g}); nothing written",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(result.summary())
    if args.json:
        write_json(result.to_dict(), Path(args.json))
        print(f"result written to {args.json}")
    else:
        print("result not kept (--json PATH writes it)")
    return 0


def _cmd_tune(args, argv: list[str]) -> int:
    _check_paths(args)
    if args.epochs < 2:
        raise UsageError("tune needs --epochs >= 2 (a steady epoch after the first)")
    if args.rounds < 1:
        raise UsageError(f"--rounds must be >= 1, got {args.rounds}")
    try:
        impls = options.parse_list(args.impl, str, IMPLS, "--impl")
    except options.OptionError as err:
        raise UsageError(str(err)) from None
    code = _select_backend(args, argv)
    if code is not None:
        return code
    base = _config(args, **{name: getattr(args, name) for name in TUNE_FIELDS if name != "impl"})

    from cnnbench import results, tune
    from cnnbench.backend import kind_of, machine_info
    from cnnbench.data import load
    from cnnbench.trials import winners

    where = _where(args)
    kind = kind_of(where)
    mnist = load(args.data)

    machine = machine_info(os.environ["KERAS_BACKEND"], where)

    def record(line: dict) -> None:
        if args.results:
            results.append(Path(args.results), {**line, "machine": machine})

    trials = tune.tune(
        base, os.environ["KERAS_BACKEND"], kind, impls, mnist, args.rounds, print, record
    )
    from rich.console import Console

    Console().print(tune.table(trials, where))
    chosen = winners(trials)
    if args.write_choices:
        write_json(chosen, Path(args.write_choices))
        print(f"choices written to {args.write_choices}")
    return 0 if chosen else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(format="cnnbench: %(message)s", level=logging.INFO)
    try:
        if argv[:1] == ["report"]:  # its own parser reads the rest
            from cnnbench.report.cli import main as report_main

            return report_main(argv[1:])
        if argv[:1] == ["sweep"]:  # its own parser: what it does not know goes to pytest
            return sweep_cli.sweep(argv[1:])
        args = parser().parse_args(argv)
        commands = {"data": _cmd_data, "peak": _cmd_peak, "run": _cmd_run, "tune": _cmd_tune}
        if args.command == "data":
            return _cmd_data(args)
        if args.command == "plan":
            return sweep_cli.run(args)
        if args.command == "place":
            return place_cli.run(args)
        if args.command == "block":
            return block_cli.run(args, argv[1:])
        return commands[args.command](args, argv)
    except (UsageError, PathError, DataError, DeviceError) as err:
        print(f"cnnbench: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cnnbench: interrupted", file=sys.stderr)
        return 130
