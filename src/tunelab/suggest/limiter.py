"""`ConcurrencyLimiter`: cap how many trials of a searcher run at once."""
from __future__ import annotations

from typing import Any

from tunelab.suggest.concurrency import LiveTrialCap
from tunelab.suggest.searcher import Searcher
from tunelab.suggest.wrapper import WrapperSearcher


class ConcurrencyLimiter(WrapperSearcher):
    """Wraps a searcher so that at most `max_concurrent` of its trials are live.

    Sequential model-based searchers learn nothing from trials still running, so fewer live trials means
    better-informed suggestions. With `batch=True` the wrapped searcher hears of completed trials only once
    the whole batch of `max_concurrent` has finished, and a new batch starts then.
    """

    def __init__(self, searcher: Searcher, max_concurrent: int, batch: bool = False):
        super().__init__(searcher)
        self._live_cap = LiveTrialCap(max_concurrent, "ConcurrencyLimiter(max_concurrent=...)", minimum=1,
                                      allow_none=False)
        self.batch = batch
        self.live_trials: set[str] = set()
        self._cached: dict[str, tuple[dict | None, bool, bool]] = {}  # batch mode: id -> (result, error, early)

    @property
    def max_concurrent(self) -> int:
        """How many of the wrapped searcher's trials may be live at once."""
        assert self._live_cap.limit is not None  # minimum=1, None refused
        return self._live_cap.limit

    @max_concurrent.setter
    def max_concurrent(self, value: int) -> None:
        self._live_cap.set_limit(value)

    def suggest(self, trial_id: str) -> dict | str | None:
        if self._live_cap.is_full(self.live_trials):
            return None
        suggestion = self.searcher.suggest(trial_id)
        if isinstance(suggestion, dict):
            self.live_trials.add(trial_id)
        return suggestion

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self.live_trials:
            self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self._finish(trial_id, result, error, early=False)

    def on_trial_early_stopped(self, trial_id: str, result: dict | None) -> None:
        self._finish(trial_id, result, error=False, early=True)

    def _finish(self, trial_id: str, result: dict | None, error: bool, early: bool) -> None:
        if trial_id not in self.live_trials or trial_id in self._cached:
            return
        if not self.batch:
            self.live_trials.discard(trial_id)
            self._forward(trial_id, result, error, early)
            return
        self._cached[trial_id] = (result, error, early)
        if len(self._cached) < len(self.live_trials):
            return
        cached, self._cached = self._cached, {}
        self.live_trials.clear()
        for cached_id, (cached_result, cached_error, cached_early) in cached.items():
            self._forward(cached_id, cached_result, cached_error, cached_early)

    def _forward(self, trial_id: str, result: dict | None, error: bool, early: bool) -> None:
        if early:
            self.searcher.on_trial_early_stopped(trial_id, result)
        else:
            self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def add_evaluated_point(self, parameters: dict, value: Any, error: bool = False, pruned: bool = False,
                            intermediate_values: list | None = None) -> None:
        self.searcher.add_evaluated_point(parameters, value, error, pruned, intermediate_values)

    def debug_string(self) -> str:
        return f"ConcurrencyLimiter({self.searcher.debug_string()}, max_concurrent={self.max_concurrent})"
