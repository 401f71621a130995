"""Stop rules: the `stop` spec as a dict of thresholds, a callable, or a `Stopper` object."""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from tunelab.error import TuneError
from tunelab.metrics import as_number, require_number
from tunelab.result_keys import CONFIG, TRAINING_ITERATION


class Stopper:
    """Extension point for stop rules.

    `__call__(trial_id, result)` returns True to stop that trial; `stop_all()` returns True to stop the
    whole experiment. Both are called on the driver, once per result, so keep them cheap.
    """

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return False


class FunctionStopper(Stopper):
    """Wrap a `(trial_id, result) -> bool` callable."""

    def __init__(self, function: Callable[[str, dict], bool]):
        self._function = function

    def __call__(self, trial_id: str, result: dict) -> bool:
        return bool(self._function(trial_id, result))


class MaximumIterationStopper(Stopper):
    """Stop each trial after `max_iter` results."""

    def __init__(self, max_iter: int):
        self._max_iter = max_iter

    def __call__(self, trial_id: str, result: dict) -> bool:
        return result.get(TRAINING_ITERATION, 0) >= self._max_iter


class TimeoutStopper(Stopper):
    """Stop the whole experiment after `timeout` seconds of wall-clock time."""

    def __init__(self, timeout: float):
        self._deadline = time.monotonic() + float(timeout)

    def stop_all(self) -> bool:
        return time.monotonic() >= self._deadline


class CombinedStopper(Stopper):
    """Stop when any of the given stoppers says so."""

    def __init__(self, *stoppers: Stopper):
        self._stoppers = stoppers

    def __call__(self, trial_id: str, result: dict) -> bool:
        return any(s(trial_id, result) for s in self._stoppers)

    def stop_all(self) -> bool:
        return any(s.stop_all() for s in self._stoppers)


class DictStopper(Stopper):
    """The seed's rule: stop when any `result[key] >= threshold`. A key never reported is an error; a
    reported value that is not a number fails that trial (`BadMetricError`); NaN never meets a threshold."""

    def __init__(self, criteria: Mapping[str, Any]):
        for key, value in criteria.items():
            number = as_number(value)
            if number is None or math.isnan(number):
                raise TuneError(f"stop criterion {key!r} must be a number, not NaN (the trial stops when "
                                f"result[{key!r}] >= it; float('inf') never stops), got {value!r}")
        self.criteria = dict(criteria)

    def __call__(self, trial_id: str, result: dict) -> bool:
        for key, threshold in self.criteria.items():
            if key not in result:
                raise TuneError(
                    f"Stopping criterion {key!r} was not provided in the result of trial {trial_id}; "
                    f"it reported: {sorted(k for k in result if k != CONFIG)}"
                )
            value = result[key]
            if value is not None and require_number(value, key, f"stop criterion {key!r}") >= threshold:
                return True
        return False


def make_stopper(stop: Any) -> Stopper | None:
    """Turn a `stop` spec (None, dict, callable or Stopper) into a Stopper, or raise TuneError."""
    if stop is None or (isinstance(stop, Mapping) and not stop):
        return None
    if isinstance(stop, Stopper):
        return stop
    if isinstance(stop, Mapping):
        return DictStopper(stop)
    if callable(stop):
        return FunctionStopper(stop)
    raise TuneError(f"stop must be a dict of metric thresholds, a callable (trial_id, result) -> bool or a Stopper, got {stop!r}")
