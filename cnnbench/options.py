"""Command-line options built from `RunConfig`'s fields, for `python -m cnnbench` and the
benchmark suite alike: a new option is one field in `cnnbench.records`.

Both front ends take `(flags, keyword arguments)` pairs: argparse's `add_argument` and
pytest's `addoption` accept the same keywords. A field listed in `lists` becomes a
comma-separated list (`--filters 8,16`), for sweeps.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable, Iterable

from cnnbench.errors import shown
from cnnbench.records import RunConfig

# A field's flag when it is not the field's own name.
FLAGS = {"learning_rate": ("--lr",)}
LIST_FLAGS = {"learning_rate": "--lrs"}
MAX_VALUES = 64  # values in one list option: a sweep, not a search space


class OptionError(ValueError):
    """An option's value cannot be used; the message names the option."""


def _types() -> dict[str, type]:
    hints = typing.get_type_hints(RunConfig)
    kinds = {}
    for name, hint in hints.items():
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        kinds[name] = args[0] if args else hint
    return kinds


def parse_list(text: str, kind: type, choices: tuple, flag: str) -> list:
    """`8,16` -> [8, 16]; OptionError naming the flag for anything else."""
    items = [v.strip() for v in text.split(",") if v.strip()]
    try:
        values = [kind(v) for v in items]
    except ValueError:
        raise OptionError(f"{flag} {shown(text)}: expected comma-separated numbers") from None
    if not values:
        raise OptionError(f"{flag} {shown(text)}: no value")
    if len(values) > MAX_VALUES:
        raise OptionError(f"{flag}: {len(values)} values, at most {MAX_VALUES}")
    twice = sorted({f"{v:g}" if kind is float else str(v) for v in values if values.count(v) > 1})
    if twice:
        raise OptionError(f"{flag} {shown(text)}: {', '.join(twice)} given twice")
    if choices:
        unknown = [v for v in values if v not in choices]
        if unknown:
            raise OptionError(f"{flag} {shown(text)}: choose from {', '.join(choices)}")
    elif not all(math.isfinite(v) and v > 0 for v in values):
        raise OptionError(f"{flag} {shown(text)}: every value must be a finite number > 0")
    return values


def config_options(
    names: Iterable[str], lists: dict[str, str] | None = None, unset: bool = False
) -> list[tuple[tuple[str, ...], dict]]:
    """(flags, add_argument keywords) for the named RunConfig fields.

    `lists` maps a field to the default text of its comma-separated list option; its
    value stays text here and is read with `parse_list` (each front end reports the
    error its own way). With `unset`, an option not given is None and its help names
    the default: a front end with presets (`--quick`) tells an explicit value from none.
    """
    lists = lists or {}
    kinds = _types()
    fields = {f.name: f for f in dataclasses.fields(RunConfig)}
    options = []
    for name in names:
        field = fields[name]
        kind, choices = kinds[name], field.metadata["choices"]
        help_text = field.metadata["help"]
        if name in lists:
            flag = LIST_FLAGS.get(name, "--" + name.replace("_", "-"))
            what = ",".join(choices) if choices else "comma-separated"
            spec = {"default": lists[name], "help": f"{help_text}: {what} (%(default)s)"}
            options.append(((flag,), _unset(spec) if unset else spec))
            continue
        flags = FLAGS.get(name, ("--" + name.replace("_", "-"),))
        kwargs: dict = {"default": field.default, "dest": name}
        if choices:
            kwargs["choices"] = choices
        else:
            kwargs["type"] = kind
            kwargs["metavar"] = "N" if kind is int else "X"
        default = "all" if field.default is None else "%(default)s"
        kwargs["help"] = f"{help_text} (default: {default})"
        options.append((flags, _unset(kwargs) if unset else kwargs))
    return options


def _unset(spec: dict) -> dict:
    """`spec` with no default (None), its help text naming the default it had."""
    shown = spec["default"]
    return {**spec, "default": None, "help": spec["help"].replace("%(default)s", str(shown))}


def dest(flags: tuple[str, ...], spec: dict) -> str:
    """The attribute an option's value lands in (argparse's and pytest's rule)."""
    return spec.get("dest") or flags[0].removeprefix("--").replace("-", "_")


def defaults(names: Iterable[str], lists: dict[str, str] | None = None) -> dict:
    """{dest: default} of the options `config_options` builds for these fields."""
    return {dest(flags, spec): spec["default"] for flags, spec in config_options(names, lists)}


def add_config_options(
    add: Callable, names: Iterable[str], lists: dict[str, str] | None = None, unset=False
) -> None:
    for flags, kwargs in config_options(names, lists, unset):
        add(*flags, **kwargs)


def list_kind(name: str) -> tuple[type, tuple]:
    """(element type, choices) of a RunConfig field used as a list option."""
    field = next(f for f in dataclasses.fields(RunConfig) if f.name == name)
    return _types()[name], field.metadata["choices"]
