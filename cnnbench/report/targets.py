"""The speed targets, checked against the runs: each measured figure rendered, never typed.

A target names the runs it is about (kind of device, backend, path, precision, widths),
a metric over their full-length lr 0.1 medians and a bound. `targets_markdown` is the
table of docs/targets.md; `targets_summary` the README's lines. A target whose runs are
not there says so ("not measured"), never passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from cnnbench import profiles
from cnnbench.experiment import LEARNING_RATE
from cnnbench.report.frame import overhead


@dataclass(frozen=True)
class Target:
    label: str
    kind: str
    metric: str  # "seconds" (runtime <=), "limit %" (share of the limit >=), "× native" (<=)
    bound: float
    backends: tuple[str, ...]
    path: str = "native"  # the path timed (for "× native": the Keras path set against it)
    filters: tuple[int, ...] = ()  # () every width measured
    precision: str = "fp32"


TARGETS = (
    Target("native JAX <= 5 s at 8 filters (tf32)", "gpu", "seconds", 5, ("jax",), "native",
           (8,), "tf32"),
    Target("native JAX <= 11 s at 256 filters (tf32)", "gpu", "seconds", 11, ("jax",), "native",
           (256,), "tf32"),
    Target("native PyTorch <= 8 s at 8 filters", "gpu", "seconds", 8, ("torch",), "native", (8,)),
    Target("Keras tuned <= 10 s on JAX at every width", "gpu", "seconds", 10, ("jax",),
           "keras tuned"),
    Target("Keras tuned <= 60 s on PyTorch at 16 filters", "gpu", "seconds", 60, ("torch",),
           "keras tuned", (16,)),
    Target("native >= 50% of the limit at 64 filters", "cpu", "limit %", 50,
           ("tensorflow", "torch", "jax"), "native", (64,)),
    Target("native >= 30% of the limit at 16 filters", "cpu", "limit %", 30,
           ("tensorflow", "torch", "jax"), "native", (16,)),
    Target("Keras tuned <= 1.5x native", "cpu", "× native", 1.5,
           ("tensorflow", "torch", "jax"), "keras tuned"),
    Target("the Keras loop <= 1.3x native at 16 and 64 filters", "cpu", "× native", 1.3,
           ("tensorflow", "torch", "jax"), "keras loop", (16, 64)),
    Target("the Keras loop on PyTorch < 10 s at 16 filters", "gpu", "seconds", 10,
           ("torch",), "keras loop", (16,)),
    Target("the Keras loop on JAX <= 1.3x native at every width", "gpu", "× native", 1.3,
           ("jax",), "keras loop"),
)  # fmt: skip


@dataclass(frozen=True)
class Check:
    target: Target
    backend: str
    values: dict  # width -> the cell's figure
    note: str = ""  # e.g. Keras tuned is Keras default here
    machine: str | None = None  # None: every machine of the target's kind

    @property
    def measured(self) -> bool:
        return bool(self.values)

    def met(self, value: float) -> bool:
        t = self.target
        return value >= t.bound if t.metric == "limit %" else value <= t.bound

    def verdict(self) -> str:
        if not self.measured:
            return "not measured"
        passed = [f for f, v in self.values.items() if self.met(v)]
        if len(passed) == len(self.values):
            return "met"
        if not passed:
            return "missed"
        return (
            "met at "
            + ", ".join(map(str, passed))
            + ", missed at "
            + ", ".join(str(f) for f in self.values if f not in passed)
        )

    def figures(self) -> str:
        """`12.6 / 17.0 / 22.8 s at 8 / 64 / 256 filters`."""
        unit = {"seconds": " s", "limit %": "%", "× native": "×"}[self.target.metric]
        digits = 2 if unit == "×" else 1
        shown = " / ".join(f"{v:.{digits}f}" for v in self.values.values())
        return f"{shown}{unit} at {' / '.join(map(str, self.values))} filters"


def _full(data: pd.DataFrame) -> pd.DataFrame:
    return data[data["full_length"] & (data["learning_rate"] == LEARNING_RATE)]


def machines(data: pd.DataFrame, kind: str) -> list[str]:
    return sorted(set(_full(data).query("kind == @kind")["machine"]))


def check(target: Target, data: pd.DataFrame, backend: str, machine: str | None = None) -> Check:
    """The target on one machine's runs (two GPUs' medians pooled would be neither's)."""
    runs = _full(data)
    runs = runs[(runs["kind"] == target.kind) & (runs["backend"] == backend)]
    if machine is not None:
        runs = runs[runs["machine"] == machine]
    runs = runs[runs["precision"] == target.precision]
    note = ""
    if target.metric == "× native":
        ratios = overhead(runs)
        path = target.path
        if path == "keras tuned" and path not in set(ratios["path"]):
            if "keras default" in set(ratios["path"]):
                path, note = "keras default", "Keras tuned is Keras default here"
        ratios = ratios[ratios["path"] == path]
        cells = ratios.groupby("filters")["ratio"].median()
    else:
        runs = runs[runs["path"] == target.path]
        if target.metric == "seconds":
            cells = runs.groupby("filters")["runtime_s"].median()
        else:
            cells = 100 / runs.groupby("filters")["x_limit"].median()
    if target.filters:
        cells = cells[cells.index.isin(target.filters)]
    return Check(target, backend, {int(f): float(v) for f, v in cells.items()}, note, machine)


def checks(
    data: pd.DataFrame, machine: str | None = None, targets: Sequence[Target] = TARGETS
) -> list[Check]:
    return [check(t, data, b, machine) for t in targets for b in t.backends]


def targets_markdown(data: pd.DataFrame) -> str:
    """One table per machine: each target of its kind of device, its figures, its verdict."""
    lines = []
    for kind in ("gpu", "cpu"):
        for machine in machines(data, kind) or [None]:
            lines += _table(data, kind, machine)
    return "\n".join(lines).rstrip()


def _table(data: pd.DataFrame, kind: str, machine: str | None) -> list[str]:
    found = [c for c in checks(data, machine) if c.target.kind == kind]
    lines = [
        f"**{kind.upper()}** ({machine or 'none'}), medians of full-length runs:",
        "",
        "| target | backend | measured | verdict |",
        "|---|---|---|---|",
    ]
    for c in found:
        figures = c.figures() if c.measured else "—"
        if c.note:
            figures += f" ({c.note})"
        lines.append(f"| {c.target.label} | {c.backend} | {figures} | {c.verdict()} |")
    return [*lines, ""]


def targets_summary(data: pd.DataFrame) -> str:
    """The README's lines, a target each: per backend its figures and its verdict."""
    lines = []
    for target in TARGETS:
        parts = []
        where = machines(data, target.kind)
        for backend in target.backends:
            found = [c for c in (check(target, data, backend, m) for m in where) if c.measured]
            for c in found or [check(target, data, backend)]:
                on = f" on {c.machine}" if len(where) > 1 and c.measured else ""
                figures = f"{c.figures()}, " if c.measured else ""
                note = f" ({c.note})" if c.note else ""
                parts.append(f"{c.backend}{on} {figures}{c.verdict()}{note}")
        lines.append(f"- {target.kind.upper()}, {target.label}: " + "; ".join(parts) + ".")
    return "\n".join(lines)


def judged(ratio, bound: float) -> str:
    """A ratio target on an interval: met when the whole interval is at most the bound,
    missed when it is wholly above, else undecided at these rounds."""
    if not ratio.known:
        return "met (one round, no interval)" if ratio.value <= bound else "missed (one round)"
    if ratio.high <= bound:
        return "met"
    if ratio.low > bound:
        return "missed"
    return "undecided (the interval holds the bound)"


def block_targets(blocks: pd.DataFrame) -> list[str]:
    """The "× native" targets from blocks alone: each Keras arm's paired ratio to its
    backend's native arm in the same block, with its interval, judged on the interval;
    then the A/A target over every block."""
    from cnnbench.experiment import FULL_LENGTH
    from cnnbench.report.blocks import plain, summaries

    lines = []
    every = summaries(blocks)
    found = [s for s in every if s.length == tuple(FULL_LENGTH)]
    for target in TARGETS:
        if target.metric != "× native":
            continue
        for s in found:
            kind = blocks.loc[blocks["block"] == s.block, "kind"].iloc[0]
            if kind != target.kind or (target.filters and s.filters not in target.filters):
                continue
            parts = []
            for backend in target.backends:
                # this code's arms only: not another Keras's (`@`) or commit's (`#`)
                arms = [a for a in s.arms if a.backend == backend and plain(a.arm) == a.arm]
                path = target.path
                if (path == "keras tuned" and not any(a.path == path for a in arms)
                        and profiles.same_as_default(backend, kind)):
                    path = "keras default"  # tuned is the defaults on this backend
                arm = next((a for a in arms if a.path == path and a.to_native), None)
                if arm is not None:
                    parts.append(
                        f"{backend} {arm.to_native.text()} {judged(arm.to_native, target.bound)}"
                    )
            if parts:
                lines.append(
                    f"- {kind.upper()}, {target.label}, one block ({s.machine}, {s.filters} "
                    f"filters): " + "; ".join(parts) + "."
                )
    return lines + aa_lines(every)


def aa_lines(found) -> list[str]:
    """The A/A target over every block with an A/A pair: its interval holds 1."""
    pairs = [s for s in found if s.aa is not None and s.aa.known]
    if not pairs:
        return []
    disturbed = [s for s in pairs if s.disturbed]
    named = "".join(
        f"; {s.machine}, {s.filters} filters, {s.aa_arm} {s.aa.text()} (DISTURBED, marked so "
        "wherever it is used)"
        for s in disturbed
    )
    verdict = "missed" if disturbed else "met"
    return [f"- A/A interval holds 1 in every block: {len(pairs) - len(disturbed)} of "
            f"{len(pairs)} blocks{named}, {verdict}."]
