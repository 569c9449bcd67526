"""The results file: one JSON line per finished run, appended the moment it finishes.

A sweep killed at 128 filters keeps 8..64 here even though pytest-benchmark writes its
JSON only when the session ends. Each line is

    {"benchmark": "test_filters[8]", "round": 0, "floor": "...", "result": {RunResult}}

`settings_key` says when two runs measured the same thing (same settings, backend,
device and versions), which is what `--resume` matches on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SETTINGS = (
    "impl",
    "profile",
    "backend",
    "device",
    "filters",
    "learning_rate",
    "epochs",
    "batch_size",
    "train_samples",
    "seed",
    "precision",
    "versions",
)


class ResultsError(Exception):
    """A results file that cannot be read as results."""


def settings_key(result: dict) -> str:
    """A canonical string of what makes two runs comparable."""
    return json.dumps({key: result.get(key) for key in SETTINGS}, sort_keys=True)


def append(path: Path, record: dict) -> None:
    """Append one record as a line and push it to disk before returning.

    A torn last line (a run killed mid-write) is cut off first, so the new line
    never glues onto it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _cut_torn_tail(path)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _cut_torn_tail(path: Path) -> None:
    try:
        with open(path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        pass


def read(path: Path, *, allow_torn_tail: bool = False) -> list[dict]:
    """All records of a results file.

    A last line without its newline is what a run killed mid-write leaves; with
    `allow_torn_tail` it is dropped (the run is simply not there), otherwise it is an
    error like any line that does not parse.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ResultsError(f"{path}: unreadable ({err})") from None
    lines = text.split("\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        torn = number == len(lines)  # the text did not end with a newline
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            if torn and allow_torn_tail:
                break
            raise ResultsError(
                f"{path}:{number}: results line does not parse ({err.msg})"
            ) from None
        if not isinstance(record, dict) or not isinstance(record.get("result"), dict):
            raise ResultsError(f"{path}:{number}: not a cnnbench results line (no 'result')")
        records.append(record)
    return records
