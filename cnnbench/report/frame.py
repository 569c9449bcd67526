"""One row per run: every run as a pandas DataFrame, with what the tables derive from it.

Derived here, once: the path (`keras default`, `keras tuned`, `native`), the kind of
device and the machine it ran on, the run's length, the time until validation accuracy
first reached each target (MLPerf's time-to-train, validation passes included), and its
distance to the limit: the runtime over a roofline lower bound, the analytic FLOPs of
the run (training and validation passes) at the matmul peak measured in the same
benchmark session at the run's precision.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from cnnbench.analytic import forward_flops_per_sample, train_flops_per_sample
from cnnbench.checks import VAL_ACCURACY_FLOOR
from cnnbench.experiment import FULL_LENGTH, LEARNING_RATE, LR_FILTERS, VALIDATION_SIZE
from cnnbench.records import VARIANTS, path_label, result_path
from cnnbench.report.noise import clock_columns
from cnnbench.report.read import Run
from cnnbench.stats import CELL_KEYS, LENGTH_KEYS, ROW_KEYS

TARGETS = (VAL_ACCURACY_FLOOR, 0.99)  # the floor every passing full-length run reaches
# one round: a block's run is its block's (another block's same seed is another round)
ROUND_KEYS = (*CELL_KEYS, "seed", "block", "arm", "twin", "cold")  # arm: another commit's
PATHS = tuple(path_label(*variant) for variant in VARIANTS)  # display order


NAME_LIMIT = 48  # characters of a device or CPU name in a table, a figure, the CSV


def plain(text: object, limit: int = NAME_LIMIT) -> str | None:
    """A name read from a record as the report shows it: control characters (newlines,
    NUL) as spaces, runs of spaces as one, at most `limit` characters."""
    if text is None:
        return None
    text = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def path_of(result: dict) -> str:
    return result_path(result)


def machine_of(result: dict, machine: dict | None) -> str:
    """The GPU's name, or the CPU's model and cores: what two medians must share."""
    if result["device"] != "cpu":
        return plain(result["device"].removeprefix("NVIDIA "))
    if machine and machine.get("cpu_model"):
        return f"{plain(machine['cpu_model'])} ×{machine.get('cpu_count', '?')}"
    return "cpu (not recorded)"


def precision_of(result: dict) -> str:
    precision = result.get("precision")
    if precision is None:  # runs from before precision was recorded
        return "fp32" if result["device"] == "cpu" else "unrecorded"
    return precision


def keras_of(result: dict) -> str:
    """The Keras version a run recorded (natives too: the environment it ran in)."""
    return plain((result.get("versions") or {}).get("keras")) or "unrecorded"


def time_to(result: dict, target: float) -> float | None:
    """Seconds of training until the first epoch whose validation accuracy reaches target."""
    elapsed = 0.0
    history = result["history"]
    for seconds, accuracy in zip(history["epoch_seconds"], history["val_accuracy"], strict=True):
        elapsed += seconds
        if accuracy >= target:
            return elapsed
    return None


def limit_s(result: dict) -> float | None:
    """The roofline lower bound of the run's time: its FLOPs at the measured peak."""
    peak = result.get("peak_gflops")
    if not peak:
        return None
    filters, epochs = result["filters"], result["epochs"]
    flops = epochs * (
        train_flops_per_sample(filters) * result["train_samples"]
        + forward_flops_per_sample(filters) * VALIDATION_SIZE
    )
    return flops / (peak * 1e9)


def _energy(result: dict) -> dict:
    """The run's joules: the GPU's counter on a GPU, RAPL on a CPU; and why there are none."""
    e = result.get("energy") or {}
    gpu = result["device"] != "cpu"
    joules = e.get("gpu_j") if gpu else e.get("cpu_j")
    reason = (e.get("gpu_reason") if gpu else e.get("cpu_reason")) or None
    return {
        "energy_j": joules,
        "energy_note": reason if e else "not recorded (a run from before energy was)",
        "gpu_idle_w": e.get("gpu_idle_w"),
        "gpu_too_short": e.get("gpu_too_short"),
    }


def _block(block: dict | None) -> dict:
    """A block's run: which block, arm and place; whether the A/A twin, whether cold."""
    block = block or {}
    return {
        "block": plain(block.get("id"), 200),
        "arm": plain(block.get("arm"), 200),
        "twin": int(block.get("twin") or 0),
        "place": block.get("place"),
        "cold": bool(block.get("cold")),
        "to_first_epoch_s": block.get("to_first_epoch_s"),
    }


def target_column(target: float) -> str:
    """`time_to_0_98`: a name pandas can query without backquotes."""
    return f"time_to_{target:g}".replace(".", "_")


def frame(runs: Sequence[Run], targets: Sequence[float] = TARGETS) -> pd.DataFrame:
    """The DataFrame of all runs: one row each, one column per field the report uses."""
    rows = []
    for run in runs:
        r, m = run.result, run.machine or {}
        limit = limit_s(r)
        path, _, number = run.source.rpartition(":")
        source, line = (path, int(number)) if path and number.isdigit() else (run.source, None)
        row = {
            "kind": "cpu" if r["device"] == "cpu" else "gpu",
            "machine": machine_of(r, run.machine),
            "backend": r["backend"],
            "path": path_of(r),
            "precision": precision_of(r),
            "keras": keras_of(r),
            "filters": r["filters"],
            "learning_rate": r["learning_rate"],
            **{key: r[key] for key in LENGTH_KEYS},
            "seed": r.get("seed"),
            "runtime_s": r["runtime_s"],
            "first_epoch_s": r.get("first_epoch_s"),
            "steady_epoch_s": r.get("steady_epoch_s"),
            "val_accuracy": r["val_accuracy"],
            "test_error": r["test_error"],
            **{target_column(t): time_to(r, t) for t in targets},
            "samples_per_s": r.get("samples_per_s"),
            "achieved_gflops": r.get("achieved_gflops"),
            "peak_gflops": r.get("peak_gflops"),
            "limit_s": limit,
            "x_limit": None if limit is None else r["runtime_s"] / limit,
            "peak_host_mb": r.get("peak_host_mb"),
            **_energy(r),
            **clock_columns(r),
            "peak_gpu_mb": r.get("peak_gpu_mb"),
            "params": r["params"],
            "device": plain(r["device"]),
            "gpu_driver": plain(m.get("gpu_driver")),
            "cpu_model": plain(m.get("cpu_model")),
            "cpu_count": m.get("cpu_count"),
            "commit": plain(m.get("commit")),
            "versions": json.dumps(r.get("versions") or {}, sort_keys=True),
            "settings": json.dumps(r.get("settings") or {}, sort_keys=True),
            "val_accuracy_by_epoch": json.dumps(r["history"]["val_accuracy"]),
            "epoch_seconds": json.dumps(r["history"]["epoch_seconds"]),
            "benchmark": plain(run.benchmark, 200),
            # the plan it was timed in; before sweeps were named, the file it was written to
            "sweep": plain(run.sweep) or source,
            "source": source,  # the file
            "line": line,  # the line of a results file; none for a JSON
            "date": run.date,
            **_block(run.block),
        }
        rows.append(row)
    table = pd.DataFrame(rows)
    lengths = table[list(LENGTH_KEYS)].itertuples(index=False)
    table["full_length"] = [tuple(length) == tuple(FULL_LENGTH) for length in lengths]
    return table


def one_run_per_round(data: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Each round of a cell once: a seed measured twice in one cell (a rerun, or a resumed
    sweep that did not take older runs for its own because their settings differ) is one
    round, and the later record stands: later by the date it ran (a run with no date
    before any with one; undated runs in input order, a file's lines in order). A block's
    runs are rounds of that block alone. The note names the superseded runs, so a cell's
    count is always rounds, never runs."""
    when = pd.to_datetime(data["date"], utc=True, errors="coerce", format="ISO8601")
    order = when.sort_values(kind="stable", na_position="first").index
    later = data.loc[order].duplicated(list(ROUND_KEYS), keep="last").reindex(data.index)
    repeated = data["seed"].notna() & later
    if not repeated.any():
        return data, []
    lines: dict[str, list[str]] = {}
    for path, line in data.loc[repeated, ["source", "line"]].itertuples(index=False):
        lines.setdefault(path, []).append("" if pd.isna(line) else str(int(line)))
    where = "; ".join(
        f"{path} line{'s' * (len(numbers) > 1)} {', '.join(numbers)}" if all(numbers) else path
        for path, numbers in lines.items()
    )
    note = (
        f"{int(repeated.sum())} run(s) repeat a round (same cell and seed) measured again "
        f"later, which stands: superseded {where}"
    )
    return data[~repeated].reset_index(drop=True), [note]


COLD_FACTOR = 2.0  # a first epoch this many times its cell's others' is a cold start


def cold_rounds(data: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Runs of a sweep (not a block, whose cold runs say so) that started cold: the
    sweep's first round of a cell whose first epoch took COLD_FACTOR times the median
    first epoch of the cell's other rounds in that sweep (compilation or autotuning its
    warm-up did not cover). They are marked `cold`, so no warm median holds them."""
    data = data.copy()
    marked = []
    sweeps = data[data["block"].isna() & data["first_epoch_s"].notna()]
    for _, cell in sweeps.groupby([*CELL_KEYS, "sweep"]):
        if len(cell) < 3:  # two others at least, or "the others" is one run's noise
            continue
        first = cell["seed"].idxmin()
        others = cell.drop(index=first)["first_epoch_s"].median()
        if cell.at[first, "first_epoch_s"] > COLD_FACTOR * others:
            data.at[first, "cold"] = True
            marked.append(first)
    if not marked:
        return data, []
    named = sorted({f"{data.at[i, 'backend']} {data.at[i, 'path']} on {data.at[i, 'machine']}"
                    for i in marked})
    note = (
        f"{len(marked)} run(s) started cold (the sweep's first round, its first epoch over "
        f"{COLD_FACTOR:g}x its cell's other rounds'): kept out of every warm median "
        f"({'; '.join(named)})"
    )
    return data, [note]


def by(data: pd.DataFrame, keys) -> list[tuple[tuple, pd.DataFrame]]:
    """(key, runs) for each distinct value of `keys`, in sorted order."""
    return [(k if isinstance(k, tuple) else (k,), g) for k, g in data.groupby(list(keys))]


def lr_experiment(data: pd.DataFrame) -> pd.DataFrame:
    """Experiment 1's runs: at LR_FILTERS filters, for every row that ran some learning
    rate other than the report's (with its lr 0.1 runs beside them)."""
    at = data[data["filters"] == LR_FILTERS]
    other = at[at["learning_rate"] != LEARNING_RATE]
    rows = set(other[list(ROW_KEYS)].itertuples(index=False, name=None))
    return at[at.set_index(list(ROW_KEYS)).index.isin(rows)]


def unshown(data: pd.DataFrame) -> list[str]:
    """A note for the runs no table shows: the tables by width hold lr 0.1, the learning-
    rate table LR_FILTERS filters; a run at another rate and width is in the CSV alone."""
    lost = data[(data["learning_rate"] != LEARNING_RATE) & (data["filters"] != LR_FILTERS)]
    if lost.empty:
        return []
    cells = sorted({(f, lr) for f, lr in zip(lost["filters"], lost["learning_rate"], strict=True)})
    shown = ", ".join(f"{f} filters at lr {lr:g}" for f, lr in cells[:6])
    more = f" and {len(cells) - 6} more" if len(cells) > 6 else ""
    return [
        f"{len(lost)} run(s) in no table, only in results.csv ({shown}{more}): the tables "
        f"by width are at lr {LEARNING_RATE:g}, the learning-rate table at {LR_FILTERS} filters"
    ]


def by_length(data: pd.DataFrame) -> list[tuple[tuple, pd.DataFrame]]:
    """(run length, runs), the longest first: full-length runs lead every report."""
    return sorted(by(data, LENGTH_KEYS), key=lambda item: item[0], reverse=True)


def overhead(data: pd.DataFrame) -> pd.DataFrame:
    """Keras over native: each Keras path's median runtime over the native median of the
    same backend, machine, precision, Keras version, length, learning rate and width."""
    same = [k for k in ROW_KEYS if k != "path"] + [*LENGTH_KEYS, "learning_rate", "filters"]
    native = data[data["path"] == "native"].groupby(same)["runtime_s"].median()
    keras = data[data["path"] != "native"].groupby([*same, "path"])["runtime_s"].median()
    rows = []
    for (*key, path), seconds in keras.items():
        base = native.get(tuple(key))
        if base is not None:
            rows.append(
                {**dict(zip(same, key, strict=True)), "path": path, "ratio": seconds / base}
            )
    return pd.DataFrame(rows, columns=[*same, "path", "ratio"])
