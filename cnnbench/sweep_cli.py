"""`python -m cnnbench plan`: the plan, its shards and their estimated time, before anything
trains. A command line: it parses, calls `cnnbench.plan` and `cnnbench.estimate`, prints.

    python -m cnnbench plan                                # the CPU matrix, 3 backends
    python -m cnnbench plan --device gpu --devices 4       # on four GPUs: the makespan
    python -m cnnbench plan --plan-backends jax --list     # every run, its shard, its time

The estimate is the published runs' rates (or the runs in `--results` files of this
machine's kind); the shards are the cut `pytest benchmarks/ --shard K/N` makes.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from cnnbench import estimate, experiment, options, plan, request, results
from cnnbench.backend import BACKENDS
from cnnbench.errors import PathError, UsageError
from cnnbench.files import check_writable
from cnnbench.records import path_label, variant_id

DEVICE_COUNTS = (1, 2, 4, 8)


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "plan", help="the sweep's plan, its shards and estimated time, before anything trains"
    )
    for flags, spec in request.option_specs():
        if flags[0] == "--device":
            spec = {**spec, "choices": ("cpu", "gpu"), "help": "the kind of device (cpu)"}
        if flags[0] == "--plan-backends":
            spec = {**spec, "help": "backends whose plans are cut together (default: all)"}
        parser.add_argument(*flags, **spec)
    parser.add_argument(
        "--devices", type=int, default=None, metavar="N", help="devices the plan is cut for"
    )
    parser.add_argument("--list", action="store_true", help="every run, its shard, its time")
    parser.add_argument(
        "--results", nargs="+", default=(), metavar="PATH", help="like runs to estimate from"
    )


def _spec(args) -> tuple[plan.Spec, dict]:
    kind = args.device or "cpu"
    values = request.resolve(
        {k: v for k, v in vars(args).items() if k not in ("command", "devices", "list")}, kind
    )
    values["device"] = kind
    values["plan_backends"] = values.get("plan_backends") or ",".join(BACKENDS)
    try:
        request.check_runs(values)
        choices = request.read_choices(values["choices"])
        spec = request.spec(values, BACKENDS[0], kind, choices)
        request.check_choices(choices, spec.backends)
    except ValueError as err:  # PathError is one too
        raise UsageError(str(err)) from None
    return spec, values


def _seconds(spec: plan.Spec, values: dict, files) -> tuple:
    """Seconds per planned run, and where the rates come from."""
    records = []
    for path in files:
        try:
            records += results.read(path, allow_torn_tail=True)
        except results.ResultsError as err:
            raise UsageError(f"--results {err}") from None
    images = values["epochs"] * (values["train_subset"] or experiment.TRAIN_SIZE)
    estimators = {
        b: estimate.Estimator.build(b, spec.kind, values["precision"], records)
        for b in spec.backends
    }

    def seconds(run: plan.Planned) -> float:
        return estimators[run.backend].seconds(path_label(*run.variant), run.filters, images)

    return seconds, estimators


def plan_text(argv: list[str], width: int = 100) -> str:
    """What `python -m cnnbench plan ARGV` prints at `width` columns (for the docs)."""
    import io

    from cnnbench.errors import OneLineParser

    parser = OneLineParser()
    add_parser(parser.add_subparsers(dest="command"))
    console = Console(file=io.StringIO(), width=width, color_system=None, record=True)
    run(parser.parse_args(["plan", *argv]), console)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def run(args, console: Console | None = None) -> int:
    console = console or Console()
    if args.devices is not None and not 1 <= args.devices <= plan.MAX_SHARDS:
        raise UsageError(f"--devices must be in 1..{plan.MAX_SHARDS}, got {args.devices}")
    spec, values = _spec(args)
    runs = plan.plan(spec)
    if not runs:
        raise UsageError("the plan is empty: no path or width is left to time")
    seconds, estimators = _seconds(spec, values, args.results)
    pairs = sorted({(r.backend, path_label(*r.variant)) for r in runs})
    unknown = [f"{b} {p}" for b, p in pairs if estimators[b].source(p) == "none"]
    sources = {estimators[b].source(p) for b, p in pairs} - {"none"}
    how = " and ".join(sorted(sources)) or "nothing measured"
    if unknown:
        how += f"; FLOPs at a nominal rate, a guess, for {', '.join(unknown)}"
    total = sum(seconds(r) for r in runs)
    images = values["epochs"] * (values["train_subset"] or experiment.TRAIN_SIZE)
    cut = estimate.balancing(spec.kind, values["precision"], images)  # pytest --shard's cut
    console.print(
        f"plan: {len(runs)} runs on {spec.kind} ({', '.join(spec.backends)}; "
        f"{', '.join(variant_id(*v) for v in spec.variants)}; filters "
        f"{','.join(map(str, spec.filters))}; {spec.rounds} rounds), about "
        f"{plan.hours(total)} on one device (estimated from {how})",
        highlight=False,
    )
    for note in plan.notes(spec):
        console.print(f"note: {note}", highlight=False)
    table = Table(title="Makespan: the longest shard, a shard per device", title_justify="left")
    table.add_column("devices", justify="right")
    table.add_column("makespan", justify="right")
    table.add_column("shards (estimated time each)")
    counts = sorted({*DEVICE_COUNTS, *([args.devices] if args.devices else [])})
    for n in counts:
        shares = plan.loads(runs, n, cut, seconds)
        shown = ", ".join(plan.hours(s) for s in shares[:8]) + (" ..." if n > 8 else "")
        table.add_row(str(n), plan.hours(max(shares)), shown)
    console.print(table)
    if spec.shard != (1, 1):
        k, n = spec.shard
        mine = plan.shard(runs, k, n, cut)
        console.print(
            f"shard {k}/{n}: {len(mine)} of the plan's {len(runs)} runs, about "
            f"{plan.hours(sum(seconds(r) for r in mine))}",
            highlight=False,
        )
        for run_ in mine:
            console.print(
                f"{k}/{n}  {run_.backend:10} {run_.name:44} {plan.hours(seconds(run_)):>8}",
                highlight=False,
            )
        return 0
    if args.list:
        n = args.devices or 1
        owner = plan.assign(runs, n, cut)
        for run_, shard in zip(runs, owner, strict=True):
            console.print(
                f"{shard + 1}/{n}  {run_.backend:10} {run_.name:44} {plan.hours(seconds(run_)):>8}",
                highlight=False,
            )
    return 0


SWEEP_USAGE = "python -m cnnbench sweep --engine ray [--address ADDR] [--shards N] [options]"


def sweep_parser():
    from cnnbench.errors import OneLineParser

    parser = OneLineParser(
        prog="python -m cnnbench sweep",
        description="The benchmark suite's plan on a distributed engine: a task per shard, "
        "each holding a whole device (docs/distributed.md). Other options go to pytest.",
    )
    parser.add_argument("--engine", choices=("ray",), required=True)
    parser.add_argument("--address", help="a Ray cluster (default: $RAY_ADDRESS, else local)")
    parser.add_argument("--shards", type=int, help="default: one per device the cluster has")
    parser.add_argument(
        "--suite",
        default="benchmarks",
        metavar="DIR",
        help="the benchmark suite's folder, in the checkout (default: ./benchmarks)",
    )
    parser.add_argument(
        "--results",
        metavar="PATH",
        help="where the driver appends every run (default: cnnbench-results/sweep-<kind>.jsonl)",
    )
    for flags, spec in request.option_specs():
        if flags[0] != "--shard":
            parser.add_argument(*flags, **spec)
    return parser


def forwarded(args, extra: list[str]) -> list[str]:
    """The suite options given explicitly, as pytest takes them, then the rest as given."""
    out = []
    for flags, spec in request.option_specs():
        name = options.dest(flags, spec)
        value = getattr(args, name, None)
        if flags[0] in ("--shard", "--plan-backends", "--device") or value is None:
            continue
        if value is False:  # a flag not given (0 is a value, and is forwarded as one)
            continue
        out += [flags[0]] if value is True else [flags[0], str(value)]
    return out + extra


def sweep(argv: list[str], console: Console | None = None, on_event=None) -> int:
    """Parse, check every option before Ray starts, then run the plan's shards on Ray."""
    from pathlib import Path

    from cnnbench import engine
    from cnnbench.driver import Driver

    console = console or Console()
    args, extra = sweep_parser().parse_known_args(argv)
    if args.shards is not None and not 1 <= args.shards <= plan.MAX_SHARDS:
        raise UsageError(f"--shards must be in 1..{plan.MAX_SHARDS}, got {args.shards}")
    _spec(_as_plan_args(args))  # every option's own check, before Ray starts
    if args.address is not None and not args.address.strip():
        raise UsageError(
            "--address '': empty (an unset variable?); give HOST:PORT, or leave --address "
            "out to start Ray on this machine"
        )
    suite = Path(args.suite).resolve()
    if not (suite / "conftest.py").is_file():
        raise UsageError(f"--suite {args.suite}: not the benchmark suite (run from the checkout)")
    try:
        ray = engine.connect(args.address)
        kind = args.device if args.device in ("cpu", "gpu") else None
        kind = kind or ("gpu" if ray.cluster_resources().get("GPU", 0) else "cpu")
        spec, values = _spec(_as_plan_args(args, kind))
        path = Path(args.results or results.default_path("sweep", kind))
        check_writable(path, "--results")
        results.check_file(path, "--results")
        n = args.shards or engine.devices(ray, kind)
        runs = plan.plan(spec)
        images = values["epochs"] * (values["train_subset"] or experiment.TRAIN_SIZE)
        cut = estimate.balancing(kind, values["precision"], images)
        console.print(
            f"cnnbench: {len(runs)} runs in {n} shard(s) on {kind}, the longest about "
            f"{plan.hours(plan.makespan(runs, n, cut))} (published rates); results -> {path}",
            highlight=False,
        )
        given = tuple(forwarded(args, extra))
        threads = engine.driver_threads()
        shards = [
            engine.Shard(k, n, spec.backends, given, str(suite), kind, threads)
            for k in range(1, n + 1)
        ]
        driver = Driver(path, lambda line: console.print(line, highlight=False))
        status = engine.run(ray, shards, driver, on_event or (lambda shard, event: None))
    except (engine.EngineError, PathError, results.ResultsError) as err:
        raise UsageError(str(err)) from None
    finally:
        engine.shutdown()
    for shard in shards:
        if status.get(shard.k):
            console.print(engine.ended(shard.label, status[shard.k]), highlight=False)
    return 1 if any(status.values()) else 0


def _as_plan_args(args, kind: str = "cpu"):
    from argparse import Namespace

    skip = ("engine", "address", "shards", "suite")
    keep = {k: v for k, v in vars(args).items() if k not in skip}
    keep.update(device=kind, results=(), command="sweep", shard=None)
    return Namespace(**keep)
