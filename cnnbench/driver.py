"""The one writer of a distributed sweep's or block's results file (`cnnbench.engine`):
each record streamed back from a shard or replicate is appended unless the file already
holds that round of that cell (of that block), measured on the same kind of machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cnnbench import results
from cnnbench.backend import MACHINE_KEYS


def round_key(record: dict) -> str | None:
    """What makes two records the same round of the same cell on the same kind of machine
    (warm-ups: never): another CPU's round is not this one's, whatever its settings, and
    another block's (a replicate on a machine of the same class) is not this block's."""
    if record.get("warmup"):
        return None
    machine = record.get("machine") if isinstance(record.get("machine"), dict) else {}
    where = [machine.get(key) for key in MACHINE_KEYS]
    block = record.get("block") if isinstance(record.get("block"), dict) else {}
    return json.dumps(
        [record.get("benchmark"), results.settings_key(record["result"]), where,
         block.get("id")], sort_keys=True
    )


@dataclass
class Driver:
    """The one writer of the results file: appends each streamed record it lacks."""

    results_path: Path
    write: Callable[[str], None] = print
    seen: set = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.results_path.exists():
            for record in results.read(self.results_path, allow_torn_tail=True):
                self.seen.add(round_key(record))

    def on_file(self) -> list[dict]:
        if not self.results_path.exists():
            return []
        return results.read(self.results_path, allow_torn_tail=True)

    def take(self, record: dict) -> bool:
        key = round_key(record)
        if key is not None and key in self.seen:
            return False
        results.append(self.results_path, record)
        self.seen.add(key)
        return True
