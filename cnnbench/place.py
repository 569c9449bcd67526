"""Where a machine stands, in about two minutes: a few short probes, then every published
full-length cell predicted for this machine, with an interval.

    python -m cnnbench place [--backends tensorflow,torch,jax]

A probe trains one path at one width for three short epochs (the first carries
compilation, the later ones are steady). A steady epoch is its training images and the
5000 validation images; scaled by their analytic FLOPs to a full epoch's 55000 and 5000
(`full_epoch`), it gives this machine's seconds for a full-length epoch. Its ratio to the
published machine's epoch at the same cell (its runtime over ten epochs,
`cnnbench/published.json`) says how much faster or slower this machine runs that backend
and path. A published cell is
predicted as its published median runtime times the ratio of its backend and path (Keras
tuned takes Keras default's), measured at the nearest probed width; the interval spans
the ratios of that backend's probes, widened by `DRIFT` for what a short probe cannot
see (session-to-session drift, compilation that a long run amortises differently).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cnnbench.analytic import forward_flops_per_sample, train_flops_per_sample
from cnnbench.estimate import published
from cnnbench.experiment import TRAIN_SIZE, VALIDATION_SIZE

PROBE_WIDTHS = (8, 32)  # a narrow and a middling width: the cost does not scale by FLOPs
PROBE_PATHS = (("keras", "default"), ("native", None))
PROBE_IMAGES = 11000  # training images per probe epoch: a fifth of a full one
DRIFT = 0.20  # added to each side of an interval: see docs/place.md for why 20%, not 10%


@dataclass(frozen=True)
class Probe:
    backend: str
    path: str  # 'keras default' or 'native'
    filters: int
    epoch_s: float  # this machine's full-length epoch, from a steady probe epoch (full_epoch)


def full_epoch(steady_s: float, filters: int, images: int = PROBE_IMAGES) -> float:
    """A steady epoch of `images` training images (and the 5000 validation images), scaled
    by their analytic FLOPs to a full epoch of 55000 and 5000."""
    train, forward = train_flops_per_sample(filters), forward_flops_per_sample(filters)
    full = TRAIN_SIZE * train + VALIDATION_SIZE * forward
    return steady_s * full / (images * train + VALIDATION_SIZE * forward)


@dataclass(frozen=True)
class Prediction:
    backend: str
    path: str
    filters: int
    published_s: float
    predicted_s: float
    low_s: float
    high_s: float
    ratio: float  # this machine over the published one


def ratios(probes: Iterable[Probe], kind: str, precision: str = "fp32") -> dict:
    """(backend, path, filters) -> this machine's full epoch over the published machine's
    (its full-length runtime over ten epochs)."""
    table = published()
    out = {}
    for p in probes:
        widths = table.get((p.backend, kind, p.path, precision), {})
        if p.filters in widths:
            published_epoch = widths[p.filters] * TRAIN_SIZE  # seconds per image x images
            out[(p.backend, p.path, p.filters)] = p.epoch_s / published_epoch
    return out


def predict(
    measured: Mapping, cells: Mapping[tuple, float], drift: float = DRIFT
) -> list[Prediction]:
    """Each published cell ((backend, path, filters) -> median seconds) for this machine,
    from the probes' ratios (`ratios`); cells of a backend no probe ran are left out."""
    out = []
    for (backend, path, filters), seconds in sorted(cells.items()):
        source = "keras default" if path == "keras tuned" else path
        mine = {f: r for (b, p, f), r in measured.items() if b == backend and p == source}
        if not mine:
            continue
        near = min(mine, key=lambda f: (abs(f - filters), f))
        spread = [r for (b, _, _), r in measured.items() if b == backend]
        low, high = min(spread), max(spread)
        out.append(
            Prediction(
                backend,
                path,
                filters,
                seconds,
                seconds * mine[near],
                seconds * min(low, mine[near]) * (1 - drift),
                seconds * max(high, mine[near]) * (1 + drift),
                mine[near],
            )
        )
    return out


def standing(predictions: Iterable[Prediction]) -> dict[str, float]:
    """Per backend, the median ratio of this machine to the published one."""
    by_backend: dict[str, list[float]] = {}
    for p in predictions:
        by_backend.setdefault(p.backend, []).append(p.ratio)
    return {b: statistics.median(r) for b, r in sorted(by_backend.items())}


def error_markdown(predictions: Iterable[Prediction], measured: Mapping[tuple, float]) -> str:
    """Each prediction beside its full-length measurement: the table docs/place.md shows,
    with the median and the worst absolute error."""
    rows = [p for p in predictions if (p.backend, p.path, p.filters) in measured]
    if not rows:
        return "No full-length run of a predicted cell to check the prediction against."
    lines = [
        "| backend | path | filters | predicted s (interval) | measured s | error | in interval |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    errors = []
    for p in rows:
        seconds = measured[(p.backend, p.path, p.filters)]
        err = p.predicted_s / seconds - 1
        errors.append((abs(err), p))
        inside = "yes" if p.low_s <= seconds <= p.high_s else "no"
        lines.append(
            f"| {p.backend} | {p.path} | {p.filters} | {p.predicted_s:.1f} "
            f"({p.low_s:.0f}–{p.high_s:.0f}) | {seconds:.1f} | {err * 100:+.1f}% | {inside} |"
        )
    worst, cell = max(errors, key=lambda pair: pair[0])
    median = statistics.median(e for e, _ in errors)
    lines += [
        "",
        f"Median absolute error {median * 100:.1f}% over {len(errors)} cells; the worst "
        f"{worst * 100:.1f}% ({cell.backend} {cell.path}, {cell.filters} filters).",
    ]
    return "\n".join(lines)
