"""Files the project writes: whole or not at all, with the user's usual permissions, and
checked for writability before any long work starts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cnnbench.errors import UsageError


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


def check_writable(path: str | Path, flag: str) -> None:
    """UsageError unless a file can be written at `path` (checked before any work).

    Creates the missing folders, as the writer would, and tries a file beside it.
    """
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{flag} {path}: is a folder")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}-"):
            pass
    except OSError as err:
        raise UsageError(f"{flag} {path}: cannot write there ({err.strerror})") from None
