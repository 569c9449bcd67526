"""The project's shell scripts parse, and the block's refuses a run it cannot name."""

import subprocess
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).parent.parent
SCRIPTS = sorted([*CHECKOUT.glob("benchmarks/*.sh"), CHECKOUT / ".ci" / "run"])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_shell_script_parses(script):
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_block_script_without_a_name_says_so_in_one_line():
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        ["bash", str(CHECKOUT / "benchmarks" / "block.sh")], capture_output=True, text=True, env=env
    )
    assert done.returncode != 0
    assert done.stderr.strip().endswith("NAME must name the files of the block")
    assert len(done.stderr.strip().splitlines()) == 1
