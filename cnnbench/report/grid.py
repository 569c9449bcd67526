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
MARKUP = str.maketrans({c: "\\" + c for c in "\\`*_[]|#$"} | {"<": "&lt;", ">": "&gt;"})


def markdown(text: str) -> str:
    """Text that a Markdown renderer shows as written, also inside a table cell: no
    markup, no HTML, no `|` that would split the cell."""
    return str(text).replace("&", "&amp;").translate(MARKUP)


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


def parts(model: TableModel, budget: int, width: Callable[[TableModel, list[int]], int]):
    """`model` cut into tables of consecutive columns, each `width(model, columns)` at most
    `budget` characters wide: a table too wide to read is split, never squeezed until its
    numbers are cut."""
    groups: list[list[int]] = [[]]
    for i in range(len(model.columns)):
        if groups[-1] and width(model, [*groups[-1], i]) > budget:
            groups.append([])
        groups[-1].append(i)
    if len(groups) == 1:
        return [model]
    return [
        TableModel(
            model.name,
            f"{model.title}, part {n} of {len(groups)}",
            model.caption if n == len(groups) else "",
            [model.columns[i] for i in group],
            [Row(row.label, [row.cells[i] for i in group]) for row in model.rows],
            model.corner,
        )
        for n, group in enumerate(groups, 1)
    ]


def length_title(length: tuple[int, int, int]) -> str:
    epochs, samples, batch = length
    return f"{epochs} epoch{'s' * (epochs != 1)} × {samples} images, batch {batch}"


def seconds_text(value: float) -> str:
    if value >= 1e5:
        return f"{value:.3g}"  # a cell stays narrow whatever a record holds
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
    kind, machine, backend, path, precision, keras = key
    order = PATHS.index(path) if path in PATHS else 9
    return (kind != "gpu", machine, backend, order, precision, keras)


def row_labels(keys: Sequence[tuple]) -> dict[tuple, str]:
    """`backend · device · path`, with the CPU model when CPUs vary, the precision when
    that device's rows hold more than one (the default, fp32, goes unsaid), and the Keras
    version when they hold more than one."""
    precisions: dict[tuple, set] = {}
    kerases: dict[tuple, set] = {}
    for kind, machine, *_, precision, keras in keys:
        precisions.setdefault((kind, machine), set()).add(precision)
        kerases.setdefault((kind, machine), set()).add(keras)
    cpus = {key[1] for key in keys if key[0] == "cpu"}
    labels = {}
    for key in keys:
        kind, machine, backend, path, precision, keras = key
        device = machine if kind == "gpu" or len(cpus) > 1 else "cpu"
        label = f"{backend} · {device} · {path}"
        if precisions[(kind, machine)] != {"fp32"}:
            label += f" · {precision}"
        if len(kerases[(kind, machine)]) > 1:
            label += f" · keras {keras}"
        labels[key] = label
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
