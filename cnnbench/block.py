"""A block: arms timed side by side on one machine, round by round, in a balanced order.

    python -m cnnbench block torch:native tensorflow:native jax:keras-tuned \\
        --filters 16 --rounds 6 --aa torch:native --results reports/blocks/cpu-16.jsonl

An *arm* is a backend, a path and a Keras version (and a precision, and the commit whose
code it runs, `cnnbench.commits`): `torch:keras-default`, `jax:native`,
`torch:keras-default@3.16.0.dev2026102704`, `jax:native/bf16`, `torch:native#v0.4`.
A block times every arm at every width once a round, one run at a time, in an order
that changes each round: round r of each cycle of n rounds (n units, a unit being an arm
at a width) is a seeded random order rotated r places, so over a
cycle every unit takes every place once and no two units keep their neighbours from
cycle to cycle. Every arm runs in its own long-lived worker process (`cnnbench.worker`),
warm: one epoch at every width it will time, at the timed run's own length, so every
shape the timed run compiles is compiled before the first timed round; a round of every
arm takes minutes, so what the machine does over an afternoon falls on every arm alike,
and two arms' ratio is paired round by round (`cnnbench.stats`).

- **A/A.** `--aa ARM` times one arm twice, as two arms (the second is its *twin*, in
  its own worker): their ratio's interval is the block's noise floor, and a block whose
  A/A interval excludes 1 is disturbed (the report says so wherever it is used).
- **Cold apart.** With `--cold`, each worker's first run is timed before any warm-up,
  in a fresh process with empty compile caches: the whole run and the time from the
  process's start to its first finished epoch. It is recorded as cold and never enters
  a warm median.
- **Records.** Each run is appended the moment it finishes, by the block alone (workers
  only reply), with the block's id, the arm, the round and its place in the round.
  `--resume` continues the results file's block of the same definition (arms, widths,
  length, seeds; not the rounds, which may grow), redoing nothing; a worker that dies is
  reported with its arm and round, and the block goes on without it (`cnnbench.runner`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cnnbench import checks
from cnnbench.backend import BACKENDS
from cnnbench.experiment import BATCH_SIZE, LEARNING_RATE
from cnnbench.precision import PRECISIONS
from cnnbench.records import VARIANTS, RunConfig, path_label, variant_id

PATHS = {variant_id(*variant): variant for variant in VARIANTS}  # the suite's path ids


class BlockError(ValueError):
    """A block that cannot run as asked: one line, naming the arm or the option."""


@dataclass(frozen=True, order=True)
class Arm:
    backend: str
    path: str  # keras-default, keras-tuned, keras-loop, native
    keras: str | None = None  # None: this environment's Keras
    precision: str = "fp32"
    twin: int = 0  # 1: the A/A arm's second copy
    commit: str | None = None  # another commit's code (`cnnbench.commits`); None: this one's

    @property
    def name(self) -> str:
        text = f"{self.backend}:{self.path}"
        text += f"@{self.keras}" if self.keras else ""
        text += f"#{self.commit}" if self.commit else ""
        text += f"/{self.precision}" if self.precision != "fp32" else ""
        return text + (" (A/A twin)" if self.twin else "")

    @property
    def base(self) -> str:
        """The name of the arm it times (the A/A twin's is its arm's)."""
        return dataclasses.replace(self, twin=0).name

    def key(self, filters: int, round_: int, cold: bool = False) -> tuple:
        """What a run of this arm is on file as (`done_in`)."""
        return (self.base, self.twin, filters, round_, cold)

    @property
    def variant(self) -> tuple[str, str | None]:
        return PATHS[self.path]

    @property
    def label(self) -> str:
        return path_label(*self.variant)


def parse_arm(text: str, repo: Path | None = None) -> Arm:
    """`backend:path[@keras][#rev][/precision]` as an Arm; BlockError naming it otherwise.
    A revision is resolved in the checkout at `repo` (default: the current folder)."""
    shown = text if len(text) <= 60 else text[:59] + "…"
    rest, _, precision = text.rpartition("/")
    if not rest or "#" in precision or "@" in precision:  # no precision (a rev may hold '/')
        rest, precision = text, ""
    rest, _, rev = rest.partition("#")
    rest, _, keras = rest.partition("@")
    backend, _, path = rest.partition(":")
    if backend not in BACKENDS:
        raise BlockError(f"arm {shown!r}: unknown backend (one of {', '.join(BACKENDS)})")
    if path not in PATHS:
        raise BlockError(f"arm {shown!r}: unknown path (one of {', '.join(PATHS)})")
    if precision and precision not in PRECISIONS:
        raise BlockError(f"arm {shown!r}: unknown precision (one of {', '.join(PRECISIONS)})")
    if "@" in text.partition("#")[0] and not keras:
        raise BlockError(f"arm {shown!r}: '@' names a Keras version, and none follows")
    if "#" in text and not rev:
        raise BlockError(f"arm {shown!r}: '#' names a commit, and none follows")
    if keras:
        from cnnbench.envs import EnvError, check_version

        try:
            keras = check_version(keras)
        except EnvError as err:
            raise BlockError(f"arm {shown!r}: {err}") from None
    commit = None
    if rev:
        from cnnbench.commits import CommitError, resolve

        try:
            commit = resolve(rev, repo or Path.cwd())
        except CommitError as err:
            raise BlockError(f"arm {shown!r}: {err}") from None
    return Arm(backend, path, keras or None, precision or "fp32", commit=commit)


@dataclass(frozen=True)
class Unit:
    """One timed run's place in a round: an arm at a width."""

    arm: Arm
    filters: int


@dataclass(frozen=True)
class Block:
    arms: tuple[Arm, ...]  # the A/A twin included, last
    filters: tuple[int, ...]
    rounds: int
    device: str = "cpu"
    epochs: int = 10
    train_subset: int | None = None
    seed: int = 0  # round r trains with seed + r, on every arm
    order_seed: int = 0
    cold: bool = False
    # backend -> {path id: settings}, from `tune --write-choices`, for this environment's arms
    choices: Mapping = dataclasses.field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        names = [arm.name for arm in self.arms]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise BlockError(f"arm {twice[0]!r} named twice (an A/A pair is --aa ARM)")
        if not self.arms:
            raise BlockError("a block needs at least one arm")
        if self.rounds < 1:
            raise BlockError(f"--rounds must be >= 1, got {self.rounds}")

    @property
    def aa(self) -> tuple[Arm, Arm] | None:
        twins = [arm for arm in self.arms if arm.twin]
        if not twins:
            return None
        return dataclasses.replace(twins[0], twin=0), twins[0]

    def definition(self) -> dict:
        """What makes two blocks the same experiment (the rounds may grow)."""
        return {
            "arms": [arm.name for arm in self.arms],
            "filters": list(self.filters),
            "device": self.device,
            "epochs": self.epochs,
            "train_subset": self.train_subset,
            "seed": self.seed,
            "order_seed": self.order_seed,
            "cold": self.cold,
            **({"choices": {b: dict(c) for b, c in sorted(self.choices.items())}}
               if self.choices else {}),
        }

    @property
    def digest(self) -> str:
        text = json.dumps(self.definition(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def units(self) -> list[Unit]:
        return [Unit(arm, f) for f in self.filters for arm in self.arms]

    def order(self, round_: int) -> list[Unit]:
        """Round `round_`'s runs in order: its cycle's seeded shuffle, rotated."""
        units = self.units()
        cycle, turn = divmod(round_, len(units))
        shuffled = list(units)
        random.Random(f"{self.order_seed}:{cycle}").shuffle(shuffled)
        turn %= len(units)
        return shuffled[turn:] + shuffled[:turn]

    def config(self, unit: Unit, round_: int, *, warmup: bool = False) -> RunConfig:
        impl, profile = unit.arm.variant
        mine = self.choices.get(unit.arm.backend, {}) if unit.arm.keras is None else {}
        return RunConfig(
            filters=unit.filters,
            learning_rate=LEARNING_RATE,
            epochs=1 if warmup else self.epochs,
            batch_size=BATCH_SIZE,
            seed=self.seed + round_,
            device=self.device,
            train_subset=self.train_subset,
            impl=impl,
            profile=profile or "default",
            precision=unit.arm.precision,
            settings=mine.get(unit.arm.path),
        )


def aa_arms(arms: Sequence[Arm], aa: Arm | None) -> tuple[Arm, ...]:
    """The arms with the A/A arm's twin last (the A/A arm itself added if missing)."""
    arms = list(arms)
    if aa is None:
        return tuple(arms)
    if aa not in arms:
        arms.append(aa)
    return (*arms, dataclasses.replace(aa, twin=1))


def record_of(block_id: str, block: Block, unit: Unit, round_: int, place: int, **kw) -> dict:
    return {
        "benchmark": f"block[{unit.filters}-{unit.arm.name}-r{round_}]",
        "round": round_,
        "block": {
            "id": block_id,
            "digest": block.digest,
            "arm": unit.arm.base,
            "twin": unit.arm.twin,
            "place": place,
            "rounds": block.rounds,
            "definition": block.definition(),
            **kw,
        },
    }


def blocks_on_file(records: Iterable[Mapping], digest: str) -> list[str]:
    """The ids of the blocks of this definition on file, oldest first."""
    ids: list[str] = []
    for record in records:
        info = record.get("block")
        if isinstance(info, dict) and info.get("digest") == digest and info.get("id") not in ids:
            ids.append(info["id"])
    return ids


def done_in(records: Iterable[Mapping], block_id: str) -> set[tuple]:
    """`Arm.key` of every run the block has on file that passes the checks."""
    done = set()
    for record in records:
        info = record.get("block")
        if not isinstance(info, dict) or info.get("id") != block_id or record.get("warmup"):
            continue
        result = record.get("result") or {}
        try:
            if checks.problems(result):
                continue
        except (KeyError, TypeError, ValueError):
            continue
        key = (info["arm"], info.get("twin", 0), result["filters"], record["round"])
        done.add((*key, bool(info.get("cold"))))
    return done
