"""Helpers for driving searchers in-process: suggest -> evaluate a closed-form function -> complete."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from tunelab.experiment import Experiment


def _train(config: dict) -> None:
    """A stand-in trainable: searcher tests never run it."""


def _drive(searcher: Any, objective: Callable[[dict], dict], n: int) -> list[tuple[dict, dict]]:
    """Run `n` trials one after another; returns (config, result) pairs."""
    history = []
    for i in range(n):
        trial_id = f"t{i}"
        config = searcher.suggest(trial_id)
        assert isinstance(config, dict), config
        result = objective(config)
        searcher.on_trial_complete(trial_id, result)
        history.append((config, result))
    return history


@pytest.fixture
def drive() -> Callable:
    return _drive


@pytest.fixture
def make_experiment() -> Callable[..., Experiment]:
    def make(config: dict | None = None, num_samples: int = 1, name: str = "search") -> Experiment:
        return Experiment(name, _train, config=config or {}, num_samples=num_samples)

    return make
