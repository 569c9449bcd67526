"""New runs against base runs, cell by cell, on the statistics every comparison reads
(`cnnbench.stats`).

- A cell whose new and base runs are rounds of one block is compared **paired**, round
  by round: the interval is the block's own.
- Otherwise the two sides are **separate sessions**: nothing pairs them, and the
  interval of the ratio of their geometric means carries the between-session drift
  (`--drift PCT`, else the widest change of one cell between two sessions of the same
  code in the published records of that kind of device, `cnnbench/published.json`),
  which more rounds never shrink. The output says how large a change such a comparison
  could have seen.

A cell is `slower` when its interval lies above 1, `faster` below, else "no change found
(±N%)". `--fail-above PCT` fails the gate when a cell's interval lies wholly above
1 + PCT/100: a cell that merely might have grown never fails it, and one that surely
grew by less than PCT never does either. A one-round side borrows the other side's
round-to-round spread; with one round on both sides of a block, nothing shows the noise
and the point alone is gated (said so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cnnbench import stats
from cnnbench.estimate import published_drift
from cnnbench.experiment import FULL_LENGTH
from cnnbench.report.blocks import pair
from cnnbench.report.grid import length_title, row_labels
from cnnbench.stats import CELL_KEYS, LENGTH_KEYS, ROW_KEYS

EXIT_REGRESSION = 1
KEYS = CELL_KEYS


@dataclass(frozen=True)
class Change:
    label: str
    base: pd.DataFrame  # the cell's runs on each side
    new: pd.DataFrame
    ratio: stats.Ratio  # new over base
    paired: bool  # rounds of one block

    @property
    def growth_pct(self) -> float:
        return (self.ratio.value - 1) * 100

    def judge(self) -> str:
        r = self.ratio
        if not r.known:
            return "noise unknown (one round)"
        if r.low > 1:
            return "slower"
        if r.high < 1:
            return "faster"
        return f"no change found (±{r.half_pct:.0f}%)"

    def regressed(self, threshold: float) -> bool:
        return self.ratio.above(1 + threshold / 100)


def _paired(new: pd.DataFrame, base: pd.DataFrame) -> stats.Ratio | None:
    """The ratio paired by round, when both sides are rounds of one block."""
    blocks = set(new["block"].dropna()) | set(base["block"].dropna())
    if len(blocks) != 1 or new["block"].isna().any() or base["block"].isna().any():
        return None
    return pair(new, base)


def changes(new: pd.DataFrame, base: pd.DataFrame, drift: dict[str, float]) -> list[Change]:
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
        n, b = new_groups[key], base_groups[key]
        ratio = _paired(n, b)
        paired = ratio is not None
        if ratio is None:
            spread = drift.get(key[0], 0.0)
            ratio = stats.apart(n["runtime_s"].tolist(), b["runtime_s"].tolist(), spread)
        out.append(Change(label, b, n, ratio, paired))
    return out


def session_drift(data: pd.DataFrame) -> dict[str, float]:
    """Per kind of device, the spread of one cell's log change between sessions: every
    cell timed by more than one sweep (the same code, at one length), each later sweep's
    median over the first's (`stats.drift`)."""
    full = data[data["block"].isna()]
    changes: dict[str, list[float]] = {}
    for key, cell in full.groupby(list(KEYS)):
        medians = cell.groupby("sweep")["runtime_s"].median()
        dates = cell.groupby("sweep")["date"].min().reindex(medians.index).fillna("")
        ordered = medians[dates.sort_values(kind="stable").index]
        if len(ordered) >= 2:
            changes.setdefault(key[0], []).extend(ordered.iloc[1:] / ordered.iloc[0])
    found = {kind: stats.drift(values) for kind, values in changes.items()}
    return {kind: value for kind, value in found.items() if value is not None}


def mismatch(new: pd.DataFrame, base: pd.DataFrame) -> str | None:
    """Why no cell is on both sides, in words: the machines, widths or lengths differ."""
    for keys, what in ((["machine"], "machines"), (list(LENGTH_KEYS), "lengths"),
                       (["filters"], "widths"), (["backend", "path"], "arms")):
        a = set(new[keys].itertuples(index=False, name=None))
        b = set(base[keys].itertuples(index=False, name=None))
        if not a & b:
            return f"the runs and --compare BASE share no {what.rstrip('s')} ({what} differ)"
    return None


def compare(
    new: pd.DataFrame,
    base: pd.DataFrame,
    fail_above: float | None,
    console: Console,
    drift_pct: float | None = None,
) -> int:
    """Print new against base per cell; EXIT_REGRESSION when a cell's interval lies above
    1 + fail_above %."""
    drift = published_drift() if drift_pct is None else {}
    if drift_pct is not None:
        drift = {kind: math.log1p(drift_pct / 100) for kind in ("cpu", "gpu")}
    found = changes(new, base, drift)
    table = Table(title="Runtime, new vs base (median seconds over the rounds)")
    for header in ("Benchmark", "Base s (n)", "New s (n)", "New/base [95%]", "How", "Verdict"):
        table.add_column(header)
    for c in found:
        table.add_row(
            escape(c.label),
            f"{c.base['runtime_s'].median():.2f} ({len(c.base)})",
            f"{c.new['runtime_s'].median():.2f} ({len(c.new)})",
            c.ratio.text(3),
            "paired (one block)" if c.paired else "separate sessions",
            c.judge(),
        )
    console.print(table)
    if not found:
        console.print("note: no benchmark appears on both sides")
    kinds = sorted({c.new["kind"].iloc[0] for c in found if not c.paired})
    for kind in kinds:
        spread = drift.get(kind)
        if spread:
            console.print(
                f"note: separate sessions ({kind}): changes under {math.expm1(spread) * 100:.0f}%"
                " cannot be told from the drift between sessions (the widest change of one "
                "cell between two sessions of the same code on file); a block that times both "
                "as arms can"
            )
        else:
            console.print(
                f"note: separate sessions ({kind}): the drift between sessions is not known "
                "here, so these intervals hold the rounds' own noise alone (--drift PCT)"
            )
    if fail_above is None:
        return 0
    regressed = [c for c in found if c.regressed(fail_above)]
    for c in regressed:
        console.print(
            f"regression: {escape(c.label)} grew by {c.growth_pct:.1f}% "
            f"({c.ratio.text(3)}; > {fail_above:g}%)"
        )
    return EXIT_REGRESSION if regressed else 0
