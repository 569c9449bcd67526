"""What the report accepts of a run: every field it reads, checked, with bounds.

A run is read only when each field it uses is of its kind and inside what a run can
record (a backend of ours, a count no float loses, a name of at most 200 characters);
otherwise `ReportError` names the file, the line and the field. What a run says against
its own history is kept, with a note (`contradictions`).
"""

from __future__ import annotations

from datetime import datetime

from cnnbench import profiles
from cnnbench.backend import BACKENDS
from cnnbench.checks import finite
from cnnbench.experiment import TRAIN_SIZE
from cnnbench.precision import PRECISIONS
from cnnbench.records import HISTORY_KEYS, IMPLS, MAX_FILTERS, MAX_SEED


class ReportError(Exception):
    """Input the report cannot use; the message names the file and the problem."""


def _number(value, low=None, high=None, *, integer=False, above=None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        return False
    if not finite(value):
        return False
    if low is not None and value < low:
        return False
    if above is not None and value <= above:
        return False
    return high is None or value <= high


def _count(high: int):
    return (lambda v: _number(v, 1, high, integer=True), f"an integer in 1..{high}")


def _name(v) -> bool:
    return isinstance(v, str) and v.strip() != "" and len(v) <= MAX_NAME


MAX_NAME = 200  # characters in a device or CPU name as recorded; shown cut to fewer
BIG = 2**53  # integers past this are no count a run records (and lose float precision)

# field -> (check, what it must be)
REQUIRED = {
    "backend": (lambda v: v in BACKENDS, f"one of {', '.join(BACKENDS)}"),
    "device": (_name, f"a device name of 1..{MAX_NAME} characters"),
    "filters": _count(MAX_FILTERS),
    "params": _count(BIG),
    "learning_rate": (lambda v: _number(v, above=0), "a number > 0"),
    "epochs": _count(10**6),
    "batch_size": _count(TRAIN_SIZE),
    "train_samples": _count(TRAIN_SIZE),
    "val_accuracy": (lambda v: _number(v, 0, 1), "a number in [0, 1]"),
    "test_error": (lambda v: _number(v, 0, 1), "a number in [0, 1]"),
    "runtime_s": (lambda v: _number(v, above=0), "a finite number > 0"),
}
OPTIONAL = {
    "seed": (lambda v: _number(v, 0, MAX_SEED, integer=True), f"an integer in 0..{MAX_SEED}"),
    "flops_per_sample": _count(BIG),
    "test_accuracy": (lambda v: _number(v, 0, 1), "a number in [0, 1]"),
    "val_loss": (lambda v: _number(v, 0), "a finite number >= 0"),
    "first_epoch_s": (lambda v: _number(v, above=0), "a finite number > 0"),
    "steady_epoch_s": (lambda v: _number(v, above=0), "a finite number > 0"),
    "samples_per_s": (lambda v: _number(v, above=0), "a finite number > 0"),
    "peak_gflops": (lambda v: _number(v, above=0), "a finite number > 0"),
    "achieved_gflops": (lambda v: _number(v, above=0), "a finite number > 0"),
    "peak_fraction": (lambda v: _number(v, above=0), "a finite number > 0"),
    "setup_s": (lambda v: _number(v, 0), "a finite number >= 0"),
    "peak_host_mb": (lambda v: _number(v, 0), "a finite number >= 0"),
    "peak_gpu_mb": (lambda v: _number(v, 0), "a finite number >= 0"),
    "impl": (lambda v: v in IMPLS, " or ".join(IMPLS)),
    "profile": (lambda v: v in profiles.KERAS, f"one of {', '.join(profiles.KERAS)}"),
    "precision": (lambda v: v in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
    "settings": (lambda v: isinstance(v, dict), "an object"),
    "energy": (
        lambda v: (
            isinstance(v, dict)
            and all(
                v.get(k) is None or _number(v.get(k), 0) for k in ("gpu_j", "cpu_j", "gpu_idle_w")
            )
        ),
        "an object whose joules and watts are finite numbers >= 0",
    ),
    "versions": (lambda v: isinstance(v, dict), "an object"),
}
MACHINE = {
    "cpu_model": (_name, f"a name of 1..{MAX_NAME} characters"),
    "cpu_count": _count(2**20),
    "gpu": (_name, f"a name of 1..{MAX_NAME} characters"),
    "commit": (lambda v: isinstance(v, str) and len(v) <= MAX_NAME, "a commit"),
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


def contradictions(result: dict) -> list[str]:
    """What a run's final figures say against its own history (a forged or damaged
    record): read, but never without a note."""
    history, found = result["history"], []
    for key in ("val_accuracy", "val_loss"):
        if key in result and result[key] != history[key][-1]:
            found.append(f"{key} {result[key]!r} is not its history's last {history[key][-1]!r}")
    return found


def check_machine(machine: object, where: str) -> dict | None:
    if machine is None:
        return None
    if not isinstance(machine, dict):
        raise ReportError(f"{where}: machine is not an object")
    for key, (ok, what) in MACHINE.items():
        value = machine.get(key)
        if value is not None and not ok(value):
            raise ReportError(f"{where}: machine {key} is {value!r}, expected {what}")
    return machine


def check_date(date: object, where: str) -> str | None:
    if date is None:
        return None
    try:
        datetime.fromisoformat(str(date))
    except ValueError:
        raise ReportError(f"{where}: datetime {date!r} is not an ISO date") from None
    return str(date)


BLOCK = {  # what the report reads of a run's block, and what each must be
    "id": (_name, "a name"),
    "arm": (_name, "a name"),
    "twin": (lambda v: v in (0, 1), "0 or 1"),
    "place": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= -1, "a place"),
}


def check_block(block: object, where: str) -> dict | None:
    """A run's block fields (`cnnbench.block.record_of`), or None for a run of no block."""
    if block is None:
        return None
    if not isinstance(block, dict):
        raise ReportError(f"{where}: block is not an object")
    for key, (ok, what) in BLOCK.items():
        if not ok(block.get(key)):
            raise ReportError(f"{where}: block {key} is {block.get(key)!r}, expected {what}")
    return block
