"""One metric per table, each cell one number over the rounds (`cnnbench.report.grid`).

The terminal shows the median and its spread as ± half the min-max range in % of the
median (`*` for a single round); Markdown shows the median with min-max and the number
of rounds, and the distance to the limit where the table is a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from cnnbench.experiment import (
    FULL_LENGTH,
    LEARNING_RATE,
    LR_FILTERS,
    REFERENCE_2017,
    reference_label,
)
from cnnbench.report.costs import cost_table, energy_table
from cnnbench.report.decompose import decomposition
from cnnbench.report.frame import by_length, lr_experiment, overhead, target_column
from cnnbench.report.grid import (
    Cell,
    Row,
    TableModel,
    length_title,
    pivot,
    seconds_text,
    spread_cell,
)
from cnnbench.report.versions import versions_table

SPREAD = (
    "Median of the rounds (round i trained with seed + i), ± half their min–max range in % "
    "of the median; * a single round. Markdown: median (min–max, rounds)"
)


def _metric(name, title, caption, render, column="filters") -> Callable:
    def build(data: pd.DataFrame, length) -> TableModel | None:
        if data.empty:
            return None
        values, rows = pivot(data, column, render)
        heading = f"{title} ({length_title(length)})"
        rows = [row for row in rows if any(row.cells)]  # a row with nothing measured: none
        return TableModel(name, heading, caption, [f"{v:g}" for v in values], rows)

    return build


def _limit(runs: pd.DataFrame, column: str) -> float | None:
    """The cell's median distance to the limit (runtime or epoch over its bound)."""
    if runs["limit_s"].isna().all():
        return None
    if column == "runtime_s":
        return runs["x_limit"].median()
    per_epoch = runs["limit_s"] / runs["epochs"]
    return (runs[column] / per_epoch).median()


def runtime_cell(runs: pd.DataFrame) -> Cell:
    return spread_cell(runs["runtime_s"], limit=_limit(runs, "runtime_s"))


def epoch_cell(runs: pd.DataFrame) -> Cell | None:
    if runs["steady_epoch_s"].isna().all():
        return None
    return spread_cell(runs["steady_epoch_s"], fmt=lambda v: f"{v:.3g}")


def accuracy_cell(runs: pd.DataFrame) -> Cell:
    acc, err = runs["val_accuracy"].median(), runs["test_error"].median()
    return Cell(f"{acc:.3f} / {err:.3f}", f"{acc:.4f} / {err:.4f} (n={len(runs)})")


def target_cell(target: float) -> Callable[[pd.DataFrame], Cell]:
    def render(runs: pd.DataFrame) -> Cell:
        times = runs[target_column(target)].dropna()
        n, reached = len(runs), len(times)
        if not reached:
            return Cell("not reached", f"not reached (n={n})")
        part = "" if reached == n else f" ({reached}/{n})"
        median = seconds_text(times.median())
        return Cell(median + part, f"{median} s, reached in {reached} of {n} rounds")

    return render


def limit_cell(runs: pd.DataFrame) -> Cell | None:
    if runs["x_limit"].isna().all():
        return None
    x = runs["x_limit"].median()
    peak = runs["peak_gflops"].median()
    return Cell(f"{x:,.0f}×", f"{x:,.1f}× (peak {peak:,.0f} GFLOP/s)")


def memory_cell(column: str) -> Callable[[pd.DataFrame], Cell | None]:
    def render(runs: pd.DataFrame) -> Cell | None:
        if runs[column].isna().all():
            return None
        mb = runs[column].median()
        return Cell(f"{mb:,.0f}", f"{mb:,.0f} MB")

    return render


def overhead_table(data: pd.DataFrame, length) -> TableModel | None:
    """Keras over native: the ratio of median runtimes, per device and precision."""
    ratios = overhead(data)
    if ratios.empty:
        return None

    def render(cell: pd.DataFrame) -> Cell:
        text = f"{cell['ratio'].iloc[0]:.2f}×"
        return Cell(text, text)

    values, rows = pivot(ratios, "filters", render)
    return TableModel(
        "overhead",
        f"Keras over native ({length_title(length)})",
        "Median runtime of each Keras profile over the native implementation's, same "
        "backend, device and precision; 1.00× is no cost for Keras.",
        [f"{v:g}" for v in values],
        rows,
    )


def decomposition_table(data: pd.DataFrame, length) -> TableModel | None:
    """Where Keras's cost lives (`cnnbench.report.decompose`), per device and width."""
    shares = decomposition(data)
    if shares.empty:
        return None

    def render(cell: pd.DataFrame) -> Cell:
        c = cell.iloc[0]
        if pd.isna(c["trainer"]):  # Keras default no slower than native: nothing to split
            text = f"{c['ratio']:.2f}× (no cost to split)"
            return Cell(f"{c['ratio']:.2f}×", text)
        apart = "" if c["together"] else "‡"
        short = f"{c['ratio']:.2f}×: {c['trainer']:.0f}/{c['layers']:.0f}{apart}"
        long = (
            f"{c['ratio']:.2f}× (settings {c['settings']:.0f}%, trainer {c['trainer']:.0f}%, "
            f"layers {c['layers']:.0f}%; loop {c['loop_ratio']:.2f}×){apart}"
        )
        return Cell(short, long)

    values, rows = pivot(shares.assign(path="keras cost"), "filters", render)
    return TableModel(
        "decomposition",
        f"Where Keras's cost lives ({length_title(length)})",
        "Keras default over native (medians), then the share of that cost that fit's own "
        "settings save (default to tuned), that fit's trainer costs beyond a hand-written "
        "loop of the same Keras model (tuned to loop), and that the Keras layers cost over "
        "the framework's own (loop to native). Only sweeps that timed every path count where "
        "any did; ‡ paths timed in separate sweeps. Terminal: ratio: trainer/layers %.",
        [f"{v:g}" for v in values],
        rows,
    )


def learning_rate_table(data: pd.DataFrame, length) -> TableModel | None:
    """Experiment 1: final validation accuracy and test error per learning rate."""
    at = lr_experiment(data)
    if at.empty:
        return None
    values, rows = pivot(at, "learning_rate", accuracy_cell)
    order = sorted(range(len(values)), key=lambda i: -values[i])
    for row in rows:
        row.cells[:] = [row.cells[i] for i in order]
    return TableModel(
        "lr",
        f"Learning rate at {LR_FILTERS} filters ({length_title(length)})",
        "Final validation accuracy / test error, medians over the rounds.",
        [f"{values[i]:g}" for i in order],
        rows,
    )


METRICS = {
    "runtime": _metric(
        "runtime",
        "Runtime, seconds",
        SPREAD + "; then the distance to the limit (see the limit table).",
        runtime_cell,
    ),
    "epoch": _metric(
        "epoch",
        "Seconds per steady epoch",
        "Median of the epochs after the first (which carries compilation), validation "
        "pass included. " + SPREAD + ".",
        epoch_cell,
    ),
    "accuracy": _metric(
        "accuracy",
        "Validation accuracy / test error",
        "Final validation accuracy and test error, medians over the rounds.",
        accuracy_cell,
    ),
    "limit": _metric(
        "limit",
        "Distance to the limit",
        "Runtime over its roofline lower bound: the run's analytic FLOPs (training, and "
        "the validation passes) at the matmul peak measured in the same benchmark session "
        "at the run's precision. 1× would be every FLOP at the peak.",
        limit_cell,
    ),
    "memory": _metric(
        "memory",
        "Peak host memory, MB",
        "Peak resident memory of the run, medians over the rounds.",
        memory_cell("peak_host_mb"),
    ),
    "gpu-memory": _metric(
        "gpu-memory",
        "Peak GPU memory, MB",
        "Peak of the backend's GPU allocator during the run (JAX cannot reset its peak: "
        "its figure is the session's so far, an upper bound).",
        memory_cell("peak_gpu_mb"),
    ),
}
TABLES = (
    "runtime",
    "epoch",
    "accuracy",
    "target",
    "overhead",
    "decomposition",
    "versions",
    "limit",
    "memory",
    "gpu-memory",
    "energy",
    "cost",
    "lr",
)


def _target_table(target: float):
    return _metric(
        "target",
        f"Seconds to {target:g} validation accuracy",
        "Training time (validation passes included) until validation accuracy first "
        "reached the target, median over the rounds that reached it; (k/n) when only k "
        "of n rounds did.",
        target_cell(target),
    )


def tables(data: pd.DataFrame, targets: Sequence[float]) -> list[TableModel]:
    """Every table the data allows, per run length (full length first)."""
    out = []
    for length, at_length in by_length(data):
        sweep = at_length[at_length["learning_rate"] == LEARNING_RATE]
        for name in TABLES:
            if name == "target":
                built = [_target_table(t)(sweep, length) for t in targets]
            elif name == "overhead":
                built = [overhead_table(sweep, length)]
            elif name == "decomposition":
                built = [decomposition_table(sweep, length)]
            elif name == "versions":
                built = [versions_table(sweep, length)]
            elif name == "energy":
                built = [energy_table(sweep, length)]
            elif name == "cost":
                built = [cost_table(sweep, length)]
            elif name == "lr":
                built = [learning_rate_table(at_length, length)]
            else:
                built = [METRICS[name](sweep, length)]
            out += [t for t in built if t is not None and any(any(r.cells) for r in t.rows)]
            if name == "runtime" and out and out[-1].name == "runtime":
                _add_references(out[-1], sweep, length == tuple(FULL_LENGTH))
    return out


def _add_references(table: TableModel, data: pd.DataFrame, full_length: bool) -> None:
    """Parameters above the runs; the 2017 runtimes below them, for full-length runs."""
    params = data.groupby("filters")["params"].first()
    cells = [
        Cell(f"{params[int(float(c))]:,}", f"{params[int(float(c))]:,}") for c in table.columns
    ]
    table.rows.insert(0, Row("parameters", cells))
    if full_length:
        table.rows += reference_rows(table.columns)


def reference_rows(columns: list[str]) -> list[Row]:
    """The 2017 report's runtimes, as rows beside the runtime table."""
    rows = []
    for kind in ("cpu", "gpu"):
        cells = []
        for column in columns:
            reference = REFERENCE_2017.get(int(float(column)))
            seconds = reference and reference.seconds(kind)
            cells.append(None if seconds is None else Cell(seconds_text(seconds), f"{seconds:.2f}"))
        rows.append(Row(reference_label(kind), cells))
    return rows
