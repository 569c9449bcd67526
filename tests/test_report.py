"""The report on small committed fixtures: two short real sweeps (jax, torch; 8 and 16
filters, lr 0.1 and 0.01, 2 epochs on 2000 images, 2 rounds), trimmed of CPU flags."""

import json
import statistics
from pathlib import Path

import pytest
from rich.console import Console

from cnnbench import report

FIXTURES = Path(__file__).parent / "fixtures"
JAX, TORCH, TORCH_LINES = (
    FIXTURES / n for n in ("jax-cpu.json", "torch-cpu.json", "torch-cpu.jsonl")
)


def _render(*args, width=220):
    console = Console(record=True, width=width, color_system=None)
    code = report.main([str(a) for a in args], console=console)
    return code, console.export_text()


def _runs(path, name):
    doc = json.loads(Path(path).read_text())
    return next(b for b in doc["benchmarks"] if b["name"] == name)["extra_info"]["runs"]


def test_two_backends_merge_into_one_table_with_2017_columns(tmp_path):
    code, text = _render(JAX, TORCH, "--out", tmp_path)
    assert code == 0
    assert "Runtime vs filters, lr 0.1 (2 epochs × 2000 images, batch 50)" in text
    header = next(line for line in text.splitlines() if "Filters" in line)
    for name in (
        "Params",
        "jax · cpu · keras default",
        "torch · cpu · keras default",
        "2017 CPU",
        "2017 GPU",
    ):
        assert name in header
    row8 = next(line for line in text.splitlines() if line.startswith("│       8 │"))
    assert "52,258" in row8 and "133.91 s" in row8 and "48.83 s" in row8
    # 8 filters on jax: test_filters[8]'s two rounds, median and spread.
    times = [r["runtime_s"] for r in _runs(JAX, "test_filters[8]")]
    assert f"{statistics.median(times):.1f} s ({min(times):.1f}–{max(times):.1f})" in row8
    assert "99%: not reached" in text  # 2 epochs on 2000 images never reach 0.99
    assert "vs 2017" not in text  # shortened runs are not compared with full ones


def test_learning_rate_table_lists_each_rate(tmp_path):
    _, text = _render(JAX, TORCH, "--out", tmp_path)
    assert "Learning rate at 16 filters" in text
    (run,) = {r["val_accuracy"] for r in _runs(TORCH, "test_learning_rate[0.01]")}
    rows = [line for line in text.splitlines() if line.startswith("│          0.01 │")]
    assert len(rows) == 1 and f"val {run:.4f}" in rows[0]


def test_figures_and_summary_are_written(tmp_path):
    _render(JAX, TORCH, "--out", tmp_path)
    suffix = "-2ep-2000img-b50.png"
    for stem in ("runtime_vs_filters", "learning_curves", "throughput_vs_filters"):
        png = (tmp_path / f"{stem}{suffix}").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    import matplotlib.image

    height, width, _ = matplotlib.image.imread(tmp_path / f"runtime_vs_filters{suffix}").shape
    assert width > 600 and height > 400
    summary = (tmp_path / "summary.md").read_text()
    assert "| Filters | Params | jax · cpu · keras default |" in summary
    assert f"![runtime_vs_filters-2ep-2000img-b50](runtime_vs_filters{suffix})" in summary
    machine = json.loads(JAX.read_text())["machine_info"]["cnnbench"]
    assert f"{machine['cpu_model']} ({machine['cpu_count']} cores)" in summary
    assert "keras 3.15.1" in summary and "jax-cpu.json" in summary


def test_a_run_in_both_json_and_jsonl_counts_once():
    both = report.load([str(TORCH), str(TORCH_LINES)])
    assert len(both.runs) == len(report.load([str(TORCH)]).runs) == 8


def test_missing_cells_are_shown_as_missing(tmp_path):
    doc = json.loads(TORCH.read_text())
    doc["benchmarks"] = [b for b in doc["benchmarks"] if b["name"] == "test_filters[8]"]
    partial = tmp_path / "torch-8-only.json"
    partial.write_text(json.dumps(doc))
    _, text = _render(JAX, partial, "--out", tmp_path)
    row16 = next(line for line in text.splitlines() if line.startswith("│      16 │"))
    assert row16.count("—") == 1 and " 0.0 s" not in row16


def test_full_length_runs_show_speedup_over_2017(tmp_path):
    lines = [json.loads(line) for line in TORCH_LINES.read_text().splitlines()][:1]
    result = lines[0]["result"]
    result.update(epochs=10, train_samples=55000, runtime_s=61.0, filters=8)
    result["history"] = {key: values * 5 for key, values in result["history"].items()}
    result["history"]["val_accuracy"][-1] = 0.991
    path = tmp_path / "full.jsonl"
    path.write_text(json.dumps(lines[0]) + "\n")
    _, text = _render(path, "--out", tmp_path)
    assert "(10 epochs × 55000 images, batch 50)" in text
    assert f"×{133.91 / 61.0:.2f} vs 2017 CPU" in text
    seconds = sum(result["history"]["epoch_seconds"])
    assert f"99%: {seconds:.1f} s" in text
    assert (tmp_path / "runtime_vs_filters.png").exists()  # the report's own configuration


def test_time_to_accuracy_counts_epochs_until_first_reach():
    history = {"epoch_seconds": [5.0, 4.0, 4.0, 4.0], "val_accuracy": [0.97, 0.99, 0.985, 0.992]}
    assert report.time_to_accuracy({"history": history}) == 9.0
    assert report.time_to_accuracy({"history": history}, target=0.995) is None


def _bad(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    return path


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.json", "", "empty.json: empty file"),
        ("notjson.json", "runtime: 5 s\n", "notjson.json: not JSON"),
        ("cut.json", '{"benchmarks": [{"name": "a", "stats": {"min"', "cut.json: truncated JSON"),
        ("list.json", "[1, 2]", "list.json: not pytest-benchmark output"),
        (
            "foreign.json",
            '{"benchmarks": [{"name": "test_sort", "extra_info": {}}]}',
            "foreign.json: pytest-benchmark output with no cnnbench benchmarks (1 other)",
        ),
        ("thin.jsonl", '{"result": {}}\n', "thin.jsonl:1: a run lacks backend"),
        ("bad.jsonl", '{"result": {}}\n{oops\n', "bad.jsonl:2: results line does not parse"),
        (
            "torn.jsonl",
            '{"benchmark": "x", "result": {"backend"',
            "torn.jsonl:1: results line does not parse",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, name, content, message):
    code, text = _render(_bad(tmp_path, name, content), "--out", tmp_path)
    err = capsys.readouterr().err
    assert code == 2 and text == ""
    assert err.count("\n") == 1 and err.startswith("cnnbench.report: error: ")
    assert message in err


def test_missing_file_and_empty_folder(tmp_path, capsys):
    assert _render(tmp_path / "nope.json")[0] == 2
    assert "nope.json: no such file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert _render(tmp_path / "empty")[0] == 2
    assert "folder has no *.json or *.jsonl files" in capsys.readouterr().err


def test_a_killed_sessions_empty_json_in_a_folder_is_skipped_not_fatal(tmp_path):
    # pytest-benchmark opens --benchmark-json at start: a killed sweep leaves it empty,
    # with its finished runs in the .jsonl beside it.
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "torch-cpu.json").write_text("")
    (folder / "torch-cpu.jsonl").write_text(TORCH_LINES.read_text())
    code, text = _render(folder, "--out", tmp_path / "out")
    assert code == 0
    assert "torch-cpu.json: empty (a benchmark session that did not finish); skipped" in text
    assert "torch · cpu · keras default" in text


def test_foreign_benchmarks_mixed_in_are_skipped_with_a_note(tmp_path):
    doc = json.loads(JAX.read_text())
    doc["benchmarks"].append({"name": "test_sort", "stats": {"median": 1.0}, "extra_info": {}})
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps(doc))
    code, text = _render(mixed, "--out", tmp_path)
    assert code == 0
    assert "note: " in text and "skipped 1 benchmark(s) that are not cnnbench's" in text


def _scaled(tmp_path, factor):
    doc = json.loads(JAX.read_text())
    for bench in doc["benchmarks"]:
        for run in bench["extra_info"]["runs"]:
            run["runtime_s"] *= factor
    path = tmp_path / f"base-{factor}.json"
    path.write_text(json.dumps(doc))
    return path


def test_compare_marks_regressions_and_fails_above_threshold(tmp_path):
    base = _scaled(tmp_path, 0.5)  # the new runs took twice as long
    code, text = _render(JAX, "--out", tmp_path, "--compare", base, "--fail-above", "10")
    assert code == 1
    assert "slower" in text and "2.000" in text and "regression: a runtime grew by 100.0%" in text
    assert _render(JAX, "--out", tmp_path, "--compare", base)[0] == 0  # no threshold, no fail


def test_compare_marks_improvements(tmp_path):
    code, text = _render(
        JAX, "--out", tmp_path, "--compare", _scaled(tmp_path, 2.0), "--fail-above", "5"
    )
    assert code == 0 and "faster" in text and "0.500" in text


def test_fail_above_needs_compare(tmp_path, capsys):
    assert _render(JAX, "--fail-above", "5", "--out", tmp_path)[0] == 2
    assert "--fail-above needs --compare" in capsys.readouterr().err


def test_readme_headline_is_rendered_from_the_files(tmp_path):
    lines = [json.loads(line) for line in TORCH_LINES.read_text().splitlines()][:1]
    result = lines[0]["result"]
    result.update(epochs=10, train_samples=55000, runtime_s=61.0, val_accuracy=0.9876)
    result["history"] = {key: values * 5 for key, values in result["history"].items()}
    path = tmp_path / "full.jsonl"
    path.write_text(json.dumps(lines[0]) + "\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{report.HEADLINE_START}\nold\n{report.HEADLINE_END}\n\nrest\n")

    code, _ = _render(path, "--out", tmp_path / "reports", "--readme", readme)

    text = readme.read_text()
    assert code == 0 and "\nold\n" not in text and text.endswith("\nrest\n")
    assert "| Backend · device · path | 8 |" in text
    assert "| torch · cpu · keras default | **61.0 (0.988)** |" in text
    assert "| 2017 report · laptop CPU · TF 1.x | 133.91 |" in text
    assert "| 2017 report · laptop GPU · TF 1.x | 48.83 |" in text
    assert "GPU: not yet measured" in text
    assert "![runtime vs filters](reports/runtime_vs_filters.png)" in text


def test_headline_bolds_the_fastest_of_each_width_per_device_kind(tmp_path):
    record = json.loads(TORCH_LINES.read_text().splitlines()[0])
    result = record["result"]
    result.update(epochs=10, train_samples=55000, val_accuracy=0.99)
    result["history"] = {key: values * 5 for key, values in result["history"].items()}
    runs = []
    for impl, profile, device, seconds in [
        ("keras", "default", "cpu", 90.0),
        ("native", None, "cpu", 40.0),
        ("keras", "default", "NVIDIA H200", 20.0),
    ]:
        run = dict(result, impl=impl, profile=profile, device=device, runtime_s=seconds)
        runs.append(json.dumps(dict(record, result=run)))
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(runs) + "\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"{report.HEADLINE_START}\n{report.HEADLINE_END}\n")

    assert _render(path, "--out", tmp_path / "reports", "--readme", readme)[0] == 0

    rows = [line for line in readme.read_text().splitlines() if line.startswith("| torch")]
    assert rows == [  # GPU rows first; each kind of device has its own fastest
        "| torch · NVIDIA H200 · keras default | **20.0 (0.990)** |",
        "| torch · cpu · keras default | 90.0 (0.990) |",
        "| torch · cpu · native | **40.0 (0.990)** |",
    ]
    assert "GPU: not yet measured" not in readme.read_text()


def test_readme_without_markers_is_an_error(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    assert _render(JAX, "--out", tmp_path, "--readme", readme)[0] == 2
    assert "README.md: no <!-- cnnbench:headline:start -->" in capsys.readouterr().err
