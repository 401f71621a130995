"""Seed path `ray.tune.hyperband` (Ray 0.5, before the `schedulers` package): `HyperBandScheduler`."""
from tunelab.schedulers.hyperband import HyperBandScheduler

__all__ = ["HyperBandScheduler"]
