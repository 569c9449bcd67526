"""How long a planned run will take, known before it runs.

A run's time is its images (epochs x training images) at a rate in seconds per image,
taken from, first that has one:

1. like runs on file (the session's results file, and its warm-ups once they ran): same
   backend, kind of device, path and precision, at the run's width or, between widths,
   along the line through the two measured widths nearest in training FLOPs (a fixed
   cost per image plus a cost per FLOP: a narrow net on a GPU is bound by its host, not
   its FLOPs); from one measured width, its rate plus the FLOPs it lacks at the nominal
   rate;
2. the published runs (`cnnbench/published.json`, written by `python -m cnnbench.report
   reports/runs/ --estimates cnnbench/published.json`): the same, from the machines that
   made the published tables, so only a guess for another machine;
3. none: the run's FLOPs at a nominal rate, good for balancing shards (relative cost)
   and said to be so ("unknown until the warm-ups").
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources

from cnnbench import checks
from cnnbench.analytic import train_flops_per_sample
from cnnbench.records import path_label, result_path

NOMINAL_GFLOPS = {"cpu": 50.0, "gpu": 5000.0}  # FLOP rates for the relative estimate only
Key = tuple[str, str, str, str]  # backend, kind, path, precision


def rate_key(result: Mapping) -> tuple[Key, int]:
    """(backend, kind, path, precision), filters: what a rate is measured for, from a run's
    result or from a row of the report's frame (which names the path and kind)."""
    if "path" in result:
        path, kind = result["path"], result["kind"]
    else:
        path = result_path(result)
        kind = "cpu" if result.get("device") == "cpu" else "gpu"
    return (result["backend"], kind, path, result.get("precision") or "fp32"), result["filters"]


def rates_from(records: Iterable[Mapping]) -> dict[Key, dict[int, float]]:
    """Median seconds per training image of each (backend, kind, path, precision) and
    width, over the records given (results-file lines or bare results)."""
    samples: dict[Key, dict[int, list[float]]] = {}
    for record in records:
        if record.get("candidate"):
            continue
        result = record.get("result", record)
        try:
            raw = "history" in result  # a run as recorded (frame rows were checked)
            if raw and not record.get("warmup") and checks.problems(result):
                continue  # a run that would not count is no rate either
            key, filters = rate_key(result)
            if record.get("warmup"):  # two short epochs: the steady one is the rate
                per_image = result["steady_epoch_s"] / result["train_samples"]
            else:  # a whole run: its compilation spread over its images
                per_image = result["runtime_s"] / (result["epochs"] * result["train_samples"])
        except (KeyError, TypeError, ZeroDivisionError):
            continue
        if per_image > 0:
            samples.setdefault(key, {}).setdefault(filters, []).append(per_image)
    return {
        key: {f: statistics.median(v) for f, v in widths.items()} for key, widths in samples.items()
    }


def _published_json() -> dict:
    try:
        return json.loads(resources.files("cnnbench").joinpath("published.json").read_text())
    except (FileNotFoundError, OSError):
        return {"machines": {}, "rates": []}


def published_machine(kind: str) -> str | None:
    """The machine the published runs of a kind of device were timed on."""
    return _published_json()["machines"].get(kind)


def published() -> dict[Key, dict[int, float]]:
    """The published runs' rates (empty when the package carries none)."""
    table: dict[Key, dict[int, float]] = {}
    for row in _published_json()["rates"]:
        key = (row["backend"], row["kind"], row["path"], row["precision"])
        table.setdefault(key, {})[row["filters"]] = row["seconds_per_image"]
    return table


def published_drift() -> dict[str, float]:
    """The between-session drift measured on the published records, per kind of device:
    the widest log change of one cell between two sessions of the same code
    (`cnnbench.report.compare.session_drift`); empty when the package carries none."""
    return dict(_published_json().get("drift") or {})


def published_json(
    records: Iterable[Mapping], machines: Mapping[str, str], drift: Mapping | None = None
) -> str:
    """The text of `published.json` for these (full-length, published) runs."""
    rows = [
        {
            "backend": backend,
            "kind": kind,
            "path": path,
            "precision": precision,
            "filters": filters,
            "seconds_per_image": round(seconds, 9),
        }
        for (backend, kind, path, precision), widths in sorted(rates_from(records).items())
        for filters, seconds in sorted(widths.items())
    ]
    drift = {kind: round(value, 4) for kind, value in sorted((drift or {}).items())}
    doc = {"machines": dict(machines), "drift": drift, "rates": rows}
    return json.dumps(doc, indent=1) + "\n"


@dataclass
class Estimator:
    """Seconds for a run of `images` images at a width, from the best source there is."""

    backend: str
    kind: str
    precision: str
    measured: dict[Key, dict[int, float]]
    fallback: dict[Key, dict[int, float]]

    @classmethod
    def build(cls, backend, kind, precision, records: Iterable[Mapping] = ()) -> Estimator:
        return cls(backend, kind, precision, rates_from(records), published())

    def add(self, records: Iterable[Mapping]) -> None:
        """Rates from runs measured since (the session's warm-ups): they take precedence."""
        for key, widths in rates_from(records).items():
            self.measured.setdefault(key, {}).update(widths)

    def source(self, path: str) -> str:
        key = (self.backend, self.kind, path, self.precision)
        if key in self.measured:
            return "like runs on file"
        if key in self.fallback:
            return "the published runs"
        return "none"

    def seconds(self, path: str, filters: int, images: int) -> float:
        key = (self.backend, self.kind, path, self.precision)
        for table in (self.measured, self.fallback):
            widths = table.get(key)
            if widths:
                return self._rate(widths, filters) * images
        flops = train_flops_per_sample(filters) * images
        return flops / (NOMINAL_GFLOPS[self.kind] * 1e9)

    def _rate(self, widths: Mapping[int, float], filters: int) -> float:
        """Seconds per image at `filters`, affine in FLOPs through the nearest widths."""
        flops = train_flops_per_sample(filters)
        below = [f for f in widths if f <= filters]
        above = [f for f in widths if f > filters]
        if below and above:  # between two measured widths: those two
            a, b = max(below), min(above)
        else:  # beyond them: the two nearest (one width: its rate, the rest nominal)
            a, *rest = sorted(widths, key=lambda f: abs(f - filters))
            b = rest[0] if rest else None
        per_flop = 1 / (NOMINAL_GFLOPS[self.kind] * 1e9)
        if b is not None:
            dx = train_flops_per_sample(b) - train_flops_per_sample(a)
            per_flop = max((widths[b] - widths[a]) / dx, 0.0)
        return max(widths[a] + per_flop * (flops - train_flops_per_sample(a)), 0.0) or widths[a]

    def known(self, paths: Iterable[str]) -> bool:
        """Whether every path has a measured or published rate (else the estimate is
        relative: fine for balancing shards, not for a clock)."""
        return all(self.source(path) != "none" for path in paths)


def balancing(kind: str, precision: str, images: int):
    """Seconds per planned run for cutting shards: the published rates (else FLOPs) alone,
    never a machine's own file, so every worker of a job array computes the same cut."""
    table = published()
    estimators = {}

    def seconds(run) -> float:
        if run.backend not in estimators:
            estimators[run.backend] = Estimator(run.backend, kind, precision, {}, table)
        return estimators[run.backend].seconds(path_label(*run.variant), run.filters, images)

    return seconds
