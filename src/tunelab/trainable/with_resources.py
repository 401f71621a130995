"""`with_resources(trainable, resources)`: a trainable that asks for `resources` per trial (Ray 2.x's way
of saying `resources_per_trial`). It works through `default_resource_request(config)`, which every
search algorithm already asks when it builds a trial, so no other code path knows about it."""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from tunelab.error import TuneError
from tunelab.resources import Resources, resources_from_dict

_CPU_KEYS = ("cpu", "CPU")
_GPU_KEYS = ("gpu", "GPU")


def _amount(spec: dict, keys: tuple[str, ...]) -> Any:
    given = [k for k in keys if k in spec]
    if len(given) > 1:
        raise TuneError(f"with_resources: give one of {' / '.join(given)}, not both")
    return spec.pop(given[0]) if given else 0


def ray_resources(spec: Any) -> Resources:
    """Read a Ray resource dict: `cpu`/`CPU` and `gpu`/`GPU` (0 when missing, as in Ray), `extra_cpu`,
    `extra_gpu`, and any other key as a custom resource. `memory` and placement groups are refused."""
    if isinstance(spec, Resources):
        return spec
    if type(spec).__name__ == "PlacementGroupFactory":
        raise TuneError("with_resources(PlacementGroupFactory(...)) is not supported: tunelab runs a trial as one "
                        "process; pass a dict such as {'cpu': 2, 'gpu': 1}")
    if not isinstance(spec, Mapping):
        raise TuneError(f"with_resources needs a dict such as {{'cpu': 2, 'gpu': 1}} (or a function of the config "
                        f"returning one), got {spec!r}")
    rest = dict(spec)
    cpu, gpu = _amount(rest, _CPU_KEYS), _amount(rest, _GPU_KEYS)
    if rest.pop("memory", 0):
        raise TuneError(f"with_resources({dict(spec)!r}): 'memory' is not supported: tunelab does not account "
                        "for memory; leave it out")
    extras = {k: rest.pop(k) for k in ("extra_cpu", "extra_gpu") if k in rest}
    custom = dict(rest.pop("custom_resources", None) or {})
    custom.update(rest)
    resources = resources_from_dict({"cpu": cpu, "gpu": gpu, **extras, "custom_resources": custom})
    assert resources is not None  # a dict always gives Resources
    return resources


def with_resources(trainable: Any, resources: Mapping[str, Any] | Resources | Callable[[dict], Any]) -> Any:
    """`trainable` asking for `resources` per trial: a dict (`{"cpu": 2, "gpu": 0.5, "my_res": 1}`) or a
    function `config -> dict`. Works on functions, Trainable classes and `with_parameters` results."""
    from tunelab.shared_objects import _FunctionWithParameters
    from tunelab.trainable.trainable import Trainable

    if callable(resources) and not isinstance(resources, Mapping):
        def request(config: dict) -> Resources:
            return ray_resources(resources(config))
    else:
        fixed = ray_resources(resources)  # check now, not when the first trial is built

        def request(config: dict) -> Resources:
            return fixed

    if inspect.isclass(trainable) and issubclass(trainable, Trainable):
        return type(trainable.__name__, (trainable,), {
            "default_resource_request": classmethod(lambda cls, config: request(config)),
            "__qualname__": trainable.__qualname__, "__module__": trainable.__module__,
        })
    if isinstance(trainable, str) or not callable(trainable):
        raise TuneError(f"with_resources needs a function or a Trainable subclass, got {trainable!r}")
    if isinstance(trainable, _FunctionWithParameters):  # keep its bound objects
        function = _FunctionWithParameters(trainable.__wrapped_trainable__, dict(trainable.handles))
    else:
        function = _FunctionWithParameters(trainable, {})
    function.default_resource_request = request  # type: ignore[attr-defined]
    return function
