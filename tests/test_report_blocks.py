"""The report's side of blocks and sessions: a block in its own table and in the verdict,
never in the per-session tables; a rerun decided by its date; cold sweep rounds kept out
of medians; the drift between sessions measured from cells timed twice."""

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from test_block import ARMS, Machine, _run

from cnnbench.block import Block, aa_arms, parse_arm
from cnnbench.report import cli
from cnnbench.report.blocks import block_tables, verdict_lines
from cnnbench.report.compare import session_drift
from cnnbench.report.frame import cold_rounds, frame, one_run_per_round
from cnnbench.report.read import load

FIXTURES = Path(__file__).parent / "fixtures"
TORCH_LINES = FIXTURES / "torch-cpu.jsonl"


def _render(*args, width=160):
    console = Console(record=True, width=width, color_system=None)
    code = cli.main([str(a) for a in args], console=console)
    return code, console.export_text()


def _full_block(tmp_path, slower=None, seed=0):
    path = tmp_path / "block.jsonl"
    nightly = parse_arm("torch:keras-default@3.16.0")
    block = Block(arms=aa_arms((*ARMS, nightly), ARMS[0]), filters=(16,), rounds=6, epochs=10)
    _run(block, path, Machine(slower=slower, seed=seed))
    return path


def test_a_block_has_its_own_table_and_stays_out_of_the_session_tables(tmp_path):
    path = _full_block(tmp_path)
    code, text = _render(path, TORCH_LINES, "--out", tmp_path / "out", "--table", "all")
    assert code == 0
    assert "Block " in text and "× native" in text and "A/A: torch:native twice" in text
    csv = pd.read_csv(tmp_path / "out" / "results.csv")
    assert csv["block"].notna().sum() == 30  # every run is in the CSV, the block's too
    runtime = text[text.index("Runtime, seconds") : text.index("Block ")]
    assert "torch · cpu · keras default" in runtime and "Fake CPU" not in runtime
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "Block " in summary and "noise floor" in summary.lower()


def test_the_verdict_from_a_block_gives_every_ratio_its_interval(tmp_path):
    data = frame(load([str(_full_block(tmp_path))]).runs)
    lines = verdict_lines(data)
    assert len(lines) == 3 and all(part.startswith("  - ") for part in lines[1:])
    assert all(len(part) <= 200 for part in lines)  # short enough for README's first screen
    line = " ".join(lines)
    assert "**CPU, 16 filters** (one block: Fake CPU ×2, 6 rounds, A/A ±" in line
    assert "fastest torch keras-default@3.16.0, 36" in line and "; jax native 1.68x [" in line
    assert "Keras `fit` at its best over native: torch 1.30x [" in line
    assert "Keras 3.16.0 `fit` over the block's own: torch 0.69x [" in line
    disturbed = frame(load([str(_full_block(tmp_path / "d", {"torch:native (A/A twin)": 1.3}))])
                      .runs)
    assert "DISTURBED" in verdict_lines(disturbed)[0]


def test_a_rerun_stands_by_its_date_not_by_its_file(tmp_path):
    lines = TORCH_LINES.read_text().splitlines()
    last = max(i for i, line in enumerate(lines) if '"warmup"' not in line)
    record = json.loads(lines[last])
    record["result"]["runtime_s"] = 123.456
    record["date"] = "2099-01-01T00:00:00+00:00"  # later than every fixture run
    early = tmp_path / "a-rerun.jsonl"  # sorts, and is read, before the fixture
    early.write_text(json.dumps(record) + "\n")
    data, notes = one_run_per_round(frame(load([str(early), str(TORCH_LINES)]).runs))
    assert 123.456 in set(data["runtime_s"])
    assert len(notes) == 1 and str(TORCH_LINES) in notes[0]


def test_two_blocks_of_one_seed_are_two_blocks_never_a_replacement(tmp_path):
    one = _full_block(tmp_path / "one")
    two = _full_block(tmp_path / "two", seed=1)  # another session's times
    data, notes = one_run_per_round(frame(load([str(one), str(two)]).runs))
    assert not notes and data["block"].nunique() == 2


def test_a_cold_first_round_of_a_sweep_is_marked_and_noted(tmp_path):
    lines = TORCH_LINES.read_text().splitlines()
    out = []
    for line in lines:
        record = json.loads(line)
        result = record["result"]
        if not record.get("warmup") and record["round"] == 0:
            result["history"]["epoch_seconds"][0] *= 8
            result["first_epoch_s"] = result["history"]["epoch_seconds"][0]
        out.append(json.dumps(record))
    path = tmp_path / "cold.jsonl"
    path.write_text("\n".join(out) + "\n")
    data, _ = one_run_per_round(frame(load([str(path)]).runs))
    marked, notes = cold_rounds(data)
    rounds = data.groupby(["path", "filters", "learning_rate"])["seed"].nunique()
    if (rounds >= 3).any():
        assert marked["cold"].any() and "started cold" in notes[0]
    else:  # two rounds a cell: "the others" would be one run's noise, so none is marked
        assert not marked["cold"].any() and not notes


def test_three_rounds_mark_only_the_cold_one(tmp_path):
    rows = pd.DataFrame(
        {
            "kind": "gpu", "machine": "H100", "backend": "jax", "path": "native",
            "precision": "fp32", "keras": "3.15.1", "epochs": 10, "train_samples": 55000,
            "batch_size": 50, "learning_rate": 0.1, "filters": 8, "sweep": "s",
            "seed": [0, 1, 2, 3], "first_epoch_s": [9.0, 1.0, 1.1, 0.9],
            "block": None, "cold": False,
        }
    )
    marked, notes = cold_rounds(rows)
    assert marked["cold"].tolist() == [True, False, False, False] and len(notes) == 1
    rows.loc[0, "first_epoch_s"] = 1.9  # under twice the others'
    assert not cold_rounds(rows)[0]["cold"].any()


def test_the_drift_between_sessions_is_measured_on_cells_timed_twice():
    def cell(sweep, seconds, date):
        return {
            "kind": "cpu", "machine": "m", "backend": "torch", "path": "native",
            "precision": "fp32", "keras": "3.15.1", "epochs": 10, "train_samples": 55000,
            "batch_size": 50, "learning_rate": 0.1, "filters": 16, "sweep": sweep,
            "runtime_s": seconds, "date": date, "block": None,
        }

    rows = pd.DataFrame(
        [cell("a", 40.0, "2026-01-01"), cell("a", 40.0, "2026-01-01"),
         cell("b", 48.0, "2026-01-02"), cell("b", 48.0, "2026-01-02")]
        + [{**cell("c", 30.0, "2026-01-01"), "filters": 8},
           {**cell("d", 30.0 / 1.2, "2026-01-03"), "filters": 8}]
    )
    assert session_drift(rows)["cpu"] == pytest.approx(math.log(1.2))  # the widest change


def test_where_kerass_cost_lives_from_a_block_with_intervals(tmp_path):
    from cnnbench.report.blocks import decomposition_lines

    arms = [parse_arm(a) for a in ("torch:native", "torch:keras-default", "torch:keras-tuned",
                                   "torch:keras-loop")]
    path = tmp_path / "b.jsonl"
    _run(Block(arms=tuple(arms), filters=(16,), rounds=6), path, Machine(drift=0.3, cv=0.01))
    (line,) = decomposition_lines(frame(load([str(path)]).runs))
    # cost 52 - 40 = 12 s: settings 4 (33%), trainer 3 (25%), layers 5 (42%)
    ratio = float(line.split("Keras default ")[1].split("x")[0])
    assert abs(ratio - 52 / 40) < 0.03 and "6 rounds" in line
    for name, share in (("settings", 33), ("trainer", 25), ("layers", 42)):
        text = line.split(f"{name} ")[1]
        mean = float(text.split("%")[0])
        low, high = map(float, text.split("[")[1].split("]")[0].split(", "))
        assert low <= share <= high and abs(mean - share) < 8


def test_a_block_of_one_round_stays_out_of_the_verdict(tmp_path):
    """No ratio of a one-round block has an interval: it is in its table, not the verdict."""
    path = tmp_path / "b.jsonl"
    _run(Block(arms=aa_arms(ARMS, ARMS[0]), filters=(16,), rounds=1), path, Machine())
    data = frame(load([str(path)]).runs)
    assert verdict_lines(data) == []
    _run(Block(arms=aa_arms(ARMS, ARMS[0]), filters=(16,), rounds=2), path, Machine(),
         resume=True)  # fmt: skip
    assert "2 rounds" in verdict_lines(frame(load([str(path)]).runs))[0]


def test_a_tuned_target_from_a_block_reads_the_defaults_only_where_tuned_is_the_defaults(
    tmp_path, monkeypatch
):
    """PyTorch's tuned is its defaults on a CPU; JAX's is not, so a block without JAX's own
    tuned arm has no JAX tuned ratio (an arm of another commit is not this code's)."""
    import test_block

    from cnnbench.block import Arm
    from cnnbench.report.targets import block_targets

    monkeypatch.setitem(test_block.BASE, "jax:keras-default", 80.0)  # 1.33x native
    monkeypatch.setitem(test_block.BASE, "jax:keras-tuned#0123abcd", 70.0)

    arms = (*ARMS, parse_arm("jax:keras-default"), Arm("jax", "keras-tuned", commit="0123abcd"))
    block = Block(arms=aa_arms(arms, ARMS[0]), filters=(16,), rounds=4, epochs=10)
    _run(block, tmp_path / "b.jsonl", Machine())
    lines = block_targets(frame(load([str(tmp_path / "b.jsonl")]).runs))
    tuned = [line for line in lines if "Keras tuned <= 1.5x native" in line]
    assert len(tuned) == 1 and "torch " in tuned[0]
    assert "jax" not in tuned[0]


def test_an_arm_of_another_commit_is_its_own_round_never_a_rerun(tmp_path, monkeypatch):
    """Its cell is this code's arm's cell (no cell key names a commit); its runs are a
    block's arm of their own, and the verdict pairs it with this code's."""
    import test_block

    from cnnbench.block import Arm

    monkeypatch.setitem(test_block.BASE, "torch:native#0123abcd", 44.0)  # 1.1x this code's
    arms = (*ARMS, Arm("torch", "native", commit="0123abcd"))
    block = Block(arms=aa_arms(arms, ARMS[0]), filters=(16,), rounds=4, epochs=10)
    _run(block, tmp_path / "b.jsonl", Machine())
    data = frame(load([str(tmp_path / "b.jsonl")]).runs)
    kept, notes = one_run_per_round(data)
    assert notes == [] and len(kept) == len(data) == 20
    line = " ".join(verdict_lines(kept))
    found = re.search(r"commit 0123abcd over the block's own: torch (\S+)x \[(\S+), (\S+)\]", line)
    assert found and float(found[2]) <= 1.1 <= float(found[3])  # the planted 1.1x
    (table,) = block_tables(kept)
    assert table.columns[-1] == "× own arm"
    (row,) = [r for r in table.rows if r.label == "torch:native#0123abcd"]
    assert row.cells[-1].short == f"{found[1]}x [{found[2]}, {found[3]}]"


def test_a_block_of_one_backend_stays_out_of_the_readme_verdict(tmp_path):
    """It decides a setting or a commit (its table and the docs say so); the verdict's
    few lines set backends side by side."""
    from cnnbench.report.headline import verdict_markdown

    one = Block(arms=aa_arms(ARMS[:2], ARMS[0]), filters=(16,), rounds=4, epochs=10)
    _run(one, tmp_path / "one.jsonl", Machine(seed=1))
    both = [str(_full_block(tmp_path)), str(tmp_path / "one.jsonl")]
    data = frame(load(both).runs)
    text = verdict_markdown(data, data)
    assert text.count("**CPU, 16 filters**") == 1 and "jax native" in text
    alone = frame(load([str(tmp_path / "one.jsonl")]).runs)
    assert "**CPU, 16 filters**" in " ".join(verdict_lines(alone))  # its own lines exist


def test_the_aa_target_names_each_disturbed_block(tmp_path):
    from cnnbench.report.targets import block_targets

    calm = frame(load([str(_full_block(tmp_path))]).runs)
    assert block_targets(calm)[-1] == "- A/A interval holds 1 in every block: 1 of 1 blocks, met."
    upset = _full_block(tmp_path / "d", {"torch:native (A/A twin)": 1.3}, seed=1)
    both = frame(load([str(tmp_path / "block.jsonl"), str(upset)]).runs)
    line = block_targets(both)[-1]
    assert line.startswith("- A/A interval holds 1 in every block: 1 of 2 blocks; Fake CPU")
    assert "16 filters, torch:native 1.2" in line and "DISTURBED" in line
    assert line.endswith(", missed.")
