"""The `Searcher` extension point, `SearchGenerator` (the `SearchAlgorithm` the controller drives over a
Searcher) and the seed's `SuggestionAlgorithm`.

A Searcher only answers "which config next?" and listens to outcomes; everything about experiments and
trials (ids, tags, merging the suggestion into the constant config, counting samples) lives in
SearchGenerator, so a new searcher is a few dozen lines. The search-space helpers every searcher shares
(which config values to optimise, how choices nest, how `points_to_evaluate` map onto parameters) are in
`tunelab.suggest.space`; `tunelab.suggest.wrapper` has the base of searchers that wrap another.
"""
from __future__ import annotations

import copy
import math
import os
import random
import tempfile
import uuid
from typing import TYPE_CHECKING, Any

from tunelab import metrics
from tunelab.error import TuneError
from tunelab.experiment import Experiment, convert_to_experiment_list
from tunelab.suggest.search import SearchAlgorithm, create_trial, drain_trials
from tunelab.suggest.space import deep_merge, label_of, leaf_paths, sampled_domains
from tunelab.suggest.variant_generator import format_vars, has_unresolved_values, resolved_variables
from tunelab.validation import check_key, check_number

if TYPE_CHECKING:
    from tunelab.trial import Trial

MODES = ("min", "max")


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

    FINISHED = "FINISHED"

    def __init__(self, metric: str | list[str] | None = None, mode: str | list[str] | None = None):
        self._metric, self._mode = _check_metric_mode(type(self).__name__, metric, mode)

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
        self._metric, self._mode = _check_metric_mode(type(self).__name__, new_metric, new_mode)

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


def _check_metric_mode(owner: str, metric: Any, mode: Any) -> tuple[Any, Any]:
    """Validate a metric/mode pair: one name and "min"/"max", or lists of equal length."""
    metrics = metric if isinstance(metric, (list, tuple)) else [metric]
    for one in metrics:
        check_key(f"{owner}(metric=...)", one, allow_none=not isinstance(metric, (list, tuple)))
    modes = mode if isinstance(mode, (list, tuple)) else [mode]
    for one in modes:
        if one not in (None,) + MODES:
            raise TuneError(f"{owner}: mode must be one of {list(MODES)} (or a list of them), got {one!r}")
    if isinstance(metric, (list, tuple)):
        metric = list(metric)
        if isinstance(mode, str):
            mode = [mode] * len(metric)
        if mode is not None and len(mode) != len(metric):
            raise TuneError(f"{owner}: {len(metric)} metrics {metric} need as many modes, got {mode!r}")
    elif isinstance(mode, (list, tuple)):
        raise TuneError(f"{owner}: a list of modes {list(mode)} needs a list of metrics, got metric={metric!r}")
    return metric, list(mode) if isinstance(mode, (list, tuple)) else mode


class SearchGenerator(SearchAlgorithm):
    """Turns a `Searcher` into the `SearchAlgorithm` the controller drives, for exactly one experiment.

    The experiment's `num_samples` is the number of trials to suggest. Each suggestion is merged (deeply)
    over the experiment's constant config; lambdas left in it are then resolved, so they may depend on
    suggested values. Trials are tagged `"<n>_<suggested vars>"` (n counts from 1, as Ray does) and get
    ids `"<prefix>_<00000>"`.
    """

    def __init__(self, searcher: Searcher):
        if not isinstance(searcher, Searcher):
            raise TuneError(f"SearchGenerator needs a tunelab Searcher, got {searcher!r}")
        self.searcher = searcher
        self._experiment: Experiment | None = None
        self._created = 0
        self._finished = False
        self._id_prefix = uuid.uuid4().hex[:5]
        self._live: dict[str, dict] = {}  # trial id -> its latest result
        self._space_from_config = False
        self._random = random.Random()

    # -- SearchAlgorithm ---------------------------------------------------------------------------
    def set_search_properties(self, metric: str | list[str] | None, mode: str | list[str] | None,
                              config: dict | None = None) -> bool:
        accepted = self.searcher.set_search_properties(metric, mode, config)
        if accepted and config and sampled_domains(config):
            self._space_from_config = True
        return accepted

    def add_configurations(self, experiments: Any) -> None:
        """Take the one experiment to search over; its domains go to the searcher if it has no space."""
        experiment_list = convert_to_experiment_list(experiments)
        if self._experiment is not None or len(experiment_list) != 1:
            count = len(experiment_list) + (self._experiment is not None)
            raise TuneError(f"{type(self.searcher).__name__} searches exactly one experiment, got {count}")
        experiment = experiment_list[0]
        if sampled_domains(experiment.config) and not self._space_from_config:
            if not self.searcher.set_search_properties(None, None, experiment.config):
                keys = sorted(label_of(path) for path in sampled_domains(experiment.config))
                raise TuneError(
                    f"{type(self.searcher).__name__} cannot take the search space in the config of experiment "
                    f"{experiment.name!r} (domains at {keys}): either it already has a space of its own "
                    "(then remove the domains from the config) or it cannot convert domains (then pass "
                    "the space to the searcher itself)."
                )
            self._space_from_config = True
        self._experiment = experiment

    def added_experiments(self) -> list[Experiment]:
        return [self._experiment] if self._experiment is not None else []

    def next_trial(self) -> "Trial | None":
        """One new trial, or None when the searcher throttles or is finished."""
        if self._experiment is None or self.is_finished():
            return None
        trial_id = f"{self._id_prefix}_{self._created:05d}"
        suggestion = self._suggest_config(trial_id)
        if suggestion is None:
            return None
        if isinstance(suggestion, str) and suggestion == Searcher.FINISHED:
            self._finished = True
            return None
        if not isinstance(suggestion, dict):
            raise TuneError(f"{type(self.searcher).__name__}.suggest returned {suggestion!r}; "
                            "expected a dict, None or Searcher.FINISHED")
        self._created += 1
        self._live[trial_id] = {}
        return self._make_trial(trial_id, suggestion)

    def next_trials(self) -> "list[Trial]":
        """Every trial available now: stops at the first throttle."""
        return drain_trials(self)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self._live:
            self._live[trial_id] = result
            self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False,
                          early_terminated: bool = False) -> None:
        """Forward the end of a trial; an early-stopped one is reported with its last result."""
        if trial_id not in self._live:
            return  # trials added by hand are not the searcher's
        last = self._live.pop(trial_id)
        result = {**last, **result} if result else (last or None)
        if early_terminated and not error:
            self.searcher.on_trial_early_stopped(trial_id, result)
        else:
            self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def is_finished(self) -> bool:
        """True once `num_samples` trials were made or the searcher said FINISHED."""
        if self._finished:
            return True
        return self._experiment is not None and self._created >= self._experiment.num_samples

    def save_state(self) -> Any:
        return {
            "created": self._created, "finished": self._finished, "id_prefix": self._id_prefix,
            "live": dict(self._live), "space_from_config": self._space_from_config,
            "random": self._random.getstate(), "searcher": self.searcher.save_state(),
        }

    def restore_state(self, state: Any) -> None:
        self._created, self._finished = state["created"], state["finished"]
        self._id_prefix, self._live = state["id_prefix"], dict(state["live"])
        self._space_from_config = state["space_from_config"]
        self._random.setstate(state["random"])
        self.searcher.restore_state(state["searcher"])

    def debug_string(self) -> str:
        return self.searcher.debug_string()

    # -- internals ---------------------------------------------------------------------------------
    def _suggest_config(self, trial_id: str) -> dict | str | None:
        return self.searcher.suggest(trial_id)

    def _make_trial(self, trial_id: str, suggestion: dict) -> "Trial":
        assert self._experiment is not None
        suggestion = copy.deepcopy(suggestion)
        config = deep_merge(copy.deepcopy(self._experiment.config), suggestion)
        tag_vars = {("config",) + path: value for path, value in leaf_paths(suggestion).items()}
        if has_unresolved_values(config):
            resolved, spec = next(iter(resolved_variables({"config": config}, self._random)))
            config = spec["config"]
            tag_vars.update(resolved)
        tag = str(self._created)
        formatted = format_vars(tag_vars)
        if formatted:
            tag += "_" + formatted
        evaluated = {label_of(path): value for path, value in leaf_paths(suggestion).items()}
        return create_trial(self._experiment, config, tag, trial_id=trial_id, evaluated_params=evaluated)


class SuggestionAlgorithm(SearchGenerator):
    """The seed's extension point: subclasses implement `_suggest(trial_id) -> dict | None`.

    Returning None throttles: `next_trials()` returns what it has and asks again on its next call.
    Subclasses override `on_trial_result` / `on_trial_complete(trial_id, result=None, error=False,
    early_terminated=False)` to learn; with `max_concurrent`, at most that many trials are live at once
    (a subclass overriding `on_trial_complete` then calls `super().on_trial_complete(...)`).
    """

    def __init__(self, max_concurrent: int | None = None, metric: str | None = None, mode: str | None = None):
        super().__init__(_OwnSuggestions(self, metric, mode))
        check_number(f"{type(self).__name__}(max_concurrent=...)", max_concurrent, minimum=1, integer=True,
                     allow_none=True)
        self._suggestion_limit = max_concurrent

    def _suggest(self, trial_id: str) -> dict | None:
        """The config for trial `trial_id`, or None to throttle. Subclasses implement this."""
        raise TuneError(f"{type(self).__name__} must implement _suggest(trial_id) -> dict | None")

    def _suggest_config(self, trial_id: str) -> dict | str | None:
        if self._suggestion_limit is not None and len(self._live) >= self._suggestion_limit:
            return None
        return self._suggest(trial_id)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """An intermediate result (seed hook; override to learn from it)."""
        if trial_id in self._live:
            self._live[trial_id] = result

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False,
                          early_terminated: bool = False) -> None:
        """The trial ended (seed hook; overrides call super() when max_concurrent is used)."""
        self._live.pop(trial_id, None)


class _OwnSuggestions(Searcher):
    """The Searcher face of a SuggestionAlgorithm: its `_suggest` and nothing else."""

    def __init__(self, owner: SuggestionAlgorithm, metric: str | None, mode: str | None):
        super().__init__(metric, mode)
        self._owner = owner

    def suggest(self, trial_id: str) -> dict | None:
        return self._owner._suggest(trial_id)

    def save_state(self) -> Any:
        return {"metric": self._metric, "mode": self._mode}

    def restore_state(self, state: Any) -> None:
        self._metric, self._mode = state["metric"], state["mode"]


class _MockSuggestionAlgorithm(SuggestionAlgorithm):
    """The seed's test double: suggests `{"test_variable": 2}` while fewer than `max_concurrent` trials
    are live and `stall` is False; counts results and completions in `counter`."""

    def __init__(self, max_concurrent: int = 2, **kwargs: Any):
        self._max_concurrent = max_concurrent
        self.live_trials: dict[str, int] = {}
        self.counter = {"result": 0, "complete": 0}
        self.stall = False
        self.results: list[dict] = []
        super().__init__(**kwargs)

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


def to_search_algorithm(search_alg: "SearchAlgorithm | Searcher | None") -> SearchAlgorithm:
    """What the controller drives: a SearchAlgorithm as is, a Searcher wrapped, None -> BasicVariantGenerator."""
    if search_alg is None:
        from tunelab.suggest.basic_variant import BasicVariantGenerator

        return BasicVariantGenerator()
    if isinstance(search_alg, SearchAlgorithm):
        return search_alg
    if isinstance(search_alg, Searcher):
        return SearchGenerator(search_alg)
    raise TuneError(f"search_alg must be a tunelab SearchAlgorithm or Searcher, got {search_alg!r}")
