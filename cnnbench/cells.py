"""pytest-benchmark's JSON as its users read it: one entry per cell, every round its data.

The suite times each round as its own benchmark (round by round, so a shared machine's
drift hits every cell alike), which leaves pytest-benchmark one round per entry and no
spread. At the end of a session, `entries` rebuilds the JSON's benchmarks from the runs
themselves: one entry per cell (backend, device, precision, length, experiment, path,
width, learning rate) holding every round's runtime as `stats.data`, with
pytest-benchmark's own statistics over them, scalar `params`, and a name that carries
what makes two timings comparable, so `pytest-benchmark compare --group-by param:filters`
never pairs two backends or two lengths. A resumed session's JSON holds the runs already
on file too: the JSON is the whole sweep, as the results file is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cnnbench.plan import Planned
from cnnbench.records import variant_id


def cell_name(run: Planned, result: Mapping) -> str:
    """`test_filters[jax-cpu-fp32-10x55000-16-keras-default]`: what makes two timings one
    benchmark, and nothing that varies between rounds."""
    length = f"{result['epochs']}x{result['train_samples']}"
    device = str(result["device"]).replace(" ", "_")
    where = f"{result['backend']}-{device}-{result['precision']}-{length}"
    what = f"{run.filters}-{variant_id(*run.variant)}"
    if run.test == "test_learning_rate":
        what += f"-lr{run.learning_rate:g}"
    return f"{run.test}[{where}-{what}]"


def entries(
    runs: Iterable[tuple[Planned, dict]],
    options: Mapping,
    sweep: Mapping,
    timed: Mapping[str, float] | None = None,
) -> list[dict]:
    """The JSON's `benchmarks`: one entry per cell, rounds in order. A round's time is what
    pytest-benchmark measured in this session (`timed`: benchmark name -> seconds), else,
    for a round on file from an earlier session, its recorded `runtime_s` (the same timed
    region, measured inside it)."""
    timed = timed or {}
    from pytest_benchmark.stats import Stats

    cells: dict[str, list[tuple[Planned, dict]]] = {}
    for run, result in sorted(runs, key=lambda pair: pair[0].round):
        cells.setdefault(cell_name(run, result), []).append((run, result))
    out = []
    for name, rounds in cells.items():
        run, first = rounds[0]
        stats = Stats()
        for round_run, result in rounds:
            stats.update(timed.get(round_run.name, result["runtime_s"]))
        timing = {**stats.as_dict(), "data": list(stats.data), "iterations": 1}
        params = {
            "backend": first["backend"],
            "device": first["device"],
            "precision": first["precision"],
            "epochs": first["epochs"],
            "train_samples": first["train_samples"],
            "filters": run.filters,
            "path": variant_id(*run.variant),
            "learning_rate": run.learning_rate,
        }
        out.append(
            {
                "group": "filters" if run.test == "test_filters" else "learning_rate",
                "name": name,
                "fullname": f"benchmarks/test_training.py::{name}",
                "params": params,
                "param": name[name.index("[") + 1 : -1],
                "extra_info": {
                    "rounds": [r.round for r, _ in rounds],
                    "timed_now": [r.name in timed for r, _ in rounds],
                    "runs": [result for _, result in rounds],
                    **sweep,
                },
                "options": dict(options),
                "stats": timing,
            }
        )
    return out


def table(cell_entries: Iterable[Mapping]) -> list[tuple[str, list[dict]]]:
    """pytest-benchmark's terminal table from `entries`: (group, rows), a row per cell with
    its rounds, as its `pytest_benchmark_group_stats` hook returns them."""
    groups: dict[str, list[dict]] = {}
    for entry in cell_entries:
        row = {key: value for key, value in entry["stats"].items() if key != "data"}
        row.update({key: entry[key] for key in ("name", "fullname", "group", "param", "params")})
        groups.setdefault(entry["group"], []).append({**row, "path": None, "source": None})
    return sorted(groups.items())


def timed_now(benchmarks: Iterable) -> dict[str, float]:
    """pytest-benchmark's benchmarks of this session: name -> its one round's seconds."""
    return {b.name: b.stats.data[0] for b in benchmarks if b.stats}
