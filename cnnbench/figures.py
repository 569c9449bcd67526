"""The report's figures, redrawn from results with matplotlib (PNG, no display needed).

- `runtime_vs_filters*.png`: full-training runtime against filter count, log scales, one
  line per backend x device, the 2017 CPU and GPU runtimes beside them (its Figure 9);
- `learning_curves*.png`: one panel per learning rate, training and validation error
  per epoch (its Figures 1-4);
- `throughput_vs_filters*.png`: steady-state images/s and achieved GFLOP/s.

A suffix names the configuration when it is not the report's (10 epochs, 55000 images).
"""

from __future__ import annotations

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


def _save(fig, path: Path) -> Path:
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


def runtime_vs_filters(grid: Grid, config, out: Path) -> Path | None:
    series = _series(grid, config)
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    for column, points in series.items():
        xs = [f for f, _ in points]
        ax.plot(xs, [c.median("runtime_s") for _, c in points], marker="o", label=column.label)
    for kind, style in (("cpu", "k--"), ("gpu", "k:")):
        ref = [
            (f, getattr(r, f"{kind}_s"))
            for f, r in REFERENCE_2017.items()
            if getattr(r, f"{kind}_s") is not None
        ]
        ax.plot(
            [f for f, _ in ref],
            [s for _, s in ref],
            style,
            marker="s",
            alpha=0.6,
            label=f"2017 report, {kind.upper()} (TF 1.x laptop)",
        )
    epochs, samples, batch = config
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="filters per conv layer",
        ylabel="full training runtime (s)",
        title=f"Runtime vs filters: {epochs} epochs × {samples} images, batch {batch}",
    )
    ax.set_xticks(sorted(REFERENCE_2017), labels=[str(f) for f in sorted(REFERENCE_2017)])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out / f"runtime_vs_filters{_suffix(config)}.png")


def learning_curves(grid: Grid, config, out: Path) -> Path | None:
    rates = sorted(
        {lr for (cfg, filters, lr) in grid if cfg == config and filters == 16}, reverse=True
    )
    if len(rates) < 2:
        return None
    fig, axes = plt.subplots(
        1, len(rates), figsize=(4 * len(rates), 4.6), sharey=True, squeeze=False
    )
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    columns = sorted({c for lr in rates for c in grid[(config, 16, lr)]}, key=lambda c: c.label)
    color = {column: palette[i % len(palette)] for i, column in enumerate(columns)}
    for ax, lr in zip(axes[0], rates, strict=True):
        for column, cell in sorted(grid[(config, 16, lr)].items(), key=lambda kv: kv[0].label):
            history = cell.runs[0]["history"]
            epochs = range(1, len(history["loss"]) + 1)
            ax.plot(
                epochs,
                [1 - a for a in history["accuracy"]],
                "--",
                color=color[column],
                marker="x",
                label=f"{column.label}, train",
            )
            ax.plot(
                epochs,
                [1 - a for a in history["val_accuracy"]],
                "-",
                color=color[column],
                marker="o",
                markersize=3,
                label=f"{column.label}, validation",
            )
        ax.set(title=f"learning rate {lr:g}", xlabel="epoch", yscale="log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("error (1 − accuracy)")
    handles = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    axes[0][0].legend(list(handles.values()), list(handles), fontsize=7)
    return _save(fig, out / f"learning_curves{_suffix(config)}.png")


def throughput_vs_filters(grid: Grid, config, out: Path) -> Path | None:
    series = {
        col: [(f, c) for f, c in pts if c.median("samples_per_s")]
        for col, pts in _series(grid, config).items()
    }
    series = {col: pts for col, pts in series.items() if pts}
    if not series:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    for column, points in series.items():
        xs = [f for f, _ in points]
        left.plot(
            xs, [c.median("samples_per_s") for _, c in points], marker="o", label=column.label
        )
        right.plot(xs, [c.gflops for _, c in points], marker="o", label=column.label)
    left.set(xscale="log", yscale="log", xlabel="filters", ylabel="images / s (steady state)")
    right.set(xscale="log", xlabel="filters", ylabel="achieved GFLOP/s (steady state)")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
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
