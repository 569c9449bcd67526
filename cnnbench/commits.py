"""Another commit of this project as a block's arm: its code, this environment's libraries.

    python -m cnnbench block torch:native#v0.4 torch:native --aa torch:native --rounds 8

An arm `backend:path#REV` (any git revision of this checkout) runs its worker from that
commit's `cnnbench` package, exported once (`git archive`) into `CNNBENCH_COMMITS`
(default `~/.cache/cnnbench/commits/<sha>/`), with this environment's Python: the
frameworks, Keras and NumPy are the same for both arms, so their paired ratio is the
project's code alone, timed interleaved in one block (what asv's `continuous` does with
two commits). The arm is named by the commit's first 12 hex digits, so a block's
definition, and its resume, never follow a moving branch. A commit from before the
block worker existed cannot be an arm: `CommitError` says so, before anything trains.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

COMMITS = "CNNBENCH_COMMITS"
SHORT = 12  # hex digits of a commit in an arm's name
WORKER = "cnnbench/worker.py"


class CommitError(Exception):
    """A revision that cannot be an arm: not a commit of this checkout, or too old."""


def folder() -> Path:
    return Path(os.environ.get(COMMITS) or Path.home() / ".cache" / "cnnbench" / "commits")


def _git(repo: Path, *args: str, binary: bool = False) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=not binary, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise CommitError(f"git could not be run ({err})") from None


def resolve(rev: str, repo: Path) -> str:
    """The commit `rev` names in the checkout at `repo`, as its first `SHORT` hex digits."""
    done = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if done.returncode != 0:
        if _git(repo, "rev-parse", "--git-dir").returncode != 0:
            raise CommitError(f"{repo} is not a git checkout: a commit names no code here")
        raise CommitError("not a commit of this checkout")
    return done.stdout.strip()[:SHORT]


def export(commit: str, repo: Path) -> Path:
    """The folder holding `commit`'s `cnnbench` package (exported on first use); a worker
    started there imports that package."""
    target = folder() / commit
    if (target / WORKER).exists():
        return target
    done = _git(repo, "archive", "--format=tar", commit, "cnnbench", binary=True)
    if done.returncode != 0:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        raise CommitError(f"its code could not be exported ({last[:200]})")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        if WORKER not in archive.getnames():
            raise CommitError("it predates the block worker (no cnnbench/worker.py there)")
        folder().mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{commit}-", dir=folder()))
        try:
            archive.extractall(partial, filter="data")
            partial.rename(target)  # whole or not at all: a killed export leaves no folder
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)
            if not (target / WORKER).exists():  # another block's export won the race
                raise
    return target
