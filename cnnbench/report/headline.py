"""The README's headline table, rendered from the results and put between its markers."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandas as pd

from cnnbench.experiment import FULL_LENGTH, LEARNING_RATE, REFERENCE_2017
from cnnbench.files import write_atomic
from cnnbench.report.grid import MISSING, length_title, pivot
from cnnbench.report.read import ReportError


class Summary(NamedTuple):
    seconds: float
    accuracy: float
    rounds: int
    kind: str


START = "<!-- cnnbench:headline:start -->"
END = "<!-- cnnbench:headline:end -->"


def headline_markdown(data: pd.DataFrame, figure: str | None) -> str:
    """Full-length runtimes beside the 2017 ones: one row per backend, device and path, one
    column per width; the fastest of each width on each kind of device in bold."""
    sweep = data[data["full_length"] & (data["learning_rate"] == LEARNING_RATE)]
    lines = [
        f"Full training, {length_title(tuple(FULL_LENGTH))}, lr {LEARNING_RATE}: median "
        "seconds over the rounds (most cells 3; † one round) and validation accuracy; "
        "**bold**: the fastest of that width on that kind of device."
    ]
    if sweep.empty:
        return "\n".join([*lines, "", "No full-length runs yet."])

    def render(runs: pd.DataFrame) -> Summary:
        seconds, accuracy = runs["runtime_s"].median(), runs["val_accuracy"].median()
        return Summary(seconds, accuracy, len(runs), runs["kind"].iloc[0])

    values, rows = pivot(sweep, "filters", render)
    fastest = {}  # (column, kind) -> row index
    for i in range(len(values)):
        for j, row in enumerate(rows):
            cell = row.cells[i]
            best = fastest.get((i, cell.kind)) if cell else None
            if cell and (best is None or cell.seconds < rows[best].cells[i].seconds):
                fastest[(i, cell.kind)] = j
    lines += ["", "| Backend · device · path | " + " | ".join(map(str, values)) + " |"]
    lines.append("|---|" + "---:|" * len(values))
    for j, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row.cells):
            if cell is None:
                cells.append(MISSING)
                continue
            text = f"{cell.seconds:.1f}{'†' if cell.rounds == 1 else ''} ({cell.accuracy:.3f})"
            cells.append(f"**{text}**" if fastest.get((i, cell.kind)) == j else text)
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    for kind in ("cpu", "gpu"):
        refs = [REFERENCE_2017.get(f) for f in values]
        times = [r.seconds(kind) if r else None for r in refs]
        texts = [MISSING if t is None else f"{t:.2f}" for t in times]
        lines.append(
            f"| 2017 report · laptop {kind.upper()} · TF 1.x | " + " | ".join(texts) + " |"
        )
    if figure:
        lines += ["", f"![runtime vs filters]({figure})"]
    return "\n".join(lines)


def update_readme(readme: Path, headline: str) -> None:
    """Replace the text between the headline markers of `readme`."""
    try:
        text = readme.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ReportError(f"{readme}: cannot read ({getattr(err, 'strerror', err)})") from None
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ReportError(f"{readme}: no {START} ... {END} block")
    write_atomic(readme, text[: start + len(START)] + "\n" + headline + "\n" + text[end:])
