"""The `tune` candidates as Markdown: what each setting measured, which one was chosen.

One table per device, backend, width, precision and Keras version: each candidate's first
epoch (with its compilation), its steady epoch, and the full-length runtime the short run
predicts (`cnnbench.trials.Trial.predicted_s`); the chosen one per path is marked.
"""

from __future__ import annotations

import json

from cnnbench import profiles
from cnnbench.report.frame import keras_of, precision_of
from cnnbench.report.grid import MISSING
from cnnbench.report.read import Run
from cnnbench.trials import Trial, describe, winners


def _asked(result: dict) -> dict:
    """The settings that differ from the plain values: the candidate as it was written."""
    impl, backend = result.get("impl", "keras"), result["backend"]
    options = profiles.options_of(impl, backend)
    settings = result.get("settings") or {}
    return {
        k: settings[k] for k, values in options.items() if settings.get(k, values[0]) != values[0]
    }


def tuning_markdown(runs: list[Run]) -> str:
    groups: dict[tuple, dict[str, Trial]] = {}
    for run in runs:
        r = run.result
        key = (
            r["device"],
            r["backend"],
            r["filters"],
            precision_of(r),
            r["epochs"],
            r["train_samples"],
            keras_of(r),
        )
        asked = _asked(r)
        trials = groups.setdefault(key, {})
        name = json.dumps([r.get("impl", "keras"), asked], sort_keys=True)
        if name not in trials:
            trials[name] = Trial(r.get("impl", "keras"), asked, asked)
        trials[name].results.append(r)
    parts = []
    several = len({key[-1] for key in groups}) > 1  # Keras versions: named when they differ
    for key, trials in sorted(groups.items()):
        device, backend, filters, precision, epochs, samples, keras = key
        chosen = winners(list(trials.values()))
        version = f", Keras {keras}" if several else ""
        parts += [
            f"#### {backend} on {device}, {filters} filters, {precision}{version} "
            f"({epochs} epochs of {samples} images)",
            "",
            "| path | settings | first epoch s | steady epoch s | predicted full run s | |",
            "|---|---|---:|---:|---:|---|",
        ]
        for trial in trials.values():
            first, steady, predicted = (
                trial.median("first_epoch_s"),
                trial.median("steady_epoch_s"),
                trial.predicted_s,
            )
            cells = [
                MISSING if value is None else f"{value:.{digits}f}"
                for value, digits in ((first, 2), (steady, 3), (predicted, 1))
            ]
            mark = "**chosen**" if chosen.get(trial.path) == trial.settings else ""
            parts.append(
                f"| {trial.path} | {describe(trial.asked)} | " + " | ".join(cells) + f" | {mark} |"
            )
        parts.append("")
    return "\n".join(parts)
