"""What a sweep is asked for: its options, their defaults and the `--quick` preset, read
into a `cnnbench.plan.Spec`. The benchmark suite (pytest) and `python -m cnnbench plan`
and `sweep` take the same options from here and resolve them the same way.

An option not given is None until `resolve` fills it: the `--quick` preset where it has
one, else the default (so an explicit `--rounds 3` is never overridden). The default
widths depend on the kind of device: the published CPU sweep's 8-64 filters on a CPU,
the report's 8-256 on a GPU.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from cnnbench import experiment, options, profiles
from cnnbench.errors import PathError
from cnnbench.files import regular_file
from cnnbench.plan import Spec, parse_shard
from cnnbench.records import VARIANTS, variant_id, variants

FIELDS = ("filters", "learning_rate", "epochs", "train_subset", "seed", "device")
FIELDS += ("impl", "profile", "precision")
LISTS = {
    "filters": "8,16,32,64 on a CPU, 8,...,256 on a GPU",  # by kind: `default_filters`
    "learning_rate": ",".join(map(str, experiment.LEARNING_RATES)),
    "impl": "keras,native",
    "profile": "default,tuned",
}
MAX_ROUNDS = 100  # a median needs 3; a hundred is already a study
# A first look; each preset stands only where the option was not given.
QUICK = {"filters": "8,16", "lrs": "0.1,0.01", "epochs": 1, "train_subset": 5500, "rounds": 1}


def default_filters(kind: str) -> str:
    widths = experiment.CPU_FILTERS if kind == "cpu" else experiment.FILTERS
    return ",".join(map(str, widths))


def option_specs() -> list[tuple[tuple[str, ...], dict]]:
    """(flags, keywords) of every sweep option, for argparse and pytest alike."""
    specs = options.config_options(FIELDS, LISTS, unset=True)
    quick = ", ".join(f"{k} {v}" for k, v in QUICK.items())
    specs += [
        (
            ("--rounds",),
            {
                "type": int,
                "default": None,
                "help": f"timed runs per cell, seeds S..S+R-1 (default: {experiment.ROUNDS})",
            },
        ),
        (
            ("--quick",),
            {
                "action": "store_true",
                "help": f"a first look ({quick}); options given explicitly win",
            },
        ),
        (
            ("--lr-paths",),
            {
                "default": None,
                "help": "paths the learning-rate sweep times (default: the first path)",
            },
        ),
        (
            ("--shard",),
            {
                "default": None,
                "metavar": "K/N",
                "help": "time shard K of N of the plan (balanced by estimated time); a "
                "bare N takes K from $SLURM_ARRAY_TASK_ID or $JOB_COMPLETION_INDEX",
            },
        ),
        (
            ("--plan-backends",),
            {
                "default": None,
                "metavar": "B,B",
                "help": "backends whose plans the shards cut together (default: this one)",
            },
        ),
        (
            ("--choices",),
            {
                "default": None,
                "metavar": "PATH",
                "help": "settings per path chosen by `python -m cnnbench tune --write-choices`",
            },
        ),
    ]
    return specs


def resolve(values: dict, kind: str) -> dict:
    """`values` (dest -> value or None) with every option not given filled in."""
    defaults = {
        **options.defaults(FIELDS, {**LISTS, "filters": default_filters(kind)}),
        "rounds": experiment.ROUNDS,
    }
    filled = dict(values)
    for dest, default in defaults.items():
        if filled.get(dest) is None:
            filled[dest] = QUICK.get(dest, default) if filled.get("quick") else default
    return filled


def check_runs(values: Mapping) -> None:
    """The run's own checks (`RunConfig`) on the resolved options, at the first and the
    last round's seed: ValueError naming the problem, before anything starts."""
    from cnnbench.records import RunConfig

    for seed in (values["seed"], values["seed"] + max(values["rounds"], 1) - 1):
        RunConfig(
            epochs=values["epochs"],
            train_subset=values["train_subset"],
            seed=seed,
            precision=values["precision"],
        )


def lists(values: Mapping) -> dict[str, list]:
    """The comma-separated options parsed; ValueError naming the flag."""
    parsed = {}
    for name in LISTS:
        flag = options.LIST_FLAGS.get(name, "--" + name)
        kind, choices = options.list_kind(name)
        parsed[name] = options.parse_list(values[options.dest((flag,), {})], kind, choices, flag)
    return parsed


def read_choices(path: str | None) -> dict:
    """The `--choices` file: {path id: settings}; ValueError or PathError naming it."""
    if path is None:
        return {}
    if not regular_file(path, "--choices"):
        raise PathError(f"--choices {path}: no such file")
    try:
        choices = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"--choices {path}: unreadable ({err})") from None
    if not isinstance(choices, dict) or not all(isinstance(v, dict) for v in choices.values()):
        raise ValueError(f"--choices {path}: expected {{path id: settings}}")
    known = [variant_id(*v) for v in VARIANTS]
    unknown = sorted(set(choices) - set(known))
    if unknown:
        raise ValueError(
            f"--choices {path}: unknown path id {', '.join(unknown)}; known: {', '.join(known)}"
        )
    return choices


def check_choices(choices: Mapping, backends: Sequence[str]) -> None:
    impl_of = {variant_id(*variant): variant[0] for variant in VARIANTS}
    for backend in backends:
        for path, settings in choices.items():
            impl = impl_of[path]  # read_choices refused unknown path ids
            try:
                profiles.check(impl, backend, settings)
            except ValueError as err:
                raise ValueError(f"--choices: {path}: {err}") from None
            refused = profiles.refused_here(impl, backend, settings)
            if refused:
                raise ValueError(f"--choices: {path}: {refused}")


def spec(values: Mapping, backend: str, kind: str, choices: Mapping) -> Spec:
    """The plan's Spec from resolved values; ValueError naming the option at fault."""
    rounds = values["rounds"]
    if not 1 <= rounds <= MAX_ROUNDS:
        raise ValueError(f"--rounds must be in 1..{MAX_ROUNDS}, got {rounds}")
    parsed = lists(values)
    paths = variants(parsed["impl"], parsed["profile"])
    backends = [backend]
    if values.get("plan_backends"):
        from cnnbench.backend import BACKENDS

        backends = options.parse_list(values["plan_backends"], str, BACKENDS, "--plan-backends")
    lr_paths = _lr_paths(values.get("lr_paths"), paths)
    shard = parse_shard(values["shard"]) if values.get("shard") is not None else (1, 1)
    return Spec(
        backends=tuple(backends),
        kind=kind,
        filters=tuple(parsed["filters"]),
        learning_rates=tuple(parsed["learning_rate"]),
        variants=tuple(paths),
        lr_variants=tuple(lr_paths),
        rounds=rounds,
        shard=shard,
        choices=dict(choices),
    )


def _lr_paths(text: str | None, paths: list) -> list:
    if text is None:
        return paths[:1]
    ids = {variant_id(*v): v for v in paths}
    chosen = options.parse_list(text, str, tuple(ids), "--lr-paths")
    return [ids[i] for i in chosen]
