"""Files written whole with the user's permissions; outputs checked before work starts."""

import os
import stat

import pytest

from cnnbench.errors import UsageError
from cnnbench.files import check_writable, write_atomic


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
    "where, message", [("folder", "is a folder"), ("under-file", "cannot write there")]
)
def test_check_writable_refuses_before_any_work(tmp_path, where, message):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = tmp_path if where == "folder" else blocker / "out.json"
    with pytest.raises(UsageError, match=message):
        check_writable(path, "--json")
    check_writable(tmp_path / "new" / "out.json", "--json")  # a folder to create is fine
