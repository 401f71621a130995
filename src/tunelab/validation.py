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


def check_numbers(name: str, values: Any, **bounds: Any) -> tuple:
    """`check_number` for every item of a non-empty list or tuple (e.g. PBT's `perturbation_factors`)."""
    if not isinstance(values, (list, tuple)) or not values:
        raise TuneError(f"{name} must be a non-empty list of numbers, got {values!r}")
    return tuple(check_number(f"{name} item {i}", value, **bounds) for i, value in enumerate(values))


def check_key(name: str, value: Any, allow_none: bool = False) -> Any:
    """Return `value` if it names a result key (a non-empty string; None passes when `allow_none`), else
    TuneError: a metric or `time_attr` given as a number would otherwise only fail at the first result."""
    if (value is None and allow_none) or (isinstance(value, str) and value):
        return value
    raise TuneError(f"{name} must be {'None or ' if allow_none else ''}the name of a result key (a non-empty "
                    f"string), got {value!r}")


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


def check_picklable(config: Any, where: str = "config") -> None:
    """TuneError naming the first value of `config` (by key path) that cannot be pickled, and its type.

    Configs travel to worker processes pickled, and are copied per variant; a lock, an open file or a
    socket in them would otherwise fail later with a bare "cannot pickle '_thread.lock' object".
    """
    import cloudpickle

    try:
        cloudpickle.dumps(config)
    except Exception as exc:
        path, value = _unpicklable_leaf(config, where, cloudpickle)
        raise TuneError(
            f"{path} is a {type(value).__module__}.{type(value).__qualname__}, which cannot be pickled ({exc}); "
            "config values are sent to worker processes. Pass large or unpicklable objects with "
            "tune.with_parameters(trainable, name=obj), or create them inside the trainable."
        ) from None


def _unpicklable_leaf(value: Any, path: str, cloudpickle: Any) -> tuple[str, Any]:
    """The deepest key path under `value` whose value alone fails to pickle (`value` itself if none)."""
    if isinstance(value, dict):
        items = [(f"{path}[{key!r}]", item) for key, item in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
    else:
        items = []
    for child_path, child in items:
        try:
            cloudpickle.dumps(child)
        except Exception:
            return _unpicklable_leaf(child, child_path, cloudpickle)
    return path, value
