"""Errors every front end reports the same way: one line on stderr, exit status 2."""

from __future__ import annotations

import argparse

EXIT_USAGE = 2


SHOWN = 60  # characters of a user's value echoed in an error line


def shown(text: object, limit: int = SHOWN) -> str:
    """A user's value as an error line repeats it: repr'd, at most `limit` characters."""
    text = repr(str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class UsageError(Exception):
    """Bad input from the command line: reported in one line, exit status 2."""


class PathError(ValueError):
    """A file or folder that cannot be used as asked; the message names its flag."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting."""

    def error(self, message: str):
        raise UsageError(message)


class DataError(Exception):
    """MNIST could not be had, or what was found is not MNIST."""


class DataMissing(DataError):
    """A source has nothing there (as opposed to something damaged)."""
