"""Blocks (`cnnbench.block`) as the report shows them: within one block only, each arm's
median with its interval, each arm's time over the fastest arm's and each Keras arm's
over its backend's native, paired round by round (`cnnbench.stats`), the A/A noise floor,
and the cold starts apart.

A block whose A/A interval excludes 1 is *disturbed*: its ratios are shown, marked so.
Nothing here sets a run of one block beside a run of another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from cnnbench import stats
from cnnbench.report.grid import Cell, Row, TableModel, length_title, seconds_text

AA = "A/A"


@dataclass(frozen=True)
class ArmSummary:
    arm: str
    backend: str
    path: str
    spread: stats.Spread
    to_fastest: stats.Ratio | None  # None for the fastest arm itself
    to_native: stats.Ratio | None  # a Keras arm over its backend's native (same block)
    to_own: stats.Ratio | None = None  # another Keras or commit over this one's same arm
    own: str | None = None  # that arm's name


def plain(arm: str) -> str:
    """The arm in this environment, at this commit: `torch:native@3.16.0#abc` -> `torch:native`."""
    return arm.split("@")[0].split("#")[0]


@dataclass(frozen=True)
class WidthSummary:
    block: str
    machine: str
    length: tuple
    filters: int
    arms: list[ArmSummary]
    fastest: str
    aa: stats.Ratio | None  # the twin over its arm
    aa_arm: str | None

    @property
    def disturbed(self) -> bool:
        return self.aa is not None and not self.aa.holds(1.0)


def _by_round(runs: pd.DataFrame) -> pd.Series:
    return runs.set_index("seed")["runtime_s"]


def paired_rounds(first: pd.DataFrame, second: pd.DataFrame) -> tuple[list, list] | None:
    """The two arms' times over the rounds both have (a round is a seed of one block)."""
    a, b = _by_round(first), _by_round(second)
    rounds = sorted(set(a.index) & set(b.index))
    return (a[rounds].tolist(), b[rounds].tolist()) if rounds else None


def pair(first: pd.DataFrame, second: pd.DataFrame) -> stats.Ratio | None:
    """first / second over the rounds both have."""
    rounds = paired_rounds(first, second)
    return stats.paired(*rounds) if rounds else None


def summaries(data: pd.DataFrame) -> list[WidthSummary]:
    """One summary per block and width, the block's warm runs only."""
    warm = data[data["block"].notna() & ~data["cold"]]
    out = []
    for (block, filters), runs in warm.groupby(["block", "filters"], sort=True):
        arms = {arm: part for arm, part in runs[runs["twin"] == 0].groupby("arm")}
        medians = {arm: part["runtime_s"].median() for arm, part in arms.items()}
        fastest = min(medians, key=medians.get)
        natives = {
            part["backend"].iloc[0]: part
            for arm, part in arms.items()
            if part["path"].iloc[0] == "native" and plain(arm) == arm
        }
        rows = []
        for arm, part in sorted(arms.items(), key=lambda item: medians[item[0]]):
            backend, path = part["backend"].iloc[0], part["path"].iloc[0]
            native = natives.get(backend) if path != "native" else None
            own = plain(arm) if plain(arm) != arm and plain(arm) in arms else None
            rows.append(
                ArmSummary(
                    arm,
                    backend,
                    path,
                    stats.spread_of(part["runtime_s"].tolist()),
                    None if arm == fastest else pair(part, arms[fastest]),
                    None if native is None else pair(part, native),
                    None if own is None else pair(part, arms[own]),
                    own,
                )
            )
        twin = runs[runs["twin"] == 1]
        aa_arm = twin["arm"].iloc[0] if not twin.empty else None
        aa = pair(twin, arms[aa_arm]) if aa_arm in arms else None
        first = runs.iloc[0]
        length = tuple(int(first[key]) for key in ("epochs", "train_samples", "batch_size"))
        out.append(
            WidthSummary(block, first["machine"], length, filters, rows, fastest, aa, aa_arm)
        )
    return out


def _ratio(ratio: stats.Ratio | None) -> Cell | None:
    if ratio is None:
        return None
    short = ratio.text()
    seen = ratio.detectable
    long = short + (f", sees ±{seen * 100:.0f}%" if seen is not None else "")
    return Cell(short, long)


def block_tables(data: pd.DataFrame) -> list[TableModel]:
    tables = []
    for s in summaries(data):
        own = any(a.to_own for a in s.arms)  # another Keras or commit: over this one's arm
        rows = [
            Row(
                a.arm,
                [
                    Cell(a.spread.text(), f"{a.spread.text()} (n={a.spread.rounds})"),
                    _ratio(a.to_fastest) or Cell("fastest", "fastest"),
                    _ratio(a.to_native),
                    *([_ratio(a.to_own)] if own else []),
                ],
            )
            for a in s.arms
        ]
        if s.aa is not None:
            rows.append(Row(f"{AA}: {s.aa_arm} twice", [None, _ratio(s.aa), None] + [None] * own))
        floor = "no A/A arm" if s.aa is None else f"A/A {s.aa.text()}"
        state = " — DISTURBED: the A/A interval excludes 1" if s.disturbed else ""
        tables.append(
            TableModel(
                "blocks",
                f"Block {s.block} · {s.machine} · {s.filters} filters ({length_title(s.length)})"
                f"{state}",
                "Runs of this block only, arms interleaved round by round. Seconds: median "
                "[95% interval of the centre]; ratios: paired by round, the geometric mean "
                "with its 95% t interval (sees ±N%: the smallest change these rounds find "
                f"four times in five). Noise floor: {floor}.",
                ["seconds", "× fastest", "× native", *(["× own arm"] if own else [])],
                rows,
                corner="arm",
            )
        )
    return tables


def cold_lines(data: pd.DataFrame) -> list[str]:
    """Each block's cold starts: process start to first finished epoch, and the whole run."""
    cold = data[data["block"].notna() & data["cold"]]
    lines = []
    for block, runs in cold.groupby("block"):
        parts = [
            f"{row.arm} {seconds_text(row.to_first_epoch_s)} s to the first epoch, "
            f"{seconds_text(row.runtime_s)} s the run"
            for row in runs.sort_values("arm").itertuples()
        ]
        lines.append(f"Cold starts, block {block}: " + "; ".join(parts))
    return lines


def summary_lines(paths: Sequence[str], block: str, detect: float | None = None) -> list[str]:
    """What `cnnbench block` prints at its end: its block's tables, as text."""
    from cnnbench.report.frame import frame
    from cnnbench.report.read import load

    data = frame(load(paths).runs)
    data = data[data["block"] == block]
    lines = []
    for s in summaries(data):
        lines.append(f"block {s.block}, {s.filters} filters ({length_title(s.length)}):")
        for a in s.arms:
            vs = "fastest" if a.to_fastest is None else f"{a.to_fastest.text()} the fastest"
            native = f", {a.to_native.text()} native" if a.to_native else ""
            own = f", {a.to_own.text()} {a.own}" if a.to_own else ""
            lines.append(
                f"  {a.arm}: {a.spread.text()} s (n={a.spread.rounds}); {vs}{native}{own}"
            )
        if s.aa is not None:
            state = " DISTURBED" if s.disturbed else ""
            lines.append(f"  noise floor (A/A): {s.aa.text()}{state}")
            if detect is not None and s.aa.spread:
                need = stats.rounds_for(detect, s.aa.spread)
                lines.append(
                    f"  a {detect * 100:g}% change needs {need or 'more than 1000'} rounds "
                    "at this A/A spread"
                )
    return lines + cold_lines(data)


def _short(ratio: stats.Ratio | None) -> str:
    if ratio is None:
        return "—"
    if ratio.known and ratio.holds(1.0):
        return ratio.verdict()
    return ratio.text()


def verdict_lines(data: pd.DataFrame, versions: bool = True) -> list[str]:
    """The verdict from blocks alone, per block and full-length width: a line with the
    fastest arm and the other natives against it, then each backend's fastest Keras `fit`
    over its native, then another Keras (unless not `versions`) or commit over the block's
    own; every ratio with its interval, the A/A floor in the head."""
    from cnnbench.experiment import FULL_LENGTH

    lines = []
    for s in summaries(data):
        if s.length != tuple(FULL_LENGTH):
            continue
        by_arm = {a.arm: a for a in s.arms}
        rounds = max(a.spread.rounds for a in s.arms)
        if min(a.spread.rounds for a in s.arms) < stats.MIN_ROUNDS:  # its table only, yet
            continue
        floor = "no A/A arm"
        if s.aa is not None and s.aa.known:  # the noise floor: how far the A/A pair reached
            floor = f"A/A {s.aa.text()}, DISTURBED" if s.disturbed else f"A/A ±{s.aa.half_pct:.0f}%"
        kind = "GPU" if data.loc[data["block"] == s.block, "kind"].iloc[0] == "gpu" else "CPU"
        fastest = by_arm[s.fastest]
        natives = [
            a for a in s.arms if a.path == "native" and a.arm != s.fastest and a.own is None
        ]
        others = "".join(
            f"; {a.backend} native {_short(a.to_fastest)}" for a in natives
        )
        lines.append(
            f"- **{kind}, {s.filters} filters** (one block: {s.machine}, {rounds} rounds, "
            f"{floor}): fastest {s.fastest.replace(':', ' ')}, {fastest.spread.median:.1f} s"
            f"{others}."
        )
        best = {}
        for a in s.arms:  # the arms are in median order: the first fit of a backend is best
            if a.path in ("keras default", "keras tuned") and plain(a.arm) == a.arm:
                best.setdefault(a.backend, a)
        parts = []
        if best:
            parts.append(
                "Keras `fit` at its best over native: "
                + ", ".join(f"{b} {_short(a.to_native)}" for b, a in sorted(best.items()))
            )
        for mark, what in (("@", "Keras {} `fit`"), ("#", "commit {}"))[0 if versions else 1 :]:
            mine = [a for a in s.arms if a.own and mark in a.arm]
            for version in sorted({a.arm.split(mark)[1].split("#")[0] for a in mine}):
                same = [a for a in mine if a.arm.split(mark)[1].split("#")[0] == version]
                parts.append(
                    f"{what.format(version)} over the block's own: "
                    + ", ".join(f"{a.backend} {_short(a.to_own)}" for a in same)
                )
        lines += [f"  - {part}." for part in parts]
    return lines


def _share_text(values: list[float]) -> str:
    """A share's mean over the rounds, with its 95% t interval (percentage points)."""
    mean, low, high = stats.mean_interval(values)
    return f"{mean:.0f}%" if low is None else f"{mean:.0f}% [{low:.0f}, {high:.0f}]"


def decomposition_lines(data: pd.DataFrame) -> list[str]:
    """Where Keras's cost lives, from blocks alone: per backend, Keras default over native
    paired by round, and each round's split of that cost into what `fit`'s settings save
    (default -> tuned), what the trainer costs (tuned -> the Keras loop) and what the
    layers cost (the loop -> native), as a mean share with its interval over the rounds."""
    lines = []
    warm = data[data["block"].notna() & ~data["cold"] & (data["twin"] == 0)]
    warm = warm[warm["arm"].map(plain) == warm["arm"]]  # this environment's Keras and code
    for (block, filters, backend), runs in warm.groupby(["block", "filters", "backend"]):
        times = runs.pivot_table(index="seed", columns="path", values="runtime_s")
        if not {"keras default", "keras loop", "native"} <= set(times.columns):
            continue
        times = times.dropna(subset=["keras default", "keras loop", "native"])
        tuned = times["keras tuned"] if "keras tuned" in times else times["keras default"]
        tuned = tuned.fillna(times["keras default"])
        cost = times["keras default"] - times["native"]
        keep = cost > 0
        if not keep.any():
            continue
        steps = {
            "settings": (times["keras default"] - tuned)[keep] / cost[keep] * 100,
            "trainer": (tuned - times["keras loop"])[keep] / cost[keep] * 100,
            "layers": (times["keras loop"] - times["native"])[keep] / cost[keep] * 100,
        }
        ratio = stats.paired(times["keras default"].tolist(), times["native"].tolist())
        split = ", ".join(f"{name} {_share_text(v.tolist())}" for name, v in steps.items())
        lines.append(
            f"- {backend}, {filters} filters (block {block}, {int(keep.sum())} rounds): Keras "
            f"default {_short(ratio)} native; of that cost {split}."
        )
    return lines
