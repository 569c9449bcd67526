"""The benchmark suite's session from its options: everything `benchmarks/conftest.py`
does that is not pytest's. The options checked (each run's own checks too), the device
found, the outputs checked, the sweep built, the plan cut to this session's shard.

    started = suite.start(values, backend, results_opt=..., json_opt=..., resume=..., ...)
    started.sweep, started.runs, started.notes, started.values   # the options resolved

Every refusal is a `SuiteError`: one line, naming the option, before anything trains
(the conftest turns it into pytest's usage error).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cnnbench import estimate, experiment, plan, request, results
from cnnbench.backend import BACKENDS, DeviceError, kind_of, machine_info, resolve_device
from cnnbench.errors import DataError, PathError
from cnnbench.files import check_writable, same_file
from cnnbench.precision import effective
from cnnbench.records import RunConfig
from cnnbench.sweep import Sweep, commit


class SuiteError(Exception):
    """A suite that cannot run as asked: one line, nothing run."""


@dataclass
class Started:
    sweep: Sweep
    runs: list  # this session's share of the plan, in plan order
    notes: list[str]
    values: dict  # every option resolved for this kind of device
    data: object = field(default=None)  # MNIST, loaded and verified (unless `load` is off)


def _checked(check: Callable, *args, **kwargs):
    """`check(...)`, its complaint as a SuiteError."""
    try:
        return check(*args, **kwargs)
    except (ValueError, PathError, results.ResultsError) as err:
        raise SuiteError(str(err)) from None


def output_options() -> list[tuple[tuple[str, ...], dict]]:
    """The suite's options beside the sweep's (`request.option_specs`): where runs go."""
    where = results.default_path("<backend>", "<cpu|gpu>")
    return [
        (("--results",), {"default": None, "metavar": "PATH",
                          "help": f"JSONL of finished runs, appended as each finishes "
                                  f"(default: {where})"}),
        (("--resume",), {"action": "store_true",
                         "help": "skip runs the results file already holds"}),
    ]


def path_of(value) -> Path | None:
    """An output option's path: pytest-benchmark before 5.3 gives `--benchmark-json` open."""
    if value is None:
        return None
    return Path(value.name if hasattr(value, "write") else value)


def backend_of(environ: Mapping[str, str]) -> str:
    backend = environ.get("KERAS_BACKEND") or "tensorflow"
    if backend not in BACKENDS:
        raise SuiteError(f"KERAS_BACKEND={backend!r}: expected one of {', '.join(BACKENDS)}")
    return backend


def spec(values: Mapping, backend: str, kind: str) -> tuple[dict, plan.Spec]:
    """The options resolved for this kind of device and the plan's Spec; each run's own
    checks at the first and last round's seed."""
    values = request.resolve(dict(values), kind)
    _checked(request.check_runs, values)
    choices = _checked(request.read_choices, values["choices"])
    found = _checked(request.spec, values, backend, kind, choices)
    if backend not in found.backends:
        raise SuiteError(
            f"--plan-backends {values['plan_backends']}: must hold this session's "
            f"KERAS_BACKEND={backend}"
        )
    _checked(request.check_choices, choices, found.backends)
    return values, found


def _fits(backend: str, kind: str, device: str, filters, subset) -> None:
    """The widest run must fit in the device's memory: refuse the sweep, not each run."""
    from cnnbench.train import memory_problem

    widest = _checked(RunConfig, filters=max(filters), train_subset=subset, device=device)
    problem = memory_problem(widest, backend, kind)
    if problem:
        raise SuiteError(f"--filters {max(filters)}: {problem}; nothing was run")


def outputs(results_opt: Path | None, json_opt: Path | None, backend: str, kind: str) -> Path:
    """The results file (created by the first append) and the JSON, checked up front: both
    writable, neither the other, the results file holding only results."""
    path = results_opt or results.default_path(backend, kind)
    _checked(check_writable, path, "--results")
    _checked(results.check_file, path, "--results")
    if json_opt is not None:
        _checked(check_writable, json_opt, "--benchmark-json")
        if same_file(json_opt, path):
            raise SuiteError(
                f"--results and --benchmark-json name one file ({path}): pytest-benchmark "
                "would overwrite the runs"
            )
    return path


def start(
    values: Mapping,
    backend: str,
    *,
    results_opt: Path | None,
    json_opt: Path | None,
    resume: bool,
    root: Path,
    write: Callable[[str], None],
    load: bool = True,
) -> Started:
    """The sweep of this session (the backend imported, the device found) and its runs."""
    device = values.get("device") or "auto"
    try:
        device_name = resolve_device(backend, device)
    except DeviceError:
        raise SuiteError(
            f"--device gpu: the {backend} backend sees no GPU; nothing was run"
        ) from None
    kind = kind_of(device_name)
    values, found = spec(values, backend, kind)
    results_path = outputs(results_opt, json_opt, backend, kind)
    subset = values["train_subset"]
    _fits(backend, kind, device, found.filters, subset)
    machine = machine_info(backend, device_name)
    # CNNBENCH_COMMIT, when set, names the commit of a copied tree whose .git may be stale
    machine["commit"] = os.environ.get("CNNBENCH_COMMIT") or commit(root)
    sweep = Sweep(
        backend=backend,
        device=device,
        device_name=device_name,
        machine=machine,
        results_path=results_path,
        precision=effective(values["precision"], kind),
        epochs=values["epochs"],
        train_subset=subset,
        seed=values["seed"],
        rounds=found.rounds,
        resume=resume,
        variants=list(found.variants),
        choices=dict(found.choices),
        write=write,
    )
    sweep.sweep_id = plan.sweep_id(
        found, epochs=sweep.epochs, train_subset=subset, precision=sweep.precision,
        seed=sweep.seed,
    )  # fmt: skip
    sweep.shard = "{}/{}".format(*found.shard)
    images = sweep.epochs * (subset or experiment.TRAIN_SIZE)
    cost = estimate.balancing(kind, sweep.precision, images)
    whole = plan.plan(found)
    runs = [r for r in plan.shard(whole, *found.shard, cost) if r.backend == backend]
    notes = plan.notes(found)
    if found.shard != (1, 1):
        share = plan.hours(plan.makespan(whole, found.shard[1], cost))
        notes.append(
            f"shard {found.shard[0]}/{found.shard[1]} of a {len(whole)}-run plan "
            f"(longest shard about {share} by the published rates)"
        )
    data = None
    if load:  # MNIST, once, before anything trains
        from cnnbench.data import load as load_mnist

        try:
            data = load_mnist()
        except DataError as err:
            raise SuiteError(f"MNIST: {err}") from None
    return Started(sweep, runs, notes, values, data)


def check_timing(disabled: bool, cprofile: bool) -> None:
    """pytest-benchmark must time and call `teardown` (where a run is checked and
    recorded): disabled (--benchmark-disable, xdist) it trains and records nothing;
    --benchmark-cprofile would train every run a second time."""
    if disabled:
        raise SuiteError(
            "pytest-benchmark is disabled (--benchmark-disable, or xdist's -n): a run "
            "would train and never be recorded; nothing was run"
        )
    if cprofile:
        raise SuiteError(
            "--benchmark-cprofile trains every run twice; profile one run with "
            "`python -m cProfile -m cnnbench run` instead"
        )


def header(sweep: Sweep, data, notes: list[str]) -> list[str]:
    """pytest's report header: what this session times, where, and the plan's notes."""
    return [
        f"cnnbench: backend {sweep.backend} on {sweep.device_name} (--device {sweep.device}), "
        f"precision {sweep.precision}, epochs {sweep.epochs}, train subset "
        f"{sweep.train_subset or 'all'}, rounds {sweep.rounds}, results {sweep.results_path}"
        f"{' (resume)' if sweep.resume else ''}",
        *([f"cnnbench: MNIST from {data.source}"] if data is not None else []),
        *(f"cnnbench: {note}" for note in notes),
    ]


def interrupted(sweep: Sweep, done: int, args: list[str]) -> str:
    """After a Ctrl-C: what is on file and the command that finishes the sweep."""
    import shlex

    again = shlex.join(["pytest", *args, *([] if "--resume" in args else ["--resume"])])
    return (
        f"cnnbench: interrupted; {done} of this session's runs are on file in "
        f"{sweep.results_path}; to finish: KERAS_BACKEND={sweep.backend} {again}"
    )
