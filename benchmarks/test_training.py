"""The report's two experiments, timed as it timed them: one whole training per run.

- `test_filters`: runtime vs width, 8..256 filters at lr 0.1 (the report's Figure 9);
- `test_learning_rate`: learning curves at 16 filters for lr 0.1 .. 0.0001 (Figures 1-4);
  its lr 0.1 run is `test_filters[16-...]`'s when the session has that one.

Which runs, in which order and shard, is the plan's (`cnnbench.plan`); each benchmark's
parameters are `filters`, `path` (`keras-default`, `keras-tuned`, `native`),
`learning_rate` and `round_` (round i trains with seed + i). Each run trains a fresh
model; its parameters and accuracy are checked before the time counts
(`cnnbench.checks`), and `extra_info["runs"]` holds its full result, so the JSON alone
rebuilds every table.
"""

import pytest

from cnnbench.experiment import LEARNING_RATE, LR_FILTERS


@pytest.mark.benchmark(group="filters")
def test_filters(benchmark, bench, request, filters, path, learning_rate, round_):
    bench.measure(benchmark, bench.planned(request.node.name))


def _lr_order(bench, run):
    """lr 0.1, the report's best, must end at least as accurate as lr 0.0001 (same seed)."""

    def check(result):
        def final(lr):
            if result["learning_rate"] == lr:
                return result
            return bench.sweep.finished.get((run.variant, LR_FILTERS, lr, run.round))

        best, worst = final(LEARNING_RATE), final(0.0001)
        if best and worst and best["val_accuracy"] < worst["val_accuracy"]:
            return [
                f"lr 0.1 ended at val_accuracy {best['val_accuracy']:.4f}, below "
                f"lr 0.0001's {worst['val_accuracy']:.4f}"
            ]
        return []

    return check


@pytest.mark.benchmark(group="learning_rate")
def test_learning_rate(benchmark, bench, request, filters, path, learning_rate, round_):
    run = bench.planned(request.node.name)
    bench.measure(benchmark, run, extra=_lr_order(bench, run))
