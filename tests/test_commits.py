"""Another commit as a block's arm: the revision resolved once, its code exported once and
imported by its worker, its ratio to this code's arm paired, and a gate on it."""

import subprocess
import sys

import pytest
from test_block import BASE, Machine, _run

from cnnbench import commits
from cnnbench.block import Block, BlockError, aa_arms, parse_arm
from cnnbench.block_cli import regressions
from cnnbench.commits import CommitError
from cnnbench.report.blocks import summaries, verdict_lines
from cnnbench.report.frame import frame
from cnnbench.report.read import load
from cnnbench.worker import ProcessWorker, WorkerError


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A checkout of two commits: the first before the block worker, the second with it."""
    monkeypatch.setenv(commits.COMMITS, str(tmp_path / "exports"))
    repo = tmp_path / "repo"
    (repo / "cnnbench").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "cnnbench" / "__init__.py").write_text("")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "old")
    (repo / "cnnbench" / "worker.py").write_text("WHO = 'exported'\n")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "new")
    return repo


def test_a_revision_is_named_by_its_commit_and_its_code_exported_once(repo, monkeypatch):
    arm = parse_arm("torch:native#HEAD/bf16", repo)
    assert len(arm.commit) == 12 and arm.name == f"torch:native#{arm.commit}/bf16"
    where = commits.export(arm.commit, repo)
    assert (where / "cnnbench" / "worker.py").read_text() == "WHO = 'exported'\n"

    def no_git(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(commits, "_git", no_git)
    assert commits.export(arm.commit, repo) == where


@pytest.mark.parametrize(
    "rev, message",
    [("nope", "not a commit of this checkout"), ("", "'#' names a commit, and none follows")],
)
def test_a_revision_that_names_no_commit_is_one_line(repo, rev, message):
    with pytest.raises(BlockError, match=message) as err:
        parse_arm(f"torch:native#{rev}", repo)
    assert "\n" not in str(err.value)


def test_outside_a_checkout_or_before_the_worker_no_commit_is_an_arm(repo, tmp_path):
    outside = tmp_path / "plain"
    outside.mkdir()
    with pytest.raises(BlockError, match="is not a git checkout"):
        parse_arm("torch:native#HEAD", outside)
    old = commits.resolve("HEAD~1", repo)
    with pytest.raises(CommitError, match="predates the block worker"):
        commits.export(old, repo)
    assert not (commits.folder() / old).exists()


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # the worker's preexec_fn
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_worker_started_elsewhere_than_its_code_is_refused(tmp_path):
    """The worker says whose cnnbench it imported; an arm's worker that imported this
    checkout's (an installed copy shadowing the export) never times a run."""
    fake = tmp_path / "fake.py"
    fake.write_text(
        "import json, sys\n"
        "print(json.dumps({'ready': True, 'machine': {}, 'startup_s': 0.1, "
        "'package': '/somewhere/else/cnnbench'}), flush=True)\n"
        "sys.stdin.read()\n"
    )
    code = tmp_path / "export"
    code.mkdir()
    worker = ProcessWorker(sys.executable, "torch", "cpu", tmp_path / "w.log", cwd=code)
    worker.python = sys.executable
    import cnnbench.worker as module

    real, started = module.subprocess.Popen, []

    def popen(argv, **kwargs):
        started.append(real([sys.executable, str(fake)], **kwargs))
        return started[-1]

    module.subprocess.Popen, saved = popen, module.subprocess.Popen
    try:
        with pytest.raises(WorkerError, match="imported cnnbench from /somewhere/else"):
            worker.start(tmp_path / "cache")
    finally:
        module.subprocess.Popen = saved
    assert started[0].poll() is not None  # and it was ended


def _commit_block(tmp_path, repo, monkeypatch, slower):
    other = parse_arm("torch:native#HEAD", repo)
    monkeypatch.setitem(BASE, other.name, BASE["torch:native"])
    arms = (parse_arm("torch:native"), other, parse_arm("jax:native"))
    block = Block(arms=aa_arms(arms, arms[0]), filters=(16,), rounds=6)
    path = tmp_path / "b.jsonl"
    _run(block, path, Machine(drift=0.3, slower={other.name: slower}))
    return path, other


def test_another_commits_arm_is_paired_with_this_codes_and_gated(tmp_path, repo, monkeypatch):
    path, other = _commit_block(tmp_path, repo, monkeypatch, slower=1.5)
    data = frame(load([str(path)]).runs)
    (summary,) = summaries(data)
    arm = next(a for a in summary.arms if a.arm == other.name)
    assert arm.own == "torch:native" and arm.to_own.low > 1.35 and arm.to_own.high < 1.65
    line = " ".join(verdict_lines(data))
    assert f"commit {other.commit} over the block's own: torch 1.4" in line
    assert "; jax native 1." in line and f"torch:native#{other.commit}" not in line
    said = []
    assert regressions(path, summary.block, 10.0, write=said.append) == [other.name]
    assert said[0].startswith(f"regression: {other.name} takes 1.4")


def test_the_gate_stays_shut_when_the_commits_time_alike(tmp_path, repo, monkeypatch):
    path, _ = _commit_block(tmp_path, repo, monkeypatch, slower=1.0)
    (summary,) = summaries(frame(load([str(path)]).runs))
    assert regressions(path, summary.block, 5.0, write=lambda line: None) == []


def test_the_gate_reads_the_interval_not_the_point(tmp_path, repo, monkeypatch):
    other = parse_arm("torch:native#HEAD", repo)
    monkeypatch.setitem(BASE, other.name, BASE["torch:native"])
    block = Block(arms=(parse_arm("torch:native"), other), filters=(16,), rounds=4)
    path = tmp_path / "b.jsonl"
    _run(block, path, Machine(cv=0.08, seed=3, slower={other.name: 1.06}))
    (summary,) = summaries(frame(load([str(path)]).runs))
    ratio = next(a for a in summary.arms if a.arm == other.name).to_own
    assert ratio.value > 1.03 and ratio.low < 1.03  # slower at the point, not beyond noise
    assert regressions(path, summary.block, 3.0, write=lambda line: None) == []
