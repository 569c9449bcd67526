"""Options built from RunConfig's fields: one declaration, two front ends."""

import argparse

import pytest

from cnnbench import options
from cnnbench.records import RunConfig


def _parser(names, lists=None):
    parser = argparse.ArgumentParser()
    options.add_config_options(parser.add_argument, names, lists)
    return parser


def test_defaults_and_choices_come_from_the_fields():
    args = _parser(["filters", "precision", "train_subset"]).parse_args([])
    assert (args.filters, args.precision, args.train_subset) == (16, "fp32", None)
    with pytest.raises(SystemExit):
        _parser(["precision"]).parse_args(["--precision", "fp16"])


def test_every_field_with_help_becomes_an_option():
    flags = {f for flags, _ in options.config_options(["learning_rate", "seed"]) for f in flags}
    assert flags == {"--lr", "--seed"}
    for name in RunConfig.__dataclass_fields__:
        if name != "settings":
            ((flags, spec),) = options.config_options([name])
            assert flags[0].startswith("--") and spec.get("help"), name


@pytest.mark.parametrize(
    "text, kind, choices, parsed",
    [
        ("8,16", int, (), [8, 16]),
        (" 0.1 ,0.01", float, (), [0.1, 0.01]),
        ("keras", str, ("keras", "native"), ["keras"]),
    ],
)
def test_lists_parse(text, kind, choices, parsed):
    assert options.parse_list(text, kind, choices, "--x") == parsed


@pytest.mark.parametrize(
    "text, kind, choices, message",
    [
        ("8,x", int, (), "expected comma-separated numbers"),
        (",", int, (), "no value"),
        ("0.1,nan", float, (), "every value must be a finite number > 0"),
        ("-8", int, (), "every value must be a finite number > 0"),
        ("caffe", str, ("keras", "native"), "choose from keras, native"),
        ("8,16,8", int, (), "8 given twice"),
        ("0.01,1e-2", float, (), "0.01 given twice"),
    ],
)
def test_bad_lists_name_the_flag(text, kind, choices, message):
    with pytest.raises(options.OptionError, match=f"--x {text!r}: {message}"):
        options.parse_list(text, kind, choices, "--x")


def test_a_list_of_more_than_64_values_is_refused():
    text = ",".join(str(n) for n in range(1, 66))
    with pytest.raises(options.OptionError, match="--x: 65 values, at most 64"):
        options.parse_list(text, int, (), "--x")
    assert len(options.parse_list(",".join(str(n) for n in range(1, 65)), int, (), "--x")) == 64
