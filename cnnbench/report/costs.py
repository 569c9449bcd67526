"""What a run costs: its energy (joules, as its counters measured it) and, at prices the
reader gives (`--price DEVICE=DOLLARS_PER_HOUR`), its dollars. Prices are never stored.

- energy: the GPU's counter on a GPU, the RAPL package counters on a CPU (`cnnbench.energy`);
  per run, per 1000 training images, and to 0.99 validation accuracy (the run's energy
  times the share of its time it took to get there: the draw taken as even over a run);
  on a GPU also above idle (the run's energy less its idle draw over the same time);
- cost: runtime at the price, per run and to 0.99.
Medians over the rounds, like every other table; a run without a reading is left out of
its cell, and a cell without any reading is missing, never zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from cnnbench.errors import shown
from cnnbench.report.grid import Cell, TableModel, length_title, pivot

TARGET = 0.99  # the accuracy the "to target" columns use


def parse_prices(texts: Sequence[str], data: pd.DataFrame) -> dict[str, float]:
    """`--price` values -> {machine or kind: dollars per hour}; ValueError naming the one at
    fault (no `=`, a price that is not a finite number >= 0, a device no run was on)."""
    known = sorted({*data["machine"], *data["kind"]})
    prices = {}
    for text in texts:
        name, sep, value = text.rpartition("=")
        if not sep or not name:
            raise ValueError(f"--price {shown(text)}: expected DEVICE=DOLLARS_PER_HOUR")
        try:
            dollars = float(value)
        except ValueError:
            raise ValueError(f"--price {shown(text)}: {shown(value)} is not a number") from None
        if not (math.isfinite(dollars) and dollars >= 0):
            raise ValueError(f"--price {shown(text)}: a price must be a finite number >= 0")
        if name not in known:
            raise ValueError(f"--price {shown(text)}: no run on {shown(name)}; known: "
                             f"{', '.join(known)}")
        if name in prices:
            raise ValueError(f"--price {shown(name)} given twice ({prices[name]:g} and "
                             f"{dollars:g}): one price a device")
        prices[name] = dollars
    return prices


def _price(row: Mapping, prices: Mapping[str, float]) -> float | None:
    return prices.get(row["machine"], prices.get(row["kind"]))


def with_costs(data: pd.DataFrame, prices: Mapping[str, float]) -> pd.DataFrame:
    """The frame with `dollars` and `dollars_to_0_99` per run (none without a price)."""
    out = data.copy()
    per_hour = [_price(row, prices) for _, row in out.iterrows()]
    out["dollars"] = [
        None if p is None else p * s / 3600 for p, s in zip(per_hour, out["runtime_s"], strict=True)
    ]
    to = out[f"time_to_{TARGET:g}".replace(".", "_")]
    out["dollars_to_0_99"] = [
        None if p is None or pd.isna(t) else p * t / 3600 for p, t in zip(per_hour, to, strict=True)
    ]
    return out


def energy_table(data: pd.DataFrame, length) -> TableModel | None:
    runs = data.dropna(subset=["energy_j"])
    if runs.empty:
        return None

    def render(cell: pd.DataFrame) -> Cell:
        joules = cell["energy_j"].median()
        per_k = (cell["energy_j"] / (cell["epochs"] * cell["train_samples"]) * 1000).median()
        to = cell["energy_j"] * cell[f"time_to_{TARGET:g}".replace(".", "_")] / cell["runtime_s"]
        above = (cell["energy_j"] - cell["gpu_idle_w"] * cell["runtime_s"]).median()
        long = f"{joules:,.0f} J ({per_k:.1f} J/1000 images"
        long += f"; to {TARGET:g}: {to.median():,.0f} J" if to.notna().any() else ""
        long += f"; above idle {above:,.0f} J" if not pd.isna(above) else ""
        return Cell(f"{joules:,.0f}", long + f", n={len(cell)})")

    values, rows = pivot(runs, "filters", render)
    return TableModel(
        "energy",
        f"Energy per run, joules ({length_title(length)})",
        "The GPU's energy counter (NVML) on a GPU, the RAPL package counters on a CPU, read "
        "just before and after the timed fit; medians over the rounds that have a reading. "
        f"To {TARGET:g}: the run's energy times the share of its time it took to reach it.",
        [f"{v:g}" for v in values],
        rows,
    )


def cost_table(data: pd.DataFrame, length) -> TableModel | None:
    runs = data.dropna(subset=["dollars"]) if "dollars" in data else data.iloc[0:0]
    if runs.empty:
        return None

    def render(cell: pd.DataFrame) -> Cell:
        dollars, to = cell["dollars"].median(), cell["dollars_to_0_99"].dropna()
        long = f"${dollars:.4f} per run" + (
            f", ${to.median():.4f} to {TARGET:g}" if len(to) else ""
        )
        return Cell(f"${dollars:.4f}", long)

    values, rows = pivot(runs, "filters", render)
    return TableModel(
        "cost",
        f"Dollars per run at the given prices ({length_title(length)})",
        "Runtime at the --price given for the device (dollars per hour), medians over the "
        f"rounds; and to {TARGET:g} validation accuracy. Prices are the reader's, not data.",
        [f"{v:g}" for v in values],
        rows,
    )
