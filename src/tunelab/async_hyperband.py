"""Seed path `ray.tune.async_hyperband` (Ray 0.5, before the `schedulers` package): `AsyncHyperBandScheduler`."""
from tunelab.schedulers.async_hyperband import AsyncHyperBandScheduler

__all__ = ["AsyncHyperBandScheduler"]
