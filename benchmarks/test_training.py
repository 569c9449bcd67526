"""The report's two experiments, timed as it timed them: one whole training per run.

- `test_filters`: runtime vs width, 8..256 filters at lr 0.1 (the report's Figure 9);
- `test_learning_rate`: learning curves at 16 filters for lr 0.1 .. 0.0001 (Figures 1-4);
  its lr 0.1 run is `test_filters[16-...]`'s when the session has that one.

Each is parametrized by `variant` (`--impl`, `--profile`: Keras default/tuned, native)
and `round_` (`--rounds`; round i trains with seed + i). Each run trains a fresh model;
its parameters and accuracy are checked before the time counts (`cnnbench.checks`), and
`extra_info["runs"]` holds its full result, so the JSON alone rebuilds every table.
"""

import pytest

from cnnbench.experiment import LEARNING_RATE, LR_FILTERS


@pytest.mark.benchmark(group="filters")
def test_filters(benchmark, bench, request, filters, variant, round_):
    bench.measure(benchmark, request.node.name, variant, filters, LEARNING_RATE, round_)


def _lr_order(bench, variant, round_):
    """lr 0.1, the report's best, must end at least as accurate as lr 0.0001 (same seed)."""

    def check(result):
        def final(lr):
            if result["learning_rate"] == lr:
                return result
            return bench.sweep.finished.get((variant, LR_FILTERS, lr, round_))

        best, worst = final(LEARNING_RATE), final(0.0001)
        if best and worst and best["val_accuracy"] < worst["val_accuracy"]:
            return [
                f"lr 0.1 ended at val_accuracy {best['val_accuracy']:.4f}, below "
                f"lr 0.0001's {worst['val_accuracy']:.4f}"
            ]
        return []

    return check


@pytest.mark.benchmark(group="learning_rate")
def test_learning_rate(benchmark, bench, request, variant, learning_rate, round_):
    twin = bench.twin(variant, learning_rate, round_)
    if twin:
        pytest.skip(f"the same run as {twin}")
    check = _lr_order(bench, variant, round_)
    name = request.node.name
    bench.measure(benchmark, name, variant, LR_FILTERS, learning_rate, round_, extra=check)
