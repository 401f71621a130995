"""Seed path `ray.tune.suggest.suggestion`: `SuggestionAlgorithm`, the seed's way to write a searcher
(implement `_suggest(trial_id)`), and its test double `_MockSuggestionAlgorithm`.

It is a `SearchAlgorithm` (so a `TrialSource`) that makes its trials with the same `SuggestedTrials` as
`SearchGenerator` and caps live trials with the same `LiveTrialCap` as every other searcher.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunelab import metrics
from tunelab.error import TuneError
from tunelab.suggest.concurrency import LiveTrialCap
from tunelab.suggest.search import SearchAlgorithm
from tunelab.suggest.space import sampled_domains
from tunelab.suggest.trial_factory import SuggestedTrials
from tunelab.suggest.trial_source import drain_trials

if TYPE_CHECKING:
    from tunelab.experiment import Experiment
    from tunelab.trial import Trial


class SuggestionAlgorithm(SearchAlgorithm):
    """The seed's extension point: subclasses implement `_suggest(trial_id) -> dict | None`.

    Returning None throttles: `next_trials()` returns what it has and asks again on its next call.
    Subclasses override `on_trial_result` / `on_trial_complete(trial_id, result=None, error=False,
    early_terminated=False)` to learn; with `max_concurrent`, at most that many trials are live at once
    (a subclass overriding `on_trial_complete` then calls `super().on_trial_complete(...)`).
    Like a `Searcher`, it searches exactly one experiment, `num_samples` trials.
    """

    def __init__(self, max_concurrent: int | None = None, metric: str | None = None, mode: str | None = None):
        self._metric, self._mode = metrics.check_metric_mode(type(self).__name__, metric, mode)
        self._trials = SuggestedTrials(type(self).__name__)
        self._live_cap = LiveTrialCap(max_concurrent, f"{type(self).__name__}(max_concurrent=...)", minimum=1)
        self._live: set[str] = set()  # ids of the trials made and not yet complete

    @property
    def metric(self) -> str | list[str] | None:
        return self._metric

    @property
    def mode(self) -> str | list[str] | None:
        return self._mode

    def _suggest(self, trial_id: str) -> dict | None:
        """The config for trial `trial_id`, or None to throttle. Subclasses implement this."""
        raise TuneError(f"{type(self).__name__} must implement _suggest(trial_id) -> dict | None")

    # -- TrialSource -------------------------------------------------------------------------------
    def set_search_properties(self, metric: str | list[str] | None, mode: str | list[str] | None,
                              config: dict | None = None) -> bool:
        """Adopt metric/mode where none was given; a config with domains cannot be taken (False)."""
        self._metric, self._mode = metrics.check_metric_mode(
            type(self).__name__, self._metric if self._metric is not None else metric,
            self._mode if self._mode is not None else mode)
        return not sampled_domains(config or {})

    def add_configurations(self, experiments: Any) -> None:
        self._trials.take_experiment(experiments, lambda config: self.set_search_properties(None, None, config))

    def added_experiments(self) -> "list[Experiment]":
        return [self._trials.experiment] if self._trials.experiment is not None else []

    def next_trial(self) -> "Trial | None":
        trial_id = self._trials.next_trial_id()
        if trial_id is None or self._live_cap.is_full(self._live):
            return None
        trial = self._trials.make(trial_id, self._suggest(trial_id))
        if trial is not None:
            self._live.add(trial_id)
        return trial

    def next_trials(self) -> "list[Trial]":
        """Every trial available now: stops at the first throttle."""
        return drain_trials(self)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """An intermediate result (seed hook; override to learn from it)."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False,
                          early_terminated: bool = False) -> None:
        """The trial ended (seed hook; overrides call super() when max_concurrent is used)."""
        self._live.discard(trial_id)

    def is_finished(self) -> bool:
        """True once `num_samples` trials were made (or the subclass called `set_finished()`)."""
        return self._finished or self._trials.is_finished()

    def save_state(self) -> Any:
        return {**self._trials.save_state(), "live": sorted(self._live), "metric": self._metric, "mode": self._mode}

    def restore_state(self, state: Any) -> None:
        self._trials.restore_state(state)
        self._live = set(state["live"])
        self._metric, self._mode = state["metric"], state["mode"]

    def debug_string(self) -> str:
        return f"{type(self).__name__}(metric={self._metric!r}, mode={self._mode!r})"


class _MockSuggestionAlgorithm(SuggestionAlgorithm):
    """The seed's test double: suggests `{"test_variable": 2}` while fewer than `max_concurrent` trials
    are live and `stall` is False; counts results and completions in `counter`. `experiments`, if given,
    is added at once (the seed's constructor took them)."""

    def __init__(self, experiments: Any = None, max_concurrent: int = 2, **kwargs: Any):
        self._max_concurrent = max_concurrent
        self.live_trials: dict[str, int] = {}
        self.counter = {"result": 0, "complete": 0}
        self.stall = False
        self.results: list[dict] = []
        super().__init__(**kwargs)
        if experiments is not None:  # the seed's _MockSuggestionAlgorithm(experiments, max_concurrent=...)
            self.add_configurations(experiments)

    def _suggest(self, trial_id: str) -> dict | None:
        if len(self.live_trials) < self._max_concurrent and not self.stall:
            self.live_trials[trial_id] = 1
            return {"test_variable": 2}
        return None

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.counter["result"] += 1
        self.results.append(result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False,
                          early_terminated: bool = False) -> None:
        self.counter["complete"] += 1
        del self.live_trials[trial_id]


__all__ = ["SuggestionAlgorithm", "_MockSuggestionAlgorithm"]
