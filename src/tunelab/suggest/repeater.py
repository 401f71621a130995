"""`Repeater`: run every suggested config several times and tell the searcher the average."""
from __future__ import annotations

from tunelab.suggest.searcher import Searcher
from tunelab.suggest.wrapper import WrapperSearcher
from tunelab.validation import check_number

TRIAL_INDEX = "__trial_index__"


class _TrialGroup:
    """The trials running one suggested config; the first one's id is what the searcher knows."""

    def __init__(self, primary_trial_id: str, config: dict, size: int):
        self.primary_trial_id = primary_trial_id
        self.config = config
        self.size = size
        self.members: list[str] = [primary_trial_id]
        self.scores: dict[str, list[float] | None] = {}  # trial id -> metric values, None if it failed

    def full(self) -> bool:
        return len(self.members) >= self.size

    def done(self) -> bool:
        return len(self.scores) >= self.size


class Repeater(WrapperSearcher):
    """Wraps a searcher so that each config it suggests runs `repeat` times, for noisy objectives.

    The wrapped searcher hears one completion per config, with the metric averaged over the repeats that
    did not fail (an error if all failed). With `set_index`, each repeat's config has `"__trial_index__"`
    (0 .. repeat-1), e.g. to seed the trainable differently. Use `num_samples` as a multiple of `repeat`.
    """

    def __init__(self, searcher: Searcher, repeat: int = 1, set_index: bool = True):
        super().__init__(searcher)
        check_number("Repeater(repeat=...)", repeat, minimum=1, integer=True)
        self.repeat = repeat
        self._set_index = set_index
        self._current: _TrialGroup | None = None
        self._groups: dict[str, _TrialGroup] = {}  # trial id -> its group

    def suggest(self, trial_id: str) -> dict | str | None:
        if self._current is None or self._current.full():
            config = self.searcher.suggest(trial_id)
            if not isinstance(config, dict):
                return config
            self._current = _TrialGroup(trial_id, config, self.repeat)
            index = 0
        else:
            index = len(self._current.members)
            self._current.members.append(trial_id)
        self._groups[trial_id] = self._current
        config = dict(self._current.config)
        if self._set_index:
            config[TRIAL_INDEX] = index
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        group = self._groups.pop(trial_id, None)
        if group is None:
            return
        values = None if error else self.metric_values(result)
        group.scores[trial_id] = values
        if group.done():
            self._report(group)
        if values is None and not error and result is not None:
            raise self.missing_metric_error(trial_id, result)

    def _report(self, group: _TrialGroup) -> None:
        scored = [values for values in group.scores.values() if values is not None]
        if not scored:
            self.searcher.on_trial_complete(group.primary_trial_id, result=None, error=True)
            return
        names = self.metric if isinstance(self.metric, list) else [self.metric]
        means = [sum(column) / len(column) for column in zip(*scored)]
        self.searcher.on_trial_complete(group.primary_trial_id, result=dict(zip(names, means)))

    def debug_string(self) -> str:
        return f"Repeater({self.searcher.debug_string()}, repeat={self.repeat})"
