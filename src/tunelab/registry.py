"""The trainable registry: names -> functions or Trainable classes, shipped to workers by value."""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from tunelab.error import TuneError

_trainables: dict[str, Any] = {}
_env_creators: dict[str, Callable[[Any], Any]] = {}

#: trainables the seed registered when it was imported, registered here on first use: name -> module:class
_BUILTINS = {"__fake": "tunelab.trainable.mock:MockTrainable"}
_blobs: dict[str, tuple[int, bytes]] = {}
_versions: dict[str, int] = {}


def _is_trainable_class(obj: Any) -> bool:
    from tunelab.trainable.trainable import Trainable

    return inspect.isclass(obj) and issubclass(obj, Trainable)


def _check_trainable(name: str, trainable: Any) -> None:
    if _is_trainable_class(trainable):
        return
    if inspect.isclass(trainable):
        raise TypeError(f"register_trainable({name!r}): class {trainable.__name__} is not a tunelab.Trainable subclass")
    if isinstance(trainable, functools.partial) or inspect.isfunction(trainable) or inspect.ismethod(trainable):
        return
    if callable(trainable) and not inspect.isclass(trainable) and hasattr(trainable, "__wrapped_trainable__"):
        return
    raise TypeError(
        f"register_trainable({name!r}) needs a function f(config[, reporter]), a functools.partial of one, "
        f"or a Trainable subclass; got {trainable!r}"
    )


def register_trainable(name: str, trainable: Callable | type) -> None:
    """Register a trainable under `name`; registering the same name again overwrites it."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"register_trainable needs a non-empty string name, got {name!r}")
    _check_trainable(name, trainable)
    _trainables[name] = trainable
    _versions[name] = _versions.get(name, 0) + 1
    _blobs.pop(name, None)


def _register_builtin(name: str) -> None:
    """Register a built-in trainable (`"__fake"`) the first time its name is looked up."""
    target = _BUILTINS.get(name)
    if target is not None and name not in _trainables:
        import importlib

        module, attr = target.split(":")
        register_trainable(name, getattr(importlib.import_module(module), attr))


def get_trainable(name: str) -> Any:
    _register_builtin(name)
    if name not in _trainables:
        raise TuneError(f"Unknown trainable {name!r}; registered trainables: {sorted(_trainables)}")
    return _trainables[name]


def runnable_trainable(name: str) -> Any:
    """The trainable registered as `name`, checked to be something a trial can run (the seed's
    `_global_registry.register` stored values unchecked, so a trial could name `None`)."""
    trainable = get_trainable(name)
    if not (_is_trainable_class(trainable) or callable(trainable)):
        raise TuneError(f"Trainable {name!r} is registered as {trainable!r}; it must be a class (a Trainable "
                        "subclass) or a function f(config[, reporter])")
    return trainable


def has_trainable(name: str) -> bool:
    _register_builtin(name)
    return name in _trainables


def trainable_name_for(run: Any, lazy: bool = False) -> str:
    """Name a `run` value: a registered name is kept; a function or class is registered under its name.

    With `lazy`, a name need not be registered yet: as in 2018, it is looked up when trials are created
    (`Experiment("exp", run="f")` may come before `register_trainable("f", ...)`).
    """
    if isinstance(run, str):
        if not run:
            raise TuneError("run must name a trainable, got an empty string")
        if not lazy:
            get_trainable(run)
        return run
    if isinstance(run, functools.partial):
        name = getattr(run.func, "__name__", "partial")
    elif inspect.isclass(run) or callable(run):
        name = getattr(run, "__name__", None)
        if name == "<lambda>":
            name = "lambda"
    else:
        name = None
    if not name:
        raise TuneError(f"run must be a registered trainable name, a function or a Trainable subclass; got {run!r}")
    try:
        _check_trainable(name, run)
    except TypeError as exc:
        raise TuneError(str(exc)) from None
    if _trainables.get(name) is not run:
        register_trainable(name, run)
    return name


def register_env(name: str, env_creator: Callable[[Any], Any]) -> None:
    """Register `env_creator(env_config) -> env` under `name` (the seed's `ray.tune.register_env`).

    In 2018, RLlib agents built their environment from `config["env"]` through this registry. tunelab has
    no RLlib: it stores the creator so that 2018 scripts run unchanged, and `get_env_creator(name)` returns
    it. Registering the same name again overwrites it; a creator that is not callable raises TypeError.
    The registry lives in the registering process: a trainable that builds its environment inside a trial
    should call the creator itself (functions are shipped to trials by value, with what they reference).
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"register_env needs a non-empty string name, got {name!r}")
    if not callable(env_creator):
        raise TypeError(f"register_env({name!r}) needs a callable env_creator(env_config), got {env_creator!r}")
    _env_creators[name] = env_creator


def get_env_creator(name: str) -> Callable[[Any], Any]:
    """The creator `register_env(name, ...)` stored; TuneError naming the registered ones if unknown."""
    if name not in _env_creators:
        raise TuneError(f"Unknown env {name!r}; registered envs: {sorted(_env_creators)}")
    return _env_creators[name]


def trainable_blob(name: str) -> tuple[str, bytes]:
    """The trainable pickled by value (cloudpickle) once per registration, with a cache key for workers."""
    version = _versions.get(name, 0)
    cached = _blobs.get(name)
    if cached is None or cached[0] != version:
        import cloudpickle

        trainable = runnable_trainable(name)
        try:
            blob = cloudpickle.dumps(trainable)
        except Exception as exc:
            raise TuneError(
                f"Trainable {name!r} cannot be sent to a worker process: pickling it failed with {exc!r}. "
                "Build objects that cannot be pickled (open files, locks, sessions) inside the trainable, "
                "or pass large data with tunelab.with_parameters()."
            ) from exc
        cached = (version, blob)
        _blobs[name] = cached
    return f"{name}:{id(_blobs)}:{cached[0]}", cached[1]


# -- the seed's registry object (`ray.tune.registry._global_registry`) -----------------------------------
TRAINABLE_CLASS = "trainable_class"
ENV_CREATOR = "env_creator"
KNOWN_CATEGORIES = [TRAINABLE_CLASS, ENV_CREATOR]


class _Registry:
    """The seed's `_global_registry`: `register(category, key, value)`, `contains`, `get` over the two tables.

    2018 tests registered values directly (even `None`, to make a trial fail when it starts), bypassing
    `register_trainable`'s checks; a value that is not a trainable fails when a trial using it starts.
    """

    def _table(self, category: str) -> dict[str, Any]:
        if category == TRAINABLE_CLASS:
            return _trainables
        if category == ENV_CREATOR:
            return _env_creators
        raise TuneError(f"Unknown registry category {category!r}; known categories: {KNOWN_CATEGORIES}")

    def register(self, category: str, key: str, value: Any) -> None:
        self._table(category)[key] = value
        if category == TRAINABLE_CLASS:
            _versions[key] = _versions.get(key, 0) + 1
            _blobs.pop(key, None)

    def contains(self, category: str, key: str) -> bool:
        if category == TRAINABLE_CLASS:
            _register_builtin(key)
        return key in self._table(category)

    def get(self, category: str, key: str) -> Any:
        if category == TRAINABLE_CLASS:
            return get_trainable(key)
        return get_env_creator(key)


_global_registry = _Registry()
