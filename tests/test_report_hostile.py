"""The report against hostile and odd records: names that would inject markup, numbers
no float holds, runs no table shows, documents without markers, tables too wide to read.
Each case ends in a correct report with a note, or one line and exit 2 before anything
is written; never a traceback."""

import copy
import json
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from cnnbench.report import cli

MATRIX = Path(__file__).parent / "fixtures" / "matrix.jsonl"
RECORDS = [json.loads(line) for line in MATRIX.read_text().splitlines()]


def _write(tmp_path: Path, records, name="runs.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _changed(change, which=lambda r: True) -> list[dict]:
    records = copy.deepcopy(RECORDS)
    for record in records:
        if which(record):
            change(record)
    return records


def _report(tmp_path, *args, width=100):
    console = Console(record=True, width=width, color_system=None)
    out = tmp_path / "out"
    code = cli.main([*map(str, args), "--out", str(out)], console=console)
    return code, console.export_text(), out


def _gpu(record):
    return record["result"]["device"] != "cpu"


HOSTILE = "NVIDIA <b>x</b> | y\nz\x00 *a* [l](u) `c` # $\\frac{"


def test_hostile_names_never_break_a_table_or_inject_markup(tmp_path):
    def rename(record):
        record["result"]["device"] = HOSTILE
        record["machine"]["gpu"] = HOSTILE

    runs = _write(tmp_path, _changed(rename, _gpu))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- cnnbench:headline:start -->\n<!-- cnnbench:headline:end -->\n")
    code, text, out = _report(tmp_path, runs, "--readme", readme, "--table", "all")
    assert code == 0, text
    for document in (out / "summary.md", readme):
        markdown = document.read_text()
        assert "<b>" not in markdown and "\x00" not in markdown
        for line in markdown.splitlines():
            if line.startswith("| "):  # every row has its header's number of cells
                cells = line.replace("\\|", "").count("|")
                assert cells in {3, 4}, line  # label + 1 or 2 widths
    table = pd.read_csv(out / "results.csv")
    assert len(table) == len(RECORDS)  # no row split by a newline in a name
    assert (out / "runtime_vs_filters.png").stat().st_size > 10_000  # `$` is no TeX


def test_a_name_over_the_limit_is_refused_in_one_line(tmp_path, capsys):
    def rename(record):
        record["result"]["device"] = "NVIDIA " + "H" * 10_000

    runs = _write(tmp_path, _changed(rename, _gpu))
    code, _, out = _report(tmp_path, runs)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "a device name of 1..200 characters" in err
    assert not out.exists()


def test_long_names_and_notes_keep_summary_lines_short(tmp_path):
    def rename(record):
        record["result"]["device"] = "NVIDIA " + "H" * 190

    records = _changed(rename, _gpu)
    again = copy.deepcopy(records[:20])  # 20 rounds measured again: a long note
    for record in again:
        record["result"]["runtime_s"] += 0.5
    records += again
    code, _, out = _report(tmp_path, _write(tmp_path, records))
    assert code == 0
    summary = (out / "summary.md").read_text()
    assert "repeat a round" in summary
    assert max(map(len, summary.splitlines())) <= 200


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("filters", 10**30, "filters is 1000000000000000000000000000000, expected an integer"),
        ("runtime_s", 10**400, "runtime_s is 1"),
        ("achieved_gflops", float("inf"), "achieved_gflops is inf, expected a finite number"),
        ("backend", "jax|x", "backend is 'jax|x', expected one of tensorflow, torch, jax"),
        ("profile", "tuned\n", "profile is 'tuned\\n', expected one of default, tuned"),
    ],
)
def test_numbers_and_names_no_table_can_hold_are_one_line(tmp_path, capsys, field, value, message):
    def change(record):
        record["result"][field] = value

    runs = _write(tmp_path, _changed(change, lambda r: r is not None))
    code, _, out = _report(tmp_path, runs)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_an_integer_of_5000_digits_is_one_line(tmp_path, capsys):
    bad = tmp_path / "huge.json"
    bad.write_text('{"benchmarks": [], "x": ' + "9" * 5000 + "}")
    code, _, _ = _report(tmp_path, bad)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "huge.json: not usable JSON" in err


def test_a_history_that_contradicts_the_result_is_noted(tmp_path):
    def contradict(record):
        record["result"]["val_accuracy"] = 0.999

    runs = _write(tmp_path, _changed(contradict, _gpu))
    code, text, out = _report(tmp_path, runs, width=300)
    assert code == 0
    assert "val_accuracy 0.999 is not its history's last 0.987" in text
    assert "is not its history's last" in (out / "summary.md").read_text()


def test_runs_at_another_rate_are_shown_or_said_to_be_unshown(tmp_path):
    def rate(lr):
        def change(record):
            record["result"]["learning_rate"] = lr

        return change

    # 16 filters at lr 0.01: the learning-rate table, even with no second rate
    at16 = _changed(rate(0.01), lambda r: r["result"]["filters"] == 16)
    code, text, _ = _report(tmp_path, _write(tmp_path, at16), "--table", "lr")
    assert code == 0 and "Learning rate at 16 filters" in text
    # 8 filters at lr 0.01: no table; a note says so
    at8 = [r for r in _changed(rate(0.01)) if r["result"]["filters"] == 8]
    code, text, _ = _report(tmp_path, _write(tmp_path, at8, "at8.jsonl"))
    assert code == 0 and "27 run(s) in no table, only in results.csv (8 filters at lr 0.01)" in text


@pytest.mark.parametrize(
    "content, message",
    [
        ("no markers here\n", "needs one <!-- cnnbench:headline:start -->"),
        ("<!-- cnnbench:headline:end -->\n<!-- cnnbench:headline:start -->\n", "in that order"),
        (b"\xff\xfe\x00binary", "cannot read (not UTF-8 text)"),
        (
            "<!-- cnnbench:headline:start --><!-- cnnbench:headline:end -->\n"
            "<!-- cnnbench:verdict:end --><!-- cnnbench:verdict:start -->\n",
            "cnnbench:verdict:start",
        ),
    ],
)
def test_a_readme_without_its_markers_is_refused_before_anything_is_written(
    tmp_path, capsys, content, message
):
    readme = tmp_path / "README.md"
    if isinstance(content, bytes):
        readme.write_bytes(content)
    else:
        readme.write_text(content)
    before = readme.read_bytes()
    code, _, out = _report(tmp_path, MATRIX, "--readme", readme)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not out.exists() and readme.read_bytes() == before


def test_many_widths_split_the_table_and_cut_no_number(tmp_path):
    records = []
    for filters in range(1, 41):
        for record in copy.deepcopy(RECORDS[:3]):
            record["result"]["filters"] = filters
            record["result"]["params"] = __import__("cnnbench.analytic").analytic.param_count(
                filters
            )
            records.append(record)
    code, text, _ = _report(tmp_path, _write(tmp_path, records), width=80)
    assert code == 0
    assert "…" not in text and "part 1 of" in text
    assert max(map(len, text.splitlines())) <= 80


def test_a_runtime_of_1e300_keeps_its_label(tmp_path):
    def slow(record):
        record["result"]["runtime_s"] = 1e300

    records = _changed(slow, lambda r: r["result"]["backend"] == "torch")
    code, text, _ = _report(tmp_path, _write(tmp_path, records), width=80)
    assert code == 0 and "…" not in text
    assert "torch · Xeon A ×2 · native" in text and "1e+300" in text


def test_a_gate_that_compared_nothing_fails(tmp_path, capsys):
    def elsewhere(record):
        record["machine"]["cpu_model"] = "Another CPU"
        record["machine"]["gpu"] = None
        record["result"]["device"] = "cpu"

    base = _write(tmp_path, _changed(elsewhere), "base.jsonl")
    code, _, out = _report(tmp_path, MATRIX, "--compare", base, "--fail-above", "5")
    err = capsys.readouterr().err
    assert code == 2 and "the gate compared nothing" in err and err.count("\n") == 1
    assert not out.exists()


def test_a_refused_line_that_resume_redid_is_skipped_with_a_note(tmp_path):
    """--resume redoes a run whose line the report refuses (runtime NaN) and appends the
    new one; the report then skips the old line, saying so, instead of refusing the file."""
    records = copy.deepcopy(RECORDS)
    bad = copy.deepcopy(records[0])
    bad["result"]["runtime_s"] = float("nan")
    path = _write(tmp_path, [bad, *records])
    code, text, out = _report(tmp_path, path)
    assert code == 0, text
    summary = " ".join((out / "summary.md").read_text().split())  # wrapped at any width
    assert "runs.jsonl:1: runtime\\_s is" in summary and "redone at line 2" in summary
    alone = _write(tmp_path, [*records, bad], "alone.jsonl")  # nothing redid it: refused
    code, _, _ = _report(tmp_path, alone)
    assert code == 2
