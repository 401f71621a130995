"""User-facing errors: everything tunelab raises at a user is a TuneError."""
from __future__ import annotations


class TuneError(Exception):
    """A problem in the user's experiment: the message names the bad value and what is allowed."""


class RecursiveDependencyError(TuneError):
    """A `lambda spec: ...` config value depends (directly or not) on itself."""
