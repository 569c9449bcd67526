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
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cnnbench import results
from cnnbench.report.fields import (
    ReportError,
    check_block,
    check_date,
    check_machine,
    check_result,
    contradictions,
)


@dataclass(frozen=True)
class Run:
    result: dict
    benchmark: str
    source: str  # the file, with ':line' for a results file
    machine: dict | None = None
    date: str | None = None
    sweep: str | None = None  # the plan it belongs to (`cnnbench.plan.sweep_id`), if recorded
    block: dict | None = None  # its block (`cnnbench.block`): id, arm, place, twin, cold


@dataclass
class Loaded:
    runs: list[Run] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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
    except ValueError as err:  # an integer of more than 4300 digits
        raise ReportError(f"{path}: not usable JSON ({str(err).split(';')[0]})") from None
    except RecursionError:
        raise ReportError(f"{path}: not JSON (nested too deeply)") from None


def _read_json(path: Path) -> Loaded:
    doc = _parse_json(path)
    if isinstance(doc, dict) and "benchmarks" not in doc and "runtime_s" in doc:
        # `python -m cnnbench run --json`: one run
        result = check_result(doc, str(path))
        notes = [f"{path}: {c}" for c in contradictions(result)]
        return Loaded([Run(result, "run", str(path))], notes)
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ReportError(
            f"{path}: neither pytest-benchmark output (no 'benchmarks' list) nor a cnnbench run"
        )
    info = doc.get("machine_info")
    machine = check_machine(info.get("cnnbench") if isinstance(info, dict) else None, str(path))
    date = check_date(doc.get("datetime"), str(path))
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
            loaded.notes += [f"{path}: {name}: {c}" for c in contradictions(result)]
            sweep = extra.get("sweep") if isinstance(extra.get("sweep"), str) else None
            loaded.runs.append(Run(result, name, str(path), machine, date, sweep))
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
    kept = [
        (number, record)
        for number, record in zip(contents.lines, contents.records, strict=True)
        if not record.get("warmup") and bool(record.get("candidate")) == candidates
    ]
    for index, (number, record) in enumerate(kept):
        where = f"{path}:{number}"
        try:
            result = check_result(record["result"], where)
        except ReportError as err:
            again = _redone(record, kept[index + 1 :], path)
            if again is None:
                raise
            loaded.notes.append(f"{err}; skipped, the run was redone at line {again}")
            continue
        loaded.notes += [f"{where}: {c}" for c in contradictions(result)]
        machine = check_machine(record.get("machine"), where)
        sweep = record.get("sweep") if isinstance(record.get("sweep"), str) else None
        date = check_date(record.get("date"), where)
        name = str(record.get("benchmark", "?"))
        block = check_block(record.get("block"), where)
        loaded.runs.append(Run(result, name, where, machine, date, sweep, block))
    return loaded


def _redone(record: dict, later: list[tuple[int, dict]], path: Path) -> int | None:
    """The line of a later usable record of the same run (benchmark, round, block), as
    `--resume` writes after refusing this one; None if there is none."""

    def run_of(r: dict) -> tuple:
        block = r.get("block") if isinstance(r.get("block"), dict) else {}
        return (r.get("benchmark"), r.get("round"), block.get("id"), block.get("twin"))

    for number, other in later:
        if run_of(other) == run_of(record):
            try:
                check_result(other["result"], f"{path}:{number}")
            except (ReportError, KeyError, TypeError):
                continue
            return number
    return None


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
