"""The report on small committed fixtures: two short real sweeps (jax, torch; 8 and 16
filters, lr 0.1 and 0.01, Keras default and native, 2 epochs of 2000 images, 2 rounds),
rendered with a recording console."""

import json
import shutil
import statistics
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from cnnbench.report import cli
from cnnbench.report.frame import TARGETS, frame, one_run_per_round
from cnnbench.report.grid import row_labels
from cnnbench.report.headline import verdict_markdown
from cnnbench.report.read import ReportError, load
from cnnbench.report.tables import tables
from cnnbench.report.versions import versions

FIXTURES = Path(__file__).parent / "fixtures"
JAX, TORCH, TORCH_LINES = (
    FIXTURES / n for n in ("jax-cpu.json", "torch-cpu.json", "torch-cpu.jsonl")
)


def _render(*args, width=100):
    console = Console(record=True, width=width, color_system=None)
    code = cli.main([str(a) for a in args], console=console)
    return code, console.export_text()


def _runs(path):
    doc = json.loads(Path(path).read_text())
    return {b["name"]: b["extra_info"]["runs"][0] for b in doc["benchmarks"]}


def _rows(text: str, start: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip().startswith(start)]


def test_the_runtime_table_fits_100_columns_with_every_median(tmp_path):
    code, text = _render(JAX, TORCH, "--out", tmp_path)
    assert code == 0
    assert "…" not in text and max(map(len, text.splitlines())) <= 100
    runs = _runs(JAX)
    for filters in (8, 16):
        times = [runs[f"test_filters[{filters}-keras-default-r{r}]"]["runtime_s"] for r in (0, 1)]
        median = statistics.median(times)
        half = (max(times) - min(times)) / 2 / median * 100
        text_cell = f"{median:.1f} ±{half:.0f}%" if median >= 1 else f"{median:.2f} ±{half:.0f}%"
        assert text_cell in text
    assert "parameters" in text and "52,258" in text and "104,250" in text
    assert "2017 report" not in text  # shortened runs are never set against the 2017 ones


def test_every_table_is_there_and_summary_lines_stay_short(tmp_path):
    code, text = _render(JAX, TORCH, "--out", tmp_path, "--table", "all")
    assert code == 0
    for title in (
        "Runtime, seconds",
        "Seconds per steady epoch",
        "Validation accuracy / test error",
        "Seconds to 0.98 validation accuracy",
        "Keras over native",
        "Distance to the limit",
        "Peak host memory",
        "Learning rate at 16 filters",
    ):
        assert title in text, title
    summary = (tmp_path / "summary.md").read_text()
    assert max(map(len, summary.splitlines())) <= 200
    assert "| jax · cpu · keras default |" in summary and "n=2" in summary
    assert "× limit" in summary


def test_results_csv_has_one_row_per_run(tmp_path):
    import pandas as pd

    _render(JAX, TORCH, "--out", tmp_path)
    table = pd.read_csv(tmp_path / "results.csv")
    benchmarks = sum(len(json.loads(p.read_text())["benchmarks"]) for p in (JAX, TORCH))
    assert len(table) == len(load([str(JAX), str(TORCH)]).runs) == benchmarks
    assert {"runtime_s", "seed", "precision", "machine", "x_limit"} <= set(table.columns)
    assert sorted(set(table["seed"])) == [0, 1]


def test_figures_are_written(tmp_path):
    _render(JAX, TORCH, "--out", tmp_path)
    suffix = "-2ep-2000img-b50.png"
    for stem in (
        "runtime_vs_filters",
        "keras_overhead",
        "learning_curves",
        "throughput_vs_filters",
    ):
        png = (tmp_path / f"{stem}{suffix}").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000, stem
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_the_default_out_is_not_the_published_reports(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _ = _render(JAX)
    assert code == 0 and (tmp_path / "cnnbench-report" / "summary.md").exists()
    assert cli.DEFAULT_OUT != "reports"


def _with(path: Path, tmp_path: Path, change) -> Path:
    doc = json.loads(path.read_text())
    change(doc)
    target = tmp_path / path.name
    target.write_text(json.dumps(doc))
    return target


def _each_run(change):
    def apply(doc):
        for bench in doc["benchmarks"]:
            for run in bench["extra_info"]["runs"]:
                change(run)
        return doc

    return apply


def test_two_machines_never_share_a_median(tmp_path):
    def elsewhere(doc):
        doc["machine_info"]["cnnbench"]["cpu_model"] = "Other CPU [fast]"
        _each_run(lambda run: run.update(runtime_s=run["runtime_s"] * 2))(doc)

    other = _with(JAX, tmp_path, elsewhere)
    code, text = _render(JAX, other, "--out", tmp_path / "out", width=200)
    assert code == 0
    model = json.loads(JAX.read_text())["machine_info"]["cnnbench"]["cpu_model"]
    assert _rows(text, f"jax · {model} ×2 · keras default")
    assert _rows(text, "jax · Other CPU [fast] ×2 · keras default")  # brackets survive rich
    assert not _rows(text, "jax · cpu · keras default")


def test_two_precisions_are_two_rows(tmp_path):
    other = _with(JAX, tmp_path, _each_run(lambda run: run.update(precision="bf16")))
    _, text = _render(JAX, other, "--out", tmp_path / "out")
    assert _rows(text, "jax · cpu · keras default · fp32")
    assert _rows(text, "jax · cpu · keras default · bf16")


def test_precision_is_named_where_a_device_holds_more_than_fp32():
    keys = [
        ("gpu", "H100", "jax", "native", "fp32", "3.15.1"),
        ("gpu", "H100", "jax", "native", "tf32", "3.15.1"),
        ("cpu", "Xeon ×2", "jax", "native", "fp32", "3.15.1"),
    ]
    labels = row_labels(keys)
    assert labels[keys[0]] == "jax · H100 · native · fp32"
    assert labels[keys[1]] == "jax · H100 · native · tf32"
    assert labels[keys[2]] == "jax · cpu · native"  # fp32 alone: the default, unsaid


def _keras(version: str):
    def change(doc):
        for bench in doc["benchmarks"]:
            for run in bench["extra_info"]["runs"]:
                run["versions"] = {**run.get("versions", {}), "keras": version}
                run["runtime_s"] *= 0.8 if version.startswith("3.16") else 1.0
        return doc

    return change


def test_two_keras_versions_are_two_rows_and_compared_never_pooled(tmp_path):
    newer = _with(JAX, tmp_path, _keras("3.16.0.dev2026102704"))
    (tmp_path / "old").mkdir()
    older = _with(JAX, tmp_path / "old", _keras("3.9.0"))
    _, text = _render(older, newer, "--out", tmp_path / "out", width=200)
    assert _rows(text, "jax · cpu · keras default · keras 3.9.0")
    assert _rows(text, "jax · cpu · keras default · keras 3.16.0.dev2026102704")
    data = frame(load([str(older), str(newer)]).runs)
    compared = versions(data)
    assert set(compared["base_keras"]) == {"3.9.0"}  # PEP 440: 3.9 before 3.16
    assert compared["ratio"].round(6).eq(0.8).all()
    table = next(t for t in tables(data, TARGETS) if t.name == "versions")
    assert all(r.label.endswith("keras 3.16.0.dev2026102704") for r in table.rows)


def test_the_verdict_says_what_the_newer_keras_changes_and_whether_side_by_side(tmp_path):
    newer = _with(JAX, tmp_path, _keras("3.16.0.dev2026102704"))
    (tmp_path / "old").mkdir()
    older = _with(JAX, tmp_path / "old", _keras("3.9.0"))
    data = frame(load([str(older), str(newer)]).runs)
    line = verdict_markdown(data).splitlines()[-1]
    assert line.startswith("- **Keras 3.16.0.dev2026102704 against 3.9.0** (CPU")
    assert "jax keras default 0.80×" in line and "timed apart" not in line
    later = data.assign(date=data["date"].where(data["keras"] == "3.9.0", "2031-01-01T00:00:00Z"))
    assert "timed apart, not side by side" in verdict_markdown(later).splitlines()[-1]


def test_one_keras_version_is_unsaid_and_has_no_versions_table():
    data = frame(load([str(JAX)]).runs)
    assert versions(data).empty
    assert "versions" not in {t.name for t in tables(data, TARGETS)}


def test_a_run_in_both_json_and_jsonl_counts_once():
    both = load([str(TORCH), str(TORCH_LINES)])
    lines = [line for line in TORCH_LINES.read_text().splitlines() if '"warmup"' not in line]
    assert len(both.runs) == len(load([str(TORCH)]).runs) == len(lines)


def test_a_round_measured_twice_counts_once_and_the_later_run_stands(tmp_path):
    lines = TORCH_LINES.read_text().splitlines()
    last = max(i for i, line in enumerate(lines) if '"warmup"' not in line)
    record = json.loads(lines[last])
    record["result"]["runtime_s"] = 123.456  # the same seed of the same cell, timed again
    rerun = tmp_path / "rerun.jsonl"
    rerun.write_text("\n".join([*lines, json.dumps(record)]) + "\n")
    before, _ = one_run_per_round(frame(load([str(TORCH_LINES)]).runs))
    after, notes = one_run_per_round(frame(load([str(rerun)]).runs))
    assert len(after) == len(before)
    assert 123.456 in set(after["runtime_s"])
    assert len(notes) == 1 and notes[0].endswith(f"superseded {rerun} line {last + 1}")


def test_a_torn_last_line_is_skipped_with_a_note(tmp_path):
    lines = TORCH_LINES.read_text().splitlines()
    torn = tmp_path / "torn.jsonl"
    torn.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:40])
    loaded = load([str(torn)])
    assert any("cut off mid-write" in note for note in loaded.notes)
    assert len(loaded.runs) == len([line for line in lines[:-1] if '"warmup"' not in line])


def test_the_cli_json_of_one_run_is_read(tmp_path):
    run = next(iter(_runs(JAX).values()))
    single = tmp_path / "one.json"
    single.write_text(json.dumps(run))
    loaded = load([str(single)])
    assert len(loaded.runs) == 1 and loaded.runs[0].result == run


def _first_run(lines: list[str]) -> int:
    return next(i for i, line in enumerate(lines) if '"warmup"' not in line)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("runtime_s", 0, "runtime_s is 0, expected a finite number > 0"),
        ("runtime_s", "fast", "runtime_s is 'fast'"),
        ("runtime_s", float("nan"), "runtime_s is nan"),
        ("runtime_s", -3.0, "runtime_s is -3.0"),
        ("filters", "8", "filters is '8', expected an integer in 1..1048576"),
        ("val_accuracy", None, "val_accuracy is None"),
        ("precision", "fp16", "precision is 'fp16'"),
    ],
)
def test_a_bad_value_is_named_with_its_file_and_line(tmp_path, field, value, message):
    lines = TORCH_LINES.read_text().splitlines()
    at = _first_run(lines)
    record = json.loads(lines[at])
    record["result"][field] = value
    lines[at] = json.dumps(record)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    code, _ = _render(bad, "--out", tmp_path / "out")
    assert code == 2
    with pytest.raises(ReportError, match=rf"bad.jsonl:{at + 1}: {message}".replace("(", r"\(")):
        load([str(bad)])
    assert not (tmp_path / "out").exists()  # nothing written for bad input


def test_an_incomplete_history_is_refused(tmp_path):
    lines = TORCH_LINES.read_text().splitlines()
    record = json.loads(lines[_first_run(lines)])
    record["result"]["history"]["val_accuracy"] = [0.9]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(record) + "\n")
    with pytest.raises(ReportError, match="history val_accuracy must list one value per epoch"):
        load([str(bad)])


@pytest.mark.parametrize("kind", ["folder named x.json", "broken link", "link loop"])
def test_odd_entries_in_a_folder_are_one_line(tmp_path, kind, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(TORCH_LINES, folder)
    if kind == "folder named x.json":
        (folder / "x.json").mkdir()
    elif kind == "broken link":
        (folder / "x.json").symlink_to(tmp_path / "nowhere.json")
    else:
        (folder / "x.json").symlink_to(folder / "y.json")
        (folder / "y.json").symlink_to(folder / "x.json")
    code, _ = _render(folder, "--out", tmp_path / "out")
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "x.json" in err


def test_out_pointing_at_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("")
    assert _render(JAX, "--out", target)[0] == 2
    assert "--out" in capsys.readouterr().err


def test_the_readme_headline_is_rewritten_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        "intro\n<!-- cnnbench:headline:start -->\nOLD TABLE\n<!-- cnnbench:headline:end -->\n"
    )
    code, _ = _render(JAX, "--out", tmp_path / "out", "--readme", readme)
    assert code == 0
    text = readme.read_text()
    assert text.startswith("intro\n") and "OLD TABLE" not in text
    assert "No full-length runs yet." in text  # the fixtures are shortened runs


def test_python_m_cnnbench_report_is_the_same_command(tmp_path):
    from cnnbench.cli import main

    assert main(["report", str(JAX), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "summary.md").exists()


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_damaged_inputs_give_runs_or_one_error(tmp_path, draw):
    source = draw.draw(st.sampled_from([TORCH_LINES, JAX]))
    text = bytearray(source.read_bytes())
    for _ in range(draw.draw(st.integers(1, 3))):
        at = draw.draw(st.integers(0, len(text) - 1))
        text[at] = draw.draw(st.sampled_from(b'0123456789.-e"{}[],:nul \n'))
    damaged = tmp_path / source.name
    damaged.write_bytes(bytes(text))
    try:
        loaded = load([str(damaged)])
    except ReportError as err:
        assert "\n" not in str(err)
    else:
        assert tables(frame(loaded.runs), TARGETS)  # and the tables render from them


def test_the_verdict_says_when_backends_were_not_timed_side_by_side():
    from cnnbench.report.headline import verdict_markdown

    data = frame(load([str(JAX), str(TORCH)]).runs)
    data["full_length"] = True
    assert "timed in separate sweeps" in verdict_markdown(data)
    together = data.assign(sweep="3f2a9c1b0d4e")  # one plan: timed side by side
    assert "separate sweeps" not in verdict_markdown(together)


def test_targets_are_checked_per_machine_never_pooled_across_two_gpus():
    """One GPU's 100 s and another's 2 s are two verdicts, not a 51 s median; a ratio
    needs both paths on the same machine."""
    import pandas as pd

    from cnnbench.report.targets import targets_markdown, targets_summary

    def run(machine, path, seconds):
        return {
            "kind": "gpu", "machine": machine, "backend": "torch", "path": path,
            "precision": "fp32", "keras": "3.15.1", "epochs": 10, "train_samples": 55000,
            "batch_size": 50, "learning_rate": 0.1, "filters": 16, "full_length": True,
            "runtime_s": seconds, "x_limit": 10.0,
        }  # fmt: skip

    data = pd.DataFrame(
        [
            run("H100", "keras loop", 100.0),
            run("H200", "keras loop", 2.0),
            run("H100", "native", 1.0),
        ]
    )
    table = targets_markdown(data)
    assert "**GPU** (H100)" in table and "**GPU** (H200)" in table
    loop = [line for line in table.splitlines() if line.startswith("| the Keras loop on PyTorch")]
    assert [line.split(" | ", 2)[2] for line in loop] == [
        "100.0 s at 16 filters | missed |",
        "2.0 s at 16 filters | met |",
    ]
    summary = targets_summary(data)
    assert "torch on H100 100.0 s at 16 filters, missed; torch on H200 2.0 s at 16" in summary


def test_keras_s_cost_is_split_from_the_sweep_that_timed_every_path_side_by_side():
    """A loop timed alone in a slower session would make the trainer's share negative;
    where one sweep timed default, loop and native, only its runs split the cost."""
    import pandas as pd

    from cnnbench.report.decompose import decomposition

    def run(path, seconds, sweep):
        return {
            "kind": "cpu", "machine": "Xeon ×2", "backend": "torch", "path": path,
            "precision": "fp32", "keras": "3.15.1", "epochs": 10, "train_samples": 55000,
            "batch_size": 50, "learning_rate": 0.1, "filters": 16, "runtime_s": seconds,
            "sweep": sweep,
        }  # fmt: skip

    apart = [
        run("keras default", 30.0, "a"),
        run("native", 10.0, "a"),
        run("keras loop", 40.0, "b"),
    ]
    row = decomposition(pd.DataFrame(apart)).iloc[0]
    assert (row["trainer"], row["together"]) == (-50.0, False)  # (30 - 40) / (30 - 10)
    together = [
        run("keras default", 33.0, "c"),
        run("keras loop", 15.0, "c"),
        run("native", 11.0, "c"),
    ]
    row = decomposition(pd.DataFrame(apart + together)).iloc[0]
    shares = (round(row["trainer"], 1), round(row["layers"], 1), row["together"])
    assert shares == (81.8, 18.2, True)  # (33 - 15) / 22 and (15 - 11) / 22: sweep c alone


def test_a_versions_cell_shows_the_newer_keras_seconds_first(tmp_path):
    newer = _with(JAX, tmp_path, _keras("3.16.0.dev2026102704"))
    (tmp_path / "old").mkdir()
    older = _with(JAX, tmp_path / "old", _keras("3.9.0"))
    data = frame(load([str(older), str(newer)]).runs)
    table = next(t for t in tables(data, TARGETS) if t.name == "versions")
    cell = next(c for r in table.rows for c in r.cells if c is not None)
    new, old = cell.long.split("(", 1)[1].split(" s vs ")
    assert float(new) < float(old.split(" s")[0])  # the newer ran 0.8x: its seconds first


def test_the_fit_settings_share_keeps_its_sign():
    """What tuning `fit` saves is default - tuned: positive when tuned is faster, negative
    when the tuned settings made it slower; the three shares always add up to 100."""
    import pandas as pd

    from cnnbench.report.decompose import decomposition

    def runs(tuned):
        base = {"kind": "cpu", "machine": "Xeon ×2", "backend": "torch", "precision": "fp32",
                "keras": "3.15.1", "epochs": 10, "train_samples": 55000, "batch_size": 50,
                "learning_rate": 0.1, "filters": 16, "sweep": "s"}  # fmt: skip
        times = {"keras default": 33.0, "keras tuned": tuned, "keras loop": 15.0, "native": 11.0}
        return pd.DataFrame([{**base, "path": p, "runtime_s": t} for p, t in times.items()])

    faster = decomposition(runs(27.0)).iloc[0]
    assert round(faster["settings"], 1) == 27.3  # (33 - 27) / (33 - 11)
    slower = decomposition(runs(35.0)).iloc[0]
    assert round(slower["settings"], 1) == -9.1  # (33 - 35) / 22
    assert round(slower["settings"] + slower["trainer"] + slower["layers"], 6) == 100
