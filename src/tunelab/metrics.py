"""What a reported metric value is worth: the one place that decides "is this usable" and "what is worst".

The rule, used by every scheduler, searcher and "best" computation: a metric value that is not a finite
number (NaN, +inf, -inf) is *unusable* and counts as the worst possible value for the mode. So a scheduler
stops such a trial wherever it stops the worst one, it never ranks above a usable value, and it never
turns a rung cutoff or a median into NaN; a searcher is told the trial failed; and it is never "best".
A value that is not a number at all (a string, a list) is a different thing: where a number is needed to
decide (a stop criterion, a scheduler's metric), the trial fails with `BadMetricError`.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

from tunelab.error import TuneError

#: the score (higher is better, whatever the mode) of an unusable value: below every usable score
WORST_SCORE = -math.inf


class BadMetricError(TuneError):
    """A trial reported a value that must be a number (a stop criterion's or a scheduler's metric) but is
    not; the controller ends that trial as ERROR and the experiment goes on."""


def as_number(value: Any) -> float | None:
    """`value` as a float if it is a real number (int, float, numpy scalar; not bool), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def is_usable(value: Any) -> bool:
    """True for a finite real number: the only metric values that can rank a trial."""
    number = as_number(value)
    return number is not None and math.isfinite(number)


def worst_value(mode: str) -> float:
    """The worst metric value for `mode`: +inf when minimising, -inf when maximising."""
    return math.inf if mode == "min" else -math.inf


def score(value: Any, mode: str) -> float:
    """The value as a score where higher is better; `WORST_SCORE` for anything unusable."""
    if not is_usable(value):
        return WORST_SCORE
    number = float(value)
    return number if mode == "max" else -number


def require_number(value: Any, metric: str, owner: str) -> float:
    """`value` as a float (NaN and infinities included); a non-number raises `BadMetricError`."""
    number = as_number(value)
    if number is None:
        raise BadMetricError(f"{owner}: the reported metric {metric!r} must be a number, got {value!r} "
                             f"({type(value).__name__})")
    return number
