"""Re-write a published pytest-benchmark JSON from its results file: one entry per cell,
every round its data (`cnnbench.cells`), the same runs, nothing re-timed.

    python tools/rejson.py reports/runs/cpu-torch.jsonl reports/runs/cpu-torch.json
    python tools/rejson.py reports/runs/h100-torch-gpu-fp32.json    # from its own runs

The JSONs of sweeps run before `cells` existed hold one entry per round (`rounds: 1`,
`stddev: 0`), which a dashboard reading pytest-benchmark JSON (github-action-benchmark,
bencher) charts as a series per round with no spread. The JSON's machine and commit
information, date and options are kept; its benchmarks are rebuilt from the results
file's runs (warm-ups and `tune` candidates left out), as a session's JSON is today.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cnnbench import cells, results
from cnnbench.files import write_atomic
from cnnbench.plan import Planned


def planned(record: dict) -> Planned:
    result = record["result"]
    test = record["benchmark"].split("[", 1)[0]
    impl = result.get("impl", "keras")
    profile = (result.get("profile") or "default") if impl == "keras" else None
    return Planned(
        result["backend"], test, (impl, profile), result["filters"],
        result["learning_rate"], record["round"],
    )  # fmt: skip


def own_records(doc: dict) -> list[dict]:
    """The runs a JSON of one entry per round holds, as results-file records."""
    return [
        {"benchmark": b["name"], "round": b["extra_info"]["round"], "result": run,
         **{k: b["extra_info"][k] for k in ("sweep", "shard") if k in b["extra_info"]}}
        for b in doc["benchmarks"]
        for run in b["extra_info"]["runs"]
    ]  # fmt: skip


def rebuilt(jsonl: Path | None, doc: dict) -> dict:
    records = results.read(jsonl) if jsonl is not None else own_records(doc)
    records = [r for r in records if not r.get("warmup") and not r.get("candidate")]
    old = doc.get("benchmarks") or [{}]
    options = old[0].get("options", {})
    first = records[0] if records else {}
    sweep = {k: first[k] for k in ("sweep", "shard") if k in first}
    runs = [(planned(r), r["result"]) for r in records]
    return {**doc, "benchmarks": cells.entries(runs, options, sweep)}


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: python tools/rejson.py [RESULTS.jsonl] BENCHMARK.json", file=sys.stderr)
        return 2
    jsonl, out = (Path(argv[0]), Path(argv[1])) if len(argv) == 2 else (None, Path(argv[0]))
    doc = json.loads(out.read_text(encoding="utf-8"))
    write_atomic(out, json.dumps(rebuilt(jsonl, doc), indent=4) + "\n")
    print(f"{out}: {len(doc['benchmarks'])} entries -> one per cell")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
