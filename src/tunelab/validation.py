"""Checks of numeric constructor options (schedulers, search algorithms), with one kind of error.

Every check raises a `TuneError` that names the owner, the option, the bad value and what is allowed, so
`AsyncHyperBandScheduler(max_t=float("nan"))` fails at construction instead of deep inside a run.
"""
from __future__ import annotations

import math
from typing import Any

from tunelab.error import TuneError


def check_number(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
    allow_inf: bool = False,
    allow_none: bool = False,
) -> Any:
    """Return `value` if it is a number (never a bool) within the bounds, else raise TuneError.

    `low`/`high` are inclusive unless `low_open`/`high_open`; NaN is always refused and infinity unless
    `allow_inf`; `integer` asks for an int; `allow_none` lets None through.
    """
    if value is None and allow_none:
        return value
    ok = not isinstance(value, bool) and isinstance(value, int if integer else (int, float))
    if ok and isinstance(value, float):
        ok = not math.isnan(value) and (allow_inf or not math.isinf(value))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if ok:
        return value
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high:g}")
    noun = "integer" if integer else ("number" if allow_inf else "finite number")
    allowed = ("an " if integer else "a ") + noun
    if bounds:
        allowed += " " + " and ".join(bounds)
    if allow_none:
        allowed += " (or None)"
    raise TuneError(f"{owner}: {name} must be {allowed}, got {value!r}")


def check_key(owner: str, name: str, value: Any, allow_none: bool = False) -> Any:
    """Return `value` if it is a non-empty string (a result key such as a metric or `time_attr`), else raise."""
    if (value is None and allow_none) or (isinstance(value, str) and value):
        return value
    raise TuneError(f"{owner}: {name} must be the name of a result key (a non-empty string"
                    f"{', or None' if allow_none else ''}), got {value!r}")


def check_numbers(owner: str, name: str, values: Any, **bounds: Any) -> tuple:
    """`check_number` for each item of a non-empty list or tuple (e.g. PBT's perturbation factors)."""
    if not isinstance(values, (list, tuple)) or not values:
        raise TuneError(f"{owner}: {name} must be a non-empty list of numbers, got {values!r}")
    return tuple(check_number(owner, f"{name}[{i}]", v, **bounds) for i, v in enumerate(values))
