"""The report's figures, redrawn from results with matplotlib (PNG, no display needed).

- `runtime_vs_filters*.png`: full-training runtime against filter count, log scales, one
  panel per kind of device with the 2017 runtimes of that kind (its Figure 9);
- `learning_curves*.png`: one panel per learning rate, training and validation error
  per epoch (its Figures 1-4);
- `throughput_vs_filters*.png`: steady-state images/s and achieved GFLOP/s.

A suffix names the configuration when it is not the report's (10 epochs, 55000 images).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from cnnbench.report import REFERENCE_2017, REPORT_CONFIG, Cell, Column, Run  # noqa: E402

Grid = dict[tuple, dict[Column, Cell]]


def _suffix(config: tuple[int, int, int]) -> str:
    epochs, samples, batch = config
    return "" if config == REPORT_CONFIG else f"-{epochs}ep-{samples}img-b{batch}"


def _save(fig, path: Path, layout: bool = True) -> Path:
    if layout:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _series(grid: Grid, config, learning_rate=0.1) -> dict[Column, list[tuple[int, Cell]]]:
    series: dict[Column, list[tuple[int, Cell]]] = {}
    for (cfg, filters, lr), by_col in sorted(grid.items()):
        if cfg == config and lr == learning_rate:
            for column, cell in by_col.items():
                series.setdefault(column, []).append((filters, cell))
    return dict(sorted(series.items(), key=lambda item: item[0].label))


# One look per line, the same in every figure: colour = backend, line = path, marker = device.
BACKEND_COLORS = {"tensorflow": "tab:orange", "torch": "tab:red", "jax": "tab:blue"}
PATH_LINES = {("keras", "default"): "-", ("keras", "tuned"): "--", ("native", None): ":"}
# Learning curves: (history key, line, marker, label) for the training and validation error.
CURVES = (("accuracy", "--", "x", "train"), ("val_accuracy", "-", "o", "validation"))


def _style(column: Column) -> dict:
    return {
        "color": BACKEND_COLORS.get(column.backend, "tab:gray"),
        "linestyle": PATH_LINES.get((column.impl, column.profile), "-."),
        "marker": "o" if column.kind == "cpu" else "s",
    }


def _path_label(column: Column) -> str:
    how = column.impl if column.profile is None else f"{column.impl} {column.profile}"
    return f"{column.backend} · {how}"


def runtime_vs_filters(grid: Grid, config, out: Path) -> Path | None:
    """One panel per kind of device (CPU, GPU), each with the 2017 runtimes of that kind."""
    series = _series(grid, config)
    if not series:
        return None
    kinds = [k for k in ("cpu", "gpu") if any(c.kind == k for c in series)]
    fig, axes = plt.subplots(
        1, len(kinds), figsize=(6.5 * len(kinds), 6.2), squeeze=False, sharey=True
    )
    for ax, kind in zip(axes[0], kinds, strict=True):
        devices = sorted({c.device for c in series if c.kind == kind})
        for column, points in series.items():
            if column.kind != kind:
                continue
            label = _path_label(column) + (f" · {column.device}" if len(devices) > 1 else "")
            ax.plot(
                [f for f, _ in points],
                [c.median("runtime_s") for _, c in points],
                label=label,
                **_style(column),
            )
        ref = [
            (f, getattr(r, f"{kind}_s"))
            for f, r in REFERENCE_2017.items()
            if getattr(r, f"{kind}_s") is not None
        ]
        ax.plot(
            [f for f, _ in ref],
            [s for _, s in ref],
            color="black",
            linestyle="-",
            linewidth=2.5,
            alpha=0.35,
            marker="D",
            label=f"2017 report, laptop {kind.upper()} (TF 1.x)",
        )
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="filters per conv layer",
            title=f"{kind.upper()}: {', '.join(devices)}" if kind == "gpu" else "CPU",
        )
        ax.set_xticks(sorted(REFERENCE_2017), labels=[str(f) for f in sorted(REFERENCE_2017)])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    axes[0][0].set_ylabel("full training runtime (s)")
    epochs, samples, batch = config
    fig.suptitle(
        f"Runtime vs filters: {epochs} epochs × {samples} images, batch {batch} "
        "(colour: backend; line: solid Keras default, dashed Keras tuned, dotted native)",
        fontsize=10,
    )
    return _save(fig, out / f"runtime_vs_filters{_suffix(config)}.png")


def learning_curves(grid: Grid, config, out: Path) -> Path | None:
    """Experiment 1: one panel per learning rate, for the setups swept over the rates."""
    rates = sorted(
        {lr for (cfg, filters, lr) in grid if cfg == config and filters == 16}, reverse=True
    )
    if len(rates) < 2:
        return None
    # Only what was run at more than one rate: the 0.1 panel would otherwise also hold
    # every filter-sweep variant that happens to share the 16-filter, lr 0.1 point.
    seen = Counter(column for lr in rates for column in grid[(config, 16, lr)])
    columns = sorted((c for c, n in seen.items() if n > 1), key=lambda c: c.label)
    if not columns:
        return None
    fig, axes = plt.subplots(
        1, len(rates), figsize=(4 * len(rates), 4.8), sharey=True, squeeze=False
    )
    for ax, lr in zip(axes[0], rates, strict=True):
        for column in columns:
            cell = grid[(config, 16, lr)].get(column)
            if cell is None:
                continue
            history = cell.runs[0]["history"]
            epochs = range(1, len(history["loss"]) + 1)
            color = BACKEND_COLORS.get(column.backend, "tab:gray")
            for key, line, marker, split in CURVES:
                ax.plot(
                    epochs,
                    [1 - a for a in history[key]],
                    line,
                    color=color,
                    marker=marker,
                    markersize=4,
                    label=f"{column.label}, {split}",
                )
        ax.set(title=f"learning rate {lr:g}", xlabel="epoch", yscale="log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("error (1 − accuracy)")
    handles = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(
        list(handles.values()),
        list(handles),
        fontsize=8,
        loc="lower center",
        ncol=min(len(handles), 3),
        bbox_to_anchor=(0.5, 0.0),
    )
    fig.tight_layout(rect=(0, 0.06 + 0.035 * math.ceil(len(handles) / 3), 1, 1))
    return _save(fig, out / f"learning_curves{_suffix(config)}.png", layout=False)


def throughput_vs_filters(grid: Grid, config, out: Path) -> Path | None:
    series = {
        col: [(f, c) for f, c in pts if c.median("samples_per_s")]
        for col, pts in _series(grid, config).items()
    }
    series = {col: pts for col, pts in series.items() if pts}
    if not series:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    for column, points in series.items():
        xs = [f for f, _ in points]
        style = _style(column)
        left.plot(xs, [c.median("samples_per_s") for _, c in points], label=column.label, **style)
        right.plot(xs, [c.gflops for _, c in points], label=column.label, **style)
    left.set(xscale="log", yscale="log", xlabel="filters", ylabel="images / s (steady state)")
    right.set(
        xscale="log", yscale="log", xlabel="filters", ylabel="achieved GFLOP/s (steady state)"
    )
    for ax in (left, right):
        ax.set_xticks(sorted(REFERENCE_2017), labels=[str(f) for f in sorted(REFERENCE_2017)])
        ax.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle("colour: backend; line: Keras default / tuned / native; ○ CPU, □ GPU", fontsize=9)
    return _save(fig, out / f"throughput_vs_filters{_suffix(config)}.png")


def draw_all(runs: list[Run], grid: Grid, out: Path) -> list[Path]:
    """Every figure the results allow, for every configuration found."""
    written = []
    for config in sorted({run.config for run in runs}, reverse=True):
        for draw in (runtime_vs_filters, learning_curves, throughput_vs_filters):
            path = draw(grid, config, out)
            if path is not None:
                written.append(path)
    return written
