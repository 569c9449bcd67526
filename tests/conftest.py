"""Shared fixtures. The backend under test is fixed by KERAS_BACKEND before pytest starts;
the README's test command runs this suite once per backend."""

from __future__ import annotations

import os

import pytest

from cnnbench import data


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
    return f"KERAS_BACKEND={os.environ.get('KERAS_BACKEND', '(unset: tensorflow)')}"
