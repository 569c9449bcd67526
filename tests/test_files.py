"""Files written whole with the user's permissions; outputs checked before work starts."""

import os
import stat

import pytest

from cnnbench.errors import PathError
from cnnbench.files import check_writable, regular_file, write_atomic


def test_write_atomic_replaces_whole_and_follows_the_umask(tmp_path):
    target = tmp_path / "deep" / "out.txt"
    old = os.umask(0o027)
    try:
        write_atomic(target, "first")
        write_atomic(target, b"second")
    finally:
        os.umask(old)
    assert target.read_text() == "second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


@pytest.mark.parametrize(
    "where, message",
    [
        ("folder", "is a folder"),
        ("under-file", "cannot write there"),
        ("fifo", "not a regular file"),
        ("/dev/zero", "not a regular file"),
        ("/proc/version", "cannot write there"),  # read-only even for root
        ("broken-link", "a broken symbolic link"),
    ],
)
def test_check_writable_refuses_before_any_work(tmp_path, where, message):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = {
        "folder": tmp_path,
        "under-file": blocker / "out.json",
        "fifo": tmp_path / "fifo",
        "broken-link": tmp_path / "link",
    }.get(where, where)
    if where == "fifo":
        os.mkfifo(path)
        held = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # so an open() for writing never blocks
    if where == "broken-link":
        path.symlink_to(tmp_path / "nowhere")
    try:
        with pytest.raises(PathError, match=f"^--json {path}: {message}"):
            check_writable(path, "--json")
    finally:
        if where == "fifo":
            os.close(held)


def test_check_writable_creates_nothing(tmp_path):
    check_writable(tmp_path / "new" / "deeper" / "out.json", "--json")  # a folder to create
    assert list(tmp_path.iterdir()) == []  # ... is the writer's to create, not the check's


def test_regular_file_says_whether_it_exists(tmp_path):
    assert regular_file(tmp_path / "none", "--x") is False
    (tmp_path / "f").write_text("")
    assert regular_file(tmp_path / "f", "--x") is True
