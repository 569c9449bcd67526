"""An environment per Keras version, the frameworks shared: what a block's arm of another
Keras runs in.

    python = envs.python_for("3.10.0")     # built once, then cached

Each is a venv under `CNNBENCH_ENVS` (default `~/.cache/cnnbench/keras/`), one per version
and building environment (`VERSION-HASH`), holding that Keras alone (`keras==V`, or
`keras-nightly==V` for a `.dev` version), installed without its dependencies; a `.pth`
file then adds this environment's site-packages after its own, so the frameworks, NumPy
and cnnbench are exactly this environment's and the difference between two arms is
Keras's alone. What that Keras needs and this environment lacks (the oldest releases'
dm-tree) is added to its own; a release that needs another version of a library this
environment has cannot be an arm. An environment is only used once its `import keras`
reports the version asked for; one that cannot be built is an `EnvError` naming the
version.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

from packaging.version import InvalidVersion, Version

ENVS = "CNNBENCH_ENVS"
TIMEOUT_S = 600  # a pip install of one wheel: minutes at most, even from a slow index


class EnvError(Exception):
    """A Keras version whose environment cannot be had."""


def installed() -> str:
    """This environment's Keras version, without importing Keras (which fixes a backend)."""
    from importlib import metadata

    for name in ("keras", "keras-nightly"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    raise EnvError("this environment has no Keras")


def check_version(text: str) -> str:
    """A Keras version as the package index spells it; EnvError otherwise."""
    try:
        version = Version(text)
    except InvalidVersion:
        raise EnvError(f"keras {text[:40]!r}: not a version") from None
    if version.major != 3:
        raise EnvError(f"keras {text}: only Keras 3 has the multi-backend API this model uses")
    return str(version)


def requirement(version: str) -> str:
    return f"keras-nightly=={version}" if ".dev" in version else f"keras=={version}"


def folder() -> Path:
    return Path(os.environ.get(ENVS) or Path.home() / ".cache" / "cnnbench" / "keras")


def shared() -> str:
    """This environment's site-packages: what every version's environment built from here
    adds after its own (the frameworks, NumPy, cnnbench)."""
    return sysconfig.get_paths()["purelib"]


def env_for(version: str) -> Path:
    """The folder of `version`'s environment built from this one: one per version and
    environment, since another checkout's venv (a worktree's) shares its own libraries."""
    tag = hashlib.sha256(shared().encode()).hexdigest()[:10]
    return folder() / f"{re.sub(r'[^A-Za-z0-9.]', '_', version)}-{tag}"


def _bin(env: Path) -> Path:
    return env / "bin" / "python"


def _reported(python: Path) -> str | None:
    try:
        out = subprocess.run(
            [str(python), "-c", "from importlib import metadata as m\n"
             "import sys\nfor n in ('keras-nightly', 'keras'):\n"
             "    try: print(m.version(n)); sys.exit()\n    except m.PackageNotFoundError: pass"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


# Run in an environment's python: each requirement of what its own site-packages holds
# (that Keras, and what was added for it) that nothing on its path satisfies, as JSON
# [[requirement, installed version or null], ...].
_UNMET = """
import json, sys, sysconfig
from importlib import metadata as m
from packaging.requirements import Requirement
own = sysconfig.get_paths()["purelib"]
unmet = []
for dist in m.distributions(path=[own]):
    for text in dist.requires or []:
        r = Requirement(text)
        if r.marker is not None and not r.marker.evaluate({"extra": ""}):
            continue
        try:
            have = m.version(r.name)
        except m.PackageNotFoundError:
            have = None
        if have is None or not r.specifier.contains(have, prereleases=True):
            unmet.append([str(r), have])
print(json.dumps(unmet))
"""
ROUNDS = 4  # of adding what a Keras needs: dm-tree for the oldest, then what dm-tree needs


def _run(step: list[str], version: str, timeout: float = TIMEOUT_S) -> str:
    # this environment's pip constraints (tox sets PIP_CONSTRAINT) pin its own Keras: another
    # Keras would be an impossible resolution, and its environment adds Keras alone
    env = {k: v for k, v in os.environ.items() if k != "PIP_CONSTRAINT"}
    try:
        done = subprocess.run(step, capture_output=True, text=True, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise EnvError(f"keras {version}: its environment could not be built ({err})") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise EnvError(f"keras {version}: its environment could not be built ({last[:200]})")
    return done.stdout


def _install(python: Path, requirement_text: str, version: str) -> None:
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
          "--no-deps", requirement_text], version)  # fmt: skip


def python_for(version: str, log=print) -> str:
    """The python of an environment whose Keras is `version` (this one's, if it is).

    Keras alone goes in first (no dependencies: pip would otherwise replace this
    environment's libraries); then what it needs that this environment lacks (the oldest
    releases' dm-tree) is added the same way. A release that needs another version of a
    library this environment has is an EnvError naming both: the libraries stay shared.
    """
    version = check_version(version)
    if Version(installed()) == Version(version):
        return sys.executable
    env = env_for(version)
    python = _bin(env)
    if python.exists() and _reported(python) == version:
        return str(python)
    log(f"cnnbench: building an environment for Keras {version} in {env}")
    _run([sys.executable, "-m", "venv", "--clear", "--without-pip", str(env)], version)
    _install(python, requirement(version), version)
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                version, 60).strip()  # fmt: skip
    here = shared()
    # After its own site-packages: its Keras wins, everything else is this environment's.
    Path(site, "cnnbench-shared.pth").write_text(f"import site; site.addsitedir({here!r})\n")
    for _ in range(ROUNDS):
        unmet = json.loads(_run([str(python), "-c", _UNMET], version, 60) or "[]")
        clash = [(req, have) for req, have in unmet if have is not None]
        if clash:
            req, have = clash[0]
            raise EnvError(f"keras {version} needs {req}; this environment has {have}, shared by "
                           "every arm")  # fmt: skip
        if not unmet:
            break
        for req, _ in unmet:
            log(f"cnnbench: Keras {version} needs {req}: adding it to its environment")
            _install(python, req, version)
    if _reported(python) != version:
        raise EnvError(f"keras {version}: installed, but its environment reports another Keras")
    return str(python)
