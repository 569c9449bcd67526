import fcntl
import json
import os
import threading

import pytest

from cnnbench import results
from cnnbench.errors import PathError


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


def test_a_stranger_s_last_line_is_never_cut(tmp_path):
    path = tmp_path / "out.json"
    text = '{"benchmarks": [],\n "version": "5.3.1"}'  # a pytest-benchmark JSON, no newline
    path.write_text(text)
    with pytest.raises(results.ResultsError, match="last line is not a results line; not cut"):
        results.append(path, _record(8))
    assert path.read_text() == text


def test_check_file_refuses_anything_but_results(tmp_path):
    for name, payload in [
        ("bench.json", b'{\n  "benchmarks": []\n}\n'),
        ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"),
        ("huge.jsonl", b'{"benchmark": "x", "result": {"filters": ' + b"9" * 5000 + b"}}\n"),
    ]:
        path = tmp_path / name
        path.write_bytes(payload)
        with pytest.raises(PathError, match=f"--results .*{name}.*not a cnnbench results file"):
            results.check_file(path, "--results")
        assert path.read_bytes() == payload
    good = tmp_path / "r.jsonl"
    results.append(good, _record(8))
    results.check_file(good, "--results")
    results.check_file(tmp_path / "absent.jsonl", "--results")  # created by the first append


def test_an_integer_of_more_than_4300_digits_is_one_error(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"benchmark": "x", "result": {"filters": ' + "9" * 5000 + "}}\n")
    with pytest.raises(results.ResultsError, match=r"r.jsonl:1: results line does not parse"):
        results.read(path)


def test_append_waits_for_the_lock_another_writer_holds(tmp_path):
    path = tmp_path / "r.jsonl"
    results.append(path, _record(8))
    holder = open(path, "a+b")  # noqa: SIM115  (released by hand below)
    fcntl.flock(holder, fcntl.LOCK_EX)
    writer = threading.Thread(target=results.append, args=(path, _record(16)))
    writer.start()
    writer.join(timeout=0.5)
    try:
        assert writer.is_alive()  # blocked on the lock ...
        assert results.read(path) == [_record(8)]  # ... having written nothing
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        holder.close()
    writer.join(timeout=10)
    assert results.read(path) == [_record(8), _record(16)]


def test_append_pushes_the_line_to_disk_before_returning(tmp_path, monkeypatch):
    path = tmp_path / "r.jsonl"
    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    results.append(path, _record(8))
    assert synced == [str(path)]
