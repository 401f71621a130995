"""How a function trainable is called: the one place that decides whether it gets a `reporter`.

Seed-era functions are `f(config, reporter)`; modern ones are `f(config)` and call `tunelab.report()`.
Objects bound with `with_parameters` are passed by keyword and never count as the reporter slot, so
`f(config, data)`, `f(config, data=None)` and `f(config, reporter, data=None)` all work.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def wants_reporter(fn: Any, bound: tuple[str, ...] = ()) -> bool:
    """True for `f(config, reporter, ...)`: two or more required positional parameters besides the
    names in `bound` (passed by keyword). A signature that cannot be read counts as the seed form."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    required = [p for p in params
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
                and p.name not in bound]
    return len(required) >= 2


def call_function_trainable(fn: Any, config: dict, make_reporter: Callable[[], Any]) -> Any:
    """Call a function trainable with `config`, a reporter if its signature asks for one, and the
    objects bound by `with_parameters` (when `fn` is such a wrapper) as keyword arguments."""
    bound: dict[str, Any] = {}
    resolve = getattr(fn, "resolve_bound_objects", None)
    if resolve is not None:
        bound = resolve()
        fn = fn.__wrapped_trainable__
    if wants_reporter(fn, tuple(bound)):
        return fn(config, make_reporter(), **bound)
    return fn(config, **bound)
