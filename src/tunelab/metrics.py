"""What a reported metric value is worth: the one place that decides "is this usable" and "what is worst".

The rule, used by every scheduler, searcher and "best" computation: a metric value that is not a finite
number (NaN, +inf, -inf) is *unusable* and counts as the worst possible value for the mode. So a scheduler
stops such a trial wherever it stops the worst one, it never ranks above a usable value, and it never
turns a rung cutoff or a median into NaN; a searcher is told the trial failed; and it is never "best".
A value that is not a number at all (a string, a list) is a different thing: where a number is needed to
decide (a stop criterion, a scheduler's metric), the trial fails with `BadMetricError`.

It is also the one home of what a `mode` may be (`MODES`, `check_mode`, `check_metric_mode`) and of which
of two values is better (`is_better`, `best_of`): analysis, plots, the progress line and searchers all
decide "best" here.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from tunelab.error import TuneError
from tunelab.validation import check_key

#: the modes a metric can be optimised in
MODES = ("min", "max")

T = TypeVar("T")

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


# -- modes --------------------------------------------------------------------------------------------
def is_mode(mode: Any) -> bool:
    """True for "min" and "max"."""
    return isinstance(mode, str) and mode in MODES


def check_mode(mode: Any, owner: str | None = None, allow_none: bool = True) -> str | None:
    """`mode` if it is "min" or "max" (or None when `allow_none`), else a TuneError naming it."""
    if is_mode(mode) or (mode is None and allow_none):
        return mode
    prefix = f"{owner}: " if owner else ""
    raise TuneError(f"{prefix}mode must be 'min' or 'max', got {mode!r}")


def check_metric_mode(owner: str, metric: Any, mode: Any) -> tuple[Any, Any]:
    """Validate a searcher's metric/mode pair: one name and "min"/"max" (either may be None), or lists
    of equal length for several objectives (one mode is repeated for every metric)."""
    names = metric if isinstance(metric, (list, tuple)) else [metric]
    for one in names:
        check_key(f"{owner}(metric=...)", one, allow_none=not isinstance(metric, (list, tuple)))
    for one in mode if isinstance(mode, (list, tuple)) else [mode]:
        if one is not None and not is_mode(one):
            raise TuneError(f"{owner}: mode must be one of {list(MODES)} (or a list of them), got {one!r}")
    if isinstance(metric, (list, tuple)):
        metric = list(metric)
        if isinstance(mode, str):
            mode = [mode] * len(metric)
        if mode is not None and len(mode) != len(metric):
            raise TuneError(f"{owner}: {len(metric)} metrics {metric} need as many modes, got {mode!r}")
    elif isinstance(mode, (list, tuple)):
        raise TuneError(f"{owner}: a list of modes {list(mode)} needs a list of metrics, got metric={metric!r}")
    return metric, list(mode) if isinstance(mode, (list, tuple)) else mode


# -- "best" -------------------------------------------------------------------------------------------
def metric_number(result: Mapping[str, Any] | None, metric: str) -> float | None:
    """The result's value for `metric` as a float (NaN included), or None when it is missing or not a
    number. `a/b` also finds `result["a"]["b"]`."""
    if not result:
        return None
    value = result.get(metric)
    if value is None and "/" in metric:
        value = result
        for part in metric.split("/"):
            value = value.get(part) if isinstance(value, dict) else None
    return as_number(value)


def is_better(value: float, than: float, mode: str) -> bool:
    """True when `value` is strictly better than `than` for `mode` (ties are not better)."""
    return value > than if mode == "max" else value < than


def best_of(scored: Iterable[tuple[T, float | None]], mode: str, filter_inf: bool = True) -> tuple[T, float] | None:
    """The item with the best usable value (the first one on ties), and that value: None, NaN and, when
    `filter_inf`, infinite values never win; None when nothing is usable."""
    best: tuple[T, float] | None = None
    for item, value in scored:
        if value is None or (not is_usable(value) if filter_inf else math.isnan(value)):
            continue
        if best is None or is_better(value, best[1], mode):
            best = (item, value)
    return best
