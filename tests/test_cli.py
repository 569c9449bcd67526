import json
import subprocess
import sys

import pytest

from cnnbench.analytic import DENSE_UNITS
from cnnbench.cli import main


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--filters", "0"], "filters must be in 1..1048576, got 0"),
        (["run", "--lr", "0"], "learning rate must be in (0, 3.403e+38]"),
        (["run", "--lr", "-0.1"], "learning rate must be in (0, 3.403e+38], got -0.1"),
        (["run", "--lr", "1e308"], "learning rate must be in (0, 3.403e+38], got 1e+308"),
        (["run", "--backend", "caffe"], "invalid choice: 'caffe'"),
        (["run", "--data", "/no/such/mnist.npz"], "--data /no/such/mnist.npz: does not exist"),
        (["run", "--data", "/dev/zero"], "--data /dev/zero: not a regular file"),
        (["run", "--data", "/"], "--data /: is a folder"),
        (["data", "--data", "/dev/zero"], "MNIST data path /dev/zero: not a regular file"),
        (["run", "--filters", "eight"], "invalid int value: 'eight'"),
        (["data", "--data", "/no/such/mnist.npz"], "/no/such/mnist.npz does not exist"),
        (["fly"], "invalid choice: 'fly'"),
        (["run", "--impl", "caffe"], "invalid choice: 'caffe'"),
        (["peak", "--size", "8"], "--size must be >= 64, got 8"),
        (["run", "--seed", "-1"], "seed must be in 0..4294967295, got -1"),
        (["run", "--seed", "4294967296"], "seed must be in 0..4294967295"),
        (["run", "--precision", "fp16"], "invalid choice: 'fp16'"),
        (["run", "--json", "/proc/r.json"], "--json /proc/r.json: cannot write there"),
        (["tune", "--epochs", "1"], "tune needs --epochs >= 2"),
        (["tune", "--impl", "keras-loop,caffe"], "choose from keras, keras-loop, native"),
    ],
)
@pytest.mark.any_backend  # imports Keras, tests none of its backends
def test_bad_arguments_give_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("cnnbench: error: ")
    assert message in err


def test_unknown_backend_in_environment(monkeypatch, capsys):
    monkeypatch.setenv("KERAS_BACKEND", "theano")
    assert main(["run"]) == 2
    assert "unknown backend 'theano' (KERAS_BACKEND)" in capsys.readouterr().err


@pytest.mark.any_backend
def test_data_command_names_source_and_path(mnist, capsys):
    assert main(["data", "--data", str(mnist.path)]) == 0
    out = capsys.readouterr().out
    assert f"explicit path {mnist.path}" in out and f"path: {mnist.path}" in out


def _run_cli(args, env_backend, tmp_path):
    import os

    env = {**os.environ, "KERAS_BACKEND": env_backend}
    return subprocess.run(
        [sys.executable, "-m", "cnnbench", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )


@pytest.mark.slow
@pytest.mark.any_backend  # the command around a run; test_train trains each backend
def test_run_prints_report_summary_and_writes_json(backend, tmp_path):
    out = tmp_path / "r.json"
    done = _run_cli(
        ["run", "--filters", "8", "--epochs", "1", "--json", str(out)], backend, tmp_path
    )
    assert done.returncode == 0, done.stderr
    for line in [
        "Training has been completed",
        f"Backend: {backend} on cpu",
        "Total number of Epochs trained: 1",
        "Batch size: 50",
        "Learning rate: 0.1",
        f"Number of units: {DENSE_UNITS}",
        "Number of filters: 8",
        "Total number of parameters: 52258",
    ]:
        assert line in done.stdout
    assert "epoch 1/1" in done.stderr  # the per-epoch progress line
    assert "I0000" not in done.stderr and "oneDNN" not in done.stderr  # libraries quiet
    result = json.loads(out.read_text())
    assert (result["backend"], result["params"], result["epochs"]) == (backend, 52258, 1)
    assert result["val_accuracy"] >= 0.96


@pytest.mark.any_backend
@pytest.mark.slow
def test_other_backend_runs_in_a_fresh_process(backend, tmp_path, capfd):
    import keras  # noqa: F401  (the backend of this process is now fixed)

    other = "jax" if backend != "jax" else "torch"
    out = tmp_path / "other.json"
    argv = [
        "run",
        "--backend",
        other,
        "--filters",
        "4",
        "--epochs",
        "1",
        "--train-subset",
        "500",
        "--json",
        str(out),
    ]
    assert main(argv) == 0
    assert json.loads(out.read_text())["backend"] == other


def test_gpu_device_without_gpu_exits_2(backend, tmp_path):
    from cnnbench.backend import gpu_names

    if gpu_names(backend):
        pytest.skip(f"this machine has a GPU visible to {backend}")
    done = _run_cli(["run", "--device", "gpu", "--epochs", "1"], backend, tmp_path)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last == f"cnnbench: error: device 'gpu' requested, but the {backend} backend sees no GPU"


def test_peak_prints_a_measured_rate(backend, capsys):
    assert main(["peak", "--size", "256"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"fp32 matmul peak ({backend} on cpu, 256x256): ")
    assert float(out.split(": ")[1].split()[0]) > 0.1


def test_json_under_a_regular_file_is_refused_before_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["run", "--json", str(blocker / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write there" in err


def test_a_run_too_large_for_memory_is_refused_in_one_line(backend, capsys):
    assert main(["run", "--filters", "1000000", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1000000 filters need at least" in err and "GiB free" in err


def test_a_peak_too_large_for_memory_is_refused(backend, capsys):
    assert main(["peak", "--size", "1000000"]) == 2
    assert "three 1000000x1000000 matrices need" in capsys.readouterr().err


@pytest.mark.slow
def test_a_diverging_run_fails_in_one_line_and_writes_nothing(backend, tmp_path):
    out = tmp_path / "r.json"
    args = ["run", "--lr", "1e38", "--filters", "4", "--epochs", "1", "--train-subset", "500"]
    done = _run_cli([*args, "--json", str(out)], backend, tmp_path)
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("cnnbench: error: training diverged: the loss is not finite from epoch 1")
    )
    assert "Warning" not in done.stderr  # no library's overflow notice before the line
    assert not out.exists()


def test_help_describes_every_command_in_whole_sentences(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "Train the 2017 lab report's MNIST CNN once on a Keras backend (run)" in out
    assert "Benchmark sweeps: pytest benchmarks/." in out


@pytest.mark.any_backend  # imports Keras, tests none of its backends
def test_a_usage_error_leaves_no_folder_behind(tmp_path, capsys):
    target = tmp_path / "a" / "b" / "c.json"
    assert main(["run", "--json", str(target), "--filters", "0"]) == 2
    assert "filters must be in 1..1048576" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # validated everything, created nothing


def test_tune_refuses_a_results_file_that_is_not_results_before_training(tmp_path, capsys):
    image = tmp_path / "figure.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff")
    assert main(["tune", "--epochs", "2", "--results", str(image)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a cnnbench results file" in err
    assert image.read_bytes().endswith(b"IHDR\xff")  # never cut
