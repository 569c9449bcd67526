"""The figures, drawn from the runs with matplotlib (PNG files; no display needed).

- `runtime_vs_filters*.png`: runtime against width, medians with min-max bars over the
  rounds, a panel per kind of device, with the 2017 runtimes on full-length runs only;
- `keras_overhead*.png`: Keras over native per width, a panel per device (colour:
  backend, line: profile);
- `learning_curves*.png`: a panel per learning rate, the median training and
  validation error per epoch;
- `throughput_vs_filters*.png`: steady-state images/s and achieved GFLOP/s.

A suffix names the run length when it is not the report's (10 epochs, 55000 images).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import ticker  # noqa: E402

from cnnbench.experiment import (  # noqa: E402
    FULL_LENGTH,
    LEARNING_RATE,
    LR_FILTERS,
    REFERENCE_2017,
    reference_label,
)
from cnnbench.files import write_atomic  # noqa: E402
from cnnbench.report.frame import (  # noqa: E402
    PATHS,
    ROW_KEYS,
    by,
    by_length,
    lr_experiment,
    overhead,
)
from cnnbench.report.grid import length_title, row_labels  # noqa: E402

BACKEND_COLORS = {"tensorflow": "tab:orange", "torch": "tab:red", "jax": "tab:blue"}
PATH_LINES = dict(zip(PATHS, ("-", "--", "-.", ":"), strict=False))  # line style per path
KIND_MARKERS = {"cpu": "o", "gpu": "s"}  # fp32; other precisions have their own
PRECISION_MARKERS = {"tf32": "^", "bf16": "v"}
PATH_MARKERS = dict(zip(PATHS, ("o", "D", "v", "s"), strict=False))  # colour: the backend


def _suffix(length: tuple) -> str:
    epochs, samples, batch = length
    return "" if length == tuple(FULL_LENGTH) else f"-{epochs}ep-{samples}img-b{batch}"


def save(fig, path: Path) -> Path:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, format="png", bbox_inches="tight")
    plt.close(fig)
    write_atomic(path, buffer.getvalue())
    return path


def _text(name: str) -> str:
    """A name from the runs as matplotlib shows it: a `$` is a dollar sign, never TeX."""
    return name.replace("$", r"\$")


def _labels(keys) -> dict:
    return {key: _text(label) for key, label in row_labels(keys).items()}


def _style(key: tuple) -> dict:
    """Colour: backend; line: path; marker: kind of device, or a precision other than
    fp32 (so JAX on the H100 in fp32 and in tf32 are two lines a reader can tell apart)."""
    kind, _, backend, path, precision, _ = key
    return {
        "color": BACKEND_COLORS.get(backend, "tab:gray"),
        "linestyle": PATH_LINES.get(path, "-."),
        "marker": PRECISION_MARKERS.get(precision, KIND_MARKERS[kind]),
    }


def _log_axis(ax) -> None:
    """Log scale; inside one decade (a quick run's few seconds) the minor ticks get
    labels too, so the axis is never bare."""
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    if high / low < 10:
        ax.yaxis.set_minor_formatter(ticker.FormatStrFormatter("%g"))


def _filter_axis(ax, filters) -> None:
    ticks = sorted(set(filters))
    ax.set_xscale("log")
    ax.set_xticks(ticks, labels=[str(f) for f in ticks])
    ax.minorticks_off()
    ax.set_xlim(min(ticks) / 1.2, max(ticks) * 1.2)
    ax.grid(True, which="both", alpha=0.3)


def runtime_vs_filters(data: pd.DataFrame, length: tuple, out: Path) -> Path | None:
    """Medians with min-max bars; one panel per kind of device."""
    if data.empty:
        return None
    kinds = [k for k in ("cpu", "gpu") if (data["kind"] == k).any()]
    fig, axes = plt.subplots(1, len(kinds), figsize=(6.2 * len(kinds), 5.6), squeeze=False)
    full = length == tuple(FULL_LENGTH)
    for ax, kind in zip(axes[0], kinds, strict=True):
        part = data[data["kind"] == kind]
        groups = by(part, ROW_KEYS)
        labels = _labels([key for key, _ in groups])
        for key, runs in groups:
            stats = runs.groupby("filters")["runtime_s"].agg(["median", "min", "max"])
            error = [stats["median"] - stats["min"], stats["max"] - stats["median"]]
            style = _style(key)
            ax.errorbar(
                stats.index, stats["median"], yerr=error, capsize=3, label=labels[key], **style
            )
        if full:
            ref = [(f, r.seconds(kind)) for f, r in REFERENCE_2017.items() if r.seconds(kind)]
            label = reference_label(kind)
            ax.plot(
                *zip(*ref, strict=True),
                color="black",
                alpha=0.35,
                linewidth=2.5,
                marker="D",
                label=label,
            )
        ax.set_yscale("log")
        _filter_axis(ax, part["filters"])
        machines = _text(", ".join(sorted(set(part["machine"]))))
        ax.set_title(f"{kind.upper()}: {machines}", fontsize=9)
        ax.set_xlabel("filters per conv layer")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.12), ncol=2)
    axes[0][0].set_ylabel("full training runtime, s (median, min–max bars)")
    fig.suptitle(f"Runtime vs filters, {length_title(length)}", fontsize=11)
    return save(fig, out / f"runtime_vs_filters{_suffix(length)}.png")


def keras_overhead(data: pd.DataFrame, length: tuple, out: Path) -> Path | None:
    """Keras runtime over native runtime, per width; a panel per device and precision."""
    ratios = overhead(data)
    if ratios.empty:
        return None
    panels = by(ratios, ["kind", "machine", "precision"])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.8), squeeze=False)
    for ax, ((kind, machine, precision), part) in zip(axes[0], panels, strict=True):
        several = part["keras"].nunique() > 1
        for (backend, path, keras), line in by(part, ["backend", "path", "keras"]):
            line = line.sort_values("filters")
            style = {**_style((kind, machine, backend, path, precision, keras))}
            style["marker"] = PATH_MARKERS.get(path, "o")  # default and tuned told apart
            label = f"{backend} · {path}" + (f" · keras {keras}" if several else "")
            ax.plot(line["filters"], line["ratio"], label=_text(label), **style)
        ax.axhline(1.0, color="black", linewidth=1, alpha=0.5)
        _filter_axis(ax, part["filters"])
        ax.set_title(_text(f"{machine} · {precision}"), fontsize=9)
        ax.set_xlabel("filters per conv layer")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("Keras runtime / native runtime (medians)")
    fig.suptitle(f"What Keras costs over the bare framework, {length_title(length)}", fontsize=11)
    return save(fig, out / f"keras_overhead{_suffix(length)}.png")


def learning_curves(data: pd.DataFrame, length: tuple, out: Path) -> Path | None:
    """Experiment 1: the median error per epoch, for what was run at several rates."""
    at = lr_experiment(data)
    groups = by(at, ROW_KEYS)
    if not groups:
        return None
    rates = sorted(set(at["learning_rate"]), reverse=True)
    labels = _labels([key for key, _ in groups])
    fig, axes = plt.subplots(
        1, len(rates), figsize=(4 * len(rates), 4.6), sharey=True, squeeze=False
    )
    for ax, lr in zip(axes[0], rates, strict=True):
        for key, runs in groups:
            runs = runs[runs["learning_rate"] == lr]
            if runs.empty:
                continue
            curves = np.array([json.loads(v) for v in runs["val_accuracy_by_epoch"]])
            error = 1 - np.median(curves, axis=0)
            ax.plot(range(1, len(error) + 1), error, label=labels[key], **_style(key))
        ax.set(title=f"learning rate {lr:g}", xlabel="epoch", yscale="log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("validation error (1 − accuracy), median of the rounds")
    handles, names = axes[0][0].get_legend_handles_labels()
    below = -0.02 - 0.04 * math.ceil(len(names) / 3)
    fig.legend(handles, names, fontsize=7, loc="lower center", ncol=3, bbox_to_anchor=(0.5, below))
    fig.suptitle(f"Learning curves at {LR_FILTERS} filters, {length_title(length)}", fontsize=11)
    return save(fig, out / f"learning_curves{_suffix(length)}.png")


def throughput_vs_filters(data: pd.DataFrame, length: tuple, out: Path) -> Path | None:
    data = data.dropna(subset=["samples_per_s"])
    if data.empty:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    groups = by(data, ROW_KEYS)
    labels = _labels([key for key, _ in groups])
    for key, runs in groups:
        medians = runs.groupby("filters")[["samples_per_s", "achieved_gflops"]].median()
        left.plot(medians.index, medians["samples_per_s"], label=labels[key], **_style(key))
        right.plot(medians.index, medians["achieved_gflops"], label=labels[key], **_style(key))
    peaks = data.dropna(subset=["peak_gflops"]).groupby(["machine", "precision"])["peak_gflops"]
    for (machine, precision), peak in peaks.median().items():  # the roof the bars reach for
        right.axhline(peak, color="black", linewidth=1, linestyle=":", alpha=0.6)
        right.annotate(
            _text(f"matmul peak, {machine} {precision}: {peak:,.0f}"),
            (data["filters"].min(), peak),
            fontsize=6,
            va="bottom",
        )
    left.set(xlabel="filters", ylabel="images / s (steady state)")
    right.set(xlabel="filters", ylabel="achieved GFLOP/s (steady state)")
    _log_axis(left)
    _log_axis(right)
    for ax in (left, right):
        _filter_axis(ax, data["filters"])
    right.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(f"Throughput, {length_title(length)} (○ CPU, □ GPU)", fontsize=11)
    return save(fig, out / f"throughput_vs_filters{_suffix(length)}.png")


def draw_all(data: pd.DataFrame, out: Path) -> list[Path]:
    """Every figure the runs allow, for every run length found (full length first).
    An axis that reaches past a float's range is drawn, not warned about."""
    written = []
    with np.errstate(over="ignore"):
        for length, at in by_length(data):
            sweep = at[at["learning_rate"] == LEARNING_RATE]
            for draw, part in (
                (runtime_vs_filters, sweep),
                (keras_overhead, sweep),
                (learning_curves, at),
                (throughput_vs_filters, sweep),
            ):
                path = draw(part, length, out)
                if path is not None:
                    written.append(path)
    return written
