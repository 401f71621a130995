"""`BasicVariantGenerator`: grid search, random sampling and lambdas, expanded lazily in the seed's order."""
from __future__ import annotations

import os
import random
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from tunelab.error import TuneError
from tunelab.experiment import Experiment, convert_to_experiment_list
from tunelab.suggest.concurrency import LiveTrialCap
from tunelab.suggest.search import SearchAlgorithm
from tunelab.suggest.space import deep_merge
from tunelab.suggest.trial_factory import create_trial
from tunelab.suggest.trial_source import drain_trials
from tunelab.suggest.variant_generator import format_vars, resolved_variables

if TYPE_CHECKING:
    from tunelab.trial import Trial


class BasicVariantGenerator(SearchAlgorithm):
    """Expands every experiment's grid × `num_samples`, sampling random domains from a seedable state.

    `points_to_evaluate` (a list of partial configs) are run first, each filled in from the spec.
    The pre-seed form `BasicVariantGenerator({name: spec})` (Ray 0.5.0, experiments given to the
    constructor) is accepted too: it adds those experiments at once.
    Trials are built one at a time on demand, so 100,000 variants cost no memory until they run.
    """

    #: its progress is the number of trials it made, which the experiment journal records
    state_in_journal = True
    #: every grid point times num_samples, of every experiment added
    total_samples: int = 0

    def __init__(self, points_to_evaluate: list[dict] | None = None, random_state: Any = None,
                 constant_grid_search: bool = False, max_concurrent: int = 0):
        experiments = None
        if _is_experiments(points_to_evaluate):
            # the pre-seed call form (Ray 0.5.0): BasicVariantGenerator({name: spec}) took the experiments
            experiments, points_to_evaluate = points_to_evaluate, None
        if points_to_evaluate is not None and (not isinstance(points_to_evaluate, list)
                                               or not all(isinstance(p, dict) for p in points_to_evaluate)):
            raise TuneError(f"BasicVariantGenerator: the first argument must be points_to_evaluate (a list of config "
                            "dicts) or, in the pre-seed form, the experiments ({name: spec}, an Experiment or a list "
                            f"of them); got {points_to_evaluate!r}")
        self._live_cap = LiveTrialCap(max_concurrent, "BasicVariantGenerator(max_concurrent=...)", allow_none=False)
        self._points = [dict(p) for p in (points_to_evaluate or [])]
        self._random = _make_random(random_state)
        self._initial_random_state = self._random.getstate()
        self._experiments: list[Experiment] = []
        self._constant_grid_search = constant_grid_search
        self._generators: list[Iterator[Trial]] = []
        self._counter = 0
        self._id_prefix = os.urandom(3).hex()[:5]
        self._live: set[str] = set()
        self._finished = False
        self._trial_buffer: list[Trial] | None = []
        self.total_samples = 0
        if experiments is not None:
            self.add_configurations(experiments)

    def add_configurations(self, experiments: Any) -> None:
        for experiment in convert_to_experiment_list(experiments):
            self._experiments.append(experiment)
            grid_size = _grid_size(experiment.config)
            self.total_samples += grid_size * experiment.num_samples
            self._generators.append(self._generate_trials(experiment))

    def added_experiments(self) -> list[Experiment]:
        return list(self._experiments)

    def _next_id(self) -> str:
        return f"{self._id_prefix}_{self._counter:05d}"

    def _generate_trials(self, experiment: Experiment) -> "Iterator[Trial]":
        spec = {"config": experiment.config}
        points = list(self._points)
        for _sample in range(experiment.num_samples):
            if points:
                point = points.pop(0)
                config = deep_merge(experiment.config, point)
                variants = resolved_variables({"config": config}, self._random)
            else:
                variants = resolved_variables(spec, self._random)
            for resolved_vars, resolved_spec in variants:
                tag = str(self._counter)
                vars_tag = format_vars(resolved_vars)
                if vars_tag:
                    tag += "_" + vars_tag
                evaluated = {"/".join(str(k) for k in path[1:]): v for path, v in resolved_vars.items()}
                trial = create_trial(experiment, resolved_spec["config"], tag, trial_id=self._next_id(),
                                     evaluated_params=evaluated)
                self._counter += 1
                yield trial

    def next_trial(self) -> "Trial | None":
        if self._trial_buffer:
            return self._trial_buffer.pop(0)
        if self._live_cap.is_full(self._live):
            return None
        while self._generators:
            try:
                trial = next(self._generators[0])
            except StopIteration:
                self._generators.pop(0)
                continue
            self._live.add(trial.trial_id)
            return trial
        self._finished = True
        return None

    def next_trials(self) -> "list[Trial]":
        """All remaining trials at once (the seed's behaviour)."""
        return drain_trials(self)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False,
                          early_terminated: bool = False) -> None:
        self._live.discard(trial_id)

    def is_finished(self) -> bool:
        return self._finished and not self._trial_buffer

    def save_state(self) -> Any:
        """Enough to regenerate the same variants: the initial random state and how many were made."""
        return {"counter": self._counter, "initial_random": self._initial_random_state, "prefix": self._id_prefix,
                "live": sorted(self._live)}

    def restore_state(self, state: Any) -> None:
        """Continue after the `counter` variants already made (call after `add_configurations`): the
        variants are regenerated from the same random state and the first `counter` are skipped, so no
        grid point runs twice or is skipped."""
        self._random.setstate(state["initial_random"])
        self._initial_random_state = state["initial_random"]
        self._id_prefix = state["prefix"]
        self._counter = 0
        self._finished = False
        self._trial_buffer = []
        self._generators = [self._generate_trials(e) for e in self._experiments]
        while self._counter < state["counter"] and self._generators:
            try:
                next(self._generators[0])
            except StopIteration:
                self._generators.pop(0)
        self._live = set(state.get("live", []))


def _is_experiments(value: Any) -> bool:
    """True for what `add_configurations` takes: `{name: spec}`, an Experiment or a list of Experiments."""
    if isinstance(value, (Experiment, Mapping)):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, Experiment) for v in value)


def _make_random(random_state: Any) -> random.Random:
    if random_state is None:
        return random.Random()
    if isinstance(random_state, random.Random):
        return random_state
    if isinstance(random_state, int):
        return random.Random(random_state)
    try:  # numpy Generator / RandomState
        return random.Random(int(random_state.integers(0, 2**31)) if hasattr(random_state, "integers")
                             else int(random_state.randint(0, 2**31)))
    except AttributeError:
        raise TuneError(f"random_state must be an int, random.Random or numpy generator, got {random_state!r}") from None


def _grid_size(config: dict) -> int:
    from tunelab.suggest.variant_generator import _unresolved_values

    size = 1
    for value in _unresolved_values({"config": config}).values():
        if isinstance(value, list):
            size *= len(value)
    return size


__all__ = ["BasicVariantGenerator"]
