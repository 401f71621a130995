"""`LiveTrialCap`: the one implementation of "at most N live trials" that every search API offers.

`ConcurrencyLimiter(max_concurrent=)`, `HyperOptSearch(max_concurrent=)`, `OptunaSearch(max_concurrent=)`,
`SuggestionAlgorithm(max_concurrent=)` and `BasicVariantGenerator(max_concurrent=)` all validate their
limit and throttle through it. (The controller's `max_concurrent_trials` is a different cap: trials
running on the executor, whoever made them.)
"""
from __future__ import annotations

from collections.abc import Sized

from tunelab.validation import check_number


class LiveTrialCap:
    """At most `limit` live trials; a limit of None (or 0, where `minimum` allows it) means no limit.

    The owner keeps its live trials in whatever collection suits it and asks `is_full(live)`.
    `argument` names the limit in errors (e.g. `"HyperOptSearch(max_concurrent=...)"`); `minimum` and
    `allow_none` say which limits that argument accepts.
    """

    def __init__(self, limit: int | None, argument: str, minimum: int = 0, allow_none: bool = True):
        self.argument = argument
        self.minimum = minimum
        self.allow_none = allow_none
        self.limit: int | None = None
        self.set_limit(limit)

    def set_limit(self, limit: int | None) -> None:
        """Validate and take a new limit (a TuneError names the argument and what is allowed)."""
        check_number(self.argument, limit, minimum=self.minimum, integer=True, allow_none=self.allow_none)
        self.limit = limit or None

    def is_full(self, live: Sized) -> bool:
        """True when `live` (the owner's live trials) already holds as many as the limit allows."""
        return self.limit is not None and len(live) >= self.limit

    def __repr__(self) -> str:
        return f"LiveTrialCap({self.limit})"
