"""`python -m cnnbench block ARM [ARM ...]`: time arms side by side (`cnnbench.block`).

    python -m cnnbench block torch:native jax:native tensorflow:keras-tuned \\
        --filters 16 --rounds 6 --aa torch:native --cold --results cpu-16.jsonl
    python -m cnnbench block ... --plan             # the order and estimate, nothing run
    python -m cnnbench block ... --resume           # finish a killed block
    python -m cnnbench block torch:native#main torch:native --fail-above 5   # a CI gate

Prints each run as it finishes and, at the end, each arm's median with its interval and
its paired ratios (to the fastest arm, its native, and for another Keras or commit the
same arm here), with the A/A noise floor. Bad input ends in one line and exit status 2
before anything trains; a block that lost an arm or a run ends with exit status 1 after
saying which (`--resume` redoes only those); `--fail-above` exits 3 on a regression.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from pathlib import Path

from cnnbench import block_ray, options, results, stats
from cnnbench.block import Arm, Block, BlockError, aa_arms, parse_arm
from cnnbench.errors import PathError, UsageError, shown
from cnnbench.files import check_writable
from cnnbench.plan import hours
from cnnbench.runner import Runner
from cnnbench.sweep import commit

EXIT_INCOMPLETE = 1
EXIT_REGRESSION = 3
DEFAULT_RESULTS = results.FOLDER / "block.jsonl"


def add_parser(sub) -> None:
    block = sub.add_parser("block", help="time arms side by side, rounds interleaved")
    block.add_argument(
        "arms", nargs="+", metavar="ARM", help="backend:path[@keras][#rev][/precision]"
    )
    block.add_argument("--filters", default="16", help="widths, comma-separated (default 16)")
    block.add_argument("--rounds", type=int, default=6, help="rounds (default 6)")
    block.add_argument("--aa", metavar="ARM", help="time this arm twice: the noise floor")
    block.add_argument("--cold", action="store_true", help="time each worker's first run cold")
    block.add_argument("--keras", metavar="V[,V...]", help="add each Keras arm again at "
                       "each of these Keras versions (own environments)")
    block.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    block.add_argument("--epochs", type=int, default=10)
    block.add_argument("--train-subset", type=int, metavar="N")
    block.add_argument("--seed", type=int, default=0, help="round r trains with seed + r")
    block.add_argument("--order-seed", type=int, default=0, help="seeds the arms' order")
    block.add_argument("--choices", action="append", metavar="BACKEND=TUNE.json",
                       help="a backend's settings chosen by `tune --write-choices` (repeatable)")
    block.add_argument("--results", default=str(DEFAULT_RESULTS), metavar="PATH")
    block.add_argument("--resume", action="store_true", help="continue this file's block")
    block.add_argument("--plan", action="store_true", help="print the order and stop")
    block.add_argument("--detect", metavar="PCT", help="say the rounds a PCT%% change needs")
    block.add_argument("--fail-above", type=float, metavar="PCT",
                       help="exit 3 when an arm of another commit or Keras takes more than "
                       "1+PCT%% of its arm's time here, its whole interval above (a gate)")
    block_ray.add_options(block)


def build(args) -> Block:
    arms = [parse_arm(text) for text in args.arms]
    versions = [v.strip() for v in (args.keras or "").split(",") if v.strip()]
    if args.keras is not None and not versions:
        raise BlockError(f"--keras {shown(args.keras)}: no version")
    for version in versions:
        for arm in [a for a in arms if a.keras is None and a.commit is None]:
            if arm.path.startswith("keras-"):
                arms.append(parse_arm(f"{arm.name}@{version}"))
        if not any(a.keras for a in arms):
            raise BlockError(f"--keras {shown(args.keras)}: no Keras arm (keras-*) to time at it")
    aa = parse_arm(args.aa) if args.aa else None
    filters = options.parse_list(args.filters, int, (), "--filters")
    if any(f < 1 for f in filters):
        raise BlockError(f"--filters {args.filters}: every width must be >= 1")
    block = Block(
        choices=read_choices(args.choices or ()),
        arms=aa_arms(arms, aa),
        filters=tuple(filters),
        rounds=args.rounds,
        device=args.device,
        epochs=args.epochs,
        train_subset=args.train_subset,
        seed=args.seed,
        order_seed=args.order_seed,
        cold=args.cold,
    )
    for unit in block.units():  # every run's own checks, before anything starts
        block.config(unit, block.rounds - 1)
    return block


ESTIMATE_SOURCE = "the rates of like runs on file, else the published machine's (a guess)"


def estimate(block: Block, todo, path: Path) -> float:
    """Seconds for the runs to do (`cnnbench.estimate`), warm-ups not counted."""
    from cnnbench.estimate import Estimator
    from cnnbench.experiment import TRAIN_SIZE

    records = results.read(path, allow_torn_tail=True) if path.exists() else []
    images = block.epochs * (block.train_subset or TRAIN_SIZE)
    estimators: dict[tuple, Estimator] = {}
    total = 0.0
    for _, _, unit in todo:
        key = (unit.arm.backend, unit.arm.precision)
        if key not in estimators:
            estimators[key] = Estimator.build(*key[:1], block.device, key[1], records)
        total += estimators[key].seconds(unit.arm.label, unit.filters, images)
    return total


def read_choices(texts) -> dict:
    """`--choices BACKEND=FILE` values -> {backend: {path id: settings}}, each checked
    against that backend's options; BlockError naming the one at fault."""
    from cnnbench.backend import BACKENDS
    from cnnbench.request import check_choices
    from cnnbench.request import read_choices as read_file

    found: dict = {}
    for text in texts:
        backend, sep, path = text.partition("=")
        if not sep or backend not in BACKENDS:
            raise BlockError(f"--choices {shown(text)}: expected BACKEND=TUNE.json, a backend "
                             f"of {', '.join(BACKENDS)}")
        if backend in found:
            raise BlockError(f"--choices: {backend} given twice")
        choices = read_file(path)
        check_choices(choices, [backend])
        found[backend] = choices
    return found


def _detect(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.rstrip("%")) / 100
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value < 10):
        raise UsageError(f"--detect {text[:40]}: expected a percentage such as 5%")
    return value


def _python(arm: Arm, write) -> str:
    if arm.keras is None:
        return sys.executable
    from cnnbench.envs import EnvError, python_for

    try:
        return python_for(arm.keras, log=write)
    except EnvError as err:
        raise BlockError(f"arm {arm.name}: {err}") from None


def _code(arm: Arm, write) -> Path | None:
    if arm.commit is None:
        return None
    from cnnbench.commits import CommitError, export

    try:
        where = export(arm.commit, Path.cwd())
    except CommitError as err:
        raise BlockError(f"arm {arm.name}: commit {arm.commit}: {err}") from None
    write(f"cnnbench: arm {arm.name}: its code from {where}")
    return where


def _made(block: Block, pythons: dict, code: dict, write) -> Block:
    """The block, its arms' environments and code made; an arm of another Keras whose
    environment cannot be built is left out in one line, if other arms go on."""
    gone: set[str] = set()  # the arms left out, by the arm an A/A twin times too
    for arm in block.arms:
        if arm.base in gone:
            continue  # an A/A twin of an arm already left out
        try:
            pythons[arm] = _python(arm, write)
            code[arm] = _code(arm, write)
        except BlockError as err:
            if arm.keras is None:
                raise UsageError(str(err)) from None
            gone.add(arm.base)
            write(f"cnnbench: {err}; left out, the block goes on without it")
    if not gone:
        return block
    arms = tuple(arm for arm in block.arms if arm.base not in gone)
    if not arms:
        raise UsageError("no arm of the block can start")
    return dataclasses.replace(block, arms=arms)


def run(args, argv: list[str] | None = None) -> int:
    from cnnbench.report.blocks import summary_lines
    from cnnbench.worker import ProcessWorker

    try:
        block = build(args)
        replicate = block_ray.check(args, block)
        detect = _detect(args.detect)
        if args.fail_above is not None:
            stats.gate(args.fail_above)
        path = Path(args.results)
        check_writable(path, "--results")
        results.check_file(path, "--results")
    except (BlockError, ValueError, PathError, options.OptionError) as err:
        raise UsageError(str(err)) from None
    write = print
    if args.engine == "ray" and not args.plan:
        return block_ray.run(args, block, path, sys.argv[2:] if argv is None else argv)
    pythons, code = {}, {}
    if not args.plan:  # every environment and commit made before any worker starts
        block = _made(block, pythons, code, write)
    try:
        commit_id = os.environ.get("CNNBENCH_COMMIT") or commit(Path.cwd())
        runner = Runner(block, path, None, write=write, resume=args.resume, commit=commit_id,
                        replicate=replicate)
    except BlockError as err:
        raise UsageError(str(err)) from None
    if args.plan:
        for round_ in range(block.rounds):
            names = ", ".join(f"{u.arm.name} {u.filters}f" for u in block.order(round_))
            print(f"round {round_}: {names}")
        todo, done = runner.todo(), len(runner.done)
        print(
            f"{len(todo)} runs to do, {done} on file (block {runner.block_id}); "
            f"about {hours(estimate(block, todo, path))} by {ESTIMATE_SOURCE}"
        )
        return 0
    logs = path.parent / f"{path.stem}-workers"

    def make_worker(arm: Arm) -> ProcessWorker:
        name = arm.name.replace(" (A/A twin)", "-twin").replace(":", "-").replace("/", "-")
        log = logs / f"{name.replace('@', '-')}.log"
        log = log.with_name(log.name.replace("#", "-"))
        return ProcessWorker(pythons[arm], arm.backend, block.device, log, cwd=code[arm])

    runner.make_worker = make_worker
    try:
        outcome = runner.run()
    except BlockError as err:
        raise UsageError(str(err)) from None
    except KeyboardInterrupt:
        again = " ".join(["python -m cnnbench block", *sys.argv[2:]])
        if "--resume" not in again:
            again += " --resume"
        print(f"cnnbench: interrupted; the finished runs are in {path}; to finish: {again}")
        return 130
    for line in summary_lines([str(path)], runner.block_id, detect):
        print(line)
    for arm, why in outcome.dead.items():
        print(f"cnnbench: arm {arm} was lost ({why}); --resume redoes its runs")
    for why in outcome.failed:
        print(f"cnnbench: a run did not count: {why}")
    if outcome.dead or outcome.failed:
        return EXIT_INCOMPLETE
    if args.fail_above is not None and regressions(path, runner.block_id, args.fail_above):
        return EXIT_REGRESSION
    return 0


def regressions(path: Path, block_id: str, fail_above: float, write=print) -> list[str]:
    """The arms of another commit or Keras whose time over their arm here has its whole
    interval above 1 + fail_above% (its point, where one round shows no noise)."""
    from cnnbench.report.blocks import summaries
    from cnnbench.report.frame import frame
    from cnnbench.report.read import load

    data = frame(load([str(path)]).runs)
    bound, found = stats.gate(fail_above), []
    for s in summaries(data[data["block"] == block_id]):
        for a in s.arms:
            r = a.to_own
            if r is not None and r.above(bound):
                found.append(a.arm)
                write(
                    f"regression: {a.arm} takes {r.text(3)} {a.own}'s time at {s.filters} "
                    f"filters (> +{fail_above:g}%)"
                )
    return found
