"""Turning results into text: the JSON encoding every output shares, and nested-key flattening.

Results hold whatever users report (numpy scalars and arrays, paths, objects), and a logger must never
fail on them. `dumps_result` takes the C-accelerated `json` path and converts only what `json` cannot
encode itself: numpy values become Python numbers or lists, anything else becomes `str()`.
`float('inf')` and NaN are written as `Infinity` / `NaN`, the tokens Python's `json` (and pandas)
read back, so an infinite metric survives a round trip.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Container, Mapping
from typing import Any

__all__ = ["SafeFallbackEncoder", "dumps_result", "dumps_params", "flatten_dict", "to_builtin"]

DELIMITER = "/"


def to_builtin(value: Any) -> Any:
    """The JSON-friendly stand-in for a value `json` cannot encode: numpy -> Python, else `str()`."""
    np = sys.modules.get("numpy")  # a numpy value exists only once numpy is imported: never imported here
    if np is not None:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return str(value)


class SafeFallbackEncoder(json.JSONEncoder):
    """A `json.JSONEncoder` that never raises on an unknown type (see `to_builtin`)."""

    def default(self, o: Any) -> Any:
        return to_builtin(o)


_ENCODER = SafeFallbackEncoder()


def dumps_result(result: Mapping[str, Any]) -> str:
    """One result as a single JSON line (no trailing newline); safe for any value the user reported."""
    try:
        return _ENCODER.encode(result)
    except (TypeError, ValueError):  # non-string keys that json refuses, or a circular reference
        return _ENCODER.encode(_sanitize(result, depth=0))


def dumps_params(config: Mapping[str, Any]) -> str:
    """A trial's config as `params.json` text: sorted keys, 2-space indent, as the seed wrote it."""
    try:
        return json.dumps(config, cls=SafeFallbackEncoder, sort_keys=True, indent=2)
    except (TypeError, ValueError):
        return json.dumps(_sanitize(config, depth=0), cls=SafeFallbackEncoder, sort_keys=True, indent=2)


def _sanitize(value: Any, depth: int) -> Any:
    """Slow path: string keys everywhere, and `str()` for anything nested too deep (cycles)."""
    if depth > 64:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _sanitize(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(v, depth + 1) for v in value]
    return value


def flatten_dict(
    d: Mapping[str, Any], prefix: str = "", delimiter: str = DELIMITER, exclude: Container[str] = ()
) -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a/b": 1}`; keys become strings, top-level keys in `exclude` are left out.
    Empty nested dicts are kept as values."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        if key in exclude:
            continue
        if isinstance(value, dict) and value:
            out.update(flatten_dict(value, f"{prefix}{key}{delimiter}", delimiter))
        else:
            out[f"{prefix}{key}"] = value
    return out
