"""Keras releases side by side: per backend and path, each Keras version's time over the
block's own Keras (the same arm in this environment), paired round by round, and each
step from one release to the next with its interval, from blocks alone.

    steps = history(blocks)                  # one Point per (block, width, backend, path, version)
    history_markdown(blocks)                 # the table
    draw_history(blocks, out)                # keras_history.png
    history_lines(blocks)                    # the verdict's line: each backend's largest step

A step (release to release) is marked where its own paired interval excludes 1: the two
releases' arms timed in the same rounds, so the step is measured, not the difference of
two ratios. Nothing pools two blocks, two widths or two versions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from packaging.version import InvalidVersion, Version

from cnnbench import stats
from cnnbench.report.blocks import pair, plain, summaries


@dataclass(frozen=True)
class Point:
    block: str
    filters: int
    backend: str
    path: str
    version: str  # the Keras release of this arm
    own: str  # the block's own Keras (ratio 1 by definition)
    to_own: stats.Ratio | None  # None for the block's own Keras
    step: stats.Ratio | None  # over the previous release in the block; None for the first
    before: str | None = None  # that previous release
    seconds: float | None = None  # the release's median time in the block


def _version(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        return Version("0")


def history(data: pd.DataFrame) -> list[Point]:
    """Every version arm of every block and width, releases in order per backend and path
    (the block's own Keras among them)."""
    points = []
    for s in summaries(data):
        runs = data[(data["block"] == s.block) & (data["filters"] == s.filters)]
        warm = runs[~runs["cold"] & (runs["twin"] == 0)]
        for a in s.arms:
            if plain(a.arm) != a.arm or a.arm not in set(warm["arm"]):
                continue
            same = [b for b in s.arms if b.own == a.arm and "@" in b.arm and "#" not in b.arm]
            if not same:
                continue
            own = warm.loc[warm["arm"] == a.arm, "keras"].iloc[0]
            arms = {own: a.arm, **{b.arm.split("@")[1]: b.arm for b in same}}
            ordered = sorted(arms, key=_version)
            for i, version in enumerate(ordered):
                mine = warm[warm["arm"] == arms[version]]
                before = warm[warm["arm"] == arms[ordered[i - 1]]] if i else None
                points.append(
                    Point(
                        s.block, s.filters, a.backend, a.path, version, own,
                        None if version == own else pair(mine, warm[warm["arm"] == a.arm]),
                        None if before is None else pair(mine, before),
                        ordered[i - 1] if i else None, float(mine["runtime_s"].median()),
                    )
                )  # fmt: skip
    return points


def _beyond(step: stats.Ratio | None) -> bool:
    return step is not None and step.known and not step.holds(1.0)


def _lines(data: pd.DataFrame) -> dict[tuple, list[Point]]:
    """Each history: the points of one arm in one block and width, where the block times
    that arm at two or more other releases (one other is a comparison, not a history)."""
    lines: dict[tuple, list[Point]] = {}
    for p in history(data):
        lines.setdefault((p.block, p.filters, p.backend, p.path), []).append(p)
    return {key: points for key, points in lines.items() if len(points) >= 3}


def history_blocks(data: pd.DataFrame) -> set[str]:
    """The blocks that hold a history (the verdict gives them one line of their own)."""
    return {block for block, *_ in _lines(data)}


def _named(version: str) -> str:
    """A release as the verdict's one line says it: a nightly by that name (the table has
    its full version)."""
    return "nightly" if _version(version).is_devrelease else version


def history_lines(data: pd.DataFrame) -> list[str]:
    """The verdict's line per device and width: for each backend (and path) its largest
    step from one release to the next among the steps beyond their intervals, or how
    widely its steps held 1 where none is."""
    groups: dict[tuple, list[str]] = {}
    rounds: dict[tuple, int] = {}
    for (block, filters, backend, path), points in sorted(_lines(data).items()):
        if not data.loc[data["block"] == block, "full_length"].all():
            continue  # a shortened block: its table only, as the verdict's blocks
        kind = data.loc[data["block"] == block, "kind"].iloc[0].upper()
        steps = [p for p in points if p.step is not None and p.step.known]
        name = backend if path == "keras default" else f"{backend} {path}"
        beyond = [p for p in steps if _beyond(p.step)]
        if beyond:
            big = max(beyond, key=lambda p: abs(math.log(p.step.value)))
            text = f"{name} {_named(big.before)} → {_named(big.version)} {big.step.text()}"
        elif steps:
            widest = max(p.step.half_pct for p in steps)
            text = f"{name} no step beyond its interval, ±{widest:.0f}%"
        else:
            continue
        groups.setdefault((kind, filters), []).append(text)
        seen = min(p.step.rounds for p in steps)
        rounds[(kind, filters)] = min(rounds.get((kind, filters), seen), seen)
    return [
        f"- **Keras releases, {kind}, {filters} filters** ({rounds[(kind, filters)]} rounds), "
        "largest step: " + "; ".join(parts) + "."
        for (kind, filters), parts in groups.items()
    ]


def _cell(point: Point) -> str:
    if point.to_own is None:
        return f"1 (the block's own, {point.seconds:.1f} s)"
    text = point.to_own.text()
    marked = _beyond(point.step)
    return f"**{text}**" if marked else text


def _step(point: Point) -> str:
    if point.step is None:
        return "—"
    text = point.step.text()
    return f"**{text}**" if _beyond(point.step) else text


def history_markdown(data: pd.DataFrame) -> str:
    """One table per block and width: a row per backend and path, a column per release;
    each cell the release's time over the block's own Keras, in bold where the step from
    the release before is larger than its interval; under it a row of those steps."""
    points = history(data)
    if not points:
        return "No block times two Keras releases of one arm yet."
    out = []
    for (block, filters), group in pd.DataFrame([p.__dict__ for p in points]).groupby(
        ["block", "filters"], sort=False
    ):
        versions = sorted(set(group["version"]), key=_version)
        out += [f"Block {block}, {filters} filters: time over the block's own Keras "
                "(bold: a step from the release before, beyond its interval)", "",
                "| backend · path | " + " | ".join(versions) + " |",
                "|---|" + "---:|" * len(versions)]  # fmt: skip
        for (backend, path), _ in group.groupby(["backend", "path"], sort=True):
            by_version = {p.version: p for p in points if p.block == block and
                          p.filters == filters and p.backend == backend and p.path == path}
            cells = [_cell(by_version[v]) if v in by_version else "—" for v in versions]
            out.append(f"| {backend} · {path} | " + " | ".join(cells) + " |")
            steps = [_step(by_version[v]) if v in by_version else "—" for v in versions]
            out.append("| ↳ step from the release before | " + " | ".join(steps) + " |")
        out.append("")
    return "\n".join(out).rstrip()


def drawn(data: pd.DataFrame) -> list[Point]:
    """The points keras_history.png draws: the histories where there are any, else every
    comparison of two releases; a point only where its ratio is known."""
    lines = _lines(data)
    found = [p for ps in lines.values() for p in ps] if lines else history(data)
    return [p for p in found if p.to_own is None or p.to_own.known]


def draw_history(data: pd.DataFrame, out: Path) -> Path | None:
    """keras_history.png: per backend, each release's time over the block's own Keras with
    its 95% interval, a marker where the step from the release before exceeds its interval.
    Where a block holds a history (three releases or more), only histories are drawn: a
    lone comparison of two releases from another block would be a second line per backend."""
    points = drawn(data)
    if not points:
        return None
    from cnnbench.report.figures import BACKEND_COLORS, plt, save

    fig, ax = plt.subplots(figsize=(7, 4))
    versions = sorted({p.version for p in points}, key=_version)
    x = {v: i for i, v in enumerate(versions)}
    for (backend, path, block, filters) in sorted({(p.backend, p.path, p.block, p.filters)
                                                  for p in points}):  # fmt: skip
        line = [p for p in points if (p.backend, p.path, p.block, p.filters) ==
                (backend, path, block, filters)]  # fmt: skip
        xs = [x[p.version] for p in line]
        ys = [1.0 if p.to_own is None else p.to_own.value for p in line]
        low = [0 if p.to_own is None else p.to_own.value - p.to_own.low for p in line]
        high = [0 if p.to_own is None else p.to_own.high - p.to_own.value for p in line]
        color = BACKEND_COLORS.get(backend)
        ax.errorbar(xs, ys, yerr=[low, high], color=color, marker="o", capsize=3,
                    label=f"{backend} {path}, {filters} filters")  # fmt: skip
        steps = [(x[p.version], y) for p, y in zip(line, ys, strict=True) if _beyond(p.step)]
        if steps:
            ax.scatter(*zip(*steps, strict=True), s=140, facecolors="none", edgecolors=color)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(versions)), versions, rotation=30, ha="right")
    ax.set_ylabel("time over the block's own Keras")
    ax.set_title(
        "Keras releases side by side (a block per line; circled: a step beyond its interval)"
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, out / "keras_history.png")
