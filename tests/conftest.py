"""Shared fixtures, and the suite's two passes. The backend under test is fixed by
KERAS_BACKEND before pytest starts (Keras reads it once, at import).

Most tests do not depend on the backend; those that do are marked `per_backend` (every
test using the `backend` or `mnist` fixture, and every test of a module in PER_BACKEND, is
marked here). A test that needs some backend but tests nothing of one (a bad option's
message, the data chain, a killed shard) is marked `any_backend` as well: it runs in
ANY_BACKEND's pass alone. The README's test command runs the suite in passes
(`CNNBENCH_TEST_PASS`): `neutral` runs the unmarked tests once, with KERAS_BACKEND set to
a backend Keras does not have, so an unmarked test that imports Keras fails instead of
passing on whichever backend it met; `backend` runs the marked ones, once per backend.
Unset: every test, on the backend given.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cnnbench import data

PASS = os.environ.get("CNNBENCH_TEST_PASS")
NEUTRAL_BACKEND = "none-in-the-neutral-pass"  # an `import keras` fails on it
PER_BACKEND = {"test_benchmarks.py", "test_model.py", "test_train.py"}  # import Keras at top
BACKEND_FIXTURES = {"backend", "mnist"}
ANY_BACKEND = "tensorflow"  # Keras's default; the any_backend tests run in its pass
if PASS not in (None, "neutral", "backend"):
    raise pytest.UsageError(f"CNNBENCH_TEST_PASS={PASS!r}: expected neutral or backend")
if PASS == "neutral":
    os.environ["KERAS_BACKEND"] = NEUTRAL_BACKEND  # before anything imports Keras
# Under pytest-xdist (tox -e tests) this process is a worker. The benchmark sessions the
# tests start (directly or through cnnbench) are plain pytest runs: given xdist's variables,
# pytest-benchmark would take them for workers too and disable itself there.
for _name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
    os.environ.pop(_name, None)


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    if PASS == "neutral" and collection_path.name in PER_BACKEND:
        return True  # their imports need a backend; the backend passes run them
    return None


def runs_in(test_pass: str | None, backend: str | None, markers: set[str]) -> bool:
    """Whether a test with these markers runs in this pass on this backend."""
    if test_pass is None:
        return True
    if test_pass == "neutral":
        return not markers & {"per_backend", "any_backend"}
    if "any_backend" in markers:
        return backend == ANY_BACKEND
    return "per_backend" in markers


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in PER_BACKEND or BACKEND_FIXTURES & set(item.fixturenames):
            item.add_marker("per_backend")
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")  # unset: Keras's default
    keep = [i for i in items if runs_in(PASS, backend, {m.name for m in i.iter_markers()})]
    drop = [i for i in items if i not in keep]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def backend() -> str:
    import keras

    return keras.backend.backend()


@pytest.fixture(scope="session")
def mnist() -> data.Mnist:
    """Real MNIST through the project's own source chain (the cache after the first run)."""
    return data.load()


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras cache, so tests never touch the user's."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("CNNBENCH_DATA", raising=False)
    return tmp_path / "keras"


def pytest_report_header(config):
    backend = os.environ.get("KERAS_BACKEND", "(unset: tensorflow)")
    return f"KERAS_BACKEND={backend}, pass {PASS or 'all (CNNBENCH_TEST_PASS unset)'}"
