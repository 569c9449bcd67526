"""Keras against Keras: where a row's runs hold more than one Keras version, each newer
version's median runtime over the oldest's, as a frame and as the `versions` table.

Versions are ordered by PEP 440 (3.9 before 3.15, 3.16.0.dev after 3.15.1). A ratio means
something only where both versions were timed in one session (`headline.interleaved`).
"""

from __future__ import annotations

import pandas as pd
from packaging.version import InvalidVersion, Version

from cnnbench.report.frame import LENGTH_KEYS, ROW_KEYS
from cnnbench.report.grid import Cell, TableModel, length_title, pivot, seconds_text


def _version(text: str):
    try:
        return Version(text)
    except InvalidVersion:
        return None


def versions(data: pd.DataFrame) -> pd.DataFrame:
    """Keras against Keras: where a row's runs hold more than one Keras version, each newer
    version's median runtime over the oldest's (same backend, device, path, precision,
    length, learning rate and width); 0.80 is the newer Keras 20% faster."""
    same = [k for k in ROW_KEYS if k != "keras"] + [*LENGTH_KEYS, "learning_rate", "filters"]
    rows = []
    for key, cell in data.groupby(same):
        medians = cell.groupby("keras")["runtime_s"].agg(["median", "size"])
        ordered = sorted((v, k) for k in medians.index if (v := _version(k)) is not None)
        if len(ordered) < 2:
            continue
        base = ordered[0][1]
        for _, keras in ordered[1:]:
            rows.append(
                {
                    **dict(zip(same, key, strict=True)),
                    "keras": keras,
                    "base_keras": base,
                    "ratio": medians.at[keras, "median"] / medians.at[base, "median"],
                    "seconds": medians.at[keras, "median"],
                    "base_seconds": medians.at[base, "median"],
                    "rounds": int(medians.at[keras, "size"]),
                    "base_rounds": int(medians.at[base, "size"]),
                }
            )
    columns = [*same, "keras", "base_keras", "ratio", "seconds", "base_seconds"]
    return pd.DataFrame(rows, columns=[*columns, "rounds", "base_rounds"])


def versions_table(data: pd.DataFrame, length) -> TableModel | None:
    """A newer Keras against the oldest in the runs, where a row ran both."""
    ratios = versions(data)
    if ratios.empty:
        return None

    def render(cell: pd.DataFrame) -> Cell:
        c = cell.iloc[0]
        short = f"{c['ratio']:.2f}×"
        long = (
            f"{c['ratio']:.2f}× ({seconds_text(c['seconds'])} s vs "
            f"{seconds_text(c['base_seconds'])} s, n={c['rounds']}/{c['base_rounds']})"
        )
        return Cell(short, long)

    named = ratios.assign(path=ratios["path"] + " · keras " + ratios["keras"])  # always said
    values, rows = pivot(named, "filters", render)
    bases = ", ".join(sorted(set(ratios["base_keras"])))
    return TableModel(
        "versions",
        f"Keras against Keras ({length_title(length)})",
        f"Median runtime of each row's Keras over Keras {bases}'s on the same backend, "
        "device, path and precision; below 1.00× the row's Keras is faster. A ratio means "
        "something only where both were timed in one session (the verdict says when they "
        "were not). Markdown: (row's median vs the older's, rounds row/older).",
        [f"{v:g}" for v in values],
        rows,
    )
