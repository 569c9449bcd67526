"""A block on Ray: one replicate of the whole block per host (or per GPU), each timed there
by the same `python -m cnnbench block` as the embedded engine, its runs streamed back to
the one writer of the results file (`cnnbench.engine`, `cnnbench.driver`).

    python -m cnnbench block ARM [ARM ...] --engine ray [--address ADDR] [--replicates N]

A replicate is a block of its own (its own id, its machine in every record, `replicate`
"K/N" beside the block's id), so seconds never pool across machines; its ratios combine
with the other replicates' (`cnnbench.stats.replicated`). A replicate lost with its node
is started again from its own runs on file: its `--resume` continues its block on the same
machine, or starts a new block on another (a machine's rounds are never another's).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from cnnbench.plan import ShardError, is_index

# the block command's options that pick the engine, not the experiment (never forwarded)
ENGINE_OPTIONS = {"--engine": True, "--address": True, "--replicates": True,
                  "--results": True, "--resume": False}  # fmt: skip
MAX_REPLICATES = 1000


@dataclass(frozen=True)
class Replicate:
    """Replicate k of n: the block's own command, run on one host or GPU."""

    k: int
    n: int
    args: tuple[str, ...]  # the block's arms and options, engine options stripped
    kind: str  # cpu or gpu
    threads: tuple[tuple[str, str | None], ...] = ()  # the driver's thread settings

    @property
    def label(self) -> str:
        return f"replicate {self.k}/{self.n}"

    @property
    def tag(self) -> str:
        return f"{self.k}/{self.n}"

    def seed(self, on_file: Sequence[dict]) -> list[dict]:
        """Its own runs on file alone: another replicate's block is never resumed here."""
        return [r for r in on_file if (r.get("block") or {}).get("replicate") == self.tag]

    def environment(self, backend: str) -> dict[str, str]:
        from cnnbench.engine import with_threads

        return with_threads({**os.environ, "PYTHONUNBUFFERED": "1"}, self.threads)

    def commands(self, results_path) -> list[tuple[str, list[str]]]:
        return [("block", [sys.executable, "-m", "cnnbench", "block", *self.args,
                           "--replicate", self.tag, "--results", str(results_path),
                           "--resume"])]  # fmt: skip


def forwarded(argv: Sequence[str]) -> tuple[str, ...]:
    """The block command's arguments without the engine's options (`--engine ray`, its
    `--address`, `--replicates`, the driver's `--results` and `--resume`)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in ENGINE_OPTIONS:
            skip = ENGINE_OPTIONS[name] and "=" not in arg
            continue
        out.append(arg)
    return tuple(out)


def parse_replicate(text: str) -> tuple[int, int]:
    """`--replicate K/N` -> (k, n); ShardError naming the value otherwise."""
    from cnnbench.errors import shown

    k, sep, n = text.partition("/")
    if not (sep and is_index(k) and is_index(n)):
        raise ShardError(f"--replicate {shown(text)}: expected K/N")
    k_, n_ = int(k), int(n)
    if not 1 <= n_ <= MAX_REPLICATES or not 1 <= k_ <= n_:
        raise ShardError(f"--replicate {shown(text)}: expected 1 <= K <= N <= {MAX_REPLICATES}")
    return k_, n_


def replicates(n: int, argv: Sequence[str], kind: str, threads=()) -> list[Replicate]:
    args = forwarded(argv)
    return [Replicate(k, n, args, kind, tuple(threads)) for k in range(1, n + 1)]


def add_options(parser) -> None:
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: this machine (default); ray: a replicate per host or GPU")
    parser.add_argument("--address", help="a Ray cluster's address (default: a local Ray)")
    parser.add_argument("--replicates", type=int, metavar="N",
                        help="replicates on Ray (default: one per host, or per GPU)")
    parser.add_argument("--replicate", metavar="K/N",
                        help="this block's place among replicates (--engine ray sets it)")


def check(args, block) -> str | None:
    """The engine's options checked before anything starts; this block's `--replicate`."""
    ray = args.engine == "ray"
    for name, value in (("--address", args.address), ("--replicates", args.replicates)):
        if value is not None and not ray:
            raise ValueError(f"{name}: only with --engine ray")
    if args.address is not None and not args.address.strip():
        raise ValueError("--address '': names no cluster (leave it out for a local Ray)")
    if args.replicates is not None and not 1 <= args.replicates <= MAX_REPLICATES:
        raise ValueError(f"--replicates must be in 1..{MAX_REPLICATES}, got {args.replicates}")
    if ray and args.replicate is not None:
        raise ValueError("--replicate is --engine ray's own: give --replicates N")
    if ray and any(arm.commit for arm in block.arms):
        raise ValueError("--engine ray: an arm of another commit (#REV) is exported from "
                         "this checkout; time it with the local engine")
    if args.replicate is None:
        return None
    k, n = parse_replicate(args.replicate)
    return f"{k}/{n}"


def run(args, block, path, argv: Sequence[str], write=print) -> int:
    """Every replicate to its end through Ray; each block's summary, then the combined
    ratios. Exit status: the worst replicate's (its block command's)."""
    from cnnbench import engine, results
    from cnnbench.driver import Driver
    from cnnbench.errors import UsageError
    from cnnbench.report.blocks import summary_lines
    from cnnbench.report.frame import frame
    from cnnbench.report.read import load
    from cnnbench.report.replicates import lines

    try:
        ray = engine.connect(args.address)
        count = args.replicates or engine.devices(ray, block.device)
        items = replicates(count, argv, block.device, engine.driver_threads())
        write(f"cnnbench: block {block.digest} on Ray: {count} replicates, each a block of "
              f"its own on one {'GPU' if block.device == 'gpu' else 'host'} -> {path}")
        status = engine.run(ray, items, Driver(path, write=write))
    except engine.EngineError as err:
        raise UsageError(str(err)) from None
    finally:
        engine.shutdown()
    tags = {item.tag for item in items}
    ids: list[str] = []
    for record in results.read(path, allow_torn_tail=True) if path.exists() else []:
        info = record.get("block") or {}
        if info.get("digest") == block.digest and info.get("replicate") in tags:
            if info["id"] not in ids:
                ids.append(info["id"])
    for block_id in ids:
        for line in summary_lines([str(path)], block_id):
            write(line)
    if ids:
        for line in lines(frame(load([str(path)]).runs), ids):
            write(line)
    for item in items:
        if status.get(item.k):
            write(engine.ended(item.label, status[item.k]))
    return max(status.values(), default=0)
