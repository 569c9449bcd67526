"""Tables to the terminal (rich) and to Markdown; `summary.md` and `results.csv`; every
file written whole or not at all (a temporary file in the same folder, then a rename)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from rich import box
from rich.markup import escape
from rich.table import Table

from cnnbench.report.grid import MISSING, TableModel

# The CSV's columns, in order: what a run is, then what it measured, then provenance.
CSV_COLUMNS = (
    "backend", "kind", "machine", "device", "path", "precision", "filters", "learning_rate",
    "epochs", "train_samples", "batch_size", "full_length", "seed", "runtime_s",
    "first_epoch_s", "steady_epoch_s", "val_accuracy", "test_error", "samples_per_s",
    "achieved_gflops", "peak_gflops", "limit_s", "x_limit", "peak_host_mb", "peak_gpu_mb",
    "params", "cpu_model", "cpu_count", "gpu_driver", "versions", "settings", "commit",
    "benchmark", "source", "date", "val_accuracy_by_epoch", "epoch_seconds",
)  # fmt: skip


def to_rich(model: TableModel) -> Table:
    """A table that fits 100 columns: labels wrap, numbers never do."""
    table = Table(
        title=escape(model.title),
        caption=escape(model.caption),
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        title_justify="left",
        caption_justify="left",
    )
    table.add_column(escape(model.corner), ratio=1, overflow="fold")
    for column in model.columns:
        table.add_column(escape(column), justify="right", no_wrap=True)
    for row in model.rows:
        cells = [MISSING if c is None else escape(c.short) for c in row.cells]
        table.add_row(escape(row.label), *cells)
    return table


def to_markdown(model: TableModel) -> str:
    lines = [
        f"### {model.title}",
        "",
        "| " + " | ".join([model.corner, *model.columns]) + " |",
        "|---|" + "---:|" * len(model.columns),
    ]
    for row in model.rows:
        cells = [MISSING if c is None else c.long for c in row.cells]
        lines.append("| " + " | ".join([row.label, *cells]) + " |")
    if model.caption:
        lines += ["", *textwrap.wrap(model.caption, 100)]
    return "\n".join(lines)


def results_csv(data: pd.DataFrame) -> str:
    """Long format: one row per run (and round), one column per field."""
    columns = [c for c in CSV_COLUMNS if c in data.columns]
    columns += [c for c in data.columns if c.startswith("time_to_")]
    return data[columns].to_csv(index=False)


def provenance(data: pd.DataFrame) -> list[str]:
    """One Markdown bullet per machine: runs, versions, commits, files."""
    lines = []
    for machine, runs in data.groupby("machine", sort=True):
        versions = sorted(set(runs["versions"]))
        commits = sorted({c for c in runs["commit"].dropna()})
        files = sorted({Path(s.split(":")[0]).name for s in runs["source"]})
        drivers = sorted({d for d in runs["gpu_driver"].dropna()})
        parts = [f"**{machine}**: {len(runs)} runs"]
        if drivers:
            parts.append(f"driver {', '.join(drivers)}")
        parts.append("versions " + "; ".join(v.strip("{}").replace('"', "") for v in versions))
        if commits:
            parts.append("commits " + ", ".join(c[:12] for c in commits))
        parts.append("files " + ", ".join(files))
        lines += textwrap.wrap("; ".join(parts), 100, initial_indent="- ", subsequent_indent="  ")
    return lines


def summary_markdown(
    tables: Sequence[TableModel],
    figures: Sequence[Path],
    data: pd.DataFrame,
    notes: Sequence[str] = (),
) -> str:
    parts = [
        "# cnnbench results",
        "",
        "Rendered by `python -m cnnbench.report` from the raw files listed under "
        "Provenance; re-render at any time. Missing cells are —, never zero. Every run, "
        "one row each: [`results.csv`](results.csv).",
        "",
    ]
    for table in tables:
        parts += [to_markdown(table), ""]
    if figures:
        parts += ["## Figures", ""] + [f"![{f.stem}]({f.name})" for f in figures] + [""]
    parts += ["## Provenance", "", *provenance(data), ""]
    if notes:  # what reading the inputs skipped or superseded
        parts += ["Read with these notes:", "", *(f"- {note}" for note in notes), ""]
    return "\n".join(parts)
