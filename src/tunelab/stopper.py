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


def _spread(values: "list[Any]") -> float:
    """The population standard deviation of `values` (as numpy's std); inf if one is not a number."""
    found = [as_number(v) for v in values]
    numbers = [n for n in found if n is not None and not math.isnan(n)]
    if not numbers or len(numbers) < len(found):
        return math.inf
    mean = sum(numbers) / len(numbers)
    return math.sqrt(sum((n - mean) ** 2 for n in numbers) / len(numbers))


class TrialPlateauStopper(Stopper):
    """Stop a trial once the std of its last `num_results` values of `metric` is below `std`, after
    `grace_period` results and (if set) once the value is past `metric_threshold` in `mode` (Ray 2.x)."""

    def __init__(self, metric: str, std: float = 0.01, num_results: int = 4, grace_period: int = 4,
                 metric_threshold: float | None = None, mode: str | None = None):
        if metric_threshold is not None and mode not in ("min", "max"):
            raise TuneError(f"TrialPlateauStopper: metric_threshold={metric_threshold!r} needs mode='min' or 'max', "
                            f"got mode={mode!r}")
        for name, value in (("num_results", num_results), ("grace_period", grace_period)):
            if not isinstance(value, int) or value < 1:
                raise TuneError(f"TrialPlateauStopper: {name} must be an integer >= 1, got {value!r}")
        self._metric, self._std, self._num_results = metric, std, num_results
        self._grace_period, self._threshold, self._mode = grace_period, metric_threshold, mode
        self._values: dict[str, list[Any]] = {}
        self._counts: dict[str, int] = {}

    def __call__(self, trial_id: str, result: dict) -> bool:
        value = result.get(self._metric)
        values = self._values.setdefault(trial_id, [])
        values.append(value)
        del values[:-self._num_results]
        self._counts[trial_id] = self._counts.get(trial_id, 0) + 1
        if self._counts[trial_id] < self._grace_period or len(values) < self._num_results:
            return False
        if self._threshold is not None:
            number = as_number(value)
            if number is None or (number > self._threshold if self._mode == "min" else number < self._threshold):
                return False
        return _spread(values) < self._std


class ExperimentPlateauStopper(Stopper):
    """Stop the whole experiment once the std of the `top` best values of `metric` seen so far is at
    most `std`, for `patience` results in a row (Ray 2.x)."""

    def __init__(self, metric: str, std: float = 0.001, top: int = 10, mode: str = "min", patience: int = 0):
        if mode not in ("min", "max"):
            raise TuneError(f"ExperimentPlateauStopper: mode must be 'min' or 'max', got {mode!r}")
        if not isinstance(top, int) or top <= 1:
            raise TuneError(f"ExperimentPlateauStopper: top must be an integer greater than 1, got {top!r}")
        if not isinstance(patience, int) or patience < 0:
            raise TuneError(f"ExperimentPlateauStopper: patience must be an integer >= 0, got {patience!r}")
        if not isinstance(std, (int, float)) or std <= 0:
            raise TuneError(f"ExperimentPlateauStopper: std must be a number > 0, got {std!r}")
        self._metric, self._std, self._top, self._mode, self._patience = metric, std, top, mode, patience
        self._top_values: list[float] = []
        self._iterations = 0

    def __call__(self, trial_id: str, result: dict) -> bool:
        value = as_number(result.get(self._metric))
        if value is not None and not math.isnan(value):
            ranked = sorted(self._top_values + [value])
            self._top_values = ranked[: self._top] if self._mode == "min" else ranked[-self._top:]
        self._iterations = self._iterations + 1 if self.has_plateaued() else 0
        return self.stop_all()

    def has_plateaued(self) -> bool:
        return len(self._top_values) == self._top and _spread(self._top_values) <= self._std

    def stop_all(self) -> bool:
        return self.has_plateaued() and self._iterations >= self._patience


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
