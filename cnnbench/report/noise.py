"""What the machine took from a block's runs: the hypervisor's steal beside each run's time.

Each run records, per epoch, the seconds the hypervisor gave the machine's CPUs to another
guest (`steal`, from `/proc/stat`; `cnnbench.epochclock`). A run's *stolen share* is its
steal over its CPU-seconds (wall time x the machine's CPUs). Within a block, a run slower
than its arm's median by a share like the one stolen lost its time to the machine, not to
its code: the note says how much was stolen and how closely the runs' excess time follows
it (the correlation of each run's log time over its arm's median with its stolen share).
Runs recorded before the clock existed carry no steal and are left out.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def clock_columns(result: dict) -> dict:
    """A run's steal and CPU seconds (`cnnbench.epochclock`), summed over its epochs; none
    for a run recorded before the clock, or whose values are not one number an epoch."""
    out = {}
    for key, column in (("epoch_steal_seconds", "steal_s"), ("epoch_cpu_seconds", "cpu_s")):
        values = result["history"].get(key)
        usable = isinstance(values, list) and len(values) == result["epochs"] and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and v >= 0 for v in values
        )
        out[column] = float(sum(values)) if usable else None
    return out


def stolen(data: pd.DataFrame) -> pd.DataFrame:
    """The block's warm runs with a steal reading: their stolen share and excess time."""
    runs = data[data["block"].notna() & ~data["cold"] & data["steal_s"].notna()].copy()
    if runs.empty:
        return runs.assign(share=[], excess=[])
    runs["share"] = runs["steal_s"] / (runs["runtime_s"] * runs["cpu_count"].fillna(1))
    median = runs.groupby(["block", "arm", "twin", "filters"])["runtime_s"].transform("median")
    runs["excess"] = np.log(runs["runtime_s"] / median)
    return runs


def steal_lines(data: pd.DataFrame) -> list[str]:
    """One note per block whose runs carry steal: how much the hypervisor took, and how
    closely the runs' time follows it."""
    lines = []
    for block, runs in stolen(data).groupby("block"):
        share = runs["share"] * 100
        text = (
            f"block {block}: the hypervisor took a median {share.median():.1f}% of the CPUs' "
            f"time from its runs (up to {share.max():.1f}%, {len(runs)} runs)"
        )
        if len(runs) >= 4 and runs["share"].std() > 0 and runs["excess"].std() > 0:
            r = float(np.corrcoef(runs["share"], runs["excess"])[0, 1])
            text += f"; a run's time over its arm's median follows it with r = {r:.2f}"
        lines.append(text)
    return lines
