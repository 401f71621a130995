"""The `Searcher` extension point (the modern search API) and `SearchGenerator`, the `TrialSource` the
controller drives over a Searcher.

A Searcher only answers "which config next?" and listens to outcomes; everything about experiments and
trials (ids, tags, merging the suggestion into the constant config, counting samples) lives in
`tunelab.suggest.trial_factory.SuggestedTrials`, which SearchGenerator uses, so a new searcher is a few
dozen lines. The search-space helpers every searcher shares (which config values to optimise, how
choices nest, how `points_to_evaluate` map onto parameters) are in `tunelab.suggest.space`;
`tunelab.suggest.wrapper` has the base of searchers that wrap another. The seed's `SuggestionAlgorithm`
is in `tunelab.suggest.suggestion` (and importable from here, as before).
"""
from __future__ import annotations

import math
import os
import tempfile
from typing import TYPE_CHECKING, Any

from tunelab import metrics
from tunelab.error import TuneError
from tunelab.suggest.search import SearchAlgorithm
from tunelab.suggest.space import sampled_domains
from tunelab.suggest.trial_factory import FINISHED, SuggestedTrials
from tunelab.suggest.trial_source import TrialSource, drain_trials

if TYPE_CHECKING:
    from tunelab.experiment import Experiment
    from tunelab.trial import Trial


class Searcher:
    """Suggests configs one trial at a time and learns from their results.

    Implementers override `suggest` and usually `on_trial_complete`; the rest has working defaults:

    - `suggest(trial_id)` returns a (possibly nested) dict of parameter values, `None` to say "not now,
      ask again later" (throttling), or `Searcher.FINISHED` when it will never suggest again.
    - `on_trial_result(trial_id, result)` hears every intermediate result (default: ignored).
    - `on_trial_complete(trial_id, result=None, error=False)` hears the end of a trial it suggested:
      `result` is its last result; `error` means it failed and the result says nothing about its config.
    - `on_trial_early_stopped(trial_id, result)` hears a trial a scheduler stopped before it finished;
      by default it counts as completed with its last result (as an error if that lacks the metric).
    - `set_search_properties(metric, mode, config)` hands over the experiment-wide metric/mode and the
      experiment config, whose domains (`uniform`, `choice`, ...) a searcher without a space converts.
    - `save_state()` / `restore_state(state)` give a picklable snapshot; `save(path)` / `restore(path)`
      write it to and read it from a file.
    """

    FINISHED = FINISHED

    #: experiments given to the searcher itself (the seed's `HyperOptSearch(experiments, space, ...)`);
    #: `to_search_algorithm` adds them to the `SearchGenerator` it wraps the searcher in
    initial_experiments: Any = None

    def __init__(self, metric: str | list[str] | None = None, mode: str | list[str] | None = None):
        self._metric, self._mode = metrics.check_metric_mode(type(self).__name__, metric, mode)

    @property
    def metric(self) -> str | list[str] | None:
        """The result key (or keys, for several objectives) this searcher optimises."""
        return self._metric

    @property
    def mode(self) -> str | list[str] | None:
        """"min" or "max" (one per metric for several objectives)."""
        return self._mode

    def suggest(self, trial_id: str) -> dict | str | None:
        """A config for the new trial `trial_id`, None to throttle, or `Searcher.FINISHED`."""
        raise TuneError(f"{type(self).__name__} must override suggest(trial_id) to be used as a Searcher")

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """An intermediate result of a trial this searcher suggested."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """The trial ended with its last `result`, or failed (`error=True`)."""

    def on_trial_early_stopped(self, trial_id: str, result: dict | None) -> None:
        """A scheduler stopped the trial early; by default a completion with its last result."""
        lacks_metric = self.metric is not None and self.metric_values(result) is None
        self.on_trial_complete(trial_id, result=result, error=lacks_metric)

    def set_search_properties(self, metric: str | list[str] | None, mode: str | list[str] | None,
                              config: dict | None = None) -> bool:
        """Adopt `metric`/`mode` where none was given, and the search space held by `config`.

        Returns False when `config` holds domains this searcher cannot take: it has no way to convert
        them (the default) or it already has a search space of its own.
        """
        self._adopt_metric_mode(metric, mode)
        return not sampled_domains(config or {})

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Limit live trials internally; False (the default) asks the caller for a ConcurrencyLimiter."""
        return False

    def add_evaluated_point(self, parameters: dict, value: Any, error: bool = False, pruned: bool = False,
                            intermediate_values: list | None = None) -> None:
        """Teach the searcher about a config evaluated elsewhere (only some searchers can)."""
        raise TuneError(f"{type(self).__name__} does not support add_evaluated_point")

    def save_state(self) -> Any:
        """A picklable snapshot of everything the searcher learned."""
        return dict(self.__dict__)

    def restore_state(self, state: Any) -> None:
        """Continue from a `save_state()` snapshot."""
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        """Write `save_state()` to `checkpoint_path` (atomically: a crash leaves the old file whole)."""
        import cloudpickle

        directory = os.path.dirname(os.path.abspath(checkpoint_path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".searcher-")
        with os.fdopen(fd, "wb") as f:
            cloudpickle.dump(self.save_state(), f)
        os.replace(tmp, checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        """Read a file written by `save` and continue from it."""
        import cloudpickle

        with open(checkpoint_path, "rb") as f:
            self.restore_state(cloudpickle.load(f))

    # -- helpers for implementations ---------------------------------------------------------------
    def _adopt_metric_mode(self, metric: str | list[str] | None, mode: str | list[str] | None) -> None:
        new_metric = self._metric if self._metric is not None else metric
        new_mode = self._mode if self._mode is not None else mode
        self._metric, self._mode = metrics.check_metric_mode(type(self).__name__, new_metric, new_mode)

    def metric_values(self, result: dict | None) -> list[float] | None:
        """The values of the searcher's metric(s) in `result`, or None when one is missing.

        A value that is not a number comes back as NaN: like NaN and infinities it is unusable
        (`tunelab.metrics.is_usable`), and searchers tell such a trial as failed.
        """
        if not result or self.metric is None:
            return None
        names = self.metric if isinstance(self.metric, list) else [self.metric]
        if any(result.get(name) is None for name in names):
            return None
        numbers = [metrics.as_number(result[name]) for name in names]
        return [math.nan if number is None else number for number in numbers]

    def missing_metric_error(self, trial_id: str, result: dict | None) -> TuneError:
        """The error for a trial that completed normally without reporting the metric."""
        return TuneError(
            f"{type(self).__name__}: trial {trial_id} completed without reporting the metric {self.metric!r}; "
            f"it reported {sorted(result or {})}. Pass one of those keys as metric=."
        )

    def debug_string(self) -> str:
        return f"{type(self).__name__}(metric={self.metric!r}, mode={self.mode!r})"


class SearchGenerator(TrialSource):
    """The `TrialSource` over a `Searcher`, for exactly one experiment: it asks the searcher for configs,
    makes the trials (`SuggestedTrials`) and tells the searcher what became of them.

    The searcher hears only of trials it suggested, by id, with results it may keep (copies); a trial
    stopped early by a scheduler goes to `on_trial_early_stopped` with its last result.
    """

    def __init__(self, searcher: Searcher):
        if not isinstance(searcher, Searcher):
            raise TuneError(f"SearchGenerator needs a tunelab Searcher, got {searcher!r}")
        self.searcher = searcher
        self._trials = SuggestedTrials(type(searcher).__name__)
        self._live: dict[str, dict] = {}  # trial id -> its latest result

    def set_search_properties(self, metric: str | list[str] | None, mode: str | list[str] | None,
                              config: dict | None = None) -> bool:
        accepted = self.searcher.set_search_properties(metric, mode, config)
        if accepted and config and sampled_domains(config):
            self._trials.space_from_config = True
        return accepted

    def add_configurations(self, experiments: Any) -> None:
        """Take the one experiment to search over; its domains go to the searcher if it has no space."""
        self._trials.take_experiment(experiments, lambda config: self.searcher.set_search_properties(None, None, config))

    def added_experiments(self) -> "list[Experiment]":
        return [self._trials.experiment] if self._trials.experiment is not None else []

    def next_trial(self) -> "Trial | None":
        """One new trial, or None when the searcher throttles or is finished."""
        trial_id = self._trials.next_trial_id()
        if trial_id is None:
            return None
        trial = self._trials.make(trial_id, self.searcher.suggest(trial_id))
        if trial is not None:
            self._live[trial_id] = {}
        return trial

    def next_trials(self) -> "list[Trial]":
        """Every trial available now: stops at the first throttle."""
        return drain_trials(self)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self._live:
            self._live[trial_id] = result
            self.searcher.on_trial_result(trial_id, dict(result))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False,
                          early_terminated: bool = False) -> None:
        """Forward the end of a trial; an early-stopped one is reported with its last result."""
        if trial_id not in self._live:
            return  # trials added by hand are not the searcher's
        last = self._live.pop(trial_id)
        result = {**last, **result} if result else (dict(last) or None)
        if early_terminated and not error:
            self.searcher.on_trial_early_stopped(trial_id, result)
        else:
            self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def is_finished(self) -> bool:
        """True once `num_samples` trials were made or the searcher said FINISHED."""
        return self._trials.is_finished()

    def save_state(self) -> Any:
        return {**self._trials.save_state(), "live": dict(self._live), "searcher": self.searcher.save_state()}

    def restore_state(self, state: Any) -> None:
        self._trials.restore_state(state)
        self._live = dict(state["live"])
        self.searcher.restore_state(state["searcher"])

    def debug_string(self) -> str:
        return self.searcher.debug_string()


def to_search_algorithm(search_alg: "TrialSource | Searcher | None") -> TrialSource:
    """The `TrialSource` the controller drives: a SearchAlgorithm (any TrialSource) as is, a Searcher
    behind a SearchGenerator (holding the searcher's `initial_experiments`, if any), None ->
    BasicVariantGenerator."""
    if search_alg is None:
        from tunelab.suggest.basic_variant import BasicVariantGenerator

        return BasicVariantGenerator()
    if isinstance(search_alg, TrialSource):
        return search_alg
    if isinstance(search_alg, Searcher):
        generator = SearchGenerator(search_alg)
        if search_alg.initial_experiments is not None:
            generator.add_configurations(search_alg.initial_experiments)
        return generator
    raise TuneError(f"search_alg must be a tunelab SearchAlgorithm or Searcher, got {search_alg!r}")


from tunelab.suggest.suggestion import SuggestionAlgorithm, _MockSuggestionAlgorithm  # noqa: E402  (seed paths)

__all__ = ["Searcher", "SearchGenerator", "SearchAlgorithm", "SuggestionAlgorithm", "_MockSuggestionAlgorithm",
           "to_search_algorithm"]
