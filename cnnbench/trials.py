"""A `tune` candidate and its rounds (`Trial`), and how the winner of each path is chosen.

Below both the tuner (`cnnbench.tune`, which times candidates) and the report
(`cnnbench.report.tuning`, which renders them from files): neither imports the other.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from cnnbench.experiment import FULL_LENGTH
from cnnbench.records import variant_id


@dataclass
class Trial:
    """One candidate of one path, over its rounds."""

    impl: str
    asked: dict  # the candidate as written in cnnbench.profiles.CANDIDATES
    settings: dict  # completed with the plain values
    results: list[dict] = field(default_factory=list)
    failure: str | None = None

    @property
    def path(self) -> str:
        return variant_id(self.impl, "tuned" if self.impl == "keras" else None)

    def median(self, key: str) -> float | None:
        values = [r[key] for r in self.results if r.get(key) is not None]
        return statistics.median(values) if values else None

    @property
    def predicted_s(self) -> float | None:
        """Full-length runtime: compilation plus full-length steady epochs."""
        first, steady = self.median("first_epoch_s"), self.median("steady_epoch_s")
        if self.failure or first is None or steady is None:
            return None
        samples = self.results[0]["train_samples"]
        full_epoch = steady * FULL_LENGTH.train_samples / samples
        return max(first - steady, 0.0) + FULL_LENGTH.epochs * full_epoch


def describe(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items()) or "(defaults)"


def winners(trials: list[Trial]) -> dict[str, dict]:
    """{path id: settings} of the fastest predicted full run per path."""
    best: dict[str, Trial] = {}
    for trial in trials:
        if trial.predicted_s is None:
            continue
        if trial.path not in best or trial.predicted_s < best[trial.path].predicted_s:
            best[trial.path] = trial
    return {path: trial.settings for path, trial in best.items()}
