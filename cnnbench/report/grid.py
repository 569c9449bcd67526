"""The shape every table shares: rows are what ran (backend, device, path, precision),
columns are filter counts (or learning rates), each cell rendered from its runs.

A cell keeps a short text for the terminal and a long one for Markdown. Two machines or
two precisions never share a cell: they are different rows, labelled apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from cnnbench.report.frame import PATHS, ROW_KEYS, by

MISSING = "—"


@dataclass(frozen=True)
class Cell:
    short: str  # the terminal's
    long: str  # Markdown's


@dataclass(frozen=True)
class Row:
    label: str
    cells: list[Cell | None]


@dataclass
class TableModel:
    name: str  # what --table picks
    title: str
    caption: str
    columns: list[str]
    rows: list[Row]
    corner: str = "backend · device · path"


def length_title(length: tuple[int, int, int]) -> str:
    epochs, samples, batch = length
    return f"{epochs} epochs × {samples} images, batch {batch}"


def seconds_text(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def spread_cell(values: pd.Series, fmt=seconds_text, limit: float | None = None) -> Cell:
    """Median, min-max and rounds of a cell's runs."""
    values = values.dropna()
    median, low, high, n = values.median(), values.min(), values.max(), len(values)
    extra = f" · {limit:,.0f}× limit" if limit is not None else ""
    if n == 1:
        return Cell(f"{fmt(median)}*", f"{fmt(median)} (1 round){extra}")
    half = (high - low) / 2 / median * 100 if median else 0.0
    return Cell(
        f"{fmt(median)} ±{half:.0f}%", f"{fmt(median)} ({fmt(low)}–{fmt(high)}, n={n}){extra}"
    )


def _row_order(key: tuple) -> tuple:
    kind, machine, backend, path, precision = key
    return (kind != "gpu", machine, backend, PATHS.index(path) if path in PATHS else 9, precision)


def row_labels(keys: Sequence[tuple]) -> dict[tuple, str]:
    """`backend · device · path`, with the CPU model when CPUs vary, and the precision
    when that device's rows hold more than one (the default, fp32, goes unsaid)."""
    precisions: dict[tuple, set] = {}
    for kind, machine, *_, precision in keys:
        precisions.setdefault((kind, machine), set()).add(precision)
    cpus = {key[1] for key in keys if key[0] == "cpu"}
    labels = {}
    for kind, machine, backend, path, precision in keys:
        device = machine if kind == "gpu" or len(cpus) > 1 else "cpu"
        label = f"{backend} · {device} · {path}"
        if precisions[(kind, machine)] != {"fp32"}:
            label += f" · {precision}"
        labels[(kind, machine, backend, path, precision)] = label
    return labels


def pivot(data: pd.DataFrame, column: str, render: Callable[[pd.DataFrame], object]):
    """Rows (ROW_KEYS) x values of `column`, each cell rendered from its runs."""
    keys = sorted((key for key, _ in by(data, ROW_KEYS)), key=_row_order)
    labels = row_labels(keys)
    values = sorted(data[column].unique())
    groups = dict(by(data, [*ROW_KEYS, column]))
    rows = []
    for key in keys:
        cells = []
        for value in values:
            runs = groups.get((*key, value))
            cells.append(None if runs is None else render(runs))
        rows.append(Row(labels[key], cells))
    return values, rows
