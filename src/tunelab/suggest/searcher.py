"""The `Searcher` extension point, `SearchGenerator` (the `SearchAlgorithm` the controller drives over a
Searcher) and the seed's `SuggestionAlgorithm`.

A Searcher only answers "which config next?" and listens to outcomes; everything about experiments and
trials (ids, tags, merging the suggestion into the constant config, counting samples) lives in
SearchGenerator, so a new searcher is a few dozen lines. The helpers at the bottom give every searcher the
same view of a tunelab search space: which config values it must optimise, how choices nest, and how a
user's `points_to_evaluate` map onto parameters.
"""
from __future__ import annotations

import copy
import math
import os
import random
import tempfile
import types
import uuid
from typing import TYPE_CHECKING, Any, Callable

from tunelab.error import TuneError
from tunelab.experiment import Experiment, convert_to_experiment_list
from tunelab.suggest.domains import Categorical, Domain, Float, Integer
from tunelab.suggest.search import SearchAlgorithm, create_trial, drain_trials
from tunelab.suggest.variant_generator import _unresolved_values, format_vars, has_unresolved_values, resolved_variables

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
        """The values of the searcher's metric(s) in `result`, or None when one is missing."""
        if not result or self.metric is None:
            return None
        names = self.metric if isinstance(self.metric, list) else [self.metric]
        if any(result.get(name) is None for name in names):
            return None
        return [float(result[name]) for name in names]

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
        if max_concurrent is not None and (isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int)
                                           or max_concurrent < 1):
            raise TuneError(f"max_concurrent must be None or an integer >= 1, got {max_concurrent!r}")
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


# -- the search space as searchers see it -----------------------------------------------------------

Path = tuple


def label_of(path: Path) -> str:
    """The parameter name a searcher uses for a config path: keys joined by "/"."""
    return "/".join(str(key) for key in path)


def _is_lambda(value: Any) -> bool:
    return (isinstance(value, Domain) and value.is_function()) or isinstance(value, types.FunctionType) \
        or type(value).__name__ == "_EvalLambda"


def sampled_domains(config: dict, nested_in: str | None = None, allow_lambdas: bool = True) -> dict[Path, Domain]:
    """The values of `config` a searcher optimises (`uniform`, `choice`, ...), by path.

    Lambdas (`sample_from`, `lambda spec: ...`, `{"eval": ...}`) are left out of an experiment config:
    they stay there and are resolved after the suggestion is merged in, so they may use suggested values.
    In a space handed to a searcher, or inside a `choice` (`nested_in` names it), they raise; so do
    `grid_search` values anywhere: a searcher picks every value itself.
    """
    found: dict[Path, Domain] = {}
    for path, value in _unresolved_values(config).items():
        where = label_of(path) if nested_in is None else f"{nested_in}/{label_of(path)}"
        if isinstance(value, list):
            raise TuneError(f"a searcher cannot be given grid_search values; use BasicVariantGenerator or "
                            f"choice() (grid_search at {where!r})")
        if _is_lambda(value):
            if allow_lambdas and nested_in is None:
                continue
            raise TuneError(f"a searcher cannot sample {value!r} (at {where!r}): put sample_from/lambda values "
                            "at the top level of the experiment config, where they are resolved after the "
                            "searcher's suggestion")
        found[path] = value
    return found


def option_domains(option: Any, label: str) -> dict[str, tuple[Path, Domain]]:
    """The domains nested in one `choice` option (a domain itself, or a dict/list holding some), by label.

    The option at index i of the choice labelled L names its domains `L/i` (the option itself) or
    `L/i/<path in the option>`; `label` is `L/i`.
    """
    if isinstance(option, Domain):
        if option.is_function():
            raise TuneError(f"a searcher cannot sample {option!r} inside a choice() (at {label!r})")
        return {label: ((), option)}
    if isinstance(option, (dict, list)):
        as_dict = option if isinstance(option, dict) else dict(enumerate(option))
        domains = sampled_domains(as_dict, nested_in=label)
        return {f"{label}/{label_of(path)}": (path, domain) for path, domain in domains.items()}
    return {}


def substitute_domains(option: Any, label: str, draw: Callable[[str, Domain], Any]) -> Any:
    """A copy of a `choice` option with each nested domain replaced by `draw(its label, domain)`."""
    domains = option_domains(option, label)
    if not domains:
        return option
    if label in domains:
        return draw(label, option)
    filled = copy.deepcopy(option)
    for nested_label, (path, domain) in domains.items():
        target = filled
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = draw(nested_label, domain)
    return filled


def integer_upper(domain: Integer) -> int:
    """The largest value an Integer domain takes (upper is excluded unless quantized, as in Ray)."""
    return domain.upper - 1 if domain.q == 1 else domain.upper


def finalize_value(domain: Domain, raw: Any) -> Any:
    """A library's raw draw as the domain defines it: quantized, inside the bounds, int for Integer."""
    if hasattr(raw, "item"):
        raw = raw.item()
    if isinstance(domain, Integer):
        value = int(round(raw))
        if domain.q != 1:
            value = int(round(value / domain.q) * domain.q)
        return min(max(value, domain.lower), integer_upper(domain))
    if isinstance(domain, Float):
        value = float(raw)
        if domain.q is not None:  # keep the digits q has: 6 * 1e-4 gives 0.0006, not 0.0006000000000000001
            value = round(round(value / domain.q) * domain.q, max(0, -math.floor(math.log10(domain.q))) + 6)
        if domain.lower is not None:
            value = min(max(value, domain.lower), domain.upper)
        return value
    return raw


def point_to_params(point: dict, domains: dict[Path, Domain]) -> tuple[dict[str, tuple[Domain, Any]], list[str]]:
    """Map a user's point (a partial config) onto searcher parameters.

    Returns `({label: (domain, value)}, missing labels)`. A `choice` gives the index of the option the
    value matches (an option holding domains matches any value with the same constant parts), then the
    domains nested in that option follow. A value that is not one of the choices raises TuneError.
    """
    params: dict[str, tuple[Domain, Any]] = {}
    missing: list[str] = []
    for path, domain in domains.items():
        found, value = _lookup(point, path)
        _add_param(label_of(path), domain, found, value, params, missing)
    return params, missing


def _add_param(label: str, domain: Domain, found: bool, value: Any, params: dict, missing: list) -> None:
    if not found:
        missing.append(label)
        return
    if not isinstance(domain, Categorical):
        params[label] = (domain, value)
        return
    index = next((i for i, option in enumerate(domain.categories) if _matches(option, value)), None)
    if index is None:
        raise TuneError(f"points_to_evaluate: {value!r} is not one of the choices for {label!r}: {domain.categories!r}")
    params[label] = (domain, index)
    option_label = f"{label}/{index}"
    for nested_label, (path, nested) in option_domains(domain.categories[index], option_label).items():
        nested_found, nested_value = _lookup(value, path)
        _add_param(nested_label, nested, nested_found, nested_value, params, missing)


def _lookup(point: Any, path: Path) -> tuple[bool, Any]:
    for key in path:
        if isinstance(point, dict) and key in point:
            point = point[key]
        elif isinstance(point, (list, tuple)) and isinstance(key, int) and key < len(point):
            point = point[key]
        else:
            return False, None
    return True, point


def _matches(option: Any, value: Any) -> bool:
    """Does a user value pick this choice option? Domains inside the option accept anything."""
    if isinstance(option, Domain):
        return True
    if isinstance(option, dict) and isinstance(value, dict):
        return option.keys() == value.keys() and all(_matches(option[k], value[k]) for k in option)
    if isinstance(option, list) and isinstance(value, (list, tuple)):
        return len(option) == len(value) and all(_matches(o, v) for o, v in zip(option, value))
    if _same_number(option, value):
        return True
    try:
        return type(option) is type(value) and bool(option == value)
    except Exception:  # noqa: BLE001 - objects whose == is not a plain bool never match
        return False


def _same_number(a: Any, b: Any) -> bool:
    numbers = (int, float)
    return (isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool)
            and not isinstance(b, bool) and math.isclose(a, b))


def unflatten(values: dict[Path, Any]) -> dict:
    """`{("a", "b"): 1}` -> `{"a": {"b": 1}}` (list positions stay int keys; `deep_merge` places them)."""
    out: dict = {}
    for path, value in values.items():
        target = out
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
    return out


def leaf_paths(config: dict, prefix: Path = ()) -> dict[Path, Any]:
    """`{"a": {"b": 1}}` -> `{("a", "b"): 1}`: the leaves of a nested suggestion."""
    out: dict[Path, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(leaf_paths(value, prefix + (key,)))
        else:
            out[prefix + (key,)] = value
    return out


def deep_merge(base: Any, update: Any) -> Any:
    """`update` over a copy of `base`: dicts merge key by key, a dict of int keys updates list positions."""
    if isinstance(base, dict) and isinstance(update, dict):
        merged = dict(base)
        for key, value in update.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(update, dict) and all(
            isinstance(k, int) and 0 <= k < len(base) for k in update):
        merged_list = list(base)
        for index, value in update.items():
            merged_list[index] = deep_merge(base[index], value)
        return merged_list
    return update
