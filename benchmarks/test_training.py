"""The 2017 report's two experiments, timed as it timed them: one whole training.

- `test_filters`: runtime vs width, 8..256 filters at lr 0.1 (the report's Figure 9);
- `test_learning_rate`: learning curves at 16 filters for lr 0.1 .. 0.0001 (Figures 1-4).

Each is parametrized by `variant` (`--impl`, `--profile`: Keras default/tuned, native).
Each round trains a fresh model. Its parameters and accuracy are checked before the
time counts (`cnnbench.checks`); `extra_info["runs"]` holds every round's full result,
so the JSON alone rebuilds every table and figure.
"""

import pytest


@pytest.mark.benchmark(group="filters")
def test_filters(benchmark, bench, request, variant, filters):
    bench.measure(benchmark, request.node.name, variant, filters, 0.1)


def _lr_order(bench, variant):
    """lr 0.1, the report's best, must end at least as accurate as lr 0.0001."""

    def check(result):
        best = bench.finished.get((variant, 16, 0.1))
        worst = bench.finished.get((variant, 16, 0.0001))
        if result["learning_rate"] == 0.1:
            best = [result]
        if result["learning_rate"] == 0.0001:
            worst = [result]
        if best and worst and best[-1]["val_accuracy"] < worst[-1]["val_accuracy"]:
            return [
                f"lr 0.1 ended at val_accuracy {best[-1]['val_accuracy']:.4f}, below "
                f"lr 0.0001's {worst[-1]['val_accuracy']:.4f}"
            ]
        return []

    return check


@pytest.mark.benchmark(group="learning_rate")
def test_learning_rate(benchmark, bench, request, variant, learning_rate):
    check = _lr_order(bench, variant)
    bench.measure(benchmark, request.node.name, variant, 16, learning_rate, extra_check=check)
