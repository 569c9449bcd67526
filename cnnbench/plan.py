"""A sweep as a value: every planned run in order, its estimate, and its cut into shards.

    python -m cnnbench plan [--filters 8,16] [--rounds 3] ... [--devices 4] [--shards 8]

`plan(spec)` lists the runs a sweep times, round by round (all of round 0, then all of
round 1, ...), with the two rules applied once: the learning-rate experiment's lr 0.1
run is the filter sweep's run at 16 filters when the sweep has it (its *twin*), and a
Keras `tuned` path that is Keras's defaults on this backend and device is not timed twice.
pytest's parametrisation and order, resume, the estimate, the shards and the launchers
(`cnnbench.engine`) all read this list; nothing else re-derives it.

`shard(runs, k, n, seconds)` cuts the plan into n shards balanced by estimated seconds
(longest first, each to the least loaded shard), every run in exactly one shard and in
plan order inside it, so a shard is itself round by round. `K` may come from
`SLURM_ARRAY_TASK_ID` or `JOB_COMPLETION_INDEX` (`shard_index`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cnnbench import profiles
from cnnbench.errors import shown
from cnnbench.experiment import LEARNING_RATE, LR_FILTERS
from cnnbench.records import Variant, variant_id

TESTS = ("test_filters", "test_learning_rate")  # the two experiments, in plan order
INDEX_VARIABLES = ("SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX")  # a job array's K


@dataclass(frozen=True)
class Spec:
    """What a sweep is asked to time (the suite's options, resolved)."""

    backends: tuple[str, ...]  # the backends whose plans the shards cut together
    kind: str  # the kind of device: cpu or gpu
    filters: tuple[int, ...]
    learning_rates: tuple[float, ...]
    variants: tuple[Variant, ...]
    rounds: int
    lr_variants: tuple[Variant, ...] = ()  # the paths the learning-rate experiment times
    shard: tuple[int, int] = (1, 1)  # K of N
    choices: Mapping = field(default_factory=dict, hash=False)  # path id -> `tune` settings
    tests: tuple[str, ...] = TESTS


@dataclass(frozen=True)
class Planned:
    """One timed run of the plan: which backend, experiment, path, width, rate and round."""

    backend: str
    test: str
    variant: Variant
    filters: int
    learning_rate: float
    round: int

    @property
    def param_id(self) -> str:
        """pytest's id of the run's parameters (and the results file's benchmark name)."""
        path = variant_id(*self.variant)
        if self.test == "test_filters":
            return f"{self.filters}-{path}-r{self.round}"
        return f"{path}-{self.learning_rate:g}-r{self.round}"

    @property
    def name(self) -> str:
        return f"{self.test}[{self.param_id}]"


def redundant(spec: Spec, backend: str, variant: Variant) -> str | None:
    """Why a path need not run: Keras `tuned` that is Keras's defaults here (as chosen in
    `cnnbench.profiles`, or by the session's own `tune` choice) times the same thing twice."""
    if variant != ("keras", "tuned"):
        return None
    chosen = spec.choices.get(variant_id(*variant))
    if profiles.same_as_default(backend, spec.kind, chosen):
        source = "docs/tuning.md" if chosen is None else "--choices"
        return f"keras tuned is keras default on {backend} {spec.kind} ({source})"
    return None


def plan(spec: Spec) -> list[Planned]:
    """Every run the sweep times: per backend, round by round; within a round the filter
    sweep by width and path, then the learning-rate sweep by path and rate (lr 0.1 only
    where the filter sweep has no 16-filter twin)."""
    runs = []
    for backend in spec.backends:
        paths = [v for v in spec.variants if not redundant(spec, backend, v)]
        lr_paths = [v for v in spec.lr_variants if not redundant(spec, backend, v)]
        for round_ in range(spec.rounds):
            if "test_filters" in spec.tests:
                runs += [
                    Planned(backend, "test_filters", v, f, LEARNING_RATE, round_)
                    for f in spec.filters
                    for v in paths
                ]
            if "test_learning_rate" in spec.tests:
                twins = "test_filters" in spec.tests and LR_FILTERS in spec.filters
                runs += [
                    Planned(backend, "test_learning_rate", v, LR_FILTERS, lr, round_)
                    for v in lr_paths
                    for lr in spec.learning_rates
                    if not (twins and lr == LEARNING_RATE and v in paths)
                ]
    return runs


def sweep_id(spec: Spec, **length) -> str:
    """A short name for the plan (the same options give the same id, on every worker of
    a job array or a Ray cluster): which sweep a run belongs to, whichever file or shard
    it was written in. `length`: epochs, train subset, precision, seed."""
    identity = {
        "backends": spec.backends,
        "kind": spec.kind,
        "filters": spec.filters,
        "learning_rates": spec.learning_rates,
        "paths": [variant_id(*v) for v in spec.variants],
        "lr_paths": [variant_id(*v) for v in spec.lr_variants],
        "rounds": spec.rounds,
        "shards": spec.shard[1],
        "choices": spec.choices,
        **length,
    }
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def notes(spec: Spec) -> list[str]:
    """What the plan left out, and why, in words."""
    paths = {*spec.variants, *spec.lr_variants}
    out = sorted({r for b in spec.backends for v in paths if (r := redundant(spec, b, v))})
    if (
        LEARNING_RATE in spec.learning_rates
        and "test_filters" in spec.tests
        and LR_FILTERS in spec.filters
    ):
        out.append(
            f"the learning-rate sweep's lr {LEARNING_RATE:g} run is the filter sweep's "
            f"{LR_FILTERS}-filter run: timed once"
        )
    return out


_SHARD = re.compile(r"(\d{1,6})/(\d{1,6})", re.ASCII)
MAX_SHARDS = 10_000


class ShardError(ValueError):
    """A --shard that names no shard; the message says why."""


def array_index(environ: Mapping[str, str]) -> int:
    """This worker's 1-based place in a job array: Slurm's task id counted from the array's
    first id (so `--array=0-3` and `--array=1-4` both give 1..4), or a Kubernetes Indexed
    Job's 0-based completion index plus one."""
    for name in INDEX_VARIABLES:
        value = environ.get(name, "").strip()
        if not value:
            continue
        first = environ.get("SLURM_ARRAY_TASK_MIN", "0") if name.startswith("SLURM") else "0"
        if not (is_index(value) and is_index(first.strip())):
            raise ShardError(f"--shard: ${name}={shown(value)} is not an index")
        return int(value) - int(first) + 1
    raise ShardError(f"--shard N: no job array index (${' or $'.join(INDEX_VARIABLES)} unset)")


def is_index(text: str) -> bool:
    """ASCII digits, few enough for an index ('²' is a digit to str.isdigit, not to int)."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def parse_shard(text: str, environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """`K/N` (K in 1..N) -> (K, N); a bare `N` takes K from the job array (`array_index`)."""
    environ = os.environ if environ is None else environ
    text = text.strip()
    if is_index(text):
        text = f"{array_index(environ)}/{text}"
    match = _SHARD.fullmatch(text)
    if not match:
        raise ShardError(f"--shard {shown(text)}: expected K/N (e.g. 1/4), or N in a job array")
    k, n = int(match[1]), int(match[2])
    if not 1 <= n <= MAX_SHARDS:
        raise ShardError(f"--shard {text}: N must be in 1..{MAX_SHARDS}")
    if not 1 <= k <= n:
        raise ShardError(f"--shard {text}: K must be in 1..{n}")
    return k, n


def assign(runs: Sequence[Planned], n: int, seconds: Callable[[Planned], float]) -> list[int]:
    """The shard (0-based) of each run: the longest first, each to the least loaded shard
    (ties: the lowest shard, then plan order), so no shard ends more than one run's time
    after the best possible."""
    load = [0.0] * n
    owner = [0] * len(runs)
    order = sorted(range(len(runs)), key=lambda i: (-seconds(runs[i]), i))
    for i in order:
        target = min(range(n), key=lambda s: (load[s], s))
        owner[i] = target
        load[target] += seconds(runs[i])
    return owner


def shard(
    runs: Sequence[Planned], k: int, n: int, seconds: Callable[[Planned], float]
) -> list[Planned]:
    """Shard k of n (1-based), in plan order."""
    owner = assign(runs, n, seconds)
    return [run for run, s in zip(runs, owner, strict=True) if s == k - 1]


def loads(
    runs: Sequence[Planned],
    n: int,
    cost: Callable[[Planned], float],
    seconds: Callable[[Planned], float] | None = None,
) -> list[float]:
    """Estimated seconds of each of n shards: cut by `cost`, timed by `seconds` (a better
    estimate than the cut's may be known to one machine; the cut must be everyone's)."""
    seconds = seconds or cost
    total = [0.0] * n
    for run, s in zip(runs, assign(runs, n, cost), strict=True):
        total[s] += seconds(run)
    return total


def makespan(runs: Sequence[Planned], devices: int, cost: Callable[[Planned], float]) -> float:
    """How long the plan takes on `devices` devices, a shard each: the longest shard."""
    return max(loads(runs, devices, cost), default=0.0)


def hours(seconds: float) -> str:
    """A duration as a reader wants it: 45 s, 12 min, 3.4 h."""
    if not math.isfinite(seconds):
        return "unknown"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"
