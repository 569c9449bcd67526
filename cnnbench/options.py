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

from cnnbench.records import RunConfig

# A field's flag when it is not the field's own name.
FLAGS = {"learning_rate": ("--lr",)}
LIST_FLAGS = {"learning_rate": "--lrs"}


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
        raise OptionError(f"{flag} {text!r}: expected comma-separated numbers") from None
    if not values:
        raise OptionError(f"{flag} {text!r}: no value")
    if choices:
        unknown = [v for v in values if v not in choices]
        if unknown:
            raise OptionError(f"{flag} {text!r}: choose from {', '.join(choices)}")
    elif not all(math.isfinite(v) and v > 0 for v in values):
        raise OptionError(f"{flag} {text!r}: every value must be a finite number > 0")
    return values


def config_options(
    names: Iterable[str], lists: dict[str, str] | None = None
) -> list[tuple[tuple[str, ...], dict]]:
    """(flags, add_argument keywords) for the named RunConfig fields.

    `lists` maps a field to the default text of its comma-separated list option; its
    value stays text here and is read with `parse_list` (each front end reports the
    error its own way).
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
            options.append(
                ((flag,), {"default": lists[name], "help": f"{help_text}: {what} (%(default)s)"})
            )
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
        options.append((flags, kwargs))
    return options


def add_config_options(
    add: Callable, names: Iterable[str], lists: dict[str, str] | None = None
) -> None:
    for flags, kwargs in config_options(names, lists):
        add(*flags, **kwargs)


def list_kind(name: str) -> tuple[type, tuple]:
    """(element type, choices) of a RunConfig field used as a list option."""
    field = next(f for f in dataclasses.fields(RunConfig) if f.name == name)
    return _types()[name], field.metadata["choices"]
