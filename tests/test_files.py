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


def _folder_refuses_new_files(monkeypatch, folder):
    """A folder that takes no new file while its files stay writable (root ignores modes)."""
    import tempfile

    real = tempfile.NamedTemporaryFile

    def refusing(*args, dir=None, **kwargs):
        if dir is not None and os.path.samefile(dir, folder):
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr("cnnbench.files.tempfile.NamedTemporaryFile", refusing)


def test_a_file_replaced_whole_needs_a_folder_that_takes_a_new_file(tmp_path, monkeypatch):
    existing = tmp_path / "out.json"
    existing.write_text("{}")
    _folder_refuses_new_files(monkeypatch, tmp_path)
    check_writable(existing, "--results")  # appended to: the file itself is enough
    with pytest.raises(PathError, match=r"^--json .*out.json: cannot write there \(Perm"):
        check_writable(existing, "--json", replace=True)  # write_atomic needs the folder


@pytest.mark.parametrize("flag", ["--json", "--write-choices"])
def test_run_and_tune_check_a_replaced_output_before_training(flag, tmp_path, monkeypatch, capsys):
    from cnnbench import cli

    existing = tmp_path / "out.json"
    existing.write_text("{}")
    _folder_refuses_new_files(monkeypatch, tmp_path)

    def loaded(*args, **kwargs):
        raise AssertionError("MNIST loaded (training began) before the outputs were checked")

    monkeypatch.setattr("cnnbench.data.load", loaded)
    command = "tune" if flag == "--write-choices" else "run"
    assert cli.main([command, flag, str(existing), "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{flag} {existing}: cannot write there" in err
    assert existing.read_text() == "{}"
