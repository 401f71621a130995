"""What one trial requests (`Resources`) and its validation. (The pool a machine offers, and the accounting
of it, is `tunelab.execution.resource_pool`.)"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from tunelab.error import TuneError
from tunelab.validation import check_number

RESOURCE_KEYS = ("cpu", "gpu", "extra_cpu", "extra_gpu", "custom_resources")


class Resources(NamedTuple):
    """What one trial needs: CPUs, GPUs (fractions allowed), extras for trials that are parallel
    themselves, and custom resources (`{"name": amount}`)."""

    cpu: float = 1
    gpu: float = 0
    extra_cpu: float = 0
    extra_gpu: float = 0
    custom_resources: dict | None = None

    def cpu_total(self) -> float:
        return self.cpu + self.extra_cpu

    def gpu_total(self) -> float:
        return self.gpu + self.extra_gpu

    def custom(self) -> dict:
        return dict(self.custom_resources or {})

    def summary(self) -> str:
        parts = [f"{_num(self.cpu_total())} CPUs", f"{_num(self.gpu_total())} GPUs"]
        parts += [f"{_num(v)} {k}" for k, v in sorted(self.custom().items())]
        return ", ".join(parts)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def resources_from_dict(spec: Mapping[str, Any] | Resources | None) -> Resources | None:
    """Validate a `resources_per_trial` mapping and turn it into `Resources`.

    Unknown keys and negative or non-numeric amounts raise TuneError naming the key and the allowed ones.
    Keys other than the standard ones are read as custom resources (as modern Ray Tune does) only when
    they are given under `custom_resources`; any other key is rejected so that a typo never goes unnoticed.
    """
    if spec is None:
        return None
    if isinstance(spec, Resources):
        return spec
    if not isinstance(spec, Mapping):
        raise TuneError(f"resources_per_trial must be a dict like {{'cpu': 1, 'gpu': 0}}, got {spec!r}")
    for key in spec:
        if key in ("driver_cpu_limit", "driver_gpu_limit"):
            raise TuneError(f"Resource key {key!r} is no longer supported. Use `extra_cpu` / `extra_gpu` instead.")
        if key not in RESOURCE_KEYS:
            raise TuneError(
                f"Unknown resource type {key!r} in resources_per_trial; allowed keys are {list(RESOURCE_KEYS)} "
                "(put your own resources under 'custom_resources': {'name': amount})"
            )
    values = {}
    for key in ("cpu", "gpu", "extra_cpu", "extra_gpu"):
        value = spec.get(key, 1 if key == "cpu" else 0)
        _check_amount(key, value)
        values[key] = value
    custom = spec.get("custom_resources") or {}
    if not isinstance(custom, Mapping):
        raise TuneError(f"custom_resources must be a dict of name -> amount, got {custom!r}")
    for name, amount in custom.items():
        _check_amount(f"custom_resources[{name!r}]", amount)
    return Resources(custom_resources=dict(custom) or None, **values)


def _check_amount(key: str, value: Any) -> None:
    check_number(f"Resource {key} in resources_per_trial", value, minimum=0)
