"""`python -m cnnbench.report` (or `python -m cnnbench report`): read, print, write.

    python -m cnnbench.report FILE_OR_DIR [...] [--out DIR] [--table NAME ...]
        [--target ACC ...] [--compare BASE ...] [--fail-above PCT] [--readme README.md]

Prints the runtime table (`--table` picks others, `--table all` every one), writes
`summary.md` (every table), `results.csv` (every run) and the figures to `--out`
(default `./cnnbench-report/`; the published `reports/` is written only when named).
Bad input ends in one line naming the file and the problem, exit status 2, before
anything is written.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import pandas as pd
from rich.console import Console

from cnnbench import stats
from cnnbench.errors import EXIT_USAGE, OneLineParser, PathError, UsageError
from cnnbench.estimate import published_json
from cnnbench.experiment import LEARNING_RATE
from cnnbench.files import regular_file, write_atomic
from cnnbench.report import figures
from cnnbench.report.blocks import block_tables, cold_lines, decomposition_lines
from cnnbench.report.compare import changes, compare, mismatch, session_drift
from cnnbench.report.costs import parse_prices, with_costs
from cnnbench.report.fields import ReportError
from cnnbench.report.frame import (
    TARGETS,
    by,
    by_length,
    cold_rounds,
    frame,
    one_run_per_round,
    unshown,
)
from cnnbench.report.headline import block, headline_markdown, update_block, verdict_markdown
from cnnbench.report.history import draw_history, history_markdown
from cnnbench.report.noise import steal_lines
from cnnbench.report.read import load
from cnnbench.report.render import results_csv, rich_tables, summary_markdown, to_markdown
from cnnbench.report.replicates import replicate_tables
from cnnbench.report.tables import TABLES, tables
from cnnbench.report.targets import block_targets, targets_markdown, targets_summary
from cnnbench.report.tuning import tuning_markdown
from cnnbench.report.versions import versions_table

DEFAULT_OUT = "cnnbench-report"


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m cnnbench.report", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help="folder for summary.md, results.csv, figures"
    )
    parser.add_argument(
        "--table",
        action="append",
        choices=(*TABLES, "blocks", "all"),
        help="table(s) to print (repeatable; default: runtime)",
    )
    parser.add_argument(
        "--target",
        action="append",
        type=float,
        metavar="ACC",
        help=f"validation accuracy for time-to-target (repeatable; default {TARGETS})",
    )
    parser.add_argument("--compare", nargs="+", metavar="BASE", help="base results to compare")
    parser.add_argument(
        "--price",
        action="append",
        metavar="DEVICE=DOLLARS",
        help="dollars per hour of a device (a machine as the tables name it, or cpu / gpu), "
        "for the cost table (repeatable; never stored)",
    )
    parser.add_argument(
        "--fail-above",
        type=float,
        metavar="PCT",
        help="with --compare: exit 1 when a runtime grew by more than PCT%%",
    )
    parser.add_argument(
        "--drift",
        type=float,
        metavar="PCT",
        help="with --compare: the drift between sessions on this machine, in %% (default: "
        "the published records')",
    )
    parser.add_argument(
        "--drift-from",
        nargs="+",
        metavar="FILE_OR_DIR",
        help="with --estimates: more runs of the published cells from other sessions, read "
        "only to measure the drift between sessions",
    )
    parser.add_argument("--readme", metavar="PATH", help="also refresh this README's headline")
    parser.add_argument(
        "--doc",
        action="append",
        metavar="DOC.md",
        help="also refresh the cnnbench blocks this document holds (repeatable)",
    )
    parser.add_argument(
        "--estimates",
        metavar="PATH",
        help="also write the full-length runs' seconds per image, which the planner reads "
        "(cnnbench/published.json)",
    )
    parser.add_argument(
        "--tuning",
        metavar="DOC.md",
        help="instead: the `tune` candidates in FILE_OR_DIR, into DOC.md's tuning block",
    )
    return parser


def _check_args(args) -> None:
    if args.fail_above is not None:
        if args.compare is None:
            raise UsageError("--fail-above needs --compare")
        try:
            stats.gate(args.fail_above)
        except ValueError as err:
            raise UsageError(str(err)) from None
    if args.drift is not None:
        if args.compare is None:
            raise UsageError("--drift needs --compare")
        if not (math.isfinite(args.drift) and 0 <= args.drift < 1000):
            raise UsageError(f"--drift {args.drift}: expected a finite PCT in [0, 1000)")
    if args.drift_from is not None and args.estimates is None:
        raise UsageError("--drift-from needs --estimates")
    for target in args.target or ():
        if not (math.isfinite(target) and 0 < target <= 1):
            raise UsageError(f"--target {target}: expected an accuracy in (0, 1]")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    documents = [("readme", args.readme), ("tuning", args.tuning)]
    documents += [("doc", doc) for doc in args.doc or ()]
    for flag, target in documents:
        if target is None:
            continue
        if not regular_file(target, f"--{flag}"):
            raise UsageError(f"--{flag} {target}: no such file")
        required = {"readme": ("headline",), "tuning": ("tuning",), "doc": ()}[flag]
        for name in (*required, *BLOCKS):  # markers checked before anything is written
            block(Path(target), name, optional=name not in required)


# what a document may hold, optionally
BLOCKS = ("verdict", "targets", "targets-table", "versions", "block-decomposition", "history")


def versions_markdown(data) -> str:
    """Every `versions` table the runs allow (a newer Keras over an older, per length)."""
    at_lr = data[data["learning_rate"] == LEARNING_RATE]
    found = [t for length, runs in by_length(at_lr) if (t := versions_table(runs, length))]
    return "\n\n".join(map(to_markdown, found)) or "No row ran two Keras versions yet."


def update_blocks(path: Path, data, blocks=None) -> None:
    """Every optional cnnbench block the document holds, rendered from the runs."""
    render = {
        "verdict": lambda runs: verdict_markdown(runs, blocks),
        "targets": lambda runs: "\n".join(
            [*block_targets(blocks if blocks is not None else runs.iloc[:0]),
             targets_summary(runs)]
        ),
        "targets-table": targets_markdown,
        "versions": versions_markdown,
        "block-decomposition": lambda runs: "\n".join(
            decomposition_lines(blocks if blocks is not None else runs.iloc[:0])
        )
        or "No block has timed every path of a backend yet.",
        "history": lambda runs: history_markdown(blocks if blocks is not None else runs.iloc[:0]),
    }
    for name in BLOCKS:
        update_block(path, render[name](data), name, optional=True)


def estimates(data, others=None) -> str:
    """published.json: the rates of the full-length lr 0.1 runs (a round once), with the
    machines they ran on, and the drift between sessions those runs and `others` show."""
    full = data[data["full_length"] & (data["learning_rate"] == LEARNING_RATE)]
    machines = {key[0]: ", ".join(sorted(set(part["machine"]))) for key, part in by(full, ["kind"])}
    if others is not None:
        others = others[~others["cold"] & (others["twin"] == 0)]
    both = full if others is None else pd.concat([full, others], ignore_index=True)
    return published_json(full.to_dict("records"), machines, session_drift(both))


def _read(paths, targets):
    """The runs of these inputs, a round once, cold rounds marked: (runs, notes)."""
    loaded = load(paths)
    data, superseded = one_run_per_round(frame(loaded.runs, targets))
    data, cold = cold_rounds(data)
    return data, loaded.notes + superseded + cold


def main(argv: list[str] | None = None, console: Console | None = None) -> int:
    console = console or Console()
    try:
        args = _parser().parse_args(argv)
        _check_args(args)
        targets = tuple(args.target or TARGETS)
        if args.tuning:
            candidates = load(args.files, candidates=True)
            update_block(Path(args.tuning), tuning_markdown(candidates.runs), "tuning")
            console.print(f"wrote {args.tuning}", highlight=False, markup=False)
            return 0
        everything, notes = _read(args.files, targets)
        warm = everything[~everything["cold"] & (everything["twin"] == 0)]
        blocks = everything[everything["block"].notna()]
        data = warm[warm["block"].isna()]  # the per-session tables: sweeps, never blocks
        notes += unshown(data)
        if args.price:
            try:
                data = with_costs(data, parse_prices(args.price, data))
            except ValueError as err:
                raise UsageError(str(err)) from None
        if args.compare:
            base, more = _read(args.compare, targets)
            base = base[~base["cold"] & (base["twin"] == 0)]
            notes += [f"--compare: {note}" for note in more]
            if not changes(warm, base, {}):
                why = mismatch(warm, base) or "another device, precision or Keras?"
                raise UsageError(f"--compare: no cell is on both sides ({why}): the gate "
                                 "compared nothing")
        for note in notes:
            console.print(f"note: {note}", highlight=False, markup=False)
        models = tables(data, targets) + block_tables(blocks) + replicate_tables(blocks)
        wanted = set(args.table or ["runtime", "blocks"])
        for model in models:
            if "all" in wanted or model.name in wanted:
                for table in rich_tables(model, console.width):
                    console.print(table)
                    console.print()
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        written = figures.draw_all(data, out)
        drawn = draw_history(blocks, out)
        written += [drawn] if drawn else []
        sections = [f"## Keras releases side by side\n\n{history_markdown(blocks)}"] if drawn \
            else []
        write_atomic(out / "results.csv", results_csv(everything))  # every run, cold too
        notes += cold_lines(blocks) + steal_lines(blocks)
        summary = summary_markdown(models, written, data, notes, sections)
        write_atomic(out / "summary.md", summary)
        written += [out / "results.csv", out / "summary.md"]
        if args.readme:
            readme = Path(args.readme)
            figure = out / "runtime_vs_filters.png"
            link = os.path.relpath(figure, readme.resolve().parent) if figure.exists() else None
            update_block(readme, headline_markdown(data, link))
            update_blocks(readme, data, blocks)
            written.append(readme)
        for doc in args.doc or ():
            update_blocks(Path(doc), data, blocks)
            written.append(Path(doc))
        if args.estimates:
            others = _read(args.drift_from, targets)[0] if args.drift_from else None
            write_atomic(Path(args.estimates), estimates(data, others))
            written.append(Path(args.estimates))
        console.print("wrote " + ", ".join(str(p) for p in written), highlight=False, markup=False)
        if args.compare:
            return compare(warm, base, args.fail_above, console, args.drift)
        return 0
    except (UsageError, ReportError, PathError) as err:
        print(f"cnnbench.report: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:  # a folder or file that cannot be written
        print(f"cnnbench.report: error: {err.filename}: {err.strerror}", file=sys.stderr)
        return EXIT_USAGE
