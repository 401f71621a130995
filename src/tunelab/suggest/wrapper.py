"""`WrapperSearcher`: the base of searchers that wrap another searcher (ConcurrencyLimiter, Repeater).

A wrapper changes how trials reach the wrapped searcher (how many at once, how often each config runs)
but not what is optimised: metric, mode and the search space stay the wrapped searcher's. That shared
part lives here once, so each wrapper holds only its own policy.
"""
from __future__ import annotations

from tunelab.error import TuneError
from tunelab.suggest.searcher import Searcher


class WrapperSearcher(Searcher):
    """A Searcher around `searcher`, whose metric, mode and search properties it uses as its own."""

    def __init__(self, searcher: Searcher):
        if not isinstance(searcher, Searcher):
            raise TuneError(f"{type(self).__name__} wraps a tunelab Searcher, got {searcher!r}")
        super().__init__()
        self.searcher = searcher

    @property
    def metric(self) -> str | list[str] | None:
        return self.searcher.metric

    @property
    def mode(self) -> str | list[str] | None:
        return self.searcher.mode

    def set_search_properties(self, metric: str | list[str] | None, mode: str | list[str] | None,
                              config: dict | None = None) -> bool:
        """Handed to the wrapped searcher: metric, mode and the space are its business."""
        return self.searcher.set_search_properties(metric, mode, config)
