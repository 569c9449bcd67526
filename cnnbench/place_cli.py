"""`python -m cnnbench place`: where this machine stands against the published ones, from a
couple of minutes of probes (`cnnbench.place`). A command line: it parses, runs each
backend's probes in a fresh process (a process holds one Keras backend), predicts, prints.

    python -m cnnbench place [--backends tensorflow,torch,jax] [--device cpu] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cnnbench import experiment, options, place
from cnnbench.backend import BACKENDS, gpu_driver, hide_gpus, quiet
from cnnbench.errors import UsageError
from cnnbench.estimate import published, published_machine
from cnnbench.files import check_writable, write_atomic


def add_parser(sub) -> None:
    parser = sub.add_parser("place", help="where this machine stands, from minutes of probes")
    parser.add_argument("--backends", default=",".join(BACKENDS), metavar="B,B")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--json", metavar="PATH", help="also write the predictions here")
    parser.add_argument(
        "--check",
        metavar="FOLDER",
        help="instead of probing: a saved placement (FOLDER/place.json, from --json) against "
        "the full-length runs in FOLDER/*.jsonl, each prediction beside its measurement",
    )
    parser.add_argument(
        "--doc", metavar="PATH", help="with --check: also render the table into PATH's block"
    )
    parser.add_argument("--probe-only", metavar="PATH", help=argparse.SUPPRESS)  # the child's


def probe(device: str, out: Path) -> None:
    """This process's backend: each probe path at each probe width, its steady rate."""
    if device == "cpu":
        hide_gpus()
    quiet(os.environ.get("KERAS_BACKEND", "tensorflow"))
    import keras

    from cnnbench.data import load
    from cnnbench.records import RunConfig, path_label
    from cnnbench.train import run

    backend, mnist, probes = keras.backend.backend(), load(), []
    for impl, profile in place.PROBE_PATHS:
        base = dict(impl=impl, profile=profile or "default", device=device)
        run(RunConfig(filters=8, epochs=1, train_subset=500, **base), mnist)  # warm-up
        for filters in place.PROBE_WIDTHS:
            config = RunConfig(filters=filters, epochs=3, train_subset=place.PROBE_IMAGES, **base)
            result = run(config, mnist)
            epoch = place.full_epoch(result.steady_epoch_s, filters)
            probes.append([backend, path_label(impl, profile), filters, epoch])
    out.write_text(json.dumps(probes))


def run(args, console: Console | None = None) -> int:
    console = console or Console()
    try:
        backends = options.parse_list(args.backends, str, BACKENDS, "--backends")
    except options.OptionError as err:
        raise UsageError(str(err)) from None
    if args.probe_only:
        probe(args.device, Path(args.probe_only))
        return 0
    if args.check:
        return check(Path(args.check), args.device, Path(args.doc) if args.doc else None, console)
    if args.doc:
        raise UsageError("--doc renders a --check; give the placement folder with --check")
    machine = published_machine(args.device)
    if machine is None:
        raise UsageError(f"no published {args.device} runs to place this machine against")
    if args.json:
        check_writable(args.json, "--json", replace=True)  # before minutes of probes, not after
    if args.device == "gpu" and gpu_driver() is None:
        raise UsageError("--device gpu: this machine shows no GPU (nvidia-smi finds none)")
    start, probes = time.monotonic(), []
    with tempfile.TemporaryDirectory(prefix="cnnbench-place-") as tmp:
        for backend in backends:
            out = Path(tmp) / f"{backend}.json"
            command = [sys.executable, "-m", "cnnbench", "place", "--device", args.device]
            command += ["--backends", backend, "--probe-only", str(out)]
            env = {**os.environ, "KERAS_BACKEND": backend}
            console.print(f"cnnbench: probing {backend} ...", highlight=False)
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                console.print(f"cnnbench: {backend}: probes failed ({last}); left out")
                continue
            probes += [place.Probe(*row) for row in json.loads(out.read_text())]
    if not probes:
        raise UsageError(f"no backend's probes ran on this {args.device}; nothing to place")
    measured = place.ratios(probes, args.device)
    cells = published_cells(args.device)
    predictions = place.predict(measured, cells)
    table = Table(
        title=f"This machine against the published {machine} (probes: "
        f"{time.monotonic() - start:.0f} s)",
        title_justify="left",
    )
    for header in ("backend", "path", "filters", "published s", "predicted s", "interval s"):
        table.add_column(header, justify="left" if header in ("backend", "path") else "right")
    for p in predictions:
        table.add_row(
            p.backend,
            p.path,
            str(p.filters),
            f"{p.published_s:.1f}",
            f"{p.predicted_s:.1f}",
            f"{p.low_s:.0f}–{p.high_s:.0f}",
        )
    console.print(table)
    for backend, ratio in place.standing(predictions).items():
        words = "slower than" if ratio > 1 else "as fast as" if ratio == 1 else "faster than"
        console.print(
            f"{backend}: this machine runs {ratio:.2f}x the published {machine}'s time "
            f"({words} it)",
            highlight=False,
        )
    if args.json:
        payload = {
            "probes": [p.__dict__ for p in probes],
            "cells": [p.__dict__ for p in predictions],
        }
        write_atomic(Path(args.json), json.dumps(payload, indent=1) + "\n")
    return 0 if predictions else 1


def published_cells(kind: str) -> dict[tuple, float]:
    """(backend, path, filters) -> the published full-length runtime (its rate x images)."""
    images = experiment.EPOCHS * experiment.TRAIN_SIZE
    return {
        (backend, path, filters): seconds * images
        for (backend, k, path, precision), widths in published().items()
        if k == kind and precision == "fp32"
        for filters, seconds in widths.items()
    }


def validation(folder: Path, kind: str = "cpu") -> str:
    """The Markdown of a saved placement (`folder/place.json`, from `--json`) against the
    full-length runs of `kind` in `folder/*.jsonl` (median over rounds): its probes predict
    again under today's rule (`place.DRIFT`), and must predict the seconds it printed."""
    from cnnbench.report.fields import ReportError
    from cnnbench.report.frame import frame
    from cnnbench.report.read import load

    saved_path = folder / "place.json"
    try:
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
        probes = [place.Probe(**probe) for probe in saved["probes"]]
        printed = {
            (c["backend"], c["path"], c["filters"]): c["predicted_s"] for c in saved["cells"]
        }
    except (OSError, ValueError, KeyError, TypeError) as err:
        what = getattr(err, "strerror", None) or "not a placement written by --json"
        raise UsageError(f"{saved_path}: cannot read ({what})") from None
    predictions = place.predict(place.ratios(probes, kind), published_cells(kind))
    again = {(p.backend, p.path, p.filters): p.predicted_s for p in predictions}
    if again.keys() != printed.keys() or any(
        abs(again[key] - seconds) > 1e-6 * seconds for key, seconds in printed.items()
    ):
        raise UsageError(
            f"{saved_path}: its probes no longer predict what it printed (the published runs "
            "changed since); place this machine again"
        )
    runs = sorted(str(p) for p in folder.glob("*.jsonl"))
    if not runs:
        raise UsageError(f"{folder}: no full-length runs (*.jsonl) to check the placement against")
    try:
        data = frame(load(runs).runs)
    except ReportError as err:
        raise UsageError(str(err)) from None
    full = data[
        (data["kind"] == kind)
        & data["full_length"]
        & (data["learning_rate"] == experiment.LEARNING_RATE)
        & (data["precision"] == "fp32")
    ]
    medians = full.groupby(["backend", "path", "filters"])["runtime_s"].median()
    return place.error_markdown(predictions, medians.to_dict())


def check(folder: Path, kind: str, doc: Path | None, console: Console) -> int:
    from cnnbench.report.fields import ReportError
    from cnnbench.report.headline import block, update_block

    try:
        if doc is not None:
            block(doc, "place-error")  # a document without its block: said before any work
        text = validation(folder, kind)
        if doc is not None:
            update_block(doc, text, "place-error")
    except ReportError as err:
        raise UsageError(str(err)) from None
    console.print(text, highlight=False, markup=False, soft_wrap=True)
    return 0
