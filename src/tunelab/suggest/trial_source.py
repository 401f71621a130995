"""`TrialSource`: the one interface through which the controller gets new trials and reports outcomes.

Every way of searching is a TrialSource: `BasicVariantGenerator` (grid and random), `SearchGenerator` (a
modern `Searcher` behind it), and the 2018 faces `SearchAlgorithm` / `SuggestionAlgorithm` that user
code subclasses. The controller sees nothing else, and what it hands over is never its own mutable
record: a trial id and a copy of a result (`result_copy`).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunelab.experiment import Experiment
    from tunelab.trial import Trial


def result_copy(result: Mapping[str, Any] | None) -> dict | None:
    """A result as a trial source may keep or change it: a copy, so the trial's own record stays as it
    was reported (None and empty results become None, which sources read as "no result")."""
    return dict(result) if result else None


class TrialSource:
    """Makes trials for the controller and hears what became of them.

    The controller calls, in this order of a trial's life: `next_trial()` (a new trial, or None when
    none can come now), `on_trial_result(trial_id, result)` for each intermediate result, and once
    `on_trial_complete(trial_id, result, error, early_terminated)`. It stops asking once `is_finished()`.
    Before the run, `set_search_properties` hands over the experiment-wide metric/mode and
    `add_configurations` the experiments; `save_state`/`restore_state` carry the progress over a resume.
    """

    #: True when the journal's record of the trials made is enough to restore this source's progress
    state_in_journal: bool = False
    #: how many trials this source will make in all, when it knows (progress display); None otherwise
    total_samples: int | None = None

    def set_search_properties(self, metric: str | list[str] | None, mode: str | list[str] | None,
                              config: dict | None = None) -> bool:
        """Take the experiment-wide metric/mode (from `run(metric=, mode=)`) and the search space of the
        experiment `config`; False when the config holds domains this source cannot take."""
        return True

    def add_configurations(self, experiments: "list[Experiment] | Experiment | dict") -> None:
        """Take the experiment specs to make trials for."""

    def added_experiments(self) -> "list[Experiment]":
        """The experiments `add_configurations` took so far: what `run_experiments(search_alg=...)` runs
        when it is given no experiments of its own."""
        return []

    def next_trial(self) -> "Trial | None":
        """One new trial that can run now, or None (none now, or none ever again: see `is_finished`)."""
        return None

    def is_finished(self) -> bool:
        """True once no trial will ever come again."""
        return True

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """An intermediate result of a trial this source made (a copy: the source may keep it)."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False,
                          early_terminated: bool = False) -> None:
        """The trial ended: with its last `result`, or with `error`, or stopped early by the scheduler."""

    def save_state(self) -> Any:
        """Picklable state for experiment resume (None: nothing to save)."""
        return None

    def restore_state(self, state: Any) -> None:
        """Restore what `save_state` returned."""

    def debug_string(self) -> str:
        return ""


def drain_trials(source: TrialSource) -> "list[Trial]":
    """Every trial `source.next_trial()` gives until it gives None (a throttle or the end)."""
    trials: list[Trial] = []
    while True:
        trial = source.next_trial()
        if trial is None:
            return trials
        trials.append(trial)
