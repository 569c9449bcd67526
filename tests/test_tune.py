"""Choosing by measurement: the prediction a short run makes, and the winner per path."""

from cnnbench.trials import Trial, winners


def _trial(impl, settings, first, steady, samples=11000, failure=None):
    result = {"first_epoch_s": first, "steady_epoch_s": steady, "train_samples": samples}
    return Trial(impl, settings, settings, [result], failure)


def test_prediction_is_compilation_plus_ten_full_epochs():
    trial = _trial("native", {"loop": "scan"}, first=3.0, steady=1.0)
    assert trial.predicted_s == 2.0 + 10 * 1.0 * 55000 / 11000


def test_the_fastest_prediction_wins_per_path_and_failures_never_do():
    trials = [
        _trial("native", {"loop": "step"}, 2.0, 1.0),
        _trial("native", {"loop": "scan"}, 8.0, 0.1),  # slow to compile, fast after
        _trial("native", {"loop": "graph"}, 0.1, 0.01, failure="RuntimeError"),
        _trial("keras", {}, 2.0, 2.0),
    ]
    assert winners(trials) == {"native": {"loop": "scan"}, "keras-tuned": {}}
