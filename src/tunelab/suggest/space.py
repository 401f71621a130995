"""The tunelab search space as searchers see it: helpers shared by every `Searcher` implementation.

A config holds constants, lambdas and domains (`uniform`, `choice`, ...), possibly nested in dicts, lists
and the options of a `choice`. These helpers give all searchers (HyperOptSearch, OptunaSearch,
SearchGenerator, user searchers) one answer to: which values must be optimised and under what name
(`sampled_domains`, `label_of`, `option_domains`), how a library's raw draw becomes a domain's value
(`finalize_value`), how a user's `points_to_evaluate` map onto parameters (`point_to_params`), and how a
suggestion is laid over the constant config (`unflatten`, `leaf_paths`, `deep_merge`). They live apart
from `searcher.py` so that module holds only the Searcher/SearchGenerator classes.
"""
from __future__ import annotations

import copy
import math
import types
from collections.abc import Callable
from typing import Any

from tunelab.error import TuneError
from tunelab.suggest.domains import Categorical, Domain, Float, Integer
from tunelab.suggest.variant_generator import _unresolved_values

#: a config path: the keys (str, or int for list positions) leading to a value
Path = tuple


def label_of(path: Path) -> str:
    """The parameter name a searcher uses for a config path: keys joined by "/"."""
    return "/".join(str(key) for key in path)


def _is_lambda(value: Any) -> bool:
    return (isinstance(value, Domain) and value.is_function()) or isinstance(value, types.FunctionType) \
        or type(value).__name__ == "_EvalLambda"


def sampled_domains(config: dict, nested_in: str | None = None, allow_lambdas: bool = True) -> dict[Path, Domain]:
    """The values of `config` a searcher optimises (`uniform`, `choice`, ...), by path.

    Lambdas (`sample_from`, `lambda spec: ...`, `{"eval": ...}`) are left out of an experiment config:
    they stay there and are resolved after the suggestion is merged in, so they may use suggested values.
    In a space handed to a searcher, or inside a `choice` (`nested_in` names it), they raise; so do
    `grid_search` values anywhere: a searcher picks every value itself.
    """
    found: dict[Path, Domain] = {}
    for path, value in _unresolved_values(config).items():
        where = label_of(path) if nested_in is None else f"{nested_in}/{label_of(path)}"
        if isinstance(value, list):
            raise TuneError(f"a searcher cannot be given grid_search values; use BasicVariantGenerator or "
                            f"choice() (grid_search at {where!r})")
        if _is_lambda(value):
            if allow_lambdas and nested_in is None:
                continue
            raise TuneError(f"a searcher cannot sample {value!r} (at {where!r}): put sample_from/lambda values "
                            "at the top level of the experiment config, where they are resolved after the "
                            "searcher's suggestion")
        found[path] = value
    return found


def option_domains(option: Any, label: str) -> dict[str, tuple[Path, Domain]]:
    """The domains nested in one `choice` option (a domain itself, or a dict/list holding some), by label.

    The option at index i of the choice labelled L names its domains `L/i` (the option itself) or
    `L/i/<path in the option>`; `label` is `L/i`.
    """
    if isinstance(option, Domain):
        if option.is_function():
            raise TuneError(f"a searcher cannot sample {option!r} inside a choice() (at {label!r})")
        return {label: ((), option)}
    if isinstance(option, (dict, list)):
        as_dict = option if isinstance(option, dict) else dict(enumerate(option))
        domains = sampled_domains(as_dict, nested_in=label)
        return {f"{label}/{label_of(path)}": (path, domain) for path, domain in domains.items()}
    return {}


def substitute_domains(option: Any, label: str, draw: Callable[[str, Domain], Any]) -> Any:
    """A copy of a `choice` option with each nested domain replaced by `draw(its label, domain)`."""
    domains = option_domains(option, label)
    if not domains:
        return option
    if label in domains:
        return draw(label, option)
    filled = copy.deepcopy(option)
    for nested_label, (path, domain) in domains.items():
        target = filled
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = draw(nested_label, domain)
    return filled


def integer_upper(domain: Integer) -> int:
    """The largest value an Integer domain takes (upper is excluded unless quantized, as in Ray)."""
    return domain.upper - 1 if domain.q == 1 else domain.upper


def finalize_value(domain: Domain, raw: Any) -> Any:
    """A library's raw draw as the domain defines it: quantized, inside the bounds, int for Integer."""
    if hasattr(raw, "item"):
        raw = raw.item()
    if isinstance(domain, Integer):
        value = int(round(raw))
        if domain.q != 1:
            value = int(round(value / domain.q) * domain.q)
        return min(max(value, domain.lower), integer_upper(domain))
    if isinstance(domain, Float):
        number = float(raw)
        if domain.q is not None:  # keep the digits q has: 6 * 1e-4 gives 0.0006, not 0.0006000000000000001
            number = round(round(number / domain.q) * domain.q, max(0, -math.floor(math.log10(domain.q))) + 6)
        if domain.lower is not None and domain.upper is not None:
            number = min(max(number, domain.lower), domain.upper)
        return number
    return raw


def point_to_params(point: dict, domains: dict[Path, Domain]) -> tuple[dict[str, tuple[Domain, Any]], list[str]]:
    """Map a user's point (a partial config) onto searcher parameters.

    Returns `({label: (domain, value)}, missing labels)`. A `choice` gives the index of the option the
    value matches (an option holding domains matches any value with the same constant parts), then the
    domains nested in that option follow. A value that is not one of the choices raises TuneError.
    """
    params: dict[str, tuple[Domain, Any]] = {}
    missing: list[str] = []
    for path, domain in domains.items():
        found, value = _lookup(point, path)
        _add_param(label_of(path), domain, found, value, params, missing)
    return params, missing


def _add_param(label: str, domain: Domain, found: bool, value: Any, params: dict, missing: list) -> None:
    if not found:
        missing.append(label)
        return
    if not isinstance(domain, Categorical):
        params[label] = (domain, value)
        return
    index = next((i for i, option in enumerate(domain.categories) if _matches(option, value)), None)
    if index is None:
        raise TuneError(f"points_to_evaluate: {value!r} is not one of the choices for {label!r}: {domain.categories!r}")
    params[label] = (domain, index)
    option_label = f"{label}/{index}"
    for nested_label, (path, nested) in option_domains(domain.categories[index], option_label).items():
        nested_found, nested_value = _lookup(value, path)
        _add_param(nested_label, nested, nested_found, nested_value, params, missing)


def _lookup(point: Any, path: Path) -> tuple[bool, Any]:
    for key in path:
        in_dict = isinstance(point, dict) and key in point
        if in_dict or isinstance(point, (list, tuple)) and isinstance(key, int) and key < len(point):
            point = point[key]
        else:
            return False, None
    return True, point


def _matches(option: Any, value: Any) -> bool:
    """Does a user value pick this choice option? Domains inside the option accept anything."""
    if isinstance(option, Domain):
        return True
    if isinstance(option, dict) and isinstance(value, dict):
        return option.keys() == value.keys() and all(_matches(option[k], value[k]) for k in option)
    if isinstance(option, list) and isinstance(value, (list, tuple)):
        return len(option) == len(value) and all(_matches(o, v) for o, v in zip(option, value))
    if _same_number(option, value):
        return True
    try:
        return type(option) is type(value) and bool(option == value)
    except Exception:
        return False


def _same_number(a: Any, b: Any) -> bool:
    numbers = (int, float)
    return (isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool)
            and not isinstance(b, bool) and math.isclose(a, b))


def unflatten(values: dict[Path, Any]) -> dict:
    """`{("a", "b"): 1}` -> `{"a": {"b": 1}}` (list positions stay int keys; `deep_merge` places them)."""
    out: dict = {}
    for path, value in values.items():
        target = out
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
    return out


def leaf_paths(config: dict, prefix: Path = ()) -> dict[Path, Any]:
    """`{"a": {"b": 1}}` -> `{("a", "b"): 1}`: the leaves of a nested suggestion."""
    out: dict[Path, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(leaf_paths(value, prefix + (key,)))
        else:
            out[prefix + (key,)] = value
    return out


def deep_merge(base: Any, update: Any) -> Any:
    """`update` over a copy of `base`: dicts merge key by key, a dict of int keys updates list positions."""
    if isinstance(base, dict) and isinstance(update, dict):
        merged = dict(base)
        for key, value in update.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(update, dict) and all(
            isinstance(k, int) and 0 <= k < len(base) for k in update):
        merged_list = list(base)
        for index, value in update.items():
            merged_list[index] = deep_merge(base[index], value)
        return merged_list
    return update
