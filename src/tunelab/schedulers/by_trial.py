"""`ByTrialId`: what a scheduler remembers per trial, keyed by `trial_id` but used like a dict keyed by trial.

Inside an experiment a scheduler is handed a new frozen `TrialView` of a trial at each hook; driven by
hand it gets the same `Trial` each time. Keying a dict by the trial object would find a trial again only
in the second case. `ByTrialId` keys by `trial_id`, so any view of a trial (or its `Trial`) finds the
entry, and it keeps, for each trial, the object it was last given: iterating yields those, so a
scheduler can hand a remembered trial back (as `choose_trial_to_run`'s answer, or to `latest()`).
"""
from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from tunelab.trial_view import TrialLike

V = TypeVar("V")


class ByTrialId(MutableMapping["TrialLike", V]):
    """A mapping from trials to values in which a trial is its `trial_id` (insertion-ordered, as a dict)."""

    def __init__(self) -> None:
        self._trials: dict[str, TrialLike] = {}
        self._values: dict[str, V] = {}

    def __getitem__(self, trial: TrialLike) -> V:
        return self._values[trial.trial_id]

    def __setitem__(self, trial: TrialLike, value: V) -> None:
        """Set the trial's value; `trial` becomes the object remembered for it (its place stays)."""
        self._trials[trial.trial_id] = trial
        self._values[trial.trial_id] = value

    def __delitem__(self, trial: TrialLike) -> None:
        del self._values[trial.trial_id]
        del self._trials[trial.trial_id]

    def __contains__(self, trial: object) -> bool:
        return getattr(trial, "trial_id", None) in self._values

    def __iter__(self) -> Iterator[TrialLike]:
        return iter(list(self._trials.values()))

    def __len__(self) -> int:
        return len(self._values)

    def see(self, trial: TrialLike) -> TrialLike:
        """Remember `trial` (a newer view of a trial already here) for its entry; return it."""
        if trial.trial_id in self._trials:
            self._trials[trial.trial_id] = trial
        return trial

    def trial(self, trial_id: str) -> TrialLike | None:
        """The remembered trial with that id, or None."""
        return self._trials.get(trial_id)
