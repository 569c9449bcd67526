"""New runs against base runs, cell by cell, with the noise taken into account.

With several rounds on both sides a cell is `slower` only when the two ranges do not
overlap and the median grew by more than the threshold (`faster` likewise), otherwise
`within noise`. With one round on either side the noise is unknown and said to be; a
growth past the threshold still fails the gate there, since nothing shows it is noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cnnbench.experiment import FULL_LENGTH
from cnnbench.report.frame import LENGTH_KEYS, ROW_KEYS
from cnnbench.report.grid import length_title, row_labels

EXIT_REGRESSION = 1
KEYS = (*ROW_KEYS, *LENGTH_KEYS, "learning_rate", "filters")


@dataclass(frozen=True)
class Verdict:
    label: str
    base: pd.Series
    new: pd.Series

    @property
    def growth_pct(self) -> float:
        return (self.new.median() / self.base.median() - 1) * 100

    def judge(self, threshold: float) -> str:
        if min(len(self.base), len(self.new)) < 2:
            return "noise unknown (one round)"
        if self.new.min() > self.base.max() and self.growth_pct > threshold:
            return "slower"
        if self.new.max() < self.base.min() and -self.growth_pct > threshold:
            return "faster"
        return "within noise"

    def regressed(self, threshold: float) -> bool:
        verdict = self.judge(threshold)
        return verdict == "slower" or (verdict.startswith("noise") and self.growth_pct > threshold)


def verdicts(new: pd.DataFrame, base: pd.DataFrame) -> list[Verdict]:
    new_groups = dict(iter(new.groupby(list(KEYS))))
    base_groups = dict(iter(base.groupby(list(KEYS))))
    shared = sorted(new_groups.keys() & base_groups.keys(), key=str)
    labels = row_labels(sorted({k[: len(ROW_KEYS)] for k in shared}))
    out = []
    for key in shared:
        length = key[len(ROW_KEYS) : len(ROW_KEYS) + len(LENGTH_KEYS)]
        lr, filters = key[-2], key[-1]
        label = f"{labels[key[: len(ROW_KEYS)]]} · {filters} filters · lr {lr:g}"
        if tuple(length) != tuple(FULL_LENGTH):
            label += f" · {length_title(length)}"
        out.append(Verdict(label, base_groups[key]["runtime_s"], new_groups[key]["runtime_s"]))
    return out


def compare(
    new: pd.DataFrame, base: pd.DataFrame, fail_above: float | None, console: Console
) -> int:
    """Print new against base per cell; EXIT_REGRESSION when one regressed past fail_above %."""
    threshold = fail_above or 0.0
    found = verdicts(new, base)
    table = Table(title="Runtime, new vs base (median seconds over the rounds)")
    for header in ("Benchmark", "Base s (n)", "New s (n)", "New/base", "Verdict"):
        table.add_column(header)
    for v in found:
        table.add_row(
            escape(v.label),
            f"{v.base.median():.2f} ({len(v.base)})",
            f"{v.new.median():.2f} ({len(v.new)})",
            f"{v.new.median() / v.base.median():.3f}",
            v.judge(threshold),
        )
    console.print(table)
    if not found:
        console.print("note: no benchmark appears on both sides")
    if fail_above is None:
        return 0
    regressed = [v for v in found if v.regressed(threshold)]
    for v in regressed:
        console.print(
            f"regression: {escape(v.label)} grew by {v.growth_pct:.1f}% (> {fail_above:g}%)"
        )
    return EXIT_REGRESSION if regressed else 0
