"""The report's statistics on fixtures built to catch a wrong one (`fixtures/matrix.jsonl`:
3 full-length rounds a cell, one skewed; two CPU machines; a GPU in two precisions; a cell
whose fastest minimum is not its fastest median). Each figure below is worked out by hand
from `fixtures/make_matrix.py`."""

import os
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from cnnbench.analytic import forward_flops_per_sample, train_flops_per_sample
from cnnbench.report import cli
from cnnbench.report.frame import TARGETS, frame, overhead
from cnnbench.report.headline import headline_markdown, update_block, verdict_markdown
from cnnbench.report.read import load
from cnnbench.report.render import CSV_COLUMNS, results_csv, to_markdown
from cnnbench.report.tables import tables

MATRIX = Path(__file__).parent / "fixtures" / "matrix.jsonl"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return frame(load([str(MATRIX)]).runs)


def _table(data, name):
    return next(t for t in tables(data, TARGETS) if t.name == name)


def _row(table, label):
    return next(r for r in table.rows if r.label == label)


def test_a_cell_is_the_median_of_its_rounds_with_min_max(data):
    row = _row(_table(data, "runtime"), "torch · Xeon A ×2 · native")
    # rounds 10, 11, 30: median 11 (mean 17, min 10, max 30)
    assert row.cells[0].long.startswith("11.0 (10.0–30.0, n=3)")
    assert row.cells[0].short == "11.0 ±91%"
    accuracy = _row(_table(data, "accuracy"), "torch · Xeon A ×2 · native")
    assert accuracy.cells[0].short.startswith("0.986 / ")  # median of .985 .986 .990


def test_keras_over_native_pairs_each_machine_with_its_own_native(data):
    ratios = overhead(data).query("path == 'keras default'")
    ratios = ratios.set_index(["machine", "backend", "filters"])["ratio"]
    assert ratios[("Xeon A ×2", "torch", 8)] == pytest.approx(22 / 11)
    assert ratios[("Xeon A ×2", "torch", 16)] == pytest.approx(31 / 15)
    assert ratios[("Epyc B ×8", "torch", 8)] == pytest.approx(51 / 41)
    assert ratios[("Xeon A ×2", "jax", 8)] == pytest.approx(16 / 20)
    assert len(ratios) == 4  # the GPU rows have no Keras


def test_the_headline_gives_medians_and_ranks_no_session_against_another(data):
    text = headline_markdown(data, None)
    assert "| torch · Xeon A ×2 · native | 11.0 (0.986) | 15.0 (0.989) |" in text
    assert "| jax · Xeon A ×2 · native | 20.0 (0.987) | — |" in text  # min 5.0, median 20
    assert "| jax · H100 80GB HBM3 · native · tf32 | 2.8 (0.987) | — |" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert not any("**" in row for row in rows) and "not a ranking" in text


def test_the_verdict_is_rendered_per_machine_and_precision(data):
    text = verdict_markdown(data)
    assert "**CPU** (Xeon A ×2, fp32): torch native is fastest" in text
    assert "Keras over native: jax 0.8–0.8×, torch 2.0–2.1×" in text
    assert "**CPU** (Epyc B ×8, fp32)" in text and "torch 1.2–1.2×" in text
    assert "**GPU** (H100 80GB HBM3, tf32): only jax native was timed (8 filters: 2.8 s)" in text
    assert "(8 filters: 41.0 s)" in text  # one width: no range
    assert "every full-length run at lr 0.1 ended at validation accuracy 0.984 or better" in text
    # of Keras's 11 s over native at 8 filters on torch, 9 s are fit's trainer (22 -> 13)
    assert "where that cost lives: torch: the trainer (median: trainer 82%, layers 18%)" in text
    assert "its paths timed in separate sweeps" not in text  # one file: one sweep


def test_the_verdict_says_when_the_paths_it_splits_were_timed_apart(data):
    apart = data.assign(sweep=data["path"])  # each path its own sweep
    assert "layers 18%; its paths timed in separate sweeps)" in verdict_markdown(apart)


def test_the_limit_counts_training_and_validation_flops(data):
    run = data[(data["machine"] == "Xeon A ×2") & (data["runtime_s"] == 10.0)].iloc[0]
    flops = 10 * (train_flops_per_sample(8) * 55000 + forward_flops_per_sample(8) * 5000)
    assert run["limit_s"] == pytest.approx(flops / 300e9)
    assert run["x_limit"] == pytest.approx(10.0 / (flops / 300e9))


def test_the_csv_has_every_column_of_the_frame_in_order(data):
    header = results_csv(data).splitlines()[0].split(",")
    assert sorted(header) == sorted(data.columns)  # every field the report knows, once
    assert header == [*CSV_COLUMNS, "time_to_0_98", "time_to_0_99"]  # in the documented order
    assert header[:3] == ["backend", "kind", "machine"] and "params" in header


def test_two_precisions_are_two_rows_and_two_cpus_are_named(data):
    labels = [row.label for row in _table(data, "runtime").rows]
    assert "jax · H100 80GB HBM3 · native · fp32" in labels
    assert "jax · H100 80GB HBM3 · native · tf32" in labels
    assert "torch · Epyc B ×8 · native" in labels and "torch · Xeon A ×2 · native" in labels


def test_the_readme_block_is_replaced_not_appended(tmp_path, data):
    readme = tmp_path / "README.md"
    start, end = "<!-- cnnbench:headline:start -->", "<!-- cnnbench:headline:end -->"
    readme.write_text(f"intro\n{start}\nOLD TABLE\n{end}\noutro\n")
    update_block(readme, headline_markdown(data, None))
    once = readme.read_text()
    update_block(readme, headline_markdown(data, None))
    assert readme.read_text() == once
    assert once.startswith(f"intro\n{start}\nFull training") and once.endswith(f"{end}\noutro\n")
    assert "OLD TABLE" not in once and once.count("| 2017 report · laptop CPU") == 1


def test_the_markdown_tables_keep_to_200_characters(data):
    for table in tables(data, TARGETS):
        assert max(map(len, to_markdown(table).splitlines())) <= 200


def test_the_whole_report_renders(tmp_path):
    console = Console(record=True, width=100, color_system=None)
    argv = [str(MATRIX), "--out", str(tmp_path), "--table", "all"]
    assert cli.main(argv, console=console) == 0
    text = console.export_text()
    assert "…" not in text and "Keras over native" in text
    assert "2.00×" in text and "1.24×" in text


def test_every_figure_in_the_readme_and_targets_doc_is_the_render(tmp_path):
    """README's verdict, headline and targets and docs/targets.md's table are rendered from
    reports/runs/ and reports/blocks/ (tox -e report): rendered again here, they are the
    same bytes."""
    import shutil

    root = Path(__file__).resolve().parents[1]
    shutil.copy(root / "README.md", tmp_path / "README.md")
    shutil.copy(root / "docs" / "targets.md", tmp_path / "targets.md")
    argv = [str(root / "reports" / "runs"), str(root / "reports" / "blocks")]
    argv += ["--out", str(tmp_path / "reports")]
    argv += ["--readme", str(tmp_path / "README.md"), "--doc", str(tmp_path / "targets.md")]
    with open(os.devnull, "w") as quiet:
        assert cli.main(argv, console=Console(file=quiet)) == 0
    assert (tmp_path / "README.md").read_text() == (root / "README.md").read_text()
    assert (tmp_path / "targets.md").read_text() == (root / "docs" / "targets.md").read_text()


def test_keras_s_cost_is_split_into_trainer_and_layers(data):
    row = _row(_table(data, "decomposition"), "torch · cpu · keras cost")  # one CPU here
    # default 22, tuned = default (PyTorch), the loop 13, native 11 (medians)
    assert row.cells[0].long == "2.00× (settings 0%, trainer 82%, layers 18%; loop 1.18×)"
    assert "torch: the trainer (median: trainer 82%, layers 18%)" in verdict_markdown(data)


def test_no_table_prints_a_row_with_nothing_measured(data):
    with_gpu_memory = data.assign(peak_gpu_mb=[1.0 if k == "gpu" else None for k in data["kind"]])
    for table in tables(with_gpu_memory, TARGETS):
        assert all(any(row.cells) for row in table.rows), table.name
    gpu = next(t for t in tables(with_gpu_memory, TARGETS) if t.name == "gpu-memory")
    assert [row.label for row in gpu.rows] == [
        "jax · H100 80GB HBM3 · native · fp32",
        "jax · H100 80GB HBM3 · native · tf32",
    ]
