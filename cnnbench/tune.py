"""Choose how a path runs by measurement: time each candidate setting, keep the fastest.

    python -m cnnbench tune --backend jax --device gpu --impl keras,native --filters 64 \\
        --epochs 3 --train-subset 11000 [--rounds 2] [--write-choices choices.json]

Each candidate (`cnnbench.profiles.CANDIDATES`) trains the same short run, round by
round after one untimed warm-up; a candidate that fails (an error, or a run that did not
learn) cannot win. The score is the full-length runtime the short run predicts: its
compilation (first epoch less a steady one) plus ten full steady epochs. The winner of
each path is what `tuned` (Keras) or native should use on this backend and device:
`--write-choices` saves them for a benchmark session's `--choices`, and the figures
belong in docs/tuning.md with the choice in `cnnbench.profiles`.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable

from rich.markup import escape
from rich.table import Table

from cnnbench import checks, profiles
from cnnbench.experiment import WARMUP_SAMPLES
from cnnbench.records import RunConfig
from cnnbench.trials import Trial, describe, winners


def tune(
    base: RunConfig,
    backend: str,
    kind: str,
    impls: list[str],
    data,
    rounds: int = 1,
    write: Callable[[str], None] = print,
    record: Callable[[dict], None] = lambda result: None,
) -> list[Trial]:
    """Time every candidate of each path in `impls`; round by round, after a warm-up."""
    from cnnbench.train import run

    trials = []
    for impl in impls:
        for settings in profiles.CANDIDATES[(impl, backend, kind)]:
            refused = profiles.refused_here(impl, backend, settings)
            if refused:  # a candidate this Keras cannot run is said, not timed
                write(f"tune: {impl} {describe(settings)}: not timed: {refused}")
                continue
            trials.append(Trial(impl, settings, profiles.check(impl, backend, settings)))
    warmup = dataclasses.replace(base, epochs=1, train_subset=WARMUP_SAMPLES, impl=trials[0].impl)
    run(dataclasses.replace(warmup, settings=trials[0].settings), data)
    for round_ in range(rounds):
        for trial in trials:
            if trial.failure:
                continue
            config = dataclasses.replace(
                base,
                impl=trial.impl,
                profile="tuned",
                settings=trial.settings,
                seed=base.seed + round_,
            )
            label = f"{trial.impl} {describe(trial.asked)} (round {round_})"
            try:
                result = run(config, data).to_dict()
            except Exception as err:  # a candidate that cannot run here loses, it does not stop
                trial.failure = f"{type(err).__name__}: {err}".splitlines()[0][:200]
                write(f"tune: {label}: failed: {trial.failure}")
                write(traceback.format_exc(limit=-3))
                continue
            found = checks.problems(result)
            if found:
                trial.failure = "; ".join(found)
            trial.results.append(result)
            record({"benchmark": "tune", "round": round_, "candidate": True, "result": result})
            write(
                f"tune: {label}: first epoch {result['first_epoch_s']:.2f} s, steady "
                f"{result['steady_epoch_s'] or float('nan'):.3f} s, runtime "
                f"{result['runtime_s']:.2f} s, val_accuracy {result['val_accuracy']:.4f}"
                + (f"  FAILED {trial.failure}" if trial.failure else "")
            )
    return trials


def table(trials: list[Trial], where: str) -> Table:
    """One row per candidate: its figures, the predicted full run, the winner marked."""
    chosen = winners(trials)
    out = Table(
        title=f"Candidates on {escape(where)}",
        caption="predicted: compilation (first epoch less a steady one) + 10 full epochs",
    )
    for header in ("path", "settings", "first epoch s", "steady epoch s", "predicted s", ""):
        out.add_column(header, justify="right" if header.endswith(" s") else "left")
    for trial in trials:
        predicted = trial.predicted_s
        steady = trial.median("steady_epoch_s")
        note = trial.failure or ("chosen" if chosen.get(trial.path) == trial.settings else "")
        out.add_row(
            trial.path,
            escape(describe(trial.asked)),
            "—" if not trial.results else f"{trial.median('first_epoch_s'):.2f}",
            "—" if steady is None else f"{steady:.3f}",
            "—" if predicted is None else f"{predicted:.1f}",
            escape(note),
        )
    return out
