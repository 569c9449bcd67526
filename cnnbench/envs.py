"""An environment per Keras version, the frameworks shared: what a block's arm of another
Keras runs in.

    python = envs.python_for("3.10.0")     # built once, then cached

Each is a venv under `CNNBENCH_ENVS` (default `~/.cache/cnnbench/keras/`) holding that
Keras alone (`keras==V`, or `keras-nightly==V` for a `.dev` version), installed without
its dependencies; a `.pth` file then adds this environment's site-packages after its
own, so the frameworks, NumPy and cnnbench are exactly this environment's and the
difference between two arms is Keras's alone. An environment is only used once its
`import keras` reports the version asked for; one that cannot be built is an
`EnvError` naming the version.
"""

from __future__ import annotations

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


def python_for(version: str, log=print) -> str:
    """The python of an environment whose Keras is `version` (this one's, if it is)."""
    version = check_version(version)
    if Version(installed()) == Version(version):
        return sys.executable
    env = folder() / re.sub(r"[^A-Za-z0-9.]", "_", version)
    python = _bin(env)
    if python.exists() and _reported(python) == version:
        return str(python)
    log(f"cnnbench: building an environment for Keras {version} in {env}")
    steps = [
        [sys.executable, "-m", "venv", "--clear", "--without-pip", str(env)],
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", requirement(version)],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise EnvError(f"keras {version}: its environment could not be built ({err})") from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise EnvError(f"keras {version}: its environment could not be built ({last[:200]})")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    here = sysconfig.get_paths()["purelib"]
    # After its own site-packages: its Keras wins, everything else is this environment's.
    Path(site, "cnnbench-shared.pth").write_text(f"import site; site.addsitedir({here!r})\n")
    if _reported(python) != version:
        raise EnvError(f"keras {version}: installed, but its environment reports another Keras")
    return str(python)
