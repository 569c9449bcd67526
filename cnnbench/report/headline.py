"""The README's headline table, rendered from the results; generated blocks in documents."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandas as pd

from cnnbench.experiment import (
    FULL_LENGTH,
    LEARNING_RATE,
    REFERENCE_2017,
    VAL_ACCURACY_2017,
    reference_label,
)
from cnnbench.files import write_atomic
from cnnbench.report.decompose import decomposition, where_it_lives
from cnnbench.report.fields import ReportError
from cnnbench.report.frame import LENGTH_KEYS, ROW_KEYS, by, overhead
from cnnbench.report.grid import MISSING, length_title, markdown, pivot
from cnnbench.report.versions import versions


class Summary(NamedTuple):
    seconds: float
    accuracy: float
    rounds: int
    kind: str


def headline_markdown(data: pd.DataFrame, figure: str | None) -> str:
    """Full-length runtimes beside the 2017 ones: one row per backend, device and path, one
    column per width. No cell is marked fastest: the rows were timed in separate sessions,
    and ranking them is the blocks' job (`verdict_markdown`)."""
    sweep = data[data["full_length"] & (data["learning_rate"] == LEARNING_RATE)]
    if sweep.empty:
        return "No full-length runs yet."
    counts = sweep.groupby([*ROW_KEYS, "filters"]).size()
    usual = int(counts.mode().max())  # the rounds most cells have
    lines = [
        f"Full training, {length_title(tuple(FULL_LENGTH))}, lr {LEARNING_RATE}: median "
        f"seconds over the rounds (most cells {usual}; † fewer) and validation accuracy. Each "
        "backend's rows come from its own sessions: per-session figures, not a ranking (a "
        "shared machine drifts ×0.77 to ×1.40 between sessions; the verdict's blocks rank)."
    ]

    def render(runs: pd.DataFrame) -> Summary:
        seconds, accuracy = runs["runtime_s"].median(), runs["val_accuracy"].median()
        return Summary(seconds, accuracy, len(runs), runs["kind"].iloc[0])

    values, rows = pivot(sweep, "filters", render)
    lines += ["", "| Backend · device · path | " + " | ".join(map(str, values)) + " |"]
    lines.append("|---|" + "---:|" * len(values))
    for row in rows:
        cells = []
        for cell in row.cells:
            if cell is None:
                cells.append(MISSING)
                continue
            mark = "†" if cell.rounds < usual else ""
            cells.append(f"{cell.seconds:.1f}{mark} ({cell.accuracy:.3f})")
        lines.append(f"| {markdown(row.label)} | " + " | ".join(cells) + " |")
    for kind in ("cpu", "gpu"):
        refs = [REFERENCE_2017.get(f) for f in values]
        times = [r.seconds(kind) if r else None for r in refs]
        texts = [MISSING if t is None else f"{t:.2f}" for t in times]
        lines.append(f"| {reference_label(kind)} | " + " | ".join(texts) + " |")
    if figure:
        lines += ["", f"![runtime vs filters]({figure})"]
    return "\n".join(lines)


def verdict_markdown(data: pd.DataFrame, blocks: pd.DataFrame | None = None) -> str:
    """A few lines: first each block's of several backends (`report.blocks.verdict_lines`:
    ratios with their intervals, from runs timed side by side) and each Keras history's
    largest steps (`report.history.history_lines`, in place of the blocks' single-version
    lines), then per device and precision of the per-session sweeps, what is fastest and
    what Keras costs."""
    from cnnbench.report.blocks import verdict_lines
    from cnnbench.report.history import history_blocks, history_lines

    sweep = data[data["full_length"] & (data["learning_rate"] == LEARNING_RATE)]
    found = []
    if blocks is not None and not blocks.empty:  # a history has its line; its versions say more
        histories = history_lines(blocks)
        others = blocks[~blocks["block"].isin(history_blocks(blocks))]
        # a block of one backend decides a setting or a commit: its table and docs say it
        backends = others.groupby("block")["backend"].nunique()
        others = others[others["block"].isin(backends[backends > 1].index)]
        found = [*verdict_lines(others, versions=not histories), *histories]
    if found:  # ratios from blocks; the sweeps' seconds are never ranked across sessions
        return "\n".join([*found, *accuracy_lines(sweep)])
    if sweep.empty:
        return "\n".join(["No full-length runs yet.", *versions_lines(data)])
    lines = []
    several = sweep.groupby(["kind", "machine"])["keras"].nunique().max() > 1
    for (kind, machine, precision, keras), part in by(
        sweep, ["kind", "machine", "precision", "keras"]
    ):
        medians = part.groupby(["backend", "path", "filters"])["runtime_s"].median()
        best = medians.groupby("filters").idxmin()
        fastest = {(b, p) for b, p, _ in best}
        widths = sorted(best.index)
        version = f", keras {markdown(keras)}" if several else ""  # versions never pool
        device = "CPU" if kind == "cpu" else "GPU"
        where = f"**{device}** ({markdown(machine)}, {precision}{version})"
        span = f"{widths[0]}–{widths[-1]} filters" if len(widths) > 1 else f"{widths[0]} filters"
        if medians.droplevel("filters").index.nunique() == 1:  # one row: nothing to beat
            (backend, path) = fastest.pop()
            times = [medians[(backend, path, f)] for f in widths]
            text = (
                f"{where}: only {backend} {path} was timed "
                f"({' / '.join(map(str, widths))} filters: "
                f"{' / '.join(f'{t:.1f}' for t in times)} s)"
            )
        elif len(fastest) == 1:
            (backend, path) = fastest.pop()
            times = [medians[(backend, path, f)] for f in widths]
            seconds = f"{min(times):.1f}" + (f"–{max(times):.1f}" if len(times) > 1 else "")
            text = f"{where}: {backend} {path} is fastest at every width run ({span}: {seconds} s)"
        else:
            each = [f"{f}: {b} {p} {medians[(b, p, f)]:.1f} s" for (b, p, f) in best]
            text = f"{where}: fastest by width: " + "; ".join(each)
        ratios = overhead(part)
        ratios = ratios[ratios["path"] != "keras loop"]  # fit's cost; the loop's is below
        costs = [
            f"{backend} {g['ratio'].min():.1f}–{g['ratio'].max():.1f}×"
            for (backend,), g in by(ratios, ["backend"])
        ]
        if costs:
            text += "; Keras over native: " + ", ".join(costs)
        lives = []
        for (backend,), g in by(decomposition(part).dropna(subset=["trainer"]), ["backend"]):
            apart = "" if g["together"].all() else "; its paths timed in separate sweeps"
            lives.append(
                f"{backend}: {where_it_lives(g)} (median: trainer {g['trainer'].median():.0f}%, "
                f"layers {g['layers'].median():.0f}%{apart})"
            )
        if lives:
            text += "; where that cost lives: " + ", ".join(lives)
        if timed_apart(part):
            text += (
                "; the backends were timed in separate sweeps, and a shared machine drifts"
                " 10-50% between sessions, so across backends the distance to the limit"
                " (summary.md) says more than the seconds"
            )
        lines.append(f"- {text}.")
    cells = sweep.groupby([*ROW_KEYS, "filters"])["val_accuracy"].median()
    lines.append(
        f"- Accuracy: every full-length run at lr {LEARNING_RATE:g} ended at validation "
        f"accuracy {sweep['val_accuracy'].min():.3f} or better; cell medians "
        f"{cells.min():.3f}–{cells.max():.3f} "
        f"(2017: {VAL_ACCURACY_2017[0]:.3f}–{VAL_ACCURACY_2017[1]:.3f})."
    )
    lines += versions_lines(data)
    return "\n".join(lines)


def accuracy_lines(sweep: pd.DataFrame) -> list[str]:
    """Beside the blocks' lines: the accuracy every full-length run reached. (What the
    per-session sweeps hold is said above their table, ranked nowhere.)"""
    if sweep.empty:
        return []
    cells = sweep.groupby([*ROW_KEYS, "filters"])["val_accuracy"].median()
    return [
        f"- Accuracy: every full-length run at lr {LEARNING_RATE:g} ended at validation "
        f"accuracy {sweep['val_accuracy'].min():.3f} or better; cell medians "
        f"{cells.min():.3f}–{cells.max():.3f} "
        f"(2017: {VAL_ACCURACY_2017[0]:.3f}–{VAL_ACCURACY_2017[1]:.3f}).",
    ]


def versions_lines(data: pd.DataFrame) -> list[str]:
    """What a newer Keras changes, one line per device and pair of versions: each path's
    newer median over the older's, per backend, at the longest length both ran."""
    at_lr = data[data["learning_rate"] == LEARNING_RATE]
    ratios = versions(at_lr)
    lines = []
    pairs = ["kind", "machine", "precision", "base_keras", "keras"]
    for (kind, machine, precision, base, keras), part in by(ratios, pairs):
        length = max(tuple(row) for row in part[list(LENGTH_KEYS)].itertuples(index=False))
        part = part[_of_length(part, length)]
        each = [
            f"{backend} {path} {span(g['ratio'])}× "
            f"({' / '.join(str(f) for f in sorted(g['filters']))} filters)"
            for (backend, path), g in by(part, ["backend", "path"])
        ]
        runs = at_lr[
            (at_lr["kind"] == kind)
            & (at_lr["machine"] == machine)
            & (at_lr["precision"] == precision)
            & _of_length(at_lr, length)
        ]
        apart = "" if interleaved(runs, base, keras) else "; timed apart, not side by side"
        device = "CPU" if kind == "cpu" else "GPU"
        lines.append(
            f"- **Keras {markdown(keras)} against {markdown(base)}** ({device}, "
            f"{markdown(machine)}, {precision}, {length_title(length)}{apart}): the newer's "
            f"median runtime over the older's, below 1 faster: {'; '.join(each)}."
        )
    return lines


def _of_length(runs: pd.DataFrame, length: tuple) -> pd.Series:
    return (runs[list(LENGTH_KEYS)] == pd.Series(length, index=list(LENGTH_KEYS))).all(axis=1)


def span(values: pd.Series) -> str:
    """`0.91–1.02`, or one number where both ends read the same."""
    low, high = f"{values.min():.2f}", f"{values.max():.2f}"
    return low if low == high else f"{low}–{high}"


def interleaved(runs: pd.DataFrame, a: str, b: str) -> bool:
    """Whether the runs of Keras `a` and of Keras `b` were timed over overlapping spans of
    time (one session, rounds interleaved): the only way their ratio escapes a shared
    machine's drift between sessions. Runs without a date are not."""
    spans = []
    for version in (a, b):
        when = runs.loc[runs["keras"] == version, "date"]
        dates = pd.to_datetime(when, errors="coerce", utc=True)
        if dates.empty or dates.isna().any():
            return False
        spans.append((dates.min(), dates.max()))
    return max(s[0] for s in spans) <= min(s[1] for s in spans)


def timed_apart(runs: pd.DataFrame, column: str = "backend") -> bool:
    """Whether two of these runs' backends (or paths, ...) share no sweep (`frame`'s
    `sweep`: the plan they were timed in, else their file): their seconds were not
    measured side by side."""
    groups = [set(s) for _, s in runs["sweep"].groupby(runs[column])]
    return any(not a & b for i, a in enumerate(groups) for b in groups[i + 1 :])


def block(path: Path, name: str, optional: bool = False) -> tuple[str, int, int] | None:
    """(the document, where the `<!-- cnnbench:NAME:start -->` marker ends, where its end
    marker starts); None for an `optional` block the document lacks. ReportError for a
    document that cannot be read or whose markers are missing, repeated or reversed:
    checked before the report writes anything."""
    start_mark, end_mark = f"<!-- cnnbench:{name}:start -->", f"<!-- cnnbench:{name}:end -->"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        what = getattr(err, "strerror", None) or "not UTF-8 text"
        raise ReportError(f"{path}: cannot read ({what})") from None
    counts = text.count(start_mark), text.count(end_mark)
    if counts == (0, 0) and optional:
        return None
    start, end = text.find(start_mark), text.find(end_mark)
    if counts != (1, 1) or end < start:
        raise ReportError(f"{path}: needs one {start_mark} ... {end_mark} block, in that order")
    return text, start + len(start_mark), end


def update_block(path: Path, text: str, name: str = "headline", optional: bool = False) -> None:
    """Replace the text between `path`'s `<!-- cnnbench:NAME:start/end -->` markers
    (`optional`: a file without them is left alone)."""
    found = block(path, name, optional)
    if found is not None:
        old, start, end = found
        write_atomic(path, old[:start] + "\n" + text + "\n" + old[end:])
