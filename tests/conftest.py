"""Shared fixtures: every test writes results under its own tmp folder; the executor is reset between
tests that size it."""
import os

import pytest

import tunelab


@pytest.fixture(autouse=True)
def results_dir(tmp_path, monkeypatch):
    path = tmp_path / "results"
    monkeypatch.setenv("TUNELAB_RESULTS_DIR", str(path))
    monkeypatch.setenv("TUNELAB_DISABLE_AUTO_LOGGERS", os.environ.get("TUNELAB_TEST_LOGGERS_OFF", ""))
    yield str(path)


@pytest.fixture
def fresh_executor():
    """A test that calls tunelab.init(...) gets the default executor back afterwards."""
    yield
    tunelab.init()
