"""`SearchAlgorithm`: the 2018 face of `TrialSource`, which user code subclasses by overriding `next_trials`.

The controller talks to every search through `tunelab.suggest.trial_source.TrialSource`; this face adds
the seed's batch call `next_trials()` (all trials ready now), handed to the controller one at a time by
`next_trial()`, and the seed's `set_finished()`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from tunelab.suggest.trial_factory import create_trial
from tunelab.suggest.trial_source import TrialSource, drain_trials

if TYPE_CHECKING:
    from tunelab.trial import Trial

__all__ = ["SearchAlgorithm", "create_trial", "drain_trials"]


class SearchAlgorithm(TrialSource):
    """Produces trials for the controller and hears about their results (the seed's interface).

    `add_configurations(experiments)` hands over the experiment specs; `next_trials()` returns the trials
    ready now (it may return fewer, or none, and more later); `is_finished()` is True once no trial will
    ever come again (the default: once `set_finished()` was called and every trial was handed out).
    The controller calls `next_trial()` (one at a time, so that thousands of trials are never built ahead
    of need); the default takes it from `next_trials()`.
    """

    _finished = False
    _trial_buffer: "list[Trial] | None" = None  # trials next_trials() gave that next_trial() has not yet

    def next_trials(self) -> "list[Trial]":
        """All trials that can be run now."""
        return []

    def next_trial(self) -> "Trial | None":
        """One trial that can run now, or None."""
        if not self._trial_buffer:
            self._trial_buffer = list(self.next_trials())
        return self._trial_buffer.pop(0) if self._trial_buffer else None

    def is_finished(self) -> bool:
        return self._finished and not self._trial_buffer

    def set_finished(self) -> None:
        self._finished = True
