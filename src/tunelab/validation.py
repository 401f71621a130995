"""Checks for numeric options: one place that says "finite, in range, of the right kind" and, when not,
raises a TuneError naming the option, the value and what is allowed.

A NaN slips through `value < 0` checks (every comparison with NaN is False) and an infinity overflows
later `int()` calls, so each numeric option goes through `check_number` before anything is started.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

from tunelab.error import TuneError


def check_number(name: str, value: Any, *, minimum: float | None = None, above: float | None = None,
                 maximum: float | None = None, integer: bool = False, allow_none: bool = False,
                 allow_inf: bool = False) -> Any:
    """Return `value` if it is a number (not bool) that is finite (unless `allow_inf`), whole when
    `integer`, `>= minimum`, `> above` and `<= maximum`; None passes when `allow_none`. Else TuneError.

    `name` is how the user wrote the option, e.g. "tune.run(time_budget_s=...)".
    """
    if value is None and allow_none:
        return value
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real)
    if ok:
        number = float(value)
        ok = not math.isnan(number) and (allow_inf or math.isfinite(number))
        ok = ok and (not integer or isinstance(value, numbers.Integral))
        ok = ok and (minimum is None or number >= minimum) and (above is None or number > above)
        ok = ok and (maximum is None or number <= maximum)
    if not ok:
        raise TuneError(f"{name} must be {_allowed(minimum, above, maximum, integer, allow_none, allow_inf)}, "
                        f"got {value!r}")
    return value


def _allowed(minimum: float | None, above: float | None, maximum: float | None, integer: bool,
             allow_none: bool, allow_inf: bool) -> str:
    """The allowed values in words, e.g. "None or a finite number > 0"."""
    kind = "an integer" if integer else "a number" if allow_inf else "a finite number"
    if minimum is not None and maximum is not None:
        bounds = [f"in {_fmt(minimum)}..{_fmt(maximum)}"]
    else:
        bounds = [f">= {_fmt(minimum)}" if minimum is not None else "", f"<= {_fmt(maximum)}" if maximum is not None else ""]
    bounds.append(f"> {_fmt(above)}" if above is not None else "")
    text = " ".join([kind] + [b for b in bounds if b])
    return ("None or " if allow_none else "") + text


def _fmt(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else repr(bound)
