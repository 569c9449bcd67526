"""Turn benchmark results into the comparison: rich tables, PNG figures, summary.md.

    python -m cnnbench.report FILE_OR_DIR [...] [--out DIR] [--compare BASE.json]
                              [--fail-above PCT]

Reads pytest-benchmark JSON (`--benchmark-json`) and results files (`*.jsonl`) from
any mix of backends, devices and machines; a folder stands for its *.json and *.jsonl.
A run found in both kinds of file counts once. Prints the runtime table (one row per
filter count, one column per backend x device, the 2017 references beside them) and
the learning-rate table, writes the figures and `summary.md` to `--out` (default
`reports/`). `--compare BASE.json` prints new/base runtime ratios; with
`--fail-above PCT` it exits 1 when any runtime regressed by more than PCT percent.

Bad input (a missing, empty, truncated or foreign file) ends in one line naming the
file and the problem, and exit status 2.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cnnbench import results

EXIT_USAGE = 2
EXIT_REGRESSION = 1
TARGET_ACCURACY = 0.99  # "time to 99% validation accuracy"
MISSING = "—"


@dataclass(frozen=True)
class Reference:
    params: int
    cpu_s: float | None
    gpu_s: float | None
    val_accuracy: float | None
    test_error: float | None


# The 2017 report (TF 1.x, a 4-core laptop and its GPU): Table 1 and the printed summaries.
REFERENCE_2017 = {
    8: Reference(52258, 133.91, 48.83, 0.987, 0.0131),
    16: Reference(104250, 160.65, 65.97, 0.990, 0.0120),
    32: Reference(211690, 277.25, 78.77, 0.989, 0.0113),
    64: Reference(440394, 697.42, 144.25, 0.989, 0.0113),
    128: Reference(953098, None, 278.69, None, None),
    256: Reference(2199690, None, 623.43, None, None),
}
REPORT_CONFIG = (10, 55000, 50)  # epochs, training images, batch size: the report's runs


class ReportError(Exception):
    """Input the report cannot use; the message names the file and the problem."""


@dataclass(frozen=True)
class Column:
    """One thing being compared: a backend on a device, with an implementation/profile."""

    backend: str
    device: str
    impl: str = "keras"
    profile: str | None = "default"

    @property
    def label(self) -> str:
        how = self.impl if self.profile is None else f"{self.impl} {self.profile}"
        return f"{self.backend} · {self.device} · {how}"

    @property
    def kind(self) -> str:
        return "cpu" if self.device == "cpu" else "gpu"


@dataclass(frozen=True)
class Run:
    result: dict
    benchmark: str
    source: str
    machine: dict | None = None
    date: str | None = None

    @property
    def column(self) -> Column:
        r = self.result
        impl = r.get("impl", "keras")
        profile = r.get("profile", "default") if impl == "keras" else None
        return Column(r["backend"], r["device"], impl, profile)

    @property
    def config(self) -> tuple[int, int, int]:
        return (self.result["epochs"], self.result["train_samples"], self.result["batch_size"])


@dataclass
class Loaded:
    runs: list[Run] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


REQUIRED = (
    "backend",
    "device",
    "filters",
    "params",
    "learning_rate",
    "epochs",
    "batch_size",
    "train_samples",
    "history",
    "val_accuracy",
    "test_error",
    "runtime_s",
)


def _check_result(result: object, where: str) -> dict:
    if not isinstance(result, dict):
        raise ReportError(f"{where}: a run is not a JSON object")
    missing = [key for key in REQUIRED if key not in result]
    if missing:
        raise ReportError(f"{where}: a run lacks {', '.join(missing)}")
    return result


def _read_benchmark_json(path: Path) -> Loaded:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not JSON (not UTF-8 text)") from None
    if not text.strip():
        raise ReportError(f"{path}: empty file")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        if err.pos >= len(text.rstrip()):
            raise ReportError(f"{path}: truncated JSON (ends inside a value)") from None
        raise ReportError(f"{path}: not JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ReportError(f"{path}: not pytest-benchmark output (no 'benchmarks' list)")
    machine = (doc.get("machine_info") or {}).get("cnnbench")
    loaded, foreign = Loaded(), 0
    for bench in doc["benchmarks"]:
        runs = (bench.get("extra_info") or {}).get("runs") if isinstance(bench, dict) else None
        if not isinstance(runs, list) or not runs:
            foreign += 1
            continue
        name = bench.get("name", "?")
        for result in runs:
            _check_result(result, f"{path}: {name}")
            loaded.runs.append(Run(result, name, str(path), machine, doc.get("datetime")))
    if not loaded.runs:
        raise ReportError(
            f"{path}: pytest-benchmark output with no cnnbench benchmarks ({foreign} other)"
        )
    if foreign:
        loaded.notes.append(f"{path}: skipped {foreign} benchmark(s) that are not cnnbench's")
    return loaded


def _read_results_file(path: Path) -> Loaded:
    try:
        records = results.read(path)
    except results.ResultsError as err:
        raise ReportError(str(err)) from None
    if not records:
        raise ReportError(f"{path}: empty file")
    loaded = Loaded()
    for number, record in enumerate(records, start=1):
        result = _check_result(record["result"], f"{path}:{number}")
        loaded.runs.append(
            Run(result, record.get("benchmark", "?"), str(path), record.get("machine"), None)
        )
    return loaded


def _expand(paths: Iterable[str]) -> list[tuple[Path, bool]]:
    """(file, named on the command line) for every input; a folder stands for its files."""
    files = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted([*path.glob("*.json"), *path.glob("*.jsonl")])
            if not found:
                raise ReportError(f"{path}: folder has no *.json or *.jsonl files")
            files += [(file, False) for file in found]
        elif not path.exists():
            raise ReportError(f"{path}: no such file")
        else:
            files.append((path, True))
    return files


def load(paths: Iterable[str]) -> Loaded:
    """All runs in the given files and folders, each run once.

    pytest-benchmark opens its --benchmark-json file when the session starts, so a
    session that dies leaves it empty; its finished runs are in the .jsonl beside it.
    Such an empty file found in a folder is skipped with a note; named, it is an error.
    """
    loaded, seen = Loaded(), set()
    for path, named in _expand(paths):
        if not named and path.suffix == ".json" and path.stat().st_size == 0:
            loaded.notes.append(
                f"{path}: empty (a benchmark session that did not finish); skipped, "
                "its finished runs are in the session's .jsonl"
            )
            continue
        part = _read_results_file(path) if path.suffix == ".jsonl" else _read_benchmark_json(path)
        loaded.notes += part.notes
        for run in part.runs:
            key = json.dumps(run.result, sort_keys=True)
            if key not in seen:
                seen.add(key)
                loaded.runs.append(run)
    return loaded


def time_to_accuracy(result: dict, target: float = TARGET_ACCURACY) -> float | None:
    """Seconds of training until the first epoch whose validation accuracy reaches target."""
    elapsed = 0.0
    history = result["history"]
    for seconds, accuracy in zip(history["epoch_seconds"], history["val_accuracy"], strict=True):
        elapsed += seconds
        if accuracy >= target:
            return elapsed
    return None


@dataclass(frozen=True)
class Cell:
    """Several rounds of one measurement, summarised."""

    runs: tuple[dict, ...]

    def median(self, key: str) -> float | None:
        values = [r[key] for r in self.runs if r.get(key) is not None]
        return statistics.median(values) if values else None

    @property
    def spread(self) -> tuple[float, float] | None:
        times = [r["runtime_s"] for r in self.runs]
        return (min(times), max(times)) if len(times) > 1 else None

    @property
    def time_to_target(self) -> tuple[float | None, int]:
        """(median seconds over the rounds that reached it, how many did)."""
        times = [t for t in map(time_to_accuracy, self.runs) if t is not None]
        return (statistics.median(times) if times else None, len(times))

    @property
    def gflops(self) -> float | None:
        rate = self.median("samples_per_s")
        return None if rate is None else rate * self.runs[0]["flops_per_sample"] / 1e9


def cells(runs: list[Run]) -> dict[tuple, dict[Column, Cell]]:
    """{(config, filters, learning_rate): {column: Cell}}."""
    grouped: dict[tuple, dict[Column, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        r = run.result
        grouped[(run.config, r["filters"], r["learning_rate"])][run.column].append(r)
    return {
        key: {col: Cell(tuple(rs)) for col, rs in by_col.items()} for key, by_col in grouped.items()
    }


def config_title(config: tuple[int, int, int]) -> str:
    epochs, samples, batch = config
    return f"{epochs} epochs × {samples} images, batch {batch}"


@dataclass
class TableModel:
    title: str
    headers: list[str]
    rows: list[list[list[str]]]  # each cell is a list of lines
    caption: str = ""


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return MISSING if value is None else f"{value:{spec}}{suffix}"


def _accuracy_line(cell: Cell) -> str:
    return f"val {cell.median('val_accuracy'):.4f} · err {cell.median('test_error'):.4f}"


def _runtime_cell(cell: Cell, reference: Reference | None, full_length: bool, kind: str):
    runtime = cell.median("runtime_s")
    spread = cell.spread
    lines = [f"{runtime:.1f} s" + (f" ({spread[0]:.1f}–{spread[1]:.1f})" if spread else "")]
    lines.append(f"{_fmt(cell.median('steady_epoch_s'), '.2f', ' s')}/epoch")
    lines.append(_accuracy_line(cell))
    seconds, reached = cell.time_to_target
    n = len(cell.runs)
    if seconds is None:
        lines.append("99%: not reached")
    else:
        lines.append(f"99%: {seconds:.1f} s" + (f" ({reached}/{n} rounds)" if reached < n else ""))
    ref_s = None if reference is None else (reference.cpu_s if kind == "cpu" else reference.gpu_s)
    if full_length and ref_s is not None:
        lines.append(f"×{ref_s / runtime:.2f} vs 2017 {kind.upper()}")
    return lines


def _table(
    grid, config, where, title, caption, lead, render, extra=None, min_rows=1
) -> TableModel | None:
    """Rows: the keys of `config` that `where` selects; columns: every Column found in
    at least `min_rows` of them.

    `lead` = [(header, key -> text)] before the columns; `render(cell, key, column) ->
    lines` for present cells (absent ones show MISSING); `extra` = (headers, key -> cells)
    after them.
    """
    keys = sorted(k for k in grid if k[0] == config and where(k))
    if not keys:
        return None
    found = Counter(col for k in keys for col in grid[k])
    columns = sorted((c for c, n in found.items() if n >= min_rows), key=lambda c: c.label)
    extra_headers, extra_cells = extra or ((), lambda key: [])
    rows = []
    for key in keys:
        row = [[text(key)] for _, text in lead]
        for col in columns:
            cell = grid[key].get(col)
            row.append([MISSING] if cell is None else render(cell, key, col))
        rows.append(row + extra_cells(key))
    headers = [*(header for header, _ in lead), *(c.label for c in columns), *extra_headers]
    return TableModel(f"{title} ({config_title(config)})", headers, rows, caption)


def _configs(grid, where) -> list[tuple[int, int, int]]:
    return sorted({k[0] for k in grid if where(k)}, reverse=True)


def _sweep(key) -> bool:  # the filter sweep: the report's learning rate
    return key[2] == 0.1


def runtime_tables(grid: dict[tuple, dict[Column, Cell]]) -> list[TableModel]:
    """One table per configuration of the learning-rate-0.1 runs (the filter sweep)."""
    tables = []
    for config in _configs(grid, _sweep):
        full = config == REPORT_CONFIG

        def render(cell, key, col, full=full):
            return _runtime_cell(cell, REFERENCE_2017.get(key[1]), full, col.kind)

        def references(key):
            ref = REFERENCE_2017.get(key[1])
            return [[_fmt(ref and ref.cpu_s, ".2f", " s")], [_fmt(ref and ref.gpu_s, ".2f", " s")]]

        def params(key):
            return f"{next(iter(grid[key].values())).runs[0]['params']:,}"

        caption = (
            "Each cell: full-training runtime (median over rounds, min–max when several), "
            "steady-state seconds per epoch, final validation accuracy and test error, "
            "training time until validation accuracy first reached 0.99"
            + (
                ", speed-up over the 2017 runtime on the same kind of device."
                if full
                else ". Shortened runs: no speed-up against the 2017 full runs."
            )
        )
        lead = [("Filters", lambda key: str(key[1])), ("Params", params)]
        extra = (("2017 CPU", "2017 GPU"), references)
        table = _table(
            grid, config, _sweep, "Runtime vs filters, lr 0.1", caption, lead, render, extra
        )
        tables.append(table)
    return tables


def learning_rate_tables(grid: dict[tuple, dict[Column, Cell]]) -> list[TableModel]:
    """Final validation accuracy and test error per learning rate, at 16 filters."""

    def at16(key):
        return key[1] == 16

    tables = []
    for config in _configs(grid, at16):
        if len({k[2] for k in grid if k[0] == config and at16(k)}) < 2:
            continue  # a single learning rate is no learning-rate experiment
        table = _table(
            grid,
            config,
            at16,
            "Learning rate at 16 filters",
            "Final validation accuracy and test error (median over rounds).",
            [("Learning rate", lambda key: f"{key[2]:g}")],
            lambda cell, key, col: [_accuracy_line(cell)],
            min_rows=2,  # what was swept over the rates, not every lr 0.1 filter-sweep run
        )
        table.rows.sort(key=lambda row: -float(row[0][0]))
        tables.append(table)
    return tables


def _efficiency_cell(cell: Cell, key, col) -> list[str]:
    rate, gflops = cell.median("samples_per_s"), cell.gflops
    fraction = cell.median("peak_fraction")
    lines = [_fmt(rate, ",.0f", " img/s"), _fmt(gflops, ".1f", " GFLOP/s")]
    if fraction is not None:
        lines.append(f"{fraction:.1%} of {cell.median('peak_gflops'):.0f} GFLOP/s peak")
    host, gpu = cell.median("peak_host_mb"), cell.median("peak_gpu_mb")
    if host is not None:
        if gpu and col.backend == "jax":  # no reset in JAX: the session's peak so far
            lines.append(f"peak RSS {host:,.0f} MB, GPU ≤{gpu:,.0f} MB (session)")
        else:
            lines.append(f"peak RSS {host:,.0f} MB" + (f", GPU {gpu:,.0f} MB" if gpu else ""))
    return lines


def efficiency_tables(grid: dict[tuple, dict[Column, Cell]]) -> list[TableModel]:
    """Steady-state throughput, achieved GFLOP/s, fraction of peak, peak memory."""
    caption = (
        "Training images per second of steady-state epoch time; achieved GFLOP/s = analytic "
        "training FLOPs per image × images/s; the fraction of the fp32 matmul peak measured "
        "in the same session; peak resident memory of the run (and GPU allocator peak; "
        "JAX cannot reset its peak, so its GPU figure is the session's so far, an upper bound)."
    )
    return [
        _table(
            grid,
            config,
            _sweep,
            "Efficiency",
            caption,
            [("Filters", lambda key: str(key[1]))],
            _efficiency_cell,
        )
        for config in _configs(grid, _sweep)
    ]


def native_ratio_tables(grid: dict[tuple, dict[Column, Cell]]) -> list[TableModel]:
    """Keras steady-state epoch time over the native implementation's, per profile."""
    tables = []
    for config in _configs(grid, _sweep):
        keys = sorted(k for k in grid if k[0] == config and _sweep(k))
        natives = sorted(
            {c for k in keys for c in grid[k] if c.impl == "native"}, key=lambda c: c.label
        )
        if not natives:
            continue
        rows = []
        for key in keys:
            row = [[str(key[1])]]
            for native in natives:
                base = grid[key].get(native)
                base_s = base and base.median("steady_epoch_s")
                lines = []
                for col, cell in sorted(grid[key].items(), key=lambda kv: kv[0].label):
                    if col.impl != "keras" or (col.backend, col.device) != (
                        native.backend,
                        native.device,
                    ):
                        continue
                    keras_s = cell.median("steady_epoch_s")
                    ratio = f"{keras_s / base_s:.2f}×" if keras_s and base_s else MISSING
                    lines.append(f"{col.profile}: {ratio}")
                row.append(lines or [MISSING])
            rows.append(row)
        headers = ["Filters", *(f"{n.backend} · {n.device}: Keras / native" for n in natives)]
        caption = (
            "Steady-state seconds per epoch of each Keras profile divided by the native "
            "implementation's, same backend and device; 1.00× means no Keras overhead."
        )
        tables.append(
            TableModel(f"Keras vs native ({config_title(config)})", headers, rows, caption)
        )
    return tables


def to_rich(model: TableModel) -> Table:
    table = Table(title=model.title, caption=model.caption, show_lines=True)
    for i, header in enumerate(model.headers):
        table.add_column(header, justify="right" if i == 0 else "left")
    for row in model.rows:
        table.add_row(*("\n".join(cell) for cell in row))
    return table


def to_markdown(model: TableModel) -> str:
    lines = [
        f"### {model.title}",
        "",
        "| " + " | ".join(model.headers) + " |",
        "|" + "---|" * len(model.headers),
    ]
    lines += ["| " + " | ".join("<br>".join(cell) for cell in row) + " |" for row in model.rows]
    if model.caption:
        lines += ["", model.caption]
    return "\n".join(lines)


def provenance(runs: list[Run]) -> list[str]:
    """One markdown bullet per column: where its numbers came from."""
    by_column: dict[Column, list[Run]] = defaultdict(list)
    for run in runs:
        by_column[run.column].append(run)
    lines = []
    for column in sorted(by_column, key=lambda c: c.label):
        group = by_column[column]
        machines = {json.dumps(r.machine, sort_keys=True) for r in group if r.machine}
        parts = []
        for text in sorted(machines):
            m = json.loads(text)
            gpu = ""
            if m.get("gpu"):
                math = f", {m['fp32_math']}" if m.get("fp32_math") else ""
                gpu = f", GPU {m['gpu']} (driver {m.get('gpu_driver') or '?'}{math})"
            parts.append(f"{m.get('cpu_model', '?')} ({m.get('cpu_count', '?')} cores){gpu}")
        versions = sorted(
            {", ".join(f"{k} {v}" for k, v in r.result.get("versions", {}).items()) for r in group}
        )
        dates = sorted({r.date[:10] for r in group if r.date})
        sources = sorted({Path(r.source).name for r in group})
        lines.append(
            f"- **{column.label}**: {len(group)} run(s); machine: {'; '.join(parts) or 'unknown'}; "
            f"versions: {'; '.join(versions)}; files: {', '.join(sources)}"
            + (f"; dated {', '.join(dates)}" if dates else "")
        )
    return lines


def summary_markdown(tables: list[TableModel], figures: list[Path], runs: list[Run]) -> str:
    parts = [
        "# cnnbench results",
        "",
        "Rendered by `python -m cnnbench.report` from the raw files listed below; "
        "re-render at any time. Missing cells are shown as —, never as zero.",
        "",
    ]
    for table in tables:
        parts += [to_markdown(table), ""]
    if figures:
        parts += ["## Figures", ""] + [f"![{f.stem}]({f.name})" for f in figures] + [""]
    parts += ["## Provenance", "", *provenance(runs), ""]
    return "\n".join(parts)


HEADLINE_START = "<!-- cnnbench:headline:start -->"
HEADLINE_END = "<!-- cnnbench:headline:end -->"


def headline_markdown(grid: dict[tuple, dict[Column, Cell]], figure: str | None) -> str:
    """The README's headline: full-length runtimes beside the 2017 ones, from the files.

    One row per backend, device and path, one column per filter count (a table that
    stays readable as backends and devices are added); the fastest run of each width
    on each kind of device is bold.
    """
    keys = sorted(k for k in grid if k[0] == REPORT_CONFIG and _sweep(k))
    lines = [
        f"Full training, {config_title(REPORT_CONFIG)}, lr 0.1: median seconds "
        "(validation accuracy); **bold**: the fastest of that width on that kind of device. "
        "Rendered by `python -m cnnbench.report` from `reports/`."
    ]
    if not keys:
        return "\n".join([*lines, "", "No full-length runs yet."])
    filters = sorted({k[1] for k in keys})
    columns = sorted({c for k in keys for c in grid[k]}, key=lambda c: (c.kind != "gpu", c.label))
    fastest = {}
    for key in keys:
        for kind in ("cpu", "gpu"):
            times = [
                (c.median("runtime_s"), col) for col, c in grid[key].items() if col.kind == kind
            ]
            if times:
                fastest[key[1], kind] = min(times, key=lambda item: item[0])[1]
    by_filters = {k[1]: grid[k] for k in keys}
    lines += [
        "",
        "| Backend · device · path | " + " | ".join(str(f) for f in filters) + " |",
        "|---|" + "---:|" * len(filters),
    ]
    for col in columns:
        cells = []
        for f in filters:
            cell = by_filters[f].get(col)
            text = (
                MISSING
                if cell is None
                else f"{cell.median('runtime_s'):.1f} ({cell.median('val_accuracy'):.3f})"
            )
            cells.append(f"**{text}**" if fastest.get((f, col.kind)) == col else text)
        lines.append(f"| {col.label} | " + " | ".join(cells) + " |")
    for kind, label in (
        ("cpu", "2017 report · laptop CPU · TF 1.x"),
        ("gpu", "2017 report · laptop GPU · TF 1.x"),
    ):
        refs = [REFERENCE_2017.get(f) for f in filters]
        times = [ref and (ref.cpu_s if kind == "cpu" else ref.gpu_s) for ref in refs]
        lines.append(f"| {label} | " + " | ".join(_fmt(t, ".2f") for t in times) + " |")
    if not any(c.kind == "gpu" for c in columns):
        lines += ["", "GPU: not yet measured (no GPU run in these files)."]
    if figure:
        lines += ["", f"![runtime vs filters]({figure})"]
    return "\n".join(lines)


def update_readme(readme: Path, headline: str) -> None:
    """Replace the text between the headline markers of `readme`."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError as err:
        raise ReportError(f"{readme}: cannot read ({err.strerror})") from None
    start, end = text.find(HEADLINE_START), text.find(HEADLINE_END)
    if start < 0 or end < start:
        raise ReportError(f"{readme}: no {HEADLINE_START} ... {HEADLINE_END} block")
    new = text[: start + len(HEADLINE_START)] + "\n" + headline + "\n" + text[end:]
    readme.write_text(new, encoding="utf-8")


def compare(new: list[Run], base: list[Run], fail_above: float | None, console: Console) -> int:
    """Print new/base runtime ratios per benchmark; 1 when one regressed past fail_above %."""

    def medians(runs: list[Run]) -> dict[tuple, float]:
        times: dict[tuple, list[float]] = defaultdict(list)
        for run in runs:
            times[(run.benchmark, run.column, run.config)].append(run.result["runtime_s"])
        return {key: statistics.median(values) for key, values in times.items()}

    new_t, base_t = medians(new), medians(base)
    table = Table(title="Runtime, new vs base (median full-training seconds)")
    for header in ("Benchmark", "Column", "Base s", "New s", "New/base", ""):
        table.add_column(header)
    worst = 0.0
    for key in sorted(new_t.keys() & base_t.keys(), key=lambda k: (k[1].label, k[0])):
        ratio = new_t[key] / base_t[key]
        worst = max(worst, (ratio - 1) * 100)
        mark = "[green]faster[/]" if ratio < 0.98 else "[red]slower[/]" if ratio > 1.02 else "same"
        table.add_row(
            key[0], key[1].label, f"{base_t[key]:.2f}", f"{new_t[key]:.2f}", f"{ratio:.3f}", mark
        )
    console.print(table)
    unmatched = len(new_t.keys() ^ base_t.keys())
    if unmatched:
        console.print(f"note: {unmatched} benchmark(s) appear on one side only")
    if fail_above is not None and worst > fail_above:
        console.print(f"[red]regression: a runtime grew by {worst:.1f}% (> {fail_above:g}%)[/]")
        return EXIT_REGRESSION
    return 0


def render(loaded: Loaded, out: Path, console: Console, readme: Path | None = None) -> list[Path]:
    """Print the tables; write the figures and summary.md to `out` (and the README's
    headline). Returns what was written."""
    from cnnbench import figures

    for note in loaded.notes:
        console.print(f"note: {note}", highlight=False)
    grid = cells(loaded.runs)
    tables = (
        runtime_tables(grid)
        + native_ratio_tables(grid)
        + efficiency_tables(grid)
        + learning_rate_tables(grid)
    )
    for table in tables:
        console.print(to_rich(table))
    out.mkdir(parents=True, exist_ok=True)
    written = figures.draw_all(loaded.runs, grid, out)
    summary = out / "summary.md"
    summary.write_text(summary_markdown(tables, written, loaded.runs), encoding="utf-8")
    written.append(summary)
    if readme is not None:
        figure = out / "runtime_vs_filters.png"
        link = os.path.relpath(figure, readme.resolve().parent) if figure.exists() else None
        update_readme(readme, headline_markdown(grid, link))
        written.append(readme)
    return written


def main(argv: list[str] | None = None, console: Console | None = None) -> int:
    from cnnbench.cli import OneLineParser, UsageError

    console = console or Console()
    parser = OneLineParser(prog="python -m cnnbench.report", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument("--out", default="reports", help="folder for figures and summary.md")
    parser.add_argument("--compare", metavar="BASE.json", help="print new/base runtime ratios")
    parser.add_argument("--readme", metavar="PATH", help="also refresh this README's headline")
    parser.add_argument(
        "--fail-above",
        type=float,
        metavar="PCT",
        help="with --compare: exit 1 when a runtime regressed by more than PCT%%",
    )
    try:
        args = parser.parse_args(argv)
        if args.fail_above is not None and args.compare is None:
            raise UsageError("--fail-above needs --compare")
        readme = Path(args.readme) if args.readme else None
        loaded = load(args.files)
        written = render(loaded, Path(args.out), console, readme)
        console.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
        if args.compare:
            return compare(loaded.runs, load([args.compare]).runs, args.fail_above, console)
        return 0
    except (UsageError, ReportError) as err:
        print(f"cnnbench.report: error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
