"""Search-space domains (`uniform`, `loguniform`, `choice`, ...) and the variant markers
(`grid_search`, `sample_from`, `function`).

A domain only knows how to sample itself from a `random.Random`; search algorithms that need another
representation (hyperopt, optuna) convert domains by their type and attributes.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from tunelab.error import TuneError


class Domain:
    """A distribution over values of one hyperparameter."""

    def sample(self, spec: Any = None, random_state: random.Random | None = None) -> Any:
        raise TypeError(f"{type(self).__name__} cannot be sampled")

    def is_function(self) -> bool:
        return False


def _rng(random_state: Any) -> random.Random:
    return random_state if random_state is not None else random._inst


def _quantize(value: float, q: float | None) -> float:
    return value if q is None else round(value / q) * q


class Float(Domain):
    """A real interval, sampled uniformly, log-uniformly (`log=True`) or normally (`mean`/`sd`)."""

    def __init__(self, lower: float | None, upper: float | None, log: bool = False, q: float | None = None,
                 mean: float | None = None, sd: float | None = None, base: float = math.e):
        self.lower, self.upper, self.log, self.q, self.mean, self.sd, self.base = lower, upper, log, q, mean, sd, base

    def sample(self, spec: Any = None, random_state: random.Random | None = None) -> float:
        rng = _rng(random_state)
        if self.mean is not None:
            assert self.sd is not None  # randn/qrandn set mean and sd together
            return float(_quantize(rng.gauss(self.mean, self.sd), self.q))
        lower, upper = self.bounds()
        if self.log:
            value = math.exp(rng.uniform(math.log(lower), math.log(upper)))
        else:
            value = rng.uniform(lower, upper)
        if self.q is not None:
            value = min(max(_quantize(value, self.q), lower), upper)
        return float(value)

    def bounds(self) -> tuple[float, float]:
        """`(lower, upper)` of a uniform or log-uniform domain (a normal one, `mean` set, has none)."""
        assert self.lower is not None and self.upper is not None, f"{self!r} is normal: it has no bounds"
        return self.lower, self.upper

    def __repr__(self) -> str:
        if self.mean is not None:
            return f"Normal(mean={self.mean}, sd={self.sd}, q={self.q})"
        return f"Float({self.lower}, {self.upper}, log={self.log}, q={self.q})"


class Integer(Domain):
    """Integers in `[lower, upper)` (upper excluded, as in Ray Tune), uniform or log-uniform, step `q`."""

    def __init__(self, lower: int, upper: int, log: bool = False, q: int = 1, base: float = math.e):
        self.lower, self.upper, self.log, self.q, self.base = lower, upper, log, q, base

    def sample(self, spec: Any = None, random_state: random.Random | None = None) -> int:
        rng = _rng(random_state)
        if self.log:
            value = int(math.exp(rng.uniform(math.log(self.lower), math.log(self.upper))))
        else:
            value = rng.randrange(self.lower, self.upper)
        if self.q != 1:
            value = int(round(value / self.q) * self.q)
        return int(min(max(value, self.lower), self.upper - 1 if self.q == 1 else self.upper))

    def __repr__(self) -> str:
        return f"Integer({self.lower}, {self.upper}, log={self.log}, q={self.q})"


class Categorical(Domain):
    """One of a list of values, chosen uniformly. Values may hold nested domains (conditional spaces)."""

    def __init__(self, categories: Sequence[Any]):
        self.categories = list(categories)

    def sample(self, spec: Any = None, random_state: random.Random | None = None) -> Any:
        return _rng(random_state).choice(self.categories)

    def __repr__(self) -> str:
        return f"Categorical({self.categories})"


class Function(Domain):
    """A value computed by `fn(spec)` (the seed's `lambda spec: ...`), resolved after the other values."""

    def __init__(self, fn: Callable[..., Any]):  # fn(spec), or fn() for a no-argument callable
        if not callable(fn):
            raise TuneError(f"sample_from needs a callable, got {fn!r}")
        self.fn = fn

    def sample(self, spec: Any = None, random_state: random.Random | None = None) -> Any:
        try:
            return self.fn(spec)
        except TypeError:
            import inspect

            if len(inspect.signature(self.fn).parameters) == 0:
                return self.fn()
            raise

    def is_function(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"sample_from({getattr(self.fn, '__name__', self.fn)})"


class function:
    """Wrap a callable so that variant generation passes it through instead of calling it."""

    def __init__(self, func: Callable):
        self.func = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"function({getattr(self.func, '__name__', self.func)})"


def _check_bounds(name: str, lower: float, upper: float, positive: bool = False) -> None:
    for label, value in (("lower", lower), ("upper", upper)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TuneError(f"{name}: {label} bound must be a number, got {value!r}")
    if not lower < upper:
        raise TuneError(f"{name}: lower bound {lower!r} must be smaller than upper bound {upper!r}")
    if positive and lower <= 0:
        raise TuneError(f"{name}: bounds must be > 0 for a log scale, got lower={lower!r}")


def _check_q(name: str, q: float) -> None:
    if isinstance(q, bool) or not isinstance(q, (int, float)) or q <= 0:
        raise TuneError(f"{name}: q must be a number > 0, got {q!r}")


def uniform(lower: float, upper: float) -> Float:
    """A float uniform in [lower, upper]."""
    _check_bounds("uniform", lower, upper)
    return Float(lower, upper)


def quniform(lower: float, upper: float, q: float) -> Float:
    """A float uniform in [lower, upper], rounded to a multiple of q."""
    _check_bounds("quniform", lower, upper)
    _check_q("quniform", q)
    return Float(lower, upper, q=q)


def loguniform(lower: float, upper: float, base: float = 10) -> Float:
    """A float whose logarithm is uniform in [log(lower), log(upper)]."""
    _check_bounds("loguniform", lower, upper, positive=True)
    return Float(lower, upper, log=True, base=base)


def qloguniform(lower: float, upper: float, q: float, base: float = 10) -> Float:
    """Log-uniform, rounded to a multiple of q."""
    _check_bounds("qloguniform", lower, upper, positive=True)
    _check_q("qloguniform", q)
    return Float(lower, upper, log=True, q=q, base=base)


def randn(mean: float = 0.0, sd: float = 1.0) -> Float:
    """A normally distributed float."""
    if sd <= 0:
        raise TuneError(f"randn: sd must be > 0, got {sd!r}")
    return Float(None, None, mean=mean, sd=sd)


def qrandn(mean: float, sd: float, q: float) -> Float:
    """A normally distributed float rounded to a multiple of q."""
    if sd <= 0:
        raise TuneError(f"qrandn: sd must be > 0, got {sd!r}")
    _check_q("qrandn", q)
    return Float(None, None, mean=mean, sd=sd, q=q)


def randint(lower: int, upper: int) -> Integer:
    """An integer in [lower, upper) (upper excluded)."""
    _check_bounds("randint", lower, upper)
    return Integer(int(lower), int(upper))


def qrandint(lower: int, upper: int, q: int = 1) -> Integer:
    """An integer in [lower, upper] (upper included) rounded to a multiple of q."""
    _check_bounds("qrandint", lower, upper)
    _check_q("qrandint", q)
    return Integer(int(lower), int(upper), q=int(q))


def lograndint(lower: int, upper: int, base: float = 10) -> Integer:
    """An integer whose logarithm is uniform, in [lower, upper)."""
    _check_bounds("lograndint", lower, upper, positive=True)
    return Integer(int(lower), int(upper), log=True, base=base)


def qlograndint(lower: int, upper: int, q: int, base: float = 10) -> Integer:
    """Log-uniform integer rounded to a multiple of q."""
    _check_bounds("qlograndint", lower, upper, positive=True)
    _check_q("qlograndint", q)
    return Integer(int(lower), int(upper), log=True, q=int(q), base=base)


def choice(categories: Sequence[Any]) -> Categorical:
    """One of `categories`, chosen uniformly."""
    if isinstance(categories, (str, bytes)) or not hasattr(categories, "__len__") or len(categories) == 0:
        raise TuneError(f"choice needs a non-empty list of values, got {categories!r}")
    return Categorical(categories)


def sample_from(fn: Callable[[Any], Any]) -> Function:
    """A value computed from the rest of the config: `sample_from(lambda spec: spec.config.x * 2)`."""
    return Function(fn)


def grid_search(values: Sequence[Any]) -> dict:
    """Try every one of `values` (a list); grids over several keys give their cross product."""
    if not isinstance(values, (list, tuple)):
        raise TuneError(f"grid_search expects a list of values, got {values!r}")
    return {"grid_search": list(values)}
