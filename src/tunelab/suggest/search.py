"""The `SearchAlgorithm` contract the controller drives, and the trial factory shared by implementations."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunelab.experiment import Experiment
    from tunelab.trial import Trial


class SearchAlgorithm:
    """Produces trials for the controller and hears about their results.

    `add_configurations(experiments)` hands over the experiment specs; `next_trials()` returns the trials
    ready now (it may return fewer, or none, and more later); `is_finished()` is True once no trial will
    ever come again. The controller calls `next_trial()` (one at a time, so that thousands of trials are
    never built ahead of need); the default takes it from `next_trials()`.
    """

    _finished = False

    def add_configurations(self, experiments: "list[Experiment] | Experiment | dict") -> None:
        """Track the given experiment specs."""

    def added_experiments(self) -> "list[Experiment]":
        """The experiments `add_configurations` took so far: what `run_experiments(search_alg=...)` runs
        when it is given no experiments of its own. The default tracks none."""
        return []

    def next_trials(self) -> "list[Trial]":
        """All trials that can be run now."""
        return []

    def next_trial(self) -> "Trial | None":
        """One trial that can run now, or None."""
        buffered = getattr(self, "_trial_buffer", None)
        if not buffered:
            buffered = list(self.next_trials())
            self._trial_buffer = buffered
        return buffered.pop(0) if buffered else None

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """An intermediate result of a trial this algorithm created."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False,
                          early_terminated: bool = False) -> None:
        """The trial ended: with its last `result`, or with `error`, or stopped early by the scheduler."""

    def is_finished(self) -> bool:
        return self._finished and not getattr(self, "_trial_buffer", None)

    def set_finished(self) -> None:
        self._finished = True

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict | None = None) -> bool:
        """Take the experiment-wide metric/mode (from `run(metric=, mode=)`) if not set already."""
        return True

    def save_state(self) -> Any:
        """Picklable state for experiment resume (None: nothing to save)."""
        return None

    def restore_state(self, state: Any) -> None:
        """Restore what `save_state` returned."""

    def debug_string(self) -> str:
        return ""


def drain_trials(search_alg: SearchAlgorithm) -> "list[Trial]":
    """Every trial `search_alg.next_trial()` gives until it gives None (a throttle or the end)."""
    trials: list[Trial] = []
    while True:
        trial = search_alg.next_trial()
        if trial is None:
            return trials
        trials.append(trial)


def create_trial(experiment: "Experiment", config: dict, experiment_tag: str, trial_id: str | None = None,
                 evaluated_params: dict | None = None, stop: Any = None) -> "Trial":
    """Build a Trial for `experiment` with a resolved `config` (one place for every search algorithm)."""
    from tunelab.registry import get_trainable
    from tunelab.trial import Trial

    trainable = get_trainable(experiment.trainable_name)  # the name is resolved now (TuneError if unknown)
    resources = experiment.resources
    if resources is None:
        request = getattr(trainable, "default_resource_request", None)
        resources = request(config) if request is not None else None
    trial = Trial(
        experiment.trainable_name,
        config=config,
        trial_id=trial_id,
        local_dir=experiment.path,
        experiment_tag=experiment_tag,
        resources=resources,
        stopping_criterion=experiment.stop if stop is None else stop,
        checkpoint_freq=experiment.checkpoint_freq,
        checkpoint_at_end=experiment.checkpoint_at_end,
        keep_checkpoints_num=experiment.keep_checkpoints_num,
        checkpoint_score_attr=experiment.checkpoint_score_attr,
        restore_path=experiment.restore,
        max_failures=experiment.max_failures,
        evaluated_params=evaluated_params,
        experiment_name=experiment.name,
    )
    from tunelab.trial_naming import apply_name_creators

    apply_name_creators(trial, experiment.trial_name_creator, experiment.trial_dirname_creator,
                        experiment.used_dirnames)
    return trial
