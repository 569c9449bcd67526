"""Keras releases side by side from one block: each release over the block's own Keras,
each step from the release before with its own paired interval, a table and a figure."""

from test_block import BASE, Machine, _run

from cnnbench.block import Block, parse_arm
from cnnbench.report.frame import frame
from cnnbench.report.history import draw_history, history, history_markdown
from cnnbench.report.read import load


def _releases(tmp_path, monkeypatch, older=1.2):
    monkeypatch.setitem(BASE, "torch:keras-default@3.10.0", BASE["torch:keras-default"] * older)
    arms = [parse_arm(a) for a in ("torch:native", "torch:keras-default",
                                   "torch:keras-default@3.16.0", "torch:keras-default@3.10.0")]
    path = tmp_path / "b.jsonl"
    _run(Block(arms=tuple(arms), filters=(16,), rounds=6), path, Machine(drift=0.3, cv=0.02))
    return frame(load([str(path)]).runs)


def test_each_release_over_the_blocks_own_and_each_step_measured(tmp_path, monkeypatch):
    points = history(_releases(tmp_path, monkeypatch))
    assert [p.version for p in points] == ["3.10.0", "3.15.1", "3.16.0"]  # releases in order
    older, own, newer = points
    assert own.to_own is None and own.own == "3.15.1"
    assert older.to_own.holds(1.2) and older.step is None  # the first has no step
    assert newer.to_own.holds(36 / 52) and newer.step.holds(36 / 52)
    assert own.step.holds(1 / 1.2) and not own.step.holds(1.0)


def test_the_table_bolds_a_step_beyond_its_interval_and_the_figure_is_drawn(
    tmp_path, monkeypatch
):
    data = _releases(tmp_path, monkeypatch, older=1.0)  # 3.10.0 as fast as 3.15.1
    text = history_markdown(data)
    assert "| 3.10.0 | 3.15.1 | 3.16.0 |" in text
    row = next(line for line in text.splitlines() if line.startswith("| torch · keras default"))
    cells = [c.strip() for c in row.split("|")[2:-1]]
    assert not cells[0].startswith("**") and cells[1].startswith("1 (the block's own, ")
    # 3.16.0's step over 3.15.1: beyond its interval, in bold
    assert cells[2].startswith("**0.") and cells[2].endswith("]**")
    below = text.splitlines()[text.splitlines().index(row) + 1]
    steps = [c.strip() for c in below.split("|")[2:-1]]
    assert below.startswith("| ↳ step from the release before")
    assert steps[0] == "—" and not steps[1].startswith("**")  # 3.10.0 to 3.15.1: within
    assert steps[2].startswith("**0.") and steps[2].endswith("]**")  # 36/52, in bold
    assert draw_history(data, tmp_path).name == "keras_history.png"
    assert (tmp_path / "keras_history.png").stat().st_size > 1000


def test_the_verdict_gives_a_history_one_line_with_each_backends_largest_step(
    tmp_path, monkeypatch
):
    from cnnbench.report.headline import verdict_markdown

    _releases(tmp_path, monkeypatch)  # b.jsonl, steps 1/1.2 then 36/52: the largest
    arms = tuple(parse_arm(a) for a in ("torch:native", "jax:native", "torch:keras-default",
                                        "torch:keras-default@3.16.0"))  # fmt: skip
    path = tmp_path / "one-version.jsonl"
    _run(Block(arms=arms, filters=(16,), rounds=6), path, Machine(drift=0.3, cv=0.02, seed=1))
    data = frame(load([str(tmp_path / "b.jsonl"), str(path)]).runs)
    assert data["block"].nunique() == 2
    lines = verdict_markdown(data, data).splitlines()
    (line,) = [li for li in lines if li.startswith("- **Keras releases, CPU, 16 filters**")]
    # the largest step (36/52), not the smaller one before it (1/1.2)
    assert "largest step: torch 3.15.1 → 3.16.0 0.70x [" in line, line
    assert "3.10.0 → 3.15.1" not in line
    assert "6 rounds" in line
    # the history's own block gets no line of its own; the other block's one-version line
    # gives way to the history
    assert sum("(one block:" in li for li in lines) == 1
    assert not any("over the block's own" in li for li in lines)
    from cnnbench.report.history import drawn

    assert {p.block for p in drawn(data)} == set(data.loc[data["source"].str.endswith(
        "b.jsonl"), "block"])  # the figure draws the history, not the lone comparison beside
    alone = frame(load([str(path)]).runs)  # without a history, the block says its version
    assert "Keras 3.16.0 `fit` over the block's own" in verdict_markdown(alone, alone)


def test_a_history_without_a_step_beyond_its_interval_says_so_with_the_widest(
    tmp_path, monkeypatch
):
    from cnnbench.report.history import history_lines

    monkeypatch.setitem(BASE, "torch:keras-default@3.16.0", BASE["torch:keras-default"])
    (line,) = history_lines(_releases(tmp_path, monkeypatch, older=1.0))
    assert "largest step: torch no step beyond its interval, ±" in line, line
