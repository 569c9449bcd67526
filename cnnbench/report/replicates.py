"""Replicate blocks (`cnnbench.block_ray`): one block's definition timed on several
machines of one class, each a block of its own. Their ratios combine
(`cnnbench.stats.replicated`): each block's per-round ratios cancel its own machine's
speed, so the machines' seconds never pool; where the machines' ratios differ, the
interval is as wide as they do.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from cnnbench import stats
from cnnbench.report.blocks import paired_rounds
from cnnbench.report.grid import Cell, Row, TableModel


@dataclass(frozen=True)
class Combined:
    digest: str  # the blocks' definition (`Block.digest`, the head of each block's id)
    machine: str  # their machines' class
    filters: int
    blocks: list[str]
    reference: str  # the arm every other is set against: the fastest across blocks
    arms: list[tuple[str, stats.Replicated]]  # arm -> its time over the reference's
    aa: stats.Replicated | None  # the A/A twin over its arm, over every block
    aa_arm: str | None


def _arm(part: pd.DataFrame, arm: str, twin: int) -> pd.DataFrame:
    return part[(part["arm"] == arm) & (part["twin"] == twin)]


def _pairs(parts, first: tuple[str, int], second: tuple[str, int]) -> list[tuple]:
    """Per block, (first's rounds, second's rounds) over the rounds both have."""
    pairs = (paired_rounds(_arm(part, *first), _arm(part, *second)) for part in parts)
    return [p for p in pairs if p]


def combined(data: pd.DataFrame, ids: Sequence[str] | None = None) -> list[Combined]:
    """Every set of two or more blocks of one definition on one class of machine, per
    width (the blocks `ids` alone, if given); warm runs only."""
    warm = data[data["block"].notna() & ~data["cold"]]
    if ids is not None:
        warm = warm[warm["block"].isin(list(ids))]
    warm = warm.assign(digest=warm["block"].str.split("-").str[0])
    out = []
    for (digest, machine, filters), runs in warm.groupby(["digest", "machine", "filters"]):
        parts = [part for _, part in runs.groupby("block", sort=True)]
        if len(parts) < 2:
            continue
        arms = sorted(set.intersection(*[set(p[p["twin"] == 0]["arm"]) for p in parts]))
        if not arms:
            continue
        medians = {a: statistics.median(_arm(p, a, 0)["runtime_s"].median() for p in parts)
                   for a in arms}
        reference = min(arms, key=medians.get)
        rows = []
        for arm in sorted(arms, key=medians.get):
            pairs = _pairs(parts, (arm, 0), (reference, 0))
            if arm != reference and pairs:
                rows.append((arm, stats.replicated(pairs)))
        twins = set.intersection(*[set(p[p["twin"] == 1]["arm"]) for p in parts])
        aa_arm = min(twins) if twins else None
        pairs = _pairs(parts, (aa_arm, 1), (aa_arm, 0)) if aa_arm else []
        aa = stats.replicated(pairs) if pairs else None
        blocks = [p["block"].iloc[0] for p in parts]
        out.append(Combined(digest, machine, int(filters), blocks, reference, rows, aa, aa_arm))
    return out


def _text(r: stats.Replicated) -> str:
    agree = "" if r.agree is None else (
        f"; the machines differ (p={r.agree:.2g}): the interval is between machines"
        if r.apart else f"; the machines agree (p={r.agree:.2g})")
    return f"{r.ratio.text()} over {r.replicates} blocks{agree}"


def lines(data: pd.DataFrame, ids: Sequence[str] | None = None) -> list[str]:
    """What `cnnbench block --engine ray` prints at its end, after each block's own."""
    out = []
    for c in combined(data, ids):
        out.append(f"replicates of {c.digest} on {len(c.blocks)} {c.machine} blocks, "
                   f"{c.filters} filters (ratios combined, seconds never pooled):")
        out += [f"  {arm}: {_text(r)} {c.reference}'s time" for arm, r in c.arms]
        if c.aa is not None:
            state = " DISTURBED" if not c.aa.ratio.holds(1.0) else ""
            out.append(f"  noise floor (A/A, {c.aa_arm}): {_text(c.aa)}{state}")
    return out


def _cell(r: stats.Replicated) -> Cell:
    short = r.ratio.text()
    return Cell(short, f"{short} over {r.replicates} blocks"
                + (" (machines differ)" if r.apart else ""))


def replicate_tables(data: pd.DataFrame) -> list[TableModel]:
    """A table per set of replicate blocks and width: each arm over the fastest, combined."""
    tables = []
    for c in combined(data):
        rows = [Row(c.reference, [Cell("fastest", "fastest")])]
        rows += [Row(arm, [_cell(r)]) for arm, r in c.arms]
        if c.aa is not None:
            rows.append(Row(f"A/A: {c.aa_arm} twice", [_cell(c.aa)]))
        tables.append(TableModel(
            "blocks", f"Replicates of {c.digest} · {len(c.blocks)} {c.machine} blocks · "
            f"{c.filters} filters",
            "Ratios combined over blocks of one definition on machines of one class "
            "(paired by round within each block; machines' seconds never pooled): "
            "stats.replicated.", ["× fastest"], rows, corner="arm"))
    return tables
