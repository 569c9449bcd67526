"""The results file: one JSON line per finished run, appended the moment it finishes.

A sweep killed at 128 filters keeps 8..64 here even though pytest-benchmark writes its
JSON only when the session ends. Each line is

    {"benchmark": "test_filters[8-native-r0]", "round": 0, "floor": "...",
     "machine": {...}, "result": {RunResult}}

(a warm-up run says `"warmup": true`, a `tune` candidate `"candidate": true`; neither
is reported). Writers hold an exclusive lock on the file while they repair a torn tail
and append, so two sweeps writing one file never lose a line. `settings_key` says
when two runs measured the same thing, which is what `--resume` matches on.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cnnbench.errors import PathError
from cnnbench.files import regular_file
from cnnbench.records import KEY_FIELDS

# Every line starts so (`append` writes the benchmark first): a last line without its
# newline is cut only when it is the start of such a line, never a stranger's text.
PREFIX = b'{"benchmark": '


FOLDER = Path("cnnbench-results")  # a user's runs, beside the report's ./cnnbench-report/


def default_path(backend: str, kind: str) -> Path:
    """Where a sweep appends its runs unless told: `<backend>-<kind>.jsonl`, the name tox
    gives its environments, in the user's own folder (never the published reports/)."""
    return FOLDER / f"{backend}-{kind}.jsonl"


class ResultsError(Exception):
    """A results file that cannot be read as results."""


def settings_key(result: dict) -> str:
    """A canonical string of what makes two runs comparable (`records.KEY_FIELDS`)."""
    return json.dumps({key: result.get(key) for key in KEY_FIELDS}, sort_keys=True)


def append(path: Path, record: dict) -> None:
    """Append one record as a line and push it to disk before returning.

    Under an exclusive lock: a torn last line (a writer killed mid-write) is cut off
    first, so the new line never glues onto it, and no other writer is cut. A last line
    that is not the start of a results line is never cut: ResultsError.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps({"benchmark": record["benchmark"], **record}) + "\n").encode("utf-8")
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.seek(0)
            data = f.read()
            if data and not data.endswith(b"\n"):
                tail = data.rfind(b"\n") + 1
                if not data[tail:].startswith(PREFIX[: len(data) - tail]):
                    raise ResultsError(f"{path}: its last line is not a results line; not cut")
                f.truncate(tail)
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Contents:
    records: list[dict]
    lines: list[int]  # the line number of each record, for messages
    torn_tail: bool  # a last line without its newline was dropped


def read_contents(path: Path, *, allow_torn_tail: bool = False) -> Contents:
    """All records of a results file, and whether a torn last line was dropped.

    A last line without its newline is what a writer killed mid-write leaves; with
    `allow_torn_tail` it is dropped (the run is simply not there), otherwise it is an
    error like any line that does not parse.
    """
    try:
        regular_file(path, "results file")
        text = Path(path).read_text(encoding="utf-8")
    except PathError as err:
        raise ResultsError(str(err)) from None
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ResultsError(f"{path}: unreadable ({err})") from None
    lines = text.split("\n")
    records, numbers, torn = [], [], False
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        last = number == len(lines)  # the text did not end with a newline
        try:
            record = json.loads(line)
        except ValueError as err:  # a JSON error, or an integer of more than 4300 digits
            if last and allow_torn_tail and line.startswith(PREFIX.decode()[: len(line)]):
                torn = True
                break
            what = err.msg if isinstance(err, json.JSONDecodeError) else str(err).split(";")[0]
            raise ResultsError(f"{path}:{number}: results line does not parse ({what})") from None
        if not isinstance(record, dict) or not isinstance(record.get("result"), dict):
            raise ResultsError(f"{path}:{number}: not a cnnbench results line (no 'result')")
        records.append(record)
        numbers.append(number)
    return Contents(records, numbers, torn)


def check_file(path: Path, flag: str) -> None:
    """PathError unless `path` is absent or a results file a session may append to and
    resume from: checked before anything trains, so no other file is ever cut or
    appended to, and no run is lost to a file that cannot be read back."""
    if regular_file(path, flag) and path.stat().st_size:
        try:
            read_contents(path, allow_torn_tail=True)
        except ResultsError as err:
            raise PathError(f"{flag} {err}; not a cnnbench results file") from None


def read(path: Path, *, allow_torn_tail: bool = False) -> list[dict]:
    """The records of a results file (see `read_contents`)."""
    return read_contents(path, allow_torn_tail=allow_torn_tail).records
