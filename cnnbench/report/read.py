"""Read runs from files and folders, and check every field the report uses.

Three kinds of file hold runs: pytest-benchmark JSON (`--benchmark-json`, the runs in
each benchmark's `extra_info["runs"]`), results files (`*.jsonl`, one run a line) and
the JSON of `python -m cnnbench run --json` (one run). A folder stands for its *.json
and *.jsonl files. A run found in several files counts once; warm-ups and `tune`
candidates are not runs to report. Anything unusable is a `ReportError` naming the file
(and line) and the problem.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cnnbench import results
from cnnbench.precision import PRECISIONS
from cnnbench.records import HISTORY_KEYS


class ReportError(Exception):
    """Input the report cannot use; the message names the file and the problem."""


@dataclass(frozen=True)
class Run:
    result: dict
    benchmark: str
    source: str  # the file, with ':line' for a results file
    machine: dict | None = None
    date: str | None = None


@dataclass
class Loaded:
    runs: list[Run] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _number(value, low=None, high=None, *, integer=False, above=None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        return False
    if not math.isfinite(value):
        return False
    if low is not None and value < low:
        return False
    if above is not None and value <= above:
        return False
    return high is None or value <= high


# field -> (check, what it must be)
REQUIRED = {
    "backend": (lambda v: isinstance(v, str) and v != "", "a backend name"),
    "device": (lambda v: isinstance(v, str) and v != "", "a device name"),
    "filters": (lambda v: _number(v, 1, integer=True), "an integer >= 1"),
    "params": (lambda v: _number(v, 1, integer=True), "an integer >= 1"),
    "learning_rate": (lambda v: _number(v, above=0), "a number > 0"),
    "epochs": (lambda v: _number(v, 1, integer=True), "an integer >= 1"),
    "batch_size": (lambda v: _number(v, 1, integer=True), "an integer >= 1"),
    "train_samples": (lambda v: _number(v, 1, integer=True), "an integer >= 1"),
    "val_accuracy": (lambda v: _number(v, 0, 1), "a number in [0, 1]"),
    "test_error": (lambda v: _number(v, 0, 1), "a number in [0, 1]"),
    "runtime_s": (lambda v: _number(v, above=0), "a finite number > 0"),
}
OPTIONAL = {
    "seed": (lambda v: _number(v, 0, integer=True), "an integer >= 0"),
    "flops_per_sample": (lambda v: _number(v, 1, integer=True), "an integer >= 1"),
    "first_epoch_s": (lambda v: _number(v, above=0), "a finite number > 0"),
    "steady_epoch_s": (lambda v: _number(v, above=0), "a finite number > 0"),
    "samples_per_s": (lambda v: _number(v, above=0), "a finite number > 0"),
    "peak_gflops": (lambda v: _number(v, above=0), "a finite number > 0"),
    "peak_host_mb": (lambda v: _number(v, 0), "a finite number >= 0"),
    "peak_gpu_mb": (lambda v: _number(v, 0), "a finite number >= 0"),
    "impl": (lambda v: v in ("keras", "native"), "keras or native"),
    "profile": (lambda v: isinstance(v, str), "a profile name"),
    "precision": (lambda v: v in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
    "settings": (lambda v: isinstance(v, dict), "an object"),
    "versions": (lambda v: isinstance(v, dict), "an object"),
}
MACHINE = {
    "cpu_model": (lambda v: isinstance(v, str), "text"),
    "cpu_count": (lambda v: _number(v, 1, integer=True), "an integer >= 1"),
    "gpu": (lambda v: isinstance(v, str), "text"),
    "commit": (lambda v: isinstance(v, str), "text"),
}


def check_result(result: object, where: str) -> dict:
    """The result, if every field the report reads is usable; else ReportError."""
    if not isinstance(result, dict):
        raise ReportError(f"{where}: a run is not a JSON object")
    missing = [key for key in (*REQUIRED, "history") if key not in result]
    if missing:
        raise ReportError(f"{where}: a run lacks {', '.join(missing)}")
    for fields, required in ((REQUIRED, True), (OPTIONAL, False)):
        for key, (ok, what) in fields.items():
            value = result.get(key)
            if (required or value is not None) and not ok(value):
                raise ReportError(f"{where}: {key} is {value!r}, expected {what}")
    history = result["history"]
    if not isinstance(history, dict):
        raise ReportError(f"{where}: history is not an object")
    for key in (*HISTORY_KEYS, "epoch_seconds"):
        values = history.get(key)
        if not isinstance(values, list) or len(values) != result["epochs"]:
            raise ReportError(
                f"{where}: history {key} must list one value per epoch ({result['epochs']})"
            )
        low, high = (0, 1) if "accuracy" in key else (0, None)
        if not all(_number(v, low, high) for v in values):
            raise ReportError(f"{where}: history {key} holds a value that is not a number")
    return result


def _check_machine(machine: object, where: str) -> dict | None:
    if machine is None:
        return None
    if not isinstance(machine, dict):
        raise ReportError(f"{where}: machine is not an object")
    for key, (ok, what) in MACHINE.items():
        value = machine.get(key)
        if value is not None and not ok(value):
            raise ReportError(f"{where}: machine {key} is {value!r}, expected {what}")
    return machine


def _check_date(date: object, where: str) -> str | None:
    if date is None:
        return None
    try:
        datetime.fromisoformat(str(date))
    except ValueError:
        raise ReportError(f"{where}: datetime {date!r} is not an ISO date") from None
    return str(date)


def _parse_json(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not JSON (not UTF-8 text)") from None
    except OSError as err:
        raise ReportError(f"{path}: unreadable ({err.strerror})") from None
    if not text.strip():
        raise ReportError(f"{path}: empty file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        if err.pos >= len(text.rstrip()):
            raise ReportError(f"{path}: truncated JSON (ends inside a value)") from None
        raise ReportError(f"{path}: not JSON ({err.msg} at line {err.lineno})") from None
    except RecursionError:
        raise ReportError(f"{path}: not JSON (nested too deeply)") from None


def _read_json(path: Path) -> Loaded:
    doc = _parse_json(path)
    if isinstance(doc, dict) and "benchmarks" not in doc and "runtime_s" in doc:
        # `python -m cnnbench run --json`: one run
        return Loaded([Run(check_result(doc, str(path)), "run", str(path))])
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ReportError(
            f"{path}: neither pytest-benchmark output (no 'benchmarks' list) nor a cnnbench run"
        )
    info = doc.get("machine_info")
    machine = _check_machine(info.get("cnnbench") if isinstance(info, dict) else None, str(path))
    date = _check_date(doc.get("datetime"), str(path))
    loaded, foreign = Loaded(), 0
    for bench in doc["benchmarks"]:
        extra = bench.get("extra_info") if isinstance(bench, dict) else None
        runs = extra.get("runs") if isinstance(extra, dict) else None
        if not isinstance(runs, list) or not runs:
            foreign += 1
            continue
        name = str(bench.get("name", "?"))
        for result in runs:
            check_result(result, f"{path}: {name}")
            loaded.runs.append(Run(result, name, str(path), machine, date))
    if not loaded.runs:
        raise ReportError(
            f"{path}: pytest-benchmark output with no cnnbench benchmarks ({foreign} other)"
        )
    if foreign:
        loaded.notes.append(f"{path}: skipped {foreign} benchmark(s) that are not cnnbench's")
    return loaded


def _read_results_file(path: Path, candidates: bool = False) -> Loaded:
    try:
        contents = results.read_contents(path, allow_torn_tail=True)
    except results.ResultsError as err:
        raise ReportError(str(err)) from None
    loaded = Loaded()
    if contents.torn_tail:
        loaded.notes.append(
            f"{path}: skipped its last line, cut off mid-write (a run killed while recording)"
        )
    if not contents.records and not contents.torn_tail:
        raise ReportError(f"{path}: empty file")
    for number, record in zip(contents.lines, contents.records, strict=True):
        if record.get("warmup") or bool(record.get("candidate")) != candidates:
            continue
        where = f"{path}:{number}"
        result = check_result(record["result"], where)
        machine = _check_machine(record.get("machine"), where)
        loaded.runs.append(Run(result, str(record.get("benchmark", "?")), where, machine))
    return loaded


def _expand(paths: Iterable[str]) -> list[tuple[Path, bool]]:
    """(file, named on the command line) for every input; a folder stands for its files."""
    files = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted([*path.glob("*.json"), *path.glob("*.jsonl")])
            if not found:
                raise ReportError(f"{path}: folder has no *.json or *.jsonl files")
            files += [(file, False) for file in found]
        elif path.is_symlink() and not path.exists():
            raise ReportError(f"{path}: a broken symbolic link")
        elif not path.exists():
            raise ReportError(f"{path}: no such file")
        else:
            files.append((path, True))
    for path, _ in files:
        try:
            regular = path.is_file()
        except OSError as err:  # a symlink loop
            raise ReportError(f"{path}: unreadable ({err.strerror})") from None
        if not regular:
            what = "a broken symbolic link" if path.is_symlink() else "not a regular file"
            raise ReportError(f"{path}: {what}")
    return files


def load(paths: Iterable[str], candidates: bool = False) -> Loaded:
    """All runs in the given files and folders, each run once (with `candidates`, the
    `tune` candidates in results files instead).

    pytest-benchmark opens its --benchmark-json file when the session starts, so a
    session that dies leaves it empty; its finished runs are in the .jsonl beside it.
    Such an empty file found in a folder is skipped with a note; named, it is an error.
    """
    paths = list(paths)
    loaded, seen = Loaded(), set()
    for path, named in _expand(paths):
        if not named and path.suffix == ".json" and path.stat().st_size == 0:
            loaded.notes.append(
                f"{path}: empty (a benchmark session that did not finish); skipped, "
                "its finished runs are in the session's .jsonl"
            )
            continue
        if path.suffix == ".jsonl":
            part = _read_results_file(path, candidates)
        elif candidates:
            continue
        else:
            part = _read_json(path)
        loaded.notes += part.notes
        for run in part.runs:
            key = json.dumps(run.result, sort_keys=True)
            if key not in seen:
                seen.add(key)
                loaded.runs.append(run)
    if not loaded.runs:
        raise ReportError("no runs to report in " + ", ".join(map(str, paths)))
    return loaded
