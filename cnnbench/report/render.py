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

from cnnbench.report.grid import MISSING, TableModel, markdown, parts

# The CSV's columns, in order: what a run is, then what it measured, then provenance.
CSV_COLUMNS = (
    "backend", "kind", "machine", "device", "path", "precision", "keras", "filters",
    "learning_rate", "epochs", "train_samples", "batch_size", "full_length", "seed", "runtime_s",
    "first_epoch_s", "steady_epoch_s", "val_accuracy", "test_error", "samples_per_s",
    "achieved_gflops", "peak_gflops", "limit_s", "x_limit", "peak_host_mb", "peak_gpu_mb",
    "energy_j", "energy_note", "gpu_idle_w", "gpu_too_short", "steal_s", "cpu_s",
    "params", "cpu_model", "cpu_count", "gpu_driver", "versions", "settings", "commit",
    "benchmark", "sweep", "source", "line", "date", "block", "arm", "twin", "place", "cold",
    "to_first_epoch_s", "val_accuracy_by_epoch", "epoch_seconds",
)  # fmt: skip


LABEL_MIN = 24  # the row labels' least width in the terminal (they wrap, numbers never do)
MARKDOWN_WIDTH = 200  # characters a line of summary.md may take


def _terminal_width(model: TableModel, columns: list[int]) -> int:
    """Characters a terminal table takes: each column as wide as its widest cell, plus
    padding; the labels at least LABEL_MIN (they wrap)."""
    labels = [model.corner, *(r.label for r in model.rows)]
    total = min(LABEL_MIN, max(map(len, labels))) + 2
    for i in columns:
        cells = [r.cells[i].short for r in model.rows if r.cells[i] is not None]
        total += max(map(len, [model.columns[i], MISSING, *cells])) + 2
    return total


def _markdown_width(model: TableModel, columns: list[int]) -> int:
    """The longest line a Markdown table of these columns has."""
    lines = [[model.corner, *(model.columns[i] for i in columns)]]
    for row in model.rows:
        lines.append([row.label, *(_long(row.cells[i]) for i in columns)])
    return max(sum(len(markdown(text)) + 3 for text in line) + 1 for line in lines)


def _long(cell) -> str:
    return MISSING if cell is None else cell.long


def rich_tables(model: TableModel, width: int) -> list[Table]:
    """The table for a terminal `width` wide: split by columns where it would not fit."""
    return [to_rich(part) for part in parts(model, width, _terminal_width)]


def to_rich(model: TableModel) -> Table:
    """A terminal table: labels wrap, numbers never do."""
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
    """The table in Markdown, split by columns so that no line passes MARKDOWN_WIDTH."""
    tables = parts(model, MARKDOWN_WIDTH, _markdown_width)
    return "\n\n".join(_markdown_table(part) for part in tables)


def _markdown_table(model: TableModel) -> str:
    lines = [
        f"### {markdown(model.title)}",
        "",
        "| " + " | ".join(markdown(c) for c in [model.corner, *model.columns]) + " |",
        "|---|" + "---:|" * len(model.columns),
    ]
    for row in model.rows:
        cells = [markdown(_long(c)) for c in row.cells]
        lines.append("| " + " | ".join([markdown(row.label), *cells]) + " |")
    if model.caption:
        lines += ["", *textwrap.wrap(markdown(model.caption), 100)]
    return "\n".join(lines)


SORT = ("kind", "machine", "backend", "path", "precision", "epochs", "train_samples")
SORT += ("learning_rate", "filters", "seed", "source", "line")


def results_csv(data: pd.DataFrame) -> str:
    """Long format: one row per run (and round), one column per field, rows in the order
    of the tables (docs/report.md has the column dictionary)."""
    columns = [c for c in CSV_COLUMNS if c in data.columns]
    columns += [c for c in data.columns if c.startswith("time_to_")]
    rows = data.sort_values(list(SORT), kind="stable", na_position="first")
    return rows[columns].to_csv(index=False)


def _wrap(text: str) -> list[str]:
    """A Markdown bullet at 100 columns; a file name is never broken at its hyphens."""
    return textwrap.wrap(
        text, 100, initial_indent="- ", subsequent_indent="  ", break_on_hyphens=False
    )


def provenance(data: pd.DataFrame) -> list[str]:
    """One Markdown bullet per machine: runs, versions, commits, files."""
    lines = []
    for machine, runs in data.groupby("machine", sort=True):
        versions = sorted(set(runs["versions"]))
        commits = sorted({c for c in runs["commit"].dropna()})
        files = sorted({Path(s).name for s in runs["source"]})
        drivers = sorted({d for d in runs["gpu_driver"].dropna()})
        items = [f"**{markdown(machine)}**: {len(runs)} runs"]
        if drivers:
            items.append(f"driver {markdown(', '.join(drivers))}")
        shown = "; ".join(v.strip("{}").replace('"', "") for v in versions)
        items.append("versions " + markdown(shown))
        if commits:
            items.append("commits " + markdown(", ".join(c[:12] for c in commits)))
        items.append("files " + markdown(", ".join(files)))
        lines += _wrap("; ".join(items))
    return lines


def summary_markdown(
    tables: Sequence[TableModel],
    figures: Sequence[Path],
    data: pd.DataFrame,
    notes: Sequence[str] = (),
    sections: Sequence[str] = (),
) -> str:
    out = [
        "# cnnbench results",
        "",
        "Rendered by `python -m cnnbench.report` from the raw files listed under "
        "Provenance; re-render at any time. Missing cells are —, never zero. Every run, "
        "one row each: [`results.csv`](results.csv).",
        "",
    ]
    for table in tables:
        out += [to_markdown(table), ""]
    for section in sections:  # Markdown of its own (the Keras history)
        out += [section, ""]
    if figures:
        out += ["## Figures", ""] + [f"![{f.stem}]({f.name})" for f in figures] + [""]
    out += ["## Provenance", "", *provenance(data), ""]
    if notes:  # what reading the inputs skipped or superseded
        out += ["Read with these notes:", ""]
        for note in notes:
            out += _wrap(markdown(note))
        out.append("")
    return "\n".join(out)
