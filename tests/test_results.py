import json

import pytest

from cnnbench import results


def _record(n):
    return {"benchmark": f"b{n}", "round": 0, "result": {"filters": n, "backend": "jax"}}


def test_append_then_read_round_trips(tmp_path):
    path = tmp_path / "deep" / "r.jsonl"
    for n in (8, 16):
        results.append(path, _record(n))
    assert results.read(path) == [_record(8), _record(16)]


def test_torn_tail_is_dropped_on_request_and_cut_before_the_next_append(tmp_path):
    path = tmp_path / "r.jsonl"
    results.append(path, _record(8))
    path.write_text(path.read_text() + json.dumps(_record(16))[:20])  # killed mid-write

    with pytest.raises(results.ResultsError, match=r"r.jsonl:2: results line does not parse"):
        results.read(path)
    assert results.read(path, allow_torn_tail=True) == [_record(8)]

    results.append(path, _record(32))
    assert results.read(path) == [_record(8), _record(32)]


def test_a_bad_line_in_the_middle_is_always_an_error(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(_record(8)) + "\n{oops\n" + json.dumps(_record(16)) + "\n")
    with pytest.raises(results.ResultsError, match=":2: results line does not parse"):
        results.read(path, allow_torn_tail=True)


def test_lines_that_are_not_results_are_rejected(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"benchmarks": []}\n')
    with pytest.raises(results.ResultsError, match="not a cnnbench results line"):
        results.read(path)


def test_settings_key_ignores_timings_but_not_versions():
    a = {"backend": "jax", "filters": 8, "versions": {"jax": "0.10.2"}, "runtime_s": 1.0}
    assert results.settings_key(a) == results.settings_key({**a, "runtime_s": 2.0})
    assert results.settings_key(a) != results.settings_key({**a, "versions": {"jax": "0.9"}})
