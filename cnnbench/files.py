"""Files the project writes: whole or not at all, with the user's usual permissions, and
checked before any long work starts, without creating anything on the way.

A path that cannot be used is a `PathError` naming the flag it came from; the front ends
report it in one line.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from cnnbench.errors import PathError


def write_atomic(path: Path, data: bytes | str) -> None:
    """Replace `path` with `data` in one step (a reader sees the old file or the new),
    creating its folder; the mode follows the umask, like any other tool's files."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp's 0600 is for secrets
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def regular_file(path: str | Path, flag: str) -> bool:
    """Whether `path` exists; PathError when it exists as anything but a regular file (a
    folder, a FIFO that would block every reader, a device like /dev/zero that never ends),
    symbolic links followed."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # nothing there (yet)
        if os.path.islink(path):
            raise PathError(f"{flag} {path}: a broken symbolic link") from None
        return False
    except OSError as err:
        raise PathError(f"{flag} {path}: unusable ({err.strerror})") from None
    if stat.S_ISDIR(mode):
        raise PathError(f"{flag} {path}: is a folder")
    if not stat.S_ISREG(mode):
        raise PathError(f"{flag} {path}: not a regular file")
    return True


def check_writable(path: str | Path, flag: str, replace: bool = False) -> None:
    """PathError unless a file can be written at `path`; nothing is left behind.

    An existing file must be a regular file open for appending; a new one needs its
    nearest existing folder to take a file (the writer creates the folders between).
    A file that will be replaced whole (`replace`: `write_atomic` writes a new file beside
    it, then renames) needs its folder to take a new file even where the file exists.
    """
    target = Path(path)
    if regular_file(target, flag):
        try:
            with open(target, "ab"):
                pass
        except OSError as err:
            raise PathError(f"{flag} {path}: cannot write there ({err.strerror})") from None
        if not replace:
            return
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise PathError(f"{flag} {path}: cannot write there ({folder} is not a folder)")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{target.name}-"):
            pass
    except OSError as err:
        raise PathError(f"{flag} {path}: cannot write there ({err.strerror})") from None


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file: the same path, or (both existing) the same device
    and inode, so a hard link or a second name of a folder is caught too."""
    if Path(a).resolve() == Path(b).resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): two names, two files
        return False
