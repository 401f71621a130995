"""Expands a spec with grid searches, lambdas (`lambda spec: ...`, `{"eval": ...}`, `sample_from`) and
random domains into concrete variants, in the seed's order and with the seed's tags."""
from __future__ import annotations

import copy
import random
import types
from collections.abc import Iterator
from typing import Any

from tunelab.error import RecursiveDependencyError, TuneError
from tunelab.suggest.domains import Domain, Function, function, grid_search  # noqa: F401 - seed names here
from tunelab.validation import check_picklable

_MAX_RESOLUTION_PASSES = 20
_TAG_SKIPPED_ROOTS = ("run", "env", "resources_per_trial", "trial_resources", "resources")

Path = tuple


def generate_variants(unresolved_spec: dict, random_state: random.Random | None = None) -> Iterator[tuple[str, dict]]:
    """Yield `(tag_vars, resolved_spec)` for every variant of the spec.

    Grid variables are sorted by path and the first one varies fastest (seed order). `tag_vars` is the
    `k=v,...` part of the experiment tag.
    """
    for resolved_vars, spec in _generate_variants(unresolved_spec, random_state):
        yield format_vars(resolved_vars), spec


def resolved_variables(unresolved_spec: dict, random_state: random.Random | None = None) -> Iterator[tuple[dict, dict]]:
    """Like generate_variants, but yield the resolved `{path: value}` map instead of the tag."""
    yield from _generate_variants(unresolved_spec, random_state)


def format_vars(resolved_vars: dict) -> str:
    out = []
    for path, value in sorted(resolved_vars.items(), key=lambda kv: _sort_key(kv[0])):
        if path[0] in _TAG_SKIPPED_ROOTS:
            continue
        pieces = []
        last_string = True
        for key in path[::-1]:
            if isinstance(key, int):
                pieces.append(str(key))
            elif last_string:
                last_string = False
                pieces.append(key)
        pieces.reverse()
        out.append(_clean_value("_".join(pieces)) + "=" + _clean_value(value))
    return ",".join(out)


def _sort_key(path: Path) -> tuple:
    return tuple((0, k) if isinstance(k, int) else (1, str(k)) for k in path)


def _clean_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.5}"
    return str(value).replace("/", "_")


def _copy_spec(spec: dict) -> dict:
    """A deep copy of the spec; a value that cannot be copied (a lock, a socket, possibly returned by a
    `sample_from` function) becomes a TuneError naming its key path."""
    try:
        return copy.deepcopy(spec)
    except Exception:
        check_picklable(spec.get("config", spec), "config" if "config" in spec else "spec")
        raise


def _generate_variants(spec: dict, random_state: random.Random | None) -> Iterator[tuple[dict, dict]]:
    spec = _copy_spec(spec)
    unresolved = _unresolved_values(spec)
    if not unresolved:
        yield {}, spec
        return

    grid_vars = []
    domain_vars = []
    lambda_vars = []
    for path, value in unresolved.items():
        if callable(value) or (isinstance(value, Domain) and value.is_function()):
            lambda_vars.append((path, value))
        elif isinstance(value, Domain):
            domain_vars.append((path, value))
        else:
            grid_vars.append((path, value))
    grid_vars.sort(key=lambda pv: _sort_key(pv[0]))

    for resolved_spec in _grid_search_generator(spec, grid_vars):
        resolved_vars = {}
        for path, domain in domain_vars:
            value = domain.sample(None, random_state)
            _assign_value(resolved_spec, path, value)
            resolved_vars[path] = value
        resolved_vars.update(_resolve_lambda_vars(resolved_spec, lambda_vars, random_state))
        for resolved, final_spec in _generate_variants(resolved_spec, random_state):
            for path, _ in grid_vars:
                resolved_vars[path] = _get_value(final_spec, path)
            for key, value in resolved.items():
                resolved_vars[key] = value
            yield dict(resolved_vars), final_spec


def _resolve_lambda_vars(spec: dict, lambda_vars: list, random_state: random.Random | None) -> dict:
    resolved = {}
    pending = list(lambda_vars)
    error: Exception | None = None
    passes = 0
    while pending and passes < _MAX_RESOLUTION_PASSES:
        passes += 1
        error = None
        still = []
        for path, fn in pending:
            try:
                guard = _UnresolvedAccessGuard(spec)
                value = fn.sample(guard, random_state) if isinstance(fn, Function) else fn(guard)
            except RecursiveDependencyError as exc:
                error = exc
                still.append((path, fn))
            except Exception as exc:
                raise TuneError(
                    f"Failed to evaluate the config value at {'/'.join(map(str, path))} ({fn!r}): {exc!r}. "
                    "If this callable is meant to be passed to the trainable as is, wrap it in tunelab.function()."
                ) from exc
            else:
                _assign_value(spec, path, value)
                resolved[path] = value
        pending = still
    if pending:
        raise error or RecursiveDependencyError(f"could not resolve {[p for p, _ in pending]}")
    return resolved


def _grid_search_generator(unresolved_spec: dict, grid_vars: list) -> Iterator[dict]:
    if not grid_vars:
        yield unresolved_spec
        return
    for _, values in grid_vars:
        if len(values) == 0:
            return
    indices = [0] * len(grid_vars)
    base = copy.deepcopy(unresolved_spec)
    for path, _ in grid_vars:  # copy each variant without the (possibly long) lists of grid values
        _assign_value(base, path, None)
    while True:
        spec = copy.deepcopy(base)
        for i, (path, values) in enumerate(grid_vars):
            _assign_value(spec, path, values[indices[i]])
        yield spec
        i = 0
        while i < len(indices):
            indices[i] += 1
            if indices[i] < len(grid_vars[i][1]):
                break
            indices[i] = 0
            i += 1
        if i == len(indices):
            return


def _assign_value(spec: Any, path: Path, value: Any) -> None:
    for key in path[:-1]:
        spec = spec[key]
    spec[path[-1]] = value


def _get_value(spec: Any, path: Path) -> Any:
    for key in path:
        spec = spec[key]
    return spec


def _try_resolve(value: Any) -> tuple[bool, Any]:
    if isinstance(value, types.FunctionType):
        return False, value
    if isinstance(value, Domain):
        return False, value
    if isinstance(value, dict) and len(value) == 1 and "eval" in value:
        expr = value["eval"]
        return False, _EvalLambda(expr)
    if isinstance(value, dict) and len(value) == 1 and "grid_search" in value:
        grid_values = value["grid_search"]
        if not isinstance(grid_values, list):
            raise TuneError(f"grid_search expects a list of values, got {grid_values!r}")
        return False, grid_values
    return True, value


class _EvalLambda:
    """The JSON form of a lambda: `{"eval": "expr"}`, evaluated with `random`, `np` and `spec` in scope."""

    def __init__(self, expr: str):
        self.expr = expr

    def __call__(self, spec: Any) -> Any:
        import numpy as np

        return eval(self.expr, {"random": random, "np": np}, {"spec": spec})

    def __repr__(self) -> str:
        return f"{{'eval': {self.expr!r}}}"


def _is_resolved(value: Any) -> bool:
    return _try_resolve(value)[0]


def _unresolved_values(spec: dict) -> dict:
    found = {}
    for key, value in spec.items():
        resolved, value = _try_resolve(value)
        if not resolved:
            found[(key,)] = value
        elif isinstance(value, dict):
            for path, inner in _unresolved_values(value).items():
                found[(key,) + path] = inner
        elif isinstance(value, list):
            for i, elem in enumerate(value):
                for path, inner in _unresolved_values({i: elem}).items():
                    found[(key,) + path] = inner
    return found


def has_unresolved_values(spec: dict) -> bool:
    return bool(_unresolved_values(spec))


class _UnresolvedAccessGuard(dict):
    """Read access to the spec for lambdas (`spec.config.x`), raising on still-unresolved values."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.__dict__ = self

    def __getattribute__(self, item: str) -> Any:
        value = dict.__getattribute__(self, item)
        if not _is_resolved(value):
            raise RecursiveDependencyError(f"`{item}` recursively depends on {value}")
        if isinstance(value, dict):
            return _UnresolvedAccessGuard(value)
        return value

    def __getitem__(self, item: Any) -> Any:
        value = dict.__getitem__(self, item)
        if not _is_resolved(value):
            raise RecursiveDependencyError(f"`{item}` recursively depends on {value}")
        if isinstance(value, dict):
            return _UnresolvedAccessGuard(value)
        return value
