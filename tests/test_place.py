"""The placement's arithmetic on the published rates: a probe's steady epoch scaled to a full
one, its ratio to the published machine, each published cell predicted with an interval."""

import json
from pathlib import Path

import pytest

from cnnbench import place
from cnnbench.analytic import forward_flops_per_sample, train_flops_per_sample
from cnnbench.cli import main
from cnnbench.estimate import published
from cnnbench.place_cli import published_cells, validation
from cnnbench.report.headline import block

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_probe_epoch_scales_to_a_full_one_by_flops():
    train, forward = train_flops_per_sample(8), forward_flops_per_sample(8)
    full = 55000 * train + 5000 * forward
    probe = 11000 * train + 5000 * forward
    assert place.full_epoch(2.0, 8, 11000) == pytest.approx(2.0 * full / probe)
    assert place.full_epoch(3.0, 8, 55000) == pytest.approx(3.0)  # a full epoch is itself


def _probe_like_published(backend, path, filters, factor):
    """A probe whose full epoch is `factor` times the published machine's."""
    rate = published()[(backend, "cpu", path, "fp32")][filters]
    return place.Probe(backend, path, filters, rate * 55000 * factor)


def test_a_machine_twice_as_slow_is_predicted_twice_as_slow_within_its_interval():
    probes = [
        _probe_like_published("tensorflow", path, f, 2.0)
        for path in ("keras default", "native")
        for f in place.PROBE_WIDTHS
    ]
    measured = place.ratios(probes, "cpu")
    assert list(measured.values()) == pytest.approx([2.0] * 4)
    cells = {("tensorflow", "native", 64): 140.0, ("tensorflow", "keras tuned", 16): 40.0}
    cells[("jax", "native", 8)] = 52.0  # no jax probe: no prediction
    predictions = {(p.backend, p.path, p.filters): p for p in place.predict(measured, cells)}
    assert set(predictions) == {("tensorflow", "native", 64), ("tensorflow", "keras tuned", 16)}
    native = predictions[("tensorflow", "native", 64)]
    assert native.predicted_s == pytest.approx(280.0)  # from the nearest probe (32 filters)
    low, high = 280.0 * (1 - place.DRIFT), 280.0 * (1 + place.DRIFT)
    assert native.low_s == pytest.approx(low) and native.high_s == pytest.approx(high)
    assert predictions[("tensorflow", "keras tuned", 16)].ratio == pytest.approx(2.0)
    assert place.standing(predictions.values()) == {"tensorflow": pytest.approx(2.0)}


def test_the_error_is_measured_against_full_length_runs():
    prediction = place.Prediction("torch", "native", 8, 27.0, 30.0, 25.0, 35.0, 1.1)
    text = place.error_markdown([prediction], {("torch", "native", 8): 25.0})
    assert "| torch | native | 8 | 30.0 (25–35) | 25.0 | +20.0% | yes |" in text
    assert "Median absolute error 20.0% over 1 cells; the worst 20.0%" in text
    assert place.error_markdown([prediction], {}).startswith("No full-length run")


def _placement(folder, probes, cells):
    folder.mkdir(exist_ok=True)
    payload = {"probes": [p.__dict__ for p in probes], "cells": [p.__dict__ for p in cells]}
    (folder / "place.json").write_text(json.dumps(payload))


def _torch_placement(folder, factor=1.1):
    """A placement whose torch probes ran `factor` times the published machine's time."""
    probes = [
        _probe_like_published("torch", path, f, factor)
        for path in ("keras default", "native")
        for f in place.PROBE_WIDTHS
    ]
    predictions = place.predict(place.ratios(probes, "cpu"), published_cells("cpu"))
    _placement(folder, probes, predictions)
    return {(p.backend, p.path, p.filters): p for p in predictions}


def test_a_saved_placement_is_checked_against_the_full_length_runs_beside_it(tmp_path, capsys):
    folder = tmp_path / "placement"
    predicted = _torch_placement(folder)
    runs = (FIXTURES / "matrix.jsonl").read_text().splitlines()[:5]  # one machine's torch cells
    (folder / "full-torch.jsonl").write_text("\n".join(runs) + "\n")
    doc = tmp_path / "place.md"
    doc.write_text(
        "# Place\n<!-- cnnbench:place-error:start -->\nold\n<!-- cnnbench:place-error:end -->\n"
    )
    assert main(["place", "--check", str(folder), "--doc", str(doc)]) == 0
    text = doc.read_text()
    native = predicted[("torch", "native", 16)]  # measured: 14.0 s
    assert native.predicted_s == pytest.approx(
        published_cells("cpu")[("torch", "native", 16)] * 1.1
    )
    assert (
        f"| torch | native | 16 | {native.predicted_s:.1f} ({native.low_s:.0f}–{native.high_s:.0f})"
        f" | 14.0 | {(native.predicted_s / 14.0 - 1) * 100:+.1f}% |" in text
    )
    rows = [line for line in text.splitlines() if line.startswith("| torch |")]
    assert len(rows) == 4  # native and Keras default at 8 and 16; the Keras loop predicts nothing
    assert "over 4 cells" in text and "old" not in text and "jax" not in text
    assert capsys.readouterr().out.count("| torch |") == 4


def test_a_placement_that_no_longer_predicts_what_it_printed_is_refused(tmp_path, capsys):
    folder = tmp_path / "placement"
    _torch_placement(folder)
    saved = json.loads((folder / "place.json").read_text())
    saved["cells"][0]["predicted_s"] *= 1.01  # printed against other published runs
    (folder / "place.json").write_text(json.dumps(saved))
    assert main(["place", "--check", str(folder)]) == 2
    assert "no longer predict what it printed" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["place", "--check", "{tmp}/none"], "none/place.json: cannot read (No such file"),
        (["place", "--check", "{tmp}/empty"], "empty: no full-length runs (*.jsonl)"),
        (["place", "--doc", "{tmp}/place.md"], "--doc renders a --check"),
        (["place", "--check", "{tmp}/empty", "--doc", "{tmp}/bare.md"], "needs one <!-- cnnbench:"),
    ],
)
def test_bad_placement_checks_give_one_line_and_exit_2(argv, message, tmp_path, capsys):
    _torch_placement(tmp_path / "empty")
    (tmp_path / "bare.md").write_text("no markers\n")
    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert (tmp_path / "bare.md").read_text() == "no markers\n"


def test_the_published_placement_check_is_rendered_from_its_committed_runs():
    """docs/place.md's table is what `place --check reports/placement` computes from the
    committed placement and full-length runs."""
    root = Path(__file__).parents[1]
    text, start, end = block(root / "docs" / "place.md", "place-error")
    assert text[start:end].strip() == validation(root / "reports" / "placement").strip()
    assert "over 12 cells" in text[start:end]  # a narrow and a wide width, two paths, each backend


def _no_probing(monkeypatch):
    import cnnbench.place_cli as place_cli

    def probed(*args, **kwargs):
        raise AssertionError("probed before the arguments were checked")

    monkeypatch.setattr(place_cli.subprocess, "run", probed)
    return place_cli


def test_an_unwritable_json_path_is_refused_before_any_probe(tmp_path, monkeypatch, capsys):
    _no_probing(monkeypatch)
    (tmp_path / "file").write_text("")
    assert main(["place", "--backends", "torch", "--json", str(tmp_path / "file" / "p.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--json" in err and "cannot write there" in err


def test_a_gpu_placement_without_a_gpu_is_refused_before_any_probe(monkeypatch, capsys):
    place_cli = _no_probing(monkeypatch)
    monkeypatch.setattr(place_cli, "gpu_driver", lambda: None)
    assert main(["place", "--device", "gpu", "--backends", "torch"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "shows no GPU" in err


def test_a_placement_whose_probes_all_failed_writes_nothing(tmp_path, monkeypatch, capsys):
    import subprocess

    import cnnbench.place_cli as place_cli

    failed = subprocess.CompletedProcess([], 1, "", "RuntimeError: no device\n")
    monkeypatch.setattr(place_cli.subprocess, "run", lambda *a, **k: failed)
    out = tmp_path / "place.json"
    assert main(["place", "--backends", "torch,jax", "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no backend's probes ran" in err and not out.exists()


def test_the_machines_standing_is_the_median_of_its_ratios():
    made = [place.Prediction("torch", "native", f, 1.0, r, r, r, r) for f, r in
            ((8, 1.0), (16, 1.1), (32, 3.0))]  # fmt: skip
    assert place.standing(made) == {"torch": 1.1}  # not the mean (1.7), not the worst


def test_a_short_run_in_the_check_folder_is_not_taken_for_a_full_one(tmp_path, capsys):
    folder = tmp_path / "placement"
    _torch_placement(folder)
    runs = [json.loads(line) for line in (FIXTURES / "matrix.jsonl").read_text().splitlines()[:5]]
    native16 = next(
        r for r in runs if r["result"]["filters"] == 16 and r["result"]["impl"] == "native"
    )
    short = json.loads(json.dumps(native16))
    short["benchmark"] = native16["benchmark"].replace("-r0]", "-r9]")
    short["round"] = 9
    result = short["result"]
    result.update(epochs=2, runtime_s=3.0, seed=9)
    result["history"] = {key: values[:2] for key, values in result["history"].items()}
    for key in ("val_accuracy", "val_loss"):
        result[key] = result["history"][key][-1]
    lines = [json.dumps(r) for r in (*runs, short)]
    (folder / "full-torch.jsonl").write_text("\n".join(lines) + "\n")
    text = validation(folder, "cpu")
    row = next(line for line in text.splitlines() if line.startswith("| torch | native | 16 |"))
    assert "| 14.0 |" in row  # the full-length run's seconds, the 2-epoch run's left out
