"""Where Keras's cost lives: fit with its defaults -> fit tuned -> the Keras model in a
hand-written loop -> the native network, per backend, device, precision and width.

Keras's cost is the default `fit`'s median over native's. It splits into three steps,
each a share of that cost: what `fit`'s own settings save (default -> tuned), what `fit`'s
trainer costs beyond a hand loop (tuned -> the loop: its per-step Python, callbacks,
metrics, the loop around the compiled step), and what the Keras layers cost over the
framework's own (the loop -> native: Keras ops, layout transposes, pooling lowered
otherwise). A share can be negative: a step that made things slower.

A share is a difference of medians, so it means something only when the paths ran side by
side: where one sweep (`frame`'s `sweep`) timed every path of a cell, only such sweeps'
runs make its row (`together`); else the row pools every session's runs and says so.
"""

from __future__ import annotations

import pandas as pd

from cnnbench.report.frame import LENGTH_KEYS, ROW_KEYS

STEPS = ("settings", "trainer", "layers")
SAME = [k for k in ROW_KEYS if k != "path"] + [*LENGTH_KEYS, "learning_rate", "filters"]


def decomposition(data: pd.DataFrame) -> pd.DataFrame:
    """One row per (backend, device, precision, length, width) that has Keras default, the
    loop and native: their medians, Keras's cost as a ratio, and each step's share."""
    data, together = side_by_side(data)
    medians = data.groupby([*SAME, "path"])["runtime_s"].median().unstack("path")
    rows = []
    for key, m in medians.iterrows():
        default, loop, native = (m.get(p) for p in ("keras default", "keras loop", "native"))
        if any(v is None or pd.isna(v) for v in (default, loop, native)):
            continue
        tuned = m.get("keras tuned")
        tuned = default if tuned is None or pd.isna(tuned) else tuned  # tuned is the default
        cost = default - native  # Keras's cost; no cost, no shares
        steps = (default - tuned, tuned - loop, loop - native)
        shares = [d / cost * 100 if cost > 0 else float("nan") for d in steps]
        rows.append(
            {
                **dict(zip(SAME, key, strict=True)),
                "ratio": default / native,
                "loop_ratio": loop / native,
                **dict(zip(STEPS, shares, strict=True)),
                "together": together.get(key, False),
            }
        )
    return pd.DataFrame(rows, columns=[*SAME, "ratio", "loop_ratio", *STEPS, "together"])


def side_by_side(data: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Each cell's runs from the sweeps that timed all of its paths, where there are any;
    and, per cell, whether its runs are so chosen."""
    kept, together = [], {}
    for key, cell in data.groupby(SAME):
        paths = set(cell["path"])
        full = [s for s, runs in cell.groupby("sweep") if set(runs["path"]) == paths]
        together[key] = len(paths) > 1 and bool(full)
        kept.append(cell[cell["sweep"].isin(full)] if together[key] else cell)
    return (pd.concat(kept) if kept else data), together


def where_it_lives(shares: pd.DataFrame) -> str:
    """`trainer` or `layers`: which holds most of Keras's cost, by the median share."""
    trainer, layers = shares["trainer"].median(), shares["layers"].median()
    return "the trainer" if trainer >= layers else "the layers"
