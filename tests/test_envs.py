"""An environment per Keras version: Keras alone, what it lacks added, the libraries
shared (a release needing another version of one is refused); a block whose Keras arm
cannot be had goes on without it. pip is replaced by a writer of package metadata, so
nothing is downloaded."""

import sys
from pathlib import Path

import pytest

from cnnbench import envs
from cnnbench.block import Block, BlockError, aa_arms, parse_arm
from cnnbench.envs import EnvError


def _site(python: Path) -> Path:
    (site,) = (python.parent.parent / "lib").glob("python*/site-packages")
    return site


def _fake_pip(requires):
    """`_install` as pip would do it, from a table of {requirement: (name, version, requires)}."""
    installed = []

    def install(python, requirement_text, version):
        name, dist_version, needs = requires[requirement_text]
        info = _site(python) / f"{name.replace('-', '_')}-{dist_version}.dist-info"
        info.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {dist_version}"]
        lines += [f"Requires-Dist: {need}" for need in needs]
        (info / "METADATA").write_text("\n".join(lines) + "\n")
        installed.append(requirement_text)

    return install, installed


def test_a_release_gets_keras_alone_then_what_it_lacks(tmp_path, monkeypatch):
    monkeypatch.setenv(envs.ENVS, str(tmp_path))
    install, installed = _fake_pip({
        "keras==3.0.0": ("keras", "3.0.0", ["numpy", "cnnbench-fake-tree"]),
        "cnnbench-fake-tree": ("cnnbench-fake-tree", "0.1.8", ["cnnbench-fake-wrapt"]),
        "cnnbench-fake-wrapt": ("cnnbench-fake-wrapt", "1.0", []),
    })  # fmt: skip
    monkeypatch.setattr(envs, "_install", install)
    said = []
    python = envs.python_for("3.0.0", log=said.append)
    assert installed == ["keras==3.0.0", "cnnbench-fake-tree", "cnnbench-fake-wrapt"]
    assert envs._reported(Path(python)) == "3.0.0"  # numpy: this environment's, shared
    assert any("needs cnnbench-fake-tree" in line for line in said)
    assert envs.python_for("3.0.0", log=said.append) == python  # built once


def test_another_environment_gets_its_own_build_never_this_ones(tmp_path, monkeypatch):
    """A worktree's venv building Keras 3.0.0 after the main checkout's must not reuse the
    latter's environment: its .pth would bring the other checkout's cnnbench and libraries."""
    monkeypatch.setenv(envs.ENVS, str(tmp_path))
    install, installed = _fake_pip({"keras==3.0.0": ("keras", "3.0.0", ["numpy"])})
    monkeypatch.setattr(envs, "_install", install)
    here = envs.python_for("3.0.0", log=lambda line: None)
    other = tmp_path / "another-venv"
    other.symlink_to(envs.shared())  # the same libraries, as another venv would have them
    monkeypatch.setattr(envs, "shared", lambda: str(other))
    there = envs.python_for("3.0.0", log=lambda line: None)
    assert there != here and installed == ["keras==3.0.0"] * 2
    (pth,) = _site(Path(there)).glob("cnnbench-shared.pth")
    assert "another-venv" in pth.read_text()


def test_a_release_that_needs_another_numpy_is_refused_naming_both(tmp_path, monkeypatch):
    monkeypatch.setenv(envs.ENVS, str(tmp_path))
    install, _ = _fake_pip({"keras==3.1.0": ("keras", "3.1.0", ["numpy<1"])})
    monkeypatch.setattr(envs, "_install", install)
    import numpy

    with pytest.raises(EnvError, match=rf"keras 3.1.0 needs numpy<1; this environment has "
                                       rf"{numpy.__version__}"):  # fmt: skip
        envs.python_for("3.1.0", log=lambda line: None)


def test_a_keras_arm_that_cannot_be_had_is_left_out_and_the_block_goes_on(monkeypatch):
    from cnnbench import block_cli
    from cnnbench.errors import UsageError

    def python(arm, write):
        if arm.keras == "3.5.0":
            raise BlockError(f"arm {arm.name}: keras 3.5.0: its environment could not be built")
        return sys.executable

    monkeypatch.setattr(block_cli, "_python", python)
    arms = [parse_arm(a) for a in ("jax:native", "jax:keras-default@3.5.0", "jax:keras-default")]
    block = Block(arms=aa_arms(arms, arms[1]), filters=(8,), rounds=2)
    said = []
    kept = block_cli._made(block, {}, {}, said.append)
    assert [a.name for a in kept.arms] == ["jax:native", "jax:keras-default"]  # twin gone too
    assert said == ["cnnbench: arm jax:keras-default@3.5.0: keras 3.5.0: its environment "
                    "could not be built; left out, the block goes on without it"]  # fmt: skip
    alone = Block(arms=(arms[1],), filters=(8,), rounds=2)
    with pytest.raises(UsageError, match="no arm of the block can start"):
        block_cli._made(alone, {}, {}, said.append)


def test_keras_versions_add_each_keras_arm_at_each_version(tmp_path, capsys):
    from cnnbench.cli import main

    path = tmp_path / "b.jsonl"
    argv = ["block", "torch:native", "torch:keras-default", "--keras", "3.16.0,3.10.0",
            "--rounds", "1", "--plan", "--results", str(path)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    for arm in ("torch:keras-default@3.16.0", "torch:keras-default@3.10.0", "torch:native "):
        assert arm in out
    assert "torch:native@" not in out  # native has no Keras to change
    assert main(["block", "torch:native", "--keras", "3.16.0", "--plan"]) == 2
    assert "no Keras arm (keras-*) to time at it" in capsys.readouterr().err
